"""The programme's one glossary: every term's name, in Chinese and English, and what it means.

Guarantees:

* a figure or step has ONE name wherever it is shown — pages, printed PDFs,
  CSV/XLSX headers — because each of them takes the name from :data:`TERMS`
  (the area label tables wrap it for the user's language; :mod:`reports` reads
  it directly, since printed documents are always in Chinese);
* every term has a Chinese name, an English name and a one-sentence definition
  in each language, and no two terms share a name (a unit test checks);
* the wording follows the district health bureau's and the medical insurance
  settlement documents' usage: 个人自付 is the patient's share of costs inside
  the policy scope that the fund did not pay, 全自费 the items outside it
  (other services, drugs outside the catalogue) that the patient pays in full —
  two words a clerk cannot mistake for each other.

This module is pure data: it imports nothing from the app or any framework, so
rules, reports and pages can all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Group(StrEnum):
    MONEY = "money"
    ITEMS = "items"
    VISITS = "visits"
    PROCESS = "process"


GROUP_NAMES = {
    Group.MONEY: ("费用与分担", "Costs and who pays them"),
    Group.ITEMS: ("收费项目", "Charged items"),
    Group.VISITS: ("就诊", "Visits"),
    Group.PROCESS: ("结算与审核", "Settlement and review"),
}


@dataclass(frozen=True, slots=True)
class Term:
    key: str
    group: Group
    zh: str
    en: str
    definition_zh: str
    definition_en: str

    def name(self, language: str) -> str:
        return self.en if language == "en" else self.zh

    def definition(self, language: str) -> str:
        return self.definition_en if language == "en" else self.definition_zh


_TERMS = (
    # --- what a visit costs and who pays it (the keys are the figures' field names) ---
    Term(
        "total",
        Group.MONEY,
        "医疗总费用",
        "Total medical costs",
        "本次就诊（或本期）全部收费项目金额加挂号费、注射费的合计，"
        "等于个人负担、医保基金支付与区财政兜底三者之和。",
        "All charged items plus the registration and injection fees; it equals "
        "what the patient pays plus the fund's payment plus the district backstop.",
    ),
    Term(
        "in_scope",
        Group.MONEY,
        "政策范围内费用",
        "Costs within the policy scope",
        "一般诊疗费与目录内药品、材料的费用，先由医保基金支付，余下部分由区财政兜底（非一元看病由个人自付）。",
        "The general consultation fee and catalogue drugs and materials: the fund pays "
        "first, the district pays the rest (for a visit outside the programme, the patient).",
    ),
    Term(
        "fund",
        Group.MONEY,
        "医保基金支付",
        "Insurance fund payment",
        "城乡居民或职工医保统筹基金按起付线、支付比例和封顶线，对政策范围内费用支付的金额。",
        "What the insurance pooling fund pays of the costs within the policy scope, "
        "by its deductible, payment ratio and caps.",
    ),
    Term(
        "fiscal",
        Group.MONEY,
        "区财政兜底",
        "District backstop",
        "一元看病中政策范围内费用医保基金未支付的部分，由区财政补助，按月凭结算单拨付给卫生站。",
        "For a one-yuan visit, the part of the costs within the policy scope that the fund "
        "does not pay; the district treasury pays it to the clinic monthly, by statement.",
    ),
    Term(
        "registration",
        Group.MONEY,
        "挂号费",
        "Registration fee",
        "一元看病患者每次就诊缴纳的 1 元，是“一元看病”的那一元。",
        "The 1 yuan a one-yuan patient pays for every visit.",
    ),
    Term(
        "injection",
        Group.MONEY,
        "注射费",
        "Injection fee",
        "一元看病就诊含注射时，患者另缴的 1 元。",
        "The extra 1 yuan a one-yuan patient pays when the visit includes an injection.",
    ),
    Term(
        "copay",
        Group.MONEY,
        "个人自付",
        "Patient co-payment",
        "政策范围内费用中医保基金未支付、由患者负担的部分；一元看病由区财政兜底，个人自付为 0。",
        "The part of the costs within the policy scope the fund does not pay and the patient "
        "does; zero for a one-yuan visit, whose rest the district pays.",
    ),
    Term(
        "self_pay",
        Group.MONEY,
        "全自费",
        "Self-pay items",
        "其他服务项目与目录外药品的费用，医保和区财政都不支付，由患者按核定价格全额负担。",
        "Other medical services and drugs outside the catalogue: neither the fund nor the "
        "district pays them, the patient pays them in full at the approved price.",
    ),
    Term(
        "patient_share",
        Group.MONEY,
        "个人自付及全自费",
        "Co-payment and self-pay items",
        "个人自付与全自费之和，即患者除挂号费、注射费以外为药品和诊疗支付的费用。",
        "Co-payment and self-pay items together: what the patient pays for drugs and "
        "treatment, besides the registration and injection fees.",
    ),
    Term(
        "patient",
        Group.MONEY,
        "个人负担",
        "Paid by the patient",
        "患者本次应付的现金：挂号费、注射费、个人自付与全自费之和。",
        "The cash the patient pays: registration and injection fees, co-payment and "
        "self-pay items together.",
    ),
    # --- what is charged ---
    Term(
        "consultation_fee",
        Group.ITEMS,
        "一般诊疗费",
        "General consultation fee",
        "村卫生站每次就诊收取的诊查、护理等综合服务费，属政策范围内费用。",
        "The clinic's fee for the consultation and basic care of a visit; it is within the "
        "policy scope.",
    ),
    Term(
        "catalogue_drug",
        Group.ITEMS,
        "目录内药品",
        "Catalogue drugs",
        "列入基本医疗保险药品目录的甲类、乙类药品，属政策范围内费用。",
        "Drugs of class A and B in the basic medical insurance catalogue; they are within "
        "the policy scope.",
    ),
    Term(
        "non_catalogue_drug",
        Group.ITEMS,
        "目录外药品",
        "Drugs outside the catalogue",
        "未列入医保药品目录的药品（丙类），属全自费。",
        "Drugs not in the insurance catalogue (class C); the patient pays them in full.",
    ),
    Term(
        "other_service",
        Group.ITEMS,
        "其他服务项目",
        "Other medical services",
        "一般诊疗费以外的医疗服务项目（如换药），按物价部门核定价格收取，属全自费。",
        "Medical services other than the consultation fee (a dressing change, say), charged at "
        "the price bureau's approved price; the patient pays them in full.",
    ),
    # --- visits ---
    Term(
        "visits",
        Group.VISITS,
        "就诊人次",
        "Visits",
        "登记的就诊次数，不含已作废的就诊。",
        "The number of visits recorded, voided ones left out.",
    ),
    Term(
        "programme_visits",
        Group.VISITS,
        "一元看病人次",
        "One-yuan visits",
        "符合一元看病条件的就诊次数。",
        "The number of visits that qualified for the one-yuan programme.",
    ),
    Term(
        "injections",
        Group.VISITS,
        "注射人次",
        "Injections",
        "含注射的就诊次数。",
        "The number of visits with an injection.",
    ),
    Term(
        "programme",
        Group.VISITS,
        "一元看病",
        "One-yuan visit",
        "户籍在本区行政村、医保有效的居民在参加项目的村卫生站就诊，"
        "只付 1 元挂号费（注射另付 1 元）。",
        "A resident of one of the district's administrative villages, insured, seen at a "
        "participating clinic: pays 1 yuan (plus 1 yuan for an injection).",
    ),
    Term(
        "non_programme",
        Group.VISITS,
        "非一元看病",
        "Not a one-yuan visit",
        "不符合一元看病条件的就诊（如社区或外区户籍、未参保），不收挂号费、注射费，"
        "区财政不兜底，医保按规定支付，其余由患者负担。",
        "A visit that does not qualify (community or out-of-district hukou, not insured): no "
        "1-yuan fees, no district backstop; the fund pays by its rules, the patient the rest.",
    ),
    Term(
        "receipt",
        Group.VISITS,
        "收据",
        "Receipt",
        "每次就诊打印给患者的门诊收费收据，列明收费项目和各方分担金额，收据号按卫生站和年度连续编号。",
        "The outpatient receipt printed for the patient at every visit, listing the items and "
        "who pays what; its number runs without gaps per clinic and year.",
    ),
    Term(
        "void",
        Group.VISITS,
        "作废",
        "Void",
        "结算月提交前注明原因作废一次就诊；记录保留，但不再计入日结、结算单和医保额度。",
        "Cancelling a visit, with a reason, while its month is open; it stays on record but "
        "no longer counts in the daily close, the statement or the fund's limits.",
    ),
    Term(
        "daily_close",
        Group.VISITS,
        "日结",
        "Daily close",
        "卫生站每天营业结束时核对当天收取的现金和作废记录，打印日结单并签字。",
        "At the end of each day the clinic checks the cash collected and the voids, and prints "
        "and signs the daily close sheet.",
    ),
    Term(
        "cash",
        Group.VISITS,
        "应收现金",
        "Cash to hold",
        "当天有效就诊个人负担的合计，即卫生站当天应收、日结时应核对的现金。",
        "The day's valid visits' patient payments together: the cash the clinic should "
        "hold at the daily close.",
    ),
    Term(
        "check_at_recording",
        Group.VISITS,
        "事前审核提示",
        "Check at recording",
        "登记就诊时按规则（超量、频繁就诊等）给出的提示；提示须填写说明后保存，拦截则不能保存。",
        "A rule checked while the visit is entered (quantity over the maximum, frequent "
        "visits...): a warning needs a note before saving, a block refuses the visit.",
    ),
    # --- the month ---
    Term(
        "statement",
        Group.PROCESS,
        "月结算单",
        "Monthly statement",
        "卫生站按月汇总就诊人次和各项费用的单据，经提交、审核后，区财政局据此拨付兜底资金。",
        "A clinic's visits and costs for one month; once submitted and reviewed, the finance "
        "bureau pays the backstop from it.",
    ),
    Term(
        "submit",
        Group.PROCESS,
        "提交",
        "Submit",
        "卫生站核对月结算单后提交审核；提交后该月就诊不能再登记或作废。",
        "The clinic sends its checked monthly statement for review; the month's visits are "
        "then frozen.",
    ),
    Term(
        "review",
        Group.PROCESS,
        "审核",
        "Review",
        "镇卫生院或区卫健局核查已提交的结算单及审核清单上的就诊，通过后方可拨付。",
        "The town health centre or district health bureau checks a submitted statement and "
        "the visits on its worklist; only a reviewed statement is paid.",
    ),
    Term(
        "return",
        Group.PROCESS,
        "退回",
        "Return",
        "审核人注明原因把结算单退回卫生站修改，修改后重新提交。",
        "The reviewer sends a statement back to the clinic with a reason; the clinic "
        "corrects it and submits again.",
    ),
    Term(
        "payment",
        Group.PROCESS,
        "拨付",
        "Payment",
        "区财政局按已审核结算单的应付兜底金额向卫生站转账，并登记拨付日期和凭证号。",
        "The finance bureau transfers a reviewed statement's backstop due to the clinic and "
        "records the date and reference.",
    ),
    Term(
        "reconciliation",
        Group.PROCESS,
        "对账",
        "Fund reconciliation",
        "将医保平台的实际结算明细与本系统计算的医保基金支付逐笔核对，差额调整区财政兜底。",
        "Comparing the insurance platform's settlement of each visit with the fund payment "
        "computed here; differences adjust the district backstop.",
    ),
    Term(
        "fund_adjustment",
        Group.PROCESS,
        "医保对账调整",
        "Fund reconciliation adjustment",
        "医保平台实际结算与本系统计算的医保基金支付之差，逐笔计入区财政兜底：医保少付则兜底增加，多付则减少。",
        "The difference between what the insurance platform settled and the fund payment "
        "computed here, visit by visit; it raises the backstop where the fund paid less.",
    ),
    Term(
        "review_deduction",
        Group.PROCESS,
        "审核核减",
        "Review disallowance",
        "审核人对审核清单上的就诊不予认可、从区财政兜底中扣减的金额，以负数计。",
        "What the reviewer disallows of the backstop of visits on the worklist, counted as "
        "a negative amount.",
    ),
    Term(
        "backstop_due",
        Group.PROCESS,
        "应付兜底",
        "Backstop due",
        "区财政兜底加医保对账调整、减审核核减后的金额，即区财政局应拨付给卫生站的金额。",
        "The district backstop plus the fund reconciliation adjustments, less the review "
        "disallowances: what the finance bureau pays the clinic.",
    ),
    Term(
        "risk_flag",
        Group.PROCESS,
        "风险提示",
        "Risk flag",
        "某卫生站本月的指标（如次均费用、注射率）明显偏离全区同类卫生站时给出的提示，供审核时重点核查。",
        "A clinic whose month stands far out from the district's other clinics on a figure "
        "(cost per visit, injection rate...), to be looked at closely in review.",
    ),
    Term(
        "credit_first",
        Group.PROCESS,
        "信用优先",
        "Credit-first review",
        "记录良好且无风险提示的卫生站，其结算单提交后由系统自动审核，其他卫生站仍由人工审核。",
        "A clinic with a clean record and no risk flag has its statement reviewed by the "
        "system on submission; the others are reviewed by a person.",
    ),
)

TERMS: dict[str, Term] = {term.key: term for term in _TERMS}


def term(key: str) -> Term:
    return TERMS[key]


def zh(key: str) -> str:
    """A term's Chinese name: the printed documents' and the exports' word for it."""
    return TERMS[key].zh
