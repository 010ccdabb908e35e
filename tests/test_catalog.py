"""The dispatch catalog: the shipped default, every validation error, diff, migration and the CLI."""

from __future__ import annotations

import argparse
import copy
import csv
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from dispatch_nlp.cli import catalog as cli_catalog
from dispatch_nlp.errors import CatalogError
from dispatch_nlp.knowledge.catalog import DUTY_TYPES, MIN_KEYWORDS, Catalog, diff, validate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEFAULT = ROOT / "catalog" / "beijing-12345.yaml"
REFERENCE_CSV = ROOT.parent / "shared" / "reference" / "message_taxonomy_3level.csv"

# The first-level categories of the reference taxonomy, in its order.
L1_NAMES = [
    "城乡建设",
    "党务政务",
    "国土资源",
    "环境保护",
    "纪检监察",
    "交通运输",
    "经济管理",
    "科技与信息产业",
    "民政",
    "农村农业",
    "商贸旅游",
    "卫生计生",
    "政法",
    "教育文体",
    "劳动和社会保障",
]
GENERIC_WORDS = {"问题", "反映", "希望", "投诉", "咨询", "情况", "处理", "要求", "解决", "来电", "其他"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


# ---- the shipped default -------------------------------------------------------------------------------


def test_default_catalog_loads_and_validates(catalog):
    assert catalog.id == "beijing-12345"
    assert catalog.version == "2026.11"
    assert validate(DEFAULT) == []
    assert len(catalog.leaves()) >= 400
    assert all(item.level == 3 for item in catalog.leaves())
    assert catalog.settings["territorial_dispatch"] == "street"
    assert catalog.appeal_types == ("咨询", "求助", "投诉", "举报", "建议", "表扬", "其他")
    assert {k: catalog.deadline_hours(k) for k in catalog.response_levels} == {
        "2h": 2,
        "24h": 24,
        "7d": 168,
        "15d": 360,
    }


def test_first_level_matches_reference_taxonomy(catalog):
    names = [item.name for item in catalog.children(None)]
    assert names == L1_NAMES
    assert [item.code for item in catalog.children(None)] == [f"{i:02d}" for i in range(1, 16)]
    if REFERENCE_CSV.exists():  # the shared folder is beside the checkout, not inside it
        with REFERENCE_CSV.open(encoding="utf-8") as f:
            ref = list(dict.fromkeys(row["level1"] for row in csv.DictReader(f)))
        assert names == ref


def test_every_leaf_is_dispatchable(catalog):
    for item in catalog.leaves():
        assert item.response_level in catalog.response_levels, item.label
        assert item.duty in DUTY_TYPES, item.label
        assert len(set(item.keywords)) >= MIN_KEYWORDS, item.label
        if item.duty in ("emergency_transfer", "out_of_scope"):
            assert item.unit_type is None and not item.unit_ids, item.label
        else:
            assert item.unit_type or item.unit_ids, item.label
    duties = Counter(item.duty for item in catalog.leaves())
    assert set(duties) == set(DUTY_TYPES)
    numbers = {item.emergency["transfer_to"] for item in catalog.leaves() if item.emergency}
    assert numbers == {"110", "119", "120", "122"}


def test_keywords_are_discriminative(catalog):
    counts = Counter(kw for item in catalog.leaves() for kw in item.keywords)
    shared = {kw: n for kw, n in counts.items() if n > 2}
    assert not shared, f"keywords on more than two leaves: {shared}"
    assert not GENERIC_WORDS & set(counts)


def test_sibling_names_unique_and_codes_nest(catalog):
    for parent in [None, *catalog.items]:
        names = [c.name for c in catalog.children(parent)]
        assert len(names) == len(set(names))
    for code, item in catalog.items.items():
        assert len(code) == 2 * item.level
        assert item.parent == (code[:-2] or None)


def test_build_script_output_equals_committed_yaml():
    spec = importlib.util.spec_from_file_location("build_catalog", ROOT / "catalog" / "build_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == DEFAULT.read_text(encoding="utf-8"), "run python catalog/build_catalog.py"


def test_default_migration_from_2026_05(catalog):
    assert catalog.migrate("012501", "2026.05") == catalog.by_path("城乡建设 > 供热 > 暖气不热").code
    assert catalog.migrate("012505", "2026.05") is None
    assert catalog.migrate("010101", "2026.05") == "010101"  # unchanged codes pass through
    for new in catalog.migrations["2026.05"].values():
        assert new is None or new in catalog


# ---- the API -------------------------------------------------------------------------------------------------


def test_lookup_api(catalog):
    item = catalog.get("010101")
    assert item.path == ("城乡建设", "安全生产", "事故处理")
    assert item.label == "城乡建设 > 安全生产 > 事故处理 (010101)"
    assert item.is_leaf and item.parent == "0101" and item.level == 3
    assert catalog.by_path(["城乡建设", "安全生产", "事故处理"]) is item
    assert catalog.by_path("城乡建设/安全生产") is catalog.get("0101")
    assert item in catalog.children("0101")
    assert not catalog.get("01").is_leaf
    with pytest.raises(KeyError, match="unknown catalog code '999999'"):
        catalog.get("999999")
    with pytest.raises(KeyError, match="migrate"):
        catalog.get("012501")  # a 2026.05 code: the message points at migrate()
    with pytest.raises(KeyError):
        catalog.by_path("城乡建设 > 没有这一项")
    with pytest.raises(KeyError, match="known previous versions"):
        catalog.migrate("010101", "1999.01")
    with pytest.raises(KeyError):
        catalog.deadline_hours("3d")


def test_inheritance_from_defaults():
    data = _base()
    data["categories"][0]["children"][0]["defaults"] = {"response_level": "24h", "cooperating": ["district_cgw"]}
    leaf = Catalog.from_dict(data).get("010101")
    assert leaf.response_level == "24h"  # nearest defaults win
    assert leaf.duty == "territorial" and leaf.unit_type == "street_office"  # from the first level
    assert leaf.cooperating == ("district_cgw",)


def test_to_dict_round_trip_and_fingerprint(catalog, tmp_path):
    again = Catalog.from_dict(copy.deepcopy(catalog.to_dict()))
    assert again.fingerprint() == catalog.fingerprint()
    assert len(catalog.fingerprint()) == 16
    path = catalog.save(tmp_path / "c.json")
    assert Catalog.load(path).fingerprint() == catalog.fingerprint()
    v1 = Catalog.load(FIXTURES / "catalog_v1.yaml")
    assert Catalog.load(v1.save(tmp_path / "v1.yaml")).fingerprint() == v1.fingerprint()
    assert v1.fingerprint() != Catalog.load(FIXTURES / "catalog_v2.yaml").fingerprint()


# ---- validation: one test per error ------------------------------------------------------------------------


def _leaf(code="010101", name="事故处理", **extra):
    return {
        "code": code,
        "name": name,
        "keywords": ["生产安全事故", "工地出事故", "脚手架倒塌", "坍塌事故", "事故善后"],
        **extra,
    }


def _base(**leaf_extra) -> dict:
    return {
        "catalog": "t",
        "version": "1.0",
        "categories": [
            {
                "code": "01",
                "name": "城乡建设",
                "defaults": {"response_level": "7d", "duty": "territorial", "unit_type": "street_office"},
                "children": [{"code": "0101", "name": "安全生产", "children": [_leaf(**leaf_extra)]}],
            }
        ],
    }


def _one(problems: list[str], *needles: str) -> str:
    hits = [p for p in problems if all(n in p for n in needles)]
    assert hits, f"no problem with {needles} in {problems}"
    return hits[0]


def _with_leaf(leaf: dict) -> dict:
    data = _base()
    data["categories"][0]["children"][0]["children"] = [leaf]
    return data


def test_base_is_valid():
    assert validate(_base()) == []


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text('version: "1.0"\ncategories:\n  - code: "01"\n    name: [unclosed\n', encoding="utf-8")
    _one(validate(path), "line", "YAML syntax error")


def test_json_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"version": "1.0",\n "categories": [}\n', encoding="utf-8")
    _one(validate(path), "line 2", "JSON syntax error")


def test_unreadable_file():
    _one(validate(FIXTURES / "no-such-catalog.yaml"), "cannot read")


def test_missing_version():
    data = _base()
    del data["version"]
    _one(validate(data), "missing 'version'")


def test_version_written_as_number():
    data = _base()
    data["version"] = 2026.1
    _one(validate(data), "quote it")


def test_duplicate_codes():
    data = _base()
    data["categories"][0]["children"][0]["children"].append(_leaf(name="另一项"))
    msg = _one(validate(data), "duplicate code 010101")
    assert "城乡建设 > 安全生产 > 事故处理 (010101)" in msg  # names the item it clashes with


def test_malformed_code():
    data = _with_leaf(_leaf(code="01011"))
    _one(validate(data), "malformed code '01011'", "城乡建设 > 安全生产")


def test_code_not_prefixed_by_parent():
    data = _with_leaf(_leaf(code="020101"))
    _one(validate(data), "must be its parent's code 0101")


def test_code_read_as_number():
    data = _with_leaf(_leaf(code=10101))
    _one(validate(data), "read as a number", "quote it")


def test_too_deep():
    data = _base()
    data["categories"][0]["children"][0]["children"][0]["children"] = [_leaf(code="01010101", name="第四级")]
    _one(validate(data), "at most 3 levels")


def _flat(items: list[dict]) -> dict:
    return {"catalog": "t", "version": "1.0", "items": items}


def test_flat_form_is_accepted():
    items = [
        {
            "code": "01",
            "name": "城乡建设",
            "defaults": {"response_level": "7d", "duty": "territorial", "unit_type": "street_office"},
        },
        {"code": "0101", "name": "安全生产", "parent": "01"},
        {**_leaf(), "parent": "0101"},
    ]
    cat = Catalog.from_dict(_flat(items))
    assert cat.get("010101").path == ("城乡建设", "安全生产", "事故处理")


def test_flat_broken_parent_link():
    items = [{"code": "01", "name": "城乡建设"}, {**_leaf(code="0101", name="安全生产"), "parent": "09"}]
    _one(validate(_flat(items)), "parent '09' is not in the catalog")


def test_flat_cycle():
    items = [
        {"code": "01", "name": "城乡建设"},
        {"code": "0101", "name": "甲", "parent": "0102"},
        {"code": "0102", "name": "乙", "parent": "0101"},
    ]
    msg = _one(validate(_flat(items)), "cycle")
    assert "0101" in msg and "0102" in msg


def test_missing_response_level():
    data = _base()
    del data["categories"][0]["defaults"]["response_level"]
    _one(validate(data), "城乡建设 > 安全生产 > 事故处理 (010101)", "no response level")


def test_missing_duty():
    data = _base()
    del data["categories"][0]["defaults"]["duty"]
    _one(validate(data), "事故处理 (010101)", "no duty type")


def test_unknown_response_level():
    msg = _one(validate(_base(response_level="3d")), "unknown response level '3d'")
    assert "010101" in msg
    # a bad default is reported once, where it is written, not on every descendant
    data = _base()
    data["categories"][0]["defaults"]["response_level"] = "1w"
    assert sum("'1w'" in p for p in validate(data)) == 1


def test_unknown_duty_type():
    _one(validate(_base(duty="territory")), "unknown duty type 'territory'", "did you mean 'territorial'")


def test_unknown_unit_type_without_registry():
    _one(validate(_base(unit_type="district_cgv")), "unknown unit type 'district_cgv'", "district_cgw")


def test_unknown_unit_id_without_registry():
    problems = validate(_base(duty="city_functional", unit_ids=["city_rjs"], unit_type=None))
    _one(problems, "unknown unit id 'city_rjs'")
    assert validate(_base(unit_ids=["street_office@110105001"], unit_type=None)) == []


def test_unknown_cooperating_unit():
    _one(validate(_base(cooperating=["district_nope"])), "unknown unit type 'district_nope'")


class _Registry:
    def __init__(self, ids, types):
        self.ids, self.types = set(ids), set(types)

    def has_unit(self, unit_id):
        return unit_id in self.ids

    def has_unit_type(self, unit_type):
        return unit_type in self.types


def test_units_checked_against_registry():
    registry = _Registry(ids={"city_rsj"}, types={"street_office", "city_rsj"})
    assert validate(_base(), units=registry) == []
    problems = validate(
        _base(duty="city_functional", unit_type=None, unit_ids=["city_tax"], cooperating=["district_rsj"]),
        units=registry,
    )
    _one(problems, "unit id 'city_tax' is not in the units registry")
    _one(problems, "cooperating unit 'district_rsj' is not in the units registry")
    _one(
        validate(_base(unit_type="district_cgw", duty="district_functional"), units=registry),
        "unit type 'district_cgw' is not in the units registry",
    )


def test_leaf_without_keywords():
    leaf = _leaf()
    del leaf["keywords"]
    _one(validate(_with_leaf(leaf)), "事故处理 (010101)", "without keywords")


def test_leaf_with_too_few_keywords():
    leaf = _leaf()
    leaf["keywords"] = ["着火", "起火", "着火"]
    problems = validate(_with_leaf(leaf))
    _one(problems, "only 2 distinct keyword(s)")
    _one(problems, "repeated keyword(s) 着火")


def test_duplicate_sibling_names():
    data = _base()
    data["categories"][0]["children"][0]["children"].append(_leaf(code="010102"))
    _one(validate(data), "duplicate name '事故处理' among siblings")


def test_emergency_number_not_allowed():
    _one(validate(_base(emergency={"transfer_to": "911", "markers": ["着火"]})), "emergency transfer number '911'")
    assert validate(_base(emergency={"transfer_to": 119, "markers": ["着火"]})) == []


def test_emergency_and_out_of_scope_need_their_blocks():
    problems = validate(_base(duty="emergency_transfer", unit_type=None))
    _one(problems, "needs emergency")
    problems = validate(_base(duty="out_of_scope", unit_type=None))
    _one(problems, "needs exclusion")
    ok = _base(duty="out_of_scope", unit_type=None, exclusion={"reason": "属于法院诉讼范围", "markers": ["起诉"]})
    assert validate(ok) == []


def test_unit_required_unless_transfer_or_out_of_scope():
    _one(validate(_base(unit_type=None)), "no handling unit")


def test_duty_must_fit_unit():
    _one(validate(_base(duty="utility")), "duty utility does not fit unit 'street_office'")


def test_migration_target_not_in_catalog():
    data = _base()
    data["previous_versions"] = [{"version": "0.9", "migration": {"0199": "010199", "0198": None, "0197": "010101"}}]
    problems = validate(data)
    assert len(problems) == 1
    _one(problems, "0199 → 010199", "not in the catalog")


def test_unknown_field_is_named():
    _one(validate(_base(keyword=["x"])), "unknown field 'keyword'", "did you mean 'keywords'")


def test_problems_name_the_file_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        'version: "1.0"\n'
        "categories:\n"
        '  - code: "01"\n'
        "    name: 城乡建设\n"
        "    defaults: {response_level: 7d, duty: territorial, unit_type: street_office}\n"
        "    children:\n"
        '      - code: "0101"\n'
        "        name: 安全生产\n"
        "        children:\n"
        '          - code: "010101"\n'
        "            name: 事故处理\n"
        "            keywords: [着火]\n",
        encoding="utf-8",
    )
    _one(validate(path), "城乡建设 > 安全生产 > 事故处理 (010101) [line 10]", "only 1 distinct keyword")


def test_load_raises_with_every_problem(tmp_path):
    data = _base(duty="territory", response_level="3d")
    data["categories"][0]["children"][0]["children"].append(_leaf(code="010102", name="少", keywords=["一"]))
    del data["version"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        Catalog.load(path)
    problems = info.value.problems
    assert len(problems) == 4
    for needle in ("missing 'version'", "unknown duty type", "unknown response level", "only 1 distinct"):
        _one(problems, needle)
    assert info.value.source == str(path)
    assert "4 problem(s)" in str(info.value)


# ---- diff and migration on the fixtures -----------------------------------------------------------------------


def test_diff_fixtures():
    old = Catalog.load(FIXTURES / "catalog_v1.yaml")
    new = Catalog.load(FIXTURES / "catalog_v2.yaml")
    result = diff(old, new)
    assert [e["code"] for e in result["added"]] == ["010202", "0103"]
    assert [e["code"] for e in result["removed"]] == ["010103"]
    assert [(e["code"], e["old_name"], e["new_name"]) for e in result["renamed"]] == [
        ("010201", "违章建筑", "违法建设"),
        ("020101", "拖欠工资", "工资发放"),
    ]
    assert result["moved"] == [
        {
            "old_code": "010101",
            "new_code": "010301",
            "old_path": "城乡建设 > 市政公用 > 冬季采暖",
            "new_path": "城乡建设 > 供热 > 暖气不热",
            "via": "migration",
        }
    ]
    assert new.migrate("010101", "1.0") == "010301"
    assert new.migrate("010103", "1.0") is None
    assert new.migrate("010102", "1.0") == "010102"
    assert diff(new, new) == {**diff(new, new), "added": [], "removed": [], "renamed": [], "moved": []}


def test_diff_reports_parent_change_under_same_code():
    old = Catalog.from_dict(
        _flat(
            [
                {
                    "code": "01",
                    "name": "甲",
                    "defaults": {"response_level": "7d", "duty": "territorial", "unit_type": "street_office"},
                },
                {"code": "0101", "name": "乙", "parent": "01"},
                {**_leaf(), "parent": "0101"},
            ]
        )
    )
    new_data = old.to_dict()
    new_data["categories"][0]["children"][0]["name"] = "乙二"
    new = Catalog.from_dict(new_data)
    result = diff(old, new)
    assert result["renamed"][0]["code"] == "0101"
    assert result["moved"] == []  # a renamed parent is a rename, not a move


# ---- CLI --------------------------------------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dispatch-nlp")
    cli_catalog.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_validate_exit_codes(tmp_path, capsys):
    assert _run(["catalog", "validate", str(FIXTURES / "catalog_v2.yaml")]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_base(duty="territory")), encoding="utf-8")
    assert _run(["catalog", "validate", str(bad)]) == 1
    assert "unknown duty type 'territory'" in capsys.readouterr().out
    assert _run(["catalog", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_validate_with_units(tmp_path, capsys):
    units = ROOT / "catalog" / "units-beijing.tsv"
    if not units.exists():
        pytest.skip("no units registry in this checkout")
    assert _run(["catalog", "validate", str(FIXTURES / "catalog_v1.yaml"), "--units", str(units)]) == 0
    assert _run(["catalog", "validate", str(FIXTURES / "catalog_v1.yaml"), "--units", str(tmp_path / "x.tsv")]) == 2


def test_cli_diff(tmp_path, capsys):
    v1, v2 = str(FIXTURES / "catalog_v1.yaml"), str(FIXTURES / "catalog_v2.yaml")
    assert _run(["catalog", "diff", v1, v2]) == 0
    out = capsys.readouterr().out
    assert "2 added, 1 removed, 2 renamed, 1 moved" in out
    assert "010101 城乡建设 > 市政公用 > 冬季采暖  →  010301 城乡建设 > 供热 > 暖气不热" in out
    assert _run(["catalog", "diff", v1, v2, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["renamed"][0]["new_name"] == "违法建设"
    assert _run(["catalog", "diff", v1, str(tmp_path / "nope.yaml")]) == 2
    out_file = tmp_path / "diff.txt"
    assert _run(["catalog", "diff", v1, v2, "-o", str(out_file)]) == 0
    assert out_file.read_text(encoding="utf-8") == out
    assert "added:\n" in out and "removed:\n" in out and "renamed:\n" in out and "moved:\n" in out


def test_cli_validate_unit_type_names(tmp_path, capsys):
    assert _run(["catalog", "validate", str(ROOT / "catalog" / "unit-types-beijing.tsv")]) == 0
    assert "OK — unit type names" in capsys.readouterr().out
    bad = tmp_path / "types.tsv"
    bad.write_text("unit_type\tlevel\tname\ncity_rsj\tdistrict\t人社局\n", encoding="utf-8")
    assert _run(["catalog", "validate", str(bad)]) == 1
    assert "'city_rsj' is not a district unit type" in capsys.readouterr().out


@pytest.mark.parametrize("field", ["response_level", "duty"])
@pytest.mark.parametrize("value", [["2h"], {"level": "2h"}])
def test_a_list_or_mapping_where_a_name_belongs_is_a_problem_not_a_crash(field, value):
    import copy

    import yaml

    from dispatch_nlp.knowledge.catalog import validate
    from dispatch_nlp.resources import catalog_dir

    data = yaml.safe_load((catalog_dir() / "beijing-12345.yaml").read_text("utf-8"))
    d = copy.deepcopy(data)
    key = "categories" if "categories" in d else "items"
    node = d[key][0]
    while node.get("children"):
        node = node["children"][0]
    node[field] = value
    problems = validate(d)
    assert any(field.replace("_", " ") in p or field in p for p in problems), problems[:5]
