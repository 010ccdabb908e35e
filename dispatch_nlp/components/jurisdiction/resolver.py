"""Jurisdiction: where is the problem?

Two members and their fusion, one component (``build_jurisdiction_stage``):

* **Gazetteer** (:class:`GazetteerJurisdiction`): one Aho-Corasick automaton over every division
  name, short name, alias and place (user places included).  A match counts only where the
  segmentation agrees that it is a word (no 大兴 in 大兴土木, no 朝阳 in a person's name), short
  names that are ordinary words (光明, 胜利, 前进) need their district or street beside them, and
  every mention gets a role from its clause: the problem place, the caller's home ("我住在A"), a
  company's registered name ("北京朝阳某某科技有限公司") or a negated place ("不属于朝阳区").
  Mentions are resolved to the finest division that most of them agree on.
* **Learned** (:mod:`dispatch_nlp.components.jurisdiction.learned`): place strings learned from labeled
  history (compounds, roads, landmarks that are in no list) and a prior over districts and streets.
* **Fusion** (:class:`FusedJurisdiction`): a log-linear combination of both, weights fitted on the
  dev split, so the confidence it reports is calibrated on held-out history.

The stage stores a :class:`JurisdictionEvidence` under ``doc.evidence["jurisdiction"]``.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import numpy as np

from dispatch_nlp.pipeline import BaseComponent, Doc

__all__ = [
    "Mention",
    "JurisdictionEvidence",
    "GazetteerJurisdiction",
    "FusedJurisdiction",
    "build_jurisdiction_stage",
]

LEVEL_RANK = {"district": 1, "street": 2, "community": 3}

# Cues of the caller's own home or registration (their clause is about who calls, not the problem).
CALLER_CUES = ("我住在", "家住", "住在", "居住在", "居住于", "户籍在", "户籍地", "户口在", "我家在", "本人住",
               "现住", "家庭住址", "住址为", "住址是", "老家", "工作单位在", "单位在", "我在")
# Cues of the problem place; inside a clause they win over a caller cue ("我住在A，A的路口…").
PROBLEM_CUES = ("反映", "位于", "路口", "附近", "门口", "对面", "发生在", "地点", "位置", "问题", "投诉", "举报",
                "希望", "要求", "存在", "出现")
NEGATION_CUES = ("不属于", "不在", "并非", "不是", "不归", "非")
COMPANY_SUFFIXES = ("有限责任公司", "有限公司", "股份公司", "分公司", "公司", "集团", "酒店", "宾馆", "医院", "银行",
                    "分行", "支行", "事务所", "商行")
# Between a place and a company suffix, these mean an address ("朝阳区某某路8号某公司"), not a name.
ADDRESS_MARKS = re.compile(r"[路街号楼层室座巷院村镇里苑园]|大厦|小区|社区")
PERSON_SUFFIXES = ("先生", "女士", "师傅", "老师", "同志", "大爷", "阿姨")
CLAUSE_BREAK = re.compile(r"[，。；！？,;!?\n：:]")
SENTENCE_BREAK = re.compile(r"[。；！？;!?\n]")
COMPANY_WINDOW = 10

ROLE_WEIGHT = {"problem": 1.0, "caller": 0.3, "company": 0.4}
# Short names that are ordinary words (jieba frequency at least this) need a co-mentioned parent.
COMMON_WORD_FREQ = 1000
COMMON_ALONE_FACTOR = 0.3


@dataclass
class Mention:
    surface: str
    start: int
    end: int
    codes: tuple[str, ...]
    kind: str  # name | short | alias | place | learned
    role: str = "problem"  # problem | caller | company | negated
    needs_parent: bool = False  # an ordinary word or bare community short name: counts only beside a parent
    unit: str | None = None  # a place's unit override (经开区 → district_subcentre@bda)

    @property
    def weight(self) -> float:
        if self.role == "negated":
            return 0.0
        base = ROLE_WEIGHT.get(self.role, 1.0)
        return base * (0.8 if self.kind == "short" else 1.0)


@dataclass
class JurisdictionEvidence:
    """What the stage found.  ``code`` is the finest division decided (None: abstain);
    ``candidates`` are ``(code, score, mention)``, best first; ``ambiguous`` the readings of a shared
    name nothing decided; ``return_to_district`` (with ``outside_district``) is set when the order
    names a district but the problem place lies outside every street of it (see
    :func:`outside_named_district`)."""

    code: str | None = None
    confidence: float = 0.0
    mention: Mention | None = None
    ambiguous: tuple[str, ...] = ()
    candidates: list[tuple[str, float, Mention | None]] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    method: str = "gazetteer"  # gazetteer | learned | fused | caller
    unit: str | None = None  # unit override of the deciding place, if any
    return_to_district: bool = False
    outside_district: str | None = None  # 12-digit code of the district named but not where it is
    abstained: bool = False


@functools.lru_cache(maxsize=1)
def _jieba_freq() -> dict[str, int]:
    """Word frequencies of jieba's dictionary (to tell ordinary words from place names)."""
    try:
        import jieba

        path = Path(jieba.__file__).parent / "dict.txt"
        out: dict[str, int] = {}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split(" ")
                if len(parts) >= 2 and len(parts[0]) <= 4:
                    out[parts[0]] = int(parts[1])
        return out
    except (ImportError, OSError, ValueError):  # pragma: no cover - jieba is a runtime dependency
        return {}


class GazetteerJurisdiction(BaseComponent):
    """Place mentions from the gazetteer, resolved to the finest consistent division."""

    name = "jurisdiction"

    def __init__(self, gazetteer, *, min_confidence: float = 0.3):
        self.gazetteer = gazetteer
        self.min_confidence = min_confidence
        freq = _jieba_freq()
        districts_short = {s for d in gazetteer.districts() for s in d.short_names}
        by_surface: dict[str, dict[str, str]] = defaultdict(dict)
        for surface, code, kind in gazetteer.surfaces():
            if len(surface) < 2:
                continue
            by_surface[surface].setdefault(code, kind)
        place_units: dict[str, str] = {}
        for p in gazetteer.places:
            if p.unit:
                for s in (p.name, *p.aliases):
                    place_units.setdefault(s, p.unit)
        self.automaton = ahocorasick.Automaton()
        for surface, codes in by_surface.items():
            kinds = set(codes.values())
            kind = next((k for k in ("name", "alias", "place") if k in kinds), "short")
            needs_parent = False
            if kind == "short" and surface not in districts_short:
                levels = {self._level(c) for c in codes}
                bare_community = levels == {"community"} and not surface.endswith(("社区", "村"))
                common = freq.get(surface, 0) >= COMMON_WORD_FREQ
                needs_parent = common or (bare_community and len(surface) <= 2)
            self.automaton.add_word(surface, (surface, tuple(sorted(codes)), kind, needs_parent,
                                              place_units.get(surface)))
        self.automaton.make_automaton()

    def _level(self, code: str) -> str:
        div = self.gazetteer.get(code)
        return div.level if div is not None else "district"

    def _chain(self, code: str) -> tuple[str, ...]:
        return tuple(d.code for d in self.gazetteer.ancestors(code)) + (code,)

    # -- mentions -----------------------------------------------------------------------------
    def find_mentions(self, text: str, tokens: list[tuple[str, int, int]]) -> list[Mention]:
        starts = {s for _, s, _ in tokens}
        ends = {e for _, _, e in tokens}
        raw: list[Mention] = []
        for end_idx, (surface, codes, kind, needs_parent, unit) in self.automaton.iter(text):
            start, end = end_idx - len(surface) + 1, end_idx + 1
            if tokens:
                at_start, at_end = start in starts, end in ends
                if kind == "short" or len(surface) <= 2:
                    ok = at_start and at_end
                elif len(surface) == 3:
                    ok = at_start or at_end
                else:
                    ok = True  # four characters and more do not happen by chance
                if not ok:
                    continue
            if text.startswith(PERSON_SUFFIXES, end):
                continue  # 张朝阳先生
            raw.append(Mention(surface, start, end, codes, kind, needs_parent=needs_parent, unit=unit))
        # Leftmost-longest: a mention inside a longer one is dropped ("朝阳" in "朝阳区").
        raw.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[Mention] = []
        for m in raw:
            if kept and m.start < kept[-1].end:
                continue
            kept.append(m)
        self._assign_roles(text, kept)
        return kept

    @staticmethod
    def _assign_roles(text: str, mentions: list[Mention]) -> None:
        for m in mentions:
            # Negation right before the place: "该路段不属于朝阳区".
            before = text[max(0, m.start - 4): m.start]
            if any(before.endswith(cue) or before.endswith(cue + "北京市") or before.endswith(cue + "北京")
                   for cue in NEGATION_CUES):
                m.role = "negated"
                continue
            # Company name: a suffix within a few characters, nothing between that ends the name.
            tail = text[m.end: m.end + COMPANY_WINDOW]
            cut = CLAUSE_BREAK.search(tail)
            tail = tail[: cut.start()] if cut else tail
            for suffix in COMPANY_SUFFIXES:
                k = tail.find(suffix)
                if k >= 0:
                    between = tail[:k]
                    if not ADDRESS_MARKS.search(between) and "的" not in between and "在" not in between:
                        m.role = "company"
                    break
            if m.role == "company":
                continue
            # Caller's home: a caller cue earlier in the same clause and no problem cue between.
            clause_start = 0
            for b in CLAUSE_BREAK.finditer(text, 0, m.start):
                clause_start = b.end()
            head = text[clause_start: m.start]
            cue_pos = max((head.rfind(c) for c in CALLER_CUES), default=-1)
            if cue_pos >= 0 and not any(c in head[cue_pos:] for c in PROBLEM_CUES):
                m.role = "caller"

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, mentions: list[Mention], text: str = "") -> JurisdictionEvidence:
        ev = JurisdictionEvidence(mentions=mentions)
        active = [m for m in mentions if m.role != "negated"]
        if not active:
            self._outside(ev, mentions, text)
            return ev
        chains = {c: set(self._chain(c)) for m in active for c in m.codes}
        readings = list(chains)

        def support(code: str) -> tuple[float, list[Mention]]:
            chain = chains[code]
            total, backers = 0.0, []
            for m in active:
                if any(c in chain for c in m.codes):  # m names code or a division above it
                    total += m.weight
                    backers.append(m)
                elif any(code in chains.get(c, ()) for c in m.codes):  # m names a division inside it
                    total += 0.5 * m.weight
            return total, backers

        scored: dict[str, tuple[float, Mention]] = {}
        for code in readings:
            s, backers = support(code)
            own = [m for m in backers if code in m.codes]
            if not own:
                continue
            first = min(own, key=lambda m: m.start)
            # An ordinary word standing alone (no parent co-mentioned) is weak.
            if all(m.needs_parent for m in own) and len(backers) == len(own):
                s *= COMMON_ALONE_FACTOR
            scored[code] = (s, first)

        def rank_key(kv):
            code, (s, m) = kv
            return (-round(s, 9), -LEVEL_RANK.get(self._level(code), 0), m.start, code)

        ranked = sorted(scored.items(), key=rank_key)
        top_code, (top_s, top_m) = ranked[0]
        total = sum(m.weight for m in active) or 1.0
        ev.candidates = [(c, s / total, m) for c, (s, m) in ranked[:6]]
        ev.mention = top_m
        ev.unit = top_m.unit
        top_chain = chains[top_code]
        rivals = [(c, s, m) for c, (s, m) in ranked[1:] if c not in top_chain and top_code not in chains[c]]
        tied_same_name = [c for c, s, m in rivals if abs(s - top_s) < 1e-9 and m is top_m
                          and self._level(c) == self._level(top_code)]
        if tied_same_name:
            # A shared name nothing decides: keep what its readings agree on, report the readings.
            ties = [top_code, *tied_same_name]
            ev.ambiguous = tuple(sorted(ties))
            common = set.intersection(*(chains[c] for c in ties))
            ev.code = max(common, key=lambda c: LEVEL_RANK.get(self._level(c), 0)) if common else None
            ev.unit = None
            if ev.code is None:
                ev.confidence = 0.5 / len(ties)
            else:
                alone = min(1.0, top_s / top_m.weight) if top_m.weight else 0.0
                ev.confidence = 0.6 * (0.9 if self._level(ev.code) != "district" else 0.85) * alone
        else:
            ev.code = top_code
            # Conflict: mentions with no reading in the top's district, and half of those in its
            # district but under another street.
            conflict = 0.0
            for m in active:
                if any(c in top_chain or top_code in chains[c] for c in m.codes):
                    continue
                # A shared name spreads its weight over its readings.
                if any(c[:6] == top_code[:6] for c in m.codes):
                    conflict += 0.5 * m.weight / len(m.codes) if self._level(top_code) != "district" else 0.0
                else:
                    conflict += m.weight / len(m.codes)
            share = top_s / (top_s + conflict) if top_s > 0 else 0.0
            backers = support(top_code)[1]
            levels = {self._level(c) for m in backers for c in m.codes if c in top_chain}
            strong = [m for m in backers if m.kind != "short" and not m.needs_parent]
            if len(levels) >= 2:
                base = 0.95  # district and street (or street and community) agree
            elif strong:
                base = 0.9 if self._level(top_code) != "district" else 0.85
            elif all(m.needs_parent for m in backers):
                base = 0.4
            else:
                base = 0.75
            if all(m.role == "company" for m in backers):
                base *= 0.7
            elif all(m.role != "problem" for m in backers):
                base *= 0.85
            ev.confidence = round(base * share, 4)
        if ev.confidence < self.min_confidence:
            ev.abstained = True
            ev.code = None
        self._outside(ev, mentions, text)
        return ev

    def _outside(self, ev: JurisdictionEvidence, mentions: list[Mention], text: str) -> None:
        outside = outside_named_district(self.gazetteer, mentions, self._level, text)
        if outside is not None:
            ev.return_to_district = True
            ev.outside_district = outside

    def __call__(self, doc: Doc) -> Doc:
        doc.evidence["jurisdiction"] = self.evidence(doc)
        return doc

    def evidence(self, doc: Doc) -> JurisdictionEvidence:
        mentions = self.find_mentions(doc.text, doc.tokens)
        ev = self.resolve(mentions, doc.text)
        if ev.code is None and not ev.ambiguous and doc.order.caller_location:
            caller_mentions = self.find_mentions(doc.order.caller_location, [])
            for m in caller_mentions:
                m.role = "caller"
            cev = self.resolve(caller_mentions)
            if cev.code is not None:
                cev.method = "caller"
                cev.mention = None
                cev.candidates = [(c, s, None) for c, s, _ in cev.candidates]
                cev.confidence *= 0.5
                cev.return_to_district, cev.outside_district = ev.return_to_district, ev.outside_district
                ev = cev
        return ev


def outside_named_district(gazetteer, mentions: list[Mention], level_of, text: str = "") -> str | None:
    """The district an order names while placing the problem outside every street of it, or None.

    Conservative by design (a wrong return costs a penalised 退单), it fires only on:

    1. **Negation**: a district named right after 不属于/不在/并非/不是/不归/非 ("该路段不属于朝阳区",
       "不在海淀区辖区内") → that district.
    2. **Contradiction within one sentence**: the district's full name (朝阳区, not 朝阳) as a problem
       mention, and in the same sentence a problem mention by full name, alias or place (not a short
       name) that has exactly one reading, whose division lies in another district, while no mention
       names a street, community or place inside the named district.  ("朝阳区中关村大街…" → 朝阳区.)

    Mentions of the caller's home or of a company name never trigger it.
    """
    for m in mentions:
        if m.role == "negated" and len(m.codes) == 1 and level_of(m.codes[0]) == "district":
            return m.codes[0]
    named = [m for m in mentions if m.role == "problem" and m.kind == "name" and len(m.codes) == 1
             and level_of(m.codes[0]) == "district"]
    if not named:
        return None
    problem = [m for m in mentions if m.role == "problem"]
    for d in named:
        dcode = d.codes[0]
        prefix = dcode[:6]
        inside = any(c[:6] == prefix and level_of(c) != "district" for m in problem for c in m.codes)
        if inside:
            continue
        for m in problem:
            if m is d or m.kind == "short" or len(m.codes) != 1 or level_of(m.codes[0]) == "district" and m.kind != "place":
                continue
            if m.codes[0][:6] == prefix:
                continue
            lo, hi = sorted((d.start, m.start))
            if not SENTENCE_BREAK.search(text[lo:hi]):
                return dcode
    return None




# -- fusion -------------------------------------------------------------------------------------
class FusedJurisdiction(BaseComponent):
    """The gazetteer member and the learned member combined into one calibrated answer.

    Per district ``d``: ``logit(d) = wg·G(d) + wl·log P_L(d)`` where ``G(d)`` is the gazetteer's
    support share for ``d`` (0 to 1) and ``P_L`` the learned posterior; the same per street.  The
    weights are fitted on the dev split by maximum likelihood, so the softmax is the calibrated
    confidence.  The street is reported when its probability reaches ``street_min``; below
    ``abstain_below`` the stage abstains (route review) and keeps the candidates.
    """

    name = "jurisdiction"

    def __init__(self, gazetteer_member: GazetteerJurisdiction, learned, config: dict | None = None):
        cfg = dict(config or {})
        w = cfg.get("weights", {})
        self.gaz = gazetteer_member
        self.gazetteer = gazetteer_member.gazetteer
        self.learned = learned
        self.wg_d = float(w.get("gaz_district", 8.0))
        self.wl_d = float(w.get("learned_district", 1.0))
        self.wg_s = float(w.get("gaz_street", 8.0))
        self.wl_s = float(w.get("learned_street", 1.0))
        self.street_min = float(cfg.get("street_min", 0.5))
        self.abstain_below = float(cfg.get("abstain_below", 0.5))
        self.mode = cfg.get("mode", "fused")  # fused | gazetteer | learned (benchmarks)
        self._d_index = {c: i for i, c in enumerate(learned.districts)}
        self._s_index = {c: i for i, c in enumerate(learned.streets)}
        self._s_district = np.array([self._d_index.get(s[:6] + "000000", -1) for s in learned.streets])

    def gaz_vectors(self, ev: JurisdictionEvidence) -> tuple[np.ndarray, np.ndarray]:
        """The gazetteer's support share per district and per street (zeros when it found nothing)."""
        gd = np.zeros(len(self._d_index))
        gs = np.zeros(len(self._s_index))
        if ev.code is None and not ev.ambiguous:
            return gd, gs
        for code, score, _ in ev.candidates:
            di = self._d_index.get(code[:6] + "000000")
            if di is not None:
                gd[di] = max(gd[di], score)
            if not code.endswith("000000"):
                si = self._s_index.get(code[:9] + "000")
                if si is not None:
                    gs[si] = max(gs[si], score)
        for arr in (gd, gs):
            m = arr.max()
            if m > 0:
                arr /= m
        if ev.ambiguous:
            gd *= 0.5
            gs *= 0.5
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
        doc.evidence["jurisdiction"] = self.evidence(doc)
        return doc

    def evidence(self, doc: Doc) -> JurisdictionEvidence:
        gev = self.gaz.evidence(doc)
        if self.mode == "gazetteer":
            return gev
        lev = self.learned.predict(doc.text)
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
        if si >= 0 and s_prob >= self.street_min:
            code, conf = self.learned.streets[si], s_prob
        else:
            code, conf = dcode, float(pd[di])
        # Finer than the street: the gazetteer's community if it lies in the street decided.
        if gev_used.code and len(code) == 12 and gev_used.code.startswith(code[:9]) and not code.endswith("000000") \
                and self.gaz._level(gev_used.code) == "community":
            code = gev_used.code
        gaz_agrees = gev_used.code is not None and (code.startswith(gev_used.code[:9]) if not gev_used.code.endswith(
            "000000") else code.startswith(gev_used.code[:6]))
        if gaz_agrees:
            out.mention = gev_used.mention
            out.unit = gev_used.unit
        elif lev.spans:
            s, e, _ = lev.spans[0]
            out.mention = Mention(doc.text[s:e], s, e, (code,), "learned")
        cands: list[tuple[str, float, Mention | None]] = []
        for i in np.argsort(-ps)[:5]:
            if ps[i] > 0.01:
                cands.append((self.learned.streets[int(i)], float(ps[i]), None))
        for i in np.argsort(-pd)[:3]:
            if pd[i] > 0.01 and not any(c.startswith(self.learned.districts[int(i)][:6]) for c, _, _ in cands):
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
        return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def build_jurisdiction_stage(gazetteer, model_dir, config: dict | None = None):
    """The jurisdiction stage a model directory asks for (``config`` is its ``jurisdiction`` section).

    Without a ``learned`` file the stage is the gazetteer member alone.  ``config["mode"]`` may force
    ``gazetteer`` or ``learned`` (benchmarks); the default is ``fused``.
    """
    config = dict(config or {})
    gaz = GazetteerJurisdiction(gazetteer)
    learned_file = config.get("learned")
    if not learned_file or model_dir is None:
        return gaz
    from dispatch_nlp.components.jurisdiction.learned import LearnedJurisdiction

    path = Path(model_dir) / learned_file
    learned = LearnedJurisdiction.load(path)
    return FusedJurisdiction(gaz, learned, config)
