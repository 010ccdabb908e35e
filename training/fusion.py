"""Fusion by a weight grid, calibration of the fused confidence and the automatic-dispatch threshold.

``fit_fusion(member_p, rules_p, gold, target)``: member weights, mean or geometric fusion and the rules
weight by accuracy on held-out probabilities (the recipe before stacking; still what a model trained
with ``--fusion weights`` ships, and the appeal head's weights of a stacked model). ``fit_calibration(top,
correct, target)``: an isotonic map from the fused top-1 probability to the probability of being right,
and the least calibrated confidence whose orders reach the target accuracy (``auto_threshold``).
"""

from __future__ import annotations

import math

import numpy as np

from dispatch_nlp.components.classifier import PROB_FUSIONS, combine

MIN_AUTO_ORDERS = 30  # a threshold must send at least this many held-out orders (and 0.5%) to be trusted
RULES_WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def calibration_points(iso, max_points: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The fitted isotonic step function as (x, y) points for ``np.interp``, from 0 to 1.

    Its own breakpoints, not a fixed grid: a grid merges the confident top into one plateau whose
    precision may miss the target, leaving no threshold at all. Thinned to ``max_points``."""
    xs = np.concatenate([[0.0], np.asarray(iso.X_thresholds_, dtype=float), [1.0]])
    ys = np.concatenate([[float(iso.y_thresholds_[0])], np.asarray(iso.y_thresholds_, dtype=float),
                         [float(iso.y_thresholds_[-1])]])
    if len(xs) > max_points:
        keep = np.unique(np.linspace(0, len(xs) - 1, max_points).round().astype(int))
        xs, ys = xs[keep], ys[keep]
    xs = np.maximum.accumulate(np.clip(xs, 0.0, 1.0))
    return xs, np.maximum.accumulate(np.clip(ys, 0.0, 1.0))


def auto_threshold(calibrated: np.ndarray, correct: np.ndarray, target_accuracy: float) -> float:
    """The least calibrated confidence whose held-out orders at or above it are right at least
    ``target_accuracy`` of the time, counting only thresholds that send enough orders; 1.01 (never
    automatic) when none does."""
    if len(calibrated) == 0:
        return 1.01
    order = np.argsort(-calibrated, kind="stable")
    conf, hits = calibrated[order], np.cumsum(correct[order])
    n = np.arange(1, len(conf) + 1)
    last = np.r_[conf[1:] != conf[:-1], True]  # the last order of each run of equal confidence
    ok = last & (hits / n >= target_accuracy) & (n >= max(MIN_AUTO_ORDERS, 0.005 * len(conf)))
    return float(conf[ok].min()) if ok.any() else 1.01


def fit_calibration(top: np.ndarray, correct: np.ndarray, target_accuracy: float) -> dict:
    """Isotonic calibration of the top-1 probability on held-out orders, the automatic-dispatch
    threshold reaching ``target_accuracy`` and the share of those orders it sends."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(top, correct)
    xs, ys = calibration_points(iso)
    calibrated = np.interp(top, xs, ys)
    threshold = auto_threshold(calibrated, correct, target_accuracy)
    return {"calibration_x": xs.round(5).tolist(), "calibration_y": ys.round(5).tolist(),
            "auto_threshold": math.floor(threshold * 1e5) / 1e5,
            "dev_auto_coverage": round(float((calibrated >= threshold).mean()), 4),
            "target_precision": target_accuracy}


def weight_grid(n: int) -> list[tuple[float, ...]]:
    if n == 1:
        return [(1.0,)]
    if n == 2:
        # 0.05 steps (42 fusions take seconds); a weaker member's best weight is often small.
        steps = [round(i / 20, 2) for i in range(21)]
        return [(a, round(1 - a, 2)) for a in steps]
    # Three or more members: 0.1 steps over the simplex.
    out: list[tuple[float, ...]] = []

    def rec(prefix: tuple[float, ...], left: int) -> None:
        if len(prefix) == n - 1:
            out.append((*prefix, round(left / 10, 1)))
            return
        for i in range(left + 1):
            rec((*prefix, round(i / 10, 1)), left - i)
    rec((), 10)
    return out


def fit_fusion(member_p: dict[str, np.ndarray], rules_p: np.ndarray, gold: np.ndarray,
               target_precision: float, calibrate_on: np.ndarray | None = None) -> dict:
    """Member weights, fusion rule and rules weight by held-out accuracy (then log-likelihood), the
    isotonic calibration of the fused top-1 probability, and the threshold reaching the target
    (fitted on the ``calibrate_on`` orders, default all)."""
    names = sorted(member_p)
    grids = [dict(zip(names, w)) for w in weight_grid(len(names))]
    has_rules = rules_p.sum(axis=1) > 0
    best = None
    for mode in (PROB_FUSIONS if len(names) > 1 else ("mean",)):
        for weights in grids:
            model = combine(member_p, weights, mode)
            for rw in RULES_WEIGHTS:
                fused = np.where(has_rules[:, None], (1 - rw) * model + rw * rules_p, model)
                acc = float((fused.argmax(1) == gold).mean())
                nll = float(-np.mean(np.log(np.clip(fused[np.arange(len(gold)), gold], 1e-9, None))))
                key = (round(acc, 4), -nll)
                if best is None or key > best[0]:
                    best = (key, weights, mode, rw, fused)
    assert best is not None
    (acc, _), weights, mode, rw, fused = best
    correct = (fused.argmax(1) == gold).astype(float)
    on = np.ones(len(gold), dtype=bool) if calibrate_on is None else calibrate_on
    return {"weights": weights, "fusion": mode, "rules_weight": rw, "dev_accuracy": acc,
            **fit_calibration(fused.max(1)[on], correct[on], target_precision)}


def route_section(fusion: dict) -> dict:
    """The model config's ``route`` keys a fitted fusion sets."""
    return {"rules_weight": fusion["rules_weight"], "auto_threshold": fusion["auto_threshold"],
            "calibration_x": fusion["calibration_x"], "calibration_y": fusion["calibration_y"]}
