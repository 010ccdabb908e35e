"""Where the shipped data lives: the default catalog, registry, gazetteer and model.

Looked up in order: the ``DISPATCH_NLP_DATA`` environment variable (a folder holding ``catalog/`` and
``models/``), the source checkout this package sits in, and ``<prefix>/share/dispatch-nlp`` where a
non-editable install puts them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dispatch_nlp.errors import ModelError


def data_root() -> Path:
    candidates = []
    env = os.environ.get("DISPATCH_NLP_DATA")
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parent.parent)
    candidates.append(Path(sys.prefix) / "share" / "dispatch-nlp")
    for root in candidates:
        if (root / "catalog").is_dir():
            return root
    raise ModelError(
        "cannot find the dispatch_nlp data folder (catalog/, models/); looked in "
        + ", ".join(str(c) for c in candidates)
        + ". Set DISPATCH_NLP_DATA to the folder that holds them."
    )


def catalog_dir() -> Path:
    return data_root() / "catalog"


def models_dir() -> Path:
    return data_root() / "models"


def default_model_dir() -> Path:
    return models_dir() / "default"
