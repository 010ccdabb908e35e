"""What every part of catalog checking shares: code shape, limits, and helpers for messages.

``suggest(value, choices)`` returns a ``" (did you mean 'x'?)"`` tail for a message (or ``""``);
``str_list(value)`` returns a list of strings or None when ``value`` is not one; ``Report`` is the
callable a check reports a problem through.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

MIN_KEYWORDS = 5
MAX_LEVEL = 3
CODE_RE = re.compile(rf"^(\d\d){{1,{MAX_LEVEL}}}$")
INVALID = object()  # a value that failed its check (already reported where it was written)

Report = Callable[[str], None]


def suggest(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def str_list(value: Any) -> list[str] | None:
    """``value`` as a list when it is a list or tuple of strings, else None."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None
