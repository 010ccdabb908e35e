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

The sets of unit types come from :mod:`dispatch_nlp.knowledge.vocabulary` (``DISTRICT_UNIT_TYPES``
includes ``district_subcentre``, ``DISTRICT_BUREAU_TYPES`` does not).  The names a city gives them are
data: :func:`read_unit_type_names` reads ``catalog/unit-types-beijing.tsv`` (``unit_type level name``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dispatch_nlp.errors import CatalogError
from dispatch_nlp.knowledge.divisions import district_prefix, normalize_code, street_prefix
from dispatch_nlp.knowledge.vocabulary import (
    BDA,
    CITY_UNIT_TYPES,
    DISTRICT_BUREAU_TYPES,
    DISTRICT_SUBCENTRE,
    DISTRICT_UNIT_TYPES,
    STREET_OFFICE,
    UNIT_LEVELS,
    UTILITY_UNIT_TYPES,
    unit_type_level,
)
from dispatch_nlp.resources import catalog_dir

__all__ = [
    "Unit",
    "UnitsRegistry",
    "UNIT_LEVELS",
    "BDA",
    "DISTRICT_UNIT_TYPES",
    "DISTRICT_BUREAU_TYPES",
    "CITY_UNIT_TYPES",
    "UTILITY_UNIT_TYPES",
    "read_unit_type_names",
]

UNITS_HEADER = ["id", "name", "short_names", "level", "unit_type", "district_code", "parent"]
DEFAULT_UNITS = "units-beijing.tsv"
# The names a city gives the unit types (city bureaus, utilities, district bureaus): a data file.
UNIT_TYPES_HEADER = ["unit_type", "level", "name"]
DEFAULT_UNIT_TYPES = "unit-types-beijing.tsv"

_TYPE = re.compile(rf"{STREET_OFFICE}|{DISTRICT_SUBCENTRE}|(district|city|utility)_[a-z0-9]+")
_DISTRICT = re.compile(r"[0-9]{6}|" + BDA)


def level_of_type(unit_type: str) -> str | None:
    """The level a unit type belongs to, or None if the type is malformed."""
    if not _TYPE.fullmatch(unit_type):
        return None
    if unit_type == STREET_OFFICE:
        return "street"
    return unit_type.split("_", 1)[0]


def _district6(code: object) -> str | None:
    """The 6-digit district prefix of a 6-, 9- or 12-digit division code, or None if malformed."""
    full = normalize_code(code)
    return district_prefix(full) if full is not None else None


def _street9(code: object) -> str | None:
    """The 9-digit street prefix of a 9- or 12-digit division code, or None (malformed, or a district's)."""
    full = normalize_code(code)
    return street_prefix(full) if full is not None and len(str(code).strip()) >= 9 else None


def read_unit_type_names(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """The names a city gives the unit types: level → {unit type → name}, in file order.

    ``path`` is a TSV with the columns ``unit_type level name`` (None: the shipped Beijing table,
    ``catalog/unit-types-beijing.tsv``); each type must be a city, utility or district-bureau type of
    the vocabulary at its own level.  Raises :class:`CatalogError` listing every problem.
    """
    path = Path(path) if path is not None else catalog_dir() / DEFAULT_UNIT_TYPES
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise CatalogError(str(path), [f"{path}: cannot read ({e}); expected a UTF-8 TSV of unit type names"]) from e
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not lines or lines[0][1].split("\t") != UNIT_TYPES_HEADER:
        raise CatalogError(str(path), [f"{path}: expected the tab-separated header {UNIT_TYPES_HEADER}"])
    names: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for lineno, line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != 3 or not fields[2].strip():
            problems.append(f"{path}:{lineno}: expected 3 tab-separated columns: " + " ".join(UNIT_TYPES_HEADER))
            continue
        utype, level, name = (f.strip() for f in fields)
        if utype in (STREET_OFFICE, DISTRICT_SUBCENTRE) or unit_type_level(utype) != level:
            problems.append(f"{path}:{lineno}: {utype!r} is not a {level} unit type of the vocabulary")
        elif any(utype in table for table in names.values()):
            problems.append(f"{path}:{lineno}: unit type {utype} named twice")
        else:
            names.setdefault(level, {})[utype] = name
    if problems:
        raise CatalogError(str(path), problems)
    return names


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
            if utype == STREET_OFFICE:
                if not re.fullmatch(rf"{STREET_OFFICE}@[0-9]{{9}}", uid):
                    problems.append(f"{where}: street office id {uid!r}; expected street_office@<9-digit street code>")
                elif dcode.isdigit() and district_prefix(uid[-9:]) != dcode:
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
        cur: Unit | None = u
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
            if u.unit_type == STREET_OFFICE:
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
        out: dict[str, int] = dict.fromkeys(UNIT_LEVELS, 0)
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
            street = _street9(street_code) if street_code is not None else None
            return self._by_id.get(f"{STREET_OFFICE}@{street}") if street else None
        # district level
        candidates: list[str] = []
        if district_code is not None:
            given = str(district_code).strip()
            district = BDA if given == BDA else _district6(given)
            if district:
                candidates.append(district)
        elif street_code is not None:
            street = _street9(street_code)
            if street:
                office = self._by_id.get(f"{STREET_OFFICE}@{street}")
                if office is not None and office.district_code:
                    candidates.append(office.district_code)
                candidates.append(district_prefix(street))
        for d in candidates:
            unit = self._by_id.get(f"{unit_type}@{d}")
            if unit is not None:
                return unit
        return None
