"""Phrasing families of letters to a leader (``le_*``). Each is ``f(c, b)``: a ``Ctx`` in, text added
to the ``Builder``."""

from __future__ import annotations

from . import banks
from .families_common import _end, _long, _story
from .families_online import _fp_open


# ---------------------------------------------------------------------------------------------
# Letters to a leader
def _letter_end(c, b, story: tuple[int, int], before_close: str = "") -> None:
    """The end of a long letter: more paragraphs, ``story`` (fewest, most) sentences of the story so far,
    the extras, the wish, personal details and the closing line (``before_close`` goes before it)."""
    r = c.rng
    _long(c, b, r.randint(3, 7))
    b.add("\n")
    _story(c, b, r.randint(*story))
    b.add("\n")
    c.put_extras(b, fp=True)
    b.add(c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)
    b.add(before_close, c.pick(banks.LETTER_CLOSE))


def le_classic(c, b):
    r = c.rng
    c.channel = r.choice(("领导留言板", "领导留言板", "网站", "信件"))
    b.add(c.pick(banks.LETTER_OPEN), "\n    ")
    _fp_open(c, b)
    b.add("我是", c.pick(banks.LETTER_WHO))
    if c.place is not None:
        b.add("，住在")
        c.put_place(b, "caller" if c.caller_place is None and False else "problem")
    b.add("。", c.pick(banks.LETTER_FEEL), "。\n    ")
    b.add(c.pick(banks.DURATION), "，", c.problem(fp=True), "。", c.pick(banks.TRIED), "。\n    ")
    b.add(c.impact(), "。", c.pick(banks.EMOTION))
    b.add("\n    ")
    _long(c, b, r.randint(3, 7))
    b.add("\n    ")
    _story(c, b, r.randint(2, 5))
    c.put_extras(b, fp=True)
    b.add("\n    ", c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)
    b.add("\n", c.pick(banks.LETTER_CLOSE))


def le_story(c, b):
    r = c.rng
    c.channel = r.choice(("领导留言板", "网站"))
    b.add(r.choice(("领导您好！", "尊敬的领导：")))
    _fp_open(c, b)
    b.add(f"从{r.randint(1, 12)}月份开始，")
    if c.place is not None:
        c.put_place(b)
    b.add(c.problem(fp=True), "。\n")
    b.add(r.choice(("一开始大家以为过几天就好了，", "我们先是自己想办法，", "起初没当回事，")), r.choice(("可是", "结果", "没想到")),
          r.choice(("情况越来越严重", "拖到现在也没人管", "问题一天比一天严重")), "。", c.impact(), "。\n")
    b.add(c.pick(banks.TRIED), "，", c.pick(banks.LETTER_FEEL), "。\n")
    _letter_end(c, b, (2, 5))


def le_joint(c, b):
    r = c.rng
    c.channel = r.choice(("领导留言板", "信件"))
    b.add(r.choice(("尊敬的各位领导：", "尊敬的领导：")), "\n我们是")
    if c.place is not None:
        c.put_place(b)
    b.add(r.choice(("的全体业主", "的部分居民", "的住户")), "，", r.choice(("联名", "共同", "")), "反映一个困扰大家很久的问题。")
    _fp_open(c, b)
    b.add("\n")
    b.add("一、", c.problem(fp=True), "。\n二、", c.impact(), "。\n三、", c.pick(banks.TRIED), "。\n")
    if r.random() < 0.7:
        b.add("四、")
        _long(c, b, r.randint(2, 4))
        b.add("\n")
    c.put_extras(b, fp=True)
    b.add("为此，我们", c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)
    b.add("\n", c.pick(banks.LETTER_CLOSE))


def le_short(c, b):
    c.channel = "领导留言板"
    b.add(c.pick(banks.LETTER_OPEN))
    _fp_open(c, b)
    if c.place is not None:
        c.put_place(b)
    b.add(c.problem(fp=True), "，", c.pick(banks.LETTER_FEEL), "，", c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)
    b.add(c.pick(banks.LETTER_CLOSE).replace("\n", ""))


def le_question(c, b):
    r = c.rng
    c.channel = r.choice(("领导留言板", "网站"))
    b.add(r.choice(("领导您好，", "尊敬的领导，您好，")), r.choice(("想请教一个问题：", "有件事想请教：", "冒昧打扰，")), c.question(), "？\n")
    if c.place is not None:
        b.add("我住在")
        c.put_place(b)
        b.add("，")
    b.add(c.problem(fp=True), "。", c.pick(banks.TRIED), "。", c.pick(banks.LETTER_FEEL), "。")
    _story(c, b, r.randint(2, 5))
    if c.cued(c.P_WANT):
        _end(b)
        b.add(c.wish(banks.WANT_LEAD_FP, fp=True, p=1.0), "。")
    c.put_pii(b)
    b.add(c.pick(banks.LETTER_CLOSE))


def le_thanks_then(c, b):
    r = c.rng
    c.channel = r.choice(("领导留言板", "网站", "信件"))
    b.add(c.pick(banks.LETTER_OPEN), "\n", r.choice(("首先感谢各位领导为老百姓办了很多实事。", "这些年咱们这里变化很大，大家都看在眼里。")),
          "但是有一件事，", c.pick(banks.LETTER_FEEL), "。")
    _fp_open(c, b)
    b.add("\n")
    if c.place is not None:
        c.put_place(b)
    b.add(c.problem(fp=True), "，", c.pick(banks.DURATION), "。", c.impact(), "。\n")
    _letter_end(c, b, (1, 4), "\n")
