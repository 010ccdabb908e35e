"""The stacked fusion: a candidate re-scorer over the members' leaf probabilities and the catalog rules.

``Stacker.predict(member_probs, rules) -> (n, k)`` takes each member's probabilities over the same
leaf columns (``{member: (n, k)}``, as ``ClassifierStage.aligned_probs`` gives them) and the rules'
distribution over those columns (``(n, k)``, zeros where the rules say nothing). For each order the
candidates are the union of every member's ``top_k`` leaves and the rules' ``rules_top`` leaves; each
candidate gets features (per member: its probability, log-probability, 1/(1+rank) and its top-1
margin when it is that member's top leaf; the rules' probability, log-probability and top-1 flag; the
share of members whose top leaf it is and whether all agree; with ``reliability``, per member how often
its top leaf was right when it was this leaf, on held-out orders, times its top-1 flag and its
probability: so a member that is right only on some leaves counts there) and the score
``features @ coef``; the scores are normalised over the candidates (a conditional logit), every
other leaf gets 0.

The coefficients are fitted by training on out-of-fold member probabilities
(``dispatch_nlp.training.stacking``) and stored as JSON next to the members (``stacker.json``): the
runtime needs numpy only. A member the stacker was fitted with must run; its columns must be aligned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dispatch_nlp.errors import ModelError

STACKER_FILE = "stacker.json"
LOG_FLOOR = 1e-6
RULES_LOG_FLOOR = 1e-4
CHUNK = 1024  # orders per feature block (bounds memory on large training sets)


def _top(p: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's ``k`` highest values (unordered), (n, min(k, columns))."""
    k = min(k, p.shape[1])
    if k == p.shape[1]:
        return np.broadcast_to(np.arange(k), (p.shape[0], k))
    return np.argpartition(-p, k - 1, axis=1)[:, :k]


def _rank_of(p: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Rank of column ``cols[i]`` within row ``rows[i]`` of ``p``: 0 for the highest, ties to the lower column."""
    pc = p[rows, cols][:, None]
    block = p[rows]
    lower = np.arange(p.shape[1])[None, :] < cols[:, None]
    return ((block > pc) | ((block == pc) & lower)).sum(axis=1)


def _margin(p: np.ndarray) -> np.ndarray:
    """Each row's highest value minus its second highest."""
    if p.shape[1] < 2:
        return p[:, 0]
    two = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return two[:, 1] - two[:, 0]


def feature_names(members: list[str], reliability: bool = False) -> list[str]:
    per_member = [f"{m}.{f}" for m in members for f in ("p", "logp", "rank_inv", "top_margin")]
    rel = [f"{m}.{f}" for m in members for f in ("top_reliability", "p_reliability")] if reliability else []
    return [*per_member, "rules.p", "rules.logp", "rules.top1", "agree.share", "agree.all", *rel]


@dataclass
class Stacker:
    """Coefficients of the candidate re-scorer (see the module docstring)."""

    members: list[str]
    coef: np.ndarray
    top_k: int = 5
    rules_top: int = 3
    # member -> {leaf: share of held-out orders right when the member's top leaf was it}, with "" the
    # member's accuracy (for leaves it never put first); None: no reliability features
    reliability: dict[str, dict[str, float]] | None = None
    # (member, columns) -> reliability per column: built once, not for every order
    _reliability_columns: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def names(self) -> list[str]:
        return feature_names(self.members, self.reliability is not None)

    def candidates(self, probs: dict[str, np.ndarray], rules: np.ndarray) -> np.ndarray:
        """Each order's candidate leaves, (n, k) booleans: every member's ``top_k`` and the rules' ``rules_top``
        (those with a score)."""
        self._check(probs)
        n = rules.shape[0]
        cand = np.zeros(rules.shape, dtype=bool)
        for m in self.members:
            cand[np.arange(n)[:, None], _top(probs[m], self.top_k)] = True
        top_rules = _top(rules, self.rules_top)
        cand[np.arange(n)[:, None], top_rules] |= np.take_along_axis(rules, top_rules, axis=1) > 0
        return cand

    def features(self, probs: dict[str, np.ndarray], rules: np.ndarray, classes: list[str] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidates' features: (row index, column index, features (n_candidates, d)), rows in order.
        ``classes``: the columns' leaves (the reliability features need them)."""
        rows, cols = np.nonzero(self.candidates(probs, rules))
        cols_f: list[np.ndarray] = []
        rel_f: list[np.ndarray] = []
        tops = np.zeros(len(rows))
        for m in self.members:
            p = probs[m]
            pc = p[rows, cols]
            r = _rank_of(p, rows, cols)
            is_top = (r == 0).astype(np.float64)
            tops += is_top
            cols_f += [pc, np.log(np.clip(pc, LOG_FLOOR, None)), 1.0 / (1.0 + r), _margin(p)[rows] * is_top]
            if self.reliability is not None:
                rel = self.reliability_of(m, classes, p.shape[1])[cols]
                rel_f += [rel * is_top, rel * pc]
        rc = rules[rows, cols]
        cols_f += [rc, np.log(np.clip(rc, RULES_LOG_FLOOR, None)),
                   ((_rank_of(rules, rows, cols) == 0) & (rc > 0)).astype(np.float64),
                   tops / len(self.members), (tops == len(self.members)).astype(np.float64), *rel_f]
        return rows, cols, np.stack(cols_f, axis=1)

    def reliability_of(self, member: str, classes: list[str] | None, k: int) -> np.ndarray:
        """The member's reliability per column (its accuracy where the table has no entry)."""
        table = (self.reliability or {}).get(member, {})
        default = float(table.get("", 0.0))
        if classes is None:
            if len(table) > 1:
                raise ModelError("the stacked fusion's reliability features need the leaves of the columns")
            return np.full(k, default)
        key = (member, tuple(classes))
        column = self._reliability_columns.get(key)
        if column is None:
            column = self._reliability_columns[key] = np.array([float(table.get(c, default)) for c in classes])
        return column

    def predict(self, probs: dict[str, np.ndarray], rules: np.ndarray | None = None,
                classes: list[str] | None = None) -> np.ndarray:
        """The re-scored distribution over the same columns (0 outside each order's candidates);
        ``classes``: the columns' leaves."""
        self._check(probs)
        n, k = next(iter(probs.values())).shape
        rules = np.zeros((n, k)) if rules is None else rules
        out = np.zeros((n, k))
        for lo in range(0, n, CHUNK):
            part = {m: probs[m][lo: lo + CHUNK] for m in self.members}
            rows, cols, x = self.features(part, rules[lo: lo + CHUNK], classes)
            s = x @ self.coef
            block = np.full((len(part[self.members[0]]), k), -np.inf)
            block[rows, cols] = s
            block -= block.max(axis=1, keepdims=True)
            e = np.exp(block)
            out[lo: lo + CHUNK] = e / e.sum(axis=1, keepdims=True)
        return out

    def _check(self, probs: dict[str, np.ndarray]) -> None:
        missing = [m for m in self.members if m not in probs]
        if missing:
            raise ModelError(f"the stacked fusion needs members {', '.join(missing)}, which did not run")

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {"format": 1, "members": self.members, "top_k": self.top_k, "rules_top": self.rules_top,
               "features": self.names, "coef": [round(float(c), 6) for c in self.coef]}
        if self.reliability is not None:
            out["reliability"] = {m: {c: round(v, 4) for c, v in t.items()} for m, t in self.reliability.items()}
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Stacker:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            stacker = cls(list(data["members"]), np.asarray(data["coef"], dtype=np.float64),
                          int(data.get("top_k", 5)), int(data.get("rules_top", 3)), data.get("reliability"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: not a readable stacker file ({type(exc).__name__})") from None
        if len(stacker.coef) != len(stacker.names):
            raise ModelError(f"{path}: {len(stacker.coef)} coefficients for {len(stacker.names)} features")
        return stacker
