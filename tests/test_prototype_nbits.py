"""The prototype member's ``nbits4`` graph: 4-bit weights held exactly (blocks of 32, computed in float),
so its embeddings are the fp32 graph's, alone or in any batch; and the encoder cut to its first layers."""

import numpy as np
import pytest

TEXTS = ["query: 家里突然停水了", "query: 小区门口的路灯坏了，晚上很黑" * 3, "query: 停电", "query: 楼上漏水"]


def _q4_0(w: np.ndarray) -> np.ndarray:
    """Round a (out, in) weight to what a Q4_0 file holds: blocks of 32 along ``in``, ``w = d (q - 8)``
    with ``d`` (float16) chosen so the largest weight of a block is ``-8 d``."""
    out, k = w.shape
    blocks = w.reshape(out, k // 32, 32)
    idx = np.abs(blocks).argmax(-1)[..., None]
    d = (np.take_along_axis(blocks, idx, -1) / -8.0).astype(np.float16).astype(np.float32)
    d[d == 0] = 1.0
    q = np.clip(np.round(blocks / d), -8, 7)
    return (q * d).astype(np.float16).astype(np.float32).reshape(out, k)


@pytest.fixture(scope="module")
def q4_encoder(tmp_path_factory):
    """A tiny random encoder whose weights are 4-bit representable, as the prepared e5 encoder's are."""
    import shutil

    import torch
    from dispatch_nlp.training.tiny_encoder import make_tiny_encoder
    from transformers import BertModel

    tmp = tmp_path_factory.mktemp("nbits")
    chars = "".join(TEXTS) + "passage: "
    src = make_tiny_encoder(tmp / "enc", [chars], layers=2, hidden=32)
    model = BertModel.from_pretrained(str(src), add_pooling_layer=False)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".weight") and p.dim() == 2 and "embeddings" not in name:
                p.copy_(torch.from_numpy(_q4_0(p.numpy())))
            elif "word_embeddings" in name:
                p.copy_(p.half().float())
    out = tmp / "q4enc"
    model.save_pretrained(str(out))
    shutil.copy(src / "tokenizer.json", out / "tokenizer.json")
    return out


def _embed(graph, encoder, texts, batch):
    from dispatch_nlp.training.prototypes import _Runner

    return _Runner(graph, encoder / "tokenizer.json", 64).embed(texts, batch=batch)


def test_nbits4_graph_gives_the_fp32_embeddings_in_any_batch(q4_encoder, tmp_path):
    import onnx
    from dispatch_nlp.training.prototypes import build_graph

    nb = build_graph(q4_encoder, tmp_path / "nb.onnx", quantization="nbits4", work=tmp_path / "a")
    fp32 = build_graph(q4_encoder, tmp_path / "fp32.onnx", quantization="none", work=tmp_path / "b")
    ops = [n.op_type for n in onnx.load(str(nb)).graph.node]
    assert ops.count("MatMulNBits") == 12 and "Cast" in ops  # 6 linear layers x 2; float16 embedding
    assert nb.stat().st_size < 0.6 * fp32.stat().st_size
    e32 = _embed(fp32, q4_encoder, TEXTS, batch=1)
    batched = _embed(nb, q4_encoder, TEXTS, batch=4)
    alone = _embed(nb, q4_encoder, TEXTS, batch=1)
    # exact weights (float16 rounding of the source aside): only the summation order differs
    assert np.abs(batched - e32).max() < 1e-4
    assert np.abs(alone - batched).max() < 1e-6


def test_nbits4_of_weights_that_are_not_4bit_is_only_close(q4_encoder, tmp_path):
    """The exactness comes from the weights, not the format: random float weights lose precision."""
    from dispatch_nlp.training.prototypes import build_graph

    enc = q4_encoder.parent / "enc"
    nb = build_graph(enc, tmp_path / "nb.onnx", quantization="nbits4", work=tmp_path / "a")
    fp32 = build_graph(enc, tmp_path / "fp32.onnx", quantization="none", work=tmp_path / "b")
    e32, e4 = _embed(fp32, enc, TEXTS, batch=4), _embed(nb, enc, TEXTS, batch=4)
    assert np.abs(e4 - e32).max() > 3e-4  # ten times what the 4-bit-exact encoder differs by
    assert np.all((e4 * e32).sum(1) > 0.95)


def test_layers_keeps_the_first_layers_only(q4_encoder, tmp_path):
    import onnx
    from dispatch_nlp.training.prototype_export import export_embedder

    one = export_embedder(q4_encoder, tmp_path, "one.onnx", layers=1)
    two = export_embedder(q4_encoder, tmp_path, "two.onnx")
    count = [sum(n.op_type == "MatMul" and "layer." in n.name for n in onnx.load(str(p)).graph.node)
             for p in (one, two)]
    assert count[1] == 2 * count[0] > 0
    assert np.abs(_embed(one, q4_encoder, TEXTS, 4) - _embed(two, q4_encoder, TEXTS, 4)).max() > 1e-3
    with pytest.raises(ValueError, match="layers"):
        export_embedder(q4_encoder, tmp_path, "three.onnx", layers=3)
