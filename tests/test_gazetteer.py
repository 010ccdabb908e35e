"""The Beijing gazetteer, its places table, its loader's validation and its build script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dispatch_nlp.errors import CatalogError
from dispatch_nlp.knowledge.gazetteer import Division, Gazetteer, Place, normalize_code
from dispatch_nlp.resources import catalog_dir

CATALOG = catalog_dir()
HEADER = "code\tname\tlevel\tparent\tshort_names\taliases\n"
PLACES_HEADER = "name\tcode\tkind\taliases\tunit\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _mini(tmp_path: Path, extra: str = "") -> Path:
    rows = [
        "110105000000\t朝阳区\tdistrict\t\t朝阳\t",
        "110105004000\t三里屯街道\tstreet\t110105000000\t三里屯\t",
        "110105004001\t光明社区居委会\tcommunity\t110105004000\t光明社区|光明\t",
        "110105023000\t将台地区\tstreet\t110105000000\t将台\t将台乡",
        "110105023001\t光明社区居委会\tcommunity\t110105023000\t光明社区|光明\t",
    ]
    return _write(tmp_path / "g.tsv", HEADER + "\n".join(rows) + "\n" + extra)


# -- the shipped files --------------------------------------------------------------------------
def test_default_files_validate():
    assert Gazetteer.validate(CATALOG / "gazetteer-beijing.tsv") == []
    gaz = Gazetteer.load()
    assert gaz.validate_places(CATALOG / "places-beijing.tsv") == []


def test_counts(gaz):
    counts = gaz.counts()
    assert counts["district"] == 16
    assert 340 <= counts["street"] <= 360
    assert 7400 <= counts["community"] <= 7700
    assert counts["places"] >= 100
    names = {d.name for d in gaz.districts()}
    assert {
        "东城区",
        "西城区",
        "朝阳区",
        "海淀区",
        "丰台区",
        "石景山区",
        "门头沟区",
        "房山区",
        "通州区",
        "顺义区",
        "昌平区",
        "大兴区",
        "怀柔区",
        "平谷区",
        "密云区",
        "延庆区",
    } == names


def test_file_is_compact_and_sorted():
    path = CATALOG / "gazetteer-beijing.tsv"
    assert path.stat().st_size < 1_000_000
    codes = [line.split("\t", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert codes == sorted(codes)


def test_hierarchy(gaz):
    c = gaz.get("110113007201")
    assert c == Division("110113007201", "北孙各庄村委会", "community", "110113007000", ("北孙各庄村", "北孙各庄"), ())
    assert gaz.district_of(c.code).name == "顺义区"
    assert gaz.street_of(c.code).name == "牛栏山地区"
    assert [d.name for d in gaz.ancestors(c.code)] == ["顺义区", "牛栏山地区"]
    assert gaz.ancestors("110113000000") == []
    assert gaz.street_of("110113000000") is None
    assert gaz.get("110113") == gaz.get("110113000000") and gaz.get("110113007").name == "牛栏山地区"
    assert gaz.get("999999999999") is None and gaz.get("bad") is None
    assert len(gaz.streets("110105")) == len(gaz.children("110105000000")) > 30
    assert all(s.level == "street" for s in gaz.streets())
    assert "110105" in gaz and "x" not in gaz


def test_short_names_and_aliases(gaz):
    assert gaz.lookup("学院路")[0] == "110108010000"  # 学院路街道 (also a road of 海淀区)
    assert gaz.lookup("朝阳") == ["110105000000"]
    assert gaz.lookup("牛栏山") == ["110113007000"] == gaz.lookup("牛栏山镇")  # 地区 ↔ 镇
    assert gaz.lookup("将台乡") == ["110105023000"]  # 地区 ↔ 乡 in 朝阳
    assert gaz.lookup("北孙各庄村") == gaz.lookup("北孙各庄") == ["110113007201"]
    assert "110101014019" in gaz.lookup("光明社区") and "110101014019" in gaz.lookup("光明")
    assert gaz.lookup("建国门外") == ["110105001000"]
    assert gaz.lookup("经开区") == ["110115403000"]
    # a street's bare short name never shadows its district's: 海淀街道, 密云镇
    assert gaz.lookup("海淀") == ["110108000000"] and gaz.lookup("密云") == ["110118000000"]
    assert gaz.lookup("海淀街道") == ["110108012000"]
    for d in gaz:
        assert all(len(s) >= 2 and s != d.name for s in d.short_names), d


def test_shared_names_return_every_code(gaz):
    codes = gaz.lookup("光明社区居委会")
    assert len(codes) >= 2
    assert all(gaz.get(c).name == "光明社区居委会" for c in codes)
    assert len({gaz.street_of(c).code for c in codes}) == len(codes)
    # full-name matches come before short-name matches
    assert gaz.get(gaz.lookup("光明")[0]).name.startswith("光明")


def test_places(gaz):
    assert gaz.lookup("国贸") == ["110105001000"]
    assert gaz.lookup("798") == ["110105011000"]
    assert set(gaz.lookup("亦庄")) == {"110115004000", "110115403000"}  # 亦庄地区 and the 经开区
    bda = [p for p in gaz.find_places("亦庄开发区") if p.kind == "zone"]
    assert bda and bda[0].unit == "district_subcentre@bda" and bda[0].code == "110115403000"
    kinds = {p.kind for p in gaz.places}
    assert kinds == {"zone", "landmark", "road", "compound", "linear"}
    for name in [
        "中关村",
        "望京",
        "回龙观",
        "天通苑",
        "CBD",
        "金融街",
        "西单",
        "王府井",
        "三里屯",
        "首都机场",
        "大兴机场",
        "北京站",
        "北京西站",
        "北京南站",
        "奥林匹克公园",
    ]:
        assert gaz.find_places(name), name


def test_surfaces(gaz):
    kinds = {}
    for surface, code, kind in gaz.surfaces():
        assert surface and code in gaz
        kinds[kind] = kinds.get(kind, 0) + 1
    assert set(kinds) == {"name", "short", "alias", "place"}
    assert kinds["name"] == len(gaz)


def test_normalize_code():
    assert normalize_code("110105") == "110105000000"
    assert normalize_code(110105001) == "110105001000"
    assert normalize_code("11010500100") is None and normalize_code("１１０１０５") is None


# -- user places --------------------------------------------------------------------------------
def test_user_places_merged(tmp_path):
    user = _write(tmp_path / "u.tsv", "# my places\n" + PLACES_HEADER + "幸福小区\t110105004\tcompound\t幸福里\t\n")
    gaz = Gazetteer.load(user_places=user)
    assert gaz.lookup("幸福里") == ["110105004000"]
    assert gaz.find_places("幸福小区") == [Place("幸福小区", "110105004000", "compound", ("幸福里",), None)]
    assert gaz.lookup("国贸")  # the shipped places stay
    only = Gazetteer.load(_mini(tmp_path), user_places=user)
    assert only.counts()["places"] == 1


def test_bad_user_places_reported(tmp_path):
    user = _write(
        tmp_path / "u.tsv",
        PLACES_HEADER
        + "未知小区\t110199001000\tcompound\t\t\n"  # line 2: unknown code
        + "坏码小区\t1101x\tcompound\t\t\n"  # line 3: malformed code
        + "怪小区\t110105004000\tcastle\t\t\n"  # line 4: bad kind
        + "\t110105004000\tcompound\t\t\n"  # line 5: empty name
        + "好小区\t110105004000\tcompound\t\t\n"
        + "好小区\t110105004000\tcompound\t\t\n"  # line 7: duplicate
        + "坏单位\t110105004000\tzone\t\tBad Unit!\n",  # line 8: malformed unit
    )
    with pytest.raises(CatalogError) as e:
        Gazetteer.load(user_places=user)
    problems = e.value.problems
    assert str(user) in e.value.source
    for lineno, word in [
        (2, "not a division"),
        (3, "malformed code"),
        (4, "kind"),
        (5, "empty place name"),
        (7, "duplicate"),
        (8, "unit id"),
    ]:
        assert any(f":{lineno}:" in p and word in p for p in problems), (lineno, problems)
    assert len(problems) == 6


# -- validation ---------------------------------------------------------------------------------
def test_mini_gazetteer_valid(tmp_path):
    path = _mini(tmp_path)
    assert Gazetteer.validate(path) == []
    gaz = Gazetteer.load(path)
    assert gaz.counts() == {"district": 1, "street": 2, "community": 2, "places": 0}
    assert gaz.lookup("光明") == ["110105004001", "110105023001"]


@pytest.mark.parametrize(
    "row, word",
    [
        ("1101050040\t坏\tstreet\t110105000000\t\t", "malformed code"),
        ("110105004002\t\tcommunity\t110105004000\t\t", "empty name"),
        ("110105004002\t甲\tcommunity\t110105023000\t\t", "does not nest"),
        ("110105009000\t乙街道\tstreet\t110106000000\t\t", "does not nest"),
        ("110105000000\t朝阳区\tdistrict\t\t\t", "duplicate code"),
        ("110105024001\t丙社区\tcommunity\t110105024000\t\t", "not in the file"),
        ("110105004003\t丁\tvillage\t110105004000\t\t", "level"),
        ("110105004000\t戊\tdistrict\t\t\t", "shape"),
        ("110105004004\t己", "columns"),
        ("110105004005\t庚\tcommunity\t1101\t\t", "malformed parent"),
    ],
)
def test_each_validation_error(tmp_path, row, word):
    path = _mini(tmp_path, row + "\n")
    problems = Gazetteer.validate(path)
    assert len(problems) == 1, problems
    assert word in problems[0] and f"{path}:7:" in problems[0]
    with pytest.raises(CatalogError) as e:
        Gazetteer.load(path)
    assert e.value.problems == problems


def test_all_problems_in_one_run(tmp_path):
    path = _mini(tmp_path, "1\ta\tstreet\t\t\t\n110105004001\t重复\tcommunity\t110105004000\t\t\n")
    assert len(Gazetteer.validate(path)) == 2


def test_bad_header_and_missing_file(tmp_path):
    assert "header" in Gazetteer.validate(_write(tmp_path / "h.tsv", "a\tb\n"))[0]
    assert "cannot read" in Gazetteer.validate(tmp_path / "missing.tsv")[0]


# -- the build script ---------------------------------------------------------------------------
def _build_module():
    spec = importlib.util.spec_from_file_location("build_gazetteer", CATALOG / "build_gazetteer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_build_script_on_fake_source(tmp_path):
    src = tmp_path / "dist"
    src.mkdir()
    _write(src / "areas.csv", 'code,name,cityCode,provinceCode\n110105,"朝阳区",1101,11\n120101,"和平区",1201,12\n')
    _write(
        src / "streets.csv",
        "code,name,areaCode,provinceCode,cityCode\n"
        '110105023,"将台地区",110105,11,1101\n110105001,"建外街道",110105,11,1101\n'
        '110113110,"张镇",110113,11,1101\n120101001,"劝业场街道",120101,12,1201\n',
    )
    _write(
        src / "villages.csv",
        "code,name,streetCode,provinceCode,cityCode,areaCode\n"
        '110105023001,"光明社区居委会",110105023,11,1101,110105\n'
        '110105023201,"北孙各庄村委会",110105023,11,1101,110105\n'
        '110105023202,"牌坊村村民委员会",110105023,11,1101,110105\n'
        '110105023203,"时村",110105023,11,1101,110105\n'
        '110105023498,"将台地区虚拟社区",110105023,11,1101,110105\n'
        '110105001001,"朝阳社区居委会",110105001,11,1101,110105\n',
    )
    out = tmp_path / "out.tsv"
    assert _build_module().main(["--province", "11", "-o", str(out), "--source", str(src)]) == 0
    assert out.read_text(encoding="utf-8") == HEADER + "".join(
        line + "\n"
        for line in [
            "110105000000\t朝阳区\tdistrict\t\t朝阳\t",
            "110105001000\t建外街道\tstreet\t110105000000\t建外\t建国门外街道|建国门外",
            "110105001001\t朝阳社区居委会\tcommunity\t110105001000\t朝阳社区\t",
            "110105023000\t将台地区\tstreet\t110105000000\t将台\t将台乡",
            "110105023001\t光明社区居委会\tcommunity\t110105023000\t光明社区|光明\t",
            "110105023201\t北孙各庄村委会\tcommunity\t110105023000\t北孙各庄村|北孙各庄\t",
            "110105023202\t牌坊村村民委员会\tcommunity\t110105023000\t牌坊村|牌坊\t",
            "110105023203\t时村\tcommunity\t110105023000\t\t",
            "110105023498\t将台地区虚拟社区\tcommunity\t110105023000\t\t",
            # 张镇 of 110113 has no district row in this fake source
            "110113110000\t张镇\tstreet\t110113000000\t\t",
        ]
    )
    problems = Gazetteer.validate(out)
    assert len(problems) == 1 and "110113000000" in problems[0]


def test_short_name_rules():
    short = _build_module().short_names
    assert short("学院路街道", "street") == ["学院路"]
    assert short("牛栏山镇", "street") == ["牛栏山"]
    assert short("于家务回族乡", "street") == ["于家务"]
    assert short("檀营满族蒙古族乡", "street") == ["檀营"]
    assert short("张镇", "street") == []
    assert short("光明社区居委会", "community") == ["光明社区", "光明"]
    assert short("北孙各庄村委会", "community") == ["北孙各庄村", "北孙各庄"]
    assert short("翠林一里社区", "community") == ["翠林一里"]
    assert short("朝阳区", "district") == ["朝阳"]
    assert short("浦东新区", "district") == ["浦东"]


# -- the built places (catalog/build_places.py from catalog/places-beijing-sources.tsv) ------------
def _load_build_places():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "catalog" / "build_places.py"
    spec = importlib.util.spec_from_file_location("build_places", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_source_place_nests_in_the_gazetteer_and_the_table_is_built():
    bp = _load_build_places()
    text, problems = bp.build()
    assert problems == []
    assert bp.TABLE.read_text(encoding="utf-8") == text  # rebuilt after every source change
    g = Gazetteer.load()
    districts = {d.name: d.code for d in g.districts()}
    built = [ln.split("\t") for ln in text.split(bp.BUILT_MARK)[1].splitlines() if ln.strip()]
    assert len(built) >= 100
    by_name: dict[str, set[str]] = {}
    for name, code, *_ in built:
        assert g.get(code) is not None
        by_name.setdefault(name, set()).add(code)
    for f in bp._rows(bp.SOURCES):
        name, dnames, sname = f[0], f[1], f[2]
        if name not in by_name:
            continue  # the curated head names it
        codes = by_name[name]
        assert {c[:6] for c in codes} == {districts[d][:6] for d in dnames.split("|")}
        if sname:
            (code,) = codes
            assert g.get(code).name == sname and g.get(code).parent == districts[dnames]


def test_a_broken_source_row_is_named_and_not_built(tmp_path):
    bp = _load_build_places()
    src = tmp_path / "src.tsv"
    src.write_text("name\tdistrict\tstreet\tkind\taliases\n"
                   "某公园\t海淀区\t望京街道\tlandmark\t\n"  # 望京街道 lies in 朝阳区
                   "某河\t海淀区\t\tlinear\t\n", encoding="utf-8")  # a linear feature needs two districts
    text, problems = bp.build(sources=src)
    assert len(problems) == 2 and "某公园" in problems[0] and "某河" in problems[1]
    assert "某公园" not in text.split(bp.BUILT_MARK)[1]


def test_a_linear_feature_is_decided_by_a_co_mentioned_district_and_names_no_street_alone():
    from dispatch_nlp.components.jurisdiction import GazetteerJurisdiction
    from dispatch_nlp.pipeline import Doc
    from dispatch_nlp.text.segment import Segmenter
    from dispatch_nlp.types import WorkOrder

    g = Gazetteer.load()
    stage = GazetteerJurisdiction(g)
    seg = Segmenter({s for s, _, k in g.surfaces() if len(s) >= 2 and k != "short"})

    def ev(text):
        doc = Doc.from_order(WorkOrder(text=text))
        doc.tokens = seg.tokenize(doc.text)
        return stage.evidence(doc)

    assert ev("萧太后河通州区这一段的岸边有人倒垃圾。").code == "110112000000"
    alone = ev("永定河河道里有人非法采砂。")
    assert alone.code is None and len(alone.ambiguous) >= 2
    assert all(m.linear for m in alone.mentions if m.surface == "永定河")
