"""The responsible unit: who must handle the order, from the category's duty and the jurisdiction.

``assign_units(item, jurisdiction, registry, territorial_dispatch) -> UnitsResult``:
territorial → the street office of the place (or the district's 12345 sub-centre when the catalog
says territorial orders go there, or when no street is known); district functional → that district's
bureau; city functional → the city bureau; utility → the company; emergency transfer and out of
scope → no unit (the route says what happens). Cooperating units come from the catalog item.
"""

from __future__ import annotations

from .types import JurisdictionResult, UnitRef, UnitsResult


def assign_units(item, juris: JurisdictionResult, registry, territorial_dispatch: str = "street") -> UnitsResult:
    if item is None:
        return UnitsResult(rule="no category")
    duty = item.duty
    if duty in ("emergency_transfer", "out_of_scope"):
        return UnitsResult(rule=duty)
    district_code = juris.district.code if juris.district else None
    street_code = juris.street.code if juris.street else None

    def resolve(spec: str) -> UnitRef | None:
        if registry.has_unit(spec):
            unit = registry.get(spec)
        else:
            unit_type = spec
            if unit_type == "street_office" and territorial_dispatch == "district_subcentre":
                unit_type = "district_subcentre"
            unit = registry.resolve(unit_type, district_code=district_code, street_code=street_code)
            if unit is None and unit_type == "street_office" and district_code:
                # No street known: the district's 12345 sub-centre passes it on.
                unit = registry.resolve("district_subcentre", district_code=district_code)
        return UnitRef(unit.id, unit.name) if unit is not None else None

    specs = list(item.unit_ids) or ([item.unit_type] if item.unit_type else [])
    primary = None
    for spec in specs:
        primary = resolve(spec)
        if primary is not None:
            break
    cooperating = [u for u in (resolve(s) for s in item.cooperating) if u is not None and u != primary]
    rule = f"{duty}: {' / '.join(specs) or 'none'}"
    return UnitsResult(primary, cooperating, rule, 1.0 if primary is not None else 0.0)
