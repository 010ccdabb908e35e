"""The lean path of ``POST /v1/dispatch`` (service.hotpath) and the service under overload: the lean path
answers exactly what the FastAPI route answers (decisions byte for byte, in each request's own order;
422, 401 and 500 bodies and headers), one bad order fails only its request, a full queue or admission
answers 503 with Retry-After, a request the queue could not answer in time is refused at once, no
answer comes later than the timeout, and shutdown lets the requests in flight finish."""

import asyncio
import json
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from dispatch_nlp.service import ServiceSettings, create_app  # noqa: E402
from dispatch_nlp.service.jsonio import decision_body  # noqa: E402
from dispatch_nlp.service.keys import add_key  # noqa: E402
from dispatch_nlp.types import WorkOrder  # noqa: E402
from tests.conftest import generated_bodies  # noqa: E402

BOOM = "BOOM"  # an order text the stub refuses


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    secret = add_key(path, "dispatch-1", "dispatch")
    return str(path), secret


@pytest.fixture(scope="module")
def bodies():
    return generated_bodies(seed=19, n=24, prefix="h")


class Fixed:
    """The real dispatcher with its timings zeroed (so that two answers to one order are the same bytes);
    ``delay_s`` per call; ``BOOM`` orders raise."""

    def __init__(self, real, delay_s: float = 0.0):
        self.real, self.delay_s = real, delay_s
        self.model_version, self.catalog_version, self.model_dir = real.model_version, real.catalog_version, None
        self.batch_sizes: list[int] = []

    @staticmethod
    def _fixed(decision):
        decision.timings_ms = {"total": 0.0}
        return decision

    def dispatch_batch(self, orders, batch_size=64):
        time.sleep(self.delay_s)
        self.batch_sizes.append(len(orders))
        if any(BOOM in o.text for o in orders):
            raise ValueError("this order cannot be dispatched")
        return [self._fixed(d) for d in self.real.dispatch_batch(orders, batch_size=batch_size)]

    def dispatch(self, order):
        time.sleep(self.delay_s)
        if BOOM in order.text:
            raise ValueError("this order cannot be dispatched")
        return self._fixed(self.real.dispatch(order))


class RouteForbidden:
    """Stands in for the FastAPI app: any request that reaches it is answered 599."""

    def __init__(self):
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def make_app(dispatcher, keys_file, **settings):
    return create_app(ServiceSettings(keys_file=keys_file, **settings), dispatcher=dispatcher)


def client_of(app, headers=None):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc", headers=headers or {},
                             timeout=30)


async def post_all(app, requests, headers=None):
    """POST each (body bytes or JSON-able, extra headers) to /v1/dispatch at once; the replies in order."""
    async with client_of(app, headers) as c:
        return await asyncio.gather(*(
            c.post("/v1/dispatch", content=body, headers=extra) if isinstance(body, bytes)
            else c.post("/v1/dispatch", json=body, headers=extra) for body, extra in requests))


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def comparable(reply):
    """A reply without what differs between two requests: the request id (header and body)."""
    headers = sorted((k, v) for k, v in reply.headers.items() if k != "x-request-id")
    body = reply.content
    rid = reply.headers.get("x-request-id")
    if rid:
        body = body.replace(rid.encode(), b"<rid>")
    return reply.status_code, headers, body


def test_lean_path_answers_byte_identically_to_per_request_dispatch(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher)
    expected = [decision_body(stub.dispatch(WorkOrder(**b))) for b in bodies]
    app = make_app(stub, keys_file, batch_max=8, batch_delay_ms=50, request_timeout_s=30)
    route, app.app = app.app, RouteForbidden()  # every answer below comes from the lean path
    replies = asyncio.run(post_all(app, [(b, {}) for b in bodies], bearer(secret)))
    assert [r.status_code for r in replies] == [200] * len(bodies)
    assert app.app.calls == 0 and max(stub.batch_sizes) > 1  # batched, and never through the route
    assert [r.content for r in replies] == expected  # each request its own decision, byte for byte
    assert all(r.headers["content-type"] == "application/json" for r in replies)
    metrics = app.metrics.render()
    assert f'endpoint="/v1/dispatch",method="POST",status="200"}} {len(bodies)}' in metrics
    # The FastAPI route answers the same bytes and headers.
    app.app, app.lean = route, None
    again = asyncio.run(post_all(app, [(b, {}) for b in bodies], bearer(secret)))
    assert [comparable(r) for r in again] == [comparable(r) for r in replies]


def test_one_bad_order_fails_only_its_own_request(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher)
    batch = [dict(b) for b in bodies[:8]]
    batch[5]["text"] = f"{BOOM} {batch[5]['text']}"
    app = make_app(stub, keys_file, batch_max=8, batch_delay_ms=200)
    replies = asyncio.run(post_all(app, [(b, {}) for b in batch], bearer(secret)))
    assert [r.status_code for r in replies] == [200] * 5 + [500] + [200] * 2
    assert stub.batch_sizes == [8]  # one batch call, then each order alone
    assert [json.loads(r.content)["order_id"] for r in replies if r.status_code == 200] == \
        [b["id"] for i, b in enumerate(batch) if i != 5]
    failed = replies[5]
    assert failed.json() == {"error": {"code": "internal_error", "fields": [], "request_id": failed.headers[
        "x-request-id"], "message": "internal error; the server log has the details under request id "
        f"{failed.headers['x-request-id']}"}}
    assert BOOM not in failed.text


def test_validation_errors_and_refusals_are_what_the_route_answers(dispatcher, keys, bodies):
    keys_file, secret = keys
    key_id = secret.split(".")[1]
    good = json.dumps(bodies[0], ensure_ascii=False).encode()
    payloads = [
        good,
        b'{"text": "\xe5\x81\x9c\xe6\xb0\xb4", "id": 7}',  # id not a string
        b'{"text": "x", "phone": "13812345678"}',  # a field the model does not know
        b'{"text": "' + b"a" * 20_001 + b'"}',  # too long
        b'{"title": "no text"}',
        b'{"text": "x",',  # not JSON
        b"",
        b"[]",
        b'{"text": NaN}',
        b'\xef\xbb\xbf{"text": "x"}',  # a byte order mark
        b'{"text": "\\ud800"}',  # a lone surrogate
        b'{"text": "\xff"}',  # not UTF-8
    ]
    auths = [bearer(secret), {}, {"X-API-Key": secret}, bearer(f"dnk.{key_id}.{'x' * 30}"), bearer("nonsense"),
             {"Authorization": f"Basic {secret}"}]
    types = [{"Content-Type": "application/json"}, {"Content-Type": "application/json; charset=utf-8"},
             {"Content-Type": "text/plain"}]
    requests = [(p, {**a, **t}) for p in payloads for a in auths for t in types]
    app = make_app(Fixed(dispatcher), keys_file, batch_max=8, max_in_flight=0, request_timeout_s=60)
    lean = [comparable(r) for r in asyncio.run(post_all(app, requests))]
    app.lean = None
    route = [comparable(r) for r in asyncio.run(post_all(app, requests))]
    for request, a, b in zip(requests, lean, route, strict=True):
        assert a == b, request
    statuses = {status for status, _, _ in lean}
    assert statuses == {200, 400, 401, 422}  # 400: a body that is not UTF-8
    assert not any(b"13812345678" in body for _, _, body in lean)  # no personal data echoed


def test_a_full_queue_or_admission_answers_503_with_retry_after(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher, delay_s=0.2)
    app = make_app(stub, keys_file, batch_max=1, queue_max=2, max_in_flight=0, request_timeout_s=10)
    replies = asyncio.run(post_all(app, [(b, {}) for b in bodies[:8]], bearer(secret)))
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {200, 503} and statuses.count(200) <= 4
    for r in replies:
        if r.status_code == 503:
            assert r.headers["Retry-After"] == "1" and r.json()["error"]["code"] == "unavailable"
    app = make_app(stub, keys_file, batch_max=8, max_in_flight=3, request_timeout_s=10)
    replies = asyncio.run(post_all(app, [(b, {}) for b in bodies[:8]], bearer(secret)))
    assert sorted(r.status_code for r in replies) == [200] * 3 + [503] * 5
    assert all(r.headers["Retry-After"] == "1" for r in replies if r.status_code == 503)


def test_clean_shutdown_lets_requests_in_flight_finish(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher, delay_s=0.15)
    app = make_app(stub, keys_file, batch_max=2, request_timeout_s=10)
    fastapi_app = app.app

    async def scenario():
        async with client_of(app, bearer(secret)) as c:
            async with fastapi_app.router.lifespan_context(fastapi_app):
                flying = [asyncio.create_task(c.post("/v1/dispatch", json=b)) for b in bodies[:6]]
                batcher = app.app.state.batcher
                while batcher.submitted < 6 or batcher.queued == 6:
                    await asyncio.sleep(0.005)  # all six queued, a first batch running (0.15 s)
            # the lifespan has ended: the batcher finished everything queued before it stopped
            done = await asyncio.gather(*flying)
            late = await c.post("/v1/dispatch", json=bodies[6])
        return done, late

    done, late = asyncio.run(scenario())
    assert [r.status_code for r in done] == [200] * 6
    assert [r.json()["order_id"] for r in done] == [b["id"] for b in bodies[:6]]
    assert late.status_code == 503 and late.headers["Retry-After"] == "1"
    assert late.json()["error"]["message"] == "the server is shutting down"


async def timed_posts(app, bodies, headers, gap_s=0.0):
    """POST each body (the next ``gap_s`` after the last was sent); (status, seconds from its send) each."""
    async with client_of(app, headers) as c:
        async def one(i, body):
            await asyncio.sleep(i * gap_s)
            t0 = time.perf_counter()
            r = await c.post("/v1/dispatch", json=body)
            return r.status_code, time.perf_counter() - t0, r

        return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


def test_a_request_the_queue_would_make_late_is_refused_at_once(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher, delay_s=0.3)
    app = make_app(stub, keys_file, batch_max=1, queue_max=100, max_in_flight=0, request_timeout_s=0.8)
    assert asyncio.run(post_all(app, [(bodies[0], {})], bearer(secret)))[0].status_code == 200  # times a batch
    replies = asyncio.run(timed_posts(app, bodies[1:7], bearer(secret)))
    # One runs at once (done after 0.3 s), one waits for it (0.6 s): the others would be done after 0.9 s
    # or later, past their 0.8 s deadline, so they are refused as they arrive rather than at the deadline.
    assert [status for status, _, _ in replies] == [200, 200, 503, 503, 503, 503]
    assert all(took < 0.25 for status, took, _ in replies if status == 503)
    assert all(r.headers["Retry-After"] == "1" and r.json()["error"]["code"] == "unavailable"
               for status, _, r in replies if status == 503)
    assert app.app.state.batcher.refused_late == 4 and stub.batch_sizes == [1, 1, 1]  # refused: never run


def test_no_answer_comes_later_than_the_timeout(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher, delay_s=0.25)
    timeout = 0.6
    app = make_app(stub, keys_file, batch_max=2, queue_max=100, max_in_flight=0, request_timeout_s=timeout)
    asyncio.run(post_all(app, [(bodies[0], {})], bearer(secret)))  # derives the key once
    replies = asyncio.run(timed_posts(app, bodies * 2, bearer(secret), gap_s=0.01))  # ~6x what it can do
    statuses = [status for status, _, _ in replies]
    assert statuses.count(200) >= 2 and statuses.count(503) >= len(replies) // 2
    assert max(took for _, took, _ in replies) < timeout + 0.15  # the slack: a loaded test machine


def test_an_idle_batcher_takes_an_order_whatever_its_estimate():
    import threading

    from dispatch_nlp.service.batcher import MicroBatcher, Overloaded

    gate = threading.Event()

    class Gated:
        def dispatch_batch(self, orders, batch_size=64):
            gate.wait(5)
            return list(orders)

    batcher = MicroBatcher(max_batch=1, queue_max=8)
    batcher.order_s = 100.0  # as after a pathologically slow batch: every estimate is far past any deadline
    first = batcher.submit(Gated(), "a", deadline=time.monotonic() + 1)  # nothing ahead of it: taken
    while batcher.queued:
        time.sleep(0.005)  # the worker took it and is running it
    with pytest.raises(Overloaded):  # now one runs ahead of it, estimated to end 100 s from now
        batcher.submit(Gated(), "b", deadline=time.monotonic() + 1)
    assert batcher.refused_late == 1
    gate.set()
    assert first.result(5) == "a"
    batcher.close(5)  # the worker has finished (and timed) its batch
    assert batcher.order_s < 100.0  # the batch that ran brought the estimate down


def test_without_batching_a_request_also_waits_at_most_its_timeout(dispatcher, keys, bodies):
    keys_file, secret = keys
    stub = Fixed(dispatcher, delay_s=0.6)
    app = make_app(stub, keys_file, batch_max=0, request_timeout_s=0.2)
    asyncio.run(post_all(app, [(bodies[0], {})], bearer(secret)))  # derives the key once (and waits 0.6 s)
    [(status, took, reply)] = asyncio.run(timed_posts(app, bodies[1:2], bearer(secret)))
    assert status == 503 and took < 0.45 and reply.headers["Retry-After"] == "1"
    assert reply.json()["error"]["message"] == "no decision within 0.2 s; try again shortly"
