"""Fit the stacked fusion (``dispatch_nlp.components.stacker.Stacker``) on out-of-fold probabilities.

``fit_stacker(probs, rules, gold)`` fits the candidate re-scorer's coefficients: a conditional logit
(the softmax of ``features @ coef`` over each order's candidates) maximising the likelihood of the
gold leaf, with a small L2 penalty, by L-BFGS. Orders whose gold leaf is not a candidate cannot teach
it and are left out (their share is reported as ``candidate_recall``).

``fit_stacked_fusion(probs, rules, gold, folds, target)`` is what ``train`` ships: the stacker fitted on
every order, and the isotonic calibration and automatic-dispatch threshold fitted on the stacker's own
out-of-fold output (the stacker is cross-fitted over the same folds), so the threshold is not set on
probabilities the stacker saw.
"""

from __future__ import annotations

import numpy as np

from dispatch_nlp.components.stacker import Stacker

from .fusion import fit_calibration

L2 = 1e-3
RELIABILITY_PRIOR = 10.0  # pseudo-orders of a member's overall accuracy behind each leaf's reliability


def _group_starts(rows: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])


def _objective(w: np.ndarray, x: np.ndarray, starts: np.ndarray, gold_pos: np.ndarray, l2: float):
    s = x @ w
    grp = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(s)]))
    mx = np.maximum.reduceat(s, starts)
    e = np.exp(s - mx[grp])
    z = np.add.reduceat(e, starts)
    nll = np.mean(np.log(z) + mx - s[gold_pos])
    p = e / z[grp]
    p[gold_pos] -= 1.0
    grad = (p @ x) / len(starts)
    return nll + 0.5 * l2 * float(w @ w), grad + l2 * w


def reliability_table(p: np.ndarray, gold: np.ndarray, classes: list[str], prior: float = RELIABILITY_PRIOR
                      ) -> dict[str, float]:
    """How often a member's top leaf was right, per leaf it put first (shrunk towards its accuracy by
    ``prior`` pseudo-orders); key "": its accuracy."""
    top = p.argmax(1)
    acc = float((top == gold).mean()) if len(gold) else 0.0
    put = np.bincount(top, minlength=len(classes))
    hit = np.bincount(top[top == gold], minlength=len(classes))
    table = {"": acc}
    for j in np.flatnonzero(put):
        table[classes[j]] = float((hit[j] + prior * acc) / (put[j] + prior))
    return table


def fit_stacker(probs: dict[str, np.ndarray], rules: np.ndarray, gold: np.ndarray, *, top_k: int = 5,
                rules_top: int = 3, l2: float = L2, classes: list[str] | None = None,
                reliability: bool = False) -> tuple[Stacker, dict]:
    """The re-scorer fitted on (n, k) member probabilities, the rules' (n, k) distribution and the gold
    columns (n,); with ``reliability`` (needs ``classes``, the columns' leaves) the per-leaf
    reliability features, their tables counted on these orders. Returns it and {"candidate_recall",
    "train_accuracy", "n"}."""
    from scipy.optimize import minimize

    members = sorted(probs)
    tables = ({m: reliability_table(probs[m], gold, classes) for m in members}
              if reliability and classes is not None else None)
    stacker = Stacker(members, np.zeros(0), top_k, rules_top, tables)
    stacker.coef = np.zeros(len(stacker.names))
    rows, cols, x = stacker.features(probs, rules, classes)
    is_gold = cols == gold[rows]
    keep_rows = np.unique(rows[is_gold])  # orders whose gold leaf is a candidate
    mask = np.isin(rows, keep_rows)
    rows, x, is_gold = rows[mask], x[mask], is_gold[mask]
    info = {"n": int(len(gold)), "candidate_recall": round(len(keep_rows) / max(len(gold), 1), 4)}
    if len(keep_rows) == 0:
        stacker.coef = _start(stacker)
        return stacker, info
    starts = _group_starts(rows)
    gold_pos = np.flatnonzero(is_gold)
    res = minimize(_objective, _start(stacker), args=(x, starts, gold_pos, l2), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500})
    stacker.coef = np.asarray(res.x, dtype=np.float64)
    info["train_accuracy"] = round(float((stacker.predict(probs, rules, classes).argmax(1) == gold).mean()), 4)
    return stacker, info


def _start(stacker: Stacker) -> np.ndarray:
    """Start at the geometric mean of the members (weight 1/M on each log-probability)."""
    w = np.zeros(len(stacker.names))
    for i, name in enumerate(stacker.names):
        if name.endswith(".logp") and not name.startswith("rules."):
            w[i] = 1.0 / len(stacker.members)
    return w


def crossfit_stacker(probs: dict[str, np.ndarray], rules: np.ndarray, gold: np.ndarray, folds: np.ndarray,
                     **kw) -> np.ndarray:
    """The stacker's out-of-fold output: for each fold, fitted on the other folds' orders."""
    out = np.zeros(next(iter(probs.values())).shape)
    for f in np.unique(folds):
        held, fit_on = folds == f, folds != f
        if not fit_on.any():
            continue
        stacker, _ = fit_stacker({m: p[fit_on] for m, p in probs.items()}, rules[fit_on], gold[fit_on], **kw)
        out[held] = stacker.predict({m: p[held] for m, p in probs.items()}, rules[held], kw.get("classes"))
    return out


def fit_stacked_fusion(probs: dict[str, np.ndarray], rules: np.ndarray, gold: np.ndarray, folds: np.ndarray,
                       target_accuracy: float, classes: list[str] | None = None,
                       calibrate_on: np.ndarray | None = None, **kw) -> tuple[Stacker, dict]:
    """The shipped stacker (fitted on every order) and its fusion record: out-of-fold accuracy,
    calibration, threshold and coverage from the cross-fitted stacker (see the module docstring).
    Given ``classes``, the per-leaf reliability features are kept only when they raise the
    cross-fitted accuracy (then log-likelihood). ``calibrate_on``: the orders the calibration and
    threshold are fitted on (default all; ``dev_accuracy`` is theirs, ``oof_accuracy`` every order's)."""
    best = None
    for reliability in ((False, True) if classes is not None else (False,)):
        opts = {**kw, "classes": classes, "reliability": reliability}
        oof = crossfit_stacker(probs, rules, gold, folds, **opts)
        gold_p = oof[np.arange(len(gold)), gold] if len(gold) else np.zeros(0)
        key = (round(float((oof.argmax(1) == gold).mean()), 4), float(np.mean(np.log(np.clip(gold_p, 1e-9, None)))))
        if best is None or key > best[0]:
            best = (key, oof, opts)
    assert best is not None
    _, oof, opts = best
    stacker, info = fit_stacker(probs, rules, gold, **opts)
    correct = (oof.argmax(1) == gold).astype(float)
    on = np.ones(len(gold), dtype=bool) if calibrate_on is None else calibrate_on
    return stacker, {"fusion": "stacked", "rules_weight": 0.0, "dev_accuracy": round(float(correct[on].mean()), 4),
                     "oof_accuracy": round(float(correct.mean()), 4), "calibrated_on": int(on.sum()),
                     "candidate_recall": info["candidate_recall"], "reliability": opts["reliability"],
                     "coef": dict(zip(stacker.names, [round(float(c), 4) for c in stacker.coef])),
                     **fit_calibration(oof.max(1)[on], correct[on], target_accuracy)}
