"""``POST /v1/dispatch`` (one order → its decision) and ``POST /v1/dispatch/batch`` (orders → decisions
in input order, with the model and catalog versions)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from dispatch_nlp.service.auth import AUTH_RESPONSES, DispatchRole
from dispatch_nlp.service.deps import HolderDep, MetricsDep, RequestIdDep, SettingsDep
from dispatch_nlp.service.http_errors import ERROR_RESPONSES, error_response
from dispatch_nlp.service.schemas import BatchIn, BatchOut, DecisionOut, OrderIn
from dispatch_nlp.types import WorkOrder

router = APIRouter(dependencies=[DispatchRole], responses=AUTH_RESPONSES)  # a key with role dispatch or above

MAX_MODEL_BATCH = 64  # orders that go through the model together within one request


@router.post("/v1/dispatch", response_model=DecisionOut, responses=ERROR_RESPONSES, tags=["dispatch"],
             summary="Dispatch one work order")
def dispatch_one(order: OrderIn, holder: HolderDep, metrics: MetricsDep) -> Response:
    d = holder.dispatcher  # this request keeps this model, whatever a reload does meanwhile
    decision = d.dispatch(WorkOrder(**order.model_dump()))
    metrics.decided([decision.route])
    return Response(decision.to_json(), media_type="application/json")


@router.post("/v1/dispatch/batch", response_model=BatchOut, responses=ERROR_RESPONSES, tags=["dispatch"],
             summary="Dispatch several orders (decisions in input order)")
def dispatch_batch(batch: BatchIn, holder: HolderDep, metrics: MetricsDep, settings: SettingsDep,
                   rid: RequestIdDep) -> Response:
    n = len(batch.orders)
    if n == 0 or n > settings.max_batch:
        return error_response(422, "invalid_request", f"orders: give 1 to {settings.max_batch} orders per batch "
                              f"(got {n})", [{"field": "orders", "message": f"1 to {settings.max_batch} orders"}],
                              rid)
    d = holder.dispatcher
    decisions = d.dispatch_batch([WorkOrder(**o.model_dump()) for o in batch.orders],
                                 batch_size=min(MAX_MODEL_BATCH, n))
    metrics.decided([x.route for x in decisions])
    body = ('{"decisions":[' + ",".join(x.to_json() for x in decisions) + "],"
            + f'"model_version":{json.dumps(d.model_version)},"catalog_version":{json.dumps(d.catalog_version)}}}')
    return Response(body, media_type="application/json")
