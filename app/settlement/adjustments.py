"""Words for adjustment lines — their source, outcome and reason — keyed by their codes.

A statement's adjustment lines come from the fund reconciliation (SPEC §7),
from reviewers' findings and from the platform's real-time settlements; pages,
PDFs and spreadsheets all take their words from here (translated with
Flask-Babel), never from the codes' English spelling.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

SOURCES: dict[str, LazyString] = {
    "fund": _l("Fund reconciliation"),
    "review": _l("Review finding"),
    "platform": _l("Insurance platform settlement"),
}

OUTCOMES: dict[str, LazyString] = {
    "matched": _l("Matched"),
    "different": _l("Different fund amount"),
    "unknown": _l("Settled by the fund, not recorded here"),
    "not_settled": _l("Recorded here, not settled by the fund"),
    "duplicate": _l("Settled twice"),
}

REASONS: dict[str, LazyString] = {
    "equal": _l("Equal"),
    "price_difference": _l("The fund priced the visit differently"),
    "insurance_lapsed": _l("Not insured on the platform"),
    "deductible_difference": _l("Deductible counted differently"),
    "cap_or_ratio_difference": _l("Cap or ratio applied differently"),
    "never_settled": _l("Never settled"),
    "reversed": _l("Settlement reversed"),
    "duplicate_settlement": _l("Duplicate settlement"),
    "no_such_receipt": _l("No such receipt number here"),
    "unknown_clinic": _l("Not a clinic of this district"),
    "id_mismatch": _l("ID number differs"),
    "date_mismatch": _l("Date differs"),
    "voided_here": _l("Voided here"),
    "disallowed": _l("Disallowed by the reviewer"),
    # Why the platform's real-time settlement differs (app.insurance.rules).
    "price_ceiling": _l("Above the platform's price ceiling"),
    "self_pay_item": _l("Fully self-paid on the platform"),
    "selfpay_ratio": _l("The platform's self-pay ratio differs"),
    "cap_or_fund_ratio": _l("Cap or ratio applied differently"),
    # Read from the monthly file's fuller columns (app.reconcile.rules, issue 21).
    "refund_flag": _l("Refunded at the platform (refund flag)"),
    "over_ceiling": _l("Above the fund's ceiling (overlmt_selfpay)"),
    "self_pay_part": _l("The item's self-pay ratio (fulamt_ownpay_amt / preselfpay_amt)"),
    "medical_assistance": _l("Medical assistance paid a part (maf_pay)"),
}


def source_label(code: str) -> str:
    return str(SOURCES.get(code, code))


def outcome_label(code: str) -> str:
    return str(OUTCOMES.get(code, code))


def reason_label(code: str) -> str:
    return str(REASONS.get(code, code))
