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
