"""Load test of ``dispatch-nlp serve`` from a second process, on loopback only, bounded in count and time.

    python benchmarks/service_bench.py [--model DIR] [--requests 600] [--seconds 20] [--open-seconds 6]

First measures the ceiling: the in-process ``Dispatcher.dispatch_batch`` rate of the same orders
(this process, before the server starts). Then starts the server as a subprocess (127.0.0.1, a free
port, the shipped model unless --model), sends generated orders (``dispatch_nlp.training.corpus``) to
``POST /v1/dispatch`` at 1, 8 and 32 concurrent clients (closed loop: asyncio + httpx, one connection
each, a client sends its next request when the last one is answered), then in an open loop: requests
sent at a fixed arrival rate whatever the responses (so slow answers cannot hide queueing — the
coordinated-omission trap of closed-loop clients), latency counted from each request's scheduled send
time, at fractions of the saturation rate (the best closed-loop throughput: 25 %, 50 %, 70 %, 100 %,
120 %); then corrections at 8 concurrent clients. Authentication is on,
as in production: a temporary keys file with one operator key, sent as ``Authorization: Bearer`` on
every request (the per-key write limit is off, ``--write-rate 0``, so that the write phase measures
the store, not the limit). Each phase stops
at its request count or its time limit, whichever comes first. Reports p50/p99 latency (client
side, so it includes HTTP and JSON), throughput and error rate per phase (p95, 503s and the slowest request too), and corrections committed per second; writes ``benchmarks/results/service.json`` and prints a Markdown table.

The server and the client share the machine's cores: on a 2-core machine the client's own work is
part of every figure. Each phase also reports the server's CPU milliseconds per request (its
processes' user + system time over the phase), which other load on the machine disturbs far less
than latency and throughput; the 1-minute load average at start and end says how quiet it was.
``--serve-args '--workers 2'`` measures several worker processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from dispatch_nlp.benchmarks.live_server import ServerDidNotStart, live_server, process_cpu_s

ROOT = Path(__file__).resolve().parents[1]



def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def orders(n: int) -> list[dict]:
    from dispatch_nlp.training.corpus import load_generator

    gen = load_generator(seed=5)
    out = []
    for i, rec in enumerate(gen.generate(n)):
        out.append({"id": f"bench-{i}", "text": rec["text"], "title": rec.get("title"), "channel": rec.get("channel")})
    return out


async def phase(base: str, path: str, bodies: list[dict], clients: int, limit: int, seconds: float,
                headers: dict[str, str] | None = None) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int):
        nonlocal errors, sent
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as c:
            while sent < limit and time.perf_counter() < deadline:
                body = bodies[sent % len(bodies)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await c.post(path, json=body)
                    ok, status = r.status_code < 300, str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, status = False, type(exc).__name__
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.perf_counter() - t0)
                errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(latencies), "seconds": round(wall, 2),
            "throughput_rps": round(len(latencies) / wall, 1),
            **latency_figures(latencies), "error_rate": round(errors / max(len(latencies), 1), 4), "statuses": statuses}


def latency_figures(latencies: list[float]) -> dict:
    return {f"p{q}_ms": round(percentile(latencies, q / 100) * 1000, 2) for q in (50, 95, 99)} | {
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 2)}


async def open_loop(base: str, path: str, bodies: list[dict], rate: float, seconds: float,
                    headers: dict[str, str] | None = None) -> dict:
    """Send ``rate`` requests a second for ``seconds`` whatever the answers; each request's latency
    runs from its scheduled send time (a late send counts against the server, not for it)."""
    import httpx

    n = max(1, int(rate * seconds))
    latencies: list[float] = []
    ok_latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers, limits=limits) as c:
        async def one(i: int, due: float) -> None:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                r = await c.post(path, json=bodies[i % len(bodies)])
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            took = time.perf_counter() - due
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(took)
            if status.startswith("2"):
                ok_latencies.append(took)

        t0 = time.perf_counter() + 0.05
        await asyncio.gather(*(one(i, t0 + i / rate) for i in range(n)))
        wall = time.perf_counter() - t0
    ok = len(ok_latencies)
    return {"rate_rps": round(rate, 1), "requests": n, "seconds": round(wall, 2),
            "throughput_rps": round(ok / wall, 1), **latency_figures(latencies),
            "ok_p99_ms": round(percentile(ok_latencies, 0.99) * 1000, 2),
            "ok_max_ms": round(max(ok_latencies, default=float("nan")) * 1000, 2), "rejected_503": statuses.get("503", 0),
            "error_rate": round((n - ok) / n, 4), "statuses": statuses}


def ceiling(bodies: list[dict], model: str | None, repeats: int = 3) -> dict:
    """The in-process ``dispatch_batch`` rate of the same orders: what the service could reach."""
    from dispatch_nlp import Dispatcher

    d = Dispatcher.load(model)
    d.dispatch_batch(bodies[:64])  # warm-up
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        d.dispatch_batch(bodies, batch_size=64)
        best = max(best, len(bodies) / (time.perf_counter() - t0))
    return {"orders_per_s": round(best, 1), "profile": d.profile, "batch_size": 64, "orders": len(bodies)}


def with_server_cpu(base, result_of) -> dict:
    """Run one phase (``result_of()``) and add the server's CPU milliseconds per request it answered:
    a figure that other load on the machine disturbs far less than latency or throughput."""
    c0 = process_cpu_s(base.pid)
    result = result_of()
    answered = result["requests"]
    result["server_cpu_ms_per_request"] = round((process_cpu_s(base.pid) - c0) * 1000 / max(answered, 1), 2)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model directory (default: the shipped model)")
    ap.add_argument("--requests", type=int, default=600, help="requests per dispatch phase (default 600)")
    ap.add_argument("--seconds", type=float, default=20, help="time limit per phase (default 20)")
    ap.add_argument("--corrections", type=int, default=1500, help="corrections in the write phase")
    ap.add_argument("--open-seconds", type=float, default=6, help="seconds per open-loop rate (0: no open loop)")
    ap.add_argument("--serve-args", default="", help="extra dispatch-nlp serve flags, e.g. '--batch-max 0'")
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "service.json"))
    args = ap.parse_args()

    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="svcbench-"))
    from dispatch_nlp.service.keys import add_key

    secret = add_key(tmp / "keys.json", "bench-ops", "operator")
    auth = {"Authorization": f"Bearer {secret}"}
    args_serve = ["--corrections", str(tmp / "corrections.db"), "--keys-file", str(tmp / "keys.json"),
                  "--write-rate", "0"]
    args_serve += args.serve_args.split()
    load_at_start = os.getloadavg()
    bodies = orders(400)
    top = ceiling(bodies, args.model)
    with contextlib.ExitStack() as stack:
        try:
            base = stack.enter_context(live_server(args_serve, cwd=tmp, model=args.model))
        except ServerDidNotStart as exc:
            print(exc, file=sys.stderr)
            return 1
        info = httpx.get(base + "/v1/model", headers=auth).json()
        asyncio.run(phase(base, "/v1/dispatch", bodies, 4, 100, 10, auth))  # warm-up, not reported
        results = []
        for clients in (1, 8, 32):
            results.append(with_server_cpu(base, lambda c=clients: asyncio.run(
                phase(base, "/v1/dispatch", bodies, c, args.requests, args.seconds, auth))))
        saturation = max(r["throughput_rps"] for r in results)
        opened = []
        for share in (0.25, 0.5, 0.7, 1.0, 1.2) if args.open_seconds > 0 else ():
            opened.append({"share_of_saturation": share, **with_server_cpu(base, lambda s=share: asyncio.run(
                open_loop(base, "/v1/dispatch", bodies, s * saturation, args.open_seconds, auth)))})
        corr = [{"order_id": f"bench-{i}", "kind": "改派", "unit": "utility_water",
                 "reason": "load test"} for i in range(args.corrections)]
        writes = asyncio.run(phase(base, "/v1/corrections", corr, 8, args.corrections, args.seconds, auth))
        from dispatch_nlp.lifecycle.corrections import open_store

        stored = open_store(tmp / "corrections.db").count()
    mean_chars = round(sum(len(b["text"]) for b in bodies) / len(bodies), 1)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    # Other work on the machine: a 1-minute load above the CPU count means noisy figures.
                    "load_average_1min": {"start": round(load_at_start[0], 2), "end": round(os.getloadavg()[0], 2)}},
        "model": {k: info.get(k) for k in ("model_version", "catalog_version", "stages")},
        "orders": {"count": len(bodies), "mean_chars": mean_chars},
        "auth": "on: one operator API key (Authorization: Bearer) on every request; write rate limit off",
        "serve_args": args_serve[6:],
        "ceiling_in_process": top,
        "dispatch": [{**r, "share_of_ceiling": round(r["throughput_rps"] / top["orders_per_s"], 3)} for r in results],
        "open_loop": {"saturation_rps": saturation, "rates": opened},
        "corrections": {**writes, "stored_in_db": stored,
                        "corrections_per_second": writes["throughput_rps"],
                        "durability": "SQLite WAL, synchronous=FULL, committed before the 2xx"},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"Model {report['model']['model_version']} (catalog {report['model']['catalog_version']}), "
          f"{os.cpu_count()} CPUs shared by server and client, orders of {mean_chars} characters on average.\n")
    print(f"Ceiling: in-process dispatch_batch of the same orders, {top['orders_per_s']} orders/s "
          f"(profile {top['profile']}).\n")
    print("| endpoint | clients | requests | p50 ms | p95 ms | p99 ms | req/s | of ceiling | server CPU ms/req | "
          "error rate |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in report["dispatch"]:
        print(f"| POST /v1/dispatch | {r['clients']} | {r['requests']} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['p99_ms']} | {r['throughput_rps']} | {r['share_of_ceiling']:.0%} | "
              f"{r['server_cpu_ms_per_request']} | {r['error_rate']} |")
    print(f"| POST /v1/corrections | 8 | {writes['requests']} | {writes['p50_ms']} | {writes['p95_ms']} | "
          f"{writes['p99_ms']} | {writes['throughput_rps']} | | | {writes['error_rate']} |")
    if opened:
        print(f"\nOpen loop (saturation = best closed-loop throughput, {saturation} req/s):\n")
        print("| share | rate req/s | sent | p50 ms | p95 ms | p99 ms | max ms | ok p99 ms | ok max ms | ok req/s | "
              "503s | error rate |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in opened:
            print(f"| {r['share_of_saturation']:.0%} | {r['rate_rps']} | {r['requests']} | {r['p50_ms']} | "
                  f"{r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['ok_p99_ms']} | {r['ok_max_ms']} | "
                  f"{r['throughput_rps']} | {r['rejected_503']} | {r['error_rate']} |")
    print(f"\nCorrections committed per second: {writes['throughput_rps']} ({stored} rows in the store).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
