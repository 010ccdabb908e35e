"""The Beijing units registry: contents, resolution, validation and its build script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dispatch_nlp.errors import CatalogError
from dispatch_nlp.knowledge.units import (
    CITY_UNIT_TYPES,
    DISTRICT_BUREAU_TYPES,
    UTILITY_UNIT_TYPES,
    Unit,
    UnitsRegistry,
    read_unit_type_names,
)
from dispatch_nlp.resources import catalog_dir

CATALOG = catalog_dir()
HEADER = "id\tname\tshort_names\tlevel\tunit_type\tdistrict_code\tparent\n"


@pytest.fixture(scope="module")
def reg(gaz) -> UnitsRegistry:
    return UnitsRegistry.load(gazetteer=gaz)


def test_default_registry_validates(gaz, reg):
    assert UnitsRegistry.validate(CATALOG / "units-beijing.tsv", gaz) == []
    counts = reg.counts()
    assert counts["city"] == len(CITY_UNIT_TYPES)
    assert counts["utility"] == len(UTILITY_UNIT_TYPES)
    assert counts["district"] == 16 * (len(DISTRICT_BUREAU_TYPES) + 1) + 1  # bureaus, sub-centres, 经开区
    assert counts["street"] == gaz.counts()["street"]


def test_every_street_has_an_office(gaz, reg):
    for street in gaz.streets():
        office = reg.resolve("street_office", street_code=street.code)
        assert office is not None, street
        assert office.parent and reg.has_unit(office.parent)
        assert street.name in office.short_names


def test_every_district_has_every_bureau(gaz, reg):
    for d in gaz.districts():
        assert reg.resolve("district_subcentre", district_code=d.code).id == f"district_subcentre@{d.district_code}"
        for utype in DISTRICT_BUREAU_TYPES:
            assert reg.resolve(utype, district_code=d.district_code).id == f"{utype}@{d.district_code}"


def test_names(reg):
    assert reg.get("street_office@110105004").name == "北京市朝阳区三里屯街道办事处"
    assert reg.get("street_office@110113101").name == "北京市顺义区高丽营镇人民政府"
    assert reg.get("street_office@110111208").name == "北京市房山区霞云岭乡人民政府"
    assert reg.get("street_office@110105023").name == "北京市朝阳区将台地区办事处"
    assert "将台乡政府" in reg.get("street_office@110105023").short_names
    assert reg.get("district_cgw@110105").name == "北京市朝阳区城市管理委员会"
    assert "朝阳区城管委" in reg.get("district_cgw@110105").short_names
    assert reg.get("district_sthj@110105").name == "北京市生态环境局朝阳分局"
    assert reg.get("district_ghzr@110105").name == "北京市规划和自然资源委员会朝阳分局"
    assert reg.get("district_jtzd@110105").name == "北京市公安局公安交通管理局朝阳交通支队"
    assert reg.get("district_gafj@110105").name == "北京市公安局朝阳分局"
    assert reg.get("district_tax@110105").name == "国家税务总局北京市朝阳区税务局"
    assert reg.lookup("朝阳区城管委") == ["district_cgw@110105"]


def test_parents(reg):
    assert reg.get("district_cgw@110105").parent == "city_cgw"
    assert reg.get("district_jtzd@110105").parent == "city_jgj"
    assert reg.get("street_office@110105004").parent == "district_subcentre@110105"
    assert reg.get("street_office@110115403").parent == "district_subcentre@bda"
    assert reg.get("city_rsj").parent is None


def test_resolve_each_level(reg):
    # street: 9- or 12-digit street code, or a community code
    assert reg.resolve("street_office", street_code="110105004").id == "street_office@110105004"
    assert reg.resolve("street_office", street_code="110105004001").id == "street_office@110105004"
    assert reg.resolve("street_office", district_code="110105") is None
    assert reg.resolve("street_office", street_code="110105999000") is None
    # district: from a district code (6 or 12 digits) or from a street
    assert reg.resolve("district_zjw", district_code="110108000000").id == "district_zjw@110108"
    assert reg.resolve("district_zjw", street_code="110108010001").id == "district_zjw@110108"
    assert reg.resolve("district_subcentre", district_code="bda").id == "district_subcentre@bda"
    # the 经开区 reaches its own sub-centre; bureaus it lacks fall back to 大兴区's
    assert reg.resolve("district_subcentre", street_code="110115403000").id == "district_subcentre@bda"
    assert reg.resolve("district_cgw", street_code="110115403000").id == "district_cgw@110115"
    assert reg.resolve("district_cgw") is None
    # city and utility: nothing needed
    assert reg.resolve("city_rsj").id == "city_rsj"
    assert reg.resolve("utility_water", district_code="110105").id == "utility_water"
    assert reg.resolve("city_nothing") is None and reg.resolve("Bad Type") is None
    assert reg.has_unit_type("district_cgw") and not reg.has_unit_type("district_nothing")
    assert isinstance(reg.get("city_rsj"), Unit) and "city_rsj" in reg and reg.get("x") is None


def test_registry_file_is_up_to_date(tmp_path):
    spec = importlib.util.spec_from_file_location("build_units", CATALOG / "build_units.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "units.tsv"
    assert mod.main(["--gazetteer", str(CATALOG / "gazetteer-beijing.tsv"), "-o", str(out)]) == 0
    assert out.read_bytes() == (CATALOG / "units-beijing.tsv").read_bytes()


def test_unit_type_names_cover_the_vocabulary():
    names = read_unit_type_names()
    assert list(names) == ["city", "utility", "district"]
    assert set(names["city"]) == CITY_UNIT_TYPES
    assert set(names["utility"]) == UTILITY_UNIT_TYPES
    assert set(names["district"]) == DISTRICT_BUREAU_TYPES  # the sub-centre is named per district
    assert names["city"]["city_rsj"] == "北京市人力资源和社会保障局"
    assert names["district"]["district_cgw"] == "城市管理委员会"


def test_unit_type_names_file_problems(tmp_path):
    bad = tmp_path / "types.tsv"
    bad.write_text(
        "unit_type\tlevel\tname\ncity_rsj\tdistrict\tx\ncity_nothing\tcity\tx\nstreet_office\tstreet\tx\n"
        "city_cgw\tcity\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as e:
        read_unit_type_names(bad)
    assert len(e.value.problems) == 4
    bad.write_text("type\tname\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="header"):
        read_unit_type_names(bad)


# -- validation ---------------------------------------------------------------------------------
GOOD = [
    "city_cgw\t北京市城市管理委员会\t市城管委\tcity\tcity_cgw\t\t",
    "district_subcentre@110105\t朝阳分中心\t\tdistrict\tdistrict_subcentre\t110105\t",
    "district_cgw@110105\t北京市朝阳区城市管理委员会\t朝阳区城管委\tdistrict\tdistrict_cgw\t110105\tcity_cgw",
    "street_office@110105004\t三里屯街道办事处\t三里屯\tstreet\tstreet_office\t110105\tdistrict_subcentre@110105",
]


def _units(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "u.tsv"
    path.write_text(HEADER + "\n".join([*GOOD, *extra]) + "\n", encoding="utf-8")
    return path


def test_mini_registry_valid(tmp_path, gaz):
    path = _units(tmp_path)
    assert UnitsRegistry.validate(path, gaz) == []
    assert UnitsRegistry.load(path).counts() == {"city": 1, "district": 2, "street": 1, "utility": 0}


@pytest.mark.parametrize(
    "row, word",
    [
        ("city_cgw\t重复\t\tcity\tcity_cgw\t\t", "duplicate unit id"),
        ("\t无名\t\tcity\tcity_x\t\t", "empty unit id"),
        ("city_y\t\t\tcity\tcity_y\t\t", "empty name"),
        ("city_z\t甲\t\tprovince\tcity_z\t\t", "level"),
        ("Weird\t乙\t\tcity\tWeird\t\t", "unit type"),
        ("city_w\t丙\t\tdistrict\tcity_w\t\t", "belongs to level city"),
        ("district_jw@11010\t丁\t\tdistrict\tdistrict_jw\t11010\t", "district code"),
        ("city_v\t戊\t\tcity\tcity_v\t110105\t", "leave it empty"),
        ("district_jw@110106\t己\t\tdistrict\tdistrict_jw\t110105\t", "does not match"),
        ("street_office@11010500\t庚\t\tstreet\tstreet_office\t110105\t", "street office id"),
        ("street_office@110106001\t辛\t\tstreet\tstreet_office\t110105\t", "outside its district"),
        ("district_mzj@110105\t壬\t\tdistrict\tdistrict_mzj\t110105\tcity_mzj", "not a unit in the registry"),
        ("city_u\t癸", "columns"),
    ],
)
def test_each_validation_error(tmp_path, row, word):
    path = _units(tmp_path, row)
    problems = UnitsRegistry.validate(path)
    assert len(problems) == 1, problems
    assert word in problems[0] and f"{path}:6:" in problems[0], problems
    with pytest.raises(CatalogError) as e:
        UnitsRegistry.load(path)
    assert e.value.problems == problems


def test_parent_cycle(tmp_path):
    path = _units(
        tmp_path,
        "city_a\t甲\t\tcity\tcity_a\t\tcity_b",
        "city_b\t乙\t\tcity\tcity_b\t\tcity_a",
    )
    problems = UnitsRegistry.validate(path)
    assert len(problems) == 1 and "cycle" in problems[0]


def test_checked_against_gazetteer(tmp_path, gaz):
    path = _units(
        tmp_path,
        "street_office@110105999\t无此街道\t\tstreet\tstreet_office\t110105\tdistrict_subcentre@110105",
        "district_jw@110199\t无此区\t\tdistrict\tdistrict_jw\t110199\t",
    )
    assert UnitsRegistry.validate(path) == []
    problems = UnitsRegistry.validate(path, gaz)
    assert len(problems) == 2
    assert any(":6:" in p and "no street" in p for p in problems)
    assert any(":7:" in p and "110199" in p for p in problems)


def test_bad_header_and_missing_file(tmp_path):
    bad = tmp_path / "h.tsv"
    bad.write_text("id\tname\n", encoding="utf-8")
    assert "header" in UnitsRegistry.validate(bad)[0]
    assert "cannot read" in UnitsRegistry.validate(tmp_path / "missing.tsv")[0]
    with pytest.raises(CatalogError):
        UnitsRegistry.load(tmp_path / "missing.tsv")
