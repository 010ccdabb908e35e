"""Model integrity and the registry: checksums required (unless trusted), catalog files checksummed with
the model, install durable before the pointer moves, history before pointer, one writer at a time,
fallback to the last good model at start-up, and a watcher that backs off from a broken model."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from dispatch_nlp import Dispatcher, ModelError
from dispatch_nlp import dispatcher as dispatcher_module
from dispatch_nlp.cli.main import main
from dispatch_nlp.dispatcher import RESOURCES_KEY, verify_checksums, write_checksums
from dispatch_nlp.lifecycle.registry import HISTORY, Registry
from dispatch_nlp.resources import catalog_dir, default_model_dir

from .conftest import ROOT
from .test_retrain import config_model

CATALOG_FILES = ("beijing-12345.yaml", "gazetteer-beijing.tsv", "places-beijing.tsv", "units-beijing.tsv")


def unchecked_model(path, version="u1"):
    config_model(path, version)
    (path / "checksums.json").unlink()
    return path


# -- checksums ---------------------------------------------------------------------------------------
def test_a_model_without_checksums_is_refused_unless_trusted(tmp_path, capsys):
    mdir = unchecked_model(tmp_path / "m")
    with pytest.raises(ModelError, match="no checksums.json.*--trust"):
        Dispatcher.load(mdir)
    assert Dispatcher.load(mdir, trust=True).model_version == "u1"
    assert main(["info", "-m", str(mdir)]) == 3 and "--trust" in capsys.readouterr().err
    assert main(["info", "-m", str(mdir), "--trust"]) == 0
    reg = Registry(tmp_path / "reg")
    with pytest.raises(ModelError, match="no checksums.json"):
        reg.install(mdir)
    assert reg.versions() == []
    name = reg.install(mdir, trust=True)  # the installed copy gets checksums: verified from now on
    verify_checksums(reg.path_of(name))
    assert reg.history()[-1] == {**reg.history()[-1], "action": "install", "version": name, "trusted": True}


def test_shipped_model_checksums_cover_its_catalog_files():
    sums = json.loads((default_model_dir() / "checksums.json").read_text("utf-8"))
    assert sorted(sums[RESOURCES_KEY]) == sorted(f"catalog:{name}" for name in CATALOG_FILES)
    verify_checksums(default_model_dir())


def test_an_edited_catalog_file_is_named(tmp_path):
    cat = tmp_path / "cat"
    cat.mkdir()
    for name in CATALOG_FILES:
        shutil.copy(catalog_dir() / name, cat / name)
    mdir = config_model(tmp_path / "m", "c1")
    config = json.loads((mdir / "config.json").read_text("utf-8"))
    config["resources"] = {"catalog": "../cat/beijing-12345.yaml", "gazetteer": "../cat/gazetteer-beijing.tsv",
                           "places": "../cat/places-beijing.tsv", "units": "../cat/units-beijing.tsv"}
    (mdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_checksums(mdir)
    Dispatcher.load(mdir)
    with open(cat / "places-beijing.tsv", "a", encoding="utf-8") as fh:
        fh.write("朝阳区\t望京街道\t某新小区\n")
    with pytest.raises(ModelError, match=r"places-beijing\.tsv.*checksum mismatch") as err:
        Dispatcher.load(mdir)
    assert "gazetteer-beijing" not in str(err.value)


def test_an_edited_shipped_catalog_file_is_named(monkeypatch):
    real = dispatcher_module.sha256_file
    monkeypatch.setattr(dispatcher_module, "sha256_file",
                        lambda f: "0" * 64 if f.name == "units-beijing.tsv" else real(f))
    with pytest.raises(ModelError, match=r"catalog file catalog:units-beijing\.tsv .*checksum mismatch"):
        verify_checksums(default_model_dir())


# -- durable install, history before pointer ----------------------------------------------------------
def test_install_fsyncs_every_file_and_the_history_before_the_pointer_moves(tmp_path, monkeypatch):
    reg = Registry(tmp_path / "reg")
    src = config_model(tmp_path / "m", "d1")
    (src / "sub").mkdir()
    (src / "sub" / "extra.json").write_text("{}", encoding="utf-8")
    write_checksums(src)
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b))[1])
    reg.promote(src)
    staged = str(reg.root / "versions" / ".d1.installing")
    moved = events.index(("replace", str(reg.root / "versions" / "d1")))
    pointer = events.index(("replace", str(reg.current_file)))
    synced = {p for kind, p in events[:moved] if kind == "fsync"}
    files = {str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()}
    assert {os.path.join(staged, f) for f in files} <= synced  # every file, checksums.json too
    assert {staged, os.path.join(staged, "sub")} <= synced  # and its folders
    history = [i for i, (kind, p) in enumerate(events) if kind == "fsync" and p == str(reg.root / HISTORY)]
    assert len(history) == 2 and moved < history[0] < history[1] < pointer  # install line, promote line, pointer
    assert reg.current() == "d1" and reg.history()[-1]["action"] == "promote"


def test_rollback_writes_history_before_the_pointer(tmp_path, monkeypatch):
    reg = Registry(tmp_path / "reg")
    for v in ("r1", "r2"):
        reg.promote(config_model(tmp_path / v, v))
    order = []
    real_log = reg._log
    monkeypatch.setattr(reg, "_log", lambda ev: (order.append(("history", reg.current())), real_log(ev))[1])
    reg.rollback()
    assert order == [("history", "r2")]  # the pointer still named r2 when the line was written
    assert reg.current() == "r1"


# -- one writer at a time ----------------------------------------------------------------------------
PROMOTE = """
import sys, time
from dispatch_nlp.lifecycle.registry import Registry
Registry(sys.argv[1]).promote(sys.argv[2])
print(time.time())
"""


def test_a_promote_in_another_process_waits_for_the_lock(tmp_path):
    reg = Registry(tmp_path / "reg")
    reg.promote(config_model(tmp_path / "a", "a"))
    b = config_model(tmp_path / "b", "b")
    with reg.locked():
        proc = subprocess.Popen([sys.executable, "-c", PROMOTE, str(reg.root), str(b)], stdout=subprocess.PIPE,
                                text=True, cwd=ROOT)
        deadline = time.time() + 4
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None  # blocked on the lock, not finished
        assert reg.current() == "a" and "b" not in reg.versions()
        released = time.time()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and float(out.strip()) >= released
    assert reg.current() == "b"


def test_concurrent_promotes_leave_a_consistent_history(tmp_path):
    reg = Registry(tmp_path / "reg")
    sources = [config_model(tmp_path / f"c{i}", f"c{i}") for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", PROMOTE, str(reg.root), str(s)], cwd=ROOT,
                              stdout=subprocess.DEVNULL) for s in sources]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    events = reg.history()
    promotes = [e for e in events if e["action"] == "promote"]
    assert sorted(e["to"] for e in promotes) == ["c0", "c1", "c2"]
    assert [e["from"] for e in promotes] == [None] + [e["to"] for e in promotes[:-1]]  # no lost update
    assert reg.current() == promotes[-1]["to"] and sorted(reg.versions()) == ["c0", "c1", "c2"]


# -- start-up fallback and watcher backoff -------------------------------------------------------------
def _broken_current(tmp_path):
    reg = Registry(tmp_path / "reg")
    for v in ("g1", "g2", "g3"):
        reg.promote(config_model(tmp_path / v, v))
    # g3 (current) torn, g2 torn too: the last good one is g1
    for v in ("g3", "g2"):
        with open(reg.path_of(v) / "config.json", "a", encoding="utf-8") as fh:
            fh.write(" ")
    return reg


def test_a_broken_current_model_falls_back_to_the_last_good_one_loudly(tmp_path, caplog):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from dispatch_nlp.service import ServiceSettings, create_app
    from dispatch_nlp.service.holder import ModelHolder
    from dispatch_nlp.service.metrics import Metrics

    reg = _broken_current(tmp_path)
    holder = ModelHolder(ServiceSettings(registry=str(reg.root)), Metrics())
    assert holder.dispatcher.model_version == "g1"
    assert holder.fallback == {**holder.fallback, "broken_version": "g3", "serving_version": "g1"}
    assert holder.last_reload["ok"] is False and holder.last_reload["fallback"]["serving_version"] == "g1"
    assert any(r.levelname == "ERROR" and "IS BROKEN" in r.getMessage() for r in caplog.records)
    app = create_app(ServiceSettings(registry=str(reg.root), no_auth=True))
    with TestClient(app) as client:
        health = client.get("/v1/health").json()
    assert health["status"] == "degraded" and health["model_version"] == "g1"
    assert health["last_reload"]["fallback"]["broken_version"] == "g3"
    (reg.root / "current").write_text("g3\n")
    for v in ("g1",):  # nothing verifies: start-up fails with a clear error
        with open(reg.path_of(v) / "config.json", "a", encoding="utf-8") as fh:
            fh.write(" ")
    with pytest.raises(ModelError, match="no earlier version"):
        ModelHolder(ServiceSettings(registry=str(reg.root)), Metrics())


class _Holder:
    """What the watcher sees of the holder: a pointer and a reload that fails until fixed."""

    def __init__(self):
        self.pointer_value, self.ok, self.tries = "v2", False, []
        self.settings = type("S", (), {"watch_backoff_max_s": 60.0})()

    def pointer(self):
        return self.pointer_value

    def reload(self, wait=True):
        self.tries.append(self.pointer_value)
        return {"status": "reloaded" if self.ok else "failed"}


def test_the_watcher_backs_off_from_a_broken_model():
    from dispatch_nlp.service.holder import Watcher

    holder, now = _Holder(), [0.0]
    watcher = Watcher(holder, 5.0, clock=lambda: now[0])
    assert [watcher.retry_delay(n) for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]
    tried = []
    for t in range(0, 200, 5):  # a poll every 5 s
        now[0] = float(t)
        if watcher.poll():
            tried.append(t)
    assert tried == [0, 10, 30, 70, 130, 190]  # not 40 re-hashes of the same broken model
    holder.pointer_value = "v3"  # a new promotion is tried at the next poll, not after the backoff
    now[0] = 200.0
    assert watcher.poll() and holder.tries[-1] == "v3" and watcher.failures == 1
    holder.ok = True
    now[0] = 215.0
    assert watcher.poll() and watcher.failures == 0
    now[0] = 220.0
    assert watcher.poll()  # healthy again: every poll looks
