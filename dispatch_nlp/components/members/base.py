"""The classifier member contract: what the classifier stage asks of a member, and what fits one.

A ``Member`` maps texts (normalized, masked: ``doc.text``) to class probabilities per head
(``leaf``, ``appeal``): ``heads`` (the heads it has), ``classes(head)`` (the column order),
``predict_proba(texts, heads) -> {head: (n, len(classes(head))) array}``, ``save(path)`` and the
class method ``load(model_dir, section)`` (``section``: the member's entry in the config's
``classifier`` section). Fitting is training's job, so the runtime never imports training: a
``MemberFitter`` is ``fit(train_texts, train_labels, dev_texts, dev_labels) -> Member``
(``dispatch_nlp.training.linear.fit_linear``; the encoder member is distilled, exported to ONNX and
loaded back by ``dispatch_nlp.training.encoder_train.fit_encoder_member``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Member", "MemberFitter"]


@runtime_checkable
class Member(Protocol):
    @property
    def heads(self) -> Mapping[str, Any]: ...  # head -> what the member keeps for it

    def classes(self, head: str) -> list[str]: ...

    def predict_proba(self, texts: list[str], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, model_dir: str | Path, section: Any) -> Member: ...


@runtime_checkable
class MemberFitter(Protocol):
    def __call__(self, train_texts: list[str], train_labels: dict[str, list[str]], dev_texts: list[str],
                 dev_labels: dict[str, list[str]]) -> Member: ...
