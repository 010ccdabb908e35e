"""The router's hand-set thresholds and confidences, named in one place.

:class:`RouteSettings` is built with :meth:`RouteSettings.from_dict` from the catalog's ``settings``
mapping overlaid with the model's ``config["route"]`` section (the dispatcher merges the two, the
model winning).  Every field defaults to the value routing has always used.  A key that is neither
a field nor a catalog setting read by the catalog loader itself (``keywords_required``) raises a
``ModelError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.vocabulary import RESPONSE_LEVELS, TERRITORIAL_DISPATCH
from dispatch_nlp.settings import settings_fields

__all__ = ["RouteSettings", "CATALOG_ONLY_KEYS"]

# Catalog settings that the catalog loader reads itself; they reach from_dict in the merged mapping.
CATALOG_ONLY_KEYS = frozenset({"keywords_required"})
_CALIBRATION = ("calibration_x", "calibration_y", "route_calibration_x", "route_calibration_y",
                "level_calibration_x", "level_calibration_y")
_STRINGS = ("emergency_live_channels", "emergency_letter_openings", "emergency_not_live")
_GENERIC_EMERGENCY = ("auto", "on", "off")
_ACTUALITIES = ("live", "hypothetical", "past", "chronic", "unclear")  # as components.rules.ACTUALITIES


def _interp(p: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    return float(np.interp(p, xs, ys)) if xs else p


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _strings(key: str) -> Callable[[Any], tuple[str, ...]]:
    def convert(values: Any) -> tuple[str, ...]:
        if isinstance(values, str) or not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            raise ModelError(f"route setting {key!r} must be a list of strings, not {values!r}")
        return tuple(values)
    return convert


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
    emergency_generic_markers: str = "auto"
    """Whether the generic emergency markers (components.rules.GENERIC_EMERGENCY) transfer an order:
    ``on``, ``off``, or ``auto``: only when the catalog has an emergency item of its own (a catalog
    built from labels without one transfers nothing unless configured)."""
    emergency_live_channels: tuple[str, ...] = ("电话", "热线", "来电", "语音")
    """An order whose channel contains one of these came in on a live line; any other named channel
    (letters, 市长信箱/领导信箱, portal and app messages) is not live and is never transferred automatically."""
    emergency_letter_openings: tuple[str, ...] = ("网民留言", "各位领导", "尊敬的领导", "领导您好", "市长您好",
                                                  "市长信箱", "领导信箱")
    """Without a channel, an order that opens (first line) with one of these is read as a letter."""
    emergency_not_live: tuple[str, ...] = ("past", "chronic", "hypothetical")
    """Readings of an emergency marker (components.rules.emergency_actuality) that are not transferred:
    the order is routed as any other. Empty: every marker transfers, as before issue 21."""
    emergency_letter_route: str = "review"
    """Route of a letter that describes an emergency as happening now: ``review`` (a person checks and
    calls back) or ``dispatch`` (routed as any other order)."""
    route_confidence: str = "place"
    """What the overall confidence multiplies the category's with: ``place`` (the jurisdiction's, for
    orders that need a place) or ``unit`` (the unit's: a model whose units were learned from history,
    ``train --units-from-labels``, which writes this); with ``unit`` an order is dispatched when the
    category reaches ``auto_threshold`` (with ``dispatch_on = unit``: the unit's summed probability,
    calibrated) and the unit ``unit_auto_threshold``, even without a units registry of the catalog."""
    unit_auto_threshold: float = 0.8
    """With ``route_confidence = unit``: the least unit confidence an order is dispatched with."""
    dispatch_on: str = "leaf"
    """What must be confident for automatic dispatch: ``leaf`` (the top category, as before issue 18)
    or ``unit``: the responsible unit, whose probability is the summed probability of the candidate
    leaves that go to the same unit for this order's place (sibling territorial leaves all go to
    the street office); the route confidence is then that probability times the place's (or, with
    ``route_confidence = unit``, the unit rule's), mapped by ``route_calibration_*``."""
    route_calibration_x: tuple[float, ...] = ()
    """With ``dispatch_on = unit``: map from the route confidence (x) ..."""
    route_calibration_y: tuple[float, ...] = ()
    """... to the probability that the unit is right (y); empty: no calibration
    (``dispatch-nlp calibrate`` fits it)."""
    level_threshold: float = 0.9
    """The least (calibrated) probability of a category level for ``category.confident`` to report it."""
    level_calibration_x: tuple[float, ...] = ()
    """Map from the summed probability of a first- or second-level category (x) ..."""
    level_calibration_y: tuple[float, ...] = ()
    """... to the probability that the level is right (y); empty: the summed probability itself."""
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
        """The top leaf's fused probability as the probability that the leaf is right."""
        return _interp(p, self.calibration_x, self.calibration_y)

    def calibrate_route(self, p: float) -> float:
        """With ``dispatch_on = unit``: the route confidence as the probability that the unit is right."""
        return _interp(p, self.route_calibration_x, self.route_calibration_y)

    def calibrate_level(self, p: float) -> float:
        """A category level's summed probability as the probability that the level is right."""
        return _interp(p, self.level_calibration_x, self.level_calibration_y)

    def appeal_cue_confidence(self, hits: int) -> float:
        """The confidence of an appeal type backed by ``hits`` catalog cues."""
        return min(self.appeal_cue_cap, self.appeal_cue_base + self.appeal_cue_step * hits)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "RouteSettings":
        """Settings from the catalog settings overlaid with ``config["route"]``; unknown keys raise ``ModelError``."""
        known = settings_fields(cls, data, section="route", descriptive=CATALOG_ONLY_KEYS,
                                convert={**{k: _floats for k in _CALIBRATION}, **{k: _strings(k) for k in _STRINGS}})
        for prefix in ("", "route_", "level_"):
            if len(known.get(f"{prefix}calibration_x", ())) != len(known.get(f"{prefix}calibration_y", ())):
                raise ModelError(f"route settings {prefix}calibration_x and {prefix}calibration_y differ in length")
        if known.get("dispatch_on", "leaf") not in ("leaf", "unit"):
            raise ModelError(f"route setting 'dispatch_on' is {known['dispatch_on']!r}; use leaf or unit")
        if known.get("territorial_dispatch", "street") not in TERRITORIAL_DISPATCH:
            raise ModelError(f"route setting 'territorial_dispatch' is {known['territorial_dispatch']!r};"
                             f" use one of {', '.join(TERRITORIAL_DISPATCH)}")
        if known.get("emergency_level", "2h") not in RESPONSE_LEVELS:
            raise ModelError(f"route setting 'emergency_level' is {known['emergency_level']!r};"
                             f" use one of {', '.join(RESPONSE_LEVELS)}")
        if known.get("emergency_generic_markers", "auto") not in _GENERIC_EMERGENCY:
            raise ModelError(f"route setting 'emergency_generic_markers' is {known['emergency_generic_markers']!r};"
                             f" use one of {', '.join(_GENERIC_EMERGENCY)}")
        if known.get("route_confidence", "place") not in ("place", "unit"):
            raise ModelError(f"route setting 'route_confidence' is {known['route_confidence']!r}; use place or unit")
        if known.get("emergency_letter_route", "review") not in ("review", "dispatch"):
            raise ModelError(f"route setting 'emergency_letter_route' is {known['emergency_letter_route']!r};"
                             " use review or dispatch")
        unknown = sorted(set(known.get("emergency_not_live", ())) - set(_ACTUALITIES))
        if unknown:
            raise ModelError(f"route setting 'emergency_not_live' has {', '.join(unknown)};"
                             f" use some of {', '.join(_ACTUALITIES)}")
        return cls(**known)
