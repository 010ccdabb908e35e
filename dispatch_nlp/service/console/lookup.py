"""What the correction form searches, read from the model in service (so every choice it offers is
one ``POST /v1/corrections`` accepts):

- ``search_catalog(catalog, q)``: leaves whose name, path, code or keywords contain ``q`` (a code
  prefix matches its subtree), each with its path, as ``{code, path, duty, unit_type}``;
- ``search_divisions(gazetteer, q)``: streets and communities whose name, short name or alias
  contains ``q``, each with its district and street, as ``{code, name, level, district, street}``;
- ``units_for(units, catalog, code, district)``: the registry's units that may take the category's
  duty type (territorial: street offices; district functional: that unit type; city functional:
  city units; utility: utilities), the category's own units first, then those of ``district``.
"""

from __future__ import annotations

from typing import Any

MAX_RESULTS = 50


def _item(it: Any) -> dict[str, Any]:
    return {"code": it.code, "path": list(it.path), "duty": it.duty, "unit_type": it.unit_type}


def search_catalog(catalog: Any, q: str, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """Leaves matching ``q``: exact code or code prefix first, then name hits, then path and keyword hits."""
    q = q.strip()
    if not q:
        return []
    ranked: list[tuple[int, str, Any]] = []
    for it in catalog.leaves():
        if q.isdigit() and it.code.startswith(q):
            rank = 0
        elif q in it.name:
            rank = 1
        elif any(q in p for p in it.path):
            rank = 2
        elif any(q in k or k in q for k in it.keywords if len(k) >= 2):
            rank = 3
        else:
            continue
        ranked.append((rank, it.code, it))
    return [_item(it) for _, _, it in sorted(ranked)[:limit]]


def category_tree(catalog: Any) -> list[dict[str, Any]]:
    """The first two levels (code, name, leaf count) for browsing without a search."""
    def count(code: str) -> int:
        return sum(1 for leaf in catalog.leaves() if leaf.code.startswith(code))

    return [{"code": top.code, "name": top.name, "leaves": count(top.code),
             "children": [{"code": c.code, "name": c.name, "leaves": count(c.code)} for c in catalog.children(top.code)]}
            for top in catalog.children(None)]


def _surfaces(d: Any) -> tuple[str, ...]:
    return (d.name, *d.short_names, *d.aliases)


def search_divisions(gazetteer: Any, q: str, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """Streets and communities (streets first) whose names contain ``q``; exact names first."""
    q = q.strip()
    if not q:
        return []
    hits: list[tuple[int, int, str, Any]] = []
    for d in gazetteer:
        if d.level == "district":
            continue
        names = _surfaces(d)
        if q in names:
            rank = 0
        elif any(q in s for s in names):
            rank = 1
        else:
            continue
        hits.append((rank, 0 if d.level == "street" else 1, d.code, d))
    out = []
    for _, _, _, d in sorted(hits)[:limit]:
        district, street = gazetteer.district_of(d.code), gazetteer.street_of(d.code)
        out.append({"code": d.code, "name": d.name, "level": d.level,
                    "district": {"code": district.code, "name": district.name} if district else None,
                    "street": {"code": street.code, "name": street.name} if street and street.code != d.code else None})
    return out


def _fits(unit: Any, duty: str | None, unit_type: str | None) -> bool:
    if duty == "territorial":
        return unit.unit_type == "street_office"
    if duty == "district_functional":
        return unit.unit_type == unit_type if unit_type else unit.level == "district"
    if duty == "city_functional":
        return unit.level == "city"
    if duty == "utility":
        return unit.level == "utility"
    return True


def units_for(units: Any, catalog: Any, code: str | None, district: str | None = None,
              q: str = "", limit: int = MAX_RESULTS) -> dict[str, Any]:
    """Units for category ``code``: ``{duty, units: [{id, name, level, district_code, own}]}``; ``own``
    marks the category's own units. Without a category (or ``q`` given) every unit is a candidate."""
    item = catalog.get(code) if code and code in catalog else None
    duty = item.duty if item is not None else None
    own = set(item.unit_ids + item.cooperating) if item is not None else set()
    d6 = district[:6] if district else None
    q = q.strip()
    ranked = []
    for u in units:
        if q:
            if not any(q in s for s in (u.name, *u.short_names, u.id)):
                continue
        elif item is not None and u.id not in own and not _fits(u, duty, item.unit_type):
            continue
        local = d6 is not None and u.district_code == d6
        ranked.append((0 if u.id in own else 1 if local else 2, u.id, u))
    return {"duty": duty, "unit_type": item.unit_type if item is not None else None,
            "units": [{"id": u.id, "name": u.name, "level": u.level, "district_code": u.district_code,
                       "own": u.id in own} for _, _, u in sorted(ranked)[:limit]]}
