"""Phrasing families: distinct ways to put one order into words, per style.

A family is a frame of its own (what comes first, how sentences join, which openers and closers it
uses), not one template with slots: the same content comes out as an operator's terse summary, a
key-value form, a follow-up, a first-person web message or a letter. Splits are made by family, so a
test family's frame is never seen in training.

Every family function is ``f(c, b)``: ``c`` is the order's ``Ctx`` (content and a random source),
``b`` the ``Builder`` the text goes into.
"""

from __future__ import annotations

# The families live in one module per style; Ctx and the shared helpers in families_common.
from .families_common import GENERIC_FREE, GENERIC_Q, SIT_Q, TITLE_FREE, Ctx  # noqa: F401
from .families_company import co_kv, co_letter, co_operator, co_role, co_service, co_staff, co_terse
from .families_letter import le_classic, le_joint, le_question, le_short, le_story, le_thanks_then
from .families_online import _online
from .families_operator import (
                                fu_again,
                                fu_callback,
                                fu_history,
                                fu_same_line,
                                fu_short,
                                fu_supplement,
                                fu_urge,
                                op_caller_first,
                                op_claim,
                                op_classic,
                                op_kv,
                                op_question,
                                op_receive,
                                op_summary,
                                op_terse,
)

FAMILIES: dict[str, dict[str, object]] = {
    "operator": {
        "op_classic": op_classic, "op_claim": op_claim, "op_kv": op_kv, "op_terse": op_terse,
        "op_receive": op_receive, "op_caller_first": op_caller_first, "op_question": op_question,
        "op_summary": op_summary,
    },
    "followup": {"fu_supplement": fu_supplement, "fu_again": fu_again, "fu_urge": fu_urge, "fu_history": fu_history,
                 "fu_callback": fu_callback, "fu_short": fu_short, "fu_same_line": fu_same_line},
    "online": {
        "on_wx_intro": _online("工单来源：{ch}", "留言标题：", "留言原文：", "i"),
        "on_web_problem": _online("网民留言（{ch}）", "标题：", "内容：", "p"),
        "on_bare_question": _online("", "", "", "q"),
        "on_tagged_compare": _online("【{ch}】网民留言", "主题：", "", "c"),
        "on_src_problem": _online("来源：{ch}", "留言标题：", "留言内容：", "p"),
        "on_plain_intro": _online("", "", "", "i"),
        "on_topic_question": _online("网民留言", "留言主题：", "留言详情：", "q"),
        "on_channel_compare": _online("渠道：{ch}", "", "诉求内容：", "c"),
        "on_wx_original": _online("工单来源：{ch} 市民原文：", "", "", "p", ("微信服务号", "手机APP", "京通小程序"), True),
        "on_portal_simple": _online("此单为{ch}简易工单。", "", "", "i", ("市政府门户网站", "首都之窗"), True),
    },
    "company": {"co_operator": co_operator, "co_role": co_role, "co_letter": co_letter, "co_kv": co_kv, "co_terse": co_terse,
                "co_staff": co_staff, "co_service": co_service},
    "letter": {"le_classic": le_classic, "le_story": le_story, "le_joint": le_joint, "le_short": le_short,
               "le_question": le_question, "le_thanks_then": le_thanks_then},
}
STYLES = tuple(FAMILIES)
