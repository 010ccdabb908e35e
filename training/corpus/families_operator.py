"""Phrasing families of the operator's own words: summaries of a call (``op_*``) and follow-ups to an
earlier order (``fu_*``). Each is ``f(c, b)``: a ``Ctx`` in, text added to the ``Builder``."""

from __future__ import annotations

from . import banks


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
    if c.literal():
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
    if c.literal():
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
    if c.appeal == "咨询":
        b.add(c.pick(banks.SPEAKER), r.choice(("来电咨询：", "咨询：", "来电询问，", "来电问：", "来电想知道，")), c.question(), "？")
    elif c.literal():  # another type, named, with a question on the side
        b.add(c.pick(banks.SPEAKER), c.pick(banks.APPEAL_VERB_OP[c.appeal]), r.choice(("并询问：", "，同时问：", "，并问：")),
              c.question(), "？")
    else:  # another type told by its question (什么时候能修好？这合理吗？)
        b.add(c.pick(banks.SPEAKER), r.choice(("来电问：", "来电反映并询问：", "来电称，")), c.question(), "？")
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


def op_summary(c, b):
    """The shape of an exported operator summary: what happened, what is wanted, then the problem named
    outright (来电反映XX问题) and the standard note on its own line."""
    r = c.rng
    b.add(c.pick(banks.SPEAKER), c.verb(("来电反映", "来电称", "致电反映", "来电表示")), r.choice(("，", "：", "，")))
    c.put_place(b)
    b.add(c.problem(), "。")
    if r.random() < 0.5:
        b.add(c.impact(), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)
    named = c.pick(c.kws) if c.kws else (c._sit_used[0].split("，")[0] if c._sit_used else None)
    if named:
        b.add(r.choice(("来电反映", "来电人反映", "市民反映", "反映")), named, r.choice(("问题", "的问题", "一事")), "。")
    if r.random() < 0.7:
        b.add("\n", r.choice(("注：请及时向来电人反馈办理情况。", "注：请及时向来电人反馈办理情况。", c.pick(banks.NOTE))))


# ---------------------------------------------------------------------------------------------
# Follow-ups
def _order_no(r):
    return f"{r.choice(('', 'GD', 'JS'))}{r.randint(2023, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(10000, 99999)}"


def _same_line_no(r):
    """A repeat-call reference as exports write it: 同热线-YYMMDD-NNNNNN."""
    return f"同热线-{r.randint(23, 25)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}-{r.randint(1, 39999):06d}"


_BEFORE = ("上次反映后说会处理", "上次来电后有工作人员来看过", "前期答复称已协调", "之前的工单答复说已经办结",
           "上次反映后社区来人登记过", "上回说会转给主管部门")
_NOW = ("但到现在没有任何变化", "可情况还是老样子", "过了几天又恢复原样", "至今没人再联系过", "实际问题并没有解决")


def fu_same_line(c, b):
    """A repeat call that cites the earlier order (同热线-…) and what happened since."""
    r = c.rng
    b.add(_same_line_no(r), r.choice(("，", "，", " ")), c.pick(banks.SPEAKER),
          r.choice(("再次来电", "第二次来电", "第三次来电", "又一次来电")), c.verb("反映", short=True), "，")
    c.put_place(b)
    b.add(c.problem(), "。", r.choice(_BEFORE), "，", r.choice(_NOW), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)
    if r.random() < 0.3:
        b.add("关联工单：", _same_line_no(r), "。")


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
