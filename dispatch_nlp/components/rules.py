"""Catalog rules: keyword evidence for categories, emergency and exclusion markers, appeal-type cues.

``RulesStage(catalog)`` builds one Aho-Corasick automaton over every leaf's keywords and name and over
the emergency and exclusion markers. For a ``Doc`` it stores a ``RulesEvidence`` in ``doc.rules``: a score per catalog leaf (keywords shared by many leaves count less),
the matches that produced them (for the explanation), an emergency transfer if a marker fired, an
exclusion if one did, and appeal-type cue scores.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from dispatch_nlp.pipeline.component import BaseComponent
from dispatch_nlp.pipeline.doc import Doc

# Cues for the appeal type, checked in the order written; the first with hits wins ties.
APPEAL_CUES: dict[str, tuple[str, ...]] = {
    "举报": ("举报", "偷排", "非法", "违法经营", "无证经营", "偷税", "黑车", "私自", "违规"),
    "投诉": ("投诉", "不作为", "态度恶劣", "态度差", "扰民", "推诿", "拒不", "不给", "拖欠", "严重影响", "不满"),
    "咨询": ("咨询", "请问", "想了解", "如何办理", "怎么办理", "需要什么材料", "是否可以", "能否", "有没有政策", "流程"),
    "求助": ("求助", "帮忙", "帮助", "救助", "困难", "没有暖气", "停水", "停电", "被困", "请求"),
    "建议": ("建议", "希望增设", "提议", "能不能增加", "应该", "增设", "改进"),
    "表扬": ("表扬", "感谢", "锦旗", "点赞", "致谢", "非常满意"),
}

# Generic emergency markers that hold whatever the category (the catalog adds its own per item).
GENERIC_EMERGENCY: dict[str, tuple[str, ...]] = {
    "119": ("着火了", "起火了", "火灾", "浓烟滚滚", "煤气爆炸", "燃气爆炸"),
    "120": ("昏迷不醒", "心脏病发作", "大量出血", "没有呼吸", "晕倒在地"),
    "110": ("正在打人", "持刀", "抢劫", "绑架", "正在行凶", "入室盗窃"),
    "122": ("交通事故", "撞车了", "车祸", "被车撞"),
}


# The score of "none of the matched leaves": one rare keyword scores about 4-7, so it alone reaches
# roughly 0.9-0.99; a short common one stays well below.
NULL_SCORE = 2.0


@dataclass
class Match:
    phrase: str
    start: int
    end: int
    kind: str  # keyword | name | emergency | exclusion
    code: str | None = None


@dataclass
class RulesEvidence:
    scores: dict[str, float] = field(default_factory=dict)  # leaf code -> score
    matches: list[Match] = field(default_factory=list)
    emergency: tuple[str, Match] | None = None  # (number, match)
    exclusion: tuple[str, Match] | None = None  # (reason, match)
    appeal: dict[str, float] = field(default_factory=dict)

    def distribution(self, temperature: float = 1.0, null_score: float = NULL_SCORE) -> dict[str, float]:
        """Scores turned into probabilities over the matched leaves (softmax). A pseudo-leaf "none of
        these" with ``null_score`` takes its share, so one weak keyword is not a certainty; the
        returned values then sum to less than one."""
        if not self.scores:
            return {}
        top = max(max(self.scores.values()), null_score)
        exp = {c: math.exp((s - top) / temperature) for c, s in self.scores.items()}
        total = sum(exp.values()) + math.exp((null_score - top) / temperature)
        return {c: v / total for c, v in exp.items()}


def _aligned(tokens_bounds: tuple[set[int], set[int]], start: int, end: int, phrase: str) -> bool:
    """A phrase counts when it starts and ends on word boundaries; long phrases may cut a word."""
    starts, ends = tokens_bounds
    if len(phrase) >= 4:
        return True
    return start in starts and end in ends


class RulesStage(BaseComponent):
    name = "rules"

    def __init__(self, catalog):
        self.catalog = catalog
        entries: dict[str, list[tuple[str, str | None, str | None]]] = defaultdict(list)
        leaf_count: dict[str, set[str]] = defaultdict(set)
        for item in catalog.leaves():
            for kw in {*item.keywords, item.name}:
                kw = kw.strip()
                if len(kw) < 2:
                    continue
                entries[kw].append(("keyword" if kw != item.name else "name", item.code, None))
                leaf_count[kw].add(item.code)
            if item.emergency:
                number = str(item.emergency.get("transfer_to", ""))
                for marker in item.emergency.get("markers", ()):
                    entries[marker].append(("emergency", item.code, number))
            if item.exclusion:
                reason = item.exclusion.get("reason", "不属于受理范围")
                for marker in item.exclusion.get("markers", ()):
                    entries[marker].append(("exclusion", item.code, reason))
        for number, markers in GENERIC_EMERGENCY.items():
            for marker in markers:
                entries[marker].append(("emergency", None, number))
        for label, cues in APPEAL_CUES.items():
            for cue in cues:
                entries[cue].append(("appeal", None, label))
        # Rarer phrases are stronger evidence: idf over the leaves that list them.
        n_leaves = max(len(list(catalog.leaves())), 1)
        self.weight = {kw: math.log(1 + n_leaves / len(codes)) for kw, codes in leaf_count.items()}
        self.automaton = ahocorasick.Automaton()
        for phrase, payload in entries.items():
            self.automaton.add_word(phrase, (phrase, payload))
        self.automaton.make_automaton()

    def __call__(self, doc: Doc) -> Doc:
        ev = RulesEvidence()
        text = doc.text
        bounds = ({s for _, s, _ in doc.tokens}, {e for _, _, e in doc.tokens}) if doc.tokens else None
        seen: set[tuple[str, str | None]] = set()
        for end_idx, (phrase, payload) in self.automaton.iter(text):
            start, end = end_idx - len(phrase) + 1, end_idx + 1
            if bounds is not None and not _aligned(bounds, start, end, phrase):
                continue
            for kind, code, extra in payload:
                if kind in ("keyword", "name"):
                    if (phrase, code) in seen:
                        continue
                    seen.add((phrase, code))
                    bonus = 1.5 if kind == "name" else 1.0
                    ev.scores[code] = ev.scores.get(code, 0.0) + bonus * self.weight.get(phrase, 1.0) * min(len(phrase), 6) / 3
                    ev.matches.append(Match(phrase, start, end, kind, code))
                elif kind == "emergency" and ev.emergency is None:
                    ev.emergency = (extra, Match(phrase, start, end, kind, code))
                elif kind == "exclusion" and ev.exclusion is None:
                    ev.exclusion = (extra, Match(phrase, start, end, kind, code))
                elif kind == "appeal":
                    ev.appeal[extra] = ev.appeal.get(extra, 0.0) + 1.0
        doc.rules = ev
        return doc
