"""What the caller wants, said without naming the appeal type: the intent behind 咨询/求助/投诉/举报/建议.

Real orders rarely write "投诉" or "求助"; the operator writes 反映 and the type follows from what is
asked for:

- 咨询 (a question): the caller's own situation and what they want to know (能不能…, 去哪办, 需要什么材料);
- 求助 (a request for help): something broke or a hardship the caller cannot solve alone, and a call
  for someone to come, fix, find, contact (尽快派人来, 帮忙查一下, 家里就两个老人);
- 投诉 (a complaint): someone responsible — a property company, a shop, an employer, an office —
  does not do what they should or treats people badly, or a nuisance goes on unhandled (一直推诿,
  对处理结果不满意, 要求给个说法, 督促整改);
- 举报 (a report of a violation): a third party breaks a rule, often covertly, and the caller is a
  witness (有人偷偷…, 没有任何手续, 照片都拍了, 依法查处, 请为我保密);
- 建议 (a proposal): something should be added or changed (能否增设…, 要是能…就方便多了).

Each type has several *moves* (``stance``: a sentence about the matter; ``want``: the demand, after
希望/要求/请; ``ask``: a question — rhetorical outside 咨询, so a question mark is no sign of 咨询),
many phrasings each. ``IntentBank(side)`` gives the phrasings one kind of order may use: a third of
each bank (by a stable hash of the phrase, independent of the seed) is held out for dev/test orders,
so the generated test split measures appeal phrasings the model never saw, as it does for keywords.

``leaf_profile(leaf)`` says which types a leaf's orders lean to (policy/permit leaves: questions;
violations by third parties: reports; breakdowns and 2h/24h matters: requests for help; the rest:
complaints), and ``party(leaf, rng)`` who the complaint is about. All text written for this project.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache


def _b(s: str) -> tuple[str, ...]:
    return tuple(x for x in s.split("|") if x)


# {p}: the party complained about (物业, 商家, 单位, …).
STANCE = {
    "投诉": _b(
        "找过{p}好几次，对方就是拖着不办|{p}推来推去，谁都不愿意管|{p}当面答应得好好的，转头就不认账|"
        "{p}的人说话很冲，根本不听我们解释|前后反映了好几回，每次都说在处理，结果一点没变|跟{p}讲道理，对方说爱找谁找谁|"
        "{p}收了钱却不干事|明明是{p}的责任，却让我们自己想办法|对之前的处理结果很不满意|"
        "上次答复说已经解决了，其实根本没解决|管事的人来了一趟就走了，过两天又是老样子|{p}一直敷衍，打电话也不接|"
        "这么明显的问题，{p}视而不见|钱一分没少交，服务却一点没有|{p}的说法前后对不上|一件小事让我们来回跑了好几趟|"
        "一样交的钱，凭什么我们就得受这个罪|说了多少遍也没人当回事|{p}还说有本事就去告|这种做法太欺负人了|"
        "{p}光说不练，一拖再拖|去找{p}理论，对方态度特别横|问{p}要个说法，对方就是不理|{p}把责任全推到别人身上|"
        "城管来了就收，人一走又照旧|屡次反映屡次反弹，根本没管住|答应的期限早过了，一点动静没有|"
        "来电人认为{p}处理不当|来电人对{p}的做法很有意见|来电人对此非常不满"),
    "求助": _b(
        "家里就两个老人，自己实在弄不了|一家人都在干着急|自己想了好多办法都不管用|眼看越来越严重，不知道该怎么办|"
        "到现在还没恢复|打了好几个电话都找不到能管的人|孩子明天还要上学，等着用|实在是没有别的办法了|不知道这事该找谁|"
        "自己处理不了，只能求人|老人身体不好，经不起折腾|已经没法正常过日子了|不赶紧弄怕出事|"
        "物业值班电话一直没人接|天这么冷，屋里待不住人|家里没有年轻人，老两口干着急|手头实在太紧，拿不出这笔钱|"
        "一个人在外地，人生地不熟|附近也找不到能修的人|再拖下去损失更大|心里特别着急，一晚上没睡|"
        "来电人称自己没有能力解决|来电人情绪焦急|来电人表示实在没有办法"),
    "举报": _b(
        "有人一直偷偷这么干|对方没有任何手续|我怀疑这是违法的|这明显违反规定|我亲眼看到过好几次|照片和视频我都留着|"
        "专挑晚上没人的时候干|他们挂着别的牌子干这个|周围的人都知道，就是没人管|对方明目张胆，一点都不怕|"
        "听说他们根本没有执照|白天关着门，一到晚上就开工|这种行为损害的是大家的利益|国家的钱不能让人白白占了|"
        "具体位置和时间我都可以提供|不是一次两次了，隔几天就来一回|对方还威胁说谁说出去就找谁算账|"
        "别人劝过也不听，照干不误|好几户邻居都看见了|我把车牌号都记下来了|对方背后好像有人撑腰|"
        "来电人称系亲眼所见|来电人怀疑对方违规经营|来电人称可以配合调查"),
    "咨询": _b(
        "不清楚自己这种情况符不符合条件|网上查了好几个说法都不一样|问了几个地方都说不清楚|想先弄明白再去办|"
        "怕材料带不全白跑一趟|之前没办过，不知道流程|单位让自己去问|身边人说法都不一样|政策变了不知道现在怎么规定|"
        "打过几个电话都没问明白|第一次遇到这种事，心里没底|想提前了解一下，好做准备|"
        "来电人对相关规定不了解|来电人想了解政策|来电人不清楚该去哪里办理"),
    "建议": _b(
        "附近好多人都有这个想法|这个问题换个办法就能解决|别的地方早就这么做了，效果挺好|只是一点想法，供参考|"
        "现在的安排不太合理，可以改一改|要是能改一下，大家都方便|大家私下都在说这个事|"
        "老人孩子多，设施跟不上|高峰时段人太多，根本不够用|来电人认为现行做法有改进的空间|来电人提出了自己的想法"),
}

# Demands, written to follow 希望/要求/请/恳请.
WANT = {
    "投诉": _b(
        "督促{p}整改|给我们一个说法|对这件事严肃处理|把多收的钱退回来|对{p}加强监管|管一管这种情况|督促{p}落实责任|"
        "让{p}赔偿损失|彻底解决，别再糊弄|约谈{p}|查清楚到底是谁的责任|对相关人员作出处理|督促{p}整改到位|"
        "{p}不要再推诿|重新处理，不要走过场|对{p}的服务态度进行调查|责令{p}立即改正|加强管理，别再反弹"),
    "求助": _b(
        "尽快派人来看看|帮忙联系能管这事的部门|帮忙想想办法|尽快恢复|帮忙查一查是怎么回事|派人来处理一下|帮帮我们|"
        "帮忙协调一下|赶紧安排人来维修|给予帮助|有人能出面协调|帮忙解决一下实际困难|尽快来人|帮忙催一下|"
        "马上派人过来|先把眼前的难关过去|给我们指条路|派个人来帮忙弄一下"),
    "举报": _b(
        "依法查处|派人到现场查一查|立即制止|依法取缔|对这种行为进行处罚|查实后严肃处理|夜里来查|没收违法所得|恢复原状|"
        "对举报人的信息保密|暗访一下就知道|一查到底|尽快制止，别等出了事再管|联合执法彻底清理|把钱追回来|"
        "对涉事人员依法处理|核查对方的资质"),
    "咨询": _b(
        "给个明确答复|告知具体的办理流程|解答一下|告诉我该去哪里办|回个电话说明一下|给予政策解释|说明一下具体规定|"
        "告知需要准备的材料|答复一下什么时候能办|告知能不能办"),
    "建议": _b(
        "增设相关设施|多安排几个人手|延长开放时间|调整一下时间安排|把进度向大家公开|在这里多设几处|加装必要的设施|"
        "统筹考虑一下|出台个办法|提前公示方案|定期组织检查|参考别的区的做法|增加班次|设个临时的点应应急"),
}

# Questions. Outside 咨询 they are rhetorical or about when/who: a question mark says nothing of the type.
ASK = {
    "投诉": _b("这合理吗|这还有没有人管|凭什么这样|到底归谁管|什么时候才能解决|难道就没人管得了吗|这种做法合法吗|"
               "我们的钱就白交了吗|就这么一直拖着吗|这叫什么服务"),
    "求助": _b("什么时候能恢复|能不能先派人来看看|现在该怎么办|有没有人能来帮一下|能不能帮忙问问|这种情况该找谁帮忙|"
               "到底什么时候能修好|我们该怎么办"),
    "举报": _b("这种行为算不算违法|这不是违规吗|难道没人管得了吗|这样做合法吗|这种情况有没有人查|这不就是钻空子吗"),
    "咨询": _b("需要准备哪些材料|去哪里办理|能不能在网上办|是否需要本人到场|大概要多长时间|有没有相关的政策|"
               "符合什么条件才能申请|费用怎么算|这种情况合不合规定|应该找哪个部门|我这种情况能不能办|"
               "是不是一定要回户籍地办|办下来以后有什么待遇"),
    "建议": _b("能不能在这里增设相关设施|是否可以考虑延长时间|能否多安排几个人|能不能调整一下安排|能否把进度公开出来|"
               "是不是可以多设几处"),
}

# Operator verbs that do not name the type: most orders read 市民来电反映.
NEUTRAL_VERB = _b("来电反映|反映|来电称|来电表示|致电反映|来电")

# Who a complaint is about, by words of the leaf's path and name (first match), else generic.
_PARTY = (
    (re.compile("物业"), _b("物业|物业公司|物业管家|物业经理")),
    (re.compile("供暖|供热|暖气|采暖"), _b("供暖公司|热力公司|锅炉房|物业")),
    (re.compile("供水|自来水|排水"), _b("自来水公司|物业|供水单位")),
    (re.compile("供电|用电|电力"), _b("供电公司|物业|电工")),
    (re.compile("燃气|天然气"), _b("燃气公司|物业")),
    (re.compile("劳动|工资|社保|社会保险|用工|就业|加班"), _b("单位|公司|老板|用人单位|人事")),
    (re.compile("医|卫生|药"), _b("医院|院方|诊所|药店")),
    (re.compile("教育|学校|幼儿|招生|入学"), _b("学校|校方|园方|老师")),
    (re.compile("市场|消费|商品|商贸|价格|餐饮|食品|旅游"), _b("商家|店家|店里|经营者|客服")),
    (re.compile("房地产|住房|中介|租"), _b("开发商|中介|房东|售楼处")),
    (re.compile("交通|公交|出租|地铁|停车|道路"), _b("运营公司|司机|管理方|停车场")),
    (re.compile("政务|作风|热线|窗口|审批|登记|办理"), _b("窗口工作人员|经办人员|办事大厅|工作人员")),
    (re.compile("建设|施工|工地|建筑"), _b("施工方|工地|项目部|开发商")),
    (re.compile("通信|电信|网络|运营商"), _b("运营商|营业厅|客服")),
    (re.compile("企业|税|工商|营业执照"), _b("经办窗口|工作人员|代办公司")),
)
_PARTY_GENERIC = _b("管理方|负责的单位|对方|社区|街道|物业")

# Leaves whose orders mostly report a third party's violation.
_VIOLATION = re.compile("违法|违规|非法|私搭|私建|违建|违章|无证|无照|黑车|黑诊所|黑中介|黑工厂|黑出租|黑摩的|黑导游|"
                        "黑恶|涉黑|黑职介|偷排|偷倒|盗采|盗版|冒领|假冒|假货|假药|假医生|假种子|假化肥|假农药|传销|赌博|"
                        "卖淫|吸毒|走私|倒卖|拉客|超载|侵占|毁坏|毁绿|焚烧|乱倒|倾倒|公款|私用|套取|骗保|造假|虚假|"
                        "私自|违停|非法集资|高利贷|套路贷|侵权|群租")
_VICTIM = re.compile("被骗|诈骗|被盗|被偷")

# Appeal weights (咨询 求助 投诉 举报 建议 表扬 其他) by leaf profile.
PROFILE_WEIGHTS = {
    "consult": (42, 22, 18, 4, 7, 2, 5),
    "violation": (5, 10, 32, 44, 5, 1, 3),
    "urgent": (6, 50, 30, 4, 4, 2, 4),
    "complaint": (8, 26, 44, 8, 8, 2, 4),
}


def leaf_profile(leaf, consult: bool) -> str:
    """consult | violation | urgent | complaint: which appeal types a leaf's orders lean to."""
    name = getattr(leaf, "name", "") or ""
    text = name + " ".join(getattr(leaf, "keywords", ()) or ())
    if _VIOLATION.search(text) and not _VICTIM.search(text):
        return "violation"
    if consult:
        return "consult"
    rl = getattr(leaf, "response_level", "") or ""
    if rl in ("2h", "24h") or (getattr(leaf, "duty", "") or "") == "utility":
        return "urgent"
    return "complaint"


def party(leaf, rng) -> str:
    """Who a complaint about this leaf's matter is about."""
    text = " ".join(getattr(leaf, "path", ()) or ()) + (getattr(leaf, "name", "") or "")
    for pat, names in _PARTY:
        if pat.search(text):
            return rng.choice(names)
    return rng.choice(_PARTY_GENERIC)


def _bank_text() -> str:
    from . import banks

    return "\n".join(p for bank in (banks.APPEAL_WANT, banks.APPEAL_OPEN_FP, banks.APPEAL_LEAD, banks.APPEAL_VERB_OP)
                     for ps in bank.values() for p in ps) + "\n".join(banks.SUGGEST + banks.PRAISE + banks.TRIED + banks.TRIED_OP)


_SHARED_BANKS = _bank_text()


def _held(phrase: str, ratio: float) -> bool:
    """Whether a phrasing is held out for dev/test orders (never one the shared banks carry anyway)."""
    if phrase in _SHARED_BANKS:
        return False
    return int(hashlib.md5(("intent:" + phrase).encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF < ratio


class IntentBank:
    """The intent phrasings orders of one side may use: ``side`` "train" gets about two thirds of each
    bank, "held" (dev/test orders) the rest; ``ratio`` 0 gives every phrasing to both."""

    def __init__(self, side: str, ratio: float = 1 / 3):
        def part(bank: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
            out = {}
            for a, phrases in bank.items():
                if ratio <= 0:
                    out[a] = phrases
                    continue
                held = tuple(p for p in phrases if _held(p, ratio))
                train = tuple(p for p in phrases if not _held(p, ratio))
                out[a] = (held or phrases[-1:]) if side == "held" else (train or phrases)
            return out

        self.stance = part(STANCE)
        self.want = part(WANT)
        self.ask = part(ASK)


def intent_text() -> str:
    """Every intent phrasing with every party filled in: text any order may carry (no keyword found
    in it is held out)."""
    parties = sorted({n for _pat, names in _PARTY for n in names} | set(_PARTY_GENERIC))
    out = []
    for bank in (STANCE, WANT, ASK):
        for phrases in bank.values():
            for p in phrases:
                out.extend(p.format(p=x) for x in parties) if "{p}" in p else out.append(p)
    return "\n".join(out + list(NEUTRAL_VERB))


def _filled(phrase: str) -> tuple[str, ...]:
    if "{p}" not in phrase:
        return (phrase,)
    parties = {n for _pat, names in _PARTY for n in names} | set(_PARTY_GENERIC)
    return tuple(phrase.format(p=x) for x in sorted(parties))


@lru_cache(maxsize=64)
def phrasings(appeal: str, side: str | None = None, ratio: float = 1 / 3) -> tuple[str, ...]:
    """Every intent phrasing of ``appeal`` (stance, want, question; parties filled in), of one
    ``side`` ("train" or "held") or of both (None)."""
    banks = (STANCE, WANT, ASK)
    out: list[str] = []
    for bank in banks:
        for p in bank.get(appeal, ()):
            if side is None or (side == "held") == _held(p, ratio):
                out.extend(_filled(p))
    return tuple(out)


def intent_cues(text: str) -> set[str]:
    """The appeal types whose intent phrasings occur in ``text``."""
    return {a for a in STANCE.keys() | WANT.keys() | ASK.keys() if any(p in text for p in phrasings(a))}
