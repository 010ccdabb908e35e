"""Synonym and near-synonym substitution for the common content words of hotline text (反映/反应/说,
处理/解决/管一管, 小区/院里/社区, …), applied to plain pieces only (never to a place or personal-data
span), after the content is chosen and before the mess.

``SYNONYMS`` is this project's own table. ``vector_neighbours`` optionally extends it from the word
vectors shipped inside the ``synonyms`` package (3.8.0, MIT; see README.md in this folder for the
licence notes): off by default, deterministic (the file is read, never trained or downloaded), and
limited to the head words of the table so topic words are never swapped for a related-but-different
word.
"""

from __future__ import annotations

import re

# head word → alternatives (the head word itself stays one of the choices). All written for this project.
_RAW = """
反映|反应|说|讲|提
反映问题|说个事|讲个情况|提个问题
处理|解决|管一管|处置|给弄一下|想想办法
尽快|赶紧|抓紧|早点|马上
希望|盼着|期望|想请
要求|请求|强烈希望
小区|院里|社区|家属院|我们那片儿
居民|住户|老百姓|街坊
邻居|街坊|隔壁的
一直|始终|总是|老是
已经|都已经|早就
很多|好多|不少|老多
非常|特别|十分|相当
严重|厉害|不得了
影响|耽误|干扰
问题|事|情况|毛病
没人管|没人理|无人过问|没人问
相关部门|有关单位|管事的部门|政府部门
工作人员|办事员|工作的同志
现场|实地
核实|查一查|核查|了解一下
告知|告诉|说明|回复
答复|回复|说法|回音
多次|好几次|三番五次|反复
目前|现在|眼下|如今
长期|长时间|很长时间
附近|周边|旁边|边上
出行|出门|走路
生活|日子|过日子
老人|老年人|老人家|上了年纪的
孩子|小孩|孩子们
麻烦|劳驾|辛苦
情况|状况|事情
投诉|反映|告一状
咨询|问一下|打听一下
办理|办|弄
联系|找|对接
怎么办|咋办|该怎么弄
根本|完全|压根
立即|立刻|马上
不满|有意见|不满意
"""

SYNONYMS: dict[str, tuple[str, ...]] = {}
for _line in _RAW.strip().splitlines():
    _parts = [p for p in _line.split("|") if p]
    SYNONYMS[_parts[0]] = tuple(_parts)


def vector_neighbours(words, min_score: float = 0.72, top: int = 4, path: str | None = None) -> dict[str, tuple[str, ...]]:
    """Nearest neighbours of ``words`` in the ``synonyms`` package's word2vec file (read directly,
    without importing the package, which loads a segmenter and prints banners). Empty when the
    package or its data is not installed. Only CJK words of 2–4 characters, cosine ≥ ``min_score``."""
    import importlib.util
    import os

    import numpy as np

    if path is None:
        spec = importlib.util.find_spec("synonyms")
        if spec is None or not spec.submodule_search_locations:
            return {}
        path = os.path.join(list(spec.submodule_search_locations)[0], "data", "words.vector")
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as fh:
        n, dim = map(int, fh.readline().split())
        vocab: list[str] = []
        vecs = np.empty((n, dim), dtype=np.float32)
        for i in range(n):
            word = bytearray()
            while True:
                ch = fh.read(1)
                if ch == b" " or not ch:
                    break
                if ch != b"\n":
                    word += ch
            vecs[i] = np.frombuffer(fh.read(4 * dim), dtype=np.float32)
            vocab.append(word.decode("utf-8", "ignore"))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-9
    pos = {w: i for i, w in enumerate(vocab)}
    cjk = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
    out: dict[str, tuple[str, ...]] = {}
    for w in words:
        i = pos.get(w)
        if i is None:
            continue
        sims = vecs @ vecs[i]
        best = np.argsort(-sims)[1:50]
        got = [vocab[j] for j in best if sims[j] >= min_score and cjk.match(vocab[j]) and vocab[j] != w][:top]
        if got:
            out[w] = tuple(got)
    return out


class Paraphraser:
    """Swaps table words for one of their alternatives at ``rate`` (per occurrence)."""

    def __init__(self, table: dict[str, tuple[str, ...]] | None = None, extra: dict[str, tuple[str, ...]] | None = None):
        table = dict(table or SYNONYMS)
        for w, alts in (extra or {}).items():
            table[w] = tuple(dict.fromkeys(table.get(w, (w,)) + alts))
        self.table = table
        self.re = re.compile("|".join(re.escape(w) for w in sorted(table, key=len, reverse=True)))

    def __call__(self, text: str, rng, rate: float) -> str:
        table = self.table

        def sub(m: re.Match) -> str:
            return rng.choice(table[m.group(0)]) if rng.random() < rate else m.group(0)

        return self.re.sub(sub, text)
