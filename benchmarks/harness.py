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
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dispatch_nlp.cli.bench import add_arguments, profile_of  # the options are the CLI's

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


# -- 1. machine -----------------------------------------------------------------------------------
INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def machine() -> dict:
    from importlib.metadata import PackageNotFoundError, version

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


# -- 2. latency -----------------------------------------------------------------------------------
@dataclass
class Variant:
    key: str
    label: str
    dispatcher: object
    members: dict = field(default_factory=dict)  # name -> TimedMember inside the classifier stage
    note: str = ""
    group: str = "main"  # variants are timed round robin within their group, groups one after the other


def _with_classifier(base, members: dict, weights: dict):
    """A shallow copy of a loaded ``Dispatcher`` whose classifier stage holds ``members`` (or none)."""
    from dispatch_nlp.components.classifier import ClassifierStage

    d = copy.copy(base)
    stages = [s for s in base.stages if s.name != "classifier"]
    if members:
        stages.append(ClassifierStage(members, {m: weights.get(m, 1.0) for m in members}, base.catalog))
    d.stages = stages
    return d


def build_variants(prof: Profile, model_dir, encoder_dir: Path | None, cache_dir: Path, skipped: dict) -> tuple[list[Variant], dict]:
    from dispatch_nlp import Dispatcher

    from .encoders import TimedMember

    t0 = time.perf_counter()
    shipped = Dispatcher.load(model_dir)  # its default profile, as users get it
    info = {"model_dir": str(shipped.model_dir), "model_version": shipped.model_version,
            "stages": [s.name for s in shipped.stages], "load_s_in_process": round(time.perf_counter() - t0, 2),
            "profile": shipped.profile, "profiles": shipped.info()["profiles"]}
    # Every member of the model: the "full" profile (the same dispatcher when that is the default).
    every = shipped if shipped.profile == "full" else Dispatcher.load(model_dir, profile="full")
    clf = next((s for s in every.stages if s.name == "classifier"), None)
    weights = dict(clf.weights) if clf else {}
    linear = clf.members.get("linear") if clf else None
    shipped_encoder = clf.members.get("encoder") if clf else None
    info["members"] = sorted(clf.members) if clf else []
    info["weights"] = weights
    variants = [Variant("rules", "rules only (no classifier)", _with_classifier(shipped, {}, {}),
                        note="the shipped model's stages without the classifier stage")]
    if linear is not None:
        m = {"linear": TimedMember(linear)}
        variants.append(Variant("linear", "linear member only", _with_classifier(shipped, m, {"linear": 1.0}), m))
    else:
        skipped["linear"] = "the model has no linear member"
    enc_weights = {"linear": weights.get("linear", 1.0), "encoder": weights.get("encoder", 1.0)}

    def with_encoder(key, label, member, note=""):
        m = {"encoder": TimedMember(member)}
        if linear is not None:
            m = {"linear": TimedMember(linear), **m}
        group = "torch" if key.startswith("torch") else "main"
        variants.append(Variant(key, label, _with_classifier(shipped, m, enc_weights), m, note, group))

    meta = shipped_encoder.meta if shipped_encoder is not None else {}
    max_len = int(meta.get("max_len", 160))
    student_layers = int(meta.get("layers", 4))
    info["encoder_max_len_tokens"] = max_len
    factory = None
    if prof.encoders and encoder_dir is not None and (encoder_dir / "config.json").exists():
        try:
            import torch  # noqa: F401
        except ImportError:
            skipped["encoders"] = "torch is not installed (pip install -e '.[train]')"
        else:
            n_before = len(variants)
            try:
                from .encoders import EncoderFactory

                classes = ({h: shipped_encoder.classes(h) for h in shipped_encoder.heads} if shipped_encoder is not None
                           else {h: linear.classes(h) for h in ("leaf", "appeal") if linear is not None and h in linear.heads})
                factory = EncoderFactory(encoder_dir, classes, max_len, cache_dir, _ort_threads(), log=log)
                full = factory.layers_full
                info["encoder_dir"] = str(encoder_dir)
                info["encoder_layers"] = full
                info["encoder_params_m"] = round(sum(p.numel() for p in factory.encoder.parameters()) / 1e6, 1)
                src = encoder_dir.relative_to(ROOT) if encoder_dir.is_relative_to(ROOT) else encoder_dir
                plus = "the linear member + " if linear is not None else ""
                note = f"{plus}the prepared encoder {src} with random heads, fused as the pipeline fuses members (latency only)"
                with_encoder("torch_full", f"torch eager, full encoder ({full} layers)", factory.torch_member(full), note)
                files = factory.onnx_files(full)
                note_onnx = note.replace("random heads", "random heads, exported and fused by ONNX Runtime's transformer "
                                                        "optimizer")
                with_encoder("onnx_fp32_full", f"ONNX fp32, full encoder ({full} layers)", factory.onnx_member(files["fp32"]),
                             note_onnx)
                with_encoder("onnx_int8_full", f"ONNX int8, full encoder ({full} layers)", factory.onnx_member(files["int8"]),
                             note_onnx + ", dynamic int8 quantization")
                with_encoder("torch_student", f"torch eager, student ({student_layers} layers)",
                             factory.torch_member(student_layers),
                             f"{plus}the first {student_layers} layers of {src} with random heads (the student's shape; "
                             "latency only)")
                if shipped_encoder is None:
                    files = factory.onnx_files(student_layers)
                    with_encoder("onnx_int8_student", f"ONNX int8, student ({student_layers} layers)",
                                 factory.onnx_member(files["int8"]),
                                 note=f"{plus}exported here from the first {student_layers} layers of {src}, random "
                                      "heads, int8 (the shipped model has no encoder member: this stands in for its "
                                      "fused pipeline; latency only)")
                info["encoder_load_s"] = round(factory.load_s, 1)
                info["onnx_export_s"] = factory.export_s
            except Exception as exc:  # noqa: BLE001 - a broken export must not sink the whole report
                del variants[n_before:]
                skipped["encoders"] = f"could not be built: {type(exc).__name__}: {str(exc)[:300]}"
                log(f"  encoder variants skipped: {skipped['encoders']}")
    elif prof.encoders and encoder_dir is None:
        skipped["encoders"] = "no encoder checkpoint given (--encoder)"
    elif prof.encoders:
        skipped["encoders"] = f"no prepared encoder at {encoder_dir} (python -m dispatch_nlp.training.encoder prepare -o work/encoder)"
    else:
        skipped["encoders"] = "not measured in this profile"
    if shipped_encoder is not None:
        with_encoder("onnx_int8_student", f"ONNX int8, student ({student_layers} layers, shipped)", shipped_encoder,
                     note="the shipped model's encoder member")
    # The shipped model as users get it (and its full profile when that is not the default), with its
    # members timed in place. The default profile's pipeline comes last: the later steps use it.
    pipelines = ([("pipeline_full", f"full pipeline, profile full ({shipped.model_version})", every)]
                 if every is not shipped else [])
    pipelines.append(("pipeline", f"full pipeline, Dispatcher.load() ({shipped.model_version}, profile "
                                  f"{shipped.profile})", shipped))
    for key, label, dispatcher in pipelines:
        timed_members = {}
        stage = next((s for s in dispatcher.stages if s.name == "classifier"), None)
        for name in list(stage.members) if stage is not None else []:
            stage.members[name] = timed_members[name] = TimedMember(stage.members[name])
        variants.append(Variant(key, label, dispatcher, timed_members))
    return variants, info


def measure_latency(variants: list[Variant], texts: dict[int, list[str]], prof: Profile) -> dict:
    """Round robin: for each length, each call of every variant in turn (drift hits all alike).

    The torch eager variants form their own round, timed after the others: interleaved with ONNX
    Runtime calls, torch's busy-waiting OpenMP threads starve the runtime's on 2 cores (a torch call
    right after an ONNX call measured 5-20 times slower than alone). The runtime's own threads do
    not spin (``dispatch_nlp.components.members.encoder.session_options``), so its sessions can take turns.

    A variant leaves the round once it has ``prof.min_reps`` timed calls and has spent
    ``prof.variant_budget_s`` seconds in them (torch eager on 1,000 characters takes seconds an
    order on 2 cores); the others go on to ``prof.reps``. Each summary says its ``n``."""
    out: dict = {v.key: {"label": v.label, "note": v.note, "group": v.group, "lengths": {}} for v in variants}
    groups: dict[str, list[Variant]] = {}
    for v in variants:
        groups.setdefault(v.group, []).append(v)
    for length, pool in texts.items():
        rec = {v.key: {"e2e": [], "stages": {}, "members": {}, "calls": {}} for v in variants}
        spent = {v.key: 0.0 for v in variants}
        for members in groups.values():
            time.sleep(prof.settle_s)  # let the previous group's worker threads go idle
            for i in range(prof.warmup):
                for v in members:
                    v.dispatcher.dispatch(pool[i % len(pool)])
                    for m in v.members.values():
                        m.take()
            for i in range(prof.reps):
                text = pool[i % len(pool)]
                active = [v for v in members
                          if len(rec[v.key]["e2e"]) < prof.min_reps or spent[v.key] < prof.variant_budget_s]
                if not active:
                    break
                for v in active:
                    t0 = time.perf_counter()
                    dec = v.dispatcher.dispatch(text)
                    wall = time.perf_counter() - t0
                    spent[v.key] += wall
                    r = rec[v.key]
                    r["e2e"].append(wall * 1000)
                    for stage, ms in dec.timings_ms.items():
                        if stage != "total":
                            r["stages"].setdefault(stage, []).append(ms)
                    for name, m in v.members.items():
                        ms, calls = m.take()
                        r["members"].setdefault(name, []).append(ms)
                        r["calls"][name] = calls
        for v in variants:
            r = rec[v.key]
            out[v.key]["lengths"][str(length)] = {
                "end_to_end_ms": summary(r["e2e"]),
                "stages_ms": {s: summary(x) for s, x in r["stages"].items()},
                "members_ms": {s: summary(x) for s, x in r["members"].items()},
                "member_calls_per_order": r["calls"],
            }
        log(f"  latency {length} chars: " + ", ".join(
            f"{v.key} {out[v.key]['lengths'][str(length)]['end_to_end_ms']['p50']:.1f} (n={len(rec[v.key]['e2e'])})"
            for v in variants) + " ms p50")
    return out


def latency_ratios(lat: dict) -> dict:
    """int8 student against torch eager (the hot-path target), per length, on the encoder member's
    own time and end to end; plus same-model ratios (int8 vs torch eager of the same layers)."""
    def p50(key, length, what):
        try:
            node = lat[key]["lengths"][str(length)]
            return node["end_to_end_ms"]["p50"] if what == "e2e" else node["members_ms"]["encoder"]["p50"]
        except KeyError:
            return None

    pairs = {
        "int8_student_vs_torch_eager_full": ("torch_full", "onnx_int8_student"),
        "int8_full_vs_torch_eager_full": ("torch_full", "onnx_int8_full"),
        "fp32_full_vs_torch_eager_full": ("torch_full", "onnx_fp32_full"),
        "int8_student_vs_torch_eager_student": ("torch_student", "onnx_int8_student"),
    }
    out = {}
    for name, (slow, fast) in pairs.items():
        per = {}
        for length in sorted({int(x) for v in lat.values() for x in v["lengths"]}):
            row = {}
            for what in ("encoder", "e2e"):
                a, b = p50(slow, length, what), p50(fast, length, what)
                row[f"{what}_speedup"] = round(a / b, 2) if a and b else None
            per[str(length)] = row
        if any(v["encoder_speedup"] for v in per.values()):
            out[name] = per
    return out


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


# -- 4. accuracy ----------------------------------------------------------------------------------
class _Recorder:
    """Delegates to a dispatcher and keeps the decisions ``evaluate_examples`` asks for."""

    def __init__(self, dispatcher):
        self.d = dispatcher
        self.catalog = dispatcher.catalog
        self.decisions = []

    def dispatch_batch(self, orders, batch_size=64):
        out = self.d.dispatch_batch(orders, batch_size=batch_size)
        self.decisions.extend(out)
        return out


def reliability(correct: np.ndarray, conf: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf >= lo) & ((conf < hi) if hi < 1 else (conf <= hi))
        out.append({"lo": round(float(lo), 2), "hi": round(float(hi), 2), "n": int(m.sum()),
                    "confidence": round(float(conf[m].mean()), 4) if m.any() else None,
                    "accuracy": round(float(correct[m].mean()), 4) if m.any() else None})
    return out


def mention_type(rec: dict) -> str:
    """What kind of place the order names for its problem: the finest problem mention's kind, or
    ``caller_only`` / ``none``."""
    spans = rec.get("place_spans") or []
    problem = [s for s in spans if s.get("role") == "problem"]
    if not problem:
        return "caller_only" if spans else "none"
    order = ["compound", "community", "village", "road", "landmark", "known_place", "street", "town", "district"]
    kinds = {s.get("kind") for s in problem}
    for k in order:
        if k in kinds:
            return k
    return sorted(k for k in kinds if k)[0] if any(kinds) else "other"


def measure_accuracy(dispatcher, corpus: Path, records: list[dict]) -> dict:
    from dispatch_nlp.training.data import load_examples

    from dispatch_nlp.batch.tables import ColumnSpec
    from dispatch_nlp.lifecycle.evaluate import evaluate_examples

    spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category_path",
                      appeal_col="appeal_type", district_col="district_code", street_col="street_code", unit_col="unit_id")
    examples, report = load_examples(corpus, spec, dispatcher.catalog, dispatcher.gazetteer, split_col="split",
                                     dev_ratio=0.0, test_ratio=0.0, drop_near_duplicates=False)
    examples = [e for e in examples if e.split == "test"]
    rec = _Recorder(dispatcher)
    t0 = time.perf_counter()
    heads = evaluate_examples(rec, examples)
    seconds = time.perf_counter() - t0
    decs = rec.decisions
    gold_leaf = [e.leaf for e in examples]
    curves, calib = {}, {}
    getters = {
        "category": (lambda e: e.leaf, lambda d: d.category.code, lambda d: d.category.confidence),
        "category_l1": (lambda e: e.leaf and e.leaf[:2], lambda d: d.category.code and d.category.code[:2],
                        lambda d: d.category.confidence),
        "appeal_type": (lambda e: e.appeal, lambda d: d.appeal_type.label if d.appeal_type else None,
                        lambda d: d.appeal_type.confidence if d.appeal_type else 0.0),
        "district": (lambda e: e.district, lambda d: d.jurisdiction.district.code if d.jurisdiction.district else None,
                     lambda d: d.jurisdiction.confidence),
        "street": (lambda e: e.street, lambda d: d.jurisdiction.street.code if d.jurisdiction.street else None,
                   lambda d: d.jurisdiction.confidence),
        "unit": (lambda e: e.unit, lambda d: d.units.primary.id if d.units.primary else None, lambda d: d.confidence),
    }
    for head, (g, p, c) in getters.items():
        keep = [(g(e), p(d), c(d)) for e, d in zip(examples, decs) if g(e)]
        if not keep:
            continue
        correct = np.array([a == b for a, b, _ in keep], dtype=float)
        conf = np.array([x for _, _, x in keep], dtype=float)
        calib[head] = reliability(correct, conf)
        curves[head] = heads.get(head, {}).get("coverage_accuracy")
    # Jurisdiction by the kind of place mentioned.
    by_id = {r["id"]: r for r in records}
    by_type: dict[str, list] = {}
    for e, d in zip(examples, decs):
        r = by_id.get(e.id)
        if r is None:
            continue
        t = mention_type(r)
        got_d = d.jurisdiction.district.code if d.jurisdiction.district else None
        got_s = d.jurisdiction.street.code if d.jurisdiction.street else None
        by_type.setdefault(t, []).append((e.district, got_d, e.street, got_s))
    juris = {}
    for t, rows in sorted(by_type.items()):
        dist = [a == b for a, b, _, _ in rows if a]
        st = [a == b for _, _, a, b in rows if a]
        juris[t] = {"n": len(rows), "district_acc": round(float(np.mean(dist)), 4) if dist else None,
                    "street_acc": round(float(np.mean(st)), 4) if st else None,
                    "abstained": round(float(np.mean([b is None for _, b, _, _ in rows])), 4)}
    slim = {h: {k: v for k, v in rep.items() if k not in ("per_class", "confused_pairs")} if isinstance(rep, dict) else rep
            for h, rep in heads.items()}
    for h, rep in heads.items():
        if isinstance(rep, dict) and rep.get("confused_pairs"):
            slim[h]["confused_pairs_top5"] = rep["confused_pairs"][:5]
    return {"test_orders": len(examples), "seconds": round(seconds, 1),
            "orders_per_s": round(len(examples) / seconds, 1) if seconds else None,
            "keyword_free_share": round(float(np.mean([bool(by_id.get(e.id, {}).get("keyword_free")) for e in examples])), 3)
            if examples else None,
            "heads": slim, "coverage_accuracy": curves, "reliability": calib, "jurisdiction_by_mention": juris,
            "data": {"rows": report.rows, "splits": report.splits}, "gold_leaf_known": sum(1 for x in gold_leaf if x)}


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


# -- 6. the other benchmarks ----------------------------------------------------------------------
OTHER_RESULTS = {
    "corpus": "python benchmarks/corpus_bench.py",
    "jurisdiction": "python -m benchmarks.jurisdiction_bench",
    "service": "python benchmarks/service_bench.py",
    "retrain": "python benchmarks/retrain_demo.py",
    "batch": "python benchmarks/batch_bench.py",
    "segment": "python benchmarks/segment_bench.py --json benchmarks/results/segment.json",
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
