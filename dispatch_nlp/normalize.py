"""Text normalization: the first stage every order goes through.

Takes raw order text and returns a ``Mapped`` text: the normalized string plus, for each of its
characters, the offset of the original character it came from, so later stages can point at evidence
in the text the intake system sent.

Steps, in order: Unicode NFKC (which also turns full-width ASCII into half-width), traditional →
simplified Chinese (OpenCC ``t2s``), removal of control and format characters, whitespace runs
collapsed (a run holding a line break becomes one line break), and optionally, for exported history,
cutting the appended handling trail ("工单流转：…", "经核实…", the handling unit's reply) that names
the unit which finally handled the order and would leak the answer into training.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

# Markers that open a handling trail in exported history. A marker only cuts when it opens a line or
# a sentence and sits after the citizen's own words (see ``cut_trail``).
TRAIL_MARKERS = (
    "工单流转", "流转记录", "处理过程", "处理情况", "办理情况", "办理结果", "处理结果", "承办单位",
    "承办意见", "答复内容", "回复内容", "单位回复", "部门回复", "退回：", "退回:", "退单：", "退单:",
    "回访情况", "回访结果", "经核实", "经查", "现答复如下", "派单意见", "转派：", "转派:",
)
_TRAIL_RE = re.compile("|".join(re.escape(m) for m in sorted(TRAIL_MARKERS, key=len, reverse=True)))
_BOUNDARY_BEFORE = set("\n。！？!?；;】]) 　") | {""}
_MIN_BODY_CHARS = 8  # a marker in the first few characters is the order itself, not a trail


@dataclass
class Mapped:
    """A string with, for each character, the index of the original character it came from."""

    text: str
    offsets: list[int]

    @classmethod
    def identity(cls, text: str) -> "Mapped":
        return cls(text, list(range(len(text))))

    def span_to_original(self, start: int, end: int, original_len: int) -> tuple[int, int]:
        """Map a half-open span of this text back to a half-open span of the original."""
        if start >= end or not self.offsets:
            pos = self.offsets[start] if start < len(self.offsets) else original_len
            return pos, pos
        return self.offsets[start], self.offsets[end - 1] + 1


_cc_lock = threading.Lock()
_cc = None


def _opencc():
    global _cc
    if _cc is None:
        with _cc_lock:
            if _cc is None:
                import opencc

                _cc = opencc.OpenCC("t2s")
    return _cc


def _nfkc(m: Mapped) -> Mapped:
    # Per grapheme-ish cluster (a starter and its combining marks) so offsets stay exact; a final
    # whole-string pass catches the rare compositions across clusters (Hangul jamo).
    out: list[str] = []
    offs: list[int] = []
    text = m.text
    i = 0
    n = len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j])
        out.append(piece)
        offs.extend([m.offsets[i]] * len(piece))
        i = j
    result = "".join(out)
    whole = unicodedata.normalize("NFKC", result)
    if whole != result:
        return _realign(whole, result, offs)
    return Mapped(result, offs)


def _realign(new: str, old: str, old_offsets: list[int]) -> Mapped:
    """Best-effort offsets for a string rewritten as a whole: proportional positions."""
    if not new:
        return Mapped("", [])
    if not old_offsets:
        return Mapped(new, [0] * len(new))
    scale = len(old_offsets) / len(new)
    return Mapped(new, [old_offsets[min(int(k * scale), len(old_offsets) - 1)] for k in range(len(new))])


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def _t2s(m: Mapped) -> Mapped:
    if not _has_cjk(m.text):
        return m
    converted = _opencc().convert(m.text)
    if len(converted) == len(m.text):
        return Mapped(converted, m.offsets)
    # A phrase rule changed the length: fall back to character by character, which keeps offsets.
    chars = [_opencc().convert(ch) for ch in m.text]
    out: list[str] = []
    offs: list[int] = []
    for ch, off in zip(chars, m.offsets):
        out.append(ch)
        offs.extend([off] * len(ch))
    return Mapped("".join(out), offs)


def _clean_controls_and_spaces(m: Mapped) -> Mapped:
    out: list[str] = []
    offs: list[int] = []
    pending_space: str | None = None
    pending_off = 0
    for ch, off in zip(m.text, m.offsets):
        if ch in "\r\n\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85":
            if pending_space != "\n":
                pending_off = off if pending_space is None else pending_off
            pending_space = "\n"
            continue
        cat = unicodedata.category(ch)
        if ch.isspace() or cat == "Zs":
            if pending_space is None:
                pending_space, pending_off = " ", off
            continue
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        if pending_space is not None:
            if out:  # no leading whitespace
                out.append(pending_space)
                offs.append(pending_off)
            pending_space = None
        out.append(ch)
        offs.append(off)
    return Mapped("".join(out), offs)


def cut_trail(m: Mapped) -> tuple[Mapped, bool]:
    """Cut an appended handling trail. Returns the kept text and whether anything was cut."""
    for match in _TRAIL_RE.finditer(m.text):
        start = match.start()
        if start < _MIN_BODY_CHARS:
            continue
        before = m.text[start - 1] if start > 0 else ""
        if before in _BOUNDARY_BEFORE:
            kept = m.text[:start].rstrip(" \n【[")
            return Mapped(kept, m.offsets[: len(kept)]), True
    return m, False


class Normalizer:
    """Normalize text, keeping the offset map. ``cut_trails`` is for history and training data; it is
    off on the routing hot path, where an order has no trail yet.

    ``__call__(text) -> (Mapped, flags)``; calling it on its own output changes nothing (idempotent).
    """

    def __init__(self, *, cut_trails: bool = False, t2s: bool = True):
        self.cut_trails = cut_trails
        self.t2s = t2s

    def __call__(self, text: str) -> tuple[Mapped, list[str]]:
        m = Mapped.identity(text)
        flags: list[str] = []
        # Two rounds reach a fixed point for the rare inputs where one step's output feeds another
        # (e.g. NFKC producing a character OpenCC rewrites); idempotence is tested with hypothesis.
        for _ in range(3):
            before = m.text
            m = _nfkc(m)
            if self.t2s:
                m = _t2s(m)
            m = _clean_controls_and_spaces(m)
            if m.text == before:
                break
        if self.cut_trails:
            m, cut = cut_trail(m)
            if cut:
                flags.append("trail_cut")
        return m, flags


def normalize_text(text: str, *, cut_trails: bool = False) -> str:
    """Convenience: the normalized string alone."""
    return Normalizer(cut_trails=cut_trails)(text)[0].text
