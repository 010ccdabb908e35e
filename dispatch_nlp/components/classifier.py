"""The trained classifier stage: the linear member and, when the model has one, the ONNX encoder member.

``ClassifierStage.load(model_dir, config, catalog)`` reads the members named in the model config's
``classifier`` section. For a batch of docs it computes each member's probabilities per head
(``leaf`` = the catalog leaf, ``appeal``), combines them with the weights and the fusion rule fitted
on the dev split (``combine``), and stores a ``ClassifierEvidence`` in ``doc.classifier``. Training
fits the fusion on the same per-member columns (``aligned_probs``). With ``"fusion": "stacked"`` the
leaf head is fused by a candidate re-scorer (``dispatch_nlp.components.stacker``) that also reads the
catalog rules (``doc.rules``), and the router then mixes no rules in (``rules_weight`` 0). Parent
levels are the sums of their leaves, so a leaf prediction is always consistent with its parents.

With a ``cascade`` entry in the section (``dispatch_nlp.components.cascade``; resolved by the
``Dispatcher`` so that it holds the fast profile's classifier section) the stage also holds the fast
profile's stage (``self.cascade``, sharing the members whose sections are the same): every order gets the
fast evidence first; the orders it is sure of (certainty at least ``skip_above``) keep it
(``ClassifierEvidence.profile`` names the fast profile, ``doc.flags`` gets ``encoder_skipped``), the
others are run again through every member, the shared members' outputs reused, the rest in one batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dispatch_nlp.components.cascade import CASCADE_KEY, SKIPPED_FLAG, CascadeSettings, certainty
from dispatch_nlp.components.members.base import Member
from dispatch_nlp.components.stacker import Stacker
from dispatch_nlp.components.statement import OrderFields
from dispatch_nlp.errors import ModelError
from dispatch_nlp.pipeline.component import BaseComponent, in_batches
from dispatch_nlp.pipeline.doc import Doc

KEEP_TOP = 20  # leaves kept per order (the rest of the mass is spread thin and never decides)
FUSIONS = ("mean", "geometric", "stacked")
PROB_FUSIONS = ("mean", "geometric")  # what ``combine`` computes; ``stacked`` needs the stacker (and the rules)
FLOOR = 1e-6  # probability a member gives a class it does not know, in the geometric fusion

# The members a model config's ``classifier`` section may name, in the order they run: config key ->
# "module:class" (imported only when a model names it, so the runtime never loads what it does not use).
MEMBER_TYPES = {
    "linear": "dispatch_nlp.components.members.linear:LinearMember",
    "encoder": "dispatch_nlp.components.members.encoder:EncoderMember",
    "prototype": "dispatch_nlp.components.members.prototype:PrototypeMember",
}
# What a member reads, when its section says (``"input": ...``): the whole order (default), the
# problem statement the ``statement`` stage keeps (``doc.statement``; the whole text when it kept none),
# or both as ``OrderFields`` (text, statement; ``None`` when no statement stage ran).
MEMBER_INPUTS = ("text", "statement", "fields")
ORT_MEMBERS = ("encoder", "prototype")  # members that run ONNX Runtime (take ``spin`` and ``threads``)


def member_class(name: str):
    """The class of the member a config key names; ModelError for a key no member has."""
    if name not in MEMBER_TYPES:
        raise ModelError(f"unknown classifier member {name!r} (expected one of {', '.join(MEMBER_TYPES)})")
    module, cls = MEMBER_TYPES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def member_input(section) -> str:
    """Which text a member reads: its section's ``input`` (``text`` when the section is a file name)."""
    wanted = section.get("input", "text") if isinstance(section, dict) else "text"
    if wanted not in MEMBER_INPUTS:
        raise ModelError(f"unknown member input {wanted!r} (expected one of {', '.join(MEMBER_INPUTS)})")
    return wanted


def check_fusion(fusion: str) -> str:
    if fusion not in FUSIONS:
        raise ModelError(f"unknown classifier fusion {fusion!r} (expected one of {', '.join(FUSIONS)})")
    return fusion


def combine(probs: dict[str, np.ndarray], weights: dict[str, float], fusion: str = "mean") -> np.ndarray:
    """Fuse members' probabilities over the same columns: ``{member: (n, k)}`` -> ``(n, k)``.

    ``mean``: the weighted average. ``geometric``: the normalised weighted geometric mean (a product
    of experts): a class wins only when no member rules it out, so a weaker member can still veto
    the stronger one's confusions. Shipped model 2026.11.23-enc (4-layer student, with the catalog
    rules), leaf accuracy on dev: linear alone 0.750, best weighted average 0.750 (the encoder gets
    nothing to do), geometric mean with the encoder at 0.25: 0.762; on test through the Dispatcher
    0.740 -> 0.742, and 4.2% -> 9.9% of orders routed automatically at the same precision."""
    if fusion not in PROB_FUSIONS:
        raise ModelError(f"unknown probability fusion {fusion!r} (expected one of {', '.join(PROB_FUSIONS)})")
    names = list(probs)
    wsum = max(sum(weights.get(n, 1.0) for n in names), 1e-9)
    if fusion == "mean":
        return np.asarray(sum(weights.get(n, 1.0) * probs[n] for n in names) / wsum)
    logp = sum(weights.get(n, 1.0) / wsum * np.log(np.clip(probs[n], FLOOR, None)) for n in names)
    logp = logp - logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)


@dataclass
class ClassifierEvidence:
    leaf_probs: dict[str, float] = field(default_factory=dict)
    appeal_probs: dict[str, float] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # member -> its top leaf (for the explanation)
    profile: str | None = None  # the cascade's fast profile when its evidence was kept (None: this stage's own)


@dataclass
class Cascade:
    """The fast profile's stage, when its certainty may spare the rest: see the module docstring."""

    fast: ClassifierStage
    settings: CascadeSettings
    shared: tuple[str, ...] = ()  # members both stages run from the same section (their outputs are reused)


class ClassifierStage(BaseComponent):
    name = "classifier"

    def __init__(self, members: dict[str, Member], weights: dict[str, float], catalog, fusion: str = "mean",
                 inputs: dict[str, str] | None = None, stacker: Stacker | None = None,
                 cascade: Cascade | None = None):
        self.cascade = cascade
        self.fusion = check_fusion(fusion)
        if fusion == "stacked" and stacker is None:
            raise ModelError("the stacked fusion needs a stacker (the classifier section's \"stacker\" file)")
        self.stacker = stacker if fusion == "stacked" else None
        self.members = members
        self.inputs = {m: (inputs or {}).get(m, "text") for m in members}
        self.weights = weights
        self.catalog = catalog

    @classmethod
    def load(cls, model_dir: Path, config: dict, catalog, *, ort_spin: bool = False,
             ort_threads: int | None = None, loaded: dict[str, tuple[Any, Member]] | None = None) -> ClassifierStage:
        """The members named in ``config`` (the model config's ``classifier`` section); ``ort_spin``
        lets the ONNX members' (encoder, prototype) ONNX Runtime threads busy-wait. A resolved
        ``cascade`` entry (with the fast profile's ``classifier`` section) builds the fast stage too;
        ``loaded`` ({member: (its section, the member)}) are members already loaded from a section."""
        members: dict[str, Member] = {}
        inputs: dict[str, str] = {}
        settings = CascadeSettings.from_section(config.get(CASCADE_KEY))
        fast = None
        if settings is not None:
            fast_section = config[CASCADE_KEY].get("classifier")
            if not isinstance(fast_section, dict):
                raise ModelError(f"{model_dir}: the classifier cascade was not resolved against profile "
                                 f"{settings.profile!r} (load the model with Dispatcher.load)")
            fast = cls.load(model_dir, fast_section, catalog, ort_spin=ort_spin, ort_threads=ort_threads)
            loaded = {**(loaded or {}), **{m: (fast_section[m], fast.members[m]) for m in fast.members}}
        for name in MEMBER_TYPES:
            if name not in config:
                continue
            if loaded and name in loaded and loaded[name][0] == config[name]:
                members[name] = loaded[name][1]
            else:
                cls_ = member_class(name)
                extra = {"spin": ort_spin, "threads": ort_threads} if name in ORT_MEMBERS else {}
                members[name] = cls_.load(Path(model_dir), config[name], **extra)
            inputs[name] = member_input(config[name])
        if not members:
            raise ModelError(f"{model_dir}: the classifier section names no member ({', '.join(MEMBER_TYPES)})")
        weights = {m: float(config.get("weights", {}).get(m, 1.0)) for m in members}
        unknown = [c for m in members.values() for c in m.classes("leaf") if c not in catalog]
        if unknown:
            raise ModelError(f"{model_dir}: the model predicts {len(unknown)} categories that are not in catalog "
                             f"{catalog.version} (e.g. {', '.join(unknown[:5])}); load it with the catalog it was trained on")
        fusion = config.get("fusion", "mean")
        stacker = None
        if fusion == "stacked":
            stacker = Stacker.load(Path(model_dir) / str(config.get("stacker", "stacker.json")))
            absent = [m for m in stacker.members if m not in members]
            if absent:
                raise ModelError(f"{model_dir}: the stacker was fitted with members {', '.join(absent)}, "
                                 "which the classifier section does not name")
        cascade = None
        if fast is not None and settings is not None:
            shared = tuple(m for m in fast.members if members.get(m) is fast.members[m]
                           and fast.inputs[m] == inputs[m])
            cascade = Cascade(fast, settings, shared)
        return cls(members, weights, catalog, fusion, inputs, stacker, cascade)

    def member_probs(self, texts: list[str], heads: tuple[str, ...] = ("leaf", "appeal"),
                     statements: list[str | None] | None = None, known: dict[str, dict] | None = None
                     ) -> dict[str, dict]:
        """Each member run once over ``texts`` for all the ``heads`` it has: {member: {head: probs}}.

        A member whose input is ``statement`` reads ``statements[i]`` where there is one (the problem
        statement of order i) and ``texts[i]`` otherwise. One call per member, not one per head: the
        encoder member computes every head from one forward pass, so asking head by head would run the
        network twice per order. ``known``: outputs of some members over the same texts (not run again)."""
        out: dict[str, dict] = {}
        for name, member in self.members.items():
            wanted = [h for h in heads if h in member.heads]
            if known is not None and name in known and all(h in known[name] for h in wanted):
                out[name] = {h: known[name][h] for h in wanted}
            elif wanted:
                out[name] = member.predict_proba(self.member_texts(name, texts, statements), wanted)
        return out

    def member_texts(self, name: str, texts: list[str], statements: list[str | None] | None) -> list[Any]:
        """What member ``name`` reads for each order: the text; the problem statement when it reads
        statements and the order has one; ``OrderFields(text, statement)`` when it reads fields (members
        whose input is ``fields`` take those; every other member takes strings)."""
        wanted = self.inputs.get(name, "text")
        if wanted == "fields":
            return [OrderFields(t, s) for t, s in zip(texts, statements or [None] * len(texts))]
        if wanted != "statement" or statements is None:
            return texts
        return [s if s else t for s, t in zip(statements, texts)]

    def aligned_probs(self, texts: list[str], head: str, member_out: dict[str, dict] | None = None
                      ) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each member's probabilities of one head over the union of their classes (sorted; a class a
        member lacks gets 0): (classes, {member: aligned (n, k)}, {member: its own columns}).

        What :meth:`head_probs` fuses, and what training fits the fusion weights on."""
        if member_out is None:
            member_out = self.member_probs(texts, (head,))
        per_member = {name: (self.members[name].classes(head), out[head])
                      for name, out in member_out.items() if head in out}
        classes = sorted({c for cl, _ in per_member.values() for c in cl})
        index = {c: i for i, c in enumerate(classes)}
        aligned = {}
        for name, (cl, p) in per_member.items():
            full = np.zeros((len(texts), len(classes)), dtype=np.float64)
            full[:, [index[c] for c in cl]] = p
            aligned[name] = full
        return classes, aligned, {n: p for n, (_, p) in per_member.items()}

    def head_probs(self, texts: list[str], head: str, member_out: dict[str, dict] | None = None,
                   rules: list[dict[str, float]] | None = None) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
        """The members' fused probabilities of one head: (classes, probs, per-member probs). A class
        one member lacks counts as probability 0 (``FLOOR`` in the geometric fusion).

        ``member_out`` is :meth:`member_probs` of the same texts, when the caller already has it;
        ``rules`` the rules' distribution of each order (read by the stacked fusion of the leaf head)."""
        classes, aligned, own = self.aligned_probs(texts, head, member_out)
        if not aligned:
            return [], np.zeros((len(texts), 0)), {}
        return classes, self.fuse(head, classes, aligned, rules), own

    def fuse(self, head: str, classes: list[str], aligned: dict[str, np.ndarray],
             rules: list[dict[str, float]] | None = None) -> np.ndarray:
        """Aligned member probabilities of one head fused: the stacker for the leaf head of a stacked
        model, else ``combine`` (a stacked model's appeal head: the weighted mean)."""
        if self.stacker is not None and head == "leaf":
            return self.stacker.predict(aligned, rules_matrix(rules, classes, len(next(iter(aligned.values())))),
                                        classes)
        return combine(aligned, self.weights, self.fusion if self.fusion in PROB_FUSIONS else "mean")

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for batch in in_batches(docs, batch_size):
            yield from self._run(batch)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self._run([doc])))

    def _run(self, docs: list[Doc]) -> list[Doc]:
        live = [d for d in docs if "empty_text" not in d.flags]
        if not live:
            return docs
        if self.cascade is not None:
            self._run_cascade(live, self.cascade)
        else:
            self._fill(live, self.member_probs([d.text for d in live], ("leaf", "appeal"),
                                               [d.statement for d in live]))
        return docs

    def _run_cascade(self, live: list[Doc], cascade: Cascade) -> None:
        """The fast stage over every order; this stage's members over the orders it is unsure of (the
        shared members' outputs sliced, not recomputed)."""
        texts = [d.text for d in live]
        fast_out = cascade.fast.member_probs(texts, ("leaf", "appeal"), [d.statement for d in live])
        cascade.fast._fill(live, fast_out)
        unsure = []
        for i, doc in enumerate(live):
            if doc.classifier is not None and certainty(doc.classifier, cascade.settings.on) >= cascade.settings.skip_above:
                doc.classifier.profile = cascade.settings.profile
                doc.add_flag(SKIPPED_FLAG)
            else:
                unsure.append(i)
        if not unsure:
            return
        rest = [live[i] for i in unsure]
        known = {m: {h: p[unsure] for h, p in fast_out[m].items()} for m in cascade.shared if m in fast_out}
        self._fill(rest, self.member_probs([d.text for d in rest], ("leaf", "appeal"), [d.statement for d in rest],
                                           known=known))

    def _fill(self, live: list[Doc], member_out: dict[str, dict]) -> None:
        """Fuse ``member_out`` (:meth:`member_probs` of ``live``) into each doc's ``ClassifierEvidence``."""
        texts = [d.text for d in live]
        rules = ([d.rules.distribution() if d.rules is not None else {} for d in live]
                 if self.stacker is not None else None)
        leaf_classes, leaf_p, member_p = self.head_probs(texts, "leaf", member_out, rules)
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
            doc.classifier = ev


def rules_matrix(rules: list[dict[str, float]] | None, classes: list[str], n: int) -> np.ndarray:
    """The rules' distributions of ``n`` orders over ``classes`` (leaves no column has are dropped)."""
    out = np.zeros((n, len(classes)))
    if rules is None:
        return out
    index = {c: j for j, c in enumerate(classes)}
    for i, dist in enumerate(rules):
        for code, p in dist.items():
            j = index.get(code)
            if j is not None:
                out[i, j] = p
    return out
