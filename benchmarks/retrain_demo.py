"""Retraining demonstration on generated data: a category changes hands, operators correct, the
challenger learns it while the other heads hold.

    python benchmarks/retrain_demo.py [--history 3000] [--moved 80]

1. History: ``--history`` generated orders (``dispatch_nlp.training.corpus``); the champion (linear member) is
   trained on their train/dev split; their test split is the frozen evaluation set.
2. A systematic routing change: from now on one district-functional category (X) is handled by
   another district bureau (e.g. 区城管委 → 区住建委). Recent orders arrive: ``--moved`` of category X
   and some others. The champion dispatches them; operators re-route (改派) every X order it sent to
   the old unit, through the corrections store.
3. ``retrain`` merges the corrections over the history (recent orders included with the labels the
   system first gave them), trains the challenger and compares both models on the frozen set and on
   the held-out corrections; then ``promote`` decides. A fresh set of X orders (never seen) measures
   how often each model now routes X to the new unit.

Writes ``benchmarks/results/retrain.json`` and prints Markdown tables. Orders of category X are
made with the generator's per-leaf method (``CorpusGenerator._make``), since ``generate`` cycles
through all 566 leaves evenly.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from dispatch_nlp.batch.tables import write_jsonl

ROOT = Path(__file__).resolve().parents[1]

NEW_UNIT = {"district_cgw": "district_zjw"}  # anything else moves to 区城管委


def row(rec: dict) -> dict:
    return {"id": rec["id"], "text": rec["text"], "title": rec.get("title"), "created_at": rec.get("created_at"),
            "category_path": rec["category_path"], "appeal_type": rec.get("appeal_type"),
            "district": rec.get("district_code"), "street": rec.get("street_code"), "unit": rec.get("unit_id"),
            "split": rec.get("split")}


def orders_of(gen, leaf, n: int, offset: int, prefix: str) -> list[dict]:
    out = []
    for k in range(n):
        i = offset + k
        rec = gen._make(i, random.Random(gen.seed * 1_000_003 + i * 7919 + 17), leaf, "operator" if k % 2 else "online")
        rec["id"] = f"{prefix}-{k}"
        out.append(rec)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--history", type=int, default=3000)
    ap.add_argument("--recent", type=int, default=400, help="recent orders of other categories")
    ap.add_argument("--moved", type=int, default=80, help="recent orders of the moved category")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "retrain.json"))
    args = ap.parse_args()

    from dispatch_nlp.training.corpus import load_generator
    from dispatch_nlp.training.retrain import CANONICAL_SPEC, RetrainOptions, comparison_table, retrain
    from dispatch_nlp.training.train import TrainOptions, train

    from dispatch_nlp import Dispatcher
    from dispatch_nlp.batch.tables import ColumnSpec
    from dispatch_nlp.lifecycle.corrections import Correction, open_store
    from dispatch_nlp.lifecycle.registry import Registry
    from dispatch_nlp.types import WorkOrder

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="retrain-demo-"))
    gen = load_generator(seed=args.seed)
    history = list(gen.generate(args.history))
    spec = ColumnSpec(**{**CANONICAL_SPEC.__dict__})
    write_jsonl(tmp / "history.jsonl", (row(r) for r in history if r["split"] != "test"))
    write_jsonl(tmp / "frozen_eval.jsonl", (row(r) for r in history if r["split"] == "test"))

    # -- the champion -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    train(tmp / "history.jsonl", spec, TrainOptions(output=tmp / "champion", split_col="split", progress=False,
                                                    model_version="champion-1"))
    champion_s = round(time.perf_counter() - t0, 1)
    champion = Dispatcher.load(tmp / "champion")
    units = champion.units

    # -- the routing change ----------------------------------------------------------------------------
    leaves = [leaf for leaf in champion.catalog.leaves() if leaf.duty == "district_functional" and leaf.unit_type]
    leaf = next(x for x in leaves if x.unit_type == "district_cgw")
    old_type = leaf.unit_type
    new_type = NEW_UNIT.get(old_type, "district_cgw")
    moved = orders_of(gen, leaf, args.moved, 50_000_000, "recent-x")
    others = list(gen.generate(args.recent, start=args.history))
    for r in others:
        r["id"] = "recent-" + r["id"]
    recent = moved + others
    write_jsonl(tmp / "history.jsonl", [row(r) for r in history if r["split"] != "test"] + [row(r) for r in recent])

    decisions = champion.dispatch_batch([WorkOrder(id=r["id"], text=r["text"], title=r.get("title")) for r in moved])
    store = open_store(tmp / "corrections.db")
    corrections = []
    for rec, dec in zip(moved, decisions):
        district = (dec.jurisdiction.district.code if dec.jurisdiction.district else None) or rec.get("district_code")
        new_unit = units.resolve(new_type, district_code=district[:6]) if district else None
        sent_to = dec.units.primary.id if dec.units.primary else None
        if new_unit is None or sent_to == new_unit.id:
            continue
        corrections.append(Correction.from_dict({
            "order_id": rec["id"], "operator": "demo-op", "kind": "改派", "unit": new_unit.id,
            "decision": dec.to_dict(), "reason": f"职责调整：{leaf.name}改由{new_unit.name}承办",
            "catalog_version": champion.catalog_version}))
    store.add_many(corrections)

    # -- retrain, compare, promote ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    report = retrain(tmp / "history.jsonl", spec, RetrainOptions(
        model=tmp / "champion", output=tmp / "challenger", corrections=str(tmp / "corrections.db"),
        eval_data=tmp / "frozen_eval.jsonl", holdout=0.25, model_version="challenger-1", progress=False,
        overrides={"encoder": None}))
    retrain_s = round(time.perf_counter() - t0, 1)
    challenger = Dispatcher.load(tmp / "challenger")

    fresh = orders_of(gen, leaf, 60, 60_000_000, "fresh-x")

    def share_new(d) -> dict:
        decs = d.dispatch_batch([WorkOrder(id=r["id"], text=r["text"], title=r.get("title")) for r in fresh])
        to_new = sum(1 for x in decs if x.units.primary and x.units.primary.id.startswith(new_type + "@"))
        to_old = sum(1 for x in decs if x.units.primary and x.units.primary.id.startswith(old_type + "@"))
        right_cat = sum(1 for x in decs if x.category.code == leaf.code)
        return {"orders": len(decs), "to_new_unit": round(to_new / len(decs), 4),
                "to_old_unit": round(to_old / len(decs), 4), "category_right": round(right_cat / len(decs), 4)}

    probe = {"champion": share_new(champion), "challenger": share_new(challenger)}
    reg = Registry(tmp / "registry")
    reg.promote(tmp / "champion")
    promoted = reg.promote(tmp / "challenger", comparison=report["comparison"])

    result = {
        "setup": {"history_orders": args.history, "frozen_eval_orders": report["data"].get("frozen_eval_rows"),
                  "recent_orders": len(recent), "moved_category": {"code": leaf.code, "path": list(leaf.path)},
                  "unit_change": f"{old_type} → {new_type}", "corrections": len(corrections),
                  "fine_tune": report["fine_tune"], "champion_train_s": champion_s, "retrain_s": retrain_s},
        "data": report["data"],
        "comparison": report["comparison"],
        "fresh_orders_of_moved_category": probe,
        "promotion": {"promoted": promoted["promoted"], "current": promoted["current"],
                      "reason": promoted.get("reason")},
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"Moved category {leaf.code} {' > '.join(leaf.path)}: {old_type} → {new_type}; "
          f"{len(corrections)} corrections; champion trained on {args.history} generated orders (linear member).\n")
    print(comparison_table(report["comparison"]))
    print("\n| fresh orders of the moved category | champion | challenger |\n| --- | ---: | ---: |")
    for k in ("to_new_unit", "to_old_unit", "category_right"):
        print(f"| {k} | {probe['champion'][k]:.2%} | {probe['challenger'][k]:.2%} |")
    print(f"\nPromotion: {'promoted' if promoted['promoted'] else 'refused'} "
          f"({promoted.get('reason') or promoted['current']}). Total {result['seconds']} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
