"""The fused jurisdiction member: the gazetteer member and the learned member combined.

``FusedJurisdiction(gazetteer_member, learned, settings)`` is a pipeline component; it stores a
:class:`~dispatch_nlp.components.jurisdiction.evidence.JurisdictionEvidence` under
``doc.jurisdiction`` whose confidence is calibrated on held-out history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from dispatch_nlp.components.jurisdiction.evidence import JurisdictionEvidence, Mention
from dispatch_nlp.components.jurisdiction.gazetteer import GazetteerJurisdiction
from dispatch_nlp.components.jurisdiction.settings import JurisdictionSettings
from dispatch_nlp.knowledge.divisions import district_of, district_prefix, level_of, street_of, street_prefix
from dispatch_nlp.pipeline import BaseComponent, Doc, in_batches
from dispatch_nlp.text.normalize import trail_start

__all__ = ["FusedJurisdiction"]


def _first_text(masked: str, cut: int | None) -> str:
    """The part of the order the learned member reads first: all of it, or what precedes the trail."""
    return masked if cut is None else masked[:cut]


class FusedJurisdiction(BaseComponent):
    """The gazetteer member and the learned member combined into one calibrated answer.

    Per district ``d``: ``logit(d) = wg·G(d) + wl·log P_L(d)`` where ``G(d)`` is the gazetteer's
    support share for ``d`` (0 to 1) and ``P_L`` the learned posterior; the same per street.  The
    weights are fitted on the dev split by maximum likelihood, so the softmax is the calibrated
    confidence.  The street is reported when its probability reaches ``street_min``; below
    ``abstain_below`` the stage abstains (route review) and keeps the candidates.

    ``settings``: a :class:`JurisdictionSettings` or the model's ``config["jurisdiction"]`` section.
    """

    name = "jurisdiction"

    def __init__(self, gazetteer_member: GazetteerJurisdiction, learned,
                 settings: JurisdictionSettings | Mapping[str, Any] | None = None):
        if not isinstance(settings, JurisdictionSettings):
            settings = JurisdictionSettings.from_dict(settings)
        self.settings = settings
        self.gaz = gazetteer_member
        self.gazetteer = gazetteer_member.gazetteer
        self.learned = learned
        self.wg_d = settings.gaz_district
        self.wl_d = settings.learned_district
        self.wg_s = settings.gaz_street
        self.wl_s = settings.learned_street
        self.street_min = settings.street_min
        self.abstain_below = settings.abstain_below
        self.mode = settings.mode  # fused | gazetteer | learned (benchmarks)
        self._d_index = {c: i for i, c in enumerate(learned.districts)}
        self._s_index = {c: i for i, c in enumerate(learned.streets)}
        self._s_district = np.array([self._d_index.get(district_of(s), -1) for s in learned.streets])

    def gaz_vectors(self, ev: JurisdictionEvidence) -> tuple[np.ndarray, np.ndarray]:
        """The gazetteer's support share per district and per street (zeros when it found nothing)."""
        gd = np.zeros(len(self._d_index))
        gs = np.zeros(len(self._s_index))
        if ev.code is None and not ev.ambiguous:
            return gd, gs
        for code, score, _ in ev.candidates:
            di = self._d_index.get(district_of(code))
            if di is not None:
                gd[di] = max(gd[di], score)
            if level_of(code) != "district":
                si = self._s_index.get(street_of(code))
                if si is not None:
                    gs[si] = max(gs[si], score)
        for arr in (gd, gs):
            m = arr.max()
            if m > 0:
                arr /= m
        if ev.ambiguous:
            gd *= self.settings.ambiguous_gaz_factor
            gs *= self.settings.ambiguous_gaz_factor
        return gd, gs

    def combine(self, ev: JurisdictionEvidence, lev, wg_d=None, wl_d=None, wg_s=None, wl_s=None):
        """Fused district and street distributions (numpy arrays over the learned label sets)."""
        wg_d = self.wg_d if wg_d is None else wg_d
        wl_d = self.wl_d if wl_d is None else wl_d
        wg_s = self.wg_s if wg_s is None else wg_s
        wl_s = self.wl_s if wl_s is None else wl_s
        gd, gs = self.gaz_vectors(ev)
        pd = _softmax(wg_d * gd + wl_d * lev.district_logp)
        ps = _softmax(wg_s * gs + wl_s * lev.street_logp)
        return pd, ps

    def __call__(self, doc: Doc) -> Doc:
        doc.jurisdiction = self.evidence(doc)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        """``__call__`` of each doc, the learned member's first reading of every doc of a batch made in
        one call when it can batch (the text classifier's per-call cost is most of an order's)."""
        for batch in in_batches(docs, batch_size):
            yield from self._pipe_batch(batch)

    def _pipe_batch(self, docs: list[Doc]) -> list[Doc]:
        predict_many = getattr(self.learned, "predict_many", None)
        if self.mode == "gazetteer" or predict_many is None or len(docs) < 2:
            return [self(doc) for doc in docs]
        gevs = [self.gaz.evidence(doc) for doc in docs]
        inputs = [self._learned_input(doc, gev) for doc, gev in zip(docs, gevs, strict=True)]
        firsts = predict_many([_first_text(masked, cut) for masked, _, cut in inputs],
                              [tokens for _, tokens, _ in inputs])
        for doc, gev, inp, first in zip(docs, gevs, inputs, firsts, strict=True):
            doc.jurisdiction = self.evidence(doc, gev=gev, first=(inp, first))
        return docs

    def evidence(self, doc: Doc, *, gev: JurisdictionEvidence | None = None, first=None) -> JurisdictionEvidence:
        """The fused evidence of one doc (``gev``: the gazetteer member's evidence, ``first``:
        ``_learned_input(doc, gev)`` and the learned member's first reading of it, when already computed)."""
        st = self.settings
        gev = self.gaz.evidence(doc) if gev is None else gev
        if self.mode == "gazetteer":
            return gev
        lev, from_trail = self._learned(doc, gev, first)
        gev_used = JurisdictionEvidence() if self.mode == "learned" else gev
        has_gaz = gev_used.code is not None or bool(gev_used.ambiguous)
        pd, ps = self.combine(gev_used, lev, **({"wg_d": 0.0, "wg_s": 0.0} if self.mode == "learned" else {}))
        di = int(np.argmax(pd))
        dcode = self.learned.districts[di]
        # Street: the best street of the chosen district, its probability within the fused street softmax.
        in_d = self._s_district == di
        si = int(np.argmax(np.where(in_d, ps, -1.0))) if in_d.any() else -1
        s_prob = float(ps[si] / max(ps[in_d].sum(), 1e-12) * pd[di]) if si >= 0 else 0.0
        out = JurisdictionEvidence(mentions=gev.mentions, return_to_district=gev.return_to_district,
                                   outside_district=gev.outside_district)
        if has_gaz and lev.informative:
            out.method = "fused"
        elif lev.informative:
            out.method = "learned"
        else:
            out.method = gev.method if has_gaz else "none"
        # A street only with evidence of its own: the gazetteer names it, or it holds enough of the
        # whole street distribution (not just of its district's) — else back off to the district.
        gaz_street = si >= 0 and gev_used.code is not None and level_of(gev_used.code) != "district" \
            and street_of(gev_used.code) == self.learned.streets[si]
        # A river or road that crosses districts decides no street by itself (the gazetteer must name one).
        linear = any(m.linear and m.role == "problem" for m in gev.mentions)
        if si >= 0 and s_prob >= self.street_min and (gaz_street or (
                float(ps[si]) >= st.street_evidence_min and not linear)):
            code, conf = self.learned.streets[si], s_prob
        else:
            code, conf = dcode, float(pd[di])
        # Finer than the street: the gazetteer's community if it lies in the street decided.
        if gev_used.code and len(code) == 12 and gev_used.code.startswith(street_prefix(code)) \
                and level_of(code) != "district" and self.gaz._level(gev_used.code) == "community":
            code = gev_used.code
        gaz_agrees = gev_used.code is not None and (
            code.startswith(street_prefix(gev_used.code)) if level_of(gev_used.code) != "district"
            else code.startswith(district_prefix(gev_used.code)))
        if gaz_agrees:
            out.mention = gev_used.mention
            out.unit_override = gev_used.unit_override
        elif lev.spans:
            s, e, _ = lev.spans[0]
            out.mention = Mention(doc.text[s:e], s, e, (code,), "learned")
        cands: list[tuple[str, float, Mention | None]] = []
        for i in np.argsort(-ps)[: st.street_candidates]:
            if ps[i] > st.candidate_min_probability:
                cands.append((self.learned.streets[int(i)], float(ps[i]), None))
        for i in np.argsort(-pd)[: st.district_candidates]:
            if pd[i] > st.candidate_min_probability and not any(
                    c.startswith(district_prefix(self.learned.districts[int(i)])) for c, _, _ in cands):
                cands.append((self.learned.districts[int(i)], float(pd[i]), None))
        mention_of = {c: m for c, _, m in gev_used.candidates}
        out.candidates = [(c, s, mention_of.get(c) or (out.mention if c == code else None)) for c, s, _ in cands]
        out.ambiguous = gev_used.ambiguous if not gaz_agrees else ()
        out.confidence = round(conf, 4)
        if conf < self.abstain_below or not (has_gaz or lev.informative):  # a prior alone never answers
            out.abstained = True
            out.code = None
        else:
            out.code = code
        if self.mode == "learned":
            pass  # the learned member alone (benchmarks): no gazetteer rule
        elif gev.outside_gazetteer:
            out.outside_gazetteer, out.abstained, out.code, out.unit_override = True, True, None, None
            out.candidates = []  # no Beijing place to offer
        else:
            self._keep_named_district(gev, out)
        out.source = "trail" if from_trail or (out.mention is not None and out.mention.in_trail) \
            else "complaint" if gev.source != "text" else "text"
        return out

    def _learned_input(self, doc: Doc, gev: JurisdictionEvidence) -> tuple[str, Any, int | None]:
        """What the learned member reads: the text with the places of the caller, of a company name and
        negated ones blanked (only where the problem's own place is named: the caller's home is often
        the problem's place),
        its tokens, and where the handling trail starts (None: no trail). It reads the text before the
        trail first (``_first_text``)."""
        text = doc.text
        chars = list(text)
        if any(m.role == "problem" and not m.needs_parent and not m.in_trail for m in gev.mentions):
            for m in gev.mentions:
                if m.role not in ("problem", "trail"):
                    chars[m.start: m.end] = " " * (m.end - m.start)
        masked = "".join(chars)
        tokens = doc.tokens if self.settings.learned_whole_words else None
        cut = trail_start(text)
        return masked, tokens, cut

    def _learned(self, doc: Doc, gev: JurisdictionEvidence, first=None):
        """The learned member on the problem's words (``_learned_input``); the handling trail is used
        only when the complaint part says nothing. ``first``: that input and the member's first reading
        of it, when already computed. Returns the evidence and whether it came from the trail."""
        if first is None:
            masked, tokens, cut = self._learned_input(doc, gev)
            lev = self.learned.predict(_first_text(masked, cut), tokens)
        else:
            (masked, tokens, cut), lev = first
        if cut is None or lev.informative:
            return lev, False
        return self.learned.predict(masked, tokens), True

    def _keep_named_district(self, gev: JurisdictionEvidence, out: JurisdictionEvidence) -> None:
        """Never lose a district the complaint names by its full name: when the fused answer abstained
        or lies elsewhere, answer that district with the street left open (unless the order places the
        problem outside it, ``return_to_district``).  Likewise when the fused answer abstained but every
        place of the problem, one of them named in full, lies in one district."""
        if gev.return_to_district:
            return
        named = {m.codes[0] for m in gev.mentions if m.role == "problem" and m.kind in ("name", "alias")
                 and len(m.codes) == 1 and level_of(m.codes[0]) == "district"}
        if not named and out.code is None:
            # Streets that disagree but share a district, one of them named in full: that district.
            strong = [m for m in gev.mentions if m.role == "problem" and m.kind in ("name", "alias", "place")]
            districts = {district_of(c) for m in gev.mentions if m.role == "problem" for c in m.codes}
            if strong and len(districts) == 1:
                named = districts
        if len(named) != 1:
            return
        dcode = next(iter(named))
        if out.code is not None and district_of(out.code) == district_of(dcode):
            return
        # The answer before this point was another district or none: its confidence says nothing
        # about the named one, which gets the setting's confidence.
        out.code = dcode
        out.abstained = False
        out.confidence = self.settings.named_district_confidence
        out.mention = next((m for m in gev.mentions if m.role == "problem" and dcode in m.codes),
                           next((m for m in gev.mentions if m.role == "problem"
                                 and any(district_of(c) == dcode for c in m.codes)), None))
        out.unit_override = None


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()
