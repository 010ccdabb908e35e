"""Who may call what: API keys and roles on every protected endpoint, keys at rest, --no-auth only on
loopback, the operator of a correction taken from the key, and the per-key write limit."""

import hmac
import json
import os
import sqlite3
import stat

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from dispatch_nlp.cli.main import main as cli_main  # noqa: E402
from dispatch_nlp.service import ServiceSettings, create_app  # noqa: E402
from dispatch_nlp.service.keys import KeyStore, add_key, list_keys, revoke_key  # noqa: E402

PHONE = "13812345678"
CORRECTION = {"order_id": "A-1", "kind": "改派", "unit": "utility_water"}
# (method, path, body, role needed)
PROTECTED = [
    ("post", "/v1/dispatch", {"text": "停水"}, "dispatch"),
    ("post", "/v1/dispatch/batch", {"orders": [{"text": "停水"}]}, "dispatch"),
    ("get", "/v1/model", None, "dispatch"),
    ("post", "/v1/corrections", CORRECTION, "operator"),
    ("post", "/v1/admin/reload", None, "admin"),
]
ROLES = ("dispatch", "operator", "admin")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "keys.json"
    return path, {role: add_key(path, f"{role}-1", role) for role in ROLES}


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def app_db(dispatcher, keys, tmp_path_factory):
    db = tmp_path_factory.mktemp("auth-db") / "corrections.db"
    app = create_app(ServiceSettings(corrections=str(db), keys_file=str(keys[0])), dispatcher=dispatcher)
    app.app.state.holder.reload = lambda **kw: {"status": "unchanged", "model_version": "x"}  # no real reload
    return app, db


def call(c, method, path, body, headers=None):
    return c.request(method, path, json=body, headers=headers or {})


@pytest.mark.parametrize("method,path,body,role", PROTECTED)
def test_no_key_or_unknown_key_is_401(app_db, keys, method, path, body, role):
    app, db = app_db
    forged = "dnk.admin-1." + "A" * 43  # a well-formed secret for a known id, but not its secret
    with TestClient(app) as c:
        for headers in ({}, bearer(forged), {"X-API-Key": "nonsense"}, {"Authorization": "Basic YTpi"}):
            r = call(c, method, path, body, headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "unauthorized" and "A" * 43 not in r.text
    assert open_rows(db, "A-1") == []


@pytest.mark.parametrize("method,path,body,role", PROTECTED)
def test_each_role_may_do_what_its_rank_allows(app_db, keys, method, path, body, role):
    app, _ = app_db
    with TestClient(app) as c:
        for have in ROLES:
            r = call(c, method, path, body, bearer(keys[1][have]))
            if ROLES.index(have) < ROLES.index(role):
                assert r.status_code == 403, r.text
                message = r.json()["error"]["message"]
                assert f"role '{role}'" in message and keys[1][have] not in r.text
            else:
                assert r.status_code in (200, 201), (have, r.text)


def test_x_api_key_header_is_accepted(app_db, keys):
    app, _ = app_db
    with TestClient(app) as c:
        assert c.post("/v1/dispatch", json={"text": "停水"}, headers={"X-API-Key": keys[1]["dispatch"]}).status_code == 200


def test_health_and_metrics_stay_open(app_db):
    with TestClient(app_db[0]) as c:
        assert c.get("/v1/health").status_code == 200
        assert c.get("/metrics").status_code == 200


def test_reload_without_a_key_is_401_even_with_no_keys_configured(dispatcher):
    """The old default (no admin token configured) let anyone reload; a form POST must not either."""
    app = create_app(ServiceSettings(), dispatcher=dispatcher)
    calls = []
    app.app.state.holder.reload = lambda **kw: calls.append(kw) or {"status": "reloaded"}
    with TestClient(app) as c:
        assert c.post("/v1/admin/reload").status_code == 401
        form = c.post("/v1/admin/reload", data={"wait": "true"},
                      headers={"content-type": "application/x-www-form-urlencoded", "origin": "https://evil.example"})
        assert form.status_code == 401
        assert c.post("/v1/admin/reload", headers=bearer("anything")).status_code == 401
    assert calls == []


def test_secrets_are_compared_in_constant_time(keys, monkeypatch):
    path, secrets = keys
    store = KeyStore(path)
    real = hmac.compare_digest
    seen = []

    def recording(a, b):
        seen.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    assert store.verify(secrets["operator"]).key_id == "operator-1"  # the derived hash against the stored one
    assert len(seen) == 1
    assert store.cached(secrets["operator"]).role == "operator"  # the remembered digest, also compare_digest
    assert len(seen) == 2
    wrong = secrets["operator"][:-4] + ("AAAA" if not secrets["operator"].endswith("AAAA") else "BBBB")
    assert store.verify(wrong) is None and len(seen) >= 3


def test_keys_file_holds_no_secret_and_is_0600(tmp_path):
    path = tmp_path / "keys.json"
    secret = add_key(path, "ops-1", "operator")
    random_part = secret.rsplit(".", 1)[1]
    text = path.read_text("utf-8")
    assert random_part not in text and secret not in text
    record = json.loads(text)["keys"][0]
    assert record["id"] == "ops-1" and record["kdf"] == "scrypt" and len(bytes.fromhex(record["salt"])) >= 16
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = add_key(path, "ops-2", "operator")
    salts = [r["salt"] for r in json.loads(path.read_text("utf-8"))["keys"]]
    assert len(set(salts)) == 2 and second.rsplit(".", 1)[1] not in path.read_text("utf-8")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [k["id"] for k in list_keys(path)] == ["ops-1", "ops-2"] and "hash" not in list_keys(path)[0]
    assert not list(tmp_path.glob(".keys.json.*"))  # no temp file left beside it


def test_a_revoked_key_stops_working_without_a_restart(dispatcher, tmp_path):
    path = tmp_path / "keys.json"
    secret = add_key(path, "ops-1", "operator")
    add_key(path, "admin-1", "admin")
    with TestClient(create_app(ServiceSettings(keys_file=str(path)), dispatcher=dispatcher)) as c:
        assert c.get("/v1/model", headers=bearer(secret)).status_code == 200
        assert revoke_key(path, "ops-1")
        assert c.get("/v1/model", headers=bearer(secret)).status_code == 401


def test_correction_operator_comes_from_the_key_not_the_body(app_db, keys):
    app, db = app_db
    body = {**CORRECTION, "order_id": "OP-1", "operator": f"张三 {PHONE}", "correction_id": "op-from-key"}
    with TestClient(app) as c:
        r = c.post("/v1/corrections", json=body, headers=bearer(keys[1]["operator"]))
        assert r.status_code == 201, r.text
        assert PHONE not in r.text and "张三" not in r.text
    rows = open_rows(db, "OP-1")
    assert rows, "the correction was not stored"
    dump = json.dumps(rows, ensure_ascii=False)
    assert PHONE not in dump and "张三" not in dump


def open_rows(db, order_id: str) -> list:
    """Every column of the stored rows of an order, as the database holds them."""
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = []
        for name in names:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
            if "order_id" in cols:
                rows += [list(r) for r in con.execute(f"SELECT * FROM {name} WHERE order_id = ?", (order_id,))]
        return rows
    finally:
        con.close()


def test_writes_over_the_key_budget_get_429_with_retry_after(dispatcher, keys, tmp_path):
    path, secrets = keys
    app = create_app(ServiceSettings(corrections=str(tmp_path / "c.db"), keys_file=str(path), write_rate_per_s=0.5,
                                     write_burst=2), dispatcher=dispatcher)
    with TestClient(app) as c:
        statuses = [c.post("/v1/corrections", json={**CORRECTION, "order_id": f"R-{i}"},
                           headers=bearer(secrets["operator"])).status_code for i in range(3)]
        assert statuses[:2] == [201, 201] and statuses[2] == 429
        r = c.post("/v1/corrections", json=CORRECTION, headers=bearer(secrets["operator"]))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"
        # the budget is per key, and reads are not charged
        assert c.post("/v1/corrections", json={**CORRECTION, "order_id": "R-admin"},
                      headers=bearer(secrets["admin"])).status_code == 201
        assert c.post("/v1/dispatch", json={"text": "停水"}, headers=bearer(secrets["operator"])).status_code == 200


def _serve_refused(monkeypatch, argv, capsys) -> tuple[int, str]:
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(a))
    monkeypatch.delenv("DISPATCH_NLP_API_KEYS", raising=False)
    code = cli_main(["serve", "--corrections", "none", *argv])
    return code if not started else -1, capsys.readouterr().err


def test_no_auth_is_refused_off_loopback(monkeypatch, capsys):
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        code, err = _serve_refused(monkeypatch, ["--no-auth", "--host", host], capsys)
        assert code == 2 and "loopback" in err


def test_no_keys_and_no_no_auth_refuses_to_start(monkeypatch, capsys):
    code, err = _serve_refused(monkeypatch, [], capsys)
    assert code == 2 and "keys add" in err


def test_no_auth_on_loopback_starts_with_a_loud_warning(monkeypatch, capsys):
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **k: started.append(k["host"]))
    assert cli_main(["serve", "--corrections", "none", "--no-auth", "--host", "127.0.0.1"]) == 0
    assert started == ["127.0.0.1"] and "authentication is OFF" in capsys.readouterr().err


def test_keys_cli_adds_lists_and_revokes(tmp_path, capsys):
    path = str(tmp_path / "keys.json")
    assert cli_main(["keys", "add", "--role", "operator", "--id", "ops-1", "--keys-file", path]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("dnk.ops-1.") and secret not in open(path, encoding="utf-8").read()
    assert KeyStore(path).verify(secret).role == "operator"
    with pytest.raises(SystemExit) as bad_role:
        cli_main(["keys", "add", "--role", "boss", "--id", "x", "--keys-file", path])
    assert bad_role.value.code == 2
    assert cli_main(["keys", "add", "--role", "admin", "--id", "ops-1", "--keys-file", path]) == 2  # id taken
    capsys.readouterr()
    assert cli_main(["keys", "list", "--keys-file", path]) == 0
    listed = capsys.readouterr().out
    assert '"ops-1"' in listed and secret not in listed and "hash" not in listed
    assert cli_main(["keys", "revoke", "--id", "ops-1", "--keys-file", path]) == 0
    assert cli_main(["keys", "revoke", "--id", "ops-1", "--keys-file", path]) == 1


def test_a_secret_for_an_unknown_id_costs_no_derivation(keys, monkeypatch):
    """Anyone can send made-up keys: those must not cost a scrypt derivation (16 MiB, ~50 ms) each."""
    import dispatch_nlp.service.keys as keys_module

    store = KeyStore(keys[0])
    calls = []
    real = keys_module.derive
    monkeypatch.setattr(keys_module, "derive", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert store.verify("dnk.nobody." + "A" * 43) is None and store.verify("garbage") is None
    assert calls == []
    assert store.verify(keys[1]["admin"]).role == "admin" and calls == [1]  # a known id is derived once
    assert store.verify(keys[1]["admin"]).role == "admin" and calls == [1]  # then remembered


def test_a_keys_file_broken_by_hand_keeps_the_keys_read_before(keys, tmp_path):
    path = tmp_path / "keys.json"
    secret = add_key(path, "ops-1", "operator")
    store = KeyStore(path)
    path.write_text("{not json", encoding="utf-8")
    assert store.verify(secret).key_id == "ops-1"
    path.unlink()
    assert store.verify(secret) is None  # a deleted keys file: no key is accepted


@pytest.mark.parametrize("field,value", [("salt", "not hex"), ("hash", "zz"), ("n", "16384"), ("r", None)])
def test_a_keys_file_with_a_malformed_record_is_refused_when_read(tmp_path, field, value):
    from dispatch_nlp.errors import InputError
    from dispatch_nlp.service.keys import add_key, read_keys

    keys = tmp_path / "keys.json"
    add_key(keys, "ops-1", "operator")
    doc = json.loads(keys.read_text("utf-8"))
    doc["keys"][0][field] = value
    keys.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(InputError, match="malformed"):
        read_keys(keys)
