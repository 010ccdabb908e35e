"""Emergency transfer only for live emergencies (issue 21, point 4): the channel (letters, mailbox and
portal messages are never live lines), the tense of the marker (happening now vs. a past event, a
recurring nuisance or a risk) and the catalog (generic markers only where it has emergency items)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dispatch_nlp.components.rules import RulesStage, emergency_actuality, text_actuality
from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.pipeline.doc import Doc
from dispatch_nlp.routing.router import Router
from dispatch_nlp.routing.settings import RouteSettings
from dispatch_nlp.types import WorkOrder

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _at(text: str, marker: str) -> tuple[str, str | None]:
    i = text.index(marker)
    return emergency_actuality(text, i, i + len(marker))


@pytest.mark.parametrize("text,marker,kind", [
    ("邻居家厨房刚才起火了，火很大", "起火", "live"),
    ("前年冬天村里仓库起火，烧了我的三轮车，至今没人赔。", "起火", "past"),
    ("2018年我在这个路口出了车祸，腿落下残疾", "车祸", "past"),
    ("电线私拉乱接，一旦起火后果严重", "起火", "hypothetical"),
    ("那家塑料厂经常冒黑烟，浓烟滚滚，窗户都不敢开。", "浓烟", "chronic"),
    ("楼下车库起火了", "起火", "unclear"),
])
def test_actuality_of_an_emergency_marker(text, marker, kind):
    assert _at(text, marker)[0] == kind


def test_a_live_cue_in_the_markers_own_clause_beats_a_past_cue_in_the_sentence():
    text = "去年这里就出过事，现在又起火了，快来"
    assert _at(text, "起火") == ("live", "现在")
    assert text_actuality("上个月家里失火，损失至今没人管")[0] == "past"


LIVE = "东四北大街一家饭馆刚才起火了，火很大，有人困在二楼"
PAST = "去年东四北大街一家饭馆起火，烧坏了我家的窗户，饭馆至今不赔偿"


def test_live_call_is_transferred(dispatcher):
    dec = dispatcher.dispatch(WorkOrder(text=LIVE, channel="热线电话"))
    assert dec.route == "emergency_transfer" and dec.transfer_to == "119"
    assert "emergency_not_live" not in dec.flags


@pytest.mark.parametrize("channel", ["市长信箱", "领导留言板", "12345App", "网站"])
def test_a_letter_describing_a_live_emergency_is_never_transferred(dispatcher, channel):
    dec = dispatcher.dispatch(WorkOrder(text=LIVE, channel=channel))
    assert dec.route == "review" and dec.transfer_to is None
    assert "emergency_not_live" in dec.flags
    assert any("非实时渠道" in line for line in dec.explanation)


def test_a_letter_without_a_channel_is_read_from_its_opening(dispatcher):
    dec = dispatcher.dispatch(WorkOrder(text="尊敬的领导：" + LIVE))
    assert dec.route != "emergency_transfer"
    assert dispatcher.dispatch(WorkOrder(text=LIVE)).route == "emergency_transfer"


def test_a_call_about_a_past_fire_is_not_transferred(dispatcher):
    dec = dispatcher.dispatch(WorkOrder(text=PAST, channel="热线电话"))
    assert dec.route != "emergency_transfer" and dec.transfer_to is None
    assert "emergency_not_live" in dec.flags
    assert any("既往发生" in line for line in dec.explanation)


def test_settings_can_restore_transfer_of_every_marker(dispatcher):
    router = dispatcher.router
    old = router.settings
    try:
        router.settings = replace(old, emergency_not_live=())
        assert dispatcher.dispatch(WorkOrder(text=PAST, channel="热线电话")).route == "emergency_transfer"
        router.settings = replace(old, emergency_letter_route="dispatch")
        assert dispatcher.dispatch(WorkOrder(text=LIVE, channel="市长信箱")).route != "emergency_transfer"
    finally:
        router.settings = old


@pytest.mark.parametrize("key,value", [("emergency_not_live", ["past", "someday"]),
                                       ("emergency_letter_route", "emergency_transfer"),
                                       ("emergency_generic_markers", "yes"),
                                       ("emergency_live_channels", "热线")])
def test_bad_emergency_settings_are_named(key, value):
    with pytest.raises(ModelError, match=key):
        RouteSettings.from_dict({key: value})


def _decide(catalog: Catalog, dispatcher, text: str, **settings) -> tuple[str, list[str]]:
    doc = RulesStage(catalog)(Doc.from_order(WorkOrder(text=text, channel="热线电话")))
    router = Router(catalog, dispatcher.gazetteer, dispatcher.units, RouteSettings.from_dict(settings))
    dec = router.decide(doc)
    return dec.route, dec.flags


def test_a_catalog_without_emergency_items_transfers_nothing_unless_configured(dispatcher):
    catalog = Catalog.load(FIXTURES / "catalog_v1.yaml")
    assert not any(item.emergency or item.duty == "emergency_transfer" for item in catalog.leaves())
    text = "小区门口刚才发生车祸，有人躺在地上"
    assert _decide(catalog, dispatcher, text)[0] != "emergency_transfer"
    assert _decide(catalog, dispatcher, text, emergency_generic_markers="on")[0] == "emergency_transfer"
    assert _decide(catalog, dispatcher, text, emergency_generic_markers="off")[0] != "emergency_transfer"


@pytest.mark.parametrize("text", ["楼下饭馆着火了，火势持续蔓延", "楼道里着火了，物业至今没人来"])
def test_words_that_fit_a_live_call_do_not_make_a_fire_past(text):
    assert _at(text, "着火")[0] in ("live", "unclear")


def test_a_marker_ending_inside_a_word_before_a_particle_still_counts(dispatcher):
    """The segmenter keeps "烧起来了" as one word; the marker "烧起来" must still fire on a live call."""
    dec = dispatcher.dispatch(WorkOrder(text="西直门外一个车棚现在烧起来了，快来人", channel="热线电话"))
    assert dec.route == "emergency_transfer" and dec.transfer_to == "119"
    assert any("命中紧急情形“烧起来”" in line for line in dec.explanation)
