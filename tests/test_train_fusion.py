"""Cross-fitting folds, the stacked fusion and coverage at fixed accuracy (issue 20), on small arrays."""

import json

import numpy as np
import pytest

from dispatch_nlp.components.stacker import Stacker
from dispatch_nlp.errors import ModelError
from dispatch_nlp.lifecycle.metrics import coverage_at_accuracy, head_report

pytest.importorskip("sklearn")


def confusable(n: int, seed: int = 3):
    """Orders whose strong member's top leaf is a confusion the weak member and the rules rule out."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 4, n)
    strong = np.full((n, 4), 0.03)
    weak = np.full((n, 4), 0.02)
    rules = np.zeros((n, 4))
    for i, g in enumerate(gold):
        other = (g + 1 + i % 3) % 4
        strong[i, g], strong[i, other] = 0.40, 0.50
        weak[i, g] = 0.5
        weak[i, (g + 2) % 4] = 0.45 if other != (g + 2) % 4 else 0.02
        if i % 2:
            rules[i, g] = 0.6
    return {"strong": strong / strong.sum(1, keepdims=True), "weak": weak / weak.sum(1, keepdims=True)}, rules, gold


def test_folds_deal_every_class_over_every_fold():
    from dispatch_nlp.training.crossfit import assign_folds, fold_count

    labels = [c for c in "abcdefg" for _ in range(23)] + ["rare"] * 2
    folds = assign_folds(labels, 5, seed=1)
    for c in "abcdefg":
        counts = np.bincount(folds[[i for i, x in enumerate(labels) if x == c]], minlength=5)
        assert counts.min() >= 4 and counts.max() <= 5
    assert np.array_equal(folds, assign_folds(labels, 5, seed=1))  # deterministic
    assert fold_count(10_000, 5) == 5 and fold_count(120, 5) == 3 and fold_count(30, 5) == 2


def test_stacker_objective_gradient_is_exact():
    from dispatch_nlp.training.stacking import _group_starts, _objective
    from scipy.optimize import check_grad

    probs, rules, gold = confusable(40)
    stacker = Stacker(sorted(probs), np.zeros(13))
    rows, cols, x = stacker.features(probs, rules)
    keep = np.isin(rows, np.unique(rows[cols == gold[rows]]))
    rows, cols, x = rows[keep], cols[keep], x[keep]
    starts, gold_pos = _group_starts(rows), np.flatnonzero(cols == gold[rows])
    w = np.random.default_rng(0).normal(size=x.shape[1])
    err = check_grad(lambda v: _objective(v, x, starts, gold_pos, 1e-3)[0],
                     lambda v: _objective(v, x, starts, gold_pos, 1e-3)[1], w)
    assert err < 1e-4


def test_stacked_fusion_learns_whom_to_trust_where_members_disagree():
    from dispatch_nlp.training.crossfit import assign_folds
    from dispatch_nlp.training.fusion import fit_fusion
    from dispatch_nlp.training.stacking import fit_stacked_fusion

    probs, rules, gold = confusable(600)
    folds = assign_folds([str(g) for g in gold], 5)
    grid = fit_fusion(probs, rules, gold, 0.95)
    stacker, fusion = fit_stacked_fusion(probs, rules, gold, folds, 0.95)
    alone = (probs["strong"].argmax(1) == gold).mean()
    assert alone == 0.0  # the strong member alone is always wrong
    # out-of-fold (the stacker cross-fitted over the folds), as good as the best weight grid on its own data
    assert fusion["dev_accuracy"] >= max(grid["dev_accuracy"] - 0.01, 0.95) and fusion["candidate_recall"] == 1.0
    assert fusion["rules_weight"] == 0.0 and fusion["auto_threshold"] <= 1.0 and fusion["dev_auto_coverage"] > 0.5
    assert set(fusion["coef"]) == set(stacker.names)


def test_stacker_scores_only_candidates_and_round_trips(tmp_path):
    from dispatch_nlp.training.stacking import fit_stacker

    probs, rules, gold = confusable(200)
    stacker, info = fit_stacker(probs, rules, gold, top_k=2, rules_top=1)
    p = stacker.predict(probs, rules)
    assert np.allclose(p.sum(1), 1.0)
    cand = stacker.candidates(probs, rules)
    assert np.all(p[~cand] == 0.0) and (~cand).any()
    stacker.save(tmp_path / "stacker.json")
    again = Stacker.load(tmp_path / "stacker.json")
    assert np.allclose(again.predict(probs, rules), p, atol=1e-5)
    with pytest.raises(ModelError, match="weak"):
        again.predict({"strong": probs["strong"]}, rules)
    bad = json.loads((tmp_path / "stacker.json").read_text())
    bad["coef"] = bad["coef"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="coefficients"):
        Stacker.load(tmp_path / "bad.json")


def test_coverage_at_accuracy_takes_the_most_confident_share():
    conf = np.linspace(1.0, 0.01, 100)
    correct = np.ones(100)
    correct[[30, 60, 61, 62]] = 0.0  # the 31st most confident order is the first mistake
    # 30 of 30 right; 59 of 60 (0.983) reaches 97 and 98 % but not 99 %; beyond 60 no target is reached
    assert coverage_at_accuracy(correct, conf) == {"0.97": 0.6, "0.98": 0.6, "0.99": 0.3}
    tied = np.r_[np.ones(10), np.full(90, 0.5)]
    right = np.r_[np.ones(10), np.zeros(90)]
    right[10] = 1.0  # one right order among the tied ones cannot be sent without the other 89
    assert coverage_at_accuracy(right, tied) == {"0.97": 0.1, "0.98": 0.1, "0.99": 0.1}
    assert coverage_at_accuracy(np.zeros(5), np.ones(5))["0.97"] == 0.0
    rep = head_report(["a", "b", "a"], ["a", "b", "b"], [0.9, 0.8, 0.2])
    assert rep["coverage_at_accuracy"] == {"0.97": round(2 / 3, 4), "0.98": round(2 / 3, 4), "0.99": round(2 / 3, 4)}


def test_reliability_features_let_a_member_count_where_it_is_right():
    """Two members equally confident, each right on two of four leaves and wrong (confidently) on the
    other two: only per-leaf reliability tells them apart, and the fit keeps it because it helps."""
    from dispatch_nlp.training.crossfit import assign_folds
    from dispatch_nlp.training.stacking import fit_stacked_fusion

    rng = np.random.default_rng(5)
    n, classes = 800, ["a0", "a1", "b2", "b3"]
    gold = rng.integers(0, 4, n)
    a, b = np.full((n, 4), 0.05), np.full((n, 4), 0.05)
    for i, g in enumerate(gold):
        swap = g ^ 1  # the other leaf of its pair
        good, bad = (a, b) if g < 2 else (b, a)
        good[i, g] = 0.7
        good[i, swap] = 0.2
        bad[i, swap], bad[i, g] = 0.7, 0.2
    probs = {"a": a / a.sum(1, keepdims=True), "b": b / b.sum(1, keepdims=True)}
    folds = assign_folds([str(g) for g in gold], 5)
    stacker, fusion = fit_stacked_fusion(probs, np.zeros((n, 4)), gold, folds, 0.95, classes=classes)
    assert fusion["reliability"] is True and fusion["dev_accuracy"] >= 0.95
    assert stacker.reliability["a"]["a0"] > 0.9 > 0.1 > stacker.reliability["a"]["b2"]
    plain, without = fit_stacked_fusion(probs, np.zeros((n, 4)), gold, folds, 0.95)
    assert without["reliability"] is False and without["dev_accuracy"] < 0.7
    with pytest.raises(ModelError, match="leaves"):
        stacker.predict(probs)  # the reliability features need the columns' leaves


def test_a_dev_split_of_new_orders_is_a_fold_of_its_own_and_sets_the_threshold():
    """A dev split made by time or a split column stands for new orders: fold 0 holds it alone, and the
    calibration and threshold are fitted on its out-of-fold orders only."""
    from dispatch_nlp.training.crossfit import assign_folds_keeping_dev
    from dispatch_nlp.training.stacking import fit_stacked_fusion

    probs, rules, gold = confusable(600)
    is_dev = np.arange(600) >= 450
    folds = assign_folds_keeping_dev([str(g) for g in gold], is_dev, 5)
    assert set(folds[is_dev]) == {0} and set(folds[~is_dev]) == {1, 2, 3, 4}
    _, fusion = fit_stacked_fusion(probs, rules, gold, folds, 0.95, calibrate_on=is_dev)
    assert fusion["calibrated_on"] == 150 and "oof_accuracy" in fusion
