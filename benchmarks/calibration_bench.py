"""Dispatch by unit and calibration on realistic orders: before and after, per profile.

    .venv/bin/python -m benchmarks.calibration_bench [--model models/default]
        [--challenge ../shared/challenge/orders.jsonl] [--generated gen.jsonl] [--max-generated 1200]

(the recorded run: ``dispatch-nlp corpus generate -n 12000 --seed 20261130 -o gen.jsonl``, its first
1,200 ``test`` orders).

For each profile of the model, the stages run once over the challenge set's ``dev`` and ``test``
splits and over the ``test`` split of a generated corpus (``dispatch-nlp corpus generate``); routing
is then redone under four settings:

* ``shipped``: the model as trained (dispatch on the leaf, calibrated on generated dev orders);
* ``unit``: the same calibration and threshold, dispatching on the responsible unit (issue 18 item 3);
* ``calibrated_leaf`` / ``calibrated_unit``: ``dispatch-nlp calibrate`` fitted on the challenge
  ``dev`` split (``lifecycle.calibrate.calibrate_profile``), dispatching on the leaf / the unit;
  its beta and isotonic variants for comparison.

Per setting and set: leaf, first-level and unit accuracy, automatic share and its leaf and unit
accuracy, ECE of the category confidence and of the route confidence, the share of orders whose
category is confident at each level; for the calibrated ones the cross-validated ECE on dev.
Writes ``benchmarks/results/calibration.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from dispatch_nlp.dispatcher import Dispatcher, profiles_of
from dispatch_nlp.files import atomic_write
from dispatch_nlp.lifecycle.calibrate import calibrate_profile, decide, outcomes, run_profile
from dispatch_nlp.lifecycle.examples import ColumnSpec, load_examples
from dispatch_nlp.routing.settings import RouteSettings

RESULTS = Path(__file__).parent / "results" / "calibration.json"
CHALLENGE = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category", path_sep="/",
                       appeal_col="appeal_type", district_col="district_code", street_col="street_code",
                       unit_col="unit_id")
GENERATED = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category_path",
                       appeal_col="appeal_type", district_col="district_code", street_col="street_code",
                       unit_col="unit_id")


def _examples(path: str, spec: ColumnSpec, dispatcher, split: str, limit: int | None = None) -> list:
    rows, _ = load_examples(path, spec, dispatcher.catalog, dispatcher.gazetteer, split_col="split",
                            dev_ratio=0.0, test_ratio=0.0, config=dispatcher.config)
    rows = [e for e in rows if e.split == split and e.leaf]
    return rows[:limit] if limit else rows


def bench_profile(dispatcher, sets: dict[str, list], target: float) -> dict:
    runs = {name: run_profile(dispatcher, rows) for name, rows in sets.items()}
    shipped = dispatcher.router.settings
    variants: dict[str, tuple[RouteSettings, dict | None]] = {
        "shipped": (shipped, None),
        "unit": (dataclasses.replace(shipped, dispatch_on="unit"), None),
    }
    base = {**dispatcher.catalog.settings, **dispatcher.config.get("route", {})}
    for name, method, on in (("calibrated_leaf", "platt", "leaf"), ("calibrated_unit", "platt", "unit"),
                             ("calibrated_unit_beta", "beta", "unit"), ("calibrated_unit_isotonic", "isotonic", "unit")):
        route, report = calibrate_profile(runs["challenge_dev"], target=target, method=method, dispatch_on=on)
        variants[name] = (RouteSettings.from_dict({**base, **route}),
                          {"method": method, "rules_weight": route["rules_weight"],
                           "auto_threshold": route["auto_threshold"], "ece_cv_dev": report["ece_cv"]})
    out = {}
    for name, (settings, fit) in variants.items():
        out[name] = {**({"fit": fit} if fit else {}), "dispatch_on": settings.dispatch_on,
                     **{set_name: outcomes(run, decide(run, settings), settings.dispatch_on).figures
                        for set_name, run in runs.items()}}
    return out


SUMMARY_KEYS = ("leaf_accuracy", "unit_accuracy", "auto_share", "auto_leaf_accuracy", "auto_unit_accuracy",
                "category_ece", "route_ece")


def summary(profiles: dict) -> dict:
    """The headline: per profile and set, shipped → unit dispatch → calibrated on challenge dev (unit)."""
    out: dict = {}
    for name, variants in profiles.items():
        for set_name in variants["shipped"]:
            if set_name in ("fit", "dispatch_on"):
                continue
            out.setdefault(name, {})[set_name] = {
                key: [variants[v][set_name].get(key) for v in ("shipped", "unit", "calibrated_unit")]
                for key in SUMMARY_KEYS}
    return {"columns": ["shipped", "unit", "calibrated_unit"], **out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--challenge", default=str(Path(__file__).resolve().parents[2] / "shared" / "challenge" / "orders.jsonl"))
    ap.add_argument("--generated", help="generated corpus (JSONL of dispatch-nlp corpus generate); its test split")
    ap.add_argument("--max-generated", type=int, default=1200)
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--profiles", help="comma-separated profiles (default: all of the model)")
    ap.add_argument("-o", "--output", default=str(RESULTS))
    args = ap.parse_args(argv)
    first = Dispatcher.load(args.model)
    names = args.profiles.split(",") if args.profiles else profiles_of(first.config)
    result: dict = {"model_version": first.model_version, "target": args.target,
                    "generated": Path(args.generated).name if args.generated else None, "profiles": {}}
    for name in names:
        dispatcher = Dispatcher.load(first.model_dir, profile=name)
        sets = {"challenge_dev": _examples(args.challenge, CHALLENGE, dispatcher, "dev"),
                "challenge_test": _examples(args.challenge, CHALLENGE, dispatcher, "test")}
        if args.generated:
            sets["generated_test"] = _examples(args.generated, GENERATED, dispatcher, "test", args.max_generated)
        result["sizes"] = {k: len(v) for k, v in sets.items()}
        result["profiles"][name] = bench_profile(dispatcher, sets, args.target)
        print(name, json.dumps({v: {s: {k: f.get(k) for k in ("auto_share", "auto_unit_accuracy", "route_ece")}
                                    for s, f in r.items() if isinstance(f, dict) and "n" in f}
                                for v, r in result["profiles"][name].items()}, ensure_ascii=False))
    result["summary"] = summary(result["profiles"])
    atomic_write(args.output, json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
