"""Dynamic micro-batching for ``POST /v1/dispatch``: concurrent requests wait in one bounded queue and
one worker thread runs them as a single ``Dispatcher.dispatch_batch`` call, when ``max_batch`` orders
are waiting or ``delay_s`` has passed since the oldest one arrived (Triton's dynamic batcher,
TorchServe's batch_size / max_batch_delay). The event loop never runs model code: it puts an order in
the queue and awaits its future.

    batcher = MicroBatcher(max_batch=32, delay_s=0.0, queue_max=256)
    decision = await batcher.dispatch(dispatcher, order, timeout_s=5.0)

With ``finish`` (e.g. ``service.jsonio.decision_body``) the worker thread also turns each decision into
what the request answers, ``(decision, finish(decision))``, so the event loop does not serialize either.

- **Same answers.** An order's decision is the one ``dispatcher.dispatch(order)`` gives (the timings
  aside): the fast profile's members score each order on its own. (The full profile's prototype graph
  computes in float with no per-batch scales, so an order's answer does not depend on its batch; only
  its probabilities may differ in the last decimal kept, the encoder's sums padded otherwise.)
- **One bad order fails only its request.** When the batch call raises, the worker dispatches the
  batch's orders one by one and gives each request its own decision or its own exception.
- **Back-pressure.** A full queue refuses at once (``Overloaded``: the route answers 503 with
  ``Retry-After``) instead of letting latency grow without bound; a request waits at most its timeout
  (``BatchTimeout``), and a request that timed out while still queued is dropped, never run.
- **Refused at once when it would be late.** The worker keeps a running estimate of its seconds per order
  (an exponentially weighted mean over its batches); a request whose deadline comes before the orders
  ahead of it and itself would be done (the rest of the running batch, then the queue, at that rate) is
  refused at once (``Overloaded``) instead of waiting out its timeout for a 503 anyway. Over saturation
  the queue so holds at most about a timeout's worth of work, whatever the model's speed (profile,
  workers, other load on the machine). Before the first batch has been timed nothing is refused so.
- **Clean shutdown.** ``close()`` refuses new requests (``ShuttingDown``), lets the worker finish every
  request already queued, then stops it.
- **Reloads.** Each request carries the dispatcher it took from the holder; a batch holds the orders
  of one dispatcher only, so a reload never mixes models within a batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("dispatch_nlp.service")

EWMA_WEIGHT = 0.2  # the weight of the latest batch in the seconds-per-order estimate


class Overloaded(Exception):
    """The queue is full: try again after ``retry_after_s``."""

    def __init__(self, retry_after_s: float):
        super().__init__(f"the dispatch queue is full; retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class BatchTimeout(Exception):
    """The request was not answered within its timeout."""


class ShuttingDown(Exception):
    """The server is stopping and takes no new requests."""


@dataclass
class _Item:
    dispatcher: Any
    order: Any
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    queued_at: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """One bounded queue and one worker thread that runs queued orders in batches (started on the
    first request, stopped by ``close``)."""

    def __init__(self, *, max_batch: int = 32, delay_s: float = 0.0, queue_max: int = 256,
                 retry_after_s: float = 1.0, finish: Callable[[Any], Any] | None = None):
        if max_batch < 1 or queue_max < 1 or delay_s < 0:
            raise ValueError("max_batch and queue_max must be at least 1 and delay_s at least 0")
        self.max_batch, self.delay_s, self.queue_max = max_batch, delay_s, queue_max
        self.retry_after_s = retry_after_s
        self.finish = finish
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # batch calls made (for tests and metrics)
        self.fallbacks = 0  # batches that raised and were run order by order
        self.submitted = 0  # orders queued since start
        self.refused_late = 0  # orders refused because they would have missed their deadline
        self.order_s: float | None = None  # the worker's seconds per order (EWMA over batches; None: not timed yet)
        self._busy_until = 0.0  # when the running batch should be done (time.monotonic(), estimated)

    # -- the request side -------------------------------------------------------------------------
    def submit(self, dispatcher: Any, order: Any, deadline: float | None = None) -> concurrent.futures.Future:
        """Queue one order; its future gets the decision or the exception dispatching it raised.
        Raises ``ShuttingDown`` after ``close`` and ``Overloaded`` when the queue is full or when, at the
        worker's measured rate, the order would not be done by ``deadline`` (``time.monotonic()``)."""
        item = _Item(dispatcher, order)
        with self._cond:
            if self._closed:
                raise ShuttingDown("the server is shutting down")
            if len(self._queue) >= self.queue_max:
                raise Overloaded(self.retry_after_s)
            if deadline is not None and self.expected_done(item.queued_at) > deadline:
                self.refused_late += 1
                raise Overloaded(self.retry_after_s)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="dispatch-batcher", daemon=True)
                self._thread.start()
            self._queue.append(item)
            self.submitted += 1
            self._cond.notify()
        return item.future

    async def dispatch(self, dispatcher: Any, order: Any, *, timeout_s: float | None = None) -> Any:
        """Queue one order and await its decision (``BatchTimeout`` after ``timeout_s``; a request
        still queued then is dropped)."""
        future = self.submit(dispatcher, order, None if timeout_s is None else time.monotonic() + timeout_s)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError:
            future.cancel()  # still queued: the worker skips it; already running: its result is dropped
            raise BatchTimeout(f"no decision within {timeout_s:g} s") from None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def expected_done(self, now: float) -> float:
        """When an order queued ``now`` should be decided: the running batch's rest, then every queued
        order and this one at the measured seconds per order (``now`` itself before any batch was
        timed, and when the worker is idle: an order with nothing ahead of it always runs, so the estimate
        stays current even after a batch that was once very slow). Call with the lock held or accept a racy
        estimate."""
        if self.order_s is None or (not self._queue and self._busy_until <= now):
            return now
        return max(now, self._busy_until) + (len(self._queue) + 1) * self.order_s

    # -- start and shutdown (the application's lifespan) --------------------------------------------
    def open(self) -> None:
        """Take requests again after ``close`` (an application started anew)."""
        with self._cond:
            self._closed = False

    def close(self, timeout_s: float | None = None) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    # -- the worker ---------------------------------------------------------------------------------
    def _take(self) -> list[_Item] | None:
        """The next batch (None: closed and drained). Waits for a first order, then until the batch is
        full or ``delay_s`` has passed since that order arrived (at once when closing)."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    self._thread = None  # this worker ends; a submit after open() starts a new one
                    return None
                self._cond.wait()
            deadline = self._queue[0].queued_at + self.delay_s
            while len(self._queue) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[_Item] = []
            dispatcher = self._queue[0].dispatcher
            while self._queue and len(batch) < self.max_batch and self._queue[0].dispatcher is dispatcher:
                batch.append(self._queue.popleft())
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            live = [item for item in batch if item.future.set_running_or_notify_cancel()]
            if live:
                try:
                    self._run(live)
                except BaseException as exc:  # noqa: BLE001 - a boundary: no request may wait forever
                    log.error("dispatch batcher: %s", type(exc).__name__)
                    for item in live:
                        if not item.future.done():
                            item.future.set_exception(exc)

    def _run(self, items: list[_Item]) -> None:
        dispatcher = items[0].dispatcher
        self.batches += 1
        t0 = time.monotonic()
        if self.order_s is not None:
            self._busy_until = t0 + len(items) * self.order_s
        try:
            decisions = dispatcher.dispatch_batch([item.order for item in items], batch_size=len(items))
        except Exception:  # noqa: BLE001 - one bad order: run them one by one, each gets its own answer
            self.fallbacks += 1
            for item in items:
                try:
                    item.future.set_result(self._answer(dispatcher.dispatch(item.order)))
                except Exception as exc:  # noqa: BLE001 - this request's own error
                    item.future.set_exception(exc)
            self._busy_until = 0.0
            return
        for item, decision in zip(items, decisions, strict=True):
            try:
                item.future.set_result(self._answer(decision))
            except Exception as exc:  # noqa: BLE001 - this request's own error (a decision finish could not write)
                item.future.set_exception(exc)
        self._timed(len(items), time.monotonic() - t0)

    def _timed(self, n: int, seconds: float) -> None:
        """Fold one batch's seconds per order into the estimate (a batch that fell back to one-by-one
        dispatch is not timed: it says little about the next)."""
        per = seconds / n
        self.order_s = per if self.order_s is None else (1 - EWMA_WEIGHT) * self.order_s + EWMA_WEIGHT * per
        self._busy_until = 0.0

    def _answer(self, decision: Any) -> Any:
        return decision if self.finish is None else (decision, self.finish(decision))
