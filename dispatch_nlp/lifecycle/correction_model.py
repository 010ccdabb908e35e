"""One operator correction (改派, 退单): the ``Correction`` record, its validation and its row form.

``Correction.from_dict(data)`` takes what a client or a table row gives (field names as the dataclass)
and returns a checked, normalized correction, or raises ``InputError`` naming the field. Text, title
and reason are masked (phone and ID numbers) before the record can reach a store.
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
from dispatch_nlp.knowledge.vocabulary import APPEAL_TYPES, CORRECTION_KIND_OF
from dispatch_nlp.text.pii import mask_text

__all__ = ["Correction", "KINDS", "CORRECTED_FIELDS", "utc_now"]

# 改派 = the order went to the wrong unit and is sent on; 退单 = the receiving unit returned it.
KINDS = CORRECTION_KIND_OF
CORRECTED_FIELDS = ("category_code", "category_path", "unit", "district", "street", "appeal_type")
_CODE_RE = re.compile(r"^(\d\d){1,3}$")


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

    def check(self) -> "Correction":
        """Validate and normalize in place; raises ``InputError`` naming the field."""
        if not isinstance(self.order_id, str) or not self.order_id.strip():
            raise InputError("order_id: required (the id of the corrected order)")
        if not isinstance(self.operator, str) or not self.operator.strip():
            raise InputError("operator: required (who made the correction)")
        self.kind = KINDS.get(str(self.kind).strip(), None) or _bad("kind", f"{self.kind!r} is not one of "
                                                                     + ", ".join(sorted(KINDS)))
        if isinstance(self.category_path, str):
            self.category_path = [p.strip() for p in re.split(r"\s*(?:->|>|/)\s*", self.category_path) if p.strip()]
        if self.category_path is not None and (not self.category_path
                                               or not all(isinstance(p, str) and p for p in self.category_path)):
            raise InputError("category_path: expected a list of category names, first level first")
        if self.category_code is not None and not _CODE_RE.match(str(self.category_code)):
            raise InputError(f"category_code: {self.category_code!r} is not a catalog code (2, 4 or 6 digits)")
        for name in ("district", "street"):
            value = getattr(self, name)
            if value is not None and not is_division_code(str(value)):
                raise InputError(f"{name}: {value!r} is not a 12-digit division code")
        if self.appeal_type is not None and self.appeal_type not in APPEAL_TYPES:
            raise InputError(f"appeal_type: {self.appeal_type!r} is not one of {', '.join(APPEAL_TYPES)}")
        if not any(getattr(self, f) for f in CORRECTED_FIELDS):
            raise InputError("a correction must set at least one of: " + ", ".join(CORRECTED_FIELDS))
        if self.decision is not None:
            self.decision_model_version = self.decision_model_version or self.decision.get("model_version")
            self.decision_catalog_version = self.decision_catalog_version or self.decision.get("catalog_version")
        self.catalog_version = self.catalog_version or self.decision_catalog_version
        for name in ("corrected_at", "received_at"):
            value = getattr(self, name)
            if value is not None:
                try:
                    dt.datetime.fromisoformat(str(value))
                except ValueError:
                    raise InputError(f"{name}: {value!r} is not an ISO 8601 time") from None
        # Personal data never enters the store.
        self.text = mask_text(self.text) if self.text else None
        self.title = mask_text(self.title) if self.title else None
        self.reason = mask_text(self.reason) if self.reason else None
        self.received_at = self.received_at or utc_now()
        self.corrected_at = self.corrected_at or self.received_at
        self.correction_id = str(self.correction_id or uuid.uuid4().hex)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Correction":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown correction field(s): {', '.join(unknown)}")
        values = {k: v for k, v in data.items() if v is not None and v != ""}
        for required in ("order_id", "operator"):
            if required not in values:
                raise InputError(f"{required}: required")
        return cls(**values).check()

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
