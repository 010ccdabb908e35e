"""``dispatch-nlp batch INPUT -o OUTPUT``: reclassify a table of orders (history after a catalog or
model change) on this machine (``--workers N``) or on Spark (``--engine spark --master URL``).

Exit statuses (EXIT_* below; the README's "Batch exit statuses"):
0 finished: every row has an output row; bad rows (empty, unreadable, over-long, wrong type) are marked
  in it (``error`` set, route ``review``) and counted in the summary;
1 finished with bad rows and ``--fail-on-bad-rows`` was given, or the run stopped part-way (a worker
  died, a disk error; ``--resume`` continues it);
2 bad usage or unreadable input; 3 model not loadable or failed verification; 4 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys

from dispatch_nlp.batch import BatchOptions, run_batch
from dispatch_nlp.batch.report import summary_text
from dispatch_nlp.batch.rows import DEFAULT_MAX_CHARS
from dispatch_nlp.cli.model import add_column_flags, add_profile_flag, add_trust_flag, spec_from_args
from dispatch_nlp.dispatcher import ort_spin_from_env, ort_threads_from_env
from dispatch_nlp.errors import InputError

EXIT_FINISHED, EXIT_BAD_ROWS = 0, 1  # 2 usage, 3 model, 4 internal: cli.main maps the errors


def register(sub) -> None:
    p = sub.add_parser(
        "batch", help="reclassify a table of orders (CSV/TSV/XLSX/JSONL/Parquet) into a table of decisions",
        description="Reclassify every row of INPUT (CSV/TSV in UTF-8, GBK or GB18030, XLSX, JSONL, Parquet) and "
                    "write one decision row per input row, in input order, to OUTPUT (format from its suffix). "
                    "Bad rows (empty, unreadable, over-long, wrong type) get an error and route review; the run "
                    "goes on. Finished chunks are kept beside OUTPUT (OUTPUT.parts/) until the end, so an "
                    "interrupted run continues with --resume.",
        epilog="Exit statuses: 0 finished (bad rows marked in the output and counted in the summary); 1 finished "
               "with bad rows and --fail-on-bad-rows, or stopped part-way (continue with --resume); 2 bad usage "
               "or unreadable input; 3 model not loadable or failed verification; 4 internal error.")
    p.add_argument("input", help="table of orders")
    p.add_argument("-o", "--output", required=True, help="output table (.csv .tsv .xlsx .jsonl .parquet)")
    p.add_argument("-m", "--model", help="model directory (default: the shipped model)")
    add_profile_flag(p)
    add_column_flags(p, labels=False)
    p.add_argument("--path-sep", default="->", help="separator of category paths in --compare-col (default: ->)")
    p.add_argument("--compare-col", help="column with the existing label (category path or code): writes "
                                         "OUTPUT.changes.json and OUTPUT.changes.md")
    p.add_argument("--format", dest="fmt", choices=("csv", "tsv", "xlsx", "jsonl", "parquet"),
                   help="input format (default: from the suffix)")
    p.add_argument("--sheet", help="XLSX sheet (default: the first)")
    p.add_argument("--output-encoding", default="utf-8", help="encoding of CSV/TSV/JSONL output (default utf-8)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each loads the model once (default 1)")
    p.add_argument("--chunk-size", type=int, default=2000, help="rows read, dispatched and committed at a time "
                                                                "(default 2000)")
    p.add_argument("--batch-size", type=int, default=64, help="orders of similar length dispatched together")
    p.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS,
                   help=f"a longer text is a bad row, not an order (default {DEFAULT_MAX_CHARS})")
    p.add_argument("--keep-trails", action="store_true",
                   help="do not cut appended handling trails (cut by default: history carries them)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished chunk")
    p.add_argument("--fail-on-bad-rows", action="store_true",
                   help="exit 1 when any row was bad (default: 0; bad rows are marked in the output and counted)")
    add_trust_flag(p)
    p.add_argument("--engine", choices=("local", "spark"), default="local")
    p.add_argument("--master", help="Spark master URL with --engine spark (default: the session's, e.g. local[*])")
    p.add_argument("--no-ship-model", action="store_true",
                   help="with --engine spark: the model path is on storage every executor reads (no addFile)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--summary-json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    if args.max_chars < 1:
        raise InputError("--max-chars must be at least 1")
    spec = spec_from_args(args)
    spec.path_sep = args.path_sep
    opts = BatchOptions(spec=spec, model_dir=args.model, workers=args.workers, chunk_size=args.chunk_size,
                        batch_size=args.batch_size, resume=args.resume, compare_col=args.compare_col, fmt=args.fmt,
                        encoding=args.encoding, sheet=args.sheet, output_encoding=args.output_encoding,
                        max_chars=args.max_chars, cut_trails=not args.keep_trails, progress=not args.quiet,
                        profile=args.profile, ort_spin=ort_spin_from_env(),
                        ort_threads=ort_threads_from_env(), trust=args.trust)
    if args.engine == "spark":
        if args.trust:
            raise InputError("--trust goes with the local engine (executors load only verified models)")
        try:
            from dispatch_nlp.batch.spark import run_spark_batch
        except ImportError:
            raise InputError("--engine spark needs pyspark: pip install 'dispatch-nlp[spark]'") from None
        result = run_spark_batch(args.input, args.output, opts, master=args.master,
                                 ship_model=not args.no_ship_model)
    else:
        if args.master:
            raise InputError("--master goes with --engine spark")
        result = run_batch(args.input, args.output, opts)
    if args.summary_json:
        print(json.dumps({**result.summary, "output": str(result.output), "resumed_rows": result.resumed_rows,
                          "changes": [str(p) for p in result.changes] if result.changes else None},
                         ensure_ascii=False, indent=2))
    if not args.quiet:
        print(f"dispatch-nlp batch: wrote {result.output}", file=sys.stderr)
        if result.resumed_rows:
            print(f"resumed after {result.resumed_rows} rows of an interrupted run", file=sys.stderr)
        print(summary_text(result.summary), file=sys.stderr)
        if result.changes:
            print(f"change report: {result.changes[0]} and {result.changes[1]}", file=sys.stderr)
    return EXIT_BAD_ROWS if (result.errors and args.fail_on_bad_rows) else EXIT_FINISHED

