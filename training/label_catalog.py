"""A catalog defined by a city's own labels (``dispatch-nlp train --catalog-from-labels``).

``plan_label_paths(counts) -> LabelPlan`` tidies a history's label paths before they become a catalog:

- spellings that mean the same are merged (其它 → 其他, full-width and spaces folded: ``SYNONYMS``);
- a path deeper than a catalog holds (three levels) is cut to three;
- a branch where some rows stop at a level while others go deeper is trained at the deepest level
  every row reaches: when the rows that stop there are more than ``MIN_DEEPER_SHARE`` of the branch's
  rows, the deeper labels are merged into it ("collapsed"); when they are fewer, those shallow rows
  are skipped (they name no leaf of the deeper branch).

A row whose upper level is blank arrives as the shorter path of its non-blank levels (the table reader
drops blanks); when its first name is no first-level name but follows exactly one first-level name in
other rows, it gets that parent back ("filled"); otherwise it is read like any other path. The plan says what was
merged, collapsed or skipped; training writes it into metrics.json and the model card.

``catalog_from_labels(paths) -> Catalog``: every distinct (planned) label path becomes an item, codes
given in sorted order, two digits a level. The labels carry no duty or response level, so every item
gets the defaults a centre would start from (territorial, street office, 7 days) and no keywords; edit
the saved ``catalog.yaml`` to refine them.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.catalog import Catalog

DEFAULTS = {"response_level": "7d", "duty": "territorial", "unit_type": "street_office"}
MAX_LEVELS = 3
SYNONYMS: dict[str, str] = {"其它": "其他"}  # written inside a name as well ("其它问题" → "其他问题")
MIN_DEEPER_SHARE = 0.2
"""A branch whose rows stop at its own level more often than this share is trained at that level."""

Path_ = tuple[str, ...]


def canonical_name(name: str) -> str:
    """One spelling per label name: NFKC (full-width folded), no spaces, ``SYNONYMS`` applied."""
    name = "".join(unicodedata.normalize("NFKC", name).split())
    for variant, canonical in SYNONYMS.items():
        name = name.replace(variant, canonical)
    return name


@dataclass
class LabelPlan:
    mapping: dict[Path_, Path_ | None] = field(default_factory=dict)  # path as read -> catalog path (None: skipped)
    spellings: dict[str, str] = field(default_factory=dict)  # name as written -> the spelling kept
    cut: Counter = field(default_factory=Counter)  # paths deeper than MAX_LEVELS -> rows
    collapsed: Counter = field(default_factory=Counter)  # branch trained at its own level -> rows merged into it
    skipped: Counter = field(default_factory=Counter)  # path -> rows left out (a shallow label of a deeper branch)
    filled: Counter = field(default_factory=Counter)  # path with a blank first level -> rows given its parent

    def paths(self) -> list[Path_]:
        return sorted({p for p in self.mapping.values() if p is not None})

    def leaf_path(self, names: Path_) -> Path_ | None:
        return self.mapping.get(tuple(names))

    def to_dict(self) -> dict:
        def joined(c: Counter) -> dict[str, int]:
            return {" > ".join(k): v for k, v in c.most_common()}
        return {"paths": len(self.paths()), "spellings_merged": dict(sorted(self.spellings.items())),
                "cut_to_three_levels": joined(self.cut), "collapsed_to_level": joined(self.collapsed),
                "skipped_rows": joined(self.skipped), "skipped_total": sum(self.skipped.values()),
                "blank_first_level_filled": dict(self.filled.most_common())}


def _below_one(path: Path_, paths) -> str | None:
    """The one first-level name under which ``path`` continues a longer path (``parent > *path``), or None."""
    parents = {p[0] for p in paths if len(p) > len(path) and p[1:1 + len(path)] == path}
    return next(iter(parents)) if len(parents) == 1 else None


def plan_label_paths(counts: Counter, *, min_deeper_share: float = MIN_DEEPER_SHARE) -> LabelPlan:
    """The catalog path of every label path read (``counts``: path -> rows); see the module docstring."""
    plan = LabelPlan()
    tidy: dict[Path_, Path_] = {}
    for raw in counts:
        names = []
        for name in raw:
            canon = canonical_name(name)
            if canon != name:
                plan.spellings[name] = canon
            if canon:
                names.append(canon)
        path = tuple(names)
        if len(path) > MAX_LEVELS:
            plan.cut[path] += counts[raw]
            path = path[:MAX_LEVELS]
        tidy[raw] = path
    # A blank upper level: a path whose first name is no first-level name but sits at level 2 under
    # exactly one first-level name elsewhere gets that parent back (the reader dropped the blank).
    firsts = {p[0] for p in tidy.values() if p and len(p) > 1} | {p[0] for p in tidy.values() if len(p) == 1
                                                                   and not _below_one(p, tidy.values())}
    for raw, path in list(tidy.items()):
        if path and path[0] not in firsts:
            parent = _below_one(path, tidy.values())
            if parent is not None:
                tidy[raw] = ((parent,) + path)[:MAX_LEVELS]
                plan.filled[" > ".join(path)] += counts[raw]
    rows: Counter = Counter()  # rows ending exactly at a path (tidied)
    for raw, path in tidy.items():
        if path:
            rows[path] += counts[raw]
    below: Counter = Counter()  # rows of every path strictly below a prefix
    for path, n in rows.items():
        for k in range(1, len(path)):
            below[path[:k]] += n
    # From the top: a prefix that has rows of its own and rows below it is either kept as a leaf
    # (its deeper rows merged into it) or its own rows are skipped.
    collapse: set[Path_] = set()
    skip: set[Path_] = set()
    for prefix in sorted(below, key=len):
        if any(prefix[:k] in collapse for k in range(1, len(prefix))) or not rows.get(prefix):
            continue
        own = rows[prefix]
        if own / (own + below[prefix]) > min_deeper_share:
            collapse.add(prefix)
            plan.collapsed[prefix] += below[prefix]
        else:
            skip.add(prefix)
    for raw, path in tidy.items():
        if not path:
            plan.mapping[raw] = None
            continue
        top = next((path[:k] for k in range(1, len(path) + 1) if path[:k] in collapse), None)
        if top is not None:
            plan.mapping[raw] = top
        elif path in skip:
            plan.mapping[raw] = None
            plan.skipped[path] += counts[raw]
        else:
            plan.mapping[raw] = path
    return plan


def catalog_from_labels(paths: list[tuple[str, ...]], *, version: str = "labels-1") -> Catalog:
    if not paths:
        raise InputError("--catalog-from-labels: the table has no category labels")
    tree: dict = {}
    for path in paths:
        if not 1 <= len(path) <= MAX_LEVELS:
            raise InputError(f"category path {' > '.join(path)!r} has {len(path)} levels; catalogs have 1 to 3")
        node = tree
        for name in path:
            node = node.setdefault(name, {})

    def build(node: dict, prefix: str, trail: list[str]) -> list[dict]:
        if len(node) > 99:
            raise InputError(f"{' > '.join(trail) or 'the first level'} has {len(node)} categories; "
                             "a catalog level holds at most 99")
        items = []
        for i, name in enumerate(sorted(node), start=1):
            code = f"{prefix}{i:02d}"
            item: dict = {"code": code, "name": name}
            if node[name]:
                item["children"] = build(node[name], code, trail + [name])
            items.append(item)
        return items

    data = {
        "catalog": "from-labels",
        "version": version,
        "name": "catalog defined by training labels",
        "settings": {"keywords_required": False, "territorial_dispatch": "street"},
        "categories": [{**c, "defaults": DEFAULTS} for c in build(tree, "", [])],
    }
    return Catalog.from_dict(data, source="labels")
