"""The learned unit override: which unit history sends an order to, given its category, place and text.

Units are learned as *templates* relative to the order's jurisdiction, so that what is learned in
one street carries over to the others: ``tmpl:street_office`` (the street office of the order's
street), ``tmpl:district_cgw`` (the 城管委 of its district), ``tmpl:district_subcentre``, or, when
the unit is not tied to the order's place, the literal ``id:city_rsj`` / ``id:utility_gas``.

Counts per category, per (category, district) and per (category, text n-gram) are smoothed toward
each other (Dirichlet back-off); everything is one JSON file (no pickles), written by
``training/jurisdiction.py: fit_units`` and read by :func:`load_unit_model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dispatch_nlp.errors import ModelError

__all__ = ["UnitModel", "UnitPrediction", "load_unit_model", "unit_template", "resolve_template", "FORMAT"]

FORMAT = 1
BACKOFF = 3.0  # pseudo-counts of the coarser distribution in the finer one
TEXT_GRAMS = (2, 3)


def unit_template(unit_id: str, district_code: str | None, street_code: str | None) -> str:
    """The template of a unit id relative to the order's place (see the module docstring)."""
    if "@" in unit_id:
        utype, where = unit_id.split("@", 1)
        if street_code and utype == "street_office" and where == str(street_code)[:9]:
            return "tmpl:street_office"
        district = str(district_code)[:6] if district_code else (str(street_code)[:6] if street_code else None)
        if district and where == district:
            return f"tmpl:{utype}"
    return f"id:{unit_id}"


def resolve_template(template: str, registry, district_code: str | None, street_code: str | None):
    """The registry unit a template names for a place, or None."""
    kind, _, value = template.partition(":")
    if kind == "id":
        return registry.get(value)
    if kind == "tmpl":
        return registry.resolve(value, district_code=district_code[:6] if district_code else None,
                                street_code=street_code)
    return None


def text_grams(text: str) -> set[str]:
    out = set()
    t = "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff" or ch.isalnum())
    for k in TEXT_GRAMS:
        for i in range(len(t) - k + 1):
            out.add(t[i: i + k])
    return out


@dataclass
class UnitPrediction:
    template: str
    probability: float
    support: float  # how many training orders stand behind the finest distribution used
    distribution: dict[str, float]


class UnitModel:
    """Counts of unit templates per category, (category, district) and (category, n-gram)."""

    def __init__(self, data: dict, *, override_min: float = 0.7, min_support: float = 5.0):
        self.by_cat: dict[str, dict[str, float]] = data.get("by_category", {})
        self.by_cat_district: dict[str, dict[str, float]] = data.get("by_category_district", {})
        self.by_cat_gram: dict[str, dict[str, float]] = data.get("by_category_gram", {})
        self.global_counts: dict[str, float] = data.get("global", {})
        self.override_min = float(override_min)
        self.min_support = float(min_support)

    @staticmethod
    def _smooth(counts: dict[str, float] | None, prior: dict[str, float]) -> tuple[dict[str, float], float]:
        if not counts:
            return prior, 0.0
        n = sum(counts.values())
        keys = set(counts) | set(prior)
        return {k: (counts.get(k, 0.0) + BACKOFF * prior.get(k, 0.0)) / (n + BACKOFF) for k in keys}, n

    def predict(self, text: str | None, category_code: str | None, district_code: str | None,
                street_code: str | None = None) -> UnitPrediction | None:
        if not category_code:
            return None
        total = sum(self.global_counts.values()) or 1.0
        prior = {k: v / total for k, v in self.global_counts.items()}
        # Categories back off to their parents (010101 → 0101 → 01).
        dist, support = prior, 0.0
        for k in range(2, len(category_code) + 1, 2):
            dist, n = self._smooth(self.by_cat.get(category_code[:k]), dist)
            support = n if n else support
        if district_code:
            dist2, n = self._smooth(self.by_cat_district.get(f"{category_code}|{str(district_code)[:6]}"), dist)
            if n:
                dist, support = dist2, max(support, n)
        if text and self.by_cat_gram:
            hits = [self.by_cat_gram[key] for g in text_grams(text)
                    if (key := f"{category_code}|{g}") in self.by_cat_gram]
            if hits:
                merged: dict[str, float] = {}
                for h in hits:
                    for t, c in h.items():
                        merged[t] = merged.get(t, 0.0) + c
                dist, n = self._smooth(merged, dist)
                support = max(support, n / len(hits))
        if not dist:
            return None
        template, p = max(dist.items(), key=lambda kv: kv[1])
        return UnitPrediction(template, float(p), float(support), dist)

    def save(self, path) -> None:
        data = {"format": FORMAT, "global": self.global_counts, "by_category": self.by_cat,
                "by_category_district": self.by_cat_district, "by_category_gram": self.by_cat_gram}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path, **kw) -> "UnitModel":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable learned unit model ({exc.__class__.__name__}); retrain") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{path}: learned unit model format {data.get('format') if isinstance(data, dict) else '?'};"
                             f" this library reads {FORMAT}")
        return cls(data, **kw)


def load_unit_model(model_dir, config: dict | None) -> UnitModel | None:
    """The learned unit override a model directory carries (``config`` is its ``units`` section), or
    None when it has none."""
    if not config or not config.get("file") or model_dir is None:
        return None
    return UnitModel.load(Path(model_dir) / config["file"], override_min=config.get("override_min", 0.7),
                          min_support=config.get("min_support", 5.0))
