"""The prototype member's encoder on the hot path: cost per order, int8-vs-fp32 agreement, dev accuracy.

    python benchmarks/encoder_hotpath_bench.py --reference work/proto-candidates/fp32 \
        work/proto-candidates/w4a0 work/proto-candidates/w8a4 [-o /tmp/hotpath.json]

Takes member directories (built by ``python -m dispatch_nlp.training.prototypes build``; the default
file names) and returns, per candidate (printed and written as JSON):

- ``single_cpu_ms`` / ``single_wall_ms``: one order at a time, the problem statements of 300-character
  orders (the challenge set's dev texts doubled and cut), ONNX Runtime with 1 intra-op thread (CPU
  time: robust to a shared machine) and with ``--threads`` (wall time, with the load average);
- ``batch_cpu_ms_per_order`` / ``batch_orders_per_s``: the same orders embedded 32 at a time;
- ``agreement_alone`` / ``agreement_mixed``: top-1 leaf agreement with ``--reference`` (its fp32 twin,
  each order alone), the candidate's orders embedded alone and inside random mixed batches of 32
  (statements of the challenge set's dev half and of generated orders: no test-half text);
- ``dev_leaf_accuracy``: the member alone on the challenge set's dev half (its statements). The test
  half is reported only with ``--test`` (for the final figure, never for choosing).

The orders pass through the shipped model's stages before the classifier (normalization, masking)
once; ``--texts`` caches the prepared statements (JSON) so later runs skip that.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from dispatch_nlp.components.members.prototype import PrototypeMember

SECTION = {"onnx": "prototype.onnx", "tokenizer": "prototype.tokenizer.json",
           "prototypes": "prototypes.npz", "meta": "prototype.json"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def prepare_texts(model: str, challenge: Path, generated: Path | None, n_generated: int) -> dict:
    """Statements of the challenge set (with split and gold leaf), of 300-character orders made from its
    dev texts, and of generated test orders."""
    from dispatch_nlp import Dispatcher
    from dispatch_nlp.components.statement import problem_statement
    from dispatch_nlp.pipeline import Doc
    from dispatch_nlp.types import WorkOrder

    dispatcher = Dispatcher.load(model, profile="fast")

    def statements(rows: list[dict]) -> list[str]:
        docs = [Doc.from_order(WorkOrder.coerce({"text": r["text"], "title": r.get("title") or None}))
                for r in rows]
        for stage in dispatcher.stages:
            if stage.name == "classifier":
                break
            docs = list(stage.pipe(docs))
        return [problem_statement(d.text) or d.text for d in docs]

    ch = read_jsonl(challenge)
    dev = [r for r in ch if r.get("split") == "dev"]
    long = [{"text": (r["text"] * 3)[:300]} for r in dev]
    gen = [r for r in read_jsonl(generated) if r.get("split") == "test"][:n_generated] if generated else []
    return {"challenge": [{"statement": s, "split": r.get("split"), "leaf": r["category_code"]}
                          for s, r in zip(statements(ch), ch)],
            "long300": statements(long), "generated": statements(gen)}


def top1(member: PrototypeMember, queries: np.ndarray) -> np.ndarray:
    return member.heads["leaf"].scores(queries).argmax(1)


def mixed_batches(member: PrototypeMember, texts: list[str], seed: int) -> np.ndarray:
    """Embeddings of ``texts`` computed inside random batches of 32 (other orders as neighbours)."""
    rng = random.Random(seed)
    idx = list(range(len(texts)))
    rng.shuffle(idx)
    out = np.zeros((len(texts), member.heads["leaf"].vectors.shape[1]), dtype=np.float32)
    for i in range(0, len(idx), 32):
        part = idx[i: i + 32]
        out[part] = member.session.run(None, member.feeds([texts[j] for j in part]))[0]
    return out


def alone(member: PrototypeMember, texts: list[str]) -> np.ndarray:
    return np.concatenate([member.embed([t]) for t in texts])


def timing(members: dict[str, tuple[PrototypeMember, PrototypeMember]], long: list[str], repeat: int) -> dict:
    """Per candidate (one member with 1 intra-op thread, one with ``--threads``): median CPU ms of one
    order alone (1 thread), median wall ms alone (``--threads``), CPU ms per order and orders/s in
    batches of 32. Candidates take turns within each round, so a busy machine slows them alike."""
    stats: dict[str, dict[str, list[float]]] = {n: {"cpu": [], "wall": [], "bcpu": [], "bwall": []} for n in members}
    for one, many in members.values():
        for t in long[:3]:
            one.embed([t])
            many.embed([t])
    for _ in range(repeat):
        for name, (one, many) in members.items():
            s = stats[name]
            for t in long:
                c = time.process_time()
                one.embed([t])
                s["cpu"].append((time.process_time() - c) * 1000)
                w = time.perf_counter()
                many.embed([t])
                s["wall"].append((time.perf_counter() - w) * 1000)
            c = time.process_time()
            one.embed(long)
            s["bcpu"].append((time.process_time() - c) * 1000 / len(long))
            w = time.perf_counter()
            many.embed(long)
            s["bwall"].append((time.perf_counter() - w) / len(long))
    out = {}
    for name, (one, _) in members.items():
        s = stats[name]
        tokens = [len(e.ids) for e in one.tokenizer.encode_batch([one.query_prefix + t for t in long])]
        out[name] = {"single_cpu_ms": round(statistics.median(s["cpu"]), 2),
                     "single_wall_ms": round(statistics.median(s["wall"]), 2),
                     "batch_cpu_ms_per_order": round(min(s["bcpu"]), 2),
                     "batch_orders_per_s": round(1 / min(s["bwall"]), 1),
                     "tokens_mean": round(float(np.mean(tokens)), 1), "load_average": round(os.getloadavg()[0], 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidates", nargs="+", help="member directories")
    ap.add_argument("--reference", required=True, help="the fp32 member directory (same encoder, max_len)")
    ap.add_argument("--references", nargs="*", default=[],
                    help="per candidate, its own fp32 reference (when layers or max_len differ)")
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--challenge", default="../shared/challenge/orders.jsonl")
    ap.add_argument("--generated", default="/tmp/prototype/gen.jsonl")
    ap.add_argument("--n-generated", type=int, default=400)
    ap.add_argument("--texts", default="work/proto-candidates/bench-texts.json", help="cache of prepared statements")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-quality", action="store_true", help="timing only")
    ap.add_argument("--test", action="store_true", help="also report the challenge set's test half")
    ap.add_argument("-o", "--output")
    args = ap.parse_args(argv)
    cache = Path(args.texts)
    if cache.exists():
        texts = json.loads(cache.read_text(encoding="utf-8"))
    else:
        gen = Path(args.generated) if args.generated and Path(args.generated).exists() else None
        texts = prepare_texts(args.model, Path(args.challenge), gen, args.n_generated)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    dev = [r for r in texts["challenge"] if r["split"] == "dev"]
    test = [r for r in texts["challenge"] if r["split"] == "test"]
    agree_texts = [r["statement"] for r in dev] + texts["generated"]
    refs = args.references or [args.reference] * len(args.candidates)
    results: dict = {}
    ref_cache: dict[str, np.ndarray] = {}
    for name, ref_dir in zip(args.candidates, refs):
        if args.no_quality:
            results[name] = {}
            continue
        one = PrototypeMember.load(name, SECTION, threads=1)
        if ref_dir not in ref_cache:
            ref = PrototypeMember.load(ref_dir, SECTION, threads=args.threads)
            ref_cache[ref_dir] = top1(ref, alone(ref, agree_texts))
        ref_top = ref_cache[ref_dir]
        res: dict = {"reference": ref_dir}
        res["agreement_alone"] = round(float(np.mean(top1(one, alone(one, agree_texts)) == ref_top)), 4)
        res["agreement_mixed"] = round(float(np.mean(
            [np.mean(top1(one, mixed_batches(one, agree_texts, seed)) == ref_top) for seed in (1, 2, 3)])), 4)
        res["n_agreement"] = len(agree_texts)
        classes = one.heads["leaf"].classes
        for part, rows in (("dev", dev), ("test", test)) if args.test else (("dev", dev),):
            pred = top1(one, one.embed([r["statement"] for r in rows]))
            res[f"{part}_leaf_accuracy"] = round(float(np.mean([classes[p] == r["leaf"] for p, r in zip(pred, rows)])), 4)
        results[name] = res
        print(name, json.dumps(res), flush=True)
    if not args.no_timing:
        members = {n: (PrototypeMember.load(n, SECTION, threads=1), PrototypeMember.load(n, SECTION, threads=args.threads))
                   for n in args.candidates}
        for name, res in timing(members, texts["long300"], args.repeat).items():
            results[name].update(res)
            print(name, json.dumps(res), flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
