"""Typed request and response bodies of the HTTP service (they are the OpenAPI document).

The decision models mirror ``dispatch_nlp/schema/decision.schema.json`` field for field; a test
checks that every decision the service returns validates against both.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dispatch_nlp.knowledge.vocabulary import (
    AppealType,
    CorrectionKindLabel,
    EmergencyNumber,
    JurisdictionMethod,
    ResponseLevel,
    RouteName,
    SpanField,
)
from dispatch_nlp.types import SCHEMA_VERSION

# The decision's closed vocabularies come from ``knowledge.vocabulary`` (one definition; the OpenAPI
# enums are generated from these Literal types). The old names stay importable.
Route = RouteName
Appeal = AppealType
SchemaVersion = Literal["1.0"]  # SCHEMA_VERSION; tests/test_vocabulary.py checks they agree

# Field limits; the body and batch limits are service settings (see ``ServiceSettings``).
MAX_TEXT_CHARS = 20_000
MAX_SHORT = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- requests -------------------------------------------------------------------------------------

class OrderIn(_Strict):
    """One work order as the intake system has it."""

    text: str = Field(max_length=MAX_TEXT_CHARS, description="the order body (may be empty: routed to review)")
    id: str | None = Field(None, max_length=MAX_SHORT, description="the intake system's order id (echoed back)")
    title: str | None = Field(None, max_length=2_000, description="message title of online channels")
    channel: str | None = Field(None, max_length=MAX_SHORT, description="热线电话, 微信服务号, 网站, ...")
    created_at: str | None = Field(None, max_length=64, description="ISO 8601 creation time")
    caller_location: str | None = Field(None, max_length=MAX_SHORT,
                                        description="what the intake system knows of the caller's place")

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"id": "A-1", "text": "市民反映：朝阳区望京街道某小区连续三天停水", "channel": "热线电话"}]})


class BatchIn(_Strict):
    orders: list[OrderIn] = Field(description="orders to dispatch; decisions come back in the same order")


class CorrectionIn(_Strict):
    """An operator's correction (改派 / 退单) of one order's dispatch."""

    order_id: str = Field(min_length=1, max_length=MAX_SHORT)
    operator: str | None = Field(None, min_length=1, max_length=MAX_SHORT,
                                 description="ignored: the service records the API key's id as the operator")
    kind: CorrectionKindLabel = "reassign"
    category_code: str | None = Field(None, pattern=r"^([0-9]{2}){1,3}$", description="corrected catalog code")
    category_path: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        None, min_length=1, max_length=3, description="or its names, first level first")
    unit: str | None = Field(None, max_length=MAX_SHORT, description="corrected responsible unit id")
    district: str | None = Field(None, pattern=r"^[0-9]{12}$", description="corrected district (12-digit code)")
    street: str | None = Field(None, pattern=r"^[0-9]{12}$", description="corrected street/township (12-digit code)")
    appeal_type: Appeal | None = None
    catalog_version: str | None = Field(None, max_length=64,
                                        description="catalog of the corrected category (default: the decision's)")
    decision: dict[str, Any] | None = Field(None, description="the decision that was corrected, as /v1/dispatch "
                                            "returned it; only its versions, category code, primary unit, route "
                                            "and confidence are kept")
    decision_model_version: str | None = Field(None, max_length=MAX_SHORT)
    decision_catalog_version: str | None = Field(None, max_length=64)
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS,
                             description="the order text, when the history export will not hold it (stored masked)")
    title: str | None = Field(None, max_length=2_000)
    reason: str | None = Field(None, max_length=2_000)
    corrected_at: str | None = Field(None, max_length=64, description="ISO 8601, not in the future (beyond the "
                                     "service's clock skew); default: when it is received")
    correction_id: str | None = Field(None, min_length=1, max_length=64,
                                      description="idempotency key: a retried correction with the same id is stored once")

    @model_validator(mode="after")
    def _some_field(self) -> "CorrectionIn":
        if not any((self.category_code, self.category_path, self.unit, self.district, self.street, self.appeal_type)):
            raise ValueError("set at least one corrected field: category_code, category_path, unit, district, "
                             "street or appeal_type")
        return self

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "order_id": "A-1", "operator": "op-17", "kind": "改派", "unit": "district_zjw@110105",
        "reason": "物业问题属住建委", "decision": {"model_version": "2026.11.02", "catalog_version": "2026.11"}}]})


# ---- responses (the decision schema) ---------------------------------------------------------------

class Division(_Strict):
    code: str = Field(pattern=r"^[0-9]{12}$")
    name: str


class SpanOut(_Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    field: SpanField


class Scored(_Strict):
    code: str
    path: list[str]
    confidence: float = Field(ge=0, le=1)


class CategoryOut(_Strict):
    code: str | None = Field(pattern=r"^([0-9]{2}){1,3}$")
    path: list[str]
    confidence: float = Field(ge=0, le=1)
    top_k: list[Scored]
    confident: Scored | None = None  # the deepest confident level (types.CategoryResult); optional in 1.0


class AppealOut(_Strict):
    label: Appeal
    confidence: float = Field(ge=0, le=1)


class ResponseLevelOut(_Strict):
    level: ResponseLevel | None
    deadline_hours: int | None


class CandidateOut(_Strict):
    district: Division | None
    street: Division | None
    community: Division | None
    confidence: float = Field(ge=0, le=1)
    evidence: SpanOut | None


class JurisdictionOut(_Strict):
    district: Division | None
    street: Division | None
    community: Division | None
    evidence: SpanOut | None
    method: JurisdictionMethod
    confidence: float = Field(ge=0, le=1)
    candidates: list[CandidateOut]


class UnitOut(_Strict):
    id: str
    name: str


class UnitsOut(_Strict):
    primary: UnitOut | None
    cooperating: list[UnitOut]
    rule: str | None
    confidence: float = Field(ge=0, le=1)
    dispatch_to: UnitOut | None = None  # the first hop (optional, see the decision schema)


class DecisionOut(_Strict):
    """The dispatch decision (schema 1.0)."""

    order_id: str | None
    catalog_version: str | None
    model_version: str | None
    category: CategoryOut
    appeal_type: AppealOut | None
    response_level: ResponseLevelOut
    jurisdiction: JurisdictionOut
    units: UnitsOut
    route: Route
    confidence: float = Field(ge=0, le=1)
    transfer_to: EmergencyNumber | None
    flags: list[str]
    explanation: list[str]
    timings_ms: dict[str, float]
    schema_version: SchemaVersion = SCHEMA_VERSION


class BatchOut(_Strict):
    decisions: list[DecisionOut]
    model_version: str | None
    catalog_version: str | None


class CorrectionOut(_Strict):
    correction_id: str
    order_id: str
    stored: bool = Field(description="committed to the store (durable) before this reply was sent")
    duplicate: bool = Field(description="true when this correction_id had been stored before (nothing new written)")
    received_at: str


class ModelOut(BaseModel):
    model_version: str | None
    catalog: str
    catalog_version: str
    schema_version: str
    stages: list[str]
    profile: str
    profiles: list[str]
    model_dir: str
    registry: dict[str, Any] | None = None
    loaded_at: str
    limits: dict[str, int]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    model_version: str | None
    catalog_version: str
    uptime_s: float
    reloading: bool
    last_reload: dict[str, Any] | None
    corrections_store: Literal["ok", "unavailable", "disabled"]
    worker_pid: int | None = None  # the process that answered (serve --workers N runs several)


class ReloadOut(BaseModel):
    status: Literal["reloaded", "loading", "unchanged", "failed"]
    model_version: str | None = None
    model_dir: str | None = None
    error: str | None = None


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the field in the request body (body for the body itself)")
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] = []
    request_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
