"""The encoder member at run time: a fine-tuned transformer encoder exported to ONNX (int8), run by
ONNX Runtime, tokenized by the ``tokenizers`` library. No torch.

Model directory files (named in the config's ``classifier.encoder`` section): the ONNX graph (inputs
``input_ids``, ``attention_mask``; one logits output per head), ``tokenizer.json`` and a JSON meta
file with the maximum length, the classes and the softmax temperature of each head.

``EncoderMember.load(model_dir, section, spin=False)``; ``member.predict_proba(texts, heads)`` →
``{head: (n, classes)}``; ``member.save(directory)`` copies its three files there. Both members satisfy
``dispatch_nlp.components.members.base.Member``, so the classifier stage treats them alike.
``spin`` (whether ONNX Runtime threads busy-wait) is passed down from the edge (the CLI reads
``DISPATCH_NLP_ORT_SPIN``); the library reads no such variable.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dispatch_nlp.components.members.linear import softmax
from dispatch_nlp.errors import ModelError


def padded_feeds(encodings, pad_id: int) -> dict[str, np.ndarray]:
    """Token ids of a batch (``tokenizers`` encodings), right-padded with ``pad_id`` to the longest, and
    their attention mask: the ONNX graphs' ``input_ids`` and ``attention_mask``."""
    n = max((len(e.ids) for e in encodings), default=1)
    ids = np.full((len(encodings), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), n), dtype=np.int64)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def copy_member_files(files: dict[str, Path], path: str | Path, what: str) -> None:
    """Copy an ONNX member's files into the directory ``path`` (``what`` names the member in the error
    when it was not loaded from files)."""
    if not files:
        raise ModelError(f"this {what} member was not loaded from files; nothing to save")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    for src in files.values():
        if src.resolve() != (out / src.name).resolve():
            shutil.copyfile(src, out / src.name)


def session_options(threads: int | None = None, spin: bool = False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    n = threads or min(os.cpu_count() or 1, 4)
    so.intra_op_num_threads = n
    so.inter_op_num_threads = 1
    # No busy-waiting between runs: a spinning runtime thread takes a core from whatever runs next
    # (the rest of the pipeline, a second batch worker, the web server). Measured on 2 cores with
    # three int8 sessions called in turn: 4-layer student 25.0 -> 16.0 ms, 12 layers 93.7 -> 55.2 ms
    # per 300-character order; alone it costs the fused student nothing (16.7 vs 17.3 ms).
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return so


class EncoderMember:
    def __init__(self, session, tokenizer, meta: dict, files: dict[str, Path] | None = None):
        self.files = files or {}  # section key (onnx, tokenizer, meta) -> the file it was loaded from
        self.session = session
        self.tokenizer = tokenizer
        self.meta = meta
        self.max_len = int(meta.get("max_len", 160))
        self.heads = {h: {"classes": v["classes"], "temperature": float(v.get("temperature", 1.0))}
                      for h, v in meta["heads"].items()}
        self.outputs = [o.name for o in session.get_outputs()]
        self.pad_id = int(meta.get("pad_id", 1))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_len)

    @classmethod
    def load(cls, model_dir: str | Path, section: dict, *, spin: bool = False,
             threads: int | None = None) -> EncoderMember:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            files = {k: Path(model_dir) / section[k] for k in ("onnx", "tokenizer", "meta")}
            meta = json.loads(files["meta"].read_text(encoding="utf-8"))
            tokenizer = Tokenizer.from_file(str(files["tokenizer"]))
            session = ort.InferenceSession(str(files["onnx"]), session_options(threads, spin=spin),
                                           providers=["CPUExecutionProvider"])
        except (OSError, KeyError, ValueError, Exception) as exc:  # ORT raises its own exception types
            raise ModelError(f"{model_dir}: encoder member not loadable ({type(exc).__name__}: {exc})") from None
        return cls(session, tokenizer, meta, files)

    def save(self, path: str | Path) -> None:
        """Copy the member's files (ONNX graph, tokenizer, meta) into the directory ``path``."""
        copy_member_files(self.files, path, "encoder")

    def classes(self, head: str) -> list[str]:
        return self.heads[head]["classes"]

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        return padded_feeds(self.tokenizer.encode_batch(texts), self.pad_id)

    def logits(self, texts: list[str]) -> dict[str, np.ndarray]:
        # Sort by length so a batch pads to similar lengths; restore the order after.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = {h: np.zeros((len(texts), len(v["classes"])), dtype=np.float32) for h, v in self.heads.items()}
        step = 32
        for i in range(0, len(texts), step):
            idx = order[i: i + step]
            feeds = self.encode([texts[j] for j in idx])
            results = self.session.run(None, feeds)
            for name, value in zip(self.outputs, results):
                head = name.removesuffix("_logits")
                if head in out:
                    out[head][idx] = value
        return out

    def predict_proba(self, texts: list[str], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        logits = self.logits(texts)
        return {h: softmax(logits[h], self.heads[h]["temperature"]) for h in (heads or list(self.heads))}

    probs = predict_proba  # the name before the Member protocol
