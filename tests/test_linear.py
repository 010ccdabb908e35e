import numpy as np
import pytest
from dispatch_nlp.training.linear import fit_linear
from sklearn.feature_extraction.text import TfidfVectorizer

from dispatch_nlp.components.members.linear import LinearMember, char_ngrams

TRAIN = [
    ("小区暖气不热，室温只有十五度", "供暖", "投诉"),
    ("家里暖气片不热，供暖温度不达标", "供暖", "投诉"),
    ("暖气一直不热，孩子冻感冒了", "供暖", "求助"),
    ("楼下烧烤店油烟太大，呛得睡不着", "油烟", "投诉"),
    ("饭店排油烟管道对着我家窗户", "油烟", "举报"),
    ("餐馆油烟扰民，窗户不敢开", "油烟", "投诉"),
    ("咨询一下社保断缴了怎么补缴", "社保", "咨询"),
    ("想了解社保缴费基数怎么调整", "社保", "咨询"),
    ("请问灵活就业人员社保怎么交", "社保", "咨询"),
]


def data():
    texts = [t for t, _, _ in TRAIN]
    return texts, {"leaf": [c for _, c, _ in TRAIN], "appeal": [a for _, _, a in TRAIN]}


def test_runtime_features_equal_scikit_learn():
    texts, _ = data()
    vec = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, dtype=np.float32)
    expected = vec.fit_transform(texts).toarray()
    member = LinearMember({g: int(i) for g, i in vec.vocabulary_.items()}, vec.idf_, {})
    got = member.features(texts + ["完全没见过的字"]).toarray()
    np.testing.assert_allclose(got[: len(texts)], expected, atol=1e-5)
    assert got[-1].sum() == 0 or np.isclose(np.linalg.norm(got[-1]), 1.0)


def test_fit_predict_save_load(tmp_path):
    texts, labels = data()
    member = fit_linear(texts, labels, texts, labels, min_df=1)
    probs = member.probs(["暖气不热，太冷了", "烧烤油烟太呛"])
    leaf = member.classes("leaf")
    assert [leaf[i] for i in probs["leaf"].argmax(1)] == ["供暖", "油烟"]
    np.testing.assert_allclose(probs["leaf"].sum(1), 1.0, rtol=1e-5)
    member.save(tmp_path / "linear.npz")
    again = LinearMember.load(tmp_path / "linear.npz")
    np.testing.assert_allclose(again.probs(texts)["appeal"], member.probs(texts)["appeal"], atol=1e-3)
    assert again.classes("appeal") == member.classes("appeal")


def test_placeholders_and_digits_are_compact():
    assert "☎" in char_ngrams("电话<手机号>")
    assert "<手" not in char_ngrams("电话<手机号>")
    assert char_ngrams("3号楼", (1, 1)) == ["0", "号", "楼"]


class _CountingMember:
    """A member whose heads come from one pass, like the encoder; counts the passes."""

    heads = {"leaf": {}, "appeal": {}}

    def __init__(self, leaf_classes):
        self.leaf_classes = leaf_classes
        self.passes = 0

    def classes(self, head):
        return self.leaf_classes if head == "leaf" else ["咨询", "投诉"]

    def predict_proba(self, texts, heads=None):
        self.passes += 1
        n = len(texts)
        out = {"leaf": np.tile([0.7] + [0.3 / (len(self.leaf_classes) - 1)] * (len(self.leaf_classes) - 1), (n, 1)),
               "appeal": np.tile([0.2, 0.8], (n, 1))}
        return {h: out[h] for h in (heads or out)}


def test_classifier_runs_each_member_once_per_batch_for_all_heads():
    from dispatch_nlp.components.classifier import ClassifierStage
    from dispatch_nlp.knowledge.catalog import Catalog
    from dispatch_nlp.pipeline import Doc
    from dispatch_nlp.types import WorkOrder

    catalog = Catalog.load()
    leaves = [item.code for item in catalog.leaves()][:3]
    member = _CountingMember(leaves)
    stage = ClassifierStage({"encoder": member}, {"encoder": 1.0}, catalog)
    docs = [Doc.from_order(WorkOrder(id=str(i), text=f"第{i}条工单")) for i in range(5)]
    out = list(stage.pipe(docs, batch_size=8))
    assert member.passes == 1
    ev = out[0].classifier
    assert max(ev.leaf_probs, key=ev.leaf_probs.get) == leaves[0]
    assert max(ev.appeal_probs, key=ev.appeal_probs.get) == "投诉"


# -- fields: the title, the problem statement and the words in their own namespaces -----------------

LETTERS = [
    ("暖气不热\n尊敬的领导:我家住了十年了。今年小区暖气一直不热,室温只有十五度。希望尽快解决。", "供暖"),
    ("油烟扰民\n尊敬的领导:我家住了十年了。楼下烧烤店油烟太大,窗户不敢开。希望有关部门查处。", "油烟"),
    ("社保补缴\n尊敬的领导:我家住了十年了。社保断缴了两个月想补缴,请问怎么办理?", "社保"),
]


def test_analyzer_namespaces_fields_and_rejects_unknown_ones():
    from dispatch_nlp.components.members.linear import Analyzer
    from dispatch_nlp.components.statement import OrderFields, problem_statement
    from dispatch_nlp.errors import ModelError

    text = LETTERS[0][0]
    plain = Analyzer().grams(text)
    assert plain == char_ngrams(text)
    full = Analyzer(("text", "title", "statement", "words")).grams(text)
    assert full[: len(plain)] == plain
    extra = full[len(plain):]
    assert "§t暖气" in extra and "§s不热" in extra and any(g.startswith("§w") for g in extra)
    assert "§s尊敬" not in extra  # the greeting is not part of the statement
    # the statement stage's statement, when given, is what the statement field reads
    given = Analyzer(("text", "statement")).grams(OrderFields(text, "油烟太大"))
    assert "§s油烟" in given and "§s不热" not in given
    computed = Analyzer(("text", "statement")).grams(OrderFields(text, None))
    assert computed == Analyzer(("text", "statement")).grams(OrderFields(text, problem_statement(text)))
    for bad in (("statement",), ("text", "body")):
        with pytest.raises(ModelError):
            Analyzer(bad)


def test_fields_member_saves_its_analyzer_and_loads_from_a_config_section(tmp_path):
    texts = [t for t, _ in LETTERS]
    labels = {"leaf": [c for _, c in LETTERS], "appeal": ["投诉", "投诉", "咨询"]}
    member = fit_linear(texts, labels, texts, labels, min_df=1, fields=("text", "title", "statement"), C=(0.1, 1.0),
                        cv_heads=())
    assert member.heads["leaf"]["C"] == 0.1  # no cross-validated head: the first candidate
    member.save(tmp_path / "linear.npz")
    again = LinearMember.load(tmp_path, {"file": "linear.npz", "input": "fields"})
    assert again.analyzer == member.analyzer
    np.testing.assert_allclose(again.probs(texts)["leaf"], member.probs(texts)["leaf"], atol=1e-3)
    # a text-only member writes no analyzer entry (older readers load it) and reads the text alone
    plain = fit_linear(texts, labels, texts, labels, min_df=1)
    plain.save(tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz") as z:
        assert "analyzer" not in z.files
    assert LinearMember.load(tmp_path / "plain.npz").analyzer.fields == ("text",)


def test_select_c_prefers_the_candidate_that_generalises():
    from dispatch_nlp.training.linear import select_c

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    x = rng.normal(size=(120, 40)) * 0.5
    x[:, 0] += np.where(y == 1, 1.0, -1.0)  # one informative feature, 39 of noise
    import scipy.sparse as sp

    chosen = select_c(sp.csr_matrix(x), y, [0.01, 100.0], folds=3)
    assert chosen == 0.01
    assert select_c(sp.csr_matrix(x), y, [0.7]) == 0.7


def test_classifier_passes_fields_to_a_fields_member():
    from dispatch_nlp.components.classifier import ClassifierStage
    from dispatch_nlp.components.statement import OrderFields
    from dispatch_nlp.knowledge.catalog import Catalog

    catalog = Catalog.load()
    stage = ClassifierStage({"linear": _CountingMember([c.code for c in catalog.leaves()][:3])}, {}, catalog,
                            inputs={"linear": "fields"})
    got = stage.member_texts("linear", ["全文一", "全文二"], ["问题一", None])
    assert got == [OrderFields("全文一", "问题一"), OrderFields("全文二", None)]
    assert stage.member_texts("linear", ["全文"], None) == [OrderFields("全文", None)]


def test_scores_of_several_heads_equal_each_heads_own_product_whatever_the_order():
    texts, labels = data()
    member = fit_linear(texts, labels, texts, labels, min_df=1)
    queries = ["暖气不热，太冷了", "烧烤油烟太呛", "社保怎么补缴"]
    x = member.features(queries)
    alone = {h: np.asarray((x @ member.heads[h]["coef"]).todense()) + member.heads[h]["intercept"]
             for h in member.heads}
    for heads in (["leaf", "appeal"], ["appeal", "leaf"], ["appeal"]):
        got = member.scores(queries, heads)
        assert list(got) == heads
        for h in heads:
            np.testing.assert_array_equal(got[h], alone[h])
    # a head whose coefficients are replaced (a refit) is scored with its new ones
    member.heads["leaf"]["coef"] = member.heads["leaf"]["coef"] * 2.0
    np.testing.assert_allclose(member.scores(queries, ["leaf", "appeal"])["leaf"] - member.heads["leaf"]["intercept"],
                               2 * (alone["leaf"] - member.heads["leaf"]["intercept"]), rtol=1e-6)
