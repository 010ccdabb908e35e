"""Record the golden decisions: what the shipped default model decides for fixed orders.

    python -m tests.golden.record            # rewrites tests/golden/*.jsonl.gz

The inputs are 2,000 generated test-split orders (corpus seed 20261129) and 30 hand-written edge
cases (``EDGE_CASES``); the outputs are the decision JSON of each with ``timings_ms`` removed, for the
default (fast) profile, and for the full profile (the encoder member) on the first 300 orders. The
inputs are stored with the outputs so that the test does not depend on the corpus generator.

Re-record only for a deliberate behaviour change, in its own commit that says why.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261129
N_GENERATED = 2000
N_FULL = 300
BATCH_SIZE = 32

LONG = "市民反映：朝阳区望京街道某小区楼下餐馆油烟扰民，" * 400  # over max_chars: truncated

EDGE_CASES: list[dict] = [
    {"id": "edge-empty", "text": ""},
    {"id": "edge-blank", "text": "   \n\t  "},
    {"id": "edge-punct", "text": "？？？！！！……"},
    {"id": "edge-digits", "text": "1234567890"},
    {"id": "edge-latin", "text": "The street light outside my building has been broken for a week."},
    {"id": "edge-long", "text": LONG},
    {"id": "edge-trad", "text": "市民來電反映：海澱區學院路街道某小區暖氣不熱，請儘快處理。"},
    {"id": "edge-fullwidth", "text": "市民反映：ＡＢＣ小区１２号楼停水已经３天了，东城区东华门街道。"},
    {"id": "edge-pii", "text": "来电人张先生，电话13812345678，身份证110105199001011234，反映朝阳区三里屯街道某小区电梯故障。"},
    {"id": "edge-fire", "text": "紧急！海淀区中关村大街某写字楼现在着火了，浓烟很大，有人被困！"},
    {"id": "edge-accident", "text": "刚才在东三环国贸桥下发生交通事故，有人受伤，需要救护车。"},
    {"id": "edge-crime", "text": "有人正在小区门口打架斗殴，已经有人流血了，丰台区卢沟桥街道。"},
    {"id": "edge-out-of-scope", "text": "我想咨询一下美国签证怎么办理，需要什么材料。"},
    {"id": "edge-other-city", "text": "上海市浦东新区陆家嘴某小区物业乱收费，请处理。"},
    {"id": "edge-caller-only", "text": "来电人住在通州区，反映自己的社保卡丢失了，想问怎么补办。"},
    {"id": "edge-two-places", "text": "市民反映：家住海淀区，但在朝阳区酒仙桥街道某工地夜间施工噪音扰民。"},
    {"id": "edge-title", "title": "小区停暖", "text": "我们小区从昨天开始暖气就不热了，家里只有十几度，西城区金融街街道。"},
    {"id": "edge-title-only-place", "title": "东城区和平里街道路灯不亮", "text": "晚上很黑，老人出门不方便。"},
    {"id": "edge-channel", "channel": "微信服务号", "text": "工单来源：微信服务号 市民原文：大兴区旧宫镇某小区门口垃圾堆积好几天没人清运。"},
    {"id": "edge-trail", "text": "市民反映昌平区回龙观街道某小区停水。====经市中心与昌平区核实，已转回龙观街道办理。"},
    {"id": "edge-caller-location", "caller_location": "石景山区", "text": "我家楼下的路灯坏了一个多月了。"},
    {"id": "edge-praise", "text": "市民来电表扬西城区德胜街道工作人员服务热情，帮助解决了老旧小区加装电梯问题。"},
    {"id": "edge-suggest", "text": "建议在朝阳区奥运村街道北辰东路增设一处公交站台，方便居民出行。"},
    {"id": "edge-report", "text": "举报：房山区良乡镇某工厂夜间偷排污水到河里，气味刺鼻。"},
    {"id": "edge-wage", "text": "来电人反映在顺义区某公司工作，公司拖欠三个月工资不发，要求协调。"},
    {"id": "edge-emoji", "text": "楼道灯不亮😡😡已经好几天了，怀柔区泉河街道"},
    {"id": "edge-control", "text": "市民反映\u0000\u0007延庆区儒林街道\u200b某小区\u3000供暖不热"},
    {"id": "edge-newlines", "text": "市民反映：\n\n密云区果园街道\n\n某小区\n\n下水道堵塞返臭。"},
    {"id": "edge-bda", "text": "亦庄经济技术开发区某园区门口道路破损严重，车辆通行困难。"},
    {"id": "edge-email", "text": "联系人：李四，邮箱lisi@example.com，反映门头沟区大峪街道某小区物业不作为。"},
]


def generated_orders() -> list[dict]:
    from dispatch_nlp.training.corpus import load_generator

    gen = load_generator(SEED)
    out = []
    for o in gen.generate(N_GENERATED * 12):
        if o.get("split") != "test":
            continue
        out.append({k: o.get(k) for k in ("id", "text", "title", "channel") if o.get(k) is not None})
        if len(out) == N_GENERATED:
            break
    return out


def decide(orders: list[dict], profile: str | None) -> list[str]:
    from dispatch_nlp import Dispatcher

    d = Dispatcher.load(profile=profile)
    lines = []
    for dec in d.dispatch_batch(orders, batch_size=BATCH_SIZE):
        obj = dec.to_dict()
        obj.pop("timings_ms", None)
        lines.append(json.dumps(obj, ensure_ascii=False, sort_keys=True))
    return lines


def write(name: str, orders: list[dict], lines: list[str]) -> None:
    with gzip.open(HERE / name, "wt", encoding="utf-8", compresslevel=9) as fh:
        for order, line in zip(orders, lines, strict=True):
            fh.write(json.dumps({"order": order, "decision": json.loads(line)}, ensure_ascii=False,
                                sort_keys=True) + "\n")


def main() -> None:
    orders = generated_orders() + EDGE_CASES
    write("fast.jsonl.gz", orders, decide(orders, "fast"))
    full = orders[:N_FULL] + EDGE_CASES
    write("full.jsonl.gz", full, decide(full, "full"))


if __name__ == "__main__":
    main()
