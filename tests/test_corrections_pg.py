"""The corrections store on a real PostgreSQL server (``DISPATCH_NLP_TEST_PG_URL``, started by
``.ci/postgres.sh``): the shared store tests in test_corrections.py run on it through ``pg_store``;
here what only a server shows: a lock held by another session ends in ``StoreBusy`` after the busy
timeout (not a stall), the write probe sees it, commits are durable (fsync, synchronous_commit), and
several processes writing at once store everything.

With CI=true a missing URL or an unreachable server fails these tests; elsewhere they skip, saying why."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from dispatch_nlp.lifecycle.correction_store import SQLAlchemyStore, StoreBusy
from dispatch_nlp.lifecycle.corrections import Correction

from .conftest import ROOT

URL_VAR = "DISPATCH_NLP_TEST_PG_URL"


def pg_url() -> str:
    """The test server's URL, after checking it answers; fails in CI, skips elsewhere."""
    url = os.environ.get(URL_VAR)
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not url:
        if in_ci:
            pytest.fail(f"{URL_VAR} is not set: CI must run the PostgreSQL tests (.ci/run starts a server)")
        pytest.skip(f"no PostgreSQL server: set {URL_VAR} (url=$(bash .ci/postgres.sh start))")
    sa = pytest.importorskip("sqlalchemy") if not in_ci else __import__("sqlalchemy")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server is reported the same way
        message = f"PostgreSQL at {URL_VAR} not reachable: {type(exc).__name__}"
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)
    return url


def fresh_pg_store(busy_timeout_s: float = 2.0) -> SQLAlchemyStore:
    """A store on empty tables (each test starts from nothing)."""
    import sqlalchemy as sa

    url = pg_url()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS corrections, store_meta")
    engine.dispose()
    return SQLAlchemyStore(url, busy_timeout_s=busy_timeout_s)


@pytest.fixture
def pg_store():
    store = fresh_pg_store(busy_timeout_s=1.0)
    yield store
    store.close()


def corr(order_id="O-1", **kw):
    return Correction.from_dict({"order_id": order_id, "operator": "op-1", "unit": "utility_water", **kw})


def test_a_locked_table_answers_store_busy_within_the_timeout(pg_store):
    import sqlalchemy as sa

    pg_store.add(corr(correction_id="before"))
    other = sa.create_engine(pg_store.url)
    with other.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("LOCK TABLE corrections IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            pg_store.add(corr(correction_id="during"))
        waited = time.monotonic() - started
        assert pg_store.probe_write() is True  # store_meta is not locked: the probe still writes there
        conn.exec_driver_sql("LOCK TABLE store_meta IN ACCESS EXCLUSIVE MODE")
        assert pg_store.probe_write() is False
        tx.rollback()
    other.dispose()
    assert 0.5 <= waited < 5, waited  # the busy timeout (1 s), not a stall
    assert pg_store.probe_write() is True
    assert pg_store.add(corr(correction_id="during"))[1] is True  # the retry stores it
    assert pg_store.count() == 2


def test_commits_are_durable_on_the_server(pg_store):
    assert pg_store.durability() == {"synchronous_commit": "on", "fsync": "on"}


def test_operator_is_stored_as_a_salted_pseudonym(pg_store):
    pg_store.add(corr(correction_id="x", operator="张三 13812345678"))
    stored = pg_store.get("x")
    assert stored.operator.startswith("op:") and "13812345678" not in stored.operator
    again = fresh_pg_store()  # a new salt: the same operator gets another pseudonym in another store
    again.add(corr(correction_id="y", operator="张三 13812345678"))
    assert again.get("y").operator != stored.operator


WRITER = textwrap.dedent("""
    import sys
    from dispatch_nlp.lifecycle.corrections import Correction, open_store
    store = open_store(sys.argv[1], busy_timeout_s=10)
    for i in range(int(sys.argv[3])):
        store.add(Correction.from_dict({"order_id": f"{sys.argv[2]}-{i}", "operator": "op", "unit": "utility_water",
                                        "correction_id": f"{sys.argv[2]}-{i}"}))
""")


def test_concurrent_processes_write_everything(pg_store):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg_store.url, f"p{k}", "40"], cwd=ROOT,
                              stderr=subprocess.PIPE) for k in range(3)]
    errors = [p.communicate(timeout=120)[1].decode(errors="replace")[-2000:] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert pg_store.count() == 120
