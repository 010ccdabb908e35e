"""Section 4 of the benchmark report: accuracy per head on the generated test split, coverage-accuracy
curves, reliability bins and jurisdiction accuracy by the kind of place mentioned (a dispatcher and the
corpus in, a dict out). The corpus is read with the runtime's loader, as ``dispatch-nlp evaluate`` reads a table."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.lifecycle.evaluate import evaluate_examples
from dispatch_nlp.lifecycle.examples import load_examples


# -- 4. accuracy ----------------------------------------------------------------------------------
class _Recorder:
    """Delegates to a dispatcher and keeps the decisions ``evaluate_examples`` asks for."""

    def __init__(self, dispatcher):
        self.d = dispatcher
        self.catalog = dispatcher.catalog
        self.decisions = []

    def dispatch_batch(self, orders, batch_size=64):
        out = self.d.dispatch_batch(orders, batch_size=batch_size)
        self.decisions.extend(out)
        return out


def reliability(correct: np.ndarray, conf: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf >= lo) & ((conf < hi) if hi < 1 else (conf <= hi))
        out.append({"lo": round(float(lo), 2), "hi": round(float(hi), 2), "n": int(m.sum()),
                    "confidence": round(float(conf[m].mean()), 4) if m.any() else None,
                    "accuracy": round(float(correct[m].mean()), 4) if m.any() else None})
    return out


def mention_type(rec: dict) -> str:
    """What kind of place the order names for its problem: the finest problem mention's kind, or
    ``caller_only`` / ``none``."""
    spans = rec.get("place_spans") or []
    problem = [s for s in spans if s.get("role") == "problem"]
    if not problem:
        return "caller_only" if spans else "none"
    order = ["compound", "community", "village", "road", "landmark", "known_place", "street", "town", "district"]
    kinds = {s.get("kind") for s in problem}
    for k in order:
        if k in kinds:
            return k
    return sorted(k for k in kinds if k)[0] if any(kinds) else "other"


def measure_accuracy(dispatcher, corpus: Path, records: list[dict]) -> dict:
    spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category_path",
                      appeal_col="appeal_type", district_col="district_code", street_col="street_code", unit_col="unit_id")
    examples, report = load_examples(corpus, spec, dispatcher.catalog, dispatcher.gazetteer, split_col="split",
                                     dev_ratio=0.0, test_ratio=0.0)
    examples = [e for e in examples if e.split == "test"]
    rec = _Recorder(dispatcher)
    t0 = time.perf_counter()
    heads = evaluate_examples(rec, examples)
    seconds = time.perf_counter() - t0
    decs = rec.decisions
    gold_leaf = [e.leaf for e in examples]
    curves, calib = {}, {}
    getters = {
        "category": (lambda e: e.leaf, lambda d: d.category.code, lambda d: d.category.confidence),
        "category_l1": (lambda e: e.leaf and e.leaf[:2], lambda d: d.category.code and d.category.code[:2],
                        lambda d: d.category.confidence),
        "appeal_type": (lambda e: e.appeal, lambda d: d.appeal_type.label if d.appeal_type else None,
                        lambda d: d.appeal_type.confidence if d.appeal_type else 0.0),
        "district": (lambda e: e.district, lambda d: d.jurisdiction.district.code if d.jurisdiction.district else None,
                     lambda d: d.jurisdiction.confidence),
        "street": (lambda e: e.street, lambda d: d.jurisdiction.street.code if d.jurisdiction.street else None,
                   lambda d: d.jurisdiction.confidence),
        "unit": (lambda e: e.unit, lambda d: d.units.primary.id if d.units.primary else None, lambda d: d.confidence),
    }
    for head, (g, p, c) in getters.items():
        keep = [(g(e), p(d), c(d)) for e, d in zip(examples, decs) if g(e)]
        if not keep:
            continue
        correct = np.array([a == b for a, b, _ in keep], dtype=float)
        conf = np.array([x for _, _, x in keep], dtype=float)
        calib[head] = reliability(correct, conf)
        curves[head] = heads.get(head, {}).get("coverage_accuracy")
    # Jurisdiction by the kind of place mentioned.
    by_id = {r["id"]: r for r in records}
    by_type: dict[str, list] = {}
    for e, d in zip(examples, decs):
        r = by_id.get(e.id)
        if r is None:
            continue
        t = mention_type(r)
        got_d = d.jurisdiction.district.code if d.jurisdiction.district else None
        got_s = d.jurisdiction.street.code if d.jurisdiction.street else None
        by_type.setdefault(t, []).append((e.district, got_d, e.street, got_s))
    juris = {}
    for t, rows in sorted(by_type.items()):
        dist = [a == b for a, b, _, _ in rows if a]
        st = [a == b for _, _, a, b in rows if a]
        juris[t] = {"n": len(rows), "district_acc": round(float(np.mean(dist)), 4) if dist else None,
                    "street_acc": round(float(np.mean(st)), 4) if st else None,
                    "abstained": round(float(np.mean([b is None for _, b, _, _ in rows])), 4)}
    slim = {h: {k: v for k, v in rep.items() if k not in ("per_class", "confused_pairs")} if isinstance(rep, dict) else rep
            for h, rep in heads.items()}
    for h, rep in heads.items():
        if isinstance(rep, dict) and rep.get("confused_pairs"):
            slim[h]["confused_pairs_top5"] = rep["confused_pairs"][:5]
    return {"test_orders": len(examples), "seconds": round(seconds, 1),
            "orders_per_s": round(len(examples) / seconds, 1) if seconds else None,
            "keyword_free_share": round(float(np.mean([bool(by_id.get(e.id, {}).get("keyword_free")) for e in examples])), 3)
            if examples else None,
            "heads": slim, "coverage_accuracy": curves, "reliability": calib, "jurisdiction_by_mention": juris,
            "data": {"rows": report.rows, "splits": report.splits}, "gold_leaf_known": sum(1 for x in gold_leaf if x)}
