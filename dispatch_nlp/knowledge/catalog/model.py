"""The loaded catalog: :class:`Catalog` (lookup by code or path, migration of old codes, export).

``Catalog.load(path)`` reads and validates a YAML/JSON file (None: the shipped Beijing catalog) and
raises :class:`~dispatch_nlp.errors.CatalogError` listing every problem; ``Catalog.from_dict`` does the
same for parsed data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dispatch_nlp.errors import CatalogError
from dispatch_nlp.files import atomic_write
from dispatch_nlp.knowledge.catalog.analysis import Analysis, analyse
from dispatch_nlp.knowledge.catalog.common import suggest
from dispatch_nlp.knowledge.catalog.item import CatalogItem, UnitsLike
from dispatch_nlp.knowledge.catalog.migration import apply_migrations, version_key
from dispatch_nlp.knowledge.catalog.source import Source
from dispatch_nlp.resources import catalog_dir

DEFAULT_CATALOG = "beijing-12345.yaml"


class Catalog:
    """A loaded, validated catalog.  Build with :meth:`load` or :meth:`from_dict`."""

    def __init__(self, analysis: Analysis, source: str):
        meta = analysis.meta
        self.source = source
        self.id: str = meta["id"]
        self.version: str = meta["version"]
        self.name: str = meta["name"]
        self.response_level_rule: str | None = meta.get("rule")
        self.settings: dict[str, Any] = meta["settings"]
        self.response_levels: dict[str, dict[str, Any]] = meta["response_levels"]
        self.appeal_types: tuple[str, ...] = meta["appeal_types"]
        self.migrations: dict[str, dict[str, str | None]] = meta["migrations"]
        self.items: dict[str, CatalogItem] = dict(sorted(analysis.items.items()))
        self._children: dict[str | None, list[str]] = {}
        for code, item in self.items.items():
            self._children.setdefault(item.parent, []).append(code)
        self._by_path = {item.path: code for code, item in self.items.items()}
        self._fingerprint: str | None = None

    # -- construction
    @classmethod
    def load(cls, path: str | Path | None = None, *, units: UnitsLike | None = None) -> Catalog:
        """Load and validate a catalog file (YAML, or JSON by suffix); None = the shipped default.

        Raises :class:`~dispatch_nlp.errors.CatalogError` listing every problem when there is any.
        """
        if path is None:
            path = catalog_dir() / DEFAULT_CATALOG
        analysis, name, problems = analyse(Path(path), units)
        if problems or analysis is None:
            raise CatalogError(name, problems)
        return cls(analysis, name)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, units: UnitsLike | None = None, source: str = "<catalog data>"
    ) -> Catalog:
        """Build from already parsed data (the same shape as the file)."""
        analysis = Analysis(Source(data, source), units)
        analysis.run()
        if analysis.problems:
            raise CatalogError(source, analysis.problems)
        return cls(analysis, source)

    # -- lookup
    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, code: object) -> bool:
        return code in self.items

    def __repr__(self) -> str:
        return f"Catalog({self.id!r}, version={self.version!r}, items={len(self.items)}, leaves={len(self.leaves())})"

    def leaves(self) -> list[CatalogItem]:
        """The dispatchable items (no children), in code order."""
        return [item for item in self.items.values() if item.is_leaf]

    def get(self, code: str) -> CatalogItem:
        try:
            return self.items[code]
        except KeyError:
            hint = suggest(str(code), self.items)
            old = [v for v, m in self.migrations.items() if code in m]
            more = f"; it is a code of version {', '.join(old)}: use migrate({code!r}, {old[0]!r})" if old else ""
            raise KeyError(f"unknown catalog code {code!r} in {self.id} {self.version}{hint}{more}") from None

    def by_path(self, names: Sequence[str] | str) -> CatalogItem:
        """The item at a path of names (``["城乡建设", "安全生产", "事故处理"]`` or ``"城乡建设 > 安全生产"``)."""
        if isinstance(names, str):
            parts = tuple(p.strip() for p in re.split(r"\s*(?:>|->|/)\s*", names) if p.strip())
        else:
            parts = tuple(names)
        code = self._by_path.get(parts)
        if code is None:
            raise KeyError(f"no catalog item at path {' > '.join(parts)!r} in {self.id} {self.version}")
        return self.items[code]

    def children(self, code: str | None = None) -> list[CatalogItem]:
        """Direct children of ``code``, or the first-level items when ``code`` is None."""
        if code is not None:
            self.get(code)
        return [self.items[c] for c in self._children.get(code, [])]

    def deadline_hours(self, level: str) -> int:
        try:
            return int(self.response_levels[level]["deadline_hours"])
        except KeyError:
            raise KeyError(
                f"unknown response level {level!r}; this catalog has {', '.join(self.response_levels)}"
            ) from None

    def migrate(self, code: str, from_version: str) -> str | None:
        """The current code of ``code`` from catalog version ``from_version``; None if it was removed.

        Maps are applied in version order from ``from_version`` on; codes a map does not name are unchanged.
        """
        if from_version == self.version:
            return self.get(code).code
        if from_version not in self.migrations:
            known = ", ".join(sorted(self.migrations, key=version_key)) or "none"
            raise KeyError(
                f"no migration from version {from_version!r} in {self.id} {self.version} "
                f"(known previous versions: {known})"
            )
        result = self._apply_migrations(code, from_version)
        if result is not None and result not in self.items:
            raise KeyError(
                f"code {code!r} of version {from_version} is not in {self.id} {self.version} and its "
                f"migration map does not name it"
            )
        return result

    def _apply_migrations(self, code: str, from_version: str) -> str | None:
        return apply_migrations(self.migrations, code, from_version)

    # -- export
    def to_dict(self) -> dict[str, Any]:
        """Canonical nested form: every item carries its effective values explicitly (loads back equal)."""

        def node(code: str) -> dict[str, Any]:
            out = self.items[code].to_dict()
            kids = self._children.get(code)
            if kids:
                out["children"] = [node(c) for c in kids]
            return out

        return {
            "catalog": self.id,
            "version": self.version,
            "name": self.name,
            **({"response_level_rule": self.response_level_rule} if self.response_level_rule else {}),
            "response_levels": {k: dict(v) for k, v in self.response_levels.items()},
            "appeal_types": list(self.appeal_types),
            "settings": dict(self.settings),
            "previous_versions": [{"version": v, "migration": dict(m)} for v, m in self.migrations.items()],
            "categories": [node(c) for c in self._children.get(None, [])],
        }

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as YAML, or JSON when the suffix is ``.json``; returns the path."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() == ".json":
            text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        else:
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=None)
        atomic_write(path, text)
        return path

    def fingerprint(self) -> str:
        """Short sha256 of the canonical content: equal catalogs give equal fingerprints."""
        if self._fingerprint is None:
            blob = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            self._fingerprint = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
        return self._fingerprint
