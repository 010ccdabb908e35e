"""The units registry: who handles an order (承办单位).

A TSV built by ``catalog/build_units.py`` (Beijing: ``catalog/units-beijing.tsv``)::

    id  name  short_names  level  unit_type  district_code  parent

Unit types and ids follow ``docs/contracts.md``:

==========================  ========  ===================================================
unit type                   level     id
==========================  ========  ===================================================
``street_office``           street    ``street_office@110105001`` (9-digit street code)
``district_subcentre``      district  ``district_subcentre@110105``, ``district_subcentre@bda``
``district_<x>``            district  ``district_cgw@110105``
``city_<x>``                city      the type itself: ``city_rsj``
``utility_<x>``             utility   the type itself: ``utility_water``
==========================  ========  ===================================================

``district_code`` is the 6-digit district code, ``bda`` for the Economic-Technological
Development Area (经开区, which has its own 12345 sub-centre), empty for city units and utilities.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dispatch_nlp.errors import CatalogError

__all__ = [
    "Unit",
    "UnitsRegistry",
    "UNIT_LEVELS",
    "BDA",
    "DISTRICT_UNIT_TYPES",
    "CITY_UNIT_TYPES",
    "UTILITY_UNIT_TYPES",
]

UNIT_LEVELS = ("city", "district", "street", "utility")
UNITS_HEADER = ["id", "name", "short_names", "level", "unit_type", "district_code", "parent"]
DEFAULT_UNITS = "units-beijing.tsv"
BDA = "bda"  # the district_code of the 经开区

# The unit types of docs/contracts.md with the names the contract gives them.
DISTRICT_UNIT_TYPES = {
    "district_cgw": "城市管理委员会",
    "district_cgzf": "城市管理综合行政执法局",
    "district_zjw": "住房和城乡建设委员会",
    "district_rsj": "人力资源和社会保障局",
    "district_scjg": "市场监督管理局",
    "district_sthj": "生态环境分局",
    "district_jtw": "交通委员会",
    "district_jtzd": "公安交通管理局交通支队",
    "district_jw": "教育委员会",
    "district_wjw": "卫生健康委员会",
    "district_mzj": "民政局",
    "district_swj": "水务局",
    "district_ghzr": "规划和自然资源分局",
    "district_gafj": "公安分局",
    "district_ylbz": "医疗保障局",
    "district_yllh": "园林绿化局",
    "district_wlj": "文化和旅游局",
    "district_yjgl": "应急管理局",
    "district_fgw": "发展和改革委员会",
    "district_nyj": "农业农村局",
    "district_tyj": "体育局",
    "district_tax": "税务局",
    "district_tyjr": "退役军人事务局",
    "district_sfj": "司法局",
    "district_zwfw": "政务服务管理局",
    "district_swju": "商务局",
    "district_kxj": "科学技术和信息化局",
}
CITY_UNIT_TYPES = {
    "city_rsj": "北京市人力资源和社会保障局",
    "city_tax": "国家税务总局北京市税务局",
    "city_jgj": "北京市公安局公安交通管理局",
    "city_txgl": "北京市通信管理局",
    "city_gjj": "北京住房公积金管理中心",
    "city_ybj": "北京市医疗保障局",
    "city_jtw": "北京市交通委员会",
    "city_zjw": "北京市住房和城乡建设委员会",
    "city_cgw": "北京市城市管理委员会",
    "city_scjg": "北京市市场监督管理局",
    "city_jw": "北京市教育委员会",
    "city_wjw": "北京市卫生健康委员会",
    "city_gaj": "北京市公安局",
    "city_ghzr": "北京市规划和自然资源委员会",
    "city_sthj": "北京市生态环境局",
    "city_mzj": "北京市民政局",
    "city_swj": "北京市水务局",
    "city_wlj": "北京市文化和旅游局",
    "city_yjgl": "北京市应急管理局",
    "city_zwfw": "北京市政务服务和数据管理局",
    "city_tyjr": "北京市退役军人事务局",
    "city_cl": "北京市残疾人联合会",
    "city_zgh": "北京市总工会",
    "city_jrjg": "国家金融监督管理总局北京监管局",
    "city_xf": "北京市信访办公室",
    "city_crj": "北京市公安局出入境管理总队",
    "city_yllh": "北京市园林绿化局",
    "city_fgw": "北京市发展和改革委员会",
}
UTILITY_UNIT_TYPES = {
    "utility_water": "北京市自来水集团",
    "utility_drainage": "北京城市排水集团",
    "utility_power": "国网北京市电力公司",
    "utility_gas": "北京市燃气集团",
    "utility_heating": "北京市热力集团",
    "utility_bus": "北京公交集团",
    "utility_metro": "北京市地铁运营有限公司",
    "utility_mobile": "中国移动北京公司",
    "utility_unicom": "中国联通北京市分公司",
    "utility_telecom": "中国电信北京分公司",
    "utility_post": "中国邮政集团北京市分公司",
}

_TYPE = re.compile(r"street_office|district_subcentre|(district|city|utility)_[a-z0-9]+")
_DISTRICT = re.compile(r"[0-9]{6}|" + BDA)


def level_of_type(unit_type: str) -> str | None:
    """The level a unit type belongs to, or None if the type is malformed."""
    if not _TYPE.fullmatch(unit_type):
        return None
    if unit_type == "street_office":
        return "street"
    return unit_type.split("_", 1)[0]


def _digits(code: object, n: int) -> str | None:
    """The first ``n`` digits of a 6-, 9- or 12-digit division code (n ≤ its length)."""
    s = str(code).strip()
    if s.isascii() and s.isdigit() and len(s) in (6, 9, 12) and len(s) >= n:
        return s[:n]
    return None


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    short_names: tuple[str, ...]
    level: str  # city | district | street | utility
    unit_type: str
    district_code: str | None  # 6 digits, "bda", or None
    parent: str | None  # unit id


def _read_units(path: Path, gazetteer=None) -> tuple[list[Unit], list[str]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        return [], [f"{path}: cannot read ({e}); expected a UTF-8 TSV units registry"]
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not lines:
        return [], [f"{path}: empty file; expected a header line: " + "\t".join(UNITS_HEADER)]
    cols = [c.strip() for c in lines[0][1].split("\t")]
    if cols != UNITS_HEADER:
        return [], [f"{path}: header is {cols}; expected the tab-separated columns {UNITS_HEADER}"]
    units: list[Unit] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for lineno, line in lines[1:]:
        f = line.split("\t")
        where = f"{path}:{lineno}"
        if len(f) < 5 or len(f) > 7:
            problems.append(f"{where}: {len(f)} columns; expected 7 tab-separated: " + " ".join(UNITS_HEADER))
            continue
        f += [""] * (7 - len(f))
        uid, name, shorts, level, utype, dcode, parent = (x.strip() for x in f)
        n_before = len(problems)
        if not uid:
            problems.append(f"{where}: empty unit id")
        if not name:
            problems.append(f"{where}: empty name for unit {uid!r}")
        if level not in UNIT_LEVELS:
            problems.append(f"{where}: level {level!r} of {uid!r}; expected one of {', '.join(UNIT_LEVELS)}")
        type_level = level_of_type(utype)
        if type_level is None:
            problems.append(
                f"{where}: unit type {utype!r} of {uid!r}; expected street_office, district_subcentre,"
                " district_<x>, city_<x> or utility_<x> (lower-case letters and digits)"
            )
        elif level in UNIT_LEVELS and type_level != level:
            problems.append(f"{where}: unit type {utype} belongs to level {type_level}, not {level}")
        if type_level in ("street", "district"):
            if not _DISTRICT.fullmatch(dcode):
                problems.append(f"{where}: district code {dcode!r} of {uid!r}; expected 6 digits or {BDA}")
        elif type_level and dcode:
            problems.append(f"{where}: {type_level} unit {uid!r} has district code {dcode!r}; leave it empty")
        if type_level and uid:
            expected = None
            if utype == "street_office":
                if not re.fullmatch(r"street_office@[0-9]{9}", uid):
                    problems.append(f"{where}: street office id {uid!r}; expected street_office@<9-digit street code>")
                elif dcode.isdigit() and uid[-9:-3] != dcode:
                    problems.append(f"{where}: street office {uid} lies outside its district code {dcode}")
            elif type_level == "district":
                expected = f"{utype}@{dcode}"
            else:
                expected = utype
            if expected and uid != expected:
                problems.append(f"{where}: unit id {uid!r} does not match its type and district; expected {expected!r}")
        if len(problems) > n_before:
            continue
        if uid in first_line:
            problems.append(f"{where}: duplicate unit id {uid} (first on line {first_line[uid]})")
            continue
        first_line[uid] = lineno
        short = tuple(s for s in (p.strip() for p in shorts.split("|")) if s) if shorts else ()
        units.append(Unit(uid, name, short, level, utype, dcode or None, parent or None))

    by_id = {u.id: u for u in units}
    for u in units:
        if u.parent and u.parent not in by_id:
            problems.append(f"{path}:{first_line[u.id]}: parent {u.parent!r} of {u.id} is not a unit in the registry")
    # A parent chain must end: report each unit that sits on a cycle once.
    reported: set[str] = set()
    for u in units:
        seen: list[str] = []
        cur = u
        while cur is not None and cur.parent and cur.id not in seen:
            seen.append(cur.id)
            cur = by_id.get(cur.parent)
        if cur is not None and cur.id in seen:
            cycle = seen[seen.index(cur.id) :]
            if not reported.intersection(cycle):
                reported.update(cycle)
                problems.append(
                    f"{path}:{first_line[cur.id]}: parent cycle " + " → ".join([*cycle, cur.id]) + "; break it"
                )
    if gazetteer is not None:
        for u in units:
            where = f"{path}:{first_line[u.id]}"
            if u.unit_type == "street_office":
                d = gazetteer.get(u.id[-9:])
                if d is None or d.level != "street":
                    problems.append(f"{where}: {u.id} names no street in the gazetteer")
            if u.district_code and u.district_code != BDA:
                d = gazetteer.get(u.district_code)
                if d is None or d.level != "district":
                    problems.append(f"{where}: district code {u.district_code} of {u.id} is not in the gazetteer")
    return units, problems


class UnitsRegistry:
    """The units of one city, by id, with resolution from a unit type and a place."""

    def __init__(self, units: list[Unit], source: str = "<memory>"):
        self.source = source
        self._by_id: dict[str, Unit] = {u.id: u for u in units}
        self._types = {u.unit_type for u in units}
        self._by_surface: dict[str, list[str]] = {}
        for u in units:
            for s in (u.name, *u.short_names):
                ids = self._by_surface.setdefault(s, [])
                if u.id not in ids:
                    ids.append(u.id)

    @classmethod
    def load(cls, path=None, *, gazetteer=None) -> "UnitsRegistry":
        """Load a units TSV (None: the shipped Beijing registry).  With a gazetteer, street offices
        and district codes are checked against it too.  Raises CatalogError listing every problem."""
        if path is None:
            from dispatch_nlp.resources import catalog_dir

            path = catalog_dir() / DEFAULT_UNITS
        units, problems = _read_units(Path(path), gazetteer)
        if problems:
            raise CatalogError(str(path), problems)
        return cls(units, source=str(path))

    @staticmethod
    def validate(path, gazetteer=None) -> list[str]:
        """Every problem of a units TSV (empty when valid), each naming its file line."""
        return _read_units(Path(path), gazetteer)[1]

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._by_id.values())

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._by_id

    def get(self, unit_id: str) -> Unit | None:
        return self._by_id.get(unit_id)

    def has_unit(self, unit_id: str) -> bool:
        return unit_id in self._by_id

    def has_unit_type(self, unit_type: str) -> bool:
        return unit_type in self._types

    def units(self, level: str | None = None) -> list[Unit]:
        return [u for u in self._by_id.values() if level is None or u.level == level]

    def counts(self) -> dict[str, int]:
        """Units per level."""
        out = dict.fromkeys(UNIT_LEVELS, 0)
        for u in self._by_id.values():
            out[u.level] = out.get(u.level, 0) + 1
        return out

    def lookup(self, surface: str) -> list[str]:
        """Ids of the units whose full or short name is exactly ``surface`` (e.g. 朝阳区城管委)."""
        return list(self._by_surface.get(surface.strip(), ()))

    def resolve(self, unit_type: str, *, district_code=None, street_code=None) -> Unit | None:
        """The unit of a type responsible for a place, or None.

        ``street_office`` needs a street code (9 or 12 digits; a community code works too).
        ``district_subcentre`` and ``district_<x>`` need a district: ``district_code`` (6 or 12
        digits, or ``bda``) or else the district of ``street_code``.  A street given without a
        district resolves through its street office's district first (the 经开区 streets reach the
        ``bda`` sub-centre), then the district its code lies in.  ``city_<x>`` and ``utility_<x>``
        need nothing.
        """
        level = level_of_type(unit_type)
        if level is None:
            return None
        if level in ("city", "utility"):
            return self._by_id.get(unit_type)
        if level == "street":
            street = _digits(street_code, 9) if street_code is not None else None
            return self._by_id.get(f"street_office@{street}") if street else None
        # district level
        candidates: list[str] = []
        if district_code is not None:
            d = str(district_code).strip()
            d = BDA if d == BDA else _digits(d, 6)
            if d:
                candidates.append(d)
        elif street_code is not None:
            street = _digits(street_code, 9)
            if street:
                office = self._by_id.get(f"street_office@{street}")
                if office is not None and office.district_code:
                    candidates.append(office.district_code)
                candidates.append(street[:6])
        for d in candidates:
            unit = self._by_id.get(f"{unit_type}@{d}")
            if unit is not None:
                return unit
        return None
