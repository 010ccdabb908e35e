"""``dispatch-nlp bench`` / ``python -m benchmarks``: the harness's figures and the report it writes.

The end-to-end runs use the smallest profile (a 300-order corpus, a few calls per variant) so the
whole file stays within seconds; they check what is written, not how fast anything is.
"""

import json
from dataclasses import replace

import numpy as np
import pytest
from dispatch_nlp.benchmarks import harness, report

from dispatch_nlp.cli.main import main as cli_main

BENCH_KEYS = {"profile", "started", "command", "machine", "skipped", "timings_s", "corpus", "model", "latency",
              "latency_ratios", "batch", "accuracy", "memory", "model_size", "training", "other_benchmarks",
              "seconds"}


# -- figures --------------------------------------------------------------------------------------
def test_percentiles_and_summary_are_numpy_linear_percentiles():
    values = list(range(1, 101))
    assert harness.pct(values, 50) == 50.5
    assert harness.pct(values, 95) == 95.05
    assert harness.pct(values, 99) == 99.01
    s = harness.summary([4.0, 1.0, 3.0, 2.0])
    assert s == {"n": 4, "p50": 2.5, "p95": 3.85, "p99": 3.97, "mean": 2.5}
    assert harness.summary([]) == {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None}


def test_reliability_bins_a_known_input():
    correct = np.array([1, 0, 1, 1, 0], dtype=float)
    conf = np.array([0.05, 0.15, 0.95, 1.0, 0.55])
    bins = harness.reliability(correct, conf, bins=10)
    assert len(bins) == 10 and [b["lo"] for b in bins] == [round(0.1 * i, 2) for i in range(10)]
    assert bins[0] == {"lo": 0.0, "hi": 0.1, "n": 1, "confidence": 0.05, "accuracy": 1.0}
    assert bins[1]["n"] == 1 and bins[1]["accuracy"] == 0.0
    assert bins[5] == {"lo": 0.5, "hi": 0.6, "n": 1, "confidence": 0.55, "accuracy": 0.0}
    assert bins[9] == {"lo": 0.9, "hi": 1.0, "n": 2, "confidence": 0.975, "accuracy": 1.0}  # 1.0 is in the last bin
    assert all(b["n"] == 0 and b["accuracy"] is None for i, b in enumerate(bins) if i not in (0, 1, 5, 9))
    assert sum(b["n"] for b in bins) == len(conf)


def test_mention_type_takes_the_finest_problem_place():
    assert harness.mention_type({"place_spans": []}) == "none"
    assert harness.mention_type({"place_spans": [{"role": "caller", "kind": "compound"}]}) == "caller_only"
    spans = [{"role": "problem", "kind": "district"}, {"role": "problem", "kind": "road"},
             {"role": "caller", "kind": "compound"}]
    assert harness.mention_type({"place_spans": spans}) == "road"


def test_latency_ratios_divide_p50s_within_the_run():
    def node(e2e, enc):
        return {"lengths": {"300": {"end_to_end_ms": {"p50": e2e}, "members_ms": {"encoder": {"p50": enc}}}}}

    lat = {"torch_full": node(120.0, 100.0), "onnx_int8_student": node(30.0, 10.0), "onnx_fp32_full": node(60.0, 40.0)}
    r = harness.latency_ratios(lat)
    assert r["int8_student_vs_torch_eager_full"]["300"] == {"encoder_speedup": 10.0, "e2e_speedup": 4.0}
    assert r["fp32_full_vs_torch_eager_full"]["300"] == {"encoder_speedup": 2.5, "e2e_speedup": 2.0}
    assert "int8_full_vs_torch_eager_full" not in r  # not measured: no ratio, not a zero


class _FakeDispatcher:
    def __init__(self, order: list, key: str):
        self.order, self.key = order, key

    def dispatch(self, text):
        self.order.append(self.key)
        return type("Decision", (), {"timings_ms": {"rules": 0.1, "total": 0.2}})()


def test_latency_rounds_budget_and_torch_group():
    order: list = []
    variants = [harness.Variant(k, k, _FakeDispatcher(order, k), group=g)
                for k, g in (("rules", "main"), ("torch_full", "torch"), ("pipeline", "main"))]
    prof = replace(harness.PROFILES["smoke"], reps=6, warmup=0, min_reps=2, variant_budget_s=0.0,
                   settle_s=0.0)
    lat = harness.measure_latency(variants, {50: ["一二三"]}, prof)
    # budget 0: every variant stops at min_reps; torch variants have their own round, after the others
    assert {k: v["lengths"]["50"]["end_to_end_ms"]["n"] for k, v in lat.items()} == {
        "rules": 2, "torch_full": 2, "pipeline": 2}
    assert order == ["rules", "pipeline", "rules", "pipeline", "torch_full", "torch_full"]
    assert lat["rules"]["lengths"]["50"]["stages_ms"]["rules"]["p50"] == 0.1
    assert "total" not in lat["rules"]["lengths"]["50"]["stages_ms"]
    prof = replace(prof, variant_budget_s=3600.0)
    lat = harness.measure_latency(variants, {50: ["一二三"]}, prof)
    assert all(v["lengths"]["50"]["end_to_end_ms"]["n"] == 6 for v in lat.values())


def test_texts_of_length_are_exactly_that_long():
    records = [{"text": "市民反映停水。", "split": "test"}, {"text": "路灯不亮\n请处理", "split": "test"},
               {"text": "训练集", "split": "train"}]
    for n in (5, 50, 1000):
        texts = harness.texts_of_length(records, n, 3)
        assert len(texts) == 3 and all(len(t) == n for t in texts)
        assert all("训练集" not in t and "\n" not in t for t in texts)


# -- the report -----------------------------------------------------------------------------------
def _minimal_result(**extra):
    result = {"profile": {"name": "quick", "reps": 2, "warmup": 1}, "started": "2026-01-01 00:00:00 UTC",
              "command": "dispatch-nlp bench --quick", "seconds": 1.0,
              "machine": {"cpu_count": 2, "usable_cores": 2, "cpu_model": "Test CPU", "cpu_flags": ["avx2"],
                          "libraries": {"numpy": "2.0", "torch": None}, "load_average_start": [0.1, 0.2, 0.3],
                          "load_average_end": [0.2, 0.2, 0.3]},
              "skipped": {"encoders": "torch is not installed (pip install -e '.[train]')"},
              "model": {"model_version": "lin-x", "members": ["linear"]},
              "latency": {k: {"label": k, "note": "", "lengths": {"50": {
                  "end_to_end_ms": {"n": 2, "p50": 1.0, "p95": 2.0, "p99": 3.0, "mean": 1.5},
                  "stages_ms": {"rules": {"n": 2, "p50": 0.1, "p95": 0.1, "p99": 0.1, "mean": 0.1}},
                  "members_ms": {}, "member_calls_per_order": {}}}} for k in ("rules", "linear", "pipeline")}}
    result.update(extra)
    return result


def test_report_marks_every_variant_not_measured_with_its_reason(tmp_path):
    result = _minimal_result()
    assert set(report.skipped_variants(result)) == set(report.ENCODER_VARIANTS)
    path = report.write_report(result, tmp_path, plots=False)
    text = path.read_text("utf-8")
    skipped = text.split("## Skipped and stand-ins", 1)[1]
    for key in report.ENCODER_VARIANTS:
        assert f"variant `{key}`" in skipped
    assert skipped.count("torch is not installed") == len(report.ENCODER_VARIANTS)
    assert "has no encoder member" in skipped
    assert "plots: not drawn (--no-plots)" in skipped and result["skipped"]["plots"]
    assert not (tmp_path / "plots").exists()


def test_report_says_when_the_machine_was_busy(tmp_path):
    result = _minimal_result()
    result["machine"]["load_average_start"] = [3.5, 2.0, 1.0]
    text = report.write_report(result, tmp_path, plots=False).read_text("utf-8")
    assert "The machine was busy" in text
    quiet = report.write_report(_minimal_result(), tmp_path, plots=False).read_text("utf-8")
    assert "The machine was busy" not in quiet


def test_report_can_be_rewritten_from_bench_json(tmp_path):
    src = tmp_path / "bench.json"
    src.write_text(json.dumps(_minimal_result()), encoding="utf-8")
    assert report.main([str(src), "-o", str(tmp_path / "out"), "--no-plots"]) == 0
    assert (tmp_path / "out" / "REPORT.md").read_text("utf-8").startswith("# dispatch_nlp benchmark report")


# -- end to end -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``dispatch-nlp bench --profile smoke`` on the shipped model, through the real CLI."""
    out = tmp_path_factory.mktemp("bench")
    rc = cli_main(["bench", "--profile", "smoke", "-o", str(out), "--encoder", "", "--cache", str(out / "cache")])
    assert rc == 0
    return out, json.loads((out / "results" / "bench.json").read_text("utf-8"))


def test_smoke_run_writes_the_report_and_every_figure(smoke):
    out, result = smoke
    assert BENCH_KEYS <= set(result)
    assert result["command"] == "dispatch-nlp bench --profile smoke"
    m = result["machine"]
    assert m["usable_cores"] >= 1 and m["libraries"]["numpy"] and len(m["load_average_end"]) == 3
    lat = result["latency"]
    assert {"rules", "pipeline"} <= set(lat)
    e2e = lat["pipeline"]["lengths"]["50"]["end_to_end_ms"]
    assert e2e["n"] == harness.PROFILES["smoke"].reps and e2e["p50"] <= e2e["p95"] <= e2e["p99"]
    assert "classifier" not in lat["rules"]["lengths"]["50"]["stages_ms"]
    assert {r["batch_size"] for r in result["batch"]["runs"]} == set(harness.PROFILES["smoke"].batch_sizes)
    acc = result["accuracy"]
    assert acc["test_orders"] > 0 and acc["heads"]["category"]["n"] == acc["test_orders"]
    assert len(acc["reliability"]["category"]) == 10 and acc["jurisdiction_by_mention"]
    assert result["memory"]["peak_rss_mib"] > 0 and result["memory"]["load_s"] > 0
    assert result["model_size"]["total_mib"] > 0 and "config.json" in result["model_size"]["files_bytes"]
    assert result["training"]["linear"]["seconds_per_1000"] > 0
    assert set(result["other_benchmarks"]) == set(harness.OTHER_RESULTS)
    assert result["skipped"]["encoders"] == "not measured in this profile"

    text = (out / "REPORT.md").read_text("utf-8")
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[0] == "## Machine"  # the machine first, before any figure
    for section in ("## Headline", "## Latency of one order", "## Batch throughput", "## Accuracy per head",
                    "### Jurisdiction by mention type", "## Memory, model size, load time",
                    "## Training time per 1,000 orders", "## The other benchmarks", "## Skipped and stand-ins"):
        assert section in text, section
    assert m["cpu_model"] in text and "profile **smoke**" in text
    assert "variant `torch_full`" in text  # not measured in smoke, and said so
    # The shipped model's full-profile pipeline is timed next to the default one, each of its members
    # in place (the prototype member of the shipped model; an encoder member is also timed on its own).
    from dispatch_nlp import Dispatcher

    full = next(s for s in Dispatcher.load(profile="full").stages if s.name == "classifier").members
    assert lat["pipeline_full"]["lengths"]["50"]["members_ms"].keys() == set(full) == {"linear", "prototype"}
    assert "encoder" not in full and "onnx_int8_student" not in lat  # no student shipped, none timed
    assert result["accuracy_full_profile"]["heads"]["category"]["n"] == acc["test_orders"]


def test_smoke_run_draws_the_plots(smoke):
    pytest.importorskip("matplotlib")
    out, _ = smoke
    for name in ("coverage_accuracy", "reliability", "latency", "throughput"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"(plots/{name}.png)" in (out / "REPORT.md").read_text("utf-8")


def test_bench_without_the_benchmarks_is_a_usage_error_naming_the_extra(tmp_path, monkeypatch, capsys):
    from dispatch_nlp.cli import bench as cli_bench

    monkeypatch.setattr(cli_bench, "HARNESS", "dispatch_nlp.benchmarks.no_such_module")
    assert cli_main(["bench", "--quick", "-o", str(tmp_path / "out")]) == 2
    assert "dispatch-nlp[train,bench]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- a model with an encoder member, and the encoder variants --------------------------------------
@pytest.fixture(scope="module")
def encoder_model(tmp_path_factory):
    """A tiny trained model with linear and encoder members, and the tiny encoder it came from."""
    pytest.importorskip("torch")
    from dispatch_nlp.training.tiny_encoder import make_tiny_encoder
    from dispatch_nlp.training.train import TrainOptions, train

    from .test_train import SPEC, make_table

    tmp = tmp_path_factory.mktemp("bench-enc")
    table = tmp / "history.csv"
    make_table(table, n_per_leaf=12)
    texts = [line.split(",")[1] for line in table.read_text("utf-8").splitlines()[1:]]
    encoder = make_tiny_encoder(tmp / "enc", texts + ["<手机号>"], layers=2, hidden=16)
    opts = TrainOptions(output=tmp / "model", encoder=str(encoder), student_layers=1, epochs=1.0, batch_size=16,
                        max_len=32, progress=False, model_version="bench-enc-1")
    train(table, SPEC, opts)
    return tmp / "model", encoder


def test_harness_measures_the_shipped_encoder_and_the_encoder_variants(encoder_model, tmp_path, monkeypatch):
    model_dir, encoder = encoder_model
    tiny = replace(harness.PROFILES["smoke"], name="test", reps=2, encoders=True, train_orders=100)
    monkeypatch.setitem(harness.PROFILES, "test", tiny)
    result = harness.run("test", tmp_path, model_dir, encoder, tmp_path / "cache", plots=False)
    lat = result["latency"]
    assert set(lat) == {"rules", "linear", "torch_full", "onnx_fp32_full", "onnx_int8_full", "torch_student",
                        "onnx_int8_student", "pipeline", "pipeline_full"}
    assert "shipped" in lat["onnx_int8_student"]["label"]  # the model's own member, not a stand-in
    assert {k for k, v in lat.items() if v["group"] == "torch"} == {"torch_full", "torch_student"}
    # Dispatcher.load() runs the fast profile (linear + rules); the full profile adds the encoder.
    assert lat["pipeline"]["lengths"]["50"]["members_ms"].keys() == {"linear"}
    assert lat["pipeline_full"]["lengths"]["50"]["members_ms"].keys() == {"linear", "encoder"}
    assert result["model"]["profile"] == "fast" and result["model"]["profiles"] == ["full", "fast"]
    assert result["accuracy_full_profile"]["heads"]["category"]["n"] == result["accuracy"]["heads"]["category"]["n"]
    assert result["model"]["members"] == ["encoder", "linear"] and result["model"]["encoder_layers"] == 2
    assert "encoders" not in result["skipped"] and not report.skipped_variants(result)
    assert result["training"]["student"]["layers"] == 1  # read from the model's encoder.json
    text = (tmp_path / "REPORT.md").read_text("utf-8")
    assert "variant `" not in text.split("## Skipped and stand-ins", 1)[1]
    assert "has no encoder member" not in text
