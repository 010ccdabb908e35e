"""The service's one error body, ``{"error": {code, message, fields, request_id}}``: ``error_response``
builds it, ``install_error_handlers(app)`` makes FastAPI answer validation, HTTP and unexpected
errors with it (never the input, which may hold personal data; never a stack trace)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch_nlp.service.schemas import ErrorOut
from dispatch_nlp.text.pii import mask_text

# The error answers every endpoint may give (the OpenAPI ``responses`` of the routes).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "a field is invalid (named in error.fields)"},
    413: {"model": ErrorOut, "description": "body larger than the limit"},
    500: {"model": ErrorOut, "description": "internal error (details in the server log)"},
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_FIELD_ERRORS = 50  # field errors listed in one 422 reply
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 503: "unavailable"}


def request_id(request: Request) -> str | None:
    """The id the boundary gave this request (also sent back in ``X-Request-ID``)."""
    return request.scope.get("state", {}).get("request_id")


def error_response(status: int, code: str, message: str, fields: list[dict] | None = None,
                   request_id: str | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": fields or [], "request_id": request_id}}
    return JSONResponse(body, status_code=status)


def internal_error(rid: str | None) -> JSONResponse:
    return error_response(500, "internal_error", "internal error; the server log has the details under request id "
                          f"{rid}", request_id=rid)


def field_errors(exc: RequestValidationError) -> list[dict]:
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
            # A field name the client made up is input too: named only when it is a plain identifier.
            loc = [x if isinstance(x, int) or _IDENTIFIER.match(str(x)) else "<field name withheld>" for x in loc]
            field = ".".join(str(x) for x in loc) or where
            if where != "body":
                field = f"{where}.{field}"
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"field": field, "message": message})  # never the input: it may hold personal data
    return out


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = field_errors(exc)
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    if len(fields) > MAX_FIELD_ERRORS:  # 10,000 malformed orders made a 2 MB reply
        summary += f" ({len(fields)} errors; the first {MAX_FIELD_ERRORS} are listed)"
    return error_response(422, "invalid_request", summary, fields[:MAX_FIELD_ERRORS], request_id(request))


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
    detail = mask_text(detail)  # a detail may quote the request (a path, a header)
    return error_response(exc.status_code, code, detail, request_id=request_id(request))


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    # Starlette answers here, then re-raises to the boundary, which logs it (masked).
    return internal_error(request_id(request))


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(RequestValidationError)(_validation)
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(Exception)(_internal)
