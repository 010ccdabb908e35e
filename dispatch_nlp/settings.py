"""Named settings read from a model's config: one reader for every settings dataclass.

The hand-set numbers of the stages live in frozen dataclasses, one documented field each, with
defaults equal to what the library has always used (``routing.settings.RouteSettings``,
``components.jurisdiction.settings.JurisdictionSettings``, ``routing.units_learned.UnitModelSettings``).
``settings_fields(cls, data, section=...)`` turns a config mapping into the keyword arguments of one of
them: a key that is neither a field nor one of the section's descriptive keys raises a ``ModelError``
naming it and the known keys; ``float``/``int``/``str`` fields are checked and converted (a ``float``
field accepts an int; a bool is never a number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

from dispatch_nlp.errors import ModelError

__all__ = ["settings_fields", "coerce_setting"]

_KINDS: dict[str, type] = {"float": float, "int": int, "str": str}


def coerce_setting(section: str, key: str, value: Any, type_name: Any) -> Any:
    """``value`` as the field's type (``float`` fields accept ints), or a ModelError naming the key."""
    kind = _KINDS.get(str(type_name))
    if kind is None:
        return value
    if isinstance(value, bool) or (kind is not str and not isinstance(value, (int, float))) \
            or (kind is int and isinstance(value, float) and not value.is_integer()) \
            or (kind is str and not isinstance(value, str)):
        raise ModelError(f"{section} setting {key!r} must be a {kind.__name__}, not {value!r}")
    return kind(value)


def settings_fields(cls: type, data: Mapping[str, Any] | None, *, section: str,
                    descriptive: Iterable[str] = (), exclude: Iterable[str] = (),
                    convert: Mapping[str, Callable[[Any], Any]] | None = None) -> dict[str, Any]:
    """The keyword arguments of the settings dataclass ``cls`` given in ``data``.

    ``descriptive`` keys describe the model rather than tune it and are skipped; ``exclude`` fields are
    not settable here (the caller reads them from elsewhere); ``convert`` maps a field to its own
    converter (e.g. a tuple of floats) instead of the type check."""
    names = {f.name: f for f in fields(cls) if f.name not in set(exclude)}
    skip = set(descriptive)
    convert = convert or {}
    known: dict[str, Any] = {}
    for key, value in dict(data or {}).items():
        if key in skip:
            continue
        if key not in names:
            raise ModelError(f"unknown {section} setting {key!r} (known: {', '.join(names)})")
        known[key] = convert[key](value) if key in convert else coerce_setting(section, key, value, names[key].type)
    return known
