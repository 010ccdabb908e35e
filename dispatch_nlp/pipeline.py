"""The pipeline: one ``Doc`` per order flowing through small components.

A component takes a ``Doc`` and returns it with its own evidence added (``__call__(doc) -> doc``);
``pipe(docs, batch_size)`` does the same for many, and may batch internally (the classifier does).
Components never read each other's evidence, except the fusion step at the end (``route.py``), which is
the one place that combines it.

The preprocessing components (normalize, mask, segment) live here because every path needs them in
the same order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from dispatch_nlp.text.normalize import Mapped, Normalizer
from dispatch_nlp.text.pii import PiiMasker, PiiSpan
from dispatch_nlp.text.segment import Segmenter
from dispatch_nlp.types import Span, WorkOrder

TITLE_SEPARATOR = "\n"


@dataclass
class Doc:
    """The working state of one order.

    ``source`` is the text the stages read before normalization: the title (if any), a line break,
    then the body. ``text`` is the normalized, masked text; ``mapped.offsets[i]`` is the index in
    ``source`` of ``text[i]``. ``evidence`` holds each stage's output under its name.
    """

    order: WorkOrder
    source: str
    title_len: int  # characters of ``source`` that belong to the title (plus the separator)
    mapped: Mapped | None = None
    pii: list[PiiSpan] = field(default_factory=list)
    tokens: list[tuple[str, int, int]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_order(cls, order: WorkOrder) -> "Doc":
        if order.title:
            source = order.title + TITLE_SEPARATOR + order.text
            return cls(order, source, len(order.title) + len(TITLE_SEPARATOR))
        return cls(order, order.text, 0)

    @property
    def text(self) -> str:
        return self.mapped.text if self.mapped is not None else self.source

    def add_flag(self, flag: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)

    def evidence_span(self, start: int, end: int) -> Span:
        """A span of ``text`` as a span of the field of the order it came from."""
        m = self.mapped or Mapped.identity(self.source)
        s, e = m.span_to_original(start, end, len(self.source))
        if self.title_len and s < self.title_len:
            title = self.order.title or ""
            e = min(e, len(title))
            return Span(s, e, title[s:e], "title")
        s, e = s - self.title_len, e - self.title_len
        return Span(s, e, self.order.text[s:e], "text")


@runtime_checkable
class Component(Protocol):
    name: str

    def __call__(self, doc: Doc) -> Doc: ...

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]: ...


class BaseComponent:
    """Default ``pipe``: one doc at a time. Components that can batch override it."""

    name = "component"

    def __call__(self, doc: Doc) -> Doc:  # pragma: no cover - abstract
        raise NotImplementedError

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for doc in docs:
            yield self(doc)


def timed(component: Component, docs: list[Doc], batch_size: int) -> list[Doc]:
    """Run a component over a batch, charging each doc its share of the time."""
    t0 = time.perf_counter()
    out = list(component.pipe(docs, batch_size=batch_size))
    share = (time.perf_counter() - t0) * 1000.0 / max(len(out), 1)
    for doc in out:
        doc.timings_ms[component.name] = round(doc.timings_ms.get(component.name, 0.0) + share, 4)
    return out


class NormalizeStage(BaseComponent):
    """NFKC, traditional → simplified, control characters, whitespace; truncation to ``max_chars``."""

    name = "normalize"

    def __init__(self, *, cut_trails: bool = False, max_chars: int = 5000):
        self.normalizer = Normalizer(cut_trails=cut_trails)
        self.max_chars = max_chars

    def __call__(self, doc: Doc) -> Doc:
        source = doc.source
        if len(source) > self.max_chars * 4:
            # Do not spend time normalizing megabytes that will be cut anyway.
            source = source[: self.max_chars * 4]
        mapped, flags = self.normalizer(source)
        for f in flags:
            doc.add_flag(f)
        if len(mapped.text) > self.max_chars:
            mapped = Mapped(mapped.text[: self.max_chars], mapped.offsets[: self.max_chars])
            doc.add_flag("truncated")
        doc.mapped = mapped
        if not mapped.text.strip():
            doc.add_flag("empty_text")
        return doc


class MaskStage(BaseComponent):
    """Replace personal data by placeholders, keeping the offset map."""

    name = "mask"

    def __init__(self) -> None:
        self.masker = PiiMasker()

    def __call__(self, doc: Doc) -> Doc:
        mapped, spans = self.masker(doc.mapped or Mapped.identity(doc.source))
        doc.mapped = mapped
        doc.pii = spans
        if spans:
            doc.add_flag("pii_masked")
        return doc


class SegmentStage(BaseComponent):
    """Words with offsets into ``doc.text``."""

    name = "segment"

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def __call__(self, doc: Doc) -> Doc:
        doc.tokens = self.segmenter.tokenize(doc.text)
        return doc
