"""What a service instance is told at start: ``ServiceSettings`` (model source, corrections store,
limits, API keys and write rate, registry watching, profile). Built by the CLI from its flags and
environment; nothing below the service reads the environment (except ``settings_from_env``, which a
worker process of ``serve --workers N`` calls once to get the settings its parent was given)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

SETTINGS_ENV = "DISPATCH_NLP_SERVE_SETTINGS"  # the settings as JSON, from the parent to its worker processes


@dataclass
class ServiceSettings:
    model_dir: str | None = None  # None (and no registry): the shipped default model
    registry: str | None = None  # serve the registry's current model (and follow it)
    corrections: str | None = None  # SQLite path or SQLAlchemy URL; None: corrections disabled (503)
    db_busy_timeout_s: float = 2.0  # a write waits this long for a locked database, then 503 + Retry-After
    correction_future_skew_s: float = 300.0  # corrected_at may be this far ahead of the server's clock
    max_body_bytes: int = 1_000_000
    max_batch: int = 256
    keys_file: str | None = None  # API keys (service.keys); None and not no_auth: every protected route is 401
    no_auth: bool = False  # every request is admin (the CLI allows it on a loopback bind only)
    write_rate_per_s: float = 10.0  # per key: corrections and reloads a second (token bucket; <= 0: no limit)
    write_burst: int = 100  # per key: writes allowed at once before the rate applies
    watch_interval_s: float = 0.0  # > 0: poll the registry's current pointer and reload on change
    profile: str | None = None  # fast / full (None: the model's default profile)
    ort_spin: bool = False  # let the encoder's ONNX Runtime threads busy-wait (the CLI reads DISPATCH_NLP_ORT_SPIN)
    ort_threads: int | None = None  # the encoder's ONNX Runtime threads (the CLI reads DISPATCH_NLP_THREADS)
    trust: bool = False  # load a model directory without checksums.json (serve --trust)
    watch_backoff_max_s: float = 300.0  # the longest wait before the watcher retries a model that failed to load
    # POST /v1/dispatch micro-batching (service.batcher): concurrent requests run as one dispatch_batch call
    batch_max: int = 32  # orders in one batch call (0: no batching, each request dispatched on its own)
    # The oldest queued order waits at most this long for the batch to fill. 0 (greedy): a batch is what
    # queued while the worker ran the last one; a delay only adds to a lone request (2 ms: 1 client p50 +3 ms).
    batch_delay_ms: float = 0.0
    queue_max: int = 256  # orders waiting at most; over it the answer is 503 with Retry-After
    # A dispatch request is answered within this long of its arrival: its decision, or 503 + Retry-After at
    # the deadline; and one that the queue ahead of it (at the measured batch rate) would make miss it is
    # refused at once. 2 s, not 10: the caller is an intake screen with an operator on the phone, for whom a
    # routing suggestion later than a couple of seconds is worth less than a fast 503 that lets the intake
    # system route by hand or retry; and it bounds what the queue holds over saturation (normal p99 is
    # tens of milliseconds). The CLI's --request-timeout-s sets it.
    request_timeout_s: float = 2.0
    retry_after_s: float = 1.0  # the Retry-After of those 503s
    # Admission: POST /v1/dispatch requests being handled at once (counted from their arrival, before the
    # body is read); one more is answered 503 + Retry-After at once instead of queueing (0: no limit).
    max_in_flight: int = 64
    # Processes serving the one listening socket (serve --workers N). Each has its own model, batcher,
    # admission limit and write budget (write_rate_per_s / workers, so the server never exceeds it).
    workers: int = 1
    metrics_dir: str | None = None  # workers > 1: where each worker leaves its counters for /metrics to sum


def settings_to_env(settings: ServiceSettings) -> str:
    """The settings as the JSON ``settings_from_env`` reads (``SETTINGS_ENV``)."""
    return json.dumps(asdict(settings))


def settings_from_env(environ: dict[str, str] | None = None) -> ServiceSettings:
    """The settings a parent process put in ``SETTINGS_ENV`` (unknown keys are ignored)."""
    raw = (os.environ if environ is None else environ).get(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: start workers with dispatch-nlp serve --workers N")
    data = json.loads(raw)
    known = {f.name for f in fields(ServiceSettings)}
    return ServiceSettings(**{k: v for k, v in data.items() if k in known})
