"""The jurisdiction stage: mentions, resolution, roles, return to district, learned fusion."""

import numpy as np
import pytest

from dispatch_nlp.components.jurisdiction import (
    FusedJurisdiction,
    GazetteerJurisdiction,
    build_jurisdiction_stage,
)
from dispatch_nlp.components.jurisdiction.learned import LearnedJurisdiction
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.types import WorkOrder

WANGJING, CHAOYANG, XUEYUANLU = "110105026000", "110105000000", "110108010000"


def run(stage, seg, text, **order):
    doc = Doc.from_order(WorkOrder(text=text, **order))
    doc.tokens = seg.tokenize(doc.text)
    return stage(doc).evidence["jurisdiction"]


def street_name(gaz, code):
    return gaz.street_of(code).name if code and gaz.street_of(code) else None


def test_district_and_street_that_agree_give_the_street_with_high_confidence(gaz, stage, seg):
    ev = run(stage, seg, "市民反映：朝阳区望京街道某小区有人私搭乱建，占用消防通道。")
    assert ev.code == WANGJING and ev.confidence >= 0.9 and ev.method == "gazetteer"
    alone = run(stage, seg, "市民反映：望京街道某小区有人私搭乱建。")
    assert alone.code == WANGJING and alone.confidence < ev.confidence


def test_no_place_inside_an_idiom_a_persons_name_or_plain_text(stage, seg):
    assert run(stage, seg, "他们家装修大兴土木，噪音很大").code is None
    assert run(stage, seg, "张朝阳先生反映快递丢失").code is None
    assert run(stage, seg, "来电人反映小区停水三天").code is None


def test_a_short_name_that_is_an_ordinary_word_needs_its_parent(gaz, stage, seg):
    assert run(stage, seg, "大家要团结一致，前进的方向很明确").code is None
    ev = run(stage, seg, "顺义区胜利街道前进社区门口垃圾成堆")
    assert ev.code == "110113001010"


def test_company_name_is_weak_evidence(gaz, stage, seg):
    ev = run(stage, seg, "北京朝阳星辰科技有限公司在海淀区学院路街道的工地夜间施工扰民")
    assert ev.code is not None and ev.code.startswith("110108")
    company = [m for m in ev.mentions if m.surface == "朝阳"]
    assert company and company[0].role == "company"
    only = run(stage, seg, "北京朝阳星辰科技有限公司拖欠工资")
    assert only.code == CHAOYANG and only.confidence < 0.7


def test_problem_place_wins_over_the_callers_home(gaz, stage, seg):
    ev = run(stage, seg, "我住在朝阳区望京街道，反映海淀区学院路街道路口的井盖缺失问题")
    assert ev.code == XUEYUANLU
    assert {m.role for m in ev.mentions if m.surface in ("朝阳区", "望京街道")} == {"caller"}
    assert any(c.startswith("110105") for c, _, _ in ev.candidates)


def test_the_home_is_the_place_when_nothing_else_is_named(gaz, stage, seg):
    ev = run(stage, seg, "我住在丰台区方庄，楼下餐馆油烟扰民")
    assert ev.code is not None and ev.code.startswith("110106")


def test_shared_name_is_decided_by_a_co_mentioned_district_or_reported_ambiguous(gaz, stage, seg):
    alone = run(stage, seg, "光明社区门口垃圾无人清运")
    assert alone.code is None and len(alone.ambiguous) >= 2 and alone.candidates
    decided = run(stage, seg, "平谷区光明社区门口垃圾无人清运")
    assert decided.code is not None and decided.code.startswith("110117") and not decided.ambiguous


def test_several_problem_places_pick_the_first_and_keep_the_others(gaz, stage, seg):
    ev = run(stage, seg, "东城区景山街道和西城区什刹海街道都有占道经营")
    assert ev.code == "110101002000"
    assert any(c.startswith("110102012") for c, _, _ in ev.candidates)
    assert ev.confidence < 0.9


def test_town_and_village_resolve_to_the_village(gaz, stage, seg):
    ev = run(stage, seg, "顺义区牛栏山镇北孙各庄村道路破损")
    assert gaz.get(ev.code).level == "community" and street_name(gaz, ev.code) == "牛栏山地区"


def test_short_district_and_place_resolve_to_the_street(gaz, stage, seg):
    ev = run(stage, seg, "海淀学院路停水三天了")
    assert ev.code == XUEYUANLU


def test_place_carries_its_unit_override(gaz, stage, seg):
    ev = run(stage, seg, "市民反映经开区某路段雨后积水严重")
    assert ev.code == "110115403000" and ev.unit_override == "district_subcentre@bda"


def test_evidence_span_maps_to_the_original_text(gaz, stage, seg):
    text = "市民反映：ＸＸ　朝阳区望京街道路灯不亮"
    doc = Doc.from_order(WorkOrder(text=text))
    from dispatch_nlp.pipeline import NormalizeStage

    doc = NormalizeStage()(doc)
    doc.tokens = seg.tokenize(doc.text)
    ev = stage(doc).evidence["jurisdiction"]
    span = doc.evidence_span(ev.mention.start, ev.mention.end)
    assert text[span.start:span.end] == span.text == ev.mention.surface


def test_return_to_district_on_negation_or_a_place_of_another_district(gaz, stage, seg):
    neg = run(stage, seg, "该路段不属于朝阳区，请退回重新派单")
    assert neg.return_to_district and neg.outside_district == CHAOYANG
    other = run(stage, seg, "朝阳区中关村大街路灯坏了")
    assert other.return_to_district and other.outside_district == CHAOYANG
    # Conservative: a street of the named district, a short name, or another sentence do not trigger it.
    assert not run(stage, seg, "朝阳区望京街道路灯坏了").return_to_district
    assert not run(stage, seg, "朝阳区路灯坏了。另外中关村大街也有").return_to_district
    assert not run(stage, seg, "我住在海淀区，朝阳区望京街道路灯坏了").return_to_district


def test_caller_location_is_the_fallback(gaz, stage, seg):
    ev = run(stage, seg, "楼下餐馆油烟扰民", caller_location="海淀区学院路街道")
    assert ev.method == "caller" and ev.code == XUEYUANLU and ev.mention is None


# -- learned member and fusion -----------------------------------------------------------------
HISTORY_PLACES = {"金桂丽苑": WANGJING, "翠湖嘉园": XUEYUANLU, "松柏胡同": "110101002000"}
PROBLEMS = ("楼下油烟扰民", "路灯不亮", "停水三天", "垃圾无人清运", "道路破损")


def history():
    rows = []
    for i in range(12):
        for name, street in HISTORY_PLACES.items():
            rows.append((f"市民反映{name}{PROBLEMS[i % len(PROBLEMS)]}", street[:6] + "000000", street))
    rows.append(("咨询社保转移流程", None, None))
    return rows


@pytest.fixture(scope="module")
def fitted(gaz, seg, tmp_path_factory):
    from dispatch_nlp.training.jurisdiction import fit_jurisdiction

    out = tmp_path_factory.mktemp("jur")
    cfg = fit_jurisdiction(history(), history()[:18], gaz, out, segmenter=seg)
    return out, cfg


def test_fit_writes_a_numpy_file_and_a_config_that_loads_back(gaz, fitted):
    out, cfg = fitted
    assert (out / cfg["learned"]).exists() and set(cfg["weights"]) >= {"gaz_district", "learned_street"}
    with np.load(out / cfg["learned"], allow_pickle=False) as z:
        assert "grams" in z.files
    stage = build_jurisdiction_stage(gaz, out, cfg)
    assert isinstance(stage, FusedJurisdiction)
    # With a text member (issue 21) the learned member is wrapped: TextBlendedLearned.learned.
    assert isinstance(getattr(stage.learned, "learned", stage.learned), LearnedJurisdiction)
    assert isinstance(build_jurisdiction_stage(gaz, out, {}), GazetteerJurisdiction)


def test_learned_places_resolve_with_method_learned_and_fuse_with_the_gazetteer(gaz, seg, fitted):
    out, cfg = fitted
    stage = build_jurisdiction_stage(gaz, out, cfg)
    ev = run(stage, seg, "来电人反映金桂丽苑小区门口共享单车乱停")
    assert ev.code == WANGJING and ev.method == "learned"
    assert ev.mention is not None and "金桂" in ev.mention.surface
    fused = run(stage, seg, "朝阳区金桂丽苑暖气不热")
    assert fused.code == WANGJING and fused.method == "fused"
    assert run(stage, seg, "朝阳区望京街道路灯不亮").code == WANGJING
    none = run(stage, seg, "咨询公积金提取需要什么材料")
    assert none.code is None


def test_learned_file_is_checked_on_load(tmp_path):
    from dispatch_nlp.errors import ModelError

    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="retrain"):
        LearnedJurisdiction.load(bad)


def test_a_batch_reads_the_text_classifier_once_and_decides_as_one_order_at_a_time(gaz, seg, fitted):
    out, cfg = fitted
    stage = build_jurisdiction_stage(gaz, out, cfg)
    assert hasattr(stage.learned, "predict_many"), "the fitted history should give a text member"
    texts = ["来电人反映金桂丽苑小区门口共享单车乱停", "朝阳区金桂丽苑暖气不热", "咨询公积金提取需要什么材料",
             "市民反映：望京街道某小区有人私搭乱建。", "海淀区学院路附近施工噪音扰民"]

    def docs():
        out_docs = []
        for text in texts:
            doc = Doc.from_order(WorkOrder(text=text))
            doc.tokens = seg.tokenize(doc.text)
            out_docs.append(doc)
        return out_docs

    one_by_one = [stage(doc).evidence["jurisdiction"] for doc in docs()]
    calls = []
    text_member = stage.learned.text
    original = text_member.predict_proba
    text_member.predict_proba = lambda batch, heads=None: calls.append(len(batch)) or original(batch, heads)
    try:
        batched = [doc.evidence["jurisdiction"] for doc in stage.pipe(docs(), batch_size=64)]
    finally:
        del text_member.predict_proba
    assert calls and calls[0] == len(texts)  # the first reading of every order in one call
    assert len(calls) <= 1 + len(texts)  # any further call re-reads one order with its trail
    for a, b in zip(one_by_one, batched, strict=True):
        assert (a.code, a.confidence, a.method, a.candidates) == (b.code, b.confidence, b.method, b.candidates)
