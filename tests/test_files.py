"""``dispatch_nlp.files``: atomic_write fsyncs the temporary file and the folder, and a failure
mid-write leaves the old file as it was and no temporary file behind."""

import os
import stat
from pathlib import Path

import pytest

from dispatch_nlp import files
from dispatch_nlp.files import atomic_open, atomic_write


@pytest.fixture
def fsyncs(monkeypatch):
    """Every os.fsync call: (path the descriptor was opened on, is it a folder, inode)."""
    calls = []
    real = os.fsync

    def spy(fd):
        st = os.fstat(fd)
        try:
            where = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # no /proc: the inode and type are enough
            where = None
        calls.append((where, stat.S_ISDIR(st.st_mode), st.st_ino))
        return real(fd)

    monkeypatch.setattr(files.os, "fsync", spy)
    return calls


@pytest.mark.parametrize("data", ["新的内容\n", b"\x00\x01bytes"])
def test_atomic_write_fsyncs_file_and_folder(tmp_path, fsyncs, data):
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    atomic_write(target, data)

    expected = data if isinstance(data, bytes) else data.encode("utf-8")
    assert target.read_bytes() == expected
    file_calls = [c for c in fsyncs if not c[1]]
    dir_calls = [c for c in fsyncs if c[1]]
    # the file was fsynced through the temporary file's descriptor, before the rename: its inode is
    # the one the target has now, and the descriptor was open on the temporary name
    assert [c[2] for c in file_calls] == [target.stat().st_ino]
    if file_calls[0][0] is not None:
        assert os.path.basename(file_calls[0][0]) != target.name
        assert os.path.dirname(file_calls[0][0]) == str(tmp_path)
    # and then the folder, so that the rename itself is durable
    assert [c[2] for c in dir_calls] == [tmp_path.stat().st_ino]
    assert fsyncs.index(dir_calls[0]) > fsyncs.index(file_calls[0])
    assert os.listdir(tmp_path) == ["out.json"]


def test_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, fsyncs):
    target = tmp_path / "manifest.json"
    target.write_text("old content", encoding="utf-8")

    class Boom(RuntimeError):
        pass

    with pytest.raises(Boom):
        with atomic_open(target, "w") as fh:
            fh.write("half of the new con")
            raise Boom
    assert target.read_text(encoding="utf-8") == "old content"
    assert os.listdir(tmp_path) == ["manifest.json"]
    assert not fsyncs  # nothing was made durable


def test_failure_while_encoding_keeps_the_old_file(tmp_path):
    target = tmp_path / "t.csv"
    target.write_bytes(b"old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "望京 \udcff", encoding="gbk")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["t.csv"]


def test_new_file_and_bad_mode(tmp_path):
    atomic_write(tmp_path / "new.txt", "x")
    assert (tmp_path / "new.txt").read_text(encoding="utf-8") == "x"
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "a.txt", "a"):
            pass
    assert os.listdir(tmp_path) == ["new.txt"]


def test_registry_and_batch_write_through_atomic_write(tmp_path, fsyncs):
    """The model registry's ``current`` pointer and the batch manifest go through ``files``."""
    from dispatch_nlp.batch.io import RowWriter
    from dispatch_nlp.lifecycle.registry import Registry

    reg = Registry(tmp_path / "reg")
    (reg.root / "versions" / "v1").mkdir()
    fsyncs.clear()
    reg.set_current("v1")
    assert reg.current() == "v1"
    assert any(is_dir and ino == reg.root.stat().st_ino for _, is_dir, ino in fsyncs)

    out = tmp_path / "out.csv"
    writer = RowWriter(out, [("id", "str"), ("n", "int")])
    writer.write([["a", 1]])
    writer.abort()
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    writer = RowWriter(out, [("id", "str"), ("n", "int")])
    writer.write([["a", 1]])
    fsyncs.clear()
    writer.close()
    assert out.read_text(encoding="utf-8") == "id,n\na,1\n"
    assert [ino for _, is_dir, ino in fsyncs if not is_dir] == [out.stat().st_ino]


def test_replace_dir_fsyncs_the_new_folder_before_it_takes_the_old_ones_place(tmp_path, monkeypatch):
    from dispatch_nlp import files

    target, staging = tmp_path / "model", tmp_path / "model.partial"
    target.mkdir()
    (target / "config.json").write_text("old", "utf-8")
    staging.mkdir()
    (staging / "config.json").write_text("new", "utf-8")
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(f"replace {Path(a).name}"),
                                                          real_replace(a, b))[1])
    files.replace_dir(staging, target)
    assert (target / "config.json").read_text("utf-8") == "new"
    assert not staging.exists() and [p.name for p in tmp_path.iterdir()] == ["model"]
    first_replace = next(i for i, e in enumerate(events) if e.startswith("replace"))
    assert events[:first_replace].count("fsync") >= 2  # the file and the folder, before anything moves
    assert events[first_replace] == "replace model"  # the old folder is moved aside first, not deleted
