"""Jurisdiction benchmark: gazetteer-only, learned-only and fused on a generated address set.

    .venv/bin/python -m benchmarks.jurisdiction_bench [--n-test 2000] [--n-history 8000]

Trains the learned member on the generated history (``benchmarks/address_set.py``), then measures on
the test set: district, street and community accuracy (an abstention counts as wrong; each over the
rows that have that label), the abstention rate, the share of place-less rows correctly abstained on,
accuracy per case, and the cost per order of the stage (segmentation not included; reported apart).
Writes ``benchmarks/results/jurisdiction.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from dispatch_nlp.components.jurisdiction import build_jurisdiction_stage
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.text.segment import Segmenter
from dispatch_nlp.types import WorkOrder

from .address_set import make_sets

RESULTS = Path(__file__).parent / "results" / "jurisdiction.json"


def evaluate(stage, docs, rows) -> dict:
    t0 = time.perf_counter()
    evs = [stage.evidence(d) for d in docs]
    ms = (time.perf_counter() - t0) * 1000 / max(len(docs), 1)
    hits = defaultdict(lambda: [0, 0])
    per_case = defaultdict(lambda: [0, 0])
    abstained = 0
    none_ok = [0, 0]
    for ev, row in zip(evs, rows):
        code = ev.code
        if code is None:
            abstained += 1
        if row["district"] is None:
            none_ok[1] += 1
            none_ok[0] += code is None
            per_case[row["case"]][1] += 1
            per_case[row["case"]][0] += code is None
            continue
        d_ok = code is not None and code[:6] == row["district"][:6]
        hits["district"][0] += d_ok
        hits["district"][1] += 1
        if row["street"]:
            s_ok = code is not None and not code.endswith("000000") and code[:9] == row["street"][:9]
            hits["street"][0] += s_ok
            hits["street"][1] += 1
        if row["community"]:
            hits["community"][0] += code == row["community"]
            hits["community"][1] += 1
        finest = row["community"] or row["street"] or row["district"]
        ok = code is not None and (code == finest if row["community"] else
                                   code[:9] == finest[:9] if row["street"] else code[:6] == finest[:6])
        per_case[row["case"]][0] += ok
        per_case[row["case"]][1] += 1
    # Accuracy on the answers given (precision of what would be dispatched).
    answered = [(ev, r) for ev, r in zip(evs, rows) if ev.code is not None]
    prec = sum(r["district"] is not None and ev.code[:6] == r["district"][:6] for ev, r in answered) / max(len(answered), 1)
    return {
        "district_acc": round(hits["district"][0] / max(hits["district"][1], 1), 4),
        "street_acc": round(hits["street"][0] / max(hits["street"][1], 1), 4),
        "community_acc": round(hits["community"][0] / max(hits["community"][1], 1), 4),
        "abstention_rate": round(abstained / max(len(rows), 1), 4),
        "district_precision_when_answered": round(prec, 4),
        "no_place_abstained": round(none_ok[0] / max(none_ok[1], 1), 4),
        "ms_per_order": round(ms, 4),
        "per_case": {k: round(v[0] / max(v[1], 1), 3) for k, v in sorted(per_case.items())},
        "n": {k: v[1] for k, v in hits.items()},
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--n-history", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    from dispatch_nlp.training.jurisdiction import fit_jurisdiction

    gaz = Gazetteer.load()
    history, dev, test, places = make_sets(gaz, args.seed, args.n_history, 1000, args.n_test)
    seg = Segmenter({s for s, _, k in gaz.surfaces() if len(s) >= 2 and k != "short"})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = fit_jurisdiction([(r["text"], r["district"], r["street"]) for r in history],
                               [(r["text"], r["district"], r["street"]) for r in dev], gaz, tmp, segmenter=seg)
        train_s = time.perf_counter() - t0
        size_kb = (Path(tmp) / cfg["learned"]).stat().st_size / 1024
        stages = {mode: build_jurisdiction_stage(gaz, tmp, {**cfg, "mode": mode})
                  for mode in ("gazetteer", "learned", "fused")}
    t1 = time.perf_counter()
    docs = []
    for r in test:
        d = Doc.from_order(WorkOrder(text=r["text"]))
        d.tokens = seg.tokenize(d.text)
        docs.append(d)
    seg_ms = (time.perf_counter() - t1) * 1000 / len(docs)
    results = {mode: evaluate(stage, docs, test) for mode, stage in stages.items()}
    street_named = sum(r["case"] not in ("district_only", "compound", "compound_unseen", "road", "road_unseen", "none")
                       for r in test) / len(test)
    out = {
        "test_rows": len(test), "history_rows": len(history), "dev_rows": len(dev),
        "street_named_share": round(street_named, 3), "invented_places": len(places),
        "train_seconds": round(train_s, 2), "learned_file_kb": round(size_kb, 1), "config": cfg,
        "segmentation_ms_per_order": round(seg_ms, 4), "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"test rows {len(test)} (street named in {street_named:.0%}), history {len(history)}, "
          f"learned grams {cfg['n_grams']} ({size_kb:.0f} KB), trained in {train_s:.1f} s\n")
    print("| method | district acc | street acc | community acc | abstention | precision (answered) "
          "| no-place abstained | ms/order |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode, r in results.items():
        print(f"| {mode} | {r['district_acc']:.3f} | {r['street_acc']:.3f} | {r['community_acc']:.3f} | "
              f"{r['abstention_rate']:.3f} | {r['district_precision_when_answered']:.3f} | "
              f"{r['no_place_abstained']:.3f} | {r['ms_per_order']:.3f} |")
    print(f"\nsegmentation (not included above): {seg_ms:.3f} ms/order\n")
    cases = sorted(next(iter(results.values()))["per_case"])
    print("| case | " + " | ".join(results) + " |")
    print("| --- |" + " --- |" * len(results))
    for c in cases:
        print(f"| {c} | " + " | ".join(f"{results[m]['per_case'].get(c, 0):.3f}" for m in results) + " |")
    return out


if __name__ == "__main__":
    main()
