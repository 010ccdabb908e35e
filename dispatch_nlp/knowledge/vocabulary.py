"""The domain vocabulary, defined once: routes, appeal types, response levels, emergency numbers, duty
types, unit types, jurisdiction methods, decision flags.

Each closed vocabulary is a ``Literal`` type (what the dataclasses and the service models are typed
with) and a tuple of its values taken from that type (what code iterates and validates against). The
decision JSON Schema (``dispatch_nlp/schema/decision.schema.json``) repeats the enums for non-Python
readers; ``tests/test_vocabulary.py`` checks that the three agree. ``docs/contracts.md`` explains
each term.
"""

from __future__ import annotations

from typing import Literal, get_args

# ---- the decision ---------------------------------------------------------------------------------
RouteName = Literal["dispatch", "review", "emergency_transfer", "out_of_scope", "return_to_district"]
ROUTES: tuple[RouteName, ...] = get_args(RouteName)

AppealType = Literal["咨询", "求助", "投诉", "举报", "建议", "表扬", "其他"]
APPEAL_TYPES: tuple[AppealType, ...] = get_args(AppealType)

ResponseLevel = Literal["2h", "24h", "7d", "15d"]
RESPONSE_LEVELS: tuple[ResponseLevel, ...] = get_args(ResponseLevel)
RESPONSE_LEVEL_HOURS: dict[str, int] = {"2h": 2, "24h": 24, "7d": 168, "15d": 360}

EmergencyNumber = Literal["110", "119", "120", "122"]
EMERGENCY_NUMBERS: tuple[EmergencyNumber, ...] = get_args(EmergencyNumber)
DEFAULT_EMERGENCY_NUMBER: EmergencyNumber = "110"

JurisdictionMethod = Literal["gazetteer", "learned", "fused", "caller", "none"]
JURISDICTION_METHODS: tuple[JurisdictionMethod, ...] = get_args(JurisdictionMethod)

SpanField = Literal["text", "title"]

Flag = Literal["empty_text", "truncated", "pii_masked", "trail_cut", "no_trained_model", "no_category",
               "no_jurisdiction", "bad_input", "emergency_not_live", "encoder_skipped"]
FLAGS: tuple[Flag, ...] = get_args(Flag)

# ---- the catalog ----------------------------------------------------------------------------------
DutyType = Literal["territorial", "district_functional", "city_functional", "utility", "emergency_transfer",
                   "out_of_scope"]
DUTY_TYPES: tuple[DutyType, ...] = get_args(DutyType)
NO_UNIT_DUTIES: tuple[DutyType, ...] = ("emergency_transfer", "out_of_scope")

TerritorialDispatch = Literal["street", "district_subcentre"]
TERRITORIAL_DISPATCH: tuple[TerritorialDispatch, ...] = get_args(TerritorialDispatch)

# ---- units ----------------------------------------------------------------------------------------
UnitLevel = Literal["city", "district", "street", "utility"]
UNIT_LEVELS: tuple[UnitLevel, ...] = get_args(UnitLevel)

STREET_OFFICE = "street_office"  # 街道办事处 / 乡镇人民政府 / 地区办事处: street_office@<9-digit street code>
DISTRICT_SUBCENTRE = "district_subcentre"  # 区12345分中心 (经开区 too): district_subcentre@<6 digits | bda>
BDA = "bda"  # the district part of the 经开区's unit ids: it is a dispatch area, not a statistical district

# A bureau of each district: district_<x>@<6-digit district code>.
DISTRICT_BUREAU_TYPES: frozenset[str] = frozenset(
    "district_" + x
    for x in (
        "cgw cgzf zjw rsj scjg sthj jtw jtzd jw wjw mzj swj ghzr gafj ylbz yllh wlj yjgl fgw nyj tyj tax "
        "tyjr sfj zwfw swju kxj"
    ).split()
)
# Types that need a district to name one unit: the bureaus and the sub-centre.
DISTRICT_UNIT_TYPES: frozenset[str] = DISTRICT_BUREAU_TYPES | {DISTRICT_SUBCENTRE}
# A city bureau: its id is the type itself.
CITY_UNIT_TYPES: frozenset[str] = frozenset(
    "city_" + x
    for x in (
        "rsj tax jgj txgl gjj ybj jtw zjw cgw scjg jw wjw gaj ghzr sthj mzj swj wlj yjgl zwfw tyjr cl zgh "
        "jrjg xf crj yllh fgw"
    ).split()
)
# A utility or public-service company: its id is the type itself.
UTILITY_UNIT_TYPES: frozenset[str] = frozenset(
    "utility_" + x for x in "water drainage power gas heating bus metro mobile unicom telecom post".split()
)
UNIT_TYPES: frozenset[str] = frozenset({STREET_OFFICE}) | DISTRICT_UNIT_TYPES | CITY_UNIT_TYPES | UTILITY_UNIT_TYPES

# Which unit types may handle an order of each duty (the handling unit, not the cooperating ones).
DUTY_UNIT_PREFIXES: dict[str, tuple[str, ...]] = {
    "territorial": (STREET_OFFICE, DISTRICT_SUBCENTRE),
    "district_functional": ("district_",),
    "city_functional": ("city_",),
    "utility": ("utility_",),
}


def unit_type_level(unit_type: str) -> UnitLevel | None:
    """The level a unit type belongs to, or None for a type outside the vocabulary."""
    if unit_type == STREET_OFFICE:
        return "street"
    if unit_type in DISTRICT_UNIT_TYPES:
        return "district"
    if unit_type in CITY_UNIT_TYPES:
        return "city"
    if unit_type in UTILITY_UNIT_TYPES:
        return "utility"
    return None


# ---- operators' corrections -------------------------------------------------------------------------
CorrectionKind = Literal["reassign", "return", "other"]  # 改派 / 退单 / 其他, as stored
CORRECTION_KINDS: tuple[CorrectionKind, ...] = get_args(CorrectionKind)
CorrectionKindLabel = Literal["改派", "退单", "其他", "reassign", "return", "other"]  # what a client may send
CORRECTION_KIND_OF: dict[str, CorrectionKind] = {"改派": "reassign", "reassign": "reassign", "退单": "return",
                                                 "return": "return", "其他": "other", "other": "other"}
