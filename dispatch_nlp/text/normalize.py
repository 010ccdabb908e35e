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


_nfkc_cache: dict[str, str] = {}


def _nfkc_char(ch: str) -> str:
    out = _nfkc_cache.get(ch)
    if out is None:
        out = _nfkc_cache[ch] = unicodedata.normalize("NFKC", ch)
    return out


def _nfkc(m: Mapped) -> Mapped:
    text = m.text
    if unicodedata.is_normalized("NFKC", text):
        return m
    pieces = list(map(_nfkc_char, text))
    result = "".join(pieces)
    if len(result) == len(text):
        offs = m.offsets
    else:
        offs = [off for piece, off in zip(pieces, m.offsets) for _ in piece]
    # Per character is exact for almost all text; composition across characters (a base and its
    # combining mark, Hangul jamo) needs the whole-string form, with best-effort offsets.
    if unicodedata.is_normalized("NFKC", result):
        return Mapped(result, offs)
    return _realign(unicodedata.normalize("NFKC", result), result, offs)


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


_WS_RUN = re.compile(r"\s+")
_LINE_BREAKS = set("\n\r\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85")


def _clean_controls_and_spaces(m: Mapped) -> Mapped:
    text, offs = m.text, m.offsets
    if not text.isprintable():
        # Control, format, surrogate and private-use characters go; whitespace is handled below.
        keep = [ch.isprintable() or ch.isspace() for ch in text]
        if not all(keep):
            text = "".join(ch for ch, k in zip(text, keep) if k)
            offs = [o for o, k in zip(offs, keep) if k]
    if " " not in text and not any(ch.isspace() for ch in text if ch != " " and not ch.isprintable()):
        return Mapped(text, offs)
    out: list[str] = []
    out_offs: list[int] = []
    pos = 0
    for run in _WS_RUN.finditer(text):
        s, e = run.span()
        out.append(text[pos:s])
        out_offs.extend(offs[pos:s])
        if s > 0 and e < len(text):  # no leading or trailing whitespace
            sep = "\n" if any(ch in _LINE_BREAKS for ch in run.group()) else " "
            out.append(sep)
            out_offs.append(offs[s])
        pos = e
    out.append(text[pos:])
    out_offs.extend(offs[pos:])
    return Mapped("".join(out), out_offs)


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


# Openings of a hotline platform's handling trail that ``trail_start`` finds besides ``TRAIL_MARKERS``:
# a rule of equals signs, the platform's note on the order, the centre's check with a district, a
# district's or street's reply ("某区回复：", "某街道回复：").
_TRAIL_EXTRA_RE = re.compile(r"={3,}|注[:：]此单为|经市中心|[\u4e00-\u9fff]{1,6}(?:区|街道|地区|镇|乡)回复[:：]")


def trail_start(text: str) -> int | None:
    """Where a handling trail appended after the citizen's words begins in ``text``, or None.

    A ``TRAIL_MARKERS`` marker counts where ``cut_trail`` would cut (after the first few characters, at
    the start of a line or sentence); the platform's own openings (``====``, "注：此单为…", "经市中心与
    某区核实", "某区回复：") count after the first few characters anywhere.  The jurisdiction stage
    uses it to decide from the complaint first and take trail places only as a weaker signal."""
    best: int | None = None
    for match in _TRAIL_RE.finditer(text):
        start = match.start()
        if start >= _MIN_BODY_CHARS and (text[start - 1] if start else "") in _BOUNDARY_BEFORE:
            best = start
            break
    for match in _TRAIL_EXTRA_RE.finditer(text):
        if match.start() >= _MIN_BODY_CHARS:
            if best is None or match.start() < best:
                best = match.start()
            break
    return best


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
