"""Labeled examples from a table, the text prepared exactly as the model's pipeline prepares it.

``load_examples(path, spec, catalog, gazetteer, config=..., ...)`` reads a labeled table and returns
``(examples, report)``: one ``Example`` per usable row (its ``text`` is what a classifier member reads:
the title and body through the model's text components, ``normalize`` with trail cutting and
``mask``, built by the same factories as ``Dispatcher.load``), labels mapped to catalog leaf codes and
12-digit division codes, exact duplicates dropped, and a split: by a split column when there is one,
by time when a time column exists (the model must predict the future, not the past), otherwise at
random per seed. The report counts everything dropped or unknown. ``evaluate`` and training both read
tables through here (training also drops near duplicates across the split).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch_nlp.batch.tables import ColumnSpec, LabeledRow, read_rows
from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.divisions import district_of, district_prefix
from dispatch_nlp.pipeline import Component, Doc
from dispatch_nlp.pipeline.registry import TEXT_COMPONENTS, Resources, build_components, component_names
from dispatch_nlp.types import WorkOrder

__all__ = ["Example", "DataReport", "text_components", "prepare_text", "clean_text", "resolve_place",
           "load_examples", "iter_examples", "split_names"]


@dataclass(slots=True)  # no per-example __dict__: a million examples hold ~100 MB less
class Example:
    id: str
    text: str  # normalized, trail cut, masked: what the model reads
    leaf: str | None = None  # catalog leaf code
    appeal: str | None = None
    district: str | None = None  # 12-digit codes
    street: str | None = None
    unit: str | None = None
    time: str | None = None
    split: str = "train"


@dataclass
class DataReport:
    rows: int = 0
    bad_rows: int = 0
    empty: int = 0
    exact_duplicates: int = 0
    near_duplicates_dropped: int = 0
    trails_cut: int = 0
    unknown_categories: Counter = field(default_factory=Counter)
    unknown_places: Counter = field(default_factory=Counter)
    split_method: str = "random"
    splits: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["unknown_categories"] = dict(self.unknown_categories.most_common(50))
        d["unknown_places"] = dict(self.unknown_places.most_common(50))
        return d


def text_components(config: Mapping[str, Any] | None = None, *, cut_trails: bool = True) -> list[Component]:
    """The components of a model config that change ``doc.text`` (normalize, mask: those of them the
    config runs), built by the pipeline's factories; ``cut_trails`` overrides the normalize section
    (on for history and training data)."""
    config = config or {}
    names = [n for n in component_names(config) if n in TEXT_COMPONENTS]
    return build_components(config, Resources(catalog=None, gazetteer=None), names=names,
                            overrides={"normalize": {"cut_trails": cut_trails}})


def prepare_text(title: str | None, text: str, components: Sequence[Component]) -> Doc:
    """One order through the text components: the ``Doc`` (``doc.text``, ``doc.flags``)."""
    doc = Doc.from_order(WorkOrder(text=text, title=title))
    for component in components:
        doc = component(doc)
    return doc


_DEFAULT_COMPONENTS: list[Component] = []


def clean_text(title: str | None, text: str, components: Sequence[Component] | None = None) -> tuple[str, bool]:
    """The text the model reads (title + body, normalized, trail cut, masked) and whether a trail was cut.
    ``components``: ``text_components(config)`` of the model (default: a model config's defaults)."""
    if components is None:
        if not _DEFAULT_COMPONENTS:
            _DEFAULT_COMPONENTS.extend(text_components())
        components = _DEFAULT_COMPONENTS
    doc = prepare_text(title, text, components)
    return doc.text, "trail_cut" in doc.flags


def resolve_place(gazetteer, district: str | None, street: str | None) -> tuple[str | None, str | None, str | None]:
    """12-digit (district, street) codes from names or codes; the third value names what is unknown."""
    def one(value: str | None, level: str, within: str | None) -> tuple[str | None, bool]:
        if not value:
            return None, True
        div = gazetteer.get(value) if value.isdigit() else None
        if div is not None:
            return div.code, True
        codes = [c for c in gazetteer.lookup(value) if gazetteer.get(c) and gazetteer.get(c).level == level]
        if within:
            codes = [c for c in codes if c.startswith(district_prefix(within))]
        return (codes[0], True) if len(codes) == 1 else (None, False)

    d, ok_d = one(district, "district", None)
    s, ok_s = one(street, "street", d)
    if s and not d:
        d = district_of(s)
    unknown = None if ok_d and ok_s else (district if not ok_d else street)
    return d, s, unknown


def load_examples(path: str | Path, spec: ColumnSpec, catalog, gazetteer=None, *, split_col: str | None = None,
                  dev_ratio: float = 0.1, test_ratio: float = 0.1, seed: int = 13, encoding: str | None = None,
                  max_rows: int | None = None, leaf_of=None, progress: bool = False,
                  config: Mapping[str, Any] | None = None) -> tuple[list[Example], DataReport]:
    """Read, clean, label, deduplicate (exact) and split. ``leaf_of(names) -> code|None`` maps a label
    path to a catalog leaf (default: ``catalog.by_path``); ``config`` is the model config whose text
    components prepare the text (default: a config's defaults)."""
    report = DataReport()
    examples: list[Example] = []
    split_values: list[str | None] = []
    for ex, split_value in iter_examples(path, spec, catalog, gazetteer, report, split_col=split_col,
                                         encoding=encoding, max_rows=max_rows, leaf_of=leaf_of,
                                         progress=progress, config=config):
        examples.append(ex)
        split_values.append(split_value)
    splits = split_names([e.time for e in examples], split_values, spec, report, dev_ratio, test_ratio, seed,
                         split_col)
    for ex, name in zip(examples, splits):
        ex.split = name
    report.splits = dict(Counter(splits))
    return examples, report


def iter_examples(path: str | Path, spec: ColumnSpec, catalog, gazetteer, report: DataReport, *,
                  split_col: str | None = None, encoding: str | None = None, max_rows: int | None = None,
                  leaf_of=None, progress: bool = False,
                  config: Mapping[str, Any] | None = None) -> Iterator[tuple[Example, str | None]]:
    """Stream the usable rows of a labeled table as ``(Example, split cell)`` (the cell is None without
    ``split_col``; the example's ``split`` is not set yet), counting what is dropped into ``report``.
    One pass over the file; what it keeps in memory is one digest per distinct text (for the exact
    duplicates), so ``hf_dataset.examples_dataset`` can write years of history straight to disk."""
    from tqdm import tqdm

    components = text_components(config)
    seen: set[bytes] = set()
    leaf_of = leaf_of or (lambda names: leaf_by_path(catalog, names))
    rows = _labeled_rows(path, spec, encoding, split_col)
    for row, split_value in tqdm(rows, desc="reading", unit=" rows", disable=not progress):
        report.rows += 1
        if max_rows and report.rows > max_rows:
            break
        if isinstance(row, InputError):
            report.bad_rows += 1
            continue
        text, cut = clean_text(row.order.title, row.order.text, components)
        report.trails_cut += cut
        if not text.strip():
            report.empty += 1
            continue
        digest = hashlib.sha1(text.encode("utf-8")).digest()
        if digest in seen:
            report.exact_duplicates += 1
            continue
        seen.add(digest)
        ex = Example(id=row.order.id or str(row.row), text=text, appeal=row.appeal_type, unit=row.unit,
                     time=row.order.created_at)
        if row.category:
            ex.leaf = leaf_of(row.category)
            if ex.leaf is None:
                report.unknown_categories[" > ".join(row.category)] += 1
        if gazetteer is not None and (row.district or row.street):
            ex.district, ex.street, unknown = resolve_place(gazetteer, row.district, row.street)
            if unknown:
                report.unknown_places[unknown] += 1
        yield ex, split_value


def _labeled_rows(path, spec: ColumnSpec, encoding: str | None,
                  split_col: str | None) -> Iterator[tuple[LabeledRow | InputError, str | None]]:
    """``read_labeled`` and the split column's cell of the same raw row, in one pass."""
    first = True
    for n, raw in read_rows(path, encoding=encoding):
        if first:
            if "__error__" not in raw:
                spec.check_header(list(raw), str(path))
            first = False
        try:
            row: LabeledRow | InputError = spec.parse(n, raw)
        except InputError as exc:
            row = exc
        yield row, (str(raw.get(split_col, "")).strip() if split_col else None)


def leaf_by_path(catalog, names: tuple[str, ...]) -> str | None:
    try:
        item = catalog.by_path(tuple(names))
    except KeyError:
        item = None
    if item is None and len(names) == 1:
        # A table may give the leaf name alone; accept it when it names exactly one leaf.
        hits = [leaf for leaf in catalog.leaves() if leaf.name == names[0]]
        item = hits[0] if len(hits) == 1 else None
    if item is None or not getattr(item, "is_leaf", True):
        return None
    return item.code


def split_names(times: Sequence[str | None], split_values: Sequence[str | None], spec: ColumnSpec,
                report: DataReport, dev_ratio: float, test_ratio: float, seed: int,
                split_col: str | None) -> list[str]:
    """train/dev/test for each example, from its split cell, its time or a seeded draw (in that order
    of preference, see the module docstring); sets ``report.split_method``."""
    if split_col:
        report.split_method = f"column {split_col}"
        return [value if value in ("train", "dev", "test") else "train" for value in split_values]
    n = len(times)
    if spec.time_col and any(times):
        report.split_method = f"time ({spec.time_col})"
        order = sorted(range(n), key=lambda i: (times[i] or "", i))
        n_test, n_dev = int(n * test_ratio), int(n * dev_ratio)
        out = ["train"] * n
        for rank, i in enumerate(order):
            out[i] = "test" if rank >= n - n_test else "dev" if rank >= n - n_test - n_dev else "train"
        return out
    report.split_method = f"random (seed {seed})"
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        out.append("test" if r < test_ratio else "dev" if r < test_ratio + dev_ratio else "train")
    return out
