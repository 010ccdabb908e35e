"""What every part of the benchmark harness shares: the repository root, the run profiles
(``Profile``, ``PROFILES``: counts per run size), ``log`` (stderr) and the percentile figures
(``pct``, ``summary``: a list of milliseconds in, a dict of n/p50/p95/p99/mean out)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LENGTHS = (50, 300, 1000)


@dataclass
class Profile:
    name: str
    lengths: tuple[int, ...] = LENGTHS
    reps: int = 40  # timed calls per variant and length (at most)
    warmup: int = 2
    min_reps: int = 5  # a variant stops after variant_budget_s of its own calls once it has min_reps
    variant_budget_s: float = 8.0
    settle_s: float = 0.5  # pause before each round of variants (worker threads go idle)
    corpus_n: int = 4000  # generated orders (seed 7, the default model's corpus); its test split is scored
    batch_rows: int = 256
    batch_sizes: tuple[int, ...] = (1, 8, 32, 128)
    workers: tuple[int, ...] = (1, 2)
    memory_orders: int = 1000
    train_orders: int = 1000  # linear member training-time sample
    student_orders: int = 0  # >0 (--full): time a student distillation on this many orders
    encoders: bool = True
    segment_orders: int = 50


PROFILES = {
    "smoke": Profile("smoke", lengths=(50,), reps=3, warmup=1, corpus_n=300, batch_rows=16, batch_sizes=(1, 8),
                     workers=(1,), memory_orders=10, train_orders=200, encoders=False, segment_orders=0),
    "quick": Profile("quick", batch_rows=1024),  # fewer rows and 2 spawned workers measure only their start-up
    "standard": Profile("standard", reps=300, warmup=3, min_reps=20, variant_budget_s=60.0, corpus_n=40000,
                        batch_rows=2000, train_orders=4000, segment_orders=200),
    "full": Profile("full", reps=300, warmup=3, min_reps=20, variant_budget_s=60.0, corpus_n=40000, batch_rows=2000,
                    train_orders=4000, student_orders=1000, segment_orders=200),
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def summary(values) -> dict:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "mean": round(float(np.mean(values)), 3) if len(values) else None}
