"""The HTTP service (``dispatch-nlp serve``): FastAPI + uvicorn, installed with the ``[serve]`` extra.

    from dispatch_nlp.service import ServiceSettings, create_app
    app = create_app(ServiceSettings(model_dir=None, corrections="corrections.db"))

Layout: ``app`` (create_app: wiring), ``settings``, ``holder`` (the model in service, reload, registry
watch), ``deps`` (FastAPI dependencies), ``routes/`` (dispatch, corrections, health, model), ``schemas``
(request and response models), ``http_errors`` (the error body), ``boundary`` (request ids, admission,
body limit, metrics, no stack traces), ``hotpath`` (the lean path of a valid ``POST /v1/dispatch``, past
FastAPI's routing and dependencies), ``batcher`` (micro-batching), ``metrics`` (Prometheus text).
"""

from dispatch_nlp.service.app import create_app
from dispatch_nlp.service.holder import ModelHolder
from dispatch_nlp.service.settings import ServiceSettings

__all__ = ["ModelHolder", "ServiceSettings", "create_app"]
