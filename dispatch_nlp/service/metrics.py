"""Prometheus text exposition (format 0.0.4), written here to keep the service's dependencies few.

Counters and histograms live in one object guarded by one lock; label sets are bounded (endpoints
are route templates, statuses and routes are closed vocabularies), so memory stays flat.

Several worker processes (``serve --workers N``): a scrape reaches one of them, so each worker with a
``shared_dir`` writes its counters there (``worker-<pid>.json``, every second and on each scrape) and
``render`` sums every worker's file: the counters are the server's, whichever worker answers. A file
stays after its worker exits, so totals never go down when a worker is replaced; the in-flight gauge
counts only workers heard from in the last ``STALE_S`` seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# Latency buckets (seconds): the hot-path budget is p99 ≤ 20 ms, so resolution sits there.
BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
STALE_S = 5.0  # a worker's file older than this: its in-flight requests are not counted


def _labels(**kv: str) -> str:
    if not kv:
        return ""
    inner = ",".join(f'{k}="{_esc(str(v))}"' for k, v in kv.items())
    return "{" + inner + "}"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self, shared_dir: str | Path | None = None) -> None:
        self.shared_dir = Path(shared_dir) if shared_dir else None
        self._lock = threading.Lock()
        self.started = time.time()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)  # (endpoint, method, status)
        self.latency: dict[str, list[int]] = {}  # endpoint -> bucket counts (+Inf last)
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.routes: dict[str, int] = defaultdict(int)
        self.abstentions = 0
        self.decisions = 0
        self.errors: dict[tuple[str, str], int] = defaultdict(int)  # (endpoint, kind)
        self.corrections: dict[str, int] = defaultdict(int)  # new | duplicate
        self.reloads: dict[str, int] = defaultdict(int)  # ok | failed
        self.in_flight = 0
        self.model_info: tuple[str, str] = ("", "")

    def request_started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.requests[(endpoint, method, str(status))] += 1
            counts = self.latency.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self.latency_sum[endpoint] += seconds
            self.latency_count[endpoint] += 1
            if status >= 500:
                self.errors[(endpoint, "server")] += 1
            elif status >= 400:
                self.errors[(endpoint, "client")] += 1

    def decided(self, routes: list[str]) -> None:
        with self._lock:
            for r in routes:
                self.routes[r] += 1
                self.decisions += 1
                if r == "review":
                    self.abstentions += 1

    def correction(self, new: bool) -> None:
        with self._lock:
            self.corrections["new" if new else "duplicate"] += 1

    def reload(self, ok: bool) -> None:
        with self._lock:
            self.reloads["ok" if ok else "failed"] += 1

    # -- several worker processes ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """This process's counters as JSON-ready data (what ``absorb`` adds up)."""
        with self._lock:
            return {"pid": os.getpid(), "time": time.time(), "started": self.started,
                    "requests": [[*k, n] for k, n in self.requests.items()],
                    "latency": {ep: list(c) for ep, c in self.latency.items()},
                    "latency_sum": dict(self.latency_sum), "latency_count": dict(self.latency_count),
                    "routes": dict(self.routes), "abstentions": self.abstentions, "decisions": self.decisions,
                    "errors": [[*k, n] for k, n in self.errors.items()], "corrections": dict(self.corrections),
                    "reloads": dict(self.reloads), "in_flight": self.in_flight, "model_info": list(self.model_info)}

    def absorb(self, snap: dict[str, Any], *, live: bool = True) -> None:
        """Add another worker's ``snapshot`` to these counters (its in-flight gauge only when ``live``)."""
        with self._lock:
            for ep, m, st, n in snap["requests"]:
                self.requests[(ep, m, st)] += n
            for ep, counts in snap["latency"].items():
                mine = self.latency.setdefault(ep, [0] * (len(BUCKETS) + 1))
                self.latency[ep] = [a + b for a, b in zip(mine, counts)]
            for ep, v in snap["latency_sum"].items():
                self.latency_sum[ep] += v
            for ep, n in snap["latency_count"].items():
                self.latency_count[ep] += n
            for r, n in snap["routes"].items():
                self.routes[r] += n
            self.abstentions += snap["abstentions"]
            self.decisions += snap["decisions"]
            for ep, kind, n in snap["errors"]:
                self.errors[(ep, kind)] += n
            for k, n in snap["corrections"].items():
                self.corrections[k] += n
            for k, n in snap["reloads"].items():
                self.reloads[k] += n
            self.in_flight += snap["in_flight"] if live else 0
            self.started = min(self.started, snap["started"])

    def publish(self) -> None:
        """Write this worker's snapshot into ``shared_dir`` (atomically: a reader sees the old or the new)."""
        if self.shared_dir is None:
            return
        path = self.shared_dir / f"worker-{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        os.replace(tmp, path)

    def start_publishing(self, interval_s: float = 1.0) -> threading.Event:
        """Publish every ``interval_s`` on a daemon thread until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    self.publish()
                except OSError:
                    pass  # the folder went away (the server is stopping); the next scrape says so

        self.publish()
        threading.Thread(target=loop, name="metrics-publish", daemon=True).start()
        return stop

    def server_wide(self) -> Metrics:
        """The counters of every worker in ``shared_dir`` summed (this one's fresh), or self without one."""
        if self.shared_dir is None:
            return self
        self.publish()
        total = Metrics()
        total.model_info = self.model_info
        now = time.time()
        for path in sorted(self.shared_dir.glob("worker-*.json")):
            try:
                snap = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # being replaced or gone: counted at the next scrape
            total.absorb(snap, live=now - snap.get("time", 0) < STALE_S)
        return total

    def render(self) -> str:
        if self.shared_dir is not None:
            return self.server_wide().render()
        p = "dispatch_nlp"
        out: list[str] = []
        with self._lock:
            out += [f"# HELP {p}_requests_total HTTP requests by endpoint, method and status.",
                    f"# TYPE {p}_requests_total counter"]
            for (ep, m, s), n in sorted(self.requests.items()):
                out.append(f"{p}_requests_total{_labels(endpoint=ep, method=m, status=s)} {n}")
            out += [f"# HELP {p}_request_duration_seconds Request latency by endpoint.",
                    f"# TYPE {p}_request_duration_seconds histogram"]
            for ep in sorted(self.latency):
                cum = 0
                for b, n in zip(BUCKETS, self.latency[ep]):
                    cum += n
                    out.append(f"{p}_request_duration_seconds_bucket{_labels(endpoint=ep, le=repr(b))} {cum}")
                cum += self.latency[ep][-1]
                out.append(f"{p}_request_duration_seconds_bucket{_labels(endpoint=ep, le='+Inf')} {cum}")
                out.append(f"{p}_request_duration_seconds_sum{_labels(endpoint=ep)} {self.latency_sum[ep]:.6f}")
                out.append(f"{p}_request_duration_seconds_count{_labels(endpoint=ep)} {self.latency_count[ep]}")
            out += [f"# HELP {p}_decisions_total Decisions by route.", f"# TYPE {p}_decisions_total counter"]
            for r, n in sorted(self.routes.items()):
                out.append(f"{p}_decisions_total{_labels(route=r)} {n}")
            out += [f"# HELP {p}_abstentions_total Decisions sent to a human reviewer (route review).",
                    f"# TYPE {p}_abstentions_total counter", f"{p}_abstentions_total {self.abstentions}"]
            out += [f"# HELP {p}_errors_total Responses with a 4xx (client) or 5xx (server) status.",
                    f"# TYPE {p}_errors_total counter"]
            for (ep, kind), n in sorted(self.errors.items()):
                out.append(f"{p}_errors_total{_labels(endpoint=ep, kind=kind)} {n}")
            out += [f"# HELP {p}_corrections_total Corrections received (new or duplicate of a stored one).",
                    f"# TYPE {p}_corrections_total counter"]
            for k, n in sorted(self.corrections.items()):
                out.append(f"{p}_corrections_total{_labels(result=k)} {n}")
            out += [f"# HELP {p}_model_reloads_total Model reloads by result.", f"# TYPE {p}_model_reloads_total counter"]
            for k, n in sorted(self.reloads.items()):
                out.append(f"{p}_model_reloads_total{_labels(result=k)} {n}")
            out += [f"# HELP {p}_in_flight_requests Requests being handled now.", f"# TYPE {p}_in_flight_requests gauge",
                    f"{p}_in_flight_requests {self.in_flight}"]
            mv, cv = self.model_info
            out += [f"# HELP {p}_model_info The model in service (value 1).", f"# TYPE {p}_model_info gauge",
                    f"{p}_model_info{_labels(model_version=mv, catalog_version=cv)} 1"]
            out += [f"# HELP {p}_uptime_seconds Seconds since the service started.", f"# TYPE {p}_uptime_seconds gauge",
                    f"{p}_uptime_seconds {time.time() - self.started:.1f}"]
        return "\n".join(out) + "\n"
