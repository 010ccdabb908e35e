"""Personal-data masking: phones (also written 138—1234—5678, 138 1234 5678 or in Chinese digits),
ID-card numbers, bank cards, e-mail addresses (also with a full-width ＠), licence plates, QQ and WeChat
ids, detailed addresses (the building, unit and room: …5号楼2单元301室, …30号院7号楼; the district,
street and compound names stay, the jurisdiction stage needs them) and names: after a label
("联系人：欧阳娜娜", "来电人阿依古丽·买买提"), before a title ("张三先生", "李女士": the title stays), or
before a verb of speech after a role word ("市民孙悦反映", "联系人张三说"). Unlabelled names need a
common surname, so place names that start with one (张家口, 王府井, 李村) are not names.

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
    "address": "<详细地址>",
    "qq": "<QQ号>",
    "wechat": "<微信号>",
}

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Common single and compound surnames: an unlabelled name must start with one.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
             "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤")
_COMPOUND_SURNAMES = "欧阳|司马|诸葛|上官|皇甫|司徒|东方|独孤|慕容|令狐|尉迟|公孙|夏侯|端木|长孙|宇文|西门|南宫"
_HAN = "\u4e00-\u9fa5"
_DOT_NAME = f"[{_HAN}]{{2,8}}[·•・][{_HAN}]{{2,8}}"  # 阿依古丽·买买提
_DOT = re.compile("[·•・]")
_SURNAME_NAME = f"(?:{_COMPOUND_SURNAMES})[{_HAN}]{{1,2}}?|[{_SURNAMES}][{_HAN}]{{1,2}}?"  # lazy: the shortest that ends well
_TITLES = "先生|女士|小姐|老师|师傅|大爷|大妈|阿姨|大姐|大哥|同志"
# What may follow a name: punctuation, the end, a title, or the next thing the sentence says.
_AFTER_NAME = f"(?=[，,。；;、\\s（()：:]|$|{_TITLES}|电话|手机|联系|说|称|反映|表示|来电|投诉|咨询|的|住|家住|在)"
_STRONG_LABELS = "姓名|联系人姓名|来电人姓名|联系人|当事人|户主|投诉人|举报人|我叫|本人叫|名字叫|名叫|本人姓名"
_ROLE_WORDS = "来电人|市民|网民|居民|业主|家属|患者|租户|住户|员工|工人"
_CN_DIGITS = "零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖幺"
_SEP = " \\-—－–"
_ADDR_NUM = "\\d{1,4}"
_ROOM = f"(?:{_ADDR_NUM}(?:单元|门)[{_SEP}]?)?\\d{{3,4}}(?:室|号|户)?|\\d{{1,4}}室"

# Order matters: longer and more specific patterns first; a later pattern never overlaps an earlier hit.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+[@＠][A-Za-z0-9\-]+(?:[.．][A-Za-z0-9\-]+)*[.．][A-Za-z]{2,}")),
    # 18-digit ID numbers (checksum checked below); 15-digit old-style IDs with a valid date.
    ("id_number", re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")),
    ("bank_card", re.compile(r"(?<![0-9])(?:\d{4}[ \-]?){3,4}\d{1,4}(?![0-9])")),
    ("mobile", re.compile(rf"(?<![0-9])(?:\+?86[{_SEP}]?)?1[3-9]\d(?:[{_SEP}]?\d{{4}}){{2}}(?![0-9])")),
    # A mobile number in Chinese digits (一三八一二三四五六七八).
    ("mobile", re.compile(rf"(?<![{_CN_DIGITS}])[一壹幺][三四五六七八九叁肆伍陆柒捌玖](?:[{_SEP}]?[{_CN_DIGITS}]){{9}}"
                          rf"(?![{_CN_DIGITS}])")),
    ("landline", re.compile(r"(?<![0-9])(?:[(（]?0\d{2,3}[)）]?[ \-]?)(?:\d{7,8}|\d{3,4}[ \-]\d{4})(?:[ \-]?转\d{1,5})?(?![0-9])")),
    # A bare 7- or 8-digit number only where the words say it is a phone number.
    ("landline", re.compile(r"(?:电话|座机|号码|联系方式|致电|拨打|来电号码)[是为:：\s]{0,3}(\d{7,8})(?![0-9])")),
    ("qq", re.compile(r"(?:QQ|qq|Qq|扣扣)(?:号码|号)?[是为:：\s]{0,3}([1-9]\d{4,11})(?![0-9])")),
    ("wechat", re.compile(r"(?:微信号|微信|VX|vx|Vx|WX|wx|V信|薇信)(?:号)?[是为:：\s]{0,3}([A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])")),
    ("plate", re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][ ·•\.\-]?[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]{{1,2}}(?![A-Za-z0-9])")),
    # The detail of an address: a room (…5号楼2单元301室, …12号楼3门402, …8号楼1102室), a building in
    # a numbered compound (…30号院7号楼), a compound on a road (…东街9号院). A building and unit alone
    # (3号楼2单元) is kept: it names no household.
    ("address", re.compile(rf"(?:{_ADDR_NUM}号院[{_SEP}]?)?{_ADDR_NUM}(?:号楼|栋|幢|座)[{_SEP}]?(?:{_ROOM})(?![0-9])")),
    ("address", re.compile(rf"{_ADDR_NUM}号院[{_SEP}]?{_ADDR_NUM}(?:号楼|栋|幢|座)")),
    ("address", re.compile(rf"(?<=[路街巷道里])(?:{_ADDR_NUM})号院")),
    ("name", re.compile(_DOT_NAME)),
    ("name", re.compile(rf"(?:{_STRONG_LABELS})[是为:：\s]{{0,3}}([{_HAN}]{{2,4}}?){_AFTER_NAME}")),
    ("name", re.compile(rf"(?:{_ROLE_WORDS})[是为:：\s]{{0,3}}({_SURNAME_NAME}){_AFTER_NAME}")),
    ("name", re.compile(rf"(?<![几各每哪这那某两好])({_SURNAME_NAME}|[{_SURNAMES}])(?={_TITLES})")),
]
# A labelled "name" that is a word of the sentence, not a name.
_NOT_NAMES = re.compile(r"^(?:电话|手机|反映|来电|称|说|表示|要求|投诉|咨询|家住|住在|在|的|是|先生|女士|未|不|无|本人|市民|"
                        r"某|该|此|物业|工作|相关|一位|一名|老人|家属|保密|事|信息|身份|匿名)")
# Words of a sentence, not of a name: a "name" that holds one is the sentence running on (几任老师, 高了老师).
_NOT_IN_NAMES = re.compile(r"[了的是在和与及也都就还被把给个位说称很太没要会能]")


_DIGIT_RUN = re.compile(r"\d[\d \-—－–]{5,}\d|[一壹幺][三四五六七八九叁肆伍陆柒捌玖]")
_DIGIT_KINDS = {"id_number", "bank_card", "mobile", "landline"}
_IM_GATE = re.compile(r"QQ|qq|Qq|扣扣|微信|VX|vx|Vx|WX|wx|V信|薇信")


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
    if kind == "name":
        if _DOT.search(value):  # transliterated names (阿不都, 买买提) may hold any character
            return True
        return not _NOT_NAMES.match(value) and not _NOT_IN_NAMES.search(value[1:])
    return True


# Full-width ASCII (１３８…, Ａ, ＠) read as its half-width twin, one character for one: the spans found
# on the translated text are the spans of the original (mask_text sees raw, unnormalized text).
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """All non-overlapping personal-data hits as (kind, start, end), sorted by start."""
    taken: list[tuple[str, int, int]] = []
    text = text.translate(_HALF_WIDTH)

    def free(s: int, e: int) -> bool:
        return all(e <= ts or s >= te for _, ts, te in taken)

    has_digits = _DIGIT_RUN.search(text) is not None
    has_at = "@" in text or "＠" in text
    has_im = _IM_GATE.search(text) is not None
    for kind, pattern in _PATTERNS:
        # Cheap gates: most orders hold no long number, no e-mail address and no QQ/WeChat id.
        if ((kind in _DIGIT_KINDS and not has_digits) or (kind == "email" and not has_at)
                or (kind in ("qq", "wechat") and not has_im)):
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
