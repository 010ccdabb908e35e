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
for breaks and cycles.  See docs/contracts.md for the closed vocabularies used here
(:mod:`dispatch_nlp.knowledge.vocabulary`).

The package, in the order data flows through it:

===================  ====================================================================
``source``           reading YAML (with line numbers for messages) or JSON
``analysis``         one pass over the tree: structure, inheritance, the items
``top_level``        checks of the top-level fields and settings
``item_fields``      checks of an item's dispatch fields and of what a leaf needs
``unit_refs``        checks of unit types and ids (registry or vocabulary)
``migration``        ``previous_versions``: checking and applying code maps
``item``, ``model``  :class:`CatalogItem`, :class:`Catalog`
``changes``          :func:`diff` of two catalogs
===================  ====================================================================
"""

from __future__ import annotations

from dispatch_nlp.knowledge.catalog.analysis import validate
from dispatch_nlp.knowledge.catalog.changes import diff
from dispatch_nlp.knowledge.catalog.common import MAX_LEVEL, MIN_KEYWORDS
from dispatch_nlp.knowledge.catalog.item import CatalogItem, UnitsLike
from dispatch_nlp.knowledge.catalog.model import Catalog
from dispatch_nlp.knowledge.vocabulary import (
    APPEAL_TYPES,
    CITY_UNIT_TYPES,
    DISTRICT_UNIT_TYPES,
    DUTY_TYPES,
    EMERGENCY_NUMBERS,
    NO_UNIT_DUTIES,
    RESPONSE_LEVEL_HOURS,
    TERRITORIAL_DISPATCH,
    UNIT_TYPES,
    UTILITY_UNIT_TYPES,
)

__all__ = [
    "APPEAL_TYPES",
    "CITY_UNIT_TYPES",
    "DISTRICT_UNIT_TYPES",
    "DUTY_TYPES",
    "EMERGENCY_NUMBERS",
    "MAX_LEVEL",
    "MIN_KEYWORDS",
    "NO_UNIT_DUTIES",
    "RESPONSE_LEVEL_HOURS",
    "TERRITORIAL_DISPATCH",
    "UNIT_TYPES",
    "UTILITY_UNIT_TYPES",
    "Catalog",
    "CatalogItem",
    "UnitsLike",
    "diff",
    "validate",
]
