"""Jurisdiction from the gazetteer: where is the problem?

``GazetteerJurisdiction(gazetteer)`` finds place mentions with one Aho-Corasick automaton over every
division name, short name, alias and user place, keeps those that sit on word boundaries, weighs
each by its role (a caller's home "我住在A" counts less than the problem place), and resolves them to
the finest division that the mentions agree on. It stores a ``JurisdictionEvidence`` under
``doc.evidence["jurisdiction"]``; the fusion step turns it into the decision's jurisdiction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from .pipeline import BaseComponent, Doc

LEVEL_RANK = {"district": 1, "street": 2, "community": 3}
CALLER_CUES = ("我住在", "家住", "住在", "居住在", "户籍在", "户籍地", "我家在", "本人住", "现住", "住址", "家庭住址")
PROBLEM_CUES = ("反映", "位于", "路口", "附近", "门口", "对面", "发生在", "地点", "位置在")
CALLER_WEIGHT = 0.35
# Short names this short are also ordinary words ("光明", "和平"): they count only beside a parent.
MIN_FREE_SHORT_LEN = 3


@dataclass
class Mention:
    surface: str
    start: int
    end: int
    codes: tuple[str, ...]
    kind: str  # name | short | alias | place
    role: str = "problem"  # problem | caller

    @property
    def weight(self) -> float:
        base = CALLER_WEIGHT if self.role == "caller" else 1.0
        return base * (1.0 if self.kind in ("name", "place", "alias") else 0.8)


@dataclass
class JurisdictionEvidence:
    code: str | None = None  # the finest division agreed on
    confidence: float = 0.0
    mention: Mention | None = None  # the mention that decided it
    ambiguous: tuple[str, ...] = ()  # codes a shared name could mean, when nothing decided among them
    candidates: list[tuple[str, float, Mention | None]] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    method: str = "gazetteer"


class GazetteerJurisdiction(BaseComponent):
    name = "jurisdiction"

    def __init__(self, gazetteer):
        self.gazetteer = gazetteer
        by_surface: dict[str, dict[str, str]] = defaultdict(dict)
        for surface, code, kind in gazetteer.surfaces():
            if len(surface) < 2:
                continue
            by_surface[surface].setdefault(code, kind)
        self.automaton = ahocorasick.Automaton()
        for surface, codes in by_surface.items():
            kinds = set(codes.values())
            kind = next(k for k in ("name", "place", "alias", "short") if k in kinds or k == "short")
            self.automaton.add_word(surface, (surface, tuple(sorted(codes)), kind))
        self.automaton.make_automaton()

    # -- mentions -----------------------------------------------------------------------------
    def find_mentions(self, text: str, tokens: list[tuple[str, int, int]]) -> list[Mention]:
        starts = {s for _, s, _ in tokens}
        ends = {e for _, _, e in tokens}
        raw: list[Mention] = []
        for end_idx, (surface, codes, kind) in self.automaton.iter(text):
            start, end = end_idx - len(surface) + 1, end_idx + 1
            if tokens and len(surface) <= 3 and not (start in starts and end in ends):
                continue
            raw.append(Mention(surface, start, end, codes, kind))
        # Leftmost-longest: a mention inside a longer one is dropped ("朝阳" in "朝阳区").
        raw.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[Mention] = []
        for m in raw:
            if kept and m.start < kept[-1].end:
                continue
            kept.append(m)
        for m in kept:
            window = text[max(0, m.start - 8): m.start]
            if any(cue in window for cue in CALLER_CUES) and not any(cue in window for cue in PROBLEM_CUES):
                m.role = "caller"
        return kept

    # -- resolution ---------------------------------------------------------------------------
    def _chain(self, code: str) -> tuple[str, ...]:
        return tuple(d.code for d in self.gazetteer.ancestors(code)) + (code,)

    def resolve(self, mentions: list[Mention]) -> JurisdictionEvidence:
        ev = JurisdictionEvidence(mentions=mentions)
        if not mentions:
            return ev
        support: dict[str, float] = defaultdict(float)
        best_mention: dict[str, Mention] = {}
        for code in {c for m in mentions for c in m.codes}:
            chain = set(self._chain(code))
            for m in mentions:
                # The mention supports ``code`` if one of its readings is ``code`` or an ancestor of it.
                if any(c in chain for c in m.codes):
                    support[code] += m.weight / (1 if code in m.codes else 2)
                    if code in m.codes:
                        best_mention[code] = m
        # Short names that stand alone (no agreeing parent) are weak.
        for code in list(support):
            m = best_mention.get(code)
            if m is not None and m.kind == "short" and len(m.surface) < MIN_FREE_SHORT_LEN and support[code] <= m.weight:
                support[code] *= 0.3
        total = sum(m.weight for m in mentions)
        ranked = sorted(support.items(), key=lambda kv: (-kv[1], -LEVEL_RANK.get(self._level(kv[0]), 0), kv[0]))
        ev.candidates = [(c, s / total, best_mention.get(c)) for c, s in ranked[:5]]
        top_code, top_score = ranked[0]
        ties = [c for c, s in ranked if abs(s - top_score) < 1e-9 and self._level(c) == self._level(top_code)]
        ev.mention = best_mention.get(top_code)
        if len(ties) > 1:
            # A shared name nothing decides: keep what the readings agree on, report the rest.
            ev.ambiguous = tuple(sorted(ties))
            common = set(self._chain(ties[0]))
            for c in ties[1:]:
                common &= set(self._chain(c))
            ev.code = max(common, key=lambda c: LEVEL_RANK.get(self._level(c), 0)) if common else None
            ev.confidence = 0.3 * top_score / total
        else:
            ev.code = top_code
            ev.confidence = min(1.0, top_score / total) * (0.9 if self._level(top_code) != "district" else 0.8)
        return ev

    def _level(self, code: str) -> str:
        div = self.gazetteer.get(code)
        return div.level if div is not None else "district"

    def __call__(self, doc: Doc) -> Doc:
        mentions = self.find_mentions(doc.text, doc.tokens)
        ev = self.resolve(mentions)
        if ev.code is None and doc.order.caller_location:
            caller_mentions = self.find_mentions(doc.order.caller_location, [])
            for m in caller_mentions:
                m.role = "caller"
            ev = self.resolve(caller_mentions)
            ev.method = "caller"
            ev.mention = None
            ev.confidence *= 0.5
        doc.evidence["jurisdiction"] = ev
        return doc


def build_jurisdiction_stage(gazetteer, model_dir, config: dict | None = None):
    """The jurisdiction stage a model directory asks for (``config`` is its ``jurisdiction`` section)."""
    return GazetteerJurisdiction(gazetteer)
