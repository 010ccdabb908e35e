"""Confidence above the leaf: how sure the fused category distribution is of a level or of a unit.

The classifier keeps the top leaves of each order (``ClassifierEvidence.leaf_probs``) and the router
fuses them with the catalog rules into one distribution over leaf codes.  Two sums over it:

* :func:`level_masses`: the probability of each first-/second-level category of the top leaf (the sum
  of the leaves under it), from which :func:`confident_category` picks the deepest level that is
  confident (``category.confident`` of the decision);
* :func:`unit_masses`: the probability of each responsible unit, the sum of the leaves that go to
  the same unit for the order's place (sibling territorial leaves all go to the street office), used
  when routing dispatches on the unit (``RouteSettings.dispatch_on = "unit"``).

Catalog codes are two digits per level (``01`` → ``0101`` → ``010101``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dispatch_nlp.types import Scored

__all__ = ["level_masses", "confident_category", "unit_masses", "MIN_LEAF_MASS"]

MIN_LEAF_MASS = 0.01  # leaves below this are not mapped to a unit (looking up a unit costs; their sum rarely decides)


def level_masses(dist: Mapping[str, float], code: str) -> list[tuple[str, float]]:
    """The ancestors of ``code`` (first level first, the leaf excluded) with their summed probability."""
    out = []
    for k in range(2, len(code), 2):
        prefix = code[:k]
        out.append((prefix, sum(p for c, p in dist.items() if c.startswith(prefix))))
    return out


def confident_category(dist: Mapping[str, float], code: str | None, leaf_confidence: float, catalog,
                       threshold: float, calibrate: Callable[[float], float]) -> Scored | None:
    """The deepest level of ``code`` whose confidence reaches ``threshold``: the leaf with
    ``leaf_confidence``, else its second-, else its first-level parent with ``calibrate(summed
    probability)`` (never below the confidence of the level under it).  None when none reaches it."""
    if not code:
        return None
    path = list(catalog.get(code).path) if code in catalog else []
    if leaf_confidence >= threshold:
        return Scored(code, path, round(leaf_confidence, 4))
    below = leaf_confidence
    for prefix, mass in reversed(level_masses(dist, code)):
        confidence = max(calibrate(mass), below)
        if confidence >= threshold:
            node_path = list(catalog.get(prefix).path) if prefix in catalog else path[: len(prefix) // 2]
            return Scored(prefix, node_path, round(confidence, 4))
        below = confidence
    return None


def unit_masses(dist: Mapping[str, float], unit_of: Callable[[str], str | None]) -> dict[str, tuple[float, str]]:
    """Per responsible unit (``unit_of(leaf code)`` for this order's place; leaves without a unit and
    leaves under :data:`MIN_LEAF_MASS` left out): the summed probability of its leaves and its most
    probable leaf, most probable unit first."""
    out: dict[str, list] = {}
    for code, p in sorted(dist.items(), key=lambda kv: (-kv[1], kv[0])):
        if p < MIN_LEAF_MASS:
            break
        unit = unit_of(code)
        if unit is None:
            continue
        if unit in out:
            out[unit][0] += p
        else:
            out[unit] = [p, code]
    ranked = sorted(out.items(), key=lambda kv: -kv[1][0])  # stable: ties keep the better leaf's unit first
    return {unit: (min(1.0, mass), code) for unit, (mass, code) in ranked}
