"""How fast the corpus generator is, how diverse its text is, and how much it leaks.

    python benchmarks/corpus_bench.py [--orders 20000] [--seed 1] [--json benchmarks/results/corpus.json]

- speed: orders per second on one core (generation only, no writing);
- per split: distinct-2 / distinct-3 over characters (distinct n-grams / all n-grams, on a fixed-size
  sample per split so the ratios are comparable), number of phrasing families, mean length;
- near duplicates: share of dev/test orders whose character 5-gram Jaccard with some train order is
  ≥ 0.8 (MinHash with LSH banding to find candidates, exact Jaccard to confirm);
- the leak test, three ways, with TF-IDF character 1–3-grams + LinearSVC (leaf macro-F1, leaf and
  first-level accuracy, and the accuracy on the keyword-free test orders alone):
    1. random split: a corpus with no keyword hold-out (``kw_holdout=0``), train+test pooled and
       re-split at random (same sizes): templates and keywords shared, the optimistic number;
    2. held-out families: the same corpus, test = families training never saw (keywords shared);
    3. held-out families + held-out keywords: the default corpus, whose dev/test orders use keywords
       and situation phrases no training order carries: the honest estimate of how the model does
       on words the catalog (and so the training data) lacks.
Text is normalized and personal data masked first, and trails are cut, as training does.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from dispatch_nlp.training.corpus import load_generator

from dispatch_nlp.text.normalize import Normalizer
from dispatch_nlp.text.pii import PiiMasker

RESULTS = Path(__file__).resolve().parent / "results" / "corpus.json"


def distinct(texts: list[str], n: int) -> float:
    total = 0
    seen = set()
    for t in texts:
        grams = [t[i:i + n] for i in range(len(t) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def shingles(t: str, k: int = 5) -> set[int]:
    return {zlib.crc32(t[i:i + k].encode()) for i in range(max(1, len(t) - k + 1))}


_P = (1 << 61) - 1


def minhash(sh: set[int], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    h = (a[:, None] * x[None, :] + b[:, None]) % np.uint64(_P)
    return h.min(axis=1)


def near_dup_rate(train: list[str], other: list[str], thr: float = 0.8, perms: int = 32, bands: int = 16) -> float:
    """Share of ``other`` with a train text at char-5-gram Jaccard ≥ thr."""
    rng = np.random.default_rng(0)
    a = rng.integers(1, 1 << 31, size=perms, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, size=perms, dtype=np.uint64)
    rows = perms // bands
    tsh = [shingles(t) for t in train]
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, sh in enumerate(tsh):
        sig = minhash(sh, a, b)
        for j in range(bands):
            buckets[(j, sig[j * rows:(j + 1) * rows].tobytes())].append(i)
    dup = 0
    for t in other:
        sh = shingles(t)
        sig = minhash(sh, a, b)
        cands: set[int] = set()
        for j in range(bands):
            cands.update(buckets.get((j, sig[j * rows:(j + 1) * rows].tobytes()), ()))
        if any(len(sh & tsh[i]) / len(sh | tsh[i]) >= thr for i in cands):
            dup += 1
    return dup / len(other) if other else 0.0


def leak_test(train, test, rows: int | None = None) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=300000)
    xtr = vec.fit_transform([o["_clean"] for o in train])
    xte = vec.transform([o["_clean"] for o in test])
    ytr = [o["category_code"] for o in train]
    yte = [o["category_code"] for o in test]
    clf = LinearSVC(C=0.5).fit(xtr, ytr)
    pred = clf.predict(xte)
    l1_true = [y[:2] for y in yte]
    l1_pred = [p[:2] for p in pred]
    free = [i for i, o in enumerate(test) if o.get("keyword_free")]
    return {
        "keyword_free_test_orders": len(free),
        "keyword_free_leaf_accuracy": round(float(np.mean([pred[i] == yte[i] for i in free])), 4) if free else None,
        "keyword_free_l1_accuracy": round(float(np.mean([l1_pred[i] == l1_true[i] for i in free])), 4) if free else None,
        "leaf_macro_f1": round(float(f1_score(yte, pred, average="macro", labels=sorted(set(yte)))), 4),
        "leaf_accuracy": round(float(accuracy_score(yte, pred)), 4),
        "l1_accuracy": round(float(accuracy_score(l1_true, l1_pred)), 4),
        "train": len(train), "test": len(test),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args(argv)

    gen = load_generator(args.seed)
    gen.order(0)  # warm caches (OpenCC, regexes)
    t0 = time.perf_counter()
    orders = list(gen.generate(args.orders))
    secs = time.perf_counter() - t0
    speed = args.orders / secs
    open_gen = load_generator(args.seed, kw_holdout=0.0)  # the same generator without keyword hold-out
    open_orders = list(open_gen.generate(args.orders))

    norm = Normalizer(cut_trails=True)
    mask = PiiMasker()
    for o in orders + open_orders:
        m, _ = norm(o["text"])
        o["_clean"] = ((o["title"] or "") + "\n" if o["title"] else "") + mask(m)[0].text

    by_split: dict[str, list[dict]] = defaultdict(list)
    for o in orders:
        by_split[o["split"]].append(o)
    sample_n = min(len(v) for v in by_split.values())
    rnd = random.Random(0)
    splits = {}
    for name in ("train", "dev", "test"):
        items = by_split.get(name, [])
        sample = rnd.sample(items, min(sample_n, len(items)))
        texts = [o["_clean"] for o in sample]
        splits[name] = {
            "orders": len(items),
            "families": len({o["family"] for o in items}),
            "distinct_2": round(distinct(texts, 2), 4),
            "distinct_3": round(distinct(texts, 3), 4),
            "mean_chars": round(sum(len(o["text"]) for o in items) / max(1, len(items)), 1),
        }
    train_texts = [o["_clean"] for o in by_split["train"]]
    # near duplicates: sample to keep this cheap
    rest = {k: [o["_clean"] for o in rnd.sample(by_split[k], min(1500, len(by_split[k])))] for k in ("dev", "test")}
    within_train = rnd.sample(train_texts, min(1500, len(train_texts)))
    near = {
        "dev_vs_train": round(near_dup_rate(train_texts, rest["dev"]), 4),
        "test_vs_train": round(near_dup_rate(train_texts, rest["test"]), 4),
    }
    # a random train order against the other train orders (the baseline of a random split)
    idx = set(range(len(train_texts)))
    held = set(rnd.sample(sorted(idx), min(1500, len(idx))))
    near["random_vs_rest_of_train"] = round(near_dup_rate([train_texts[i] for i in sorted(idx - held)],
                                                          [train_texts[i] for i in sorted(held)]), 4)
    del within_train

    open_split: dict[str, list[dict]] = defaultdict(list)
    for o in open_orders:
        open_split[o["split"]].append(o)
    t1 = time.perf_counter()
    honest = leak_test(by_split["train"], by_split["test"])
    family_test = leak_test(open_split["train"], open_split["test"])
    pool = open_split["train"] + open_split["test"]
    rnd.shuffle(pool)
    n_test = len(open_split["test"])
    random_test = leak_test(pool[n_test:], pool[:n_test])
    fit_secs = time.perf_counter() - t1
    lengths = {}
    for style in sorted({o["style"] for o in orders}):
        ls = sorted(len(o["text"]) for o in orders if o["style"] == style)
        lengths[style] = {"mean": round(sum(ls) / len(ls), 1), "p10": ls[len(ls) // 10], "median": ls[len(ls) // 2],
                          "p90": ls[len(ls) * 9 // 10]}
    kw_free_share = round(sum(o["keyword_free"] for o in orders) / len(orders), 4)

    result = {
        "orders": args.orders, "seed": args.seed, "catalog_leaves": len(gen.leaves),
        "speed_orders_per_s": round(speed, 1), "held_out_keywords": len(gen.holdout.held),
        "keyword_free_share": kw_free_share, "length_by_style": lengths,
        "splits": splits, "near_duplicates_jaccard5_ge_0.8": near,
        "leak_test": {"random_split": random_test, "held_out_families": family_test,
                      "held_out_families_and_keywords": honest, "fit_seconds": round(fit_secs, 1),
                      "gap_leaf_macro_f1": round(random_test["leaf_macro_f1"] - honest["leaf_macro_f1"], 4),
                      "gap_l1_accuracy": round(random_test["l1_accuracy"] - honest["l1_accuracy"], 4)},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"corpus bench: {args.orders} orders, {len(gen.leaves)} leaves, {speed:,.0f} orders/s (one core)\n")
    print("| split | orders | families | distinct-2 | distinct-3 | mean chars |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, s in splits.items():
        print(f"| {name} | {s['orders']} | {s['families']} | {s['distinct_2']} | {s['distinct_3']} | {s['mean_chars']} |")
    print("\n| near-duplicates (char-5 Jaccard ≥ 0.8) | share |\n| --- | --- |")
    for k, v in near.items():
        print(f"| {k} | {v:.2%} |")
    print(f"\nkeyword-free orders: {kw_free_share:.1%}; held-out keywords: {len(gen.holdout.held)}")
    print("\n| style | mean chars | p10 | median | p90 |\n| --- | --- | --- | --- | --- |")
    for k, v in lengths.items():
        print(f"| {k} | {v['mean']} | {v['p10']} | {v['median']} | {v['p90']} |")
    print("\n| TF-IDF char 1–3 + LinearSVC | leaf macro-F1 | leaf acc | L1 acc | keyword-free: n | leaf acc | L1 acc |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for k, r in (("random split", random_test), ("held-out families", family_test),
                 ("held-out families + held-out keywords (honest)", honest)):
        print(f"| {k} | {r['leaf_macro_f1']} | {r['leaf_accuracy']} | {r['l1_accuracy']} | "
              f"{r['keyword_free_test_orders']} | {r['keyword_free_leaf_accuracy']} | {r['keyword_free_l1_accuracy']} |")
    print(f"\ngap (random − honest): leaf macro-F1 {result['leak_test']['gap_leaf_macro_f1']:+.4f}, "
          f"L1 accuracy {result['leak_test']['gap_l1_accuracy']:+.4f}  (three fits: {fit_secs:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
