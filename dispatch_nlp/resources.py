"""Where the shipped data lives: the default catalog, registry, gazetteer and model.

Every function takes the data folder (``root``: a folder holding ``catalog/`` and ``models/``)
explicitly.  Without one it is looked up in order: the folder the application chose at its edge
with :func:`use_data_root`, the source checkout this package sits in, and
``<prefix>/share/dispatch-nlp`` where a non-editable install puts them.

The library never reads the environment: the command line (``dispatch_nlp.cli.main``) reads the
``DISPATCH_NLP_DATA`` variable (:data:`DATA_ENV`) and passes it to :func:`use_data_root`, so
``DISPATCH_NLP_DATA=/srv/dispatch dispatch-nlp ...`` (``serve`` included) works as it always has.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dispatch_nlp.errors import ModelError

__all__ = ["DATA_ENV", "use_data_root", "data_root", "catalog_dir", "models_dir", "default_model_dir"]

DATA_ENV = "DISPATCH_NLP_DATA"  # read by the CLI (the edge), never by the library

_chosen_root: Path | None = None


def use_data_root(root: str | Path | None) -> None:
    """Make ``root`` the data folder the functions below look in first when given none (None or
    empty: back to the shipped data).  Called once at the application's edge."""
    global _chosen_root
    _chosen_root = Path(root) if root else None


def data_root(root: str | Path | None = None) -> Path:
    """The data folder: ``root`` if it holds ``catalog/``, else the one chosen with
    :func:`use_data_root`, else the shipped data.  Raises ``ModelError`` when none is found."""
    candidates = []
    first = Path(root) if root else _chosen_root
    if first is not None:
        candidates.append(first)
    candidates.append(Path(__file__).resolve().parent.parent)
    candidates.append(Path(sys.prefix) / "share" / "dispatch-nlp")
    for folder in candidates:
        if (folder / "catalog").is_dir():
            return folder
    raise ModelError(
        "cannot find the dispatch_nlp data folder (catalog/, models/); looked in "
        + ", ".join(str(c) for c in candidates)
        + f". Set {DATA_ENV} to the folder that holds them."
    )


def catalog_dir(root: str | Path | None = None) -> Path:
    return data_root(root) / "catalog"


def models_dir(root: str | Path | None = None) -> Path:
    return data_root(root) / "models"


def default_model_dir(root: str | Path | None = None) -> Path:
    return models_dir(root) / "default"
