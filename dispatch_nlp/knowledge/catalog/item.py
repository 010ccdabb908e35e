"""One catalog item (:class:`CatalogItem`) and what validation needs of a units registry (:class:`UnitsLike`).

A :class:`CatalogItem` holds a node's effective values (its own or inherited through ``defaults``);
``to_dict`` gives its canonical mapping as written back by :meth:`Catalog.to_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class UnitsLike(Protocol):
    """What validation needs from a units registry (duck-typed)."""

    def has_unit(self, unit_id: str) -> bool: ...

    def has_unit_type(self, unit_type: str) -> bool: ...


@dataclass(frozen=True)
class CatalogItem:
    """One node of the catalog with its effective (own or inherited) dispatch values."""

    code: str
    name: str
    level: int
    parent: str | None
    path: tuple[str, ...]
    response_level: str | None
    duty: str | None
    unit_type: str | None
    unit_ids: tuple[str, ...] = ()
    cooperating: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    emergency: dict | None = field(default=None, hash=False, compare=True)
    exclusion: dict | None = field(default=None, hash=False, compare=True)
    is_leaf: bool = True

    @property
    def label(self) -> str:
        """``城乡建设 > 安全生产 > 事故处理 (010101)``, used in every message about the item."""
        return f"{' > '.join(self.path)} ({self.code})"

    def to_dict(self) -> dict[str, Any]:
        """The item's own mapping (without children), every effective value written out."""
        out: dict[str, Any] = {"code": self.code, "name": self.name}
        if self.response_level is not None:
            out["response_level"] = self.response_level
        if self.duty is not None:
            out["duty"] = self.duty
        if self.unit_ids:
            out["unit_ids"] = list(self.unit_ids)
        if self.unit_type is not None or (self.is_leaf and not self.unit_ids):
            out["unit_type"] = self.unit_type
        if self.cooperating:
            out["cooperating"] = list(self.cooperating)
        if self.keywords:
            out["keywords"] = list(self.keywords)
        if self.emergency is not None:
            out["emergency"] = {
                "transfer_to": self.emergency["transfer_to"],
                "markers": list(self.emergency.get("markers", ())),
            }
        if self.exclusion is not None:
            out["exclusion"] = {"reason": self.exclusion["reason"], "markers": list(self.exclusion.get("markers", ()))}
        return out

