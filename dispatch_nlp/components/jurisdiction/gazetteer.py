"""The gazetteer jurisdiction member: place mentions from the gazetteer, their roles, and resolution.

``GazetteerJurisdiction(gazetteer, settings)`` is a pipeline component: from a ``Doc`` with tokens it
stores a :class:`~dispatch_nlp.components.jurisdiction.evidence.JurisdictionEvidence` under
``doc.jurisdiction``.

One Aho-Corasick automaton covers every division name, short name, alias and place (user places
included).  A match counts only where the segmentation agrees that it is a word (no 大兴 in 大兴土木,
no 朝阳 in a person's name), short names that are ordinary words (光明, 胜利, 前进) need their
district or street beside them, and every mention gets a role from its clause: the problem place,
the caller's home ("我住在A"), a company's registered name ("北京朝阳某某科技有限公司") or a negated
place ("不属于朝阳区").  Mentions are resolved to the finest division that most of them agree on.
Weights and confidences are :class:`~dispatch_nlp.components.jurisdiction.settings.JurisdictionSettings`;
the names of the city that may stand before a district ("不属于北京市朝阳区") come from the data
table ``catalog/city-beijing.tsv`` (see :func:`load_city_names`).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import ahocorasick

from dispatch_nlp.components.jurisdiction.evidence import JurisdictionEvidence, Mention
from dispatch_nlp.components.jurisdiction.settings import JurisdictionSettings
from dispatch_nlp.errors import CatalogError
from dispatch_nlp.knowledge.divisions import LEVEL_RANK, district_prefix
from dispatch_nlp.pipeline import BaseComponent, Doc
from dispatch_nlp.resources import catalog_dir
from dispatch_nlp.text.normalize import trail_start

__all__ = ["GazetteerJurisdiction", "outside_named_district", "load_city_names", "load_place_stopwords",
           "load_outside_places",
           "DEFAULT_CITY_TABLE", "DEFAULT_STOPWORD_TABLE"]

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
ADDRESS_MARKS = re.compile(r"[路街号楼层室座巷院村镇里苑园]|大厦|小区|社区|地区")
# A street's own name is an address, never part of a company's registered name (望京街道某集团公司).
STREET_NAME_ENDS = ("街道", "地区", "镇", "乡")
PERSON_SUFFIXES = ("先生", "女士", "师傅", "老师", "同志", "大爷", "阿姨")
CLAUSE_BREAK = re.compile(r"[，。；！？,;!?\n：:]")
SENTENCE_BREAK = re.compile(r"[。；！？;!?\n]")

# The shipped table of the city's names (under the data folder's catalog/).
DEFAULT_CITY_TABLE = "city-beijing.tsv"
# The shipped table of strings that are never a place on their own (directions, ring roads, generic nouns).
DEFAULT_STOPWORD_TABLE = "place-stopwords-beijing.tsv"
# The shipped table of places outside the city (other provinces, the towns around Beijing).
DEFAULT_OUTSIDE_TABLE = "outside-places-beijing.tsv"
OUTSIDE_SUFFIXES = ("省", "市", "县", "区", "镇", "")
# A name starting with a direction inside a longer word is part of that word (建设东路 holds no 东路).
DIRECTION_CHARS = frozenset("东西南北中")
# Characters that end a division's name: a direction-initial name may follow them (朝阳区东路社区).
DIVISION_END_CHARS = frozenset("区县市镇乡村")


def load_city_names(path: str | Path | None = None) -> tuple[str, ...]:
    """The names of the city the gazetteer covers, from a one-column TSV (header ``name``; ``#``
    comments); None: the shipped table.  Raises ``CatalogError`` for an unreadable table."""
    path = Path(path) if path is not None else catalog_dir() / DEFAULT_CITY_TABLE
    return _read_name_table(path, "city names")


def _read_name_table(path: Path, what: str, header: str = "name") -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CatalogError(str(path), [f"cannot read the {what} table ({exc.__class__.__name__})"]) from None
    rows = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not rows or rows[0] != header:
        raise CatalogError(str(path), [f"line 1: expected the header {header!r}"])
    return tuple(rows[1:])


@functools.lru_cache(maxsize=4)
def load_place_stopwords(path: str | Path | None = None) -> frozenset[str]:
    """Strings that are never a place on their own (one-column TSV, header ``name``; None: the shipped
    ``catalog/place-stopwords-beijing.tsv``).  Raises ``CatalogError`` for an unreadable table."""
    path = Path(path) if path is not None else catalog_dir() / DEFAULT_STOPWORD_TABLE
    return frozenset(_read_name_table(path, "place stop-word"))


def whole_word(text: str, start: int, surface: str) -> bool:
    """False where a name that starts with a direction continues a longer word before it (建设东路 →
    no 东路): the character before is a letter that does not end a division's name."""
    if start == 0 or surface[0] not in DIRECTION_CHARS or len(surface) > 3:
        return True
    prev = text[start - 1]
    return not ("\u4e00" <= prev <= "\u9fff") or prev in DIVISION_END_CHARS


@functools.lru_cache(maxsize=4)
def load_outside_places(path: str | Path | None = None) -> tuple[str, ...]:
    """Surfaces of places outside the city: each name with 省/市/县/区/镇, and alone where its ``bare``
    column is ``yes`` (TSV, header ``name bare``; None: the shipped ``catalog/outside-places-beijing.tsv``).
    Raises ``CatalogError`` for an unreadable table."""
    path = Path(path) if path is not None else catalog_dir() / DEFAULT_OUTSIDE_TABLE
    out: list[str] = []
    for row in _read_name_table(path, "outside places", header="name\tbare"):
        name, _, bare = row.partition("\t")
        out.extend(name.strip() + suffix for suffix in OUTSIDE_SUFFIXES if suffix or bare.strip() == "yes")
    return tuple(out)


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

    def __init__(self, gazetteer, settings: JurisdictionSettings | None = None, *,
                 city_names: Iterable[str] | None = None):
        """``settings``: the stage's weights and thresholds (defaults: the shipped values);
        ``city_names``: names that may stand between a negation and a district (None: the shipped
        table, :func:`load_city_names`)."""
        self.gazetteer = gazetteer
        self.settings = settings if settings is not None else JurisdictionSettings()
        self.min_confidence = self.settings.min_confidence
        self.city_names = ("", *(load_city_names() if city_names is None else city_names))
        freq = _jieba_freq()
        self.stopwords = load_place_stopwords()
        districts_short = {s for d in gazetteer.districts() for s in d.short_names}
        by_surface: dict[str, dict[str, str]] = defaultdict(dict)
        for surface, code, kind in gazetteer.surfaces():
            if len(surface) < 2:
                continue
            by_surface[surface].setdefault(code, kind)
        place_units: dict[str, str] = {}
        self.linear = {s for p in gazetteer.places if p.kind == "linear" for s in (p.name, *p.aliases)}
        for p in gazetteer.places:
            if p.unit:
                for s in (p.name, *p.aliases):
                    place_units.setdefault(s, p.unit)
        self.automaton = ahocorasick.Automaton()
        for surface, codes in by_surface.items():
            kinds = set(codes.values())
            if "place" in kinds and "short" in kinds:
                # The places table names the surface deliberately (亦庄 → the development area, not the
                # short name of 亦庄地区): a derived short name of a division outside the place gives
                # way; one inside it stays, the finer reading (学院路 the road → 学院路街道).
                places = [c for c, k in codes.items() if k == "place"]
                codes = {c: k for c, k in codes.items()
                         if k != "short" or any(p in self._chain(c) for p in places)}
                kinds = set(codes.values())
            kind = next((k for k in ("name", "alias", "place") if k in kinds), "short")
            needs_parent = False
            if kind == "short" and surface not in districts_short:
                levels = {self._level(c) for c in codes}
                bare_community = levels == {"community"} and not surface.endswith(("社区", "村"))
                common = freq.get(surface, 0) >= self.settings.common_word_freq or surface in self.stopwords
                needs_parent = common or (bare_community and len(surface) <= 2)
            self.automaton.add_word(surface, (surface, tuple(sorted(codes)), kind, needs_parent,
                                              place_units.get(surface)))
        self.automaton.make_automaton()
        self.outside = ahocorasick.Automaton()
        for surface in load_outside_places():
            self.outside.add_word(surface, surface)
        self.outside.make_automaton()

    def _level(self, code: str) -> str:
        div = self.gazetteer.get(code)
        return div.level if div is not None else "district"

    def _chain(self, code: str) -> tuple[str, ...]:
        return tuple(d.code for d in self.gazetteer.ancestors(code)) + (code,)

    def weight(self, m: Mention) -> float:
        """A mention's weight: its role's weight, less for a short name (nothing when negated)."""
        if m.role == "negated":
            return 0.0
        base = self.settings.role_weight(m.role)
        return base * (self.settings.short_name_factor if m.kind == "short" else 1.0)

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
            raw.append(Mention(surface, start, end, codes, kind, needs_parent=needs_parent, unit=unit,
                               linear=surface in self.linear))
        # A direction-initial name continuing a longer word is part of it (建设东路), unless a
        # division's name ends right before it (房山西潞: 房山 + 西潞; not 颐和园北宫门 → 北宫).
        ends_at = {m.end for m in raw if m.kind != "place"}
        raw = [m for m in raw if m.kind == "name" or m.start in ends_at or whole_word(text, m.start, m.surface)]
        # Leftmost-longest: a mention inside a longer one is dropped ("朝阳" in "朝阳区").
        raw.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[Mention] = []
        for m in raw:
            if kept and m.start < kept[-1].end:
                continue
            kept.append(m)
        self._assign_roles(text, kept)
        return kept

    def _assign_roles(self, text: str, mentions: list[Mention]) -> None:
        trail = trail_start(text)
        for m in mentions:
            if trail is not None and m.start >= trail:
                # The handling trail: where the order was handled or passed on (see _weigh_trail).
                m.in_trail = True
                m.role = "negated" if self._negated(text, m) else "trail"
                continue
            # Negation right before the place: "该路段不属于朝阳区" (or 不属于<city>朝阳区).
            if self._negated(text, m):
                m.role = "negated"
                continue
            # Company name: a suffix within a few characters, nothing between that ends the name.
            tail = text[m.end: m.end + self.settings.company_window]
            cut = CLAUSE_BREAK.search(tail)
            tail = tail[: cut.start()] if cut else tail
            for suffix in COMPANY_SUFFIXES if not m.surface.endswith(STREET_NAME_ENDS) else ():
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

    def _negated(self, text: str, m: Mention) -> bool:
        before = text[max(0, m.start - self.settings.negation_window): m.start]
        return any(before.endswith(cue + city) for cue in NEGATION_CUES for city in self.city_names)

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, mentions: list[Mention], text: str = "") -> JurisdictionEvidence:
        st = self.settings
        weight = self.weight
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
                    total += weight(m)
                    backers.append(m)
                elif any(code in chains.get(c, ()) for c in m.codes):  # m names a division inside it
                    total += st.inside_support_factor * weight(m)
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
                s *= st.common_alone_factor
            scored[code] = (s, first)

        def rank_key(kv):
            code, (s, m) = kv
            return (-round(s, 9), -LEVEL_RANK.get(self._level(code), 0), m.start, code)

        ranked = sorted(scored.items(), key=rank_key)
        top_code, (top_s, top_m) = ranked[0]
        total = sum(weight(m) for m in active) or 1.0
        ev.candidates = [(c, s / total, m) for c, (s, m) in ranked[: st.max_candidates]]
        ev.mention = top_m
        ev.unit_override = top_m.unit
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
            ev.unit_override = None
            if ev.code is None:
                ev.confidence = st.unresolved_tie_confidence / len(ties)
            else:
                top_w = weight(top_m)
                alone = min(1.0, top_s / top_w) if top_w else 0.0
                factor = st.shared_name_street_factor if self._level(ev.code) != "district" \
                    else st.shared_name_district_factor
                ev.confidence = st.shared_name_confidence * factor * alone
        else:
            ev.code = top_code
            # Conflict: mentions with no reading in the top's district, and half of those in its
            # district but under another street.
            conflict = 0.0
            for m in active:
                if any(c in top_chain or top_code in chains[c] for c in m.codes):
                    continue
                # A shared name spreads its weight over its readings.
                if any(district_prefix(c) == district_prefix(top_code) for c in m.codes):
                    conflict += st.conflict_same_district_factor * weight(m) / len(m.codes) \
                        if self._level(top_code) != "district" else 0.0
                else:
                    conflict += weight(m) / len(m.codes)
            share = top_s / (top_s + conflict) if top_s > 0 else 0.0
            backers = support(top_code)[1]
            levels = {self._level(c) for m in backers for c in m.codes if c in top_chain}
            strong = [m for m in backers if m.kind != "short" and not m.needs_parent]
            if len(levels) >= 2:
                base = st.levels_agree_confidence  # district and street (or street and community) agree
            elif strong:
                base = st.strong_street_confidence if self._level(top_code) != "district" \
                    else st.strong_district_confidence
            elif all(m.needs_parent for m in backers):
                base = st.needs_parent_confidence
            else:
                base = st.weak_confidence
            if all(m.role == "company" for m in backers):
                base *= st.company_only_factor
            elif all(m.role != "problem" for m in backers):
                base *= st.no_problem_factor
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
        doc.jurisdiction = self.evidence(doc)
        return doc

    def outside_mentions(self, text: str, tokens: list[tuple[str, int, int]]) -> list[Mention]:
        """Places outside the city named as whole words (longest at each place), with their roles."""
        starts = {s for _, s, _ in tokens}
        ends = {e for _, _, e in tokens}
        found: dict[int, Mention] = {}
        for end_idx, surface in self.outside.iter(text):
            start, end = end_idx - len(surface) + 1, end_idx + 1
            if tokens and not (start in starts and end in ends):
                continue
            if start not in found or len(surface) > len(found[start].surface):
                found[start] = Mention(surface, start, end, (), "outside")
        out = sorted(found.values(), key=lambda m: m.start)
        self._assign_roles(text, out)
        return out

    def _weigh_trail(self, mentions: list[Mention], text: str) -> None:
        """The complaint first: trail places that agree with what the complaint's places decide count
        as problem places; those that contradict it keep the weak ``trail`` role; when the complaint
        names no place, the trail's places speak (at full weight: there is nothing to weigh them against)."""
        trail = [m for m in mentions if m.role == "trail"]
        if not trail:
            return
        complaint = [m for m in mentions if not m.in_trail and m.role != "negated"]
        if not complaint:
            for m in trail:
                m.role = "problem"
            return
        decided = self.resolve([m for m in mentions if not m.in_trail], text)
        code = decided.code or (decided.candidates[0][0] if decided.candidates else None)
        if code is None:
            return
        chain = set(self._chain(code))
        for m in trail:
            if any(c in chain or code in self._chain(c) for c in m.codes):
                m.role = "problem"

    def evidence(self, doc: Doc) -> JurisdictionEvidence:
        mentions = self.find_mentions(doc.text, doc.tokens)
        self._weigh_trail(mentions, doc.text)
        ev = self.resolve(mentions, doc.text)
        # Outside the city: a problem place of another province or town, no Beijing division in full.
        if any(m.role == "problem" for m in self.outside_mentions(doc.text, doc.tokens)) and not any(
                m.role == "problem" and m.kind in ("name", "alias", "place") for m in mentions):
            ev.outside_gazetteer = True
            ev.code, ev.abstained, ev.unit_override, ev.candidates = None, True, None, []
            return ev
        if trail_start(doc.text) is not None:
            ev.source = "trail" if ev.mention is not None and ev.mention.in_trail else "complaint"
        if ev.code is None and not ev.ambiguous and doc.order.caller_location:
            caller_mentions = self.find_mentions(doc.order.caller_location, [])
            for m in caller_mentions:
                m.role = "caller"
            cev = self.resolve(caller_mentions)
            if cev.code is not None:
                cev.method = "caller"
                cev.mention = None
                cev.candidates = [(c, s, None) for c, s, _ in cev.candidates]
                cev.confidence *= self.settings.caller_location_factor
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
        prefix = district_prefix(dcode)
        inside = any(district_prefix(c) == prefix and level_of(c) != "district" for m in problem for c in m.codes)
        if inside:
            continue
        for m in problem:
            if m is d or m.kind == "short" or len(m.codes) != 1 or level_of(m.codes[0]) == "district" and m.kind != "place":
                continue
            if district_prefix(m.codes[0]) == prefix:
                continue
            lo, hi = sorted((d.start, m.start))
            if not SENTENCE_BREAK.search(text[lo:hi]):
                return dcode
    return None
