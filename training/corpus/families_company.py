"""Phrasing families of orders from companies (``co_*``). Each is ``f(c, b)``: a ``Ctx`` in, text
added to the ``Builder``."""

from __future__ import annotations

from . import banks
from .families_online import _fp_open


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
    if c.appeal != "咨询" and c.literal():
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
    field = c.pick(banks.APPEAL_FIELD[c.appeal]) if c.cued(0.6) else r.choice(("政策咨询", "办事求助", "营商环境", "投诉", "其他"))
    b.add("诉求类别：", field, "\n")
    b.add("诉求内容：", c.problem(), "。", c.want(), "。")
    if c.pii_kinds:
        b.add("\n")
        c.put_pii(b)


def co_terse(c, b):
    r = c.rng
    if c.literal():
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


def _credit_code(r):
    """A unified social credit code as exports show it: masked in the middle."""
    return "91110" + "".join(r.choice("0123456789") for _ in range(3)) + "*" * 8 + "".join(r.choice("0123456789ABCDEFGHJK") for _ in range(2))


def co_service(c, b):
    """An enterprise-service request through the operator: the company (its credit code masked), the
    person handling it, what is stuck, what they need."""
    r = c.rng
    b.add(r.choice(("企业服务：", "涉企诉求：", "")), c.company)
    if r.random() < 0.5:
        b.add("（统一社会信用代码：", _credit_code(r), "）")
    b.add(r.choice(("经办人", "财务人员", "行政人员", "负责人")), c.verb(("来电反映", "来电称", "反映")), "，")
    if c.place is not None:
        b.add(r.choice(("公司在", "企业位于", "经营地址在")))
        c.put_place(b)
        b.add("，")
    b.add(c.problem(), "，", c.pick(banks.COMPANY_NEEDS), "。")
    c.put_extras(b)
    b.add(c.wish(banks.WANT_LEAD_OP), "。")
    c.put_pii(b)
