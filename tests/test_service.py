"""The HTTP service: every endpoint and its errors, masked logs, hot reload under load, and a
killed server that loses no acknowledged correction."""

import io
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from dispatch_nlp.lifecycle.corrections import open_store  # noqa: E402
from dispatch_nlp.lifecycle.registry import Registry  # noqa: E402
from dispatch_nlp.logs import MaskingFilter  # noqa: E402
from dispatch_nlp.service import ServiceSettings, create_app  # noqa: E402
from dispatch_nlp.service.keys import add_key  # noqa: E402
from dispatch_nlp.service.schemas import DecisionOut  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .test_corrections import assert_durable  # noqa: E402
from .test_retrain import config_model  # noqa: E402

PHONE = "13812345678"
ORDER = {"id": "A-1", "text": f"市民反映：朝阳区望京街道某小区连续三天停水，电话{PHONE}", "channel": "热线电话"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A keys file with one key per role: ``keys.file`` and ``keys.headers(role)``."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    secrets = {role: add_key(path, f"{role}-1", role) for role in ("dispatch", "operator", "admin")}

    class Keys:
        file = str(path)

        @staticmethod
        def headers(role: str) -> dict:
            return {"Authorization": f"Bearer {secrets[role]}"}

    return Keys


@pytest.fixture(scope="module")
def client(dispatcher, tmp_path_factory, keys):
    db = tmp_path_factory.mktemp("svc") / "corrections.db"
    app = create_app(ServiceSettings(corrections=str(db), max_batch=8, max_body_bytes=50_000, keys_file=keys.file),
                     dispatcher=dispatcher)
    with TestClient(app, raise_server_exceptions=False, headers=keys.headers("operator")) as c:
        c.db = db
        yield c


def _schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "dispatch_nlp/schema/decision.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_dispatch_one_follows_the_schema(client):
    r = client.post("/v1/dispatch", json=ORDER)
    assert r.status_code == 200, r.text
    body = r.json()
    _schema_validator().validate(body)
    DecisionOut.model_validate(body)
    assert body["order_id"] == "A-1" and body["category"]["code"]
    assert r.headers["x-request-id"]


def test_empty_order_goes_to_review(client):
    body = client.post("/v1/dispatch", json={"text": "  "}).json()
    assert body["route"] == "review" and "empty_text" in body["flags"]


def test_batch_keeps_input_order(client):
    orders = [{"id": f"B-{i}", "text": t} for i, t in enumerate(["停水了", "暖气不热", "", "拖欠工资"])]
    r = client.post("/v1/dispatch/batch", json={"orders": orders})
    assert r.status_code == 200
    body = r.json()
    assert [d["order_id"] for d in body["decisions"]] == ["B-0", "B-1", "B-2", "B-3"]
    validator = _schema_validator()
    for d in body["decisions"]:
        validator.validate(d)
    assert body["catalog_version"]


@pytest.mark.parametrize("payload,field", [
    ({"id": "x"}, "text"),
    ({"text": 5}, "text"),
    ({"text": "停水", "colour": "red"}, "colour"),
    ({"text": "停水", "title": ["a"]}, "title"),
    ({"text": "停" * 20_001}, "text"),
])
def test_dispatch_errors_name_the_field(client, payload, field):
    r = client.post("/v1/dispatch", json=payload)
    assert r.status_code in (413, 422), r.text
    err = r.json()["error"]
    if r.status_code == 422:
        assert field in [f["field"] for f in err["fields"]], err
    assert "Traceback" not in r.text


def test_invalid_json_body_and_wrong_paths(client):
    r = client.post("/v1/dispatch", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "body"
    assert client.get("/v1/nowhere").json()["error"]["code"] == "not_found"
    assert client.get("/v1/dispatch").status_code == 405


# Personal data of three kinds, in every field a client can fill: none of it may come back in a refusal.
ID_NUMBER = "110105194912310021"
NAME = "欧阳娜娜"
SECRETS = (PHONE, ID_NUMBER, NAME)
PII = f"{NAME}{PHONE}{ID_NUMBER}"
VALID_CORRECTION = {"order_id": "A-9", "unit": "utility_water"}
CORRECTION_PROBES = [
    {"order_id": PII}, {"order_id": PHONE}, {"correction_id": PHONE}, {"correction_id": PII}, {"unit": PII},
    {"unit": PHONE}, {"category_code": PHONE}, {"category_path": [PII]}, {"category_path": ["城乡建设", PII]},
    {"district": PHONE + "0"}, {"street": PII}, {"appeal_type": PII}, {"kind": PII}, {"catalog_version": PII},
    {"catalog_version": PHONE}, {"decision_catalog_version": PII}, {"decision_model_version": PII},
    {"decision": {"catalog_version": PII}}, {"decision": {"model_version": PII, "text": PII}},
    {"decision": {"category": {"code": PHONE}}}, {"decision": {"units": {"primary": {"id": PII}}}},
    {"decision": PII}, {"corrected_at": PII}, {"corrected_at": f"2024-01-01T{PHONE}"}, {PII: "x"}, {PHONE: 1},
    {"text": [PII]}, {"title": {"a": PII}}, {"reason": 12345678901234567890}, {"operator": [PII]},
]
ORDER_PROBES = [
    {"text": PII, "channel": 7}, {"text": 5, "id": PII}, {"text": "x", "id": PII * 20}, {"text": "x", "title": [PII]},
    {"text": "x", "created_at": {"a": PII}}, {"text": "x", "caller_location": PII * 20}, {"text": "x", PII: 1},
]


def test_errors_never_echo_personal_data(client):
    answers = []
    for probe in CORRECTION_PROBES:
        r = client.post("/v1/corrections", json={**VALID_CORRECTION, **probe})
        answers.append((probe, r))
    for probe in ORDER_PROBES:
        answers.append((probe, client.post("/v1/dispatch", json=probe)))
        answers.append((probe, client.post("/v1/dispatch/batch", json={"orders": [probe]})))
    for probe, r in answers:
        assert 400 <= r.status_code < 500, (probe.keys(), r.status_code)
        echoed = [s for s in SECRETS if s in r.text or s in json.dumps(r.json(), ensure_ascii=True)]
        assert not echoed, (list(probe), r.status_code, len(echoed))
        assert r.json()["error"]["fields"], list(probe)  # the refusal still names a field


def test_batch_limits(client):
    r = client.post("/v1/dispatch/batch", json={"orders": [{"text": "停水"}] * 9})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "orders"
    assert client.post("/v1/dispatch/batch", json={"orders": []}).status_code == 422
    r = client.post("/v1/dispatch/batch", json={"orders": [{"text": "停水"}, {"txt": "x"}]})
    assert r.status_code == 422 and "orders.1.text" in [f["field"] for f in r.json()["error"]["fields"]]


def test_a_batch_of_malformed_orders_gets_a_bounded_reply(client):
    r = client.post("/v1/dispatch/batch", json={"orders": [{"txt": i, "channel": [i]} for i in range(500)]})
    err = r.json()["error"]
    assert r.status_code == 422 and len(err["fields"]) == 50 and "1500 errors" in err["message"]
    assert len(r.content) < 20_000


def test_body_size_limit(client):
    big = json.dumps({"text": "停" * 19_000}).encode()  # under the text limit, over 50 kB of UTF-8
    r = client.post("/v1/dispatch", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_corrections_are_stored_and_idempotent(client):
    decision = client.post("/v1/dispatch", json=ORDER).json()
    body = {"order_id": "A-1", "operator": "op-7", "kind": "改派", "unit": "utility_water", "decision": decision,
            "reason": f"来电人{PHONE}说不对", "correction_id": "c-1", "text": ORDER["text"]}
    r = client.post("/v1/corrections", json=body)
    assert r.status_code == 201, r.text
    assert r.json() == {**r.json(), "correction_id": "c-1", "stored": True, "duplicate": False}
    again = client.post("/v1/corrections", json=body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    stored = open_store(client.db).get("c-1")
    assert stored.decision_model_version == decision["model_version"]
    assert stored.catalog_version == decision["catalog_version"] and stored.kind == "reassign"
    assert PHONE not in (stored.text or "") + (stored.reason or "")


@pytest.mark.parametrize("payload,field", [
    ({"order_id": "A", "operator": "o", "unit": "no_such_unit"}, "unit"),
    ({"order_id": "A", "operator": "o", "district": "110105"}, "district"),
    ({"order_id": "A", "operator": "o", "street": "999999999999"}, "street"),
    ({"order_id": "A", "operator": "o", "category_code": "999999"}, "category_code"),
    ({"order_id": "A", "operator": "o", "category_path": ["没有", "这个"]}, "category_path"),
    ({"order_id": "A", "operator": "o", "appeal_type": "抱怨"}, "appeal_type"),
    ({"order_id": "A", "operator": "o", "kind": "改派"}, "body"),
    ({"order_id": "A", "operator": "", "unit": "utility_water"}, "operator"),
    ({"order_id": "A", "operator": "o", "unit": "utility_water", "corrected_at": "yesterday"}, "corrected_at"),
])
def test_correction_errors_name_the_field(client, payload, field):
    r = client.post("/v1/corrections", json=payload)
    assert r.status_code == 422, r.text
    assert field in [f["field"] for f in r.json()["error"]["fields"]]


@pytest.mark.parametrize("payload,field", [
    ({"unit": "utility_water", "corrected_at": "2999-01-01T00:00:00+00:00"}, "corrected_at"),
    ({"category_code": "999999", "catalog_version": "1999.01"}, "catalog_version"),
    ({"category_code": "999999", "decision": {"catalog_version": "2026.05"}}, "category_code"),
    ({"unit": "utility_water", "decision": {"route": "dispatch", "blob": {"x": 1}, "confidence": 3}}, "decision.confidence"),
])
def test_corrections_are_checked_against_the_catalog_version_and_the_clock(client, payload, field):
    r = client.post("/v1/corrections", json={"order_id": "V-1", **payload})
    assert r.status_code == 422, r.text
    assert field in [f["field"] for f in r.json()["error"]["fields"]]


def test_a_locked_database_is_503_with_retry_after_and_health_degraded(dispatcher, keys, tmp_path):
    db = tmp_path / "c.db"
    app = create_app(ServiceSettings(corrections=str(db), keys_file=keys.file, db_busy_timeout_s=0.2),
                     dispatcher=dispatcher)
    body = {"order_id": "L-1", "unit": "utility_water", "correction_id": "lock-1"}
    with TestClient(app, headers=keys.headers("operator")) as c:
        assert c.get("/v1/health").json()["status"] == "ok"
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # a second connection holds the write lock
        try:
            started = time.monotonic()
            r = c.post("/v1/corrections", json=body)
            assert time.monotonic() - started < 5  # the busy timeout, not 30 s
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_busy"
            assert int(r.headers["Retry-After"]) >= 1
            health = c.get("/v1/health").json()
            assert health["status"] == "degraded" and health["corrections_store"] == "unavailable"
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert c.get("/v1/health").json()["status"] == "ok"
        assert c.post("/v1/corrections", json=body).status_code == 201  # the retry stores it


def test_corrections_disabled_is_503(dispatcher, keys):
    with TestClient(create_app(ServiceSettings(keys_file=keys.file), dispatcher=dispatcher),
                    headers=keys.headers("operator")) as c:
        r = c.post("/v1/corrections", json={"order_id": "A", "operator": "o", "unit": "utility_water"})
        assert r.status_code == 503
        assert c.get("/v1/health").json()["corrections_store"] == "disabled"


def test_health_model_metrics_openapi(client, dispatcher):
    h = client.get("/v1/health").json()
    assert h["status"] == "ok" and h["corrections_store"] == "ok"
    m = client.get("/v1/model").json()
    assert m["catalog_version"] == dispatcher.catalog_version and m["schema_version"] == "1.0"
    assert m["profile"] == dispatcher.profile and dispatcher.profile in m["profiles"]
    assert m["limits"]["max_batch"] == 8
    client.post("/v1/dispatch", json={"text": ""})
    text = client.get("/metrics").text
    for needle in ('dispatch_nlp_requests_total{endpoint="/v1/dispatch",method="POST",status="200"}',
                   'dispatch_nlp_request_duration_seconds_bucket{endpoint="/v1/dispatch",le="+Inf"}',
                   'dispatch_nlp_decisions_total{route="review"}', "dispatch_nlp_abstentions_total ",
                   'dispatch_nlp_errors_total{endpoint="/v1/dispatch",kind="client"}',
                   'dispatch_nlp_corrections_total{result="new"}', "dispatch_nlp_model_info{"):
        assert needle in text, needle
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/dispatch", "/v1/dispatch/batch", "/v1/corrections", "/v1/health", "/v1/model", "/metrics",
            "/v1/admin/reload"} <= set(paths)


def test_openapi_paths_operations_and_schema_names_are_stable(client):
    """Clients generate code from these: the restructuring into routers must not rename anything."""
    doc = client.get("/openapi.json").json()
    assert [(p, m) for p, ops in doc["paths"].items() for m in ops] == [
        ("/v1/dispatch", "post"), ("/v1/dispatch/batch", "post"), ("/v1/corrections", "post"),
        ("/v1/health", "get"), ("/v1/model", "get"), ("/metrics", "get"), ("/v1/admin/reload", "post")]
    assert [op["operationId"] for ops in doc["paths"].values() for op in ops.values()] == [
        "dispatch_one_v1_dispatch_post", "dispatch_batch_v1_dispatch_batch_post", "add_correction_v1_corrections_post",
        "health_v1_health_get", "model_info_v1_model_get", "prometheus_metrics_get", "admin_reload_v1_admin_reload_post"]
    assert sorted(doc["components"]["schemas"]) == [
        "AppealOut", "BatchIn", "BatchOut", "CandidateOut", "CategoryOut", "CorrectionIn", "CorrectionOut",
        "DecisionOut", "Division", "ErrorBody", "ErrorOut", "FieldError", "HTTPValidationError", "HealthOut",
        "JurisdictionOut", "ModelOut", "OrderIn", "ReloadOut", "ResponseLevelOut", "Scored", "SpanOut", "UnitOut",
        "UnitsOut", "ValidationError"]
    reload_params = [p["name"] for p in doc["paths"]["/v1/admin/reload"]["post"]["parameters"]]
    assert reload_params == ["wait", "force"]  # the dependencies (store, auth) add no parameter


class _BrokenStore:
    """A corrections store whose database is gone."""

    def add(self, correction):
        raise sqlite3.OperationalError("disk I/O error")

    def ping(self):
        return False


def test_routes_reach_the_store_through_a_dependency(dispatcher, keys):
    from dispatch_nlp.service.deps import get_store

    app = create_app(ServiceSettings(keys_file=keys.file), dispatcher=dispatcher)
    app.app.dependency_overrides[get_store] = lambda: _BrokenStore()
    with TestClient(app, headers=keys.headers("operator")) as c:
        r = c.post("/v1/corrections", json={"order_id": "A", "operator": "o", "unit": "utility_water"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        health = c.get("/v1/health").json()
        assert health["status"] == "degraded" and health["corrections_store"] == "unavailable"


class _Exploding:
    """A dispatcher whose failure message carries personal data."""

    model_version, catalog_version = "boom", "x"

    def dispatch(self, order):
        raise RuntimeError(f"failed on {order.text}")


def test_internal_error_is_500_without_trace_and_log_is_masked(dispatcher, keys):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("dispatch_nlp.service")
    logger.addHandler(handler)
    try:
        app = create_app(ServiceSettings(keys_file=keys.file), dispatcher=dispatcher)
        app.app.state.holder.dispatcher = _Exploding()
        with TestClient(app, raise_server_exceptions=False, headers=keys.headers("dispatch")) as c:
            r = c.post("/v1/dispatch", json={"text": f"我的电话{PHONE}"})
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal_error" and "Traceback" not in r.text and PHONE not in r.text
        assert "RuntimeError" in stream.getvalue() and PHONE not in stream.getvalue()
    finally:
        logger.removeHandler(handler)


# ---- hot reload ----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry")
    for v in ("v1", "v2"):
        reg.install(config_model(tmp_path / v, v))
    reg.set_current("v1", action="promote")
    return reg


def test_reload_swaps_model_without_dropping_requests(registry, keys):
    import httpx
    import uvicorn

    app = create_app(ServiceSettings(registry=str(registry.root), keys_file=keys.file))
    admin = keys.headers("admin")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    statuses, versions, stop = [], set(), threading.Event()

    def hammer():
        with httpx.Client(base_url=base, timeout=10, headers=keys.headers("dispatch")) as c:
            n = 0
            while not stop.is_set() and n < 400:  # bounded
                r = c.post("/v1/dispatch", json={"text": "朝阳区望京街道停水"})
                statuses.append(r.status_code)
                versions.add(r.json().get("model_version"))
                n += 1

    try:
        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=30) as c:
            assert c.post("/v1/admin/reload").status_code == 401
            assert c.post("/v1/admin/reload", headers=keys.headers("operator")).status_code == 403
            registry.promote(registry.root / "versions" / "v2")
            r = c.post("/v1/admin/reload", headers=admin)
            assert r.status_code == 200 and r.json()["status"] == "reloaded", r.text
            assert r.json()["model_version"] == "v2"
            time.sleep(0.3)
            stop.set()
            for w in workers:
                w.join(30)
            assert c.get("/v1/model", headers=admin).json()["model_version"] == "v2"
            unchanged = c.post("/v1/admin/reload", headers=admin).json()
            assert unchanged["status"] == "unchanged"
            # a broken promotion is refused at load time and the old model keeps serving
            (registry.root / "versions" / "v1" / "config.json").write_text("{broken", encoding="utf-8")
            registry.rollback()
            r = c.post("/v1/admin/reload", headers=admin)
            assert r.status_code == 409 and r.json()["status"] == "failed"
            assert c.get("/v1/model", headers=admin).json()["model_version"] == "v2"
            assert c.get("/v1/health").json()["last_reload"]["ok"] is False
    finally:
        stop.set()
        server.should_exit = True
        thread.join(20)
    assert statuses and set(statuses) == {200}, set(statuses)
    assert versions == {"v1", "v2"}


# ---- a killed server loses nothing it acknowledged -------------------------------------------------

def test_kill_9_during_correction_writes_loses_nothing_acknowledged(tmp_path, keys):
    import httpx

    model = config_model(tmp_path / "m", "kill-test")
    db = tmp_path / "corrections.db"
    port = _free_port()
    cli = os.path.join(os.path.dirname(sys.executable), "dispatch-nlp")
    proc = subprocess.Popen([cli, "serve", "--model", str(model), "--port", str(port), "--corrections", str(db),
                             "--keys-file", keys.file, "--write-rate", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    acked: list[str] = []
    lock = threading.Lock()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 180  # a loaded machine can take a minute to import and load
        while time.time() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            proc.kill()  # then its stderr ends: reading it cannot block
            pytest.fail("server did not start: " + proc.communicate(timeout=10)[1][-4000:].decode(errors="replace"))

        def writer(k: int):
            with httpx.Client(base_url=base, timeout=5, headers=keys.headers("operator")) as c:
                for i in range(2000):  # bounded; the kill comes long before
                    cid = f"w{k}-{i}"
                    try:
                        r = c.post("/v1/corrections", json={"order_id": f"O{k}-{i}", "operator": "op",
                                                            "unit": "utility_water", "correction_id": cid})
                    except httpx.HTTPError:
                        return
                    if r.status_code in (200, 201):
                        with lock:
                            acked.append(cid)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while len(acked) < 150 and time.time() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert len(acked) >= 150
    # SIGKILL spares the page cache: the count below would pass without fsync. The server opens its
    # store with open_store (create_app), so the same call here must give durable commits.
    assert_durable(open_store(db).durability())
    stored = {c.correction_id for c in open_store(db).iter_all()}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged corrections lost"
