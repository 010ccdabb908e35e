"""Analysis of catalog data: one pass that both validates and builds the items.

``analyse(path_or_data, units)`` returns ``(Analysis | None, source name, problems)``; an
:class:`Analysis` holds the catalog's metadata (``meta``) and its :class:`CatalogItem` s by code.
``validate`` returns only the problems.  This module walks the tree (nested ``categories`` or a flat
``items`` list with parent links), checks codes, names and structure, and resolves inherited values;
the checks of single fields live in :mod:`.top_level`, :mod:`.item_fields`, :mod:`.unit_refs` and
:mod:`.migration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch_nlp.knowledge.catalog.common import CODE_RE, INVALID, MAX_LEVEL, str_list, suggest
from dispatch_nlp.knowledge.catalog.item import CatalogItem, UnitsLike
from dispatch_nlp.knowledge.catalog.item_fields import FieldChecks
from dispatch_nlp.knowledge.catalog.migration import check_migrations
from dispatch_nlp.knowledge.catalog.source import Source, source_of
from dispatch_nlp.knowledge.catalog.top_level import check_top_level
from dispatch_nlp.knowledge.catalog.unit_refs import UnitRefs

ITEM_FIELDS = frozenset(
    "code name parent children defaults response_level duty unit_type unit_ids cooperating keywords "
    "emergency exclusion description".split()
)
INHERITED = ("response_level", "duty", "cooperating", "emergency", "exclusion")


class _Node:
    """One item as written (``raw``, whose id keys its line number), linked to its parent and children."""

    __slots__ = ("code", "name", "parent", "raw", "order", "children")

    def __init__(self, code: str, name: str, parent: str | None, raw: Mapping, order: int):
        self.code = code
        self.name = name
        self.parent = parent
        self.raw = raw
        self.order = order
        self.children: list[str] = []


class Analysis:
    """Walks catalog data once, collecting every problem and the effective items."""

    def __init__(self, src: Source, units: UnitsLike | None):
        self.src = src
        self.units = UnitRefs(units, self.problem)
        self.problems: list[str] = []
        self.nodes: dict[str, _Node] = {}
        self.items: dict[str, CatalogItem] = {}
        self.meta: dict[str, Any] = {}

    # -- helpers
    def problem(self, msg: str) -> None:
        self.problems.append(msg)

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

    def path_names(self, code: str) -> list[str]:
        """The names from the first level down to ``code``."""
        return [node.name for node in reversed(self.chain(code))]

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
        self.meta = check_top_level(data, self.src.name, self.problem)
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
        self.build_items(FieldChecks(self.problem, self.meta, self.units))
        self.meta["migrations"] = check_migrations(
            data.get("previous_versions"), self.src, self.meta["version"], self.nodes, self.problem
        )

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
            if key not in ITEM_FIELDS:
                self.problem(f"{ctx} ({code}){where}: unknown field {key!r}{suggest(str(key), ITEM_FIELDS)}")
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
            if not CODE_RE.match(code):
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

    # -- effective values
    def build_items(self, fields: FieldChecks) -> None:
        """Each node's own values over those inherited from the nearest ``defaults``, as a CatalogItem."""
        own, defaults = self._own_and_defaults(fields)
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
            keywords = self._keywords(label, node.raw.get("keywords"))
            unit_type, unit_ids = eff.get("unit", (None, ()))
            is_leaf = not node.children
            if is_leaf:
                fields.check_leaf(label, eff, keywords)
            level, duty = eff.get("response_level"), eff.get("duty")
            coop = eff.get("cooperating") or ()
            names = tuple(self.path_names(code))
            self.items[code] = CatalogItem(
                code=code,
                name=node.name,
                level=len(names),
                parent=node.parent,
                path=names,
                response_level=None if level is INVALID else level,
                duty=None if duty is INVALID else duty,
                unit_type=unit_type,
                unit_ids=tuple(unit_ids),
                cooperating=tuple(c for c in coop if c != unit_type and c not in unit_ids),
                keywords=tuple(keywords),
                emergency=eff.get("emergency"),
                exclusion=eff.get("exclusion"),
                is_leaf=is_leaf,
            )

    def _own_and_defaults(self, fields: FieldChecks) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Per code, the checked values written on the item and those in its ``defaults``."""
        own: dict[str, dict[str, Any]] = {}
        defaults: dict[str, dict[str, Any]] = {}
        for code, node in self.nodes.items():
            label = self.label(code)
            own[code] = fields.normalise(label, node.raw, in_defaults=False)
            raw_defaults = node.raw.get("defaults")
            if raw_defaults is None:
                defaults[code] = {}
            elif not isinstance(raw_defaults, Mapping):
                self.problem(f"{label}: 'defaults' must be a mapping")
                defaults[code] = {}
            else:
                for key in raw_defaults:
                    if key not in INHERITED + ("unit_type", "unit_ids"):
                        self.problem(
                            f"{label}: field {key!r} cannot be inherited through 'defaults'; set it "
                            f"on the items themselves"
                        )
                defaults[code] = fields.normalise(label, raw_defaults, in_defaults=True)
        return own, defaults

    def _keywords(self, label: str, raw: Any) -> list[str]:
        """The item's keywords, stripped (none when the field is missing or malformed)."""
        if raw is None:
            return []
        kws = str_list(raw)
        if kws is None:
            self.problem(f"{label}: keywords must be a list of words or phrases")
            return []
        return [k.strip() for k in kws]

def analyse(data_or_path: Any, units: UnitsLike | None) -> tuple[Analysis | None, str, list[str]]:
    """Read (when given a path) and analyse a catalog: the analysis (None if unreadable), its name, problems."""
    src, problems = source_of(data_or_path)
    if src is None:
        name = str(data_or_path) if isinstance(data_or_path, (str, Path)) else "<catalog data>"
        return None, name, problems
    analysis = Analysis(src, units)
    analysis.run()
    return analysis, src.name, analysis.problems


def validate(data_or_path: Any, *, units: UnitsLike | None = None) -> list[str]:
    """Every problem of a catalog (a path to YAML/JSON, or already parsed data), in one list.

    Each message names the item path and code (and the file line where known) and what to fix.  With a
    ``units`` registry (``has_unit(id)``, ``has_unit_type(t)``) unit types and ids are checked against it;
    without one, against the vocabulary of docs/contracts.md.  An empty list means the catalog is clean.
    """
    return analyse(data_or_path, units)[2]

