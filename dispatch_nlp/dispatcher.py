"""``Dispatcher``: the one object users hold. It composes the stages from a model directory.

    from dispatch_nlp import Dispatcher
    d = Dispatcher.load()                      # the shipped default model
    decision = d.dispatch("市民反映：朝阳区望京街道某小区暖气不热")
    decisions = d.dispatch_batch(orders, batch_size=64)
    for decision in d.pipe(orders): ...       # lazily, in input order
    table = d.dispatch_dataset(ds, text_column="text")  # a datasets.Dataset with decision columns added
    rules_only = Dispatcher.load(disable=["classifier"])

A model directory holds ``config.json`` (which catalog, gazetteer and units registry it was built for,
which components run: ``components``, built by name from ``dispatch_nlp.pipeline.registry``; routing
thresholds), the trained files when there are any, and ``checksums.json``
(sha256 of every file, verified on load). Paths written ``catalog:NAME`` point into the shipped
``catalog/`` folder; any other path is relative to the model directory.

Profiles: a model trained with an encoder also carries a ``fast`` profile (the linear member and the
rules, with their own fusion, calibration and threshold, fitted on the same dev split) next to the
``full`` one (every member). ``Dispatcher.load(profile=...)`` picks one; without it the config's
``default_profile``, then ``full``. The library reads no environment variable: the commands and the
service read ``DISPATCH_NLP_PROFILE`` (``profile_from_env``) and pass it as ``profile``.

Environment variables are read at the edge (the CLI, the service settings, the Spark entry) by
``profile_from_env``, ``ort_spin_from_env`` and ``ort_threads_from_env`` and passed down as arguments.

Cascade: a profile whose classifier section declares ``cascade`` (``dispatch_nlp.components.cascade``)
runs its expensive members only on the orders another profile (``fast``) is unsure of; the orders it is
sure of are routed with that profile's route settings, so their decisions are exactly its decisions
(with the flag ``encoder_skipped``). ``Dispatcher.load(cascade=False)`` runs every member on every order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dispatch_nlp.components import cascade as cascade_config
from dispatch_nlp.components.preprocess import build_segmenter
from dispatch_nlp.errors import InputError, ModelError
from dispatch_nlp.files import atomic_write
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.knowledge.units import UnitsRegistry
from dispatch_nlp.pipeline import Component, Doc, timed
from dispatch_nlp.pipeline.registry import Resources, build_components, check_disable
from dispatch_nlp.resources import catalog_dir, default_model_dir
from dispatch_nlp.routing.router import Router, RouteSettings
from dispatch_nlp.routing.units_learned import load_unit_model
from dispatch_nlp.types import DispatchDecision, WorkOrder

__all__ = ["Dispatcher", "read_config", "apply_profile", "profiles_of", "verify_checksums", "write_checksums",
           "resource_refs", "RESOURCES_KEY",
           "resolve_resource", "build_segmenter", "profile_from_env", "ort_spin_from_env", "ort_threads_from_env", "check_batch_size"]

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
CHECKSUM_FILE = "checksums.json"
SUPPORTED_FORMAT = 1
FULL_PROFILE = "full"  # the config's own classifier and route sections: every member


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


RESOURCES_KEY = "resources"  # in checksums.json: {reference in config.json: sha256} of the catalog files used
DEFAULT_RESOURCES = {"units": "catalog:units-beijing.tsv", "catalog": "catalog:beijing-12345.yaml",
                     "gazetteer": "catalog:gazetteer-beijing.tsv", "places": "catalog:places-beijing.tsv"}


NO_RESOURCE = "none"  # a model without a gazetteer (or places table): ``resources.gazetteer = "none"``


def resource_refs(config: dict[str, Any]) -> list[str]:
    """The catalog files a model config uses (``catalog:NAME`` or paths relative to the model), as written."""
    res = config.get("resources") or {}
    return sorted({str(res.get(kind, default)) for kind, default in DEFAULT_RESOURCES.items()} - {NO_RESOURCE})


def verify_checksums(model_dir: Path, *, trust: bool = False) -> None:
    """Raise ``ModelError`` naming every file whose sha256 differs from ``checksums.json``: the model's own
    files and the catalog files its config uses (``resources``). A directory without ``checksums.json``
    is refused unless ``trust`` (then loaded with a warning)."""
    path = model_dir / CHECKSUM_FILE
    if not path.exists():
        if trust:
            log.warning("%s: no %s; loading it unverified because trust was given", model_dir, CHECKSUM_FILE)
            return
        raise ModelError(f"{model_dir}: no {CHECKSUM_FILE}, so the model cannot be verified; write it with "
                         "dispatch_nlp.dispatcher.write_checksums (train and retrain do) or pass --trust "
                         "(Dispatcher.load(trust=True)) to load it unverified")
    try:
        expected = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable checksum file ({exc.__class__.__name__}); re-export the model") from None
    if not isinstance(expected, dict):
        raise ModelError(f"{path}: expected a JSON object; re-export the model")
    resources = expected.pop(RESOURCES_KEY, None) if isinstance(expected.get(RESOURCES_KEY), dict) else None
    bad = []
    for name, digest in sorted(expected.items()):
        f = model_dir / name
        if not f.exists():
            bad.append(f"{name}: missing")
        elif sha256_file(f) != digest:
            bad.append(f"{name}: checksum mismatch (file changed or corrupt)")
    for ref, digest in sorted((resources or {}).items()):
        f = resolve_resource(model_dir, ref)
        if not f.is_file():
            bad.append(f"catalog file {ref} ({f}): missing")
        elif sha256_file(f) != digest:
            bad.append(f"catalog file {ref} ({f}): checksum mismatch (changed since the model was made: "
                       "restore it, or retrain/re-export the model against it)")
    if bad:
        raise ModelError(f"model directory {model_dir} failed verification: " + "; ".join(bad))
    if resources is None:
        log.warning("%s: %s records no catalog files (an older model); they are not verified", model_dir,
                    CHECKSUM_FILE)


def write_checksums(model_dir: Path) -> dict[str, Any]:
    """Record the sha256 of every file in a model directory (but the checksum file itself) and, under
    ``resources``, of every catalog file its ``config.json`` uses."""
    sums: dict[str, Any] = {
        str(p.relative_to(model_dir)): sha256_file(p)
        for p in sorted(model_dir.rglob("*"))
        if p.is_file() and p.name != CHECKSUM_FILE
    }
    try:
        config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None
    if isinstance(config, dict):
        refs = {ref: resolve_resource(model_dir, ref) for ref in resource_refs(config)}
        sums[RESOURCES_KEY] = {ref: sha256_file(f) for ref, f in refs.items() if f.is_file()}
    atomic_write(model_dir / CHECKSUM_FILE, json.dumps(sums, indent=2, ensure_ascii=False) + "\n")
    return sums


def resolve_resource(model_dir: Path, ref: str) -> Path:
    if ref.startswith("catalog:"):
        return catalog_dir() / ref[len("catalog:"):]
    return (model_dir / ref).resolve()


def read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CONFIG_FILE
    if not model_dir.is_dir():
        raise ModelError(f"model directory not found: {model_dir}")
    if not path.exists():
        raise ModelError(f"{model_dir} is not a model directory: it has no {CONFIG_FILE}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelError(f"{path}: expected a JSON object")
    fmt = config.get("format_version")
    if fmt != SUPPORTED_FORMAT:
        raise ModelError(f"{path}: format_version {fmt!r} is not supported (this library reads {SUPPORTED_FORMAT})")
    return config


def profiles_of(config: dict[str, Any]) -> list[str]:
    return [FULL_PROFILE] + sorted(config.get("profiles", {}))


def apply_profile(config: dict[str, Any], profile: str | None, model_dir: Path) -> tuple[dict[str, Any], str]:
    """The config as ``profile`` runs it: its ``classifier`` section replaces the config's, its ``route``
    keys override the config's. Returns (config, the profile's name)."""
    name = profile or config.get("default_profile") or FULL_PROFILE
    if name == FULL_PROFILE:
        return config, name
    section = config.get("profiles", {}).get(name)
    if not isinstance(section, dict):
        raise ModelError(f"{model_dir}: no profile {name!r} in this model (it has: {', '.join(profiles_of(config))})")
    out = dict(config)
    if "classifier" in section:
        out["classifier"] = section["classifier"]
    out["route"] = {**config.get("route", {}), **section.get("route", {})}
    return out, name


def reads_statements(config: dict[str, Any], disabled: set[str]) -> bool:
    """Whether a classifier member of ``config`` (as a profile runs it) reads the problem statement
    (``"input": "statement"`` or ``"fields"``): without one, the ``statement`` stage is not run (the
    fast profile of a model whose prototype member reads statements does not pay for them)."""
    from dispatch_nlp.components.classifier import MEMBER_TYPES, member_input

    section = config.get("classifier") or {}
    return "classifier" not in disabled and any(member_input(section[name]) != "text"
                                                for name in MEMBER_TYPES if name in section)


def profile_from_env(profile: str | None = None) -> str | None:
    """At the edge: ``profile`` when given, else ``DISPATCH_NLP_PROFILE`` (None when unset or empty)."""
    return profile or os.environ.get("DISPATCH_NLP_PROFILE") or None


def ort_threads_from_env() -> int | None:
    """At the edge: ``DISPATCH_NLP_THREADS``, the encoder member's ONNX Runtime threads (None: unset or 0)."""
    raw = os.environ.get("DISPATCH_NLP_THREADS", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InputError(f"DISPATCH_NLP_THREADS must be a whole number of threads, not {raw!r}")
    return int(raw) or None


def ort_spin_from_env() -> bool:
    """At the edge: whether ``DISPATCH_NLP_ORT_SPIN=1`` asks ONNX Runtime threads to busy-wait."""
    return os.environ.get("DISPATCH_NLP_ORT_SPIN", "0") == "1"


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` when it is an int of at least 1, else ``InputError``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be an integer of at least 1, not {batch_size!r}")
    return batch_size


def load_resources(model_dir: Path, config: dict[str, Any], *, user_places: str | Path | None = None,
                   ort_spin: bool = False, ort_threads: int | None = None) -> Resources:
    """The catalog, gazetteer and units registry a model config names (paths ``catalog:NAME`` or relative)."""
    res = {**DEFAULT_RESOURCES, **(config.get("resources") or {})}
    units = UnitsRegistry.load(resolve_resource(model_dir, res["units"]))
    catalog = Catalog.load(resolve_resource(model_dir, res["catalog"]), units=units)
    if res["gazetteer"] == NO_RESOURCE:
        # A model trained without a gazetteer (e.g. another city's labels): no place is named from text.
        gazetteer = Gazetteer([], source=NO_RESOURCE)
    else:
        gazetteer = Gazetteer.load(
            resolve_resource(model_dir, res["gazetteer"]),
            places=False if res["places"] == NO_RESOURCE else resolve_resource(model_dir, res["places"]),
            user_places=user_places,
        )
    return Resources(catalog=catalog, gazetteer=gazetteer, units=units, model_dir=model_dir, ort_spin=ort_spin,
                     ort_threads=ort_threads)


class Dispatcher:
    """Routes work orders. Build it with ``Dispatcher.load(model_dir)``; it is safe to share between threads.

    The constructor takes built parts; ``with_components(stages)`` is the supported way to run the same
    model with other components (benchmarks swap the classifier's members this way)."""

    def __init__(self, *, catalog: Catalog, gazetteer: Gazetteer, units: UnitsRegistry, stages: Sequence[Component],
                 router: Router, model_dir: Path, config: dict, profile: str = FULL_PROFILE,
                 profile_routers: dict[str, Router] | None = None):
        self.profile = profile
        # profile -> the router of the orders whose classifier evidence that profile kept (the cascade)
        self.profile_routers = dict(profile_routers or {})
        self.catalog = catalog
        self.gazetteer = gazetteer
        self.units = units
        self.stages = list(stages)
        self.router = router
        self.model_dir = model_dir
        self.config = config

    @property
    def model_version(self) -> str | None:
        return self.config.get("model_version")

    @property
    def catalog_version(self) -> str:
        return self.catalog.version

    @classmethod
    def load(cls, model_dir: str | Path | None = None, *, cut_trails: bool | None = None,
             user_places: str | Path | None = None, profile: str | None = None,
             disable: Iterable[str] | None = None, ort_spin: bool = False,
             ort_threads: int | None = None, trust: bool = False, cascade: bool = True) -> Dispatcher:
        """Load a model directory (None = the shipped default). ``cut_trails`` overrides the config's
        normalization setting (on for history, off on the hot path); ``user_places`` is a table of
        compounds, roads and landmarks merged into the gazetteer; ``profile`` picks which members
        run (``fast`` or ``full``, see the module docstring); ``disable`` names components of the
        config's ``components`` list to leave out (``InputError`` for a name no component has);
        ``ort_spin`` lets the encoder member's ONNX Runtime threads busy-wait; ``ort_threads`` sets how
        many it uses (None: the cores, at most 4); ``trust`` loads a directory without
        ``checksums.json`` (refused otherwise); ``cascade=False`` turns a profile's classifier cascade off
        (every member on every order, as a model without one)."""
        t0 = time.perf_counter()
        skip = check_disable(disable)
        mdir = Path(model_dir) if model_dir is not None else default_model_dir()
        config, profile = apply_profile(read_config(mdir), profile, mdir)
        if not reads_statements(config, skip):  # the statement stage only feeds members that read it
            skip = skip | {"statement"}
        verify_checksums(mdir, trust=trust)
        resources = load_resources(mdir, config, user_places=user_places, ort_spin=ort_spin,
                                   ort_threads=ort_threads)
        overrides = {"normalize": {"cut_trails": cut_trails}} if cut_trails is not None else {}
        run_config, fast_route = cascade_config.resolve(config, mdir, enabled=cascade and "classifier" not in skip)
        stages = build_components(run_config, resources, disable=skip, overrides=overrides)
        catalog, gazetteer, units = resources.catalog, resources.gazetteer, resources.units
        settings = RouteSettings.from_dict({**catalog.settings, **config.get("route", {})})
        unit_model = load_unit_model(mdir, config.get("units"))
        router = Router(catalog, gazetteer, units, settings, model_version=config.get("model_version"),
                        unit_model=unit_model)
        profile_routers = {}
        if fast_route is not None:
            fast_name = run_config["classifier"][cascade_config.CASCADE_KEY].get("profile", "fast")
            profile_routers[fast_name] = Router(catalog, gazetteer, units,
                                                RouteSettings.from_dict({**catalog.settings, **fast_route}),
                                                model_version=config.get("model_version"), unit_model=unit_model)
        log.info("loaded model %s (profile %s, catalog %s) in %.0f ms", config.get("model_version"), profile,
                 catalog.version, (time.perf_counter() - t0) * 1000)
        return cls(catalog=catalog, gazetteer=gazetteer, units=units, stages=stages, router=router,
                   model_dir=mdir, config=config, profile=profile, profile_routers=profile_routers)

    def with_components(self, stages: Sequence[Component]) -> Dispatcher:
        """The same model (catalog, gazetteer, router, config) running ``stages`` instead."""
        return type(self)(catalog=self.catalog, gazetteer=self.gazetteer, units=self.units, stages=stages,
                          router=self.router, model_dir=self.model_dir, config=self.config, profile=self.profile,
                          profile_routers=self.profile_routers)

    def router_for(self, doc: Doc) -> Router:
        """The router of ``doc``: the profile's own, or, for an order whose classifier evidence the
        cascade's fast profile kept, that profile's (its thresholds and calibration)."""
        kept = getattr(doc.classifier, "profile", None) if self.profile_routers else None
        return self.profile_routers.get(kept, self.router) if kept is not None else self.router

    def dispatch(self, order: WorkOrder | str | dict) -> DispatchDecision:
        """Route one order (a ``WorkOrder``, a plain string or a dict with ``text``)."""
        return self.dispatch_batch([order], batch_size=1)[0]

    def dispatch_batch(self, orders: Iterable[WorkOrder | str | dict], batch_size: int = 64) -> list[DispatchDecision]:
        """Route many orders; decisions come back in input order. Raises ``TypeError`` for an order
        that is not text (the batch engine catches it per row), before routing any, and ``InputError``
        for a ``batch_size`` that is not an integer of at least 1."""
        check_batch_size(batch_size)
        docs = [Doc.from_order(WorkOrder.coerce(o)) for o in orders]
        decisions: list[DispatchDecision] = []
        for i in range(0, len(docs), batch_size):
            decisions.extend(self._run(docs[i: i + batch_size], batch_size))
        return decisions

    def pipe(self, orders: Iterable[WorkOrder | str | dict], batch_size: int = 64) -> Iterator[DispatchDecision]:
        """Route a stream of orders lazily: read ``batch_size`` orders, yield their decisions in input
        order, read the next ones. A non-text order raises ``TypeError`` when its batch is read."""
        check_batch_size(batch_size)
        batch: list[Doc] = []
        for order in orders:
            batch.append(Doc.from_order(WorkOrder.coerce(order)))
            if len(batch) == batch_size:
                yield from self._run(batch, batch_size)
                batch = []
        if batch:
            yield from self._run(batch, batch_size)

    def dispatch_dataset(self, ds: Any, *, text_column: str, title_column: str | None = None,
                         id_column: str | None = None, batch_size: int = 64, **kwargs: Any) -> Any:
        """A ``datasets.Dataset`` with decision columns added (route, confidence, category, appeal type,
        district/street codes, unit, flags, ...): ``dispatch_nlp.batch.hf_dataset.dispatch_dataset``,
        which needs ``pip install 'dispatch-nlp[datasets]'``."""
        from dispatch_nlp.batch.hf_dataset import dispatch_dataset

        return dispatch_dataset(self, ds, text_column=text_column, title_column=title_column, id_column=id_column,
                                batch_size=batch_size, **kwargs)

    def _run(self, docs: list[Doc], batch_size: int) -> list[DispatchDecision]:
        t0 = time.perf_counter()
        for stage in self.stages:
            docs = timed(stage, docs, batch_size)
        out = []
        for doc in docs:
            t1 = time.perf_counter()
            decision = self.router_for(doc).decide(doc)
            decision.timings_ms["route"] = round((time.perf_counter() - t1) * 1000, 4)
            out.append(decision)
        total = (time.perf_counter() - t0) * 1000 / max(len(docs), 1)
        for decision in out:
            decision.timings_ms["total"] = round(total, 4)
        return out

    def info(self) -> dict[str, Any]:
        """Model, catalog and schema versions (what ``GET /v1/model`` and ``--version`` report)."""
        from dispatch_nlp.types import SCHEMA_VERSION

        return {
            "model_dir": str(self.model_dir),
            "model_version": self.model_version,
            "catalog": self.catalog.id,
            "catalog_version": self.catalog.version,
            "profile": self.profile,
            "profiles": profiles_of(self.config),
            "schema_version": SCHEMA_VERSION,
            "stages": [s.name for s in self.stages],
        }
