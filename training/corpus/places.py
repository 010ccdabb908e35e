"""Places: the invented map of one seed and the ways an order names a place.

Real orders name residential compounds, roads and landmarks that are in no administrative list. The
generator invents them, but ties each one to one division for the whole seed (``InventedMap``), so
the same compound always lies in the same community: that is what a hotline's history knows and what
the learned jurisdiction must learn. Mentions are rendered in many forms (``PlaceRenderer``): full
and short division names, town + village, invented compounds with building numbers, roads and
crossings, landmarks, well-known places of the gazetteer's places table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Stems for invented names (two characters; written for this project).
STEMS = tuple(
    "阳光 金色 幸福 和平 长青 华府 锦绣 翠微 丽景 龙湖 碧水 紫金 星河 枫林 绿洲 怡景 康乐 富力 嘉禾 明珠 "
    "春晖 秋实 青年 文华 书香 润泽 水岸 山水 芳草 新华 永泰 安华 瑞祥 吉祥 福海 泰和 银河 金隅 万科 远洋 "
    "首开 天通 东湖 西山 南湖 北苑 望春 晨光 朝晖 曙光 清河 玉泉 荷塘 柳荫 松林 杏林 梨园 桃源 竹林 兰亭 "
    "宏福 鑫苑 雅居 和谐 振兴 育新 光华 建设 团结 友谊 红星 东风 前进 胜利 向阳 双桥 富康 景泰 丰泽 恒兴".split()
)
COMPOUND_SUFFIX = ("家园", "小区", "花园", "苑", "嘉园", "公寓", "新城", "雅苑", "西里", "北里", "东区", "南区", "名苑", "佳园", "新村")
ROAD_SUFFIX = ("路", "路", "街", "大街", "东路", "西路", "南路", "北路", "中路", "胡同", "大道", "巷")
LANDMARK_KIND = ("菜市场", "农贸市场", "小学", "中学", "幼儿园", "公园", "超市", "广场", "医院", "地铁站", "公交站", "购物中心", "体育馆", "社区卫生服务站", "大厦")
NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True, slots=True)
class InventedPlace:
    name: str
    code: str  # the division it lies in (community for compounds, street for roads and landmarks)
    kind: str  # compound | road | landmark


class InventedMap:
    """Compounds, roads and landmarks invented for one seed, each tied to one division."""

    def __init__(self, gazetteer, seed: int, compounds_per_street: int = 6, roads_per_street: int = 3,
                 landmarks_per_street: int = 2):
        rng = random.Random(f"map:{seed}")
        taken = {s for s, _c, _k in gazetteer.surfaces()}
        self.by_name: dict[str, InventedPlace] = {}
        self.compounds: dict[str, list[InventedPlace]] = {}  # street code -> compounds
        self.roads: dict[str, list[InventedPlace]] = {}
        self.landmarks: dict[str, list[InventedPlace]] = {}

        def fresh(make) -> str:
            for _ in range(60):
                name = make()
                if name not in taken and name not in self.by_name:
                    return name
            return make() + NUMERALS[rng.randrange(10)] + "区"

        def invent(kind: str, n: int, draw) -> list[InventedPlace]:
            """``n`` places of ``kind``; ``draw()`` gives (name, division code); each is indexed by name."""
            made = []
            for _ in range(n):
                name, code = draw()
                made.append(InventedPlace(name, code, kind))
                self.by_name[name] = made[-1]
            return made

        for street in sorted(gazetteer.streets(), key=lambda d: d.code):
            comms = [c for c in gazetteer.children(street.code) if not c.name.endswith(("村委会", "村民委员会"))] or \
                gazetteer.children(street.code)
            local = [s for s in (*street.short_names, *(c.short_names[-1] for c in comms if c.short_names)) if len(s) >= 2]

            def compound(comms=comms, local=local, street=street):
                comm = rng.choice(comms) if comms else street
                stems = local if local and rng.random() < 0.35 else STEMS
                return fresh(lambda: rng.choice(stems) + rng.choice(COMPOUND_SUFFIX)), comm.code

            def on_street(suffixes, local=local, street=street):
                return fresh(lambda: rng.choice(STEMS + tuple(local)) + rng.choice(suffixes)), street.code

            self.compounds[street.code] = invent("compound", compounds_per_street, compound)
            self.roads[street.code] = invent("road", roads_per_street, lambda: on_street(ROAD_SUFFIX))
            self.landmarks[street.code] = invent("landmark", landmarks_per_street, lambda: on_street(LANDMARK_KIND))

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def get(self, name: str) -> InventedPlace | None:
        return self.by_name.get(name)


@dataclass
class Mention:
    """A rendered place: pieces of text, some of them spans ``(text, code, kind, source)``."""

    pieces: list  # str or (text, code, kind, source)
    code: str | None  # the finest division this mention names
    unit: str | None = None  # a place's own unit override (经开区)


class PlaceRenderer:
    """Picks a problem place and renders it in one of many forms."""

    def __init__(self, gazetteer, imap: InventedMap):
        self.gaz = gazetteer
        self.imap = imap
        self.districts = sorted(gazetteer.districts(), key=lambda d: d.code)
        self.streets = sorted(gazetteer.streets(), key=lambda d: d.code)
        self.towns = [s for s in self.streets if s.name.endswith(("镇", "乡"))
                      and any(c.name.endswith(("村委会", "村民委员会")) for c in gazetteer.children(s.code))]
        self.known = [p for p in gazetteer.places]
        self._children = {s.code: gazetteer.children(s.code) for s in self.streets}

    # -- pieces ---------------------------------------------------------------------------------
    @staticmethod
    def _div(d, rng, short_p=0.4):
        names = d.short_names + d.aliases
        if d.level == "community" and d.name.endswith(("居委会", "居民委员会", "村委会", "村民委员会")):
            # "XX社区居委会" is how the statistics name it; people say "XX社区" or just "XX".
            text = rng.choice(names) if names else d.name
        else:
            text = rng.choice(names) if names and rng.random() < short_p else d.name
        return (text, d.code, d.level, "gazetteer")

    def building(self, rng) -> str:
        r = rng.random()
        if r < 0.35:
            return f"{rng.randint(1, 30)}号楼"
        if r < 0.6:
            return f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"
        if r < 0.75:
            return f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{rng.randint(1, 24)}0{rng.randint(1, 4)}"
        if r < 0.85:
            return f"{rng.randint(1, 20)}栋"
        return ""

    # -- one mention --------------------------------------------------------------------------
    def render(self, rng, street=None, form: str | None = None) -> Mention:
        """A mention of a place in ``street`` (random when None) in a random or given form."""
        if street is None:
            street = rng.choice(self.streets)
        district = self.gaz.district_of(street.code)
        form = form or rng.choices(
            ("chain", "short_chain", "street_compound", "compound", "road", "crossing", "landmark", "community",
             "street_only", "district_compound", "village", "known", "district_only"),
            weights=(10, 8, 10, 14, 8, 5, 7, 6, 5, 7, 6, 5, 3))[0]
        comps = self.imap.compounds.get(street.code) or []
        roads = self.imap.roads.get(street.code) or []
        lms = self.imap.landmarks.get(street.code) or []
        kids = self._children.get(street.code) or []
        if form == "village":
            town = street if street in self.towns else (rng.choice(self.towns) if self.towns else None)
            if town is not None:
                villages = [c for c in self._children[town.code] if c.name.endswith(("村委会", "村民委员会"))]
                v = rng.choice(villages)
                d = self.gaz.district_of(town.code)
                pieces = []
                if rng.random() < 0.6:
                    pieces.append(self._div(d, rng))
                pieces.append((town.name, town.code, "street", "gazetteer"))
                pieces.append(self._div(v, rng))
                return Mention(pieces, v.code)
            form = "chain"
        if form == "known" and self.known:
            p = rng.choice(self.known)
            text = rng.choice((p.name, *p.aliases)) if p.aliases and rng.random() < 0.4 else p.name
            tail = rng.choice(("", "附近", "一带", "周边", "那边"))
            return Mention([(text, p.code, p.kind, "places"), tail] if tail else [(text, p.code, p.kind, "places")],
                           p.code, p.unit)
        if form in ("compound", "street_compound", "district_compound", "chain", "short_chain") and comps:
            c = rng.choice(comps)
            pieces: list = []
            if form == "chain":
                pieces += [self._div(district, rng, 0.0), self._div(street, rng, 0.0)]
            elif form == "short_chain":
                pieces += [self._div(district, rng, 1.0), self._div(street, rng, 1.0)]
            elif form == "street_compound":
                pieces.append(self._div(street, rng))
            elif form == "district_compound":
                pieces.append(self._div(district, rng))
            if form == "chain" and rng.random() < 0.4 and kids:
                comm = self.gaz.get(c.code)
                if comm is not None and comm.level == "community":
                    pieces.append(self._div(comm, rng))
            pieces.append((c.name, c.code, "compound", "invented"))
            b = self.building(rng)
            if b:
                pieces.append(b)
            return Mention(pieces, c.code)
        if form in ("road", "crossing") and roads:
            r1 = rng.choice(roads)
            pieces = []
            if rng.random() < 0.5:
                pieces.append(self._div(district, rng))
            pieces.append((r1.name, r1.code, "road", "invented"))
            if form == "crossing" and len(roads) > 1:
                r2 = rng.choice([r for r in roads if r is not r1])
                pieces += ["与", (r2.name, r2.code, "road", "invented"), rng.choice(("交叉口", "路口", "十字路口"))]
            else:
                pieces.append(rng.choice((f"{rng.randint(1, 200)}号", "路边", "附近", "南侧", "北口", "辅路上", "")))
            return Mention(pieces, r1.code)
        if form == "landmark" and lms:
            lm = rng.choice(lms)
            pieces = []
            if rng.random() < 0.4:
                pieces.append(self._div(street, rng))
            pieces += [(lm.name, lm.code, "landmark", "invented"), rng.choice(("门口", "旁边", "对面", "附近", "后身", "西侧"))]
            return Mention(pieces, lm.code)
        if form == "community" and kids:
            comm = rng.choice(kids)
            pieces = []
            if rng.random() < 0.5:
                pieces.append(self._div(street, rng))
            pieces.append(self._div(comm, rng))
            return Mention(pieces, comm.code)
        if form == "district_only":
            return Mention([self._div(district, rng)], district.code)
        # street_only and every fallback
        pieces = []
        if rng.random() < 0.4:
            pieces.append(self._div(district, rng))
        pieces.append(self._div(street, rng))
        return Mention(pieces, street.code)

    def road_in(self, rng, street_code: str) -> Mention | None:
        roads = self.imap.roads.get(street_code) or []
        if not roads:
            return None
        r = rng.choice(roads)
        return Mention([(r.name, r.code, "road", "invented")], r.code)
