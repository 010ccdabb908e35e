"""A low-CPU HTTP/1.1 load generator for ``service_bench``: what it costs the machine is small and
measured, so that the figures are the server's, not the client's.

    reqs = encode_requests("127.0.0.1", 8000, "/v1/dispatch", bodies, {"Authorization": "Bearer ..."})
    with LoadProcess() as load:
        closed = load.run({"kind": "closed", "host": "127.0.0.1", "port": 8000, "requests": reqs,
                           "clients": 8, "limit": 600, "seconds": 20})
        opened = load.run({"kind": "open", "host": "127.0.0.1", "port": 8000, "requests": reqs,
                           "rate": 90.0, "seconds": 6})

Takes requests pre-encoded once as bytes (``encode_requests``: request line, headers, JSON body) and
sends them over raw asyncio streams (uvloop when installed): keep-alive connections, opened before
the phase; a response is parsed only as far as the figures need (status line, ``Content-Length`` or
chunked framing, ``Retry-After``, ``Connection: close``). A broken connection counts the request as
an error (named by the exception: ``IncompleteReadError``, ``ConnectionResetError``, ``TimeoutError``
...) and is reopened for the next one; nothing is retried.

Returns one dict per phase: requests, seconds, throughput, p50/p95/p99/max latency, statuses, error
rate, connections opened during the phase (reconnects) and the client's own CPU milliseconds per
request (``time.process_time`` of the process running the phase). ``closed_loop``: N clients, each
sends its next request when the last is answered. ``open_loop``: arrivals at a fixed rate, scheduled
in advance, whatever the answers; each latency runs from the request's scheduled send time, so a
send delayed by a busy client or a full pool counts against the figures, never for them (no
coordinated omission); a request due when every connection is busy gets a new one (up to ``cap``).
``LoadProcess`` runs phases in a process of their own (spawned: no model, no other event loop).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

HEAD_END = b"\r\n\r\n"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def latency_figures(latencies: list[float]) -> dict:
    return {f"p{q}_ms": round(percentile(latencies, q / 100) * 1000, 2) for q in (50, 95, 99)} | {
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 2)}


def encode_requests(host: str, port: int, path: str, bodies: list[Any],
                    headers: dict[str, str] | None = None) -> list[bytes]:
    """Each body as one complete ``POST path`` HTTP/1.1 request (JSON, keep-alive), built once."""
    fixed = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    fixed += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    out = []
    for body in bodies:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(f"{fixed}Content-Length: {len(data)}\r\n\r\n".encode("latin-1") + data)
    return out


class ProtocolError(ValueError):
    """The answer is not HTTP/1.x as this client reads it."""


class Reply:
    """One parsed answer: ``status``, ``retry_after`` (seconds, or None), ``body`` (bytes)."""

    __slots__ = ("status", "retry_after", "body")

    def __init__(self, status: int, retry_after: float | None, body: bytes):
        self.status, self.retry_after, self.body = status, retry_after, body


class Connection:
    """One keep-alive connection, opened on first use and reopened after it broke or was closed."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0  # times a connection was made (the first one included)

    def usable(self) -> bool:
        """Open, and the server has not closed its side (an idle keep-alive connection it timed out)."""
        return (self.writer is not None and self.reader is not None and not self.writer.is_closing()
                and not self.reader.at_eof())

    async def open(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> Reply:
        """Send one pre-encoded request and read its answer; closes the connection on any error
        (and when the server says ``Connection: close``)."""
        if not self.usable():
            await self.open()
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        try:
            writer.write(raw)
            head = await reader.readuntil(HEAD_END)
            reply, length, chunked, close = parse_head(head)
            if chunked:
                reply.body = await read_chunked(reader)
            elif length is not None:
                reply.body = await reader.readexactly(length) if length else b""
            elif reply.status in (204, 304):
                pass
            else:  # no framing: the body runs to the end of the connection
                reply.body, close = await reader.read(), True
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return reply


def parse_head(head: bytes) -> tuple[Reply, int | None, bool, bool]:
    """Status line and the few headers the figures need: (reply, content length, chunked, close)."""
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(rest) < 3 or not rest[:3].isdigit():
        raise ProtocolError("not an HTTP/1.x status line")
    reply = Reply(int(rest[:3]), None, b"")
    length: int | None = None
    chunked, close = False, version == b"HTTP/1.0"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"retry-after":
            try:
                reply.retry_after = float(value)
            except ValueError:  # the HTTP-date form: not used by the server under test
                reply.retry_after = None
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            token = value.strip().lower()
            close = token == b"close" or (close and token != b"keep-alive")
    return reply, length, chunked, close


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def exchange(conn: Connection, raw: bytes, timeout_s: float) -> tuple[str, float | None]:
    """(status or the exception's class name, Retry-After) of one request; never raises."""
    try:
        async with asyncio.timeout(timeout_s):
            reply = await conn.request(raw)
        return str(reply.status), reply.retry_after
    except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError,
            TimeoutError, ValueError) as exc:
        return type(exc).__name__, None


class Tally:
    """Latencies, statuses and Retry-After values of one phase."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok_latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.retry_after: dict[str, int] = {}

    def add(self, status: str, retry_after: float | None, took: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(took)
        if status.startswith("2"):
            self.ok_latencies.append(took)
        if retry_after is not None:
            key = f"{retry_after:g}"
            self.retry_after[key] = self.retry_after.get(key, 0) + 1

    def figures(self, wall: float, cpu: float, conns: list[Connection], pre_opened: int) -> dict:
        n, ok = len(self.latencies), len(self.ok_latencies)
        return {"requests": n, "seconds": round(wall, 2), "throughput_rps": round(n / wall, 1) if wall else 0.0,
                **latency_figures(self.latencies), "error_rate": round((n - ok) / max(n, 1), 4),
                "statuses": self.statuses, "retry_after_s": self.retry_after,
                "connections_opened_in_phase": sum(c.opened for c in conns) - pre_opened,
                "client_cpu_ms_per_request": round(cpu * 1000 / max(n, 1), 3)}


async def closed_loop(host: str, port: int, requests: list[bytes], clients: int, limit: int, seconds: float,
                      timeout_s: float = 30.0) -> dict:
    """``clients`` connections, each sending its next request when the last is answered, until
    ``limit`` requests are sent or ``seconds`` have passed."""
    conns = [Connection(host, port) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    tally, sent = Tally(), 0
    clock = time.perf_counter
    deadline = clock() + seconds

    async def client(conn: Connection) -> None:
        nonlocal sent
        while sent < limit and clock() < deadline:
            raw = requests[sent % len(requests)]
            sent += 1
            t = clock()
            status, retry = await exchange(conn, raw, timeout_s)
            tally.add(status, retry, clock() - t)

    cpu0, t0 = time.process_time(), clock()
    await asyncio.gather(*(client(c) for c in conns))
    wall, cpu = clock() - t0, time.process_time() - cpu0
    for c in conns:
        c.close()
    return {"clients": clients, **tally.figures(wall, cpu, conns, clients)}


async def open_loop(host: str, port: int, requests: list[bytes], rate: float, seconds: float,
                    timeout_s: float = 30.0, pool: int | None = None, cap: int = 4096) -> dict:
    """``rate`` requests a second for ``seconds``, sent on schedule whatever the answers; latency from
    each request's scheduled time. ``pool`` connections are opened before the phase (default: enough
    for a quarter second of arrivals); a request due while all are busy opens another, up to ``cap``
    (then it waits for one, and the wait counts in its latency)."""
    n = max(1, int(rate * seconds))
    size = max(1, min(cap, pool if pool is not None else int(rate * 0.25) + 4))
    conns = [Connection(host, port) for _ in range(size)]
    await asyncio.gather(*(c.open() for c in conns))
    idle: deque[Connection] = deque(conns)
    returned = asyncio.Event()
    tally, lags, tasks = Tally(), [], set()
    busy = peak = 0
    clock = time.perf_counter

    async def one(conn: Connection, raw: bytes, due: float) -> None:
        nonlocal busy
        status, retry = await exchange(conn, raw, timeout_s)
        tally.add(status, retry, clock() - due)
        busy -= 1
        idle.append(conn)  # first in, first out: every connection stays warm
        returned.set()

    cpu0 = time.process_time()
    t0 = clock() + 0.05
    for i in range(n):
        due = t0 + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        while not idle and len(conns) >= cap:
            returned.clear()
            await returned.wait()
        if idle:
            conn = idle.popleft()
        else:
            conn = Connection(host, port)
            conns.append(conn)
        busy += 1
        peak = max(peak, busy)
        lags.append(clock() - due)
        task = asyncio.get_running_loop().create_task(one(conn, requests[i % len(requests)], due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    wall, cpu = clock() - t0, time.process_time() - cpu0
    for c in conns:
        c.close()
    figures = tally.figures(wall, cpu, conns, size)
    ok = len(tally.ok_latencies)
    return {"rate_rps": round(rate, 1), **figures, "throughput_rps": round(ok / wall, 1),
            "ok_p99_ms": round(percentile(tally.ok_latencies, 0.99) * 1000, 2),
            "ok_max_ms": round(max(tally.ok_latencies, default=float("nan")) * 1000, 2),
            "rejected_503": tally.statuses.get("503", 0), "connections_pre_opened": size,
            "connections_peak_busy": peak, "send_lag_p99_ms": round(percentile(lags, 0.99) * 1000, 2),
            "send_lag_max_ms": round(max(lags, default=float("nan")) * 1000, 2)}


def event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_phase(spec: dict) -> dict:
    """Run one phase described by ``spec`` (``kind`` closed or open, plus ``closed_loop`` /
    ``open_loop``'s arguments) on a fresh event loop (uvloop when installed)."""
    spec = dict(spec)
    kind = spec.pop("kind")
    phases: dict[str, Callable[..., Any]] = {"closed": closed_loop, "open": open_loop}
    fn = phases[kind]
    if event_loop_name() == "uvloop":
        import uvloop

        return uvloop.run(fn(**spec))
    return asyncio.run(fn(**spec))


def _raise_fd_limit() -> None:
    """Open-loop phases may hold thousands of connections: the soft descriptor limit up to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else hard
        if want > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, OSError, ValueError):
        pass


class LoadProcess:
    """Phases run in one spawned process of their own, kept for the whole bench (started once)."""

    def __enter__(self) -> LoadProcess:
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=_raise_fd_limit)
        return self

    def run(self, spec: dict) -> dict:
        return self.pool.submit(run_phase, spec).result()

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()
