"""The FastAPI application: ``create_app(settings)`` wires the model holder, the corrections store,
the settings, the API keys and the metrics into one app whose routes (``service.routes``) reach them
through FastAPI dependencies (``service.deps``; who may call what: ``service.auth``), and wraps it in
the boundary (``service.boundary``).

    app = create_app(ServiceSettings(model_dir="models/default", corrections="corrections.db"))

The model in service sits in a ``ModelHolder`` (``service.holder``); a request takes the dispatcher
it finds there once and uses it to the end, so a reload never touches a request in flight.

``serve --workers N`` runs N processes on one listening socket; each calls ``app_from_environment``
(the settings come from its parent through ``settings.SETTINGS_ENV``) and so loads its own model.
What each worker keeps to itself: the model, the micro-batcher and its queue, the admission count
(``max_in_flight`` is per worker), the API keys (each re-reads the keys file when it changes, so a
revocation reaches every worker) and the write budget (``write_rate_per_s / workers`` and
``write_burst / workers`` per worker, so the server as a whole never exceeds the configured rate; a
client whose requests all reach one worker gets that worker's share). ``/metrics`` sums every
worker's counters (``service.metrics``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from dispatch_nlp import __version__
from dispatch_nlp.errors import DispatchNLPError
from dispatch_nlp.lifecycle.corrections import CorrectionStore, open_store
from dispatch_nlp.service.auth import Authenticator, install_auth_handler
from dispatch_nlp.service.batcher import MicroBatcher
from dispatch_nlp.service.boundary import Admission, Boundary
from dispatch_nlp.service.holder import ModelHolder, Watcher
from dispatch_nlp.service.hotpath import LeanDispatch
from dispatch_nlp.service.http_errors import install_error_handlers
from dispatch_nlp.service.jsonio import decision_body
from dispatch_nlp.service.keys import KeyStore
from dispatch_nlp.service.metrics import Metrics
from dispatch_nlp.service.routes import ROUTERS, console
from dispatch_nlp.service.settings import ServiceSettings, settings_from_env
from dispatch_nlp.types import SCHEMA_VERSION

DESCRIPTION = ("Routes 12345 hotline work orders and records operators' corrections. "
               f"Decisions follow schema {SCHEMA_VERSION} (dispatch_nlp/schema/decision.schema.json).")


def create_app(settings: ServiceSettings | None = None, *, dispatcher: Any = None,
               store: CorrectionStore | None = None) -> Boundary:
    """Build the application (an ASGI app; the FastAPI app is its ``.app``). ``dispatcher`` and
    ``store`` may be given ready (tests, embedding)."""
    settings = settings or ServiceSettings()
    metrics = Metrics(settings.metrics_dir if settings.workers > 1 else None)
    holder = ModelHolder(settings, metrics, dispatcher)
    if store is None and settings.corrections:
        store = open_store(settings.corrections, busy_timeout_s=settings.db_busy_timeout_s)
    keys = KeyStore(settings.keys_file) if settings.keys_file else None
    workers = max(1, settings.workers)  # each worker enforces its share of the write budget
    auth = Authenticator(keys, no_auth=settings.no_auth, write_rate_per_s=settings.write_rate_per_s / workers,
                         write_burst=max(1, math.ceil(settings.write_burst / workers)))
    batcher = (MicroBatcher(max_batch=settings.batch_max, delay_s=settings.batch_delay_ms / 1000,
                            queue_max=settings.queue_max, retry_after_s=settings.retry_after_s,
                            finish=decision_body)
               if settings.batch_max > 0 else None)
    admission = Admission(limit=settings.max_in_flight, timeout_s=settings.request_timeout_s,
                          retry_after_s=settings.retry_after_s)
    watcher = Watcher(holder, settings.watch_interval_s) if settings.registry and settings.watch_interval_s > 0 else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if batcher is not None:
            batcher.open()
        if watcher is not None:
            watcher.start()
        publishing = metrics.start_publishing() if metrics.shared_dir is not None else None
        yield
        if watcher is not None:
            watcher.stop.set()
        if publishing is not None:
            publishing.set()
        if batcher is not None:  # new dispatch requests get 503; the queued ones are answered first
            await asyncio.to_thread(batcher.close, settings.request_timeout_s)

    app = FastAPI(title="dispatch_nlp", version=__version__, lifespan=lifespan, description=DESCRIPTION)
    # What the dependencies (service.deps) hand to the routes.
    app.state.holder, app.state.store, app.state.metrics, app.state.settings = holder, store, metrics, settings
    app.state.auth, app.state.started, app.state.batcher = auth, time.time(), batcher
    app.state.admission = admission
    install_error_handlers(app)
    install_auth_handler(app)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app)  # the operator console (/console) and the decision log the dispatch routes feed
    return Boundary(app, metrics=metrics, max_body=settings.max_body_bytes, admission=admission,
                    lean=LeanDispatch(app))


def app_from_environment() -> Boundary:
    """The application of one worker process of ``serve --workers N`` (uvicorn's app factory): the
    settings its parent put in the environment, logging through the masking handler (a worker is a
    fresh interpreter: the parent's logging setup does not reach it)."""
    import os

    from dispatch_nlp.logs import setup_logging

    setup_logging(os.environ.get("DISPATCH_NLP_LOG_LEVEL", "WARNING"))
    return create_app(settings_from_env())


__all__ = ["ServiceSettings", "ModelHolder", "create_app", "DispatchNLPError"]
