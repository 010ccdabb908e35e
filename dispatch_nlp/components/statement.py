"""The statement stage: the sentences of an order that state its problem.

Long online letters open with greetings, history and emotions; operator summaries close with
"来电反映XX问题" and a demand; channel headers ("工单来源：微信服务号 市民原文：") and handling trails
("注：请及时向来电人反馈办理情况") say nothing about the problem. ``StatementStage`` reads ``doc.text``
(normalized, masked) and fills ``doc.statement``: the title line and the best-scoring sentences, in
their order in the text, at most ``max_chars`` characters. Members whose classifier section says
``"input": "statement"`` (or ``"fields"``) read it.

The scoring is general, not fitted to any order: cue lexicons (summary clause, demand, question,
problem words; greeting, channel header, trail, history, emotion, self-introduction), the position
in the text and the length. ``problem_statement(text)`` is a pure function of the text, so training
computes exactly what the stage computes at run time. A short first line followed by a line break is
read as the title (``Doc.from_order`` puts the title there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from dispatch_nlp.pipeline.component import BaseComponent
from dispatch_nlp.pipeline.doc import Doc

__all__ = ["OrderFields", "Sentence", "StatementStage", "split_sentences", "score_sentences", "problem_statement"]

MAX_CHARS = 160  # the statement's length cap (a title and two or three sentences)
TITLE_MAX = 40  # a first line longer than this is body text, not a title
KEEP_SCORE = 1.0  # sentences scoring at least this join the statement
OPENING_SCORE = 0.4  # the body's first sentence joins unless a cue made it score lower
MAX_SENTENCES = 3  # body sentences kept at most (besides the title)

_END = "。！？!?；;\n"
_SENTENCE = re.compile(rf"[^{_END}]*(?:[{_END}]+|$)")

# Prefixes that only say where the order came from or how the letter opens: removed before scoring.
_HEADERS = re.compile(
    r"^(?:此单为[^。]{0,20}?工单[。，]?|同热线-[\d-]+[,，:：]?\s*|工单来源[:：][^\s：:]{0,12}\s*|(?:来源|渠道)[:：][^\s：:]{0,12}\s*"
    r"|[^\s，,。：:]{1,10}(?:留言|来信|原文)(?:[（(][^）)]{0,10}[）)])?[:：]?\s*|市民原文[:：]\s*"
    r"|(?:留言)?(?:标题|内容|正文|原文)[:：]\s*"
    r"|尊敬的[^\s，,。：:！!]{0,12}[:：，,！!]?\s*|(?:您好|你好)[！!，,。]?\s*)+"
)

_SUMMARY_END = re.compile(r"(?:反映|投诉|举报|咨询|求助|建议)[^，。；;]{1,24}(?:问题|情况|事宜|一事|的事)[。！!]?\s*$")
_CUES: list[tuple[float, re.Pattern[str]]] = [
    # the problem named or announced
    (1.5, re.compile(r"反映|投诉|举报|咨询|求助|诉求内容|反映内容|问题描述|来电诉求|市民诉求|诉求目的")),
    (0.8, re.compile(r"问题|情况|隐患|故障|纠纷")),
    # what the caller wants or asks
    (1.0, re.compile(r"要求|希望|请求|恳请|望|建议|盼|能否|能不能|可否|是否|怎么办|如何|为什么|为何|什么时候|多久|哪里|吗[？?]?|[？?]")),
    # everyday words for something wrong
    (0.6, re.compile(r"不[能给让管了通到够会行亮好]|没[有人法]|无法|未[能经]|拖欠|违[规法章建]|乱|堵|噪|吵|漏|臭|坏|损|占|扰民|停[水电气暖]|收费|欠")),
    # greetings, thanks, courtesy
    (-3.0, re.compile(r"^(?:尊敬|您好|你好)|谢谢|感谢|辛苦|此致|敬礼|致敬|万分感激")),
    # handling trails, references and contact details
    (-4.0, re.compile(r"^注[:：]|请?及时[^，。]{0,6}(?:反馈|回复|处理)|办理情况|回访|工单编号|关联工单|"
                      r"来电人?要求回电|原工单|工单号")),
    # a demand with no content of its own ("希望得到答复")
    (-1.2, re.compile(r"^[^,，]{0,6}(?:希望|要求|请|盼)[^,，]{0,4}(?:得到)?(?:答复|回复|处理|解决|核实|协调|帮助)[^,，]{0,4}$")),
    # history of the matter and the caller's feelings
    (-0.8, re.compile(r"之前|以前|曾经|多次|去年|前年|上次|此前|早在|反复|已经[向找打]|打过|找过")),
    (-0.8, re.compile(r"气愤|愤怒|无奈|寒心|失望|忍无可忍|崩溃|苦不堪言|焦急|心急|实在|太[过差难]了|[!！]{2,}")),
    # where, not what
    (-1.5, re.compile(r"^(?:诉求地址|事发地点|问题地址|事发地址|地址|位置)[:：]")),
    # who the caller is
    (-0.6, re.compile(r"^(?:我|本人|来电人|市民)(?:是|系|为|今年|家住|住在)|^(?:我|本人)在[^,，。]{0,12}(?:住|工作|上班)"
                      r"|[住干待]了[^,，。]{0,4}年")),
]
_FIELD = re.compile(r"^[^:：，,。]{1,6}[:：]")  # "问题地址：…": a field of a record, not a title
_CONTACT = re.compile(r"联系电话|联系方式|<手机号>|<电话>|<身份证号>|<银行卡号>|<邮箱>")


class OrderFields(NamedTuple):
    """What a member whose input is ``fields`` reads for one order: the text (``doc.text``) and its
    problem statement (``doc.statement``; ``None`` when no statement stage ran: the member computes
    ``problem_statement(text)`` itself)."""

    text: str
    statement: str | None = None


@dataclass(frozen=True)
class Sentence:
    """One sentence of the text: its span, its text without headers, and its score."""

    start: int
    end: int
    text: str
    score: float = 0.0
    title: bool = False


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` (split after 。！？；, line breaks), channel headers and greetings
    removed from their start; sentences left empty are dropped. The first is marked ``title`` when
    it is a short line followed by a line break."""
    out: list[Sentence] = []
    first_line = title_of(text)
    for m in _SENTENCE.finditer(text):
        raw = m.group()
        if not raw.strip():
            continue
        body = _HEADERS.sub("", raw.strip(), count=1).strip()
        if not body.strip(_END + " ，,：:"):
            continue
        title = not out and bool(first_line) and m.start() == 0 and raw.endswith("\n")
        if out and out[0].title and body.rstrip(_END) == out[0].text.rstrip(_END):
            continue  # the title repeated in the body ("留言标题：…")
        out.append(Sentence(m.start(), m.end(), body, title=title))
    return out


def _score(sentence: Sentence, position: int, count: int) -> float:
    t = sentence.text
    score = 0.0
    if _SUMMARY_END.search(t):
        score += 2.5
    for weight, pattern in _CUES:
        if pattern.search(t):
            score += weight
    core = len(t.strip(_END + " ，,：:"))
    if _CONTACT.search(t) and core < 30:
        score -= 2.0  # a line of contact details
    if core < 6:
        score -= 1.5
    elif core > 90:
        score -= 0.5
    if sentence.title:
        score += 2.5
    elif position == 0:
        score += 0.4  # the opening sentence of the body usually sets out the situation
    if position == count - 1 and count > 2:
        score += 0.3  # operator summaries close on the problem
    return score


def score_sentences(text: str) -> list[Sentence]:
    """``split_sentences(text)`` with each sentence's problem-statement score."""
    sentences = split_sentences(text)
    body = [s for s in sentences if not s.title]
    out = []
    for s in sentences:
        pos = body.index(s) if not s.title else -1
        out.append(Sentence(s.start, s.end, s.text, _score(s, pos, len(body)), s.title))
    return out


def title_of(text: str) -> str:
    """The title line of ``text`` (a short first line followed by a line break), "" when none."""
    if "\n" not in text:
        return ""
    first = text.split("\n", 1)[0].strip()
    return first if 0 < len(first) <= TITLE_MAX and not _FIELD.match(first) else ""


def problem_statement(text: str, max_chars: int = MAX_CHARS) -> str:
    """The title line and the body sentences that best state the problem, in text order, at most
    ``max_chars`` characters; the best sentence alone when none reaches ``KEEP_SCORE``; "" for a
    text without sentences."""
    sentences = score_sentences(text)
    if not sentences:
        return ""
    title = [s for s in sentences if s.title and s.score > 0]
    body = sorted((s for s in sentences if not s.title), key=lambda s: -s.score)
    picked = [s for s in body if s.score >= KEEP_SCORE][:MAX_SENTENCES] or body[:1]
    opening = next((s for s in sentences if not s.title), None)
    if opening is not None and opening not in picked and opening.score >= OPENING_SCORE:
        picked.append(opening)  # the body's first sentence sets out the situation unless a cue says otherwise
    kept: list[Sentence] = []
    used = 0
    for s in [*title, *sorted(picked, key=lambda s: -s.score)]:
        if kept and used + len(s.text) > max_chars:
            continue
        kept.append(s)
        used += len(s.text)
    kept.sort(key=lambda s: s.start)
    return "".join(s.text if s.text[-1] in _END else s.text + "。" for s in kept)[:max_chars]


class StatementStage(BaseComponent):
    """Fills ``doc.statement`` with ``problem_statement(doc.text)`` (``None`` for an empty text)."""

    name = "statement"

    def __init__(self, *, max_chars: int = MAX_CHARS):
        self.max_chars = max_chars

    def __call__(self, doc: Doc) -> Doc:
        if "empty_text" in doc.flags:
            return doc
        doc.statement = problem_statement(doc.text, self.max_chars) or None
        return doc
