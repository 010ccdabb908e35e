"""Appeal type from intent: the rules stage's intent scores and their fusion with a model's appeal head."""

from __future__ import annotations

import pytest

from dispatch_nlp.components.appeal_intent import appeal_intent
from dispatch_nlp.routing.router import fuse_appeal
from dispatch_nlp.text.normalize import normalize_text


def _top(text: str) -> str | None:
    scores = appeal_intent(normalize_text(text))
    return max(scores, key=lambda a: scores[a]) if scores else None


# Orders written for this test, none naming its type by the type's word.
@pytest.mark.parametrize("text,expected", [
    # a question about rules or procedures
    ("来电人想知道退休以后医保关系怎么转到老家，需要准备哪些材料。", "咨询"),
    ("外地户口的孩子能否在本区参加中考？符合什么条件？", "咨询"),
    ("市民问新房的契税去哪里交，能不能在网上办。", "咨询"),
    # a request for help
    ("家里从昨晚到现在一直没电，老人用的制氧机开不了，希望尽快派人来修。", "求助"),
    ("楼道里的水管爆了，水顺着楼梯往下流，物业电话打不通，什么时候能来人？", "求助"),
    ("儿子走丢了两个小时，实在没办法了，请帮帮忙。", "求助"),
    # a complaint about someone's conduct or service
    ("物业收了维修费，报修三次都推来推去，来电人要求给个说法。", "投诉"),
    ("办事窗口的工作人员态度恶劣，材料扔回来就不管了，来电人对此很不满。", "投诉"),
    ("健身房拒不退款，店长说概不退还，要求督促商家退钱。", "投诉"),
    # a report of a third party's violation
    ("小区后面有人每天夜里偷偷往河沟里倒废油，没有任何手续，希望依法查处，请为我保密。", "举报"),
    ("附近有家诊所无证行医，打针输液都有，希望执法部门取缔。", "举报"),
    # a proposal
    ("公交站离小区太远，能否在路口增设一个站点？", "建议"),
    ("要是能把图书馆晚上开放时间延长到九点就方便多了。", "建议"),
])
def test_intent_patterns_read_what_is_asked(text, expected):
    assert _top(text) == expected, appeal_intent(normalize_text(text))


def test_no_intent_no_scores():
    assert appeal_intent("东城区和平里。") == {}


def test_patterns_stay_inside_one_clause():
    # 能否 and 增设 in different sentences do not make a proposal
    assert "建议" not in appeal_intent(normalize_text("请问能否查询。门口增设的栏杆挡路了。"))


def test_trail_advice_is_not_a_proposal():
    assert "建议" not in appeal_intent("退回:非我单位职责,建议转区城管委。")


def test_fusion_without_intent_keeps_the_model():
    probs = {"咨询": 0.6, "投诉": 0.3, "求助": 0.1}
    out = fuse_appeal(probs, {}, 1.0)
    assert out.label == "咨询" and out.confidence == pytest.approx(0.6, abs=1e-4)


def test_fusion_lets_strong_intent_overrule_a_weak_model():
    probs = {"咨询": 0.5, "投诉": 0.3, "求助": 0.2}
    out = fuse_appeal(probs, {"投诉": 2.5}, 1.0)
    assert out.label == "投诉" and 0.5 < out.confidence < 1.0
    # ... a weight of 0 ignores the intent scores
    assert fuse_appeal(probs, {"投诉": 2.5}, 0.0).label == "咨询"


def test_fusion_ignores_types_the_model_does_not_know():
    out = fuse_appeal({"咨询": 0.7, "投诉": 0.3}, {"表扬": 5.0}, 1.0)
    assert out.label == "咨询"
