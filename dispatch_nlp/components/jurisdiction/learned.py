"""The learned jurisdiction member: place strings and a prior learned from labeled history.

History knows places no list has: residential compounds, roads, markets, local names.  Training
(``training/jurisdiction.py``) counts, for every character n-gram of 2 to 6 characters inside a run
of letters (never across punctuation or a masked placeholder), the districts and streets of the
orders it appears in, and keeps the n-grams whose label distribution is concentrated (a place
string) and seen often enough.  The label frequencies are the prior.

At run time the n-grams of an order are found with one automaton; the strongest non-overlapping
ones are kept (so a compound counts once, not once per substring) and combined naive-Bayes style
with smoothing toward the prior::

    log P(d | text) = log P(d) + Σ_g [log P(d | g) − log P(d)],  P(d | g) = (c(g,d) + α P(d)) / (n(g) + α)

The same for streets.  Everything lives in one ``.npz`` (numpy arrays only; loaded with
``allow_pickle=False``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import numpy as np

from dispatch_nlp.errors import ModelError

__all__ = ["LearnedJurisdiction", "LearnedEvidence", "gram_runs", "iter_grams", "FORMAT"]

FORMAT = 1
GRAM_MIN, GRAM_MAX = 2, 6
MAX_GRAMS_PER_ORDER = 6  # default of JurisdictionSettings.max_grams_per_order
INFORMATIVE_RATIO = 2.0  # default of JurisdictionSettings.informative_ratio
TOP_K_DISTRICTS, TOP_K_STREETS = 3, 4
# A run of letters: CJK, Latin letters, digits (digits are folded to 0 so house numbers do not matter).
_RUN = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]+")
_PLACEHOLDER = re.compile(r"<[\u4e00-\u9fa5]{2,5}>")


def gram_runs(text: str) -> list[tuple[int, str]]:
    """``(offset, run)`` of the letter runs of a text, placeholders removed, digits folded to 0."""
    text = _PLACEHOLDER.sub(lambda m: " " * len(m.group()), text)
    return [(m.start(), re.sub(r"[0-9]", "0", m.group()).lower()) for m in _RUN.finditer(text)]


def iter_grams(text: str, lo: int = GRAM_MIN, hi: int = GRAM_MAX):
    """Distinct n-grams of a text (for counting document frequencies in training)."""
    out = set()
    for _, run in gram_runs(text):
        n = len(run)
        for k in range(lo, min(hi, n) + 1):
            for i in range(n - k + 1):
                g = run[i: i + k]
                if not g.isdigit() and not g.isascii():
                    out.add(g)
    return out


@dataclass
class LearnedEvidence:
    district_logp: np.ndarray  # log-probabilities over ``districts``
    street_logp: np.ndarray  # log-probabilities over ``streets``
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # grams used, strongest first
    informative: bool = False  # at least one gram moved the posterior away from the prior


class LearnedJurisdiction:
    """Learned place strings → districts and streets, with smoothing toward the prior."""

    def __init__(self, *, grams, d_idx, d_cnt, d_tot, s_idx, s_cnt, s_tot, strength, s_strength, districts,
                 streets, d_prior, s_prior, alpha: float = 1.0, version: int = FORMAT,
                 max_grams_per_order: int = MAX_GRAMS_PER_ORDER, informative_ratio: float = INFORMATIVE_RATIO,
                 min_support: int = 1, stopwords: frozenset[str] = frozenset(),
                 fragment_min_support: int = 5, fragment_min_purity: float = 0.9):
        """The arrays are the file's (see :meth:`save`); ``max_grams_per_order``, ``informative_ratio``,
        ``min_support`` (training orders a string must have been seen in) and ``stopwords`` (strings
        never used as places) are run-time settings
        (:class:`~dispatch_nlp.components.jurisdiction.settings.JurisdictionSettings`)."""
        self.max_grams_per_order = int(max_grams_per_order)
        self.min_support = int(min_support)
        self.stopwords = frozenset(stopwords)
        # A string inside words at both ends (小庄科村 → 庄科) counts only when training saw it often
        # and nearly always in one district: an unsegmented village name, not a fragment (业基).
        tot = np.maximum(np.asarray(d_tot, dtype=np.float64), 1e-9)
        top = np.asarray(d_cnt, dtype=np.float64)[:, 0] if len(d_tot) else np.zeros(0)
        self.fragment_ok = (np.asarray(d_tot) >= fragment_min_support) & (top / tot >= fragment_min_purity)
        self.informative_ratio = float(informative_ratio)
        self.grams = [str(g) for g in grams]
        self.d_idx = np.asarray(d_idx, dtype=np.int32)
        self.d_cnt = np.asarray(d_cnt, dtype=np.float64)
        self.d_tot = np.asarray(d_tot, dtype=np.float64)
        self.s_idx = np.asarray(s_idx, dtype=np.int32)
        self.s_cnt = np.asarray(s_cnt, dtype=np.float64)
        self.s_tot = np.asarray(s_tot, dtype=np.float64)
        self.strength = np.asarray(strength, dtype=np.float64)  # as district evidence
        self.s_strength = np.asarray(s_strength, dtype=np.float64)  # as street evidence
        self.districts = [str(c) for c in districts]
        self.streets = [str(c) for c in streets]
        self.d_prior = np.asarray(d_prior, dtype=np.float64)
        self.s_prior = np.asarray(s_prior, dtype=np.float64)
        self.alpha = float(alpha)
        self.log_d_prior = np.log(self.d_prior)
        self.log_s_prior = np.log(self.s_prior)
        self.automaton = ahocorasick.Automaton()
        for i, g in enumerate(self.grams):
            # A place string is seen often enough in training and is not a stop word (direction,
            # ring road, generic noun); discriminativeness is already in its strength.
            if g in self.stopwords or self.d_tot[i] < self.min_support:
                continue
            self.automaton.add_word(g, i)
        if len(self.automaton):
            self.automaton.make_automaton()

    # -- persistence --------------------------------------------------------------------------
    def save(self, path) -> None:
        np.savez_compressed(
            path, format=np.array([FORMAT]), grams=np.array(self.grams, dtype=f"<U{GRAM_MAX}"),
            d_idx=self.d_idx.astype(np.int16), d_cnt=self.d_cnt.astype(np.float32), d_tot=self.d_tot.astype(np.float32),
            s_idx=self.s_idx.astype(np.int16), s_cnt=self.s_cnt.astype(np.float32), s_tot=self.s_tot.astype(np.float32),
            strength=self.strength.astype(np.float32), s_strength=self.s_strength.astype(np.float32), districts=np.array(self.districts),
            streets=np.array(self.streets), d_prior=self.d_prior, s_prior=self.s_prior,
            alpha=np.array([self.alpha]),
        )

    @classmethod
    def load(cls, path, **settings) -> "LearnedJurisdiction":
        """Read a file written by :meth:`save`; ``settings``: ``max_grams_per_order``, ``informative_ratio``."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt = int(z["format"][0])
                if fmt != FORMAT:
                    raise ModelError(f"{path}: learned jurisdiction format {fmt}; this library reads {FORMAT}")
                arrays = {k: z[k] for k in z.files if k != "format"}
        except ModelError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{path}: unreadable learned jurisdiction file ({exc.__class__.__name__}: {exc});"
                             " retrain the model") from None
        alpha = float(arrays.pop("alpha")[0])
        return cls(**arrays, alpha=alpha, **settings)

    # -- prediction ---------------------------------------------------------------------------
    def select(self, text: str, strength=None, tokens=None) -> list[tuple[int, int, int]]:
        """``(start, end, gram index)`` of the strongest non-overlapping grams in the text (strength:
        one per gram; the district strength by default).  With ``tokens`` (``(word, start, end)`` of
        the segmentation) a gram counts only where it starts or ends a word of it (天坛 of 天坛公园;
        no 业基 in 产业基地, no 望有关部门尽 in 希望有关部门尽快)."""
        if not len(self.automaton):
            return []
        strength = self.strength if strength is None else strength
        # A place-like span starts a word or ends one (天坛 of 天坛公园, 北里 of 定慧北里).
        word_end = {t[1]: t[2] for t in tokens} if tokens else None
        ends = {t[2] for t in tokens} if tokens else set()
        found = []
        for offset, run in gram_runs(text):
            for end_idx, gi in self.automaton.iter(run):
                g = self.grams[gi]
                s = offset + end_idx - len(g) + 1
                if word_end is not None and s not in word_end and s + len(g) not in ends \
                        and not self.fragment_ok[gi]:
                    continue  # inside words at both ends: a fragment (望有关部门尽, 业基)
                if strength[gi] > 0:
                    found.append((strength[gi], len(g), s, s + len(g), gi))
        found.sort(key=lambda f: (-f[0], -f[1], f[2]))
        taken: list[tuple[int, int, int]] = []
        for _, _, s, e, gi in found:
            if all(e <= ts or s >= te for ts, te, _ in taken):
                taken.append((s, e, gi))
                if len(taken) >= self.max_grams_per_order:
                    break
        return taken

    def _add(self, logp, log_prior, prior, idx, cnt, tot) -> None:
        a = self.alpha
        if tot <= 0:
            return
        # Labels outside the stored top-k: P(l|g) = a·P(l)/(tot+a) → adds log(a/(tot+a)) to all.
        logp += np.log(a / (tot + a))
        for j, c in zip(idx, cnt):
            if j < 0:
                continue
            p = (c + a * prior[j]) / (tot + a)
            logp[j] += np.log(p) - log_prior[j] - np.log(a / (tot + a))

    def predict(self, text: str, tokens=None) -> LearnedEvidence:
        """The posteriors for a text; ``tokens``: its segmentation (grams must then be whole words)."""
        d = self.log_d_prior.copy()
        s = self.log_s_prior.copy()
        # District and street evidence each from their own strongest grams: a gram pure for a
        # district ("朝阳") is not what decides the street ("东湖街道").
        taken_d = self.select(text, self.strength, tokens)
        taken_s = self.select(text, self.s_strength, tokens)
        for _, _, gi in taken_d:
            self._add(d, self.log_d_prior, self.d_prior, self.d_idx[gi], self.d_cnt[gi], self.d_tot[gi])
        for _, _, gi in taken_s:
            self._add(s, self.log_s_prior, self.s_prior, self.s_idx[gi], self.s_cnt[gi], self.s_tot[gi])
        d -= _logsumexp(d)
        s -= _logsumexp(s)
        informative = bool(taken_d) and float(d.max() - self.log_d_prior.max()) > np.log(self.informative_ratio)
        spans = [(st, en, self.grams[gi]) for st, en, gi in (taken_s or taken_d)]
        return LearnedEvidence(d, s, spans, informative)

    def __len__(self) -> int:
        return len(self.grams)


def _logsumexp(x: np.ndarray) -> float:
    m = float(x.max())
    return m + float(np.log(np.exp(x - m).sum()))
