"""Micro-batching of ``POST /v1/dispatch`` (service.batcher): concurrent requests get exactly the
decisions per-request dispatch gives, in their own order; one bad order fails only its request; a
full queue answers 503 with Retry-After; a request waits at most its timeout; shutdown answers the
queued requests and refuses new ones."""

import asyncio
import json
import threading
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from dispatch_nlp.service import ServiceSettings, create_app  # noqa: E402
from dispatch_nlp.service.batcher import BatchTimeout, MicroBatcher, Overloaded, ShuttingDown  # noqa: E402
from dispatch_nlp.service.keys import add_key  # noqa: E402
from dispatch_nlp.types import WorkOrder  # noqa: E402
from tests.conftest import generated_bodies  # noqa: E402

BOOM = "BOOM"  # an order text the failing stub refuses


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    secret = add_key(path, "dispatch-1", "dispatch")
    return str(path), {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def bodies():
    return generated_bodies(seed=11, n=50, prefix="b")


class Wrapped:
    """The real dispatcher behind a stub: ``delay_s`` per call, ``BOOM`` orders raise, calls recorded."""

    def __init__(self, real, delay_s: float = 0.0):
        self.real, self.delay_s = real, delay_s
        self.model_version, self.catalog_version, self.model_dir = real.model_version, real.catalog_version, None
        self.seen: list[str] = []
        self.batch_sizes: list[int] = []

    def _check(self, order):
        if BOOM in order.text:
            raise ValueError("this order cannot be dispatched")

    def dispatch_batch(self, orders, batch_size=64):
        time.sleep(self.delay_s)
        self.batch_sizes.append(len(orders))
        for order in orders:
            self._check(order)
        self.seen.extend(o.id for o in orders)
        return self.real.dispatch_batch(orders, batch_size=batch_size)

    def dispatch(self, order):
        self._check(order)
        self.seen.append(order.id)
        return self.real.dispatch(order)


def make_app(dispatcher, keys_file, **settings):
    return create_app(ServiceSettings(keys_file=keys_file, **settings), dispatcher=dispatcher)


def client_of(app, headers):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc", headers=headers,
                             timeout=30)


async def post_all(app, bodies, headers):
    async with client_of(app, headers) as c:
        return await asyncio.gather(*(c.post("/v1/dispatch", json=b) for b in bodies))


def without_timings(decision: dict) -> dict:
    return {k: v for k, v in decision.items() if k != "timings_ms"}


def test_fifty_concurrent_requests_get_their_own_per_request_decisions(dispatcher, auth, bodies):
    assert dispatcher.profile == "fast"  # its members score each order alone (see service.batcher)
    keys_file, headers = auth
    stub = Wrapped(dispatcher)
    app = make_app(stub, keys_file, batch_max=16, batch_delay_ms=50)
    replies = asyncio.run(post_all(app, bodies, headers))
    assert [r.status_code for r in replies] == [200] * len(bodies)
    assert max(stub.batch_sizes) > 1 and len(stub.batch_sizes) < len(bodies)  # they were batched
    for body, reply in zip(bodies, replies, strict=True):
        alone = json.loads(dispatcher.dispatch(WorkOrder(**body)).to_json())
        got = reply.json()
        assert got["order_id"] == body["id"]
        assert without_timings(got) == without_timings(alone)


def test_one_bad_order_fails_only_its_request(dispatcher, auth, bodies):
    keys_file, headers = auth
    stub = Wrapped(dispatcher)
    app = make_app(stub, keys_file, batch_max=8, batch_delay_ms=200)
    batch = [dict(b) for b in bodies[:8]]
    batch[3]["text"] = f"{BOOM} {batch[3]['text']}"
    replies = asyncio.run(post_all(app, batch, headers))
    assert [r.status_code for r in replies] == [200, 200, 200, 500, 200, 200, 200, 200]
    assert stub.batch_sizes == [8]  # one batch call, which raised, then each order alone
    assert [r.json()["order_id"] for i, r in enumerate(replies) if i != 3] == [b["id"] for i, b in enumerate(batch)
                                                                               if i != 3]
    assert app.app.state.batcher.fallbacks == 1


def test_a_full_queue_answers_503_with_retry_after(dispatcher, auth, bodies):
    keys_file, headers = auth
    stub = Wrapped(dispatcher, delay_s=0.3)
    app = make_app(stub, keys_file, batch_max=1, batch_delay_ms=0, queue_max=2)
    replies = asyncio.run(post_all(app, bodies[:10], headers))
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {200, 503} and statuses.count(200) <= 4  # one running, two queued (+ timing slack)
    for r in replies:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1 and r.json()["error"]["code"] == "unavailable"
    refused = {b["id"] for b, r in zip(bodies[:10], replies, strict=True) if r.status_code == 503}
    assert not refused & set(stub.seen)  # a refused order never reached the model


def test_a_request_waits_at_most_its_timeout(dispatcher, auth, bodies):
    keys_file, headers = auth
    stub = Wrapped(dispatcher, delay_s=0.5)
    app = make_app(stub, keys_file, batch_max=1, batch_delay_ms=0, request_timeout_s=0.15)

    async def timed():
        async with client_of(app, headers) as c:
            warm = await c.post("/v1/dispatch/batch", json={"orders": []})  # derives the key (scrypt), cached
            assert warm.status_code == 422
            t0 = time.perf_counter()
            replies = await asyncio.gather(*(c.post("/v1/dispatch", json=b) for b in bodies[:3]))
            return time.perf_counter() - t0, replies

    took, replies = asyncio.run(timed())
    assert took < 0.45
    assert [r.status_code for r in replies] == [503] * 3
    assert all(r.headers["Retry-After"] for r in replies)
    time.sleep(0.6)  # the first batch finishes; the two that timed out while queued are never run
    assert len(stub.seen) <= 1


def test_a_timed_out_order_still_queued_is_dropped(dispatcher, bodies):
    stub = Wrapped(dispatcher, delay_s=0.3)
    batcher = MicroBatcher(max_batch=1, delay_s=0, queue_max=8)
    orders = [WorkOrder(**b) for b in bodies[:2]]

    async def go():
        first = asyncio.ensure_future(batcher.dispatch(stub, orders[0], timeout_s=2))
        await asyncio.sleep(0.05)
        with pytest.raises(BatchTimeout):
            await batcher.dispatch(stub, orders[1], timeout_s=0.05)
        return await first

    assert asyncio.run(go()).order_id == orders[0].id
    batcher.close(2)
    assert stub.seen == [orders[0].id]


def test_shutdown_answers_queued_requests_and_refuses_new_ones(dispatcher, bodies):
    stub = Wrapped(dispatcher, delay_s=0.1)
    batcher = MicroBatcher(max_batch=2, delay_s=0, queue_max=16)
    orders = [WorkOrder(**b) for b in bodies[:6]]
    futures = [batcher.submit(stub, o) for o in orders]
    closer = threading.Thread(target=batcher.close, args=(10,))
    closer.start()
    time.sleep(0.02)
    with pytest.raises(ShuttingDown):
        batcher.submit(stub, orders[0])
    closer.join()
    assert [f.result(0).order_id for f in futures] == [o.id for o in orders]  # every queued one answered


def test_after_app_shutdown_dispatch_answers_503(dispatcher, auth, bodies):
    keys_file, headers = auth
    app = make_app(dispatcher, keys_file)
    with TestClient(app, headers=headers) as c:
        assert c.post("/v1/dispatch", json=bodies[0]).status_code == 200
    replies = asyncio.run(post_all(app, bodies[:1], headers))  # the lifespan has closed the batcher
    assert replies[0].status_code == 503 and replies[0].headers["Retry-After"]


def test_overloaded_carries_retry_after():
    batcher = MicroBatcher(max_batch=1, delay_s=10, queue_max=1, retry_after_s=3)
    gate = threading.Event()

    class Blocked:
        def dispatch_batch(self, orders, batch_size=64):
            gate.wait(5)
            return list(orders)

    batcher.submit(Blocked(), "a")
    time.sleep(0.05)  # the worker takes it and waits for its 10 s delay or a full batch: it is full
    batcher.submit(Blocked(), "b")
    with pytest.raises(Overloaded) as err:
        batcher.submit(Blocked(), "c")
    assert err.value.retry_after_s == 3
    gate.set()
    batcher.close(5)


def test_batching_off_still_dispatches(dispatcher, auth, bodies):
    keys_file, headers = auth
    app = make_app(dispatcher, keys_file, batch_max=0)
    replies = asyncio.run(post_all(app, bodies[:3], headers))
    assert [r.json()["order_id"] for r in replies] == [b["id"] for b in bodies[:3]]


def test_admission_refuses_over_the_in_flight_limit_before_reading_the_body(dispatcher, auth, bodies):
    keys_file, headers = auth
    stub = Wrapped(dispatcher, delay_s=0.3)
    # The batcher's queue would take them all: only the admission limit (counted from arrival) refuses.
    app = make_app(stub, keys_file, batch_max=1, batch_delay_ms=0, queue_max=100, max_in_flight=2)
    replies = asyncio.run(post_all(app, bodies[:8], headers))
    statuses = [r.status_code for r in replies]
    assert statuses.count(200) == 2 and statuses.count(503) == 6
    refused = [r for r in replies if r.status_code == 503]
    assert all(int(r.headers["Retry-After"]) >= 1 and r.json()["error"]["code"] == "unavailable" for r in refused)
    assert len(stub.seen) == 2  # a refused order never reached the model
    admission = app.app.state.admission
    assert admission.in_flight == 0 and admission.rejected == 6
    # Refusals are counted under the endpoint, and the limit frees up once the requests are answered.
    assert 'endpoint="/v1/dispatch",method="POST",status="503"} 6' in app.metrics.render()
    assert [r.status_code for r in asyncio.run(post_all(app, bodies[8:10], headers))] == [200, 200]


def test_the_timeout_counts_from_arrival(dispatcher, auth, bodies):
    keys_file, headers = auth
    stub = Wrapped(dispatcher, delay_s=0.0)
    app = make_app(stub, keys_file, request_timeout_s=0.2)

    class SlowBody:  # the body took 0.3 s to arrive after the boundary admitted the request
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            async def slow():
                await asyncio.sleep(0.3)
                return await receive()

            await self.inner(scope, slow, send)

    replies = asyncio.run(post_all(SlowBody(app), bodies[:1], headers))
    assert replies[0].status_code == 503 and stub.seen == []  # no time left: refused, never dispatched


def test_response_bodies_are_the_decisions_json(dispatcher, bodies):
    from dispatch_nlp.service.jsonio import decision_body

    orders = [WorkOrder(**b) for b in bodies[:20]]
    for decision in dispatcher.dispatch_batch(orders):
        assert json.loads(decision_body(decision)) == json.loads(decision.to_json())


def test_batcher_finish_runs_on_its_worker_thread(dispatcher, bodies):
    threads = []

    def finish(decision):
        threads.append(threading.current_thread().name)
        return decision.order_id.encode()

    batcher = MicroBatcher(max_batch=4, delay_s=0, queue_max=8, finish=finish)
    futures = [batcher.submit(dispatcher, WorkOrder(**b)) for b in bodies[:3]]
    answers = [f.result(10) for f in futures]
    batcher.close(5)
    assert [body for _, body in answers] == [b["id"].encode() for b in bodies[:3]]
    assert [d.order_id for d, _ in answers] == [b["id"] for b in bodies[:3]]
    assert set(threads) == {"dispatch-batcher"}
