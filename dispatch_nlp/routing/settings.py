"""The router's hand-set thresholds and confidences, named in one place.

:class:`RouteSettings` is built with :meth:`RouteSettings.from_dict` from the catalog's ``settings``
mapping overlaid with the model's ``config["route"]`` section (the dispatcher merges the two, the
model winning).  Every field defaults to the value routing has always used.  A key that is neither
a field nor a catalog setting read by the catalog loader itself (``keywords_required``) raises a
``ModelError`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.vocabulary import RESPONSE_LEVELS, TERRITORIAL_DISPATCH
from dispatch_nlp.settings import settings_fields

__all__ = ["RouteSettings", "CATALOG_ONLY_KEYS"]

# Catalog settings that the catalog loader reads itself; they reach from_dict in the merged mapping.
CATALOG_ONLY_KEYS = frozenset({"keywords_required"})
_CALIBRATION = ("calibration_x", "calibration_y")


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class RouteSettings:
    """Thresholds of automatic dispatch and the confidences routing assigns by hand."""

    auto_threshold: float = 0.6
    """The least overall confidence an order is dispatched with, without a person."""
    rules_weight: float = 0.35
    """Weight of the catalog rules against the classifier in the category fusion (0: classifier only)."""
    top_k: int = 5
    """How many ranked categories a decision lists."""
    territorial_dispatch: str = "street"
    """Where territorial orders go: ``street`` (the street office) or ``district_subcentre``."""
    calibration_x: tuple[float, ...] = ()
    """Isotonic map from the fused top-1 probability (x) ..."""
    calibration_y: tuple[float, ...] = ()
    """... to the probability of being right (y), fitted on dev; empty: no calibration."""
    place_confidence_power: float = 0.5
    """For orders that need a place, the confidence is multiplied by the jurisdiction confidence to this power."""
    emergency_level: str = "2h"
    """Response level of an order transferred to an emergency number."""
    appeal_default_confidence: float = 0.3
    """Confidence of the appeal type 其他 when neither the classifier nor a cue says anything."""
    appeal_cue_base: float = 0.4
    """Confidence of an appeal type from catalog cues: this ..."""
    appeal_cue_step: float = 0.15
    """... plus this per cue hit ..."""
    appeal_cue_cap: float = 0.9
    """... at most this."""
    explain_keywords: int = 5
    """How many matched catalog keywords the explanation quotes."""
    explain_candidates: int = 3
    """How many jurisdiction candidates the explanation names when the place is unclear."""

    def calibrate(self, p: float) -> float:
        if not self.calibration_x:
            return p
        return float(np.interp(p, self.calibration_x, self.calibration_y))

    def appeal_cue_confidence(self, hits: int) -> float:
        """The confidence of an appeal type backed by ``hits`` catalog cues."""
        return min(self.appeal_cue_cap, self.appeal_cue_base + self.appeal_cue_step * hits)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "RouteSettings":
        """Settings from the catalog settings overlaid with ``config["route"]``; unknown keys raise ``ModelError``."""
        known = settings_fields(cls, data, section="route", descriptive=CATALOG_ONLY_KEYS,
                                convert={k: _floats for k in _CALIBRATION})
        if len(known.get("calibration_x", ())) != len(known.get("calibration_y", ())):
            raise ModelError("route settings calibration_x and calibration_y differ in length")
        if known.get("territorial_dispatch", "street") not in TERRITORIAL_DISPATCH:
            raise ModelError(f"route setting 'territorial_dispatch' is {known['territorial_dispatch']!r};"
                             f" use one of {', '.join(TERRITORIAL_DISPATCH)}")
        if known.get("emergency_level", "2h") not in RESPONSE_LEVELS:
            raise ModelError(f"route setting 'emergency_level' is {known['emergency_level']!r};"
                             f" use one of {', '.join(RESPONSE_LEVELS)}")
        return cls(**known)
