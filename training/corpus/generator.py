"""The corpus generator: ``CorpusGenerator(catalog, gazetteer, units, seed).generate(n)``.

Each order is drawn from its own random source seeded by (seed, index), so a corpus is the same for
the same seed whatever the batch or the process that makes it. Leaves are visited in shuffled rounds
and styles rotate per leaf, so every leaf appears in every style once ``n`` reaches
``len(leaves) * len(STYLE_CYCLE)``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from . import banks, mess
from .builder import PLAIN, Builder, apply_fullwidth, apply_traditional
from .content import build_leaf_banks, shared_text
from .families import FAMILIES, Ctx
from .intent import PROFILE_WEIGHTS, IntentBank, leaf_profile
from .paraphrase import Paraphraser, vector_neighbours
from .places import InventedMap, PlaceRenderer

# Styles in the order a leaf meets them (operator summaries are the most common in real history).
STYLE_CYCLE = ("operator", "online", "operator", "followup", "letter", "operator", "company", "online", "operator", "letter")
APPEALS = ("咨询", "求助", "投诉", "举报", "建议", "表扬", "其他")
_EMERGENCY_TRANSFERS = {"110", "119", "120", "122"}
_CHANNEL = {"operator": "热线电话", "followup": "热线电话", "company": "企业服务热线"}
_DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def assign_splits(ratios=_DEFAULT_RATIOS) -> dict[str, str]:
    """Family id → split, per style: families sorted by a stable hash, the first go to test, the
    next to dev, the rest to train (each held-out split gets at least one family of every style
    when its ratio is above 0). Independent of the seed, so corpora of different seeds agree."""
    r_train, r_dev, r_test = ratios
    out: dict[str, str] = {}
    for style, fams in FAMILIES.items():
        names = sorted(fams, key=lambda f: hashlib.md5(f.encode()).hexdigest())
        n = len(names)
        n_test = max(1, round(r_test * n)) if r_test > 0 else 0
        n_dev = max(1, round(r_dev * n)) if r_dev > 0 else 0
        if n_test + n_dev >= n and r_train > 0:
            n_dev = max(0, n - n_test - 1)
        for i, f in enumerate(names):
            out[f"{style}.{f}"] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return out


class _ContractUnits:
    """Unit resolution by the id rules of docs/contracts.md, for when no registry is given."""

    def resolve(self, unit_type, *, district_code=None, street_code=None):
        from types import SimpleNamespace

        if unit_type == "street_office":
            return SimpleNamespace(id=f"street_office@{str(street_code)[:9]}", name="街道办事处") if street_code else None
        if unit_type.startswith(("district_",)):
            d = district_code or (str(street_code)[:6] if street_code else None)
            return SimpleNamespace(id=f"{unit_type}@{str(d)[:6] if d != 'bda' else d}", name=unit_type) if d else None
        return SimpleNamespace(id=unit_type, name=unit_type)

    def get(self, unit_id):
        return None


class CorpusGenerator:
    def __init__(self, catalog, gazetteer, units=None, seed: int = 0, split_ratios=_DEFAULT_RATIOS,
                 trail_rate: float = 0.12, kw_holdout: float = 1 / 3, keyword_free_rate: float = 0.3,
                 paraphrase_rate: float = 0.25, synonym_vectors: bool = False):
        """``kw_holdout``: share of each leaf's keywords (and situation phrases) that only dev/test
        orders use (0: none held out); ``keyword_free_rate``: share of orders that name the problem
        with no keyword of their leaf; ``paraphrase_rate``: share of orders whose common words are
        swapped for synonyms; ``synonym_vectors``: extend the synonym table from the ``synonyms``
        package's word vectors (optional, off by default)."""
        self.catalog = catalog
        self.gaz = gazetteer
        self.units = units if units is not None else _ContractUnits()
        self.seed = int(seed)
        self.leaves = sorted(catalog.leaves(), key=lambda x: x.code)
        if not self.leaves:
            raise ValueError("the catalog has no leaves to generate orders for")
        self.imap = InventedMap(gazetteer, self.seed)
        shared = shared_text(gazetteer) + "\n" + "\n".join(self.imap.by_name)
        self.banks, self.holdout = build_leaf_banks(self.leaves, kw_holdout, shared)
        self.keyword_free_rate = keyword_free_rate
        self.paraphrase_rate = paraphrase_rate
        from .paraphrase import SYNONYMS

        self.paraphrase = Paraphraser(SYNONYMS, vector_neighbours(list(SYNONYMS)) if synonym_vectors else None)
        self._own_kw = {leaf.code: tuple(k for k in (getattr(leaf, "keywords", ()) or ()) if k) for leaf in self.leaves}
        self.render = PlaceRenderer(gazetteer, self.imap)
        self.splits = assign_splits(tuple(split_ratios))
        self.trail_rate = trail_rate
        self._street_unit_names: dict[str, str] = {}
        self.catalog_version = getattr(catalog, "version", None)
        self.appeal_types = tuple(getattr(catalog, "appeal_types", ()) or ())
        self._streets = self.render.streets
        self.intent = {side: IntentBank(side, 1 / 3 if kw_holdout > 0 else 0) for side in ("train", "held")}
        self._profile = {leaf.code: leaf_profile(leaf, self.banks[leaf.code].consult) for leaf in self.leaves}

    # -- public -----------------------------------------------------------------------------------
    def generate(self, n: int, start: int = 0) -> Iterator[dict]:
        for i in range(start, start + n):
            yield self.order(i)

    def order(self, i: int) -> dict:
        n_leaves = len(self.leaves)
        rnd, pos = divmod(i, n_leaves)
        perm = self._perm(rnd)
        leaf = self.leaves[perm[pos]]
        style = STYLE_CYCLE[(rnd + perm[pos]) % len(STYLE_CYCLE)]
        rng = random.Random(self.seed * 1_000_003 + i * 7919 + 17)
        return self._make(i, rng, leaf, style)

    _perm_cache: dict = {}

    def _perm(self, rnd: int) -> list[int]:
        key = (id(self), rnd)
        p = self._perm_cache.get(key)
        if p is None:
            p = list(range(len(self.leaves)))
            random.Random(f"perm:{self.seed}:{rnd}").shuffle(p)
            if len(self._perm_cache) > 64:
                self._perm_cache.clear()
            self._perm_cache[key] = p
        return p

    # -- one order --------------------------------------------------------------------------------
    def _make(self, i: int, rng: random.Random, leaf, style: str) -> dict:
        lb = self.banks[leaf.code]
        fam_name = rng.choice(sorted(FAMILIES[style]))
        family = f"{style}.{fam_name}"
        fam = FAMILIES[style][fam_name]
        duty = getattr(leaf, "duty", None) or ""
        split = self.splits[family]
        side = "train" if split == "train" else "held"
        kw_free = rng.random() < self.keyword_free_rate
        pool = lb.pools[(side, kw_free)]
        if kw_free and not (pool.sits or pool.problems):
            kw_free, pool = False, lb.pools[(side, False)]

        appeal = rng.choices(APPEALS, weights=PROFILE_WEIGHTS[self._profile[leaf.code]])[0]
        if self.appeal_types and appeal not in self.appeal_types:
            appeal = self.appeal_types[0]
        if style == "company" and appeal in ("表扬",):
            appeal = "咨询"

        # Places: problem place (most orders), caller's home, a third place for comparison.
        place = caller = other = None
        r = rng.random()
        no_place_p = 0.35 if lb.scene == "none" or duty in ("city_functional",) else 0.12
        if r >= no_place_p:
            place = self.render.render(rng)
            street_code = (place.code or "")[:9] + "000"
            if rng.random() < 0.12:
                caller = self.render.render(rng, form=rng.choice(("compound", "street_compound", "community")))
            if rng.random() < 0.25:
                other = self.render.render(rng)
            del street_code

        # Emergency / exclusion markers.
        marker = marker_kind = None
        em = getattr(leaf, "emergency", None) or None
        ex = getattr(leaf, "exclusion", None) or None
        if duty == "emergency_transfer" and em and em.get("markers"):
            if rng.random() < 0.8:
                marker, marker_kind = rng.choice(list(em["markers"])), "emergency"
        elif em and em.get("markers") and rng.random() < 0.3:
            marker, marker_kind = rng.choice(list(em["markers"])), "emergency"
        elif ex and ex.get("markers") and (duty == "out_of_scope" and rng.random() < 0.5 or rng.random() < 0.25):
            marker, marker_kind = rng.choice(list(ex["markers"])), "exclusion"

        # Several issues, distractors.
        second = distract = None
        if rng.random() < 0.08:
            second = self.banks[rng.choice(self.leaves).code]
            if second.leaf.code == leaf.code:
                second = None
        if rng.random() < 0.1:
            distract = self.banks[rng.choice(self.leaves).code]
            if distract.leaf.code == leaf.code:
                distract = None

        # Personal data.
        pii = []
        if rng.random() < (0.45 if style in ("operator", "followup", "company") else 0.2):
            pii.append(rng.choice(("mobile", "mobile", "mobile", "landline")))
        if rng.random() < 0.18:
            pii.insert(0, "name")
        if rng.random() < 0.015:
            pii.insert(0, "name_caller")
        topic_keys = {t.key for t in lb.topics}
        if rng.random() < (0.25 if topic_keys & {"social_insurance", "hukou", "medical_insurance", "housing_fund"} else 0.03):
            pii.append("id_number")
        if rng.random() < (0.2 if "wages" in topic_keys or "tax" in topic_keys else 0.015):
            pii.append("bank_card")
        if rng.random() < (0.3 if topic_keys & {"parking", "traffic"} else 0.02):
            pii.append("plate")
        if style == "online" and rng.random() < 0.04:
            pii.append("email")
        if rng.random() < (0.15 if style in ("operator", "followup", "company") else 0.08):
            pii.append("masked")  # already masked in the export (138****5678)

        company = None
        if style == "company":
            company = "北京" + rng.choice(banks.COMPANY_PREFIX) + rng.choice(banks.COMPANY_KIND) + rng.choice(banks.COMPANY_SUFFIX)

        c = Ctx(rng, lb, appeal, place, caller, other, pii, marker, marker_kind, second, distract, company,
                pool=pool, side=side, intent=self.intent[side])
        c.channel = _CHANNEL.get(style)
        body = Builder()
        if style in ("operator", "followup") and rng.random() < 0.05 and c.pii_kinds:
            c.put_pii(body, [c.pii_kinds[0]])
        fam(c, body)
        if c.pii_kinds:  # kinds the family had no slot for
            c.put_pii(body)
        last = body.pieces[-1] if body.pieces else None
        if last is not None and last[0] == 1 and last[1] in ("，", "；", "（"):
            last[1] = "。"

        self._mess(rng, body, style)
        if side == "train" and self.holdout.held:
            self._guard(body)
        title = c.title if style in ("online", "letter") or family == "company.co_letter" else None
        if style == "letter" and title is None and rng.random() < 0.7:
            title = c.make_title()
        body_text = body.text()
        own = self._own_kw[leaf.code]
        keyword_free = not any(k in body_text for k in own) and not (title and any(k in title for k in own))

        # Labels.
        labels = self._labels(rng, leaf, place, marker_kind, em, ex)
        caller_location = None
        if style in ("operator", "followup", "company") and rng.random() < 0.3:
            caller_location = self._caller_location(rng, place)
        if place is None and caller_location is not None and labels["route"] in ("dispatch", "review"):
            labels.update(self._labels(rng, leaf, self._loc_mention, marker_kind, em, ex))

        # History trail, appended after the body.
        trail = None
        if labels["unit_id"] and rng.random() < self.trail_rate:
            trail = self._trail(rng, labels["unit_id"])
        tr = rng.random()
        if tr < 0.05:
            apply_traditional(body)
        fw = rng.random() < 0.08
        if fw:
            apply_fullwidth(body)
        text = body.text()
        place_spans, pii_spans = body.spans()
        trail_start = None
        if trail:
            sep = rng.choice(("\n", "\n", "。")) if not text.endswith("。") else rng.choice(("\n", ""))
            if sep == "" and not text.endswith(("。", "\n")):
                sep = "\n"
            trail_text = sep + trail
            if tr < 0.05:
                trail_text = mess.to_traditional(trail_text)
            if fw:
                trail_text = mess.fullwidth(trail_text)
            trail_start = len(text) + len(sep)
            text += trail_text

        issues = [leaf.code] + ([second.leaf.code] if second is not None else [])
        return {
            "id": f"syn-{self.seed}-{i:07d}",
            "text": text,
            "title": title,
            "channel": c.channel or "热线电话",
            "created_at": self._time(rng, lb),
            "caller_location": caller_location,
            "style": style,
            "family": family,
            "split": self.splits[family],
            "category_code": leaf.code,
            "category_path": list(getattr(leaf, "path", ()) or ()),
            "appeal_type": appeal,
            **labels,
            "place_spans": place_spans,
            "pii_spans": pii_spans,
            "has_trail": trail is not None,
            "trail_start": trail_start,
            "issues": issues,
            "keyword_free": keyword_free,
            "catalog_version": self.catalog_version,
        }

    # -- pieces ----------------------------------------------------------------------------------
    def _guard(self, b: Builder) -> None:
        """A training order must carry no held-out keyword: where a rewrite (synonyms, typos, dialect)
        happened to make one in a plain piece, it is replaced by a neutral word."""
        idx = self.holdout.index
        if idx.find(b.text()) is None:
            return
        for p in b.pieces:
            if p[0] == PLAIN:
                hit = idx.find(p[1])
                while hit is not None:
                    p[1] = p[1].replace(hit, "这个问题")
                    hit = idx.find(p[1])

    def _mess(self, rng, b: Builder, style: str) -> None:
        fp = style in ("online", "letter")
        if rng.random() < self.paraphrase_rate:
            rate = rng.choice((0.2, 0.35, 0.5))
            b.map_plain(lambda t: self.paraphrase(t, rng, rate))
        if rng.random() < (0.3 if fp else 0.15):
            rate = rng.choice((0.1, 0.2, 0.35))
            b.map_plain(lambda t: mess.typos(t, rng, rate))
        if fp and rng.random() < 0.35:
            rate = rng.choice((0.2, 0.4, 0.6))
            b.map_plain(lambda t: mess.colloquial(t, rng, rate))
        r = rng.random()
        if r < (0.12 if fp else 0.06):
            b.map_plain(lambda t: mess.drop_punct(t, rng, "some"))
        elif r < (0.16 if fp else 0.08):
            b.map_plain(lambda t: mess.drop_punct(t, rng, "spaces"))
        elif r < (0.2 if fp else 0.09):
            b.map_plain(lambda t: mess.drop_punct(t, rng, "all"))
        if fp and rng.random() < 0.2:
            b.map_plain(lambda t: mess.repeat_marks(t, rng))

    def _labels(self, rng, leaf, place, marker_kind, em, ex) -> dict:
        duty = getattr(leaf, "duty", None) or ""
        level = getattr(leaf, "response_level", None)
        code = place.code if place is not None else None
        district = street = community = None
        if code:
            district = code[:6] + "000000"
            if code[6:9] != "000":
                street = code[:9] + "000"
            if code[9:] != "000":
                community = code
        out = {"response_level": level, "duty": duty, "district_code": district, "street_code": street,
               "community_code": community, "unit_id": None, "route": "dispatch", "transfer_to": None}
        if duty == "emergency_transfer" or marker_kind == "emergency":
            to = (em or {}).get("transfer_to") if em else None
            out.update(route="emergency_transfer", transfer_to=str(to) if to else "110", response_level="2h")
            if out["transfer_to"] not in _EMERGENCY_TRANSFERS:
                out["transfer_to"] = "110"
            return out
        if duty == "out_of_scope" or marker_kind == "exclusion":
            out["route"] = "out_of_scope"
            return out
        unit_ids = list(getattr(leaf, "unit_ids", ()) or ())
        unit_type = getattr(leaf, "unit_type", None)
        unit = None
        if unit_ids:
            unit = unit_ids[0]
        elif unit_type == "street_office":
            if place is not None and getattr(place, "unit", None):
                unit = place.unit
            elif street:
                u = self.units.resolve("street_office", street_code=street)
                unit = u.id if u else None
            elif district:
                u = self.units.resolve("district_subcentre", district_code=district)
                unit = u.id if u else None
        elif unit_type:
            u = self.units.resolve(unit_type, district_code=district, street_code=street) if (district or not unit_type.startswith(("district_",))) else None
            unit = u.id if u else None
        out["unit_id"] = unit
        if unit is None:
            out["route"] = "review"
        return out

    def _caller_location(self, rng, place) -> str:
        """What an intake system knows of the caller: a district, or district + street."""
        if place is not None and rng.random() < 0.7:
            st = self.gaz.street_of(place.code) if place.code[6:9] != "000" else None
            d = self.gaz.district_of(place.code)
        else:
            st = rng.choice(self._streets)
            d = self.gaz.district_of(st.code)
        from .places import Mention

        if st is not None and rng.random() < 0.6:
            self._loc_mention = Mention([], st.code)
            return d.name + st.name
        self._loc_mention = Mention([], d.code)
        return d.name

    def _unit_name(self, unit_id: str) -> str:
        u = self.units.get(unit_id) if hasattr(self.units, "get") else None
        if u is not None:
            return u.name
        if unit_id.startswith("street_office@"):
            d = self.gaz.get(unit_id.split("@")[1])
            if d is not None:
                return d.name + ("办事处" if d.name.endswith("街道") else "人民政府" if d.name.endswith(("镇", "乡")) else "")
        return unit_id

    def _trail(self, rng, unit_id: str) -> str:
        u = self._unit_name(unit_id)
        wrong = rng.choice(self._streets)
        u0 = wrong.name + ("办事处" if wrong.name.endswith("街道") else "")
        t = rng.choice(banks.TRAIL_TEMPLATES)
        return t.format(u=u, u0=u0, r=rng.choice(banks.TRAIL_RESULT), t1=rng.choice(banks.TRAIL_TIME),
                        t2=rng.choice(banks.TRAIL_TIME))

    def _time(self, rng, lb) -> str:
        base = datetime(2023, 1, 1)
        day = rng.randrange(1000)
        if any(t.key == "heating" for t in lb.topics):
            # Heating season: 15 November to 15 March.
            year = 2023 + rng.randrange(2)
            start = datetime(year, 11, 15)
            dt = start + timedelta(days=rng.randrange(120))
        else:
            dt = base + timedelta(days=day)
        hour = rng.choices(range(24), weights=(1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 10, 12, 12, 11, 10, 9, 9, 8, 6, 4, 2))[0]
        dt = dt.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        return dt.isoformat()
