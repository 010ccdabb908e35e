"""What one order says, before it is put into words by a phrasing family: the leaf, the appeal type,
the keywords picked, the problem, impact and wants drawn from the leaf's topic banks, the places, the
personal data, and the extras (emergency or exclusion markers, a second issue, a distractor).

``LeafBank`` holds, per catalog leaf, the topic clauses that suit it: a clause is kept for a leaf only
if it shares at least as many character bigrams with that leaf's names and keywords as with any other
leaf's, so a sentence typical of a sibling item (暖气漏水 under 采暖费) does not mislabel the order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .intent import intent_text
from .situations import L2_IMPACTS, LEAF_SITUATIONS
from .topics import GENERIC, topics_for


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)} - {"问题", "情况", "管理", "服务", "相关", "部门"}


def _h(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


class KeywordIndex:
    """Finds any of a set of strings in a text quickly: strings indexed by their first two characters
    (every keyword of the catalog has at least two)."""

    __slots__ = ("by_head", "singles")

    def __init__(self, words):
        self.by_head: dict[str, list[str]] = {}
        self.singles: set[str] = set()
        for w in set(words):
            if len(w) >= 2:
                self.by_head.setdefault(w[:2], []).append(w)
            elif w:
                self.singles.add(w)

    def find(self, text: str) -> str | None:
        if not self.by_head and not self.singles:
            return None
        bh = self.by_head
        for i in range(len(text) - 1):
            cands = bh.get(text[i:i + 2])
            if cands:
                for w in cands:
                    if text.startswith(w, i):
                        return w
        for w in self.singles:
            if w in text:
                return w
        return None


class HoldOut:
    """Which keywords and situation phrases only dev/test orders may use.

    Per leaf, a share of its keywords (``ratio``, e.g. 2 of 6) is held out, chosen by a stable hash of
    (leaf code, keyword), so the choice is independent of the seed. A keyword is eligible only when no
    text a training order may carry contains it: it is not part of another keyword of the catalog, and
    it occurs in none of the shared banks, frames and place names (``shared_text``). Situation phrases
    are held out by the same rule per leaf (at least one stays in training). ``ratio`` 0 holds nothing
    out: every order may use every keyword and phrase."""

    def __init__(self, leaves, ratio: float, shared_text: str):
        self.ratio = ratio
        self.kw_held: dict[str, tuple[str, ...]] = {}
        self.kw_train: dict[str, tuple[str, ...]] = {}
        all_kws = [k for leaf in leaves for k in (getattr(leaf, "keywords", ()) or ()) if k]
        held_all: set[str] = set()
        for leaf in leaves:
            kws = tuple(dict.fromkeys(k for k in (getattr(leaf, "keywords", ()) or ()) if k)) or (leaf.name,)
            n_held = int(round(len(kws) * ratio)) if ratio > 0 else 0
            n_held = min(n_held, len(kws) - 1)
            held: list[str] = []
            if n_held > 0:
                for k in sorted(kws, key=lambda k: _h(f"{leaf.code}:{k}")):
                    if len(held) >= n_held:
                        break
                    if len(k) < 2 or k in shared_text:
                        continue
                    if any(k in o for o in all_kws if o != k) or all_kws.count(k) > 1:
                        continue
                    held.append(k)
            self.kw_held[leaf.code] = tuple(k for k in kws if k in held)
            self.kw_train[leaf.code] = tuple(k for k in kws if k not in held)
            held_all.update(held)
        self.held = frozenset(held_all)
        self.index = KeywordIndex(held_all)
        self._ok: dict[str, bool] = {}

    def train_ok(self, phrase: str) -> bool:
        """May a training order carry this phrase (it contains no held-out keyword)?"""
        ok = self._ok.get(phrase)
        if ok is None:
            ok = self._ok[phrase] = self.index.find(phrase) is None
        return ok

    def split_phrases(self, code: str, phrases) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(train, held-out) situation phrases of a leaf."""
        phrases = tuple(phrases)
        if self.ratio <= 0 or len(phrases) < 2:
            return tuple(p for p in phrases if self.train_ok(p)), ()
        order = sorted(phrases, key=lambda p: _h(f"{code}:{p}"))
        n_held = min(len(order) - 1, max(1, int(round(len(order) * self.ratio))))
        held = set(order[:n_held])
        return tuple(p for p in phrases if p not in held and self.train_ok(p)), tuple(p for p in phrases if p in held)


# The modules whose source text (frames, banks, place tables) any order may carry; a keyword found
# in them is never held out. The phrasing families are one module per style (families_*.py).
SHARED_SOURCES = ("banks.py", "families.py", "families_common.py", "families_operator.py", "families_online.py",
                  "families_company.py", "families_letter.py", "places.py", "mess.py", "paraphrase.py", "personal.py")


def shared_text(gazetteer=None) -> str:
    """Text any order may carry whatever its split: the shared banks, frames and place tables (their
    source), and the gazetteer's names."""
    here = Path(__file__).resolve().parent
    parts = [(here / f).read_text(encoding="utf-8") for f in SHARED_SOURCES]
    parts += [" ".join(KW_OP + KW_FP + KW_PAIR + KW_Q + TITLE_KW + EMERGENCY_FRAMES + EXCLUSION_FRAMES)]
    parts += [intent_text()]
    if gazetteer is not None and hasattr(gazetteer, "surfaces"):
        parts.append("\n".join(s for s, _c, _k in gazetteer.surfaces()))
    return "\n".join(parts)


class Pools:
    """The phrases one kind of order may use for a leaf: train orders, held-out (dev/test) orders, or
    keyword-free orders of either (no keyword of the leaf anywhere in them)."""

    __slots__ = ("kws", "sits", "problems", "impacts", "wants", "questions", "titles")

    def __init__(self, kws, sits, problems, impacts, wants, questions, titles):
        self.kws, self.sits, self.problems = kws, sits, problems
        self.impacts, self.wants, self.questions, self.titles = impacts, wants, questions, titles


class LeafBank:
    __slots__ = ("leaf", "topics", "scene", "problems", "impacts", "wants", "questions", "titles", "kws", "consult",
                 "pools", "situations")

    def __init__(self, leaf, problems, impacts, wants, questions, titles, topics):
        self.leaf = leaf
        self.topics = topics
        self.scene = topics[0].scene if topics else "area"
        self.problems = problems
        self.impacts = impacts or GENERIC.impacts
        self.wants = wants or GENERIC.wants
        self.questions = questions
        self.titles = titles
        self.kws = tuple(k for k in (getattr(leaf, "keywords", ()) or ()) if k) or (leaf.name,)
        text = leaf.name + " ".join(getattr(leaf, "path", ()) or ())
        rl = getattr(leaf, "response_level", "") or ""
        self.consult = rl == "15d" or any(w in text for w in ("政策", "咨询", "申请", "办理", "登记", "审批", "许可", "补贴", "规划", "资格", "证"))


def build_leaf_banks(leaves, kw_holdout: float = 0.0, shared: str = "") -> tuple[dict[str, LeafBank], HoldOut]:
    leaf_bg = {leaf.code: _bigrams(leaf.name + "".join(getattr(leaf, "keywords", ()) or ())) for leaf in leaves}
    topics_of = {leaf.code: topics_for(leaf) for leaf in leaves}
    clause_best: dict[str, int] = {}

    def best(clause: str) -> int:
        b = clause_best.get(clause)
        if b is None:
            cb = _bigrams(clause)
            b = max((len(cb & lb) for lb in leaf_bg.values()), default=0)
            clause_best[clause] = b
        return b

    out: dict[str, LeafBank] = {}
    for leaf in leaves:
        lb = leaf_bg[leaf.code]
        tops = topics_of[leaf.code]

        allp = [c for t in tops for c in t.problems]
        alli = [c for t in tops for c in t.impacts]
        allw = [c for t in tops for c in t.wants]
        strong = [t for t in tops if t.pattern is not None and t.pattern.search(leaf.name)]
        neutral_ok = {c for t in strong for c in (*t.impacts, *t.wants, *t.questions, *t.titles)}
        allq = [c for t in tops for c in t.questions]
        allt = [c for t in tops for c in t.titles]

        def keep(clauses, need_overlap=False, lb=lb, neutral_ok=neutral_ok):
            kept = []
            for c in clauses:
                own = len(_bigrams(c) & lb)
                if own >= best(c) and (own > 0 or (not need_overlap and c in neutral_ok)):
                    kept.append(c)
            return tuple(dict.fromkeys(kept))

        out[leaf.code] = LeafBank(leaf, keep(allp, True), keep(alli), keep(allw), keep(allq), keep(allt), tops)

    ho = HoldOut(leaves, kw_holdout, shared)
    for leaf in leaves:
        _attach_pools(out[leaf.code], ho)
    return out, ho


def _attach_pools(lb: LeafBank, ho: HoldOut) -> None:
    """Pools per kind of order: (train|held) × (keywords|keyword-free)."""
    leaf = lb.leaf
    own = tuple(k for k in (getattr(leaf, "keywords", ()) or ()) if k) or (leaf.name,)
    free = lambda ps: tuple(p for p in ps if not any(k in p for k in own))  # noqa: E731
    tr = lambda ps: tuple(p for p in ps if ho.train_ok(p))  # noqa: E731
    sits = free(LEAF_SITUATIONS.get(leaf.code, ()))
    s_train, s_held = ho.split_phrases(leaf.code, sits)
    l2 = free(L2_IMPACTS.get(leaf.code[:4], ()))
    lb.situations = sits
    impacts = lb.impacts + l2
    base = (lb.problems, impacts, lb.wants, lb.questions, lb.titles)
    k_train = ho.kw_train[leaf.code]
    k_held = ho.kw_held[leaf.code] or k_train
    held_sits = s_held or s_train
    generic_w = free(GENERIC.wants)
    lb.pools = {
        ("train", False): Pools(k_train, s_train, *(tr(x) for x in base)),
        ("held", False): Pools(k_held, held_sits, *base),
        ("train", True): Pools((), s_train, *(tr(free(x)) for x in base)),
        ("held", True): Pools((), held_sits, *(free(x) for x in base)),
    }
    for p in lb.pools.values():  # never leave a pool empty where a family needs a phrase
        if not p.impacts:
            p.impacts = free(GENERIC.impacts)
        if not p.wants:
            p.wants = generic_w


# Keyword clauses: how a keyword enters a sentence (operator register / citizen register).
# A keyword may be a noun (一卡通) or a clause (电梯坏了): the frames read well with either.
KW_OP = ("存在{k}问题", "出现{k}的情况", "反映{k}相关问题", "{k}问题突出", "涉及{k}", "因{k}一事", "就{k}问题",
         "{k}方面存在问题", "关于{k}")
KW_FP = ("遇到了{k}的事", "{k}这事一直没解决", "出了{k}的问题", "碰上{k}的麻烦", "{k}的情况特别严重", "{k}这块儿问题很大",
         "说一下{k}的事", "我们这儿{k}的问题")
KW_PAIR = ("{k}", "{k}", "{k}等问题", "还有{k}")
KW_Q = ("{k}怎么办理", "{k}归哪个部门管", "{k}有什么政策规定", "{k}应该找谁", "{k}需要准备什么材料", "{k}的标准是什么",
        "关于{k}能不能给个说法", "{k}去哪里办")
TITLE_KW = ("{k}", "{k}问题", "关于{k}的问题", "{k}求助", "{k}没人管", "{k}怎么办", "反映{k}", "{k}！", "请求解决{k}", "咨询{k}")

EMERGENCY_FRAMES = ("现在{m}了", "刚才发现{m}", "{m}，情况很紧急", "眼看着{m}", "这会儿正{m}", "{m}了，特别危险")
EXCLUSION_FRAMES = ("这件事涉及{m}", "要{m}", "我要反映{m}的事", "关于{m}")
