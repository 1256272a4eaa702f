"""The programme's one glossary: complete, unambiguous, and the names every figure goes by."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from babel.messages.pofile import read_po

from app.glossary import TERMS, Group, zh
from app.settlement.rules import FIGURE_FIELDS

# Words the screens and papers used for one figure before there was a glossary
# (issue 10 item 11): none may come back as a term's name.
OLD_VARIANTS = ("患者共付", "患者自付（共付）", "非项目", "项目内费用", "项目内人次", "患者自费")

# The terms the district's documents speak of (issue 10, "One glossary").
REQUIRED = {
    "total": "医疗总费用",
    "consultation_fee": "一般诊疗费",
    "registration": "挂号费",
    "injection": "注射费",
    "catalogue_drug": "目录内药品",
    "non_catalogue_drug": "目录外药品",
    "other_service": "其他服务项目",
    "fund": "医保基金支付",
    "fiscal": "区财政兜底",
    "copay": "个人自付",
    "self_pay": "全自费",
    "patient": "个人负担",
    "non_programme": "非一元看病",
    "void": "作废",
    "daily_close": "日结",
    "statement": "月结算单",
    "review": "审核",
    "return": "退回",
    "payment": "拨付",
    "reconciliation": "对账",
    "check_at_recording": "事前审核提示",
    "risk_flag": "风险提示",
    "credit_first": "信用优先",
}

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_term_has_both_names_and_a_definition_in_each_language() -> None:
    for key, term in TERMS.items():
        assert term.key == key
        assert isinstance(term.group, Group)
        assert HAN.search(term.zh) and not re.search(r"[A-Za-z]", term.zh), key
        assert term.en and not HAN.search(term.en), key
        # One sentence each: Chinese ends with 。 and has no other full stop.
        assert term.definition_zh.endswith("。") and term.definition_zh.count("。") == 1, key
        assert not HAN.search(term.definition_en) and term.definition_en.endswith("."), key
        assert term.name("zh") == term.zh and term.name("en") == term.en
        assert term.definition("en") == term.definition_en


def test_names_are_unique_in_each_language() -> None:
    for language in ("zh", "en"):
        names = [term.name(language) for term in TERMS.values()]
        assert len(names) == len(set(names)), language


def test_the_documents_terms_are_there_with_their_names() -> None:
    assert {key: zh(key) for key in REQUIRED} == REQUIRED


def test_every_statement_figure_is_a_term() -> None:
    assert set(FIGURE_FIELDS) <= set(TERMS)


def test_co_payment_and_self_pay_cannot_be_mistaken_for_each_other() -> None:
    # Issue 10 item 11: 自付 and 自费 side by side were easy to confuse.
    copay, self_pay = zh("copay"), zh("self_pay")
    assert copay[0] != self_pay[0] and len(copay) != len(self_pay)
    assert "自付" in copay and "自费" in self_pay


def test_no_old_variant_is_a_name() -> None:
    for term in TERMS.values():
        assert not any(old in term.zh for old in OLD_VARIANTS), term.key


def test_the_areas_catalogs_agree_on_every_shared_message() -> None:
    # Flask-Babel merges the areas' catalogs, the later overriding the earlier: a
    # message two areas translate differently shows one area's words on the other's
    # pages (the receipt check's button once read 审核提示, settlement's "Check").
    root = Path(__file__).resolve().parents[2]
    words: dict[str, dict[str, str]] = defaultdict(dict)
    for po in sorted(root.glob("app/*/translations/zh/LC_MESSAGES/messages.po")):
        with po.open("rb") as f:
            for message in read_po(f):
                if message.id and isinstance(message.id, str):
                    words[message.id][po.parts[-5]] = str(message.string)
    clashes = {msgid: by_area for msgid, by_area in words.items() if len(set(by_area.values())) > 1}
    assert clashes == {}
