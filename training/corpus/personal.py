"""Fake personal data with valid shapes (ID check digits, Luhn card numbers, plate formats), so the
masking stage meets what real orders carry. Every value is random; none belongs to anybody."""

from __future__ import annotations

from . import banks

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MOBILE_PREFIX = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157",
                  "158", "159", "166", "176", "177", "178", "180", "181", "182", "185", "186", "187", "188", "189", "199")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_PLATE_PROV = "京京京京京津冀晋蒙辽吉黑鲁豫苏浙皖"
_AREA = ("110101", "110102", "110105", "110106", "110108", "110114", "130102", "130602", "370102", "410105", "420106",
         "510107", "230103", "320102", "140105", "150102", "210102", "340102")


def mobile(rng) -> str:
    n = rng.choice(_MOBILE_PREFIX) + "".join(str(rng.randrange(10)) for _ in range(8))
    r = rng.random()
    if r < 0.12:
        return f"{n[:3]} {n[3:7]} {n[7:]}"
    if r < 0.18:
        return f"{n[:3]}-{n[3:7]}-{n[7:]}"
    return n


def landline(rng) -> str:
    body = str(rng.choice((5, 6, 8))) + "".join(str(rng.randrange(10)) for _ in range(7))
    return rng.choice(("010-", "010-", "(010)", "010")) + body


def id_number(rng) -> str:
    year = rng.randint(1940, 2005)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    first17 = f"{rng.choice(_AREA)}{year}{month:02d}{day:02d}{rng.randrange(1000):03d}"
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return first17 + _ID_CHECK[total % 11]


def bank_card(rng) -> str:
    length = rng.choice((16, 19))
    digits = [int(c) for c in rng.choice(("622202", "621700", "622848", "623668", "621226", "622588"))]
    while len(digits) < length - 1:
        digits.append(rng.randrange(10))
    # Luhn check digit
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    if rng.random() < 0.15:
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def plate(rng) -> str:
    prov = rng.choice(_PLATE_PROV)
    letter = rng.choice(_PLATE_LETTERS)
    if rng.random() < 0.25:  # new-energy plates: six characters after the letter
        rest = rng.choice("DF") + "".join(rng.choice("0123456789") for _ in range(5))
    else:
        rest = "".join(rng.choice("0123456789" + _PLATE_LETTERS) if i < 2 and rng.random() < 0.3 else str(rng.randrange(10))
                       for i in range(5))
    sep = "·" if rng.random() < 0.1 else ""
    return f"{prov}{letter}{sep}{rest}"


def full_name(rng) -> str:
    return rng.choice(banks.SURNAME) + rng.choice(banks.GIVEN)


def email(rng) -> str:
    user = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 8))) + str(rng.randint(1, 999))
    return f"{user}@{rng.choice(('163.com', 'qq.com', '126.com', 'sina.com'))}"


# (label before, kind, maker, text after). The text after keeps the value apart from what follows,
# so the masker sees where it ends (names need a delimiter after them).
_FORMS = {
    "mobile": (("联系电话：", "电话", "手机号", "来电号码：", "联系方式：", "手机", "电话是"), mobile),
    "landline": (("座机：", "联系电话：", "家里电话"), landline),
    "id_number": (("身份证号：", "身份证号码", "证件号：", "身份证"), id_number),
    "bank_card": (("银行卡号：", "工资卡号", "卡号：", "收款账号："), bank_card),
    "plate": (("车牌号", "车牌", "车牌号为", ""), plate),
    "name": (("联系人：", "联系人", "姓名：", "来电人姓名：", "我叫", "当事人"), full_name),
    "email": (("邮箱：", "电子邮箱"), email),
}


def make(rng, kind: str) -> tuple[str, str, str]:
    """(label, value, trailer) for one piece of personal data of ``kind``."""
    labels, maker = _FORMS[kind]
    label = rng.choice(labels)
    value = maker(rng)
    if kind == "name":
        trailer = rng.choice(("，", "，", "。", "（", rng.choice(banks.TITLE_PERSON) if len(value) == 2 else "，"))
        if trailer in banks.TITLE_PERSON:
            trailer = "，" if trailer not in ("先生", "女士") else trailer
    else:
        trailer = rng.choice(("，", "。", "；", "，"))
    return label, value, trailer


def masked(rng) -> str:
    """Personal data as an export shows it once masked (no span: nothing left to mask): a mobile with
    its middle four digits starred, a surname and stars, an ID number's middle, a masked address."""
    r = rng.random()
    if r < 0.45:
        n = mobile(rng).replace(" ", "").replace("-", "")
        return rng.choice(("联系电话：", "来电号码：", "手机", "联系方式：")) + n[:3] + "****" + n[7:]
    if r < 0.7:
        return rng.choice(("来电人：", "联系人：", "姓名：")) + rng.choice(banks.SURNAME) + rng.choice(("**", "*", "某某", "先生", "女士"))
    if r < 0.85:
        i = id_number(rng)
        return rng.choice(("身份证号：", "证件号码：")) + i[:6] + "*" * 8 + i[14:]
    return rng.choice(("详细地址：", "住址：")) + "****"
