"""A bureau's hotline history of our own, in the shape of issue 21: ``python -m benchmarks.history_build OUT.csv``.

A city water bureau's orders (2024-2025): two-level labels with blanks, mixed depths and both spellings
of 其它/其他; district and street columns (Beijing names); the unit that handled each order, by the
bureau's own names (river management offices by basin, the drainage group in the centre and the
district water bureaus outside it, the supply company, the enforcement corps ...). Which unit
handles an order depends on its category, its district and sometimes its text (a named river). The
sentence pieces are written for this benchmark; rows are drawn with a fixed seed.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from dispatch_nlp.knowledge.gazetteer import Gazetteer

CENTRE = ("东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区")
BASIN = {"北运河管理处": ("东城区", "西城区", "朝阳区", "通州区", "大兴区"),
         "永定河管理处": ("丰台区", "石景山区", "门头沟区", "房山区"),
         "潮白河管理处": ("顺义区", "怀柔区", "密云区", "平谷区"),
         "温榆河管理处": ("昌平区", "海淀区", "延庆区")}
RIVERS = {"凉水河": "凉水河管理处", "清河": "清河管理处", "坝河": "坝河管理处"}  # a named river has its own office

# (level 1, level 2, problem phrases)
CATEGORIES = [
    ("河湖管理", "河道垃圾", ["河道里漂着很多垃圾", "河边堆满了建筑垃圾没人清", "河面上全是塑料袋和死鱼"]),
    ("河湖管理", "河道违建", ["有人在河堤上私搭棚子", "河岸边新盖了一排彩钢房", "有人占用河道堆放砂石"]),
    ("河湖管理", "非法捕鱼", ["有人在河里电鱼", "天天有人在河边撒网捕鱼", "有人在闸口下网逮鱼"]),
    ("供水", "停水", ["家里突然停水了也没有通知", "小区已经停水一整天了", "楼里没水了做饭都成问题"]),
    ("供水", "水质", ["自来水发黄有异味", "水龙头里流出来的水浑浊", "烧开的水有很多水垢和白色沉淀"]),
    ("供水", "水压", ["高层水压太低洗澡都不行", "早晚用水高峰水流特别小"]),
    ("排水", "污水冒溢", ["路边井盖往外冒污水", "化粪池满了污水流到路上", "下水道返味还往外溢"]),
    ("排水", "雨水井堵塞", ["雨水箅子被树叶堵死了", "雨水井堵塞一下雨就排不出去"]),
    ("排水", "道路积水", ["下雨后路口积水很深车都过不去", "桥下积水没过膝盖"]),
    ("节水", "浪费用水", ["洗车店用自来水大量冲洗地面", "公园的喷灌白天一直开着浪费水"]),
    ("水政执法", "违法取水", ["有人私自从河里抽水浇地", "工地偷接消防栓用水"]),
    ("水政执法", "私打机井", ["村里有人私打机井取地下水", "厂子里偷偷打了一口深井"]),
    ("其它", "", ["想问一下水费怎么交", "咨询一下水务局的办公地址", "对上次处理结果表示感谢"]),
]
FIXED_UNITS = {"停水": "自来水集团客服中心", "水压": "自来水集团客服中心", "水质": "供水管理处",
               "浪费用水": "节约用水办公室", "违法取水": "水政监察总队", "私打机井": "水政监察总队", "": "局办公室"}
OPENERS = ["市民来电反映：", "来电人称，", "市民反映，", "网民留言：", "来电人表示", ""]
CLOSERS = ["希望尽快处理。", "要求相关部门核实处理。", "请尽快解决。", "多次反映未果。", ""]
SPOTS = ["附近", "旁边", "北侧", "路口", "一带"]


# Orders about another city (its own districts, roads and compounds): a Beijing model must leave them
# outside its gazetteer, not find a Beijing community in a fragment.
OTHER_CITY = (
    "成都市武侯区浆洗街建设东路口的井盖往外冒污水", "杭州市西湖区文三路商业街附近停水两天了",
    "武汉市洪山区城东小区楼下雨水井堵塞", "南京市鼓楼区中山北路东段路面积水很深",
    "西安市雁塔区小寨东路河道里漂着垃圾", "郑州市金水区花园路城南社区自来水发黄",
    "长沙市岳麓区麓山南路有人在湘江边电鱼", "重庆市渝中区解放碑商业街下水道返味",
    "青岛市市南区香港中路东段洗车店浪费自来水", "沈阳市和平区南京北街小区停水没有通知",
    "昆明市五华区翠湖东路河边堆满建筑垃圾", "合肥市蜀山区长江西路城西小区水压太低",
)


def unit_of(l1: str, l2: str, district: str, text: str) -> str:
    if l1 == "河湖管理":
        for river, office in RIVERS.items():
            if river in text:
                return office
        return next(o for o, ds in BASIN.items() if district in ds)
    if l1 == "排水":
        return "排水集团" if district in CENTRE else f"{district}水务局"
    return FIXED_UNITS[l2]


def build(n: int = 3000, seed: int = 21) -> list[dict]:
    rng = random.Random(seed)
    gaz = Gazetteer.load()
    streets = {d.name: [s.name for s in gaz.streets() if s.code.startswith(d.code[:6])] for d in gaz.districts()}
    districts = [d for d in streets if streets[d] and any(d in ds for ds in BASIN.values())]
    rows = []
    for i in range(n):
        l1, l2, phrases = rng.choice(CATEGORIES)
        district = rng.choice(districts)
        street = rng.choice(streets[district][:8])
        mention = rng.random()
        if mention < 0.35:
            place = f"{district}{street}"
        elif mention < 0.65:
            place = street
        elif mention < 0.8:
            place = district
        else:
            place = ""  # the place is only in the columns
        if l1 == "河湖管理" and rng.random() < 0.3:
            place += rng.choice(list(RIVERS))
        text = f"{rng.choice(OPENERS)}{place}{rng.choice(SPOTS) if place else ''}{rng.choice(phrases)}，{rng.choice(CLOSERS)}"
        a, b = l1, l2
        if l1 == "其它" and rng.random() < 0.4:
            a = "其他"  # both spellings
        if b and rng.random() < 0.08:
            a = ""  # blank first level
        if l1 == "水政执法" and rng.random() < 0.15:
            b = ""  # labeled at level 1 only
        month = 1 + (i * 24) // n
        rows.append({"id": f"H{i:05d}", "text": text, "l1": a, "l2": b, "district": district, "street": street,
                     "unit": unit_of(l1, l2, district, text),
                     "time": f"{2024 + (month - 1) // 12}-{1 + (month - 1) % 12:02d}-{1 + rng.randrange(28):02d}"})
    return rows


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    write(Path(sys.argv[1]), build())
