"""What the service decided lately, for the review queue and the supervisor view.

``DecisionLog.record(orders, decisions, source)`` is called by the dispatch routes after each answer:
it only appends references to a pending list (microseconds on the request path). The pending
decisions are turned into ``Entry`` records by a background thread (a few hundred at a time, twice a
second) or by a reader: the text is masked then (``text.pii.mask_text``, some 0.5 ms an order) and
kept only for orders routed to ``review``; everything else kept is a decision field. Nothing raw is ever written anywhere; the log lives in memory, holds
the last ``capacity`` decisions and starts empty with each process.

An entry's time ``at`` (epoch seconds) is the order's ``created_at`` when it is an ISO 8601 time, else
when the service received it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from dispatch_nlp.text.pii import mask_text
from dispatch_nlp.types import DispatchDecision, WorkOrder

DEFAULT_CAPACITY = 200_000
MAX_PENDING = 50_000  # unconverted decisions held at most; beyond, new ones are counted in ``dropped``
DRAIN_EVERY_S = 0.5  # the background converter's pace
DRAIN_CHUNK = 200  # decisions converted per lock hold (a reader or the converter)
REVIEW_STATUSES = ("open", "accepted", "corrected", "skipped")


@dataclass
class Entry:
    """One logged decision: masked text (review orders only) and decision fields."""

    seq: int
    order_id: str
    at: float
    source: str  # api | console
    route: str
    confidence: float
    category_code: str | None
    category_path: list[str]
    category_confidence: float
    alternatives: list[dict[str, Any]]
    district: dict[str, str] | None
    street: dict[str, str] | None
    community: dict[str, str] | None
    unit: dict[str, str] | None
    cooperating: list[dict[str, str]]
    flags: list[str]
    explanation: list[str]
    model_version: str | None
    catalog_version: str | None
    text: str | None = None
    title: str | None = None
    status: str = "open"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_time(value: str | None) -> float | None:
    """Epoch seconds of an ISO 8601 time (naive times read as UTC); None when it is not one."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _division(d: Any) -> dict[str, str] | None:
    return {"code": d.code, "name": d.name} if d is not None else None


def make_entry(seq: int, order: WorkOrder, decision: DispatchDecision, received: float, source: str) -> Entry:
    """The log record of one decision (the masking happens here, off the request path)."""
    c, j, u = decision.category, decision.jurisdiction, decision.units
    review = decision.route == "review"
    return Entry(
        seq=seq, order_id=order.id or f"svc-{uuid.uuid4().hex[:12]}",
        at=parse_time(order.created_at) or received, source=source, route=decision.route,
        confidence=decision.confidence, category_code=c.code, category_path=list(c.path),
        category_confidence=c.confidence,
        alternatives=[{"code": s.code, "path": list(s.path), "confidence": s.confidence} for s in c.top_k],
        district=_division(j.district), street=_division(j.street), community=_division(j.community),
        unit={"id": u.primary.id, "name": u.primary.name} if u.primary is not None else None,
        cooperating=[{"id": x.id, "name": x.name} for x in u.cooperating], flags=list(decision.flags),
        explanation=[mask_text(x) for x in decision.explanation],
        model_version=decision.model_version, catalog_version=decision.catalog_version,
        text=mask_text(order.text) if review else None,
        title=mask_text(order.title) if review and order.title else None)


class DecisionLog:
    """The last ``capacity`` decisions, in arrival order."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, clock=time.time, background: bool = True):
        self.clock = clock
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._pending: deque[tuple[WorkOrder, DispatchDecision, float, str]] = deque()
        self._lock = threading.Lock()  # the entries
        self._seq = 0
        self._by_seq: dict[int, Entry] = {}
        self.dropped = 0
        self._background = background
        self._converter: threading.Thread | None = None

    def record(self, orders: Sequence[WorkOrder], decisions: Sequence[DispatchDecision], source: str = "api") -> None:
        """Note decisions as they are answered (cheap: the conversion happens off the request)."""
        now = self.clock()
        if len(self._pending) >= MAX_PENDING:
            self.dropped += len(orders)
            return
        self._pending.extend((o, d, now, source) for o, d in zip(orders, decisions, strict=True))
        if self._background and self._converter is None:
            self._converter = threading.Thread(target=self._convert_forever, name="console-log", daemon=True)
            self._converter.start()

    def _convert_forever(self) -> None:
        while True:
            time.sleep(DRAIN_EVERY_S)
            while self._pending:
                self._drain(DRAIN_CHUNK)

    def _drain(self, limit: int | None = None) -> None:
        with self._lock:
            n = 0
            while self._pending and (limit is None or n < limit):
                order, decision, received, source = self._pending.popleft()
                n += 1
                self._seq += 1
                if len(self._entries) == self._entries.maxlen:
                    self._by_seq.pop(self._entries[0].seq, None)
                entry = make_entry(self._seq, order, decision, received, source)
                self._entries.append(entry)
                self._by_seq[entry.seq] = entry

    def entries(self, since: float | None = None) -> list[Entry]:
        """The logged decisions (at or after ``since``), oldest first."""
        self._drain()
        with self._lock:
            return [e for e in self._entries if since is None or e.at >= since]

    def review(self, statuses: Iterable[str] = ("open",)) -> list[Entry]:
        """Orders routed to review whose status is one of ``statuses``."""
        wanted = set(statuses)
        return [e for e in self.entries() if e.route == "review" and e.status in wanted]

    def mark(self, seq: int, status: str) -> Entry | None:
        """Set a review order's status (None when the log no longer holds it)."""
        if status not in REVIEW_STATUSES:
            raise ValueError(f"status: one of {', '.join(REVIEW_STATUSES)}")
        self._drain()
        with self._lock:
            entry = self._by_seq.get(seq)
            if entry is not None:
                entry.status = status
            return entry

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries) + len(self._pending)
