"""``dispatch-nlp calibrate``: refit a model's confidences and thresholds on labelled realistic orders.

    dispatch-nlp calibrate -m MODEL_DIR --data orders.jsonl --split dev [column flags as evaluate]
        [--target 0.9] [--method platt|beta|isotonic] [--dispatch-on unit|leaf] [--keep-rules-weight] [--dry-run]

Every profile of the model is calibrated (a profile inherits the config's ``route`` keys, so all are
written together); see :mod:`dispatch_nlp.lifecycle.calibrate`.  Prints a JSON report (per profile:
the fitted weight and threshold, cross-validated ECE, figures before and after on the calibration
orders) and, unless ``--dry-run``, writes the settings into the model folder.
"""

from __future__ import annotations

import argparse
import json
import sys

from dispatch_nlp.cli.model import add_column_flags, add_trust_flag, spec_from_args
from dispatch_nlp.errors import InputError

MIN_ORDERS = 30  # fewer labelled orders than this cannot calibrate anything


def cmd_calibrate(args: argparse.Namespace) -> int:
    from dispatch_nlp.dispatcher import (
        Dispatcher,
        ort_spin_from_env,
        ort_threads_from_env,
        profiles_of,
        write_checksums,
    )
    from dispatch_nlp.lifecycle.calibrate import calibrate_model, write_calibration
    from dispatch_nlp.lifecycle.examples import load_examples

    if not 0.5 <= args.target < 1.0:
        raise InputError(f"--target {args.target}: give an accuracy between 0.5 and 1 (exclusive)")
    # Each profile is calibrated as itself: a classifier cascade (which routes the orders its fast profile
    # is sure of with that profile's settings) is off here, so every order reads every member.
    first = Dispatcher.load(args.model, ort_spin=ort_spin_from_env(), ort_threads=ort_threads_from_env(),
                            trust=args.trust, cascade=False)
    split_col = (args.split_col or "split") if args.split else None
    examples, report = load_examples(args.data, spec_from_args(args), first.catalog, first.gazetteer,
                                     split_col=split_col, dev_ratio=0.0, test_ratio=0.0, encoding=args.encoding,
                                     max_rows=args.max_rows, config=first.config)
    if args.split:
        examples = [e for e in examples if e.split == args.split]
    examples = [e for e in examples if e.leaf]
    if len(examples) < MIN_ORDERS:
        raise InputError(f"{args.data}: {len(examples)} labelled orders with a known category"
                         f"{' in split ' + args.split if args.split else ''}; calibration needs at least {MIN_ORDERS}")
    if args.dispatch_on == "unit" and not any(e.unit for e in examples):
        raise InputError("--dispatch-on unit needs the responsible unit of each order (--unit-col)")
    dispatchers = {name: first if name == first.profile else
                   Dispatcher.load(first.model_dir, profile=name, ort_spin=ort_spin_from_env(),
                                   ort_threads=ort_threads_from_env(), trust=args.trust, cascade=False)
                   for name in profiles_of(first.config)}
    routes, reports = calibrate_model(dispatchers, examples, target=args.target, method=args.method,
                                      dispatch_on=args.dispatch_on, min_count=args.min_count, folds=args.folds,
                                      fit_rules_weight=not args.keep_rules_weight)
    out = {"model": str(first.model_dir), "orders": len(examples), "written": not args.dry_run, "profiles": reports}
    if not args.dry_run:
        record = write_calibration(first.model_dir, routes, reports, data=args.data, split=args.split,
                                   method=args.method, target=args.target, dispatch_on=args.dispatch_on,
                                   write_checksums=write_checksums)
        out["calibrated_on"] = {k: v for k, v in record.items() if k != "profiles"}
    if report.unknown_categories:
        print(f"dispatch-nlp: {sum(report.unknown_categories.values())} rows have categories that are not in "
              f"catalog {first.catalog.version} (left out)", file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="refit confidence calibration, rules weight and the automatic-dispatch "
                                         "threshold on labelled realistic orders (writes into the model folder)")
    p.add_argument("--model", "-m", help="model directory to calibrate (default: the shipped model)")
    add_trust_flag(p)
    p.add_argument("--data", required=True, help="labelled table of realistic orders")
    add_column_flags(p)
    p.add_argument("--split", help="use only rows whose --split-col (default: split) has this value, e.g. dev")
    p.add_argument("--split-col")
    p.add_argument("--max-rows", type=int)
    p.add_argument("--target", type=float, default=0.9,
                   help="accuracy the automatically dispatched orders must reach (default: 0.9)")
    p.add_argument("--method", choices=("platt", "beta", "isotonic"), default="platt",
                   help="calibration map: platt (two parameters, default), beta (three) or isotonic with "
                        "--min-count orders per step")
    p.add_argument("--dispatch-on", choices=("unit", "leaf"), default="unit",
                   help="what must be right to dispatch automatically: the responsible unit (default) or the leaf")
    p.add_argument("--min-count", type=int, default=10, help="least orders per isotonic step (default: 10)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds for the reported ECE (default: 5)")
    p.add_argument("--keep-rules-weight", action="store_true",
                   help="keep the model's weight of the catalog rules (default: refit it on these orders, except for a stacked fusion, which weighs the rules itself)")
    p.add_argument("--dry-run", action="store_true", help="report what would be fitted; write nothing")
    p.set_defaults(func=cmd_calibrate)
