"""Corrections: validation, both stores (SQLite direct and through SQLAlchemy), concurrent writers
(threads and processes), a writer killed with SIGKILL, import and export."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from dispatch_nlp.cli.main import main
from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.lifecycle.corrections import Correction, label_in_catalog, open_store

from .conftest import ROOT

PHONE = "13812345678"
FIX = ROOT / "tests" / "fixtures"


def corr(order_id="O-1", **kw):
    return Correction.from_dict({"order_id": order_id, "operator": "op-1", "unit": "utility_water", **kw})


@pytest.fixture(params=["sqlite", "sqlalchemy"])
def store(request, tmp_path):
    if request.param == "sqlalchemy":
        pytest.importorskip("sqlalchemy")
        return open_store(f"sqlite:///{tmp_path / 'c.db'}")
    return open_store(tmp_path / "c.db")


def test_validation_names_the_field():
    with pytest.raises(InputError, match="^district"):
        corr(district="110105")
    with pytest.raises(InputError, match="^appeal_type"):
        corr(appeal_type="抱怨")
    with pytest.raises(InputError, match="^kind"):
        corr(kind="bounce")
    with pytest.raises(InputError, match="at least one"):
        Correction.from_dict({"order_id": "A", "operator": "o"})
    with pytest.raises(InputError, match="^operator"):
        Correction.from_dict({"order_id": "A", "unit": "x"})
    with pytest.raises(InputError, match="unknown correction field"):
        corr(colour="red")
    c = corr(kind="退单", category_path="城乡建设 > 供水 > 停水", text=f"电话{PHONE}", reason=f"打{PHONE}")
    assert c.kind == "return" and c.category_path == ["城乡建设", "供水", "停水"]
    assert PHONE not in c.text and PHONE not in c.reason


def test_store_roundtrip_idempotence_and_latest_wins(store):
    first = corr(correction_id="a", unit="utility_gas", corrected_at="2026-01-01T10:00:00+08:00",
                 decision={"model_version": "m1", "catalog_version": "2026.11", "route": "dispatch"})
    stored, new = store.add(first)
    assert new and stored.correction_id == "a"
    assert store.add(first) [1] is False  # a retried write stores nothing twice
    store.add(corr(correction_id="b", unit="utility_power", corrected_at="2026-01-02T00:00:00+00:00"))
    store.add(corr(correction_id="c", unit="utility_heating", corrected_at="2026-01-01T01:00:00Z"))  # earlier
    store.add(corr("O-2", correction_id="d"))
    assert store.count() == 4
    latest = store.latest_by_order()
    assert latest["O-1"].correction_id == "b" and latest["O-1"].unit == "utility_power"
    got = store.get("a")
    assert got.decision["route"] == "dispatch" and got.decision_model_version == "m1"
    assert got.catalog_version == "2026.11"
    assert set(store.latest_by_order(since="2026-01-02")) == {"O-1", "O-2"}


def test_concurrent_threads_write_everything(store):
    def write(k):
        for i in range(25):
            store.add(corr(f"T{k}-{i}", correction_id=f"t{k}-{i}"))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 200
    assert len({c.correction_id for c in store.iter_all()}) == 200


WRITER = textwrap.dedent("""
    import sys
    from dispatch_nlp.lifecycle.corrections import Correction, open_store
    store = open_store(sys.argv[1])
    tag, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        c = Correction.from_dict({"order_id": f"{tag}-{i}", "operator": "op", "unit": "utility_water",
                                  "correction_id": f"{tag}-{i}"})
        store.add(c)
        print(c.correction_id, flush=True)   # acknowledged only after the commit returned
""")


def test_concurrent_processes_write_everything(tmp_path):
    db = tmp_path / "c.db"
    open_store(db)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"p{k}", "60"], stdout=subprocess.PIPE,
                              cwd=ROOT) for k in range(3)]
    outs = [p.communicate(timeout=60)[0].decode().split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(len(o) for o in outs) == 180
    assert open_store(db).count() == 180


def test_kill_9_mid_stream_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "c.db"
    open_store(db)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "k", "100000"], stdout=subprocess.PIPE, cwd=ROOT)
    acked = []
    deadline = time.time() + 30
    while len(acked) < 200 and time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(line.decode().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    acked += [x for x in proc.stdout.read().decode().split() if x]  # lines already printed before the kill
    assert len(acked) >= 200
    stored = {c.correction_id for c in open_store(db).iter_all()}
    assert set(acked) <= stored


def test_label_in_catalog_migrates_old_codes():
    v2 = Catalog.load(FIX / "catalog_v2.yaml")
    assert label_in_catalog(v2, "010101", None, "1.0")[:2] == ("010301", ["城乡建设", "供热", "暖气不热"])
    assert label_in_catalog(v2, "010103", None, "1.0") == (None, None, 1)  # removed by the revision
    assert label_in_catalog(v2, "010201", None, "2.0")[1] == ["城乡建设", "城管执法", "违法建设"]
    assert label_in_catalog(v2, None, ["城乡建设", "城管执法", "占道经营"], "2.0")[0] == "010202"


def test_import_and_export_commands(tmp_path, capsys):
    db = tmp_path / "c.db"
    table = tmp_path / "corr.csv"
    table.write_text(
        "order_id,operator,kind,category_code,unit,district,catalog_version,reason,correction_id,text\n"
        f"A,op1,改派,010101,,,1.0,电话{PHONE},c1,朝阳区暖气不热\n"
        "B,op2,退单,,utility_water,110105000000,2.0,,c2,停水\n"
        "C,op3,改派,,,11010,2.0,,c3,x\n"
        "D,op4,改派,010103,,,1.0,,c4,其他市政\n", encoding="utf-8")
    assert main(["corrections", "import", str(table), "--db", str(db)]) == 1  # row C is bad
    out = json.loads(capsys.readouterr().out)
    assert out["stored"] == 3 and out["bad_rows"] == 1
    assert main(["corrections", "import", str(table), "--db", str(db)]) == 1
    assert json.loads(capsys.readouterr().out)["duplicates"] == 3
    export = tmp_path / "out.jsonl"
    assert main(["corrections", "export", "--db", str(db), "-o", str(export),
                 "--catalog", str(FIX / "catalog_v2.yaml")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 3 and summary["category_removed"] == 1
    rows = {r["id"]: r for r in map(json.loads, export.read_text("utf-8").splitlines())}
    assert rows["A"]["category_code"] == "010301" and rows["B"]["unit"] == "utility_water"
    assert PHONE not in export.read_text("utf-8")
    assert main(["corrections", "stats", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["kinds"] == {"reassign": 2, "return": 1}
    assert main(["corrections", "export", "--db", str(tmp_path / "none.db"), "-o", str(export)]) == 2


@pytest.mark.parametrize("code", ["１１０１０５００００００", "110105000000\n", "11010500000", "1101050000001"])
def test_division_codes_are_twelve_ascii_digits(code):
    """As the service's and the decision schema's ``^[0-9]{12}$``: full-width digits or a trailing
    newline never name a gazetteer division."""
    with pytest.raises(InputError, match="district"):
        Correction(order_id="o", operator="p", district=code).check()
    assert Correction(order_id="o", operator="p", street="110105001000").check().street == "110105001000"
