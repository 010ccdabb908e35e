"""A model registry: installed model versions, the one in service, and how it got there.

    registry/
      versions/<version>/    model directories, never changed once installed
      current                the version in service (one line), replaced atomically
      history.jsonl          one event per line: install, promote, rollback (with the comparison)
      .lock                  flock'ed around install, promote and rollback (one writer at a time)

Durability order: ``install`` copies a verified model (a directory without ``checksums.json`` only with
``trust=True``, which writes them into the copy), fsyncs every file and folder of the copy, renames it
into ``versions/`` and fsyncs that; the history line is written (and fsynced) before the ``current``
pointer moves. After a power cut the pointer therefore names a whole model, and the history knows every
version that was ever in service: ``last_good`` finds the newest one that still verifies, which the
service falls back to when the current one is broken.

``promote`` installs a challenger only when ``compare`` finds no head worse than the champion's
beyond the tolerance; ``rollback`` returns to the version that was in service before the current
one. The service watches ``current`` (or is told through ``POST /v1/admin/reload``) and swaps the
model without dropping requests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dispatch_nlp.dispatcher import read_config, verify_checksums, write_checksums
from dispatch_nlp.errors import InputError, ModelError
from dispatch_nlp.files import atomic_write, fsync_dir, fsync_tree

log = logging.getLogger(__name__)

CURRENT = "current"
HISTORY = "history.jsonl"
VERSIONS = "versions"
LOCK = ".lock"
EVALUATION_FILE = "evaluation.json"  # written into a challenger by ``dispatch-nlp retrain``
# Heads compared for promotion (accuracy); heads absent from either side are skipped.
HEADS = ("category", "category_l1", "category_l2", "appeal_type", "response_level", "district", "street", "unit")
_SAFE = re.compile(r"[^0-9A-Za-z._-]+")


def compare(champion: dict[str, Any], challenger: dict[str, Any], tolerance: float = 0.01) -> dict[str, Any]:
    """Head-by-head accuracy of two evaluation reports (``evaluate_examples`` output, or a dict of
    such reports per evaluation set). A head regresses when the challenger's accuracy is below the
    champion's by more than ``tolerance``."""
    if champion and all(isinstance(v, dict) and "category" in v for v in champion.values()):
        sets = {name: (champion[name], challenger.get(name, {})) for name in champion}
    else:
        sets = {"eval": (champion, challenger)}
    rows, regressions = [], []
    for set_name, (a, b) in sets.items():
        for head in HEADS:
            ra, rb = a.get(head) or {}, b.get(head) or {}
            if "accuracy" not in ra or "accuracy" not in rb:
                continue
            delta = round(rb["accuracy"] - ra["accuracy"], 4)
            worse = delta < -tolerance
            rows.append({"set": set_name, "head": head, "n": rb.get("n"), "champion": ra["accuracy"],
                         "challenger": rb["accuracy"], "delta": delta, "regressed": worse})
            if worse:
                regressions.append(f"{set_name}/{head}: {ra['accuracy']:.4f} → {rb['accuracy']:.4f} ({delta:+.4f})")
    return {"tolerance": tolerance, "heads": rows, "regressions": regressions, "ok": not regressions}


class Registry:
    def __init__(self, root: str | Path, *, create: bool = True):
        self.root = Path(root)
        if not self.root.exists():
            if not create:
                raise InputError(f"{self.root}: no such registry")
            self.root.mkdir(parents=True)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: is not a folder (a registry is a folder)")
        (self.root / VERSIONS).mkdir(exist_ok=True)
        self._lock_depth = 0
        self._thread_lock = threading.RLock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the registry's lock (``fcntl.flock`` on ``.lock``): one install, promote or rollback at a
        time, across threads and processes. Re-entrant within one ``Registry`` object."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    # -- reading
    @property
    def current_file(self) -> Path:
        return self.root / CURRENT

    def versions(self) -> list[str]:
        return sorted(p.name for p in (self.root / VERSIONS).iterdir() if p.is_dir() and not p.name.startswith("."))

    def current(self) -> str | None:
        try:
            text = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def path_of(self, version: str) -> Path:
        path = self.root / VERSIONS / version
        if not path.is_dir():
            raise ModelError(f"registry {self.root} has no version {version!r} (has: {', '.join(self.versions()) or 'none'})")
        return path

    def current_dir(self) -> Path:
        version = self.current()
        if version is None:
            raise ModelError(f"registry {self.root} has no current model yet: promote one first")
        return self.path_of(version)

    def history(self) -> list[dict[str, Any]]:
        path = self.root / HISTORY
        if not path.exists():
            return []
        events = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue  # a torn last line after a crash: the pointer file is the truth
        return events

    def stack(self) -> list[str]:
        """Versions that were in service, oldest first, as promotions and rollbacks left them."""
        stack: list[str] = []
        for ev in self.history():
            if ev.get("action") in ("promote", "set"):
                stack.append(ev["to"])
            elif ev.get("action") == "rollback" and stack:
                stack.pop()
        return stack

    # -- writing
    def _log(self, event: dict[str, Any]) -> None:
        event = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **event}
        with open(self.root / HISTORY, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def install(self, model_dir: str | Path, version: str | None = None, *, trust: bool = False) -> str:
        """Copy a model directory into ``versions/`` (verified first; without ``checksums.json`` only with
        ``trust``, which writes them into the copy); returns its version name. Every file of the copy is
        fsynced before it is renamed into place."""
        src = Path(model_dir)
        config = read_config(src)
        verify_checksums(src, trust=trust)
        with self.locked():
            name = _SAFE.sub("_", version or str(config.get("model_version") or src.name)).strip("._") or "model"
            base, n = name, 1
            while (self.root / VERSIONS / name).exists():
                if _same_model(self.root / VERSIONS / name, src):
                    return name
                n += 1
                name = f"{base}-{n}"
            tmp = self.root / VERSIONS / f".{name}.installing"
            if tmp.exists():
                shutil.rmtree(tmp)
            shutil.copytree(src, tmp)
            trusted = not (tmp / "checksums.json").exists()
            if trusted:
                write_checksums(tmp)  # from now on the installed copy is verified like any other
            verify_checksums(tmp)  # the copy is what was verified
            fsync_tree(tmp)
            os.replace(tmp, self.root / VERSIONS / name)
            fsync_dir(self.root / VERSIONS)
            self._log({"action": "install", "version": name, "source": str(src), **({"trusted": True} if trusted else {})})
            return name

    def set_current(self, version: str, *, action: str = "set", **info: Any) -> None:
        """Make ``version`` current: the history line first (fsynced), then the pointer (atomic, fsynced)."""
        with self.locked():
            self.path_of(version)
            previous = self.current()
            self._log({"action": action, "from": previous, "to": version, **info})
            atomic_write(self.current_file, version + "\n")

    def promote(self, challenger_dir: str | Path, *, tolerance: float = 0.01, comparison: dict | None = None,
                force: bool = False, trust: bool = False) -> dict[str, Any]:
        """Install and make current, unless ``comparison`` (see ``compare``) shows a regression."""
        if comparison is not None and not comparison.get("ok", True) and not force:
            return {"promoted": False, "current": self.current(), "comparison": comparison,
                    "reason": "challenger regressed beyond the tolerance: " + "; ".join(comparison["regressions"])}
        with self.locked():
            version = self.install(challenger_dir, trust=trust)
            previous = self.current()
            if previous == version:
                return {"promoted": False, "current": version, "comparison": comparison,
                        "reason": f"{version} is already the current model"}
            self.set_current(version, action="promote", tolerance=tolerance,
                             forced=bool(force and comparison and not comparison.get("ok")),
                             regressions=(comparison or {}).get("regressions", []))
        return {"promoted": True, "current": version, "previous": previous, "comparison": comparison}

    def rollback(self) -> dict[str, Any]:
        with self.locked():
            stack = self.stack()
            current = self.current()
            if len(stack) < 2:
                raise InputError(f"registry {self.root}: nothing to roll back to (current: {current or 'none'})")
            target = stack[-2]
            self.path_of(target)
            self._log({"action": "rollback", "from": current, "to": target})
            atomic_write(self.current_file, target + "\n")
        return {"rolled_back": True, "from": current, "current": target}

    def last_good(self, exclude: str | None = None) -> str | None:
        """The newest version that was in service (by the history), other than ``exclude``, whose
        directory still reads and verifies; None when there is none."""
        seen = []
        for ev in reversed(self.history()):
            v = ev.get("to") if ev.get("action") in ("promote", "set", "rollback") else None
            if not v or v == exclude or v in seen:
                continue
            seen.append(v)
            path = self.root / VERSIONS / v
            try:
                read_config(path)
                verify_checksums(path)
            except ModelError as exc:
                log.error("registry %s: version %s is broken too: %s", self.root, v, exc)
                continue
            return v
        return None

    def describe(self) -> dict[str, Any]:
        return {"registry": str(self.root), "current": self.current(), "versions": self.versions(),
                "in_service_stack": self.stack()}


def _same_model(a: Path, b: Path) -> bool:
    fa, fb = a / "checksums.json", b / "checksums.json"
    try:
        return fa.read_bytes() == fb.read_bytes()
    except OSError:
        return False


def read_evaluation(challenger_dir: str | Path) -> dict[str, Any] | None:
    path = Path(challenger_dir) / EVALUATION_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ModelError(f"{path}: not valid JSON; re-run dispatch-nlp retrain") from None
