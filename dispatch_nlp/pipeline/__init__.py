"""The pipeline: one ``Doc`` per order flowing through small components.

``doc.py`` declares what the components produce (``Doc``), ``component.py`` the contract they keep
(``Component``, ``BaseComponent``, ``timed``) and ``registry.py`` how a model's ``config.json`` names
them (``register_component``, ``build_components``). The components themselves live in
``dispatch_nlp.components``; the preprocessing ones (``NormalizeStage``, ``MaskStage``,
``SegmentStage``) are re-exported here for old imports, resolved on first access because their module
imports this package.
"""

from typing import Any

from dispatch_nlp.pipeline.component import BaseComponent, Component, in_batches, timed
from dispatch_nlp.pipeline.doc import EVIDENCE_FIELDS, TITLE_SEPARATOR, Doc

__all__ = ["Doc", "TITLE_SEPARATOR", "EVIDENCE_FIELDS", "Component", "BaseComponent", "timed", "in_batches",
           "NormalizeStage", "MaskStage", "SegmentStage"]

_MOVED = {"NormalizeStage", "MaskStage", "SegmentStage"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from dispatch_nlp.components import preprocess

        return getattr(preprocess, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
