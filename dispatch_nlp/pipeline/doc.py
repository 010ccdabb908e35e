"""``Doc``: the working state of one order as it flows through the pipeline's components.

``Doc.from_order(order)`` takes a ``WorkOrder`` and returns a ``Doc`` whose ``source`` is the text the
stages read (the title, a line break, then the body). Each component fills its own declared field:
``mapped`` (normalize, mask: the normalized, masked text and its offset map), ``pii`` (mask),
``tokens`` (segment), ``statement`` (statement: the problem statement members may read instead of the whole text), ``flags`` (any), and one typed evidence field per evidence stage: ``rules``
(``RulesEvidence``), ``jurisdiction`` (``JurisdictionEvidence``) and ``classifier``
(``ClassifierEvidence``). The router reads those fields; nothing else reads another stage's evidence.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dispatch_nlp.text.normalize import Mapped
from dispatch_nlp.text.pii import PiiSpan
from dispatch_nlp.types import Span, WorkOrder

if TYPE_CHECKING:  # the evidence types live with their components, which import this module
    from dispatch_nlp.components.classifier import ClassifierEvidence
    from dispatch_nlp.components.jurisdiction.evidence import JurisdictionEvidence
    from dispatch_nlp.components.rules import RulesEvidence

TITLE_SEPARATOR = "\n"
EVIDENCE_FIELDS = ("rules", "jurisdiction", "classifier")  # the typed evidence fields, by stage name


@dataclass
class Doc:
    """The working state of one order.

    ``source`` is the text the stages read before normalization: the title (if any), a line break,
    then the body. ``text`` is the normalized, masked text; ``mapped.offsets[i]`` is the index in
    ``source`` of ``text[i]``.
    """

    order: WorkOrder
    source: str
    title_len: int  # characters of ``source`` that belong to the title (plus the separator)
    mapped: Mapped | None = None
    pii: list[PiiSpan] = field(default_factory=list)
    tokens: list[tuple[str, int, int]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    rules: RulesEvidence | None = None
    jurisdiction: JurisdictionEvidence | None = None
    classifier: ClassifierEvidence | None = None
    statement: str | None = None  # the problem statement (summary clause, demand, title), from the statement stage
    timings_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_order(cls, order: WorkOrder) -> Doc:
        if order.title:
            source = order.title + TITLE_SEPARATOR + order.text
            return cls(order, source, len(order.title) + len(TITLE_SEPARATOR))
        return cls(order, order.text, 0)

    @property
    def text(self) -> str:
        return self.mapped.text if self.mapped is not None else self.source

    @property
    def evidence(self) -> MutableMapping[str, Any]:
        """Deprecated: the typed evidence fields as a mapping (``doc.evidence["rules"]`` is
        ``doc.rules``); kept for one release for code written against the old dict."""
        return _EvidenceView(self)

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


class _EvidenceView(MutableMapping[str, Any]):
    """``doc.evidence``: reads and writes go to the typed fields; other keys are a ``KeyError``."""

    def __init__(self, doc: Doc):
        self._doc = doc

    def _check(self, key: str) -> None:
        if key not in EVIDENCE_FIELDS:
            raise KeyError(key)

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        value = getattr(self._doc, key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._check(key)
        setattr(self._doc, key, value)

    def __delitem__(self, key: str) -> None:
        self._check(key)
        if getattr(self._doc, key) is None:
            raise KeyError(key)
        setattr(self._doc, key, None)

    def __iter__(self) -> Iterator[str]:
        return (k for k in EVIDENCE_FIELDS if getattr(self._doc, k) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)
