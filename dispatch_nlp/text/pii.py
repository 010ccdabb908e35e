"""Personal-data masking: phones, ID-card numbers, bank cards, e-mail addresses, licence plates and
names given after a label ("联系人：张三").

``PiiMasker()(mapped) -> (Mapped, spans)`` replaces each piece of personal data by a placeholder such
as ``<手机号>`` and keeps the offset map, so a masked text still points at the original characters.
``mask_text(str) -> str`` is the plain form used by logging. The model never needs the data itself:
training and inference both see the placeholders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dispatch_nlp.text.normalize import Mapped

PLACEHOLDERS = {
    "mobile": "<手机号>",
    "landline": "<电话>",
    "id_number": "<身份证号>",
    "bank_card": "<银行卡号>",
    "email": "<邮箱>",
    "plate": "<车牌号>",
    "name": "<姓名>",
}

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Order matters: longer and more specific patterns first; a later pattern never overlaps an earlier hit.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")),
    # 18-digit ID numbers (checksum checked below); 15-digit old-style IDs with a valid date.
    ("id_number", re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")),
    ("bank_card", re.compile(r"(?<![0-9])(?:\d{4}[ \-]?){3,4}\d{1,4}(?![0-9])")),
    ("mobile", re.compile(r"(?<![0-9])(?:\+?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?![0-9])")),
    ("landline", re.compile(r"(?<![0-9])(?:\(?0\d{2,3}\)?[ \-]?)\d{7,8}(?:[ \-]?转\d{1,5})?(?![0-9])")),
    # A bare 7- or 8-digit number only where the words say it is a phone number.
    ("landline", re.compile(r"(?:电话|座机|号码|联系方式|致电|拨打|来电号码)[是为:：\s]{0,3}(\d{7,8})(?![0-9])")),
    ("plate", re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][ ·•\.\-]?[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]{{1,2}}(?![A-Za-z0-9])")),
    ("name", re.compile(r"(?:姓名|联系人|来电人姓名|当事人|户主|我叫|本人叫|名字叫|名叫)[是为:：\s]{0,3}([\u4e00-\u9fa5]{2,3})(?=[，,。；;、\s（(]|$|先生|女士|电话|手机|联系)")),
]


_DIGIT_RUN = re.compile(r"\d[\d \-]{5,}\d")
_DIGIT_KINDS = {"id_number", "bank_card", "mobile", "landline"}


def id_checksum_ok(number: str) -> bool:
    """The GB 11643 check digit of an 18-character ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class PiiSpan:
    """One masked piece: its kind and where it was in the original text (never its content)."""

    kind: str
    start: int  # in the original text
    end: int
    masked_start: int  # in the masked text
    masked_end: int


def _accept(kind: str, value: str) -> bool:
    if kind == "id_number":
        return id_checksum_ok(value)
    if kind == "bank_card":
        digits = re.sub(r"\D", "", value)
        if not 16 <= len(digits) <= 19:
            return False
        # 18 digits that pass the ID checksum were taken as ID numbers already; a phone is not a card.
        return luhn_ok(digits)
    return True


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """All non-overlapping personal-data hits as (kind, start, end), sorted by start."""
    taken: list[tuple[str, int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= ts or s >= te for _, ts, te in taken)

    has_digits = _DIGIT_RUN.search(text) is not None
    has_at = "@" in text
    for kind, pattern in _PATTERNS:
        # Cheap gates: most orders hold no long number and no e-mail address.
        if (kind in _DIGIT_KINDS and not has_digits) or (kind == "email" and not has_at):
            continue
        for m in pattern.finditer(text):
            group = 1 if pattern.groups else 0
            s, e = m.span(group)
            if s < e and free(s, e) and _accept(kind, m.group(group)):
                taken.append((kind, s, e))
    taken.sort(key=lambda t: t[1])
    return taken


class PiiMasker:
    """Replace personal data by placeholders. ``__call__(Mapped) -> (Mapped, list[PiiSpan])``."""

    def __call__(self, m: Mapped) -> tuple[Mapped, list[PiiSpan]]:
        hits = find_pii(m.text)
        if not hits:
            return m, []
        out: list[str] = []
        offs: list[int] = []
        spans: list[PiiSpan] = []
        pos = 0
        for kind, s, e in hits:
            out.append(m.text[pos:s])
            offs.extend(m.offsets[pos:s])
            placeholder = PLACEHOLDERS[kind]
            mstart = len(offs)
            out.append(placeholder)
            # Every placeholder character points at the start of the masked original piece.
            offs.extend([m.offsets[s]] * len(placeholder))
            spans.append(PiiSpan(kind, m.offsets[s], m.offsets[e - 1] + 1, mstart, mstart + len(placeholder)))
            pos = e
        out.append(m.text[pos:])
        offs.extend(m.offsets[pos:])
        return Mapped("".join(out), offs), spans


_masker = PiiMasker()


_LONG_DIGITS = re.compile(r"\d[\d \-]{9,}\d")


def mask_text(text: str, *, strict: bool = True) -> str:
    """Mask personal data in a plain string (for logs and error messages). ``strict`` also hides any
    other run of 11 or more digits: a mistyped ID or card number is still personal data in a log."""
    masked = _masker(Mapped.identity(text))[0].text
    if strict:
        masked = _LONG_DIGITS.sub(lambda m: "<数字串>" if sum(c.isdigit() for c in m.group()) >= 11 else m.group(), masked)
    return masked
