"""Byte-identical decisions: the restructured code decides exactly what the recorded model decided.

The golden files (``tests/golden/*.jsonl.gz``, written by ``python -m tests.golden.record``) hold 2,030
orders (2,000 generated test-split orders and 30 hand-written edge cases) with the decision JSON of the
shipped default model, ``timings_ms`` removed; the full profile (encoder member) on 330 of them. A
failing test prints the first orders whose decision changed and which top-level fields differ.

The fast profile (char n-grams, numpy/scipy) must match byte for byte. The full profile runs an int8
ONNX encoder whose kernels differ between CPUs (AVX2, AVX-512 VNNI, AMX) in the last bits, so there
every code, label, route, flag and unit must match exactly and every probability within 0.01 (the
numbers inside the explanation likewise).
"""

from __future__ import annotations

import gzip
import json
import re
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


FLOAT_TOLERANCE = 0.01
_NUMBER = re.compile(r"\d+\.\d+")


def _close(a, b) -> bool:
    """Equal, but floats within FLOAT_TOLERANCE and numbers inside strings likewise."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= FLOAT_TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str) and a != b:
        na, nb = _NUMBER.findall(a), _NUMBER.findall(b)
        return (_NUMBER.sub("#", a) == _NUMBER.sub("#", b) and len(na) == len(nb)
                and all(abs(float(x) - float(y)) <= FLOAT_TOLERANCE for x, y in zip(na, nb)))
    return a == b


def test_the_tolerant_comparison_still_sees_a_changed_label():
    base = {"route": "review", "confidence": 0.5, "explanation": ["置信度 0.50"]}
    assert _close(base, {"route": "review", "confidence": 0.505, "explanation": ["置信度 0.505"]})
    assert not _close(base, {"route": "dispatch", "confidence": 0.5, "explanation": ["置信度 0.50"]})
    assert not _close(base, {"route": "review", "confidence": 0.6, "explanation": ["置信度 0.50"]})
    assert not _close(base, {"route": "review", "confidence": 0.5, "explanation": ["置信度 0.90"]})


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
    if profile == "fast":
        changed = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    else:
        changed = [i for i, (a, b) in enumerate(zip(got, expected, strict=True))
                   if a != b and not _close(json.loads(a), json.loads(b))]
    details = []
    for i in changed[:5]:
        a, b = json.loads(got[i]), json.loads(expected[i])
        fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        details.append(f"{orders[i].get('id')}: {', '.join(fields)}")
    assert not changed, f"{len(changed)} of {len(orders)} decisions changed; first: " + "; ".join(details)
