"""``GET /v1/health`` (liveness and readiness: model, store, reload state) and ``GET /metrics``
(Prometheus text)."""

from __future__ import annotations

import os
import time
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from dispatch_nlp.service.deps import HolderDep, MetricsDep, StartedDep, StoreDep
from dispatch_nlp.service.schemas import HealthOut

router = APIRouter()
metrics_router = APIRouter()  # a router of its own: /metrics comes after /v1/model in the OpenAPI paths


@router.get("/v1/health", response_model=HealthOut, tags=["operations"], summary="Liveness and readiness")
def health(holder: HolderDep, store: StoreDep, started: StartedDep) -> HealthOut:
    d = holder.dispatcher
    # Ready means the store answers a read and takes a write (a locked or read-only database is degraded).
    store_state: Literal["ok", "unavailable", "disabled"] = (
        "disabled" if store is None else ("ok" if store.ping() and store.probe_write() else "unavailable"))
    ok = store_state != "unavailable" and getattr(holder, "fallback", None) is None  # fallback: an earlier model
    return HealthOut(status="ok" if ok else "degraded", model_version=d.model_version,
                     catalog_version=d.catalog_version, uptime_s=round(time.time() - started, 1),
                     reloading=holder.reloading, last_reload=holder.last_reload, corrections_store=store_state,
                     worker_pid=os.getpid())


@metrics_router.get("/metrics", response_class=PlainTextResponse, tags=["operations"], summary="Prometheus metrics")
def prometheus(metrics: MetricsDep) -> PlainTextResponse:
    return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
