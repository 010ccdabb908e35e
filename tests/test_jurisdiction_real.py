"""Jurisdiction on orders shaped like real ones (issue 17): back off instead of guessing, keep a named
district, no place fragments, the handling trail as a weaker signal, and whole-word names.

Sentences are written for these tests; the learned member is a tiny hand-built one so that each
test controls exactly which place string says what.
"""

from dataclasses import replace

import numpy as np

from dispatch_nlp.components.jurisdiction import FusedJurisdiction, GazetteerJurisdiction
from dispatch_nlp.components.jurisdiction.gazetteer import load_place_stopwords, whole_word
from dispatch_nlp.components.jurisdiction.learned import LearnedJurisdiction
from dispatch_nlp.components.jurisdiction.settings import JurisdictionSettings
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.text.normalize import trail_start
from dispatch_nlp.types import WorkOrder

CHAOYANG, HAIDIAN = "110105000000", "110108000000"
WANGJING, JIUXIANQIAO, XUEYUANLU, HUAYUANLU = "110105026000", "110105011000", "110108010000", "110108018000"
DISTRICTS = [CHAOYANG, HAIDIAN, "110101000000", "110102000000"]  # two more so that history can be informative
STREETS = [WANGJING, JIUXIANQIAO, XUEYUANLU, HUAYUANLU]


def make_learned(grams: dict[str, tuple[int, int, float]], **kw) -> LearnedJurisdiction:
    """A learned member whose place strings each point to one district and one street:
    ``{gram: (district index, street index, support)}``."""
    names = list(grams)
    n = len(names)
    d_idx = np.full((n, 3), -1)
    s_idx = np.full((n, 4), -1)
    d_cnt = np.zeros((n, 3))
    s_cnt = np.zeros((n, 4))
    tot = np.zeros(n)
    for i, g in enumerate(names):
        di, si, sup = grams[g]
        d_idx[i, 0], s_idx[i, 0], d_cnt[i, 0], s_cnt[i, 0], tot[i] = di, si, sup, sup, sup
    return LearnedJurisdiction(grams=names, d_idx=d_idx, d_cnt=d_cnt, d_tot=tot, s_idx=s_idx, s_cnt=s_cnt,
                               s_tot=tot, strength=np.log1p(tot), s_strength=np.log1p(tot), districts=DISTRICTS,
                               streets=STREETS, d_prior=np.full(4, 0.25), s_prior=np.full(4, 0.25), **kw)


def doc_of(seg, text):
    doc = Doc.from_order(WorkOrder(text=text))
    doc.tokens = seg.tokenize(doc.text)
    return doc


def run(stage, seg, text):
    return stage.evidence(doc_of(seg, text))


SETTINGS = JurisdictionSettings(abstain_below=0.5)


# -- 1. back off instead of guessing; never lose a named district ----------------------------------
def test_a_named_district_is_kept_when_history_points_elsewhere(gaz, seg):
    # History has seen "公交总站" mostly in a Haidian street; the complaint names Chaoyang.
    learned = make_learned({"公交总站": (1, 2, 400)})
    fused = FusedJurisdiction(GazetteerJurisdiction(gaz, SETTINGS), learned, SETTINGS)
    ev = run(fused, seg, "朝阳区一个公交总站旁边的便道砖翻起来了，老人走路容易绊倒。")
    assert ev.code == CHAOYANG and not ev.abstained
    # Without the named district the same text follows history: the rule is about the name.
    ev2 = run(fused, seg, "一个公交总站旁边的便道砖翻起来了，老人走路容易绊倒。")
    assert ev2.code is not None and ev2.code.startswith("110108")


def test_weak_street_evidence_backs_off_to_the_district(gaz, seg):
    # A string seen twice leans to a street; the district is named.  The street is named only when
    # its share of the whole street distribution reaches street_evidence_min.
    learned = make_learned({"菜市场": (0, 1, 2)})
    text = "朝阳区一处菜市场门口早上占道经营严重，车辆无法通行。"
    strict = JurisdictionSettings(abstain_below=0.5, street_evidence_min=0.9)
    lenient = JurisdictionSettings(abstain_below=0.5, street_evidence_min=0.0)
    assert run(FusedJurisdiction(GazetteerJurisdiction(gaz, strict), learned, strict), seg, text).code == CHAOYANG
    assert run(FusedJurisdiction(GazetteerJurisdiction(gaz, lenient), learned, lenient), seg, text).code == JIUXIANQIAO


def test_a_street_the_gazetteer_names_is_kept(gaz, seg):
    learned = make_learned({"菜市场": (0, 1, 2)})
    fused = FusedJurisdiction(GazetteerJurisdiction(gaz, SETTINGS), learned, SETTINGS)
    assert run(fused, seg, "朝阳区望京街道一处菜市场门口早上占道经营严重。").code == WANGJING


# -- 2. fragments are not places ------------------------------------------------------------------
def test_learned_strings_inside_other_words_are_ignored(seg):
    learned = make_learned({"业基": (1, 2, 4), "望有关部门尽": (1, 3, 2), "望京": (0, 0, 50)})
    text = "某生物医药产业基地门口，希望有关部门尽快处理。"
    tokens = seg.tokenize(text)
    assert learned.select(text, tokens=tokens) == []
    assert learned.select(text)  # without the segmentation the fragments would have counted
    # Inside words at both ends, only a string seen often and nearly always in one district counts.
    frequent = make_learned({"业基": (1, 2, 50)})
    assert [text[s:e] for s, e, _ in frequent.select(text, tokens=tokens)] == ["业基"]
    text2 = "望京某小区门口"
    assert [text2[s:e] for s, e, _ in learned.select(text2, tokens=seg.tokenize(text2))] == ["望京"]


def test_stop_words_and_rare_strings_are_never_learned_places():
    stop = load_place_stopwords()
    assert {"三环", "集团", "科技园", "西北", "河北", "子店"} <= stop
    learned = make_learned({"三环": (1, 2, 80), "集团": (1, 2, 80), "望京": (0, 0, 80), "某某苑": (0, 1, 1)},
                           stopwords=stop, min_support=2)
    text = "出了小区就上三环，集团门口，望京，某某苑"
    assert [text[s:e] for s, e, _ in learned.select(text)] == ["望京"]


def test_a_direction_initial_name_inside_a_longer_road_name_is_no_place(gaz, stage, seg):
    assert not whole_word("建设东街那边", 2, "东街")
    assert whole_word("石景山区东街社区", 4, "东街")  # right after a district's name it is one
    ev = run(stage, seg, "石景山区建设东街那边的路灯一直不亮。")
    assert all(m.surface != "东街" for m in ev.mentions)


def test_a_street_name_before_a_company_word_is_an_address(gaz, stage, seg):
    ev = run(stage, seg, "朝阳区望京街道某集团公司大院西南侧的围墙有裂缝，担心倒塌伤人。")
    assert ev.code == WANGJING
    assert all(m.role == "problem" for m in ev.mentions if m.codes == (WANGJING,))


# -- 3. the handling trail ------------------------------------------------------------------------
def test_trail_start_finds_the_platforms_openings():
    assert trail_start("朝阳区某小区门口垃圾成堆。====经市中心与海淀区核实") == 13
    text = "来电人反映某路口的红绿灯坏了。注:此单为市政府门户网站简易工单。海淀区回复:经某街道调查"
    assert text[trail_start(text):].startswith("注:此单为")
    assert trail_start("此单为市政府门户网站简易工单。尊敬的领导") is None
    assert trail_start("小区门口的路灯坏了三天了，希望尽快修好。") is None


def test_the_complaint_decides_before_the_trail(gaz, stage, seg):
    ev = run(stage, seg, "朝阳区望京街道某小区楼下的垃圾站臭味严重。====经市中心与海淀区核实，此单由学院路街道转办。")
    assert ev.code == WANGJING and ev.source == "complaint"
    assert {m.role for m in ev.mentions if m.start > 20} == {"trail"}


def test_the_trail_speaks_when_the_complaint_names_no_place(gaz, stage, seg):
    ev = run(stage, seg, "小区楼下的垃圾站臭味严重，夏天更厉害。====经市中心与海淀区核实，此单由学院路街道转办。")
    assert ev.code == XUEYUANLU and ev.source == "trail"


def test_trail_places_that_agree_with_the_complaint_count_those_that_contradict_it_do_not(gaz, stage, seg):
    agree = run(stage, seg, "学院路街道某小区楼下垃圾成堆。====经市中心与海淀区核实，转学院路街道办理。")
    alone = run(stage, seg, "学院路街道某小区楼下垃圾成堆。")
    assert agree.code == XUEYUANLU and agree.confidence > alone.confidence
    assert {m.role for m in agree.mentions if m.in_trail} == {"problem"}
    against = run(stage, seg, "学院路街道某小区楼下垃圾成堆。====经市中心与朝阳区核实，转望京街道办理。")
    assert against.code == XUEYUANLU and against.source == "complaint"
    assert {m.role for m in against.mentions if m.in_trail} == {"trail"}


def test_the_learned_member_reads_the_complaint_first(gaz, seg):
    learned = make_learned({"花园路": (1, 3, 60), "酒仙桥": (0, 1, 60)})
    fused = FusedJurisdiction(GazetteerJurisdiction(gaz, SETTINGS), learned, SETTINGS)
    ev = run(fused, seg, "酒仙桥某小区的楼道灯不亮，物业不管。海淀区回复:经花园路街道调查，该问题不属于本街道。")
    assert ev.code is not None and ev.code.startswith(JIUXIANQIAO[:9]) and ev.source == "complaint"


# -- 5. caller and company against the problem ----------------------------------------------------
def test_the_callers_home_does_not_pull_the_learned_member(gaz, seg):
    learned = make_learned({"东华门": (1, 3, 60)})  # (deliberately a strong string for the wrong place)
    fused = FusedJurisdiction(GazetteerJurisdiction(gaz, SETTINGS), learned, SETTINGS)
    ev = run(fused, seg, "我住在东华门，但要反映的是朝阳区望京街道某小区门口的路面塌陷问题。")
    assert ev.code == WANGJING


# -- 6 and the first hop ----------------------------------------------------------------------------
def test_yizhuang_alone_is_the_development_area_and_its_first_hop_is_its_sub_centre(gaz, stage, seg, dispatcher):
    assert run(stage, seg, "亦庄某小区门口的垃圾好几天没人清运。").code == "110115403000"
    assert run(stage, seg, "大兴区亦庄镇某村的路灯不亮。").code == "110115004000"  # the town says so
    dec = dispatcher.dispatch("北京经济技术开发区某小区门口的路灯坏了一排，晚上很黑。")
    assert dec.units.dispatch_to is not None and dec.units.dispatch_to.id == "district_subcentre@bda"


def test_first_hop_is_the_district_sub_centre_or_the_city_unit_itself(dispatcher):
    from dispatch_nlp.routing.assign import first_hop
    from dispatch_nlp.types import UnitRef

    reg = dispatcher.units
    office = UnitRef("street_office@110105026", "望京街道办事处")
    assert first_hop(reg, office, CHAOYANG, WANGJING).id == "district_subcentre@110105"
    water = UnitRef("utility_water", "北京市自来水集团")
    assert first_hop(reg, water, None, None) == water
    assert first_hop(reg, None, CHAOYANG, None) is None
    dec = dispatcher.dispatch("海淀区学院路街道某小区楼下每天夜里施工，噪音扰民。")
    assert dec.units.primary is not None and dec.units.dispatch_to.id == "district_subcentre@110108"
    assert type(dec).from_json(dec.to_json()).units.dispatch_to == dec.units.dispatch_to


# -- issue 21 point 5: an order about another city is outside the gazetteer -------------------------
def test_an_order_about_another_city_is_outside_the_gazetteer(gaz, stage, seg):
    for text in ("来电人反映燕郊某小区物业不作为，电梯坏了一个月。", "河北省三河市某村的工厂夜里排放黑烟。"):
        ev = run(stage, seg, text)
        assert ev.code is None and ev.outside_gazetteer
    # The caller's home elsewhere does not move a Beijing problem; a province inside a phrase is no place.
    home = run(stage, seg, "我老家在河北，现在要反映朝阳区望京街道某小区楼下噪音扰民。")
    assert home.code == WANGJING and not home.outside_gazetteer
    assert not run(stage, seg, "通惠河北面的步道上有人遛狗不拴绳。").outside_gazetteer


def test_the_explanation_says_which_part_of_the_order_decided(dispatcher):
    with_trail = dispatcher.dispatch("朝阳区望京街道某小区楼下的垃圾站臭味严重。====经市中心与海淀区核实，此单由学院路街道转办。")
    assert with_trail.jurisdiction.street.code == WANGJING
    assert any("依据诉求正文" in line for line in with_trail.explanation)
    trail_only = dispatcher.dispatch("小区楼下的垃圾站臭味严重。====经市中心与海淀区核实，此单由学院路街道转办。")
    assert any("依据处理记录" in line for line in trail_only.explanation)
    fresh = dispatcher.dispatch("朝阳区望京街道某小区楼下的垃圾站臭味严重。")
    assert not any("处理记录" in line for line in fresh.explanation)
    outside = dispatcher.dispatch("来电人反映燕郊某小区物业不作为。")
    assert outside.jurisdiction.district is None and any("本市以外" in line for line in outside.explanation)


def test_a_kept_named_district_does_not_inherit_the_replaced_answers_confidence(gaz, seg):
    # The fused answer (a Haidian street, confident) is replaced by the district the complaint names:
    # the confidence is the named-district setting, not the replaced answer's.
    learned = make_learned({"公交总站": (1, 2, 400)})
    fused = FusedJurisdiction(GazetteerJurisdiction(gaz, SETTINGS), learned, SETTINGS)
    gev = run(GazetteerJurisdiction(gaz, SETTINGS), seg, "朝阳区一个公交总站旁边的便道砖翻起来了。")
    out = replace(gev, code=XUEYUANLU, confidence=0.97, abstained=False)
    fused._keep_named_district(gev, out)
    assert out.code == CHAOYANG
    assert out.confidence == SETTINGS.named_district_confidence
