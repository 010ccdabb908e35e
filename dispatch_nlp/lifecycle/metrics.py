"""Metrics for one prediction head: what ``dispatch-nlp evaluate`` reports under each head's name.

``head_report(gold, pred, confidence)`` → ``accuracy``, ``macro_f1``, per-class F1, the most confused
pairs, expected calibration error and the coverage-accuracy curve (the share of orders sent
automatically at a threshold against their accuracy) and the coverage at fixed accuracies (the largest
share of the most confident orders that is right at least 97/98/99 % of the time). Gold labels that
are None are skipped.
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def per_class_f1(gold: list[str], pred: list[str]) -> dict[str, dict[str, float]]:
    labels = sorted(set(gold) | set(pred))
    tp = Counter(g for g, p in zip(gold, pred) if g == p)
    gold_n = Counter(gold)
    pred_n = Counter(pred)
    out = {}
    for c in labels:
        prec = tp[c] / pred_n[c] if pred_n[c] else 0.0
        rec = tp[c] / gold_n[c] if gold_n[c] else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[c] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4), "support": gold_n[c]}
    return out


def expected_calibration_error(correct: np.ndarray, confidence: np.ndarray, bins: int = 15) -> float:
    if len(correct) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (confidence > lo) & (confidence <= hi) if lo > 0 else (confidence >= lo) & (confidence <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def coverage_curve(correct: np.ndarray, confidence: np.ndarray, points: int = 21) -> list[dict[str, float | None]]:
    """Accuracy of the orders at or above each confidence threshold, with the share they make up."""
    out = []
    for t in np.linspace(0.0, 1.0, points):
        mask = confidence >= t
        cov = float(mask.mean()) if len(mask) else 0.0
        acc = float(correct[mask].mean()) if mask.any() else None
        out.append({"threshold": round(float(t), 3), "coverage": round(cov, 4),
                    "accuracy": None if acc is None else round(acc, 4)})
    return out


def accuracy_at_coverage(correct: np.ndarray, confidence: np.ndarray, coverage: float) -> float | None:
    """Accuracy of the most confident ``coverage`` share of orders."""
    if len(correct) == 0:
        return None
    k = max(1, int(round(coverage * len(correct))))
    order = np.argsort(-confidence, kind="stable")[:k]
    return float(correct[order].mean())


ACCURACY_TARGETS = (0.97, 0.98, 0.99)


def coverage_at_accuracy(correct: np.ndarray, confidence: np.ndarray,
                         targets: tuple[float, ...] = ACCURACY_TARGETS) -> dict[str, float]:
    """For each target accuracy, the largest share of orders, taken most confident first, whose
    accuracy reaches it: what could be sent automatically with the best threshold for these orders.
    Orders of equal confidence go together (a threshold cannot split them); 0.0 when none reaches it."""
    out: dict[str, float] = {}
    if len(correct) == 0:
        return {f"{t:.2f}": 0.0 for t in targets}
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    n = np.arange(1, len(conf) + 1)
    last = np.r_[conf[1:] != conf[:-1], True]
    for t in targets:
        ok = last & (hits / n >= t - 1e-12)
        out[f"{t:.2f}"] = round(float(n[ok].max()) / len(conf), 4) if ok.any() else 0.0
    return out


def head_report(gold: list[str | None], pred: list[str | None], confidence: list[float] | None = None,
                *, top_confusions: int = 10) -> dict:
    pairs = [(g, p if p is not None else "<none>", c) for g, p, c in
             zip(gold, pred, confidence if confidence is not None else [1.0] * len(gold)) if g is not None]
    if not pairs:
        return {"n": 0}
    g = [x[0] for x in pairs]
    p = [x[1] for x in pairs]
    conf = np.array([x[2] for x in pairs], dtype=np.float64)
    correct = np.array([a == b for a, b in zip(g, p)], dtype=np.float64)
    f1 = per_class_f1(g, p)
    gold_classes = sorted(set(g))
    confused = Counter((a, b) for a, b in zip(g, p) if a != b).most_common(top_confusions)
    report = {
        "n": len(pairs),
        "accuracy": round(float(correct.mean()), 4),
        "macro_f1": round(float(np.mean([f1[c]["f1"] for c in gold_classes])), 4),
        "per_class": f1,
        "confused_pairs": [{"gold": a, "pred": b, "count": n} for (a, b), n in confused],
    }
    if confidence is not None:
        report["ece"] = round(expected_calibration_error(correct, conf), 4)
        report["coverage_accuracy"] = coverage_curve(correct, conf)
        report["accuracy_at_half_coverage"] = accuracy_at_coverage(correct, conf, 0.5)
        report["coverage_at_accuracy"] = coverage_at_accuracy(correct, conf)
    return report
