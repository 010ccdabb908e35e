"""The component contract: ``__call__(doc) -> doc`` and ``pipe(docs, batch_size) -> docs``.

A component takes a ``Doc`` and returns it with its own field filled (see ``doc.py``); ``pipe`` does
the same for many and may batch internally (the classifier does). ``BaseComponent`` gives the
one-at-a-time ``pipe``; ``timed(component, docs, batch_size)`` runs one over a batch and charges each
doc its share of the time in ``doc.timings_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from dispatch_nlp.pipeline.doc import Doc


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


def in_batches(docs: Iterable[Doc], size: int) -> Iterator[list[Doc]]:
    """``docs`` in lists of ``size`` (the last may be shorter): how a batching ``pipe`` reads its input."""
    batch: list[Doc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def timed(component: Component, docs: list[Doc], batch_size: int) -> list[Doc]:
    """Run a component over a batch, charging each doc its share of the time."""
    t0 = time.perf_counter()
    out = list(component.pipe(docs, batch_size=batch_size))
    share = (time.perf_counter() - t0) * 1000.0 / max(len(out), 1)
    for doc in out:
        doc.timings_ms[component.name] = round(doc.timings_ms.get(component.name, 0.0) + share, 4)
    return out
