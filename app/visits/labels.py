"""The one table of words for the visit figures and the codes a visit shows.

Pages, the terminal script and the receipt take their labels from here, so
"Insurance fund" is written once.  Statement status names belong to the
settlement area and are not repeated here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.visits.receipts import REASON_WORDS

# The figures of a visit (and of a day's close), by the Split / Visit column they show.
FIGURES = {
    "total": _l("Total"),
    "patient": _l("Patient pays"),
    "registration": _l("registration"),
    "injection": _l("injection"),
    "copay": _l("co-payment"),
    "self_pay": _l("self-pay items"),
    "fund": _l("Insurance fund"),
    "fiscal": _l("District backstop"),
    "registration_fee": _l("Registration fee"),
    "injection_fee": _l("Injection fee"),
    "cash": _l("Cash you should hold"),
}

REASONS = REASON_WORDS
INSURANCE = {
    "resident": _l("Urban and rural residents' insurance"),
    "employee": _l("Employees' insurance"),
    "none": _l("Not insured"),
}
VILLAGE_KIND = {"village": _l("administrative village"), "community": _l("urban community")}
INSURANCE_CLASS = {"A": _l("Class A"), "B": _l("Class B"), "C": _l("Class C (self-pay)")}
KIND = {
    "diagnosis": _l("Diagnosis"),
    "drug": _l("Drug"),
    "service": _l("Service"),
    "material": _l("Material"),
}


def labels() -> dict[str, dict[str, object]]:
    """Every table, as templates read them (``labels.figures.fund``)."""
    return {
        "figures": FIGURES,
        "reasons": REASONS,
        "insurance": INSURANCE,
        "village_kind": VILLAGE_KIND,
        "insurance_class": INSURANCE_CLASS,
        "kind": KIND,
    }
