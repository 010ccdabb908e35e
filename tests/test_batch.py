"""Batch reclassification on one machine: formats and encodings in and out, bad rows, order and ids,
resume after a crash (injected and a real SIGKILL), worker processes, the change report."""

import json
import os
import subprocess
import sys

import pytest

from dispatch_nlp.batch import BatchOptions, column_names, run_batch, work_dir
from dispatch_nlp.batch.rows import plain
from dispatch_nlp.batch.run import _InjectedFailure
from dispatch_nlp.batch.tables import ColumnSpec, read_rows
from dispatch_nlp.errors import InputError

ORDERS = [
    ("A-1", "市民反映：朝阳区望京街道某小区连续三天停水，希望尽快恢复供水。", "城乡建设 > 供水 > 停水"),
    ("A-2", "来电人反映：海淀区学院路街道某小区暖气不热，要求相关部门解决。", "011701"),
    ("A-3", "市民反映：丰台区某路口发生车祸有人受伤", "012502"),  # an old code the migration map renames
    ("A-4", "企业反映：西城区金融街街道咨询营业执照办理", "不存在的分类"),
    ("A-5", "網民留言：東城區東華門街道路燈不亮已經一週", "城乡建设->供水->停水"),
    ("A-6", "市民反映：通州区某小区楼道里有人私拉电线给电动车充电，存在安全隐患", ""),
]
SPEC = ColumnSpec(text_col="内容", id_col="工单编号")


def _write(path, rows, fmt, encoding="utf-8"):
    """Write rows (dicts) as ``fmt``; values are written as given (types matter for JSONL/Parquet)."""
    cols = list(rows[0])
    if fmt in ("csv", "tsv"):
        import csv

        with open(path, "w", encoding=encoding, newline="") as fh:
            w = csv.writer(fh, delimiter="," if fmt == "csv" else "\t")
            w.writerow(cols)
            w.writerows([["" if r.get(c) is None else r.get(c) for c in cols] for r in rows])
    elif fmt == "jsonl":
        with open(path, "w", encoding=encoding) as fh:
            for r in rows:
                fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    elif fmt == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(cols)
        for r in rows:
            ws.append([r.get(c) for c in cols])
        wb.save(path)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _rows():
    return [{"工单编号": i, "内容": t, "原分类": lab} for i, t, lab in ORDERS]


def _read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _opts(**kw):
    kw.setdefault("spec", SPEC)
    kw.setdefault("progress", False)
    kw.setdefault("chunk_size", 4)
    return BatchOptions(**kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, dispatcher):
    """The UTF-8 CSV run: what every other format and encoding must reproduce."""
    d = tmp_path_factory.mktemp("ref")
    src = _write(d / "in.csv", _rows(), "csv")
    run_batch(src, d / "out.jsonl", _opts(), dispatcher=dispatcher)
    return _read_jsonl(d / "out.jsonl")


def test_one_row_per_input_row_in_order_with_ids(reference, dispatcher):
    assert [r["id"] for r in reference] == [o[0] for o in ORDERS]
    assert [r["row"] for r in reference] == list(range(1, len(ORDERS) + 1))
    assert list(reference[0]) == column_names(False)
    first = reference[0]
    assert first["error"] is None and first["category_code"] and first["district_name"] == "朝阳区"
    dec = json.loads(first["decision"])
    assert dec["order_id"] == "A-1" and "timings_ms" not in dec  # timings would make reruns differ
    assert dec["route"] == first["route"] and dec["catalog_version"] == first["catalog_version"]
    # traditional characters normalised: 東城區 → 东城区
    assert reference[4]["district_name"] == "东城区"


@pytest.mark.parametrize("fmt,encoding", [("csv", "gbk"), ("csv", "gb18030"), ("csv", "utf-8-sig"),
                                          ("tsv", "utf-8"), ("xlsx", None), ("jsonl", "utf-8"),
                                          ("jsonl", "gb18030"), ("parquet", None)])
def test_every_input_format_and_encoding_gives_the_same_rows(tmp_path, dispatcher, reference, fmt, encoding):
    src = _write(tmp_path / f"in.{fmt}", _rows(), fmt, encoding or "utf-8")
    res = run_batch(src, tmp_path / "out.jsonl", _opts(), dispatcher=dispatcher)  # encoding detected
    assert _read_jsonl(tmp_path / "out.jsonl") == reference
    assert res.summary["rows"] == len(ORDERS) and res.errors == 0


def test_gb18030_only_characters_are_detected(tmp_path, dispatcher):
    # 𠮷 (U+20BB7) exists in GB18030 but not in GBK.
    rows = [{"工单编号": "G1", "内容": "市民反映：海淀区学院路街道𠮷祥小区暖气不热"}]
    src = _write(tmp_path / "in.csv", rows, "csv", "gb18030")
    run_batch(src, tmp_path / "out.jsonl", _opts(), dispatcher=dispatcher)
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert out[0]["error"] is None and out[0]["street_name"] == "学院路街道"


def test_large_utf8_file_whose_sample_ends_inside_a_character(tmp_path, dispatcher):
    # Over 64 KiB of three-byte characters: the encoding sniffer's sample is cut mid-character.
    rows = [{"工单编号": f"L{i}", "内容": "市民反映：朝阳区望京街道某小区连续三天停水" * 3} for i in range(700)]
    src = _write(tmp_path / "big.jsonl", rows, "jsonl")
    assert src.stat().st_size > 1 << 16
    res = run_batch(src, tmp_path / "out.parquet", _opts(chunk_size=256), dispatcher=dispatcher)
    assert res.summary["rows"] == 700 and res.errors == 0


@pytest.mark.parametrize("fmt", ["csv", "tsv", "xlsx", "jsonl", "parquet"])
def test_every_output_format(tmp_path, dispatcher, reference, fmt):
    src = _write(tmp_path / "in.jsonl", _rows(), "jsonl")
    run_batch(src, tmp_path / f"out.{fmt}", _opts(), dispatcher=dispatcher)
    got = [row for _, row in read_rows(tmp_path / f"out.{fmt}")]
    assert [r["id"] for r in got] == [r["id"] for r in reference]
    assert [r["route"] for r in got] == [r["route"] for r in reference]
    assert [json.loads(r["decision"]) for r in got] == [json.loads(r["decision"]) for r in reference]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert not work_dir(tmp_path / f"out.{fmt}").exists()


def test_gbk_output_encoding(tmp_path, dispatcher):
    src = _write(tmp_path / "in.csv", _rows(), "csv")
    run_batch(src, tmp_path / "out.csv", _opts(output_encoding="gbk"), dispatcher=dispatcher)
    text = (tmp_path / "out.csv").read_bytes().decode("gbk")
    assert "望京街道" in text


def test_bad_rows_are_marked_and_the_run_goes_on(tmp_path, dispatcher):
    lines = [
        {"工单编号": "ok-1", "内容": "市民反映：朝阳区望京街道某小区连续三天停水"},
        {"工单编号": "empty", "内容": ""},
        {"工单编号": "blank", "内容": "   \n "},
        {"工单编号": "null", "内容": None},
        {"工单编号": "number", "内容": 12345},
        {"工单编号": "list", "内容": ["停水"]},
        {"工单编号": "object", "内容": {"a": 1}},
        '{"工单编号": "broken", "内容": "市民反映',  # not valid JSON
        '["an", "array"]',
        {"工单编号": "nokey", "标题": "no text field"},
        {"工单编号": "long", "内容": "停水" * 600},
        {"工单编号": "nul", "内容": "市民反映\x00停水"},
        {"工单编号": "ok-2", "内容": "来电人反映：海淀区学院路街道某小区暖气不热"},
    ]
    src = _write(tmp_path / "in.jsonl", lines, "jsonl")
    res = run_batch(src, tmp_path / "out.jsonl", _opts(max_chars=1000), dispatcher=dispatcher)
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert len(out) == len(lines) and [r["row"] for r in out] == list(range(1, len(lines) + 1))
    by_id = {r["id"]: r for r in out}
    assert by_id["ok-1"]["error"] is None and by_id["ok-2"]["error"] is None
    assert by_id["ok-2"]["route"] == "dispatch"
    expected = {"empty": "empty", "blank": "empty", "null": "empty", "number": "wrong type", "list": "wrong type",
                "object": "wrong type", "nokey": "missing column", "long": "too long", "nul": "unreadable"}
    for oid, kind in expected.items():
        assert by_id[oid]["error"].startswith(kind), (oid, by_id[oid]["error"])
        assert by_id[oid]["route"] == "review" and "bad_input" in by_id[oid]["flags"]
    # rows that could not be read at all keep their place and get the row number as id
    assert out[7]["id"] == "8" and out[7]["error"].startswith("unreadable: not valid JSON")
    assert out[8]["id"] == "9" and out[8]["error"].startswith("unreadable")
    assert "停水" not in out[10]["error"]  # the reason never quotes the content
    assert res.errors == 11 and res.summary["errors_by_kind"]["empty"] == 3


def test_binary_cell_in_parquet_is_a_bad_row(tmp_path, dispatcher):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"工单编号": ["b1", "b2"], "内容": pa.array([b"\xff\xfe", "市民反映：朝阳区望京街道停水".encode()],
                                                                pa.binary())})
    pq.write_table(table, tmp_path / "in.parquet")
    run_batch(tmp_path / "in.parquet", tmp_path / "out.jsonl", _opts(), dispatcher=dispatcher)
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert all(r["error"].startswith("wrong type") and r["route"] == "review" for r in out)


def test_missing_column_stops_before_any_work(tmp_path, dispatcher):
    src = _write(tmp_path / "in.csv", [{"id": "1", "text": "停水"}], "csv")
    with pytest.raises(InputError, match="no column"):
        run_batch(src, tmp_path / "out.csv", _opts(), dispatcher=dispatcher)
    with pytest.raises(InputError, match="compare-col"):
        run_batch(src, tmp_path / "out.csv", _opts(spec=ColumnSpec(), compare_col="label"), dispatcher=dispatcher)
    assert not (tmp_path / "out.csv").exists() and not work_dir(tmp_path / "out.csv").exists()


def test_resume_after_an_injected_failure_writes_the_same_file(tmp_path, dispatcher):
    rows = [{"工单编号": f"R{i}", "内容": f"{ORDERS[i % 6][1]}（第{i}次来电）"} for i in range(23)]
    src = _write(tmp_path / "in.csv", rows, "csv")
    full = tmp_path / "full.parquet"
    run_batch(src, full, _opts(chunk_size=5), dispatcher=dispatcher)

    out = tmp_path / "out.parquet"
    with pytest.raises(_InjectedFailure):
        run_batch(src, out, _opts(chunk_size=5), dispatcher=dispatcher, fail_after_chunks=2)
    assert not out.exists()
    manifest = json.loads((work_dir(out) / "manifest.json").read_text())
    assert [c["rows"] for c in manifest["chunks"]] == [5, 5]

    with pytest.raises(InputError, match="different input, model or options"):
        run_batch(src, out, _opts(chunk_size=7, resume=True), dispatcher=dispatcher)
    res = run_batch(src, out, _opts(chunk_size=5, resume=True), dispatcher=dispatcher)
    assert res.resumed_rows == 10 and res.summary["rows"] == 23
    assert out.read_bytes() == full.read_bytes()
    assert not work_dir(out).exists()


def test_cli_resume_after_sigkill_is_identical(tmp_path, cli_path, dispatcher):
    rows = [{"工单编号": f"K{i}", "内容": ORDERS[i % 6][1], "原分类": ORDERS[i % 6][2]} for i in range(17)]
    src = _write(tmp_path / "in.tsv", rows, "tsv", "gb18030")
    full = tmp_path / "full.jsonl"
    run_batch(src, full, _opts(chunk_size=4, compare_col="原分类"), dispatcher=dispatcher)
    out = tmp_path / "out.jsonl"
    args = [cli_path, "batch", str(src), "-o", str(out), "--text-col", "内容", "--id-col", "工单编号",
            "--chunk-size", "4", "--compare-col", "原分类", "-q"]
    killed = subprocess.run(args, env={**os.environ, "DISPATCH_NLP_BATCH_TEST_KILL_AFTER": "3"}, capture_output=True)
    assert killed.returncode == -9 and not out.exists()
    assert len(json.loads((work_dir(out) / "manifest.json").read_text())["chunks"]) == 3
    resumed = subprocess.run(args + ["--resume", "--summary-json"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_rows"] == 12 and summary["rows"] == 17
    assert out.read_bytes() == full.read_bytes()
    assert (tmp_path / "out.jsonl.changes.json").read_text() != ""


def test_two_workers_keep_order_and_output(tmp_path, dispatcher):
    rows = [{"工单编号": f"W{i}", "内容": ORDERS[i % 6][1] + "。" * (i % 7)} for i in range(30)]
    rows[13]["内容"] = ""
    src = _write(tmp_path / "in.jsonl", rows, "jsonl")
    run_batch(src, tmp_path / "one.csv", _opts(chunk_size=4), dispatcher=dispatcher)
    res = run_batch(src, tmp_path / "two.csv", _opts(chunk_size=4, workers=2))
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert res.summary["rows"] == 30 and res.errors == 1


def test_change_report(tmp_path, dispatcher):
    src = _write(tmp_path / "in.xlsx", _rows(), "xlsx")
    res = run_batch(src, tmp_path / "out.jsonl", _opts(compare_col="原分类"), dispatcher=dispatcher)
    out = {r["id"]: r for r in _read_jsonl(tmp_path / "out.jsonl")}
    assert list(next(iter(out.values()))) == column_names(True)
    assert out["A-1"]["code_before"] == "011301" and out["A-2"]["code_before"] == "011701"
    for r in (out["A-1"], out["A-2"]):  # changed means: the new path is not under the old one
        assert r["category_changed"] is (not (r["category_path"] or "").startswith(r["path_before"]))
    assert out["A-3"]["code_before"] == "011602"  # 012502 of 2026.05 → 011602
    assert out["A-4"]["code_before"] is None and out["A-4"]["category_changed"] is None
    assert out["A-5"]["path_before"] == "城乡建设 > 供水 > 停水"
    assert out["A-6"]["label_before"] is None
    report = json.loads(res.changes[0].read_text(encoding="utf-8"))
    assert report["rows"] == 6 and report["with_label"] == 5 and report["not_in_catalog"] == 1
    assert report["compared"] == 4 and report["unchanged"] + report["category_changed"] == 4
    assert sum(m["count"] for m in report["moves"]) == report["category_changed"]
    assert report["route_compared"] == 4
    md = res.changes[1].read_text(encoding="utf-8")
    assert "category changed" in md and "不存在的分类" in md


def test_plain_matches_to_dict(dispatcher):
    for text in ("市民反映：朝阳区望京街道某小区连续三天停水", "", "北京经济技术开发区路灯不亮，电话13800138000"):
        dec = dispatcher.dispatch(text)
        assert json.dumps(plain(dec), ensure_ascii=False) == json.dumps(dec.to_dict(), ensure_ascii=False)


def test_cli_usage_errors(tmp_path, cli_path):
    src = _write(tmp_path / "in.csv", _rows(), "csv")
    r = subprocess.run([cli_path, "batch", str(src), "-o", str(tmp_path / "out.doc"), "--text-col", "内容"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "suffix" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([cli_path, "batch", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "dispatch_nlp.cli.main", "batch", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--resume" in r.stdout and "--engine" in r.stdout


def test_route_changed_counts_exactly_the_rows_whose_destination_moved(tmp_path, dispatcher):
    """Labels whose destination is fixed by the catalog alone (emergency numbers, out of scope), so the
    expected count is known: a fire labelled as a fire (119 → 119) did not move; every other row did."""
    fire, water = "市民反映：朝阳区望京街道某小区着火了，浓烟很大", ORDERS[0][1]
    rows = [("F1", fire, "130801"), ("F2", fire, "050101"), ("W1", water, "130801"), ("W2", water, "120601"),
            ("W3", water, "050201"), ("N1", water, "城乡建设")]
    src = _write(tmp_path / "in.csv", [{"工单编号": i, "内容": t, "原分类": lab} for i, t, lab in rows], "csv")
    res = run_batch(src, tmp_path / "out.jsonl", _opts(compare_col="原分类"), dispatcher=dispatcher)
    out = {r["id"]: r for r in _read_jsonl(tmp_path / "out.jsonl")}
    assert out["F1"]["route"] == "emergency_transfer" and out["F1"]["transfer_to"] == "119"
    assert all(out[i]["route"] not in ("emergency_transfer", "out_of_scope") for i in ("W1", "W2", "W3"))
    assert {i: out[i]["route_changed"] for i, _, _ in rows} == {"F1": False, "F2": True, "W1": True, "W2": True,
                                                                 "W3": True, "N1": None}
    report = json.loads(res.changes[0].read_text(encoding="utf-8"))
    assert report["route_compared"] == 5 and report["route_changed"] == 4


def test_a_cell_over_the_csv_field_limit_is_a_bad_row_and_resume_passes_it(tmp_path, dispatcher):
    huge = "停水" * 100_000  # 200,000 characters: over the csv module's default 131,072 limit
    rows = [{"工单编号": f"L{i}", "内容": ORDERS[i % 6][1]} for i in range(5)]
    rows[2]["内容"] = huge
    rows[3]["工单编号"] = "X" * 150_000  # an over-long id: the row is bad and its id cut
    src = _write(tmp_path / "in.csv", rows, "csv")
    full = tmp_path / "full.jsonl"
    res = run_batch(src, full, _opts(chunk_size=2), dispatcher=dispatcher)
    out = _read_jsonl(full)
    assert len(out) == 5 and res.errors == 2
    assert out[2]["error"].startswith("too long") and out[2]["route"] == "review" and "停水" not in out[2]["error"]
    assert out[3]["error"].startswith("too long: column '工单编号'") and out[3]["id"] == "X" * 20_000
    assert [r["error"] for r in out[:2] + out[4:]] == [None, None, None]
    part = tmp_path / "part.jsonl"
    with pytest.raises(_InjectedFailure):
        run_batch(src, part, _opts(chunk_size=2), dispatcher=dispatcher, fail_after_chunks=1)
    resumed = run_batch(src, part, _opts(chunk_size=2, resume=True), dispatcher=dispatcher)
    assert resumed.resumed_rows == 2 and part.read_bytes() == full.read_bytes()


@pytest.mark.parametrize("change", [{"profile": "full"}, {"batch_size": 8}, {"max_chars": 500},
                                    {"cut_trails": False}, {"compare_col": "原分类"}])
def test_resume_refuses_a_run_whose_output_would_differ(tmp_path, dispatcher, change):
    src = _write(tmp_path / "in.csv", _rows(), "csv")
    out = tmp_path / "out.jsonl"
    with pytest.raises(_InjectedFailure):
        run_batch(src, out, _opts(chunk_size=2), dispatcher=dispatcher, fail_after_chunks=1)
    with pytest.raises(InputError, match="different input, model or options"):
        run_batch(src, out, _opts(chunk_size=2, resume=True, **change), dispatcher=dispatcher)


def test_resume_refuses_a_changed_catalog_file_of_the_model(tmp_path, dispatcher):
    from dispatch_nlp.batch import run as batch_run

    src = _write(tmp_path / "in.csv", _rows(), "csv")
    out = tmp_path / "out.jsonl"
    with pytest.raises(_InjectedFailure):
        run_batch(src, out, _opts(chunk_size=2), dispatcher=dispatcher, fail_after_chunks=1)
    before = batch_run._model_fingerprint(None, None)
    real = batch_run.sha256_file
    batch_run.sha256_file = lambda f: "0" * 64 if f.name == "places-beijing.tsv" else real(f)
    try:
        assert batch_run._model_fingerprint(None, None) != before
        with pytest.raises(InputError, match="different input, model or options"):
            run_batch(src, out, _opts(chunk_size=2, resume=True), dispatcher=dispatcher)
    finally:
        batch_run.sha256_file = real


def test_output_and_its_folder_are_fsynced_before_the_parts_are_deleted(tmp_path, dispatcher, monkeypatch):
    from dispatch_nlp.batch import run as batch_run

    events = []
    real_fsync, real_rmtree = os.fsync, batch_run.shutil.rmtree

    def fsync(fd):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def rmtree(path, *a, **kw):
        events.append(("rmtree", str(path)))
        return real_rmtree(path, *a, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(batch_run.shutil, "rmtree", rmtree)
    src = _write(tmp_path / "in.csv", _rows(), "csv")
    out = tmp_path / "out.csv"
    run_batch(src, out, _opts(compare_col="原分类"), dispatcher=dispatcher)
    removed = events.index(("rmtree", str(work_dir(out))))
    synced = [p for kind, p in events[:removed] if kind == "fsync"]
    # the output's temporary file (renamed into place afterwards), then the folder holding the rename
    out_tmp = [i for i, p in enumerate(synced) if os.path.basename(p).startswith(".out.csv.")]
    assert out_tmp and str(tmp_path) in synced[out_tmp[-1]:]
    assert any(os.path.basename(p).startswith(".out.csv.changes.json.") for p in synced)


def test_exit_status_is_0_with_bad_rows_unless_asked(tmp_path, monkeypatch):
    from dispatch_nlp.batch import BatchResult
    from dispatch_nlp.cli import batch as cli_batch
    from dispatch_nlp.cli.main import main

    src = _write(tmp_path / "in.csv", _rows(), "csv")
    for errors in (0, 3):
        monkeypatch.setattr(cli_batch, "run_batch", lambda *a, errors=errors, **k: BatchResult(
            tmp_path / "o.csv", {"errors": errors, "rows": 6}))
        args = ["batch", str(src), "-o", str(tmp_path / "o.csv"), "--text-col", "内容", "-q"]
        assert main(args) == 0
        assert main(args + ["--fail-on-bad-rows"]) == (1 if errors else 0)
