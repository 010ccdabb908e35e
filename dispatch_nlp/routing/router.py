"""Fusion and routing: the one place where the stages' evidence is combined into a decision.

``Router(catalog, gazetteer, units, settings)`` reads the docs' evidence (``doc.rules``, ``doc.jurisdiction``
and, when a trained model is loaded, ``classifier``) and returns a ``DispatchDecision``: the category
(rules and classifier fused), appeal type, response level, jurisdiction, responsible units, route,
an overall confidence and a readable explanation.
"""

from __future__ import annotations

from dispatch_nlp.components.rules import text_actuality
from dispatch_nlp.knowledge.vocabulary import DEFAULT_EMERGENCY_NUMBER
from dispatch_nlp.routing.assign import PlacedJurisdiction, assign_units
from dispatch_nlp.routing.levels import confident_category, unit_masses
from dispatch_nlp.routing.settings import RouteSettings
from dispatch_nlp.text.pii import mask_text
from dispatch_nlp.types import (
    AppealType,
    CategoryResult,
    DispatchDecision,
    DivisionRef,
    JurisdictionCandidate,
    JurisdictionResult,
    ResponseLevel,
    Scored,
    UnitsResult,
)

__all__ = ["Router", "RouteSettings", "bad_input_decision"]

APPEAL_FALLBACK = "其他"  # the appeal type when nothing says which
NOT_LIVE_WORDS = {"past": "既往发生", "chronic": "长期存在", "hypothetical": "可能发生", "unclear": "时间不明"}


# How much the intent patterns (``doc.rules.appeal``: questions, requests for help, complaints about
# conduct, reports of violations, proposals; components/appeal_intent.py) count beside the model's
# appeal head, which learnt generated phrasings: p(type) ∝ p_model(type) · exp(weight · intent score).
# Fitted on the challenge set's dev half (benchmarks/appeal_bench.py --challenge).
APPEAL_INTENT_WEIGHT = 2.0


def fuse_appeal(probs: dict[str, float], intent: dict[str, float], weight: float) -> AppealType:
    """The appeal type from a model's probabilities (``probs``, type → p) and intent scores (``intent``,
    type → summed pattern weights; types the model does not know are ignored): a log-linear product,
    renormalized; the confidence is the winner's fused probability. Ties go to the type first in
    ``probs``."""
    import math

    logits = {a: math.log(max(p, 1e-9)) + weight * intent.get(a, 0.0) for a, p in probs.items()}
    top = max(logits.values())
    exp = {a: math.exp(v - top) for a, v in logits.items()}
    total = sum(exp.values())
    label = max(exp, key=lambda a: exp[a])
    return AppealType(label, round(exp[label] / total, 4))


class Router:
    name = "route"

    def __init__(self, catalog, gazetteer, units, settings: RouteSettings, *, model_version: str | None = None,
                 unit_model=None):
        self.catalog = catalog
        self.gazetteer = gazetteer
        self.units = units
        self.settings = settings
        self.model_version = model_version
        self.unit_model = unit_model  # learned unit override (dispatch_nlp.routing.units_learned), or None
        generic = settings.emergency_generic_markers
        self.generic_emergency = generic == "on" or (generic == "auto" and any(
            item.emergency or item.duty == "emergency_transfer" for item in catalog.leaves()))

    # -- emergency ------------------------------------------------------------------------------
    def _live_channel(self, doc) -> bool:
        """Whether the order came in on a live line: its channel names one; without a channel, unless
        its first line opens as a letter."""
        channel = (doc.order.channel or "").strip()
        if channel:
            return any(cue in channel for cue in self.settings.emergency_live_channels)
        opening = doc.text.lstrip()[:20]
        return not any(opening.startswith(cue) or cue in opening.split("\n")[0]
                       for cue in self.settings.emergency_letter_openings)

    def _emergency(self, doc, item) -> tuple[str, str, str] | None:
        """The emergency this order is about: (number, what fired, its actuality) or None. A marker of
        the generic list counts only where ``generic_emergency``; an emergency category without a
        marker is read over the whole text."""
        rules = doc.rules
        if rules is not None and rules.emergency is not None:
            number, match = rules.emergency
            if match.code is not None or self.generic_emergency:
                return number, f"命中紧急情形“{match.phrase}”", match.actuality or "unclear"
        if item is not None and item.duty == "emergency_transfer":
            number = str((item.emergency or {}).get("transfer_to") or DEFAULT_EMERGENCY_NUMBER)
            return number, f"事项“{item.name}”属紧急转办", text_actuality(doc.text)[0]
        return None

    # -- category -------------------------------------------------------------------------------
    def fuse_category(self, doc) -> dict[str, float]:
        rules = doc.rules
        model = doc.classifier
        rule_dist = rules.distribution() if rules is not None else {}
        if model is None:
            return rule_dist
        model_dist: dict[str, float] = model.leaf_probs
        if not rule_dist:
            return model_dist
        w = self.settings.rules_weight
        # Sorted, not a set: a set of strings iterates in a per-process (hash-seed) order, which made
        # tied leaves and the float sums below differ between processes.
        codes = sorted(set(model_dist) | set(rule_dist))
        fused = {c: (1 - w) * model_dist.get(c, 0.0) + w * rule_dist.get(c, 0.0) for c in codes}
        total = sum(fused.values()) or 1.0
        return {c: p / total for c, p in fused.items()}

    def _category(self, dist: dict[str, float], code: str | None = None) -> CategoryResult:
        """The category of the fused distribution: its top leaf, or ``code`` when routing chose another
        (the most probable leaf of the most probable unit)."""
        if not dist:
            return CategoryResult(code=None, path=[], confidence=0.0, top_k=[])
        ranked = sorted(dist.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: the lower code, in every process
        top = [Scored(c, list(self.catalog.get(c).path), round(p, 4)) for c, p in ranked[: self.settings.top_k]]
        code = code or ranked[0][0]
        confidence = self.settings.calibrate(dist[code])
        confident = confident_category(dist, code, confidence, self.catalog, self.settings.level_threshold,
                                       self.settings.calibrate_level)
        return CategoryResult(code=code, path=list(self.catalog.get(code).path), confidence=round(confidence, 4),
                              top_k=top, confident=confident)

    def _by_unit(self, doc, dist: dict[str, float], category: CategoryResult, juris: JurisdictionResult,
                 units: UnitsResult):
        """With ``dispatch_on = unit``: (category, units, the unit's probability). The candidate leaves
        are grouped by the unit they go to for this place; when another unit than the top leaf's holds
        more probability, it wins and the category becomes its most probable leaf."""
        if units.primary is None or category.code is None:
            return category, units, 0.0

        def unit_of(code: str) -> str | None:
            if code == category.code:
                return units.primary.id if units.primary is not None else None
            if code not in self.catalog:
                return None
            primary = assign_units(self.catalog.get(code), juris, self.units, self.settings.territorial_dispatch,
                                   unit_model=self.unit_model, text=doc.text).primary
            return primary.id if primary is not None else None

        masses = unit_masses(dist, unit_of)
        mine = masses.get(units.primary.id, (dist.get(category.code, 0.0), category.code))[0]
        best, (mass, code) = next(iter(masses.items()), (units.primary.id, (mine, category.code)))
        if best == units.primary.id or mass <= mine:
            return category, units, mine
        category = self._category(dist, code)
        units = assign_units(self.catalog.get(code), juris, self.units, self.settings.territorial_dispatch,
                             unit_model=self.unit_model, text=doc.text)
        return category, units, mass

    # -- appeal type ----------------------------------------------------------------------------
    def _appeal(self, doc) -> AppealType:
        """The appeal type: the model's appeal head fused with the intent scores of the rules stage
        (``fuse_appeal``); the intent scores alone without a model; 其他 when neither says anything."""
        rules = doc.rules
        cues = rules.appeal if rules is not None else {}
        model = doc.classifier
        if model is not None and getattr(model, "appeal_probs", None):
            return fuse_appeal(model.appeal_probs, cues, APPEAL_INTENT_WEIGHT)
        if not cues:
            return AppealType(APPEAL_FALLBACK, self.settings.appeal_default_confidence)
        label, hits = max(cues.items(), key=lambda kv: kv[1])
        return AppealType(label, round(self.settings.appeal_cue_confidence(hits), 4))

    # -- jurisdiction ---------------------------------------------------------------------------
    def _chain_refs(self, code: str | None) -> tuple[DivisionRef | None, DivisionRef | None, DivisionRef | None]:
        if not code:
            return None, None, None
        div = self.gazetteer.get(code)
        if div is None:
            return None, None, None

        def ref(d) -> DivisionRef | None:
            return DivisionRef(d.code, d.name) if d is not None else None

        district = ref(self.gazetteer.district_of(code))
        street = ref(self.gazetteer.street_of(code))
        community = ref(div) if div.level == "community" else None
        return district, street, community

    def _jurisdiction(self, doc) -> JurisdictionResult:
        """The decision's jurisdiction from the stage's evidence.  An abstention (no code) keeps its
        candidates so a reviewer sees them; a place's own unit (经开区 → district_subcentre@bda) rides
        along as the declared ``PlacedJurisdiction.unit_override`` for ``assign_units`` (not part of the JSON)."""
        ev = doc.jurisdiction
        if ev is None:
            return JurisdictionResult(method="none")
        candidates = []
        for code, score, mention in ev.candidates:
            d, s, c = self._chain_refs(code)
            cspan = doc.evidence_span(mention.start, mention.end) if mention is not None and ev.method != "caller" else None
            candidates.append(JurisdictionCandidate(d, s, c, round(score, 4), cspan))
        if ev.code is None:
            return JurisdictionResult(method="none", confidence=round(ev.confidence, 4), candidates=candidates)
        district, street, community = self._chain_refs(ev.code)
        span = doc.evidence_span(ev.mention.start, ev.mention.end) if ev.mention is not None else None
        return PlacedJurisdiction(district, street, community, span, ev.method, round(ev.confidence, 4), candidates,
                                  unit_override=ev.unit_override)

    # -- the decision ---------------------------------------------------------------------------
    def decide(self, doc) -> DispatchDecision:
        flags = list(doc.flags)
        explanation: list[str] = []
        if self.model_version is None:
            flags.append("no_trained_model")
            explanation.append("未加载训练模型：仅使用目录规则与地名库判断")
        dist = self.fuse_category(doc)
        category = self._category(dist)
        item = self.catalog.get(category.code) if category.code else None
        juris = self._jurisdiction(doc)
        units = assign_units(item, juris, self.units, self.settings.territorial_dispatch,
                             unit_model=self.unit_model, text=doc.text)
        on_unit = self.settings.dispatch_on == "unit"
        unit_p = 0.0
        if on_unit:
            category, units, unit_p = self._by_unit(doc, dist, category, juris, units)
            item = self.catalog.get(category.code) if category.code else None
        level = item.response_level if item is not None else None
        rules = doc.rules
        route = "dispatch"
        transfer_to = None
        emergency = self._emergency(doc, item) if "empty_text" not in flags else None
        if "empty_text" in flags:
            route = "review"
            explanation.append("工单内容为空，转人工")
        elif emergency is not None \
                and emergency[2] not in self.settings.emergency_not_live and self._live_channel(doc):
            transfer_to, why, _ = emergency
            route, level = "emergency_transfer", self.settings.emergency_level
            explanation.append(f"{why}，转{transfer_to}")
        elif emergency is not None and emergency[2] not in self.settings.emergency_not_live:
            # A letter or message describing an emergency as happening now: not a live line, so no
            # automatic transfer; a person reads it (or it is routed as any other order).
            flags.append("emergency_not_live")
            route = "review" if self.settings.emergency_letter_route == "review" else route
            explanation.append(f"{emergency[1]}，但来自非实时渠道（{mask_text((doc.order.channel or '信件')[:20])}），不直接转{emergency[0]}"
                               + ("，转人工核实" if route == "review" else ""))
        elif rules is not None and rules.exclusion is not None:
            reason, match = rules.exclusion
            route = "out_of_scope"
            explanation.append(f"命中不予受理情形“{match.phrase}”：{reason}")
        elif item is not None and item.duty == "out_of_scope":
            route = "out_of_scope"
            explanation.append(f"事项“{item.name}”不属于热线派单范围")
        elif getattr(doc.jurisdiction, "return_to_district", False):
            # The order names a district but the place lies outside every street of it (see
            # jurisdiction.outside_named_district): back to the district platform, not another unit.
            route = "return_to_district"
            named = self.gazetteer.get(doc.jurisdiction.outside_district or "")
            explanation.append(f"问题地点不在{named.name if named else '所述区'}辖区内，退回区级平台")
        if emergency is not None and emergency[2] in self.settings.emergency_not_live and route != "emergency_transfer":
            flags.append("emergency_not_live")
            explanation.append(f"{emergency[1]}，但属{NOT_LIVE_WORDS.get(emergency[2], emergency[2])}情形，不转{emergency[0]}")
        if category.code is not None:
            explanation.append(f"分类：{' > '.join(category.path)}（置信度 {category.confidence:.2f}）")
            sure = category.confident
            if sure is not None and sure.code != category.code:
                explanation.append(f"可确定的分类层级：{' > '.join(sure.path)}（置信度 {sure.confidence:.2f}）")
            if rules is not None:
                hits = [m.phrase for m in rules.matches if m.code == category.code][: self.settings.explain_keywords]
                if hits:
                    explanation.append("目录关键词：" + "、".join(hits))
        else:
            flags.append("no_category")
        if juris.district is not None:
            place = " > ".join(r.name for r in (juris.district, juris.street, juris.community) if r is not None)
            cue = f"“{juris.evidence.text}”" if juris.evidence is not None else "来电人所在地"
            explanation.append(f"属地：{place}（依据{cue}）")
            source = getattr(doc.jurisdiction, "source", "text")  # which part of the order decided
            if source == "complaint":
                explanation.append("属地依据诉求正文；处理记录中的地点仅作参考")
            elif source == "trail":
                explanation.append("诉求正文未写地点，属地依据处理记录")
        else:
            flags.append("no_jurisdiction")
            if getattr(doc.jurisdiction, "outside_gazetteer", False):
                explanation.append("诉求地点在本市以外")
            if juris.candidates:
                names = "、".join(" > ".join(r.name for r in (c.district, c.street, c.community) if r is not None)
                                 for c in juris.candidates[: self.settings.explain_candidates])
                explanation.append(f"属地不明确（候选：{names}），需人工确认")
        confidence = category.confidence
        needs_place = item is not None and item.duty in ("territorial", "district_functional")
        by_unit = self.settings.route_confidence == "unit"
        if on_unit:
            # What must be right is the unit: sibling leaves that go to the same unit add up.
            confidence = unit_p
            if units.primary is not None:
                explanation.append(f"承办单位概率 {unit_p:.2f}（归同一承办单位的候选分类合计）")
        if by_unit:
            # A model whose units come from history: the unit's own confidence (what history and the
            # rule achieved on held-out orders) stands in for the place's.
            confidence *= units.confidence if units.primary is not None else 0.0
        elif needs_place:
            confidence *= max(juris.confidence, 0.0) ** self.settings.place_confidence_power \
                if juris.district is not None else 0.0
        if on_unit:
            confidence = self.settings.calibrate_route(confidence)
        if route == "dispatch":
            if units.primary is None:
                route = "review"
                explanation.append("无法确定承办单位，转人工")
            elif on_unit and (confidence < self.settings.auto_threshold
                              or (by_unit and units.confidence < self.settings.unit_auto_threshold)):
                route = "review"
                explanation.append(f"承办单位综合置信度 {confidence:.2f} 低于自动派单阈值 {self.settings.auto_threshold:.2f}"
                                   + (f"（或承办单位规则置信度 {units.confidence:.2f} 低于 "
                                      f"{self.settings.unit_auto_threshold:.2f}）" if by_unit else "") + "，转人工复核")
            elif not on_unit and by_unit and (category.confidence < self.settings.auto_threshold
                              or units.confidence < self.settings.unit_auto_threshold):
                route = "review"
                explanation.append(f"分类置信度 {category.confidence:.2f} 或承办单位置信度 {units.confidence:.2f} "
                                   f"低于自动派单阈值（{self.settings.auto_threshold:.2f} / "
                                   f"{self.settings.unit_auto_threshold:.2f}），转人工复核")
            elif not by_unit and confidence < self.settings.auto_threshold:
                route = "review"
                explanation.append(f"综合置信度 {confidence:.2f} 低于自动派单阈值 {self.settings.auto_threshold:.2f}，转人工复核")
            else:
                explanation.append(f"派至：{units.primary.name}")
        return DispatchDecision(
            order_id=doc.order.id,
            catalog_version=self.catalog.version,
            model_version=self.model_version,
            category=category,
            appeal_type=self._appeal(doc) if "empty_text" not in flags else None,
            response_level=ResponseLevel(level, self.catalog.deadline_hours(level) if level else None),
            jurisdiction=juris,
            units=units,
            route=route,
            confidence=round(confidence, 4),
            transfer_to=transfer_to,
            flags=flags,
            explanation=explanation,
            timings_ms=dict(doc.timings_ms),
        )


def bad_input_decision(order_id: str | None, reason: str, *, catalog_version: str | None,
                       model_version: str | None) -> DispatchDecision:
    """The decision for an input row that could not be read as an order: routed to a person, with
    the reason (which never quotes the row's content)."""
    return DispatchDecision(
        order_id=order_id,
        catalog_version=catalog_version,
        model_version=model_version,
        category=CategoryResult(code=None, path=[], confidence=0.0),
        appeal_type=None,
        response_level=ResponseLevel(None, None),
        jurisdiction=JurisdictionResult(),
        units=UnitsResult(rule="bad input"),
        route="review",
        flags=["bad_input"],
        explanation=[reason],
    )
