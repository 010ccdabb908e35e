"""A tiny randomly initialised BERT encoder with a character tokenizer, for tests and smoke runs.

``make_tiny_encoder(out_dir, texts, layers=2, hidden=32)`` writes a transformers checkpoint
(config.json, model.safetensors) and a ``tokenizer.json`` whose vocabulary is the characters of
``texts`` plus the special tokens, laid out like the real encoder's (``<s>`` 0, ``<pad>`` 1, ``</s>``
2, ``<unk>`` 3). It exercises every code path of training, export and loading in seconds.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def make_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    chars = sorted({ch for t in texts for ch in t if not ch.isspace()})
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok


def make_tiny_encoder(out_dir: str | Path, texts: list[str], *, layers: int = 2, hidden: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(texts)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=512,
                        pad_token_id=1, type_vocab_size=1)
    BertModel(config, add_pooling_layer=False).save_pretrained(str(out))
    tok.save(str(out / "tokenizer.json"))
    return out
