"""Load test of ``dispatch-nlp serve`` from a second process, on loopback only, bounded in count and time.

    python benchmarks/service_bench.py [--model DIR] [--profile fast|full] [--requests 600] [--seconds 20]
        [--open-seconds 6] [--serve-args '--workers 2'] [--baseline FILE|none] [-o FILE]

First measures the ceiling: the in-process ``Dispatcher.dispatch_batch`` rate of the same orders, in
the same profile (this process, before the server starts). Then starts the server as a subprocess
(127.0.0.1, a free port, the shipped model unless --model, ``--profile``), sends generated orders
(``dispatch_nlp.training.corpus``) to ``POST /v1/dispatch`` at 1, 8 and 32 concurrent clients (closed
loop: one keep-alive connection each, a client sends its next request when the last one is
answered), then in an open loop: requests sent at a fixed arrival rate, scheduled in advance,
whatever the responses (so slow answers cannot hide queueing — the coordinated-omission trap of
closed-loop clients), latency counted from each request's scheduled send time, at fractions of the
saturation rate (the best closed-loop throughput: 25 %, 50 %, 70 %, 100 %, 120 %); then corrections
at 8 concurrent clients. Authentication is on, as in production: a temporary keys file with one
operator key, sent as ``Authorization: Bearer`` on every request (the per-key write limit is off,
``--write-rate 0``, so that the write phase measures the store, not the limit). Each phase stops at
its request count or its time limit, whichever comes first.

The load generator (``load_client``) runs in a spawned process of its own and costs little: raw
asyncio streams (uvloop when installed), requests encoded once as bytes, answers parsed only as far
as status, framing and ``Retry-After``; no retries. Every phase reports the client's own CPU
milliseconds per request next to the server's (its processes' user + system time over the phase),
so a reader sees which side a figure measures: server and client share the machine's cores. The
1-minute load average at start and end says how quiet the machine was.

Reports p50/p95/p99/max latency (client side, so HTTP and JSON included), throughput, error rate,
statuses and Retry-After values per phase, corrections committed per second; then today's figures
side by side with a baseline run (``--baseline``, default ``benchmarks/results/service.baseline.json``)
and issue 19's targets, met or not. Writes ``benchmarks/results/service.json`` (``-o``) and prints
Markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from dispatch_nlp.benchmarks.live_server import ServerDidNotStart, live_server, process_cpu_s
from dispatch_nlp.benchmarks.load_client import LoadProcess, encode_requests, event_loop_name

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "benchmarks" / "results" / "service.baseline.json"
SHARES = (0.25, 0.5, 0.7, 1.0, 1.2)
TIMEOUT_SLACK = 0.01  # a 503 at the server's timeout reaches the client a little later: 1 % allowed


def orders(n: int) -> list[dict]:
    from dispatch_nlp.training.corpus import load_generator

    gen = load_generator(seed=5)
    out = []
    for i, rec in enumerate(gen.generate(n)):
        out.append({"id": f"bench-{i}", "text": rec["text"], "title": rec.get("title"), "channel": rec.get("channel")})
    return out


def ceiling(bodies: list[dict], model: str | None, profile: str, repeats: int = 3) -> dict:
    """The in-process ``dispatch_batch`` rate of the same orders: what the service could reach."""
    import time

    from dispatch_nlp import Dispatcher

    d = Dispatcher.load(model, profile=profile)
    d.dispatch_batch(bodies[:64])  # warm-up
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        d.dispatch_batch(bodies, batch_size=64)
        best = max(best, len(bodies) / (time.perf_counter() - t0))
    return {"orders_per_s": round(best, 1), "profile": d.profile, "batch_size": 64, "orders": len(bodies)}


def with_server_cpu(base, result_of: Callable[[], dict]) -> dict:
    """Run one phase (``result_of()``) and add the server's CPU milliseconds per request it answered:
    a figure that other load on the machine disturbs far less than latency or throughput."""
    c0 = process_cpu_s(base.pid)
    result = result_of()
    answered = result["requests"]
    result["server_cpu_ms_per_request"] = round((process_cpu_s(base.pid) - c0) * 1000 / max(answered, 1), 2)
    return result


def server_timeout_s(serve_args: list[str]) -> float:
    """The ``--request-timeout-s`` the server runs with (its default unless the serve args set it)."""
    from dispatch_nlp.service.settings import ServiceSettings

    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--request-timeout-s", type=float, default=ServiceSettings().request_timeout_s)
    return ap.parse_known_args(serve_args)[0].request_timeout_s


# --- today against the baseline, and issue 19's targets ---------------------------------------------------

def _closed(report: dict, clients: int) -> dict:
    return next((r for r in report.get("dispatch", []) if r.get("clients") == clients), {})


def _opened(report: dict, share: float) -> dict:
    rates = report.get("open_loop", {}).get("rates", [])
    return next((r for r in rates if abs(r.get("share_of_saturation", -1) - share) < 1e-9), {})


def figures(report: dict) -> dict[str, float | None]:
    """The figures compared with the baseline, by label."""
    out: dict[str, float | None] = {"ceiling in process, orders/s": report.get("ceiling_in_process", {}).get(
        "orders_per_s")}
    for clients in (1, 8, 32):
        r = _closed(report, clients)
        for key, label in (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("throughput_rps", "req/s"),
                           ("share_of_ceiling", "share of ceiling"),
                           ("server_cpu_ms_per_request", "server CPU ms/req"),
                           ("client_cpu_ms_per_request", "client CPU ms/req")):
            out[f"{clients} client{'s' if clients > 1 else ''}: {label}"] = r.get(key)
    out["open loop: saturation req/s"] = report.get("open_loop", {}).get("saturation_rps")
    for share in SHARES:
        r = _opened(report, share)
        for key, label in (("p99_ms", "p99 ms"), ("max_ms", "max ms"), ("throughput_rps", "ok req/s"),
                           ("rejected_503", "503s")):
            out[f"open loop {share:.0%}: {label}"] = r.get(key)
    out["corrections/s (8 clients)"] = report.get("corrections", {}).get("corrections_per_second")
    return out


def compare(report: dict, baseline: dict) -> list[dict]:
    before, now = figures(baseline), figures(report)
    return [{"figure": k, "before": before.get(k), "now": v} for k, v in now.items()]


def targets(report: dict, baseline: dict | None, timeout_s: float) -> list[dict]:
    """Issue 19's service targets, each with the measured value and met / not met (None: not measured)."""
    c1, c8, c32 = _closed(report, 1), _closed(report, 8), _closed(report, 32)
    o70, o120 = _opened(report, 0.7), _opened(report, 1.2)
    top = report["ceiling_in_process"]["orders_per_s"]
    limit_ms = timeout_s * 1000 * (1 + TIMEOUT_SLACK)

    def row(target: str, value: str, met: bool | None) -> dict:
        return {"target": target, "value": value, "met": met}

    out = [
        row("8 clients: throughput ≥ 60 % of the in-process ceiling",
            f"{c8.get('throughput_rps')} req/s = {c8.get('share_of_ceiling', 0):.0%} of {top}",
            c8.get("share_of_ceiling", 0) >= 0.6 if c8 else None),
        row("8 clients: p99 ≤ 50 ms", f"{c8.get('p99_ms')} ms", c8["p99_ms"] <= 50 if c8 else None),
        row("32 clients: throughput ≥ 8 clients'", f"{c32.get('throughput_rps')} vs {c8.get('throughput_rps')} req/s",
            c32["throughput_rps"] >= c8["throughput_rps"] if c8 and c32 else None),
        row("32 clients: p99 ≤ 100 ms", f"{c32.get('p99_ms')} ms", c32["p99_ms"] <= 100 if c32 else None),
        row("open loop 70 % of saturation: p99 ≤ 50 ms", f"{o70.get('p99_ms')} ms",
            o70["p99_ms"] <= 50 if o70 else None),
        row("open loop 120 %: 503s rather than a growing queue", f"{o120.get('rejected_503')} of {o120.get('requests')}",
            o120["rejected_503"] > 0 if o120 else None),
        row(f"open loop 120 %: no request over the server's timeout ({timeout_s:g} s, +{TIMEOUT_SLACK:.0%})",
            f"max {o120.get('max_ms')} ms", o120["max_ms"] <= limit_ms if o120 else None),
    ]
    b1 = _closed(baseline or {}, 1)
    out.append(row("1 client: p50 no worse than the baseline", f"{c1.get('p50_ms')} vs {b1.get('p50_ms')} ms",
                   c1["p50_ms"] <= b1["p50_ms"] if c1 and b1 else None))
    return out


def load_baseline(path: str) -> dict | None:
    if path.lower() == "none":
        return None
    p = Path(path)
    if not p.exists():
        print(f"No baseline at {p}: no side-by-side figures.", file=sys.stderr)
        return None
    return json.loads(p.read_text("utf-8"))


# --- the run -------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace, args_serve: list[str], auth: dict[str, str], tmp: Path) -> dict | None:
    """Ceiling, server, phases: the report (None when the server did not start)."""
    import httpx

    bodies = orders(400)
    top = ceiling(bodies, args.model, args.profile)
    load_at_start = os.getloadavg()
    with contextlib.ExitStack() as stack:
        try:
            base = stack.enter_context(live_server(args_serve, cwd=tmp, model=args.model))
        except ServerDidNotStart as exc:
            print(exc, file=sys.stderr)
            return None
        load = stack.enter_context(LoadProcess())
        info = httpx.get(base + "/v1/model", headers=auth).json()
        url = urlsplit(base)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        reqs = encode_requests(host, port, "/v1/dispatch", bodies, auth)
        where = {"host": host, "port": port, "requests": reqs}
        load.run({"kind": "closed", **where, "clients": 4, "limit": 100, "seconds": 10})  # warm-up, not reported
        results = []
        for clients in (1, 8, 32):
            spec = {"kind": "closed", **where, "clients": clients, "limit": args.requests, "seconds": args.seconds}
            results.append(with_server_cpu(base, partial(load.run, spec)))
        saturation = max(r["throughput_rps"] for r in results)
        opened = []
        for share in SHARES if args.open_seconds > 0 else ():
            spec = {"kind": "open", **where, "rate": share * saturation, "seconds": args.open_seconds}
            opened.append({"share_of_saturation": share, **with_server_cpu(base, partial(load.run, spec))})
        corr = [{"order_id": f"bench-{i}", "kind": "改派", "unit": "utility_water",
                 "reason": "load test"} for i in range(args.corrections)]
        writes = load.run({"kind": "closed", "host": host, "port": port, "clients": 8, "limit": args.corrections,
                           "seconds": args.seconds,
                           "requests": encode_requests(host, port, "/v1/corrections", corr, auth)})
        from dispatch_nlp.lifecycle.corrections import open_store

        stored = open_store(tmp / "corrections.db").count()
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    # Other work on the machine: a 1-minute load above the CPU count means noisy figures.
                    "load_average_1min": {"start": round(load_at_start[0], 2), "end": round(os.getloadavg()[0], 2)}},
        "model": {k: info.get(k) for k in ("model_version", "catalog_version", "stages")},
        "orders": {"count": len(bodies), "mean_chars": round(sum(len(b["text"]) for b in bodies) / len(bodies), 1)},
        "auth": "on: one operator API key (Authorization: Bearer) on every request; write rate limit off",
        "client": {"kind": "raw HTTP/1.1 over asyncio streams, keep-alive, requests encoded once, no retries; "
                           "a spawned process of its own", "event_loop": event_loop_name()},
        "serve_args": args_serve[6:],
        "ceiling_in_process": top,
        "dispatch": [{**r, "share_of_ceiling": round(r["throughput_rps"] / top["orders_per_s"], 3)} for r in results],
        "open_loop": {"saturation_rps": saturation, "rates": opened},
        "corrections": {**writes, "stored_in_db": stored, "corrections_per_second": writes["throughput_rps"],
                        "durability": "SQLite WAL, synchronous=FULL, committed before the 2xx"},
    }


def _fmt(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and v == int(v) and abs(v) >= 100:
        return str(int(v))
    return str(v)


def print_report(report: dict) -> None:
    top, writes = report["ceiling_in_process"], report["corrections"]
    print(f"Model {report['model']['model_version']} (catalog {report['model']['catalog_version']}), "
          f"{report['machine']['cpus']} CPUs shared by server and client (load average "
          f"{report['machine']['load_average_1min']['start']} → {report['machine']['load_average_1min']['end']}), "
          f"orders of {report['orders']['mean_chars']} characters on average; client: {report['client']['kind']} "
          f"({report['client']['event_loop']}).\n")
    print(f"Ceiling: in-process dispatch_batch of the same orders, {top['orders_per_s']} orders/s "
          f"(profile {top['profile']}).\n")
    print("| endpoint | clients | requests | p50 ms | p95 ms | p99 ms | max ms | req/s | of ceiling | "
          "server CPU ms/req | client CPU ms/req | error rate |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in report["dispatch"]:
        print(f"| POST /v1/dispatch | {r['clients']} | {r['requests']} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['p99_ms']} | {r['max_ms']} | {r['throughput_rps']} | {r['share_of_ceiling']:.0%} | "
              f"{r['server_cpu_ms_per_request']} | {r['client_cpu_ms_per_request']} | {r['error_rate']} |")
    print(f"| POST /v1/corrections | 8 | {writes['requests']} | {writes['p50_ms']} | {writes['p95_ms']} | "
          f"{writes['p99_ms']} | {writes['max_ms']} | {writes['throughput_rps']} | | | "
          f"{writes['client_cpu_ms_per_request']} | {writes['error_rate']} |")
    opened = report["open_loop"]["rates"]
    if opened:
        print(f"\nOpen loop (saturation = best closed-loop throughput, {report['open_loop']['saturation_rps']} "
              "req/s; latency from the scheduled send time):\n")
        print("| share | rate req/s | sent | p50 ms | p95 ms | p99 ms | max ms | ok p99 ms | ok req/s | 503s | "
              "error rate | send lag p99 ms | peak open requests | server CPU ms/req | client CPU ms/req |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: |")
        for r in opened:
            print(f"| {r['share_of_saturation']:.0%} | {r['rate_rps']} | {r['requests']} | {r['p50_ms']} | "
                  f"{r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['ok_p99_ms']} | {r['throughput_rps']} | "
                  f"{r['rejected_503']} | {r['error_rate']} | {r['send_lag_p99_ms']} | "
                  f"{r['connections_peak_busy']} | {r['server_cpu_ms_per_request']} | "
                  f"{r['client_cpu_ms_per_request']} |")
    print(f"\nCorrections committed per second: {writes['throughput_rps']} ({writes['stored_in_db']} rows in the "
          "store).")
    base = report.get("baseline")
    if base:
        print(f"\nBefore ({base['path']}: {base['note']}) and now:\n")
        print("| figure | before | now |")
        print("| --- | ---: | ---: |")
        for c in base["comparison"]:
            print(f"| {c['figure']} | {_fmt(c['before'])} | {_fmt(c['now'])} |")
    print("\nIssue 19's targets:\n")
    print("| target | measured | met |")
    print("| --- | --- | --- |")
    for t in report["targets"]:
        print(f"| {t['target']} | {t['value']} | {'—' if t['met'] is None else 'met' if t['met'] else 'not met'} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model directory (default: the shipped model)")
    ap.add_argument("--profile", choices=("fast", "full"), default="fast",
                    help="members that run, in the server and the in-process ceiling (default fast)")
    ap.add_argument("--requests", type=int, default=600, help="requests per dispatch phase (default 600)")
    ap.add_argument("--seconds", type=float, default=20, help="time limit per phase (default 20)")
    ap.add_argument("--corrections", type=int, default=1500, help="corrections in the write phase")
    ap.add_argument("--open-seconds", type=float, default=6, help="seconds per open-loop rate (0: no open loop)")
    ap.add_argument("--serve-args", default="", help="extra dispatch-nlp serve flags, e.g. '--workers 2'")
    ap.add_argument("--baseline", default=str(BASELINE),
                    help="an earlier run's JSON to print side by side ('none': no comparison)")
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "service.json"))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="svcbench-"))
    from dispatch_nlp.service.keys import add_key

    secret = add_key(tmp / "keys.json", "bench-ops", "operator")
    auth = {"Authorization": f"Bearer {secret}"}
    args_serve = ["--corrections", str(tmp / "corrections.db"), "--keys-file", str(tmp / "keys.json"),
                  "--write-rate", "0", "--profile", args.profile, *args.serve_args.split()]
    report = run(args, args_serve, auth, tmp)
    if report is None:
        return 1
    report["serve_args"] = args_serve[6:]
    baseline = load_baseline(args.baseline)
    if baseline is not None:
        report["baseline"] = {"path": args.baseline, "note": baseline.get("note", ""),
                              "comparison": compare(report, baseline)}
    timeout_s = server_timeout_s(args_serve)
    report["targets"] = targets(report, baseline, timeout_s)
    report["server_request_timeout_s"] = timeout_s
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
