"""Near-duplicate detection: MinHash over character shingles with banded LSH, verified by Jaccard.

``near_duplicates(reference, queries, threshold=0.8) -> set[int]``: indices of the queries that have a
reference text whose shingle Jaccard similarity is at least ``threshold``. Used to keep dev/test
orders that merely repeat training orders out of the scores, and by the corpus benchmark.
"""

from __future__ import annotations

import zlib
from collections import defaultdict

import numpy as np

SHINGLE = 5
N_PERM = 32
BANDS = 8  # 8 bands of 4 rows: pairs at Jaccard 0.8 collide in some band with probability ~0.98
_MERSENNE = (1 << 61) - 1
_rng = np.random.default_rng(20261123)
_A = _rng.integers(1, _MERSENNE, size=N_PERM, dtype=np.uint64)
_B = _rng.integers(0, _MERSENNE, size=N_PERM, dtype=np.uint64)


def shingles(text: str, k: int = SHINGLE) -> set[int]:
    t = "".join(text.split())
    if len(t) <= k:
        return {zlib.crc32(t.encode("utf-8"))} if t else set()
    return {zlib.crc32(t[i: i + k].encode("utf-8")) for i in range(len(t) - k + 1)}


def signature(sh: set[int]) -> np.ndarray:
    if not sh:
        return np.full(N_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    # (a*x + b) mod 2^64 is a fine universal-ish hash for this purpose; min over the set per permutation.
    return (np.outer(_A, x) + _B[:, None]).min(axis=1)


def jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(reference: list[str], queries: list[str], threshold: float = 0.8) -> set[int]:
    ref_sh = [shingles(t) for t in reference]
    rows = N_PERM // BANDS
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for i, sh in enumerate(ref_sh):
        sig = signature(sh)
        for b in range(BANDS):
            buckets[(b, sig[b * rows:(b + 1) * rows].tobytes())].append(i)
    found: set[int] = set()
    for j, text in enumerate(queries):
        sh = shingles(text)
        sig = signature(sh)
        checked: set[int] = set()
        for b in range(BANDS):
            for i in buckets.get((b, sig[b * rows:(b + 1) * rows].tobytes()), ()):
                if i in checked:
                    continue
                checked.add(i)
                if jaccard(sh, ref_sh[i]) >= threshold:
                    found.add(j)
                    break
            if j in found:
                break
    return found


def near_duplicate_rate(reference: list[str], queries: list[str], threshold: float = 0.8) -> float:
    return len(near_duplicates(reference, queries, threshold)) / max(len(queries), 1)
