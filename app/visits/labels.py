"""The one table of words for the visit figures and the codes a visit shows.

Pages, the terminal script and the receipt take their labels from here; the
figures' names are the programme glossary's (:mod:`app.glossary`), so
"医保基金支付" is written once for pages, PDFs and exports alike.  Statement
status names belong to the settlement area and are not repeated here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.visits.receipts import REASON_WORDS
from app.web.glossary import term_name

# The figures of a visit (and of a day's close), by the Split / Visit column they show.
# The figures of a visit (and of a day's close), by the Split / Visit column they
# show: the glossary's names (app.glossary), the same as on the statements.
FIGURES = {
    "total": term_name("total"),
    "patient": term_name("patient"),
    "registration": term_name("registration"),
    "injection": term_name("injection"),
    "copay": term_name("copay"),
    "self_pay": term_name("self_pay"),
    "fund": term_name("fund"),
    "fiscal": term_name("fiscal"),
    "registration_fee": term_name("registration"),
    "injection_fee": term_name("injection"),
    "patient_share": term_name("patient_share"),
    "cash": term_name("cash"),
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
    "consultation": _l("Consultation"),
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
