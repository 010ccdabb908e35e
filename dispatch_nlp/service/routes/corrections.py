"""``POST /v1/corrections``: record an operator's correction (改派 / 退单), durable before the reply;
idempotent on ``correction_id`` (201 new, 200 already stored, 503 nothing stored: retry)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from dispatch_nlp.errors import InputError
from dispatch_nlp.lifecycle.correction_model import CorrectionLimits
from dispatch_nlp.lifecycle.correction_store import StoreBusy
from dispatch_nlp.lifecycle.corrections import Correction
from dispatch_nlp.service.auth import AUTH_RESPONSES, OperatorWrite
from dispatch_nlp.service.deps import HolderDep, MetricsDep, RequestIdDep, SettingsDep, StoreDep
from dispatch_nlp.service.http_errors import ERROR_RESPONSES, error_response
from dispatch_nlp.service.schemas import CorrectionIn, CorrectionOut, ErrorOut

log = logging.getLogger("dispatch_nlp.service")

router = APIRouter()
RETRY_AFTER_S = 1  # what a 503 for a locked database tells the client to wait


@router.post("/v1/corrections", response_model=CorrectionOut, status_code=201, tags=["corrections"],
             responses={**ERROR_RESPONSES, **AUTH_RESPONSES,
                        200: {"model": CorrectionOut, "description": "already stored (same correction_id)"},
                        503: {"model": ErrorOut, "description": "store unavailable: nothing stored, retry"}},
             summary="Record an operator's correction (改派 / 退单); durable before the reply")
def add_correction(body: CorrectionIn, principal: OperatorWrite, holder: HolderDep, store: StoreDep,
                   metrics: MetricsDep, rid: RequestIdDep, settings: SettingsDep) -> Response:
    if store is None:
        return error_response(503, "unavailable", "corrections are not enabled on this service (start it with "
                              "--corrections DB)", request_id=rid)
    d = holder.dispatcher
    problems = check_against_model(body, d)
    if problems:
        return error_response(422, "invalid_request", "; ".join(f"{f}: {m}" for f, m in problems),
                              [{"field": f, "message": m} for f, m in problems], rid)
    data = {k: v for k, v in body.model_dump().items() if v is not None}
    data["operator"] = principal.key_id  # who corrected it is the key, never what the body says
    if not data.get("catalog_version") and not (body.decision or {}).get("catalog_version") \
            and not body.decision_catalog_version:
        data["catalog_version"] = d.catalog_version
    try:
        correction = Correction.from_dict(data, CorrectionLimits(max_future_skew_s=settings.correction_future_skew_s))
    except InputError as exc:
        field = str(exc).split(":", 1)[0]
        return error_response(422, "invalid_request", str(exc), [{"field": field, "message": str(exc)}], rid)
    try:
        stored, new = store.add(correction)
    except StoreBusy:
        log.warning("corrections store locked (request %s): answered 503, nothing stored", rid)
        busy = error_response(503, "store_busy", "the corrections database is busy; nothing was stored: retry "
                              "with the same correction_id after Retry-After seconds", request_id=rid)
        busy.headers["Retry-After"] = str(RETRY_AFTER_S)
        return busy
    except Exception as exc:  # noqa: BLE001 - a boundary: nothing acknowledged, the client retries; logged with its type
        log.error("corrections store failed (request %s): %s: %s", rid, type(exc).__name__, exc)
        return error_response(503, "store_unavailable", "the corrections store did not accept the write; nothing "
                              "was stored: retry with the same correction_id", request_id=rid)
    metrics.correction(new)
    out = CorrectionOut(correction_id=stored.correction_id, order_id=stored.order_id, stored=True,
                        duplicate=not new, received_at=stored.received_at or "")
    return Response(out.model_dump_json(), status_code=201 if new else 200, media_type="application/json")


def check_against_model(body: CorrectionIn, d: Any) -> list[tuple[str, str]]:
    """Corrected values checked against the model in service: unit ids (units registry), division codes
    (gazetteer), the catalog version (the model's catalog or a previous version its migration map
    names) and the category code and path in it. Messages name the field and the rule, never the value."""
    problems = []
    if body.unit and not d.units.has_unit(body.unit):
        problems.append(("unit", "not a unit of the units registry"))
    for name in ("district", "street"):
        code = getattr(body, name)
        if code and d.gazetteer.get(code) is None:
            problems.append((name, "not a division of the gazetteer"))
    catalog = d.catalog
    version = body.catalog_version or (body.decision or {}).get("catalog_version") or body.decision_catalog_version
    if version is not None and (not isinstance(version, str) or (version != catalog.version
                                                                  and version not in catalog.migrations)):
        problems.append(("catalog_version", f"not a catalog version this service knows (its catalog "
                         f"{catalog.version} or a previous version its migration map names)"))
        return problems
    if body.category_code:
        try:
            if version in (None, catalog.version):
                catalog.get(body.category_code)
            else:
                catalog.migrate(body.category_code, version)  # a code that version never had is refused
        except KeyError:
            problems.append(("category_code", "not a code of the catalog version the correction names"))
    if body.category_path:
        try:
            catalog.by_path(tuple(body.category_path))
        except KeyError:
            problems.append(("category_path", f"not a path of catalog {catalog.version}"))
    return problems
