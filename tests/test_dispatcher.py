import json
import shutil

import jsonschema
import pytest

from dispatch_nlp import Dispatcher, ModelError, WorkOrder
from dispatch_nlp.dispatcher import write_checksums

from .conftest import ROOT

SCHEMA = json.loads((ROOT / "dispatch_nlp" / "schema" / "decision.schema.json").read_text("utf-8"))


def rules_only_dir(tmp_path):
    """The default model directory without its trained members: rules and gazetteer only."""
    mdir = tmp_path / "rules-only"
    mdir.mkdir()
    config = json.loads((ROOT / "models" / "default" / "config.json").read_text("utf-8"))
    for key in ("classifier", "jurisdiction", "units", "profiles", "default_profile"):
        config.pop(key, None)
    config["components"] = [c for c in config["components"] if c != "classifier"]
    config["model_version"] = None
    (mdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_checksums(mdir)  # a directory without checksums.json is refused unless trust=True
    return mdir


def test_without_a_trained_model_the_decision_says_so(tmp_path):
    d = Dispatcher.load(rules_only_dir(tmp_path))
    dec = d.dispatch("市民来电反映：朝阳区望京街道某小区有人私搭乱建，占用消防通道，希望相关部门尽快核实处理。")
    jsonschema.validate(dec.to_dict(), SCHEMA)
    assert dec.model_version is None and "no_trained_model" in dec.flags
    assert dec.category.path[-1] == "违章建筑"
    assert [s.name for s in d.stages] == ["normalize", "mask", "segment", "rules", "jurisdiction"]


def test_default_model_dispatches(dispatcher):
    dec = dispatcher.dispatch("市民来电反映：朝阳区望京街道某小区有人私搭乱建，占用消防通道，希望相关部门尽快核实处理。")
    jsonschema.validate(dec.to_dict(), SCHEMA)
    assert dec.model_version is not None and "no_trained_model" not in dec.flags
    assert "classifier" in dec.timings_ms
    assert dec.catalog_version == dispatcher.catalog.version
    assert dec.jurisdiction.district.name == "朝阳区"
    assert dec.jurisdiction.street.name == "望京街道"
    assert dec.jurisdiction.evidence.text in ("望京街道", "朝阳区")
    assert dec.category.code is not None and dec.response_level.deadline_hours is not None
    assert dec.timings_ms["total"] > 0


def test_empty_order_goes_to_review_without_an_exception(dispatcher):
    for text in ("", "   \n\t ", "\u200b\u3000"):
        dec = dispatcher.dispatch(text)
        assert dec.route == "review" and "empty_text" in dec.flags
        jsonschema.validate(dec.to_dict(), SCHEMA)


def test_non_text_order_is_a_type_error(dispatcher):
    with pytest.raises(TypeError, match="bytes"):
        dispatcher.dispatch(b"\xe5\x81\x9c\xe6\xb0\xb4")
    with pytest.raises(TypeError):
        dispatcher.dispatch_batch(["停水", 3])


def test_long_order_is_truncated_and_flagged(dispatcher):
    dec = dispatcher.dispatch("小区停水。" * 5000)
    assert "truncated" in dec.flags


def test_personal_data_never_reaches_the_decision(dispatcher):
    dec = dispatcher.dispatch("我叫王建国，电话13812345678，身份证11010519491231002X，海淀区学院路街道停水三天了")
    js = dec.to_json()
    for secret in ("13812345678", "11010519491231002X", "王建国"):
        assert secret not in js
    assert "pii_masked" in dec.flags


def test_emergency_is_transferred(dispatcher):
    dec = dispatcher.dispatch("快来人，我们楼道里着火了，浓烟很大，在丰台区卢沟桥街道")
    assert dec.route == "emergency_transfer" and dec.transfer_to == "119"
    assert dec.response_level.level == "2h"


def test_batch_keeps_input_order_and_ids(dispatcher):
    orders = [WorkOrder(id=f"o{i}", text=t) for i, t in enumerate(["停水", "", "朝阳区路灯不亮", "噪音扰民"])]
    decs = dispatcher.dispatch_batch(orders, batch_size=3)
    assert [d.order_id for d in decs] == ["o0", "o1", "o2", "o3"]
    assert decs[1].route == "review"


def test_evidence_span_points_into_the_title_or_text(dispatcher):
    dec = dispatcher.dispatch(WorkOrder(text="楼下烧烤店油烟太大，晚上也很吵", title="海淀区学院路街道油烟扰民"))
    ev = dec.jurisdiction.evidence
    assert ev.field == "title" and "海淀区学院路街道油烟扰民"[ev.start:ev.end] == ev.text


def test_corrupt_model_file_is_named(tmp_path):
    mdir = tmp_path / "m"
    shutil.copytree(ROOT / "models" / "default", mdir)
    write_checksums(mdir)
    Dispatcher.load(mdir)  # verifies
    (mdir / "config.json").write_text((mdir / "config.json").read_text("utf-8") + " ", encoding="utf-8")
    with pytest.raises(ModelError, match="config.json: checksum mismatch"):
        Dispatcher.load(mdir)


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Dispatcher.load(tmp_path / "nope")
    with pytest.raises(ModelError, match="no config.json"):
        Dispatcher.load(tmp_path)


def model_with_profiles(tmp_path):
    """The default model with a third profile, ``strict``, that never routes automatically, as default."""
    mdir = tmp_path / "profiles"
    shutil.copytree(ROOT / "models" / "default", mdir)
    config = json.loads((mdir / "config.json").read_text("utf-8"))
    config["profiles"]["strict"] = {"classifier": {"linear": "linear.npz", "weights": {"linear": 1.0},
                                                   "fusion": "geometric"},
                                    "route": {"auto_threshold": 1.01}}
    config["default_profile"] = "strict"
    (mdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_checksums(mdir)
    return mdir, config


def test_profiles_pick_members_and_routing(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPATCH_NLP_PROFILE", raising=False)
    mdir, config = model_with_profiles(tmp_path)
    strict = Dispatcher.load(mdir)
    assert strict.profile == "strict"
    assert strict.router.settings.auto_threshold == 1.01
    assert next(s for s in strict.stages if s.name == "classifier").fusion == "geometric"
    assert strict.info()["profiles"] == ["full", "fast", "strict"] and strict.info()["profile"] == "strict"
    full = Dispatcher.load(mdir, profile="full")
    assert full.profile == "full" and full.router.settings.auto_threshold == config["route"]["auto_threshold"]
    assert full.router.settings.rules_weight == strict.router.settings.rules_weight  # not overridden: kept
    fast = Dispatcher.load(mdir, profile="fast")
    assert fast.router.settings.auto_threshold == config["profiles"]["fast"]["route"]["auto_threshold"]
    text = "来电人表示，喇叭沟门孩子去香港读书证件快到期了曾向物业反映未果。请街道核查解决同时明确答复该找哪个部门弄。"
    assert fast.dispatch(text).route == "dispatch"  # confident enough for the fast profile ...
    assert strict.dispatch(text).route == "review"  # ... never for strict
    # The environment picks the profile at the edge (every command's --profile default), not in the library.
    monkeypatch.setenv("DISPATCH_NLP_PROFILE", "full")
    assert Dispatcher.load(mdir).profile == "strict"
    from dispatch_nlp.cli.main import build_parser

    assert build_parser().parse_args(["info", "-m", str(mdir)]).profile == "full"
    with pytest.raises(ModelError, match="no profile 'turbo'.*full, fast, strict"):
        Dispatcher.load(mdir, profile="turbo")
    monkeypatch.delenv("DISPATCH_NLP_PROFILE")
    assert build_parser().parse_args(["info"]).profile is None
    shipped = Dispatcher.load()  # fast by default; full adds the prototype member (and the statement it reads)
    assert shipped.profile == "fast" and shipped.info()["profiles"] == ["full", "fast"]
    assert set(next(s for s in shipped.stages if s.name == "classifier").members) == {"linear"}
    assert "statement" not in [s.name for s in shipped.stages]  # no fast member reads it
    full_stages = Dispatcher.load(profile="full").stages
    members = next(s for s in full_stages if s.name == "classifier").members
    assert set(members) == {"linear", "prototype"} and "statement" in [s.name for s in full_stages]
