"""Emergency transfer on live calls and on letters: ``python -m benchmarks.emergency_bench --label before``.

With ``--challenge ../shared/challenge/orders.jsonl`` it also reports, per split, how many orders
were transferred now and with the pre-issue-21 behaviour (report only: the set is never tuned on).

Dispatches benchmarks/data/emergency_set.jsonl (written by benchmarks/emergency_set_build.py) with the
shipped default model and counts, per kind of order: false transfers (an order that must not go to
110/119/120/122 automatically but did), missed emergencies (a live call not transferred) and
transfers to the wrong number. Figures are stored under the label in benchmarks/results/emergency.json
(other labels kept), so a before and an after run sit side by side.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from dispatch_nlp import Dispatcher
from dispatch_nlp.files import atomic_write

HERE = Path(__file__).resolve().parent
SET = HERE / "data" / "emergency_set.jsonl"
RESULTS = HERE / "results" / "emergency.json"


def measure(model_dir: str | None = None) -> dict:
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    dispatcher = Dispatcher.load(model_dir)
    orders = [{"id": r["id"], "text": r["text"], "channel": r["channel"]} for r in rows]
    decisions = dispatcher.dispatch_batch(orders)
    per_kind: dict[str, Counter] = {}
    examples: dict[str, list[str]] = {"false_transfer": [], "missed": []}
    for row, dec in zip(rows, decisions, strict=True):
        c = per_kind.setdefault(row["kind"], Counter())
        c["n"] += 1
        transferred = dec.route == "emergency_transfer"
        c["route:" + dec.route] += 1
        if row["expect"] is None and transferred:
            c["false_transfer"] += 1
            examples["false_transfer"].append(row["id"])
        elif row["expect"] is not None and not transferred:
            c["missed"] += 1
            examples["missed"].append(row["id"])
        elif row["expect"] is not None and dec.transfer_to != row["expect"]:
            c["wrong_number"] += 1
    no_transfer = [k for k in per_kind if not k.startswith("live_call")]
    return {
        "orders": len(rows),
        "live_calls": per_kind.get("live_call", Counter())["n"],
        "missed_emergencies": per_kind.get("live_call", Counter())["missed"],
        "wrong_number": per_kind.get("live_call", Counter())["wrong_number"],
        "not_live": sum(per_kind[k]["n"] for k in no_transfer),
        "false_transfers": sum(per_kind[k]["false_transfer"] for k in no_transfer),
        "false_transfers_on_letters": sum(per_kind[k]["false_transfer"] for k in no_transfer if k.endswith("letter")),
        "per_kind": {k: dict(sorted(v.items())) for k, v in sorted(per_kind.items())},
        "ids": examples,
    }


def challenge(path: Path) -> dict:
    """Report-only figures on the challenge set (never tuned on): per split, transfers of orders whose
    gold category is an emergency item and of the others, now and with the pre-issue-21 behaviour
    (every channel live, every marker reading transferred, generic markers on: route settings)."""
    from dataclasses import replace

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    dispatcher = Dispatcher.load()
    orders = [{"id": r["id"], "text": r["text"], "title": r.get("title") or None, "channel": r.get("channel")}
              for r in rows]
    now = dispatcher.dispatch_batch(orders)
    router = dispatcher.router
    settings, generic = router.settings, router.generic_emergency
    try:
        router.settings = replace(settings, emergency_not_live=(), emergency_live_channels=("",))
        router.generic_emergency = True
        old = dispatcher.dispatch_batch(orders)
    finally:
        router.settings, router.generic_emergency = settings, generic
    out: dict = {}
    for r, a, b in zip(rows, old, now, strict=True):
        item = dispatcher.catalog.get(r.get("category_code") or "")
        gold = "emergency" if item is not None and item.duty == "emergency_transfer" else "not_emergency"
        c = out.setdefault(r.get("split", "all"), {}).setdefault(gold, Counter())
        c["n"] += 1
        c["transferred_before"] += a.route == "emergency_transfer"
        c["transferred_after"] += b.route == "emergency_transfer"
    return {split: {g: dict(c) for g, c in v.items()} for split, v in sorted(out.items())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="current", help="name of this run in the results file (before, after)")
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--challenge", type=Path, help="also report (never tune) on this challenge file (orders.jsonl)")
    args = ap.parse_args(argv)
    figures = measure(args.model)
    if args.challenge:
        figures["challenge"] = challenge(args.challenge)
    runs = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    runs[args.label] = figures
    atomic_write(RESULTS, json.dumps(runs, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k not in ("per_kind", "ids")}, ensure_ascii=False))


if __name__ == "__main__":
    main()
