"""The responsible unit: who must handle the order, from the category's duty and the jurisdiction.

``assign_units(item, jurisdiction, registry, territorial_dispatch, unit_model=None, text=None)``:

* **territorial** → the street office of the place; the district's 12345 sub-centre when the catalog
  says territorial orders go there (``territorial_dispatch = "district_subcentre"``) or when no
  street is known; a place with its own unit (the places table's ``unit`` column, carried as
  :attr:`PlacedJurisdiction.unit_override`) takes it instead;
* **district functional** → that district's bureau (a street whose office belongs to a dispatch
  area that is not a statistical district first tries that area's unit);
* **city functional** → the city bureau; **utility** → the company;
* **emergency transfer** and **out of scope** → no unit (the route says what happens).

``units.dispatch_to`` is the first hop (:func:`first_hop`): the city department or utility itself, or
the 12345 sub-centre of the responsible unit's dispatch area (the 经开区's for its units and streets).

Catalog items may name unit ids instead of a type; cooperating units come from the item.  With a
learned :class:`~dispatch_nlp.routing.units_learned.UnitModel`, history's unit for (text, category, place)
is fused with the catalog rule: agreement keeps confidence 1, a confident disagreement backed by
enough history overrides the rule, a weak one keeps the rule with a lowered confidence (the
thresholds are the model's :class:`~dispatch_nlp.routing.units_learned.UnitModelSettings`).
"""

from __future__ import annotations

from dispatch_nlp.knowledge.divisions import district_prefix
from dispatch_nlp.routing.units_learned import resolve_template
from dispatch_nlp.types import JurisdictionResult, UnitRef, UnitsResult

__all__ = ["assign_units", "first_hop", "PlacedJurisdiction", "NEEDS_PLACE"]

NEEDS_PLACE = ("territorial", "district_functional")


class PlacedJurisdiction(JurisdictionResult):
    """A decision's jurisdiction with the unit its place names for itself (``unit_override``, from
    :attr:`~dispatch_nlp.components.jurisdiction.evidence.JurisdictionEvidence.unit_override`).

    ``unit_override`` is deliberately not a dataclass field: the decision JSON (``to_dict``) and
    equality with a plain :class:`JurisdictionResult` stay as they are; only unit assignment reads it.
    """

    unit_override: str | None = None

    def __init__(self, *args, unit_override: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_override = unit_override

    def __eq__(self, other: object) -> bool:
        """Equal to a plain result with the same fields (a decision read back from JSON equals the original)."""
        if not isinstance(other, JurisdictionResult):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in JurisdictionResult.__dataclass_fields__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it extends


def _in_dispatch_area(district_code: str | None) -> bool:
    """Whether a unit's district code names a dispatch area rather than a statistical district (the
    registry allows 6 digits or an area id such as the 经开区's ``bda``), or no district at all."""
    return district_code is None or not district_code.isdigit()


def _ref(unit) -> UnitRef | None:
    return UnitRef(unit.id, unit.name) if unit is not None else None


def assign_units(item, juris: JurisdictionResult, registry, territorial_dispatch: str = "street", *,
                 unit_model=None, text: str | None = None) -> UnitsResult:
    if item is None:
        return UnitsResult(rule="no category")
    duty = item.duty
    if duty in ("emergency_transfer", "out_of_scope"):
        return UnitsResult(rule=duty)
    district_code = juris.district.code if juris.district else None
    street_code = juris.street.code if juris.street else None
    place_unit = juris.unit_override if isinstance(juris, PlacedJurisdiction) else None

    def resolve(spec: str) -> UnitRef | None:
        if registry.has_unit(spec):
            return _ref(registry.get(spec))
        unit_type = spec
        if unit_type == "street_office":
            if place_unit and registry.has_unit(place_unit):
                return _ref(registry.get(place_unit))
            if territorial_dispatch == "district_subcentre":
                unit_type = "district_subcentre"
        unit = None
        if street_code and unit_type != "street_office" and not unit_type.startswith(("city_", "utility_")):
            # Through the street office's district first: streets of a dispatch area reach its units.
            unit = registry.resolve(unit_type, street_code=street_code)
            if unit is not None and not _in_dispatch_area(unit.district_code) and district_code \
                    and unit.district_code != district_prefix(district_code):
                unit = None
        if unit is None:
            unit = registry.resolve(unit_type, district_code=district_code, street_code=street_code)
        if unit is None and unit_type == "street_office" and district_code:
            # No street known: the district's 12345 sub-centre passes it on.
            unit = registry.resolve("district_subcentre", district_code=district_code)
        return _ref(unit)

    specs = list(item.unit_ids) or ([item.unit_type] if item.unit_type else [])
    primary = None
    for spec in specs:
        primary = resolve(spec)
        if primary is not None:
            break
    rule = f"{duty}: {' / '.join(specs) or 'none'}"
    if primary is not None and place_unit and primary.id == place_unit:
        rule += f" (place unit {place_unit})"
    # The rule's unit is as sure as the rule was right on held-out history (a learned model measures it).
    confidence = (unit_model.settings.rule_confidence if unit_model is not None else 1.0) if primary is not None else 0.0
    if unit_model is not None:
        primary, confidence, rule = _fuse_learned(unit_model, item, text, district_code, street_code, registry,
                                                  primary, confidence, rule)
    cooperating = [u for u in (resolve(s) for s in item.cooperating) if u is not None and u != primary]
    return UnitsResult(primary, cooperating, rule, round(confidence, 4),
                       dispatch_to=first_hop(registry, primary, district_code, street_code))


def first_hop(registry, primary: UnitRef | None, district_code: str | None,
              street_code: str | None) -> UnitRef | None:
    """Where the city centre sends the order first: a city department or utility itself; else the
    12345 sub-centre of the dispatch area the responsible unit (or the place's street office)
    belongs to — the development area's for the 经开区 (``district_subcentre@bda``), else the
    district's.  None without a responsible unit."""
    if primary is None:
        return None
    unit = registry.get(primary.id)
    if unit is None:
        return None
    if unit.level in ("city", "utility") or unit.unit_type == "district_subcentre":
        return primary
    # A unit of a dispatch area that is not a statistical district reaches that area's sub-centre.
    area = unit.district_code if _in_dispatch_area(unit.district_code) and unit.district_code else None
    if area is None and street_code:
        office = registry.resolve("street_office", street_code=street_code)
        if office is not None and office.district_code and _in_dispatch_area(office.district_code):
            area = office.district_code
    hop = registry.resolve("district_subcentre", district_code=area) if area else None
    if hop is None:
        hop = registry.resolve("district_subcentre", district_code=unit.district_code or district_code,
                               street_code=None if (unit.district_code or district_code) else street_code)
    return _ref(hop)


def _fuse_learned(model, item, text, district_code, street_code, registry, primary, confidence, rule):
    """The catalog rule's unit and history's unit combined (see the module docstring)."""
    category = getattr(item, "code", None)
    pred = model.predict(text, category, district_code, street_code)
    if pred is None:
        return primary, confidence, rule
    learned = _ref(resolve_template(pred.template, registry, district_code, street_code))
    if learned is None:
        return primary, confidence, rule
    if primary is not None and learned.id == primary.id:
        return primary, confidence, rule + f"; history agrees (p={pred.probability:.2f})"
    settings = model.settings
    if pred.probability >= settings.override_min and pred.support >= settings.min_support:
        was = primary.id if primary is not None else "none"
        return learned, pred.probability, rule + f"; history overrides → {learned.id} (p={pred.probability:.2f}, catalog: {was})"
    if primary is None:
        return learned, pred.probability * settings.history_only_factor, rule + f"; history suggests {learned.id} (p={pred.probability:.2f})"
    return primary, confidence * (1.0 - pred.probability), rule + f"; history prefers {learned.id} (p={pred.probability:.2f})"
