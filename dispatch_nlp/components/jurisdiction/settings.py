"""The jurisdiction stage's hand-set weights, confidences and thresholds, named in one place.

:class:`JurisdictionSettings` is built from a model's ``config["jurisdiction"]`` section with
:meth:`JurisdictionSettings.from_dict` (the fusion weights are read from its ``weights`` mapping,
as training writes them); every field defaults to the value the stage has always used, so a config
that names none of them decides exactly as before.  A key that is neither a setting nor one of the
section's descriptive keys (``learned``, ``n_grams``, ``n_train``) raises a ``ModelError`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatch_nlp.errors import ModelError
from dispatch_nlp.settings import settings_fields

__all__ = ["JurisdictionSettings", "DESCRIPTIVE_KEYS", "WEIGHT_KEYS", "MODES"]

# Keys of config["jurisdiction"] that describe the model rather than tune the stage.
DESCRIPTIVE_KEYS = frozenset({"learned", "n_grams", "n_train"})
# config["jurisdiction"]["weights"] → the fields they set.
WEIGHT_KEYS = ("gaz_district", "learned_district", "gaz_street", "learned_street")
MODES = ("fused", "gazetteer", "learned")


@dataclass(frozen=True)
class JurisdictionSettings:
    """Every tuning choice of the jurisdiction stage (gazetteer member, learned member, fusion)."""

    # -- gazetteer member: mention weights --------------------------------------------------------
    problem_weight: float = 1.0
    """Weight of a mention of the problem place (the default role)."""
    caller_weight: float = 0.3
    """Weight of a mention of the caller's home or workplace ("我住在朝阳区")."""
    company_weight: float = 0.4
    """Weight of a place inside a company's registered name ("北京朝阳某某科技有限公司")."""
    trail_weight: float = 0.3
    """Weight of a mention in the handling trail appended after the complaint (where it was handled)."""
    short_name_factor: float = 0.8
    """Multiplier of a mention by a short name (朝阳 for 朝阳区) against a full name or alias."""
    common_word_freq: int = 1000
    """A short name at least this frequent in jieba's dictionary is an ordinary word: it needs its parent beside it."""
    common_alone_factor: float = 0.3
    """Multiplier of the support of a reading backed only by ordinary-word names with no parent co-mentioned."""
    inside_support_factor: float = 0.5
    """Share of a mention's weight that a division inside a reading lends to the reading."""
    negation_window: int = 4
    """Characters before a mention searched for a negation cue (不属于, 不在, ...)."""
    company_window: int = 10
    """Characters after a mention searched for a company suffix (公司, 酒店, ...)."""
    # -- gazetteer member: confidence -------------------------------------------------------------
    levels_agree_confidence: float = 0.95
    """Base confidence when mentions of two levels agree (district and street, or street and community)."""
    strong_street_confidence: float = 0.9
    """Base confidence of a street or community named by a full name, alias or place."""
    strong_district_confidence: float = 0.85
    """Base confidence of a district named by a full name, alias or place."""
    weak_confidence: float = 0.75
    """Base confidence when only short names back the reading."""
    needs_parent_confidence: float = 0.4
    """Base confidence when only ordinary-word or bare community names back the reading."""
    company_only_factor: float = 0.7
    """Multiplier of the base confidence when every backing mention is inside a company name."""
    no_problem_factor: float = 0.85
    """Multiplier of the base confidence when no backing mention is a problem place (caller or company)."""
    conflict_same_district_factor: float = 0.5
    """Share of a conflicting mention's weight counted when it lies in the top reading's district."""
    shared_name_confidence: float = 0.6
    """Base confidence of what the readings of a shared name nothing decides agree on."""
    shared_name_street_factor: float = 0.9
    """Multiplier of ``shared_name_confidence`` when the agreed division is a street or community."""
    shared_name_district_factor: float = 0.85
    """Multiplier of ``shared_name_confidence`` when the agreed division is a district."""
    unresolved_tie_confidence: float = 0.5
    """Confidence, divided by the number of readings, of a shared name whose readings share no division."""
    caller_location_factor: float = 0.5
    """Multiplier of the confidence of a place taken from the caller's location field instead of the text."""
    min_confidence: float = 0.3
    """The gazetteer member abstains below this confidence (keeping its candidates)."""
    max_candidates: int = 6
    """How many candidate readings the gazetteer member reports."""
    # -- learned member ---------------------------------------------------------------------------
    max_grams_per_order: int = 6
    """The strongest non-overlapping learned place strings used per order."""
    informative_ratio: float = 2.0
    """The learned district posterior must exceed the prior's best by this factor to count as evidence."""
    learned_min_support: int = 2
    """A learned place string counts only if training saw it in at least this many orders."""
    learned_whole_words: bool = True
    """A learned place string counts only where it starts or ends a word of the segmentation ..."""
    fragment_min_support: int = 5
    """... or, inside words at both ends, where training saw it in at least this many orders ..."""
    fragment_min_purity: float = 0.9
    """... and at least this share of them in one district (an unsegmented village name, not a fragment)."""
    named_district_confidence: float = 0.6
    """Confidence of a district named by its full name when the fused answer lost it (street left open)."""
    street_evidence_min: float = 0.1
    """The fused street must hold at least this share of the whole street distribution (not only of its
    district's), else the street is left open: weak street evidence backs off to the district."""
    # -- fusion -----------------------------------------------------------------------------------
    mode: str = "fused"
    """``fused``, or ``gazetteer`` / ``learned`` alone (benchmarks)."""
    gaz_district: float = 8.0
    """Weight of the gazetteer's district support in the fused district logit (``weights.gaz_district``)."""
    learned_district: float = 1.0
    """Weight of the learned district log-posterior (``weights.learned_district``)."""
    gaz_street: float = 8.0
    """Weight of the gazetteer's street support in the fused street logit (``weights.gaz_street``)."""
    learned_street: float = 1.0
    """Weight of the learned street log-posterior (``weights.learned_street``)."""
    street_min: float = 0.5
    """The fused answer names the street when the street's probability reaches this; else the district."""
    abstain_below: float = 0.5
    """The fused stage abstains below this confidence (route review, candidates kept)."""
    ambiguous_gaz_factor: float = 0.5
    """Multiplier of the gazetteer's support when its answer is a shared name nothing decided."""
    candidate_min_probability: float = 0.01
    """Fused streets and districts below this probability are not listed as candidates."""
    street_candidates: int = 5
    """How many fused streets are listed as candidates."""
    district_candidates: int = 3
    """How many fused districts are considered as further candidates."""

    def role_weight(self, role: str) -> float:
        """The weight of a mention's role (``negated`` counts nothing; an unknown role as a problem)."""
        if role == "negated":
            return 0.0
        if role == "caller":
            return self.caller_weight
        if role == "company":
            return self.company_weight
        if role == "trail":
            return self.trail_weight
        return self.problem_weight

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "JurisdictionSettings":
        """Settings from a ``config["jurisdiction"]`` section; unknown keys raise ``ModelError``."""
        data = dict(data or {})
        weights = data.pop("weights", None) or {}
        if not isinstance(weights, Mapping):
            raise ModelError(f"jurisdiction setting 'weights' must be a mapping of {', '.join(WEIGHT_KEYS)}")
        known: dict[str, Any] = {k: float(v) for k, v in weights.items() if k in WEIGHT_KEYS}
        for key in weights:
            if key not in WEIGHT_KEYS:
                raise ModelError(f"unknown jurisdiction weight {key!r} (known: {', '.join(WEIGHT_KEYS)})")
        known.update(settings_fields(cls, data, section="jurisdiction", descriptive=DESCRIPTIVE_KEYS,
                                     exclude=WEIGHT_KEYS))
        if known.get("mode", "fused") not in MODES:
            raise ModelError(f"jurisdiction setting 'mode' is {known['mode']!r}; use one of {', '.join(MODES)}")
        return cls(**known)

