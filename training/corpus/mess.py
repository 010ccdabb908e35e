"""The mess of real text: typos and homophones, colloquial and dialect words, dropped punctuation,
full-width digits, traditional characters. Each function takes a plain text piece (never a place or
personal-data span) and returns a new one; all tables written for this project."""

from __future__ import annotations

import re

# Wrong-for-right pairs typed by operators and citizens (homophones, near shapes, pinyin slips).
CONFUSION = (
    ("反映", "反应"), ("已经", "以经"), ("在", "再"), ("再", "在"), ("的", "得"), ("地", "的"), ("得", "的"),
    ("哪里", "那里"), ("做", "作"), ("像", "象"), ("账", "帐"), ("安装", "按装"), ("需要", "须要"),
    ("暖气", "暖器"), ("燃气", "燃汽"), ("物业", "物叶"), ("投诉", "投拆"), ("楼道", "楼到"), ("噪音", "燥音"),
    ("垃圾", "拉圾"), ("装修", "装秀"), ("停车位", "停车未"), ("邻居", "临居"), ("一直", "一只"), ("处理", "处里"),
    ("部门", "部们"), ("负责", "付责"), ("工资", "工姿"), ("公司", "工司"), ("小区", "小去"), ("电梯", "电题"),
    ("维修", "维休"), ("希望", "希忘"), ("现在", "现再"), ("情况", "情况况"), ("解决", "解绝"), ("申请", "申清"),
    ("影响", "影向"), ("严重", "严众"), ("质量", "质两"), ("检查", "检察"), ("通知", "通之"), ("及时", "即时"),
)
_CONF_RE = re.compile("|".join(re.escape(a) for a, _ in sorted(CONFUSION, key=lambda p: -len(p[0]))))
_CONF_MAP: dict[str, list[str]] = {}
for a, b in CONFUSION:
    _CONF_MAP.setdefault(a, []).append(b)

# Colloquial and dialect forms of Beijing and the north.
COLLOQUIAL = (
    ("什么", "啥"), ("怎么", "咋"), ("非常", "特别"), ("非常", "贼"), ("非常", "倍儿"), ("太", "忒"), ("我们", "咱们"),
    ("我们", "俺们"), ("没有", "没"), ("这里", "这块儿"), ("那里", "那块儿"), ("一点", "一点儿"), ("很", "挺"),
    ("根本", "压根儿"), ("不要", "甭"), ("现在", "这会儿"), ("全部", "全都"), ("总是", "老是"), ("告诉", "跟…说"),
    ("马上", "立马"), ("烦人", "闹心"), ("东西", "玩意儿"), ("今天", "今儿"), ("明天", "明儿"),
    ("昨天", "昨儿"), ("一下", "一下子"), ("什么时候", "啥时候"),
)
_COLL_MAP: dict[str, list[str]] = {}
for a, b in COLLOQUIAL:
    if "…" not in b:
        _COLL_MAP.setdefault(a, []).append(b)
_COLL_RE = re.compile("|".join(re.escape(a) for a in sorted(_COLL_MAP, key=len, reverse=True)))
PARTICLES = ("啊", "呀", "呢", "嘛", "吧", "哈")

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_PUNCT = "，。、；：！？"


def typos(text: str, rng, rate: float) -> str:
    def sub(m: re.Match) -> str:
        return rng.choice(_CONF_MAP[m.group(0)]) if rng.random() < rate else m.group(0)
    return _CONF_RE.sub(sub, text)


def colloquial(text: str, rng, rate: float) -> str:
    def sub(m: re.Match) -> str:
        return rng.choice(_COLL_MAP[m.group(0)]) if rng.random() < rate else m.group(0)
    out = _COLL_RE.sub(sub, text)
    if rng.random() < rate and out.endswith(("。", "，")) and len(out) > 6:
        out = out[:-1] + rng.choice(PARTICLES) + out[-1]
    return out


def drop_punct(text: str, rng, mode: str) -> str:
    """``some``: drop a few commas and full stops; ``spaces``: punctuation becomes spaces; ``all``:
    no punctuation at all (as typed on a phone)."""
    if mode == "some":
        return "".join(ch for ch in text if not (ch in "，。" and rng.random() < 0.4))
    if mode == "spaces":
        return "".join(" " if ch in _PUNCT else ch for ch in text)
    return "".join(ch for ch in text if ch not in _PUNCT)


def fullwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


def repeat_marks(text: str, rng) -> str:
    """Citizens' emphasis: ！！！ and ？？"""
    return text.replace("！", rng.choice(("！！", "！！！", "!!!"))).replace("？", rng.choice(("？？", "???")))


_S2T = None


def to_traditional(text: str) -> str:
    """Simplified → traditional with the length kept (character by character when a phrase rule
    would change it), so span offsets stay valid."""
    global _S2T
    if _S2T is None:
        import opencc

        _S2T = opencc.OpenCC("s2t")
    out = _S2T.convert(text)
    if len(out) == len(text):
        return out
    return "".join(c if len(c) == 1 else ch for ch, c in ((ch, _S2T.convert(ch)) for ch in text))
