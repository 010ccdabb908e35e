"""Errors raised at the library's boundary.

Every error a user can cause (bad input, broken catalog, corrupt model) is one of these, with a
message that names the problem and what to fix.  Messages never carry unmasked personal data.
"""

from __future__ import annotations


class DispatchNLPError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(DispatchNLPError, ValueError):
    """An order, file or table that cannot be read as given."""


class CatalogError(DispatchNLPError):
    """A catalog, units registry or gazetteer that fails validation.

    ``problems`` lists every problem found (not just the first), each a string that names the item
    path or file line and what to fix.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{shown}{more}")


class ModelError(DispatchNLPError):
    """A model directory that is missing, incomplete, corrupt or of the wrong version."""
