"""The classifier cascade of the full profile: how many orders may skip the encoder, and what it costs.

    .venv/bin/python -m benchmarks.cascade_bench [--model work/model-cascade]
        [--challenge ../shared/challenge/orders.jsonl] [--generated work/cascade-gen.jsonl]
        [--on leaf] [--max-loss 0.01] [--latency] [--threads 1] [--out work/cascade-bench.json]

Takes a model with a ``fast`` profile (any; its own ``classifier.cascade`` setting is ignored here)
and labelled orders: the challenge set (split column ``split``) and a generated corpus (``dispatch-nlp
corpus generate -n 3000 --seed 99 -o work/cascade-gen.jsonl``). Returns JSON (stdout, and ``--out``):

* ``curve``: per dev set and per threshold τ of the fast fusion's certainty (``--on``: ``leaf`` top
  probability, or ``margin``), the share of orders that skip the encoder and the full profile's leaf,
  first-level and unit accuracy, automatic share and its unit accuracy with the cascade. A skipped
  order takes the fast profile's decision, an escalated one the full profile's: both profiles are run
  once over every order and mixed per τ, which is what the cascade computes (``check`` below verifies
  it on the test halves through the real cascade).
* ``chosen``: the lowest τ (the most orders skipping) whose leaf, first-level and unit accuracy, leaf
  agreement with the full profile and automatic share stay within ``--max-loss`` of the full profile
  without cascade on every dev set (``chosen_accuracy_only``: the same without the automatic share; on
  these sets the fast profile is within a point of the full one's accuracy, and the full profile's gain
  is mostly its automatic share).
* ``test``: at the chosen τ, the test halves' figures of the fast profile, the full profile without
  the cascade and with it, through ``Dispatcher`` with the cascade on (and how many of its decisions
  differ from the mixed ones: ``check.mismatches``, expected 0).
* ``latency`` (``--latency``): single orders of 300 characters (made as ``dispatch-nlp bench`` makes
  them: generated test orders, seed 7, concatenated and cut), fast / full / full with cascade timed
  round robin in one process: p50 and p95 of wall and CPU milliseconds; and batch orders per second
  (``dispatch_batch``, batch size 64, generated test orders), interleaved A/B, wall and CPU.
  ONNX Runtime uses ``--threads`` intra-op threads (1 by default: CPU time is then the honest figure
  on a shared machine); the machine's load average is recorded next to the wall figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from dispatch_nlp.components.cascade import SKIPPED_FLAG, certainty
from dispatch_nlp.dispatcher import Dispatcher
from dispatch_nlp.lifecycle.calibrate import ProfileRun, outcomes, run_profile
from dispatch_nlp.lifecycle.examples import ColumnSpec, load_examples

ROOT = Path(__file__).resolve().parents[1]
CHALLENGE = ROOT.parent / "shared" / "challenge" / "orders.jsonl"
SPEC = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category", path_sep="/",
                  appeal_col="appeal_type", district_col="district_code", street_col="street_code",
                  unit_col="unit_id")
TAUS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.993, 0.995,
        0.997, 0.999)
NEVER = 1.01  # a τ no certainty reaches: every order runs the encoder
# what the accuracy rule keeps within --max-loss of the full profile: its figures, and the share of orders
# whose leaf is the full profile's (1 without cascade; stops a τ whose losses and gains cancel on few orders)
METRICS = ("leaf_accuracy", "l1_accuracy", "unit_accuracy", "leaf_agreement")
KEEP = (*METRICS, "auto_share")  # the default rule: the automatic share too (the full profile's other gain)
FIGURES = ("leaf_accuracy", "l1_accuracy", "unit_accuracy", "auto_share", "auto_unit_accuracy", "auto_leaf_accuracy")
BATCH = 64


def log(msg: str) -> None:
    print(f"[cascade {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_sets(args, catalog, gazetteer, config) -> dict[str, list]:
    """{"challenge.dev": examples, ...}: the labelled orders of each set and split."""
    sets: dict[str, list] = {}
    if args.challenge:
        ex, _ = load_examples(args.challenge, SPEC, catalog, gazetteer, split_col="split", dev_ratio=0.0,
                              test_ratio=0.0, config=config)
        for split in ("dev", "test"):
            sets[f"challenge.{split}"] = [e for e in ex if e.split == split and e.leaf]
    if args.generated:
        with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
            table = Path(tmp) / "gen.jsonl"
            with open(args.generated, encoding="utf-8") as src, open(table, "w", encoding="utf-8") as dst:
                for line in src:
                    r = json.loads(line)
                    if r.get("split") in ("dev", "test"):
                        r["category"] = "/".join(r["category_path"])
                        dst.write(json.dumps(r, ensure_ascii=False) + "\n")
            ex, _ = load_examples(table, SPEC, catalog, gazetteer, split_col="split", dev_ratio=0.0, test_ratio=0.0,
                                  config=config)
        for split in ("dev", "test"):
            sets[f"generated.{split}"] = [e for e in ex if e.split == split and e.leaf][: args.max_orders]
    return sets


def profile_decisions(dispatcher: Dispatcher, examples: list) -> tuple[ProfileRun, list]:
    run = run_profile(dispatcher, examples, BATCH)
    return run, [dispatcher.router_for(doc).decide(doc) for doc in run.docs]


def figures(run: ProfileRun, decisions: list, dispatch_on: str) -> dict:
    f = outcomes(run, decisions, dispatch_on).figures
    return {k: f.get(k) for k in FIGURES}


def mixed(fast_dec: list, full_dec: list, cert: np.ndarray, tau: float) -> list:
    return [a if c >= tau else b for a, b, c in zip(fast_dec, full_dec, cert)]


def curve(fast, full, examples, on: str, dispatch_on: str) -> list[dict]:
    """The figures per τ on one set (``leaf_agreement``: share of orders whose leaf is the full profile's)."""
    frun, fdec = profile_decisions(fast, examples)
    urun, udec = profile_decisions(full, examples)
    cert = np.array([certainty(d.classifier, on) for d in frun.docs])
    rows = []
    for tau in (*TAUS, NEVER):
        dec = mixed(fdec, udec, cert, tau)
        agree = np.mean([a.category.code == b.category.code for a, b in zip(dec, udec)])
        rows.append({"tau": tau, "skip_share": round(float((cert >= tau).mean()), 4), **figures(urun, dec, dispatch_on),
                     "leaf_agreement": round(float(agree), 4)})
    return rows


def choose(curves: dict[str, list[dict]], max_loss: float, keep: tuple[str, ...] = KEEP) -> float:
    """The lowest τ within ``max_loss`` of the full profile (τ = NEVER) on every ``keep`` figure of every set."""
    ok = []
    for i, tau in enumerate((*TAUS, NEVER)):
        fine = True
        for rows in curves.values():
            base, row = rows[-1], rows[i]
            for m in keep:
                if base[m] is not None and (row[m] is None or row[m] < base[m] - max_loss - 1e-9):
                    fine = False
        if fine:
            ok.append(tau)
    return min(ok)


def test_figures(fast, full, cascade, sets: dict, tau: float, on: str, dispatch_on: str) -> dict:
    out = {}
    for name, examples in sets.items():
        if not name.endswith(".test"):
            continue
        frun, fdec = profile_decisions(fast, examples)
        urun, udec = profile_decisions(full, examples)
        crun, cdec = profile_decisions(cascade, examples)
        cert = np.array([certainty(d.classifier, on) for d in frun.docs])
        want = mixed(fdec, udec, cert, tau)
        mismatches = sum(_core(a) != _core(b) for a, b in zip(want, cdec))
        out[name] = {"n": len(examples), "skip_share": round(float(np.mean([SKIPPED_FLAG in d.flags for d in cdec])), 4),
                     "fast": figures(frun, fdec, dispatch_on), "full": figures(urun, udec, dispatch_on),
                     "full_cascade": figures(crun, cdec, dispatch_on), "check": {"mismatches": mismatches}}
        log(f"{name}: {json.dumps(out[name], ensure_ascii=False)}")
    return out


def _core(decision) -> str:
    """A decision without its timings and the cascade's flag (what must equal the chosen profile's)."""
    d = decision.to_dict() if hasattr(decision, "to_dict") else dict(decision.__dict__)
    d = json.loads(json.dumps(d, default=lambda o: getattr(o, "__dict__", str(o)), ensure_ascii=False))
    d.pop("timings_ms", None)
    d["flags"] = [f for f in d.get("flags", []) if f != SKIPPED_FLAG]
    return json.dumps(d, sort_keys=True, ensure_ascii=False)


def _texts_300(n: int) -> tuple[list[str], list[str]]:
    from benchmarks.harness import generate_corpus, read_records, texts_of_length

    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        path = Path(tmp) / "corpus.jsonl"
        generate_corpus(path, 4000)  # dispatch-nlp bench --quick's corpus (seed 7)
        records = read_records(path)
    return texts_of_length(records, 300, n), [r["text"] for r in records if r.get("split") == "test"]


def latency(variants: dict[str, Dispatcher], reps: int, batch_orders: int, batch_rounds: int) -> dict:
    """Single orders of 300 characters round robin; then batch orders/s interleaved (wall and CPU)."""
    texts, pool = _texts_300(25)
    for d in variants.values():
        for t in texts[:3]:
            d.dispatch(t)
    rec: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in variants}
    skipped = 0
    load_before = os.getloadavg()
    for r in range(reps):
        t = texts[r % len(texts)]
        for k, d in variants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            dec = d.dispatch(t)
            rec[k]["wall"].append((time.perf_counter() - w0) * 1000)
            rec[k]["cpu"].append((time.process_time() - c0) * 1000)
            if k == "full_cascade" and r < len(texts):
                skipped += SKIPPED_FLAG in dec.flags
    single = {k: {f"{m}_ms": {"p50": round(float(np.percentile(v[m], 50)), 2),
                              "p95": round(float(np.percentile(v[m], 95)), 2)} for m in ("wall", "cpu")}
              for k, v in rec.items()}
    orders = (pool * (batch_orders // max(len(pool), 1) + 1))[:batch_orders]
    brec: dict[str, dict[str, float]] = {k: {"wall": 0.0, "cpu": 0.0} for k in variants}
    skipped_batch = 0
    for _ in range(batch_rounds):
        for k, d in variants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            decs = d.dispatch_batch(orders, batch_size=BATCH)
            brec[k]["wall"] += time.perf_counter() - w0
            brec[k]["cpu"] += time.process_time() - c0
            if k == "full_cascade":
                skipped_batch = sum(SKIPPED_FLAG in x.flags for x in decs)
    batch = {k: {"orders_per_s_wall": round(batch_orders * batch_rounds / v["wall"], 1),
                 "orders_per_cpu_s": round(batch_orders * batch_rounds / v["cpu"], 1)} for k, v in brec.items()}
    return {"single_300_chars": single, "single_skip_share": round(skipped / min(reps, len(texts)), 4),
            "batch": batch, "batch_orders": batch_orders, "batch_rounds": batch_rounds,
            "batch_skip_share": round(skipped_batch / batch_orders, 4), "reps": reps,
            "load_average": {"before": [round(x, 2) for x in load_before],
                             "after": [round(x, 2) for x in os.getloadavg()]}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "work" / "model-cascade"))
    p.add_argument("--challenge", default=str(CHALLENGE) if CHALLENGE.exists() else None)
    p.add_argument("--generated", default=str(ROOT / "work" / "cascade-gen.jsonl"))
    p.add_argument("--max-orders", type=int, default=400, help="generated orders per split at most")
    p.add_argument("--on", default="leaf", choices=("leaf", "margin"))
    p.add_argument("--max-loss", type=float, default=0.01, help="accuracy a dev set may lose to the cascade")
    p.add_argument("--tau", type=float, help="report the test halves at this τ instead of the chosen one")
    p.add_argument("--latency", action="store_true", help="also time single orders and batches")
    p.add_argument("--reps", type=int, default=100)
    p.add_argument("--batch-orders", type=int, default=256)
    p.add_argument("--batch-rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (0: its default)")
    p.add_argument("--out")
    args = p.parse_args(argv)
    threads = args.threads or None
    fast = Dispatcher.load(args.model, profile="fast", ort_threads=threads)
    full = Dispatcher.load(args.model, profile="full", ort_threads=threads, cascade=False)
    dispatch_on = full.router.settings.dispatch_on
    sets = load_sets(args, full.catalog, full.gazetteer, full.config)
    result: dict = {"model": args.model, "on": args.on, "max_loss": args.max_loss, "dispatch_on": dispatch_on,
                    "sets": {k: len(v) for k, v in sets.items()}, "curve": {}}
    for name, examples in sets.items():
        if name.endswith(".dev"):
            log(f"{name}: {len(examples)} orders")
            result["curve"][name] = curve(fast, full, examples, args.on, dispatch_on)
            for row in result["curve"][name]:
                log("  " + json.dumps(row))
    result["chosen_accuracy_only"] = choose(result["curve"], args.max_loss, METRICS)
    result["chosen_with_auto_share"] = choose(result["curve"], args.max_loss, KEEP)
    tau = args.tau if args.tau is not None else result["chosen_with_auto_share"]
    result["chosen"] = tau
    log(f"τ = {tau}")
    cascade = Dispatcher.load(args.model, profile="full", ort_threads=threads)
    stage: Any = next(s for s in cascade.stages if s.name == "classifier")
    if getattr(stage, "cascade", None) is None:
        raise SystemExit(f"{args.model}: its full profile declares no classifier cascade (add "
                         '"cascade": {"profile": "fast", "skip_above": ...} to its classifier section)')
    stage.cascade.settings = replace(stage.cascade.settings, skip_above=tau, on=args.on)
    result["test"] = test_figures(fast, full, cascade, sets, tau, args.on, dispatch_on)
    if args.latency:
        result["latency"] = latency({"fast": fast, "full": full, "full_cascade": cascade}, args.reps,
                                    args.batch_orders, args.batch_rounds)
        result["latency"]["threads"] = args.threads
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
