"""The classifier cascade: the expensive members run only on the orders the fast members are unsure of.

A model's full ``classifier`` section may declare

    "cascade": {"profile": "fast", "skip_above": 0.9, "on": "leaf"}

``profile`` names the model profile whose classifier (and route settings) decide the confident orders;
``on`` what its certainty is read from (``leaf``: the fast fusion's top leaf probability; ``margin``:
top leaf minus the second); an order whose certainty is at least ``skip_above`` takes the fast profile's
decision and skips the other members (its decision carries the flag ``encoder_skipped``); the rest run
every member of the full section, in one batched call per member. Without the section, or with
``"skip_above": null``, nothing changes.

``CascadeSettings.from_section(section)`` reads and checks the section (None when the cascade is off);
``certainty(evidence, on)`` is what the threshold is compared with, from a ``ClassifierEvidence``;
``resolve(config, model_dir)`` returns a copy of a model config (as a profile runs it) whose cascade
section also holds the fast profile's classifier section (key ``classifier``; what
``ClassifierStage.load`` builds the fast stage from), and the fast profile's route section (what the
``Dispatcher`` routes the skipped orders with), or ``(config, None)`` when no cascade is on.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch_nlp.errors import ModelError
from dispatch_nlp.knowledge.vocabulary import Flag

CASCADE_KEY = "cascade"
CRITERIA = ("leaf", "margin")
SKIPPED_FLAG: Flag = "encoder_skipped"  # on the decision of an order the expensive members did not read


@dataclass(frozen=True)
class CascadeSettings:
    """What a ``cascade`` section says: the fast profile, the threshold and what it is compared with."""

    skip_above: float
    profile: str = "fast"
    on: str = "leaf"

    @classmethod
    def from_section(cls, section: Any) -> CascadeSettings | None:
        """The settings of a classifier section's ``cascade`` value (None: absent, or ``skip_above`` null)."""
        if section is None:
            return None
        if not isinstance(section, Mapping):
            raise ModelError(f"the classifier's {CASCADE_KEY!r} must be an object, not {type(section).__name__}")
        unknown = sorted(set(section) - {"skip_above", "profile", "on", "classifier", "route"})
        if unknown:
            raise ModelError(f"unknown {CASCADE_KEY} keys: {', '.join(unknown)} (expected skip_above, profile, on)")
        raw = section.get("skip_above")
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0.0 <= float(raw) <= 1.0:
            raise ModelError(f"{CASCADE_KEY}.skip_above must be a number between 0 and 1, not {raw!r}")
        on = str(section.get("on", "leaf"))
        if on not in CRITERIA:
            raise ModelError(f"{CASCADE_KEY}.on {on!r} is not one of {', '.join(CRITERIA)}")
        profile = section.get("profile", "fast")
        if not isinstance(profile, str) or not profile:
            raise ModelError(f"{CASCADE_KEY}.profile must name a profile of the model, not {profile!r}")
        return cls(float(raw), profile, on)


def certainty(evidence: Any, on: str = "leaf") -> float:
    """How sure a ``ClassifierEvidence`` is: its top leaf probability (``leaf``) or that minus the
    second (``margin``); 0 without leaves."""
    probs = sorted((getattr(evidence, "leaf_probs", None) or {}).values(), reverse=True)
    if not probs:
        return 0.0
    if on == "margin":
        return probs[0] - (probs[1] if len(probs) > 1 else 0.0)
    return probs[0]


def resolve(config: Mapping[str, Any], model_dir: Path, *, enabled: bool = True
            ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(config with the cascade resolved, the fast profile's route section)``; ``(config, None)`` when
    the classifier section declares no cascade (or ``enabled`` is false: the cascade section is then
    dropped, so the profile runs every member on every order)."""
    out = dict(config)
    section = out.get("classifier")
    if not isinstance(section, Mapping) or CASCADE_KEY not in section:
        return out, None
    settings = CascadeSettings.from_section(section[CASCADE_KEY]) if enabled else None
    if settings is None:
        out["classifier"] = {k: v for k, v in section.items() if k != CASCADE_KEY}
        return out, None
    fast = (config.get("profiles") or {}).get(settings.profile)
    if not isinstance(fast, Mapping) or not isinstance(fast.get("classifier"), Mapping):
        raise ModelError(f"{model_dir}: the classifier cascade names profile {settings.profile!r}, which the model "
                         "has not (or which has no classifier section)")
    if CASCADE_KEY in fast["classifier"]:
        raise ModelError(f"{model_dir}: the cascade's profile {settings.profile!r} has a cascade of its own")
    route = {**(config.get("route") or {}), **(fast.get("route") or {})}
    out["classifier"] = {**section, CASCADE_KEY: {**dict(section[CASCADE_KEY]),
                                                  "classifier": copy.deepcopy(dict(fast["classifier"])),
                                                  "route": route}}
    return out, route
