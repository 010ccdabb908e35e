"""Retraining from corrections, the registry, promotion (refused for a worse model) and rollback."""

import json
import random

import pytest

from dispatch_nlp.cli.main import main
from dispatch_nlp.dispatcher import write_checksums
from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.lifecycle.corrections import Correction, open_store
from dispatch_nlp.lifecycle.registry import EVALUATION_FILE, Registry, compare

from .conftest import ROOT


def config_model(path, version):
    """A model directory without trained members (rules + gazetteer): loads in about a second."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({
        "format_version": 1, "model_version": version,
        "resources": {"catalog": "catalog:beijing-12345.yaml", "gazetteer": "catalog:gazetteer-beijing.tsv",
                      "places": "catalog:places-beijing.tsv", "units": "catalog:units-beijing.tsv"},
        "normalize": {"cut_trails": False, "max_chars": 5000}, "route": {"auto_threshold": 0.6}}), encoding="utf-8")
    write_checksums(path)
    return path


PLACES = [("朝阳区", "望京街道"), ("海淀区", "学院路街道"), ("丰台区", "卢沟桥街道")]


def write_history(path, n_per_leaf=20, seed=0):
    rng = random.Random(seed)
    leaves = [leaf for leaf in Catalog.load().leaves() if leaf.duty == "territorial"][:5]
    lines = ["id,text,l1,l2,l3,appeal,district,street"]
    for leaf in leaves:
        for i in range(n_per_leaf):
            d, s = rng.choice(PLACES)
            kws = rng.sample(list(leaf.keywords), 2)
            lines.append(f"{leaf.code}-{i},市民反映{d}{s}某小区{kws[0]}，{kws[1]}。,{','.join(leaf.path)},"
                         f"{['投诉', '求助', '咨询'][i % 3]},{d},{s}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return leaves


def fake_challenger(path, version, champion_version, champion_acc, challenger_acc):
    config_model(path, version)
    ev = {"champion": {"model_version": champion_version}, "challenger": {"model_version": version},
          "evaluation": {"champion": {"frozen_eval": {"category": {"n": 100, "accuracy": champion_acc},
                                                      "unit": {"n": 100, "accuracy": 0.8}}},
                         "challenger": {"frozen_eval": {"category": {"n": 100, "accuracy": challenger_acc},
                                                        "unit": {"n": 100, "accuracy": 0.8}}}}}
    (path / EVALUATION_FILE).write_text(json.dumps(ev), encoding="utf-8")
    write_checksums(path)
    return path


def test_compare_flags_heads_beyond_tolerance():
    a = {"frozen_eval": {"category": {"accuracy": 0.90}, "unit": {"accuracy": 0.80}}}
    b = {"frozen_eval": {"category": {"accuracy": 0.895}, "unit": {"accuracy": 0.70}}}
    result = compare(a, b, tolerance=0.01)
    assert not result["ok"] and len(result["regressions"]) == 1 and "unit" in result["regressions"][0]
    assert compare(a, b, tolerance=0.2)["ok"]


def test_registry_promote_refuse_force_and_rollback(tmp_path, capsys):
    reg_dir = tmp_path / "reg"
    first = config_model(tmp_path / "m1", "m1")
    assert main(["promote", str(first), "--registry", str(reg_dir)]) == 0  # an empty registry takes the first model
    reg = Registry(reg_dir)
    assert reg.current() == "m1"
    capsys.readouterr()

    worse = fake_challenger(tmp_path / "m2", "m2", "m1", 0.90, 0.85)
    assert main(["promote", str(worse), "--registry", str(reg_dir), "--tolerance", "0.01"]) == 1
    assert "regressed" in capsys.readouterr().err
    assert reg.current() == "m1"  # refused: nothing changed
    assert main(["promote", str(worse), "--registry", str(reg_dir), "--tolerance", "0.1"]) == 0
    assert reg.current() == "m2"

    stale = fake_challenger(tmp_path / "m3", "m3", "m1", 0.90, 0.95)  # compared with m1, but m2 serves now
    assert main(["promote", str(stale), "--registry", str(reg_dir)]) == 1
    assert "retrain against the current model" in capsys.readouterr().err
    better = fake_challenger(tmp_path / "m4", "m4", "m2", 0.85, 0.93)
    assert main(["promote", str(better), "--registry", str(reg_dir)]) == 0
    assert reg.current() == "m4" and set(reg.versions()) >= {"m1", "m2", "m4"}

    assert main(["rollback", "--registry", str(reg_dir)]) == 0
    assert reg.current() == "m2"
    assert main(["rollback", "--registry", str(reg_dir)]) == 0
    assert reg.current() == "m1"
    assert main(["rollback", "--registry", str(reg_dir)]) == 2  # nothing before the first model
    assert reg.current() == "m1"
    assert not [p for p in reg_dir.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()
    assert main(["registry", str(reg_dir)]) == 0
    assert [e["action"] for e in json.loads(capsys.readouterr().out)["history"]][-2:] == ["rollback", "rollback"]
    with pytest.raises(InputError):
        Registry(tmp_path / "nowhere", create=False)


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    from dispatch_nlp.training.retrain import RetrainOptions, retrain

    from dispatch_nlp.batch.tables import ColumnSpec

    tmp = tmp_path_factory.mktemp("retrain")
    history = tmp / "history.csv"
    leaves = write_history(history)
    champion = config_model(tmp / "champion", "rules-0")
    store = open_store(tmp / "corrections.db")
    moved, target = leaves[0], leaves[1]
    # Operators say: orders of the first leaf were mis-labelled; the later correction of an order wins.
    for i in range(20):
        store.add(Correction.from_dict({"order_id": f"{moved.code}-{i}", "operator": "op", "kind": "改派",
                                        "category_code": leaves[2].code, "corrected_at": "2026-03-01T00:00:00+00:00",
                                        "catalog_version": "2026.11"}))
        store.add(Correction.from_dict({"order_id": f"{moved.code}-{i}", "operator": "op2", "kind": "改派",
                                        "category_code": target.code, "appeal_type": "投诉",
                                        "corrected_at": "2026-03-02T00:00:00+00:00", "catalog_version": "2026.11"}))
    store.add(Correction.from_dict({"order_id": "NEW-1", "operator": "op", "category_code": target.code,
                                    "text": "市民反映朝阳区望京街道新问题，电话13812345678", "catalog_version": "2026.11"}))
    store.add(Correction.from_dict({"order_id": "GONE", "operator": "op", "unit": "utility_water"}))
    spec = ColumnSpec(text_col="text", id_col="id", category_cols=("l1", "l2", "l3"), appeal_col="appeal",
                      district_col="district", street_col="street")
    opts = RetrainOptions(model=champion, output=tmp / "challenger", corrections=str(tmp / "corrections.db"),
                          progress=False, model_version="retrained-1", eval_ratio=0.15, holdout=0.25)
    report = retrain(history, spec, opts)
    return tmp, report, leaves


def test_retrain_merges_latest_corrections_and_reports(retrained):
    tmp, report, leaves = retrained
    data = report["data"]
    assert data["corrections_orders"] == 22 and data["corrections_unmatched"] == 1
    assert data["corrections_new_orders"] == 1 and data["corrections_applied"] == 21
    rows = [json.loads(x) for x in (tmp / "challenger.retrain" / "train.jsonl").read_text("utf-8").splitlines()]
    moved = [r for r in rows if r["id"].startswith(leaves[0].code + "-")]
    assert moved and all(r["category_path"] == list(leaves[1].path) for r in moved)  # the latest won
    assert all(r["appeal_type"] == "投诉" for r in moved)
    assert not [r for r in rows if r["id"] in {"GONE"}]
    held = (tmp / "challenger.retrain" / "corrections_holdout.jsonl").read_text("utf-8").splitlines()
    assert data["corrections_holdout_rows"] == len(held) > 0
    assert not {json.loads(x)["id"] for x in held} & {r["id"] for r in rows}  # held out means held out
    assert "linear member refitted" in report["fine_tune"]
    ev = json.loads((tmp / "challenger" / EVALUATION_FILE).read_text("utf-8"))
    assert set(ev["evaluation"]["challenger"]) == {"frozen_eval", "corrections"}
    assert ev["champion"]["model_version"] == "rules-0" and ev["challenger"]["model_version"] == "retrained-1"
    heads = {(r["set"], r["head"]) for r in ev["comparison"]["heads"]}
    assert ("frozen_eval", "category") in heads and ("corrections", "category") in heads
    corr = {r["head"]: r for r in ev["comparison"]["heads"] if r["set"] == "corrections"}
    assert corr["category"]["challenger"] >= corr["category"]["champion"]  # it learned the corrections


def test_retrained_challenger_promotes_and_rolls_back(retrained, capsys):
    tmp, report, _ = retrained
    reg = tmp / "registry"
    assert main(["promote", str(tmp / "champion"), "--registry", str(reg)]) == 0
    capsys.readouterr()
    code = main(["promote", str(tmp / "challenger"), "--registry", str(reg), "--tolerance", "0.05"])
    out = json.loads(capsys.readouterr().out)
    assert code == (0 if out["comparison"]["ok"] else 1)
    if code == 0:
        assert Registry(reg).current() == "retrained-1"
        assert main(["rollback", "--registry", str(reg)]) == 0
    assert Registry(reg).current() == "rules-0"


def test_retrain_command_needs_an_id_column(tmp_path, capsys):
    history = tmp_path / "h.csv"
    write_history(history, n_per_leaf=2)
    champion = config_model(tmp_path / "c", "c0")
    code = main(["retrain", "--history", str(history), "-m", str(champion), "-o", str(tmp_path / "x"),
                 "--category-cols", "l1,l2,l3", "-q"])
    assert code == 2 and "--id-col" in capsys.readouterr().err
    code = main(["retrain", "--history", str(history), "-m", str(champion), "-o", str(tmp_path / "x"),
                 "--id-col", "id", "--category-cols", "l1,l2,l3", "--corrections", str(tmp_path / "none.db"), "-q"])
    assert code == 2 and "no such corrections database" in capsys.readouterr().err


def test_catalog_revision_between_corrections_and_challenger(tmp_path):
    """Corrections recorded under catalog 1.0 reach a 2.0 challenger through the migration map."""
    from collections import Counter

    from dispatch_nlp.training.retrain import _apply_corrections

    v2 = Catalog.load(ROOT / "tests" / "fixtures" / "catalog_v2.yaml")
    records = {"A": {"id": "A", "text": "t", "code": "010102", "corrected": False},
               "B": {"id": "B", "text": "t", "code": "010102", "corrected": False}}
    latest = {"A": Correction.from_dict({"order_id": "A", "operator": "o", "category_code": "010101",
                                         "catalog_version": "1.0"}),
              "B": Correction.from_dict({"order_id": "B", "operator": "o", "category_code": "010103",
                                         "catalog_version": "1.0"})}
    counts = Counter()
    _apply_corrections(records, latest, v2, counts)
    assert records["A"]["code"] == "010301"  # 冬季采暖 moved to 供热 > 暖气不热
    assert records["B"]["code"] == "010102" and counts["corrections_category_removed"] == 1
