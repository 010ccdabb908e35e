"""Migrations between catalog versions: ``previous_versions`` maps each old version's codes to new ones.

``check_migrations`` reads and checks the ``previous_versions`` list and returns version → {old code →
new code or None (removed)}; ``apply_migrations`` follows one code through the maps in version order;
``version_key`` orders version strings (``2026.9`` before ``2026.10``).
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from typing import Any

from dispatch_nlp.knowledge.catalog.common import CODE_RE, Report
from dispatch_nlp.knowledge.catalog.source import Source

Migrations = dict[str, dict[str, str | None]]  # version → {old code → new code, None: removed}


def version_key(version: str) -> tuple:
    """A sort key for version strings: numeric parts compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[^0-9A-Za-z]+", version) if p)


def check_migrations(previous: Any, src: Source, version: str, codes: Container[str], report: Report) -> Migrations:
    """The checked maps of ``previous`` (the ``previous_versions`` value of catalog ``version`` read from
    ``src``); every target must be one of ``codes`` or named by the next version's map."""
    name = src.name
    migrations: Migrations = {}
    if previous is None:
        return migrations
    if not isinstance(previous, list):
        report(f"{name}: 'previous_versions' must be a list of {{version, migration}}")
        return migrations
    for entry in previous:
        where = src.where(entry)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("version"), str):
            report(f"{name}{where}: each previous_versions entry needs a quoted 'version' and a 'migration' map")
            continue
        old_version = entry["version"]
        if old_version == version:
            report(f"{name}{where}: previous version {old_version} is the catalog's own version")
        if old_version in migrations:
            report(f"{name}{where}: previous version {old_version} is listed twice; merge the maps")
            continue
        mapping = entry.get("migration") or {}
        if not isinstance(mapping, Mapping):
            report(f"{name}{where}: migration of {old_version} must map old code → new code or null")
            continue
        migrations[old_version] = _check_map(mapping, f"{name}{where}: migration {old_version}", report)
    ordered = sorted(migrations, key=version_key)
    for i, old_version in enumerate(ordered):
        later = migrations[ordered[i + 1]] if i + 1 < len(ordered) else None
        for old, new in migrations[old_version].items():
            if new is None or new in codes or (later is not None and new in later):
                continue
            report(
                f"{name}: migration {old_version}: {old} → {new}: target {new} is not in the catalog; "
                f"map it to an existing code or to null if the item was removed"
            )
    return migrations


def _check_map(mapping: Mapping, where: str, report: Report) -> dict[str, str | None]:
    """The entries of one version's map whose old and new codes are well formed."""
    clean: dict[str, str | None] = {}
    for old, new in mapping.items():
        if not isinstance(old, str) or not CODE_RE.match(old):
            report(f"{where}: old code {old!r} is not a quoted code of two digits per level")
            continue
        if new is not None and (not isinstance(new, str) or not CODE_RE.match(new)):
            report(f"{where}: {old} → {new!r}: the target must be a quoted code or null (removed)")
            continue
        clean[old] = new
    return clean


def apply_migrations(migrations: Migrations, code: str, from_version: str) -> str | None:
    """The code ``code`` of ``from_version`` becomes after every map from that version on (None: removed)."""
    ordered = sorted(migrations, key=version_key)
    current: str | None = code
    for version in ordered[ordered.index(from_version) :]:
        mapping = migrations[version]
        if current in mapping:
            current = mapping[current]
        if current is None:
            return None
    return current
