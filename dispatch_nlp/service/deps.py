"""FastAPI dependencies: what a route needs from the application it is served by (the model holder,
the corrections store, the settings, the metrics, the request id), taken from ``app.state``, where
``create_app`` put them. A route declares ``holder: HolderDep`` instead of closing over a variable."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dispatch_nlp.lifecycle.correction_store import CorrectionStore
from dispatch_nlp.service.batcher import MicroBatcher
from dispatch_nlp.service.holder import ModelHolder
from dispatch_nlp.service.http_errors import request_id
from dispatch_nlp.service.metrics import Metrics
from dispatch_nlp.service.settings import ServiceSettings


# Plain attribute reads: async, so that FastAPI does not send them to its thread pool.
async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_store(request: Request) -> CorrectionStore | None:
    return request.app.state.store


async def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_batcher(request: Request) -> MicroBatcher | None:
    """The micro-batcher of ``POST /v1/dispatch`` (None when batching is off)."""
    return request.app.state.batcher


async def get_started(request: Request) -> float:
    """When the application was built (``time.time()``), for the uptime."""
    return request.app.state.started


async def get_request_id(request: Request) -> str | None:
    return request_id(request)


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
StoreDep = Annotated[CorrectionStore | None, Depends(get_store)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
BatcherDep = Annotated[MicroBatcher | None, Depends(get_batcher)]
StartedDep = Annotated[float, Depends(get_started)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]


async def get_deadline(request: Request) -> float | None:
    """When this request must be answered by (``time.monotonic()``; set by the boundary's admission)."""
    return request.scope.get("state", {}).get("deadline")


DeadlineDep = Annotated[float | None, Depends(get_deadline)]
