"""The prototype member: scoring, building with a tiny random encoder, loading, batch independence."""

import json
import os

import numpy as np
import pytest

from dispatch_nlp.components.classifier import ClassifierStage
from dispatch_nlp.components.members.base import Member
from dispatch_nlp.components.members.prototype import PrototypeHead, PrototypeMember
from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.catalog import Catalog


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_head_scores_each_class_by_its_best_prototype():
    vectors = unit([[1, 0, 0], [0, 1, 0], [0, 0.6, 0.8], [0, 0, 1]])
    head = PrototypeHead(["a", "b", "c"], vectors, np.array([0, 1, 1, 2]), temperature=0.05)
    q = unit([[0, 0.5, 1.0], [1, 0.1, 0]])
    scores = head.scores(q)
    expected = q @ vectors.T
    assert np.allclose(scores, [[expected[0, 0], expected[0, 1:3].max(), expected[0, 3]],
                                [expected[1, 0], expected[1, 1:3].max(), expected[1, 3]]])
    p = head.proba(q)
    assert p.shape == (2, 3) and np.allclose(p.sum(1), 1.0)
    assert p[0].argmax() == 1 and p[1].argmax() == 0  # b's second prototype is the nearest to q[0]


def test_soft_maximum_lies_between_mean_and_max_and_sharpens_with_beta():
    vectors = unit([[1, 0], [0.6, 0.8], [0, 1]])
    owner = np.array([0, 0, 1])
    q = unit([[0.8, 0.6]])
    sims = (q @ vectors.T)[0]
    soft = PrototypeHead(["a", "b"], vectors, owner, aggregate="lse", beta=5.0).scores(q)[0, 0]
    sharp = PrototypeHead(["a", "b"], vectors, owner, aggregate="lse", beta=500.0).scores(q)[0, 0]
    assert sims[:2].mean() < soft < sharp <= sims[:2].max() + 1e-6
    assert sharp == pytest.approx(sims[:2].max(), abs=2e-3)


def test_higher_temperature_flattens_the_distribution():
    vectors = unit([[1, 0], [0, 1]])
    q = unit([[0.9, 0.3]])
    cold = PrototypeHead(["a", "b"], vectors, np.array([0, 1]), temperature=0.02).proba(q)
    warm = PrototypeHead(["a", "b"], vectors, np.array([0, 1]), temperature=1.0).proba(q)
    assert cold[0, 0] > warm[0, 0] > 0.5


def test_a_class_without_prototype_or_a_bad_owner_is_refused():
    with pytest.raises(ModelError, match="no prototype"):
        PrototypeHead(["a", "b"], unit([[1, 0]]), np.array([0]))
    with pytest.raises(ModelError, match="do not match"):
        PrototypeHead(["a"], unit([[1, 0]]), np.array([3]))
    with pytest.raises(ModelError, match="aggregate"):
        PrototypeHead(["a"], unit([[1, 0]]), np.array([0]), aggregate="mean")


SENTENCES = {"010204": ["小区门口的路灯坏了，晚上很黑"], "011301": ["家里突然停水了"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A member built from a tiny random encoder over a catalog of four leaves, statically quantized."""
    from dispatch_nlp.training.prototypes import calibration_texts, fit_prototype_member, leaf_passages, load_sentences
    from dispatch_nlp.training.tiny_encoder import make_tiny_encoder

    catalog = _sub_catalog({"010204", "011301", "011501", "060601"})
    tmp = tmp_path_factory.mktemp("proto")
    sentences_file = tmp / "sentences.yaml"
    sentences_file.write_text(json.dumps({"leaves": SENTENCES, "appeal": {"咨询": ["想问一下怎么办理"],
                                                                          "投诉": ["服务太差，要投诉"]}},
                                         ensure_ascii=False), encoding="utf-8")
    texts, _ = leaf_passages(catalog, load_sentences(sentences_file)[0])
    chars = texts + ["query: passage: 想问一下怎么办理服务太差要投诉楼上漏水停电了"]
    encoder = make_tiny_encoder(tmp / "enc", chars, layers=1, hidden=32)
    calib = calibration_texts(SENTENCES, ["楼上漏水", "停电了"], n=16)
    cwd, here = tmp / "cwd", os.getcwd()
    cwd.mkdir()
    os.chdir(cwd)  # ONNX Runtime's quantization tools drop scratch files into the working directory
    try:
        section = fit_prototype_member(encoder, catalog, tmp / "model", sentences_file=sentences_file,
                                       quantization="static", calibration_extra=calib, max_len=32, appeal=True)
    finally:
        os.chdir(here)
    return tmp / "model", section, catalog


def test_building_leaves_nothing_in_the_working_directory(built):
    assert list((built[0].parent / "cwd").iterdir()) == []


def _sub_catalog(keep):
    """The shipped catalog cut down to the leaves ``keep`` (and their parents)."""
    import yaml

    from .conftest import ROOT

    data = yaml.safe_load((ROOT / "catalog" / "beijing-12345.yaml").read_text("utf-8"))

    def prune(nodes):
        out = []
        for node in nodes:
            children = node.get("children")
            if children:
                kept = prune(children)
                if kept:
                    out.append({**node, "children": kept})
            elif node["code"] in keep:
                out.append(node)
        return out

    data["categories"] = prune(data["categories"])
    data.pop("previous_versions", None)
    return Catalog.from_dict(data)


def test_built_member_files_and_section(built):
    model_dir, section, catalog = built
    assert section["input"] == "statement"
    for key in ("onnx", "tokenizer", "prototypes", "meta"):
        assert (model_dir / section[key]).exists()
    meta = json.loads((model_dir / section["meta"]).read_text("utf-8"))
    leaves = [item.code for item in catalog.leaves()]
    assert meta["heads"]["leaf"]["classes"] == leaves
    # path+keywords, path+unit (when the leaf has a unit type) and the hand-written sentences
    assert meta["heads"]["leaf"]["prototypes"] >= len(leaves) + sum(len(v) for v in SENTENCES.values())
    assert meta["heads"]["appeal"]["classes"] == ["咨询", "投诉"]


def test_member_predicts_distributions_and_is_a_member(built):
    model_dir, section, catalog = built
    member = PrototypeMember.load(model_dir, section)
    assert isinstance(member, Member)
    texts = ["小区门口的路灯坏了，晚上很黑", "家里突然停水了", "想问一下怎么办理"]
    out = member.predict_proba(texts)
    assert set(out) == {"leaf", "appeal"}
    assert out["leaf"].shape == (3, len(list(catalog.leaves()))) and np.allclose(out["leaf"].sum(1), 1.0)
    assert out["appeal"].shape == (3, 2)
    assert member.predict_proba([], ["leaf"])["leaf"].shape == (0, len(list(catalog.leaves())))
    emb = member.embed(texts)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-3)


def test_an_orders_answer_does_not_depend_on_its_batch(built):
    """Static int8: fixed activation scales, so padding and neighbours change nothing."""
    model_dir, section, _ = built
    member = PrototypeMember.load(model_dir, section)
    text = "家里突然停水了"
    alone = member.predict_proba([text])["leaf"][0]
    mixed = member.predict_proba(["很长的一段话" * 5, text, "路灯"])["leaf"][1]
    assert np.allclose(alone, mixed, atol=1e-5)


def test_save_round_trip_and_classifier_stage_reads_statements(built, tmp_path):
    model_dir, section, catalog = built
    member = PrototypeMember.load(model_dir, section)
    member.save(tmp_path)
    again = PrototypeMember.load(tmp_path, section)
    texts = ["家里突然停水了"]
    assert np.allclose(member.predict_proba(texts)["leaf"], again.predict_proba(texts)["leaf"])
    stage = ClassifierStage.load(model_dir, {"prototype": section}, catalog)
    assert stage.inputs["prototype"] == "statement"
    assert stage.member_texts("prototype", ["全文", "全文2"], ["问题", None]) == ["问题", "全文2"]


def test_missing_files_are_a_model_error(built, tmp_path):
    _, section, _ = built
    with pytest.raises(ModelError, match="prototype member not loadable"):
        PrototypeMember.load(tmp_path, section)


def test_weight_only_int8_graph_is_close_to_fp32_and_batch_independent(built, tmp_path):
    """The default quantization: int8 weights, activations quantized row by row."""
    from dispatch_nlp.training.prototypes import _Runner, build_graph

    encoder = built[0].parent / "enc"
    int8 = build_graph(encoder, tmp_path / "w8.onnx", quantization="weight8", work=tmp_path / "w")
    fp32 = build_graph(encoder, tmp_path / "fp32.onnx", quantization="none", work=tmp_path / "f")
    assert int8.stat().st_size < 0.6 * fp32.stat().st_size
    texts = ["query: 家里突然停水了", "query: 小区门口的路灯坏了，晚上很黑" * 2, "query: 停电"]
    r8, r32 = _Runner(int8, encoder / "tokenizer.json", 32), _Runner(fp32, encoder / "tokenizer.json", 32)
    e8, e32 = r8.embed(texts), r32.embed(texts)
    assert np.all((e8 * e32).sum(1) > 0.98)
    alone = np.stack([r8.embed([t])[0] for t in texts])
    assert np.allclose(alone, e8, atol=1e-5)
