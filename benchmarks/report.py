"""``REPORT.md`` and the PNG plots from one harness result (``results/bench.json``).

    write_report(result, out_dir)          # out_dir/REPORT.md, out_dir/plots/*.png

Everything here reads the result dict only (no measuring), so a report can be rewritten from a
saved ``bench.json``: ``python -m benchmarks.report benchmarks/results/bench.json -o benchmarks``.
Plots need matplotlib (Agg backend); without it, or with ``plots=False``, the report says so and
the tables are complete on their own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# The tables, sections and plots live in their own modules; the public names stay importable from here.
from .report_format import ENCODER_VARIANTS, EXPECTED_VARIANTS, HEAD_ORDER, STAGE_ORDER, skipped_variants  # noqa: F401
from .report_plots import make_plots
from .report_sections import render


def write_report(result: dict, out_dir: Path, plots: bool = True) -> Path:
    """Write ``out_dir/REPORT.md`` (and ``out_dir/plots/*.png`` when ``plots`` and matplotlib is
    there). A plot that could not be drawn is named in the report's skipped section and in
    ``result["skipped"]["plots"]``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_files: dict[str, str] = {}
    plot_note = None
    if not plots:
        plot_note = "not drawn (--no-plots)"
    else:
        try:
            plot_files = make_plots(result, out_dir / "plots")
        except ImportError:
            plot_note = "not drawn: matplotlib is not installed (pip install -e '.[bench]')"
    if plot_note:
        result.setdefault("skipped", {})["plots"] = plot_note
    path = out_dir / "REPORT.md"
    path.write_text(render(result, plot_files, None), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description="rewrite REPORT.md from a bench.json")
    p.add_argument("bench_json")
    p.add_argument("-o", "--output", required=True, help="folder for REPORT.md and plots/")
    p.add_argument("--no-plots", action="store_true")
    args = p.parse_args(argv)
    result = json.loads(Path(args.bench_json).read_text(encoding="utf-8"))
    print(write_report(result, Path(args.output), plots=not args.no_plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
