"""The classifier cascade (dispatch_nlp.components.cascade): sure orders take the fast profile's decision and
skip the expensive member; the others get the full profile's decision, the member run once on them alone."""

import json

import pytest

from dispatch_nlp import Dispatcher
from dispatch_nlp.components.cascade import SKIPPED_FLAG, CascadeSettings, certainty, resolve
from dispatch_nlp.components.classifier import ClassifierEvidence
from dispatch_nlp.dispatcher import write_checksums
from dispatch_nlp.errors import ModelError
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.types import WorkOrder
from tests.conftest import ROOT

TEXTS = [  # the fast fusion's top leaf: about .76, 1.0, .38, 1.0, .37, 1.0, 1.0, .94, .37 (shipped model)
    "市民来电反映：朝阳区望京街道某小区有人私搭乱建，占用消防通道，希望相关部门尽快核实处理。",
    "来电人咨询租房提取公积金需要准备哪些材料。",
    "海淀区学院路街道某小区停水三天了，物业不管，希望尽快恢复供水。",
    "丰台区卢沟桥街道某饭店油烟很大，晚上噪音扰民，希望处理。",
    "我想问一下这个事情到底归谁管，打了好几个电话都说不归他们管。",
    "来电人反映单位拖欠工资三个月，要求帮助追讨。",
    "东城区某路段路灯不亮，晚上出行不便。",
    "邻居家狗整夜叫，怎么办。",
    "反映的问题一直没人处理，对处理结果不满意。",
]


def model_with_cascade(tmp_path, cascade):
    """The shipped model (its files linked, not copied) with ``cascade`` in the full classifier section
    (None: none)."""
    mdir = tmp_path / "cascade"
    mdir.mkdir(parents=True)
    for f in (ROOT / "models" / "default").iterdir():
        if f.name not in ("config.json", "checksums.json"):
            (mdir / f.name).symlink_to(f)
    config = json.loads((ROOT / "models" / "default" / "config.json").read_text("utf-8"))
    config["classifier"].pop("cascade", None)  # the shipped model's own, if it has one
    if cascade is not None:
        config["classifier"]["cascade"] = cascade
    (mdir / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    write_checksums(mdir)
    return mdir


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(cascade model dir, fast dispatcher, full dispatcher without cascade)."""
    mdir = model_with_cascade(tmp_path_factory.mktemp("m"), {"profile": "fast", "skip_above": 0.9, "on": "leaf"})
    return (mdir, Dispatcher.load(mdir, profile="fast", ort_threads=1),
            Dispatcher.load(mdir, profile="full", ort_threads=1, cascade=False))


def core(decision) -> dict:
    """What the decision says, without its timings and the cascade's flag."""
    d = decision.to_dict()
    d.pop("timings_ms")
    d["flags"] = [f for f in d["flags"] if f != SKIPPED_FLAG]
    return d


def _flat(d, prefix=""):
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f"{prefix}{key}.").items()}
    if isinstance(d, list):
        return {k: v for i, val in enumerate(d) for k, v in _flat(val, f"{prefix}{i}.").items()}
    return {prefix: d}


def assert_same_decision(a: dict, b: dict, tolerance: float = 2e-4) -> None:
    """The same decision: every label, code, route and flag equal; numbers within ``tolerance``."""
    fa, fb = _flat(a), _flat(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        x, y = fa[k], fb[k]
        if isinstance(x, float) and isinstance(y, float):
            assert abs(x - y) <= tolerance, (k, x, y)
        else:
            assert x == y, (k, x, y)


class Spy:
    """Counts the orders each call of a member's ``predict_proba`` gets."""

    def __init__(self, member):
        self.member, self.calls = member, []
        self.heads = member.heads

    def classes(self, head):
        return self.member.classes(head)

    def predict_proba(self, texts, heads=None):
        self.calls.append(len(texts))
        return self.member.predict_proba(texts, heads)


def spy_on(dispatcher, name="prototype") -> Spy:
    stage = next(s for s in dispatcher.stages if s.name == "classifier")
    spy = Spy(stage.members[name])
    stage.members[name] = spy
    return spy


def test_sure_orders_take_the_fast_decision_and_the_rest_the_full_one_in_one_encoder_call(models):
    mdir, fast, full = models
    cascade = Dispatcher.load(mdir, profile="full", ort_threads=1)
    spy = spy_on(cascade)
    got = cascade.dispatch_batch(TEXTS, batch_size=64)
    want_fast, want_full = fast.dispatch_batch(TEXTS), full.dispatch_batch(TEXTS)
    skipped = [SKIPPED_FLAG in d.flags for d in got]
    assert 0 < sum(skipped) < len(TEXTS)
    assert spy.calls == [len(TEXTS) - sum(skipped)]  # one batched call, the unsure orders only
    for g, f, u, s in zip(got, want_fast, want_full, skipped):
        assert core(g) == core(f if s else u)
        assert SKIPPED_FLAG not in f.flags and SKIPPED_FLAG not in u.flags
    # the fast profile routes with its own threshold: a skipped order is routed by it, not the full one's
    assert fast.router.settings.auto_threshold != full.router.settings.auto_threshold
    # single orders: the same decisions, the encoder not run for a sure one
    spy.calls.clear()
    for text, g in zip(TEXTS, got):
        # alone, an escalated order is padded differently in the encoder: its probabilities may differ in
        # the last place kept (float sums in another order), its labels and routes may not
        assert_same_decision(core(cascade.dispatch(text)), core(g))
    assert len(spy.calls) == len(TEXTS) - sum(skipped)


def test_the_threshold_decides_which_orders_skip(models):
    mdir, fast, full = models
    cascade = Dispatcher.load(mdir, profile="full", ort_threads=1)
    stage = next(s for s in cascade.stages if s.name == "classifier")
    assert stage.members["linear"] is stage.cascade.fast.members["linear"]  # loaded once, run once
    texts_sure = []
    for text, dec in zip(TEXTS, cascade.dispatch_batch(TEXTS)):
        doc = Doc.from_order(WorkOrder(text=text))
        for s in fast.stages:
            doc = s(doc)
        assert (SKIPPED_FLAG in dec.flags) == (certainty(doc.classifier, "leaf") >= 0.9)
        if SKIPPED_FLAG in dec.flags:
            texts_sure.append(text)
    spy = spy_on(cascade)
    assert all(SKIPPED_FLAG in d.flags for d in cascade.dispatch_batch(texts_sure))
    assert spy.calls == []  # nothing unsure: the encoder is not called at all


def test_off_by_default_and_when_turned_off(models, tmp_path):
    mdir, _, full = models
    want = [core(d) for d in full.dispatch_batch(TEXTS)]
    for d in (Dispatcher.load(mdir, profile="full", ort_threads=1, cascade=False),
              Dispatcher.load(model_with_cascade(tmp_path / "a", {"skip_above": None}), profile="full",
                              ort_threads=1),
              Dispatcher.load(model_with_cascade(tmp_path / "b", None), profile="full", ort_threads=1)):
        stage = next(s for s in d.stages if s.name == "classifier")
        assert stage.cascade is None and d.profile_routers == {}
        got = d.dispatch_batch(TEXTS)
        assert [core(x) for x in got] == want
        assert not any(SKIPPED_FLAG in x.flags for x in got)


def test_the_fast_profile_itself_ignores_the_full_profiles_cascade(models):
    mdir, fast, _ = models
    d = Dispatcher.load(mdir, profile="fast", ort_threads=1)
    assert next(s for s in d.stages if s.name == "classifier").cascade is None
    assert [core(x) for x in d.dispatch_batch(TEXTS)] == [core(x) for x in fast.dispatch_batch(TEXTS)]


@pytest.mark.parametrize("section, message", [
    ({"skip_above": 1.5}, "between 0 and 1"),
    ({"skip_above": "high"}, "between 0 and 1"),
    ({"skip_above": 0.9, "on": "unit"}, "not one of leaf, margin"),
    ({"skip_above": 0.9, "profile": "turbo"}, "profile 'turbo'"),
    ({"skip_above": 0.9, "skip_below": 0.1}, "unknown cascade keys: skip_below"),
    ("0.9", "must be an object"),
])
def test_a_bad_cascade_section_is_refused_on_load(tmp_path, section, message):
    with pytest.raises(ModelError, match=message):
        Dispatcher.load(model_with_cascade(tmp_path, section), profile="full")


def test_a_cascade_that_is_not_resolved_against_a_profile_is_refused(tmp_path):
    from dispatch_nlp.components.classifier import ClassifierStage

    config = json.loads((ROOT / "models" / "default" / "config.json").read_text("utf-8"))
    section = {**config["classifier"], "cascade": {"skip_above": 0.9}}
    with pytest.raises(ModelError, match="not resolved against profile 'fast'"):
        ClassifierStage.load(ROOT / "models" / "default", section, Dispatcher.load(profile="fast").catalog)


def test_resolve_copies_the_fast_profiles_classifier_and_route():
    config = json.loads((ROOT / "models" / "default" / "config.json").read_text("utf-8"))
    config["classifier"]["cascade"] = {"skip_above": 0.8}
    out, route = resolve(config, ROOT)
    assert out["classifier"]["cascade"]["classifier"] == config["profiles"]["fast"]["classifier"]
    assert route == {**config["route"], **config["profiles"]["fast"]["route"]}
    assert "classifier" not in config["classifier"]["cascade"]  # the input is left as it was
    off, none = resolve(config, ROOT, enabled=False)
    assert none is None and "cascade" not in off["classifier"]


def test_certainty_reads_the_top_leaf_or_its_margin():
    ev = ClassifierEvidence(leaf_probs={"a": 0.2, "b": 0.7, "c": 0.1})
    assert certainty(ev, "leaf") == pytest.approx(0.7)
    assert certainty(ev, "margin") == pytest.approx(0.5)
    assert certainty(ClassifierEvidence(), "leaf") == 0.0
    assert CascadeSettings.from_section({"skip_above": 1}) == CascadeSettings(1.0, "fast", "leaf")
    assert CascadeSettings.from_section(None) is None


def test_the_consoles_explain_view_decides_as_dispatch_does_for_skipped_orders(models):
    from dispatch_nlp.service.console.explain import explain

    mdir, _, _ = models
    cascade = Dispatcher.load(mdir, profile="full", ort_threads=1)
    skipped = 0
    for text in TEXTS:
        decision, _view = explain(cascade, WorkOrder(text=text))
        want = cascade.dispatch(text)
        skipped += SKIPPED_FLAG in want.flags
        assert core(decision) == core(want) and decision.flags == want.flags
    assert skipped  # skipped orders are routed by the fast profile's router there too
