"""Catalog rules: keyword evidence for categories, emergency and exclusion markers, appeal-type intent.

``RulesStage(catalog)`` builds one Aho-Corasick automaton over every leaf's keywords and name and over
the emergency and exclusion markers. For a ``Doc`` it stores a ``RulesEvidence`` in ``doc.rules``: a score per catalog leaf (keywords shared by many leaves count less),
the matches that produced them (for the explanation), an emergency transfer if a marker fired, an
exclusion if one did, and appeal-type intent scores (``appeal_intent``: questions, requests for help,
complaints about conduct, reports of violations, proposals).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from dispatch_nlp.components.appeal_intent import appeal_intent
from dispatch_nlp.pipeline.component import BaseComponent
from dispatch_nlp.pipeline.doc import Doc

# Generic emergency markers that hold whatever the category (the catalog adds its own per item).
GENERIC_EMERGENCY: dict[str, tuple[str, ...]] = {
    "119": ("着火了", "起火了", "火灾", "浓烟滚滚", "煤气爆炸", "燃气爆炸"),
    "120": ("昏迷不醒", "心脏病发作", "大量出血", "没有呼吸", "晕倒在地"),
    "110": ("正在打人", "持刀", "抢劫", "绑架", "正在行凶", "入室盗窃"),
    "122": ("交通事故", "撞车了", "车祸", "被车撞"),
}

# Whether an emergency marker describes something happening now. A live cue in the marker's own clause
# wins; then a hypothetical cue in that clause (a risk, a precaution); then, in the marker's sentence, a
# cue of the past or of a recurring nuisance; then a live cue in the sentence. Nothing: "unclear".
LIVE_CUES: tuple[str, ...] = ("正在", "刚才", "刚刚", "现在", "此刻", "这会儿", "眼看着", "马上", "快来", "赶快",
                              "赶紧", "救命", "还在烧", "还没走", "当前")
HYPOTHETICAL_CUES: tuple[str, ...] = ("万一", "一旦", "如果", "假如", "防止", "预防", "防范", "隐患", "以免", "避免",
                                      "风险", "担心", "可能发生", "宣传", "演练")
# Words that also fit a live call ("火势持续", "至今没人来", "快过去看看") are left out: a missed
# emergency costs more than a false transfer.
PAST_CUES: tuple[str, ...] = ("去年", "前年", "年前", "曾经", "当时", "那年", "上个月", "上月", "上周", "前几天",
                              "之前", "以前", "已经扑灭", "已扑灭", "理赔", "赔偿", "责任认定", "事故认定", "判决")
CHRONIC_CUES: tuple[str, ...] = ("每天", "天天", "每晚", "经常", "长期", "总是", "常年", "时常", "多次反映",
                                 "好几个月")
_PAST_DATE = re.compile(r"(19|20)\d\d年|\d+年前")
_CLAUSE_END = "，,。！？!?；;\n"
_SENTENCE_END = "。！？!?；;\n"
ACTUALITIES = ("live", "hypothetical", "past", "chronic", "unclear")


def _scope(text: str, start: int, end: int, stops: str) -> str:
    left = max(text.rfind(c, 0, start) for c in stops) + 1
    rights = [i for i in (text.find(c, end) for c in stops) if i >= 0]
    return text[left:min(rights) if rights else len(text)]


def _cue(scope: str, cues: tuple[str, ...], date: bool = False) -> str | None:
    for cue in cues:
        if cue in scope:
            return cue
    if date:
        m = _PAST_DATE.search(scope)
        return m.group(0) if m else None
    return None


def emergency_actuality(text: str, start: int, end: int) -> tuple[str, str | None]:
    """Whether the emergency marker at ``text[start:end]`` is happening now: (``live`` | ``hypothetical``
    | ``past`` | ``chronic`` | ``unclear``, the cue that said so)."""
    clause = _scope(text, start, end, _CLAUSE_END)
    sentence = _scope(text, start, end, _SENTENCE_END)
    for kind, scope, cues, date in (("live", clause, LIVE_CUES, False), ("hypothetical", clause, HYPOTHETICAL_CUES, False),
                                    ("past", sentence, PAST_CUES, True), ("chronic", sentence, CHRONIC_CUES, False),
                                    ("hypothetical", sentence, HYPOTHETICAL_CUES, False),
                                    ("live", sentence, LIVE_CUES, False)):
        cue = _cue(scope, cues, date)
        if cue is not None:
            return kind, cue
    return "unclear", None


def text_actuality(text: str) -> tuple[str, str | None]:
    """The same reading for a whole order (an emergency category without a marker): a live cue anywhere
    wins, then the first past, recurring or hypothetical cue."""
    for kind, cues, date in (("live", LIVE_CUES, False), ("past", PAST_CUES, True), ("chronic", CHRONIC_CUES, False),
                             ("hypothetical", HYPOTHETICAL_CUES, False)):
        cue = _cue(text, cues, date)
        if cue is not None:
            return kind, cue
    return "unclear", None


PARTICLES = ("了", "啦")  # may follow an emergency marker inside one segmenter word


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
    actuality: str | None = None  # emergency markers: one of ACTUALITIES
    cue: str | None = None  # ... and the cue that decided it


@dataclass
class RulesEvidence:
    scores: dict[str, float] = field(default_factory=dict)  # leaf code -> score
    matches: list[Match] = field(default_factory=list)
    emergency: tuple[str, Match] | None = None  # (number, match): the first live marker, else the first
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
            aligned = bounds is None or _aligned(bounds, start, end, phrase)
            # An emergency marker may end inside a word only before an aspect particle ("烧起来了").
            particle = not aligned and bounds is not None and start in bounds[0] \
                and text[end:end + 1] in PARTICLES and end + 1 in bounds[1]
            if not aligned and not particle:
                continue
            for kind, code, extra in payload:
                if particle and kind != "emergency":
                    continue
                if kind in ("keyword", "name"):
                    if (phrase, code) in seen:
                        continue
                    seen.add((phrase, code))
                    bonus = 1.5 if kind == "name" else 1.0
                    ev.scores[code] = ev.scores.get(code, 0.0) + bonus * self.weight.get(phrase, 1.0) * min(len(phrase), 6) / 3
                    ev.matches.append(Match(phrase, start, end, kind, code))
                elif kind == "emergency" and (ev.emergency is None or ev.emergency[1].actuality != "live"):
                    actuality, cue = emergency_actuality(text, start, end)
                    if ev.emergency is None or actuality == "live":
                        ev.emergency = (extra, Match(phrase, start, end, kind, code, actuality, cue))
                elif kind == "exclusion" and ev.exclusion is None:
                    ev.exclusion = (extra, Match(phrase, start, end, kind, code))
        ev.appeal = appeal_intent(text)  # what the caller asks for (components/appeal_intent.py)
        doc.rules = ev
        return doc
