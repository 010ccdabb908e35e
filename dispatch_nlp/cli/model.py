"""``dispatch-nlp train`` and ``dispatch-nlp evaluate``: the commands that make and judge models.

Both read a labeled table whose columns are named by the shared column flags (``add_column_flags``).
Training code (``dispatch_nlp.training``) is imported only when ``train`` runs; ``evaluate`` reads the
table with the runtime's ``dispatch_nlp.lifecycle.examples``, preparing the text with the model's own
components.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.cli._lazy import require_training
from dispatch_nlp.dispatcher import profile_from_env
from dispatch_nlp.errors import InputError


def add_profile_flag(p: argparse.ArgumentParser) -> None:
    """``--profile``; its default is ``DISPATCH_NLP_PROFILE`` (read here, at the edge), else None: the
    model's ``default_profile``."""
    p.add_argument("--profile", default=profile_from_env(),
                   help="which members run: fast (linear member + rules) or full (every member, the encoder "
                        "too); default DISPATCH_NLP_PROFILE, else the model's default_profile")


def add_trust_flag(p: argparse.ArgumentParser) -> None:
    """``--trust``: load a model directory that has no checksums.json (refused without it)."""
    p.add_argument("--trust", action="store_true",
                   help="load a model directory without checksums.json (unverified; refused otherwise)")


def add_column_flags(p: argparse.ArgumentParser, *, labels: bool = True) -> None:
    g = p.add_argument_group("columns of the table")
    g.add_argument("--text-col", default="text", help="order text (default: text)")
    g.add_argument("--title-col", help="message title")
    g.add_argument("--id-col", help="order id (default: the row number)")
    g.add_argument("--time-col", help="creation time (ISO 8601); splits training data by time")
    if labels:
        g.add_argument("--category-cols", help="category levels as columns, first level first: a,b,c")
        g.add_argument("--category-col", help="category as one path column (see --path-sep)")
        g.add_argument("--path-sep", default="->", help="separator of --category-col paths (default: ->)")
        g.add_argument("--appeal-col", help="appeal type (诉求类型)")
        g.add_argument("--district-col", help="district (name or division code)")
        g.add_argument("--street-col", help="street/township (name or division code)")
        g.add_argument("--unit-col", help="responsible unit id")
    p.add_argument("--encoding", help="text encoding of CSV/TSV/JSONL (default: detect UTF-8 / GBK / GB18030)")


def spec_from_args(args: argparse.Namespace) -> ColumnSpec:
    cats = tuple(c.strip() for c in (getattr(args, "category_cols", None) or "").split(",") if c.strip())
    if cats and getattr(args, "category_col", None):
        raise InputError("give --category-cols or --category-col, not both")
    return ColumnSpec(
        text_col=args.text_col, title_col=args.title_col, id_col=args.id_col, time_col=args.time_col,
        category_cols=cats, category_col=getattr(args, "category_col", None),
        path_sep=getattr(args, "path_sep", "->"), appeal_col=getattr(args, "appeal_col", None),
        district_col=getattr(args, "district_col", None), street_col=getattr(args, "street_col", None),
        unit_col=getattr(args, "unit_col", None),
    )


def _floats(raw: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{flag} takes comma-separated numbers, not {raw!r}") from None


def cmd_train(args: argparse.Namespace) -> int:
    require_training("train")  # InputError (exit 2) naming the [train] extra when it is missing
    from dispatch_nlp.training.train import TrainOptions, metrics_summary, train

    opts = TrainOptions(
        output=Path(args.output), catalog=Path(args.catalog) if args.catalog else None,
        catalog_from_labels=args.catalog_from_labels, encoding=args.encoding, split_col=args.split_col,
        seed=args.seed, target_precision=args.target_precision, encoder=args.encoder,
        student_layers=args.student_layers, epochs=args.epochs, max_len=args.max_len, batch_size=args.batch_size,
        device=args.device, max_rows=args.max_rows, model_version=args.model_version,
        progress=not args.quiet, data_note=args.data_note, encoder_max_train=args.encoder_max_train,
        default_profile=args.default_profile, units_from_labels=args.units_from_labels, gazetteer=args.gazetteer,
        folds=args.folds, fusion=args.fusion, linear_c=_floats(args.linear_c, "--linear-c"),
        linear_fields=tuple(f.strip() for f in args.linear_fields.split(",") if f.strip()), prototypes=args.prototypes,
    )
    metrics = train(args.data, spec_from_args(args), opts)
    summary = metrics_summary(metrics["test"])
    routing = summary.pop("routing")
    print(json.dumps({"model": str(opts.output), "model_version": metrics["model_version"], "test": summary,
                      "routing": routing, "timings": metrics["timings"]},
                     ensure_ascii=False, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dispatch_nlp.dispatcher import Dispatcher, ort_spin_from_env, ort_threads_from_env
    from dispatch_nlp.lifecycle.evaluate import evaluate_examples
    from dispatch_nlp.lifecycle.examples import load_examples

    dispatcher = Dispatcher.load(args.model, profile=args.profile, ort_spin=ort_spin_from_env(),
                                 ort_threads=ort_threads_from_env(), trust=args.trust)
    spec = spec_from_args(args)
    split_col = (args.split_col or "split") if args.split else None
    examples, report = load_examples(args.data, spec, dispatcher.catalog, dispatcher.gazetteer, split_col=split_col,
                                     dev_ratio=0.0, test_ratio=0.0, encoding=args.encoding, max_rows=args.max_rows,
                                     progress=not args.json, config=dispatcher.config)
    if args.split:
        examples = [e for e in examples if e.split == args.split]
    if report.unknown_categories:
        print(f"dispatch-nlp: {sum(report.unknown_categories.values())} rows have categories that are not in "
              f"catalog {dispatcher.catalog.version} (scored as wrong): "
              + "; ".join(list(report.unknown_categories)[:10]), file=sys.stderr)
    result = {"model_version": dispatcher.model_version, "catalog_version": dispatcher.catalog.version,
              "data": {"file": str(args.data), "rows": len(examples), "bad_rows": report.bad_rows,
                       "empty": report.empty, "exact_duplicates": report.exact_duplicates},
              **evaluate_examples(dispatcher, examples, batch_size=args.batch_size)}
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    if args.json or not args.output:
        print(text)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model directory from a labeled table",
                       description="Train a model from a labeled table (CSV/TSV/XLSX/JSONL/Parquet). Cleans the "
                                   "text (handling trails cut, personal data masked), drops duplicates, splits "
                                   "(by --split-col, else by --time-col, else at random), fits the members and "
                                   "their fusion, and writes a model directory with metrics and a model card.")
    p.add_argument("data", help="labeled table")
    p.add_argument("-o", "--output", required=True, help="model directory to write")
    add_column_flags(p)
    p.add_argument("--split-col", help="column holding train/dev/test")
    p.add_argument("--catalog", help="catalog file the labels belong to (default: the shipped catalog)")
    p.add_argument("--catalog-from-labels", action="store_true", help="let the labels define the catalog")
    p.add_argument("--gazetteer", help="places to read: beijing (the shipped gazetteer), the path of a gazetteer "
                                      "TSV (copied into the model) or none; default beijing, none with "
                                      "--catalog-from-labels")
    p.add_argument("--units-from-labels", action="store_true",
                   help="let the --unit-col values define the units (merged with the registry, saved with the model)")
    p.add_argument("--encoder", help="local transformers checkpoint for the encoder member (default: linear member only)")
    p.add_argument("--student-layers", type=int, default=4)
    p.add_argument("--default-profile", choices=("fast", "full"), default="fast",
                   help="with --encoder: the profile Dispatcher.load() runs by default; the model carries both "
                        "(fast: linear member + rules, for the hot path; full: with the encoder)")
    p.add_argument("--encoder-max-train", type=int, help="train the encoder member on at most N orders (CPU budget)")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--max-len", type=int, default=160)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--target-accuracy", "--target-precision", dest="target_precision", type=float, default=0.97,
                   metavar="SHARE",
                   help="accuracy the orders sent automatically must reach on held-out orders (out-of-fold with "
                        "--folds, else the dev split); sets the automatic-dispatch threshold (default 0.97)")
    p.add_argument("--folds", type=int, default=5,
                   help="cross-fitting folds over the train and dev splits: out-of-fold probabilities choose the "
                        "fusion, calibration and threshold, and the linear member is refit on all those orders "
                        "(fewer folds on small data; default 5). 0: fit on train, fuse on dev (the earlier recipe)")
    p.add_argument("--fusion", choices=("stacked", "weights"), default="stacked",
                   help="stacked: a calibrated re-scorer of each order's candidate leaves from the members' "
                        "probabilities, ranks, agreement and the rules (default); weights: a weight grid")
    p.add_argument("--linear-c", default="0.5",
                   help="the linear member's regularisation C; several (0.25,0.5,1): chosen by cross-validation")
    p.add_argument("--linear-fields", default="text",
                   help="what the linear member reads: text, plus title and/or statement (comma-separated)")
    p.add_argument("--prototypes", metavar="ENCODER_DIR",
                   help="add the zero-shot prototype member (frozen encoder against leaf descriptions) from this "
                        "prepared encoder directory; it enters the fusion like the other members")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--max-rows", type=int)
    p.add_argument("--model-version")
    p.add_argument("--data-note", help="where the training data came from (written into the model card)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a model on a labeled table (metrics per head as JSON)")
    p.add_argument("--model", "-m", help="model directory (default: the shipped model)")
    add_trust_flag(p)
    p.add_argument("--data", required=True, help="labeled table")
    add_profile_flag(p)
    add_column_flags(p)
    p.add_argument("--split", help="evaluate only rows whose --split-col (default: split) has this value")
    p.add_argument("--split-col")
    p.add_argument("--max-rows", type=int)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print the metrics JSON (also with -o)")
    p.add_argument("-o", "--output", help="write the metrics JSON here")
    p.set_defaults(func=cmd_evaluate)
