"""Precision and recall of the personal-data masker per kind, on ``benchmarks/data/pii_set.jsonl``.

The set is written by this project: sentences in the style of hotline orders with gold spans per kind
(name, address, mobile, landline, email, im = QQ/WeChat ids, id_number) and hard negatives (place names
that start with a surname, 12345 and order numbers, dates, amounts, building numbers alone).

A predicted span counts for a gold span of the same kind when they overlap. Precision per kind is the
share of the masker's hits of that kind that overlap a gold span of that kind; recall the share of gold
spans found. Kinds the set has no gold for (bank_card, plate) count as false positives under their own
name. ``find_pii`` runs on the raw text, as ``mask_text`` does before a correction is stored.

A second, independent check: ``--corpus FILE`` scores the masker on orders of the project's corpus
generator (``dispatch-nlp corpus generate``), whose ``pii_spans`` the generator wrote (names, phones,
ID and card numbers, e-mail, plates; it writes no address spans, so address hits count as
predictions without gold there). Its result is stored under ``<label>_corpus``.

    python -m dispatch_nlp.benchmarks.pii_bench [--out benchmarks/results/pii.json] [--label after]
    dispatch-nlp corpus generate -n 3000 --seed 99 -o /tmp/c.jsonl
    python -m dispatch_nlp.benchmarks.pii_bench --corpus /tmp/c.jsonl --label after
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from dispatch_nlp.files import atomic_write
from dispatch_nlp.text.pii import find_pii

HERE = Path(__file__).resolve().parent
SET = HERE / "data" / "pii_set.jsonl"
OUT = HERE / "results" / "pii.json"
# The masker's kinds under the set's names (QQ and WeChat ids are one kind, "im").
KIND = {"qq": "im", "wechat": "im", "name_caller": "name"}


def load(path: Path = SET) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:  # a generated corpus names its gold "pii_spans"
        if "spans" not in row:
            row["spans"] = [{**s, "kind": KIND.get(s["kind"], s["kind"])} for s in row.get("pii_spans", [])]
    return rows


def score(rows: list[dict], find=find_pii) -> dict[str, dict[str, float | int]]:
    tp_pred: Counter[str] = Counter()
    tp_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for row in rows:
        gold = [(g["kind"], g["start"], g["end"]) for g in row["spans"]]
        pred = [(KIND.get(k, k), s, e) for k, s, e in find(row["text"])]
        for k, s, e in pred:
            n_pred[k] += 1
            tp_pred[k] += any(gk == k and s < ge and gs < e for gk, gs, ge in gold)
        for k, s, e in gold:
            n_gold[k] += 1
            tp_gold[k] += any(pk == k and s < pe and ps < e for pk, ps, pe in pred)
    out: dict[str, dict[str, float | int]] = {}
    for k in sorted(set(n_pred) | set(n_gold)):
        out[k] = {"gold": n_gold[k], "predicted": n_pred[k],
                  "precision": round(tp_pred[k] / n_pred[k], 3) if n_pred[k] else 1.0,
                  "recall": round(tp_gold[k] / n_gold[k], 3) if n_gold[k] else 1.0}
    total_p, total_g = sum(n_pred.values()), sum(n_gold.values())
    out["all"] = {"gold": total_g, "predicted": total_p,
                  "precision": round(sum(tp_pred.values()) / total_p, 3) if total_p else 1.0,
                  "recall": round(sum(tp_gold.values()) / total_g, 3) if total_g else 1.0}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=SET)
    ap.add_argument("--corpus", type=Path, help="score on a generated corpus (its pii_spans) instead of the set")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--label", default="after", help="the key this run is stored under in --out (before/after)")
    args = ap.parse_args(argv)
    rows = load(args.corpus or args.set)
    result = score(rows)
    print(f"{len(rows)} sentences ({sum(1 for r in rows if not r['spans'])} without personal data)")
    print(f"{'kind':<10} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6}")
    for k, v in result.items():
        print(f"{k:<10} {v['gold']:>5} {v['predicted']:>5} {v['precision']:>6.3f} {v['recall']:>6.3f}")
    data = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    if args.corpus:
        data[f"{args.label}_corpus"] = {"orders": len(rows), **result}
    else:
        data["set"] = {"path": "benchmarks/data/pii_set.jsonl", "sentences": len(rows)}
        data[args.label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
