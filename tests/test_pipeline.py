"""The declared pipeline: config-listed components, disable=, pipe(), batch_size checks, the typed Doc,
the Member protocol, and training preparing text exactly as inference does."""

import json
import shutil

import pytest
import scipy.sparse as sp

from dispatch_nlp import Dispatcher, InputError, ModelError, WorkOrder
from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.components.members import Member
from dispatch_nlp.dispatcher import read_config, verify_checksums, write_checksums
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.pipeline.registry import DEFAULT_COMPONENTS, component_names, registered_components
from dispatch_nlp.resources import default_model_dir

from .conftest import ROOT

TEXT = "市民来电反映：朝阳区望京街道某小区有人私搭乱建，占用消防通道，希望相关部门尽快核实处理。"
TRAIL = "工单流转：退回：非我单位职责，建议转热力集团。经核实，已处理。"


def test_component_names_default_to_the_list_old_models_ran():
    assert component_names({}) == list(DEFAULT_COMPONENTS)
    assert component_names({"classifier": {"linear": "linear.npz"}}) == [*DEFAULT_COMPONENTS, "classifier"]
    assert component_names({"components": ["normalize", "rules"]}) == ["normalize", "rules"]
    with pytest.raises(ModelError, match="unknown pipeline component 'spellcheck'"):
        component_names({"components": ["normalize", "spellcheck"]})
    assert {"normalize", "mask", "segment", "rules", "jurisdiction", "classifier"} <= set(registered_components())


def test_shipped_model_declares_its_components_and_verifies():
    config = read_config(default_model_dir())
    assert config["components"] == ["normalize", "mask", "segment", "rules", "jurisdiction", "statement", "classifier"]
    verify_checksums(default_model_dir())


def test_disable_leaves_components_out_and_rejects_unknown_names(dispatcher):
    rules_only = Dispatcher.load(disable=["classifier"])
    assert [s.name for s in rules_only.stages] == list(DEFAULT_COMPONENTS)
    assert "classifier" not in rules_only.dispatch(TEXT).timings_ms
    with pytest.raises(InputError, match="unknown component.*'clasifier'"):
        Dispatcher.load(disable=["clasifier"])
    swapped = dispatcher.with_components([s for s in dispatcher.stages if s.name != "classifier"])
    assert [s.name for s in swapped.stages] == list(DEFAULT_COMPONENTS)
    assert [s.name for s in dispatcher.stages][-1] == "classifier"  # the original is untouched
    assert swapped.dispatch(TEXT).to_dict().keys() == rules_only.dispatch(TEXT).to_dict().keys()


def test_config_components_list_is_what_runs(tmp_path):
    mdir = tmp_path / "m"
    shutil.copytree(ROOT / "models" / "default", mdir)
    config = json.loads((mdir / "config.json").read_text("utf-8"))
    config["components"] = ["normalize", "mask", "segment", "rules", "jurisdiction"]
    (mdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_checksums(mdir)
    assert [s.name for s in Dispatcher.load(mdir).stages] == list(DEFAULT_COMPONENTS)


def test_pipe_is_lazy_and_in_input_order(dispatcher):
    orders = [WorkOrder(id=str(i), text=f"{TEXT}第{i}次") for i in range(7)]
    read = []

    def source():
        for o in orders:
            read.append(o.id)
            yield o

    stream = dispatcher.pipe(source(), batch_size=3)
    first = next(stream)
    assert len(read) == 3  # one batch read, not the whole input
    rest = list(stream)
    expected = dispatcher.dispatch_batch(orders, batch_size=3)
    strip = lambda d: {k: v for k, v in d.to_dict().items() if k != "timings_ms"}  # noqa: E731
    assert [strip(d) for d in [first, *rest]] == [strip(d) for d in expected]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None, "8"])
def test_batch_size_must_be_a_positive_int(dispatcher, bad):
    with pytest.raises(InputError, match="batch_size"):
        dispatcher.dispatch_batch([TEXT, TEXT], batch_size=bad)
    with pytest.raises(InputError, match="batch_size"):
        list(dispatcher.pipe([TEXT], batch_size=bad))


def test_doc_has_typed_evidence_and_the_old_view_still_reads_it(dispatcher):
    doc = Doc.from_order(WorkOrder(text=TEXT))
    for stage in dispatcher.stages:
        doc = stage(doc)
    assert doc.rules is not None and doc.jurisdiction is not None and doc.classifier is not None
    assert doc.evidence["rules"] is doc.rules and set(doc.evidence) == {"rules", "jurisdiction", "classifier"}
    with pytest.raises(KeyError):
        doc.evidence["other"] = 1


def test_both_members_satisfy_the_member_protocol(tmp_path):
    full = Dispatcher.load(profile="full")
    members = next(s for s in full.stages if s.name == "classifier").members
    assert set(members) == {"linear", "prototype"}
    for name, member in members.items():
        assert isinstance(member, Member), name
        probs = member.predict_proba([TEXT], ["leaf"])["leaf"]
        assert probs.shape == (1, len(member.classes("leaf")))
    members["linear"].save(tmp_path / "linear.npz")
    members["prototype"].save(tmp_path)
    config = read_config(default_model_dir())
    again = type(members["prototype"]).load(tmp_path, config["classifier"]["prototype"])
    assert again.classes("leaf") == members["prototype"].classes("leaf")
    assert type(members["linear"]).load(tmp_path, "linear.npz").classes("leaf") == members["linear"].classes("leaf")


class _Recording:
    """A member wrapper that records the texts the classifier stage gives it."""

    def __init__(self, member):
        self.member, self.heads, self.texts = member, member.heads, []

    def classes(self, head):
        return self.member.classes(head)

    def predict_proba(self, texts, heads=None):
        self.texts.extend(texts)
        return self.member.predict_proba(texts, heads)


def test_training_prepares_exactly_the_text_inference_reads(tmp_path):
    from dispatch_nlp.training.data import load_examples
    from dispatch_nlp.training.train import PREPROCESS_CONFIG

    rows = [
        {"id": "long", "text": "朝阳区望京街道某小区暖气不热。" * 400, "category": "x"},  # 6,000 characters
        {"id": "pii", "text": "我叫张三，电话13812345678，身份证110105199001011234，小区路灯坏了。", "category": "x"},
        {"id": "trad", "text": "市民反映：朝陽區望京街道某小區暖氣不熱，請盡快處理。", "title": "暖氣問題", "category": "x"},
        {"id": "trail", "text": "市民反映朝阳区某小区暖气不热，希望尽快处理。" + TRAIL, "category": "x"},
        {"id": "plain", "text": TEXT, "category": "x"},
    ]
    table = tmp_path / "orders.jsonl"
    table.write_text("".join(json.dumps({"title": "", **r}, ensure_ascii=False) + "\n" for r in rows),
                     encoding="utf-8")
    d = Dispatcher.load(cut_trails=True)  # history, as training reads it: handling trails cut
    for key, section in PREPROCESS_CONFIG.items():  # what train writes into config.json is what is shipped
        assert d.config[key] == section
    spec = ColumnSpec(text_col="text", title_col="title", id_col="id", category_col="category")
    examples, report = load_examples(table, spec, d.catalog, d.gazetteer, dev_ratio=0.0, test_ratio=0.0,
                                     drop_near_duplicates=False, config={**d.config, **PREPROCESS_CONFIG})
    assert [e.id for e in examples] == [r["id"] for r in rows] and report.trails_cut == 1
    stage = next(s for s in d.stages if s.name == "classifier")
    linear = stage.members["linear"]
    stage.members["linear"] = rec = _Recording(linear)
    try:
        d.dispatch_batch([WorkOrder(id=r["id"], text=r["text"], title=r.get("title")) for r in rows])
    finally:
        stage.members["linear"] = linear
    train_texts = [e.text for e in examples]
    assert train_texts == rec.texts
    assert len(train_texts[0]) == 5000 and "<手机号>" in train_texts[1] and "朝阳区" in train_texts[2]
    assert "工单流转" not in train_texts[3]
    assert (linear.features(train_texts) != linear.features(rec.texts)).nnz == 0
    assert isinstance(linear.features(train_texts), sp.csr_matrix)


def test_classifier_members_come_from_the_registry_and_unknown_ones_are_refused(tmp_path):
    import pytest

    from dispatch_nlp.components.classifier import ClassifierStage, member_class, member_input
    from dispatch_nlp.components.members.linear import LinearMember
    from dispatch_nlp.errors import ModelError

    assert member_class("linear") is LinearMember
    with pytest.raises(ModelError, match="unknown classifier member"):
        member_class("bayes")
    assert member_input("linear.npz") == "text"
    assert member_input({"file": "x", "input": "statement"}) == "statement"
    with pytest.raises(ModelError, match="unknown member input"):
        member_input({"input": "title"})
    with pytest.raises(ModelError, match="names no member"):
        ClassifierStage.load(tmp_path, {"weights": {}}, catalog=None)


def test_a_statement_member_reads_the_statement_where_there_is_one():
    from dispatch_nlp.components.classifier import ClassifierStage

    stage = ClassifierStage({}, {}, catalog=None, inputs={"a": "statement", "b": "text"})
    stage.inputs = {"a": "statement", "b": "text"}
    texts, statements = ["全文一", "全文二"], ["问题一", None]
    assert stage.member_texts("a", texts, statements) == ["问题一", "全文二"]
    assert stage.member_texts("b", texts, statements) == texts
    assert stage.member_texts("a", texts, None) == texts
