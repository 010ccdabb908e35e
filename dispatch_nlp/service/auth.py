"""Who may call what: API keys with roles, checked by FastAPI dependencies, and a per-key rate limit
on writes.

    dispatch   POST /v1/dispatch, POST /v1/dispatch/batch, GET /v1/model
    operator   the above and POST /v1/corrections (the correction's operator is the key's id)
    admin      the above and POST /v1/admin/reload
    (open)     GET /v1/health, GET /metrics, /openapi.json, /docs: nothing in them is personal or writable

A request carries its key as ``Authorization: Bearer <secret>`` or ``X-API-Key: <secret>`` (headers a
cross-site form cannot set, so a form POST never reaches a protected route). No key or an unknown one:
401 with ``WWW-Authenticate: Bearer``; a known key with too little role: 403 naming the role needed;
a write over its key's budget: 429 with ``Retry-After``. The secret is never logged nor echoed.

``Authenticator`` holds the ``KeyStore`` (``service.keys``) and the rate limiter; ``create_app`` puts one
in ``app.state.auth``. Without keys and without ``no_auth`` every protected route answers 401 (the
CLI refuses to start that way); ``no_auth`` (loopback only, enforced by the CLI) lets every request
through as ``Principal("no-auth", "admin")``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from dispatch_nlp.service.http_errors import error_response, request_id
from dispatch_nlp.service.keys import ROLES, KeyStore, Principal
from dispatch_nlp.service.schemas import ErrorOut

# The refusals a protected route may give (its OpenAPI ``responses``).
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no API key, or an unknown one (WWW-Authenticate: Bearer)"},
    403: {"model": ErrorOut, "description": "the key's role is below the one this endpoint needs"},
    429: {"model": ErrorOut, "description": "too many writes for this key (Retry-After: seconds)"},
}
NO_AUTH = Principal("no-auth", "admin")
MAX_SECRET_CHARS = 256  # longer than any secret we make: refused before any derivation
MAX_CONCURRENT_DERIVATIONS = 2

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key secret>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key secret")


class AuthError(Exception):
    """A refusal (401, 403, 429) answered with the service's error body and its headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class TokenBucket:
    """Per-key token buckets: ``rate`` tokens a second up to ``burst``; ``take`` answers 0 (go) or the
    seconds to wait. ``rate <= 0`` turns the limit off."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, max(1, burst)
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class Authenticator:
    def __init__(self, keys: KeyStore | None, *, no_auth: bool = False, write_rate_per_s: float = 0.0,
                 write_burst: int = 1):
        self.keys, self.no_auth = keys, no_auth
        # At most this many scrypt derivations at once (a first use of a key, or a wrong secret for a known
        # id): wrong secrets cannot take the thread pool from the requests with a key already verified.
        self._slow: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.writes = TokenBucket(write_rate_per_s, write_burst)

    def _derivations(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # one semaphore per event loop (a server has one; tests make several)
        if self._slow is None or self._slow[0] is not loop:
            self._slow = (loop, asyncio.Semaphore(MAX_CONCURRENT_DERIVATIONS))
        return self._slow[1]

    async def principal(self, secret: str | None) -> Principal:
        if self.no_auth:
            return NO_AUTH
        if not secret:
            raise AuthError(401, "unauthorized", "this endpoint needs an API key: send 'Authorization: Bearer "
                            "<key>' or 'X-API-Key: <key>' (make keys with dispatch-nlp keys add)",
                            {"WWW-Authenticate": 'Bearer realm="dispatch_nlp"'})
        found = None
        if self.keys is not None and len(secret) <= MAX_SECRET_CHARS:
            found = self.keys.cached(secret)
            if found is None:  # one scrypt derivation: off the event loop, a bounded number at once
                async with self._derivations():
                    found = await run_in_threadpool(self.keys.verify, secret)
        if found is None:
            raise AuthError(401, "unauthorized", "the API key is unknown or revoked",
                            {"WWW-Authenticate": 'Bearer realm="dispatch_nlp", error="invalid_token"'})
        return found

    def charge_write(self, principal: Principal) -> None:
        wait = self.writes.take(principal.key_id)
        if wait > 0:
            raise AuthError(429, "rate_limited", f"too many writes for key {principal.key_id}: retry after "
                            f"{math.ceil(wait)} s", {"Retry-After": str(max(1, math.ceil(wait)))})


async def _secret(bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                  api_key: Annotated[str | None, Depends(_api_key)]) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return api_key or None


async def request_secret(request: Request) -> str | None:
    """The secret a request carries, read as the route dependencies read it (for the lean dispatch path,
    ``service.hotpath``, which runs no dependencies)."""
    return await _secret(await _bearer(request), await _api_key(request))


async def authorize(request: Request, secret: str | None, role: str, *, write: bool = False) -> Principal:
    """The caller's ``Principal`` when its key has at least ``role`` (and, for a write, budget left), also
    left in ``request.state.principal``; otherwise ``AuthError`` (401, 403 or 429)."""
    auth: Authenticator = request.app.state.auth
    principal = await auth.principal(secret)
    if not principal.may(role):
        raise AuthError(403, "forbidden", f"this endpoint needs a key with role '{role}' or above; key "
                        f"{principal.key_id} has role '{principal.role}'")
    request.state.principal = principal
    if write:
        auth.charge_write(principal)
    return principal


def require(role: str, *, write: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency answering the caller's ``Principal`` when its key has at least ``role`` (and, for a
    write, budget left); otherwise 401, 403 or 429."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {ROLES}")

    async def dependency(request: Request, secret: Annotated[str | None, Depends(_secret)]) -> Principal:
        return await authorize(request, secret, role, write=write)

    dependency.__name__ = f"require_{role}{'_write' if write else ''}"
    return dependency


# What the routes declare.
DispatchRole = Depends(require("dispatch"))
OperatorWrite = Annotated[Principal, Depends(require("operator", write=True))]
AdminWrite = Annotated[Principal, Depends(require("admin", write=True))]


def refusal(exc: AuthError, rid: str | None) -> JSONResponse:
    """The answer to an ``AuthError``: the service's error body and the error's headers."""
    response = error_response(exc.status, exc.code, exc.message, request_id=rid)
    response.headers.update(exc.headers)
    return response


async def _auth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    return refusal(exc, request_id(request))


def install_auth_handler(app: FastAPI) -> None:
    app.add_exception_handler(AuthError, _auth_error)
