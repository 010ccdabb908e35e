"""What every phrasing family shares: ``Ctx`` (one order's content and the helpers that draw its
phrases) and the paragraph helpers of long messages (``_long``, ``_story``, ``_history``, ``_end``), each
writing into a ``Builder``."""

from __future__ import annotations

from . import banks, personal
from .content import EMERGENCY_FRAMES, EXCLUSION_FRAMES, KW_FP, KW_OP, KW_PAIR, KW_Q, TITLE_KW
from .intent import IntentBank, party

# Keyword-free questions and titles (the problem is told, not named).
SIT_Q = ("{s}，这种情况该找哪个部门", "{s}，这事归谁管", "像{s}这种情况，有什么规定吗", "{s}，我们该怎么办",
         "{s}，能不能给个说法", "{s}，有没有人能管")
GENERIC_Q = ("这种情况应该找谁", "这事到底归哪个部门管", "有什么政策规定吗")
GENERIC_FREE = ("这个事一直没人管", "情况越来越严重", "这事拖了很久了")
TITLE_FREE = ("求助", "反映个事", "请领导关注", "急！求帮助", "这事到底谁管", "一个困扰很久的问题", "请求处理",
              "老百姓的烦心事", "实在没办法了", "希望有人管管")


class Ctx:
    """The content of one order, with helpers that draw its phrases."""

    def __init__(self, rng, lb, appeal, place, caller_place, other_place, pii_kinds, marker, marker_kind,
                 second, distract, company, pool=None, side="train", intent: IntentBank | None = None):
        self.rng = rng
        self.lb = lb
        self.leaf = lb.leaf
        self.appeal = appeal
        self.place = place
        self.caller_place = caller_place
        self.other_place = other_place
        self.pii_kinds = list(pii_kinds)
        self.marker = marker
        self.marker_kind = marker_kind  # emergency | exclusion | None
        self.second = second  # LeafBank of a second issue, or None
        self.distract = distract  # LeafBank of a distractor mention, or None
        self.company = company
        self.side = side  # "train" | "held": which keywords and phrases this order may use
        self.pool = pool if pool is not None else lb.pools[(side, False)]
        self.kw_free = not self.pool.kws
        k = self.pool.kws
        n = min(len(k), rng.choice((1, 1, 2, 2, 3)))
        self.kws = rng.sample(k, n) if k else []
        self.title = None
        self._sit_used: list[str] = []
        self.said: set[str] = set()
        self.vague = rng.random() < 0.05
        self.intent = intent if intent is not None else IntentBank(side, 0)
        self.party = party(self.leaf, rng)
        self._stances = 0

    # -- phrases ------------------------------------------------------------------------------
    def pick(self, bank):
        return self.rng.choice(bank)

    def other_kws(self, lb):
        """Keywords of another leaf (second issue, distractor) this order may use."""
        return lb.pools[(self.side, False)].kws or lb.kws

    def kw_clause(self, fp=False, i=0, lb=None):
        k = self.kws[i % len(self.kws)] if lb is None else self.rng.choice(self.other_kws(lb))
        return self.pick(KW_FP if fp else KW_OP).format(k=k)

    def situation(self) -> str | None:
        """A keyword-free description of the problem, preferring one not used yet in this order."""
        sits = self.pool.sits
        if not sits:
            return None
        fresh = [x for x in sits if x not in self._sit_used]
        s = self.rng.choice(fresh or sits)
        self._sit_used.append(s)
        return s

    def problem(self, fp=False, lb=None, rich=True) -> str:
        """A problem clause: a keyword clause, a situation, a topic clause, or two of them."""
        rng = self.rng
        if lb is not None and lb is not self.lb:
            other = lb.pools[(self.side, False)]
            parts = [self.kw_clause(fp, lb=lb)]
            if other.problems and rng.random() < 0.4:
                parts.insert(0, rng.choice(other.problems))
            return "，".join(parts)
        pool = self.pool
        parts = []
        sit = None
        if self.kw_free or (pool.sits and rng.random() < 0.35):
            sit = self.situation()
        has_topic = bool(pool.problems) and rng.random() < (0.6 if rich else 0.3) and (sit is None or rng.random() < 0.4)
        use_kw = bool(self.kws) and (not (has_topic or sit) or rng.random() < 0.5)
        if use_kw:
            parts.append(self.kw_clause(fp))
            if len(self.kws) > 1 and rng.random() < 0.5:
                parts.append(self.pick(KW_PAIR).format(k=self.kws[1]))
        if sit:
            parts.insert(rng.randrange(len(parts) + 1), sit)
        if has_topic:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(pool.problems))
        if not parts:  # a keyword-free order of a leaf with no phrase of its own
            parts.append(rng.choice(pool.problems) if pool.problems else self.pick(GENERIC_FREE))
        if self.marker:
            frames = EMERGENCY_FRAMES if self.marker_kind == "emergency" else EXCLUSION_FRAMES
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(frames).format(m=self.marker))
        st = self.stance(fp=fp)
        if st:
            parts.append(st)
        return "，".join(parts)

    def stance(self, p: float | None = None, fp: bool = False) -> str | None:
        """A sentence that shows what the caller wants without naming the type (一直推诿 for a
        complaint, 对方没有任何手续 for a report, 家里就两个老人 for a request for help), at most two
        per order; None for vague orders and by chance."""
        if self.vague or self._stances >= 2 or self.appeal in ("表扬", "其他"):
            return None
        if self.rng.random() >= (self.P_STANCE if p is None else p):
            return None
        bank = self.intent.stance.get(self.appeal)
        if not bank:
            return None
        if fp:
            bank = [x for x in bank if not x.startswith("来电人")] or bank
        self._stances += 1
        t = self.pick(bank).format(p=self.party)
        if not fp and "我" in t and not t.startswith("来电人"):  # the operator reports what the caller said
            t = self.pick(("来电人称", "来电人表示", "据来电人讲，")) + t.replace("我们", "他们").replace("我", "自己")
        return t

    def ref(self) -> str:
        """How a later sentence names the matter: a keyword, or (keyword-free) a short reference."""
        if self.kws:
            return self.pick(self.kws)
        if self._sit_used and self.rng.random() < 0.4:
            return self._sit_used[0].split("，")[0]
        return self.pick(("这个事", "这件事", "这个情况", "上面说的事", "此事"))

    def impact(self):
        imps = self.pool.impacts
        t = self.pick(imps)
        if t in self.said and len(imps) > 1:
            t = self.pick(imps)
        self.said.add(t)
        return t

    # -- the appeal type ------------------------------------------------------------------------
    # The type is told mostly by intent (``intent.py``): a stance sentence beside the problem, the
    # demand at the end, a question that fits the type. The literal word (来电投诉, 我要举报, a title
    # prefix 投诉：) comes with its own, smaller chance per type: operators write 咨询 and 举报 often,
    # 投诉 and 求助 seldom (反映 is the usual verb). ``vague`` orders (~5%) say it nowhere.
    P_STANCE, P_OPEN_FP, P_WANT, P_TITLE = 0.6, 0.2, 0.85, 0.2
    P_VERB_BY_TYPE = {"咨询": 0.55, "求助": 0.12, "投诉": 0.18, "举报": 0.35, "建议": 0.35, "表扬": 0.6, "其他": 0.5}

    def cued(self, p: float) -> bool:
        return self.rng.random() < p and not self.vague

    def literal(self, p: float | None = None) -> bool:
        """Whether this place names the type by its word (来电投诉, 举报, …)."""
        return self.cued(self.P_VERB_BY_TYPE.get(self.appeal, 0.3) if p is None else p)

    def verb(self, generic, p=None, short=False) -> str:
        """The operator's verb: 来电投诉 / 来电举报 / … for the order's type (by its own chance), else a
        neutral one of ``generic``."""
        if self.literal(p):
            return self.pick((banks.APPEAL_VERB if short else banks.APPEAL_VERB_OP)[self.appeal])
        return generic if isinstance(generic, str) else self.pick(generic)

    def open_fp(self, p=None) -> str | None:
        """A citizen's opening line (我要投诉, 想咨询一个问题, …), or None."""
        if self.cued(self.P_OPEN_FP if p is None else p):
            return self.pick(banks.APPEAL_OPEN_FP[self.appeal])
        return None

    def _want(self, p=None) -> tuple[str, bool]:
        """What is wanted, and whether it stands alone (needs no 希望/要求 before it)."""
        r, a = self.rng, self.appeal
        base = self.pick(self.pool.wants)
        if a == "表扬":
            if self.vague or r.random() < 0.7:
                return self.pick(banks.PRAISE).format(dept=self.pick(banks.DEPT)), True
            return self.pick(banks.APPEAL_WANT[a]), False
        if not self.cued(self.P_WANT if p is None else p):
            return base, False
        if a == "咨询" and r.random() < 0.4:
            return r.choice(("告知", "解答", "答复")) + self.question(), False
        if a == "建议" and r.random() < 0.3:
            return base + "。" + self.pick(banks.SUGGEST).format(dept=self.pick(banks.DEPT)), False
        intent = self.intent.want.get(a)
        if intent and (a != "其他") and r.random() < 0.75:
            cue = self.pick(intent).format(p=self.party)
        else:
            cue = self.pick(banks.APPEAL_WANT[a])
        x = r.random()  # the cue mostly goes beside the leaf's own want, which carries the category
        if x < 0.2 or a == "其他":
            return cue, False
        if x < 0.65:
            return base + r.choice(("，并", "，同时", "，", "，还要")) + cue, False
        return cue + "，" + base, False

    def want(self) -> str:
        return self._want()[0]

    def wish(self, leads, fp=False, p=None) -> str:
        """A lead (希望, 要求, …, one of ``leads``) and what is wanted; a want that stands alone gets a
        neutral lead instead."""
        w, alone = self._want(p)
        if alone:
            return ("" if fp else self.pick(("来电人称", "市民称", "另外，", ""))) + w
        return (leads if isinstance(leads, str) else self.pick(leads)) + w

    def ask(self) -> str | None:
        """A question of the order's type that is not a request for information (什么时候能恢复,
        这合理吗, 这不是违规吗), for orders other than 咨询; None otherwise."""
        if self.appeal == "咨询" or self.vague:
            return None
        bank = self.intent.ask.get(self.appeal)
        return self.pick(bank) if bank else None

    def question(self):
        """A question: about the leaf's matter (how to apply, who is in charge) for 咨询 orders and
        some others; for other types mostly one that fits their intent (see ``ask``)."""
        if self.appeal != "咨询" and self.rng.random() < 0.6:
            q = self.ask()
            if q:
                return q
        if self.appeal == "咨询" and self.rng.random() < 0.25:
            return self.pick(self.intent.ask["咨询"])
        if self.pool.questions and self.rng.random() < 0.5:
            return self.pick(self.pool.questions)
        if self.kws:
            return self.pick(KW_Q).format(k=self.pick(self.kws))
        sit = self.situation()
        if sit:
            return self.pick(SIT_Q).format(s=sit)
        return self.pick(GENERIC_Q)

    def make_title(self):
        if self.title is None:
            r = self.rng.random()
            if self.pool.titles and r < 0.4:
                self.title = self.pick(self.pool.titles)
            elif self.kws and r < 0.85:
                self.title = self.pick(TITLE_KW).format(k=self.pick(self.kws))
            else:
                sit = self.situation()
                self.title = sit.split("，")[0] if sit and self.rng.random() < 0.7 else self.pick(TITLE_FREE)
            if self.literal(self.P_TITLE):
                pre = self.pick(banks.APPEAL_TITLE[self.appeal])
                forms = (pre + "：" + self.title, pre + self.title, "关于" + self.title + "的" + pre)
                self.title = self.rng.choice(forms[:2] if self.title.startswith("关于") else forms)
        return self.title

    def lead(self):
        if self.vague or not self.literal():
            return self.pick(("反映", "反映问题", "称", "表示", "反映一事"))
        return self.pick(banks.APPEAL_LEAD.get(self.appeal, banks.APPEAL_LEAD["其他"]))

    # -- pieces into the builder -----------------------------------------------------------------
    def put_place(self, b, role="problem"):
        m = {"problem": self.place, "caller": self.caller_place, "other": self.other_place}[role]
        if m is not None:
            b.place(m, role)
        return m is not None

    def put_pii(self, b, kinds=None):
        for kind in (self.pii_kinds if kinds is None else kinds):
            if kind == "masked":  # personal data the export already masked (138****5678, 王**)
                b.protect(personal.masked(self.rng) + self.pick(("，", "。", "；")))
                continue
            if kind == "name_caller":  # 来电人X: a name the masker's label list does not cover
                b.protect("来电人")
                b.pieces.append([3, personal.full_name(self.rng), {"kind": "name"}])
                b.protect("，")
                continue
            label, value, trailer = personal.make(self.rng, kind)
            b.pii(label, value, kind, trailer)
        self.pii_kinds = [] if kinds is None else [k for k in self.pii_kinds if k not in kinds]

    def put_extras(self, b, fp=False):
        """Second issue and distractor sentence, where the family allows them."""
        rng = self.rng
        if self.distract is not None:
            x = rng.choice(self.other_kws(self.distract))
            b.add(rng.choice(banks.DISTRACT_FRAME).format(x=x))
        if self.second is not None:
            b.add(rng.choice(banks.MULTI_FRAME), self.problem(fp, lb=self.second, rich=False), "。")


def _long(c, b, n=None):
    """A paragraph of a long letter: background, the problem again in other words, the story so far."""
    r = c.rng
    n = n or r.randint(2, 4)
    bank = [lambda: c.pick(banks.LETTER_BACKGROUND), lambda: c.problem(fp=True, rich=True),
            lambda: c.pick(banks.LETTER_NARRATIVE), lambda: c.impact(), lambda: c.pick(banks.LETTER_RESPECT),
            lambda: _history(c), lambda: c.pick(banks.FEELING_LONG), lambda: c.pick(banks.DETAIL)]
    for f in r.sample(bank, min(n, len(bank))):
        t = f()
        if t not in c.said:
            c.said.add(t)
            b.add(t, "。")


def _history(c):
    r = c.rng
    return c.pick(banks.HISTORY).format(m=r.randint(1, 12), n=r.randint(3, 9))


def _story(c, b, n):
    """``n`` more sentences of a citizen's own message: detail, history, how it feels, the situation
    in other words (citizen messages are long: background, emotion, the history of the complaint)."""
    r = c.rng
    bank = [lambda: c.pick(banks.DETAIL), lambda: _history(c), lambda: c.pick(banks.FEELING_LONG),
            lambda: c.situation() or c.pick(banks.DETAIL), lambda: c.impact(), lambda: c.pick(banks.LETTER_BACKGROUND),
            lambda: c.pick(banks.TRIED), lambda: c.pick(banks.LETTER_NARRATIVE)]
    out = []
    for f in r.sample(bank, min(n, len(bank))):
        t = f()
        if t not in c.said:
            c.said.add(t)
            out.append(t)
    if out:
        if not b.endswith("。！？!?\n：:，"):
            b.add("。")
        for i, t in enumerate(out):
            b.add(t, "。" if i == len(out) - 1 else r.choice(("。", "。", "，", "！")))


def _end(b, ch="。"):
    if not b.endswith("。！？!?\n：:"):
        b.add(ch)
