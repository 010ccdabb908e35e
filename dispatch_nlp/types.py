"""The two objects at the library's boundary: the work order that comes in and the decision that goes out.

``WorkOrder`` is what an intake system knows about a request when it must be routed. ``DispatchDecision``
is the versioned answer (``SCHEMA_VERSION``); its JSON form is described by
``dispatch_nlp/schema/decision.schema.json`` and documented in the README.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final

from dispatch_nlp.knowledge.vocabulary import APPEAL_TYPES, ROUTES

SCHEMA_VERSION: Final = "1.0"

__all__ = ["SCHEMA_VERSION", "ROUTES", "APPEAL_TYPES", "WorkOrder", "Scored", "CategoryResult", "AppealType",
           "ResponseLevel", "DivisionRef", "Span", "JurisdictionCandidate", "JurisdictionResult", "UnitRef",
           "UnitsResult", "DispatchDecision"]

_ORDER_FIELDS = ("id", "text", "title", "channel", "created_at", "caller_location")


@dataclass
class WorkOrder:
    """One request as typed by an operator or written by a citizen.

    ``text`` is the body; ``title`` the message title of online channels; ``channel`` where it came from
    (热线, 微信服务号, 网站, ...); ``created_at`` an ISO 8601 time; ``caller_location`` what the intake
    system knows of the caller's place (a district or an address), used only when the text names none.
    """

    text: str
    id: str | None = None
    title: str | None = None
    channel: str | None = None
    created_at: str | None = None
    caller_location: str | None = None

    @classmethod
    def coerce(cls, obj: Any) -> "WorkOrder":
        """Accept a ``WorkOrder``, a plain string or a mapping with at least ``text``.

        Raises ``TypeError`` naming the type received (never its content, which may hold personal data).
        """
        if isinstance(obj, WorkOrder):
            order = obj
        elif isinstance(obj, str):
            order = cls(text=obj)
        elif isinstance(obj, dict):
            if "text" not in obj:
                raise TypeError("a work order mapping needs a 'text' field; got fields: "
                                + ", ".join(sorted(map(str, obj))))
            values: dict[str, Any] = {k: obj.get(k) for k in _ORDER_FIELDS}
            order = cls(**values)
        else:
            raise TypeError(f"a work order must be a str, a dict with 'text' or a WorkOrder, not {type(obj).__name__}")
        if not isinstance(order.text, str):
            raise TypeError(f"work order text must be a str, not {type(order.text).__name__}")
        for name in ("title", "channel", "created_at", "caller_location"):
            value = getattr(order, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"work order field '{name}' must be a str or null, not {type(value).__name__}")
        if order.id is not None and not isinstance(order.id, str):
            order.id = str(order.id)
        return order

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _ORDER_FIELDS}


@dataclass
class Scored:
    """A label with its confidence (used for ``top_k`` and candidates)."""

    code: str
    path: list[str]
    confidence: float


@dataclass
class CategoryResult:
    """The category: ``code``/``path`` the leaf, ``confidence`` the leaf's calibrated probability.

    ``confident`` is the category at the deepest level that is confident (the leaf itself, or its
    first- or second-level parent, ``len(path)`` says which) with the confidence of that level: the
    summed probability of the leaves under it. None when not even the first level is confident (or
    no category). An optional field added within schema 1.0 (absent in older decisions, read as None).
    """

    code: str | None
    path: list[str]
    confidence: float
    top_k: list[Scored] = field(default_factory=list)
    confident: Scored | None = None


@dataclass
class AppealType:
    label: str
    confidence: float


@dataclass
class ResponseLevel:
    level: str | None
    deadline_hours: int | None


@dataclass
class DivisionRef:
    code: str
    name: str


@dataclass
class Span:
    """Where in the order the evidence was found: ``field`` is ``text`` or ``title``; offsets are
    character offsets into that field as the intake system sent it (before normalization)."""

    start: int
    end: int
    text: str
    field: str = "text"


@dataclass
class JurisdictionCandidate:
    district: DivisionRef | None
    street: DivisionRef | None
    community: DivisionRef | None
    confidence: float
    evidence: Span | None = None


@dataclass
class JurisdictionResult:
    district: DivisionRef | None = None
    street: DivisionRef | None = None
    community: DivisionRef | None = None
    evidence: Span | None = None
    method: str = "none"  # gazetteer | learned | fused | caller | none
    confidence: float = 0.0
    candidates: list[JurisdictionCandidate] = field(default_factory=list)


@dataclass
class UnitRef:
    id: str
    name: str


@dataclass
class UnitsResult:
    """``dispatch_to`` is the first hop: where the city centre sends the order (the district's 12345
    sub-centre, the development area's sub-centre, or the city department or utility itself); an
    optional field added in the same schema version (absent in older decisions, read as None)."""

    primary: UnitRef | None = None
    cooperating: list[UnitRef] = field(default_factory=list)
    rule: str | None = None
    confidence: float = 0.0
    dispatch_to: UnitRef | None = None


@dataclass
class DispatchDecision:
    """The answer for one order. ``route`` is one of ``ROUTES``; ``transfer_to`` is the emergency number
    (110/119/120/122) when ``route`` is ``emergency_transfer``; ``flags`` are machine-readable notes
    (``empty_text``, ``truncated``, ``no_trained_model``, ``pii_masked``, ...); ``explanation`` is for people."""

    order_id: str | None
    catalog_version: str | None
    model_version: str | None
    category: CategoryResult
    appeal_type: AppealType | None
    response_level: ResponseLevel
    jurisdiction: JurisdictionResult
    units: UnitsResult
    route: str
    confidence: float = 0.0
    transfer_to: str | None = None
    flags: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DispatchDecision":
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str) -> "DispatchDecision":
        return cls.from_dict(json.loads(text))


# How nested dataclass fields are rebuilt from plain JSON.
_NESTED: dict[tuple[type, str], type] = {
    (CategoryResult, "top_k"): Scored,
    (CategoryResult, "confident"): Scored,
    (JurisdictionResult, "district"): DivisionRef,
    (JurisdictionResult, "street"): DivisionRef,
    (JurisdictionResult, "community"): DivisionRef,
    (JurisdictionResult, "evidence"): Span,
    (JurisdictionResult, "candidates"): JurisdictionCandidate,
    (JurisdictionCandidate, "district"): DivisionRef,
    (JurisdictionCandidate, "street"): DivisionRef,
    (JurisdictionCandidate, "community"): DivisionRef,
    (JurisdictionCandidate, "evidence"): Span,
    (UnitsResult, "primary"): UnitRef,
    (UnitsResult, "cooperating"): UnitRef,
    (UnitsResult, "dispatch_to"): UnitRef,
    (DispatchDecision, "category"): CategoryResult,
    (DispatchDecision, "appeal_type"): AppealType,
    (DispatchDecision, "response_level"): ResponseLevel,
    (DispatchDecision, "jurisdiction"): JurisdictionResult,
    (DispatchDecision, "units"): UnitsResult,
}


def _build(cls: type, data: dict[str, Any]) -> Any:
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        inner = _NESTED.get((cls, f.name))
        if inner is not None and value is not None:
            value = [_build(inner, v) for v in value] if isinstance(value, list) else _build(inner, value)
        kwargs[f.name] = value
    return cls(**kwargs)
