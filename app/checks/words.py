"""The checks at recording in words: one translated message per rule, keyed by its code.

Pages (the terminal, the receipt, the reviewer's statement) say a check by its
rule code through this table, never by the API's English message; the facts
the rule fired on fill the message in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.checks.labels import figure_label
from app.checks.rules import Figure, Rule, Severity
from app.money import format_quantity

RULE_NAMES = {
    Rule.QUANTITY_OVER_MAX: _l("Quantity over the maximum"),
    Rule.FREQUENT_VISITS: _l("Frequent visits"),
    Rule.SPLIT_VISIT: _l("Split visit"),
    Rule.EARLY_REFILL: _l("Early refill"),
    Rule.INJECTION_WITHOUT_INJECTABLE: _l("Injection without an injectable"),
    Rule.INJECTABLE_WITHOUT_INJECTION: _l("Injectable without an injection"),
    Rule.UNSUITED_ITEM: _l("Item not suited to the patient"),
    Rule.LATE_ENTRY: _l("Late entry"),
    Rule.NO_DIAGNOSIS: _l("No diagnosis"),
    Rule.OFF_INDICATION: _l("Drug outside its indications"),
    Rule.UNSUITED_DIAGNOSIS: _l("Diagnosis not suited to the patient"),
}

SEVERITY_NAMES = {
    Severity.WARN: _l("Warning"),
    Severity.BLOCK: _l("Blocked"),
}


def check_message(rule: str, facts: Mapping[str, str] | str, item: str = "") -> str:
    """The check in the user's language (Chinese by default), with its facts."""
    f = dict(json.loads(facts) if isinstance(facts, str) else facts)
    match Rule(rule):
        case Rule.QUANTITY_OVER_MAX:
            return gettext(
                "%(item)s: quantity %(quantity)s is over the maximum of %(maximum)s per visit",
                item=item,
                quantity=format_quantity(int(f["quantity"])),
                maximum=format_quantity(int(f["maximum"])),
            )
        case Rule.FREQUENT_VISITS:
            return gettext(
                "Visit %(visits)s of this patient in %(days)s days, at any clinic "
                "(more than %(maximum)s)",
                visits=f["visits"],
                days=f["days"],
                maximum=f["maximum"],
            )
        case Rule.SPLIT_VISIT:
            return gettext("The patient was already seen at this clinic today (split visit)")
        case Rule.EARLY_REFILL:
            return gettext(
                "%(item)s: the last supply lasts until %(until)s (%(days)s day(s) left)",
                item=item,
                until=f["until"],
                days=f["days_left"],
            )
        case Rule.INJECTION_WITHOUT_INJECTABLE:
            return gettext("An injection fee without an injectable item")
        case Rule.INJECTABLE_WITHOUT_INJECTION:
            return gettext("%(item)s: an injectable item without an injection", item=item)
        case Rule.UNSUITED_ITEM:
            if "item_sex" in f:
                sex = gettext("women") if f["item_sex"] == "F" else gettext("men")
                return gettext("%(item)s: for %(sex)s only", item=item, sex=sex)
            if "min_age" in f:
                return gettext(
                    "%(item)s: the patient is %(age)s, under the minimum age %(limit)s",
                    item=item,
                    age=f["age"],
                    limit=f["min_age"],
                )
            return gettext(
                "%(item)s: the patient is %(age)s, over the maximum age %(limit)s",
                item=item,
                age=f["age"],
                limit=f["max_age"],
            )
        case Rule.LATE_ENTRY:
            return gettext(
                "Recorded %(hours)s hours after the visit (the limit is %(limit)s)",
                hours=f["hours"],
                limit=f["limit"],
            )
        case Rule.NO_DIAGNOSIS:
            return gettext("The visit has no diagnosis")
        case Rule.OFF_INDICATION:
            return gettext(
                "%(item)s: indicated for %(indications)s, not for the diagnoses %(diagnoses)s",
                item=item,
                indications=f["indications"],
                diagnoses=f["diagnoses"],
            )
        case Rule.UNSUITED_DIAGNOSIS:
            if "diagnosis_sex" in f:
                sex = gettext("women") if f["diagnosis_sex"] == "F" else gettext("men")
                return gettext("Diagnosis %(code)s: for %(sex)s only", code=f["code"], sex=sex)
            if "min_age" in f:
                return gettext(
                    "Diagnosis %(code)s: the patient is %(age)s, under the age %(limit)s",
                    code=f["code"],
                    age=f["age"],
                    limit=f["min_age"],
                )
            return gettext(
                "Diagnosis %(code)s: the patient is %(age)s, over the age %(limit)s",
                code=f["code"],
                age=f["age"],
                limit=f["max_age"],
            )
    return rule  # pragma: no cover (every rule is said above)


# --- what the system decided, as a statement's history shows it ------------------------

# The stored reason of a statement the system moved (SubmitDecision.reason): the rule,
# its policy version and its inputs, e.g. "credit_first policy v1: clean_months:3,no_flags".
_DECISION_PREFIX = "credit_first policy "


def _decision_input(code: str) -> str:
    name, _sep, value = code.partition(":")
    match name:
        case "clean_months":
            return gettext("%(n)s clean months in a row (no return, no disallowance)", n=value)
        case "no_flags":
            return gettext("no risk flag this month")
        case "history_short":
            return gettext("only %(n)s months of history", n=value)
        case "corrected":
            return gettext("%(month)s was returned or had a disallowance", month=value)
        case "flagged":
            # A diagnosis-mix flag names its code: "flagged:diagnosis_prevalence:I64.x00".
            figure, _sep, diagnosis = value.partition(":")
            if figure not in set(Figure):  # a reason cut at its stored length
                return code
            label = figure_label(figure)
            return gettext(
                "risk flag: %(figure)s", figure=f"{diagnosis} {label}" if diagnosis else label
            )
        case "review_off":
            return gettext("credit-first review is off")
    return code


def decision_words(reason: str) -> str:
    """A history line's reason in words: the system's decisions read as sentences."""
    if not reason.startswith(_DECISION_PREFIX) or ": " not in reason:
        return reason
    version, _sep, codes = reason[len(_DECISION_PREFIX) :].partition(": ")
    inputs = "；".join(_decision_input(c) for c in codes.split(",") if c)
    return gettext(
        "Credit-first review (policy version %(version)s): %(inputs)s",
        version=version,
        inputs=inputs,
    )
