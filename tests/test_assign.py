"""Unit assignment: duty rules, sub-centre setting, place units, cooperating units, learned override."""

from types import SimpleNamespace

import pytest

from dispatch_nlp.knowledge.units import UnitsRegistry
from dispatch_nlp.routing.assign import PlacedJurisdiction, assign_units
from dispatch_nlp.routing.units_learned import UnitModel, load_unit_model, unit_template
from dispatch_nlp.types import DivisionRef, JurisdictionResult

WANGJING = "110105026000"


@pytest.fixture(scope="module")
def registry():
    return UnitsRegistry.load()


def item(duty, unit_type=None, unit_ids=(), cooperating=(), code="010101"):
    return SimpleNamespace(duty=duty, unit_type=unit_type, unit_ids=tuple(unit_ids), cooperating=tuple(cooperating),
                           code=code)


def place(district="110105000000", street=WANGJING, unit=None):
    return PlacedJurisdiction(DivisionRef(district, "区"), DivisionRef(street, "街道") if street else None,
                              method="gazetteer", confidence=0.9, unit_override=unit)


def test_territorial_goes_to_the_street_office_or_the_sub_centre(registry):
    r = assign_units(item("territorial", "street_office"), place(), registry)
    assert r.primary.id == "street_office@110105026" and r.confidence == 1.0
    sub = assign_units(item("territorial", "street_office"), place(), registry, "district_subcentre")
    assert sub.primary.id == "district_subcentre@110105"
    no_street = assign_units(item("territorial", "street_office"), place(street=None), registry)
    assert no_street.primary.id == "district_subcentre@110105"


def test_place_unit_override_and_bda_sub_centre(registry):
    bda = place("110115000000", "110115403000", unit="district_subcentre@bda")
    r = assign_units(item("territorial", "street_office"), bda, registry)
    assert r.primary.id == "district_subcentre@bda" and "place unit" in r.rule
    plain = place("110115000000", "110115403000")
    assert assign_units(item("territorial", "street_office"), plain, registry, "district_subcentre").primary.id \
        == "district_subcentre@bda"


def test_functional_utility_and_no_unit_duties(registry):
    assert assign_units(item("district_functional", "district_cgw"), place(), registry).primary.id == "district_cgw@110105"
    assert assign_units(item("city_functional", "city_rsj"), place(street=None), registry).primary.id == "city_rsj"
    assert assign_units(item("utility", "utility_gas"), JurisdictionResult(), registry).primary.id == "utility_gas"
    for duty in ("emergency_transfer", "out_of_scope"):
        r = assign_units(item(duty), place(), registry)
        assert r.primary is None and r.rule == duty
    assert assign_units(None, place(), registry).rule == "no category"
    assert assign_units(item("district_functional", "district_cgw"), JurisdictionResult(), registry).primary is None


def test_unit_ids_and_cooperating_units(registry):
    it = item("district_functional", unit_ids=["city_jgj"], cooperating=["district_cgzf", "street_office", "city_jgj"])
    r = assign_units(it, place(), registry)
    assert r.primary.id == "city_jgj"
    assert [u.id for u in r.cooperating] == ["district_cgzf@110105", "street_office@110105026"]


def test_unit_templates_are_relative_to_the_place():
    assert unit_template("street_office@110105026", "110105000000", WANGJING) == "tmpl:street_office"
    assert unit_template("district_cgw@110105", "110105000000", WANGJING) == "tmpl:district_cgw"
    assert unit_template("district_cgw@110108", "110105000000", WANGJING) == "id:district_cgw@110108"
    assert unit_template("utility_gas", None, None) == "id:utility_gas"


@pytest.fixture
def unit_model(tmp_path):
    from dispatch_nlp.training.jurisdiction import fit_units

    rows = []
    for i in range(30):  # history sends 010101 to the district 城管委, gas smells to the gas company
        rows.append((f"小区路面破损第{i}处", "010101", "110105000000", WANGJING, "district_cgw@110105"))
        rows.append((f"楼道燃气味道很大{i}", "010102", "110105000000", WANGJING, "utility_gas"))
    rows.append(("路灯不亮", "010103", "110105000000", WANGJING, "street_office@110105026"))
    cfg = fit_units(rows, rows[:10], tmp_path)
    assert cfg["file"] == "units_learned.json" and cfg["dev_template_accuracy"] == 1.0
    return load_unit_model(tmp_path, cfg)


def test_learned_override_agreement_and_disagreement(registry, unit_model):
    assert isinstance(unit_model, UnitModel) and load_unit_model(None, {}) is None
    over = assign_units(item("territorial", "street_office", code="010101"), place(), registry,
                        unit_model=unit_model, text="小区路面破损")
    assert over.primary.id == "district_cgw@110105" and "overrides" in over.rule and over.confidence < 1.0
    agree = assign_units(item("district_functional", "district_cgw", code="010101"), place(), registry,
                         unit_model=unit_model, text="路面破损")
    assert agree.primary.id == "district_cgw@110105" and agree.confidence == 1.0 and "agrees" in agree.rule
    # Too little history (one order) does not override; it lowers the confidence.
    weak = assign_units(item("district_functional", "district_cgw", code="010103"), place(), registry,
                        unit_model=unit_model, text="路灯不亮")
    assert weak.primary.id == "district_cgw@110105" and weak.confidence < 1.0
