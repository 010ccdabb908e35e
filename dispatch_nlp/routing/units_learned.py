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

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.divisions import district_prefix, street_prefix
from dispatch_nlp.settings import settings_fields

__all__ = ["UnitModel", "UnitModelSettings", "UnitPrediction", "load_unit_model", "unit_template",
           "resolve_template", "FORMAT"]

FORMAT = 1
BACKOFF = 3.0  # default of UnitModelSettings.backoff
TEXT_GRAMS = (2, 3)  # the n-gram lengths the file's by_category_gram keys were counted with

# Keys of config["units"] that describe the model rather than tune it.
DESCRIPTIVE_KEYS = frozenset({"file", "dev_template_accuracy", "history_units", "rule_dev_accuracy"})


@dataclass(frozen=True)
class UnitModelSettings:
    """How history's unit is fused with the catalog rule (``config["units"]``)."""

    override_min: float = 0.7
    """History overrides the catalog rule's unit at this probability or more ..."""
    min_support: float = 5.0
    """... backed by at least this many training orders."""
    history_only_factor: float = 0.5
    """Multiplier of history's probability when the catalog rule names no unit (a suggestion, not an override)."""
    backoff: float = BACKOFF
    """Pseudo-counts of the coarser distribution in the finer one (Dirichlet back-off)."""
    rule_confidence: float = 1.0
    """Confidence of the catalog rule's unit: the share of held-out history it named right (training
    measures it; 1.0 for a model trained before it was measured)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "UnitModelSettings":
        """Settings from a ``config["units"]`` section; unknown keys raise ``ModelError``."""
        known = settings_fields(cls, data, section="units", descriptive=DESCRIPTIVE_KEYS)
        return cls(**known)


def unit_template(unit_id: str, district_code: str | None, street_code: str | None) -> str:
    """The template of a unit id relative to the order's place (see the module docstring)."""
    if "@" in unit_id:
        utype, where = unit_id.split("@", 1)
        if street_code and utype == "street_office" and where == street_prefix(str(street_code)):
            return "tmpl:street_office"
        district = district_prefix(str(district_code)) if district_code else (
            district_prefix(str(street_code)) if street_code else None)
        if district and where == district:
            return f"tmpl:{utype}"
    return f"id:{unit_id}"


def resolve_template(template: str, registry, district_code: str | None, street_code: str | None):
    """The registry unit a template names for a place, or None."""
    kind, _, value = template.partition(":")
    if kind == "id":
        return registry.get(value)
    if kind == "tmpl":
        return registry.resolve(value, district_code=district_prefix(district_code) if district_code else None,
                                street_code=street_code)
    return None


@functools.lru_cache(maxsize=16)
def text_grams(text: str) -> frozenset[str]:
    """The text's character n-grams (``TEXT_GRAMS``) over CJK and alphanumerics; cached, since routing
    asks for the same order's grams once per candidate leaf."""
    out = set()
    t = "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff" or ch.isalnum())
    for k in TEXT_GRAMS:
        for i in range(len(t) - k + 1):
            out.add(t[i: i + k])
    return frozenset(out)


@dataclass
class UnitPrediction:
    template: str
    probability: float
    support: float  # how many training orders stand behind the finest distribution used
    distribution: dict[str, float]


class UnitModel:
    """Counts of unit templates per category, (category, district) and (category, n-gram)."""

    def __init__(self, data: dict, *, override_min: float | None = None, min_support: float | None = None,
                 settings: UnitModelSettings | None = None):
        """``data``: the file's counts; ``settings`` (or the two thresholds alone) tune the fusion."""
        settings = settings or UnitModelSettings()
        if override_min is not None or min_support is not None:
            settings = UnitModelSettings(
                override_min=settings.override_min if override_min is None else float(override_min),
                min_support=settings.min_support if min_support is None else float(min_support),
                history_only_factor=settings.history_only_factor, backoff=settings.backoff,
                rule_confidence=settings.rule_confidence)
        self.settings = settings
        self.by_cat: dict[str, dict[str, float]] = data.get("by_category", {})
        self.by_cat_district: dict[str, dict[str, float]] = data.get("by_category_district", {})
        self.by_cat_gram: dict[str, dict[str, float]] = data.get("by_category_gram", {})
        # The categories that have any n-gram counts: the others skip the per-gram lookups.
        self._gram_categories = {key.partition("|")[0] for key in self.by_cat_gram}
        self.global_counts: dict[str, float] = data.get("global", {})
        self.override_min = settings.override_min
        self.min_support = settings.min_support

    def _smooth(self, counts: dict[str, float] | None, prior: dict[str, float]) -> tuple[dict[str, float], float]:
        if not counts:
            return prior, 0.0
        n = sum(counts.values())
        keys = set(counts) | set(prior)
        b = self.settings.backoff
        return {k: (counts.get(k, 0.0) + b * prior.get(k, 0.0)) / (n + b) for k in keys}, n

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
            dist2, n = self._smooth(self.by_cat_district.get(f"{category_code}|{district_prefix(str(district_code))}"), dist)
            if n:
                dist, support = dist2, max(support, n)
        if text and category_code in self._gram_categories:
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
    return UnitModel.load(Path(model_dir) / config["file"], settings=UnitModelSettings.from_dict(config))
