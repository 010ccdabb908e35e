"""The classifier cascade of the full profile: how many orders may skip the encoder, and what it costs.

    .venv/bin/python -m benchmarks.cascade_bench [--model models/default]
        [--challenge ../shared/challenge/orders.jsonl] [--generated work/cascade-gen.jsonl]
        [--on leaf] [--max-loss 0.01] [--keep-auto-share] [--tau T] [--latency] [--threads 1]
        [--write-model work/model-cascade] [--out work/cascade-bench.json]

Takes a model with a ``fast`` profile (any; its own ``classifier.cascade`` setting is ignored here)
and labelled orders: the challenge set (split column ``split``) and a generated corpus (``dispatch-nlp
corpus generate -n 3000 --seed 99 -o work/cascade-gen.jsonl``, made when the file is not there). Returns JSON (stdout, and ``--out``):

* ``curve``: per dev set and per threshold τ of the fast fusion's certainty (``--on``: ``leaf`` top
  probability, or ``margin``), the share of orders that skip the encoder and the full profile's leaf,
  first-level and unit accuracy, automatic share and its unit accuracy with the cascade. A skipped
  order takes the fast profile's decision, an escalated one the full profile's: both profiles are run
  once over every order and mixed per τ, which is what the cascade computes (``check`` below verifies
  it on the test halves through the real cascade).
* ``chosen``: the lowest τ (the most orders skipping) whose leaf, first-level and unit accuracy and leaf
  agreement with the full profile stay within ``--max-loss`` of the full profile without cascade on
  every dev set (``chosen_accuracy_only``); ``chosen_with_auto_share`` keeps the automatic share within
  it too (``--keep-auto-share`` picks that one): a skipped order is routed by the fast profile's
  threshold, and the full profile's gain on these sets is mostly a larger automatic share.
* ``test``: at the chosen τ, the test halves' figures of the fast profile, the full profile without
  the cascade and with it, through ``Dispatcher`` with the cascade on (the model's files linked into a
  temporary folder whose config declares it; ``--write-model DIR`` writes such a copy for good) (and how many of its decisions
  differ from the mixed ones: ``check.mismatches``, expected 0).
* ``latency`` (``--latency``): single orders of 300 characters (made as ``dispatch-nlp bench`` makes
  them: generated test orders, seed 7, concatenated and cut), fast / full / full with cascade timed
  in one process, interleaved by blocks of the 25 texts: p50 and p95 of wall and CPU milliseconds,
  and the share of those texts that skip the encoder; and batch orders per second
  (``dispatch_batch``, batch size 64, generated test orders and the challenge set's orders, repeated
  to ``--batch-orders``), interleaved A/B, wall and CPU, with the share that skipped.
  ONNX Runtime uses ``--threads`` intra-op threads (1 by default: CPU time is then the honest figure
  on a shared machine); the machine's load average is recorded next to the wall figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dispatch_nlp.components.cascade import SKIPPED_FLAG, certainty
from dispatch_nlp.dispatcher import Dispatcher, write_checksums
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


def cascade_model(src: Path, dst: Path, section: dict, *, link: bool = False) -> Path:
    """A copy of model ``src`` in ``dst`` (its files linked when ``link``) whose full classifier section
    declares ``section`` as its cascade; checksums rewritten. ``dst`` must be another folder (the copy
    replaces its files one by one)."""
    if dst.exists() and dst.resolve() == src.resolve():
        raise ValueError(f"--write-model must name another folder than the model ({src})")
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name in ("config.json", "checksums.json") or not f.is_file():
            continue
        target = dst / f.name
        if target.exists() or target.is_symlink():
            target.unlink()
        if link:
            target.symlink_to(f.resolve())
        else:
            shutil.copy2(f, target)
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    config["classifier"]["cascade"] = section
    (dst / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_checksums(dst)
    return dst


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


def _batch(variants: dict[str, Dispatcher], pool: list, batch_orders: int, rounds: int) -> dict:
    """Orders per second of ``dispatch_batch`` over ``batch_orders`` orders of ``pool``, variants in turn."""
    orders = (pool * (batch_orders // max(len(pool), 1) + 1))[:batch_orders]
    rec: dict[str, dict[str, float]] = {k: {"wall": 0.0, "cpu": 0.0} for k in variants}
    skipped = 0
    for _ in range(rounds):
        for k, d in variants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            decs = d.dispatch_batch(orders, batch_size=BATCH)
            rec[k]["wall"] += time.perf_counter() - w0
            rec[k]["cpu"] += time.process_time() - c0
            if k == "full_cascade":
                skipped = sum(SKIPPED_FLAG in x.flags for x in decs)
    out: dict = {k: {"orders_per_s_wall": round(batch_orders * rounds / v["wall"], 1),
                     "orders_per_cpu_s": round(batch_orders * rounds / v["cpu"], 1)} for k, v in rec.items()}
    out["orders"], out["rounds"], out["skip_share"] = batch_orders, rounds, round(skipped / batch_orders, 4)
    return out


def latency(variants: dict[str, Dispatcher], reps: int, batch_orders: int, batch_rounds: int,
            challenge: list | None = None) -> dict:
    """Single orders of 300 characters, interleaved by blocks; then batch orders/s interleaved (wall and
    CPU) on generated test orders and, when given, the challenge set's orders."""
    texts, pool = _texts_300(25)
    for d in variants.values():
        for t in texts[:3]:
            d.dispatch(t)
    rec: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in variants}
    skipped = 0
    load_before = os.getloadavg()
    for r in range(max(reps // len(texts), 1)):
        # interleaved by block: each variant over the 25 texts in turn (one variant's encoder run does not
        # leave the next variant's single order with cold caches, as call-by-call turns would)
        for k, d in variants.items():
            for t in texts:
                w0, c0 = time.perf_counter(), time.process_time()
                dec = d.dispatch(t)
                rec[k]["wall"].append((time.perf_counter() - w0) * 1000)
                rec[k]["cpu"].append((time.process_time() - c0) * 1000)
                if k == "full_cascade" and r == 0:
                    skipped += SKIPPED_FLAG in dec.flags
    single = {k: {f"{m}_ms": {"p50": round(float(np.percentile(v[m], 50)), 2),
                              "p95": round(float(np.percentile(v[m], 95)), 2)} for m in ("wall", "cpu")}
              for k, v in rec.items()}
    batch = {"generated": _batch(variants, pool, batch_orders, batch_rounds)}
    if challenge:
        batch["challenge"] = _batch(variants, challenge, batch_orders, batch_rounds)
    return {"single_300_chars": single, "single_skip_share": round(skipped / len(texts), 4),
            "batch": batch, "reps": reps,
            "load_average": {"before": [round(x, 2) for x in load_before],
                             "after": [round(x, 2) for x in os.getloadavg()]}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "models" / "default"))
    p.add_argument("--challenge", default=str(CHALLENGE) if CHALLENGE.exists() else None)
    p.add_argument("--generated", default=str(ROOT / "work" / "cascade-gen.jsonl"))
    p.add_argument("--max-orders", type=int, default=400, help="generated orders per split at most")
    p.add_argument("--on", default="leaf", choices=("leaf", "margin"))
    p.add_argument("--max-loss", type=float, default=0.01, help="accuracy a dev set may lose to the cascade")
    p.add_argument("--keep-auto-share", action="store_true",
                   help="choose τ keeping the automatic share within --max-loss too (fewer orders skip)")
    p.add_argument("--tau", type=float, help="report the test halves at this τ instead of the chosen one")
    p.add_argument("--latency", action="store_true", help="also time single orders and batches")
    p.add_argument("--reps", type=int, default=100)
    p.add_argument("--batch-orders", type=int, default=256)
    p.add_argument("--batch-rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (0: its default)")
    p.add_argument("--write-model", help="write a copy of the model with the cascade at τ into this folder")
    p.add_argument("--out")
    args = p.parse_args(argv)
    threads = args.threads or None
    if args.generated and not Path(args.generated).exists():
        from benchmarks.harness import generate_corpus

        log(f"{args.generated}: generating it (dispatch-nlp corpus generate -n 3000 --seed 99)")
        generate_corpus(Path(args.generated), 3000, seed=99)
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
    tau = args.tau if args.tau is not None else result["chosen_with_auto_share" if args.keep_auto_share
                                                       else "chosen_accuracy_only"]
    result["chosen"] = tau
    log(f"τ = {tau}")
    section = {"profile": "fast", "skip_above": tau, "on": args.on}
    tmp = tempfile.TemporaryDirectory(prefix="cascade-model-")
    cascade = Dispatcher.load(cascade_model(Path(args.model), Path(tmp.name), section, link=True), profile="full",
                              ort_threads=threads)
    result["test"] = test_figures(fast, full, cascade, sets, tau, args.on, dispatch_on)
    if args.latency:
        challenge = [{"text": e.text, "id": e.id} for k, v in sets.items() if k.startswith("challenge") for e in v]
        result["latency"] = latency({"fast": fast, "full": full, "full_cascade": cascade}, args.reps,
                                    args.batch_orders, args.batch_rounds, challenge)
        result["latency"]["threads"] = args.threads
    if args.write_model:
        cascade_model(Path(args.model), Path(args.write_model), section)
        result["written"] = {"model": args.write_model, "cascade": section}
    tmp.cleanup()
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
