"""Spark as a cluster: a standalone master and two workers on this machine, the model shipped to the
executors with ``addFile``, and exactly the local engine's output (same bytes)."""

import json
import os
import sys

import pytest

pytest.importorskip("pyspark")

from dispatch_nlp.batch import run_batch  # noqa: E402
from dispatch_nlp.batch.spark import StandaloneCluster  # noqa: E402
from dispatch_nlp.resources import default_model_dir  # noqa: E402

from .test_batch import ORDERS, _write  # noqa: E402
from .test_spark import _opts  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with StandaloneCluster(workers=2, cores=1, workdir=tmp_path_factory.mktemp("cluster")) as c:
        yield c
    assert all(proc.poll() is not None for proc, _ in c.procs) and c.procs == []


def _rows(n):
    rows = [{"工单编号": f"C{i}", "内容": f"{ORDERS[i % 6][1]}（第{i}次来电）", "原分类": ORDERS[i % 6][2]}
            for i in range(n)]
    rows[5]["内容"] = ""  # a bad row travels through the cluster as it does locally
    return rows


def test_cluster_reclassifies_exactly_as_local(tmp_path, cluster, dispatcher):
    from dispatch_nlp.cli.main import main

    src = _write(tmp_path / "in.csv", _rows(40), "csv")
    run_batch(src, tmp_path / "local.jsonl", _opts(compare_col="原分类"), dispatcher=dispatcher)
    rc = main(["batch", str(src), "-o", str(tmp_path / "cluster.jsonl"), "--engine", "spark",
               "--master", cluster.url, "--text-col", "内容", "--id-col", "工单编号", "--compare-col", "原分类",
               "--chunk-size", "5", "--max-chars", "1000", "-q"])
    assert rc == 0
    assert (tmp_path / "cluster.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    local_report = json.loads((tmp_path / "local.jsonl.changes.json").read_text())
    cluster_report = json.loads((tmp_path / "cluster.jsonl.changes.json").read_text())
    for key in ("compared", "unchanged", "moves", "route_changed", "not_in_catalog"):
        assert cluster_report[key] == local_report[key]

    # The application ran executors on both workers, and the model reached them through addFile (each
    # executor's work folder holds its copy), not through a path shared with the driver.
    apps = [sorted((cluster.workdir / f"worker{i}").glob("app-*/*")) for i in range(2)]
    assert all(len(a) == 1 for a in apps), apps
    name = default_model_dir().resolve().name
    shipped = [d for a in apps for d in a if list(d.glob(f"{name}-*/config.json"))]
    assert shipped, "no executor received the model"
    # The run's session (the cluster application) was stopped when the run ended.
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is None
