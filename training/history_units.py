"""Units defined by a history's own unit column (``dispatch-nlp train --units-from-labels``).

``units_from_values(values, registry) -> (ids, new_units)``: every distinct value of the unit column
becomes a unit. A value that is a unit id of the registry, or the name (or a short name) of exactly one
of its units, is that unit (the history merges with the registry); any other value is a unit of its own,
named as the history writes it, with the id ``city_h<NNN>`` (a city-level unit: the history says who
handled the order, not where the unit sits). ``write_units_table(path, registry, new_units)`` saves the
registry's units and the history's in the registry's TSV format: the model's ``units.tsv``, which its
config names as the units resource, so the learned unit resolves at run time without a registry edit.

``rule_accuracy(rows, catalog, registry)``: the share of held-out orders whose unit the catalog rule
alone (duty, unit type, the gold place) names right: the confidence the rule's unit gets at run time
(``config["units"]["rule_confidence"]``), instead of a constant 1.0.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dispatch_nlp.files import atomic_write
from dispatch_nlp.knowledge.units import UNITS_HEADER, Unit, UnitsRegistry
from dispatch_nlp.routing.assign import assign_units
from dispatch_nlp.types import DivisionRef, JurisdictionResult

__all__ = ["units_from_values", "write_units_table", "rule_accuracy", "HISTORY_UNIT_PREFIX", "UNITS_TABLE"]

HISTORY_UNIT_PREFIX = "city_h"
UNITS_TABLE = "units.tsv"


def units_from_values(values: Counter, registry: UnitsRegistry) -> tuple[dict[str, str], list[Unit]]:
    ids: dict[str, str] = {}
    new: list[Unit] = []
    for value, _ in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
        name = str(value).strip()
        if not name or name in ids:
            continue
        if registry.has_unit(name):
            ids[name] = name
            continue
        hits = registry.lookup(name)
        if len(hits) == 1:
            ids[name] = hits[0]
            continue
        uid = f"{HISTORY_UNIT_PREFIX}{len(new) + 1:03d}"
        ids[name] = uid
        new.append(Unit(uid, name, (), "city", uid, None, None))
    return ids, new


def _row(u: Unit) -> str:
    cells = (u.id, u.name, "|".join(u.short_names), u.level, u.unit_type, u.district_code or "", u.parent or "")
    return "\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells)


def write_units_table(path: Path, registry: UnitsRegistry, new_units: list[Unit]) -> None:
    lines = ["# units of the registry the model was trained with, then the units its history names",
             "\t".join(UNITS_HEADER), *(_row(u) for u in registry), *(_row(u) for u in new_units)]
    atomic_write(path, "\n".join(lines) + "\n")


def rule_accuracy(rows, catalog, registry, gazetteer, territorial_dispatch: str = "street") -> float | None:
    """Held-out rows ``(category_code, district_code, street_code, unit_id)``: how often the catalog
    rule's unit is the history's (None without rows)."""
    def ref(code):
        div = gazetteer.get(code) if code else None
        return DivisionRef(div.code, div.name) if div is not None else None

    n = right = 0
    for cat, district, street, unit in rows:
        item = catalog.get(cat) if cat else None
        if item is None or not unit:
            continue
        juris = JurisdictionResult(district=ref(district), street=ref(street), method="caller")
        got = assign_units(item, juris, registry, territorial_dispatch).primary
        n += 1
        right += got is not None and got.id == unit
    return round(right / n, 4) if n else None
