"""Section 5 of the benchmark report: resources. Peak RSS and load time of a fresh process
(``measure_memory``), model size per file (``model_files``) and training time per 1,000 orders
(``measure_training``), each returned as a dict."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import ROOT, Profile

# -- 5. resources ---------------------------------------------------------------------------------
MEMORY_SCRIPT = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from dispatch_nlp import Dispatcher
t1 = time.perf_counter()
d = Dispatcher.load(sys.argv[1] if sys.argv[1] != "-" else None)
t2 = time.perf_counter()
rss_loaded = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
texts = json.load(open(sys.argv[2], encoding="utf-8"))
t3 = time.perf_counter()
d.dispatch(texts[0])
t4 = time.perf_counter()
for t in texts:
    d.dispatch(t)
t5 = time.perf_counter()
# VmHWM is this process image's own high-water mark; ru_maxrss survives exec and so would report
# the parent's size (the harness, with torch and encoders loaded) for a child it started.
hwm = [int(x.split()[1]) / 1024 for x in open("/proc/self/status") if x.startswith("VmHWM:")]
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_dispatch_ms": (t4 - t3) * 1000,
                  "orders": len(texts), "dispatch_s": t5 - t4, "rss_after_load_mib": rss_loaded,
                  "peak_rss_mib": hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_memory(prof: Profile, model_dir, records: list[dict], tmp: Path) -> dict:
    texts = [r["text"] for r in records][: prof.memory_orders]
    while len(texts) < prof.memory_orders:
        texts += texts[: prof.memory_orders - len(texts)]
    tf = tmp / "memory-texts.json"
    tf.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    res = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(model_dir) if model_dir else "-", str(tf)],
                         capture_output=True, text=True, cwd=str(ROOT), timeout=1800)
    if res.returncode != 0:
        raise RuntimeError(f"memory probe failed: {res.stderr.strip()[-500:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out = {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}
    out["mean_chars"] = round(float(np.mean([len(t) for t in texts])), 1)
    out["note"] = ("a fresh Python process: import, Dispatcher.load(), one warm-up order, then the orders one at a "
                   "time; peak RSS is that process's high-water mark (VmHWM)")
    return out


def model_files(model_dir: Path) -> dict:
    files = {str(p.relative_to(model_dir)): p.stat().st_size for p in sorted(model_dir.rglob("*")) if p.is_file()}
    return {"files_bytes": files, "total_mib": round(sum(files.values()) / 2**20, 2)}


def measure_training(prof: Profile, corpus: Path, catalog, gazetteer, model_dir: Path, encoder_dir, tmp: Path) -> dict:
    """Linear member fit time per 1,000 training orders (measured), and the student's (measured with
    --full, else read from the model's own files)."""
    from dispatch_nlp.training.data import load_examples
    from dispatch_nlp.training.linear import fit_linear

    from dispatch_nlp.batch.tables import ColumnSpec

    spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category_path",
                      appeal_col="appeal_type")
    examples, _ = load_examples(corpus, spec, catalog, None, split_col="split", dev_ratio=0.0, test_ratio=0.0,
                                drop_near_duplicates=False)
    train = [e for e in examples if e.split == "train" and e.leaf][: prof.train_orders]
    dev = [e for e in examples if e.split == "dev" and e.leaf][: max(50, prof.train_orders // 5)]
    labels = lambda ex: {"leaf": [e.leaf for e in ex], "appeal": [e.appeal or "其他" for e in ex]}  # noqa: E731
    t0 = time.perf_counter()
    fit_linear([e.text for e in train], labels(train), [e.text for e in dev], labels(dev))
    sec = time.perf_counter() - t0
    out = {"linear": {"orders": len(train), "seconds": round(sec, 1),
                      "seconds_per_1000": round(sec / max(len(train), 1) * 1000, 1),
                      "how": "measured here: dispatch_nlp.training.linear.fit_linear (TF-IDF char 1-3-grams + LinearSVC per head, "
                             "leaf and appeal) on the generated train split; grows faster than linearly with orders "
                             "and classes seen"}}
    metrics = model_dir / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text(encoding="utf-8"))
        n_train = (m.get("data") or {}).get("train")
        t = m.get("timings") or {}
        if n_train and t.get("linear_s"):
            out["linear_shipped"] = {"orders": n_train, "seconds": t["linear_s"],
                                     "seconds_per_1000": round(t["linear_s"] / n_train * 1000, 1),
                                     "source": f"{metrics.relative_to(ROOT) if metrics.is_relative_to(ROOT) else metrics}"
                                               " timings.linear_s (the shipped model's own training run)"}
        out["shipped_timings"] = t
    enc_meta = _encoder_meta(model_dir)
    if prof.student_orders and encoder_dir is not None and (Path(encoder_dir) / "config.json").exists():
        out["student"] = _time_student(prof, examples, encoder_dir, enc_meta, tmp)
    elif enc_meta:
        ts = enc_meta.get("timings_s", {})
        n = enc_meta.get("train_examples")
        total = (ts.get("teacher") or 0) + (ts.get("train") or 0)
        out["student"] = {"orders": n, "epochs": enc_meta.get("epochs"), "layers": enc_meta.get("layers"),
                          "seconds_teacher": ts.get("teacher"), "seconds_train": ts.get("train"),
                          "seconds_per_1000": round(total / n * 1000, 1) if n else None,
                          "source": f"{enc_meta['_file']} timings_s (the shipped model's own training run; "
                                    "not re-measured: run with --full)"}
    else:
        out["student"] = {"source": "not measured: the shipped model has no encoder member; run with --full and a "
                                    "prepared encoder to time a distillation"}
    return out


def _encoder_meta(model_dir: Path) -> dict:
    try:
        cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        name = cfg.get("classifier", {}).get("encoder", {}).get("meta")
        if name and (model_dir / name).exists():
            meta = json.loads((model_dir / name).read_text(encoding="utf-8"))
            meta["_file"] = str(model_dir / name)
            return meta
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _time_student(prof: Profile, examples, encoder_dir, enc_meta: dict, tmp: Path) -> dict:
    from types import SimpleNamespace

    from dispatch_nlp.training.encoder_train import fit_encoder_member

    train = [e for e in examples if e.split == "train" and e.leaf][: prof.student_orders]
    dev = [e for e in examples if e.split == "dev" and e.leaf][:64]
    heads = {"leaf": [e.leaf for e in train], "appeal": [e.appeal or "其他" for e in train]}
    layers = int(enc_meta.get("layers", 4))
    opts = SimpleNamespace(seed=13, device="cpu", encoder=str(encoder_dir), student_layers=layers,
                           max_len=int(enc_meta.get("max_len", 160)), batch_size=32, epochs=1.0, progress=False)
    out_dir = tmp / "student"
    out_dir.mkdir()
    t0 = time.perf_counter()
    fit_encoder_member(opts, train, dev, heads, out_dir)
    sec = time.perf_counter() - t0
    meta = json.loads((out_dir / "encoder.json").read_text(encoding="utf-8"))
    ts = meta.get("timings_s", {})
    fit = (ts.get("teacher") or 0) + (ts.get("train") or 0)
    return {"orders": len(train), "epochs": 1.0, "layers": layers, "seconds_total_with_export": round(sec, 1),
            "seconds_teacher": ts.get("teacher"), "seconds_train": ts.get("train"),
            "seconds_per_1000": round(fit / max(len(train), 1) * 1000, 1),
            "source": "measured here: dispatch_nlp.training.encoder_train.fit_encoder_member, 1 epoch (teacher embeddings + "
                      "student training; export excluded from the per-1,000 figure)"}
