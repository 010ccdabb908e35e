"""Export the frozen e5 encoder as a sentence-embedding ONNX graph, and quantize it to int8.

``export_embedder(encoder_dir, out_dir)`` writes ``embedder.fp32.onnx``: inputs ``input_ids`` and
``attention_mask`` (batch x length, int64), output ``embedding`` (batch x hidden): the e5 embedding
(mean pooling over real tokens, L2-normalised), so the runtime does nothing but a matrix product.

Quantization, two ways (both return the path written):

- ``quantize_static_int8(fp32, dst, calibration_ids)``: int8 weights (per channel) and int8
  activations whose scales are fixed once, calibrated on realistic orders (``calibration_ids``:
  a list of ``{"input_ids", "attention_mask"}`` feeds). An order's embedding does not depend on the
  orders it is batched with.
- ``quantize_dynamic_int8(fp32, dst)``: int8 weights, activation scales computed per batch at run
  time (what the fine-tuned student ships with).

``agreement(...)`` measures what a quantized graph costs: top-1 agreement of leaf scores with fp32,
alone and inside mixed batches.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDING_OUTPUT = "embedding"


def _module(encoder):
    import torch

    class Embedder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return Embedder().eval()


def export_embedder(encoder_dir: str | Path, out_dir: str | Path, name: str = "embedder.fp32.onnx") -> Path:
    """Trace the checkpoint in ``encoder_dir`` (eager attention, so ONNX Runtime fuses it) to ONNX."""
    import torch

    from .encoder_train import load_encoder

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    encoder, _ = load_encoder(encoder_dir)
    if hasattr(encoder, "set_attn_implementation"):
        encoder.set_attn_implementation("eager")
    model = _module(encoder)
    path = out / name
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    with torch.inference_mode():
        torch.onnx.export(
            model, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
            output_names=[EMBEDDING_OUTPUT],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          EMBEDDING_OUTPUT: {0: "batch"}},
            opset_version=18, dynamo=False,
        )
    return path


def _in_scratch_dir(fn):
    """Run a quantizer with a throw-away working directory: ONNX Runtime's shape inference and
    pre-processing write scratch files (``sym_shape_infer_temp.onnx``, ``<uuid>.data``) into the
    current directory and leave them there. Path arguments are made absolute first."""
    @functools.wraps(fn)
    def run(src, dst, *args, **kwargs):
        src, dst = Path(src).resolve(), Path(dst).resolve()
        here = os.getcwd()
        with tempfile.TemporaryDirectory(prefix="quantize-") as scratch, contextlib.ExitStack() as stack:
            os.chdir(scratch)
            stack.callback(os.chdir, here)
            return fn(src, dst, *args, **kwargs)
    return run


@_in_scratch_dir
def quantize_dynamic_int8(src: Path, dst: Path) -> Path:
    """Int8 weights, per-batch activation scales (the student's recipe: fused graph, then dynamic)."""
    from .encoder_train import optimize_onnx, quantize_int8

    fused = dst.with_suffix(".fused.tmp.onnx")
    optimize_onnx(src, fused, _Config())
    quantize_int8(fused, dst)
    fused.unlink(missing_ok=True)
    return dst


class _Config:  # what optimize_onnx reads of a transformers config (e5-small: 12 heads x 32)
    num_attention_heads = 12
    hidden_size = 384


class _Reader:
    """``CalibrationDataReader`` over prepared feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self.feeds = iter(feeds)

    def get_next(self):
        return next(self.feeds, None)

    def rewind(self):  # pragma: no cover - the calibrator reads once
        pass


@_in_scratch_dir
def quantize_static_int8(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]], *,
                         method: str = "minmax", percentile: float = 99.999,
                         exclude_last: int = 0) -> Path:
    """Static int8 (QDQ: weights per channel, activations per tensor with fixed scales from ``feeds``).

    Quantizes MatMul and Gather (the word embedding; it is a third of the weights); ONNX Runtime
    fuses the QDQ pairs into integer kernels at load time. ``method``: ``minmax`` or ``percentile``
    (clips activation outliers at ``percentile``), ``entropy``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_suffix(".pre.tmp.onnx")
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
    except Exception:  # pre-processing is an optimization of the calibration graph only
        shutil.copy(src, pre)
    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    nodes_to_exclude = []
    if exclude_last:
        model = onnx.load(str(pre))
        matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul"]
        nodes_to_exclude = matmuls[-exclude_last:]
    extra: dict[str, Any] = {"ActivationSymmetric": False, "WeightSymmetric": True}
    if method == "percentile":
        extra["CalibPercentile"] = percentile
    quantize_static(
        str(pre), str(dst), _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"], calibrate_method=methods[method],
        nodes_to_exclude=nodes_to_exclude, extra_options=extra,
    )
    pre.unlink(missing_ok=True)
    return dst


@_in_scratch_dir
def quantize_weight_only_int8(src: Path, dst: Path, *, accuracy_level: int = 4, block_size: int = 32,
                              embedding_bits: int = 4) -> Path:
    """Int8 weights in blocks of ``block_size`` (ONNX Runtime's ``MatMulNBits``, 8 bits) and the word
    embedding in ``embedding_bits`` (``GatherBlockQuantized``: 4 bits only; the prepared encoder's
    weights come from a 4-bit file with blocks of 32 anyway). Activations are never quantized with a
    per-batch scale: ``accuracy_level`` 4 quantizes each row of activations on its own (int8
    kernels), 0 computes in float. Either way an order's embedding does not depend on its batch."""
    import onnx

    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
    except ImportError as exc:  # ONNX Runtime's weight-only quantizer needs the onnx-ir package
        raise ImportError(f"weight-only int8 needs 'pip install onnx-ir' ({exc}); or build with "
                          "--quantization static|dynamic") from exc

    model = onnx.load(str(src))
    passes = [(8, ("MatMul",), (("MatMul", 0),))]
    if embedding_bits:
        passes.append((embedding_bits, ("Gather",), (("Gather", 1),)))
    for bits, ops, axes in passes:
        config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level,
                                              bits=bits, op_types_to_quantize=ops, quant_axes=axes)
        quant = MatMulNBitsQuantizer(model, bits=bits, block_size=block_size, is_symmetric=True,
                                     accuracy_level=accuracy_level, algo_config=config, op_types_to_quantize=ops,
                                     quant_axes=axes)
        quant.process()
        model = quant.model.model
    onnx.save(model, str(dst))
    return dst
