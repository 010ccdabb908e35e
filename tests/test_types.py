import json
from pathlib import Path

import jsonschema
import pytest

from dispatch_nlp.routing.router import bad_input_decision
from dispatch_nlp.types import (
    CategoryResult,
    DispatchDecision,
    DivisionRef,
    JurisdictionCandidate,
    JurisdictionResult,
    ResponseLevel,
    Scored,
    Span,
    UnitRef,
    UnitsResult,
    WorkOrder,
)

SCHEMA = json.loads((Path(__file__).parents[1] / "dispatch_nlp" / "schema" / "decision.schema.json").read_text("utf-8"))


def full_decision() -> DispatchDecision:
    d = DivisionRef("110105000000", "朝阳区")
    s = DivisionRef("110105026000", "望京街道")
    return DispatchDecision(
        order_id="A-1",
        catalog_version="2026.11",
        model_version="m1",
        category=CategoryResult("010203", ["城乡建设", "城乡规划", "违章建筑"], 0.91,
                                [Scored("010203", ["城乡建设", "城乡规划", "违章建筑"], 0.91)]),
        appeal_type=None,
        response_level=ResponseLevel("7d", 168),
        jurisdiction=JurisdictionResult(d, s, None, Span(3, 7, "望京街道"), "gazetteer", 0.8,
                                        [JurisdictionCandidate(d, s, None, 0.8, Span(3, 7, "望京街道"))]),
        units=UnitsResult(UnitRef("street_office@110105026", "望京街道办事处"), [], "territorial: street_office", 1.0),
        route="dispatch",
        confidence=0.8,
        flags=["pii_masked"],
        explanation=["分类：违章建筑"],
        timings_ms={"total": 1.2},
    )


def test_decision_json_round_trip_and_schema():
    dec = full_decision()
    again = DispatchDecision.from_json(dec.to_json())
    assert again == dec
    jsonschema.validate(json.loads(dec.to_json()), SCHEMA)


def test_bad_input_decision_matches_schema():
    dec = bad_input_decision("x", "第3行无法读取", catalog_version="2026.11", model_version=None)
    jsonschema.validate(dec.to_dict(), SCHEMA)
    assert dec.route == "review" and dec.flags == ["bad_input"]


def test_schema_rejects_unknown_route():
    data = full_decision().to_dict()
    data["route"] = "somewhere"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def test_work_order_coercion():
    assert WorkOrder.coerce("停水了").text == "停水了"
    o = WorkOrder.coerce({"id": 7, "text": "停水了", "title": "停水", "extra": 1})
    assert (o.id, o.title) == ("7", "停水")
    with pytest.raises(TypeError, match="int"):
        WorkOrder.coerce(42)
    with pytest.raises(TypeError, match="'text'"):
        WorkOrder.coerce({"body": "停水了"})
    with pytest.raises(TypeError, match="bytes"):
        WorkOrder.coerce({"text": b"\xe5\x81"})
