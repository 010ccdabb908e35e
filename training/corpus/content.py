"""What one order says, before it is put into words by a phrasing family: the leaf, the appeal type,
the keywords picked, the problem, impact and wants drawn from the leaf's topic banks, the places, the
personal data, and the extras (emergency or exclusion markers, a second issue, a distractor).

``LeafBank`` holds, per catalog leaf, the topic clauses that suit it: a clause is kept for a leaf only
if it shares at least as many character bigrams with that leaf's names and keywords as with any other
leaf's, so a sentence typical of a sibling item (暖气漏水 under 采暖费) does not mislabel the order.
"""

from __future__ import annotations

from .topics import GENERIC, topics_for


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)} - {"问题", "情况", "管理", "服务", "相关", "部门"}


class LeafBank:
    __slots__ = ("leaf", "topics", "scene", "problems", "impacts", "wants", "questions", "titles", "kws", "consult")

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


def build_leaf_banks(leaves) -> dict[str, LeafBank]:
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
    return out


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
