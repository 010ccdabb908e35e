"""``dispatch-nlp calibrate`` end to end on a copy of the shipped model: it writes a model that loads."""

import json
import shutil
import subprocess

import pytest

from .conftest import ROOT

# (category path, responsible unit, what people write): 4 leaves × 10 orders.
KINDS = [("城乡建设/住房保障与房地产/住房公积金", "city_gjj", "想问一下公积金提取要带什么材料"),
         ("城乡建设/城市建设和市政管理/路面塌陷", "street_office@110105026", "朝阳区望京街道小区门口路面塌了个坑"),
         ("城乡建设/城市建设和市政管理/路灯照明", "district_cgw@110105", "朝阳区望京街道这条路的路灯好几天不亮"),
         ("城乡建设/城乡规划/违章建筑", "street_office@110105026", "朝阳区望京街道楼顶有人私搭乱建盖房子")]
ENDINGS = ["", "，请尽快处理", "，希望有人管管", "。谢谢", "，已经很久了", "，麻烦了", "，着急", "。", "，盼复", "，请核实"]


def run(cli_path, *args):
    return subprocess.run([cli_path, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "orders.jsonl"
    rows = [{"id": f"o{k}-{i}", "text": text + end, "category": cat, "unit_id": unit, "split": "dev"}
            for k, (cat, unit, text) in enumerate(KINDS) for i, end in enumerate(ENDINGS)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


COLUMNS = ("--category-col", "category", "--path-sep", "/", "--unit-col", "unit_id", "--split", "dev")


def test_calibrate_writes_every_profile_and_the_model_still_loads(cli_path, table, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "default", model)
    res = run(cli_path, "calibrate", "-m", str(model), "--data", str(table), *COLUMNS, "--target", "0.85")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["written"] and report["orders"] == 40 and set(report["profiles"]) == {"full", "fast"}
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert config["calibration"]["orders"] == 40 and config["calibration"]["split"] == "dev"
    assert config["route"]["dispatch_on"] == "unit" and config["profiles"]["fast"]["route"]["dispatch_on"] == "unit"
    assert config["profiles"]["fast"]["route"]["auto_threshold"] == report["profiles"]["fast"]["auto_threshold"]
    assert "## Calibration" in (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    dec = run(cli_path, "dispatch", "-m", str(model), "朝阳区望京街道小区门口路面塌了个坑")
    assert dec.returncode == 0, dec.stderr  # checksums rewritten: the calibrated model verifies
    assert "承办单位概率" in "".join(json.loads(dec.stdout)["explanation"])


def test_calibrate_refuses_too_few_orders_and_a_bad_target(cli_path, table, tmp_path):
    few = tmp_path / "few.jsonl"
    few.write_text("".join(table.read_text(encoding="utf-8").splitlines(keepends=True)[:5]), encoding="utf-8")
    res = run(cli_path, "calibrate", "--data", str(few), *COLUMNS, "--dry-run")
    assert res.returncode == 2 and "at least 30" in res.stderr
    res = run(cli_path, "calibrate", "--data", str(table), *COLUMNS, "--target", "1.5", "--dry-run")
    assert res.returncode == 2 and "--target" in res.stderr
