"""District, street and unit learned from a bureau's own history, against a plain char n-gram classifier.

    python -m benchmarks.history_bench --label before [--rows 3000] [--train-flags "--units-from-labels"]

Writes the history of benchmarks/history_build.py (two-level messy labels, district/street columns,
the bureau's own unit names, dates), splits it by time (oldest 60 % train, next 10 % dev, newest 30 %
test), runs ``dispatch-nlp train --catalog-from-labels --category-cols l1,l2 --district-col district
--street-col street --unit-col unit --time-col time --split-col split`` (plus ``--train-flags``), and
scores the newest 30 % through ``Dispatcher.load`` of the trained model: district, street and unit
accuracy (names compared), the routes, and how many of 12 orders about another city the model still
places in a Beijing district (should be none). The reference is a TF-IDF char
1-3-gram logistic regression per head trained on the oldest 70 % (train and dev). Figures go under the
label into benchmarks/results/history.json (other labels kept).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dispatch_nlp.benchmarks.history_build import OTHER_CITY, build, write

from dispatch_nlp import Dispatcher
from dispatch_nlp.files import atomic_write

RESULTS = Path(__file__).resolve().parent / "results" / "history.json"
HEADS = ("district", "street", "unit")


def _split(rows: list[dict]) -> None:
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["time"], i))
    n = len(rows)
    for rank, i in enumerate(order):
        rows[i]["split"] = "train" if rank < 0.6 * n else "dev" if rank < 0.7 * n else "test"


def reference(rows: list[dict]) -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if r["split"] != "test"]
    test = [r for r in rows if r["split"] == "test"]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
    x_train, x_test = vec.fit_transform([r["text"] for r in train]), vec.transform([r["text"] for r in test])
    out = {}
    for head in HEADS:
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(x_train, [r[head] for r in train])
        pred = clf.predict(x_test)
        out[head] = round(sum(p == r[head] for p, r in zip(pred, test, strict=True)) / len(test), 4)
    return out


def _same_unit(dispatcher, primary, name: str) -> bool:
    """The decision's unit is the history's: its name, or a short name of it in the registry (a history
    value merged into a registry unit, e.g. 排水集团 -> utility_drainage, reads by its full name)."""
    if primary is None:
        return False
    unit = dispatcher.units.get(primary.id)
    return primary.name == name or (unit is not None and name in unit.short_names)


def trained(rows: list[dict], folder: Path, flags: list[str]) -> dict:
    table = folder / "history.csv"
    write(table, rows)
    cli = Path(sys.executable).parent / "dispatch-nlp"
    cmd = [str(cli), "train", str(table), "--output", str(folder / "model"), "--catalog-from-labels",
           "--category-cols", "l1,l2", "--id-col", "id", "--district-col", "district", "--street-col", "street",
           "--unit-col", "unit", "--time-col", "time", "--split-col", "split", "--quiet", "--model-version",
           "history-bench", *flags]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}",
                "train_s": round(time.perf_counter() - t0, 1)}
    train_s = round(time.perf_counter() - t0, 1)
    d = Dispatcher.load(folder / "model")
    test = [r for r in rows if r["split"] == "test"]
    decisions = d.dispatch_batch([{"id": r["id"], "text": r["text"]} for r in test])
    right = dict.fromkeys(HEADS, 0)
    routes: dict[str, int] = {}
    dispatched_right = 0
    unit_conf = []
    for r, dec in zip(test, decisions, strict=True):
        j = dec.jurisdiction
        right["district"] += j.district is not None and j.district.name == r["district"]
        right["street"] += j.street is not None and j.street.name == r["street"]
        right["unit"] += _same_unit(d, dec.units.primary, r["unit"])
        routes[dec.route] = routes.get(dec.route, 0) + 1
        if dec.route == "dispatch":
            dispatched_right += _same_unit(d, dec.units.primary, r["unit"])
        unit_conf.append(dec.units.confidence)
    other = d.dispatch_batch(list(OTHER_CITY))
    placed = sum(dec.jurisdiction.district is not None for dec in other)
    metrics = json.loads((folder / "model" / "metrics.json").read_text(encoding="utf-8"))
    return {**{h: round(right[h] / len(test), 4) for h in HEADS}, "routes": dict(sorted(routes.items())),
            "unit_confidence_mean": round(sum(unit_conf) / len(unit_conf), 4),
            "dispatched_unit_right": round(dispatched_right / routes["dispatch"], 4) if routes.get("dispatch") else None,
            "category": metrics["test"].get("category", {}).get("accuracy"),
            "labels": metrics["data"].get("labels"), "train_s": train_s,
            "other_city_orders": len(other), "other_city_placed_in_beijing": placed}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="current")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--train-flags", default="", help="extra dispatch-nlp train flags, one string")
    args = ap.parse_args(argv)
    rows = build(args.rows)
    _split(rows)
    with tempfile.TemporaryDirectory() as tmp:
        model = trained(rows, Path(tmp), shlex.split(args.train_flags))
    figures = {"rows": len(rows), "test": sum(r["split"] == "test" for r in rows), "train_flags": args.train_flags,
               "after_train": model, "reference_char_ngram": reference(rows)}
    runs = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    runs[args.label] = figures
    atomic_write(RESULTS, json.dumps(runs, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in figures.items()}, ensure_ascii=False)[:1500])


if __name__ == "__main__":
    main()
