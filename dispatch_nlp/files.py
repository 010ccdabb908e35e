"""Durable file writing: one ``atomic_write`` for every file the library must not leave half-written.

The content goes to a temporary file beside the target, is flushed and fsynced, replaces the target
in one ``os.replace``, and the folder is fsynced so that the rename itself survives a power cut. A
reader sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def fsync_dir(path: str | Path) -> None:
    """Make a folder's entries (a rename, a new file) durable. A no-op where folders cannot be opened."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """A file written beside its target and moved into place by ``commit()`` (flushed, fsynced, renamed,
    folder fsynced) or thrown away by ``abort()``. For writers that stay open across a long run (the
    CLI's ``-o`` output); ``atomic_open`` is the ``with`` form."""

    def __init__(self, path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = None):
        if mode not in ("w", "wb"):
            raise ValueError(f"atomic file: mode {mode!r}; use 'w' or 'wb'")
        self.target = Path(path)
        self.tmp = self.target.with_name(f".{self.target.name}.{os.getpid()}.tmp")
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        self.fh: IO[Any] = open(self.tmp, mode, **kwargs)

    def commit(self) -> None:
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.target)
        except BaseException:
            self.abort()
            raise
        fsync_dir(self.target.parent)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """Open ``path`` for writing through a temporary file that replaces it on success (and is removed on
    failure). ``mode`` is ``"w"`` or ``"wb"``."""
    f = AtomicFile(path, mode, encoding=encoding, newline=newline)
    try:
        yield f.fh
    except BaseException:
        f.abort()
        raise
    f.commit()


def atomic_write(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write ``data`` (text or bytes) to ``path`` atomically and durably."""
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as fh:
            fh.write(data)
    else:
        with atomic_open(path, "w", encoding=encoding) as fh:
            fh.write(data)


def fsync_tree(root: str | Path) -> None:
    """fsync every file under ``root``, then every folder (deepest first), ``root`` last."""
    root = Path(root)
    dirs = [root]
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            dirs.append(path)
        elif path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(d)


def replace_dir(staging: str | Path, target: str | Path) -> None:
    """Put the folder ``staging`` in the place of ``target`` durably: every file of it fsynced first,
    the old ``target`` moved aside (not deleted) before the rename, the parent fsynced, then the old one
    removed. A crash leaves the old folder, the new one, or both, never neither."""
    import shutil

    staging, target = Path(staging), Path(target)
    fsync_tree(staging)
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    fsync_dir(target.parent)
    if old.exists():
        shutil.rmtree(old)
