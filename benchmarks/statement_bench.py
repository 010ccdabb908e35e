"""Does reading the problem statement help the linear member? Variants compared on held-out orders.

    python benchmarks/statement_bench.py [--orders 12000] [--seed 20261130] [--variants base,stmt,...]
        [--corpus PATH] [--json benchmarks/results/statement.json]

Generates a corpus (or reads ``--corpus``), prepares every text as training does
(``dispatch_nlp.lifecycle.examples.load_examples``: normalize, cut trails, mask, title first), fits
each variant of the linear member (``dispatch_nlp.training.linear.fit_linear``) on the corpus's
``train`` split (temperature on ``dev``), and scores it alone (no rules, no fusion) on:

- the generated ``test`` split (held-out phrasing families): leaf accuracy, first-level macro-F1;
- the shared challenge set (``../shared/challenge/orders.jsonl``; never trained on), ``dev`` and
  ``test``: leaf accuracy, first-level macro-F1, appeal accuracy, and leaf accuracy per length
  bucket (title + text characters: < 100, 100–199, ≥ 200).

Also times the member's features and scores per 300-character order (one at a time), the cost the
fast profile pays. Variants (``VARIANTS``): ``base`` (the text, C 0.5: the shipped recipe),
``stmt_only`` (the problem statement instead of the text), ``stmt`` (text + statement field),
``title`` (text + title field), ``title_stmt``, ``words`` (text + word n-grams), ``all`` and
C variants of the best. Fitting takes minutes per variant on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHALLENGE = ROOT.parent / "shared" / "challenge" / "orders.jsonl"
BUCKETS = ((0, 100, "<100"), (100, 200, "100-199"), (200, 10**9, ">=200"))

VARIANTS: dict[str, dict] = {
    "base": {},
    "stmt_only": {"input": "statement"},
    "stmt": {"fields": ("text", "statement")},
    "title": {"fields": ("text", "title")},
    "title_stmt": {"fields": ("text", "title", "statement")},
    "words": {"fields": ("text", "words")},
    "all": {"fields": ("text", "title", "statement", "words")},
    "stmt_c1": {"fields": ("text", "statement"), "C": 1.0},
    "stmt_c025": {"fields": ("text", "statement"), "C": 0.25},
    "base_c1": {"C": 1.0},
    "base_c025": {"C": 0.25},
    "complement_nb": {"model": "complement_nb", "alpha": 1.0},  # scikit-learn ComplementNB on the text's features
}


class _ComplementNB:
    """ComplementNB on the linear member's text features, shaped like a member (leaf head only)."""

    def __init__(self, texts, labels, alpha: float):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.naive_bayes import ComplementNB

        from dispatch_nlp.components.members.linear import char_ngrams

        self.vec = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, min_df=2, max_features=120_000,
                                   dtype=np.float32)
        self.nb = ComplementNB(alpha=alpha).fit(self.vec.fit_transform(texts), labels["leaf"])

    def classes(self, head):
        return list(self.nb.classes_)

    def predict_proba(self, texts):
        return {"leaf": self.nb.predict_proba(self.vec.transform(texts))}


def _examples(path: Path, spec_kw: dict, split_col: str = "split"):
    from dispatch_nlp.batch.tables import ColumnSpec
    from dispatch_nlp.knowledge.catalog import Catalog
    from dispatch_nlp.lifecycle.examples import load_examples

    examples, _ = load_examples(path, ColumnSpec(**spec_kw), Catalog.load(), split_col=split_col)
    return [e for e in examples if e.leaf]


def _bucket(n: int) -> str:
    return next(name for lo, hi, name in BUCKETS if lo <= n < hi)


def _score(member, examples, texts, lengths: list[int] | None = None) -> dict:
    from sklearn.metrics import f1_score

    probs = member.predict_proba(texts)
    leaves, appeals = member.classes("leaf"), member.classes("appeal")
    pred = [leaves[i] for i in probs["leaf"].argmax(1)]
    ok = np.array([p == e.leaf for p, e in zip(pred, examples)])
    out: dict = {"n": len(examples), "leaf_accuracy": round(float(ok.mean()), 4),
                 "l1_macro_f1": round(float(f1_score([e.leaf[:2] for e in examples], [p[:2] for p in pred],
                                                     average="macro")), 4)}
    if "appeal" in probs:
        ap = [appeals[i] for i in probs["appeal"].argmax(1)]
        out["appeal_accuracy"] = round(float(np.mean([a == e.appeal for a, e in zip(ap, examples)])), 4)
    if lengths is not None:
        out["leaf_accuracy_by_length"] = {}
        for _, _, name in BUCKETS:
            idx = [i for i, n in enumerate(lengths) if _bucket(n) == name]
            out["leaf_accuracy_by_length"][name] = {"n": len(idx),
                                                    "accuracy": round(float(ok[idx].mean()), 4) if idx else None}
    return out


def _latency_ms(member, texts: list[str]) -> dict:
    orders = [(t * (300 // max(len(t), 1) + 1))[:300] for t in texts[:100]]
    for t in orders[:10]:
        member.predict_proba([t])
    times = []
    for t in orders:
        t0 = time.perf_counter()
        member.predict_proba([t])
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p99_ms": round(float(np.percentile(times, 99)), 3)}


def frozen(model_dir: Path, sets: dict, raw: dict) -> dict:
    """A trained model's linear member (not refitted) reading the text, then the problem statement
    instead: what the statement alone keeps of what that member needs, per length bucket."""
    from dispatch_nlp.components.members.linear import LinearMember
    from dispatch_nlp.components.statement import problem_statement

    member = LinearMember.load(model_dir / "linear.npz")
    out: dict = {"model": str(model_dir)}
    for set_name, ex in sets.items():
        lengths = ([len(raw[e.id]["text"]) + len(raw[e.id]["title"] or "") for e in ex]
                   if set_name.startswith("challenge") else None)
        out[set_name] = {"text": _score(member, ex, [e.text for e in ex], lengths),
                         "statement": _score(member, ex, [problem_statement(e.text) or e.text for e in ex], lengths)}
    return out


def run(corpus: Path, variants: list[str], frozen_model: Path | None = None) -> dict:
    from dispatch_nlp.training.linear import fit_linear

    from dispatch_nlp.components.members.linear import LinearMember
    from dispatch_nlp.components.statement import problem_statement

    gen = _examples(corpus, dict(text_col="text", title_col="title", id_col="id", category_col="category_path",
                                 appeal_col="appeal_type"))
    ch = _examples(CHALLENGE, dict(text_col="text", title_col="title", id_col="id", category_col="category",
                                   path_sep="/", appeal_col="appeal_type"))
    raw = {r["id"]: r for r in map(json.loads, CHALLENGE.read_text(encoding="utf-8").splitlines())}
    sets = {"generated_test": [e for e in gen if e.split == "test"],
            "challenge_dev": [e for e in ch if e.split == "dev"], "challenge_test": [e for e in ch if e.split == "test"]}
    train = [e for e in gen if e.split == "train"]
    dev = [e for e in gen if e.split == "dev"]

    def labels(ex):
        return {"leaf": [e.leaf for e in ex], "appeal": [e.appeal or "其他" for e in ex]}

    out: dict = {"corpus": {"train": len(train), "dev": len(dev), **{k: len(v) for k, v in sets.items()}}, "variants": {}}
    if frozen_model is not None:
        out["frozen_member"] = frozen(frozen_model, sets, raw)
    for name in variants:
        kw = dict(VARIANTS[name])
        as_statement = kw.pop("input", "text") == "statement"

        def texts(ex, as_statement=as_statement):
            return [problem_statement(e.text) or e.text if as_statement else e.text for e in ex]

        t0 = time.perf_counter()
        if kw.get("model") == "complement_nb":
            member = _ComplementNB(texts(train), labels(train), kw["alpha"])
        else:
            member = fit_linear(texts(train), labels(train), texts(dev), labels(dev), **kw)
        result: dict = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()},
                        "input": "statement" if as_statement else "text", "fit_s": round(time.perf_counter() - t0, 1)}
        for set_name, ex in sets.items():
            lengths = ([len(raw[e.id]["text"]) + len(raw[e.id]["title"] or "") for e in ex]
                       if set_name.startswith("challenge") else None)
            result[set_name] = _score(member, ex, texts(ex), lengths)
        if isinstance(member, LinearMember):
            result["latency_300_chars"] = _latency_ms(member, [e.text for e in sets["challenge_test"]])
        out["variants"][name] = result
        print(name, json.dumps(result, ensure_ascii=False), file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--corpus", type=Path, help="a generated corpus (JSONL) instead of generating one")
    ap.add_argument("--variants", default="base,stmt_only,stmt,title,words")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "statement.json")
    ap.add_argument("--frozen", type=Path, help="also score this model's linear member, unrefitted, on text vs statement")
    ap.add_argument("--merge", action="store_true", help="add the variants to those already in --json (runs of the "
                    "same corpus split over several processes)")
    args = ap.parse_args(argv)
    corpus = args.corpus
    if corpus is None:
        corpus = Path(f"/tmp/statement_bench_{args.seed}_{args.orders}.jsonl")
        if not corpus.exists():
            subprocess.run([sys.executable, "-m", "dispatch_nlp.cli", "corpus", "generate", "-n", str(args.orders),
                            "--seed", str(args.seed), "-o", str(corpus), "--no-progress"], check=True)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    command = "python benchmarks/statement_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"benchmark": "statement", "orders": args.orders, "seed": args.seed, "commands": [command],
              **run(corpus, names, args.frozen)}
    if args.merge and args.json.exists():
        old = json.loads(args.json.read_text(encoding="utf-8"))
        result["commands"] = [*old.get("commands", []), command]
        result["variants"] = {**old.get("variants", {}), **result["variants"]}
        for key in ("frozen_member",):
            if key in old and key not in result:
                result[key] = old[key]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
