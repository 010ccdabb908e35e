"""What changed between two versions of a catalog: ``diff(old, new)`` returns a JSON-ready mapping with
the lists ``added``, ``removed``, ``renamed`` and ``moved`` (and which catalogs were compared).
"""

from __future__ import annotations

from typing import Any

from dispatch_nlp.knowledge.catalog.item import CatalogItem
from dispatch_nlp.knowledge.catalog.model import Catalog


def diff(old: Catalog, new: Catalog) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: lists ``added``, ``removed``, ``renamed`` and ``moved``.

    ``moved`` holds items whose parent changed under the same code, and old codes that the new catalog's
    migration map (for the old catalog's version) sends to a different code.  Paths are name lists joined
    by `` > ``.
    """

    def path(item: CatalogItem) -> str:
        return " > ".join(item.path)

    mapped: dict[str, str | None] = {}
    if old.version in new.migrations:
        for code in old.items:
            target = new._apply_migrations(code, old.version)
            if target != code:
                mapped[code] = target
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    renamed: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for code, o in old.items.items():
        if code in mapped:
            target = mapped[code]
            if target is not None and target in new.items:
                moved.append(
                    {
                        "old_code": code,
                        "new_code": target,
                        "old_path": path(o),
                        "new_path": path(new.items[target]),
                        "via": "migration",
                    }
                )
                continue
            removed.append(
                {
                    "code": code,
                    "path": path(o),
                    "via": "migration" if target is None else f"migration target {target} missing",
                }
            )
            continue
        n = new.items.get(code)
        if n is None:
            removed.append({"code": code, "path": path(o)})
            continue
        if n.name != o.name:
            renamed.append(
                {"code": code, "old_name": o.name, "new_name": n.name, "old_path": path(o), "new_path": path(n)}
            )
        if n.parent != o.parent:
            moved.append(
                {"old_code": code, "new_code": code, "old_path": path(o), "new_path": path(n), "via": "parent"}
            )
    targets = {t for t in mapped.values() if t is not None}
    for code, n in new.items.items():
        if code not in old.items and code not in targets:
            added.append({"code": code, "path": path(n)})
    return {
        "old": {"catalog": old.id, "version": old.version},
        "new": {"catalog": new.id, "version": new.version},
        "added": added,
        "removed": removed,
        "renamed": renamed,
        "moved": sorted(moved, key=lambda m: m["old_code"]),
    }
