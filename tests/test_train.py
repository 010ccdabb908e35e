"""Training, export, loading and evaluation end to end, with a tiny encoder (seconds, not hours)."""

import json
import random
import subprocess

import numpy as np
import pytest

from dispatch_nlp import Dispatcher
from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.catalog import Catalog

from .conftest import ROOT

torch = pytest.importorskip("torch")

PLACES = [("朝阳区", "望京街道"), ("海淀区", "学院路街道"), ("丰台区", "卢沟桥街道"), ("西城区", "金融街街道")]
OPENERS = ["市民来电反映：", "来电人称，", "网民留言：", "市民再次来电反映", ""]
CLOSERS = ["希望尽快处理。", "要求相关部门核实。", "请尽快解决。", ""]
APPEALS = ["投诉", "求助", "咨询"]


def make_table(path, n_per_leaf=24, seed=0):
    """A labeled CSV over six real catalog leaves, written from their keywords."""
    rng = random.Random(seed)
    catalog = Catalog.load()
    leaves = [leaf for leaf in catalog.leaves() if leaf.duty == "territorial"][:6]
    rows = []
    for leaf in leaves:
        for i in range(n_per_leaf):
            district, street = rng.choice(PLACES)
            kws = rng.sample(list(leaf.keywords), 2)
            text = f"{rng.choice(OPENERS)}{district}{street}某小区{kws[0]}，{kws[1]}。{rng.choice(CLOSERS)}"
            rows.append({"id": f"{leaf.code}-{i}", "text": text, "l1": leaf.path[0], "l2": leaf.path[1],
                         "l3": leaf.path[2], "appeal": APPEALS[i % 3], "district": district, "street": street,
                         "time": f"2026-{1 + i % 12:02d}-{1 + i % 27:02d}"})
    rng.shuffle(rows)
    header = list(rows[0])
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n")
        for r in rows:
            fh.write(",".join(r[h] for h in header) + "\n")
    return leaves


SPEC = ColumnSpec(text_col="text", id_col="id", time_col="time", category_cols=("l1", "l2", "l3"),
                  appeal_col="appeal", district_col="district", street_col="street")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dispatch_nlp.training.tiny_encoder import make_tiny_encoder
    from dispatch_nlp.training.train import TrainOptions, train

    tmp = tmp_path_factory.mktemp("train")
    table = tmp / "history.csv"
    leaves = make_table(table)
    texts = [line.split(",")[1] for line in table.read_text("utf-8").splitlines()[1:]]
    encoder = make_tiny_encoder(tmp / "enc", texts + ["<手机号>"], layers=2)
    opts = TrainOptions(output=tmp / "model", encoder=str(encoder), student_layers=1, epochs=1.0, batch_size=16,
                        max_len=64, progress=False, model_version="test-1")
    metrics = train(table, SPEC, opts)
    return tmp / "model", metrics, leaves, table


def test_model_directory_is_complete(trained):
    model_dir, metrics, _, _ = trained
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "linear.npz", "encoder.int8.onnx", "encoder.json", "tokenizer.json", "labels.json",
            "metrics.json", "MODEL_CARD.md", "checksums.json"} <= names
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    assert config["model_version"] == "test-1"
    assert set(config["classifier"]["weights"]) == {"linear", "encoder"}
    assert config["classifier"]["fusion"] == "stacked" and (model_dir / config["classifier"]["stacker"]).exists()
    assert config["route"]["rules_weight"] == 0.0  # the stacker reads the rules itself
    assert metrics["recipe"]["recipe"] == "cross-fitted" and metrics["recipe"]["folds"] >= 2
    assert metrics["data"]["split_method"].startswith("time")
    meta = json.loads((model_dir / "encoder.json").read_text("utf-8"))
    assert meta["layers"] == 1 and meta["distilled"] is True


def test_model_with_an_encoder_carries_a_fast_profile(trained):
    model_dir, metrics, leaves, _ = trained
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    assert config["default_profile"] == "fast"
    assert set(config["profiles"]["fast"]["classifier"]["weights"]) == {"linear"}
    assert set(metrics["profiles"]) == {"fast", "full"} and metrics["default_profile"] == "fast"
    assert metrics["test"]["category"]["accuracy"] == metrics["profiles"]["fast"]["test"]["category"]["accuracy"]
    fast, full = Dispatcher.load(model_dir), Dispatcher.load(model_dir, profile="full")
    members = {d.profile: set(next(s for s in d.stages if s.name == "classifier").members) for d in (fast, full)}
    assert members == {"fast": {"linear"}, "full": {"linear", "encoder"}}
    text = f"市民反映海淀区学院路街道某小区{leaves[0].keywords[0]}，{leaves[0].keywords[1]}"
    assert fast.dispatch(text).category.code == full.dispatch(text).category.code == leaves[0].code
    assert "## Profiles" in (model_dir / "MODEL_CARD.md").read_text("utf-8")


def test_onnx_matches_torch(trained):
    meta = json.loads((trained[0] / "encoder.json").read_text("utf-8"))
    assert meta["parity"]["fp32_max_abs_logit_diff"] < 1e-3
    assert meta["parity"]["int8_top1_agreement"] >= 0.8


def test_onnx_attention_is_fused_and_padding_safe(trained, tmp_path):
    """The exported graph has one fused attention op per layer (quantized in the shipped int8 file),
    and an order's logits do not depend on the longer orders it is padded with in a batch: exactly
    in fp32; in int8 up to dynamic quantization's per-batch activation scale."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from dispatch_nlp.training.encoder_train import _classifier_module, export_onnx, load_encoder, optimize_onnx

    from dispatch_nlp.components.members.encoder import EncoderMember

    model_dir = trained[0]
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    ops = [n.op_type for n in onnx.load(str(model_dir / config["classifier"]["encoder"]["onnx"])).graph.node]
    assert ops.count("QAttention") == 1 and "IsNaN" not in ops  # student_layers=1
    member = EncoderMember.load(model_dir, config["classifier"]["encoder"])
    short, long = "路灯不亮", "小区门口路灯不亮已经一周了，晚上出行很不方便，希望尽快维修" * 2
    alone = member.session.run(None, member.encode([short]))
    padded = member.session.run(None, member.encode([short, long]))
    for a, b in zip(alone, padded):
        assert np.abs(a[0] - b[0]).max() < 0.05 and a[0].argmax() == b[0].argmax()

    encoder, _ = load_encoder(trained[0].parent / "enc")
    module = _classifier_module(encoder, {"leaf": 3}).eval()
    trained_with = encoder.config._attn_implementation
    export_onnx(module, tmp_path / "raw.onnx")
    assert encoder.config._attn_implementation == trained_with  # exported eager, setting restored
    optimize_onnx(tmp_path / "raw.onnx", tmp_path / "opt.onnx", encoder.config)
    assert [n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node].count("Attention") == 2
    session = ort.InferenceSession(str(tmp_path / "opt.onnx"), providers=["CPUExecutionProvider"])
    member.session = session
    alone = session.run(None, member.encode([short]))[0]
    padded = session.run(None, member.encode([short, long]))[0]
    assert np.allclose(alone[0], padded[0], atol=1e-5)


def test_session_options_do_not_spin_unless_asked(monkeypatch):
    from dispatch_nlp.components.members.encoder import session_options
    from dispatch_nlp.dispatcher import ort_spin_from_env

    monkeypatch.setenv("DISPATCH_NLP_ORT_SPIN", "1")  # the library reads no variable: the edge passes it
    monkeypatch.setenv("DISPATCH_NLP_THREADS", "3")
    so = session_options(3)
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert so.intra_op_num_threads == 3
    assert session_options(1, spin=True).get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert ort_spin_from_env() is True
    monkeypatch.delenv("DISPATCH_NLP_ORT_SPIN")
    assert ort_spin_from_env() is False


def test_trained_model_loads_and_learns(trained):
    model_dir, metrics, leaves, _ = trained
    d = Dispatcher.load(model_dir)
    assert d.model_version == "test-1"
    dec = d.dispatch(f"市民反映海淀区学院路街道某小区{leaves[0].keywords[0]}，{leaves[0].keywords[1]}")
    assert "no_trained_model" not in dec.flags
    assert dec.category.code == leaves[0].code
    assert metrics["test"]["category"]["accuracy"] >= 0.8
    for head in ("category", "category_l1", "appeal_type", "district", "street"):
        rep = metrics["test"][head]
        assert {"accuracy", "macro_f1", "per_class", "confused_pairs"} <= set(rep), head
    assert "ece" in metrics["test"]["category"] and metrics["test"]["category"]["coverage_accuracy"]


def test_unknown_labels_are_listed(tmp_path):
    from dispatch_nlp.training.train import TrainOptions, train

    table = tmp_path / "t.csv"
    table.write_text("text,l1,l2,l3\n停水了,城乡建设,不存在的二级,不存在的三级\n没电了,城乡建设,另一个,也不存在\n",
                     encoding="utf-8")
    with pytest.raises(InputError, match="not in catalog.*不存在的二级.*--catalog-from-labels"):
        train(table, ColumnSpec(category_cols=("l1", "l2", "l3")), TrainOptions(output=tmp_path / "m", progress=False))


def test_evaluate_command_prints_metrics_per_head(trained, cli_path):
    model_dir, _, _, table = trained
    res = subprocess.run([cli_path, "evaluate", "--model", str(model_dir), "--data", str(table),
                          "--text-col", "text", "--category-cols", "l1,l2,l3", "--appeal-col", "appeal",
                          "--district-col", "district", "--street-col", "street", "--json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    for head in ("category", "appeal_type", "district", "street"):
        assert 0.0 <= report[head]["accuracy"] <= 1.0
        assert "macro_f1" in report[head] and "per_class" in report[head]
    assert report["category"]["coverage_accuracy"][0]["coverage"] == 1.0
    assert set(report["category"]["coverage_at_accuracy"]) == {"0.97", "0.98", "0.99"}
    assert np.isfinite(report["category"]["ece"])


def test_train_command_prints_the_test_summary(tmp_path, cli_path):
    table = tmp_path / "history.csv"
    make_table(table, n_per_leaf=10)
    res = subprocess.run([cli_path, "train", str(table), "-o", str(tmp_path / "m"), "--text-col", "text",
                          "--category-cols", "l1,l2,l3", "--appeal-col", "appeal", "--time-col", "time",
                          "--model-version", "cli-1", "--folds", "3", "--target-accuracy", "0.95", "-q"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["model_version"] == "cli-1" and out["routing"]["n"] == out["test"]["category"]["n"] > 0
    assert {"accuracy", "macro_f1", "ece", "accuracy_at_half_coverage", "coverage_at_accuracy"} <= set(out["test"]["category"])
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text("utf-8"))
    assert metrics["fusion"]["target_precision"] == 0.95 and metrics["recipe"]["folds"] == 2  # 60 orders: 2 folds
    assert metrics["fusion"]["n"] == metrics["data"]["train"] + metrics["data"]["dev"]  # every label held out once
    assert "cross-fitting" in (tmp_path / "m" / "MODEL_CARD.md").read_text("utf-8")
    assert "routing" not in out["test"] and Dispatcher.load(tmp_path / "m").profile == "full"  # no encoder: one


def test_catalog_from_labels_trains_a_seven_class_model(tmp_path):
    """Real evaluations bring their own labels (e.g. seven first-level classes): the labels define the catalog."""
    from dispatch_nlp.training.train import TrainOptions, train

    rng = random.Random(3)
    classes = {"城乡建设": ["违章建筑", "私搭乱建", "暖气不热"], "环境保护": ["油烟扰民", "噪音扰民", "污水直排"],
               "劳动和社会保障": ["拖欠工资", "社保补缴", "工伤认定"]}
    rows = ["text,label"]
    for label, words in classes.items():
        for i in range(40):
            rows.append(f"市民反映{rng.choice(['朝阳区', '海淀区', ''])}{rng.choice(words)}的问题{i},{label}")
    table = tmp_path / "seven.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    metrics = train(table, ColumnSpec(category_col="label"),
                    TrainOptions(output=tmp_path / "m", catalog_from_labels=True, progress=False))
    assert (tmp_path / "m" / "catalog.yaml").exists()
    d = Dispatcher.load(tmp_path / "m")
    assert [leaf.name for leaf in d.catalog.leaves()] == sorted(classes)
    assert d.dispatch("市民反映拖欠工资的问题").category.path == ["劳动和社会保障"]
    assert metrics["test"]["category"]["accuracy"] >= 0.9
    # The earlier recipe stays available: members on the train split, the weight grid on dev.
    legacy = train(table, ColumnSpec(category_col="label"),
                   TrainOptions(output=tmp_path / "old", catalog_from_labels=True, progress=False, folds=0,
                                fusion="weights"))
    config = json.loads((tmp_path / "old" / "config.json").read_text("utf-8"))
    assert config["classifier"]["fusion"] == "mean" and "stacker" not in config["classifier"]
    assert legacy["recipe"]["recipe"] == "dev split" and legacy["fusion"]["n"] == legacy["data"]["dev"]
    assert Dispatcher.load(tmp_path / "old").dispatch("市民反映拖欠工资的问题").category.path == ["劳动和社会保障"]
    with pytest.raises(InputError, match="--fusion"):
        train(table, ColumnSpec(category_col="label"), TrainOptions(output=tmp_path / "x", fusion="max", progress=False))


def test_auto_threshold_is_the_least_confidence_reaching_the_target():
    from dispatch_nlp.training.fusion import auto_threshold

    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 2000)
    correct = (rng.uniform(0, 1, 2000) < conf).astype(float)  # right as often as confident
    t = auto_threshold(conf, correct, 0.9)
    sent = conf >= t
    assert correct[sent].mean() >= 0.9
    lower = conf[conf < t].max()
    assert correct[conf >= lower].mean() < 0.9  # one step lower misses the target
    assert auto_threshold(conf, np.zeros_like(conf), 0.9) == 1.01  # never right: never automatic
    assert auto_threshold(np.array([0.99] * 5), np.ones(5), 0.9) == 1.01  # too few orders to trust


def test_calibration_keeps_a_small_confident_top_apart():
    """200 dev orders of 0.95–1.0 confidence all right, 800 below half right: the calibrated top must
    stay near 1 (a coarse grid merged it with its neighbours and no threshold reached 0.97)."""
    from dispatch_nlp.training.fusion import auto_threshold, calibration_points
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(1)
    top = np.r_[rng.uniform(0.95, 1.0, 200), rng.uniform(0.2, 0.95, 800)]
    correct = np.r_[np.ones(200), (rng.uniform(0, 1, 800) < 0.5).astype(float)]
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(top, correct)
    xs, ys = calibration_points(iso)
    assert np.all(np.diff(xs) >= 0) and np.all(np.diff(ys) >= 0) and xs[0] == 0.0 and xs[-1] == 1.0
    calibrated = np.interp(top, xs, ys)
    t = auto_threshold(calibrated, correct, 0.97)
    assert t <= 1.0
    assert 0.15 <= (calibrated >= t).mean() <= 0.25


def test_combine_mean_and_geometric():
    from dispatch_nlp.components.classifier import combine
    from dispatch_nlp.errors import ModelError

    strong = np.array([[0.6, 0.35, 0.05]])  # prefers class 0
    weak = np.array([[0.001, 0.4995, 0.4995]])  # rules out class 0, cannot tell 1 from 2
    w = {"strong": 0.8, "weak": 0.2}
    mean = combine({"strong": strong, "weak": weak}, w, "mean")
    geo = combine({"strong": strong, "weak": weak}, w, "geometric")
    assert np.allclose(mean, 0.8 * strong + 0.2 * weak)
    assert mean.argmax() == 0 and geo.argmax() == 1  # the weak member's veto counts only in the product
    assert np.allclose(geo.sum(axis=1), 1.0)
    assert np.allclose(combine({"strong": strong}, {"strong": 1.0}, "geometric"), strong)
    with pytest.raises(ModelError, match="fusion"):
        combine({"strong": strong}, w, "max")


def test_fit_fusion_chooses_the_rule_that_wins_on_dev():
    """Dev orders built so that the product of the members is right more often than their average:
    the fit must pick the geometric fusion and give the weak member a weight."""
    from dispatch_nlp.training.fusion import fit_fusion

    n = 300
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, n)
    strong = np.full((n, 3), 0.05)
    weak = np.full((n, 3), 0.02)
    for i, g in enumerate(gold):
        other = (g + 1 + i % 2) % 3
        strong[i, g], strong[i, other] = 0.45, 0.5  # its top is a confusion ...
        weak[i, g] = weak[i, 3 - g - other] = 0.49  # ... the weak member rules out
    strong /= strong.sum(1, keepdims=True)
    weak /= weak.sum(1, keepdims=True)
    fit = fit_fusion({"encoder": weak, "linear": strong}, np.zeros((n, 3)), gold, 0.9)
    assert fit["fusion"] == "geometric"
    assert 0 < fit["weights"]["encoder"] < 1
    assert fit["dev_accuracy"] == 1.0
    single = fit_fusion({"linear": strong}, np.zeros((n, 3)), gold, 0.9)
    assert single["fusion"] == "mean" and single["dev_accuracy"] == 0.0
