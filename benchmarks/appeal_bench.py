"""Does the synthetic text carry its appeal type (诉求类型)? A learnability check.

    python benchmarks/appeal_bench.py [--orders 10000] [--seed 1] [--json PATH]

Generates a corpus with the shipped catalog, cleans each text as training does (normalize, cut
trails, mask personal data, title first), fits TF-IDF character 1–3-grams + LinearSVC on
``split == train`` and scores ``split == test`` (held-out phrasing families and keywords), twice:

- ``appeal_type``: accuracy, macro-F1, per-type precision/recall and the confusion matrix;
- ``category_code`` (leaf): accuracy and macro-F1 of the same kind of model, to check that the
  appeal cues do not disturb the category signal.

Also reports the share of orders whose text holds a cue of their labelled appeal type
(``dispatch_nlp.training.corpus.banks.appeal_cues``), over the whole corpus and per type.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from dispatch_nlp.training.corpus import load_generator

from dispatch_nlp.text.normalize import Normalizer
from dispatch_nlp.text.pii import PiiMasker

APPEALS = ("咨询", "求助", "投诉", "举报", "建议", "表扬", "其他")


def _fit(train, test, key, C=0.5):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=300000)
    xtr = vec.fit_transform([o["_clean"] for o in train])
    xte = vec.transform([o["_clean"] for o in test])
    ytr = [o[key] for o in train]
    yte = [o[key] for o in test]
    pred = LinearSVC(C=C).fit(xtr, ytr).predict(xte)
    out = {"accuracy": round(float(accuracy_score(yte, pred)), 4),
           "macro_f1": round(float(f1_score(yte, pred, average="macro", labels=sorted(set(yte)))), 4),
           "train": len(train), "test": len(test)}
    if key == "appeal_type":
        labels = [a for a in APPEALS if a in set(yte) | set(ytr)]
        p, r, f, s = precision_recall_fscore_support(yte, pred, labels=labels, zero_division=0)
        out["per_type"] = {a: {"precision": round(float(p[i]), 3), "recall": round(float(r[i]), 3),
                               "f1": round(float(f[i]), 3), "support": int(s[i])} for i, a in enumerate(labels)}
        out["labels"] = labels
        out["confusion"] = confusion_matrix(yte, pred, labels=labels).tolist()
    return out


def cue_share(orders) -> dict:
    try:
        from dispatch_nlp.training.corpus.banks import appeal_cues
    except ImportError:  # a generator without appeal cues
        return {}
    hit, n = Counter(), Counter()
    for o in orders:
        n[o["appeal_type"]] += 1
        if o["appeal_type"] in appeal_cues(o["text"] + "\n" + (o["title"] or "")):
            hit[o["appeal_type"]] += 1
    return {"all": round(sum(hit.values()) / max(1, sum(n.values())), 4),
            **{a: round(hit[a] / n[a], 3) for a in APPEALS if n[a]}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the figures here as JSON")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    orders = list(load_generator(args.seed).generate(args.orders))
    norm, mask = Normalizer(cut_trails=True), PiiMasker()
    for o in orders:
        m, _ = norm(o["text"])
        o["_clean"] = (o["title"] + "\n" if o["title"] else "") + mask(m)[0].text
    train = [o for o in orders if o["split"] == "train"]
    test = [o for o in orders if o["split"] == "test"]
    appeal = _fit(train, test, "appeal_type")
    leaf = _fit(train, test, "category_code")
    result = {"orders": args.orders, "seed": args.seed, "appeal_distribution": dict(Counter(o["appeal_type"] for o in orders)),
              "cue_share": cue_share(orders), "appeal": appeal, "leaf": leaf,
              "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"appeal bench: {args.orders} orders, seed {args.seed}; train {len(train)}, test {len(test)} "
          f"({result['seconds']} s)")
    print(f"appeal_type: accuracy {appeal['accuracy']}, macro-F1 {appeal['macro_f1']}")
    print(f"leaf:        accuracy {leaf['accuracy']}, macro-F1 {leaf['macro_f1']}")
    if result["cue_share"]:
        print("orders carrying a cue of their own type:", result["cue_share"])
    labels = appeal["labels"]
    print("\n| true \\ pred | " + " | ".join(labels) + " | recall | precision |")
    print("| --- " * (len(labels) + 3) + "|")
    for i, a in enumerate(labels):
        row = appeal["confusion"][i]
        pt = appeal["per_type"][a]
        print(f"| {a} | " + " | ".join(str(x) for x in row) + f" | {pt['recall']} | {pt['precision']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
