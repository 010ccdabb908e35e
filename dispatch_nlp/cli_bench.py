"""``dispatch-nlp bench [--quick | --full]``: one run that says where the library stands (latency per
stage and variant, batch throughput, accuracy per head, calibration, memory, model size, load and
training time) and writes ``benchmarks/REPORT.md``, ``benchmarks/results/bench.json`` and PNG plots.

The benchmarks are not part of the installed package: they live in ``benchmarks/`` next to
``dispatch_nlp/`` in the source checkout, and this command runs them from there.

Exit codes: 0 report written; 2 bad usage or no source checkout; 3 model not loadable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .errors import InputError

PROFILES = ("smoke", "quick", "standard", "full")


def source_root() -> Path:
    """The checkout ``dispatch_nlp`` was imported from (the folder holding ``dispatch_nlp/``)."""
    return Path(__file__).resolve().parents[1]


def load_harness(root: Path | None = None):
    """``benchmarks.harness`` from the source checkout, or an ``InputError`` that says what to do."""
    root = Path(root) if root is not None else source_root()
    if not (root / "benchmarks" / "harness.py").is_file():
        raise InputError(
            f"dispatch-nlp bench needs the source checkout: no benchmarks/harness.py next to dispatch_nlp in {root}. "
            "Clone the repository and install it editable (pip install -e '.[train,bench]'), then run "
            "dispatch-nlp bench (or python -m benchmarks) from there")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module("benchmarks.harness")
    except ImportError as exc:
        raise InputError(f"dispatch-nlp bench: benchmarks/harness.py in {root} does not import ({exc})") from None


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
        "bench", help="benchmark the library and write benchmarks/REPORT.md (source checkout only)",
        description="Measure, in one run, latency per stage for one order of 50, 300 and 1,000 characters "
                    "(rules only, linear member only, torch eager and ONNX fp32/int8 encoders, the shipped "
                    "pipeline), batch throughput against batch size and workers, accuracy per head on the "
                    "generated test split with coverage-accuracy and reliability plots, jurisdiction by "
                    "mention type, peak RSS, model size, load time and training time per 1,000 orders; "
                    "write REPORT.md, results/bench.json and plots/*.png under --output.")
    add_arguments(p)
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    harness = load_harness()
    profile = profile_of(args)
    output = args.output or str(source_root() / "benchmarks")
    if args.model and not Path(args.model).is_dir():
        raise InputError(f"{args.model}: no such model directory")
    harness.run(profile, output, args.model, args.encoder, args.cache, plots=not args.no_plots)
    print(Path(output) / "REPORT.md")
    return 0
