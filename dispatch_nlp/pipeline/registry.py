"""Component factories by name: how a model's ``config.json`` becomes a list of components.

``@register_component("rules")`` registers ``factory(section, resources) -> Component``: ``section``
is the model config's section of that name (``config["rules"]``, ``{}`` when absent) and
``resources`` the shared ``Resources`` (catalog, gazetteer, units registry, model directory, runtime
options). ``build_components(config, resources, names=..., disable=...)`` builds them in order;
``component_names(config)`` is the declared list (``config["components"]``) or, for models written
before the key existed, the list those models always ran.

The built-in factories (normalize, mask, segment, rules, jurisdiction, classifier) are registered by
``dispatch_nlp.components.factories``, loaded on the first lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch_nlp.errors import InputError, ModelError
from dispatch_nlp.pipeline.component import Component

__all__ = ["Resources", "ComponentFactory", "register_component", "registered_components", "get_factory",
           "component_names", "build_components", "check_disable", "DEFAULT_COMPONENTS", "TEXT_COMPONENTS"]

# What a model without a "components" key runs (the classifier only when it has a classifier section).
DEFAULT_COMPONENTS = ("normalize", "mask", "segment", "rules", "jurisdiction")
# The components that change ``doc.text``: what training runs to prepare the text a member reads.
TEXT_COMPONENTS = ("normalize", "mask")
_BUILTINS = "dispatch_nlp.components.factories"


@dataclass(frozen=True)
class Resources:
    """What every factory may use besides its own config section."""

    catalog: Any
    gazetteer: Any
    units: Any = None
    model_dir: Path | None = None
    ort_spin: bool = False  # let ONNX Runtime threads busy-wait between runs (encoder member)
    ort_threads: int | None = None  # ONNX Runtime intra-op threads (None: the cores, at most 4)


ComponentFactory = Callable[[Mapping[str, Any], Resources], Component]
_FACTORIES: dict[str, ComponentFactory] = {}


def register_component(name: str) -> Callable[[ComponentFactory], ComponentFactory]:
    """Decorator: register ``factory`` under ``name`` (a later registration replaces an earlier one)."""
    def deco(factory: ComponentFactory) -> ComponentFactory:
        _FACTORIES[name] = factory
        return factory
    return deco


def _load_builtins() -> None:
    # The built-in factories import the components, which import this package: load them on first use.
    importlib.import_module(_BUILTINS)


def registered_components() -> list[str]:
    _load_builtins()
    return sorted(_FACTORIES)


def get_factory(name: str) -> ComponentFactory:
    _load_builtins()
    try:
        return _FACTORIES[name]
    except KeyError:
        raise ModelError(f"unknown pipeline component {name!r} (registered: {', '.join(sorted(_FACTORIES))})") from None


def component_names(config: Mapping[str, Any]) -> list[str]:
    """The model's components in order: ``config["components"]``, else the pre-declaration default."""
    names = config.get("components")
    if names is None:
        return [*DEFAULT_COMPONENTS, *(["classifier"] if config.get("classifier") else [])]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelError(f"config.json: components must be a list of names, not {names!r}")
    if len(set(names)) != len(names):
        raise ModelError(f"config.json: components lists a name twice: {names}")
    for name in names:
        get_factory(name)
    return list(names)


def check_disable(disable: Iterable[str] | str | None) -> set[str]:
    """The names to leave out; each must be a registered component (else ``InputError``)."""
    if disable is None:
        return set()
    names = {disable} if isinstance(disable, str) else set(disable)
    known = registered_components()
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise InputError(f"disable: unknown component(s) {', '.join(map(repr, unknown))} "
                         f"(components: {', '.join(known)})")
    return names


def build_components(config: Mapping[str, Any], resources: Resources, *, names: Iterable[str] | None = None,
                     disable: Iterable[str] | str | None = None,
                     overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[Component]:
    """Build ``names`` (default: ``component_names(config)``) minus ``disable``, in order, each from its
    config section updated with ``overrides[name]``."""
    skip = check_disable(disable)
    overrides = overrides or {}
    out: list[Component] = []
    for name in (component_names(config) if names is None else list(names)):
        if name in skip:
            continue
        section = config.get(name) or {}
        if not isinstance(section, Mapping):
            raise ModelError(f"config.json: section {name!r} must be an object")
        out.append(get_factory(name)({**section, **overrides.get(name, {})}, resources))
    return out
