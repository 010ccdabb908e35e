"""What a service instance is told at start: ``ServiceSettings`` (model source, corrections store,
limits, admin token, registry watching, profile). Built by the CLI from its flags and environment;
nothing below the service reads the environment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ServiceSettings:
    model_dir: str | None = None  # None (and no registry): the shipped default model
    registry: str | None = None  # serve the registry's current model (and follow it)
    corrections: str | None = None  # SQLite path or SQLAlchemy URL; None: corrections disabled (503)
    max_body_bytes: int = 1_000_000
    max_batch: int = 256
    admin_token: str | None = None
    watch_interval_s: float = 0.0  # > 0: poll the registry's current pointer and reload on change
    profile: str | None = None  # fast / full (None: the model's default profile)
    ort_spin: bool = False  # let the encoder's ONNX Runtime threads busy-wait (the CLI reads DISPATCH_NLP_ORT_SPIN)
    ort_threads: int | None = None  # the encoder's ONNX Runtime threads (the CLI reads DISPATCH_NLP_THREADS)
