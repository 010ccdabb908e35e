"""What the HTTP layer costs per ``POST /v1/dispatch``, in process: no sockets, no client, no model.

    python benchmarks/service_overhead.py [--requests 2000] [--concurrency 8] [--rounds 3]

Builds the service's ASGI application (``create_app``, authentication on with one dispatch key) around
a model whose decisions were made beforehand (the shipped model dispatched the orders once; the app
then answers from that cache), and sends it ``--requests`` generated orders, ``--concurrency`` at a
time, as raw ASGI calls. What is left is the service's own work per request: the boundary (request id,
admission, body limit, metrics), authentication, validation, the batcher and the JSON answer. Runs
the lean path (``service.hotpath``) off and on, interleaved for ``--rounds`` rounds so that drift hits
both alike, and reports the CPU milliseconds per request (``time.process_time``) and the in-process
latency p50/p99 of each; writes ``benchmarks/results/service_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class CachedModel:
    """The shipped model's decisions for the bench's orders, answered by order id."""

    def __init__(self, real, orders):
        self.model_version, self.catalog_version, self.model_dir = real.model_version, real.catalog_version, None
        self.profile = real.profile
        self.memo = {o.id: d for o, d in zip(orders, real.dispatch_batch(orders, batch_size=64), strict=True)}

    def dispatch_batch(self, orders, batch_size=64):
        return [self.memo[o.id] for o in orders]

    def dispatch(self, order):
        return self.memo[order.id]


async def send_all(app, bodies: list[bytes], headers: list, n: int, concurrency: int) -> tuple[dict, list[float]]:
    """``n`` POST /v1/dispatch calls through the ASGI app, ``concurrency`` at a time: statuses, latencies."""
    gate = asyncio.Semaphore(concurrency)
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def one(i: int) -> None:
        body = bodies[i % len(bodies)]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/dispatch", "raw_path": b"/v1/dispatch", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
                 "headers": [(b"host", b"svc"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode()), *headers]}
        delivered = False
        status = {}

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)  # the client never disconnects

        async def send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]

        async with gate:
            t0 = time.perf_counter()
            await app(scope, receive, send)
            latencies.append(time.perf_counter() - t0)
        statuses[status["code"]] = statuses.get(status["code"], 0) + 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return statuses, latencies


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "service_overhead.json"))
    args = ap.parse_args()

    from dispatch_nlp.training.corpus import load_generator

    from dispatch_nlp import Dispatcher
    from dispatch_nlp.service import ServiceSettings, create_app
    from dispatch_nlp.service.keys import add_key
    from dispatch_nlp.types import WorkOrder

    records = list(load_generator(seed=7).generate(200))
    orders = [WorkOrder(id=f"o-{i}", text=r["text"], title=r.get("title"), channel=r.get("channel"))
              for i, r in enumerate(records)]
    bodies = [json.dumps({"id": o.id, "text": o.text, "title": o.title, "channel": o.channel},
                         ensure_ascii=False).encode() for o in orders]
    keys = Path(tempfile.mkdtemp()) / "keys.json"
    secret = add_key(keys, "bench", "dispatch")
    app = create_app(ServiceSettings(keys_file=str(keys)), dispatcher=CachedModel(Dispatcher.load(), orders))
    headers = [(b"authorization", f"Bearer {secret}".encode())]
    lean = app.lean
    rounds: dict[str, list[dict]] = {"off": [], "on": []}

    async def session() -> None:
        async with app.app.router.lifespan_context(app.app):
            await send_all(app, bodies, headers, 200, args.concurrency)  # warm-up (the key's first check)
            for _ in range(args.rounds):
                for name in ("off", "on"):
                    app.lean = lean if name == "on" else None
                    c0 = time.process_time()
                    statuses, lat = await send_all(app, bodies, headers, args.requests, args.concurrency)
                    lat.sort()
                    rounds[name].append({"cpu_ms_per_request": round((time.process_time() - c0) * 1000 / args.requests, 3),
                                         "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
                                         "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2),
                                         "statuses": {str(k): v for k, v in statuses.items()}})

    asyncio.run(session())
    best = {name: min(r["cpu_ms_per_request"] for r in rs) for name, rs in rounds.items()}
    result = {"command": "python benchmarks/service_overhead.py", "requests": args.requests,
              "concurrency": args.concurrency, "lean_path": rounds, "best_cpu_ms_per_request": best}
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"server CPU per request without the model ({args.concurrency} at a time, best of {args.rounds}): "
          f"lean path off {best['off']:.3f} ms, on {best['on']:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
