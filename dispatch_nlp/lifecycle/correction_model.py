"""One operator correction (改派, 退单): the ``Correction`` record, its validation and its row form.

``Correction.from_dict(data)`` takes what a client or a table row gives (field names as the dataclass)
and returns a checked, normalized correction, or raises ``InputError`` naming the field and the rule
(never the value: it may be personal data). Every field has a size limit (``CorrectionLimits``);
``corrected_at`` may not be in the future beyond the clock skew; ``decision`` is reduced to what
retraining and the statistics read (``reduce_decision``); text, title and reason are masked before
the record can reach a store; an order id that holds a phone or ID number is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.divisions import is_division_code
from dispatch_nlp.knowledge.vocabulary import APPEAL_TYPES, CORRECTION_KIND_OF, ROUTES
from dispatch_nlp.text.pii import find_pii, mask_text

__all__ = ["Correction", "CorrectionLimits", "KINDS", "CORRECTED_FIELDS", "reduce_decision", "utc_now"]

# 改派 = the order went to the wrong unit and is sent on; 退单 = the receiving unit returned it.
KINDS = CORRECTION_KIND_OF
CORRECTED_FIELDS = ("category_code", "category_path", "unit", "district", "street", "appeal_type")
_CODE_RE = re.compile(r"^(\d\d){1,3}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
_UNIT_RE = re.compile(r"^[A-Za-z0-9_.@\-]+$")
_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/#\-]*$")  # what intake systems' order ids are made of


@dataclass(frozen=True)
class CorrectionLimits:
    """What a correction may hold (the service's settings set ``max_future_skew_s``)."""

    max_future_skew_s: float = 300.0  # corrected_at may be this far ahead of the server's clock
    max_id_chars: int = 64  # order_id, correction_id
    max_short_chars: int = 200  # operator, unit
    max_path_levels: int = 3
    max_name_chars: int = 50  # one category name
    max_text_chars: int = 20_000
    max_note_chars: int = 2_000  # title, reason


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass
class Correction:
    """One operator correction. At least one of ``CORRECTED_FIELDS`` is set."""

    order_id: str
    operator: str
    kind: str = "reassign"
    category_code: str | None = None
    category_path: list[str] | None = None
    unit: str | None = None
    district: str | None = None  # 12-digit division codes
    street: str | None = None
    appeal_type: str | None = None
    catalog_version: str | None = None  # the catalog the corrected category belongs to
    decision_model_version: str | None = None
    decision_catalog_version: str | None = None
    decision: dict | None = None  # the decision JSON that was corrected, as the service returned it
    text: str | None = None  # the order text, for orders the history table does not hold (masked)
    title: str | None = None
    reason: str | None = None
    corrected_at: str | None = None  # when the operator corrected it (ISO 8601); default: received_at
    received_at: str | None = None
    correction_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def check(self, limits: "CorrectionLimits | None" = None, now: dt.datetime | None = None) -> "Correction":
        """Validate and normalize in place; raises ``InputError`` naming the field and the rule (never
        the value: it may be personal data)."""
        lim = limits or CorrectionLimits()
        self.order_id = _short("order_id", self.order_id, lim.max_id_chars, required=True)
        # An order id is kept as sent (retraining joins on it), so one that reads as personal data is
        # refused; a long serial number that happens to pass a card checksum is an id, not a card.
        if not _ORDER_ID_RE.match(self.order_id) or _holds_personal_data(self.order_id):
            raise InputError("order_id: letters, digits and _ . : / # - only, and not a phone or ID number: send "
                             "the intake system's order id")
        self.operator = _short("operator", self.operator, lim.max_short_chars, required=True)
        self.kind = KINDS.get(str(self.kind).strip(), None) or _bad("kind", "not one of " + ", ".join(sorted(KINDS)))
        if isinstance(self.category_path, str):
            self.category_path = [p.strip() for p in re.split(r"\s*(?:->|>|/)\s*", self.category_path) if p.strip()]
        if self.category_path is not None and (
                not isinstance(self.category_path, list) or not 1 <= len(self.category_path) <= lim.max_path_levels
                or not all(isinstance(p, str) and 0 < len(p) <= lim.max_name_chars for p in self.category_path)):
            raise InputError(f"category_path: expected 1 to {lim.max_path_levels} category names of at most "
                             f"{lim.max_name_chars} characters, first level first")
        if self.category_code is not None and not _CODE_RE.match(str(self.category_code)):
            raise InputError("category_code: not a catalog code (2, 4 or 6 digits)")
        if self.unit is not None:
            self.unit = _short("unit", self.unit, lim.max_short_chars)
            if not _UNIT_RE.match(self.unit):
                raise InputError("unit: not a unit id (letters, digits, _ - . @ only)")
        for name in ("district", "street"):
            value = getattr(self, name)
            if value is not None and not is_division_code(str(value)):
                raise InputError(f"{name}: not a 12-digit division code")
        if self.appeal_type is not None and self.appeal_type not in APPEAL_TYPES:
            raise InputError(f"appeal_type: not one of {', '.join(APPEAL_TYPES)}")
        if not any(getattr(self, f) for f in CORRECTED_FIELDS):
            raise InputError("a correction must set at least one of: " + ", ".join(CORRECTED_FIELDS))
        if self.decision is not None:
            self.decision = reduce_decision(self.decision)
            self.decision_model_version = self.decision_model_version or self.decision.get("model_version")
            self.decision_catalog_version = self.decision_catalog_version or self.decision.get("catalog_version")
        for name in ("catalog_version", "decision_model_version", "decision_catalog_version"):
            value = getattr(self, name)
            if value is not None and not _VERSION_RE.match(str(value)):
                raise InputError(f"{name}: not a version (letters, digits, . _ - only, at most 64 characters)")
        self.catalog_version = self.catalog_version or self.decision_catalog_version
        current = now or dt.datetime.now(dt.UTC)
        for name in ("corrected_at", "received_at"):
            value = getattr(self, name)
            if value is not None:
                t = _parse_time(name, value)
                if t > current + dt.timedelta(seconds=lim.max_future_skew_s):
                    raise InputError(f"{name}: in the future (more than {lim.max_future_skew_s:g} s ahead of the "
                                     "server's clock)")
                setattr(self, name, t.isoformat(timespec="microseconds"))
        # Personal data never enters the store: free text is masked, and sized.
        for name, limit in (("text", lim.max_text_chars), ("title", lim.max_note_chars),
                            ("reason", lim.max_note_chars)):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise InputError(f"{name}: expected text of at most {limit} characters")
            setattr(self, name, mask_text(value) if value else None)
        self.received_at = self.received_at or current.isoformat(timespec="microseconds")
        self.corrected_at = self.corrected_at or self.received_at
        self.correction_id = _short("correction_id", str(self.correction_id or uuid.uuid4().hex), lim.max_id_chars)
        if not _VERSION_RE.match(self.correction_id):
            raise InputError("correction_id: letters, digits, . _ - only, at most 64 characters")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], limits: "CorrectionLimits | None" = None) -> "Correction":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            shown = [u if re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", str(u)) else "<withheld>" for u in unknown]
            raise InputError(f"unknown correction field(s): {', '.join(shown)}")
        values = {k: v for k, v in data.items() if v is not None and v != ""}
        for required in ("order_id", "operator"):
            if required not in values:
                raise InputError(f"{required}: required")
        # A client's idempotency key is echoed in the reply: it may not carry a phone or ID number (the
        # random default never needs the check, and a hex string may hold a digit run by chance).
        if isinstance(values.get("correction_id"), str) and _holds_personal_data(values["correction_id"]):
            raise InputError("correction_id: may not hold a phone or ID number")
        return cls(**values).check(limits)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _row(self) -> dict[str, Any]:
        row = self.to_dict()
        row["category_path"] = json.dumps(self.category_path, ensure_ascii=False) if self.category_path else None
        row["decision"] = json.dumps(self.decision, ensure_ascii=False) if self.decision is not None else None
        return row

    @classmethod
    def _from_row(cls, row: dict[str, Any]) -> "Correction":
        row = dict(row)
        row.pop("seq", None)
        row["category_path"] = json.loads(row["category_path"]) if row.get("category_path") else None
        row["decision"] = json.loads(row["decision"]) if row.get("decision") else None
        return cls(**row)


def _bad(name: str, why: str):
    raise InputError(f"{name}: {why}")


def _holds_personal_data(value: str) -> bool:
    """What ids are refused for: a long serial that happens to pass a card checksum is an id, not a card."""
    return any(kind != "bank_card" for kind, _, _ in find_pii(value))


def _short(name: str, value: Any, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise InputError(f"{name}: required (text)" if required else f"{name}: expected text")
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise InputError(f"{name}: at most {limit} characters, no control characters")
    return value


def _parse_time(name: str, value: Any) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(str(value)[:64])
    except ValueError:
        raise InputError(f"{name}: not an ISO 8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)  # naive times are UTC (as the store compares them)
    return t.astimezone(dt.UTC)


def _sub(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def reduce_decision(decision: Any) -> dict[str, Any]:
    """The corrected decision as kept: the versions retraining maps labels through, and what was
    decided (category code, primary unit, route, confidence) for counting what operators correct.
    Anything else a client sends (text, evidence spans, explanation: personal data) is dropped."""
    if not isinstance(decision, dict):
        raise InputError("decision: expected the decision object /v1/dispatch returned")
    category = _sub(decision, "category")
    primary = _sub(_sub(decision, "units"), "primary")
    out: dict[str, Any] = {"model_version": decision.get("model_version"), "catalog_version": decision.get("catalog_version"),
           "category_code": category.get("code"), "unit": primary.get("id"), "route": decision.get("route"),
           "confidence": decision.get("confidence")}
    for key in ("model_version", "catalog_version"):
        value = out[key]
        if value is not None and not (isinstance(value, str) and _VERSION_RE.match(value)):
            raise InputError(f"decision.{key}: not a version (letters, digits, . _ - only)")
    if out["category_code"] is not None and not (isinstance(out["category_code"], str)
                                                 and _CODE_RE.match(out["category_code"])):
        raise InputError("decision.category.code: not a catalog code")
    if out["unit"] is not None and not (isinstance(out["unit"], str) and _UNIT_RE.match(out["unit"])
                                        and len(out["unit"]) <= 200):
        raise InputError("decision.units.primary.id: not a unit id")
    if out["route"] is not None and out["route"] not in ROUTES:
        raise InputError("decision.route: not a route")
    if out["confidence"] is not None and (isinstance(out["confidence"], bool)
                                          or not isinstance(out["confidence"], int | float)
                                          or not 0 <= out["confidence"] <= 1):
        raise InputError("decision.confidence: expected a number from 0 to 1")
    return {k: v for k, v in out.items() if v is not None}
