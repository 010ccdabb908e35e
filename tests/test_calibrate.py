"""``dispatch-nlp calibrate``: calibration maps guarded for small sets, the threshold, the profile fit and
the write into the model folder."""

import json
import types

import numpy as np
import pytest

from dispatch_nlp.components.classifier import ClassifierEvidence
from dispatch_nlp.components.jurisdiction.evidence import JurisdictionEvidence
from dispatch_nlp.dispatcher import verify_checksums, write_checksums
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.units import UnitsRegistry
from dispatch_nlp.lifecycle.calibrate import (
    CARD_BEGIN,
    ProfileRun,
    calibrate_profile,
    cv_ece,
    fit_beta,
    fit_isotonic,
    fit_platt,
    least_threshold,
    write_calibration,
)
from dispatch_nlp.lifecycle.metrics import expected_calibration_error
from dispatch_nlp.pipeline.doc import Doc
from dispatch_nlp.routing.router import Router
from dispatch_nlp.routing.settings import RouteSettings
from dispatch_nlp.types import WorkOrder

WANGJING = "110105026000"


def _sample(n, seed, truth):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.999, n)
    return x, (rng.uniform(0, 1, n) < truth(x)).astype(float)


def test_platt_keeps_a_calibrated_score_and_pulls_an_overconfident_one_down():
    x, y = _sample(400, 1, lambda p: p)
    fair = fit_platt(x, y)
    assert abs(fair(np.array([0.3]))[0] - 0.3) < 0.1 and abs(fair(np.array([0.8]))[0] - 0.8) < 0.1
    x, y = _sample(400, 2, lambda p: p / 2)
    over = fit_platt(x, y)
    assert over(np.array([0.95]))[0] < 0.65
    assert np.all(np.diff(over.y) >= 0) and over.x[0] == 0.0 and over.x[-1] == 1.0


def test_platt_without_a_positive_slope_is_the_base_rate():
    x, y = _sample(100, 3, lambda p: 1 - p)
    flat = fit_platt(x, y)
    assert flat(np.array([0.1]))[0] == flat(np.array([0.99]))[0] == pytest.approx(y.mean())


def test_beta_bends_where_platt_cannot_and_stays_monotone():
    x, y = _sample(600, 8, lambda p: p ** 4)  # right rarely until the score is near 1
    beta, platt = fit_beta(x, y), fit_platt(x, y)
    grid = np.linspace(0.05, 0.99, 50)
    assert np.all(np.diff(beta(grid)) >= 0)
    assert np.abs(beta(grid) - grid ** 4).mean() < np.abs(platt(grid) - grid ** 4).mean()
    x, y = _sample(100, 3, lambda p: 1 - p)
    assert fit_beta(x, y)(np.array([0.1]))[0] == fit_beta(x, y)(np.array([0.99]))[0] == pytest.approx(y.mean())


def test_isotonic_steps_hold_the_minimum_count():
    x, y = _sample(97, 4, lambda p: p ** 2)
    cal = fit_isotonic(x, y, min_count=15)
    assert np.all(np.diff(cal.y) >= 0) and np.all(np.diff(cal.x) >= 0)
    levels = np.unique(np.round(cal(x), 6))
    counts = [int(np.sum(np.isclose(cal(x), level, atol=1e-6))) for level in levels]
    assert min(counts) >= 15 and len(levels) <= 97 // 15
    loose = fit_isotonic(x, y, min_count=1)
    assert len(np.unique(np.round(loose(x), 6))) > len(levels)


def test_cross_validated_ece_is_small_for_a_fair_score_and_large_for_an_overconfident_one():
    x, y = _sample(300, 5, lambda p: p)
    assert cv_ece("platt", x, y) < 0.08
    assert expected_calibration_error(*_sample(300, 6, lambda p: p / 2)[::-1]) > 0.2
    assert cv_ece("isotonic", x[:3], y[:3]) is None


def test_the_threshold_is_the_least_confidence_that_reaches_the_target_with_enough_orders():
    conf = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6])
    right = np.array([1, 1, 1, 1, 1, 1, 0, 1, 0, 0], float)
    assert least_threshold(conf, right, 0.85, min_auto=3) == pytest.approx(0.8)  # 7 of the 8 at or above 0.8
    assert least_threshold(conf, right, 0.85, min_auto=9) == 1.01  # too few orders at any passing threshold
    assert least_threshold(conf, right, 0.9, min_auto=3) == pytest.approx(0.9)
    assert least_threshold(conf, right, 0.9, min_auto=7) == 1.01


# -- the profile fit on synthetic orders ------------------------------------------------------------------

LEAVES = {"010201": "street_office@110105026", "010202": "street_office@110105026", "010901": "city_gjj",
          "010204": "district_cgw@110105"}


def _run(gaz, n=80, seed=7):
    """Orders whose classifier is overconfident: the top leaf is right about 60 % of the time at 0.95."""
    catalog, units = Catalog.load(), UnitsRegistry.load()
    router = Router(catalog, gaz, units, RouteSettings(), model_version="test")
    rng = np.random.default_rng(seed)
    codes = list(LEAVES)
    docs, gold_leaf, gold_unit = [], [], []
    for i in range(n):
        gold = codes[i % len(codes)]
        top = gold if rng.uniform() < 0.6 else codes[(codes.index(gold) + 1) % len(codes)]
        probs = {c: 0.05 / (len(codes) - 1) for c in codes if c != top} | {top: 0.95}
        doc = Doc.from_order(WorkOrder(text="问题", id=str(i)))
        doc.classifier = ClassifierEvidence(leaf_probs=probs)
        doc.jurisdiction = JurisdictionEvidence(code=WANGJING, confidence=1.0)
        docs.append(doc)
        gold_leaf.append(gold)
        gold_unit.append(LEAVES[gold])
    return ProfileRun(types.SimpleNamespace(router=router), docs, gold_leaf, gold_unit)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrating_an_overconfident_profile_lowers_its_confidence_and_holds_the_target(gaz, method):
    run = _run(gaz)
    route, report = calibrate_profile(run, target=0.9, method=method, dispatch_on="unit", min_auto=5)
    settings = RouteSettings.from_dict(route)  # every key written is a route setting
    assert settings.dispatch_on == "unit" and settings.route_calibration_x
    assert report["before"]["category_ece"] > 0.2 > report["after"]["category_ece"]
    assert settings.calibrate(0.95) < 0.8
    after = report["after"]
    assert after["auto_share"] is not None
    assert after["auto_unit_accuracy"] is None or after["auto_unit_accuracy"] >= 0.9
    assert set(report["ece_cv"]) == {"category", "level", "route"}


def test_the_rules_weight_is_refit_unless_kept(gaz):
    run = _run(gaz, n=40)
    kept, report = calibrate_profile(run, dispatch_on="leaf", min_auto=5, fit_rules_weight=False)
    assert kept["rules_weight"] == RouteSettings().rules_weight and report["rules_weight_logp"] == {}
    fitted, report = calibrate_profile(run, dispatch_on="leaf", min_auto=5)
    # These orders have no rule evidence: every weight scores alike and the one nearest the model's is kept.
    assert len(report["rules_weight_logp"]) > 1 and len(set(report["rules_weight_logp"].values())) == 1
    assert abs(fitted["rules_weight"] - RouteSettings().rules_weight) <= 0.05
    assert kept["dispatch_on"] == "leaf" and kept["route_calibration_x"] == []


def test_rules_that_are_right_where_the_classifier_is_wrong_get_more_weight(gaz):
    from dispatch_nlp.components.rules import RulesStage

    catalog = Catalog.load()
    rules = RulesStage(catalog)
    router = Router(catalog, gaz, UnitsRegistry.load(), RouteSettings(rules_weight=0.1), model_version="test")
    docs, gold = [], []
    for i in range(40):  # the rules name the right leaf; the classifier is sure and wrong half the time
        text, leaf, other = (("想问公积金提取的材料", "010901", "010202") if i % 2 else ("路面塌陷了一个大坑", "010202", "010901"))
        doc = rules(Doc.from_order(WorkOrder(text=text, id=str(i))))
        doc.classifier = ClassifierEvidence(leaf_probs={other if i % 4 < 2 else leaf: 0.9, "010204": 0.1})
        doc.jurisdiction = JurisdictionEvidence(code=WANGJING, confidence=1.0)
        docs.append(doc)
        gold.append(leaf)
    run = ProfileRun(types.SimpleNamespace(router=router), docs, gold, [None] * len(gold))
    route, report = calibrate_profile(run, dispatch_on="leaf", min_auto=5)
    assert route["rules_weight"] >= 0.4 and report["after"]["leaf_accuracy"] > report["before"]["leaf_accuracy"]
    # A stacked fusion has weighed the rules already: routing must not count them twice.
    stacked = types.SimpleNamespace(router=router, stages=[types.SimpleNamespace(name="classifier", fusion="stacked")])
    route, report = calibrate_profile(ProfileRun(stacked, docs, gold, [None] * len(gold)), dispatch_on="leaf", min_auto=5)
    assert route["rules_weight"] == 0.1 and report["rules_weight_logp"] == {}


def test_write_calibration_updates_each_profile_records_the_data_and_rewrites_checksums(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    config = {"format_version": 1, "route": {"auto_threshold": 0.95, "rules_weight": 0.5},
              "profiles": {"fast": {"route": {"auto_threshold": 0.97}}}}
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (model / "MODEL_CARD.md").write_text("# Model card\n\ntext\n", encoding="utf-8")
    write_checksums(model)
    data = tmp_path / "dev.jsonl"
    data.write_text('{"text": "x"}\n', encoding="utf-8")
    figures = {"auto_share": 0.2, "auto_unit_accuracy": 0.9, "auto_leaf_accuracy": 0.8}
    reports = {name: {"orders": 50, "rules_weight": 0.3, "auto_threshold": t, "ece_cv": {"category": 0.05},
                      "before": figures, "after": figures} for name, t in (("full", 0.8), ("fast", 0.85))}
    routes = {"full": {"auto_threshold": 0.8, "dispatch_on": "unit"}, "fast": {"auto_threshold": 0.85, "dispatch_on": "unit"}}
    for _ in range(2):  # twice: the card keeps one section
        record = write_calibration(model, routes, reports, data=data, split="dev", method="platt", target=0.9,
                                   dispatch_on="unit", write_checksums=write_checksums)
    written = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert written["route"] == {"auto_threshold": 0.8, "rules_weight": 0.5, "dispatch_on": "unit"}
    assert written["profiles"]["fast"]["route"] == {"auto_threshold": 0.85, "dispatch_on": "unit"}
    assert written["calibration"]["split"] == "dev" and written["calibration"]["orders"] == 50
    assert written["calibration"]["sha256"] == record["sha256"] and len(record["sha256"]) == 64
    card = (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.startswith("# Model card") and card.count(CARD_BEGIN) == 1 and "| fast | 0.3 | 0.85 |" in card
    verify_checksums(model)  # the checksums match the rewritten files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
