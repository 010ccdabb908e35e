"""``POST /v1/dispatch`` (one order → its decision) and ``POST /v1/dispatch/batch`` (orders → decisions
in input order, with the model and catalog versions).

``/v1/dispatch`` goes through the micro-batcher (``service.batcher``): concurrent requests run as one
batch call on the batcher's worker thread, never on the event loop, and that thread also writes the
response body (``service.jsonio``). Too many requests in flight (the boundary's admission), a full
queue, a queue that would make the request miss its deadline, a request with no decision
``request_timeout_s`` after it arrived and a server shutting down answer 503 with ``Retry-After``.
``answer_one`` is the route's body; the lean path (``service.hotpath``) answers through it too."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dispatch_nlp.service.auth import AUTH_RESPONSES, DispatchRole
from dispatch_nlp.service.batcher import BatchTimeout, MicroBatcher, Overloaded, ShuttingDown
from dispatch_nlp.service.deps import HolderDep, MetricsDep, RequestIdDep, SettingsDep
from dispatch_nlp.service.http_errors import ERROR_RESPONSES, error_response
from dispatch_nlp.service.jsonio import decision_body
from dispatch_nlp.service.routes.console import record_decisions
from dispatch_nlp.service.schemas import BatchIn, BatchOut, DecisionOut, ErrorOut, OrderIn
from dispatch_nlp.service.settings import ServiceSettings
from dispatch_nlp.types import WorkOrder

router = APIRouter(dependencies=[DispatchRole], responses=AUTH_RESPONSES)  # a key with role dispatch or above

MAX_MODEL_BATCH = 64  # orders that go through the model together within one request
_BUSY: dict[int | str, dict[str, Any]] = {503: {"model": ErrorOut, "description": "queue full, no decision in time, or shutting down "
                                                 "(Retry-After says when to try again)"}}


def _drop(task: asyncio.Future) -> None:
    """Consume the outcome of a dispatch nobody waits for any more (so asyncio logs no 'never retrieved')."""
    if not task.cancelled():
        task.exception()


def _unavailable(message: str, retry_after_s: float, rid: str | None) -> Response:
    response = error_response(503, "unavailable", message, request_id=rid)
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response


async def answer_one(request: Request, order: OrderIn) -> Response:
    """The answer to ``POST /v1/dispatch`` for a validated, authorized ``order``: the decision's JSON, or
    503 with ``Retry-After``. The route below and the lean path (``service.hotpath``) both answer here."""
    state = request.app.state
    settings: ServiceSettings = state.settings
    batcher: MicroBatcher | None = state.batcher
    scope_state = request.scope.get("state", {})
    rid, deadline = scope_state.get("request_id"), scope_state.get("deadline")
    d = state.holder.dispatcher  # this request keeps this model, whatever a reload does meanwhile
    work_order = WorkOrder(**order.model_dump())
    # The timeout runs from the request's arrival (the boundary's deadline), not from here.
    left = settings.request_timeout_s if deadline is None else deadline - time.monotonic()
    if batcher is None:  # batching off: this request alone, on a worker thread
        alone = asyncio.ensure_future(run_in_threadpool(d.dispatch, work_order))
        done, _ = await asyncio.wait({alone}, timeout=max(left, 0.0))
        if not done:  # the thread cannot be stopped: it finishes, and its answer is dropped
            alone.add_done_callback(_drop)
            return _unavailable(f"no decision within {settings.request_timeout_s:g} s; try again shortly",
                                settings.retry_after_s, rid)
        decision = alone.result()
        body = decision_body(decision)
    else:
        try:
            if left <= 0:
                raise BatchTimeout("no time left")
            decision, body = await batcher.dispatch(d, work_order, timeout_s=left)
        except Overloaded as exc:
            return _unavailable("the dispatch queue is full; try again shortly", exc.retry_after_s, rid)
        except BatchTimeout:
            return _unavailable(f"no decision within {settings.request_timeout_s:g} s; try again shortly",
                                settings.retry_after_s, rid)
        except ShuttingDown:
            return _unavailable("the server is shutting down", settings.retry_after_s, rid)
    state.metrics.decided([decision.route])
    record_decisions(request, [work_order], [decision])  # the console's decision log
    return Response(body, media_type="application/json")


@router.post("/v1/dispatch", response_model=DecisionOut, responses={**ERROR_RESPONSES, **_BUSY},
             tags=["dispatch"], summary="Dispatch one work order")
async def dispatch_one(order: OrderIn, request: Request) -> Response:
    return await answer_one(request, order)


@router.post("/v1/dispatch/batch", response_model=BatchOut, responses=ERROR_RESPONSES, tags=["dispatch"],
             summary="Dispatch several orders (decisions in input order)")
def dispatch_batch(batch: BatchIn, holder: HolderDep, metrics: MetricsDep, settings: SettingsDep,
                   rid: RequestIdDep, request: Request) -> Response:
    n = len(batch.orders)
    if n == 0 or n > settings.max_batch:
        return error_response(422, "invalid_request", f"orders: give 1 to {settings.max_batch} orders per batch "
                              f"(got {n})", [{"field": "orders", "message": f"1 to {settings.max_batch} orders"}],
                              rid)
    d = holder.dispatcher
    orders = [WorkOrder(**o.model_dump()) for o in batch.orders]
    decisions = d.dispatch_batch(orders, batch_size=min(MAX_MODEL_BATCH, n))
    metrics.decided([x.route for x in decisions])
    record_decisions(request, orders, decisions)  # the console's decision log
    body = (b'{"decisions":[' + b",".join(decision_body(x) for x in decisions) + b"],"
            + f'"model_version":{json.dumps(d.model_version)},"catalog_version":{json.dumps(d.catalog_version)}}}'
            .encode())
    return Response(body, media_type="application/json")
