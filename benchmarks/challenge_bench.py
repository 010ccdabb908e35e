"""The shipped model on the challenge set: every profile and every member, dev and test.

    .venv/bin/python -m benchmarks.challenge_bench [--model models/default]
        [--challenge ../shared/challenge/orders.jsonl] [--label after] [--card]

The challenge set (``../shared/challenge/``) holds hand-written realistic orders that the project's
generator did not produce: the second opinion on whether what the model learnt transfers. For each
profile of the model and each split (``dev``: what calibration may be fitted on; ``test``: report
only) it gives, through the real ``Dispatcher``: leaf, first-level accuracy and first-level
macro-F1, appeal type, district, street and unit accuracy, the automatic share with the category and
unit accuracy of those orders, the ECE of the category confidence and the coverage at 97/98/99 %
accuracy. Per member of the full profile (no rules, no fusion): each member's own top leaf, scored
the same way, so the table shows what each member knows and what the fusion adds.

Writes ``benchmarks/results/challenge.json`` (merged under ``--label``); ``--card`` also writes the
test table into the model's ``MODEL_CARD.md`` (between markers, replaced on each run) and rewrites
its checksums.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dispatch_nlp.dispatcher import Dispatcher, profiles_of, write_checksums
from dispatch_nlp.files import atomic_write
from dispatch_nlp.lifecycle.calibrate import run_profile
from dispatch_nlp.lifecycle.evaluate import evaluate_examples
from dispatch_nlp.lifecycle.examples import ColumnSpec, load_examples
from dispatch_nlp.lifecycle.metrics import head_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "challenge.json"
CHALLENGE = ROOT.parent / "shared" / "challenge" / "orders.jsonl"
SPEC = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category", path_sep="/",
                  appeal_col="appeal_type", district_col="district_code", street_col="street_code",
                  unit_col="unit_id")
CARD_BEGIN, CARD_END = "<!-- challenge-set:begin -->", "<!-- challenge-set:end -->"
SPLITS = ("dev", "test")


def _acc(report: dict) -> float | None:
    return report.get("accuracy") if report.get("n") else None


def profile_figures(dispatcher: Dispatcher, examples: list) -> dict:
    """The headline figures of ``evaluate_examples`` for one profile on ``examples``."""
    rep = evaluate_examples(dispatcher, examples)
    routing = rep["routing"]
    return {
        "n": len(examples),
        "leaf_accuracy": _acc(rep["category"]),
        "l1_accuracy": _acc(rep["category_l1"]),
        "l1_macro_f1": rep["category_l1"].get("macro_f1"),
        "appeal_accuracy": _acc(rep.get("appeal_type", {})),
        "district_accuracy": _acc(rep.get("district", {})),
        "street_accuracy": _acc(rep.get("street", {})),
        "unit_accuracy": _acc(rep.get("unit", {})),
        "auto_share": routing["auto_dispatch_share"],
        "auto_category_accuracy": routing["auto_dispatch_category_accuracy"],
        "auto_unit_accuracy": routing.get("auto_dispatch_unit_accuracy"),
        "category_ece": rep["category"].get("ece"),
        "coverage_at_accuracy": rep["category"].get("coverage_at_accuracy"),
    }


def member_figures(dispatcher: Dispatcher, examples: list) -> dict:
    """Each classifier member alone (its own top leaf; no rules, no fusion): leaf and first-level
    accuracy, first-level macro-F1."""
    stage = next((s for s in dispatcher.stages if s.name == "classifier"), None)
    if stage is None:
        return {}
    docs = run_profile(dispatcher, examples).docs
    texts = [d.text for d in docs]
    out = stage.member_probs(texts, ("leaf",), [d.statement for d in docs])
    gold = [e.leaf for e in examples]
    figures = {}
    for name, heads in out.items():
        classes = stage.members[name].classes("leaf")
        pred = [classes[int(i)] for i in np.argmax(heads["leaf"], axis=1)]
        leaf = head_report(gold, pred)
        l1 = head_report([g[:2] if g else None for g in gold], [p[:2] for p in pred])
        figures[name] = {"leaf_accuracy": _acc(leaf), "l1_accuracy": _acc(l1), "l1_macro_f1": l1.get("macro_f1")}
    return figures


def run(model: str | Path | None, challenge: Path) -> dict:
    base = Dispatcher.load(model)
    examples, _ = load_examples(challenge, SPEC, base.catalog, base.gazetteer, split_col="split", dev_ratio=0.0,
                                test_ratio=0.0, progress=False, config=base.config)
    by_split = {s: [e for e in examples if e.split == s] for s in SPLITS}
    result: dict = {"model_version": base.model_version, "data": challenge.name,
                    "orders": {s: len(v) for s, v in by_split.items()}, "profiles": {}, "members": {}}
    for profile in profiles_of(base.config):
        dispatcher = Dispatcher.load(model, profile=profile)
        result["profiles"][profile] = {s: profile_figures(dispatcher, v) for s, v in by_split.items()}
        if profile == "full":
            result["members"] = {s: member_figures(dispatcher, v) for s, v in by_split.items()}
    return result


def _fmt(v) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def card_section(result: dict) -> str:
    """The model card's challenge-set table (test split; dev in brackets where calibration used it)."""
    cols = ("leaf_accuracy", "l1_macro_f1", "appeal_accuracy", "district_accuracy", "street_accuracy",
            "unit_accuracy", "auto_share", "auto_unit_accuracy", "category_ece")
    lines = [CARD_BEGIN, "## On the challenge set", "",
             f"Hand-written realistic orders (`{result['data']}`, not produced by the generator; never trained on): "
             f"split `test`, {result['orders'].get('test')} orders; `dev` ({result['orders'].get('dev')} orders) "
             "is what `dispatch-nlp calibrate` may fit on. `python -m benchmarks.challenge_bench --card`.", "",
             "| profile | " + " | ".join(c.replace("_", " ") for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for name, splits in result["profiles"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(splits["test"].get(c)) for c in cols) + " |")
    if result.get("members", {}).get("test"):
        lines += ["", "Each member alone (its own top leaf, no rules, no fusion), test split:", "",
                  "| member | leaf accuracy | first-level accuracy | first-level macro-F1 |", "|---|---|---|---|"]
        for name, f in result["members"]["test"].items():
            lines.append(f"| {name} | {_fmt(f['leaf_accuracy'])} | {_fmt(f['l1_accuracy'])} | {_fmt(f['l1_macro_f1'])} |")
    lines.append(CARD_END)
    return "\n".join(lines) + "\n"


def write_card(model_dir: Path, result: dict) -> None:
    card = model_dir / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    section = card_section(result)
    if CARD_BEGIN in text and CARD_END in text:
        head, rest = text.split(CARD_BEGIN, 1)
        text = head + section + rest.split(CARD_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    atomic_write(card, text)
    write_checksums(model_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--challenge", default=str(CHALLENGE))
    ap.add_argument("--label", default="after", help="key the run is stored under in the results file")
    ap.add_argument("--card", action="store_true", help="write the test table into the model card")
    ap.add_argument("-o", "--output", default=str(RESULTS))
    args = ap.parse_args(argv)
    result = run(args.model, Path(args.challenge))
    out = Path(args.output)
    merged = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    merged[args.label] = result
    atomic_write(out, json.dumps(merged, ensure_ascii=False, indent=2) + "\n")
    if args.card:
        model_dir = Path(args.model) if args.model else Dispatcher.load().model_dir
        write_card(model_dir, result)
    print(card_section(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
