"""Byte-identical decisions: the restructured code decides exactly what the recorded model decided.

The golden files (``tests/golden/*.jsonl.gz``, written by ``python -m tests.golden.record``) hold 2,030
orders (2,000 generated test-split orders and 30 hand-written edge cases) with the decision JSON of the
shipped default model, ``timings_ms`` removed; the full profile (encoder member) on 330 of them. A
failing test prints the first orders whose decision changed and which top-level fields differ.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dispatch_nlp import Dispatcher
from tests.golden.record import BATCH_SIZE

GOLDEN = Path(__file__).resolve().parent / "golden"


def _load(name: str) -> tuple[list[dict], list[str]]:
    orders, expected = [], []
    with gzip.open(GOLDEN / name, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            orders.append(row["order"])
            expected.append(json.dumps(row["decision"], ensure_ascii=False, sort_keys=True))
    return orders, expected


@pytest.mark.parametrize("profile,name", [("fast", "fast.jsonl.gz"), ("full", "full.jsonl.gz")])
def test_decisions_are_byte_identical_to_the_recorded_ones(profile, name):
    orders, expected = _load(name)
    assert len(orders) >= 330
    d = Dispatcher.load(profile=profile)
    got = []
    for dec in d.dispatch_batch(orders, batch_size=BATCH_SIZE):
        obj = dec.to_dict()
        assert "timings_ms" in obj
        obj.pop("timings_ms")
        got.append(json.dumps(obj, ensure_ascii=False, sort_keys=True))
    changed = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    details = []
    for i in changed[:5]:
        a, b = json.loads(got[i]), json.loads(expected[i])
        fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        details.append(f"{orders[i].get('id')}: {', '.join(fields)}")
    assert not changed, f"{len(changed)} of {len(orders)} decisions changed; first: " + "; ".join(details)
