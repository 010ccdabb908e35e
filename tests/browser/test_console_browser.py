"""The console in a real headless Chromium at 1366×768: dispatch an order and see its evidence marked,
correct its category through the catalog search (the correction lands in the store), walk a review
queue of 20 orders with the keyboard only, and read the supervisor's figures against the log and store.
Each screen's screenshot is kept in docs/console/."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import httpx

from dispatch_nlp.types import WorkOrder

from .conftest import connect, shot

PHONE = "13812345678"
ORDER = f"海淀区学院路街道石油大院停水三天了，一直没人管，联系电话{PHONE}"
# Orders the shipped model sends to review (it is unsure of almost all real ones).
REVIEW_TEXTS = [
    "朝阳区望京街道望京西园三区路灯不亮，晚上很黑",
    "海淀区学院路街道石油大院小区楼下施工噪音扰民，每天到凌晨",
    "东城区东华门街道南池子大街有人占道经营",
    "西城区金融街街道丰汇园小区垃圾清运不及时，味道很大",
    "丰台区卢沟桥街道某小区电梯经常停运，老人上下楼困难",
]
# The same problems with no place named: no jurisdiction, so the service routes them to review (the
# ones above name their street, and the shipped model dispatches the clearest of them automatically).
UNSURE_TEXTS = [
    "楼下路灯不亮好几天了，晚上很黑",
    "附近工地施工噪音扰民，每天到凌晨",
    "街边有人占道经营",
    "小区垃圾清运不及时，味道很大",
    "单元电梯经常停运，老人上下楼困难",
]


def test_dispatch_see_evidence_and_correct_the_category(service, page):
    connect(page, service)
    page.fill("#o-id", "W-100")
    page.fill("#o-text", ORDER)
    page.press("#o-text", "Control+Enter")
    page.wait_for_selector("#route")
    marks = page.eval_on_selector_all("#order-text mark", "ms => ms.map(m => [m.className, m.textContent])")
    assert ["keyword", "停水"] in marks, marks
    assert ["place", "石油大院"] in marks, marks
    assert any(kind == "pii" for kind, _ in marks)
    assert PHONE not in page.content() and PHONE not in page.input_value("#o-text")  # shown masked, even in the form
    assert "停水" in page.inner_text("#category")
    assert "学院路街道" in page.inner_text("#jurisdiction")
    shot(page, "order")

    # Correct the category: type into the tree search, take the first leaf with Enter, submit with Ctrl+Enter.
    page.focus("#cat-q")  # empty: the tree's branches to browse
    page.wait_for_selector("#cat-results li.group:has-text('城乡建设')")
    page.fill("#cat-q", "停气")
    page.wait_for_selector("#cat-results button:has-text('停气')")
    first = page.inner_text("#cat-results button")
    code = first.split()[-1]
    page.focus("#unit-q")
    page.wait_for_selector("#unit-results button")
    shot(page, "correct")
    page.press("#cat-q", "Enter")
    page.wait_for_function("document.getElementById('cat-picked').textContent.includes('停气')")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("(document.getElementById('fix-status').dataset.saved || '').length > 0")
    saved = page.get_attribute("#fix-status", "data-saved")
    stored = service.store.get(saved)
    assert stored is not None and stored.order_id == "W-100" and stored.category_code == code
    assert stored.operator == service.store.pseudonym("operator-1")  # the key's id, as the API stores it
    assert stored.decision["category_code"] == "011301" and PHONE not in (stored.text or "")
    assert not page.evaluate("localStorage.length + sessionStorage.length") and page.context.cookies() == []


def test_the_page_runs_under_its_csp(service, browser):
    """Without the tests' CSP bypass: the page's own scripts, styles and calls all obey its policy."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(service.url + "/console")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.fill("#key", service.keys["operator"])
    page.press("#key", "Enter")
    page.wait_for_selector("#who:has-text('operator-1')")
    page.fill("#o-text", ORDER)
    page.press("#o-text", "Control+Enter")
    page.wait_for_selector("#order-text mark.keyword")
    page.fill("#cat-q", "停水")
    page.wait_for_selector("#cat-results button")
    page.keyboard.press("Alt+3")
    page.wait_for_selector("#s-hourly svg")
    assert page.url == service.url + "/console"  # nothing typed ever reaches the URL
    assert problems == []
    context.close()


def test_walk_a_queue_of_20_orders_with_the_keyboard(service, page):
    orders = [{"id": f"Q-{i + 1}", "text": UNSURE_TEXTS[i % len(UNSURE_TEXTS)] + f"（第{i + 1}次反映）"}
              for i in range(20)]
    r = httpx.post(service.url + "/v1/dispatch/batch", json={"orders": orders},
                   headers={"X-API-Key": service.keys["dispatch"]}, timeout=60)
    assert r.status_code == 200 and [d["route"] for d in r.json()["decisions"]] == ["review"] * 20
    connect(page, service)
    page.keyboard.press("Alt+2")
    page.click("#q-load-service")
    page.wait_for_function("document.getElementById('q-progress').dataset.total === '20'")
    page.focus("#q-item")
    page.wait_for_selector("#q-item mark.keyword")  # the queued order's deciding words, on its masked text
    plan = ["a", "s", "c", "a", "c"] * 4
    for i, key in enumerate(plan):
        page.keyboard.press(key)
        if key == "c":  # the order opens on the correction screen with the category search focused
            page.wait_for_function("document.activeElement.id === 'cat-q'")
            page.keyboard.type("噪声")
            page.wait_for_selector("#cat-results button")
            page.keyboard.press("Enter")
            page.wait_for_function("document.getElementById('cat-picked').textContent !== '（未改）'")
            page.keyboard.press("Control+Enter")
            page.wait_for_selector("#screen-queue:not([hidden])")
            page.focus("#q-item")
        page.wait_for_function(f"document.getElementById('q-progress').dataset.done === '{i + 1}'")
        if i == 10:
            shot(page, "queue")
    assert "已处理 20 / 共 20，剩余 0" in page.inner_text("#q-progress")
    status = {e.order_id: e.status for e in service.log.entries()}
    names = {"a": "accepted", "s": "skipped", "c": "corrected"}
    assert status == {f"Q-{i + 1}": names[k] for i, k in enumerate(plan)}
    corrected = {c.order_id for c in service.store.iter_all()}
    assert corrected == {f"Q-{i + 1}" for i, k in enumerate(plan) if k == "c"}


def test_a_batch_result_file_opens_as_a_queue_with_filters(service, page, dispatcher, tmp_path):
    lines = []
    for i, text in enumerate(REVIEW_TEXTS):
        d = dispatcher.dispatch(WorkOrder(text=text, id=f"B-{i}")).to_dict()
        lines.append(json.dumps({"row": i + 1, "id": f"B-{i}", "route": d["route"], "decision": json.dumps(d, ensure_ascii=False),
                                 "category_changed": i % 2 == 0, "path_before": "城乡建设 > 其他"}, ensure_ascii=False))
    path = tmp_path / "result.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    connect(page, service)
    page.keyboard.press("Alt+2")
    page.set_input_files("#q-file", str(path))
    page.wait_for_function("document.getElementById('q-progress').dataset.total === '5'")
    page.check("#f-changed")  # the reclassification's changed orders
    page.wait_for_function("document.getElementById('q-progress').dataset.total === '3'")
    assert "重分类前" in page.inner_text("#q-item")
    page.select_option("#f-district", "朝阳区")
    page.wait_for_function("document.getElementById('q-progress').dataset.total === '1'")


def test_supervisor_view_agrees_with_the_log_and_the_store(service, page, dispatcher):
    now = time.time()
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat()  # noqa: E731
    base = WorkOrder(text="海淀区学院路街道石油大院停水三天了")
    other = WorkOrder(text="朝阳区望京街道望京西园三区路灯不亮")
    orders, decisions = [], []
    for day in range(1, 8):  # the baseline: one a day for a week
        orders.append(dataclasses.replace(base, id=f"H-{day}", created_at=iso(now - day * 86400 - 3600)))
    for i in range(6):  # today: six of the same category at the same street, and two others
        orders.append(dataclasses.replace(base, id=f"N-{i}", created_at=iso(now - 3600 * (i + 1))))
    orders += [dataclasses.replace(other, id=f"M-{i}", created_at=iso(now - 1800)) for i in range(2)]
    for o in orders:
        decisions.append(dispatcher.dispatch(o))
    decisions[-1] = dataclasses.replace(decisions[-1], route="dispatch")  # two automatic dispatches
    decisions[-2] = dataclasses.replace(decisions[-2], route="dispatch")
    service.log.record(orders, decisions)
    r = httpx.post(service.url + "/v1/corrections", headers={"X-API-Key": service.keys["operator"]}, json={
        "order_id": "M-1", "category_code": "011501", "decision": decisions[-1].to_dict()}, timeout=30)
    assert r.status_code == 201, r.text

    connect(page, service)
    page.keyboard.press("Alt+3")
    page.wait_for_selector("#c-orders b")
    recent = [o for o in orders if dt.datetime.fromisoformat(o.created_at).timestamp() >= now - 86400]
    assert page.inner_text("#c-orders b") == str(len(recent)) == "8"
    assert page.inner_text("#c-auto b") == f"{100 * 2 / 8:.1f}%"
    corrected = service.store.latest_by_order()
    wrong = sum(1 for o in recent[-2:] if o.id in corrected)
    assert page.inner_text("#c-acc b") == f"{100 * (1 - wrong / 2):.1f}%" == "50.0%"
    bars = page.eval_on_selector_all("#s-hourly rect[data-count]", "rs => rs.map(r => +r.dataset.count)")
    assert sum(bars) == 8
    hot = page.inner_text("#s-hot")
    assert "停水 × 学院路街道" in hot and "6（上界" in hot
    assert "泊松" in page.inner_text("#s-hot-note")
    shot(page, "supervisor")
