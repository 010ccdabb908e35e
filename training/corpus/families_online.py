"""Phrasing families of citizens' own online messages: first-person bodies (``_fp_*``) under a
channel's header and labels (``_online(...)`` makes one family). Each family is ``f(c, b)``."""

from __future__ import annotations

from . import banks
from .families_common import _long, _story


# ---------------------------------------------------------------------------------------------
# First-person bodies (used by online, company online and letters)
def _fp_open(c, b):
    o = c.open_fp()
    if o:
        b.add(o, c.rng.choice(("。", "！", "，")))


def _fp_intro_first(c, b):
    r = c.rng
    _fp_open(c, b)
    if c.place is not None:
        pre, post = r.choice(banks.SELF_INTRO).split("{place}")
        b.add(pre)
        c.put_place(b)
        b.add(post, "，")
    b.add(c.problem(fp=True), "，", c.pick(banks.DURATION), "。", c.impact(), "。")
    if r.random() < 0.5:
        b.add(c.pick(banks.TRIED), "。")
    _story(c, b, r.choice((1, 2, 3, 3, 4, 5)))
    if r.random() < 0.6:
        b.add("\n")
        _long(c, b, r.randint(2, 5))
    c.put_extras(b, fp=True)
    b.add(c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    if r.random() < 0.5:
        b.add(c.pick(banks.EMOTION))
    c.put_pii(b)


def _fp_problem_first(c, b):
    r = c.rng
    _fp_open(c, b)
    b.add(c.problem(fp=True), "！")
    if c.place is not None:
        b.add(r.choice(("地址在", "地点：", "就在", "位置是")))
        c.put_place(b)
        b.add("。")
    if c.caller_place is not None:
        b.add("我住")
        c.put_place(b, "caller")
        b.add("，", r.choice(("每天都路过", "离得不远", "天天看着")), "。")
    b.add(c.pick(banks.DURATION), "，", c.pick(banks.TRIED), "。")
    _story(c, b, r.choice((2, 3, 3, 4, 5)))
    if r.random() < 0.5:
        b.add("\n")
        _long(c, b, r.randint(2, 4))
    c.put_extras(b, fp=True)
    b.add(c.impact(), "，", c.wish(banks.WANT_LEAD_FP, fp=True), "！")
    c.put_pii(b)


def _fp_question(c, b):
    r = c.rng
    b.add(r.choice(("您好，", "你好，", "")))
    _fp_open(c, b)
    b.add(r.choice(("", "请问")), c.question(), "？")
    if c.place is not None:
        b.add(r.choice(("我在", "我家在", "我们在")))
        c.put_place(b)
        b.add("，")
    b.add(c.problem(fp=True, rich=False), "。")
    _story(c, b, r.choice((1, 2, 2, 3)))
    if c.appeal != "咨询" and c.cued(c.P_WANT):
        b.add(c.wish(banks.WANT_LEAD_FP, fp=True, p=1.0), "。")
    b.add(r.choice(("麻烦告知一下，谢谢。", "在线等，谢谢！", "希望尽快回复。", "谢谢！")))
    c.put_pii(b)


def _fp_compare(c, b):
    """Problem place against a better-run place elsewhere (a third, 'other' place)."""
    r = c.rng
    _fp_open(c, b)
    b.add(r.choice(("你们看看", "大家评评理", "想问问")), "，")
    if c.place is not None:
        c.put_place(b)
        b.add("这边")
    b.add(c.problem(fp=True), "。")
    if c.other_place is not None:
        b.add(r.choice(("人家", "隔壁", "你看")))
        c.put_place(b, "other")
        b.add(r.choice(("就没这个问题", "那边管得就很好", "早就解决了")), "，", r.choice(("凭什么我们这不行？", "为什么差别这么大？")))
    _story(c, b, r.choice((2, 3, 4, 5)))
    b.add(c.impact(), "。", c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)


_FP_BODIES = {"i": _fp_intro_first, "p": _fp_problem_first, "q": _fp_question, "c": _fp_compare}


def _online(header: str, title_label: str, body_label: str, body: str, channels: tuple[str, ...] | None = None,
            same_line: bool = False):
    """A family: ``header`` (with the channel, one of ``channels``), a title line, a body label and one of
    the first-person bodies; ``same_line`` puts the body right after the header (工单来源：微信服务号
    市民原文：…)."""
    def fam(c, b):
        r = c.rng
        ch = r.choice(channels or banks.CHANNELS_ONLINE)
        c.channel = ch
        if header:
            b.add(header.format(ch=ch), "" if same_line else "\n")
        if title_label:
            b.add(title_label, c.make_title(), "\n")
        else:
            c.make_title()
        b.add(body_label)
        _FP_BODIES[body](c, b)
    return fam
