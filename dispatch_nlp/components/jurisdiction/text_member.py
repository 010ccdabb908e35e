"""A plain char n-gram classifier of district and street as a part of the learned jurisdiction member.

History with district/street columns teaches two things: the place strings of
:class:`~dispatch_nlp.components.jurisdiction.learned.LearnedJurisdiction` (a compound, a road) and,
through an ordinary text classifier on the same rows, everything else the words say about the place
(a bureau's own river names, a market, the way a district's callers write). ``TextBlendedLearned``
wraps the learned member: its posteriors become a mixture ``(1 - w) * P_learned + w * P_text`` per
level, with ``w`` fitted on the dev split by training (``config["jurisdiction"]["text_member"]``:
``file``, ``district_weight``, ``street_weight``), so the fusion with the gazetteer member keeps what
either part knows. Everything else (labels, spans, whether the learned part was informative) is the
learned member's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dispatch_nlp.components.jurisdiction.learned import LearnedEvidence
from dispatch_nlp.components.members.linear import LinearMember
from dispatch_nlp.errors import ModelError

__all__ = ["TextBlendedLearned", "load_text_member", "TEXT_MEMBER_FILE", "FLOOR"]

TEXT_MEMBER_FILE = "jurisdiction_text.npz"
FLOOR = 1e-9  # least probability before the log (a class neither part has seen)


def _index(classes: list[str], labels: list[str]) -> np.ndarray:
    pos = {c: i for i, c in enumerate(labels)}
    return np.array([pos.get(c, -1) for c in classes], dtype=int)


class TextBlendedLearned:
    """The learned member with the text classifier mixed into its district and street posteriors."""

    def __init__(self, learned, text: LinearMember, district_weight: float, street_weight: float):
        self.learned = learned
        self.text = text
        self.districts = learned.districts
        self.streets = learned.streets
        self.weights = {"district": float(district_weight), "street": float(street_weight)}
        self._map = {h: _index(text.classes(h), self.districts if h == "district" else self.streets)
                     for h in ("district", "street") if h in text.heads}

    def __getattr__(self, name: str) -> Any:
        # Only for attributes this wrapper does not have; never for its own (copy/pickle look them up
        # before __init__ ran, which would recurse through self.learned).
        if name.startswith("_") or name == "learned":
            raise AttributeError(name)
        return getattr(self.learned, name)

    def _mix(self, logp: np.ndarray, probs: np.ndarray, head: str) -> np.ndarray:
        w = self.weights[head]
        if w <= 0 or head not in self._map:
            return logp
        p_text = np.zeros_like(logp)
        idx = self._map[head]
        keep = idx >= 0
        p_text[idx[keep]] = probs[keep]
        total = p_text.sum()
        if total <= 0:
            return logp
        mixed = (1 - w) * np.exp(logp) + w * p_text / total
        return np.log(np.clip(mixed, FLOOR, None))

    def text_probs(self, text: str) -> dict[str, np.ndarray]:
        return self.text_probs_many([text])[0]

    def text_probs_many(self, texts: list[str]) -> list[dict[str, np.ndarray]]:
        """The text classifier's district and street probabilities of each text, in one batch."""
        heads = [h for h in ("district", "street") if h in self._map]
        out = self.text.predict_proba(texts, heads) if texts else {}
        return [{h: p[i] for h, p in out.items()} for i in range(len(texts))]

    def predict(self, text: str, tokens=None) -> LearnedEvidence:
        return self.predict_many([text], [tokens])[0]

    def predict_many(self, texts: list[str], tokens: list | None = None) -> list[LearnedEvidence]:
        """``predict`` of each text (``tokens``: each text's segmentation or None), the text
        classifier run once over all of them (its per-call cost is most of an order's)."""
        tokens = tokens if tokens is not None else [None] * len(texts)
        out = []
        for text, toks, probs in zip(texts, tokens, self.text_probs_many(texts), strict=True):
            lev = self.learned.predict(text, toks)
            d = self._mix(lev.district_logp, probs["district"], "district") if "district" in probs else lev.district_logp
            s = self._mix(lev.street_logp, probs["street"], "street") if "street" in probs else lev.street_logp
            out.append(LearnedEvidence(d, s, lev.spans, lev.informative))
        return out


def load_text_member(model_dir: Path, section: Mapping[str, Any], learned) -> TextBlendedLearned:
    """``learned`` wrapped with the text classifier a model's ``jurisdiction.text_member`` section names."""
    if not isinstance(section, Mapping) or not section.get("file"):
        raise ModelError(f"jurisdiction text_member must name its file, not {section!r}")
    unknown = sorted(set(section) - {"file", "district_weight", "street_weight", "dev_accuracy"})
    if unknown:
        raise ModelError(f"unknown jurisdiction text_member key(s) {', '.join(unknown)}")
    text = LinearMember.load(model_dir, str(section["file"]))
    return TextBlendedLearned(learned, text, float(section.get("district_weight", 0.0)),
                              float(section.get("street_weight", 0.0)))
