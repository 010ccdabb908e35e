"""Division codes: the 12-digit statistical codes of districts, streets/townships and communities.

District ``110105000000``, street ``110105001000``, community or village ``110105001001``: each level
nests in the one above by prefix (6 / 9 / 12 digits). Every module slices codes through these helpers.
"""

from __future__ import annotations

from typing import Literal, NewType

DivisionCode = NewType("DivisionCode", str)
DivisionLevel = Literal["district", "street", "community"]
LEVEL_RANK: dict[str, int] = {"district": 1, "street": 2, "community": 3}


def normalize_code(code: object) -> str | None:
    """A 12-digit division code from a 6-, 9- or 12-digit code (str or int); None if malformed."""
    s = str(code).strip()
    if not s.isdigit() or not s.isascii():
        return None
    if len(s) == 6:
        return s + "000000"
    if len(s) == 9:
        return s + "000"
    return s if len(s) == 12 else None


def level_of(code: str) -> DivisionLevel:
    """The level of a 12-digit code."""
    if code.endswith("000000"):
        return "district"
    return "street" if code.endswith("000") else "community"


def district_prefix(code: str) -> str:
    """The 6 digits every code in a district starts with."""
    return code[:6]


def street_prefix(code: str) -> str:
    """The 9 digits every code in a street/township starts with."""
    return code[:9]


def district_of(code: str) -> str:
    """The 12-digit code of the district a code lies in (itself for a district)."""
    return code[:6] + "000000"


def street_of(code: str) -> str:
    """The 12-digit code of the street a street or community code lies in."""
    return code[:9] + "000"


def parent_of(code: str) -> str | None:
    """The code one level up (None for a district)."""
    level = level_of(code)
    if level == "street":
        return district_of(code)
    if level == "community":
        return street_of(code)
    return None


def same_district(a: str, b: str) -> bool:
    return a[:6] == b[:6]


def is_division_code(code: object) -> bool:
    """True for a 12-digit division code written in ASCII digits (the schema's ``^[0-9]{12}$``)."""
    return isinstance(code, str) and len(code) == 12 and code.isascii() and code.isdigit()
