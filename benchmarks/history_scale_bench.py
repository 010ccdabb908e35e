"""Training on a large history: peak memory (RSS) and time of ``dispatch-nlp train`` (linear member,
no encoder) on a generated corpus, and of reading the labeled table two ways: ``load_examples`` (a
Python list of examples, what ``train`` holds) and ``hf_dataset.examples_dataset`` (an Arrow table
on disk, memory-mapped).

    nice -n 10 python benchmarks/history_scale_bench.py --n 200000 --work /tmp/scale \
        [--stages train,load_list,load_dataset] [--folds F]

Each stage runs in its own process under ``/usr/bin/time -v`` (peak RSS of that process and its
children as the kernel counts it). Results merge into ``benchmarks/results/history_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "history_scale.json"
BIN = Path(sys.executable).parent
COLUMNS = ["--text-col", "text", "--title-col", "title", "--id-col", "id", "--category-col", "category_path",
           "--path-sep", "/", "--appeal-col", "appeal_type", "--district-col", "district_code",
           "--street-col", "street_code", "--unit-col", "unit_id", "--split-col", "split"]

LOAD = """
import sys, time
from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.gazetteer import Gazetteer
spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category_path", path_sep="/",
                  appeal_col="appeal_type", district_col="district_code", street_col="street_code", unit_col="unit_id")
catalog, gaz = Catalog.load(), Gazetteer.load()
t = time.perf_counter()
if sys.argv[2] == "list":
    from dispatch_nlp.lifecycle.examples import load_examples
    ex, report = load_examples(sys.argv[1], spec, catalog, gaz, split_col="split")
    n = len(ex)
else:
    from dispatch_nlp.batch.hf_dataset import examples_dataset
    ds, report = examples_dataset(sys.argv[1], spec, catalog, gaz, split_col="split", cache_dir=sys.argv[3])
    n = len(ds)
    n_train = sum(1 for s in ds["split"] if s == "train")  # a column read through the memory map
print("ROWS", n, report.splits, round(time.perf_counter() - t, 1))
"""


def timed(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` under ``/usr/bin/time -v``; its peak RSS (MB), wall seconds and exit status."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=fh, stderr=subprocess.STDOUT).returncode
    text = log.read_text(errors="replace")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return {"rc": rc, "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else None,
            "tail": [line for line in text.splitlines() if line.startswith("ROWS")][-1:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--work", type=Path, default=Path("/tmp/history_scale"))
    ap.add_argument("--corpus", type=Path, help="an already generated corpus (default: generate one)")
    ap.add_argument("--stages", default="train,load_list,load_dataset")
    ap.add_argument("--folds", type=int, help="passed to train (default: train's own)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus or args.work / f"gen{args.n}.jsonl"
    results = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    if not corpus.exists():
        results["generate"] = timed([str(BIN / "dispatch-nlp"), "corpus", "generate", "-n", str(args.n), "--seed",
                                     str(args.seed), "-o", str(corpus), "--no-progress"], args.work / "generate.log")
    rows = sum(1 for _ in open(corpus, encoding="utf-8"))
    stages = args.stages.split(",")
    if "train" in stages:
        cmd = [str(BIN / "dispatch-nlp"), "train", str(corpus), "-o", str(args.work / "model"), *COLUMNS,
               "--model-version", "history-scale", "-q", *(["--folds", str(args.folds)] if args.folds is not None else [])]
        results["train_linear"] = {**timed(cmd, args.work / "train.log"), "folds": args.folds}
        metrics = args.work / "model" / "metrics.json"
        if metrics.exists():
            m = json.loads(metrics.read_text())
            results["train_linear"]["timings"] = m.get("timings")
            results["train_linear"]["data"] = {k: m["data"].get(k) for k in ("rows", "train", "dev", "test")}
            results["train_linear"]["test_leaf_accuracy"] = (m.get("test", {}).get("leaf") or {}).get("accuracy")
    for stage, kind in (("load_list", "list"), ("load_dataset", "dataset")):
        if stage in stages:
            results[stage] = timed([sys.executable, "-c", LOAD, str(corpus), kind, str(args.work / "arrow")],
                                   args.work / f"{stage}.log")
    results["setup"] = {"orders": rows, "corpus_mb": round(corpus.stat().st_size / 2**20, 1),
                        "cpus": os.cpu_count(), "python": platform.python_version(),
                        "note": "2 shared cores, other work running at the same time: times are upper bounds"}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
