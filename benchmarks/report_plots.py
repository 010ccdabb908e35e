"""The report's PNG plots (coverage-accuracy, reliability, latency, throughput) from the harness
result dict; ``make_plots`` returns {kind: file name} and needs matplotlib."""

from __future__ import annotations

from pathlib import Path

from .report_format import _get, _lengths


# -- plots ----------------------------------------------------------------------------------------
def _save(plt, fig, plot_dir: Path, name: str) -> str:
    """Lay out, write ``plot_dir/NAME.png`` and free the figure; returns the file name."""
    fig.tight_layout()
    fig.savefig(plot_dir / f"{name}.png", dpi=110)
    plt.close(fig)
    return f"{name}.png"


def make_plots(result: dict, plot_dir: Path) -> dict[str, str]:
    """PNG files under ``plot_dir``; returns {kind: file name}. Raises ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    acc = result.get("accuracy") or {}

    curves = {h: c for h, c in (acc.get("coverage_accuracy") or {}).items() if c}
    if curves:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for h, pts in curves.items():
            pts = sorted(pts, key=lambda p: p["coverage"])
            ax.plot([p["coverage"] for p in pts], [p["accuracy"] for p in pts], marker=".", label=h)
        ax.set_xlabel("coverage (share of orders at or above the confidence threshold)")
        ax.set_ylabel("accuracy of the covered orders")
        ax.set_xlim(0, 1.02)
        ax.set_title("Coverage–accuracy, test split")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        made["coverage_accuracy"] = _save(plt, fig, plot_dir, "coverage_accuracy")

    rel = {h: b for h, b in (acc.get("reliability") or {}).items() if any(x.get("n") for x in b)}
    if rel:
        n = len(rel)
        cols = min(n, 3)
        rows = (n + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.3 * rows), squeeze=False)
        for ax, (h, bins) in zip(axes.flat, rel.items()):
            mids = [(b["lo"] + b["hi"]) / 2 for b in bins if b.get("n")]
            accs = [b["accuracy"] for b in bins if b.get("n")]
            ax.bar(mids, accs, width=0.09, alpha=0.7, edgecolor="black", linewidth=0.5)
            ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_title(f"{h} (n={sum(b['n'] for b in bins)})", fontsize=9)
            ax.set_xlabel("confidence", fontsize=8)
            ax.set_ylabel("accuracy", fontsize=8)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle("Reliability (10 bins), test split", fontsize=10)
        made["reliability"] = _save(plt, fig, plot_dir, "reliability")

    lat = result.get("latency") or {}
    lengths = _lengths(lat)
    if lat and lengths:
        keys = list(lat)
        fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(keys) + 2), 4.4))
        width = 0.8 / len(lengths)
        for i, length in enumerate(lengths):
            p50 = [_get(lat, k, "lengths", length, "end_to_end_ms", "p50") or 0 for k in keys]
            p99 = [_get(lat, k, "lengths", length, "end_to_end_ms", "p99") or 0 for k in keys]
            xs = [j + (i - (len(lengths) - 1) / 2) * width for j in range(len(keys))]
            ax.bar(xs, p50, width=width, label=f"{length} chars (p50; whisker p99)",
                   yerr=[[0] * len(keys), [max(b - a, 0) for a, b in zip(p50, p99)]], capsize=2)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels(keys, rotation=25, ha="right", fontsize=8)
        ax.set_ylabel("ms per order (log scale)")
        ax.set_yscale("log")
        ax.set_title("Latency of one order, end to end")
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=8)
        made["latency"] = _save(plt, fig, plot_dir, "latency")

    runs = _get(result, "batch", "runs") or []
    if runs:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for w in sorted({r["workers"] for r in runs}):
            rs = sorted((r for r in runs if r["workers"] == w), key=lambda r: r["batch_size"])
            ax.plot([r["batch_size"] for r in rs], [r.get("orders_per_s_steady") or r["orders_per_s"] for r in rs],
                    marker="o", label=f"{w} worker(s), without start-up")
            ax.plot([r["batch_size"] for r in rs], [r["orders_per_s"] for r in rs], marker="x", linestyle=":",
                    label=f"{w} worker(s), with start-up")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel("orders per second")
        ax.set_title("Batch throughput (run_batch)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        made["throughput"] = _save(plt, fig, plot_dir, "throughput")
    return made
