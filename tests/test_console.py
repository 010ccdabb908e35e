"""The console's server side without a browser: the page and its assets (CSP, no caching), who may
call its API, the decision log (masked text only, review orders only), the evidence marks, the
searches of the correction form, and the supervisor's statistics (the Poisson bound of hot spots)."""

from __future__ import annotations

import configparser
import dataclasses
import json

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from dispatch_nlp.service import ServiceSettings, create_app  # noqa: E402
from dispatch_nlp.service.console import STATIC_DIR  # noqa: E402
from dispatch_nlp.service.console.decision_log import DecisionLog, parse_time  # noqa: E402
from dispatch_nlp.service.console.explain import explain  # noqa: E402
from dispatch_nlp.service.console.lookup import search_catalog, search_divisions, units_for  # noqa: E402
from dispatch_nlp.service.console.supervisor import poisson_bound, poisson_tail, summarize  # noqa: E402
from dispatch_nlp.service.keys import KdfSettings, add_key  # noqa: E402
from dispatch_nlp.service.routes.console import ASSETS  # noqa: E402
from dispatch_nlp.types import WorkOrder  # noqa: E402

from .conftest import ROOT  # noqa: E402

PHONE = "13812345678"
TEXT = f"海淀区学院路街道石油大院停水三天了，联系电话{PHONE}"


@pytest.fixture(scope="module")
def served(dispatcher, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    keys = {r: add_key(tmp / "keys.json", f"{r}-1", r, KdfSettings(n=2 ** 10)) for r in ("dispatch", "operator")}
    app = create_app(ServiceSettings(corrections=str(tmp / "c.db"), keys_file=str(tmp / "keys.json")),
                     dispatcher=dispatcher)
    with TestClient(app) as client:
        yield client, app.app, {r: {"X-API-Key": s} for r, s in keys.items()}


def test_the_page_and_its_assets_are_served_with_a_strict_policy(served):
    client, _, _ = served
    page = client.get("/console")
    assert page.status_code == 200 and "12345 工单分派控制台" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    for name in ASSETS:
        assert client.get(f"/console/static/{name}").status_code == 200
    assert client.get("/console/static/..%2Fexplain.py").status_code == 404
    assert "http" not in page.text.replace("http://www.w3.org", "")  # no CDN: every asset is the package's


def test_the_console_api_needs_a_key_and_marking_needs_the_operator_role(served):
    client, _, keys = served
    assert client.get("/console/api/whoami").status_code == 401
    who = client.get("/console/api/whoami", headers=keys["dispatch"]).json()
    assert who["role"] == "dispatch" and who["may_correct"] is False
    assert client.post("/console/api/review/mark", json={"seq": 1, "status": "accepted"},
                       headers=keys["dispatch"]).status_code == 403


def test_the_decision_log_keeps_masked_text_of_review_orders_only(served):
    client, app, keys = served
    r = client.post("/v1/dispatch", json={"id": "L-1", "text": TEXT}, headers=keys["dispatch"])
    assert r.status_code == 200 and r.json()["route"] == "review"
    queue = client.get("/console/api/review", headers=keys["dispatch"]).json()
    items = queue["items"]
    assert queue["open"] == len(items) >= 1
    item = next(i for i in items if i["order_id"] == "L-1")
    assert PHONE not in json.dumps(item, ensure_ascii=False) and "<手机号>" in item["text"]
    marked = client.post("/console/api/review/mark", json={"seq": item["seq"], "status": "accepted"},
                         headers=keys["operator"])
    assert marked.json() == {"seq": item["seq"], "status": "accepted"}
    assert all(i["order_id"] != "L-1" for i in client.get("/console/api/review", headers=keys["dispatch"]).json()["items"])


def test_orders_not_sent_to_review_are_logged_without_text(dispatcher):
    log = DecisionLog()
    order = WorkOrder(text=TEXT, id="X-1", created_at="2026-11-01T08:00:00")
    decision = dataclasses.replace(dispatcher.dispatch(order), route="dispatch")
    log.record([order], [decision])
    (entry,) = log.entries()
    assert entry.text is None and entry.route == "dispatch" and entry.at == parse_time("2026-11-01T08:00:00+00:00")


def test_the_marks_point_at_the_words_that_decided(dispatcher):
    order = WorkOrder(text=TEXT)
    decision, view = explain(dispatcher, order)
    assert decision.to_dict() | {"timings_ms": {}} == dispatcher.dispatch(order).to_dict() | {"timings_ms": {}}
    got = {(view["text"][m["start"]:m["end"]], m["kind"]) for m in view["marks"]}
    assert {("停水", "keyword"), ("石油大院", "place"), ("<手机号>", "pii")} <= got
    assert PHONE not in view["text"]
    spans = sorted((m["start"], m["end"]) for m in view["marks"])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # never overlapping


def test_the_correction_form_searches(dispatcher):
    by_name = search_catalog(dispatcher.catalog, "停水")
    assert by_name[0]["code"] == "011301" and by_name[0]["path"] == ["城乡建设", "供水", "停水"]
    assert {x["code"][:4] for x in search_catalog(dispatcher.catalog, "0113")} == {"0113"}
    assert search_catalog(dispatcher.catalog, " ") == []
    street = search_divisions(dispatcher.gazetteer, "望京街道")[0]
    assert street["level"] == "street" and street["district"]["name"] == "朝阳区"
    water = units_for(dispatcher.units, dispatcher.catalog, "011301")
    assert water["duty"] == "utility" and water["units"][0] == {**water["units"][0], "id": "utility_water", "own": True}
    assert {u["level"] for u in water["units"]} == {"utility"}
    territorial = next(it for it in dispatcher.catalog.leaves() if it.duty == "territorial")
    local = units_for(dispatcher.units, dispatcher.catalog, territorial.code, "110105000000")["units"]
    assert local and all(u["id"].startswith("street_office@") for u in local) and local[0]["district_code"] == "110105"


def test_the_poisson_bound():
    assert poisson_tail(0, 2.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - 2.718281828 ** -2)
    for lam in (0.07, 1.0, 5.0):
        k = poisson_bound(lam)
        assert poisson_tail(k, lam) < 0.001 <= poisson_tail(k - 1, lam)


def test_hot_spots_and_automatic_accuracy(dispatcher):
    now = 1_800_000_000.0
    log = DecisionLog()
    base = dispatcher.dispatch(WorkOrder(text="海淀区学院路街道石油大院停水三天了"))
    orders, decisions = [], []

    def add(oid: str, at: float, route: str = "review") -> None:
        orders.append(WorkOrder(text="x", id=oid, created_at=str(at)))
        decisions.append(dataclasses.replace(base, route=route))

    for day in range(1, 8):  # baseline: about 2 a day
        add(f"B-{day}a", now - day * 86400 - 10)
        add(f"B-{day}b", now - day * 86400 - 20)
    for i in range(3):  # today: 3, well within a baseline of 2 a day
        add(f"T-{i}", now - 100 - i, "dispatch")
    orders = [dataclasses.replace(o, created_at=_iso(float(o.created_at))) for o in orders]
    log.record(orders, decisions)
    corrections = {"T-0": _Correction(category_code="011602"), "T-1": _Correction(category_code=base.category.code)}
    s = summarize(log.entries(), corrections, now)
    assert s["orders_24h"] == 3 and s["orders_baseline"] == 14 and s["hot_spots"] == []
    assert s["automatic"] == {"orders": 3, "share": 1.0, "corrected": 2, "corrected_changed": 1, "accuracy_bound": 0.6667}
    for i in range(3, 12):  # now 12 today against 2 a day: flagged
        orders.append(WorkOrder(text="x", id=f"T-{i}", created_at=_iso(now - 200 - i)))
        decisions.append(base)
    log2 = DecisionLog()
    log2.record(orders, decisions)
    (hot,) = summarize(log2.entries(), {}, now)["hot_spots"]
    assert hot["count"] == 12 and hot["street_name"] == "学院路街道" and hot["bound"] <= 12 and hot["p"] < 0.001


@dataclasses.dataclass
class _Correction:
    category_code: str | None = None
    category_path: list | None = None
    unit: str | None = None
    district: str | None = None
    street: str | None = None


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def test_the_console_files_ship_with_the_package():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    assert "dispatch_nlp.service.console" in cfg["options"]["packages"].split()
    assert cfg["options.package_data"]["dispatch_nlp.service.console"].strip() == "static/*"
    shipped = {p.name for p in STATIC_DIR.iterdir()}
    assert shipped == set(ASSETS) | {"index.html"}
    page = (STATIC_DIR / "index.html").read_text("utf-8")
    assert all(f"/console/static/{name}" in page for name in ASSETS)


def test_recording_never_converts_on_the_request_and_is_bounded(dispatcher, monkeypatch):
    from dispatch_nlp.service.console import decision_log

    monkeypatch.setattr(decision_log, "MAX_PENDING", 3)
    log = DecisionLog(background=False)
    decision = dispatcher.dispatch(WorkOrder(text=TEXT))
    orders = [WorkOrder(text=TEXT, id=f"P-{i}") for i in range(5)]
    for o in orders:
        log.record([o], [decision])
    assert log.dropped == 2 and len(log._entries) == 0  # nothing masked on the request path
    assert [e.order_id for e in log.entries()] == ["P-0", "P-1", "P-2"]
