"""Lazy loading of the optional tool packages for CLI commands.

``require_training(command)`` imports ``dispatch_nlp.training`` (which checks for the ``[train]``
extra) and turns its ``ImportError`` into an ``InputError`` with a one-line message, so
``dispatch-nlp train`` / ``corpus`` / ``retrain`` / ``bench`` exit with code 2 and say what to install
instead of printing a traceback. ``load_training(module, command)`` does that, then returns the module.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dispatch_nlp.errors import InputError

TRAINING = "dispatch_nlp.training"


def require_training(command: str) -> None:
    """Import ``dispatch_nlp.training``, or raise ``InputError`` naming the ``[train]`` extra."""
    try:
        importlib.import_module(TRAINING)
    except ImportError as exc:
        raise InputError(f"{command}: {exc}") from None


def load_training(module: str, command: str) -> ModuleType:
    """``module`` (under ``dispatch_nlp.training``) once the ``[train]`` extra is known to be there.

    Only the extra's absence becomes an ``InputError``; an ``ImportError`` inside the module itself is
    a bug and propagates."""
    require_training(command)
    return importlib.import_module(module)

