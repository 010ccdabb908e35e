"""Build ``benchmarks/data/address_set_real.jsonl``: orders written in the shapes of issue 17.

    .venv/bin/python -m benchmarks.address_real_build

Each pattern has hand-written sentence frames (written for this project, not the corpus templates,
not taken from the challenge set); the frames are filled from a small table of facts (a street's
name, its district and street codes).  Gold labels: ``district`` (6-digit prefix padded to 12),
``street`` (12 digits, or null where the right answer leaves the street open), ``first_hop`` (the
unit the city centre dispatches to) and the ``pattern`` tag.  Deterministic (no randomness).
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).parent / "data" / "address_set_real.jsonl"

DISTRICTS = {"110101": "东城区", "110102": "西城区", "110105": "朝阳区", "110106": "丰台区", "110108": "海淀区",
             "110112": "通州区", "110114": "昌平区", "110115": "大兴区"}
# (street name as written, street code): facts from catalog/gazetteer-beijing.tsv.
STREETS = [("酒仙桥街道", "110105011000"), ("望京街道", "110105026000"), ("麦子店街道", "110105012000"),
           ("三里屯街道", "110105004000"), ("团结湖街道", "110105013000"), ("呼家楼街道", "110105003000"),
           ("安贞街道", "110105008000"), ("潘家园街道", "110105018000"), ("中关村街道", "110108011000"),
           ("学院路街道", "110108010000"), ("西北旺地区", "110108028000"), ("万柳地区", "110108023000"),
           ("花园路街道", "110108018000"), ("青龙桥街道", "110108013000"), ("金融街街道", "110102011000"),
           ("什刹海街道", "110102012000"), ("大栅栏街道", "110102013000"), ("月坛街道", "110102007000"),
           ("展览路街道", "110102009000"), ("东华门街道", "110101001000"), ("交道口街道", "110101003000"),
           ("天坛街道", "110101016000"), ("和平里街道", "110101010000"), ("安定门街道", "110101004000"),
           ("方庄街道", "110106013000"), ("马家堡街道", "110106015000"), ("卢沟桥街道", "110106017000"),
           ("旧宫地区", "110115006000"), ("瀛海地区", "110115008000"), ("永顺镇", "110112120000"),
           ("北苑街道", "110112003000"), ("梨园镇", "110112121000"), ("回龙观街道", "110114011000")]
BDA = "110115403000"

FRAMES: dict[str, list[str]] = {
    # 1. The district is named; the rest is vague or disagrees: the district, street open.
    "backoff": [
        "{d}一个公交总站旁边的便道砖翻起来了，老人走路容易绊倒，希望有关部门尽快修一下。",
        "{d}那边一条小河两边的堤路上堆了很多建筑垃圾，好几个月没人管，请相关部门清理。",
        "来电人反映{d}一个大桥底下有人长期露宿，还生火做饭，存在安全隐患。",
        "{d}新修的那条路晚上路灯一直不亮，走夜路很危险，希望尽快维修。",
        "市民反映{d}一处菜市场门口早上占道经营严重，车辆无法通行。",
        "{d}某建筑工地夜里十一点以后还在施工，噪音扰民，周边居民无法休息。",
        "来电反映{d}一个地铁站出口附近共享单车乱停乱放，堵住了盲道。",
        "{d}有一段绿化带里的树被人砍了，不知道是谁批准的，希望核实。",
    ],
    # 2. A true street named, a fragment that looks like a place beside it (and a few with no place).
    "fragment": [
        "{d}{s}某快捷酒店分店门口的下水道堵了，污水流到马路上，味道很大。",
        "{s}辖区内某某科技园的停车场出口总有车辆乱停，影响通行，希望处理。",
        "来电人称出了小区就上三环，{d}{s}这段辅路的井盖松动，车一过就响。",
        "{d}{s}一家生物医药公司门口的人行道被施工围挡占了大半，行人只能走机动车道。",
        "市民反映{s}某小区东北角的垃圾桶好几天没清运，蚊蝇很多。",
        "{d}{s}某集团公司大院西南侧的围墙有裂缝，担心倒塌伤人。",
    ],
    "fragment_none": [
        "来电人反映自来水集团的客服电话一直打不通，想咨询水费缴纳的问题。",
        "市民咨询某某科技园的企业如何申请高新技术企业认定，需要哪些材料。",
        "来电人称自己出了小区就上三环，每天通勤很堵，建议优化公交线路。",
        "来电人反映某快捷酒店分店退房时多收了押金，商家不予退还。",
    ],
    # 3. The complaint names one street; the handling trail after it names another that passed it on.
    "trail": [
        "{d}{s}某小区楼下的垃圾站臭味严重，夏天更厉害，希望挪走。====经市中心与{d2}核实，此单由{s2}转办。",
        "来电人反映{d}{s}某路口的红绿灯坏了三天。注：此单为市政府门户网站简易工单。{d2}回复：经{s2}调查，已转属地处理。",
        "{d}{s}一处老旧小区的楼道灯不亮，物业不管。{d2}回复：经{s2}调查，该问题不属于本街道。",
    ],
    # 4. A river or road that spans districts; a co-mentioned district decides, the street stays open.
    "linear": [
        "坝河{d}这一侧的堤路上有人倒了很多渣土，希望尽快清理。",
        "通惠河{d}段的岸边护栏坏了好几处，孩子在边上玩很危险。",
        "凉水河{d}这边的河道里漂着很多垃圾，气味难闻。",
        "五环路{d}这一段的辅路上货车夜里乱停，影响通行。",
    ],
    # 5. The caller's home or a company's name against the problem's place.
    "caller": [
        "我住在{d2}{s2}，但要反映的是{d}{s}某小区门口的路面塌陷问题，希望尽快处理。",
        "来电人家住{d2}，反映{d}{s}一处公园里的健身器材损坏，存在安全隐患。",
        "北京{d2short}某某物流有限公司位于{d}{s}，其货车每天凌晨装卸货噪音扰民。",
    ],
    # 6. The Economic-Technological Development Area.
    "bda": [
        "北京经济技术开发区某小区门口的路灯坏了一排，晚上很黑。",
        "来电人反映经开区一家工厂排放的废气有刺鼻气味，周边居民很难受。",
        "亦庄经济技术开发区某路口的人行横道信号灯时间太短，老人过不去马路。",
        "北京亦庄某产业园门口的共享单车乱停乱放，堵住了消防通道。",
        "经开区某小区的地下车库积水严重，物业一直不处理。",
    ],
}
# A second batch written after the behaviour changes of issue 17 were made (``batch: holdout``): other
# wording for the same patterns, to see whether the changes generalise beyond the first frames.
HOLDOUT: dict[str, list[str]] = {
    "backoff": [
        "{d}这边有个停车场晚上总有大货车停着不走，发动机一直响，吵得睡不着。",
        "反映{d}一处过街天桥的台阶坏了好几块，下雨天很滑，希望维修。",
        "{d}某条胡同里有人私自占道堆放杂物，消防车都进不去。",
    ],
    "fragment": [
        "{d}{s}辖区，出了地铁往东北方向走一百米有个井盖缺失，很危险。",
        "{s}某大厦西北侧的人行道上有人常年摆摊卖水果，挡住盲道。",
        "{d}{s}一家连锁超市分店门口的台阶塌了，顾客进出不便。",
    ],
    "trail": [
        "{d}{s}某小区供暖不热，屋里只有十五度。====工单流转：市中心→{d2}→{s2}，{s2}回复非本辖区。",
        "{s}某胡同口的垃圾桶满了没人清。经市中心与{d2}核实，{d2}回复：经{s2}调查，已退回。",
    ],
    "caller": [
        "来电人户籍在{d2}，现反映{d}{s}某小区门口违规设置地锁的问题。",
        "我在{d2}{s2}上班，下班路过{d}{s}某路口时发现红绿灯不亮，希望尽快修复。",
        "北京{d2short}某某商贸有限公司在{d}{s}租的库房堆放易燃物品，存在消防隐患。",
    ],
    "bda": [
        "经开区某路口的红绿灯晚上经常不亮，车辆抢行很危险。",
        "北京亦庄某小区外面的绿地被人私自开垦种菜。",
    ],
    "outside": [
        "来电人反映廊坊某小区的开发商迟迟不交房，希望北京这边帮忙协调。",
        "来电人称在天津市某商场买的手机有质量问题，商家不给退。",
        "河北省涿州市某工厂排放的废气飘到附近村里，气味刺鼻。",
    ],
}

# 7. Well-known places (facts: district, street where certain, else null).
PLACES = [("北京大学东门外", "110108", "110108015000"), ("清华大学西门附近", "110108", "110108014000"),
          ("天坛公园北门", "110101", "110101016000"), ("798艺术区里面", "110105", "110105011000"),
          ("国贸桥下", "110105", "110105001000"), ("南锣鼓巷", "110101", "110101003000"),
          ("王府井步行街", "110101", "110101001000"), ("三里屯太古里", "110105", "110105004000"),
          ("颐和园北宫门外", "110108", None), ("鸟巢南侧", "110105", None)]
PLACE_FRAMES = ["{p}的公共厕所很脏，没有人打扫，希望加强管理。", "来电人反映{p}有人无证摆摊，影响游客通行。",
                "{p}的道路上有个井盖缺失，非常危险，请尽快处理。"]


def _row(text: str, pattern: str, district: str | None, street: str | None, first_hop: str | None) -> dict:
    return {"text": text, "pattern": pattern, "district": district + "000000" if district else None,
            "street": street, "first_hop": first_hop}


def build() -> list[dict]:
    rows = []
    n = len(STREETS)
    for i, (sname, scode) in enumerate(STREETS):
        d = scode[:6]
        dname = DISTRICTS[d]
        other = STREETS[(i + 7) % n]
        if other[1][:6] == d:
            other = STREETS[(i + 13) % n]
        s2name, s2code = other
        d2name = DISTRICTS[s2code[:6]]
        hop = f"district_subcentre@{d}"
        fill = {"d": dname, "s": sname, "d2": d2name, "s2": s2name, "d2short": d2name}
        for k, f in enumerate(FRAMES["backoff"]):
            if (i + k) % 4 == 0:
                rows.append(_row(f.format(**fill), "backoff", d, None, hop))
        for k, f in enumerate(FRAMES["fragment"]):
            if (i + k) % 2 == 0:
                rows.append(_row(f.format(**fill), "fragment", d, scode, hop))
        for k, f in enumerate(FRAMES["trail"]):
            if (i + k) % 2 == 0:
                rows.append(_row(f.format(**fill), "trail", d, scode, hop))
        for k, f in enumerate(FRAMES["caller"]):
            if (i + k) % 2 == 0:
                rows.append(_row(f.format(**fill), "caller", d, scode, hop))
        rows.append(_row(f"{dname}{sname}某小区门口的路面塌了一个坑，希望尽快修补。", "street_named", d, scode, hop))
    for d, dname in DISTRICTS.items():
        if d in ("110105", "110101", "110112", "110115", "110106"):
            for f in FRAMES["linear"]:
                rows.append(_row(f.format(d=dname), "linear", d, None, f"district_subcentre@{d}"))
    for f in FRAMES["fragment_none"]:
        rows.append(_row(f, "fragment_none", None, None, None))
    for f in FRAMES["bda"]:
        rows.append(_row(f, "bda", "110115", BDA, "district_subcentre@bda"))
    for p, d, s in PLACES:
        for f in PLACE_FRAMES:
            rows.append(_row(f.format(p=p), "place", d, s, f"district_subcentre@{d}"))
    n_first = len(rows)
    for i, (sname, scode) in enumerate(STREETS):
        d = scode[:6]
        other = STREETS[(i + 5) % n]
        if other[1][:6] == d:
            other = STREETS[(i + 11) % n]
        fill = {"d": DISTRICTS[d], "s": sname, "d2": DISTRICTS[other[1][:6]], "s2": other[0],
                "d2short": DISTRICTS[other[1][:6]]}
        hop = f"district_subcentre@{d}"
        for pattern in ("backoff", "fragment", "trail", "caller"):
            f = HOLDOUT[pattern][i % len(HOLDOUT[pattern])]
            street = None if pattern == "backoff" else scode
            rows.append(_row(f.format(**fill), pattern, d, street, hop))
    for f in HOLDOUT["bda"]:
        rows.append(_row(f, "bda", "110115", BDA, "district_subcentre@bda"))
    for f in HOLDOUT["outside"]:
        rows.append(_row(f, "outside", None, None, None))
    for i, r in enumerate(rows):
        r["id"] = f"addr-{i:04d}"
        r["batch"] = "first" if i < n_first else "holdout"
    return rows


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} orders → {OUT}")


if __name__ == "__main__":
    main()
