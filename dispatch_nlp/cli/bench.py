"""``dispatch-nlp bench [--quick | --full]``: one run that says where the library stands (latency per
stage and variant, batch throughput, accuracy per head, calibration, memory, model size, load and
training time) and writes ``REPORT.md``, ``results/bench.json`` and PNG plots under ``--output``
(default ``benchmarks/`` of the current folder: run it from the checkout to refresh the committed report).

The benchmarks live in the checkout's ``benchmarks/`` folder and install as ``dispatch_nlp.benchmarks``;
this module imports them only when the command runs. ``python -m benchmarks`` in a checkout is the same
command.

Exit codes: 0 report written; 2 bad usage, the [train] extra missing or the benchmarks not importable; 3 model
not loadable.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from types import ModuleType

from dispatch_nlp.cli._lazy import require_training
from dispatch_nlp.errors import InputError

PROFILES = ("smoke", "quick", "standard", "full")
HARNESS = "dispatch_nlp.benchmarks.harness"


def load_harness(module: str = HARNESS) -> ModuleType:
    """The benchmark harness, or an ``InputError`` that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(
            f"dispatch-nlp bench: the benchmarks do not import ({type(exc).__name__}: {exc}); install them with "
            "pip install 'dispatch-nlp[train,bench]' (or pip install -e '.[train,bench]' in a checkout)") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``dispatch-nlp bench``, also those of ``python -m benchmarks``."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small counts (under 5 minutes on 2 idle cores)")
    g.add_argument("--full", action="store_true", help="larger counts and a timed student distillation "
                                                       "(under an hour)")
    g.add_argument("--profile", choices=PROFILES, help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", help="folder for REPORT.md, results/bench.json and plots/ "
                                          "(default: benchmarks/ of the checkout)")
    p.add_argument("-m", "--model", help="model directory (default: the shipped model)")
    p.add_argument("--encoder", default="work/encoder",
                   help="prepared full encoder checkpoint for the torch/ONNX variants (default: work/encoder; "
                        "without it, or without torch, those variants are skipped and the report says why)")
    p.add_argument("--cache", default="work/bench-cache", help="where exported ONNX variants are cached")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")


def profile_of(args: argparse.Namespace) -> str:
    return args.profile or ("quick" if args.quick else "full" if args.full else "standard")


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="benchmark the library and write benchmarks/REPORT.md",
        description="Measure, in one run, latency per stage for one order of 50, 300 and 1,000 characters "
                    "(rules only, linear member only, torch eager and ONNX fp32/int8 encoders, the shipped "
                    "pipeline), batch throughput against batch size and workers, accuracy per head on the "
                    "generated test split with coverage-accuracy and reliability plots, jurisdiction by "
                    "mention type, peak RSS, model size, load time and training time per 1,000 orders; "
                    "write REPORT.md, results/bench.json and plots/*.png under --output.")
    add_arguments(p)
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    require_training("bench")  # the harness generates a corpus and times training
    harness = load_harness(HARNESS)
    profile = profile_of(args)
    output = args.output or "benchmarks"
    if args.model and not Path(args.model).is_dir():
        raise InputError(f"{args.model}: no such model directory")
    harness.run(profile, output, args.model, args.encoder, args.cache, plots=not args.no_plots)
    print(Path(output) / "REPORT.md")
    return 0
