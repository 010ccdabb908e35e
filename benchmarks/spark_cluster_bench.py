"""Spark as a cluster: ``dispatch-nlp batch --engine spark`` against a standalone master with two
workers on this machine (``StandaloneCluster``), the model shipped to the executors as a zip.
Reports rows/s end to end and the peak memory (RSS) of each executor: its JVM plus the Python
workers it forks, sampled from /proc every half second.

    nice -n 10 python benchmarks/spark_cluster_bench.py --table /tmp/gen200k.jsonl [--rows 200000]

Writes ``benchmarks/results/spark_cluster.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "spark_cluster.json"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _procs() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command line, RSS in kB) for every process readable in /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (int(fields[1]), cmd, int(fields[21]) * PAGE_KB)
    return out


class ExecutorMemory(threading.Thread):
    """Samples the RSS of every executor JVM (CoarseGrainedExecutorBackend) and its descendants."""

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval, self.peak_mb, self.done = interval, {}, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            procs = _procs()
            children: dict[int, list[int]] = {}
            for pid, (ppid, _, _) in procs.items():
                children.setdefault(ppid, []).append(pid)
            for pid, (_, cmd, _) in procs.items():
                if "CoarseGrainedExecutorBackend" not in cmd:
                    continue
                total, stack = 0, [pid]
                while stack:
                    p = stack.pop()
                    total += procs.get(p, (0, "", 0))[2]
                    stack.extend(children.get(p, []))
                key = cmd.split("--executor-id", 1)[1].split()[0] if "--executor-id" in cmd else str(pid)
                self.peak_mb[key] = max(self.peak_mb.get(key, 0.0), round(total / 1024, 1))
            self.done.wait(self.interval)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", type=Path, required=True, help="a JSONL of orders (text, title, id)")
    ap.add_argument("--rows", type=int, help="use the first ROWS lines (default: all)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/spark_cluster_bench"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    from dispatch_nlp.batch import BatchOptions
    from dispatch_nlp.batch.spark import StandaloneCluster, run_spark_batch
    from dispatch_nlp.batch.tables import ColumnSpec

    args.work.mkdir(parents=True, exist_ok=True)
    table = args.table
    if args.rows:
        table = args.work / f"orders{args.rows}.jsonl"
        with open(args.table, encoding="utf-8") as src, open(table, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i >= args.rows:
                    break
                dst.write(line)
    rows = sum(1 for _ in open(table, encoding="utf-8"))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    opts = BatchOptions(spec=ColumnSpec(text_col="text", title_col="title", id_col="id"), progress=True)
    t0 = time.perf_counter()
    with StandaloneCluster(workers=args.workers, cores=1, workdir=args.work / "cluster") as cluster:
        t_up = time.perf_counter() - t0
        sampler = ExecutorMemory()
        sampler.start()
        t1 = time.perf_counter()
        result = run_spark_batch(table, args.work / "out.parquet", opts, master=cluster.url)
        wall = time.perf_counter() - t1
        sampler.done.set()
        sampler.join()
    out = {
        "rows": rows, "workers": args.workers, "cores_per_worker": 1, "executor_memory": "1g (Spark default)",
        "cluster_start_s": round(t_up, 1), "batch_wall_s": round(wall, 1), "rows_per_s": round(rows / wall, 1),
        "executor_peak_rss_mb": sampler.peak_mb, "summary": {k: result.summary.get(k) for k in ("rows", "errors")},
        "machine": f"{os.cpu_count()} shared cores, other work running at the same time: rates are lower bounds",
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
