"""Batch reclassification: rows per second (1 and 2 worker processes, Spark local[2]), peak memory
against input size, and the time a resume saves.

    python benchmarks/batch_bench.py                # 1k and 10k rows
    python benchmarks/batch_bench.py --big          # also 100k rows (memory curve)
    python benchmarks/batch_bench.py --no-spark

Inputs are synthetic orders made here from the shipped catalog keywords and gazetteer names (fast,
deterministic; ``dispatch-nlp corpus generate`` makes richer ones). Every timed run is a fresh
``dispatch-nlp batch`` process, so its time includes starting Python and loading the model in each
worker; ``rows_per_s_steady`` takes that start-up out (run time minus the time of a 1-row run).
Peak memory is the largest resident set of the process tree, sampled every 50 ms.
Writes ``benchmarks/results/batch.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "dispatch_nlp.cli.main", "batch"]

OPENERS = ["市民反映：", "来电人反映：", "市民来电咨询：", "企业反映：", "网民留言：尊敬的领导您好，"]
ENDINGS = ["，希望尽快处理。", "，要求相关部门解决。", "，来电希望核实。注：请及时向来电人反馈办理情况", "。"]


def make_orders(path: Path, n: int, seed: int = 0, bad_every: int = 0) -> Path:
    """``n`` synthetic orders as JSONL (id, text, label = the category path the text was built from)."""
    from dispatch_nlp.knowledge.catalog import Catalog
    from dispatch_nlp.knowledge.gazetteer import Gazetteer
    from dispatch_nlp.resources import catalog_dir

    rng = random.Random(seed)
    leaves = [item for item in Catalog.load().leaves() if item.keywords]
    gaz = Gazetteer.load(catalog_dir() / "gazetteer-beijing.tsv")
    streets = [(gaz.district_of(s.code).name, s.name) for s in gaz.streets()]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            item = rng.choice(leaves)
            district, street = rng.choice(streets)
            text = (f"{rng.choice(OPENERS)}{district}{street}某小区{rng.choice(item.keywords)}"
                    f"{'，已经持续好几天了' * rng.randint(0, 6)}{rng.choice(ENDINGS)}")
            if bad_every and i % bad_every == bad_every - 1:
                text = ""
            fh.write(json.dumps({"id": f"B{i:07d}", "text": text, "label": " > ".join(item.path)},
                                ensure_ascii=False) + "\n")
    return path


def run_measured(args: list[str], env: dict | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB of the process tree, exit code) of one CLI run."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(CLI + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, **(env or {})})
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.returncode not in (0, 1, -9):
        raise SystemExit(f"run failed ({proc.returncode}): {' '.join(args)}\n{err[-2000:]}")
    return seconds, peak / 2**20, proc.returncode


def bench(sizes: list[int], spark: bool, tmp: Path, chunk_size: int) -> dict:
    results: dict = {"runs": [], "resume": None}
    one = make_orders(tmp / "one.jsonl", 1)
    base = {}
    for workers in (1, 2):
        s, _, _ = run_measured([str(one), "-o", str(tmp / "one.out.jsonl"), "--id-col", "id", "-q",
                                "--workers", str(workers)])
        base[f"local-{workers}"] = s
    if spark:
        s, _, _ = run_measured([str(one), "-o", str(tmp / "one.out.jsonl"), "--id-col", "id", "-q",
                                "--engine", "spark", "--master", "local[2]"])
        base["spark-local[2]"] = s
    for n in sizes:
        data = make_orders(tmp / f"orders-{n}.jsonl", n, seed=n, bad_every=500)
        engines = [("local-1", ["--workers", "1"]), ("local-2", ["--workers", "2"])]
        if spark and n <= 100_000:
            engines.append(("spark-local[2]", ["--engine", "spark", "--master", "local[2]"]))
        for name, extra in engines:
            out = tmp / f"out-{n}-{name}.parquet"
            s, peak, _ = run_measured([str(data), "-o", str(out), "--id-col", "id", "--compare-col", "label", "-q",
                                       "--chunk-size", str(chunk_size), *extra])
            steady = n / (s - base[name]) if s > base[name] else None
            results["runs"].append({"engine": name, "rows": n, "seconds": round(s, 2),
                                    "rows_per_s": round(n / s, 1),
                                    "rows_per_s_steady": round(steady, 1) if steady else None,
                                    "startup_s": round(base[name], 2), "peak_rss_mib": round(peak, 1)})
            print(f"  {name:16s} {n:>7d} rows  {s:7.2f} s  {n / s:8.0f} rows/s  peak {peak:7.1f} MiB", flush=True)
    # Resume: kill a run after half of its chunks, resume it, compare with a full run.
    n = max(sizes)
    data = tmp / f"orders-{n}.jsonl"
    chunks = -(-n // chunk_size)
    out = tmp / "resume.parquet"
    args = [str(data), "-o", str(out), "--id-col", "id", "-q", "--chunk-size", str(chunk_size)]
    full, _, _ = run_measured(args)
    killed, _, rc = run_measured(args, env={"DISPATCH_NLP_BATCH_TEST_KILL_AFTER": str(chunks // 2)})
    resumed, _, _ = run_measured(args + ["--resume"])
    results["resume"] = {"rows": n, "chunks": chunks, "killed_after_chunks": chunks // 2,
                         "full_run_s": round(full, 2), "killed_run_s": round(killed, 2), "killed_rc": rc,
                         "resumed_run_s": round(resumed, 2), "saved_s": round(full - resumed, 2),
                         "saved_share": round(1 - resumed / full, 3)}
    print(f"  resume: full {full:.2f} s, resumed after {chunks // 2}/{chunks} chunks {resumed:.2f} s", flush=True)
    return results


def markdown(res: dict) -> str:
    lines = ["| engine | rows | seconds | rows/s | rows/s without start-up | start-up s | peak RSS MiB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in res["runs"]:
        lines.append(f"| {r['engine']} | {r['rows']} | {r['seconds']} | {r['rows_per_s']} | "
                     f"{r['rows_per_s_steady'] or '-'} | {r['startup_s']} | {r['peak_rss_mib']} |")
    rs = res.get("resume")
    if rs:
        lines += ["", f"Resume ({rs['rows']} rows, {rs['chunks']} chunks, killed after {rs['killed_after_chunks']}): "
                      f"full run {rs['full_run_s']} s, resumed run {rs['resumed_run_s']} s, saved {rs['saved_s']} s "
                      f"({rs['saved_share']:.0%})."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big", action="store_true", help="add the 100k-row size")
    ap.add_argument("--sizes", help="comma-separated row counts (default 1000,10000)")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "batch.json"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [1000, 10000]
    if args.big and 100_000 not in sizes:
        sizes.append(100_000)
    spark = not args.no_spark
    if spark:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            print("pyspark not installed: skipping Spark", file=sys.stderr)
            spark = False
    with tempfile.TemporaryDirectory() as tmp:
        res = bench(sizes, spark, Path(tmp), args.chunk_size)
    import psutil

    res["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                      "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "platform": platform.platform()}
    res["chunk_size"] = args.chunk_size
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
