"""Word lists the demo data is built from: places, names, titles, phrases.

Data only: tuples of constants, no randomness and no I/O. Pinyin sits next to the
Chinese where the demo needs ASCII (e-mail addresses, web sites, WeChat ids).
"""

from __future__ import annotations

#: (city, region value, landline area code, districts) — region values match the `region` preset.
CITIES = (
    ("上海", "east", "021", ("浦东新区", "徐汇区", "闵行区", "静安区", "杨浦区")),
    ("杭州", "east", "0571", ("西湖区", "滨江区", "余杭区", "拱墅区")),
    ("南京", "east", "025", ("鼓楼区", "江宁区", "建邺区", "玄武区")),
    ("苏州", "east", "0512", ("工业园区", "姑苏区", "吴中区", "高新区")),
    ("宁波", "east", "0574", ("鄞州区", "海曙区", "北仑区")),
    ("合肥", "east", "0551", ("蜀山区", "包河区", "高新区")),
    ("济南", "east", "0531", ("历下区", "槐荫区", "高新区")),
    ("青岛", "east", "0532", ("市南区", "崂山区", "黄岛区")),
    ("厦门", "east", "0592", ("思明区", "湖里区", "集美区")),
    ("北京", "north", "010", ("海淀区", "朝阳区", "东城区", "丰台区", "昌平区")),
    ("天津", "north", "022", ("滨海新区", "南开区", "和平区")),
    ("石家庄", "north", "0311", ("长安区", "裕华区")),
    ("太原", "north", "0351", ("小店区", "迎泽区")),
    ("深圳", "south", "0755", ("南山区", "福田区", "宝安区", "龙岗区")),
    ("广州", "south", "020", ("天河区", "越秀区", "海珠区", "番禺区")),
    ("东莞", "south", "0769", ("南城街道", "松山湖", "长安镇")),
    ("佛山", "south", "0757", ("顺德区", "南海区", "禅城区")),
    ("南宁", "south", "0771", ("青秀区", "西乡塘区")),
    ("武汉", "central", "027", ("武昌区", "洪山区", "江汉区", "东湖高新区")),
    ("长沙", "central", "0731", ("岳麓区", "雨花区", "开福区")),
    ("郑州", "central", "0371", ("金水区", "郑东新区", "二七区")),
    ("成都", "southwest", "028", ("武侯区", "高新区", "锦江区", "双流区")),
    ("重庆", "southwest", "023", ("渝北区", "江北区", "九龙坡区")),
    ("昆明", "southwest", "0871", ("五华区", "盘龙区")),
    ("西安", "northwest", "029", ("雁塔区", "未央区", "高新区")),
    ("兰州", "northwest", "0931", ("城关区", "七里河区")),
    ("沈阳", "northeast", "024", ("和平区", "浑南区", "铁西区")),
    ("大连", "northeast", "0411", ("中山区", "甘井子区", "高新园区")),
    ("哈尔滨", "northeast", "0451", ("南岗区", "道里区")),
)
#: How often each city appears, in the order of CITIES (big commercial centres first).
CITY_WEIGHTS = (14, 7, 5, 5, 3, 3, 2, 3, 2, 12, 4, 2, 1, 10, 9, 3, 3, 1, 5, 3, 3, 5, 4, 1, 3, 1, 2, 2, 1)

#: Brand words of company names, with pinyin for the web domain.
BRANDS = (
    ("华信", "huaxin"), ("中科", "zhongke"), ("恒达", "hengda"), ("瑞丰", "ruifeng"),
    ("金桥", "jinqiao"), ("鼎盛", "dingsheng"), ("宏远", "hongyuan"), ("天成", "tiancheng"),
    ("博雅", "boya"), ("东方", "dongfang"), ("长城", "changcheng"), ("海纳", "haina"),
    ("新元", "xinyuan"), ("益康", "yikang"), ("润泽", "runze"), ("卓越", "zhuoyue"),
    ("星辰", "xingchen"), ("汇通", "huitong"), ("明德", "mingde"), ("安泰", "antai"),
    ("正泰", "zhengtai"), ("永信", "yongxin"), ("华宇", "huayu"), ("凯盛", "kaisheng"),
    ("嘉禾", "jiahe"), ("泰和", "taihe"), ("中联", "zhonglian"), ("远景", "yuanjing"),
    ("腾飞", "tengfei"), ("德润", "derun"), ("盛世", "shengshi"), ("万通", "wantong"),
    ("同创", "tongchuang"), ("光明", "guangming"), ("联合", "lianhe"), ("云帆", "yunfan"),
    ("智远", "zhiyuan"), ("思源", "siyuan"), ("百川", "baichuan"), ("蓝海", "lanhai"),
    ("启明", "qiming"), ("国泰", "guotai"), ("鸿运", "hongyun"), ("晨光", "chenguang"),
    ("信达", "xinda"), ("海川", "haichuan"), ("锦程", "jincheng"), ("富华", "fuhua"),
    ("大成", "dacheng"), ("恒通", "hengtong"), ("先锋", "xianfeng"), ("创新", "chuangxin"),
    ("新锐", "xinrui"), ("普惠", "puhui"), ("优品", "youpin"), ("众诚", "zhongcheng"),
    ("瀚海", "hanhai"), ("朗润", "langrun"), ("致远", "zhiyuan"), ("睿智", "ruizhi"),
    ("亿达", "yida"), ("和信", "hexin"), ("九州", "jiuzhou"), ("四海", "sihai"),
    ("华夏", "huaxia"), ("天润", "tianrun"), ("青松", "qingsong"), ("银河", "yinhe"),
    ("金石", "jinshi"), ("紫光", "ziguang"), ("中恒", "zhongheng"), ("宝利", "baoli"),
    ("昊天", "haotian"), ("丰泽", "fengze"), ("华美", "huamei"), ("长江", "changjiang"),
    ("蓝天", "lantian"), ("新华", "xinhua"), ("安信", "anxin"), ("融创", "rongchuang"),
)

#: Industry value (see the `industry` preset) -> business words of a company name, with pinyin.
INDUSTRY_WORDS = {
    "manufacturing": (("机械制造", "machinery"), ("精密制造", "precision"), ("电气", "electric"),
                      ("汽车零部件", "autoparts"), ("新材料", "materials")),
    "software": (("科技", "tech"), ("信息技术", "it"), ("软件", "soft"), ("网络科技", "net"),
                 ("数据科技", "data")),
    "retail": (("商贸", "trade"), ("贸易", "trading"), ("电子商务", "ecom"), ("连锁超市", "mart"),
               ("食品", "food")),
    "finance": (("投资管理", "invest"), ("融资租赁", "leasing"), ("保险代理", "insurance"),
                ("资产管理", "asset")),
    "healthcare": (("医疗器械", "medical"), ("生物科技", "bio"), ("医药", "pharma"),
                   ("健康管理", "health")),
    "education": (("教育科技", "edu"), ("培训学校", "school"), ("文化传播", "culture")),
    "logistics": (("物流", "logistics"), ("供应链管理", "supplychain"), ("货运代理", "freight")),
    "energy": (("新能源", "newenergy"), ("电力工程", "power"), ("环保科技", "eco")),
    "construction": (("建设工程", "build"), ("置业", "estate"), ("装饰工程", "decor")),
    "public": (("城市发展", "city"), ("公用事业", "utility")),
    "other": (("实业", "industry"), ("服务", "service"), ("咨询", "consulting")),
}
#: Industry values with their weights among customers.
INDUSTRIES = (("manufacturing", 24), ("software", 18), ("retail", 16), ("finance", 7),
              ("healthcare", 8), ("education", 6), ("logistics", 8), ("energy", 5),
              ("construction", 5), ("public", 2), ("other", 1))
#: Legal suffixes of company names.
COMPANY_SUFFIXES = (("有限公司", 70), ("股份有限公司", 18), ("集团有限公司", 7), ("有限责任公司", 5))

#: English-named foreign customers (region `overseas`).
FOREIGN_PREFIXES = ("Pacific", "Atlas", "Northwind", "Blue Harbor", "Meridian", "Silverline",
                    "Evergreen", "Summit", "Keystone", "Orion", "Lakeside", "Redwood")
FOREIGN_SUFFIXES = (("Trading Co., Ltd.", "trading"), ("Industries Pte. Ltd.", "industries"),
                    ("Technologies GmbH", "tech"), ("Logistics Inc.", "logistics"),
                    ("Holdings Ltd.", "holdings"))
FOREIGN_CITIES = ("Singapore", "Hong Kong", "Tokyo", "Seoul", "Frankfurt", "Sydney", "Dubai")

#: Common surnames with pinyin, most frequent first.
SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"),
    ("高", "gao"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("潘", "pan"),
)
#: Given names (one or two characters) with pinyin.
GIVEN_NAMES = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"),
    ("建华", "jianhua"), ("志强", "zhiqiang"), ("晓东", "xiaodong"), ("海燕", "haiyan"),
    ("文博", "wenbo"), ("思远", "siyuan"), ("子涵", "zihan"), ("雨萱", "yuxuan"), ("浩然", "haoran"),
    ("欣怡", "xinyi"), ("俊杰", "junjie"), ("佳琪", "jiaqi"), ("宇航", "yuhang"), ("梦瑶", "mengyao"),
    ("国强", "guoqiang"), ("丽娟", "lijuan"), ("建国", "jianguo"), ("春梅", "chunmei"),
    ("立新", "lixin"), ("晓明", "xiaoming"), ("雪", "xue"), ("鹏", "peng"), ("婷", "ting"),
)

#: (job title, purchase role value) of contacts.
TITLES = (
    ("总经理", "decision_maker"), ("副总经理", "decision_maker"), ("董事长", "decision_maker"),
    ("采购经理", "purchaser"), ("采购专员", "purchaser"), ("IT 总监", "influencer"),
    ("技术负责人", "influencer"), ("信息部经理", "influencer"), ("财务经理", "finance"),
    ("财务总监", "finance"), ("销售总监", "user"), ("运营经理", "user"), ("行政主管", "other"),
    ("项目经理", "user"), ("市场经理", "user"),
)
#: Mobile number prefixes (three digits) of the Chinese carriers.
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "157", "158", "159", "166", "176", "177", "180", "181", "185", "186",
                   "187", "188", "189", "191", "198", "199")
#: Free-mail domains of private contacts.
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "outlook.com", "foxmail.com")
#: Street names of addresses.
STREETS = ("人民路", "中山路", "解放路", "建设路", "科技路", "创新大道", "长江路", "和平路",
           "文化路", "工业大道", "高新路", "世纪大道", "学院路", "新华路", "滨江大道")

#: Competitors named on deals.
COMPETITORS = ("纷享销客", "销售易", "Salesforce", "用友", "金蝶", "八百客", "励销云", "Zoho",
               "HubSpot", "悟空CRM")
#: Endings of deal titles (the customer's short name comes first).
DEAL_TOPICS = ("数字化升级项目", "年度采购", "客户管理系统建设", "设备更新项目", "系统集成项目",
               "扩容采购", "培训服务采购", "运维外包服务", "数据平台建设", "二期项目")
#: Next steps of open deals.
NEXT_STEPS = ("安排产品演示", "发送正式报价", "约见决策人", "提交技术方案", "商务谈判",
              "等待客户内部审批", "安排试用", "准备投标文件", "确认采购预算")

#: Activity kind -> subjects ({account} and {contact} are filled in).
ACTIVITY_SUBJECTS = {
    "call": ("电话回访{contact}", "电话沟通需求：{account}", "确认报价反馈", "跟进付款进度"),
    "visit": ("上门拜访{account}", "拜访{contact}，介绍新产品", "现场调研需求", "节日拜访"),
    "meeting": ("产品演示会议", "方案评审会议", "商务谈判会议", "季度业务回顾"),
    "task": ("准备报价单", "整理客户需求文档", "提交合同审批", "更新客户资料"),
}
#: Outcomes of finished visits, calls and meetings.
OUTCOMES = ("客户对方案感兴趣，约定下周演示。", "已确认预算和采购时间，准备报价。",
            "客户反馈价格偏高，需要申请折扣。", "决策人出差，改期再约。",
            "客户满意当前服务，有扩容意向。", "客户提出新需求，需技术评估。",
            "已发送合同草稿，等待法务意见。", "电话未接通，稍后再联系。",
            "客户正在比较竞品，需要重点跟进。", "回款已确认，客户关系良好。")

#: Service case type -> subjects.
CASE_SUBJECTS = {
    "inquiry": ("咨询产品升级方案", "咨询发票开具问题", "咨询账号权限设置", "咨询数据导入方法"),
    "complaint": ("系统响应缓慢", "交付延期投诉", "实施人员服务态度", "发票金额有误"),
    "return_visit": ("季度满意度回访", "项目验收后回访", "续约前回访", "新功能使用回访"),
}
#: Resolutions of resolved cases.
RESOLUTIONS = ("已远程协助解决。", "已安排工程师上门处理。", "已提供操作手册并培训。",
               "已重新开具发票。", "已升级至二线支持并修复。", "客户确认问题已解决。")

#: Campaign channel -> name patterns ({year} and {city} are filled in).
CAMPAIGN_NAMES = {
    "web_form": "{year} 官网留资活动", "search_ads": "{year} 搜索推广（{city}）",
    "social": "{year} 微信视频号推广", "fair": "{year} 中国国际工业博览会（{city}）",
    "referral": "{year} 老客户推荐有礼", "cold_call": "{year} 电话开发专项",
    "partner": "{year} 渠道伙伴联合推广", "email": "{year} 邮件营销季",
    "other": "{year} 行业沙龙（{city}）",
}
#: Channels with their weights among customers and leads.
CHANNELS = (("web_form", 20), ("search_ads", 15), ("social", 12), ("fair", 14), ("referral", 14),
            ("cold_call", 10), ("partner", 9), ("email", 4), ("other", 2))

#: The products of the demo catalogue: (code, name, category, unit, list price in CNY).
PRODUCTS = (
    ("CRM-STD", "云 CRM 标准版", "subscription", "seat_year", 1200),
    ("CRM-PRO", "云 CRM 专业版", "subscription", "seat_year", 2400),
    ("CRM-ENT", "云 CRM 旗舰版", "subscription", "seat_year", 4800),
    ("SCRM-WX", "企业微信 SCRM 模块", "subscription", "seat_year", 900),
    ("BI-STD", "商业智能分析平台", "software", "set", 68000),
    ("BI-ADV", "商业智能分析平台（高级版）", "software", "set", 158000),
    ("ERP-FIN", "ERP 财务模块", "software", "set", 98000),
    ("ERP-SCM", "ERP 供应链模块", "software", "set", 128000),
    ("ERP-MFG", "ERP 生产制造模块", "software", "set", 188000),
    ("HR-CORE", "人力资源管理系统", "software", "set", 56000),
    ("OA-STD", "协同办公平台", "software", "set", 36000),
    ("DMS-STD", "经销商管理系统", "software", "set", 88000),
    ("MES-STD", "制造执行系统 MES", "software", "set", 260000),
    ("WMS-STD", "仓储管理系统 WMS", "software", "set", 120000),
    ("API-GW", "API 网关", "software", "set", 45000),
    ("DATA-LAKE", "数据中台", "software", "set", 380000),
    ("SEC-AUDIT", "数据安全审计系统", "software", "set", 75000),
    ("MOB-APP", "移动应用开发平台", "software", "set", 52000),
    ("SRV-1U", "机架式服务器 1U", "hardware", "piece", 28000),
    ("SRV-2U", "机架式服务器 2U", "hardware", "piece", 46000),
    ("STO-NAS", "企业级存储 NAS", "hardware", "piece", 39000),
    ("NET-SW48", "千兆交换机 48 口", "hardware", "piece", 8600),
    ("NET-FW", "下一代防火墙", "hardware", "piece", 32000),
    ("PAD-IND", "工业平板终端", "hardware", "piece", 4200),
    ("SCAN-PDA", "手持扫码终端 PDA", "hardware", "piece", 2600),
    ("PRN-LBL", "标签打印机", "hardware", "piece", 3100),
    ("KIOSK-01", "自助服务终端", "hardware", "piece", 15800),
    ("CAM-AI", "AI 视觉检测相机", "hardware", "piece", 21000),
    ("IMPL-STD", "标准实施服务", "service", "person_day", 2500),
    ("IMPL-SR", "高级顾问实施服务", "service", "person_day", 4500),
    ("DEV-CUST", "定制开发服务", "service", "person_day", 3200),
    ("MIG-DATA", "数据迁移服务", "service", "person_day", 2800),
    ("INT-SYS", "系统集成服务", "service", "person_day", 3600),
    ("CONS-BPR", "业务流程咨询", "service", "person_day", 6000),
    ("CONS-DIG", "数字化转型咨询", "service", "person_day", 8000),
    ("TRN-USER", "最终用户培训", "training", "person_day", 2000),
    ("TRN-ADMIN", "系统管理员培训", "training", "person_day", 3000),
    ("TRN-ONLINE", "在线学习平台账号", "training", "seat_year", 600),
    ("TRN-CERT", "认证工程师课程", "training", "set", 9800),
    ("MNT-STD", "标准维保服务", "maintenance", "year", 18000),
    ("MNT-GOLD", "金牌维保服务", "maintenance", "year", 36000),
    ("MNT-PLAT", "白金维保服务（7×24）", "maintenance", "year", 68000),
    ("MNT-HW", "硬件延保服务", "maintenance", "year", 6800),
    ("MNT-ONSITE", "驻场运维服务", "maintenance", "year", 240000),
    ("CLOUD-S", "私有云资源包（小）", "subscription", "year", 36000),
    ("CLOUD-M", "私有云资源包（中）", "subscription", "year", 72000),
    ("CLOUD-L", "私有云资源包（大）", "subscription", "year", 150000),
    ("SMS-PACK", "短信服务包（10 万条）", "subscription", "set", 4500),
    ("AI-ASSIST", "AI 销售助手", "subscription", "seat_year", 1500),
    ("CC-SEAT", "云呼叫中心坐席", "subscription", "seat_year", 2200),
)

#: The demo's sales team: (username, display name, e-mail local part).
SALES_PEOPLE = (
    ("sales1", "张伟", "zhang.wei"), ("sales2", "王芳", "wang.fang"), ("sales3", "李娜", "li.na"),
    ("sales4", "刘洋", "liu.yang"), ("sales5", "陈静", "chen.jing"), ("sales6", "杨磊", "yang.lei"),
    ("sales7", "赵敏", "zhao.min"), ("sales8", "黄涛", "huang.tao"),
)
#: Other demo users: (username, display name, e-mail local part).
OTHER_USERS = (("admin", "系统管理员", "admin"), ("manager", "周建华", "zhou.jianhua"),
               ("service1", "吴晓明", "wu.xiaoming"))
