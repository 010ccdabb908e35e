"""Export the frozen e5 encoder as a sentence-embedding ONNX graph, and quantize it to int8.

``export_embedder(encoder_dir, out_dir)`` writes ``embedder.fp32.onnx``: inputs ``input_ids`` and
``attention_mask`` (batch x length, int64), output ``embedding`` (batch x hidden): the e5 embedding
(mean pooling over real tokens, L2-normalised), so the runtime does nothing but a matrix product.

Quantization (each returns the path written):

- ``quantize_weight_only_int8(fp32, dst, bits=..., accuracy_level=..., embedding_bits=...)``: weights
  in blocks of 32 (``MatMulNBits``), activations in float (``accuracy_level=0``) or quantized row by
  row (4). With ``bits=4, accuracy_level=0, embedding_bits=16`` (the ``nbits4`` build) it holds the
  prepared encoder's Q4_0 weights exactly: the same embeddings as fp32 (max difference ~4e-5), in
  any batch, at fp32 speed, in a quarter of the bytes;

- ``quantize_static_int8(fp32, dst, calibration_ids)``: int8 weights (per channel) and int8
  activations whose scales are fixed once, calibrated on realistic orders (``calibration_ids``:
  a list of ``{"input_ids", "attention_mask"}`` feeds). An order's embedding does not depend on the
  orders it is batched with.
- ``quantize_dynamic_int8(fp32, dst)``: int8 weights, activation scales computed per batch at run
  time (what the fine-tuned student ships with).

``fuse_transformer(src, dst)`` saves ONNX Runtime's transformer fusions offline (measured no faster
than the runtime's own load-time optimizations for this graph). ``export_embedder(..., layers=N)``
keeps the first N layers. ``benchmarks/encoder_hotpath_bench.py`` measures what a graph costs: time
per order, top-1 agreement with fp32 alone and in mixed batches, dev accuracy.
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


def export_embedder(encoder_dir: str | Path, out_dir: str | Path, name: str = "embedder.fp32.onnx", *,
                    layers: int | None = None) -> Path:
    """Trace the checkpoint in ``encoder_dir`` (eager attention, so ONNX Runtime fuses it) to ONNX.
    ``layers``: keep only the first ``layers`` transformer layers (a cheaper, zero-shot truncation:
    the embedding is the mean of the last kept layer's states)."""
    import torch

    from .encoder_train import load_encoder

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    encoder, _ = load_encoder(encoder_dir)
    if layers is not None:
        stack = encoder.encoder.layer
        if not 1 <= layers <= len(stack):
            raise ValueError(f"layers must be between 1 and {len(stack)}, got {layers}")
        encoder.encoder.layer = stack[:layers]
        encoder.config.num_hidden_layers = layers
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


def _float16_embedding(model) -> None:
    """Store the word embedding (the largest ``Gather`` table) in float16 and cast the rows it gathers
    back to float: lossless for the prepared encoder (its weights are float16), half the bytes."""
    import onnx
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    gathers = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] in inits
               and inits[n.input[0]].data_type == onnx.TensorProto.FLOAT and len(inits[n.input[0]].dims) == 2]
    if not gathers:
        return
    node = max(gathers, key=lambda n: int(np.prod(inits[n.input[0]].dims)))
    table = inits[node.input[0]]
    half = numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), table.name)
    table.CopyFrom(half)
    out = node.output[0]
    node.output[0] = out + "_fp16"
    cast = helper.make_node("Cast", [node.output[0]], [out], to=onnx.TensorProto.FLOAT, name=node.name + "_cast")
    nodes = list(model.graph.node)
    model.graph.ClearField("node")
    for n in nodes:
        model.graph.node.append(n)
        if n is node:
            model.graph.node.append(cast)


def fuse_transformer(src: str | Path, dst: str | Path, *, heads: int = 12, hidden: int = 384) -> Path:
    """ONNX Runtime's transformer fusions saved offline (``Attention``, ``SkipLayerNormalization``,
    ``BiasGelu``, ``EmbedLayerNormalization``): the runtime then skips them at load, and the fused
    attention runs as one kernel. Falls back to a copy (the fusions are an optimization only)."""
    from .encoder_train import optimize_onnx

    _Config.num_attention_heads, _Config.hidden_size = heads, hidden
    optimize_onnx(Path(src), Path(dst), _Config())
    return Path(dst)


@_in_scratch_dir
def quantize_weight_only_int8(src: Path, dst: Path, *, accuracy_level: int = 4, block_size: int = 32,
                              embedding_bits: int = 4, bits: int = 8) -> Path:
    """Weights in ``bits`` (8 or 4) per weight in blocks of ``block_size`` along the input dimension
    (ONNX Runtime's ``MatMulNBits``, symmetric) and the word embedding in ``embedding_bits``
    (``GatherBlockQuantized``: 4 bits only; 16: the table in float16, lossless here; 0: float32).
    Activations are never quantized with a per-batch scale:
    ``accuracy_level`` 4 quantizes each row of activations on its own, per block (int8 kernels), 0
    computes in float. Either way an order's embedding does not depend on its batch.

    ``bits=4, block_size=32`` holds the prepared encoder's weights exactly: they were dequantized
    from a Q4_0 file (blocks of 32, ``w = d * (q - 8)``, ``d`` chosen so the largest weight of a block
    is ``-8 d``), and the symmetric 4-bit quantizer picks the same ``d`` back
    (:func:`max_weight_error` checks it)."""
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
    passes = [(bits, ("MatMul",), (("MatMul", 0),))]
    if embedding_bits == 16:
        _float16_embedding(model)
    elif embedding_bits:
        passes.append((embedding_bits, ("Gather",), (("Gather", 1),)))
    for nbits, ops, axes in passes:
        config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level,
                                              bits=nbits, op_types_to_quantize=ops, quant_axes=axes)
        quant = MatMulNBitsQuantizer(model, bits=nbits, block_size=block_size, is_symmetric=True,
                                     accuracy_level=accuracy_level, algo_config=config, op_types_to_quantize=ops,
                                     quant_axes=axes)
        quant.process()
        model = quant.model.model
    onnx.save(model, str(dst))
    return dst
