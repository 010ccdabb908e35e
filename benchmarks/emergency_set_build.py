"""Writes benchmarks/data/emergency_set.jsonl: hand-written orders for the emergency-transfer bench.

Each row: ``id``, ``text``, ``channel``, ``kind`` and ``expect`` (the number the order should be
transferred to, or ``null`` when it must not be transferred automatically). Kinds:

- ``live_call``: a call about something happening now (some with no tense word at all) -> transfer;
- ``past_call``: a call about an accident, fire or fight that happened before (compensation, a
  follow-up) -> no transfer;
- ``risk_call``: a call about a hazard that could cause one (万一, 隐患) -> no transfer;
- ``past_letter`` / ``chronic_letter`` / ``suggestion_letter``: letters, portal and mailbox messages
  recounting a past event, quoting a recurring nuisance (a factory's 浓烟滚滚) or suggesting safety
  measures -> no transfer;
- ``live_letter``: a message on an online channel that describes something happening now: never an
  automatic transfer (a letter is not a live line); counted separately.

The sentences are written for this set; the script only combines them with places and channels.
Run: ``python -m benchmarks.emergency_set_build``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "emergency_set.jsonl"

PLACES = ("朝阳区望京街道花家地北里", "海淀区中关村南大街东口", "丰台区方庄芳城园", "西城区德胜门外大街",
          "通州区梨园镇云景里", "昌平区回龙观龙泽苑", "东城区和平里北街", "大兴区黄村兴华大街")
CALLS = ("热线电话", "热线电话", None)
LETTERS = ("市长信箱", "领导留言板", "网站", "信件", "12345App", "微信服务号", "领导信箱")

# (number, event written with {tense} where a tense word goes)
LIVE_EVENTS = (
    ("119", "{p}一家小饭馆{t}着火了，火苗从窗户往外窜"),
    ("119", "{p}的楼道里{t}起火了，浓烟滚滚，有人出不来"),
    ("119", "{p}车棚{t}烧起来了，好几辆电动车都着了"),
    ("119", "{p}一户人家{t}煤气爆炸，玻璃都震碎了"),
    ("120", "{p}路边{t}有位老人晕倒在地，叫不醒"),
    ("120", "我父亲{t}在家里昏迷不醒，住址是{p}"),
    ("120", "{p}工地上一名工人{t}从架子上摔下来，大出血"),
    ("120", "邻居{t}心脏病发作倒在{p}门口，没有呼吸"),
    ("110", "{p}楼下{t}有人持刀追人"),
    ("110", "{p}一家便利店{t}被抢劫，劫匪还没走"),
    ("110", "{p}小区里{t}正在打人，打得头破血流"),
    ("110", "{p}有人{t}砸车，好几辆车窗都砸了"),
    ("110", "{p}河边{t}有人要跳河，站在护栏外面"),
    ("122", "{p}路口{t}两辆车撞车了，有人被困在车里"),
    ("122", "{p}{t}发生车祸，一辆电动车被撞翻，骑车人躺在地上"),
    ("122", "{p}辅路上{t}追尾了，三辆车堵在路中间，有人受伤"),
)
LIVE_TENSES = ("现在", "刚才", "就在刚刚", "这会儿", "")
CALL_FRAMES = ("市民来电：{e}，请赶快派人来！", "来电人称{e}，情况非常紧急。", "{e}，快来人啊，求求你们了。")
LETTER_FRAMES = ("网民留言：{e}，请相关部门处理。", "尊敬的领导：{e}，希望尽快解决。")

PAST_EVENTS = (
    ("去年三月我在{p}骑车时被一辆轿车撞了，交通事故责任认定对方全责，可对方至今没有赔偿，请领导督促。"),
    ("2019年我家楼下饭馆发生火灾，烧毁了我停在{p}的车，保险公司一直拖着不赔。"),
    ("几年前我在{p}遭遇抢劫，当时报了警，至今没有结果，希望公安机关给个说法。"),
    ("前年我母亲在{p}晕倒，当时送医后医院收费有问题，想咨询医保报销政策。"),
    ("2021年5月在{p}发生车祸，我的腿至今落下残疾，肇事司机一直躲着不见。"),
    ("曾经有人在{p}持刀伤人，事情过去很久了，但居民心里还是害怕，请多派民警巡逻。"),
    ("上个月{p}的仓库起火，烧到了我们的商铺，物业推卸责任，损失没人管。"),
    ("我是{p}的居民，去年冬天小区锅炉房爆炸后供暖一直不正常，反映了很多次没有解决。"),
    ("那年我父亲心脏病发作，120到得很慢，想问一下急救站的服务标准和投诉渠道。"),
    ("三年前在{p}发生的交通事故，法院判决后对方不执行，请求帮助。"),
)
CHRONIC_EVENTS = (
    ("{p}附近那家化工厂每天晚上烟囱都浓烟滚滚，气味刺鼻，严重影响居民生活，要求环保部门查处。"),
    ("{p}旁边的砖厂长期冒黑烟，浓烟滚滚，窗户都不敢开，多次反映无果。"),
    ("{p}的烧烤摊天天晚上烟雾很大，浓烟飘进楼里，还占道经营，希望城管管一管。"),
    ("{p}路口经常有车祸，红绿灯时间太短，行人过马路很危险，请交管部门调整。"),
    ("{p}有人总是深夜在楼下打架吵闹，持续好几个月了，影响休息。"),
)
SUGGESTIONS = (
    ("建议在{p}附近的小学门口加装护栏和减速带，防止发生交通事故。"),
    ("建议加强{p}小区消防通道管理，一旦发生火灾后果不堪设想。"),
    ("希望多在{p}开展防火宣传，预防火灾，提高居民安全意识。"),
    ("{p}学校周边车速太快，存在车祸隐患，建议设置限速标志。"),
    ("建议在{p}的河边增设防护栏和救生圈，防止有人落水溺水。"),
    ("建议社区为{p}的独居老人安装紧急呼叫设备，老人万一晕倒能及时求助。"),
)
PAST_CALLS = (
    ("来电人反映，去年在{p}发生交通事故，对方保险公司至今未理赔，要求协调处理。"),
    ("来电人称上周{p}的饭馆起火，火已经扑灭了，现在想咨询商户损失怎么申请补助。"),
    ("来电人反映{p}楼道堆满杂物，万一着火后果不堪设想，要求物业尽快清理。"),
    ("来电人表示，之前在{p}被人打了，派出所处理后对方不赔医药费，咨询怎么起诉。"),
    ("来电人反映{p}燃气管道老化，存在爆炸隐患，希望燃气公司来检查。"),
    ("来电人称前几天{p}发生车祸后路边护栏一直没修，要求尽快修复。"),
)


def build() -> list[dict]:
    rows: list[dict] = []
    n = itertools.count(1)
    place = itertools.cycle(PLACES)
    call = itertools.cycle(CALLS)
    letter = itertools.cycle(LETTERS)
    for i, (number, event) in enumerate(LIVE_EVENTS):
        for j, tense in enumerate(LIVE_TENSES[i % 2::2] + (LIVE_TENSES[(i + 2) % 5],)):
            text = CALL_FRAMES[(i + j) % len(CALL_FRAMES)].format(e=event.format(p=next(place), t=tense))
            rows.append({"id": f"E{next(n):03d}", "text": text, "channel": next(call), "kind": "live_call",
                         "expect": number})
        text = LETTER_FRAMES[i % 2].format(e=event.format(p=next(place), t=LIVE_TENSES[i % 4]))
        rows.append({"id": f"E{next(n):03d}", "text": text, "channel": next(letter), "kind": "live_letter",
                     "expect": None})
    for kind, bank, channels in (("past_letter", PAST_EVENTS, letter), ("chronic_letter", CHRONIC_EVENTS, letter),
                                 ("suggestion_letter", SUGGESTIONS, letter), ("past_call", PAST_CALLS, call)):
        for _rep in range(3 if kind != "past_letter" else 2):
            for text in bank:
                rows.append({"id": f"E{next(n):03d}", "text": text.format(p=next(place)), "channel": next(channels),
                             "kind": kind if not (kind == "past_call" and ("万一" in text or "隐患" in text))
                             else "risk_call", "expect": None})
    return rows


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {OUT}")


if __name__ == "__main__":
    main()
