"""The dispatch catalog (派单目录): a versioned tree of matters, each with how it is dispatched.

A catalog file (YAML or JSON) holds the category tree with two-digit codes per level
(``01`` → ``0101`` → ``010101``).  Every item may carry a response level, a duty type, the unit type or
unit ids that handle it, cooperating units, keywords and optional emergency / exclusion markers.  Values
not set on an item come from the nearest ancestor's ``defaults`` (or the item's own ``defaults``), so a
leaf's *effective* values are its own or inherited ones.  ``previous_versions`` maps old codes to new ones.

    catalog = Catalog.load()                  # the shipped default
    item = catalog.get("010101")
    problems = validate("my-catalog.yaml")    # every problem in one run, each naming item and fix

The tree may also be given flat (``items: [{code, name, parent, ...}]``); parent links are then checked
for breaks and cycles.  See docs/contracts.md for the closed vocabularies used here.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from dispatch_nlp.errors import CatalogError

__all__ = [
    "APPEAL_TYPES",
    "DUTY_TYPES",
    "EMERGENCY_NUMBERS",
    "MIN_KEYWORDS",
    "RESPONSE_LEVEL_HOURS",
    "UNIT_TYPES",
    "Catalog",
    "CatalogItem",
    "UnitsLike",
    "diff",
    "validate",
]

# ---- closed vocabularies (docs/contracts.md) -------------------------------------------------------

RESPONSE_LEVEL_HOURS: dict[str, int] = {"2h": 2, "24h": 24, "7d": 168, "15d": 360}
DUTY_TYPES: tuple[str, ...] = (
    "territorial",
    "district_functional",
    "city_functional",
    "utility",
    "emergency_transfer",
    "out_of_scope",
)
APPEAL_TYPES: tuple[str, ...] = ("咨询", "求助", "投诉", "举报", "建议", "表扬", "其他")
EMERGENCY_NUMBERS: tuple[str, ...] = ("110", "119", "120", "122")
TERRITORIAL_DISPATCH = ("street", "district_subcentre")
NO_UNIT_DUTIES = ("emergency_transfer", "out_of_scope")
MIN_KEYWORDS = 5
MAX_LEVEL = 3

DISTRICT_UNIT_TYPES = frozenset(
    "district_" + x
    for x in (
        "cgw cgzf zjw rsj scjg sthj jtw jtzd jw wjw mzj swj ghzr gafj ylbz yllh wlj yjgl fgw nyj tyj tax "
        "tyjr sfj zwfw swju kxj subcentre"
    ).split()
)
CITY_UNIT_TYPES = frozenset(
    "city_" + x
    for x in (
        "rsj tax jgj txgl gjj ybj jtw zjw cgw scjg jw wjw gaj ghzr sthj mzj swj wlj yjgl zwfw tyjr cl zgh "
        "jrjg xf crj yllh fgw"
    ).split()
)
UTILITY_UNIT_TYPES = frozenset(
    "utility_" + x for x in "water drainage power gas heating bus metro mobile unicom telecom post".split()
)
UNIT_TYPES = frozenset({"street_office"}) | DISTRICT_UNIT_TYPES | CITY_UNIT_TYPES | UTILITY_UNIT_TYPES
# Which unit types fit which duty (the handling unit, not the cooperating ones).
_DUTY_UNIT_PREFIX = {
    "territorial": ("street_office", "district_subcentre"),
    "district_functional": ("district_",),
    "city_functional": ("city_",),
    "utility": ("utility_",),
}
_UNIT_ID_RE = re.compile(r"^(street_office@\d{9}|district_[a-z]+@(\d{6}|bda))$")
_CODE_RE = re.compile(rf"^(\d\d){{1,{MAX_LEVEL}}}$")

_ITEM_FIELDS = frozenset(
    "code name parent children defaults response_level duty unit_type unit_ids cooperating keywords "
    "emergency exclusion description".split()
)
_INVALID = object()  # a value that failed its check (already reported where it was written)
_INHERITED = ("response_level", "duty", "cooperating", "emergency", "exclusion")
_TOP_FIELDS = frozenset(
    "catalog version name response_level_rule response_levels appeal_types settings previous_versions "
    "categories items".split()
)


class UnitsLike(Protocol):
    """What validation needs from a units registry (duck-typed)."""

    def has_unit(self, unit_id: str) -> bool: ...

    def has_unit_type(self, unit_type: str) -> bool: ...


# ---- the item ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogItem:
    """One node of the catalog with its effective (own or inherited) dispatch values."""

    code: str
    name: str
    level: int
    parent: str | None
    path: tuple[str, ...]
    response_level: str | None
    duty: str | None
    unit_type: str | None
    unit_ids: tuple[str, ...] = ()
    cooperating: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    emergency: dict | None = field(default=None, hash=False, compare=True)
    exclusion: dict | None = field(default=None, hash=False, compare=True)
    is_leaf: bool = True

    @property
    def label(self) -> str:
        """``城乡建设 > 安全生产 > 事故处理 (010101)``, used in every message about the item."""
        return f"{' > '.join(self.path)} ({self.code})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "name": self.name}
        if self.response_level is not None:
            out["response_level"] = self.response_level
        if self.duty is not None:
            out["duty"] = self.duty
        if self.unit_ids:
            out["unit_ids"] = list(self.unit_ids)
        if self.unit_type is not None or (self.is_leaf and not self.unit_ids):
            out["unit_type"] = self.unit_type
        if self.cooperating:
            out["cooperating"] = list(self.cooperating)
        if self.keywords:
            out["keywords"] = list(self.keywords)
        if self.emergency is not None:
            out["emergency"] = {
                "transfer_to": self.emergency["transfer_to"],
                "markers": list(self.emergency.get("markers", ())),
            }
        if self.exclusion is not None:
            out["exclusion"] = {"reason": self.exclusion["reason"], "markers": list(self.exclusion.get("markers", ()))}
        return out


# ---- reading files ------------------------------------------------------------------------------------


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that remembers the line of every mapping (by object id) for messages."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.lines: dict[int, int] = {}


def _construct_map(loader: _LineLoader, node: yaml.MappingNode):
    data: dict = {}
    yield data
    data.update(loader.construct_mapping(node))
    loader.lines[id(data)] = node.start_mark.line + 1


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class _Source:
    """Parsed catalog data plus where it came from (for messages)."""

    def __init__(self, data: Any, name: str, lines: dict[int, int] | None = None):
        self.data = data
        self.name = name
        self.lines = lines or {}

    def where(self, obj: Any) -> str:
        line = self.lines.get(id(obj))
        return f" [line {line}]" if line else ""


def _read_file(path: Path) -> tuple[_Source | None, list[str]]:
    """Parse ``path``; raises OSError when it cannot be read, returns problems for bad syntax."""
    raw = path.read_bytes()
    name = str(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [f"{name}: not UTF-8 text (byte {exc.start}); save the catalog as UTF-8"]
    if path.suffix.lower() == ".json":
        try:
            return _Source(json.loads(text), name), []
        except json.JSONDecodeError as exc:
            return None, [f"{name}: line {exc.lineno}, column {exc.colno}: JSON syntax error: {exc.msg}"]
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [f"{name}: {at}YAML syntax error: {exc.problem or exc}; fix the indentation or quoting there"]
    except yaml.YAMLError as exc:
        return None, [f"{name}: YAML error: {exc}"]
    finally:
        loader.dispose()
    return _Source(data, name, loader.lines), []


def _source_of(data_or_path: Any) -> tuple[_Source | None, list[str]]:
    if isinstance(data_or_path, (str, Path)):
        path = Path(data_or_path)
        try:
            return _read_file(path)
        except OSError as exc:
            return None, [f"{path}: cannot read the file ({exc.strerror or exc}); check the path"]
    return _Source(data_or_path, "<catalog data>"), []


# ---- analysis: one pass that both validates and builds ---------------------------------------------------


class _Node:
    __slots__ = ("code", "name", "parent", "raw", "order", "children")

    def __init__(self, code: str, name: str, parent: str | None, raw: dict, order: int):
        self.code = code
        self.name = name
        self.parent = parent
        self.raw = raw
        self.order = order
        self.children: list[str] = []


def _suggest(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


class _Analysis:
    """Walks catalog data once, collecting every problem and the effective items."""

    def __init__(self, src: _Source, units: UnitsLike | None):
        self.src = src
        self.units = units
        self.problems: list[str] = []
        self.nodes: dict[str, _Node] = {}
        self.items: dict[str, CatalogItem] = {}
        self.meta: dict[str, Any] = {}

    # -- helpers
    def problem(self, msg: str) -> None:
        self.problems.append(msg)

    def path_names(self, code: str) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        cur: str | None = code
        while cur is not None and cur in self.nodes and cur not in seen:
            seen.add(cur)
            names.append(self.nodes[cur].name)
            cur = self.nodes[cur].parent
        return names[::-1]

    def label(self, code: str) -> str:
        node = self.nodes.get(code)
        where = self.src.where(node.raw) if node else ""
        return f"{' > '.join(self.path_names(code))} ({code}){where}"

    # -- top level
    def run(self) -> None:
        data = self.src.data
        if not isinstance(data, Mapping):
            self.problem(
                f"{self.src.name}: the catalog must be a mapping with 'version' and 'categories' "
                f"(or 'items'), got {type(data).__name__}"
            )
            return
        self.check_meta(data)
        has_tree = "categories" in data
        has_flat = "items" in data
        if has_tree and has_flat:
            self.problem(f"{self.src.name}: give either 'categories' (a tree) or 'items' (flat), not both")
        if has_tree:
            self.collect_tree(data["categories"])
        elif has_flat:
            self.collect_flat(data["items"])
        else:
            self.problem(f"{self.src.name}: no 'categories' list; add the category tree")
        self.check_nodes()
        self.build_items()
        self.check_migrations(data.get("previous_versions"))

    def check_meta(self, data: Mapping) -> None:
        name = self.src.name
        for key in data:
            if key not in _TOP_FIELDS:
                self.problem(f"{name}: unknown top-level field {key!r}{_suggest(str(key), _TOP_FIELDS)}")
        version = data.get("version")
        if version is None or version == "":
            self.problem(f"{name}: missing 'version'; add e.g. version: \"2026.11\" (quoted)")
        elif not isinstance(version, str):
            self.problem(
                f"{name}: version {version!r} is a {type(version).__name__}; quote it "
                f'(version: "{version}") so 2026.10 does not become 2026.1'
            )
        self.meta["version"] = str(version) if version is not None else ""
        cat_id = data.get("catalog")
        if cat_id is not None and not isinstance(cat_id, str):
            self.problem(f"{name}: 'catalog' (the catalog id) must be a string")
        self.meta["id"] = str(cat_id) if cat_id else Path(name).stem
        self.meta["name"] = str(data.get("name") or self.meta["id"])
        self.meta["rule"] = data.get("response_level_rule")

        levels = data.get("response_levels")
        resolved: dict[str, dict[str, Any]] = {}
        if levels is None:
            resolved = {k: {"deadline_hours": h, "name": k} for k, h in RESPONSE_LEVEL_HOURS.items()}
        elif not isinstance(levels, Mapping):
            self.problem(f"{name}: 'response_levels' must map level → {{deadline_hours, name}}")
        else:
            for key, spec in levels.items():
                if key not in RESPONSE_LEVEL_HOURS:
                    self.problem(
                        f"{name}: unknown response level {key!r} in response_levels; use one of "
                        f"{', '.join(RESPONSE_LEVEL_HOURS)}{_suggest(str(key), RESPONSE_LEVEL_HOURS)}"
                    )
                    continue
                hours = spec.get("deadline_hours") if isinstance(spec, Mapping) else None
                if hours != RESPONSE_LEVEL_HOURS[key]:
                    self.problem(
                        f"{name}: response level {key} must have deadline_hours: "
                        f"{RESPONSE_LEVEL_HOURS[key]} (got {hours!r})"
                    )
                label = spec.get("name", key) if isinstance(spec, Mapping) else key
                resolved[key] = {"deadline_hours": RESPONSE_LEVEL_HOURS[key], "name": str(label)}
        self.meta["response_levels"] = resolved

        appeal = data.get("appeal_types", list(APPEAL_TYPES))
        appeal_list = _str_list(appeal)
        if appeal_list is None:
            self.problem(f"{name}: 'appeal_types' must be a list of strings")
            appeal_list = list(APPEAL_TYPES)
        for a in appeal_list:
            if a not in APPEAL_TYPES:
                self.problem(f"{name}: unknown appeal type {a!r}; use only {', '.join(APPEAL_TYPES)}")
        self.meta["appeal_types"] = tuple(a for a in appeal_list if a in APPEAL_TYPES)

        settings = data.get("settings") or {}
        if not isinstance(settings, Mapping):
            self.problem(f"{name}: 'settings' must be a mapping")
            settings = {}
        td = settings.get("territorial_dispatch", "street")
        if td not in TERRITORIAL_DISPATCH:
            self.problem(f"{name}: settings.territorial_dispatch is {td!r}; use 'street' or 'district_subcentre'")
        self.meta["settings"] = {**dict(settings), "territorial_dispatch": td}

    # -- collecting nodes
    def add_node(self, raw: Any, parent: str | None, where_hint: str) -> str | None:
        if not isinstance(raw, Mapping):
            self.problem(f"{self.src.name}: {where_hint}: each catalog item must be a mapping with code and name")
            return None
        code = raw.get("code")
        name = raw.get("name")
        where = self.src.where(raw)
        ctx = f"{' > '.join(self.path_names(parent)) + ' > ' if parent else ''}{name or '?'}"
        if isinstance(code, int) and not isinstance(code, bool):
            self.problem(
                f'{ctx}{where}: code {code} was read as a number; quote it (code: "{code:02d}" or '
                f"the intended digits) so leading zeros are kept"
            )
            return None
        if not isinstance(code, str) or not code:
            self.problem(f'{ctx}{where}: missing \'code\'; give two digits per level, e.g. "01", "0101"')
            return None
        if not isinstance(name, str) or not name.strip():
            self.problem(f"{where_hint} ({code}){where}: missing 'name'")
            name = f"<{code}>"
        for key in raw:
            if key not in _ITEM_FIELDS:
                self.problem(f"{ctx} ({code}){where}: unknown field {key!r}{_suggest(str(key), _ITEM_FIELDS)}")
        if code in self.nodes:
            self.problem(
                f"{ctx} ({code}){where}: duplicate code {code}, already used by "
                f"{self.label(code)}; give each item its own code"
            )
            return None
        # keep the original mapping: line numbers are keyed by its id
        self.nodes[code] = _Node(code, name, parent, raw, len(self.nodes))
        return code

    def collect_tree(self, categories: Any) -> None:
        if not isinstance(categories, list):
            self.problem(f"{self.src.name}: 'categories' must be a list of items")
            return

        def walk(items: Any, parent: str | None, depth: int) -> None:
            for i, raw in enumerate(items):
                code = self.add_node(raw, parent, f"categories item {i + 1}")
                if code is None:
                    continue
                kids = raw.get("children")
                if kids is None:
                    continue
                if not isinstance(kids, list):
                    self.problem(f"{self.label(code)}: 'children' must be a list")
                    continue
                if depth >= MAX_LEVEL and kids:
                    self.problem(
                        f"{self.label(code)}: has children below level {MAX_LEVEL}; a catalog has at "
                        f"most {MAX_LEVEL} levels"
                    )
                    continue
                walk(kids, code, depth + 1)

        walk(categories, None, 1)

    def collect_flat(self, items: Any) -> None:
        if not isinstance(items, list):
            self.problem(f"{self.src.name}: 'items' must be a list of {{code, name, parent}}")
            return
        for i, raw in enumerate(items):
            parent = raw.get("parent") if isinstance(raw, Mapping) else None
            if parent is not None and not isinstance(parent, str):
                parent = str(parent)
            self.add_node(raw, parent, f"items entry {i + 1}")
        # broken links and cycles
        for code, node in self.nodes.items():
            if node.parent is not None and node.parent not in self.nodes:
                self.problem(
                    f"{self.label(code)}: parent {node.parent!r} is not in the catalog; fix the parent "
                    f"code or add the parent item"
                )
        reported: set[str] = set()
        for code in self.nodes:
            seen: list[str] = []
            cur: str | None = code
            while cur is not None and cur in self.nodes and cur not in seen:
                seen.append(cur)
                cur = self.nodes[cur].parent
            if cur is not None and cur in seen:
                cycle = seen[seen.index(cur) :]
                key = min(cycle)
                if key not in reported:
                    reported.add(key)
                    chain = " → ".join(cycle + [cur])
                    self.problem(
                        f"{self.nodes[key].name} ({key}): parent links form a cycle ({chain}); "
                        f"every chain of parents must end at a first-level item"
                    )
                self.nodes[key].parent = None  # break the cycle so later steps terminate

    # -- per node checks
    def check_nodes(self) -> None:
        for code, node in self.nodes.items():
            if node.parent is not None and node.parent in self.nodes:
                self.nodes[node.parent].children.append(code)
        sibling_names: dict[str | None, dict[str, str]] = {}
        for code, node in self.nodes.items():
            label = self.label(code)
            parent = node.parent
            if not _CODE_RE.match(code):
                self.problem(
                    f'{label}: malformed code {code!r}; use two digits per level ("01", "0101", '
                    f'"010101"), at most {MAX_LEVEL} levels'
                )
            elif parent is None:
                if len(code) != 2:
                    self.problem(f"{label}: a first-level item needs a two-digit code, not {code!r}")
            elif parent in self.nodes and not (code.startswith(parent) and len(code) == len(parent) + 2):
                self.problem(
                    f"{label}: code {code} must be its parent's code {parent} plus two digits (e.g. {parent}01)"
                )
            names = sibling_names.setdefault(parent, {})
            if node.name in names:
                self.problem(
                    f"{label}: duplicate name {node.name!r} among siblings (also {names[node.name]}); "
                    f"rename one or merge them"
                )
            else:
                names[node.name] = code

    def normalise(self, label: str, fields: Mapping, *, in_defaults: bool) -> dict[str, Any]:
        """Check the dispatch fields written in ``fields`` (an item or its defaults) and normalise them.

        Each value is checked where it is written, so a bad default is reported once, not on every
        descendant.  A bad value is kept as ``_INVALID`` so descendants do not report it again as missing.
        """
        where = " defaults" if in_defaults else ""
        out: dict[str, Any] = {}
        if "response_level" in fields:
            level = fields["response_level"]
            if level in self.meta["response_levels"]:
                out["response_level"] = level
            else:
                known = ", ".join(self.meta["response_levels"])
                self.problem(
                    f"{label}:{where} unknown response level {level!r}; use one of {known}"
                    f"{_suggest(str(level), self.meta['response_levels'])}"
                )
                out["response_level"] = _INVALID
        if "duty" in fields:
            duty = fields["duty"]
            if duty in DUTY_TYPES:
                out["duty"] = duty
            else:
                self.problem(
                    f"{label}:{where} unknown duty type {duty!r}; use one of {', '.join(DUTY_TYPES)}"
                    f"{_suggest(str(duty), DUTY_TYPES)}"
                )
                out["duty"] = _INVALID
        if "unit_type" in fields or "unit_ids" in fields:
            unit_type = fields.get("unit_type")
            unit_ids = fields.get("unit_ids")
            ids: list[str] = []
            if unit_type is not None:
                if not isinstance(unit_type, str):
                    self.problem(f"{label}:{where} unit_type must be a string such as 'street_office'")
                    unit_type = None
                else:
                    self.check_unit_type(label, unit_type)
            if unit_ids is not None:
                checked = _str_list(unit_ids)
                if checked is None:
                    self.problem(f"{label}:{where} unit_ids must be a list of unit ids, e.g. [city_rsj]")
                else:
                    ids = checked
                    for uid in ids:
                        self.check_unit_id(label, uid)
            out["unit"] = (unit_type, tuple(ids))
        if "cooperating" in fields:
            coop = _str_list(fields["cooperating"])
            if coop is None:
                self.problem(f"{label}:{where} cooperating must be a list of unit types or ids")
                coop = []
            for c in coop:
                self.check_cooperating(label, c)
            out["cooperating"] = tuple(coop)
        if "emergency" in fields:
            out["emergency"] = self.check_emergency(label, fields["emergency"])
        if "exclusion" in fields:
            out["exclusion"] = self.check_exclusion(label, fields["exclusion"])
        return out

    def chain(self, code: str) -> list[_Node]:
        """The node and its ancestors, nearest first (cycles were broken when collecting)."""
        out: list[_Node] = []
        seen: set[str] = set()
        cur: str | None = code
        while cur is not None and cur in self.nodes and cur not in seen:
            seen.add(cur)
            out.append(self.nodes[cur])
            cur = self.nodes[cur].parent
        return out

    def build_items(self) -> None:
        own: dict[str, dict[str, Any]] = {}
        defaults: dict[str, dict[str, Any]] = {}
        for code, node in self.nodes.items():
            label = self.label(code)
            own[code] = self.normalise(label, node.raw, in_defaults=False)
            raw_defaults = node.raw.get("defaults")
            if raw_defaults is None:
                defaults[code] = {}
            elif not isinstance(raw_defaults, Mapping):
                self.problem(f"{label}: 'defaults' must be a mapping")
                defaults[code] = {}
            else:
                for key in raw_defaults:
                    if key not in _INHERITED + ("unit_type", "unit_ids"):
                        self.problem(
                            f"{label}: field {key!r} cannot be inherited through 'defaults'; set it "
                            f"on the items themselves"
                        )
                defaults[code] = self.normalise(label, raw_defaults, in_defaults=True)

        for code, node in self.nodes.items():
            label = self.label(code)
            chain = self.chain(code)
            eff: dict[str, Any] = {}
            for key in ("response_level", "duty", "unit", "cooperating", "emergency", "exclusion"):
                if key in own[code]:
                    eff[key] = own[code][key]
                    continue
                for anc in chain:
                    if key in defaults[anc.code]:
                        eff[key] = defaults[anc.code][key]
                        break
            kw_raw = node.raw.get("keywords")
            keywords: list[str] = []
            if kw_raw is not None:
                kws = _str_list(kw_raw)
                if kws is None:
                    self.problem(f"{label}: keywords must be a list of words or phrases")
                else:
                    keywords = [k.strip() for k in kws]
            unit_type, unit_ids = eff.get("unit", (None, ()))
            is_leaf = not node.children
            if is_leaf:
                self.check_leaf(label, eff, keywords)
            level, duty = eff.get("response_level"), eff.get("duty")
            coop = eff.get("cooperating") or ()
            names = tuple(self.path_names(code))
            self.items[code] = CatalogItem(
                code=code,
                name=node.name,
                level=len(names),
                parent=node.parent,
                path=names,
                response_level=None if level is _INVALID else level,
                duty=None if duty is _INVALID else duty,
                unit_type=unit_type,
                unit_ids=tuple(unit_ids),
                cooperating=tuple(c for c in coop if c != unit_type and c not in unit_ids),
                keywords=tuple(keywords),
                emergency=eff.get("emergency"),
                exclusion=eff.get("exclusion"),
                is_leaf=is_leaf,
            )

    def check_leaf(self, label: str, eff: dict[str, Any], keywords: list[str]) -> None:
        duty = eff.get("duty")
        if "response_level" not in eff:
            self.problem(
                f"{label}: no response level; set response_level (2h/24h/7d/15d) on the item or in "
                f"an ancestor's defaults"
            )
        if "duty" not in eff:
            self.problem(
                f"{label}: no duty type; set duty ({', '.join(DUTY_TYPES)}) on the item or in an ancestor's defaults"
            )
        unit_type, unit_ids = eff.get("unit", (None, ()))
        if duty == "emergency_transfer" and eff.get("emergency") is None and "emergency" not in eff:
            self.problem(
                f"{label}: duty emergency_transfer needs emergency: {{transfer_to: 110|119|120|122, markers: [...]}}"
            )
        if duty == "out_of_scope" and "exclusion" not in eff:
            self.problem(
                f"{label}: duty out_of_scope needs exclusion: {{reason: ..., markers: [...]}} saying "
                f"where the caller should go instead"
            )
        if duty in _DUTY_UNIT_PREFIX:
            if unit_type is None and not unit_ids:
                self.problem(
                    f"{label}: no handling unit; set unit_type or unit_ids (only emergency_transfer and "
                    f"out_of_scope items may have none)"
                )
            else:
                prefixes = _DUTY_UNIT_PREFIX[duty]
                for unit in ([unit_type] if unit_type else []) + [u.split("@")[0] for u in unit_ids]:
                    if not unit.startswith(prefixes):
                        fits = " or ".join(p + "*" if p.endswith("_") else p for p in prefixes)
                        self.problem(
                            f"{label}: duty {duty} does not fit unit {unit!r}; {duty} items are handled "
                            f"by {fits}; change the duty or the unit"
                        )
        present = [k for k in keywords if k]
        distinct = list(dict.fromkeys(present))
        if not self.meta.get("settings", {}).get("keywords_required", True):
            # A catalog defined by a city's own labels (train --catalog-from-labels) has no keywords yet.
            pass
        elif not keywords:
            self.problem(
                f"{label}: leaf item without keywords; add at least {MIN_KEYWORDS} words or phrases "
                f"operators and citizens write for it"
            )
        elif len(distinct) < MIN_KEYWORDS:
            self.problem(
                f"{label}: only {len(distinct)} distinct keyword(s); add at least "
                f"{MIN_KEYWORDS - len(distinct)} more (minimum {MIN_KEYWORDS})"
            )
        if len(distinct) != len(present):
            dups = sorted({k for k in present if present.count(k) > 1})
            self.problem(f"{label}: repeated keyword(s) {', '.join(dups)}; list each once")
        if len(present) != len(keywords):
            self.problem(f"{label}: empty keyword in the list; remove it")

    def check_emergency(self, label: str, value: Any) -> dict | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem(f"{label}: emergency must be a mapping {{transfer_to, markers}}")
            return None
        to = value.get("transfer_to")
        to_s = str(to) if isinstance(to, (str, int)) and not isinstance(to, bool) else None
        markers = _str_list(value.get("markers", []))
        ok = True
        if to_s not in EMERGENCY_NUMBERS:
            self.problem(f"{label}: emergency transfer number {to!r} is not one of {', '.join(EMERGENCY_NUMBERS)}")
            ok = False
        if markers is None:
            self.problem(f"{label}: emergency markers must be a list of words")
            ok = False
        elif not markers:
            self.problem(f"{label}: emergency needs at least one marker word (e.g. 着火, 晕倒)")
        return {"transfer_to": to_s, "markers": tuple(markers or ())} if ok else None

    def check_exclusion(self, label: str, value: Any) -> dict | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem(f"{label}: exclusion must be a mapping {{reason, markers}}")
            return None
        reason = value.get("reason")
        markers = _str_list(value.get("markers", []))
        if not isinstance(reason, str) or not reason.strip():
            self.problem(f"{label}: exclusion needs a reason (e.g. 属于法院诉讼范围)")
            return None
        if markers is None:
            self.problem(f"{label}: exclusion markers must be a list of words")
            return None
        return {"reason": reason, "markers": tuple(markers)}

    def check_unit_type(self, label: str, unit_type: str) -> None:
        if self.units is not None:
            if not self.units.has_unit_type(unit_type):
                self.problem(f"{label}: unit type {unit_type!r} is not in the units registry")
        elif unit_type != "district_subcentre" and unit_type not in UNIT_TYPES:
            self.problem(
                f"{label}: unknown unit type {unit_type!r}{_suggest(unit_type, UNIT_TYPES)}; use "
                f"street_office, district_subcentre or a district_/city_/utility_ type from "
                f"docs/contracts.md"
            )

    def check_unit_id(self, label: str, unit_id: str) -> None:
        if self.units is not None:
            if not self.units.has_unit(unit_id):
                self.problem(f"{label}: unit id {unit_id!r} is not in the units registry")
            return
        if unit_id in CITY_UNIT_TYPES or unit_id in UTILITY_UNIT_TYPES:
            return
        match = _UNIT_ID_RE.match(unit_id)
        base = unit_id.split("@")[0]
        if not match or (base != "street_office" and base not in DISTRICT_UNIT_TYPES):
            self.problem(
                f"{label}: unknown unit id {unit_id!r}{_suggest(unit_id, CITY_UNIT_TYPES | UTILITY_UNIT_TYPES)}; "
                f"use city_*/utility_* ids, street_office@<9-digit code> or district_<x>@<6-digit code>"
            )

    def check_cooperating(self, label: str, unit: str) -> None:
        if "@" in unit:
            self.check_unit_id(label, unit)
        elif self.units is not None:
            if not (self.units.has_unit_type(unit) or self.units.has_unit(unit)):
                self.problem(f"{label}: cooperating unit {unit!r} is not in the units registry")
        else:
            self.check_unit_type(label, unit)

    # -- migrations
    def check_migrations(self, previous: Any) -> None:
        name = self.src.name
        migrations: dict[str, dict[str, str | None]] = {}
        self.meta["migrations"] = migrations
        if previous is None:
            return
        if not isinstance(previous, list):
            self.problem(f"{name}: 'previous_versions' must be a list of {{version, migration}}")
            return
        for entry in previous:
            where = self.src.where(entry)
            if not isinstance(entry, Mapping) or not isinstance(entry.get("version"), str):
                self.problem(
                    f"{name}{where}: each previous_versions entry needs a quoted 'version' and a 'migration' map"
                )
                continue
            version = entry["version"]
            if version == self.meta["version"]:
                self.problem(f"{name}{where}: previous version {version} is the catalog's own version")
            if version in migrations:
                self.problem(f"{name}{where}: previous version {version} is listed twice; merge the maps")
                continue
            mapping = entry.get("migration") or {}
            if not isinstance(mapping, Mapping):
                self.problem(f"{name}{where}: migration of {version} must map old code → new code or null")
                continue
            clean: dict[str, str | None] = {}
            for old, new in mapping.items():
                if not isinstance(old, str) or not _CODE_RE.match(old):
                    self.problem(
                        f"{name}{where}: migration {version}: old code {old!r} is not a quoted code of "
                        f"two digits per level"
                    )
                    continue
                if new is not None and (not isinstance(new, str) or not _CODE_RE.match(new)):
                    self.problem(
                        f"{name}{where}: migration {version}: {old} → {new!r}: the target must be a "
                        f"quoted code or null (removed)"
                    )
                    continue
                clean[old] = new
            migrations[version] = clean
        ordered = sorted(migrations, key=_version_key)
        for i, version in enumerate(ordered):
            later = migrations[ordered[i + 1]] if i + 1 < len(ordered) else None
            for old, new in migrations[version].items():
                if new is None or new in self.nodes or (later is not None and new in later):
                    continue
                self.problem(
                    f"{name}: migration {version}: {old} → {new}: target {new} is not in the catalog; "
                    f"map it to an existing code or to null if the item was removed"
                )


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[^0-9A-Za-z]+", version) if p)


def _analyse(data_or_path: Any, units: UnitsLike | None) -> tuple[_Analysis | None, str, list[str]]:
    src, problems = _source_of(data_or_path)
    if src is None:
        name = str(data_or_path) if isinstance(data_or_path, (str, Path)) else "<catalog data>"
        return None, name, problems
    analysis = _Analysis(src, units)
    analysis.run()
    return analysis, src.name, analysis.problems


def validate(data_or_path: Any, *, units: UnitsLike | None = None) -> list[str]:
    """Every problem of a catalog (a path to YAML/JSON, or already parsed data), in one list.

    Each message names the item path and code (and the file line where known) and what to fix.  With a
    ``units`` registry (``has_unit(id)``, ``has_unit_type(t)``) unit types and ids are checked against it;
    without one, against the vocabulary of docs/contracts.md.  An empty list means the catalog is clean.
    """
    return _analyse(data_or_path, units)[2]


# ---- the catalog ----------------------------------------------------------------------------------------


class Catalog:
    """A loaded, validated catalog.  Build with :meth:`load` or :meth:`from_dict`."""

    def __init__(self, analysis: _Analysis, source: str):
        meta = analysis.meta
        self.source = source
        self.id: str = meta["id"]
        self.version: str = meta["version"]
        self.name: str = meta["name"]
        self.response_level_rule: str | None = meta.get("rule")
        self.settings: dict[str, Any] = meta["settings"]
        self.response_levels: dict[str, dict[str, Any]] = meta["response_levels"]
        self.appeal_types: tuple[str, ...] = meta["appeal_types"]
        self.migrations: dict[str, dict[str, str | None]] = meta["migrations"]
        self.items: dict[str, CatalogItem] = dict(sorted(analysis.items.items()))
        self._children: dict[str | None, list[str]] = {}
        for code, item in self.items.items():
            self._children.setdefault(item.parent, []).append(code)
        self._by_path = {item.path: code for code, item in self.items.items()}
        self._fingerprint: str | None = None

    # -- construction
    @classmethod
    def load(cls, path: str | Path | None = None, *, units: UnitsLike | None = None) -> Catalog:
        """Load and validate a catalog file (YAML, or JSON by suffix); None = the shipped default.

        Raises :class:`~dispatch_nlp.errors.CatalogError` listing every problem when there is any.
        """
        if path is None:
            from dispatch_nlp.resources import catalog_dir

            path = catalog_dir() / "beijing-12345.yaml"
        analysis, name, problems = _analyse(Path(path), units)
        if problems or analysis is None:
            raise CatalogError(name, problems)
        return cls(analysis, name)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, units: UnitsLike | None = None, source: str = "<catalog data>"
    ) -> Catalog:
        """Build from already parsed data (the same shape as the file)."""
        analysis = _Analysis(_Source(data, source), units)
        analysis.run()
        if analysis.problems:
            raise CatalogError(source, analysis.problems)
        return cls(analysis, source)

    # -- lookup
    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, code: object) -> bool:
        return code in self.items

    def __repr__(self) -> str:
        return f"Catalog({self.id!r}, version={self.version!r}, items={len(self.items)}, leaves={len(self.leaves())})"

    def leaves(self) -> list[CatalogItem]:
        """The dispatchable items (no children), in code order."""
        return [item for item in self.items.values() if item.is_leaf]

    def get(self, code: str) -> CatalogItem:
        try:
            return self.items[code]
        except KeyError:
            hint = _suggest(str(code), self.items)
            old = [v for v, m in self.migrations.items() if code in m]
            more = f"; it is a code of version {', '.join(old)}: use migrate({code!r}, {old[0]!r})" if old else ""
            raise KeyError(f"unknown catalog code {code!r} in {self.id} {self.version}{hint}{more}") from None

    def by_path(self, names: Sequence[str] | str) -> CatalogItem:
        """The item at a path of names (``["城乡建设", "安全生产", "事故处理"]`` or ``"城乡建设 > 安全生产"``)."""
        if isinstance(names, str):
            parts = tuple(p.strip() for p in re.split(r"\s*(?:>|->|/)\s*", names) if p.strip())
        else:
            parts = tuple(names)
        code = self._by_path.get(parts)
        if code is None:
            raise KeyError(f"no catalog item at path {' > '.join(parts)!r} in {self.id} {self.version}")
        return self.items[code]

    def children(self, code: str | None = None) -> list[CatalogItem]:
        """Direct children of ``code``, or the first-level items when ``code`` is None."""
        if code is not None:
            self.get(code)
        return [self.items[c] for c in self._children.get(code, [])]

    def deadline_hours(self, level: str) -> int:
        try:
            return int(self.response_levels[level]["deadline_hours"])
        except KeyError:
            raise KeyError(
                f"unknown response level {level!r}; this catalog has {', '.join(self.response_levels)}"
            ) from None

    def migrate(self, code: str, from_version: str) -> str | None:
        """The current code of ``code`` from catalog version ``from_version``; None if it was removed.

        Maps are applied in version order from ``from_version`` on; codes a map does not name are unchanged.
        """
        if from_version == self.version:
            return self.get(code).code
        if from_version not in self.migrations:
            known = ", ".join(sorted(self.migrations, key=_version_key)) or "none"
            raise KeyError(
                f"no migration from version {from_version!r} in {self.id} {self.version} "
                f"(known previous versions: {known})"
            )
        result = self._apply_migrations(code, from_version)
        if result is not None and result not in self.items:
            raise KeyError(
                f"code {code!r} of version {from_version} is not in {self.id} {self.version} and its "
                f"migration map does not name it"
            )
        return result

    def _apply_migrations(self, code: str, from_version: str) -> str | None:
        ordered = sorted(self.migrations, key=_version_key)
        current: str | None = code
        for version in ordered[ordered.index(from_version) :]:
            mapping = self.migrations[version]
            if current in mapping:
                current = mapping[current]
            if current is None:
                return None
        return current

    # -- export
    def to_dict(self) -> dict[str, Any]:
        """Canonical nested form: every item carries its effective values explicitly (loads back equal)."""

        def node(code: str) -> dict[str, Any]:
            out = self.items[code].to_dict()
            kids = self._children.get(code)
            if kids:
                out["children"] = [node(c) for c in kids]
            return out

        return {
            "catalog": self.id,
            "version": self.version,
            "name": self.name,
            **({"response_level_rule": self.response_level_rule} if self.response_level_rule else {}),
            "response_levels": {k: dict(v) for k, v in self.response_levels.items()},
            "appeal_types": list(self.appeal_types),
            "settings": dict(self.settings),
            "previous_versions": [{"version": v, "migration": dict(m)} for v, m in self.migrations.items()],
            "categories": [node(c) for c in self._children.get(None, [])],
        }

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as YAML, or JSON when the suffix is ``.json``; returns the path."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() == ".json":
            text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        else:
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=None)
        path.write_text(text, encoding="utf-8")
        return path

    def fingerprint(self) -> str:
        """Short sha256 of the canonical content: equal catalogs give equal fingerprints."""
        if self._fingerprint is None:
            blob = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            self._fingerprint = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
        return self._fingerprint


# ---- diff -------------------------------------------------------------------------------------------


def diff(old: Catalog, new: Catalog) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: lists ``added``, ``removed``, ``renamed`` and ``moved``.

    ``moved`` holds items whose parent changed under the same code, and old codes that the new catalog's
    migration map (for the old catalog's version) sends to a different code.  Paths are name lists joined
    by `` > ``.
    """

    def path(item: CatalogItem) -> str:
        return " > ".join(item.path)

    mapped: dict[str, str | None] = {}
    if old.version in new.migrations:
        for code in old.items:
            target = new._apply_migrations(code, old.version)
            if target != code:
                mapped[code] = target
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    renamed: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for code, o in old.items.items():
        if code in mapped:
            target = mapped[code]
            if target is not None and target in new.items:
                n = new.items[target]
                moved.append(
                    {"old_code": code, "new_code": target, "old_path": path(o), "new_path": path(n), "via": "migration"}
                )
                continue
            removed.append(
                {
                    "code": code,
                    "path": path(o),
                    "via": "migration" if target is None else f"migration target {target} missing",
                }
            )
            continue
        n = new.items.get(code)
        if n is None:
            removed.append({"code": code, "path": path(o)})
            continue
        if n.name != o.name:
            renamed.append(
                {"code": code, "old_name": o.name, "new_name": n.name, "old_path": path(o), "new_path": path(n)}
            )
        if n.parent != o.parent:
            moved.append(
                {"old_code": code, "new_code": code, "old_path": path(o), "new_path": path(n), "via": "parent"}
            )
    targets = {t for t in mapped.values() if t is not None}
    for code, n in new.items.items():
        if code not in old.items and code not in targets:
            added.append({"code": code, "path": path(n)})
    return {
        "old": {"catalog": old.id, "version": old.version},
        "new": {"catalog": new.id, "version": new.version},
        "added": added,
        "removed": removed,
        "renamed": renamed,
        "moved": sorted(moved, key=lambda m: m["old_code"]),
    }
