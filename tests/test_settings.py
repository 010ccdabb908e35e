"""Named settings: config overrides change behaviour, unknown keys are errors; the data folder is
chosen at the edge (the CLI reads DISPATCH_NLP_DATA, the library does not)."""

import dataclasses
import json

import pytest

from dispatch_nlp import resources
from dispatch_nlp.cli.main import main
from dispatch_nlp.components.jurisdiction import (
    GazetteerJurisdiction,
    JurisdictionSettings,
    build_jurisdiction_stage,
)
from dispatch_nlp.errors import ModelError
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.routing.assign import PlacedJurisdiction
from dispatch_nlp.routing.router import RouteSettings
from dispatch_nlp.routing.units_learned import UnitModelSettings
from dispatch_nlp.types import DivisionRef, JurisdictionResult, WorkOrder

WANGJING = "110105026000"
TEXT = "市民反映：朝阳区望京街道某小区有人私搭乱建，占用消防通道。"


def run(stage, seg, text):
    doc = Doc.from_order(WorkOrder(text=text))
    doc.tokens = seg.tokenize(doc.text)
    return stage.evidence(doc)


def test_defaults_are_the_values_routing_always_used():
    s = RouteSettings()
    assert (s.auto_threshold, s.rules_weight, s.top_k, s.territorial_dispatch) == (0.6, 0.35, 5, "street")
    assert s.appeal_cue_confidence(0) == 0.4 and s.appeal_cue_confidence(1) == 0.4 + 0.15
    assert s.appeal_cue_confidence(10) == 0.9 and s.appeal_default_confidence == 0.3
    j = JurisdictionSettings()
    assert (j.min_confidence, j.role_weight("caller"), j.role_weight("company"), j.role_weight("negated")) == \
        (0.3, 0.3, 0.4, 0.0)
    assert UnitModelSettings() == UnitModelSettings(override_min=0.7, min_support=5.0, history_only_factor=0.5,
                                                    backoff=3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.auto_threshold = 0.1  # type: ignore[misc]


def test_a_jurisdiction_setting_in_the_config_changes_the_answer(gaz, seg):
    default = run(GazetteerJurisdiction(gaz), seg, TEXT)
    assert default.code == WANGJING and default.confidence >= 0.9
    lowered = run(build_jurisdiction_stage(gaz, None, {"levels_agree_confidence": 0.5}), seg, TEXT)
    assert lowered.code == WANGJING and lowered.confidence == pytest.approx(default.confidence * 0.5 / 0.95, abs=1e-3)
    strict = run(build_jurisdiction_stage(gaz, None, {"min_confidence": 0.99}), seg, TEXT)
    assert strict.code is None and strict.abstained


def test_the_model_config_jurisdiction_section_is_read_whole():
    config = json.loads((resources.default_model_dir() / "config.json").read_text(encoding="utf-8"))
    section = config["jurisdiction"]
    # Every key is a setting except the text member's file section, which the stage takes off first.
    s = JurisdictionSettings.from_dict({k: v for k, v in section.items() if k != "text_member"})
    assert s.gaz_district == section["weights"]["gaz_district"] and s.abstain_below == section["abstain_below"]
    assert s.mode == section["mode"]


def test_route_settings_from_catalog_and_config():
    s = RouteSettings.from_dict({"territorial_dispatch": "district_subcentre", "keywords_required": False,
                                 "appeal_cue_cap": 0.5, "calibration_x": [0, 1], "calibration_y": [0.2, 0.8]})
    assert s.territorial_dispatch == "district_subcentre" and s.appeal_cue_confidence(3) == 0.5
    assert s.calibrate(0.5) == pytest.approx(0.5) and s.calibration_y == (0.2, 0.8)


@pytest.mark.parametrize("build, data, key", [
    (RouteSettings.from_dict, {"auto_treshold": 0.5}, "auto_treshold"),
    (JurisdictionSettings.from_dict, {"abstain_bellow": 0.5}, "abstain_bellow"),
    (JurisdictionSettings.from_dict, {"weights": {"gaz_distrct": 1.0}}, "gaz_distrct"),
    (UnitModelSettings.from_dict, {"file": "u.json", "overide_min": 0.9}, "overide_min"),
])
def test_an_unknown_key_is_an_error_naming_it(build, data, key):
    with pytest.raises(ModelError, match=key):
        build(data)


def test_bad_values_are_errors():
    with pytest.raises(ModelError, match="territorial_dispatch"):
        RouteSettings.from_dict({"territorial_dispatch": "city"})
    with pytest.raises(ModelError, match="mode"):
        JurisdictionSettings.from_dict({"mode": "both"})
    with pytest.raises(ModelError, match="max_candidates"):
        JurisdictionSettings.from_dict({"max_candidates": 2.5})


def test_the_place_unit_is_declared_and_stays_out_of_the_json():
    placed = PlacedJurisdiction(DivisionRef("110115000000", "大兴区"), method="gazetteer", confidence=0.9,
                                unit_override="district_subcentre@bda")
    plain = JurisdictionResult(DivisionRef("110115000000", "大兴区"), method="gazetteer", confidence=0.9)
    assert placed == plain and plain == placed and placed.unit_override == "district_subcentre@bda"
    assert "unit_override" not in dataclasses.asdict(placed) and placed != dataclasses.replace(plain, confidence=0.5)


def test_the_library_does_not_read_the_environment_the_cli_does(tmp_path, monkeypatch, capsys):
    (tmp_path / "catalog").mkdir()
    shipped = resources.data_root()
    assert resources.data_root(tmp_path) == tmp_path and resources.catalog_dir(tmp_path) == tmp_path / "catalog"
    monkeypatch.setenv(resources.DATA_ENV, str(tmp_path))
    assert resources.data_root() == shipped  # the library ignores the variable
    try:
        assert main(["info"]) == 3  # the CLI reads it: the model is looked for under tmp_path
        assert str(tmp_path / "models" / "default") in capsys.readouterr().err
        assert resources.data_root() == tmp_path
    finally:
        resources.use_data_root(None)
    assert resources.data_root() == shipped


def test_onnx_threads_are_read_at_the_edge_only(monkeypatch):
    import os

    from dispatch_nlp.cli.main import main as cli_main
    from dispatch_nlp.components.members.encoder import session_options
    from dispatch_nlp.dispatcher import ort_threads_from_env
    from dispatch_nlp.errors import InputError

    monkeypatch.setenv("DISPATCH_NLP_THREADS", "1")
    assert ort_threads_from_env() == 1
    default = min(os.cpu_count() or 1, 4)
    assert session_options().intra_op_num_threads == default  # the library ignores the environment
    assert session_options(3).intra_op_num_threads == 3
    monkeypatch.setenv("DISPATCH_NLP_THREADS", "0")
    assert ort_threads_from_env() is None
    monkeypatch.setenv("DISPATCH_NLP_THREADS", "two")
    with pytest.raises(InputError, match="DISPATCH_NLP_THREADS"):
        ort_threads_from_env()
    assert cli_main(["dispatch", "朝阳区望京街道某小区停水"]) == 2
