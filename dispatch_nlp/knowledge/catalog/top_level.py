"""Checks of a catalog's top level: known fields, version and id, response levels, appeal types, settings.

``check_top_level(data, name, report)`` reports every problem through ``report`` and returns the
catalog's metadata: ``version``, ``id``, ``name``, ``rule`` (the response-level rule text),
``response_levels`` (level → ``{deadline_hours, name}``), ``appeal_types`` and ``settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch_nlp.knowledge.catalog.common import Report, str_list, suggest
from dispatch_nlp.knowledge.vocabulary import APPEAL_TYPES, RESPONSE_LEVEL_HOURS, TERRITORIAL_DISPATCH

TOP_FIELDS = frozenset(
    "catalog version name response_level_rule response_levels appeal_types settings previous_versions "
    "categories items".split()
)


def check_top_level(data: Mapping, name: str, report: Report) -> dict[str, Any]:
    """The metadata of catalog ``data`` (read from ``name``), each problem reported once."""
    for key in data:
        if key not in TOP_FIELDS:
            report(f"{name}: unknown top-level field {key!r}{suggest(str(key), TOP_FIELDS)}")
    meta: dict[str, Any] = {}
    version = data.get("version")
    if version is None or version == "":
        report(f"{name}: missing 'version'; add e.g. version: \"2026.11\" (quoted)")
    elif not isinstance(version, str):
        report(
            f"{name}: version {version!r} is a {type(version).__name__}; quote it "
            f'(version: "{version}") so 2026.10 does not become 2026.1'
        )
    meta["version"] = str(version) if version is not None else ""
    cat_id = data.get("catalog")
    if cat_id is not None and not isinstance(cat_id, str):
        report(f"{name}: 'catalog' (the catalog id) must be a string")
    meta["id"] = str(cat_id) if cat_id else Path(name).stem
    meta["name"] = str(data.get("name") or meta["id"])
    meta["rule"] = data.get("response_level_rule")
    meta["response_levels"] = _response_levels(data.get("response_levels"), name, report)
    meta["appeal_types"] = _appeal_types(data.get("appeal_types", list(APPEAL_TYPES)), name, report)
    meta["settings"] = _settings(data.get("settings") or {}, name, report)
    return meta


def _response_levels(levels: Any, name: str, report: Report) -> dict[str, dict[str, Any]]:
    """Level → ``{deadline_hours, name}``; the vocabulary's levels when the catalog names none."""
    resolved: dict[str, dict[str, Any]] = {}
    if levels is None:
        return {k: {"deadline_hours": h, "name": k} for k, h in RESPONSE_LEVEL_HOURS.items()}
    if not isinstance(levels, Mapping):
        report(f"{name}: 'response_levels' must map level → {{deadline_hours, name}}")
        return resolved
    for key, spec in levels.items():
        if key not in RESPONSE_LEVEL_HOURS:
            report(
                f"{name}: unknown response level {key!r} in response_levels; use one of "
                f"{', '.join(RESPONSE_LEVEL_HOURS)}{suggest(str(key), RESPONSE_LEVEL_HOURS)}"
            )
            continue
        hours = spec.get("deadline_hours") if isinstance(spec, Mapping) else None
        if hours != RESPONSE_LEVEL_HOURS[key]:
            report(f"{name}: response level {key} must have deadline_hours: {RESPONSE_LEVEL_HOURS[key]} (got {hours!r})")
        label = spec.get("name", key) if isinstance(spec, Mapping) else key
        resolved[key] = {"deadline_hours": RESPONSE_LEVEL_HOURS[key], "name": str(label)}
    return resolved


def _appeal_types(appeal: Any, name: str, report: Report) -> tuple[str, ...]:
    """The catalog's appeal types that are in the vocabulary."""
    appeal_list = str_list(appeal)
    if appeal_list is None:
        report(f"{name}: 'appeal_types' must be a list of strings")
        appeal_list = list(APPEAL_TYPES)
    for a in appeal_list:
        if a not in APPEAL_TYPES:
            report(f"{name}: unknown appeal type {a!r}; use only {', '.join(APPEAL_TYPES)}")
    return tuple(a for a in appeal_list if a in APPEAL_TYPES)


def _settings(settings: Any, name: str, report: Report) -> dict[str, Any]:
    """The settings mapping with ``territorial_dispatch`` filled in (default ``street``)."""
    if not isinstance(settings, Mapping):
        report(f"{name}: 'settings' must be a mapping")
        settings = {}
    td = settings.get("territorial_dispatch", "street")
    if td not in TERRITORIAL_DISPATCH:
        report(f"{name}: settings.territorial_dispatch is {td!r}; use 'street' or 'district_subcentre'")
    return {**dict(settings), "territorial_dispatch": td}
