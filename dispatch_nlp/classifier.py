"""The trained classifier stage: the linear member and, when the model has one, the ONNX encoder member.

``ClassifierStage.load(model_dir, config, catalog)`` reads the members named in the model config's
``classifier`` section. For a batch of docs it computes each member's probabilities per head
(``leaf`` = the catalog leaf, ``appeal``), averages them with the weights fitted on the dev split,
and stores a ``ClassifierEvidence`` under ``doc.evidence["classifier"]``. Parent levels are the sums
of their leaves, so a leaf prediction is always consistent with its parents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelError
from .linear import LinearMember
from .pipeline import BaseComponent, Doc

KEEP_TOP = 20  # leaves kept per order (the rest of the mass is spread thin and never decides)


@dataclass
class ClassifierEvidence:
    leaf_probs: dict[str, float] = field(default_factory=dict)
    appeal_probs: dict[str, float] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # member -> its top leaf (for the explanation)


class ClassifierStage(BaseComponent):
    name = "classifier"

    def __init__(self, members: dict[str, object], weights: dict[str, float], catalog):
        self.members = members
        self.weights = weights
        self.catalog = catalog

    @classmethod
    def load(cls, model_dir: Path, config: dict, catalog) -> "ClassifierStage":
        members: dict[str, object] = {}
        if "linear" in config:
            members["linear"] = LinearMember.load(Path(model_dir) / config["linear"])
        if "encoder" in config:
            from .encoder import EncoderMember

            members["encoder"] = EncoderMember.load(Path(model_dir), config["encoder"])
        if not members:
            raise ModelError(f"{model_dir}: the classifier section names no member (linear, encoder)")
        weights = {m: float(config.get("weights", {}).get(m, 1.0)) for m in members}
        unknown = [c for m in members.values() for c in m.classes("leaf") if c not in catalog]
        if unknown:
            raise ModelError(f"{model_dir}: the model predicts {len(unknown)} categories that are not in catalog "
                             f"{catalog.version} (e.g. {', '.join(unknown[:5])}); load it with the catalog it was trained on")
        return cls(members, weights, catalog)

    def member_probs(self, texts: list[str], heads: tuple[str, ...] = ("leaf", "appeal")) -> dict[str, dict]:
        """Each member run once over ``texts`` for all the ``heads`` it has: {member: {head: probs}}.

        One call per member, not one per head: the encoder member computes every head from one forward
        pass, so asking head by head would run the network twice per order."""
        out: dict[str, dict] = {}
        for name, member in self.members.items():
            wanted = [h for h in heads if h in member.heads]
            if wanted:
                out[name] = member.probs(texts, wanted)
        return out

    def head_probs(self, texts: list[str], head: str, member_out: dict[str, dict] | None = None
                   ) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
        """The weighted average over members of one head: (classes, probs, per-member probs).

        ``member_out`` is :meth:`member_probs` of the same texts, when the caller already has it."""
        if member_out is None:
            member_out = self.member_probs(texts, (head,))
        per_member = {name: (self.members[name].classes(head), out[head])
                      for name, out in member_out.items() if head in out}
        if not per_member:
            return [], np.zeros((len(texts), 0)), {}
        classes = sorted({c for cl, _ in per_member.values() for c in cl})
        index = {c: i for i, c in enumerate(classes)}
        total = np.zeros((len(texts), len(classes)), dtype=np.float64)
        wsum = 0.0
        for name, (cl, p) in per_member.items():
            w = self.weights.get(name, 1.0)
            cols = [index[c] for c in cl]
            total[:, cols] += w * p
            wsum += w
        return classes, total / max(wsum, 1e-9), {n: p for n, (_, p) in per_member.items()}

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                yield from self._run(batch)
                batch = []
        if batch:
            yield from self._run(batch)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self._run([doc])))

    def _run(self, docs: list[Doc]) -> list[Doc]:
        live = [d for d in docs if "empty_text" not in d.flags]
        if not live:
            return docs
        texts = [d.text for d in live]
        member_out = self.member_probs(texts, ("leaf", "appeal"))
        leaf_classes, leaf_p, member_p = self.head_probs(texts, "leaf", member_out)
        appeal_classes, appeal_p, _ = self.head_probs(texts, "appeal", member_out)
        for i, doc in enumerate(live):
            top = np.argsort(-leaf_p[i])[:KEEP_TOP]
            ev = ClassifierEvidence(
                leaf_probs={leaf_classes[j]: float(leaf_p[i, j]) for j in top},
                appeal_probs={c: float(appeal_p[i, j]) for j, c in enumerate(appeal_classes)},
            )
            for name, p in member_p.items():
                member = self.members[name]
                ev.members[name] = member.classes("leaf")[int(np.argmax(p[i]))]
            doc.evidence["classifier"] = ev
        return docs
