import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from dispatch_nlp.linear import LinearMember, char_ngrams
from training.linear import fit_linear

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
