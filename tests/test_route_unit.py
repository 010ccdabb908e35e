"""Dispatch on the responsible unit (``dispatch_on = unit``) and the deepest confident category level."""

import json
from pathlib import Path

import jsonschema
import pytest

from dispatch_nlp.components.classifier import ClassifierEvidence
from dispatch_nlp.components.jurisdiction.evidence import JurisdictionEvidence
from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.units import UnitsRegistry
from dispatch_nlp.pipeline.doc import Doc
from dispatch_nlp.routing.levels import confident_category, level_masses, unit_masses
from dispatch_nlp.routing.router import Router
from dispatch_nlp.routing.settings import RouteSettings
from dispatch_nlp.types import DispatchDecision, WorkOrder

SCHEMA = json.loads((Path(__file__).parents[1] / "dispatch_nlp" / "schema" / "decision.schema.json").read_text("utf-8"))
WANGJING = "110105026000"
# Beijing catalog: 010201/010202/010206 territorial (street office), 010204 district_cgw, 010901 city_gjj.
STREET_A, STREET_B, STREET_C, CGW, GJJ = "010201", "010202", "010206", "010204", "010901"


@pytest.fixture(scope="module")
def parts(gaz):
    return Catalog.load(), gaz, UnitsRegistry.load()


def route(parts, probs, *, place=WANGJING, **settings):
    catalog, gaz, units = parts
    doc = Doc.from_order(WorkOrder(text="小区门口的问题一直没人管", id="t1"))
    doc.classifier = ClassifierEvidence(leaf_probs=dict(probs))
    doc.jurisdiction = JurisdictionEvidence(code=place, confidence=1.0) if place else JurisdictionEvidence()
    router = Router(catalog, gaz, units, RouteSettings.from_dict(settings), model_version="test")
    return router.decide(doc)


def test_sibling_leaves_of_one_unit_add_up_to_an_automatic_dispatch(parts):
    probs = {STREET_A: 0.4, STREET_B: 0.35, GJJ: 0.25}
    by_leaf = route(parts, probs, dispatch_on="leaf")
    assert by_leaf.route == "review" and by_leaf.confidence == pytest.approx(0.4)
    by_unit = route(parts, probs, dispatch_on="unit")
    assert by_unit.route == "dispatch" and by_unit.confidence == pytest.approx(0.75)
    assert by_unit.units.primary.id == "street_office@110105026" and by_unit.category.code == STREET_A
    assert any("承办单位概率 0.75" in line for line in by_unit.explanation)


def test_the_most_probable_unit_wins_and_the_category_follows_it(parts):
    probs = {GJJ: 0.4, STREET_A: 0.3, STREET_C: 0.3}
    by_leaf = route(parts, probs)
    assert by_leaf.category.code == GJJ and by_leaf.units.primary.id == "city_gjj"
    by_unit = route(parts, probs, dispatch_on="unit", auto_threshold=0.55)
    assert by_unit.category.code == STREET_A and by_unit.units.primary.id == "street_office@110105026"
    assert by_unit.route == "dispatch" and by_unit.confidence == pytest.approx(0.6)
    assert by_unit.category.confidence == pytest.approx(0.3)  # the leaf's own probability, not the unit's


def test_without_a_place_territorial_siblings_have_no_unit_to_add_up(parts):
    dec = route(parts, {STREET_A: 0.5, STREET_B: 0.5}, place=None, dispatch_on="unit")
    assert dec.units.primary is None and dec.route == "review" and dec.confidence == 0.0


def test_the_route_calibration_maps_the_unit_probability(parts):
    probs = {STREET_A: 0.5, STREET_B: 0.45, CGW: 0.05}
    raw = route(parts, probs, dispatch_on="unit")
    assert raw.route == "dispatch" and raw.confidence == pytest.approx(0.95)
    halved = route(parts, probs, dispatch_on="unit", route_calibration_x=[0.0, 1.0], route_calibration_y=[0.0, 0.5])
    assert halved.confidence == pytest.approx(0.475) and halved.route == "review"
    assert any("承办单位综合置信度 0.47" in line for line in halved.explanation)


def test_unit_masses_group_leaves_and_skip_the_unitless_and_the_negligible():
    units = {"a": "U1", "b": "U1", "c": "U2", "d": None, "e": "U2"}
    masses = unit_masses({"a": 0.3, "b": 0.25, "c": 0.4, "d": 0.04, "e": 0.001}, units.get)
    assert list(masses) == ["U1", "U2"]
    assert masses["U1"] == (pytest.approx(0.55), "a") and masses["U2"] == (pytest.approx(0.4), "c")


def test_the_deepest_confident_level_is_reported(parts):
    catalog = parts[0]
    dist = {STREET_A: 0.4, STREET_B: 0.35, GJJ: 0.25}
    assert level_masses(dist, STREET_A) == [("01", pytest.approx(1.0)), ("0102", pytest.approx(0.75))]
    first = confident_category(dist, STREET_A, 0.4, catalog, 0.9, lambda p: p)
    assert first.code == "01" and first.path == ["城乡建设"] and first.confidence == pytest.approx(1.0)
    second = confident_category(dist, STREET_A, 0.4, catalog, 0.7, lambda p: p)
    assert second.code == "0102" and len(second.path) == 2
    leaf = confident_category(dist, STREET_A, 0.95, catalog, 0.9, lambda p: p)
    assert leaf.code == STREET_A and leaf.confidence == 0.95
    assert confident_category(dist, STREET_A, 0.4, catalog, 0.9, lambda p: p * 0.5) is None
    assert confident_category({}, None, 0.0, catalog, 0.9, lambda p: p) is None


def test_a_decision_carries_the_confident_level_in_its_json(parts):
    dec = route(parts, {STREET_A: 0.4, STREET_B: 0.35, GJJ: 0.25}, level_threshold=0.7)
    data = json.loads(dec.to_json())
    jsonschema.validate(data, SCHEMA)
    assert data["category"]["confident"] == {"code": "0102", "path": ["城乡建设", "城市建设和市政管理"],
                                             "confidence": 0.75}
    assert DispatchDecision.from_dict(data) == dec
    assert any(line.startswith("可确定的分类层级：城乡建设 > 城市建设和市政管理") for line in dec.explanation)
    older = json.loads(dec.to_json())
    del older["category"]["confident"]  # a decision written before the field existed
    assert DispatchDecision.from_dict(older).category.confident is None


@pytest.mark.parametrize("settings,key", [({"dispatch_on": "street"}, "dispatch_on"),
                                          ({"route_calibration_x": [0.0, 1.0], "route_calibration_y": [0.5]},
                                           "route_calibration_x"),
                                          ({"level_calibration_x": [0.0]}, "level_calibration_x")])
def test_bad_unit_route_settings_are_named(settings, key):
    with pytest.raises(ModelError, match=key):
        RouteSettings.from_dict(settings)
