"""A catalog defined by a city's own labels (``dispatch-nlp train --catalog-from-labels``).

``catalog_from_labels(paths) -> Catalog``: every distinct label path (one to three levels, names from
the first level down) becomes an item, codes given in sorted order, two digits a level. The labels
carry no duty or response level, so every item gets the defaults a centre would start from
(territorial, street office, 7 days) and no keywords; edit the saved ``catalog.yaml`` to refine them.
"""

from __future__ import annotations

from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.catalog import Catalog

DEFAULTS = {"response_level": "7d", "duty": "territorial", "unit_type": "street_office"}


def catalog_from_labels(paths: list[tuple[str, ...]], *, version: str = "labels-1") -> Catalog:
    if not paths:
        raise InputError("--catalog-from-labels: the table has no category labels")
    tree: dict = {}
    for path in paths:
        if not 1 <= len(path) <= 3:
            raise InputError(f"category path {' > '.join(path)!r} has {len(path)} levels; catalogs have 1 to 3")
        node = tree
        for name in path:
            node = node.setdefault(name, {})

    def build(node: dict, prefix: str, trail: list[str]) -> list[dict]:
        if len(node) > 99:
            raise InputError(f"{' > '.join(trail) or 'the first level'} has {len(node)} categories; "
                             "a catalog level holds at most 99")
        items = []
        for i, name in enumerate(sorted(node), start=1):
            code = f"{prefix}{i:02d}"
            item: dict = {"code": code, "name": name}
            if node[name]:
                item["children"] = build(node[name], code, trail + [name])
            items.append(item)
        return items

    data = {
        "catalog": "from-labels",
        "version": version,
        "name": "catalog defined by training labels",
        "settings": {"keywords_required": False, "territorial_dispatch": "street"},
        "categories": [{**c, "defaults": DEFAULTS} for c in build(tree, "", [])],
    }
    return Catalog.from_dict(data, source="labels")
