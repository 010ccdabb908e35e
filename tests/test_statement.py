"""The statement stage: which sentences of an order state its problem.

The orders below are written for these tests in the shapes the hotline's records take (operator
summary, portal letter, channel header, record fields); none comes from the challenge set."""

from dispatch_nlp.components.statement import (
    OrderFields,
    StatementStage,
    problem_statement,
    score_sentences,
    split_sentences,
    title_of,
)
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.pipeline.registry import Resources, build_components
from dispatch_nlp.types import WorkOrder

LETTER = ("井盖缺失无人修\n工单来源:市政府门户网站 尊敬的领导:您好!我在这个小区住了十几年了,一直觉得环境不错。"
          "小区东门外人行道上的井盖丢了一个多星期,晚上黑乎乎的,已经有人差点掉进去。请问这个归谁管?"
          "希望尽快补上井盖。谢谢领导!")
SUMMARY = ("市民来电称,其家住某小区3号楼,楼上住户每天深夜在家里跳操,咚咚响,睡不着觉。"
           "来电人找物业协调过,物业说管不了。希望相关部门协调。来电反映楼上噪音扰民问题。注:请及时向来电人反馈办理情况。")


def test_split_sentences_drops_headers_and_greetings():
    sentences = split_sentences(LETTER)
    assert sentences[0].title and sentences[0].text.strip() == "井盖缺失无人修"
    texts = [s.text for s in sentences]
    assert not any("工单来源" in t or "尊敬的" in t or t.startswith("您好") for t in texts)
    assert any(t.startswith("我在这个小区住了") for t in texts)


def test_letter_statement_keeps_title_question_and_demand_not_greetings_or_history():
    st = problem_statement(LETTER)
    assert st.startswith("井盖缺失无人修")
    assert "请问这个归谁管" in st and "希望尽快补上井盖" in st
    assert "谢谢" not in st and "住了十几年" not in st


def test_summary_statement_keeps_the_problem_clause_and_drops_the_handling_trail():
    scored = {s.text: s.score for s in score_sentences(SUMMARY)}
    clause = next(t for t in scored if t.startswith("来电反映楼上噪音"))
    trail = next(t for t in scored if t.startswith("注"))
    assert scored[clause] == max(scored.values())
    assert scored[trail] < 0
    st = problem_statement(SUMMARY)
    assert "来电反映楼上噪音扰民问题" in st and "请及时" not in st


def test_record_fields_are_not_a_title_and_addresses_do_not_state_the_problem():
    text = "问题地址:朝阳区某路口\n问题描述:红绿灯坏了三天\n市民诉求:尽快修复"
    assert title_of(text) == ""
    st = problem_statement(text)
    assert "红绿灯坏了三天" in st and "朝阳区某路口" not in st


def test_short_order_is_its_own_statement_and_the_cap_holds():
    assert problem_statement("小区门口路灯不亮") == "小区门口路灯不亮。"
    assert problem_statement("") == ""
    long = "。".join(f"第{i}栋楼下的垃圾桶满了没人清运,要求处理" for i in range(30))
    assert 0 < len(problem_statement(long, max_chars=80)) <= 80


def test_stage_fills_doc_statement_and_skips_empty_text():
    [stage] = build_components({"components": ["statement"], "statement": {"max_chars": 60}},
                               Resources(catalog=None, gazetteer=None))
    assert isinstance(stage, StatementStage) and stage.max_chars == 60
    doc = stage(Doc.from_order(WorkOrder(text=SUMMARY)))
    assert doc.statement == problem_statement(SUMMARY, 60)
    empty = Doc.from_order(WorkOrder(text=" "))
    empty.add_flag("empty_text")
    assert stage(empty).statement is None


def test_order_fields_default_statement_is_none():
    assert OrderFields("文本").statement is None


def test_repeat_complaint_reference_is_a_header_not_a_reason_to_drop_the_sentence():
    text = ("同热线-240101-000123,市民再次来电反映:小区电梯停运两周无人维修。"
            "来电人对办理结果不满意,希望继续督办。关联工单:同热线-231201-000456。")
    st = problem_statement(text)
    assert st.startswith("市民再次来电反映") and "电梯停运" in st
    assert "同热线" not in st
