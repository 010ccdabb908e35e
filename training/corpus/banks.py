"""Shared phrase banks: who speaks, how long, what was tried, what is wanted, notes, channels, names,
companies, distractors, emergency and exclusion phrases, handling trails. All written for this
project. ``|`` separates alternatives so a bank stays one readable line.
"""

from __future__ import annotations


def _b(s: str) -> tuple[str, ...]:
    return tuple(x for x in s.split("|"))


# Operator speakers (subject of an operator summary).
SPEAKER = _b("市民|来电人|市民来电|居民|来电市民|该市民|一位市民|群众")
SPEAKER_COMPANY = _b("企业|企业来电人|某企业负责人|企业工作人员|公司财务人员|公司法人")

# How long it has lasted.
DURATION = _b("已经持续一个多月了|这种情况快半年了|从上周开始就这样|前天开始的|最近一段时间一直这样|去年就有这个问题|"
              "断断续续有两三个月了|今天早上发现的|这几天天天如此|快一年了都没解决|好几年了|从入冬开始")
DURATION_OP = _b("持续约一个月|已持续半年|自上周起|近两日|近期频繁|自去年起|长期存在|已有两三个月|今日上午起|近一周")

# What was tried already.
TRIED = _b("找过物业，物业说不归他们管|给社区打过电话，没人接|之前打过12345，说会处理但一直没动静|跟对方沟通过好几次都没用|"
           "去现场找过负责人，对方态度很差|在网上留过言，没有回复|找过居委会，让等通知|自己报修过两次")
TRIED_OP = _b("曾向物业反映未果|已多次与对方协商无果|此前拨打过热线|曾联系社区未解决|已报修未处理|多次反映未得到解决")

# Closing request verbs (operator).
WANT_LEAD_OP = _b("来电希望|来电人希望|市民希望|要求|诉求：|来电人要求|希望|市民要求|来电人诉求为")
# Closing request verbs (first person).
WANT_LEAD_FP = _b("希望|恳请|请|强烈要求|麻烦|拜托|希望有关部门能|希望领导能督促")

DEPT = _b("相关部门|有关部门|属地|主管部门|职能部门|街道|政府")

# Standard notes at the end of an operator summary.
NOTE = _b("注：请及时向来电人反馈办理情况。|注：来电人要求回复。|注：来电人不需要回复。|（来电人同意公开）|"
          "注：请承办单位联系来电人核实。|市民要求尽快联系。|（请核实处理）|注：此件为重复来电，请重点关注。|"
          "来电人表示如不解决将继续反映。|注：来电人情绪激动，请注意沟通方式。")

# Online channel headers.
CHANNELS_ONLINE = _b("微信服务号|网站|小程序|领导留言板|12345App|政务网站|京通")
CHANNELS_OPERATOR = _b("热线电话|热线电话|热线电话|热线电话|企业服务热线")
ONLINE_HEADER = _b("工单来源：{ch}|网民留言（{ch}）|来源：{ch}|【{ch}】网民留言|{ch}留言|渠道：{ch}")

# First-person self-introductions (online and letters).
SELF_INTRO = _b("我是{place}的居民|我家住在{place}|本人住{place}|我是{place}的业主|我们是住在{place}的老百姓|"
                "我是一名在{place}上班的普通职工|我在{place}租房住|我是{place}的一位老住户")
LETTER_WHO = _b("一名退休老教师|一名普通老百姓|一个外地来京务工人员|一名老党员|一名上班族|一位七十多岁的老人|两个孩子的妈妈|一名退伍军人")

LETTER_OPEN = _b("尊敬的领导您好：|尊敬的领导：您好！|领导您好！|尊敬的区长您好：|尊敬的书记、区长：|各位领导好：")
LETTER_CLOSE = _b("此致\n敬礼！|谢谢领导！|万分感谢！|盼复！|恳请领导百忙之中关注一下，谢谢！|再次感谢领导的关心！")
LETTER_FEEL = _b("实在是没有办法了才写这封信|这件事困扰我们很久了|我们也不想给政府添麻烦|相信政府一定会为老百姓做主|"
                 "大家对此意见非常大|我们心里真的很着急|真心希望能引起领导的重视")

# Emotional fillers of citizens' own words.
EMOTION = _b("实在受不了了！|太让人气愤了！|真的很无奈。|这还有没有人管了？|希望能引起重视。|大家都很着急。|谢谢！|拜托了！")

# Companies.
COMPANY_PREFIX = _b("华信|中科|鑫源|博远|恒泰|启明|润达|泰和|东升|正元|瑞丰|嘉禾|北辰|盛世|宏图|联创|天成|安信|金桥|远航|明德|方正|蓝海|京泰")
COMPANY_KIND = _b("科技|商贸|餐饮管理|建筑工程|物流|文化传媒|信息技术|食品|医疗器械|物业管理|机械制造|环保科技")
COMPANY_SUFFIX = _b("有限公司|有限责任公司|股份有限公司")
COMPANY_ROLE = _b("法人|财务|人事|行政负责人|经办人|总经理")
COMPANY_NEEDS = _b("想了解相关政策|需要办理相关手续|希望得到政策指导|希望尽快协调解决|想知道具体流程")

# Appeal cues (added to the wants or as a lead-in by appeal type).
APPEAL_LEAD = {
    "咨询": _b("想咨询一下|咨询|想问一下|请问|想了解"),
    "求助": _b("求助|请求帮助|希望能帮帮忙|求帮忙"),
    "投诉": _b("投诉|要投诉|对此很不满"),
    "举报": _b("举报|实名举报|要举报"),
    "建议": _b("建议|提个建议|有个建议"),
    "表扬": _b("表扬|感谢|特别感谢"),
    "其他": _b("反映|说一下|反映个情况"),
}
PRAISE = _b("对工作人员的及时处理表示感谢|工作人员很快就上门解决了问题，特别满意|感谢{dept}的帮助，问题已经解决了|"
            "要表扬处理此事的工作人员，态度好效率高")
SUGGEST = _b("建议{dept}统筹考虑一下|建议增加相关设施|建议加强管理|建议出台相关措施|建议定期检查")

# Follow-ups.
FOLLOW = _b("此次来电补充：|市民再次来电反映：|来电人再次来电：|催办：|同一问题第{n}次来电：|来电人补充说明：|重复来电：")
FOLLOW_REF = _b("此前已反映过（原工单{no}），|之前反映的问题至今未解决，|上次来电后有人联系过但没解决，|前期工单答复说已处理，但实际没有变化，|"
                "已经打了{n}次电话了，")

# Distractors: something else mentioned that is not the request.
DISTRACT_FRAME = _b("之前反映的{x}问题已经解决了，这次主要反映的是：|虽然小区{x}也不太好，但这次不说这个。|"
                    "（来电人顺带提到{x}，表示不需要处理）|另外{x}的事我已经找过别的部门了，不用管。|上次说的{x}已经有人处理了。|"
                    "本来想说{x}，后来想想还是先说这个。")

# Several issues in one order.
MULTI_FRAME = _b("另外，|此外还反映：|同时反映：|还有一个问题，|另：|再有就是")

# Person names (surnames, given names) for callers, contact persons.
SURNAME = _b("王|李|张|刘|陈|杨|赵|黄|周|吴|徐|孙|马|朱|胡|郭|何|高|林|罗|郑|梁|谢|宋|唐|许|韩|冯|邓|曹|彭|曾|肖|田|董|袁|潘|于|蒋|蔡|余|杜|叶|程|苏|魏|吕|丁|任|沈|姚|卢|姜|崔|钟|谭|陆|汪|范|金|石|廖|贾|夏|韦|付|方|白|邹|孟|熊|秦|邱|江|尹|薛|闫|段|雷|侯|龙|史|陶|黎|贺|顾|毛|郝|龚|邵|万|钱|严|覃|武|戴|莫|孔|向|汤")
GIVEN = _b("伟|芳|娜|敏|静|丽|强|磊|军|洋|勇|艳|杰|娟|涛|明|超|秀英|霞|平|刚|桂英|建国|建华|志强|秀兰|淑珍|玉兰|海燕|"
           "晓东|红梅|立新|国庆|丽华|宇|鑫|浩|思远|子涵|雨轩|一鸣|佳怡|文博|晨|欣怡|俊杰|振华|凤英|春生|德明|金凤")
TITLE_PERSON = _b("先生|女士|师傅|大爷|阿姨")

# Trails of exported history (must open with a trail marker right after a line break).
TRAIL_TEMPLATES = _b(
    "工单流转：{t1}派{u0}；退回：非我单位职责，建议转{u}。{t2}改派{u}。|"
    "承办单位：{u}\n答复内容：经核实，{r}|"
    "处理过程：{t1}{u}已签收。{t2}回复：经核实，{r}|"
    "经核实，{r}（承办单位：{u}）|"
    "工单流转：{t1}派发至{u}，{u}已接单。\n办理结果：{r}|"
    "退回：该诉求不属于本单位职责，建议转{u}。\n派单意见：同意，转{u}办理。|"
    "处理结果：{u}回复，{r}回访情况：来电人表示满意。|"
    "单位回复：{u}：您好，您反映的问题我单位已收悉，{r}"
)
TRAIL_RESULT = _b("已安排工作人员到现场查看，问题已处理完毕。|已联系来电人说明情况，来电人表示认可。|已责成相关责任方限期整改。|"
                  "该问题已列入计划，预计下月完成。|现场未发现来电人所述情况，已向来电人解释。|已协调相关单位，问题已解决。")

# Relative times inside trails.
TRAIL_TIME = _b("3月5日10时|昨日|今日9时|当日下午|次日上午|2日14时|11月20日")
