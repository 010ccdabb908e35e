"""Appeal type (诉求类型) from what the caller asks for, not from the word the operator used.

``appeal_intent(text)`` takes a normalized order text (title, line break, body) and returns a score
per appeal type: the summed weights of the intent patterns found in it. The patterns describe
*intent*, in many wordings:

- 咨询: questions about rules and procedures (怎么办理, 需要哪些材料, 去哪办, 能否申请, 是否符合条件);
- 求助: a request for someone to come, fix, find or help (尽快派人, 帮忙查一下, 什么时候能恢复), a
  breakdown (停水, 没电, 漏水) or a hardship (没办法, 老人下不了楼);
- 投诉: a complaint about someone's conduct or service (推诿, 态度差, 拒不退款, 不给说法, 对处理结果不满意)
  or a nuisance nobody stops (扰民, 屡禁不止, 加强管理);
- 举报: a third party's violation (违法, 私自, 偷偷, 无证, 没有手续, 冒领) and a call to stop it (查处,
  取缔, 制止, 保密);
- 建议: a proposal (建议, 能否增设, 要是能…就好了);
- 表扬: thanks and praise.

A pattern is a regular expression over one clause at most (no clause delimiter inside), so 能否 in
one sentence and 增设 in the next do not make a proposal. Scores are evidence to fuse with a
model's appeal head (``dispatch_nlp.routing.router``), not a decision by themselves.
"""

from __future__ import annotations

import re

_C = r"[^，,。？?！!；;\n]"  # any character inside one clause

# (appeal type, weight, pattern)
_PATTERNS: tuple[tuple[str, float, str], ...] = (
    # 咨询: questions about rules, procedures, entitlements
    ("咨询", 1.5, r"咨询|打听"),
    ("咨询", 0.6, r"请问|想问|问一下|询问|想了解|想知道|了解一下"),
    ("咨询", 1.2, r"(怎么|如何|怎样|咋)(办理|申请|办|报销|缴纳|认定|计算|算|查询|提取|登记|备案|开具|领取|续)"),
    ("咨询", 1.2, r"(需要|要|得)(准备|提供|带)?(哪些|什么|啥)(材料|手续|证件|条件|证明)"),
    ("咨询", 1.2, r"(去|到|在|找)哪(里|儿|个部门|个窗口)?(办|申请|开|领|交|报|备案|登记|认定)"),
    ("咨询", 1.0, r"(能不能|可不可以|能否|是否|可否|是不是|可以)" + _C + r"{0,14}"
                  r"(办理|申请|享受|参加|报销|提取|落户|补缴|退休|领取|转移|迁|结算|参保|入学|续签|备案|补办)"),
    ("咨询", 1.0, r"(符合|满足|够不够|达到)" + _C + r"{0,6}(条件|标准|要求)"),
    ("咨询", 0.8, r"(有没有|有哪些|有什么|是什么|是怎么)" + _C + r"{0,8}(政策|规定|标准|补贴|途径|办法|流程|规则)"),
    ("咨询", 0.8, r"(多少钱|多长时间|多久能|哪年哪月|什么时候能(办|拿|领|退))"),
    ("咨询", 0.5, r"(是否|是不是)(合规|合法|违法|符合规定)"),
    # 求助: come, fix, find, help; breakdowns and hardship
    ("求助", 1.5, r"求助|求救|救助|援助|帮帮|帮一下|帮个忙"),
    ("求助", 1.0, r"帮忙|帮助|协助"),
    ("求助", 1.2, r"(尽快|马上|立即|赶紧|赶快|立刻|及时)(派人|来人|安排|维修|修|抢修|恢复|清理|处理|查看)"),
    ("求助", 1.2, r"(什么时候|啥时候|何时|多会儿)(能|才能|可以|会)?(恢复|来水|来电|供电|供水|通|修好|到账|住进|来人|派人|处理)"),
    ("求助", 0.8, r"停水|停电|没水|没电|断水|断电|漏水|跑水|滋水|冒水|往下滴|塌了|倒了|堵了|爆了|不热|冰凉|没信号|报故障|打不通|没人接"),
    ("求助", 0.8, r"没有办法|没办法|不知道(该)?怎么办|走投无路|干着急|受不了了|冻得|下不了楼|联系不上"),
    ("求助", 0.5, r"(老人|孩子|病人|孕妇)" + _C + r"{0,10}(没法|不能|下不了|受不了|冻|等着|急)"),
    # 投诉: conduct and service; nuisances nobody stops
    ("投诉", 1.5, r"投诉|不满意|不满|太气人|气愤|欺负人|霸王条款"),
    ("投诉", 1.5, r"推诿|踢皮球|推来推去|不作为|敷衍|不管不问|不理睬|不予理睬|态度" + _C + r"{0,3}(差|恶劣|横|冷漠|蛮横)"),
    ("投诉", 1.2, r"拒不|拒绝|不给(退|补|赔|办|换|签|交)|拖欠|不退|不履行|不兑现|截留|克扣|多收|乱收|强制|单方面"),
    ("投诉", 1.0, r"(给|要|讨)(个|一个)?(说法|交代)|追责|问责|整改|赔偿|退(款|钱|费)|督促|督办"),
    ("投诉", 0.8, r"(再次|又|第[二三四五六2-6]次|多次|反复|重复)(来电|反映|投诉)|同热线|原工单|关联工单"),
    ("投诉", 0.6, r"扰民|影响休息|睡不着|睡不好|噪音|噪声|异味|油烟|扬尘|臭|脏乱"),
    ("投诉", 0.8, r"加强管理|管一管|管管|没人管|无人管|屡禁不止|照旧|照干|又开始|反弹|照样"),
    ("投诉", 0.6, r"(凭什么|合理吗|合法吗|这叫什么)"),
    # 举报: a third party breaks a rule
    ("举报", 2.0, r"举报"),
    ("举报", 1.2, r"违法|违规|非法|私自|偷偷|偷着|无证|无照|黑车|冒领|骗取|套取|骗保|私用|私挖|盗采|偷排|偷倒|"
                  r"没有(任何)?(手续|资质|执照|许可|招牌|营业执照)|未经(批准|许可)"),
    ("举报", 1.0, r"查处|取缔|制止|严查|查一查|查查|依法处理|依法处罚|暗访|突击检查|没收"),
    ("举报", 1.0, r"保密"),
    ("举报", 0.5, r"(有人|有家|有个|有一家|有几家|有住户|邻居)" + _C + r"{0,16}(偷|私|违|乱|往|把)"),
    ("举报", 0.5, r"亲眼|拍了(照片|视频)|照片我都|证据"),
    # 建议: proposals
    ("建议", 1.5, r"建议(?!转)|提议|意见建议|提个想法"),
    ("建议", 1.5, r"(能否|能不能|可否|是否可以|是不是可以|可不可以|希望能)" + _C + r"{0,12}"
                  r"(增设|加装|加高|增加|多设|设置|开通|延长|多开|调整|安装|修建|设立|公开|优化|统筹|改为|改成)"),
    ("建议", 1.2, r"要是能" + _C + r"{0,15}就|如果能" + _C + r"{0,15}就(好|方便)"),
    # 表扬
    ("表扬", 2.0, r"表扬|锦旗|点赞|致谢|感谢信"),
    ("表扬", 1.0, r"非常满意|特别满意|十分感谢|非常感谢|特别感谢|衷心感谢"),
)

_COMPILED = tuple((label, weight, re.compile(pattern)) for label, weight, pattern in _PATTERNS)
APPEAL_INTENTS = ("咨询", "求助", "投诉", "举报", "建议", "表扬")


def appeal_intent(text: str) -> dict[str, float]:
    """Score per appeal type: the summed weights of the intent patterns found in ``text`` (each
    pattern counts once). Types with no pattern found are left out."""
    out: dict[str, float] = {}
    for label, weight, rx in _COMPILED:
        if rx.search(text):
            out[label] = out.get(label, 0.0) + weight
    return out
