"""The outermost ASGI layer around the FastAPI app: request ids (``X-Request-ID``), admission of
``POST /v1/dispatch`` (``Admission``: 503 before any parsing when too many are in flight), the body
size limit (413 before any parsing), request metrics, and no stack trace to a client (an unexpected
exception becomes a 500 with a request id; its type and masked message are logged)."""

from __future__ import annotations

import itertools
import logging
import math
import time
import uuid
from typing import Any

from dispatch_nlp.service.http_errors import error_response, internal_error
from dispatch_nlp.service.metrics import Metrics

log = logging.getLogger("dispatch_nlp.service")

# Request ids: this process's random prefix and a counter (unique per process and across workers; a
# uuid4 per request cost a getrandom system call, ~5 % of the request path's CPU).
_ID_PREFIX = uuid.uuid4().hex[:6]
_ID_COUNTER = itertools.count(1)


def next_request_id() -> str:
    """A 12-character id for the next request (``X-Request-ID`` and the logs)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) % 16**6:06x}"


class Admission:
    """Back-pressure counted from arrival: at most ``limit`` requests to ``paths`` (POST) are handled at
    once, whether they are still being read, authenticated, validated or waiting in the micro-batcher.
    One more is answered 503 with ``Retry-After`` at once, before its body is read, so that over
    saturation the server sheds load instead of growing a queue. Each admitted request gets a deadline,
    ``timeout_s`` after its arrival (``scope["state"]["deadline"]``, ``time.monotonic()``), that the route
    waits for its decision at most. ``limit`` 0: no limit, deadlines still set.

    Only the event loop touches the count (ASGI calls run on it), so it needs no lock."""

    def __init__(self, *, limit: int, timeout_s: float, retry_after_s: float = 1.0,
                 paths: tuple[str, ...] = ("/v1/dispatch",)):
        self.limit, self.timeout_s, self.retry_after_s, self.paths = limit, timeout_s, retry_after_s, paths
        self.in_flight = 0
        self.rejected = 0

    def applies(self, scope: dict) -> bool:
        return scope["method"] == "POST" and scope["path"] in self.paths

    def full(self) -> bool:
        return self.limit > 0 and self.in_flight >= self.limit


class Boundary:
    """Wraps ``app`` (the FastAPI application, reachable as ``.app``)."""

    def __init__(self, app: Any, *, metrics: Metrics, max_body: int, admission: Admission | None = None,
                 lean: Any = None):
        self.app, self.metrics, self.max_body, self.admission = app, metrics, max_body, admission
        self.lean = lean  # service.hotpath.LeanDispatch: answers the common POST /v1/dispatch itself

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = next_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        t0 = time.perf_counter()
        self.metrics.request_started()
        status = {"code": 500, "started": False}
        admitted = self.admission is not None and self.admission.applies(scope)
        shed = False

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            if admitted:
                assert self.admission is not None
                if self.admission.full():
                    admitted, shed = False, True
                    self.admission.rejected += 1
                    await self._overloaded(rid)(scope, receive, send_wrapped)
                    return
                self.admission.in_flight += 1
                state["deadline"] = time.monotonic() + self.admission.timeout_s
            if scope["method"] in ("POST", "PUT", "PATCH"):
                too_big, receive, body = await self._buffer(scope, receive)
                if too_big:
                    resp = error_response(413, "body_too_large",
                                          f"request body is larger than the limit of {self.max_body} bytes; "
                                          "send fewer orders per batch or shorter text",
                                          [{"field": "body", "message": f"at most {self.max_body} bytes"}], rid)
                    await resp(scope, receive, send_wrapped)
                    return
                if self.lean is not None and self.lean.applies(scope) and await self.lean(scope, body, send_wrapped):
                    return
            await self.app(scope, receive, send_wrapped)
        except Exception as exc:  # noqa: BLE001 - the boundary: answered 500, logged with its type
            log.error("internal error (request %s, %s %s): %s: %s", rid, scope["method"], scope["path"],
                      type(exc).__name__, exc)
            if not status["started"]:
                await internal_error(rid)(scope, receive, send_wrapped)
        finally:
            if admitted:
                assert self.admission is not None
                self.admission.in_flight -= 1
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or (scope["path"] if shed else "unmatched")
            self.metrics.observe(endpoint, scope["method"], status["code"], time.perf_counter() - t0)

    def _overloaded(self, rid: str):
        assert self.admission is not None
        response = error_response(503, "unavailable", "the server is at capacity; try again shortly",
                                  request_id=rid)
        response.headers["Retry-After"] = str(max(1, math.ceil(self.admission.retry_after_s)))
        return response

    async def _buffer(self, scope, receive):
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return True, receive, b""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                chunks.append(b"")
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                return True, receive, b""
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

        return False, replay, data
