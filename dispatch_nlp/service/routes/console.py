"""The operator console (``/console``): the static page and the JSON calls behind it.

The page and its assets are open (nothing personal or writable in them); every ``/console/api/...``
call needs an API key like the rest of the API (role ``dispatch`` to read, ``operator`` to mark a
review order; corrections go through ``POST /v1/corrections`` itself). Anything typed travels in a
POST body, never in a URL. ``install(app)`` includes the routers and gives the app its decision log
(``app.state.decision_log``), which the dispatch routes feed through ``record_decisions``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from dispatch_nlp.service.auth import AUTH_RESPONSES, DispatchRole, require
from dispatch_nlp.service.console import STATIC_DIR
from dispatch_nlp.service.console.decision_log import REVIEW_STATUSES, DecisionLog
from dispatch_nlp.service.console.explain import explain
from dispatch_nlp.service.console.lookup import category_tree, search_catalog, search_divisions, units_for
from dispatch_nlp.service.console.supervisor import summarize
from dispatch_nlp.service.deps import HolderDep, MetricsDep, StoreDep
from dispatch_nlp.service.http_errors import error_response
from dispatch_nlp.service.keys import Principal
from dispatch_nlp.service.schemas import OrderIn
from dispatch_nlp.types import WorkOrder

# The page may load only its own files; it is never framed; it sends no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
}
REVIEW_PAGE = 500  # review orders handed to the page at once (the oldest open ones)
SUPERVISOR_TTL_S = 5.0  # the supervisor's figures cover 24 h: a few seconds old is fresh enough
ASSETS = {"console.js": "text/javascript", "console.css": "text/css", "plots.js": "text/javascript"}

pages = APIRouter(include_in_schema=False)
# The page's own calls: not part of the public API document (clients generate code from it).
api = APIRouter(prefix="/console/api", dependencies=[DispatchRole], responses=AUTH_RESPONSES, include_in_schema=False)
OperatorRole = Annotated[Principal, Depends(require("operator"))]


def record_decisions(request: Request, orders: list[WorkOrder], decisions: list[Any], source: str = "api") -> None:
    """Note decisions in the app's decision log (nothing when the console is not installed)."""
    log = getattr(request.app.state, "decision_log", None)
    if log is not None:
        log.record(orders, decisions, source)


async def get_log(request: Request) -> DecisionLog:
    return request.app.state.decision_log


LogDep = Annotated[DecisionLog, Depends(get_log)]


@pages.get("/console")
async def console_page() -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@pages.get("/console/")
async def console_slash() -> Response:
    return RedirectResponse("/console")


@pages.get("/console/static/{name}")
async def console_asset(name: str) -> Response:
    if name not in ASSETS:
        return error_response(404, "not_found", "no such console file")
    return FileResponse(STATIC_DIR / name, media_type=ASSETS[name], headers=SECURITY_HEADERS)


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field("", max_length=50)


class UnitQuery(Query):
    category_code: str | None = Field(None, max_length=6)
    district: str | None = Field(None, max_length=12)


class AnalyzeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: OrderIn
    record: bool = Field(True, description="note the decision in the decision log (false: re-reading a queued order)")


class Mark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int
    status: str = Field(max_length=16)


@api.get("/whoami")
async def whoami(request: Request, holder: HolderDep) -> dict[str, Any]:
    p: Principal = request.state.principal
    d = holder.dispatcher
    return {"key_id": p.key_id, "role": p.role, "may_correct": p.may("operator"),
            "model_version": d.model_version, "catalog_version": d.catalog_version}


@api.post("/analyze")
async def analyze(body: AnalyzeIn, request: Request, holder: HolderDep, metrics: MetricsDep) -> Response:
    """One order → its decision and the masked text with the deciding words marked."""
    d = holder.dispatcher
    work_order = WorkOrder(**body.order.model_dump())
    decision, view = await run_in_threadpool(explain, d, work_order)
    if body.record:
        metrics.decided([decision.route])
        record_decisions(request, [work_order], [decision], "console")
    return JSONResponse({"decision": decision.to_dict(), "view": view})


@api.get("/catalog/tree")
async def catalog_tree(holder: HolderDep) -> dict[str, Any]:
    return {"catalog_version": holder.dispatcher.catalog_version, "tree": category_tree(holder.dispatcher.catalog)}


@api.post("/catalog/search")
async def catalog_search(body: Query, holder: HolderDep) -> dict[str, Any]:
    return {"results": search_catalog(holder.dispatcher.catalog, body.q)}


@api.post("/divisions/search")
async def divisions_search(body: Query, holder: HolderDep) -> dict[str, Any]:
    return {"results": search_divisions(holder.dispatcher.gazetteer, body.q)}


@api.post("/units")
async def units(body: UnitQuery, holder: HolderDep) -> dict[str, Any]:
    d = holder.dispatcher
    return units_for(d.units, d.catalog, body.category_code, body.district, body.q)


@api.get("/review")
async def review(log: LogDep) -> dict[str, Any]:
    """The orders the service routed to review and nobody has handled yet (masked text), oldest
    first, at most ``REVIEW_PAGE`` of them; ``open`` counts them all."""
    entries = await run_in_threadpool(log.review)
    return {"items": [e.to_dict() for e in entries[:REVIEW_PAGE]], "open": len(entries)}


@api.post("/review/mark")
async def review_mark(body: Mark, log: LogDep, _: OperatorRole) -> Response:
    if body.status not in REVIEW_STATUSES:
        return error_response(422, "invalid_request", f"status: one of {', '.join(REVIEW_STATUSES)}",
                              [{"field": "status", "message": "not a review status"}])
    entry = log.mark(body.seq, body.status)
    if entry is None:
        return error_response(404, "not_found", "the decision log no longer holds this order")
    return JSONResponse({"seq": entry.seq, "status": entry.status})


@api.get("/supervisor")
async def supervisor(request: Request, log: LogDep, store: StoreDep, now: float | None = None) -> dict[str, Any]:
    """The supervisor's figures for the 24 h before ``now`` (default: the server's clock; then the
    figures are computed at most once every ``SUPERVISOR_TTL_S`` seconds, whoever asks)."""
    cache = request.app.state.supervisor_cache
    if now is None and cache and time.monotonic() - cache[0] < SUPERVISOR_TTL_S:
        return cache[1]
    at = now if now is not None else time.time()

    def work() -> dict[str, Any]:
        corrections = store.latest_by_order() if store is not None else {}
        return summarize(log.entries(), corrections, at)

    figures = await run_in_threadpool(work)
    if now is None:
        request.app.state.supervisor_cache = (time.monotonic(), figures)
    return figures


def install(app: FastAPI) -> None:
    """Serve the console from ``app`` and give it a decision log."""
    app.state.decision_log = DecisionLog()
    app.state.supervisor_cache = None
    app.include_router(pages)
    app.include_router(api)
