"""A generated address test set for the jurisdiction stage (our own sentences, our own invented places).

``make_sets(gazetteer, seed)`` returns ``(history, dev, test)``: lists of dicts with ``text``,
``district``, ``street``, ``community`` (12-digit codes or None) and ``case`` (what kind of mention
the sentence carries).  Every district appears; streets, towns and villages; full and short names;
compounds and roads invented here and tied to streets (most of them appear in ``history``, the
labeled set the learned member trains on, a few only in the test); the caller's home against the
problem place; names shared by several divisions; no place at all.  Published hotline data says the
street is named in about three quarters of orders, so about a quarter of the test names only a
district, an invented compound or road, or nothing.
"""

from __future__ import annotations

import random
from collections import defaultdict

OPENINGS = ("市民反映：", "来电人反映", "市民来电称，", "网民留言：", "", "来电人称", "市民再次来电反映，", "企业反映：")
PROBLEMS = (
    "楼下餐馆油烟扰民，希望相关部门处理", "路灯不亮已经一周了", "小区停水三天，要求尽快恢复供水", "家里暖气不热，室温只有十五度",
    "道路破损有大坑，车辆通行困难", "垃圾无人清运，气味很大", "施工噪音扰民到深夜", "有人私搭乱建占用消防通道",
    "井盖缺失存在安全隐患", "有商户占道经营", "雨后积水严重无法通行", "共享单车乱停乱放堵住出口",
    "物业不作为，电梯经常故障", "绿地被毁改成停车场", "夜间渣土车噪音大", "树木倒伏压住电线", "下水道堵塞污水外溢",
    "广场舞噪音扰民", "小广告乱贴乱画", "违规停车堵塞道路",
)
ENDINGS = ("", "", "请尽快处理。", "希望相关部门核实。", "注：请及时向来电人反馈办理情况。")
SYLLABLES = list("金银华润枫林绿洲翠湖怡景嘉和瑞祥泰康宁静雅馨锦绣富丽阳光星辰紫荆云杉桂兰梅竹松柏溪泉澜")
COMPOUND_SUFFIX = ("家园", "花园", "嘉园", "小区", "新城", "公寓", "雅苑", "佳苑")
ROAD_SUFFIX = ("路", "大街", "胡同", "西路", "北街")
NO_PLACE = ("我家的宽带一直断网，客服不处理", "咨询公积金提取需要什么材料", "反映某快递员态度恶劣", "咨询社保转移的流程",
            "举报某网店销售假货", "咨询孩子入学需要哪些证明", "反映手机话费被多扣", "建议延长公交末班车时间")


def _invent(rng: random.Random, taken: set[str], suffixes) -> str:
    while True:
        name = "".join(rng.sample(SYLLABLES, rng.choice((2, 3)))) + rng.choice(suffixes)
        if name not in taken:
            taken.add(name)
            return name


def invent_places(gazetteer, seed: int = 7):
    """Two compounds and one road per street, names that no gazetteer surface contains."""
    rng = random.Random(seed)
    taken = {s for s, _, _ in gazetteer.surfaces()}
    surfaces = [s for s in taken if len(s) >= 2]
    out = []
    for street in gazetteer.streets():
        for kind, suffixes, n in (("compound", COMPOUND_SUFFIX, 2), ("road", ROAD_SUFFIX, 1)):
            for _ in range(n):
                name = _invent(rng, taken, suffixes)
                while any(s in name for s in surfaces if len(s) >= 2 and s in name):
                    name = _invent(rng, taken, suffixes)
                out.append({"name": name, "street": street.code, "kind": kind, "seen": rng.random() < 0.85})
    return out


def _short(div) -> str:
    return div.short_names[0] if div.short_names else div.name


def _communities_by_street(gazetteer):
    out = defaultdict(list)
    for d in gazetteer:
        if d.level == "community" and not d.name.endswith("虚拟社区"):
            names = [s for s in d.short_names if s.endswith(("社区", "村"))]
            if names:
                out[d.code[:9] + "000"].append((d, names[0]))
    return out


def _shared_names(gazetteer):
    by_name = defaultdict(list)
    for d in gazetteer:
        if d.level == "community":
            for s in d.short_names:
                if s.endswith("社区"):
                    by_name[s].append(d)
    return {n: ds for n, ds in by_name.items() if len({d.code[:6] for d in ds}) >= 2}


def _row(text, d=None, s=None, c=None, case=""):
    return {"text": text, "district": d, "street": s, "community": c, "case": case}


def sentence(rng, place: str) -> str:
    return rng.choice(OPENINGS) + place + rng.choice(PROBLEMS) + rng.choice(ENDINGS)


def make_rows(gazetteer, places, n: int, rng: random.Random, *, history: bool) -> list[dict]:
    streets = [s for s in gazetteer.streets() if not s.name.endswith("虚拟")]
    districts = {d.code: d for d in gazetteer.districts()}
    comms = _communities_by_street(gazetteer)
    shared = _shared_names(gazetteer)
    shared_names = sorted(shared)
    by_street = defaultdict(list)
    for p in places:
        if p["seen"] or not history:
            by_street[p["street"]].append(p)
    # case → weight; the street is named in about three quarters of the test rows.
    cases = {"full": 16, "short": 10, "street_only": 12, "town_village": 8, "community": 8, "caller": 8,
             "several": 3, "shared_decided": 4, "district_only": 6, "compound": 12, "road": 5,
             "shared_alone": 2, "none": 6}
    names, weights = zip(*cases.items())
    rows = []
    for _ in range(n):
        case = rng.choices(names, weights)[0]
        st = rng.choice(streets)
        dist = districts[st.code[:6] + "000000"]
        dc, sc = dist.code, st.code
        if case == "full":
            rows.append(_row(sentence(rng, dist.name + st.name), dc, sc, case=case))
        elif case == "short":
            rows.append(_row(sentence(rng, _short(dist) + _short(st)), dc, sc, case=case))
        elif case == "street_only":
            rows.append(_row(sentence(rng, rng.choice((st.name, *st.aliases)) if st.aliases else st.name), dc, sc, case=case))
        elif case in ("town_village", "community"):
            cs = comms.get(sc)
            if not cs:
                continue
            c, cname = rng.choice(cs)
            head = dist.name + rng.choice((st.name, *st.aliases)) if case == "town_village" else st.name
            rows.append(_row(sentence(rng, head + cname), dc, sc, c.code, case))
        elif case == "caller":
            home = rng.choice(streets)
            hd = districts[home.code[:6] + "000000"]
            text = (rng.choice(("我住在", "来电人家住", "本人住在")) + hd.name + home.name + "，反映" + dist.name + st.name
                    + rng.choice(("路口", "附近", "一处工地")) + rng.choice(PROBLEMS))
            rows.append(_row(text, dc, sc, case=case))
        elif case == "several":
            other = rng.choice(streets)
            od = districts[other.code[:6] + "000000"]
            text = rng.choice(OPENINGS) + dist.name + st.name + "和" + od.name + other.name + "都" + rng.choice(PROBLEMS)
            rows.append(_row(text, dc, sc, case=case))
        elif case == "shared_decided":
            name = rng.choice(shared_names)
            c = rng.choice(shared[name])
            d = districts[c.code[:6] + "000000"]
            s = gazetteer.get(c.code[:9] + "000")
            rows.append(_row(sentence(rng, d.name + s.name + name), d.code, s.code, c.code, case))
        elif case == "shared_alone":
            name = rng.choice(shared_names)
            c = rng.choice(shared[name])
            rows.append(_row(sentence(rng, name), c.code[:6] + "000000", c.code[:9] + "000", c.code, case))
        elif case == "district_only":
            rows.append(_row(sentence(rng, rng.choice((dist.name, _short(dist)))), dc, None, case=case))
        elif case in ("compound", "road"):
            cand = [p for p in by_street.get(sc, ()) if p["kind"] == case]
            if not cand:
                continue
            p = rng.choice(cand)
            lead = rng.choice(("", "", dist.name, _short(dist)))
            tail = rng.choice(("", "号楼", "小区门口", "附近")) if case == "compound" else rng.choice(("与某路交叉口", "路口", "附近", ""))
            rows.append(_row(sentence(rng, lead + p["name"] + tail), dc, sc, case=case + ("" if p["seen"] else "_unseen")))
        elif case == "none":
            rows.append(_row(rng.choice(OPENINGS) + rng.choice(NO_PLACE), None, None, case=case))
    return rows


def make_sets(gazetteer, seed: int = 7, n_history: int = 8000, n_dev: int = 1000, n_test: int = 2000):
    places = invent_places(gazetteer, seed)
    rng = random.Random(seed + 1)
    history = make_rows(gazetteer, places, n_history, rng, history=True)
    dev = make_rows(gazetteer, places, n_dev, rng, history=False)  # held out: unseen places occur
    test = make_rows(gazetteer, places, n_test, rng, history=False)
    return history, dev, test, places
