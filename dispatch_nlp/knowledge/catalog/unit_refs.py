"""Checks of the units an item names: its unit type, unit ids and cooperating units.

With a units registry (:class:`~dispatch_nlp.knowledge.catalog.item.UnitsLike`) each type and id must be
in it; without one they are checked against the vocabulary of docs/contracts.md
(:mod:`dispatch_nlp.knowledge.vocabulary`).  Problems go to the ``report`` callable; nothing is returned.
"""

from __future__ import annotations

import re

from dispatch_nlp.knowledge.catalog.common import Report, suggest
from dispatch_nlp.knowledge.catalog.item import UnitsLike
from dispatch_nlp.knowledge.vocabulary import (
    BDA,
    CITY_UNIT_TYPES,
    DISTRICT_UNIT_TYPES,
    STREET_OFFICE,
    UNIT_TYPES,
    UTILITY_UNIT_TYPES,
)

# street_office@<9-digit street code>, district_<x>@<6-digit district code | bda>
UNIT_ID_RE = re.compile(rf"^({STREET_OFFICE}@\d{{9}}|district_[a-z]+@(\d{{6}}|{BDA}))$")


class UnitRefs:
    """Checks unit types and ids against ``units`` (a registry) or, when None, the vocabulary."""

    def __init__(self, units: UnitsLike | None, report: Report):
        self.units = units
        self.report = report

    def check_type(self, label: str, unit_type: str) -> None:
        if self.units is not None:
            if not self.units.has_unit_type(unit_type):
                self.report(f"{label}: unit type {unit_type!r} is not in the units registry")
        elif unit_type not in UNIT_TYPES:
            self.report(
                f"{label}: unknown unit type {unit_type!r}{suggest(unit_type, UNIT_TYPES)}; use "
                f"street_office, district_subcentre or a district_/city_/utility_ type from "
                f"docs/contracts.md"
            )

    def check_id(self, label: str, unit_id: str) -> None:
        if self.units is not None:
            if not self.units.has_unit(unit_id):
                self.report(f"{label}: unit id {unit_id!r} is not in the units registry")
            return
        if unit_id in CITY_UNIT_TYPES or unit_id in UTILITY_UNIT_TYPES:
            return
        match = UNIT_ID_RE.match(unit_id)
        base = unit_id.split("@")[0]
        if not match or (base != STREET_OFFICE and base not in DISTRICT_UNIT_TYPES):
            self.report(
                f"{label}: unknown unit id {unit_id!r}{suggest(unit_id, CITY_UNIT_TYPES | UTILITY_UNIT_TYPES)}; "
                f"use city_*/utility_* ids, street_office@<9-digit code> or district_<x>@<6-digit code>"
            )

    def check_cooperating(self, label: str, unit: str) -> None:
        if "@" in unit:
            self.check_id(label, unit)
        elif self.units is not None:
            if not (self.units.has_unit_type(unit) or self.units.has_unit(unit)):
                self.report(f"{label}: cooperating unit {unit!r} is not in the units registry")
        else:
            self.check_type(label, unit)
