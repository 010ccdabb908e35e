"""Section 1 of the benchmark report: the machine (cores, CPU model and flags, library versions,
thread settings, load average) as a dict."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# -- 1. machine -----------------------------------------------------------------------------------
INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def machine() -> dict:
    cpu_model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu_model in ("unknown", "", platform.processor()):
                cpu_model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    libs = {}
    for dist in ("dispatch-nlp", "onnxruntime", "numpy", "scipy", "scikit-learn", "tokenizers", "torch",
                 "transformers", "onnx", "rjieba", "jieba", "matplotlib"):
        try:
            libs[dist] = version(dist)
        except PackageNotFoundError:
            libs[dist] = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gib = None
    return {
        "cpu_count": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(), "cpu_model": cpu_model,
        "cpu_flags": [f for f in INTERESTING_FLAGS if f in flags], "memory_gib": mem_gib,
        "python": platform.python_version(), "platform": platform.platform(), "libraries": libs,
        "threads": {"onnxruntime_intra_op": _ort_threads(), "DISPATCH_NLP_THREADS": os.environ.get("DISPATCH_NLP_THREADS")},
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _ort_threads() -> int:
    return int(os.environ.get("DISPATCH_NLP_THREADS", "0")) or min(os.cpu_count() or 1, 4)
