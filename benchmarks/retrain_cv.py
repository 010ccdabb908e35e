"""Retraining on a centre's own history, before and after cross-fitting and stacking (issue 20).

    python benchmarks/retrain_cv.py [--n 12000] [--seed 20261130] [--only seven,three]

Mimics a hotline centre training ``dispatch-nlp train`` on its labeled history with what the project
has: ``--n`` generated orders (``dispatch-nlp corpus generate``; their train/dev splits are the
history, their test split the generated held-out) and the shared challenge set
(``../shared/challenge/orders.jsonl``, 199 hand-written orders, never trained on) as the realistic
held-out. Two catalogs:

- ``seven``: a catalog built from the labels (``--catalog-from-labels``), first level only, the seven
  first-level classes the challenge set has most of (the shape of the real 7-class evaluation);
- ``three``: the shipped three-level catalog with its rules, as the shipped model is trained
  (category, appeal type; no places).

Each is trained two ways: ``before`` (``--folds 0 --fusion weights``: members fitted on the train
split, the weight grid on dev) and ``after`` (the default: 5-fold cross-fitting over train+dev, the
stacked fusion, members refit on all labels). Reported per held-out set: macro-F1 and accuracy of the
category (and its first level), the share of orders that could go automatically at 97/98/99 %
accuracy (``coverage_at_accuracy``, by the calibrated confidence), the share the model's own threshold
sends and its accuracy, ECE, and training minutes. Writes ``benchmarks/results/retrain_cv.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHALLENGE = ROOT.parent / "shared" / "challenge" / "orders.jsonl"
SEVEN = 7


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def seven_tables(corpus: list[dict], challenge: list[dict], work: Path) -> tuple[Path, Path, list[str]]:
    """The generated history and the challenge set labeled with the first level, restricted to the
    seven first-level classes the challenge set has most of (ties: the more generated orders)."""
    gen_n = Counter(r["category_path"][0] for r in corpus)
    ch_n = Counter(r["category_path"][0] for r in challenge)
    classes = sorted(ch_n, key=lambda c: (-ch_n[c], -gen_n[c], c))[:SEVEN]
    hist = [{"id": r["id"], "text": r["text"], "title": r.get("title") or "", "label": r["category_path"][0],
             "split": r["split"]} for r in corpus if r["category_path"][0] in classes]
    held = [{"id": r["id"], "text": r["text"], "title": r.get("title") or "", "label": r["category_path"][0],
             "split": r["split"]} for r in challenge if r["category_path"][0] in classes]
    return _write(work / "seven.jsonl", hist), _write(work / "seven_challenge.jsonl", held), sorted(classes)


def _headline(rep: dict) -> dict:
    cat, l1, routing = rep.get("category", {}), rep.get("category_l1", {}), rep.get("routing", {})
    return {"n": cat.get("n"), "accuracy": cat.get("accuracy"), "macro_f1": cat.get("macro_f1"),
            "l1_macro_f1": l1.get("macro_f1"), "ece": cat.get("ece"),
            "coverage_at_accuracy": cat.get("coverage_at_accuracy"),
            "auto_share": routing.get("auto_dispatch_share"),
            "auto_accuracy": routing.get("auto_dispatch_category_accuracy")}


def evaluate(model: Path, table: Path, spec, split: str | None) -> dict:
    from dispatch_nlp.dispatcher import Dispatcher
    from dispatch_nlp.lifecycle.evaluate import evaluate_examples
    from dispatch_nlp.lifecycle.examples import load_examples

    d = Dispatcher.load(model)
    examples, _ = load_examples(table, spec, d.catalog, d.gazetteer, split_col="split", dev_ratio=0.0,
                                test_ratio=0.0, config=d.config)
    if split:
        examples = [e for e in examples if e.split == split]
    return _headline(evaluate_examples(d, examples))


def run_variant(name: str, table: Path, spec, eval_spec, challenge: Path, work: Path, recipe: str,
                **train_kw) -> dict:
    from dispatch_nlp.training.train import TrainOptions, train

    recipe_kw = {"folds": 0, "fusion": "weights"} if recipe == "before" else {"folds": 5, "fusion": "stacked"}
    out = work / f"{name}-{recipe}"
    t0 = time.perf_counter()
    metrics = train(table, spec, TrainOptions(output=out, split_col="split", progress=False, model_version=f"{name}-{recipe}",
                                              **recipe_kw, **train_kw))
    minutes = round((time.perf_counter() - t0) / 60, 2)
    fusion = metrics.get("fusion", {})
    return {"train_minutes": minutes, "train_timings": metrics.get("timings"),
            "fusion": {k: fusion.get(k) for k in ("fusion", "dev_accuracy", "weights_dev_accuracy", "n",
                                                  "dev_auto_coverage", "auto_threshold", "candidate_recall")},
            "recipe": metrics.get("recipe"),
            "generated_test": _headline(metrics["test"]),
            "challenge_test": evaluate(out, challenge, eval_spec, "test"),
            "challenge_all": evaluate(out, challenge, eval_spec, None)}


def main() -> int:
    from dispatch_nlp.batch.tables import ColumnSpec

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--only", default="seven,three", help="which catalogs: seven, three")
    ap.add_argument("--recipes", default="before,after", help="which recipes: before, after")
    ap.add_argument("--work", default="/tmp/retrain_cv", help="scratch folder (corpus, models)")
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "retrain_cv.json"))
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    corpus_path = work / f"gen-{args.n}-{args.seed}.jsonl"
    if not corpus_path.exists():
        subprocess.run([sys.executable, "-m", "dispatch_nlp.cli", "corpus", "generate", "-n", str(args.n), "--seed",
                        str(args.seed), "-o", str(corpus_path), "--no-progress"], check=True)
    corpus, challenge = _jsonl(corpus_path), _jsonl(CHALLENGE)
    out_path = Path(args.output)
    result: dict = json.loads(out_path.read_text("utf-8")) if out_path.exists() else {}  # runs add up
    result.update({"challenge": str(CHALLENGE.relative_to(ROOT.parent)), "machine_cores": _cores()})
    for name in args.only.split(","):
        result.setdefault(name, {})["corpus"] = {"n": args.n, "seed": args.seed,
                                                 "splits": dict(Counter(r["split"] for r in corpus))}
        if name == "seven":
            table, held, classes = seven_tables(corpus, challenge, work)
            spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="label")
            kw = {"catalog_from_labels": True}
            result.setdefault("seven", {})["classes"] = classes
            eval_spec = spec
        else:
            table, held = corpus_path, CHALLENGE
            spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category_path",
                              appeal_col="appeal_type")
            eval_spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category",
                                   path_sep="/", appeal_col="appeal_type")
            kw = {"gazetteer": "none"}
        for recipe in args.recipes.split(","):
            print(f"{name} {recipe} ...", file=sys.stderr, flush=True)
            result.setdefault(name, {})[recipe] = run_variant(name, table, spec, eval_spec, held, work, recipe, **kw)
            out_path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k in ("seven", "three")}, ensure_ascii=False, indent=1))
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
