#!/usr/bin/env python3
"""Build the Beijing units registry TSV from the Beijing gazetteer.

    python catalog/build_units.py [--gazetteer catalog/gazetteer-beijing.tsv] [-o catalog/units-beijing.tsv]

Deterministic: the same gazetteer gives the same file.  Contents (ids and types per
docs/contracts.md):

* city bureaus and utilities, under the names ``catalog/unit-types-beijing.tsv`` gives them;
* per district: its 12345 sub-centre and one unit of every district bureau type, named the way
  Beijing names them (北京市朝阳区城市管理委员会, 北京市生态环境局朝阳分局, 北京市公安局朝阳分局,
  国家税务总局北京市朝阳区税务局, ...), each under the matching city bureau where there is one;
* the sub-centre of the Economic-Technological Development Area (district code ``bda``);
* one territorial unit per street-level division of the gazetteer: 街道 → 街道办事处,
  镇 → 镇人民政府, 乡 → 乡人民政府, 地区 → 地区办事处, each under its district's sub-centre.
  The statistical zones at street level (经开区 and other development areas, the airport) get the
  zone's management body instead; the 经开区's sits under the ``bda`` sub-centre.

Beijing-specific (city bureau and sub-centre names); other cities need their own tables.
``--unit-types`` names the table of unit type names (default ``catalog/unit-types-beijing.tsv``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dispatch_nlp.files import atomic_open
from dispatch_nlp.knowledge.divisions import district_of, street_prefix
from dispatch_nlp.knowledge.gazetteer import Division, Gazetteer
from dispatch_nlp.knowledge.units import BDA, UNITS_HEADER, read_unit_type_names

ROOT = Path(__file__).resolve().parent.parent
CITY = "北京市"
BDA_NAME = "北京经济技术开发区"
BDA_STREET = "110115403"  # the 经开区 as a statistical street-level zone

CITY_SHORT = {
    "city_rsj": ("市人力社保局", "市人社局", "北京市人力社保局"),
    "city_tax": ("北京市税务局", "市税务局"),
    "city_jgj": ("北京市公安交通管理局", "市交管局", "北京交管局", "北京市交管局"),
    "city_txgl": ("市通信管理局", "北京通信管理局"),
    "city_gjj": ("住房公积金管理中心", "公积金中心", "北京公积金中心"),
    "city_ybj": ("市医保局", "北京市医保局"),
    "city_jtw": ("市交通委", "北京市交通委"),
    "city_zjw": ("市住建委", "北京市住建委"),
    "city_cgw": ("市城管委", "北京市城管委"),
    "city_scjg": ("市市场监管局", "北京市市场监管局"),
    "city_jw": ("市教委", "北京市教委"),
    "city_wjw": ("市卫健委", "北京市卫健委"),
    "city_gaj": ("市公安局",),
    "city_ghzr": ("市规划自然资源委", "市规自委", "北京市规自委"),
    "city_sthj": ("市生态环境局",),
    "city_mzj": ("市民政局",),
    "city_swj": ("市水务局",),
    "city_wlj": ("市文旅局", "北京市文旅局"),
    "city_yjgl": ("市应急局", "北京市应急局", "市应急管理局"),
    "city_zwfw": ("市政务服务和数据局", "市政务服务局"),
    "city_tyjr": ("市退役军人局", "市退役军人事务局"),
    "city_cl": ("市残联", "北京市残联"),
    "city_zgh": ("市总工会",),
    "city_jrjg": ("北京金融监管局", "北京金融监管总局"),
    "city_xf": ("市信访办", "北京市信访办"),
    "city_crj": ("市出入境管理总队", "北京出入境"),
    "city_yllh": ("市园林绿化局",),
    "city_fgw": ("市发改委", "北京市发改委"),
}
UTILITY_SHORT = {
    "utility_water": ("自来水集团", "北京自来水集团"),
    "utility_drainage": ("排水集团", "北京排水集团"),
    "utility_power": ("国网北京电力", "北京电力公司", "北京市电力公司"),
    "utility_gas": ("燃气集团", "北京燃气集团"),
    "utility_heating": ("热力集团", "北京热力集团"),
    "utility_bus": ("公交集团", "北京公交"),
    "utility_metro": ("北京地铁", "地铁运营公司"),
    "utility_mobile": ("北京移动",),
    "utility_unicom": ("北京联通",),
    "utility_telecom": ("北京电信",),
    "utility_post": ("北京邮政",),
}
# District bureaus named 北京市<区><机构> and their usual abbreviations (after <区>).
DISTRICT_ABBREV = {
    "district_cgw": ("城管委",),
    "district_cgzf": ("城管执法局",),
    "district_zjw": ("住建委",),
    "district_rsj": ("人力社保局", "人社局"),
    "district_scjg": ("市场监管局",),
    "district_jtw": ("交通委",),
    "district_jw": ("教委",),
    "district_wjw": ("卫健委",),
    "district_ylbz": ("医保局",),
    "district_wlj": ("文旅局",),
    "district_yjgl": ("应急局",),
    "district_fgw": ("发改委",),
    "district_tyjr": ("退役军人局",),
    "district_zwfw": ("政务服务局",),
    "district_kxj": ("科信局",),
}
# District bureaus under a city bureau (the rest have none in the contract's list).
DISTRICT_PARENT = {
    "district_cgw": "city_cgw",
    "district_zjw": "city_zjw",
    "district_rsj": "city_rsj",
    "district_scjg": "city_scjg",
    "district_sthj": "city_sthj",
    "district_jtw": "city_jtw",
    "district_jtzd": "city_jgj",
    "district_jw": "city_jw",
    "district_wjw": "city_wjw",
    "district_mzj": "city_mzj",
    "district_swj": "city_swj",
    "district_ghzr": "city_ghzr",
    "district_gafj": "city_gaj",
    "district_ylbz": "city_ybj",
    "district_yllh": "city_yllh",
    "district_wlj": "city_wlj",
    "district_yjgl": "city_yjgl",
    "district_fgw": "city_fgw",
    "district_tax": "city_tax",
    "district_tyjr": "city_tyjr",
    "district_zwfw": "city_zwfw",
}
# Street-level statistical zones: the body that manages them.
ZONE_BODY = {
    BDA_NAME: ("北京经济技术开发区管理委员会", ("经开区管委会", "亦庄开发区管委会", "北京经开区管委会")),
}


def district_bureau(utype: str, d: Division, body: str) -> tuple[str, list[str]]:
    """Full name and short names of one district's bureau of a type (``body``: its name after the district)."""
    dn = d.name  # 朝阳区
    ds = d.short_names[0] if d.short_names else dn  # 朝阳
    if utype == "district_sthj":
        return f"{CITY}生态环境局{ds}分局", [f"{ds}生态环境分局", f"{dn}生态环境局", f"生态环境局{ds}分局"]
    if utype == "district_ghzr":
        return f"{CITY}规划和自然资源委员会{ds}分局", [
            f"规划和自然资源委员会{ds}分局",
            f"规自委{ds}分局",
            f"{ds}规划分局",
            f"{dn}规划和自然资源分局",
        ]
    if utype == "district_jtzd":
        return f"{CITY}公安局公安交通管理局{ds}交通支队", [f"{ds}交通支队", f"{dn}交通支队", f"{ds}交警支队"]
    if utype == "district_gafj":
        return f"{CITY}公安局{ds}分局", [f"{ds}公安分局", f"{dn}公安分局", f"公安局{ds}分局"]
    if utype == "district_tax":
        return f"国家税务总局{CITY}{dn}税务局", [f"{dn}税务局", f"{CITY}{dn}税务局"]
    shorts = [f"{dn}{body}"] + [f"{dn}{a}" for a in DISTRICT_ABBREV.get(utype, ())]
    return f"{CITY}{dn}{body}", shorts


def _government_forms(township: str) -> list[str]:
    """Short names of a township or town government: 将台乡 → 将台乡政府, 将台乡人民政府."""
    return [township + "政府", township + "人民政府"] if township.endswith(("乡", "镇")) else []


def street_office(s: Division, d: Division) -> tuple[str, list[str]]:
    """Full name and short names of the territorial unit of a street-level division."""
    names = [s.name, *s.short_names, *s.aliases]
    if s.name.endswith("街道"):
        office = s.name + "办事处"
        names += [office, s.name + "办"] + [a + "办事处" for a in s.aliases if a.endswith("街道")]
    elif s.name.endswith("地区"):
        office = s.name + "办事处"
        names += [office] + [f for a in s.aliases for f in _government_forms(a)]
    elif s.name.endswith(("镇", "乡")):
        office = s.name + "人民政府"
        names += [s.name + "政府"]
    elif s.name in ZONE_BODY:
        office, extra = ZONE_BODY[s.name]
        names += list(extra)
        return office, _unique(names, office)
    else:
        # Other statistical zones (development areas, the airport): their management body.
        office = s.name + "管理机构"
        return office, _unique(names, office)
    return f"{CITY}{d.name}{office}", _unique(names + [f"{d.name}{s.name}", f"{d.name}{office}"], office)


def _unique(names: list[str], full: str) -> list[str]:
    out: list[str] = []
    for n in names:
        if n and n != full and n not in out:
            out.append(n)
    return out


def build(gaz: Gazetteer, type_names: dict[str, dict[str, str]]) -> list[list[str]]:
    """The registry rows; ``type_names`` is level → {unit type → name} (:func:`read_unit_type_names`)."""
    rows: list[list[str]] = []

    def add(uid, name, shorts, level, utype, dcode="", parent=""):
        shorts = _unique(list(shorts), name)
        rows.append([uid, name, "|".join(shorts), level, utype, dcode, parent])

    for utype, name in type_names.get("city", {}).items():
        add(utype, name, CITY_SHORT.get(utype, ()), "city", utype)
    for utype, name in type_names.get("utility", {}).items():
        add(utype, name, UTILITY_SHORT.get(utype, ()), "utility", utype)
    districts = gaz.districts()
    for d in districts:
        dc = d.district_code
        ds = d.short_names[0] if d.short_names else d.name
        add(
            f"district_subcentre@{dc}",
            f"{CITY}{d.name}12345市民服务热线分中心",
            [f"{d.name}12345分中心", f"{d.name}分中心", f"{ds}分中心", f"{d.name}接诉即办"],
            "district",
            "district_subcentre",
            dc,
        )
        for utype, body in type_names.get("district", {}).items():
            name, shorts = district_bureau(utype, d, body)
            parent = DISTRICT_PARENT.get(utype, "")
            add(f"{utype}@{dc}", name, shorts, "district", utype, dc, parent)
    add(
        f"district_subcentre@{BDA}",
        f"{BDA_NAME}12345市民服务热线分中心",
        ["经开区12345分中心", "经开区分中心", "亦庄开发区分中心", "经开区接诉即办"],
        "district",
        "district_subcentre",
        BDA,
    )
    by_code = {d.code: d for d in districts}
    for s in gaz.streets():
        d = by_code[district_of(s.code)]
        name, shorts = street_office(s, d)
        street9 = street_prefix(s.code)
        dcode = BDA if street9 == BDA_STREET else d.district_code
        add(f"street_office@{street9}", name, shorts, "street", "street_office", dcode, f"district_subcentre@{dcode}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build the Beijing units registry from the gazetteer.")
    ap.add_argument("--gazetteer", type=Path, default=ROOT / "catalog" / "gazetteer-beijing.tsv")
    ap.add_argument("--unit-types", type=Path, default=ROOT / "catalog" / "unit-types-beijing.tsv")
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "catalog" / "units-beijing.tsv")
    args = ap.parse_args(argv)
    rows = build(Gazetteer.load(args.gazetteer, places=False), read_unit_type_names(args.unit_types))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(args.output, "w", newline="\n") as f:
        f.write("\t".join(UNITS_HEADER) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[3]] = counts.get(row[3], 0) + 1
    print(f"{args.output}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
