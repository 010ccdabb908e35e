import numpy as np
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
