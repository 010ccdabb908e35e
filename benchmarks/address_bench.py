"""Jurisdiction on orders written like real ones: per pattern, and on the shared challenge set.

    .venv/bin/python -m benchmarks.address_bench [--label after] [--challenge ../shared/challenge/orders.jsonl]

Runs the shipped model (``Dispatcher.load()``, the ``dispatch`` path: no trail cut) on
``benchmarks/data/address_set_real.jsonl`` (see ``benchmarks/address_real_build.py``) and reports per
``pattern``: district accuracy (an abstention counts as wrong), street accuracy over the rows whose
gold names a street, ``street_open`` (rows whose gold leaves the street open: the district right and
no street named), first-hop accuracy (``units.dispatch_to``; 0 where the decision has none) and the
abstention rate (no district).  Also: coverage–accuracy of the jurisdiction confidence for named
streets, and the jurisdiction stage's p50 latency on 300-character orders.  With ``--challenge``, the
same district/street figures and abstention on that file's ``test`` and ``dev`` splits.  Results are
merged into ``benchmarks/results/address.json`` under ``--label``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from dispatch_nlp.dispatcher import Dispatcher
from dispatch_nlp.files import atomic_write

DATA = Path(__file__).parent / "data" / "address_set_real.jsonl"
RESULTS = Path(__file__).parent / "results" / "address.json"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def _pred(decision) -> tuple[str | None, str | None, str | None, float]:
    j = decision.jurisdiction
    hop = getattr(decision.units, "dispatch_to", None)
    return (j.district.code if j.district else None, j.street.code if j.street else None,
            hop.id if hop is not None else None, float(j.confidence or 0.0))


def score(rows: list[dict], decisions: list) -> dict:
    agg: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    conf_pairs = []
    for row, dec in zip(rows, decisions):
        d, s, hop, conf = _pred(dec)
        keys = {"all", row.get("pattern") or "all"}
        if row.get("batch"):
            keys |= {f"batch:{row['batch']}"}
        for key in keys:
            a = agg[key]
            a["abstained"][0] += d is None
            a["abstained"][1] += 1
            if row.get("district"):
                a["district"][0] += d == row["district"]
                a["district"][1] += 1
                if row.get("street"):
                    a["street"][0] += s == row["street"]
                    a["street"][1] += 1
                else:
                    a["street_open"][0] += d == row["district"] and s is None
                    a["street_open"][1] += 1
            else:
                a["no_place_abstained"][0] += d is None
                a["no_place_abstained"][1] += 1
            if "first_hop" in row and row.get("first_hop"):
                a["first_hop"][0] += hop == row["first_hop"]
                a["first_hop"][1] += 1
        if s is not None and row.get("street"):
            conf_pairs.append((conf, s == row["street"]))
    out = {k: {m: {"value": round(v[0] / v[1], 4), "n": v[1]} for m, v in a.items() if v[1]}
           for k, a in sorted(agg.items())}
    cov = []
    for t in THRESHOLDS:
        sel = [ok for c, ok in conf_pairs if c >= t]
        cov.append({"threshold": t, "named_streets": len(sel),
                    "accuracy": round(sum(sel) / len(sel), 4) if sel else None})
    return {"per_pattern": out, "street_confidence": cov}


def latency(dispatcher, n: int = 60) -> float:
    base = "来电人反映朝阳区酒仙桥街道某小区门口的路面塌了一个坑，车辆经过颠簸严重，老人孩子经过容易摔倒，希望有关部门尽快修补。"
    text = (base * 4)[:300]
    times = []
    for i in range(n):
        dec = dispatcher.dispatch({"text": text[i % 7:] + "。" * (i % 7)})
        times.append(dec.timings_ms.get("jurisdiction", 0.0))
    return round(statistics.median(times), 4)


def challenge(dispatcher, path: Path) -> dict:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    out = {}
    for split in ("test", "dev"):
        sel = [r for r in rows if r.get("split") == split]
        orders = [{"text": r["text"], "title": r.get("title") or None, "id": r.get("id")} for r in sel]
        decs = dispatcher.dispatch_batch(orders)
        gold = [{"district": r.get("district_code") or None, "street": r.get("street_code") or None,
                 "pattern": "all"} for r in sel]
        res = score(gold, decs)["per_pattern"]["all"]
        out[split] = res
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="after")
    ap.add_argument("--challenge", type=Path, default=None)
    args = ap.parse_args(argv)
    dispatcher = Dispatcher.load()
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    decisions = dispatcher.dispatch_batch([{"text": r["text"], "id": r["id"]} for r in rows])
    res = score(rows, decisions)
    res["jurisdiction_p50_ms_300_chars"] = latency(dispatcher)
    if args.challenge:
        res["challenge"] = challenge(dispatcher, args.challenge)
    old = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    old[args.label] = res
    atomic_write(RESULTS, json.dumps(old, ensure_ascii=False, indent=1) + "\n")
    print("| pattern | district | street | street open | first hop | abstained | n |")
    print("|---|---|---|---|---|---|---|")
    for k, a in res["per_pattern"].items():
        def f(m, a=a):
            return f"{a[m]['value']:.3f}" if m in a else "–"
        print(f"| {k} | {f('district')} | {f('street')} | {f('street_open')} | {f('first_hop')} | "
              f"{f('abstained')} | {a['abstained']['n']} |")
    print("street confidence:", res["street_confidence"])
    print("jurisdiction p50 ms @300 chars:", res["jurisdiction_p50_ms_300_chars"])
    if args.challenge:
        print("challenge:", json.dumps(res["challenge"], ensure_ascii=False))


if __name__ == "__main__":
    main()
