"""The FastAPI application: dispatch, corrections, health, model, metrics and admin reload.

    app = create_app(ServiceSettings(model_dir="models/default", corrections="corrections.db"))

The model in service sits in a ``ModelHolder``; a request takes the dispatcher it finds there once
and uses it to the end, so a reload (a new model loaded in the background, then one reference
swapped) never touches a request in flight.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch_nlp.errors import DispatchNLPError, InputError, ModelError
from dispatch_nlp.service.metrics import Metrics
from dispatch_nlp.service.schemas import (
    BatchIn,
    BatchOut,
    CorrectionIn,
    CorrectionOut,
    DecisionOut,
    ErrorOut,
    HealthOut,
    ModelOut,
    OrderIn,
    ReloadOut,
)
from dispatch_nlp.text.pii import mask_text
from dispatch_nlp.types import SCHEMA_VERSION, WorkOrder

log = logging.getLogger("dispatch_nlp.service")


@dataclass
class ServiceSettings:
    model_dir: str | None = None  # None (and no registry): the shipped default model
    registry: str | None = None  # serve the registry's current model (and follow it)
    corrections: str | None = None  # SQLite path or SQLAlchemy URL; None: corrections disabled (503)
    max_body_bytes: int = 1_000_000
    max_batch: int = 256
    admin_token: str | None = None
    watch_interval_s: float = 0.0  # > 0: poll the registry's current pointer and reload on change
    profile: str | None = None  # fast / full (None: the model's default profile)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ModelHolder:
    """The dispatcher in service, and how to replace it."""

    def __init__(self, settings: ServiceSettings, metrics: Metrics, dispatcher=None):
        self.settings = settings
        self.metrics = metrics
        self._reload_lock = threading.Lock()
        self.reloading = False
        self.last_reload: dict[str, Any] | None = None
        self.dispatcher = dispatcher if dispatcher is not None else self._load(self.source())
        self.loaded_at = _now()
        self._publish()

    def source(self) -> Path:
        if self.settings.registry:
            from dispatch_nlp.lifecycle.registry import Registry

            return Registry(self.settings.registry, create=False).current_dir()
        if self.settings.model_dir:
            return Path(self.settings.model_dir)
        from dispatch_nlp.resources import default_model_dir

        return default_model_dir()

    def _load(self, model_dir: Path | None):
        from dispatch_nlp.dispatcher import Dispatcher

        return Dispatcher.load(model_dir, profile=self.settings.profile)

    def _publish(self) -> None:
        d = self.dispatcher
        self.metrics.model_info = (str(d.model_version), str(d.catalog_version))

    def reload(self, *, wait: bool = True, force: bool = False) -> dict[str, Any]:
        """Load the configured source in the background and swap it in. Returns at once with
        ``loading`` unless ``wait``; ``unchanged`` when the source is the model already in service."""
        if not self._reload_lock.acquire(blocking=False):
            return {"status": "loading"}
        try:
            source = self.source()
        except (ModelError, InputError) as exc:
            self._reload_lock.release()
            self._failed(exc)
            return {"status": "failed", "error": str(exc)}
        current = self.dispatcher
        if not force and source is not None and _same_dir(source, current.model_dir):
            self._reload_lock.release()
            return {"status": "unchanged", "model_version": current.model_version, "model_dir": str(source)}
        self.reloading = True
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                t0 = time.perf_counter()
                new = self._load(source)
                self.dispatcher = new  # the swap: one reference assignment
                self.loaded_at = _now()
                self._publish()
                self.metrics.reload(True)
                result.update(status="reloaded", model_version=new.model_version, model_dir=str(new.model_dir))
                self.last_reload = {"time": self.loaded_at, "ok": True, "model_version": new.model_version,
                                    "model_dir": str(new.model_dir),
                                    "seconds": round(time.perf_counter() - t0, 2)}
                log.warning("model reloaded: %s from %s", new.model_version, new.model_dir)
            except Exception as exc:  # noqa: BLE001 - keep serving the old model
                self._failed(exc)
                result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                self.reloading = False
                self._reload_lock.release()

        thread = threading.Thread(target=work, name="model-reload", daemon=True)
        thread.start()
        if not wait:
            return {"status": "loading", "model_dir": str(source)}
        thread.join()
        return result

    def _failed(self, exc: Exception) -> None:
        self.metrics.reload(False)
        self.last_reload = {"time": _now(), "ok": False, "error": mask_text(f"{type(exc).__name__}: {exc}")}
        log.error("model reload failed; still serving %s: %s", self.dispatcher.model_version, exc)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


class _Watcher(threading.Thread):
    """Polls the registry's ``current`` pointer and reloads when it names another version."""

    def __init__(self, holder: ModelHolder, interval: float):
        super().__init__(name="registry-watch", daemon=True)
        self.holder, self.interval = holder, interval
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.holder.reload(wait=True)
            except Exception as exc:  # noqa: BLE001
                log.error("registry watch: %s", exc)


def _error(status: int, code: str, message: str, fields: list[dict] | None = None,
           request_id: str | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": fields or [], "request_id": request_id}}
    return JSONResponse(body, status_code=status)


class _Boundary:
    """Outermost ASGI layer: request ids, the body size limit, metrics, and no stack trace to a
    client (an unexpected exception becomes a 500 with a request id; its masked message is logged)."""

    def __init__(self, app, *, metrics: Metrics, max_body: int):
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = uuid.uuid4().hex[:12]
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        self.metrics.request_started()
        status = {"code": 500, "started": False}

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                too_big, receive = await self._buffer(scope, receive)
                if too_big:
                    resp = _error(413, "body_too_large",
                                  f"request body is larger than the limit of {self.max_body} bytes; "
                                  "send fewer orders per batch or shorter text", [{"field": "body", "message":
                                  f"at most {self.max_body} bytes"}], rid)
                    await resp(scope, receive, send_wrapped)
                    return
            await self.app(scope, receive, send_wrapped)
        except Exception as exc:  # noqa: BLE001 - the boundary
            log.error("internal error (request %s, %s %s): %s: %s", rid, scope["method"], scope["path"],
                      type(exc).__name__, exc)
            if not status["started"]:
                resp = _error(500, "internal_error", f"internal error; the server log has the details under "
                              f"request id {rid}", request_id=rid)
                await resp(scope, receive, send_wrapped)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(endpoint, scope["method"], status["code"], time.perf_counter() - t0)

    async def _buffer(self, scope, receive):
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return True, receive
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                chunks.append(b"")
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                return True, receive
            chunks.append(body)
            more = message.get("more_body", False)
        data = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        return False, replay


def _field_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header"):
            where = loc[0]
            loc = loc[1:]
        else:
            where = "body"
        if err.get("type") == "json_invalid":
            field, message = "body", f"not valid JSON: {err.get('ctx', {}).get('error', 'parse error')}"
        else:
            field = ".".join(str(x) for x in loc) or where
            if where != "body":
                field = f"{where}.{field}"
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"field": field, "message": message})  # never the input: it may hold personal data
    return out


def create_app(settings: ServiceSettings | None = None, *, dispatcher=None, store=None) -> FastAPI:
    """Build the application. ``dispatcher`` and ``store`` may be given ready (tests, embedding)."""
    from dispatch_nlp import __version__

    settings = settings or ServiceSettings()
    metrics = Metrics()
    holder = ModelHolder(settings, metrics, dispatcher)
    if store is None and settings.corrections:
        from dispatch_nlp.lifecycle.corrections import open_store

        store = open_store(settings.corrections)
    watcher = _Watcher(holder, settings.watch_interval_s) if settings.registry and settings.watch_interval_s > 0 else None
    started = time.time()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app):
        if watcher is not None:
            watcher.start()
        yield
        if watcher is not None:
            watcher.stop.set()

    errors = {422: {"model": ErrorOut, "description": "a field is invalid (named in error.fields)"},
              413: {"model": ErrorOut, "description": "body larger than the limit"},
              500: {"model": ErrorOut, "description": "internal error (details in the server log)"}}
    app = FastAPI(title="dispatch_nlp", version=__version__, lifespan=lifespan,
                  description="Routes 12345 hotline work orders and records operators' corrections. "
                              f"Decisions follow schema {SCHEMA_VERSION} (dispatch_nlp/schema/decision.schema.json).")
    app.state.holder, app.state.store, app.state.metrics, app.state.settings = holder, store, metrics, settings

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        fields = _field_errors(exc)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return _error(422, "invalid_request", summary, fields, request.scope.get("state", {}).get("request_id"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 503: "unavailable"}.get(
            exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
        return _error(exc.status_code, code, detail, request_id=request.scope.get("state", {}).get("request_id"))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        # Starlette answers here, then re-raises to the boundary, which logs it (masked).
        request_id = request.scope.get("state", {}).get("request_id")
        return _error(500, "internal_error", "internal error; the server log has the details under request id "
                      f"{request_id}", request_id=request_id)

    def rid(request: Request) -> str | None:
        return request.scope.get("state", {}).get("request_id")

    @app.post("/v1/dispatch", response_model=DecisionOut, responses=errors, tags=["dispatch"],
              summary="Dispatch one work order")
    def dispatch_one(order: OrderIn) -> Response:
        d = holder.dispatcher  # this request keeps this model, whatever a reload does meanwhile
        decision = d.dispatch(WorkOrder(**order.model_dump()))
        metrics.decided([decision.route])
        return Response(decision.to_json(), media_type="application/json")

    @app.post("/v1/dispatch/batch", response_model=BatchOut, responses=errors, tags=["dispatch"],
              summary="Dispatch several orders (decisions in input order)")
    def dispatch_batch(batch: BatchIn, request: Request) -> Response:
        n = len(batch.orders)
        if n == 0 or n > settings.max_batch:
            return _error(422, "invalid_request", f"orders: give 1 to {settings.max_batch} orders per batch "
                          f"(got {n})", [{"field": "orders", "message": f"1 to {settings.max_batch} orders"}],
                          rid(request))
        d = holder.dispatcher
        decisions = d.dispatch_batch([WorkOrder(**o.model_dump()) for o in batch.orders],
                                     batch_size=min(64, n))
        metrics.decided([x.route for x in decisions])
        body = ('{"decisions":[' + ",".join(x.to_json() for x in decisions) + "],"
                + f'"model_version":{json.dumps(d.model_version)},"catalog_version":{json.dumps(d.catalog_version)}}}')
        return Response(body, media_type="application/json")

    @app.post("/v1/corrections", response_model=CorrectionOut, status_code=201, tags=["corrections"],
              responses={**errors, 200: {"model": CorrectionOut, "description": "already stored (same correction_id)"},
                         503: {"model": ErrorOut, "description": "store unavailable: nothing stored, retry"}},
              summary="Record an operator's correction (改派 / 退单); durable before the reply")
    def add_correction(body: CorrectionIn, request: Request) -> Response:
        from dispatch_nlp.lifecycle.corrections import Correction

        if store is None:
            return _error(503, "unavailable", "corrections are not enabled on this service (start it with "
                          "--corrections DB)", request_id=rid(request))
        d = holder.dispatcher
        problems = _check_against_model(body, d)
        if problems:
            return _error(422, "invalid_request", "; ".join(f"{f}: {m}" for f, m in problems),
                          [{"field": f, "message": m} for f, m in problems], rid(request))
        data = {k: v for k, v in body.model_dump().items() if v is not None}
        if not data.get("catalog_version") and not (body.decision or {}).get("catalog_version") \
                and not body.decision_catalog_version:
            data["catalog_version"] = d.catalog_version
        try:
            correction = Correction.from_dict(data)
        except InputError as exc:
            field = str(exc).split(":", 1)[0]
            return _error(422, "invalid_request", str(exc), [{"field": field, "message": str(exc)}], rid(request))
        try:
            stored, new = store.add(correction)
        except Exception as exc:  # noqa: BLE001 - nothing acknowledged: the client retries
            log.error("corrections store failed (request %s): %s: %s", rid(request), type(exc).__name__, exc)
            return _error(503, "store_unavailable", "the corrections store did not accept the write; nothing was "
                          "stored: retry with the same correction_id", request_id=rid(request))
        metrics.correction(new)
        out = CorrectionOut(correction_id=stored.correction_id, order_id=stored.order_id, stored=True,
                            duplicate=not new, received_at=stored.received_at or "")
        return Response(out.model_dump_json(), status_code=201 if new else 200, media_type="application/json")

    @app.get("/v1/health", response_model=HealthOut, tags=["operations"], summary="Liveness and readiness")
    def health() -> HealthOut:
        d = holder.dispatcher
        store_state = "disabled" if store is None else ("ok" if store.ping() else "unavailable")
        return HealthOut(status="ok" if store_state != "unavailable" else "degraded", model_version=d.model_version,
                         catalog_version=d.catalog_version, uptime_s=round(time.time() - started, 1),
                         reloading=holder.reloading, last_reload=holder.last_reload, corrections_store=store_state)

    @app.get("/v1/model", response_model=ModelOut, tags=["operations"],
             summary="Model, catalog and schema versions in service")
    def model_info() -> ModelOut:
        d = holder.dispatcher
        reg = None
        if settings.registry:
            from dispatch_nlp.lifecycle.registry import Registry

            r = Registry(settings.registry, create=False)
            reg = {"path": str(r.root), "current": r.current(), "versions": r.versions()}
        return ModelOut(**d.info(), registry=reg, loaded_at=holder.loaded_at,
                        limits={"max_body_bytes": settings.max_body_bytes, "max_batch": settings.max_batch,
                                "max_text_chars": 20_000})

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"], summary="Prometheus metrics")
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/v1/admin/reload", response_model=ReloadOut, tags=["operations"],
              responses={401: {"model": ErrorOut}, 409: {"model": ErrorOut}},
              summary="Load the registry's current model (or the --model directory again) and swap it in")
    def admin_reload(request: Request, wait: bool = Query(True, description="reply after the swap"),
                     force: bool = Query(False, description="reload even if the source did not change"),
                     authorization: str | None = Header(None)) -> Response:
        if settings.admin_token and authorization != f"Bearer {settings.admin_token}":
            return _error(401, "unauthorized", "admin endpoints need 'Authorization: Bearer <token>'",
                          request_id=rid(request))
        result = holder.reload(wait=wait, force=force)
        status = {"failed": 409, "loading": 202}.get(result["status"], 200)
        return Response(ReloadOut(**result).model_dump_json(), status_code=status, media_type="application/json")

    return _Boundary(app, metrics=metrics, max_body=settings.max_body_bytes)  # type: ignore[return-value]


def _check_against_model(body: CorrectionIn, d) -> list[tuple[str, str]]:
    """Corrected values the model in service can check: unit ids, division codes, catalog codes."""
    problems = []
    if body.unit and not d.units.has_unit(body.unit):
        problems.append(("unit", f"{body.unit!r} is not in the units registry"))
    for name in ("district", "street"):
        code = getattr(body, name)
        if code and d.gazetteer.get(code) is None:
            problems.append((name, f"{code!r} is not a division of the gazetteer"))
    version = body.catalog_version or (body.decision or {}).get("catalog_version") or body.decision_catalog_version
    if version in (None, d.catalog_version):
        if body.category_code and body.category_code not in d.catalog:
            problems.append(("category_code", f"{body.category_code!r} is not in catalog {d.catalog_version}"))
        if body.category_path:
            try:
                d.catalog.by_path(tuple(body.category_path))
            except KeyError:
                problems.append(("category_path", f"{' > '.join(body.category_path)!r} is not a path of catalog "
                                 f"{d.catalog_version}"))
    return problems


__all__ = ["ServiceSettings", "ModelHolder", "create_app", "DispatchNLPError"]
