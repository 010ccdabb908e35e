"""Preprocessing cost per 300-character order: normalize + mask, and segmentation with jieba vs rjieba
on the same user dictionary (catalog keywords and gazetteer names), plus whether they agree.

    python benchmarks/segment_bench.py [--orders 200] [--json out.json]

Single process; each figure is the median of repeated passes over the same orders.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.text.normalize import Normalizer
from dispatch_nlp.text.pii import PiiMasker
from dispatch_nlp.text.segment import Segmenter

SAMPLE = (
    "市民来电反映：朝阳区望京街道望京西园三区小区3号楼楼下有人私搭乱建，占用消防通道，晚上施工噪音扰民，"
    "严重影响休息。另外家里暖气不热，室温只有十五度，已经联系物业多次未果。来电人希望相关部门尽快核实处理，"
    "并要求物业公司给出说明，联系电话13812345678。顺义区牛栏山镇北孙各庄村也有类似问题，公司拖欠工资三个月，"
    "工人多次讨要无果。尊敬的领导您好，我是海淀区学院路街道的居民，小区门口的路灯坏了好几天了，晚上出行很不方便，"
    "希望尽快修复。注：请及时向来电人反馈办理情况。"
)


def orders(n: int) -> list[str]:
    # Rotate the sample so the orders differ; each is exactly 300 characters.
    text = SAMPLE * 3
    return [(text[i % len(SAMPLE):] + text)[:300] for i in range(n)]


def median_ms(fn, items, repeats=5) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x in items:
            fn(x)
        runs.append((time.perf_counter() - t0) * 1000 / len(items))
    return statistics.median(runs)


def run(n_orders: int = 200) -> dict:
    catalog = Catalog.load()
    gazetteer = Gazetteer.load()
    words = {kw for item in catalog.leaves() for kw in item.keywords}
    words |= {s for s, _, kind in gazetteer.surfaces() if len(s) >= 2 and kind != "short"}
    texts = orders(n_orders)
    norm, masker = Normalizer(), PiiMasker()
    masked = [masker(norm(t)[0])[0].text for t in texts]
    result = {"orders": n_orders, "chars_per_order": 300, "user_words": len(words)}
    result["normalize_ms"] = median_ms(lambda t: norm(t), texts)
    result["normalize_mask_ms"] = median_ms(lambda t: masker(norm(t)[0]), texts)
    segs = {}
    for engine in ("jieba", "rjieba"):
        t0 = time.perf_counter()
        seg = Segmenter(words, engine=engine)
        result[f"{engine}_load_ms"] = (time.perf_counter() - t0) * 1000
        result[f"{engine}_ms"] = median_ms(seg.tokenize, masked)
        segs[engine] = seg
    same = sum(segs["jieba"].words(t) == segs["rjieba"].words(t) for t in masked)
    result["same_words_share"] = same / len(masked)
    result["rjieba_speedup"] = result["jieba_ms"] / result["rjieba_ms"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--json")
    args = ap.parse_args()
    result = run(args.orders)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
