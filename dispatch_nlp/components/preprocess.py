"""The preprocessing components: normalize, mask personal data, segment into words.

Each takes a ``Doc`` and returns it: ``NormalizeStage`` fills ``doc.mapped`` (NFKC, traditional →
simplified, control characters, whitespace, optional handling-trail cutting, truncation to
``max_chars``), ``MaskStage`` replaces personal data by placeholders in ``doc.mapped`` and fills
``doc.pii``, ``SegmentStage`` fills ``doc.tokens``. ``build_segmenter(catalog, gazetteer, engine)``
returns the segmenter with the user dictionary every path uses. Inference and training build these
through the same factories (``dispatch_nlp.components.factories``).
"""

from __future__ import annotations

from dispatch_nlp.pipeline.component import BaseComponent
from dispatch_nlp.pipeline.doc import Doc
from dispatch_nlp.text.normalize import Mapped, Normalizer
from dispatch_nlp.text.pii import PiiMasker
from dispatch_nlp.text.segment import Segmenter

__all__ = ["NormalizeStage", "MaskStage", "SegmentStage", "build_segmenter"]


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


def build_segmenter(catalog, gazetteer, engine: str = "rjieba") -> Segmenter:
    """The segmenter with the user dictionary every path uses: catalog keywords and place names."""
    user_words = {kw for item in catalog.leaves() for kw in item.keywords}
    user_words |= {s for s, _, kind in gazetteer.surfaces() if len(s) >= 2 and kind != "short"}
    return Segmenter(user_words, engine=engine)
