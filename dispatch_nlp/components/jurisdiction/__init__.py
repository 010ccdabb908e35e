"""Jurisdiction: where is the problem?  Two members and their fusion, one component.

* :mod:`~dispatch_nlp.components.jurisdiction.gazetteer` — :class:`GazetteerJurisdiction`: place
  mentions from the gazetteer, their roles, resolution to the finest consistent division;
* :mod:`~dispatch_nlp.components.jurisdiction.learned` — :class:`LearnedJurisdiction`: place strings
  and a prior learned from labeled history (compounds, roads, landmarks that are in no list);
* :mod:`~dispatch_nlp.components.jurisdiction.fused` — :class:`FusedJurisdiction`: a log-linear
  combination of both, weights fitted on the dev split, so its confidence is calibrated;
* :mod:`~dispatch_nlp.components.jurisdiction.evidence` — :class:`Mention`, :class:`JurisdictionEvidence`;
* :mod:`~dispatch_nlp.components.jurisdiction.settings` — :class:`JurisdictionSettings`.

:func:`build_jurisdiction_stage` takes a gazetteer, a model directory and the model's
``config["jurisdiction"]`` section and returns the stage, which stores a ``JurisdictionEvidence``
in ``doc.jurisdiction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch_nlp.components.jurisdiction.evidence import JurisdictionEvidence, Mention
from dispatch_nlp.components.jurisdiction.fused import FusedJurisdiction
from dispatch_nlp.components.jurisdiction.gazetteer import (
    GazetteerJurisdiction,
    load_place_stopwords,
    outside_named_district,
)
from dispatch_nlp.components.jurisdiction.learned import LearnedEvidence, LearnedJurisdiction
from dispatch_nlp.components.jurisdiction.settings import JurisdictionSettings
from dispatch_nlp.components.jurisdiction.text_member import load_text_member

__all__ = [
    "Mention",
    "JurisdictionEvidence",
    "JurisdictionSettings",
    "GazetteerJurisdiction",
    "LearnedJurisdiction",
    "LearnedEvidence",
    "FusedJurisdiction",
    "outside_named_district",
    "build_jurisdiction_stage",
]


def build_jurisdiction_stage(gazetteer, model_dir, config: Mapping[str, Any] | None = None):
    """The jurisdiction stage a model directory asks for (``config`` is its ``jurisdiction`` section).

    Without a ``learned`` file the stage is the gazetteer member alone.  ``config["mode"]`` may force
    ``gazetteer`` or ``learned`` (benchmarks); the default is ``fused``.  Every other key is a
    :class:`JurisdictionSettings` field (``weights`` sets the fusion weights); an unknown key raises
    ``ModelError`` naming it.
    """
    config = dict(config or {})
    text_member = config.pop("text_member", None)  # a char n-gram classifier mixed into the learned member
    settings = JurisdictionSettings.from_dict(config)
    gaz = GazetteerJurisdiction(gazetteer, settings)
    learned_file = config.get("learned")
    if not learned_file or model_dir is None:
        return gaz
    learned = LearnedJurisdiction.load(Path(model_dir) / learned_file,
                                       max_grams_per_order=settings.max_grams_per_order,
                                       informative_ratio=settings.informative_ratio,
                                       min_support=settings.learned_min_support,
                                       fragment_min_support=settings.fragment_min_support,
                                       fragment_min_purity=settings.fragment_min_purity,
                                       stopwords=load_place_stopwords())
    member = load_text_member(Path(model_dir), text_member, learned) if text_member else learned
    return FusedJurisdiction(gaz, member, settings)
