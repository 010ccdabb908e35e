"""``dispatch-nlp serve --workers N``: several processes answer on one socket, each with its own
model; /metrics sums every worker's counters; the write budget is shared out; settings reach the
workers through the environment; the logs of the workers are masked; SIGTERM stops them cleanly."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from dispatch_nlp.benchmarks.live_server import free_port  # noqa: E402

from dispatch_nlp.service import ServiceSettings, create_app  # noqa: E402
from dispatch_nlp.service.metrics import Metrics  # noqa: E402
from dispatch_nlp.service.settings import SETTINGS_ENV, settings_from_env, settings_to_env  # noqa: E402

CLI = os.path.join(os.path.dirname(sys.executable), "dispatch-nlp")
PHONE = "13912345678"


def fresh_get(base: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=10) as c:  # a new connection: the kernel may hand it to any worker
        return c.get(path)


def test_two_workers_answer_from_two_processes_and_stop_cleanly(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    err = (tmp_path / "stderr.txt").open("w+b")
    server = subprocess.Popen([CLI, "--log-level", "INFO", "serve", "--port", str(port), "--workers", "2", "--no-auth",
                               "--corrections", "none"], stdout=subprocess.DEVNULL, stderr=err, cwd=tmp_path)
    try:
        pids: set[int] = set()
        deadline = time.time() + 120  # each worker loads the model itself
        while len(pids) < 2 and time.time() < deadline:
            assert server.poll() is None, "the server exited"
            try:
                r = fresh_get(base, "/v1/health")
                if r.status_code == 200:
                    pids.add(r.json()["worker_pid"])
            except httpx.HTTPError:
                time.sleep(0.3)
        assert len(pids) == 2 and server.pid not in pids  # two worker processes, not the supervisor
        sent = 6
        with httpx.Client(base_url=base, timeout=30) as c:
            for i in range(sent):
                order = {"id": f"w-{i}", "text": f"小区路灯坏了一个星期，王建国，电话{PHONE}"}
                r = c.post("/v1/dispatch", json=order)
                assert r.status_code == 200 and r.json()["order_id"] == f"w-{i}"
        time.sleep(1.5)  # every worker publishes its counters at least once a second
        metrics = fresh_get(base, "/metrics").text
        assert f'dispatch_nlp_requests_total{{endpoint="/v1/dispatch",method="POST",status="200"}} {sent}' in metrics
        decided = [line for line in metrics.splitlines() if line.startswith("dispatch_nlp_decisions_total{")]
        assert sum(int(line.rsplit(" ", 1)[1]) for line in decided) == sent
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(60)
    assert code == 0
    err.seek(0)
    log = err.read().decode(errors="replace")
    assert "Started server process" in log or "Waiting for application startup" in log  # workers logged
    assert PHONE not in log and "王建国" not in log


def test_settings_travel_to_the_workers_through_the_environment():
    settings = ServiceSettings(model_dir="m", queue_max=7, workers=3, max_in_flight=5, metrics_dir="/tmp/x")
    assert settings_from_env({SETTINGS_ENV: settings_to_env(settings)}) == settings
    with pytest.raises(RuntimeError):
        settings_from_env({})


def test_each_worker_enforces_its_share_of_the_write_budget(dispatcher, tmp_path):
    app = create_app(ServiceSettings(no_auth=True, write_rate_per_s=10, write_burst=100, workers=2,
                                     metrics_dir=str(tmp_path)), dispatcher=dispatcher)
    writes = app.app.state.auth.writes
    assert writes.rate == 5 and writes.burst == 50
    single = create_app(ServiceSettings(no_auth=True, write_rate_per_s=10, write_burst=100), dispatcher=dispatcher)
    assert single.app.state.auth.writes.rate == 10 and single.metrics.shared_dir is None


def test_metrics_sum_every_workers_counters(tmp_path):
    a, b = Metrics(tmp_path), Metrics(tmp_path)
    for m, status, seconds in ((a, 200, 0.004), (b, 200, 0.02), (b, 503, 0.001)):
        m.request_started()
        m.observe("/v1/dispatch", "POST", status, seconds)
    a.decided(["dispatch", "review"])
    b.decided(["dispatch"])
    b.request_started()  # b has one request in flight
    snap = b.snapshot()
    snap["pid"] = -1  # b as another process: its own file name
    (tmp_path / "worker-other.json").write_text(__import__("json").dumps(snap), encoding="utf-8")
    text = a.render()
    assert 'dispatch_nlp_requests_total{endpoint="/v1/dispatch",method="POST",status="200"} 2' in text
    assert 'dispatch_nlp_requests_total{endpoint="/v1/dispatch",method="POST",status="503"} 1' in text
    assert 'dispatch_nlp_decisions_total{route="dispatch"} 2' in text
    assert "dispatch_nlp_abstentions_total 1" in text
    assert 'dispatch_nlp_request_duration_seconds_count{endpoint="/v1/dispatch"} 3' in text
    assert "dispatch_nlp_in_flight_requests 1" in text
