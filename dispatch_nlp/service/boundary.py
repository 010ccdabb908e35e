"""The outermost ASGI layer around the FastAPI app: request ids (``X-Request-ID``), the body size
limit (413 before any parsing), request metrics, and no stack trace to a client (an unexpected
exception becomes a 500 with a request id; its type and masked message are logged)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from dispatch_nlp.service.http_errors import error_response, internal_error
from dispatch_nlp.service.metrics import Metrics

log = logging.getLogger("dispatch_nlp.service")


class Boundary:
    """Wraps ``app`` (the FastAPI application, reachable as ``.app``)."""

    def __init__(self, app: Any, *, metrics: Metrics, max_body: int):
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
                    resp = error_response(413, "body_too_large",
                                          f"request body is larger than the limit of {self.max_body} bytes; "
                                          "send fewer orders per batch or shorter text",
                                          [{"field": "body", "message": f"at most {self.max_body} bytes"}], rid)
                    await resp(scope, receive, send_wrapped)
                    return
            await self.app(scope, receive, send_wrapped)
        except Exception as exc:  # noqa: BLE001 - the boundary: answered 500, logged with its type
            log.error("internal error (request %s, %s %s): %s: %s", rid, scope["method"], scope["path"],
                      type(exc).__name__, exc)
            if not status["started"]:
                await internal_error(rid)(scope, receive, send_wrapped)
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
