"""Cross-fitting: out-of-fold member probabilities over every labeled order, and members refit on all.

``assign_folds(labels, k, seed)`` deals each class's orders round-robin over ``k`` folds (every fold
sees every class that has ``k`` orders). ``fold_count(n, requested)`` is ``requested`` on enough data
and fewer folds on small data. ``crossfit_linear(texts, heads, folds, fit)`` fits the linear member
once on every order (choosing its regularisation there, ``training.linear.select_c``) and once per
fold on the other folds, and returns the shipped member (its softmax temperature the median of the
folds', each fitted on its held-out fold) with each head's out-of-fold probabilities.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MIN_ORDERS_PER_FOLD = 40


def fold_count(n: int, requested: int) -> int:
    """``requested`` folds, fewer when a fold would hold under ``MIN_ORDERS_PER_FOLD`` orders (at least 2)."""
    return max(2, min(requested, n // MIN_ORDERS_PER_FOLD))


def assign_folds(labels: list[str], k: int, seed: int = 13) -> np.ndarray:
    """A fold (0..k-1) per order: each class's orders, shuffled, dealt round-robin from a random start."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    folds = np.zeros(len(labels), dtype=np.int32)
    for label in sorted(by_class):
        idx = np.array(by_class[label])
        rng.shuffle(idx)
        start = int(rng.integers(k))
        folds[idx] = (start + np.arange(len(idx))) % k
    return folds


def assign_folds_keeping_dev(labels: list[str], is_dev: np.ndarray, k: int, seed: int = 13) -> np.ndarray:
    """Fold 0 is the dev split; the other orders are dealt over folds 1..k-1 (``assign_folds``). For
    a split by time or by a split column, whose dev orders are later or differently written than the
    training ones: the dev orders' out-of-fold probabilities then come from members that saw none of
    them, as new orders will, and the calibration and threshold are fitted on those."""
    folds = np.zeros(len(labels), dtype=np.int32)
    train = np.flatnonzero(~is_dev)
    folds[train] = 1 + assign_folds([labels[i] for i in train], k - 1, seed)
    return folds


@dataclass
class OutOfFold:
    """A head's out-of-fold probabilities: ``probs[i]`` over ``classes`` from the member not fitted on order i."""

    classes: list[str]
    probs: np.ndarray


def aligned(member, head: str, texts: list[str], classes: list[str]) -> np.ndarray:
    """``member``'s probabilities of ``head`` over ``classes`` (0 for a class it does not know)."""
    own = member.predict_proba(texts, [head])[head]
    index = {c: j for j, c in enumerate(classes)}
    out = np.zeros((len(texts), len(classes)))
    out[:, [index[c] for c in member.classes(head)]] = own
    return out


def crossfit_linear(texts: list[str], heads: dict[str, list[str]], folds: np.ndarray,
                    fit: Callable[..., object], c_candidates: tuple[float, ...]) -> tuple[object, dict[str, OutOfFold], dict]:
    """The linear member fitted on every order and each head's out-of-fold probabilities; ``fit`` is
    ``fit_linear``-like ``(train_texts, train_labels, dev_texts, dev_labels, C=...)``. Returns
    (member, {head: OutOfFold}, {"C": {head: c}, "fold_temperatures": ..., "seconds": ...})."""
    t0 = time.perf_counter()
    member = fit(texts, heads, [], {}, C=c_candidates[0] if len(c_candidates) == 1 else c_candidates)
    chosen = {h: float(member.heads[h].get("C", c_candidates[0])) for h in member.heads}  # type: ignore[attr-defined]
    refit_s = time.perf_counter() - t0
    oof = {h: OutOfFold(sorted(set(labels)), np.zeros((len(texts), len(set(labels)))))
           for h, labels in heads.items() if h in member.heads}  # type: ignore[attr-defined]
    temps: dict[str, list[float]] = {h: [] for h in oof}
    for f in np.unique(folds):
        held = np.flatnonzero(folds == f)
        rest = np.flatnonzero(folds != f)
        fold_member = None
        for c in sorted(set(chosen.values())):  # one fit per distinct C (usually one)
            part_heads = {h: [heads[h][i] for i in rest] for h in oof if chosen[h] == c}
            fm = fit([texts[i] for i in rest], part_heads, [texts[i] for i in held],
                     {h: [heads[h][i] for i in held] for h in part_heads}, C=c)
            for h in part_heads:
                if h in fm.heads:  # type: ignore[attr-defined]
                    oof[h].probs[held] = aligned(fm, h, [texts[i] for i in held], oof[h].classes)
                    temps[h].append(float(fm.heads[h]["temperature"]))  # type: ignore[attr-defined]
            fold_member = fm
        log.info("fold %d of %d fitted (%s)", int(f) + 1, len(np.unique(folds)), type(fold_member).__name__)
    for h, ts in temps.items():
        if ts:
            member.heads[h]["temperature"] = float(np.median(ts))  # type: ignore[attr-defined]
    info = {"C": chosen, "fold_temperatures": {h: [round(t, 4) for t in ts] for h, ts in temps.items()},
            "refit_s": round(refit_s, 1), "seconds": round(time.perf_counter() - t0, 1)}
    return member, oof, info
