"""Synthetic 12345 work orders for training and evaluation (see README.md in this folder).

    from dispatch_nlp.training.corpus import load_generator
    gen = load_generator(seed=7)            # the default catalog, gazetteer and units registry
    for order in gen.generate(1000): ...

``CorpusGenerator(catalog, gazetteer, units, seed)`` takes any objects with the catalog, gazetteer
and units APIs of ``dispatch_nlp`` (tests pass a small fixture catalog).
"""

from __future__ import annotations

from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.knowledge.units import UnitsRegistry

from .families import FAMILIES, STYLES
from .generator import STYLE_CYCLE, CorpusGenerator, assign_splits

__all__ = ["CorpusGenerator", "load_generator", "assign_splits", "FAMILIES", "STYLES", "STYLE_CYCLE"]


def load_generator(seed: int = 0, *, catalog=None, gazetteer=None, units=None, split_ratios=(0.8, 0.1, 0.1),
                   trail_rate: float = 0.12, **options) -> CorpusGenerator:
    """A generator over the shipped Beijing catalog, gazetteer and units registry (or those given:
    objects, or paths to load them from). ``options`` go to ``CorpusGenerator`` (``kw_holdout``,
    ``keyword_free_rate``, ``paraphrase_rate``, ``synonym_vectors``)."""

    if gazetteer is None or isinstance(gazetteer, (str, bytes)) or hasattr(gazetteer, "__fspath__"):
        gazetteer = Gazetteer.load(gazetteer)
    if units is None or isinstance(units, (str, bytes)) or hasattr(units, "__fspath__"):
        units = UnitsRegistry.load(units)
    if catalog is None or isinstance(catalog, (str, bytes)) or hasattr(catalog, "__fspath__"):
        catalog = Catalog.load(catalog)
    return CorpusGenerator(catalog, gazetteer, units, seed=seed, split_ratios=split_ratios, trail_rate=trail_rate,
                           **options)
