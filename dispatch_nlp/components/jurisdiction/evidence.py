"""What the jurisdiction stage produces: place mentions and the stage's evidence.

:class:`Mention` is one place name found in the text (with its readings, kind and role);
:class:`JurisdictionEvidence` is the stage's answer (the finest division decided or an abstention,
candidates, the mentions, and the unit a place names for itself) that the router reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Mention", "JurisdictionEvidence"]


@dataclass
class Mention:
    surface: str
    start: int
    end: int
    codes: tuple[str, ...]
    kind: str  # name | short | alias | place | learned
    role: str = "problem"  # problem | caller | company | negated | trail (the handling trail after the complaint)
    needs_parent: bool = False  # an ordinary word or bare community short name: counts only beside a parent
    unit: str | None = None  # a place's own unit (the places table's ``unit`` column)
    linear: bool = False  # a river or road that crosses districts (places table kind ``linear``)
    in_trail: bool = False  # found in the handling trail appended after the complaint


@dataclass
class JurisdictionEvidence:
    """What the stage found.  ``code`` is the finest division decided (None: abstain);
    ``candidates`` are ``(code, score, mention)``, best first; ``ambiguous`` the readings of a shared
    name nothing decided; ``unit_override`` the unit the deciding place names for itself (the places
    table's ``unit`` column), which takes the place's territorial orders instead of its street
    office; ``return_to_district`` (with ``outside_district``) is set when the order names a
    district but the problem place lies outside every street of it (see
    :func:`~dispatch_nlp.components.jurisdiction.gazetteer.outside_named_district`)."""

    code: str | None = None
    confidence: float = 0.0
    mention: Mention | None = None
    ambiguous: tuple[str, ...] = ()
    candidates: list[tuple[str, float, Mention | None]] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    method: str = "gazetteer"  # gazetteer | learned | fused | caller
    unit_override: str | None = None
    return_to_district: bool = False
    outside_district: str | None = None  # 12-digit code of the district named but not where it is
    abstained: bool = False
    # Which part of the order decided: ``text`` (no handling trail), ``complaint`` (the citizen's words
    # before a trail) or ``trail`` (only the trail's places spoke).
    source: str = "text"
    # The problem lies outside the city the gazetteer covers (another province or town named, no
    # division of the city named in full): the stage abstains rather than read a place into a fragment.
    outside_gazetteer: bool = False
