from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch_nlp.text.normalize import Mapped, Normalizer, cut_trail, normalize_text

norm = Normalizer()


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_normalization_is_idempotent_and_never_raises(text):
    once, _ = norm(text)
    twice, _ = norm(once.text)
    assert twice.text == once.text
    assert len(once.offsets) == len(once.text)
    assert all(0 <= o < len(text) for o in once.offsets)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("市民反映朝阳區望京街道，。１２３ＡＢｃ\t\n \u3000\u200b\x07臺灣後面發現"))))
def test_offsets_point_at_the_original_character(text):
    m, _ = norm(text)
    for ch, off in zip(m.text, m.offsets):
        original = text[off]
        # the normalized character comes from its original by NFKC and/or t2s
        assert normalize_text(original) in ("", ch) or ch == " " or ch == "\n"


def test_full_width_ascii_becomes_half_width():
    assert normalize_text("ＡＢＣ１２３，电话：１３８") == "ABC123,电话:138"


def test_traditional_becomes_simplified():
    assert normalize_text("臺灣的區政府發現問題") == "台湾的区政府发现问题"


def test_controls_and_whitespace_runs():
    assert normalize_text("  市民\x07反映\u200b：\t\t小区   路灯\r\n\r\n\n坏了  ") == "市民反映: 小区 路灯\n坏了"


def test_trail_is_cut_only_when_asked():
    text = "市民反映朝阳区某小区暖气不热，希望尽快处理。工单流转：退回：非我单位职责，建议转热力集团。经核实，已处理。"
    m, flags = Normalizer(cut_trails=True)(text)
    assert m.text == "市民反映朝阳区某小区暖气不热,希望尽快处理。"
    assert flags == ["trail_cut"]
    kept, flags = Normalizer()(text)
    assert "工单流转" in kept.text and flags == []


def test_marker_inside_the_citizens_words_is_not_a_trail():
    # "经核实" opening the order is the order itself, not an appended trail
    m, cut = cut_trail(Mapped.identity("经核实我家门口的井盖丢失"))
    assert not cut and m.text == "经核实我家门口的井盖丢失"
