"""Phrasing families: distinct ways to put one order into words, per style.

A family is a frame of its own (what comes first, how sentences join, which openers and closers it
uses), not one template with slots: the same content comes out as an operator's terse summary, a
key-value form, a follow-up, a first-person web message or a letter. Splits are made by family, so a
test family's frame is never seen in training.

Every family function is ``f(c, b)``: ``c`` is the order's ``Ctx`` (content and a random source),
``b`` the ``Builder`` the text goes into.
"""

from __future__ import annotations

from . import banks, personal
from .content import EMERGENCY_FRAMES, EXCLUSION_FRAMES, KW_FP, KW_OP, KW_PAIR, KW_Q, TITLE_KW

# Keyword-free questions and titles (the problem is told, not named).
SIT_Q = ("{s}，这种情况该找哪个部门", "{s}，这事归谁管", "像{s}这种情况，有什么规定吗", "{s}，我们该怎么办",
         "{s}，能不能给个说法", "{s}，有没有人能管")
GENERIC_Q = ("这种情况应该找谁", "这事到底归哪个部门管", "有什么政策规定吗")
GENERIC_FREE = ("这个事一直没人管", "情况越来越严重", "这事拖了很久了")
TITLE_FREE = ("求助", "反映个事", "请领导关注", "急！求帮助", "这事到底谁管", "一个困扰很久的问题", "请求处理",
              "老百姓的烦心事", "实在没办法了", "希望有人管管")


class Ctx:
    """The content of one order, with helpers that draw its phrases."""

    def __init__(self, rng, lb, appeal, place, caller_place, other_place, pii_kinds, marker, marker_kind,
                 second, distract, company, pool=None, side="train"):
        self.rng = rng
        self.lb = lb
        self.leaf = lb.leaf
        self.appeal = appeal
        self.place = place
        self.caller_place = caller_place
        self.other_place = other_place
        self.pii_kinds = list(pii_kinds)
        self.marker = marker
        self.marker_kind = marker_kind  # emergency | exclusion | None
        self.second = second  # LeafBank of a second issue, or None
        self.distract = distract  # LeafBank of a distractor mention, or None
        self.company = company
        self.side = side  # "train" | "held": which keywords and phrases this order may use
        self.pool = pool if pool is not None else lb.pools[(side, False)]
        self.kw_free = not self.pool.kws
        k = self.pool.kws
        n = min(len(k), rng.choice((1, 1, 2, 2, 3)))
        self.kws = rng.sample(k, n) if k else []
        self.title = None
        self._sit_used: list[str] = []
        self.said: set[str] = set()
        self.vague = rng.random() < 0.08

    # -- phrases ------------------------------------------------------------------------------
    def pick(self, bank):
        return self.rng.choice(bank)

    def other_kws(self, lb):
        """Keywords of another leaf (second issue, distractor) this order may use."""
        return lb.pools[(self.side, False)].kws or lb.kws

    def kw_clause(self, fp=False, i=0, lb=None):
        k = self.kws[i % len(self.kws)] if lb is None else self.rng.choice(self.other_kws(lb))
        return self.pick(KW_FP if fp else KW_OP).format(k=k)

    def situation(self) -> str | None:
        """A keyword-free description of the problem, preferring one not used yet in this order."""
        sits = self.pool.sits
        if not sits:
            return None
        fresh = [x for x in sits if x not in self._sit_used]
        s = self.rng.choice(fresh or sits)
        self._sit_used.append(s)
        return s

    def problem(self, fp=False, lb=None, rich=True) -> str:
        """A problem clause: a keyword clause, a situation, a topic clause, or two of them."""
        rng = self.rng
        if lb is not None and lb is not self.lb:
            other = lb.pools[(self.side, False)]
            parts = [self.kw_clause(fp, lb=lb)]
            if other.problems and rng.random() < 0.4:
                parts.insert(0, rng.choice(other.problems))
            return "，".join(parts)
        pool = self.pool
        parts = []
        sit = None
        if self.kw_free or (pool.sits and rng.random() < 0.35):
            sit = self.situation()
        has_topic = bool(pool.problems) and rng.random() < (0.6 if rich else 0.3) and (sit is None or rng.random() < 0.4)
        use_kw = bool(self.kws) and (not (has_topic or sit) or rng.random() < 0.5)
        if use_kw:
            parts.append(self.kw_clause(fp))
            if len(self.kws) > 1 and rng.random() < 0.5:
                parts.append(self.pick(KW_PAIR).format(k=self.kws[1]))
        if sit:
            parts.insert(rng.randrange(len(parts) + 1), sit)
        if has_topic:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(pool.problems))
        if not parts:  # a keyword-free order of a leaf with no phrase of its own
            parts.append(rng.choice(pool.problems) if pool.problems else self.pick(GENERIC_FREE))
        if self.marker:
            frames = EMERGENCY_FRAMES if self.marker_kind == "emergency" else EXCLUSION_FRAMES
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(frames).format(m=self.marker))
        return "，".join(parts)

    def ref(self) -> str:
        """How a later sentence names the matter: a keyword, or (keyword-free) a short reference."""
        if self.kws:
            return self.pick(self.kws)
        if self._sit_used and self.rng.random() < 0.4:
            return self._sit_used[0].split("，")[0]
        return self.pick(("这个事", "这件事", "这个情况", "上面说的事", "此事"))

    def impact(self):
        imps = self.pool.impacts
        t = self.pick(imps)
        if t in self.said and len(imps) > 1:
            t = self.pick(imps)
        self.said.add(t)
        return t

    # -- the appeal type ------------------------------------------------------------------------
    # Each place that can say the appeal type (the operator's verb, a citizen's opening line, a
    # title, the demand at the end) does so with its own chance; ``vague`` orders (~10%) say it
    # nowhere (反映 + a generic want), as many real ones do.
    P_VERB, P_OPEN_FP, P_WANT, P_TITLE = 0.8, 0.6, 0.85, 0.4

    def cued(self, p: float) -> bool:
        return self.rng.random() < p and not self.vague

    def verb(self, generic, p=None, short=False) -> str:
        """The operator's verb: 来电投诉 / 来电举报 / … for the order's type, else one of ``generic``."""
        if self.cued(self.P_VERB if p is None else p):
            return self.pick((banks.APPEAL_VERB if short else banks.APPEAL_VERB_OP)[self.appeal])
        return generic if isinstance(generic, str) else self.pick(generic)

    def open_fp(self, p=None) -> str | None:
        """A citizen's opening line (我要投诉, 想咨询一个问题, …), or None."""
        if self.cued(self.P_OPEN_FP if p is None else p):
            return self.pick(banks.APPEAL_OPEN_FP[self.appeal])
        return None

    def _want(self, p=None) -> tuple[str, bool]:
        """What is wanted, and whether it stands alone (needs no 希望/要求 before it)."""
        r, a = self.rng, self.appeal
        base = self.pick(self.pool.wants)
        if a == "表扬":
            if self.vague or r.random() < 0.7:
                return self.pick(banks.PRAISE).format(dept=self.pick(banks.DEPT)), True
            return self.pick(banks.APPEAL_WANT[a]), False
        if not self.cued(self.P_WANT if p is None else p):
            return base, False
        if a == "咨询" and r.random() < 0.4:
            return r.choice(("告知", "解答", "答复")) + self.question(), False
        if a == "建议" and r.random() < 0.5:
            return base + "。" + self.pick(banks.SUGGEST).format(dept=self.pick(banks.DEPT)), False
        cue = self.pick(banks.APPEAL_WANT[a])
        x = r.random()  # the cue mostly goes beside the leaf's own want, which carries the category
        if x < 0.15 or a == "其他":
            return cue, False
        if x < 0.65:
            return base + r.choice(("，并", "，同时", "，")) + cue, False
        return cue + "，" + base, False

    def want(self) -> str:
        return self._want()[0]

    def wish(self, leads, fp=False, p=None) -> str:
        """A lead (希望, 要求, …, one of ``leads``) and what is wanted; a want that stands alone gets a
        neutral lead instead."""
        w, alone = self._want(p)
        if alone:
            return ("" if fp else self.pick(("来电人称", "市民称", "另外，", ""))) + w
        return (leads if isinstance(leads, str) else self.pick(leads)) + w

    def question(self):
        if self.pool.questions and self.rng.random() < 0.5:
            return self.pick(self.pool.questions)
        if self.kws:
            return self.pick(KW_Q).format(k=self.pick(self.kws))
        sit = self.situation()
        if sit:
            return self.pick(SIT_Q).format(s=sit)
        return self.pick(GENERIC_Q)

    def make_title(self):
        if self.title is None:
            r = self.rng.random()
            if self.pool.titles and r < 0.4:
                self.title = self.pick(self.pool.titles)
            elif self.kws and r < 0.85:
                self.title = self.pick(TITLE_KW).format(k=self.pick(self.kws))
            else:
                sit = self.situation()
                self.title = sit.split("，")[0] if sit and self.rng.random() < 0.7 else self.pick(TITLE_FREE)
            if self.cued(self.P_TITLE):
                pre = self.pick(banks.APPEAL_TITLE[self.appeal])
                forms = (pre + "：" + self.title, pre + self.title, "关于" + self.title + "的" + pre)
                self.title = self.rng.choice(forms[:2] if self.title.startswith("关于") else forms)
        return self.title

    def lead(self):
        if self.vague:
            return self.pick(("反映", "反映问题", "称"))
        return self.pick(banks.APPEAL_LEAD.get(self.appeal, banks.APPEAL_LEAD["其他"]))

    # -- pieces into the builder -----------------------------------------------------------------
    def put_place(self, b, role="problem"):
        m = {"problem": self.place, "caller": self.caller_place, "other": self.other_place}[role]
        if m is not None:
            b.place(m, role)
        return m is not None

    def put_pii(self, b, kinds=None):
        for kind in (self.pii_kinds if kinds is None else kinds):
            if kind == "name_caller":  # 来电人X: a name the masker's label list does not cover
                b.protect("来电人")
                b.pieces.append([3, personal.full_name(self.rng), {"kind": "name"}])
                b.protect("，")
                continue
            label, value, trailer = personal.make(self.rng, kind)
            b.pii(label, value, kind, trailer)
        self.pii_kinds = [] if kinds is None else [k for k in self.pii_kinds if k not in kinds]

    def put_extras(self, b, fp=False):
        """Second issue and distractor sentence, where the family allows them."""
        rng = self.rng
        if self.distract is not None:
            x = rng.choice(self.other_kws(self.distract))
            b.add(rng.choice(banks.DISTRACT_FRAME).format(x=x))
        if self.second is not None:
            b.add(rng.choice(banks.MULTI_FRAME), self.problem(fp, lb=self.second, rich=False), "。")


def _long(c, b, n=None):
    """A paragraph of a long letter: background, the problem again in other words, the story so far."""
    r = c.rng
    n = n or r.randint(2, 4)
    bank = [lambda: c.pick(banks.LETTER_BACKGROUND), lambda: c.problem(fp=True, rich=True),
            lambda: c.pick(banks.LETTER_NARRATIVE), lambda: c.impact(), lambda: c.pick(banks.LETTER_RESPECT),
            lambda: _history(c), lambda: c.pick(banks.FEELING_LONG), lambda: c.pick(banks.DETAIL)]
    for f in r.sample(bank, min(n, len(bank))):
        t = f()
        if t not in c.said:
            c.said.add(t)
            b.add(t, "。")


def _history(c):
    r = c.rng
    return c.pick(banks.HISTORY).format(m=r.randint(1, 12), n=r.randint(3, 9))


def _story(c, b, n):
    """``n`` more sentences of a citizen's own message: detail, history, how it feels, the situation
    in other words (citizen messages are long: background, emotion, the history of the complaint)."""
    r = c.rng
    bank = [lambda: c.pick(banks.DETAIL), lambda: _history(c), lambda: c.pick(banks.FEELING_LONG),
            lambda: c.situation() or c.pick(banks.DETAIL), lambda: c.impact(), lambda: c.pick(banks.LETTER_BACKGROUND),
            lambda: c.pick(banks.TRIED), lambda: c.pick(banks.LETTER_NARRATIVE)]
    out = []
    for f in r.sample(bank, min(n, len(bank))):
        t = f()
        if t not in c.said:
            c.said.add(t)
            out.append(t)
    if out:
        if not b.endswith("。！？!?\n：:，"):
            b.add("。")
        for i, t in enumerate(out):
            b.add(t, "。" if i == len(out) - 1 else r.choice(("。", "。", "，", "！")))


def _end(b, ch="。"):
    if not b.endswith("。！？!?\n：:"):
        b.add(ch)


# ---------------------------------------------------------------------------------------------
# Operator summaries
def _op_open(c, b, generic, punct):
    """Speaker and verb: 市民来电投诉：, 来电人来电反映，, …"""
    sp = c.pick(banks.SPEAKER)
    b.add(sp, c.verb(generic, short=sp.endswith("来电")), punct)


def op_classic(c, b):
    r = c.rng
    _op_open(c, b, ("来电反映", "反映", "来电称"), r.choice(("：", "：", "，")))
    c.put_place(b)
    b.add(c.problem(), "。")
    if r.random() < 0.6:
        b.add(c.pick(banks.DURATION_OP), "，", c.impact(), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)
    if r.random() < 0.6:
        b.add(c.pick(banks.NOTE))


def op_claim(c, b):
    r = c.rng
    if c.cued(c.P_VERB):
        b.add(r.choice(("来电人", "市民")), c.pick(banks.APPEAL_VERB_OP[c.appeal]), "称，")
    else:
        b.add(r.choice(("来电人称，", "市民来电称，", "据来电人讲，", "来电人表示，")))
    if c.caller_place is not None:
        b.add("其家住")
        c.put_place(b, "caller")
        b.add("，")
    if c.place is not None:
        b.add(r.choice(("位于", "在", "其所在的", "")))
        c.put_place(b)
    b.add(c.problem(), "，", c.pick(banks.TRIED_OP), "。")
    c.put_extras(b)
    c.put_pii(b)
    b.add(c.wish(r.choice(("要求", "希望", "请")) + c.pick(banks.DEPT)), "。")


def op_kv(c, b):
    r = c.rng
    b.add(r.choice(("诉求地址：", "事发地点：", "问题地址：")))
    if not c.put_place(b):
        b.add("未提供")
    b.add("\n", r.choice(("诉求内容：", "反映内容：", "问题描述：")), c.problem(), "，", c.pick(banks.DURATION_OP), "。")
    c.put_extras(b)
    b.add("\n", r.choice(("诉求目的：", "来电诉求：", "市民诉求：")), c.want(), "。")
    if c.cued(0.3):
        b.add("\n", r.choice(("诉求类型：", "诉求类别：")), c.pick(banks.APPEAL_FIELD[c.appeal]))
    if c.pii_kinds:
        b.add("\n")
        c.put_pii(b)


def op_terse(c, b):
    r = c.rng
    if c.cued(0.4):
        b.add(c.pick(banks.APPEAL_VERB[c.appeal]), "：")
    c.put_place(b)
    end = c.wish(("要求", "请", "望")) if c.cued(c.P_WANT) else r.choice(("请处理", "要求处理", "希望尽快解决", "请核实", "望解决"))
    b.add(c.problem(rich=False), "，", end, "。")
    if r.random() < 0.4:
        c.put_pii(b)


def op_receive(c, b):
    r = c.rng
    b.add(r.choice(("接", "今日接", "接到")), c.pick(banks.SPEAKER), "来电，", c.lead(), "：")
    if c.place is not None:
        c.put_place(b)
        b.add(r.choice(("", "的", "处")))
    b.add(c.problem(), "。")
    if r.random() < 0.5:
        b.add(c.impact(), "。")
    c.put_extras(b)
    b.add(r.choice(("来电人", "市民", "")), c.wish(("希望", "要求", "请求")), "。")
    c.put_pii(b)


def op_caller_first(c, b):
    r = c.rng
    b.add(c.pick(banks.SPEAKER), r.choice(("住在", "家住", "居住在")))
    if c.caller_place is not None:
        c.put_place(b, "caller")
    else:
        b.add("本市")
    b.add(r.choice(("，", "，", "。其")), c.verb(("反映", "来电反映", "称"), short=True))
    if c.place is not None:
        c.put_place(b)
    b.add(c.problem(), "。", c.pick(banks.DURATION_OP), "。")
    c.put_extras(b)
    c.put_pii(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")


def op_question(c, b):
    r = c.rng
    if c.appeal == "咨询" or not c.cued(0.8):
        b.add(c.pick(banks.SPEAKER), r.choice(("来电咨询：", "咨询：", "来电询问，")), c.question(), "？")
    else:  # another type, with a question on the side
        b.add(c.pick(banks.SPEAKER), c.pick(banks.APPEAL_VERB_OP[c.appeal]), r.choice(("并询问：", "，同时问：", "，并问：")),
              c.question(), "？")
    if c.place is not None:
        b.add(r.choice(("来电人位于", "事涉地点：", "地址：")))
        c.put_place(b)
        b.add("。")
    b.add(r.choice(("来电人表示", "补充：", "据称")), c.problem(rich=False), "。")
    c.put_extras(b)
    c.put_pii(b)
    if c.appeal != "咨询" and c.cued(c.P_WANT):
        b.add(c.wish(banks.WANT_LEAD_OP, p=1.0), "。")
    b.add(r.choice(("来电希望得到明确答复。", "希望相关部门给予解答。", "请告知。", "注：请及时向来电人反馈办理情况。")))


# ---------------------------------------------------------------------------------------------
# Follow-ups
def _order_no(r):
    return f"{r.choice(('', 'GD', 'JS'))}{r.randint(2023, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(10000, 99999)}"


def fu_supplement(c, b):
    r = c.rng
    b.add(r.choice(("此次来电补充", "来电人补充")), c.verb("说明", p=0.4, short=True), "：")
    c.put_place(b)
    b.add(c.problem(), "。", c.pick(banks.FOLLOW_REF).format(no=_order_no(r), n=r.randint(2, 6)))
    b.add(c.impact(), "。")
    c.put_extras(b)
    c.put_pii(b)
    b.add(c.wish(("再次要求", "希望", "要求")), "。")


def fu_again(c, b):
    r = c.rng
    b.add(r.choice(("市民再次来电", "来电人再次来电", "重复来电，")), c.verb("反映", short=True), "：")
    c.put_place(b)
    b.add(c.problem(rich=False), "，", c.pick(banks.FOLLOW_REF).format(no=_order_no(r), n=r.randint(2, 6)))
    b.add(c.wish(("要求", "再次要求")) if c.cued(c.P_WANT) else "要求尽快解决", "。")
    c.put_pii(b)


def fu_urge(c, b):
    r = c.rng
    b.add(r.choice(("催办：", "【催办】", "来电催办。")), "来电人表示")
    c.put_place(b)
    b.add(c.ref(), r.choice(("一事", "的问题", "问题")), "已反映", str(r.randint(2, 8)), "次，", c.pick(banks.TRIED_OP), "，",
          c.impact(), "。")
    c.put_extras(b)
    b.add("来电人情绪", r.choice(("激动", "不满", "比较急")), "，", c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)


def fu_history(c, b):
    r = c.rng
    b.add("来电人称其于", f"{r.randint(1, 12)}月{r.randint(1, 28)}日", c.verb(("曾来电反映", "反映过", "就")))
    c.put_place(b)
    b.add(c.problem(), r.choice(("一事", "的问题", "")), "，", r.choice(("当时答复会尽快处理", "有工作人员联系过", "工单显示已办结")),
          "，", r.choice(("但问题依旧", "但至今没有任何变化", "可实际上根本没解决", "现在又出现了")), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)


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


def _online(header: str, title_label: str, body_label: str, body: str):
    def fam(c, b):
        r = c.rng
        ch = r.choice(banks.CHANNELS_ONLINE)
        c.channel = ch
        if header:
            b.add(header.format(ch=ch), "\n")
        if title_label:
            b.add(title_label, c.make_title(), "\n")
        else:
            c.make_title()
        b.add(body_label)
        _FP_BODIES[body](c, b)
    return fam


# ---------------------------------------------------------------------------------------------
# Companies
def _company_line(c):
    return c.company


def co_operator(c, b):
    r = c.rng
    b.add(c.pick(banks.SPEAKER_COMPANY), c.verb(("反映", "来电反映", "来电咨询")), "：", _company_line(c))
    if c.place is not None:
        b.add(r.choice(("（注册地址：", "（地址：", "（经营地址：")))
        c.put_place(b)
        b.add("）")
    b.add("，", c.problem(), "，", c.pick(banks.COMPANY_NEEDS), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)


def co_role(c, b):
    r = c.rng
    b.add("来电人系", _company_line(c), r.choice(banks.COMPANY_ROLE), "，")
    if c.place is not None:
        b.add("公司位于")
        c.put_place(b)
        b.add("，")
    if c.appeal != "咨询" and c.cued(0.8):
        b.add(c.pick(banks.APPEAL_VERB[c.appeal]), "，并")
    b.add(r.choice(("咨询", "询问", "想了解")), c.question(), "。", r.choice(("来电人表示", "据称")), c.problem(rich=False), "。")
    c.put_pii(b)
    if c.appeal != "咨询" and c.cued(c.P_WANT):
        b.add(c.wish(banks.WANT_LEAD_OP, p=1.0), "。")
    b.add(r.choice(("请给予政策解答。", "希望主管部门予以指导。", "请尽快答复。")))


def co_letter(c, b):
    r = c.rng
    c.channel = r.choice(banks.CHANNELS_ONLINE)
    b.add(r.choice(("工单来源：", "来源：")), c.channel, "\n", "留言标题：", c.make_title(), "\n", "留言原文：")
    _fp_open(c, b)
    b.add(r.choice(("我司", "我们公司", "本企业")), _company_line(c))
    if c.place is not None:
        b.add(r.choice(("位于", "注册在", "坐落于")))
        c.put_place(b)
    b.add("，", r.choice(("主要从事", "是一家")), r.choice(("软件开发", "餐饮经营", "物流配送", "建筑施工", "商品零售", "生产加工")),
          r.choice(("业务", "的企业", "")), "。", c.problem(fp=True), "。", c.impact(), "。")
    c.put_extras(b, fp=True)
    b.add(c.wish(("恳请", "希望", "请"), fp=True), "。")
    c.put_pii(b)


def co_kv(c, b):
    r = c.rng
    b.add("企业名称：", _company_line(c), "\n")
    if c.place is not None:
        b.add("企业地址：")
        c.put_place(b)
        b.add("\n")
    field = c.pick(banks.APPEAL_FIELD[c.appeal]) if c.cued(0.75) else r.choice(("政策咨询", "办事求助", "营商环境", "投诉", "其他"))
    b.add("诉求类别：", field, "\n")
    b.add("诉求内容：", c.problem(), "。", c.want(), "。")
    if c.pii_kinds:
        b.add("\n")
        c.put_pii(b)


# ---------------------------------------------------------------------------------------------
# Letters to a leader
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
    _long(c, b, r.randint(3, 7))
    b.add("\n")
    _story(c, b, r.randint(2, 5))
    b.add("\n")
    c.put_extras(b, fp=True)
    b.add(c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)
    b.add(c.pick(banks.LETTER_CLOSE))


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


def fu_callback(c, b):
    r = c.rng
    b.add(r.choice(("回访不满意：", "来电人对答复不满意：", "办结回访：")), "来电人称此前", c.verb("反映", p=0 if c.appeal == "表扬" else None, short=True), "的")
    c.put_place(b)
    b.add(c.ref(), r.choice(("问题", "一事")), r.choice(("并未解决", "只是敷衍了事", "答复内容与事实不符")), "，",
          c.problem(rich=False), "。")
    c.put_pii(b)
    if c.cued(0.5):
        b.add(c.wish(("要求", "希望"), p=1.0), "，")
    b.add(r.choice(("要求重新办理。", "希望认真核实后再答复。", "要求上级部门督办。")))


def fu_short(c, b):
    r = c.rng
    b.add(r.choice(("再次", "又来电", "二次来电，")), c.verb("反映", short=True))
    c.put_place(b)
    b.add(c.problem(rich=False), r.choice(("，至今未解决。", "，仍未处理。", "，情况没有改善。")))
    if c.cued(0.35):
        b.add(c.wish("要求", p=1.0), "。")
    c.put_pii(b)


def co_terse(c, b):
    r = c.rng
    if c.cued(0.8):
        b.add("企业", c.pick(banks.APPEAL_VERB[c.appeal]), "：", _company_line(c), "，", c.question(), "？")
    else:
        b.add(r.choice(("企业咨询：", "企业来电：", "涉企诉求：")), _company_line(c), "，", c.question(), "？")
    if c.place is not None:
        b.add("（")
        c.put_place(b)
        b.add("）")
    c.put_pii(b)


def co_staff(c, b):
    r = c.rng
    b.add(r.choice(("员工", "来电人", "职工")), c.verb(("来电反映", "反映")), "：其所在的", _company_line(c))
    if c.place is not None:
        b.add("（位于")
        c.put_place(b)
        b.add("）")
    b.add(r.choice(("存在", "出现")), "问题：", c.problem(), "。", c.impact(), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)


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
    _long(c, b, r.randint(3, 7))
    b.add("\n")
    _story(c, b, r.randint(1, 4))
    b.add("\n")
    c.put_extras(b, fp=True)
    b.add(c.wish(banks.WANT_LEAD_FP, fp=True), "。")
    c.put_pii(b)
    b.add("\n", c.pick(banks.LETTER_CLOSE))


FAMILIES: dict[str, dict[str, object]] = {
    "operator": {
        "op_classic": op_classic, "op_claim": op_claim, "op_kv": op_kv, "op_terse": op_terse,
        "op_receive": op_receive, "op_caller_first": op_caller_first, "op_question": op_question,
    },
    "followup": {"fu_supplement": fu_supplement, "fu_again": fu_again, "fu_urge": fu_urge, "fu_history": fu_history,
                 "fu_callback": fu_callback, "fu_short": fu_short},
    "online": {
        "on_wx_intro": _online("工单来源：{ch}", "留言标题：", "留言原文：", "i"),
        "on_web_problem": _online("网民留言（{ch}）", "标题：", "内容：", "p"),
        "on_bare_question": _online("", "", "", "q"),
        "on_tagged_compare": _online("【{ch}】网民留言", "主题：", "", "c"),
        "on_src_problem": _online("来源：{ch}", "留言标题：", "留言内容：", "p"),
        "on_plain_intro": _online("", "", "", "i"),
        "on_topic_question": _online("网民留言", "留言主题：", "留言详情：", "q"),
        "on_channel_compare": _online("渠道：{ch}", "", "诉求内容：", "c"),
    },
    "company": {"co_operator": co_operator, "co_role": co_role, "co_letter": co_letter, "co_kv": co_kv, "co_terse": co_terse,
                "co_staff": co_staff},
    "letter": {"le_classic": le_classic, "le_story": le_story, "le_joint": le_joint, "le_short": le_short,
               "le_question": le_question, "le_thanks_then": le_thanks_then},
}
STYLES = tuple(FAMILIES)
