"""The model in service: ``ModelHolder`` keeps the dispatcher and replaces it on reload; ``Watcher``
polls the registry's ``current`` pointer and asks the holder to reload when it changes.

Broken models: when the registry's current model does not load at start-up, the holder serves the
newest earlier version that still verifies (``Registry.last_good``), logs an error and reports the
fallback in ``last_reload`` (so ``/v1/health`` shows it, status ``degraded``). The watcher retries a
model that failed with exponential backoff (``interval × 2^failures``, capped by the settings'
``watch_backoff_max_s``), at once when the pointer changes, instead of re-hashing it every poll.

A request takes the dispatcher it finds in the holder once and uses it to the end, so a reload (a
new model loaded in the background, then one reference swapped) never touches a request in flight.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dispatch_nlp.dispatcher import Dispatcher
from dispatch_nlp.errors import InputError, ModelError
from dispatch_nlp.lifecycle.registry import Registry
from dispatch_nlp.resources import default_model_dir
from dispatch_nlp.service.metrics import Metrics
from dispatch_nlp.service.settings import ServiceSettings
from dispatch_nlp.text.pii import mask_text

log = logging.getLogger("dispatch_nlp.service")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def settle_heap() -> None:
    """Free what an earlier model left, then move every object alive now (the model: its vocabularies,
    gazetteer, catalog) out of the garbage collector's reach (``gc.freeze``). Without this, each full
    collection walks the whole model: 30–70 ms with the shipped one, a pause every few seconds under
    load, the requests in flight waiting it out."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelHolder:
    """The dispatcher in service, and how to replace it."""

    def __init__(self, settings: ServiceSettings, metrics: Metrics, dispatcher: Any = None):
        self.settings = settings
        self.metrics = metrics
        self._reload_lock = threading.Lock()
        self.reloading = False
        self.last_reload: dict[str, Any] | None = None
        self.fallback: dict[str, Any] | None = None  # set while serving an earlier version than current
        self.dispatcher = dispatcher if dispatcher is not None else self._load_at_start()
        self.loaded_at = _now()
        self._publish()

    def source(self) -> Path:
        if self.settings.registry:
            return Registry(self.settings.registry, create=False).current_dir()
        if self.settings.model_dir:
            return Path(self.settings.model_dir)
        return default_model_dir()

    def pointer(self) -> str | None:
        """The registry's current version (None without a registry)."""
        if not self.settings.registry:
            return None
        return Registry(self.settings.registry, create=False).current()

    def _load(self, model_dir: Path | None) -> Dispatcher:
        return Dispatcher.load(model_dir, profile=self.settings.profile, ort_spin=self.settings.ort_spin,
                               ort_threads=self.settings.ort_threads, trust=self.settings.trust)

    def _load_at_start(self) -> Dispatcher:
        try:
            return self._load(self.source())
        except (ModelError, InputError) as exc:
            if not self.settings.registry:
                raise
            registry = Registry(self.settings.registry, create=False)
            broken = registry.current()
            good = registry.last_good(exclude=broken)
            if good is None:
                raise ModelError(f"registry {registry.root}: the current model {broken} does not load ({exc}) and "
                                 "no earlier version in its history verifies") from None
            error = mask_text(f"{type(exc).__name__}: {exc}")
            log.error("REGISTRY CURRENT MODEL %s IS BROKEN (%s); serving the last good version %s instead: "
                      "fix it, promote another or roll back", broken, error, good)
            dispatcher = self._load(registry.path_of(good))
            self.fallback = {"broken_version": broken, "serving_version": good, "error": error}
            self.metrics.reload(False)
            self.last_reload = {"time": _now(), "ok": False, "fallback": self.fallback, "error": error}
            return dispatcher

    def _publish(self) -> None:
        d = self.dispatcher
        self.metrics.model_info = (str(d.model_version), str(d.catalog_version))
        settle_heap()


    def reload(self, *, wait: bool = True, force: bool = False) -> dict[str, Any]:
        """Load the configured source in the background and swap it in. Returns at once with
        ``loading`` unless ``wait``; ``unchanged`` when the source is the model already in service."""
        if not self._reload_lock.acquire(blocking=False):
            return {"status": "loading"}
        try:
            source = self.source()
        except (ModelError, InputError) as exc:
            self._reload_lock.release()
            self._failed(exc)
            return {"status": "failed", "error": str(exc)}
        current = self.dispatcher
        if not force and source is not None and _same_dir(source, current.model_dir):
            self._reload_lock.release()
            return {"status": "unchanged", "model_version": current.model_version, "model_dir": str(source)}
        self.reloading = True
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                t0 = time.perf_counter()
                new = self._load(source)
                self.dispatcher = new  # the swap: one reference assignment
                self.fallback = None
                self.loaded_at = _now()
                self._publish()
                self.metrics.reload(True)
                result.update(status="reloaded", model_version=new.model_version, model_dir=str(new.model_dir))
                self.last_reload = {"time": self.loaded_at, "ok": True, "model_version": new.model_version,
                                    "model_dir": str(new.model_dir),
                                    "seconds": round(time.perf_counter() - t0, 2)}
                log.warning("model reloaded: %s from %s", new.model_version, new.model_dir)
            except Exception as exc:  # noqa: BLE001 - a boundary: keep serving the old model; logged with its type
                self._failed(exc)
                result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                self.reloading = False
                self._reload_lock.release()

        thread = threading.Thread(target=work, name="model-reload", daemon=True)
        thread.start()
        if not wait:
            return {"status": "loading", "model_dir": str(source)}
        thread.join()
        return result

    def _failed(self, exc: Exception) -> None:
        self.metrics.reload(False)
        self.last_reload = {"time": _now(), "ok": False, "error": mask_text(f"{type(exc).__name__}: {exc}"),
                            **({"fallback": self.fallback} if self.fallback else {})}
        log.error("model reload failed; still serving %s: %s: %s", self.dispatcher.model_version,
                  type(exc).__name__, exc)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


class Watcher(threading.Thread):
    """Polls the registry's ``current`` pointer and reloads when it names another version. A version
    that failed to load is retried after ``retry_delay(failures)`` seconds (or at once when the pointer
    changes), not at every poll."""

    def __init__(self, holder: ModelHolder, interval: float, *, max_delay: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(name="registry-watch", daemon=True)
        self.holder, self.interval, self.clock = holder, interval, clock
        self.max_delay = max_delay if max_delay is not None else holder.settings.watch_backoff_max_s
        self.stop = threading.Event()
        self.failures = 0
        self._failed_pointer: str | None = None
        self._retry_at = 0.0

    def retry_delay(self, failures: int) -> float:
        """Seconds before retrying a version that failed ``failures`` times in a row."""
        return float(min(self.interval * 2 ** failures, max(self.max_delay, self.interval)))

    def poll(self) -> bool:
        """One look at the pointer; returns whether a reload was tried."""
        now = self.clock()
        pointer = self.holder.pointer()
        if self.failures and pointer == self._failed_pointer and now < self._retry_at:
            return False
        result = self.holder.reload(wait=True)
        if result.get("status") == "failed":
            self.failures = self.failures + 1 if pointer == self._failed_pointer else 1
            self._failed_pointer = pointer
            delay = self.retry_delay(self.failures)
            self._retry_at = now + delay
            log.error("registry watch: version %s failed to load (%d time(s) in a row); next try in %.0f s, or "
                      "when the current pointer changes", pointer, self.failures, delay)
        elif result.get("status") != "loading":
            self.failures, self._failed_pointer = 0, None
        return True

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - a boundary: the watch goes on; logged with its type
                log.error("registry watch: %s: %s", type(exc).__name__, exc)
