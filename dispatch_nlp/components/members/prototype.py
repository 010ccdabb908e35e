"""The prototype member: a frozen sentence encoder compares an order with descriptions of each class.

Zero-shot: nothing is trained on orders. Each catalog leaf (and each appeal type) is described by a
few *prototypes* — its path with its keywords, its path with the responsible unit, and everyday
sentences written for it (``catalog/prototypes-beijing.yaml``) — embedded once, at build time, as e5
passages (``"passage: ..."``). At run time the order is embedded as an e5 query (``"query: "`` +
text, mean pooling over real tokens, L2-normalised: the ONNX graph does all of it) and each class
scores the cosine similarity of its best prototype (``aggregate: max``) or a soft maximum over its
prototypes (``aggregate: lse`` with sharpness ``beta``). ``softmax(score / temperature)`` turns the
scores into probabilities.

Model directory files (named in the config's ``classifier.prototype`` section): ``onnx`` (the
embedding graph: inputs ``input_ids``, ``attention_mask``; output ``embedding``), ``tokenizer``
(``tokenizer.json`` of the encoder), ``prototypes`` (an ``.npz``: per head ``<head>_vectors`` (P, d)
float16 and ``<head>_owner`` (P,) class index) and ``meta`` (JSON: ``max_len``, ``pad_id``,
``query_prefix``, per head ``classes``, ``temperature``, ``aggregate``, ``beta``).

``PrototypeMember.load(model_dir, section, spin=False, threads=None)``; ``predict_proba(texts, heads)``
→ ``{head: (n, classes)}``; ``embed(texts)`` → ``(n, d)`` unit vectors; ``save(directory)``. Satisfies
``dispatch_nlp.components.members.base.Member``. No torch: ONNX Runtime and ``tokenizers`` only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dispatch_nlp.components.members.encoder import copy_member_files, padded_feeds, session_options
from dispatch_nlp.components.members.linear import softmax
from dispatch_nlp.errors import ModelError

FILES = ("onnx", "tokenizer", "prototypes", "meta")
AGGREGATES = ("max", "lse")
BATCH = 32  # orders per ONNX run (sorted by length, so a batch pads little)


class PrototypeHead:
    """One head's prototypes: unit vectors (P, d), the class each belongs to, and how to score."""

    def __init__(self, classes: list[str], vectors: np.ndarray, owner: np.ndarray, *, temperature: float = 0.05,
                 aggregate: str = "max", beta: float = 50.0):
        if aggregate not in AGGREGATES:
            raise ModelError(f"unknown prototype aggregate {aggregate!r} (expected one of {', '.join(AGGREGATES)})")
        if len(vectors) != len(owner) or (len(owner) and (owner.min() < 0 or owner.max() >= len(classes))):
            raise ModelError("prototype vectors and owners do not match the classes")
        missing = sorted(set(range(len(classes))) - set(owner.tolist()))
        if missing:
            raise ModelError(f"{len(missing)} classes have no prototype (e.g. {classes[missing[0]]})")
        self.classes = list(classes)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.temperature = float(temperature)
        self.aggregate = aggregate
        self.beta = float(beta)
        order = np.argsort(self.owner, kind="stable")  # prototypes grouped by class, for reduceat
        self._order = order
        self._starts = np.searchsorted(self.owner[order], np.arange(len(classes)))

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Class scores (n, classes) of unit query vectors (n, d): cosine of the best prototype, or a
        soft maximum ``log(mean(exp(beta * cos))) / beta`` over the class's prototypes."""
        sims = (queries @ self.vectors.T)[:, self._order]
        if self.aggregate == "max":
            return np.maximum.reduceat(sims, self._starts, axis=1)
        top = sims.max(axis=1, keepdims=True)
        e = np.exp(self.beta * (sims - top))
        counts = np.diff(np.append(self._starts, sims.shape[1]))
        mass = np.add.reduceat(e, self._starts, axis=1) / counts
        return top + np.log(np.maximum(mass, 1e-300)) / self.beta

    def proba(self, queries: np.ndarray) -> np.ndarray:
        return softmax(self.scores(queries), self.temperature)


class PrototypeMember:
    def __init__(self, session, tokenizer, meta: dict, heads: dict[str, PrototypeHead],
                 files: dict[str, Path] | None = None):
        self.files = files or {}
        self.session = session
        self.tokenizer = tokenizer
        self.meta = meta
        self.max_len = int(meta.get("max_len", 96))
        self.pad_id = int(meta.get("pad_id", 1))
        self.query_prefix = str(meta.get("query_prefix", "query: "))
        self.heads = heads
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_len)

    @classmethod
    def load(cls, model_dir: str | Path, section: dict, *, spin: bool = False,
             threads: int | None = None) -> PrototypeMember:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            files = {k: Path(model_dir) / section[k] for k in FILES}
            meta = json.loads(files["meta"].read_text(encoding="utf-8"))
            with np.load(files["prototypes"]) as z:
                heads = {h: PrototypeHead(v["classes"], z[f"{h}_vectors"], z[f"{h}_owner"],
                                          temperature=float(v.get("temperature", 0.05)),
                                          aggregate=v.get("aggregate", "max"), beta=float(v.get("beta", 50.0)))
                         for h, v in meta["heads"].items()}
            tokenizer = Tokenizer.from_file(str(files["tokenizer"]))
            session = ort.InferenceSession(str(files["onnx"]), session_options(threads, spin=spin),
                                           providers=["CPUExecutionProvider"])
        except ModelError as exc:
            raise ModelError(f"{model_dir}: prototype member not loadable ({exc})") from None
        except (OSError, KeyError, ValueError, TypeError, Exception) as exc:  # ORT raises its own types
            raise ModelError(f"{model_dir}: prototype member not loadable ({type(exc).__name__}: {exc})") from None
        return cls(session, tokenizer, meta, heads, files)

    def save(self, path: str | Path) -> None:
        """Copy the member's files (graph, tokenizer, prototypes, meta) into the directory ``path``."""
        copy_member_files(self.files, path, "prototype")

    def classes(self, head: str) -> list[str]:
        return self.heads[head].classes

    def feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        return padded_feeds(self.tokenizer.encode_batch([self.query_prefix + t for t in texts]), self.pad_id)

    def embed(self, texts: list[str]) -> np.ndarray:
        """e5 query embeddings (n, d), unit length, in the order of ``texts``."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        dim = int(self.heads[next(iter(self.heads))].vectors.shape[1]) if self.heads else 0
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i in range(0, len(texts), BATCH):
            idx = order[i: i + BATCH]
            out[idx] = self.session.run(None, self.feeds([texts[j] for j in idx]))[0]
        return out

    def predict_proba(self, texts: list[str], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        wanted = list(heads or self.heads)
        if not texts:
            return {h: np.zeros((0, len(self.heads[h].classes))) for h in wanted}
        queries = self.embed(texts)
        return {h: self.heads[h].proba(queries) for h in wanted}

    probs = predict_proba
