"""Section 3 of the benchmark report: batch throughput of ``dispatch_nlp.batch.run_batch`` against
batch size and worker processes (records in, a dict of runs out)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .common import Profile, log


# -- 3. batch throughput --------------------------------------------------------------------------
def measure_batch(prof: Profile, records: list[dict], model_dir, dispatcher, tmp: Path) -> dict:
    from dispatch_nlp.batch import BatchOptions, run_batch
    from dispatch_nlp.batch.tables import ColumnSpec

    rows = [r for r in records][: prof.batch_rows]
    while len(rows) < prof.batch_rows:
        rows += records[: prof.batch_rows - len(rows)]
    src = tmp / "batch-in.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for i, r in enumerate(rows):
            fh.write(json.dumps({"id": f"B{i:06d}", "text": r["text"], "title": r.get("title")}, ensure_ascii=False) + "\n")
    one = tmp / "batch-one.jsonl"
    one.write_text(src.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    spec = ColumnSpec(text_col="text", title_col="title", id_col="id")
    results = []
    startup = {}
    for w in prof.workers:
        for b in prof.batch_sizes:
            chunk = max(b, prof.batch_rows // (4 * w), 1)
            opts = BatchOptions(spec=spec, model_dir=str(model_dir) if model_dir else None, workers=w,
                                batch_size=b, chunk_size=chunk, progress=False)
            if w not in startup:
                t0 = time.perf_counter()
                run_batch(one, tmp / "out-one.jsonl", opts, dispatcher=dispatcher if w == 1 else None)
                startup[w] = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = run_batch(src, tmp / f"out-{w}-{b}.jsonl", opts, dispatcher=dispatcher if w == 1 else None)
            sec = time.perf_counter() - t0
            steady = sec - startup[w]
            if steady < 0.5 * sec:
                # Start-up is most of the run: the difference of two similar times is noise (a 256-row
                # run once "measured" 2,424 orders/s this way). Report the rate with start-up only.
                steady = 0.0
            results.append({"workers": w, "batch_size": b, "chunk_size": chunk, "rows": res.summary.get("rows", len(rows)),
                            "errors": res.summary.get("errors"), "seconds": round(sec, 2),
                            "orders_per_s": round(len(rows) / sec, 1),
                            "orders_per_s_steady": round(len(rows) / steady, 1) if steady > 0 else None})
            log(f"  batch workers={w} batch={b}: {results[-1]['orders_per_s']} orders/s "
                f"({results[-1]['orders_per_s_steady']} without start-up)")
    return {"rows": len(rows), "mean_chars": round(float(np.mean([len(r["text"]) for r in rows])), 1),
            "startup_s": {str(k): round(v, 2) for k, v in startup.items()}, "runs": results,
            "note": "dispatch_nlp.batch.run_batch, JSONL in and out; workers=1 reuses the loaded model in this "
                    "process, workers=2 are spawned processes that each load it (their start-up, measured "
                    "on a 1-row input, is taken out of orders_per_s_steady; left empty when start-up is "
                    "more than half the run, where the difference is noise)"}
