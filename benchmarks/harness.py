"""One run that says where the library stands: ``dispatch-nlp bench`` / ``python -m benchmarks``.

    python -m benchmarks [--quick | --full] [-o benchmarks] [--model DIR] [--encoder work/encoder]

Writes ``REPORT.md``, ``results/bench.json`` (every figure) and PNG plots under the output folder.
Sections, all measured in this one run (ratios are taken within it; these machines are noisy):

1. machine: cores, CPU model and flags, library versions, load average before and after;
2. latency per stage and end to end (p50/p95/p99) of one order of 50, 300 and 1,000 characters for
   rules only, the linear member only, and the pipeline with each encoder variant in place of the
   shipped encoder member (torch eager 12 layers, ONNX fp32 12 layers, ONNX int8 12 layers, torch
   eager student, ONNX int8 student), plus the shipped model as ``Dispatcher.load()`` gives it. The
   variants are measured round robin, one call each in turn, so drift hits them alike (the torch
   eager ones in a round of their own: interleaved, torch and ONNX Runtime threads starve each other);
3. batch throughput against batch size and worker processes (``dispatch_nlp.batch.run_batch``);
4. accuracy per head on the generated held-out-family test split, coverage-accuracy and
   reliability plots, jurisdiction accuracy by mention type;
5. resources: peak RSS of a fresh process that loads the model and dispatches 1,000 orders, model
   size per file, load time, training time per 1,000 orders;
6. the other benchmarks' result files, folded in with the command and date that produced them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from dispatch_nlp.cli.bench import add_arguments, profile_of  # the options are the CLI's

# The sections live in their own modules; their names stay importable from here.
from .accuracy import _Recorder, measure_accuracy, mention_type, reliability  # noqa: F401
from .common import LENGTHS, PROFILES, ROOT, Profile, log, pct, summary  # noqa: F401
from .latency import Variant, _with_classifier, build_variants, latency_ratios, measure_latency  # noqa: F401
from .machine import INTERESTING_FLAGS, machine  # noqa: F401
from .resources import MEMORY_SCRIPT, measure_memory, measure_training, model_files  # noqa: F401
from .throughput import measure_batch  # noqa: F401


# -- corpus ---------------------------------------------------------------------------------------
def generate_corpus(path: Path, n: int, seed: int = 7) -> dict:
    """``dispatch-nlp corpus generate -n N --seed 7`` (the default model's corpus seed; its first N
    orders are the same whatever N), run in this process."""
    from dispatch_nlp.cli.main import main as cli_main

    t0 = time.perf_counter()
    rc = cli_main(["corpus", "generate", "-n", str(n), "--seed", str(seed), "-o", str(path), "--no-progress"])
    if rc != 0:
        raise RuntimeError(f"corpus generate failed with exit code {rc}")
    return {"command": f"dispatch-nlp corpus generate -n {n} --seed {seed}", "seconds": round(time.perf_counter() - t0, 1)}


def read_records(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def texts_of_length(records: list[dict], length: int, k: int) -> list[str]:
    """``k`` distinct orders of exactly ``length`` characters: generated test orders, each followed by
    the next ones until long enough (a long letter is several citizens' paragraphs), then cut."""
    pool = [r["text"].replace("\n", "") for r in records if r.get("split") == "test"] or [r["text"] for r in records]
    out = []
    for i in range(k):
        text, j = "", i
        while len(text) < length:
            text += pool[j % len(pool)]
            j += 1
        out.append(text[:length])
    return out


# -- 6. the other benchmarks ----------------------------------------------------------------------
OTHER_RESULTS = {
    "corpus": "python benchmarks/corpus_bench.py",
    "jurisdiction": "python -m benchmarks.jurisdiction_bench",
    "service": "python benchmarks/service_bench.py",
    "retrain": "python benchmarks/retrain_demo.py",
    "batch": "python benchmarks/batch_bench.py",
    "segment": "python benchmarks/segment_bench.py --json benchmarks/results/segment.json",
    "address": "python -m benchmarks.address_bench --label after --challenge ../shared/challenge/orders.jsonl",
    "emergency": "python -m benchmarks.emergency_bench --label after --challenge ../shared/challenge/orders.jsonl",
    "history": "python -m benchmarks.history_bench --label after --train-flags='--units-from-labels --gazetteer beijing'",
    "pii": "python -m benchmarks.pii_bench --label after",
    "security": "python benchmarks/security_check.py",
}


def _file_date(path: Path) -> tuple[str, str]:
    """When a result file was produced: its last commit (read-only git query) when it is committed
    and unchanged since, else its modification time."""
    mtime = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(path.stat().st_mtime))
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", str(path)], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        if not dirty:
            out = subprocess.run(["git", "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%d %H:%M UTC", "--",
                                  str(path)], cwd=ROOT, capture_output=True, text=True, timeout=10,
                                 env={**os.environ, "TZ": "UTC"}).stdout.strip()
            if out:
                return out, "git commit"
    except (OSError, subprocess.SubprocessError):
        pass
    return mtime, "file time"


def fold_in(results_dir: Path, segment: dict | None) -> dict:
    out = {}
    for name, cmd in OTHER_RESULTS.items():
        path = results_dir / f"{name}.json"
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                out[name] = {"command": cmd, "error": f"unreadable ({exc})"}
                continue
            date, how = _file_date(path)
            out[name] = {"command": cmd, "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                         "date": date, "date_from": how, "data": data}
        elif name == "segment" and segment is not None:
            out[name] = {"command": "benchmarks.segment_bench.run (by this harness, this run)",
                         "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "date_from": "this run",
                         "data": segment}
        else:
            out[name] = {"command": cmd, "missing": True}
    return out


# -- the run --------------------------------------------------------------------------------------
def run(profile: str = "quick", output: str | Path = "benchmarks", model_dir=None, encoder_dir="work/encoder",
        cache_dir="work/bench-cache", plots: bool = True) -> dict:
    from dispatch_nlp.resources import default_model_dir

    prof = PROFILES[profile]
    out_dir = Path(output)
    results_dir = out_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    mdir = Path(model_dir) if model_dir else default_model_dir()
    enc = Path(encoder_dir) if encoder_dir else None
    if enc is not None and not enc.is_absolute():
        enc = ROOT / enc
    cache = Path(cache_dir)
    if not cache.is_absolute():
        cache = ROOT / cache
    t_start = time.perf_counter()
    result: dict = {"profile": asdict(prof), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "command": "dispatch-nlp bench" + {"standard": "", "quick": " --quick", "full": " --full"}.get(
                        profile, f" --profile {profile}"),
                    "machine": machine(), "skipped": {}, "timings_s": {}}
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as tmpname:
        tmp = Path(tmpname)

        def step(name, fn, *a, **kw):
            log(f"{name} …")
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                result["timings_s"][name] = round(time.perf_counter() - t0, 1)

        corpus = tmp / "corpus.jsonl"
        result["corpus"] = step("corpus", generate_corpus, corpus, prof.corpus_n)
        records = read_records(corpus)
        variants, result["model"] = step("load variants", build_variants, prof, mdir, enc, cache, result["skipped"])
        texts = {n: texts_of_length(records, n, min(prof.reps, 25)) for n in prof.lengths}
        result["latency"] = step("latency", measure_latency, variants, texts, prof)
        result["latency_ratios"] = latency_ratios(result["latency"])
        shipped = variants[-1].dispatcher
        full = next((v.dispatcher for v in variants if v.key == "pipeline_full"), None)
        del variants, texts
        result["batch"] = step("batch", measure_batch, prof, records, model_dir, shipped, tmp)
        result["accuracy"] = step("accuracy", measure_accuracy, shipped, corpus, records)
        if full is not None:
            result["accuracy_full_profile"] = step("accuracy (profile full)", measure_accuracy, full, corpus, records)
        result["memory"] = step("memory", measure_memory, prof, model_dir, records, tmp)
        result["model_size"] = model_files(mdir)
        result["training"] = step("training", measure_training, prof, corpus, shipped.catalog, shipped.gazetteer,
                                  mdir, enc, tmp)
        segment = None
        if prof.segment_orders:
            from .segment_bench import run as segment_run

            segment = step("segment", segment_run, prof.segment_orders)
        result["other_benchmarks"] = fold_in(ROOT / "benchmarks" / "results", segment)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    bench_json = results_dir / "bench.json"
    bench_json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")  # before the report
    from .report import write_report

    write_report(result, out_dir, plots=plots)
    bench_json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")  # + plot notes
    log(f"done in {result['seconds']} s: {out_dir / 'REPORT.md'}, {results_dir / 'bench.json'}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    run(profile_of(args), args.output or str(ROOT / "benchmarks"), args.model, args.encoder, args.cache,
        plots=not args.no_plots)
    return 0
