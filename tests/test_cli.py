import json
import subprocess

from .conftest import ROOT


def run(cli_path, *args, input=None):
    return subprocess.run([cli_path, *args], capture_output=True, text=True, input=input, timeout=120, cwd=ROOT)


def test_help_for_every_command(cli_path):
    out = run(cli_path, "--help")
    assert out.returncode == 0 and "dispatch" in out.stdout
    for cmd in ("dispatch", "info", "catalog"):
        res = run(cli_path, cmd, "--help")
        assert res.returncode == 0, cmd
        assert "usage" in res.stdout


def test_dispatch_text_prints_a_decision(cli_path):
    res = run(cli_path, "dispatch", "海淀区学院路街道某小区暖气不热，室温只有十五度")
    assert res.returncode == 0, res.stderr
    dec = json.loads(res.stdout)
    assert dec["jurisdiction"]["district"]["name"] == "海淀区"
    assert dec["model_version"] == json.loads((ROOT / "models" / "default" / "config.json").read_text())["model_version"]


def test_dispatch_jsonl_one_decision_per_line_in_order(cli_path, tmp_path):
    src = tmp_path / "orders.jsonl"
    lines = [
        {"id": "a", "text": "朝阳区望京街道停水了"},
        {"id": "b", "text": ""},
        "not json at all {",
        {"id": "d", "title": "无正文"},
        {"id": "e", "text": "丰台区路灯坏了", "channel": "微信服务号"},
    ]
    src.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = run(cli_path, "dispatch", "--input", str(src), "-o", str(out))
    assert res.returncode == 1  # two unreadable lines
    decs = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [d["order_id"] for d in decs] == ["a", "b", None, "d", "e"]
    assert decs[2]["flags"] == ["bad_input"] and decs[3]["flags"] == ["bad_input"]
    assert "not json" not in out.read_text("utf-8")
    assert "empty_text" in decs[1]["flags"]


def test_unreadable_input_is_a_clear_error(cli_path, tmp_path):
    res = run(cli_path, "dispatch", "--input", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(json.dumps({"id": "1", "text": "朝阳区停水"}, ensure_ascii=False).encode("gbk") + b"\n")
    res = run(cli_path, "dispatch", "--input", str(gbk))
    assert res.returncode == 2 and "gb18030" in res.stderr and "Traceback" not in res.stderr
    res = run(cli_path, "dispatch", "--input", str(gbk), "--encoding", "gb18030")
    assert res.returncode == 0 and json.loads(res.stdout)["order_id"] == "1"
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\x00\x01\x02binary\n")
    res = run(cli_path, "dispatch", "--input", str(binary))
    assert res.returncode == 2 and "binary" in res.stderr


def test_bad_model_directory_exit_code(cli_path, tmp_path):
    res = run(cli_path, "dispatch", "--model", str(tmp_path), "停水")
    assert res.returncode == 3 and "config.json" in res.stderr and "Traceback" not in res.stderr


def test_usage_error_exit_code(cli_path):
    res = run(cli_path, "dispatch")
    assert res.returncode == 2 and "either" in res.stderr


def test_catalog_validate_checks_the_tables_too(cli_path, tmp_path):
    for name in ("gazetteer-beijing.tsv", "units-beijing.tsv", "places-beijing.tsv"):
        res = run(cli_path, "catalog", "validate", str(ROOT / "catalog" / name))
        assert res.returncode == 0 and "OK" in res.stdout, name
    bad = tmp_path / "gazetteer.tsv"
    bad.write_text((ROOT / "catalog" / "gazetteer-beijing.tsv").read_text("utf-8")
                   + "110199001000\t假街道\tstreet\t110105000000\t\t\n110105999000\t\tstreet\t110105000000\t\t\n",
                   encoding="utf-8")
    res = run(cli_path, "catalog", "validate", str(bad))
    assert res.returncode == 1
    assert "does not nest" in res.stdout and "empty name" in res.stdout  # every problem, in one run


def test_profile_flag(cli_path, tmp_path):
    """The shipped model carries fast (its default) and full; an unknown profile is exit 3, no traceback."""
    info = json.loads(run(cli_path, "info").stdout)
    assert info["profile"] == "fast" and sorted(info["profiles"]) == ["fast", "full"]
    assert "classifier" in info["stages"]
    res = run(cli_path, "dispatch", "--profile", "full", "海淀区学院路街道某小区暖气不热，室温只有十五度")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["jurisdiction"]["district"]["name"] == "海淀区"
    res = run(cli_path, "dispatch", "--profile", "turbo", "海淀区学院路街道某小区暖气不热")
    assert res.returncode == 3 and "no profile 'turbo'" in res.stderr and "Traceback" not in res.stderr
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "朝阳区望京街道停水了"}, ensure_ascii=False) + "\n", encoding="utf-8")
    res = run(cli_path, "batch", str(src), "-o", str(tmp_path / "out.jsonl"), "--profile", "turbo", "-q")
    assert res.returncode == 3 and "no profile 'turbo'" in res.stderr
