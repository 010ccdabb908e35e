"""Does the synthetic text carry its appeal type (诉求类型)? A learnability check; and how a model's
appeal type does on hand-written orders.

    python benchmarks/appeal_bench.py [--orders 10000] [--seed 1] [--json PATH]
    python benchmarks/appeal_bench.py --challenge MODEL_DIR [--challenge-data PATH] [--json PATH]
    python benchmarks/appeal_bench.py --corpus-vs-challenge OLD.jsonl NEW.jsonl [--json PATH]

Generates a corpus with the shipped catalog, cleans each text as training does (normalize, cut
trails, mask personal data, title first), fits TF-IDF character 1–3-grams + LinearSVC on
``split == train`` and scores ``split == test`` (held-out phrasing families and keywords), twice:

- ``appeal_type``: accuracy, macro-F1, per-type precision/recall and the confusion matrix;
- ``category_code`` (leaf): accuracy and macro-F1 of the same kind of model, to check that the
  appeal cues do not disturb the category signal.

Also reports the share of orders whose text holds a cue of their labelled appeal type
(``dispatch_nlp.training.corpus.banks.appeal_cues`` for the type's words,
``dispatch_nlp.training.corpus.intent.intent_cues`` for its intent phrasings), over the whole corpus
and per type.

``--challenge MODEL_DIR`` instead runs a trained model over the challenge set (``split`` dev and test)
and scores the appeal type three ways: the model's appeal head alone, the rules stage's intent scores
alone (``dispatch_nlp.components.appeal_intent``), and the two fused as the router fuses them
(``fuse_appeal`` with ``APPEAL_INTENT_WEIGHT``), with per-type F1 and the most frequent confusions; and
the fused accuracy on dev for a range of weights (how the weight was chosen; report on test).

``--corpus-vs-challenge CORPUS...`` compares generated corpora by how well a TF-IDF + LinearSVC trained
on each does on the challenge set (leaf, first level, appeal) and on its own test split.
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


def _scores(pairs: list[tuple[str, str]]) -> dict:
    labels = [a for a in APPEALS if any(g == a for g, _ in pairs)]
    per = {}
    for a in labels:
        tp = sum(1 for g, x in pairs if g == a and x == a)
        fp = sum(1 for g, x in pairs if g != a and x == a)
        fn = sum(1 for g, x in pairs if g == a and x != a)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        per[a] = {"precision": round(pr, 3), "recall": round(rc, 3), "f1": round(2 * pr * rc / (pr + rc), 3) if pr + rc else 0.0,
                  "support": tp + fn}
    conf = Counter((g, x) for g, x in pairs if g != x).most_common(6)
    return {"n": len(pairs), "accuracy": round(sum(g == x for g, x in pairs) / max(1, len(pairs)), 4),
            "macro_f1": round(sum(v["f1"] for v in per.values()) / max(1, len(per)), 4), "per_type": per,
            "confusions": [f"{g}→{x}: {k}" for (g, x), k in conf]}


def challenge(model_dir: str, data: str) -> dict:
    """The appeal type of a model on the challenge set: model head, intent scores, fused."""
    from dispatch_nlp.dispatcher import Dispatcher
    from dispatch_nlp.pipeline import Doc, timed
    from dispatch_nlp.routing.router import APPEAL_INTENT_WEIGHT, fuse_appeal
    from dispatch_nlp.types import WorkOrder

    d = Dispatcher.load(model_dir)
    rows = [json.loads(line) for line in Path(data).read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = [Doc.from_order(WorkOrder.coerce({"id": r["id"], "title": r.get("title") or "", "text": r["text"]})) for r in rows]
    for stage in d.stages:
        docs = timed(stage, docs, 64)
    seen = []
    for r, doc in zip(rows, docs):
        probs = dict(doc.classifier.appeal_probs) if doc.classifier is not None else {}
        intent = dict(doc.rules.appeal) if doc.rules is not None else {}
        seen.append((r["split"], r["appeal_type"], probs, intent))

    def pred(probs, intent, mode, w=APPEAL_INTENT_WEIGHT):
        if mode == "intent" or not probs:
            return max(intent, key=lambda a: intent[a]) if intent else "其他"
        return fuse_appeal(probs, intent, 0.0 if mode == "model" else w).label

    out: dict = {"model": str(model_dir), "weight": APPEAL_INTENT_WEIGHT}
    for split in ("dev", "test"):
        rows_s = [x for x in seen if x[0] == split]
        out[split] = {mode: _scores([(g, pred(p, i, mode)) for _s, g, p, i in rows_s])
                      for mode in ("model", "intent", "fused")}
    dev = [x for x in seen if x[0] == "dev"]
    out["dev_weight_sweep"] = {str(w): _scores([(g, pred(p, i, "fused", w)) for _s, g, p, i in dev])["accuracy"]
                               for w in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)}
    return out


def corpus_on_challenge(corpus: str, data: str) -> dict:
    """How well a generated corpus teaches real orders: TF-IDF character 1–3-grams + LinearSVC for the
    leaf and the appeal type, trained on the corpus' ``split == train``, scored on the challenge set
    (dev, test) and on the corpus' own test split; leaf, first-level and appeal accuracy, first-level
    and appeal macro-F1. The appeal figures are the model alone (no intent fusion)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    norm, mask = Normalizer(cut_trails=True), PiiMasker()

    def clean(title, text):
        m, _ = norm(text)
        return (title + "\n" if title else "") + mask(m)[0].text

    ch = [json.loads(x) for x in Path(data).read_text(encoding="utf-8").splitlines() if x.strip()]
    for r in ch:
        r["_c"], r["_leaf"] = clean(r.get("title") or "", r["text"]), r["category"].replace("/", ">")
    rows = [json.loads(x) for x in Path(corpus).read_text(encoding="utf-8").splitlines() if x.strip()]
    for r in rows:
        r["_c"], r["_leaf"] = clean(r.get("title") or "", r["text"]), ">".join(r["category_path"])
    train = [r for r in rows if r["split"] == "train"]
    sets = {"challenge_dev": [r for r in ch if r["split"] == "dev"], "challenge_test": [r for r in ch if r["split"] == "test"],
            "generated_test": [r for r in rows if r["split"] == "test"]}
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=300000)
    x = vec.fit_transform([r["_c"] for r in train])
    out: dict = {name: {} for name in sets}
    for head, key in (("leaf", "_leaf"), ("appeal", "appeal_type")):
        clf = LinearSVC(C=0.5).fit(x, [r[key] for r in train])
        for name, rs in sets.items():
            pred = list(clf.predict(vec.transform([r["_c"] for r in rs])))
            gold = [r[key] for r in rs]
            d = out[name]
            d[f"{head}_acc"] = round(sum(a == b for a, b in zip(pred, gold)) / len(gold), 4)
            if head == "leaf":
                p1, g1 = [q.split(">")[0] for q in pred], [g.split(">")[0] for g in gold]
                d["l1_acc"] = round(sum(a == b for a, b in zip(p1, g1)) / len(g1), 4)
                d["l1_macro_f1"] = round(float(f1_score(g1, p1, average="macro", labels=sorted(set(g1)))), 4)
            else:
                d["appeal_macro_f1"] = round(float(f1_score(gold, pred, average="macro", labels=sorted(set(gold)))), 4)
    return out


def cue_share(orders) -> dict:
    try:
        from dispatch_nlp.training.corpus.banks import appeal_cues
    except ImportError:  # a generator without appeal cues
        return {}
    try:
        from dispatch_nlp.training.corpus.intent import intent_cues
    except ImportError:  # a generator without intent phrasings
        def intent_cues(text):
            return set()
    hit, word, n = Counter(), Counter(), Counter()
    for o in orders:
        a = o["appeal_type"]
        text = o["text"] + "\n" + (o["title"] or "")
        n[a] += 1
        in_words = a in appeal_cues(text)
        word[a] += in_words
        hit[a] += in_words or a in intent_cues(text)
    return {"all": round(sum(hit.values()) / max(1, sum(n.values())), 4),
            **{a: round(hit[a] / n[a], 3) for a in APPEALS if n[a]},
            "type_words_only": {a: round(word[a] / n[a], 3) for a in APPEALS if n[a]}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the figures here as JSON")
    ap.add_argument("--challenge", metavar="MODEL_DIR", help="score this model's appeal type on the challenge set")
    ap.add_argument("--challenge-data", default=str(Path(__file__).resolve().parents[2] / "shared" / "challenge" / "orders.jsonl"))
    ap.add_argument("--corpus-vs-challenge", nargs="+", metavar="CORPUS", help="generated corpora (JSONL) to compare on the "
                    "challenge set by a TF-IDF + LinearSVC trained on each")
    args = ap.parse_args(argv)
    if args.corpus_vs_challenge:
        res = {c: corpus_on_challenge(c, args.challenge_data) for c in args.corpus_vs_challenge}
        for c, r in res.items():
            print(c, json.dumps(r, ensure_ascii=False))
        if args.json:
            Path(args.json).write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return 0
    if args.challenge:
        res = challenge(args.challenge, args.challenge_data)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        for split in ("dev", "test"):
            for mode, r in res[split].items():
                f1 = ", ".join(f"{a} {v['f1']}" for a, v in r["per_type"].items())
                print(f"{split:4} {mode:6} acc {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  [{f1}]  {'; '.join(r['confusions'][:3])}")
        print("dev accuracy by intent weight:", res["dev_weight_sweep"])
        return 0

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
