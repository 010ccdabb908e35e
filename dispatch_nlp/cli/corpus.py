"""``dispatch-nlp corpus generate`` and ``dispatch-nlp corpus stats``: synthetic work orders for
training and evaluation (the generator lives in ``dispatch_nlp.training.corpus`` and is imported only here).

Exit codes: 0 success, 2 bad usage, unreadable input or the [train] extra missing, 3 the catalog could not be
loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from dispatch_nlp.cli._lazy import load_training
from dispatch_nlp.errors import InputError

EXIT_OK, EXIT_USAGE = 0, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("corpus", help="generate synthetic work orders or summarise a corpus file",
                              description="Generate labelled synthetic work orders, or count a corpus file.")
    sub = p.add_subparsers(dest="corpus_command", metavar="{generate,stats}")
    sub.required = True

    g = sub.add_parser("generate", help="write N labelled orders (JSONL or Parquet)",
                       description="Write N labelled synthetic orders, deterministic per seed. The format follows "
                                   "the file suffix (.jsonl, .parquet) unless --format is given.")
    g.add_argument("-n", type=int, required=True, metavar="N", help="number of orders")
    g.add_argument("--seed", type=int, default=0, help="random seed (same seed, same corpus); default 0")
    g.add_argument("-o", "--output", required=True, metavar="FILE", help="output file (.jsonl or .parquet)")
    g.add_argument("--format", choices=("jsonl", "parquet"), help="output format (default: from the suffix)")
    g.add_argument("--split-ratios", default="0.8,0.1,0.1", metavar="TRAIN,DEV,TEST",
                   help="share of phrasing families per split (default 0.8,0.1,0.1)")
    g.add_argument("--catalog", metavar="PATH", help="catalog file (default: the shipped Beijing catalog)")
    g.add_argument("--gazetteer", metavar="PATH", help="gazetteer TSV (default: the shipped one)")
    g.add_argument("--units", metavar="PATH", help="units registry TSV (default: the shipped one)")
    g.add_argument("--trail-rate", type=float, default=0.12, help="share of orders with a history trail (default 0.12)")
    g.add_argument("--kw-holdout", type=float, default=1 / 3, metavar="SHARE",
                   help="share of each leaf's keywords only dev/test orders use (default 1/3; 0: none)")
    g.add_argument("--keyword-free-rate", type=float, default=0.3, metavar="SHARE",
                   help="share of orders that describe the problem with no keyword of their leaf (default 0.3)")
    g.add_argument("--paraphrase-rate", type=float, default=0.25, metavar="SHARE",
                   help="share of orders whose common words are swapped for synonyms (default 0.25)")
    g.add_argument("--synonym-vectors", action="store_true",
                   help="extend the synonym table from the synonyms package's word vectors (optional)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    s = sub.add_parser("stats", help="count a corpus file per style, split, route, duty ...",
                       description="Print counts of a corpus file (JSONL) per style, split, route, duty, response "
                                   "level, appeal type and first-level category, and the share with trails and "
                                   "personal data.")
    s.add_argument("file", help="corpus JSONL file")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")
    s.set_defaults(func=cmd_stats)


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--split-ratios {text!r}: expected three numbers like 0.8,0.1,0.1") from None
    if len(parts) != 3 or any(x < 0 for x in parts) or sum(parts) <= 0:
        raise InputError(f"--split-ratios {text!r}: expected three non-negative numbers like 0.8,0.1,0.1")
    total = sum(parts)
    return tuple(x / total for x in parts)  # type: ignore[return-value]


def _options(args: argparse.Namespace) -> dict:
    out = {}
    for name in ("kw_holdout", "keyword_free_rate", "paraphrase_rate"):
        v = getattr(args, name, None)
        if v is not None:
            if not 0 <= v <= 1:
                raise InputError(f"--{name.replace('_', '-')} {v}: expected a share between 0 and 1")
            out[name] = v
    if getattr(args, "synonym_vectors", False):
        out["synonym_vectors"] = True
    return out


def cmd_generate(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise InputError(f"-n {args.n}: expected a number of orders ≥ 0")
    out = Path(args.output)
    fmt = args.format or ("parquet" if out.suffix.lower() in (".parquet", ".pq") else "jsonl")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            print("dispatch-nlp corpus generate: Parquet output needs pyarrow: pip install pyarrow "
                  "(or write .jsonl)", file=sys.stderr)
            return EXIT_USAGE
    if out.parent and not out.parent.exists():
        raise InputError(f"{out.parent}: no such folder for the output file")
    ratios = _ratios(args.split_ratios)

    load_generator = load_training("dispatch_nlp.training.corpus", "corpus generate").load_generator
    gen = load_generator(args.seed, catalog=args.catalog, gazetteer=args.gazetteer, units=args.units,
                         split_ratios=ratios, trail_rate=args.trail_rate,
                         **_options(args))
    orders = gen.generate(args.n)
    if not args.no_progress and args.n >= 5000 and sys.stderr.isatty():
        from tqdm import tqdm

        orders = tqdm(orders, total=args.n, unit="order", desc="generating")
    tmp = out.with_name(out.name + ".part")
    try:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for o in orders:
                    fh.write(json.dumps(o, ensure_ascii=False) + "\n")
        else:
            _write_parquet(orders, tmp)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    print(f"wrote {args.n} orders (seed {args.seed}, {len(gen.leaves)} catalog leaves) to {out}", file=sys.stderr)
    return EXIT_OK


def _write_parquet(orders, path: Path, chunk: int = 20000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    rows: list[dict] = []

    def flush():
        nonlocal writer
        if not rows:
            return
        # Nested span lists are stored as JSON strings so the schema stays flat and stable.
        flat = [{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v) for k, v in r.items()} for r in rows]
        table = pa.Table.from_pylist(flat)
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table.cast(writer.schema))
        rows.clear()

    for o in orders:
        rows.append(o)
        if len(rows) >= chunk:
            flush()
    flush()
    if writer is None:
        pa_table = pa.table({"id": pa.array([], pa.string())})
        pq.write_table(pa_table, str(path))
    else:
        writer.close()


def corpus_stats(path: str) -> dict:
    from dispatch_nlp.cli.main import read_jsonl

    keys = ("style", "split", "route", "duty", "response_level", "appeal_type", "channel", "family")
    counts: dict[str, Counter] = {k: Counter() for k in keys}
    l1: Counter = Counter()
    leaves: set[str] = set()
    n = trails = pii = places = multi = bad = 0
    chars = 0
    for _lineno, obj in read_jsonl(path):
        if not isinstance(obj, dict):
            bad += 1
            continue
        n += 1
        for k in keys:
            counts[k][str(obj.get(k))] += 1
        path_ = obj.get("category_path") or []
        l1[path_[0] if path_ else "None"] += 1
        leaves.add(str(obj.get("category_code")))
        trails += bool(obj.get("has_trail"))
        pii += bool(obj.get("pii_spans"))
        places += bool(obj.get("place_spans"))
        multi += len(obj.get("issues") or []) > 1
        chars += len(obj.get("text") or "")
    return {
        "orders": n, "unreadable_lines": bad, "leaves": len(leaves), "mean_chars": round(chars / n, 1) if n else 0,
        "with_trail": trails, "with_pii": pii, "with_place": places, "multi_issue": multi,
        **{k: dict(v.most_common()) for k, v in counts.items()}, "level1": dict(l1.most_common()),
    }


def cmd_stats(args: argparse.Namespace) -> int:
    stats = corpus_stats(args.file)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return EXIT_OK
    n = stats["orders"] or 1
    print(f"{args.file}: {stats['orders']} orders, {stats['leaves']} leaves, mean {stats['mean_chars']} chars; "
          f"trail {stats['with_trail'] / n:.1%}, personal data {stats['with_pii'] / n:.1%}, "
          f"place {stats['with_place'] / n:.1%}, several issues {stats['multi_issue'] / n:.1%}")
    for key in ("style", "split", "route", "duty", "response_level", "appeal_type", "channel", "level1"):
        row = ", ".join(f"{k} {v}" for k, v in stats[key].items())
        print(f"  {key}: {row}")
    print(f"  families: {len(stats['family'])}")
    return EXIT_OK
