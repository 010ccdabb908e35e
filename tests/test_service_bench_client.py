"""The service bench's load client (``benchmarks/load_client.py``) against a tiny asyncio HTTP server
defined here: answers parsed right across keep-alive (status, Content-Length, chunked framing,
Retry-After), a connection the server drops counted as an error and reopened, and open-loop
latencies charged from the scheduled send time (a late answer, or a send delayed by a busy pool,
counts against the figures)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from dispatch_nlp.benchmarks.load_client import (
    Connection,
    LoadProcess,
    closed_loop,
    encode_requests,
    exchange,
    open_loop,
)

# handler(request number on the server, connection number, JSON body) -> raw answer bytes, or None to drop
Handler = Callable[[int, int, dict], Awaitable[bytes | None]]


def answer(status: int, body: bytes = b"{}", *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {len(body)}\r\n\r\n"
            ).encode() + body


async def serve(handler: Handler) -> tuple[asyncio.Server, int, dict]:
    """A keep-alive HTTP/1.1 server on a free loopback port; ``stats`` counts connections and requests."""
    stats = {"connections": 0, "requests": 0}

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats["connections"] += 1
        conn_no = stats["connections"]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = json.loads(await reader.readexactly(length))
                stats["requests"] += 1
                raw = await handler(stats["requests"], conn_no, body)
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], stats


def reqs(port: int, n: int) -> list[bytes]:
    return encode_requests("127.0.0.1", port, "/v1/dispatch", [{"id": f"o-{i}"} for i in range(n)],
                           {"Authorization": "Bearer secret"})


def test_requests_are_encoded_once_as_complete_http_requests():
    raw = reqs(8000, 2)
    assert raw[0].startswith(b"POST /v1/dispatch HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n")
    head, body = raw[1].split(b"\r\n\r\n")
    assert b"Authorization: Bearer secret" in head and f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {"id": "o-1"}


def test_status_length_chunked_and_retry_after_are_read_across_one_keep_alive_connection():
    async def handler(n: int, conn: int, body: dict) -> bytes:
        if n == 1:
            return answer(200, b'{"unit":"utility_water"}')
        if n == 2:
            return answer(503, b'{"error":"overloaded"}', "Retry-After: 2")
        if n == 3:  # chunked framing, then an empty body
            return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"
        return answer(201, b"")

    async def main() -> tuple[list, dict]:
        server, port, stats = await serve(handler)
        conn = Connection("127.0.0.1", port)
        got = []
        for raw in reqs(port, 4):
            reply = await conn.request(raw)
            got.append((reply.status, reply.retry_after, reply.body))
        conn.close()
        server.close()
        return got, stats | {"opened": conn.opened}

    got, stats = asyncio.run(main())
    assert got == [(200, None, b'{"unit":"utility_water"}'), (503, 2.0, b'{"error":"overloaded"}'),
                   (200, None, b'{"a":1}'), (201, None, b"")]
    assert stats == {"connections": 1, "requests": 4, "opened": 1}


async def one_client(handler, n: int) -> tuple[dict, dict]:
    """``n`` requests from one closed-loop client against a test server answering with ``handler``:
    the phase's result and the server's counts."""
    server, port, stats = await serve(handler)
    result = await closed_loop("127.0.0.1", port, reqs(port, n), clients=1, limit=n, seconds=10)
    server.close()
    return result, stats


def test_a_dropped_connection_counts_one_error_and_the_next_request_reconnects():
    async def handler(n: int, conn: int, body: dict) -> bytes | None:
        return None if n == 3 else answer(200, b'{"ok":true}', "Retry-After: 1" if n == 5 else "X-A: b")

    result, stats = asyncio.run(one_client(handler, 6))
    assert result["requests"] == 6 and result["statuses"] == {"200": 5, "IncompleteReadError": 1}
    assert result["error_rate"] == round(1 / 6, 4) and result["retry_after_s"] == {"1": 1}
    assert result["connections_opened_in_phase"] == 1 and stats["connections"] == 2
    assert result["client_cpu_ms_per_request"] >= 0


def test_connection_close_from_the_server_is_not_an_error():
    async def handler(n: int, conn: int, body: dict) -> bytes:
        return answer(200, b"{}", "Connection: close")

    result, stats = asyncio.run(one_client(handler, 3))
    assert result["statuses"] == {"200": 3} and stats["connections"] == 3


def test_a_request_that_never_gets_an_answer_times_out_as_an_error():
    async def handler(n: int, conn: int, body: dict) -> bytes:
        await asyncio.sleep(5)
        return answer(200)

    async def main() -> tuple[str, float | None]:
        server, port, _ = await serve(handler)
        got = await exchange(Connection("127.0.0.1", port), reqs(port, 1)[0], timeout_s=0.1)
        server.close()
        return got

    assert asyncio.run(main()) == ("TimeoutError", None)


def test_open_loop_charges_a_late_answer_from_its_scheduled_send_time():
    delay = 0.08

    async def handler(n: int, conn: int, body: dict) -> bytes:
        await asyncio.sleep(delay)
        return answer(200)

    async def main(**kw: int) -> dict:
        server, port, _ = await serve(handler)
        result = await open_loop("127.0.0.1", port, reqs(port, 10), rate=40, seconds=0.25, **kw)
        server.close()
        return result

    # Enough connections: every request is sent on time and waits the server's delay.
    free = asyncio.run(main())
    assert free["requests"] == 10 and free["statuses"] == {"200": 10}
    assert free["p50_ms"] >= delay * 1000 and free["send_lag_p99_ms"] < 50
    # One connection: request i cannot leave before i answers came back (i * 80 ms), yet it was due
    # at i * 25 ms; its latency counts from then, so the last one waits ~10 * 80 - 9 * 25 ms.
    one = asyncio.run(main(pool=1, cap=1))
    assert one["statuses"] == {"200": 10} and one["connections_peak_busy"] == 1
    assert one["max_ms"] >= (10 * delay - 9 / 40) * 1000 - 20
    assert one["send_lag_max_ms"] >= (9 * delay - 9 / 40) * 1000 - 20
    assert one["p50_ms"] > 2 * free["p50_ms"]


def test_phases_run_in_a_process_of_their_own():
    async def handler(n: int, conn: int, body: dict) -> bytes:
        return answer(200, json.dumps(body).encode())

    async def main() -> dict:
        server, port, stats = await serve(handler)
        loop = asyncio.get_running_loop()
        with LoadProcess() as load:
            result = await loop.run_in_executor(None, load.run, {
                "kind": "closed", "host": "127.0.0.1", "port": port, "requests": reqs(port, 4),
                "clients": 2, "limit": 8, "seconds": 10})
        server.close()
        return result | {"server_saw": stats["requests"]}

    result = asyncio.run(main())
    assert result["statuses"] == {"200": 8} and result["server_saw"] == 8 and result["clients"] == 2


def _report(c1: dict, c8: dict, c32: dict, o70: dict, o120: dict) -> dict:
    return {"ceiling_in_process": {"orders_per_s": 200.0},
            "dispatch": [{"clients": 1, **c1}, {"clients": 8, **c8}, {"clients": 32, **c32}],
            "open_loop": {"saturation_rps": 150.0, "rates": [{"share_of_saturation": 0.7, **o70},
                                                             {"share_of_saturation": 1.2, **o120}]}}


def test_issue_19_targets_are_met_or_not_from_the_figures():
    from dispatch_nlp.benchmarks.service_bench import compare, server_timeout_s, targets

    good = _report({"p50_ms": 4.0}, {"throughput_rps": 130.0, "share_of_ceiling": 0.65, "p99_ms": 40.0},
                   {"throughput_rps": 140.0, "p99_ms": 90.0}, {"p99_ms": 30.0},
                   {"rejected_503": 12, "requests": 900, "max_ms": 10050.0})
    bad = _report({"p50_ms": 11.0}, {"throughput_rps": 100.0, "share_of_ceiling": 0.5, "p99_ms": 60.0},
                  {"throughput_rps": 90.0, "p99_ms": 150.0}, {"p99_ms": 51.0},
                  {"rejected_503": 0, "requests": 900, "max_ms": 10200.0})
    baseline = _report({"p50_ms": 10.7}, {}, {}, {}, {})
    assert [t["met"] for t in targets(good, baseline, 10.0)] == [True] * 8
    assert [t["met"] for t in targets(bad, baseline, 10.0)] == [False] * 8
    assert targets(good, None, 10.0)[-1]["met"] is None  # no baseline: the 1-client check is not made
    rows = {c["figure"]: c for c in compare(good, bad)}
    assert rows["8 clients: p99 ms"] == {"figure": "8 clients: p99 ms", "before": 60.0, "now": 40.0}
    assert server_timeout_s(["--workers", "2", "--request-timeout-s", "2.5"]) == 2.5
    assert server_timeout_s([]) > 0
