"""Encoder variants for the latency benchmark, all with the classifier-member interface of
``dispatch_nlp`` (``heads``, ``classes(head)``, ``predict_proba(texts, heads)``) so each can be put into the
real pipeline in place of the shipped encoder member.

- torch eager: the prepared checkpoint (``work/encoder``, 12 layers) or its first N layers, in
  ``torch.inference_mode``, mean-pooled, with one random linear layer per head;
- ONNX: the same module exported (``dispatch_nlp.training.encoder_train.export_onnx``), with ONNX Runtime's
  transformer fusions (``optimize_onnx``), in fp32 or int8 (``quantize_int8``), run by the runtime's
  own ``EncoderMember`` with the same session options as the shipped model.

Heads are random (seeded): latency does not depend on training. Their classes are the shipped
model's classes, so the catalog accepts them. Exports are cached under ``cache_dir`` keyed by the
checkpoint, the layer count, the head sizes and the library versions.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from dispatch_nlp.components.members.encoder import padded_feeds
from dispatch_nlp.components.members.linear import softmax


def pad_id_of(tokenizer) -> int:
    pid = tokenizer.token_to_id("<pad>")
    return 1 if pid is None else int(pid)


def encode(tokenizer, texts: list[str], max_len: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask exactly as ``dispatch_nlp.components.members.encoder.EncoderMember.encode`` makes them."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_len)
    feeds = padded_feeds(tokenizer.encode_batch(texts), pad_id)
    return feeds["input_ids"], feeds["attention_mask"]


class TorchMember:
    """A torch module (``dispatch_nlp.training.encoder_train._classifier_module``) as a classifier member."""

    def __init__(self, module, tokenizer, classes: dict[str, list[str]], max_len: int):
        self.module = module.eval()
        self.tokenizer = tokenizer
        self.heads = {h: {"classes": c, "temperature": 1.0} for h, c in classes.items()}
        self.max_len = max_len
        self.pad_id = pad_id_of(tokenizer)

    def classes(self, head: str) -> list[str]:
        return self.heads[head]["classes"]

    def predict_proba(self, texts: list[str], heads: list[str] | None = None) -> dict[str, np.ndarray]:
        import torch

        ids, mask = encode(self.tokenizer, texts, self.max_len, self.pad_id)
        with torch.inference_mode():
            out = self.module(torch.from_numpy(ids), torch.from_numpy(mask))
        logits = {h: v.numpy() for h, v in zip(self.module.head_names, out)}
        return {h: softmax(logits[h]) for h in (heads or list(self.heads))}

    probs = predict_proba  # the members' older name


class TimedMember:
    """Wraps a member and adds up the time and the calls spent in it (the classifier stage calls each
    member once per head, so this is how the encoder's share of the stage is measured)."""

    def __init__(self, member):
        self.member = member
        self.heads = member.heads
        self.ms = 0.0
        self.calls = 0

    def classes(self, head: str) -> list[str]:
        return self.member.classes(head)

    def predict_proba(self, texts, heads=None):
        t0 = time.perf_counter()
        out = self.member.predict_proba(texts, heads)
        self.ms += (time.perf_counter() - t0) * 1000
        self.calls += 1
        return out

    probs = predict_proba

    def take(self) -> tuple[float, int]:
        ms, calls = self.ms, self.calls
        self.ms, self.calls = 0.0, 0
        return ms, calls


def _versions() -> str:
    from importlib.metadata import version

    out = []
    for dist in ("torch", "onnxruntime", "onnx", "transformers"):
        try:
            out.append(f"{dist}={version(dist)}")
        except Exception:  # noqa: BLE001 - a missing library only changes the key
            out.append(f"{dist}=none")
    return ",".join(out)


def _fingerprint(encoder_dir: Path, layers: int, head_sizes: dict[str, int], max_len: int) -> str:
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        p = encoder_dir / name
        if p.exists():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    from dispatch_nlp.training.encoder_train import EXPORT_REVISION

    h.update(json.dumps([layers, sorted(head_sizes.items()), max_len, _versions(), EXPORT_REVISION]).encode())
    return h.hexdigest()[:16]


class EncoderFactory:
    """Loads the prepared encoder once and builds the torch and ONNX variants from it."""

    def __init__(self, encoder_dir: str | Path, classes: dict[str, list[str]], max_len: int, cache_dir: Path,
                 threads: int, log=print):
        import torch
        from dispatch_nlp.training.encoder_train import load_encoder

        torch.set_num_threads(threads)
        self.dir = Path(encoder_dir)
        self.classes = classes
        self.max_len = max_len
        self.cache_dir = Path(cache_dir)
        self.log = log
        t0 = time.perf_counter()
        self.encoder, self.tokenizer = load_encoder(self.dir)
        self.load_s = time.perf_counter() - t0
        self.layers_full = int(self.encoder.config.num_hidden_layers)
        self.export_s: dict[str, float] = {}

    def module(self, layers: int):
        import torch
        from dispatch_nlp.training.encoder_train import _classifier_module, truncate_layers

        enc = self.encoder if layers >= self.layers_full else truncate_layers(self.encoder, layers)
        torch.manual_seed(0)
        return _classifier_module(enc, {h: len(c) for h, c in self.classes.items()}).eval()

    def torch_member(self, layers: int) -> TorchMember:
        return TorchMember(self.module(layers), self.tokenizer, self.classes, self.max_len)

    def onnx_files(self, layers: int) -> dict[str, Path]:
        """fp32 (fused) and int8 graphs of the ``layers``-layer module, exported once and cached."""
        from dispatch_nlp.training.encoder_train import export_onnx, optimize_onnx, quantize_int8

        key = _fingerprint(self.dir, layers, {h: len(c) for h, c in self.classes.items()}, self.max_len)
        out = self.cache_dir / f"enc{layers}-{key}"
        files = {"fp32": out / "encoder.fp32.opt.onnx", "int8": out / "encoder.int8.onnx"}
        if all(f.exists() for f in files.values()):
            return files
        out.mkdir(parents=True, exist_ok=True)
        self.log(f"  exporting the {layers}-layer encoder to ONNX (cached in {out}) …")
        t0 = time.perf_counter()
        module = self.module(layers)
        raw = out / "encoder.fp32.onnx"
        export_onnx(module, raw)
        optimize_onnx(raw, files["fp32"], module.encoder.config)
        quantize_int8(files["fp32"], files["int8"])
        raw.unlink(missing_ok=True)
        Path(str(raw) + ".data").unlink(missing_ok=True)
        self.export_s[f"{layers}_layers"] = round(time.perf_counter() - t0, 1)
        return files

    def onnx_member(self, path: Path):
        import onnxruntime as ort

        from dispatch_nlp.components.members.encoder import EncoderMember, session_options

        session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
        meta = {"max_len": self.max_len, "pad_id": pad_id_of(self.tokenizer),
                "heads": {h: {"classes": c, "temperature": 1.0} for h, c in self.classes.items()}}
        return EncoderMember(session, self.tokenizer, meta)
