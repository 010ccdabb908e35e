"""One vocabulary: the decision JSON Schema's enums, the service's pydantic models and
``dispatch_nlp.knowledge.vocabulary`` name the same values (order included), so that a value added
to or dropped from any one of the three fails here."""

import json
import typing

import pytest

from dispatch_nlp.knowledge import vocabulary as v
from dispatch_nlp.types import APPEAL_TYPES, ROUTES, SCHEMA_VERSION

from .conftest import ROOT

SCHEMA = json.loads((ROOT / "dispatch_nlp/schema/decision.schema.json").read_text("utf-8"))


def _schema_enum(*path: str) -> tuple:
    node = SCHEMA
    for key in path:
        node = node[key]
    return tuple(x for x in node["enum"] if x is not None)


def _literal_values(annotation) -> tuple:
    """The values of a Literal, through ``X | None`` and nested Literals."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)
    out: tuple = ()
    for arg in typing.get_args(annotation):
        if arg is not type(None):
            out += _literal_values(arg)
    return out


def _model_values(model, field: str) -> tuple:
    return _literal_values(model.model_fields[field].annotation)


# (vocabulary tuple, path of the enum in the decision schema)
SCHEMA_ENUMS = {
    "route": (v.ROUTES, ("properties", "route")),
    "appeal_type": (v.APPEAL_TYPES, ("properties", "appeal_type", "properties", "label")),
    "response_level": (v.RESPONSE_LEVELS, ("properties", "response_level", "properties", "level")),
    "transfer_to": (v.EMERGENCY_NUMBERS, ("properties", "transfer_to")),
    "jurisdiction_method": (v.JURISDICTION_METHODS, ("properties", "jurisdiction", "properties", "method")),
    "span_field": (typing.get_args(v.SpanField), ("$defs", "span", "properties", "field")),
}


@pytest.mark.parametrize("name", sorted(SCHEMA_ENUMS))
def test_schema_enums_are_the_vocabulary(name):
    values, path = SCHEMA_ENUMS[name]
    assert _schema_enum(*path) == tuple(values)


def test_nullable_schema_enums_allow_null():
    for path in (("properties", "response_level", "properties", "level"), ("properties", "transfer_to")):
        node = SCHEMA
        for key in path:
            node = node[key]
        assert None in node["enum"], path


def test_schema_version_agrees():
    schemas = pytest.importorskip("dispatch_nlp.service.schemas")
    assert SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert _model_values(schemas.DecisionOut, "schema_version") == (SCHEMA_VERSION,)
    assert schemas.DecisionOut.model_fields["schema_version"].default == SCHEMA_VERSION


def test_service_models_use_the_vocabulary():
    s = pytest.importorskip("dispatch_nlp.service.schemas")
    pairs = [
        (_model_values(s.DecisionOut, "route"), v.ROUTES),
        (_model_values(s.DecisionOut, "transfer_to"), v.EMERGENCY_NUMBERS),
        (_model_values(s.AppealOut, "label"), v.APPEAL_TYPES),
        (_model_values(s.CorrectionIn, "appeal_type"), v.APPEAL_TYPES),
        (_model_values(s.ResponseLevelOut, "level"), v.RESPONSE_LEVELS),
        (_model_values(s.JurisdictionOut, "method"), v.JURISDICTION_METHODS),
        (_model_values(s.SpanOut, "field"), typing.get_args(v.SpanField)),
    ]
    # the labels a client may send for ``kind``: a mapping on one side, so compared as sets
    assert set(_model_values(s.CorrectionIn, "kind")) == set(v.CORRECTION_KIND_OF)
    assert len(_model_values(s.CorrectionIn, "kind")) == len(v.CORRECTION_KIND_OF)
    for got, want in pairs:
        assert got == tuple(want)
    assert set(typing.get_args(v.CorrectionKindLabel)) == set(v.CORRECTION_KIND_OF)


def test_service_openapi_enums_are_the_schema_enums():
    """What clients read (the OpenAPI document) lists the same values as the decision schema."""
    s = pytest.importorskip("dispatch_nlp.service.schemas")
    decision = s.DecisionOut.model_json_schema()
    defs = decision["$defs"]

    def enum(node):
        if "enum" in node:
            return tuple(node["enum"])
        if "const" in node:
            return (node["const"],)
        return tuple(x for sub in node.get("anyOf", []) if sub.get("type") != "null" for x in enum(sub))

    assert enum(decision["properties"]["route"]) == _schema_enum("properties", "route")
    assert enum(decision["properties"]["transfer_to"]) == _schema_enum("properties", "transfer_to")
    assert enum(defs["AppealOut"]["properties"]["label"]) == _schema_enum(
        "properties", "appeal_type", "properties", "label")
    assert enum(defs["ResponseLevelOut"]["properties"]["level"]) == _schema_enum(
        "properties", "response_level", "properties", "level")
    assert enum(defs["JurisdictionOut"]["properties"]["method"]) == _schema_enum(
        "properties", "jurisdiction", "properties", "method")
    assert enum(defs["SpanOut"]["properties"]["field"]) == _schema_enum("$defs", "span", "properties", "field")


def test_types_reexport_the_vocabulary():
    assert ROUTES is v.ROUTES and APPEAL_TYPES is v.APPEAL_TYPES
    assert set(v.RESPONSE_LEVEL_HOURS) == set(v.RESPONSE_LEVELS)
    assert v.DEFAULT_EMERGENCY_NUMBER in v.EMERGENCY_NUMBERS
    assert set(v.CORRECTION_KIND_OF.values()) == set(v.CORRECTION_KINDS)


def test_corrections_accept_the_vocabulary():
    from dispatch_nlp.lifecycle.corrections import KINDS, Correction

    assert KINDS == v.CORRECTION_KIND_OF
    for appeal in v.APPEAL_TYPES:
        assert Correction(order_id="o", operator="p", appeal_type=appeal).check().appeal_type == appeal
