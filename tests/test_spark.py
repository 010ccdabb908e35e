"""Spark engine in local[2] mode: the same output rows (and bytes) as the local engine."""

import json
import os

import pytest

pytest.importorskip("pyspark")

from dispatch_nlp.batch import BatchOptions, column_names, run_batch  # noqa: E402
from dispatch_nlp.batch.tables import ColumnSpec  # noqa: E402

from .test_batch import ORDERS, _read_jsonl, _write  # noqa: E402

SPEC = ColumnSpec(text_col="内容", id_col="工单编号")


@pytest.fixture(scope="module")
def spark():
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    s = (SparkSession.builder.master("local[2]").appName("dispatch-nlp tests")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.default.parallelism", "2")
         .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -Djava.security.egd=file:/dev/./urandom")
         .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def _rows(n=14):
    rows = [{"工单编号": f"S{i}", "内容": ORDERS[i % 6][1] + "！" * (i % 3), "原分类": ORDERS[i % 6][2]}
            for i in range(n)]
    rows[3]["内容"] = ""
    rows[min(9, n - 1)]["内容"] = "停水" * 700
    return rows


def _opts(**kw):
    return BatchOptions(spec=SPEC, progress=False, chunk_size=5, max_chars=1000, **kw)


def test_cli_spark_engine_gbk_csv_matches_local(tmp_path, spark, dispatcher):
    from dispatch_nlp.cli.main import main

    src = _write(tmp_path / "in.csv", _rows(), "csv", "gbk")
    run_batch(src, tmp_path / "local.jsonl", _opts(compare_col="原分类"), dispatcher=dispatcher)
    rc = main(["batch", str(src), "-o", str(tmp_path / "spark.jsonl"), "--engine", "spark", "--master", "local[2]",
               "--text-col", "内容", "--id-col", "工单编号", "--compare-col", "原分类", "--chunk-size", "5",
               "--max-chars", "1000", "-q"])
    assert rc == 0  # finished: the two bad rows are marked in the output (exit 1 only with --fail-on-bad-rows)
    assert (tmp_path / "spark.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "spark.jsonl.changes.json").read_bytes() != b""
    local_report = json.loads((tmp_path / "local.jsonl.changes.json").read_text())
    spark_report = json.loads((tmp_path / "spark.jsonl.changes.json").read_text())
    for key in ("compared", "unchanged", "moves", "route_changed", "not_in_catalog"):
        assert spark_report[key] == local_report[key]


def test_jsonl_with_broken_lines_and_parquet_match_local(tmp_path, spark, dispatcher):
    from dispatch_nlp.batch.spark import run_spark_batch

    lines = [*_rows(6), '{"工单编号": "x", "内容": ', "", {"工单编号": "n", "内容": 7}, {"工单编号": "ok", "内容": ORDERS[0][1]}]
    src = _write(tmp_path / "in.jsonl", lines, "jsonl")
    run_batch(src, tmp_path / "local.jsonl", _opts(), dispatcher=dispatcher)
    run_spark_batch(src, tmp_path / "spark.jsonl", _opts(), spark=spark)
    local = _read_jsonl(tmp_path / "local.jsonl")
    assert _read_jsonl(tmp_path / "spark.jsonl") == local
    assert len(local) == 9 and local[6]["error"].startswith("unreadable") and local[7]["error"].startswith("wrong type")

    pq_src = _write(tmp_path / "in.parquet", _rows(9), "parquet")
    run_batch(pq_src, tmp_path / "local.parquet", _opts(), dispatcher=dispatcher)
    run_spark_batch(pq_src, tmp_path / "spark.parquet", _opts(), spark=spark)
    assert (tmp_path / "spark.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()


def test_reclassify_dataframe_api(tmp_path, spark, dispatcher):
    from dispatch_nlp.batch.spark import reclassify
    from dispatch_nlp.resources import default_model_dir

    rows = _rows(8)
    src = _write(tmp_path / "in.jsonl", rows, "jsonl")
    run_batch(src, tmp_path / "local.jsonl", _opts(), dispatcher=dispatcher)
    local = _read_jsonl(tmp_path / "local.jsonl")
    df = spark.createDataFrame([(r["工单编号"], r["内容"], i + 1) for i, r in enumerate(rows)],
                               "`工单编号` string, `内容` string, n long").repartition(2)
    # a path every executor can read (no addFile), rows numbered by the caller
    out = reclassify(df, str(default_model_dir()), text_col="内容", id_col="工单编号", ship_model=False,
                     max_chars=1000, row_col="n")
    assert out.columns == column_names(False)
    got = sorted((r.asDict() for r in out.collect()), key=lambda r: r["row"])
    assert got == local
    with pytest.raises(Exception, match="no column"):
        reclassify(df, text_col="text")
