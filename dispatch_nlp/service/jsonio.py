"""Response bodies for the dispatch routes: ``decision_body(decision)`` → the UTF-8 JSON bytes of
``decision.to_dict()`` (the same document ``DispatchDecision.to_json`` writes), made with orjson when it is
installed (the [serve] extra): it reads each dataclass's fields once instead of deep-copying them
through ``dataclasses.asdict`` and then ``json.dumps``, several times faster on a decision. Without orjson it falls
back to ``to_json``.

The micro-batcher's worker thread calls it, so the event loop only writes the bytes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

try:  # pragma: no cover - which branch runs depends on the installation
    import orjson

    # Dataclasses go through ``_other`` (their declared fields, as ``asdict``): orjson's own reading takes
    # ``__dict__``, which holds attributes set on an instance that are no fields of the dataclass.
    _OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]


def _other(value: Any) -> Any:
    """What orjson does not write itself: dataclasses (their declared fields, as ``asdict`` reads them),
    subclasses of float, sets (as lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def decision_body(decision: Any) -> bytes:
    """The decision as the UTF-8 JSON of ``decision.to_dict()``."""
    if orjson is None:
        return decision.to_json().encode("utf-8")
    return orjson.dumps(decision, default=_other, option=_OPTIONS)


def fast_json() -> bool:
    """Whether bodies are written with orjson."""
    return orjson is not None
