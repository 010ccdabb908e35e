"""From a labeled table to clean, split training examples.

``load_examples(path, spec, catalog, gazetteer, config=..., ...)`` is the runtime's
``dispatch_nlp.lifecycle.examples.load_examples`` (read, prepare the text with the model config's
own text components, label, drop exact duplicates, split) plus, across the split, the dropping of
dev/test examples that nearly repeat a training example. Returns the examples and the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.lifecycle.examples import DataReport, Example, clean_text, resolve_place, text_components
from dispatch_nlp.lifecycle.examples import load_examples as read_examples

from .dedup import near_duplicates

__all__ = ["Example", "DataReport", "clean_text", "resolve_place", "text_components", "load_examples"]


def load_examples(path: str | Path, spec: ColumnSpec, catalog, gazetteer=None, *, split_col: str | None = None,
                  dev_ratio: float = 0.1, test_ratio: float = 0.1, seed: int = 13, encoding: str | None = None,
                  max_rows: int | None = None, leaf_of=None, progress: bool = False,
                  drop_near_duplicates: bool = True,
                  config: Mapping[str, Any] | None = None) -> tuple[list[Example], DataReport]:
    """Read, clean, label, deduplicate and split (see the module docstring)."""
    examples, report = read_examples(path, spec, catalog, gazetteer, split_col=split_col, dev_ratio=dev_ratio,
                                     test_ratio=test_ratio, seed=seed, encoding=encoding, max_rows=max_rows,
                                     leaf_of=leaf_of, progress=progress, config=config)
    if drop_near_duplicates:
        before = len(examples)
        examples = _drop_near_duplicates(examples)
        report.near_duplicates_dropped = before - len(examples)
        report.splits = dict(Counter(e.split for e in examples))
    return examples, report


def _drop_near_duplicates(examples: list[Example]) -> list[Example]:
    """Drop dev/test examples that nearly repeat a training example (they would flatter the scores)."""
    train_idx = [i for i, e in enumerate(examples) if e.split == "train"]
    held_idx = [i for i, e in enumerate(examples) if e.split != "train"]
    if not train_idx or not held_idx:
        return examples
    dup = near_duplicates([examples[i].text for i in train_idx], [examples[i].text for i in held_idx])
    drop = {held_idx[j] for j in dup}
    return [e for i, e in enumerate(examples) if i not in drop]
