"""Checks of one item's dispatch fields: response level, duty, unit, cooperating units, emergency and
exclusion markers, and what a leaf must have (a level, a duty, a fitting unit, keywords).

:class:`FieldChecks` reports through a ``report`` callable; :meth:`FieldChecks.normalise` returns the
checked values of an item or of its ``defaults`` (a bad value becomes ``INVALID``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dispatch_nlp.knowledge.catalog.common import INVALID, MIN_KEYWORDS, Report, str_list, suggest
from dispatch_nlp.knowledge.catalog.unit_refs import UnitRefs
from dispatch_nlp.knowledge.vocabulary import DUTY_TYPES, DUTY_UNIT_PREFIXES, EMERGENCY_NUMBERS


class FieldChecks:
    """Checks the dispatch fields of items against the catalog's response levels and settings."""

    def __init__(self, report: Report, meta: Mapping[str, Any], units: UnitRefs):
        self.report = report
        self.response_levels: Mapping[str, Any] = meta["response_levels"]
        self.keywords_required = bool(meta["settings"].get("keywords_required", True))
        self.units = units

    def normalise(self, label: str, fields: Mapping, *, in_defaults: bool) -> dict[str, Any]:
        """Check the dispatch fields written in ``fields`` (an item or its defaults) and normalise them.

        Each value is checked where it is written, so a bad default is reported once, not on every
        descendant.  A bad value is kept as ``INVALID`` so descendants do not report it again as missing.
        """
        where = " defaults" if in_defaults else ""
        out: dict[str, Any] = {}
        if "response_level" in fields:
            level = fields["response_level"]
            if isinstance(level, str) and level in self.response_levels:
                out["response_level"] = level
            else:
                known = ", ".join(self.response_levels)
                self.report(
                    f"{label}:{where} unknown response level {level!r}; use one of {known}"
                    f"{suggest(str(level), self.response_levels)}"
                )
                out["response_level"] = INVALID
        if "duty" in fields:
            duty = fields["duty"]
            if isinstance(duty, str) and duty in DUTY_TYPES:
                out["duty"] = duty
            else:
                self.report(
                    f"{label}:{where} unknown duty type {duty!r}; use one of {', '.join(DUTY_TYPES)}"
                    f"{suggest(str(duty), DUTY_TYPES)}"
                )
                out["duty"] = INVALID
        if "unit_type" in fields or "unit_ids" in fields:
            unit_type = fields.get("unit_type")
            unit_ids = fields.get("unit_ids")
            ids: list[str] = []
            if unit_type is not None:
                if not isinstance(unit_type, str):
                    self.report(f"{label}:{where} unit_type must be a string such as 'street_office'")
                    unit_type = None
                else:
                    self.units.check_type(label, unit_type)
            if unit_ids is not None:
                checked = str_list(unit_ids)
                if checked is None:
                    self.report(f"{label}:{where} unit_ids must be a list of unit ids, e.g. [city_rsj]")
                else:
                    ids = checked
                    for uid in ids:
                        self.units.check_id(label, uid)
            out["unit"] = (unit_type, tuple(ids))
        if "cooperating" in fields:
            coop = str_list(fields["cooperating"])
            if coop is None:
                self.report(f"{label}:{where} cooperating must be a list of unit types or ids")
                coop = []
            for c in coop:
                self.units.check_cooperating(label, c)
            out["cooperating"] = tuple(coop)
        if "emergency" in fields:
            out["emergency"] = self.check_emergency(label, fields["emergency"])
        if "exclusion" in fields:
            out["exclusion"] = self.check_exclusion(label, fields["exclusion"])
        return out

    def check_leaf(self, label: str, eff: dict[str, Any], keywords: list[str]) -> None:
        """What a dispatchable item needs: a response level, a duty, a fitting unit, enough keywords."""
        duty = eff.get("duty")
        if "response_level" not in eff:
            self.report(
                f"{label}: no response level; set response_level (2h/24h/7d/15d) on the item or in "
                f"an ancestor's defaults"
            )
        if "duty" not in eff:
            self.report(
                f"{label}: no duty type; set duty ({', '.join(DUTY_TYPES)}) on the item or in an ancestor's defaults"
            )
        if duty == "emergency_transfer" and eff.get("emergency") is None and "emergency" not in eff:
            numbers = "|".join(EMERGENCY_NUMBERS)
            self.report(f"{label}: duty emergency_transfer needs emergency: {{transfer_to: {numbers}, markers: [...]}}")
        if duty == "out_of_scope" and "exclusion" not in eff:
            self.report(
                f"{label}: duty out_of_scope needs exclusion: {{reason: ..., markers: [...]}} saying "
                f"where the caller should go instead"
            )
        if duty in DUTY_UNIT_PREFIXES:
            self._check_handling_unit(label, duty, eff)
        self._check_keywords(label, keywords)

    def _check_handling_unit(self, label: str, duty: str, eff: dict[str, Any]) -> None:
        """A leaf of a duty that needs a unit has one, of a type that fits the duty."""
        unit_type, unit_ids = eff.get("unit", (None, ()))
        if unit_type is None and not unit_ids:
            self.report(
                f"{label}: no handling unit; set unit_type or unit_ids (only emergency_transfer and "
                f"out_of_scope items may have none)"
            )
            return
        prefixes = DUTY_UNIT_PREFIXES[duty]
        for unit in ([unit_type] if unit_type else []) + [u.split("@")[0] for u in unit_ids]:
            if not unit.startswith(prefixes):
                fits = " or ".join(p + "*" if p.endswith("_") else p for p in prefixes)
                self.report(
                    f"{label}: duty {duty} does not fit unit {unit!r}; {duty} items are handled "
                    f"by {fits}; change the duty or the unit"
                )

    def _check_keywords(self, label: str, keywords: list[str]) -> None:
        """At least MIN_KEYWORDS distinct, non-empty keywords (unless settings.keywords_required is off)."""
        present = [k for k in keywords if k]
        distinct = list(dict.fromkeys(present))
        # A catalog defined by a city's own labels (train --catalog-from-labels) has no keywords yet.
        if self.keywords_required and not keywords:
            self.report(
                f"{label}: leaf item without keywords; add at least {MIN_KEYWORDS} words or phrases "
                f"operators and citizens write for it"
            )
        elif self.keywords_required and len(distinct) < MIN_KEYWORDS:
            self.report(
                f"{label}: only {len(distinct)} distinct keyword(s); add at least "
                f"{MIN_KEYWORDS - len(distinct)} more (minimum {MIN_KEYWORDS})"
            )
        if len(distinct) != len(present):
            dups = sorted({k for k in present if present.count(k) > 1})
            self.report(f"{label}: repeated keyword(s) {', '.join(dups)}; list each once")
        if len(present) != len(keywords):
            self.report(f"{label}: empty keyword in the list; remove it")

    def check_emergency(self, label: str, value: Any) -> dict | None:
        """``{transfer_to, markers}`` when valid, else None (problems reported)."""
        value = self._mapping(label, value, "emergency", "transfer_to, markers")
        if value is None:
            return None
        to = value.get("transfer_to")
        to_s = str(to) if isinstance(to, (str, int)) and not isinstance(to, bool) else None
        markers = str_list(value.get("markers", []))
        ok = True
        if to_s not in EMERGENCY_NUMBERS:
            self.report(f"{label}: emergency transfer number {to!r} is not one of {', '.join(EMERGENCY_NUMBERS)}")
            ok = False
        if markers is None:
            self.report(f"{label}: emergency markers must be a list of words")
            ok = False
        elif not markers:
            self.report(f"{label}: emergency needs at least one marker word (e.g. 着火, 晕倒)")
        return {"transfer_to": to_s, "markers": tuple(markers or ())} if ok else None

    def check_exclusion(self, label: str, value: Any) -> dict | None:
        """``{reason, markers}`` when valid, else None (problems reported)."""
        value = self._mapping(label, value, "exclusion", "reason, markers")
        if value is None:
            return None
        reason = value.get("reason")
        markers = str_list(value.get("markers", []))
        if not isinstance(reason, str) or not reason.strip():
            self.report(f"{label}: exclusion needs a reason (e.g. 属于法院诉讼范围)")
            return None
        if markers is None:
            self.report(f"{label}: exclusion markers must be a list of words")
            return None
        return {"reason": reason, "markers": tuple(markers)}

    def _mapping(self, label: str, value: Any, field: str, keys: str) -> Mapping | None:
        """``value`` when it is a mapping; None when absent or (reported) not a mapping of ``keys``."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.report(f"{label}: {field} must be a mapping {{{keys}}}")
            return None
        return value
