"""The gazetteer: administrative divisions (district → street → community) and user places.

Divisions come from a TSV built by ``catalog/build_gazetteer.py`` from the national statistical
division codes (12 digits: 6 for the district, 3 for the street or township, 3 for the community
or village; nesting is by prefix)::

    code  name  level  parent  short_names  aliases

Places are zones, landmarks, roads and residential compounds that are not divisions, each tied to
the division it lies in (``catalog/places-beijing.tsv``; users add their own table of the same
format)::

    name  code  kind  aliases  [unit]

``unit`` optionally names the unit that takes the place's territorial orders instead of the
division's street office (the 经开区 sub-centre ``district_subcentre@bda``).  In both files lines
starting with ``#`` are comments and list columns are ``|``-separated.

Names repeat (the same community name under two streets, 光明 as a street and as a community), so
:meth:`Gazetteer.lookup` returns every code a surface names; choosing among them is the
jurisdiction stage's job.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from dispatch_nlp.errors import CatalogError
from dispatch_nlp.knowledge import divisions as division_codes
from dispatch_nlp.knowledge.divisions import DivisionLevel, level_of, normalize_code
from dispatch_nlp.resources import catalog_dir

__all__ = ["Division", "Place", "Gazetteer", "normalize_code", "LEVELS", "PLACE_KINDS", "SURFACE_KINDS"]

LEVELS: tuple[DivisionLevel, ...] = get_args(DivisionLevel)
# ``linear``: a river or road that crosses districts, one row per district (its name is then a shared
# name that a co-mentioned district decides; alone it answers no street).
PLACE_KINDS = ("zone", "landmark", "road", "compound", "linear")
SURFACE_KINDS = ("name", "short", "alias", "place")  # also the lookup preference order

DIVISION_HEADER = ["code", "name", "level", "parent", "short_names", "aliases"]
PLACE_HEADER = ["name", "code", "kind", "aliases", "unit"]

DEFAULT_GAZETTEER = "gazetteer-beijing.tsv"
DEFAULT_PLACES = "places-beijing.tsv"

_CODE = re.compile(r"[0-9]{12}")
_UNIT_ID = re.compile(r"[a-z][a-z0-9_]*(@[0-9a-z]+)?")


def _split(field: str) -> tuple[str, ...]:
    if not field:
        return ()
    if " " in field or "||" in field or field[0] == "|" or field[-1] == "|":
        return tuple(s for s in (p.strip() for p in field.split("|")) if s)
    return tuple(field.split("|"))


@dataclass(frozen=True, slots=True)
class Division:
    code: str  # 12 digits
    name: str  # full official name: 朝阳区, 学院路街道, 北孙各庄村委会
    level: str  # district | street | community
    parent: str | None  # 12-digit code; None for districts
    short_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def district_code(self) -> str:
        """The 6-digit district code (the prefix every level shares)."""
        return division_codes.district_prefix(self.code)

    def surfaces(self) -> tuple[str, ...]:
        return (self.name, *self.short_names, *self.aliases)


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    code: str  # 12-digit division the place lies in (district, street or community)
    kind: str  # zone | landmark | road | compound | linear
    aliases: tuple[str, ...] = ()
    unit: str | None = None  # unit id that takes its territorial orders, overriding the street office


def _rows(path: Path) -> tuple[list[tuple[int, list[str]]], str | None]:
    """(line number, fields) of the data rows and the header line, comments and blanks skipped."""
    text = path.read_text(encoding="utf-8-sig")
    header = None
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if header is None:
            header = line
            continue
        rows.append((lineno, line.split("\t")))
    return rows, header


def _check_header(path: Path, header: str | None, expected: list[str], required: int) -> str | None:
    if header is None:
        return f"{path}: empty file; expected a header line: " + "\t".join(expected)
    cols = [c.strip() for c in header.split("\t")]
    if cols[:required] != expected[:required] or cols != expected[: len(cols)]:
        return f"{path}: header is {cols}; expected the tab-separated columns {expected}"
    return None


def _read_table(path: Path, what: str, expected: list[str], required: int) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """The data rows of a TSV whose header starts with the ``required`` first ``expected`` columns, and
    the one problem when it cannot be read or its header is wrong (``what``: the kind of table)."""
    try:
        rows, header = _rows(path)
    except (OSError, UnicodeDecodeError) as e:
        return [], [f"{path}: cannot read ({e}); expected a UTF-8 TSV {what}"]
    bad = _check_header(path, header, expected, required)
    return ([], [bad]) if bad else (rows, [])


def _read_divisions(path: Path) -> tuple[list[Division], list[str]]:
    path = Path(path)
    rows, problems = _read_table(path, "gazetteer", DIVISION_HEADER, 4)
    if problems:
        return [], problems
    found: list[Division] = []
    first_line: dict[str, int] = {}
    parents: list[tuple[int, str, str]] = []
    for lineno, f in rows:
        if len(f) < 4 or len(f) > 6:
            problems.append(
                f"{path}:{lineno}: {len(f)} columns; expected 6 tab-separated: " + " ".join(DIVISION_HEADER)
            )
            continue
        if len(f) < 6:
            f += [""] * (6 - len(f))
        code, name, level, parent = f[0], f[1], f[2], f[3]
        if not (len(code) == 12 and code.isdigit() and code.isascii() and name.strip() and level in LEVELS) or (
            parent and not _CODE.fullmatch(parent)
        ):
            if not _CODE.fullmatch(code):
                problems.append(f"{path}:{lineno}: malformed code {code!r}; expected 12 digits (e.g. 110105001000)")
            if not name.strip():
                problems.append(f"{path}:{lineno}: empty name for code {code!r}")
            if level not in LEVELS:
                problems.append(f"{path}:{lineno}: level {level!r} of {code!r}; expected one of {', '.join(LEVELS)}")
            if parent and not _CODE.fullmatch(parent):
                problems.append(f"{path}:{lineno}: malformed parent code {parent!r}; expected 12 digits or empty")
            continue
        shape = level_of(code)
        if shape != level:
            problems.append(
                f"{path}:{lineno}: code {code} has the shape of a {shape} code but level {level}; a district code"
                " ends in 000000, a street code in 000 only, a community code in neither"
            )
            continue
        expected = division_codes.parent_of(code) or ""
        if parent != expected:
            want = f"its prefix parent {expected}" if expected else "an empty parent (districts have none)"
            problems.append(
                f"{path}:{lineno}: code {code} does not nest under parent {parent or '(empty)'}; expected {want}"
            )
            continue
        if code in first_line:
            problems.append(f"{path}:{lineno}: duplicate code {code} (first on line {first_line[code]})")
            continue
        first_line[code] = lineno
        if parent:
            parents.append((lineno, code, parent))
        found.append(Division(code, name, level, parent or None, _split(f[4]), _split(f[5])))
    for lineno, code, parent in parents:
        if parent not in first_line:
            problems.append(f"{path}:{lineno}: parent {parent} of {code} is not in the file; add the parent row")
    return found, problems


def _read_places(path: Path, codes: Collection[str] | None) -> tuple[list[Place], list[str]]:
    """Places of one table; ``codes`` is the set of known division codes (None: do not check)."""
    path = Path(path)
    rows, problems = _read_table(path, "places table", PLACE_HEADER, 3)
    if problems:
        return [], problems
    places: list[Place] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, f in rows:
        where = f"{path}:{lineno}"
        if len(f) < 3 or len(f) > 5:
            problems.append(f"{where}: {len(f)} columns; expected 3 to 5 tab-separated: " + " ".join(PLACE_HEADER))
            continue
        f += [""] * (5 - len(f))
        name, raw_code, kind, aliases, unit = (x.strip() for x in f)
        code = normalize_code(raw_code)
        ok = True
        if not name:
            problems.append(f"{where}: empty place name")
            ok = False
        if code is None:
            problems.append(f"{where}: malformed code {raw_code!r} for {name!r}; expected a 12-digit division code")
            ok = False
        elif codes is not None and code not in codes:
            problems.append(f"{where}: code {code} of {name!r} is not a division in the gazetteer")
            ok = False
        if kind not in PLACE_KINDS:
            problems.append(f"{where}: kind {kind!r} of {name!r}; expected one of {', '.join(PLACE_KINDS)}")
            ok = False
        if unit and not _UNIT_ID.fullmatch(unit):
            problems.append(f"{where}: malformed unit id {unit!r} for {name!r} (e.g. district_subcentre@bda)")
            ok = False
        if not ok or code is None:
            continue
        if (name, code) in seen:
            problems.append(f"{where}: duplicate place {name!r} → {code} (first on line {seen[name, code]})")
            continue
        seen[name, code] = lineno
        places.append(Place(name, code, kind, _split(aliases), unit or None))
    return places, problems


class Gazetteer:
    """Divisions and places of one province, indexed by code and by surface form."""

    def __init__(self, divisions: Sequence[Division], places: Sequence[Place] = (), source: str = "<memory>"):
        self.source = source
        self._by_code: dict[str, Division] = {}
        self._children: dict[str, list[Division]] = {}
        for d in sorted(divisions, key=lambda d: d.code):
            self._by_code[d.code] = d
            if d.parent:
                self._children.setdefault(d.parent, []).append(d)
        self._places: list[Place] = list(places)
        self._places_by_surface: dict[str, list[Place]] = {}
        # surface -> codes, full names first, then short names, aliases, places (each by code):
        # one pass per kind keeps that order without sorting.
        index: dict[str, list[str]] = {}
        divs = self._by_code.values()
        passes = (
            ((d.code, (d.name,)) for d in divs),
            ((d.code, d.short_names) for d in divs),
            ((d.code, d.aliases) for d in divs),
            ((p.code, (p.name, *p.aliases)) for p in sorted(self._places, key=lambda p: p.code)),
        )
        for entries in passes:
            for code, names in entries:
                for name in names:
                    codes = index.get(name)
                    if codes is None:
                        index[name] = [code]
                    elif code not in codes:
                        codes.append(code)
        self._index = index
        for p in self._places:
            for s in (p.name, *p.aliases):
                self._places_by_surface.setdefault(s, []).append(p)

    # -- loading and validation -------------------------------------------------------------
    @classmethod
    def load(cls, path=None, *, places=None, user_places=None) -> "Gazetteer":
        """Load a gazetteer TSV (None: the shipped Beijing one).

        ``places``: a places table; None means the shipped Beijing table when ``path`` is None too
        and no table otherwise; False means none.  ``user_places``: a further table of the same
        format merged on top.  Every problem of every file is reported in one
        :class:`~dispatch_nlp.errors.CatalogError`.
        """
        if path is None:
            path = catalog_dir() / DEFAULT_GAZETTEER
            if places is None:
                places = catalog_dir() / DEFAULT_PLACES
        path = Path(path)
        divisions, problems = _read_divisions(path)
        if problems:
            raise CatalogError(str(path), problems)
        codes = {d.code for d in divisions}
        all_places: list[Place] = []
        bad_sources = []
        for table in (places, user_places):
            if table is None or table is False:
                continue
            found, table_problems = _read_places(Path(table), codes)
            if table_problems:
                problems += table_problems
                bad_sources.append(str(table))
            all_places += found
        if problems:
            raise CatalogError(", ".join(bad_sources), problems)
        return cls(divisions, all_places, source=str(path))

    @staticmethod
    def validate(path) -> list[str]:
        """Every problem of a gazetteer TSV (empty when it is valid), each naming its file line."""
        return _read_divisions(Path(path))[1]

    def validate_places(self, path) -> list[str]:
        """Every problem of a places table checked against this gazetteer's codes."""
        return _read_places(Path(path), self._by_code.keys())[1]

    # -- divisions ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        c = normalize_code(code)
        return c is not None and c in self._by_code

    def __iter__(self) -> Iterator[Division]:
        return iter(self._by_code.values())

    def get(self, code) -> Division | None:
        """The division of a 6-, 9- or 12-digit code, or None."""
        c = normalize_code(code)
        return self._by_code.get(c) if c else None

    def children(self, code) -> list[Division]:
        c = normalize_code(code)
        return list(self._children.get(c, ())) if c else []

    def district_of(self, code) -> Division | None:
        """The district a division lies in (itself for a district); None for unknown codes."""
        d = self.get(code)
        return self._by_code.get(division_codes.district_of(d.code)) if d else None

    def street_of(self, code) -> Division | None:
        """The street (township, area) a division lies in (itself for a street); None for districts."""
        d = self.get(code)
        if d is None or d.level == "district":
            return None
        return self._by_code.get(division_codes.street_of(d.code))

    def ancestors(self, code) -> list[Division]:
        """The divisions above ``code``, district first (empty for districts and unknown codes)."""
        out = []
        d = self.get(code)
        while d is not None and d.parent:
            d = self._by_code.get(d.parent)
            if d is not None:
                out.append(d)
        return out[::-1]

    def districts(self) -> list[Division]:
        return [d for d in self._by_code.values() if d.level == "district"]

    def streets(self, district_code=None) -> list[Division]:
        """All streets, or those of one district (given by any of its codes)."""
        if district_code is None:
            return [d for d in self._by_code.values() if d.level == "street"]
        c = normalize_code(district_code)
        return self.children(division_codes.district_of(c)) if c else []

    def counts(self) -> dict[str, int]:
        """Divisions per level, plus ``places``."""
        out: dict[str, int] = dict.fromkeys(LEVELS, 0)
        for d in self._by_code.values():
            out[d.level] += 1
        out["places"] = len(self._places)
        return out

    # -- surfaces and places -----------------------------------------------------------------
    @property
    def places(self) -> list[Place]:
        return list(self._places)

    def surfaces(self) -> Iterator[tuple[str, str, str]]:
        """Every ``(surface, code, kind)``, kind one of name, short, alias, place; for matchers."""
        for d in self._by_code.values():
            yield d.name, d.code, "name"
            for s in d.short_names:
                yield s, d.code, "short"
            for s in d.aliases:
                yield s, d.code, "alias"
        for p in self._places:
            yield p.name, p.code, "place"
            for s in p.aliases:
                yield s, p.code, "place"

    def lookup(self, surface: str) -> list[str]:
        """Codes an exact surface names (full name, short name, alias or place): full-name matches
        first, then short names, aliases and places; several when a name is shared."""
        return list(self._index.get(surface.strip(), ()))

    def find_places(self, surface: str) -> list[Place]:
        """Places whose name or alias is exactly ``surface`` (to read their kind and unit)."""
        return list(self._places_by_surface.get(surface.strip(), ()))
