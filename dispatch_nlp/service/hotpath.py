"""The lean path of ``POST /v1/dispatch``: the boundary (``service.boundary``) hands it an admitted
request with its body already read, and it answers the common case — a JSON body that is a valid
order, from a caller allowed to dispatch — without FastAPI's routing and dependency machinery, which
cost most of the event loop's CPU per request.

    lean = LeanDispatch(fastapi_app)
    handled = await lean(scope, body, send)   # False: not its case; the FastAPI app answers as before

What it runs is what the route runs, not a copy: the body is validated with the route's own model
(``schemas.OrderIn``, straight from the bytes with ``TypeAdapter.validate_json``), the caller is
checked by ``auth.request_secret`` and ``auth.authorize`` (refusals by ``auth.refusal``), and the
answer comes from ``routes.dispatch.answer_one`` — the route's body — so a decision, a 401/403 and a
503 are the same bytes and headers either way. What it does not handle it gives back untouched:

- a body that does not validate (not JSON, a field wrong, a field unknown): the FastAPI route parses it
  again and answers its 422, so validation errors keep their exact shape and wording;
- a content type other than ``application/json`` (FastAPI decides what that means).

It sets ``scope["app"]`` and ``scope["route"]`` as Starlette would, so the metrics count the request
under its route template and the route's helpers find the application state. An exception it does
not expect goes to the boundary, which answers 500 with the request id and logs the type, as for any
route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from dispatch_nlp.service.auth import AuthError, authorize, refusal, request_secret
from dispatch_nlp.service.routes.dispatch import answer_one
from dispatch_nlp.service.routes.dispatch import router as dispatch_routes
from dispatch_nlp.service.schemas import OrderIn

PATH = "/v1/dispatch"
ROLE = "dispatch"  # the role the route's dependency asks (routes.dispatch: DispatchRole)


def _json_content_type(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request says its body is ``application/json`` (optionally with parameters)."""
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class LeanDispatch:
    """Answers admitted ``POST /v1/dispatch`` requests with a valid JSON order (see the module)."""

    def __init__(self, app: FastAPI):
        self.app = app
        # The route FastAPI puts in scope["route"] for this path (the metrics label it with its template).
        routes = [r for r in dispatch_routes.routes if isinstance(r, APIRoute) and r.path == PATH
                  and "POST" in (r.methods or ())]
        if len(routes) != 1:
            raise RuntimeError(f"routes.dispatch has {len(routes)} POST {PATH} routes; the lean path needs one")
        self.route = routes[0]
        self.orders = TypeAdapter(OrderIn)

    def applies(self, scope: dict[str, Any]) -> bool:
        return (scope["method"] == "POST" and scope["path"] == PATH and not scope.get("root_path")
                and _json_content_type(scope.get("headers") or []))

    async def __call__(self, scope: dict[str, Any], body: bytes, send: Any) -> bool:
        """Answer the request and return True, or return False having sent nothing (the FastAPI app
        answers it then, from the same body)."""
        try:
            order = self.orders.validate_json(body)
        except ValidationError:
            return False  # the route answers its own 422
        scope["app"] = self.app
        scope["route"] = self.route
        request = Request(scope, _no_body)
        try:
            await authorize(request, await request_secret(request), ROLE)
        except AuthError as exc:
            await refusal(exc, scope["state"].get("request_id"))(scope, _no_body, send)
            return True
        response = await answer_one(request, order)
        await response(scope, _no_body, send)
        return True
