"""Shapes of the settlement API, in and out (SPEC §6).

Requests (load: shape only): bodies are strict (unknown keys refused), money
arrives as a yuan string and becomes int fen through :class:`app.fields.Yuan`,
and the month in a path is checked here — ``YYYY-MM`` in ASCII digits,
2000-01 to 2099-12 — so a bad month is a 422 naming ``month``.  Meaning — is
a reason required, is the amount the amount due, is the date in the future —
is checked by :mod:`app.settlement.rules`, which names the failing field.

Responses are dumped from the query views (:class:`StatementView`,
:class:`DistrictSummary`) by these schemas only: counts as integers, money as
two-decimal yuan strings, times in Asia/Shanghai; the same schemas produce the
OpenAPI document, so what is documented is what is sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

from app.fields import Quantity, StrictSchema, Text, Yuan
from app.ledger import FIGURES
from app.localtime import local
from app.settlement.rules import MAX_REASON, MAX_REFERENCE, Action, Status

# ASCII digits only (``\d`` would take full-width ones); the length check also
# refuses the trailing newline that ``$`` lets through.
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
MONTH_ERROR = "must be a month YYYY-MM between 2000-01 and 2099-12"
STATUSES = [s.value for s in Status]


def _month() -> fields.String:
    return fields.String(
        required=True,
        validate=[
            validate.Length(equal=7, error=MONTH_ERROR),
            validate.Regexp(MONTH_PATTERN, error=MONTH_ERROR),
        ],
        metadata={"example": "2026-09"},
    )


# --- requests ------------------------------------------------------------------------


class StatementPathSchema(StrictSchema):
    clinic = fields.String(required=True, metadata={"description": "clinic code"})
    month = _month()


class SummaryPathSchema(StrictSchema):
    code = fields.String(required=True, metadata={"description": "district code"})
    month = _month()


class ReasonSchema(StrictSchema):
    reason = Text(load_default="", validate=validate.Length(max=MAX_REASON))


class FindingPathSchema(StatementPathSchema):
    visit_id = fields.Integer(required=True, metadata={"description": "a visit on the worklist"})


class FindingSchema(StrictSchema):
    """A reviewer's finding on one worklist visit (issue 11 §3)."""

    finding = fields.String(required=True, validate=validate.OneOf(["accepted", "disallowed"]))
    reason = Text(load_default="", validate=validate.Length(max=MAX_REASON))
    amount = Yuan(
        load_default=None,
        metadata={"description": "disallowed only: yuan taken off (default: the visit's backstop)"},
    )


class WorkItemSchema(Schema):
    """One visit on a statement's review worklist, and its finding (null until made)."""

    visit_id = fields.Integer(required=True)
    receipt_number = fields.String(required=True, attribute="visit.receipt_number")
    total = Yuan(required=True, attribute="visit.total")
    fiscal = Yuan(required=True, attribute="visit.fiscal")
    why = fields.String(required=True, metadata={"description": "e.g. rule:late_entry,random"})
    finding = fields.String(required=True, allow_none=True)
    amount = Yuan(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)


class PaymentSchema(StrictSchema):
    paid_on = fields.Date(required=True, metadata={"description": "YYYY-MM-DD"})
    reference = Text(required=True, validate=validate.Length(max=MAX_REFERENCE))
    amount = Yuan(required=True, metadata={"description": "the backstop due, in yuan"})


class BatchPaymentSchema(PaymentSchema):
    count = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "the number of reviewed clinics being paid"},
    )
    amount = Yuan(
        required=True, metadata={"description": "the sum of the backstop due of them all, in yuan"}
    )


# --- responses -------------------------------------------------------------------------


class ViewSchema(Schema):
    """Dumps an object; a dotted attribute through a ``None`` (no payment yet) is ``null``."""

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        for name in attr.split("."):
            if obj is None:
                return None
            obj = getattr(obj, name, default)
        return obj


class LocalDateTime(fields.DateTime):
    """An aware moment written in Asia/Shanghai time with its offset (``…+08:00``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else local(value).isoformat()


class StatementFiguresSchema(ViewSchema):
    """A statement's figures (SPEC §6): counts as integers, money as yuan strings.

    One field per declared figure (:data:`app.ledger.FIGURES`), in its order.
    """


_FIGURE_DESCRIPTIONS = {"fiscal": "the district backstop due"}
# marshmallow collects a schema's fields when its class is made: the figures are
# added to this one's before any schema derives from it.
StatementFiguresSchema._declared_fields.update(
    {
        figure.name: (fields.Integer if figure.is_count else Yuan)(
            required=True,
            metadata=(
                {"description": _FIGURE_DESCRIPTIONS[figure.name]}
                if figure.name in _FIGURE_DESCRIPTIONS
                else {}
            ),
        )
        for figure in FIGURES
    }
)


class StatementDaySchema(StatementFiguresSchema):
    """One date's figures, dumped from a ``(date, Figures)`` pair of a statement's days."""

    date = fields.Date(required=True)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        day, figures = obj
        return day if attr == "date" else getattr(figures, attr, default)


class StatementItemSchema(ViewSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    quantity = Quantity(required=True)
    amount = Yuan(required=True)


class StatementHistorySchema(ViewSchema):
    action = fields.String(required=True, metadata={"enum": [a.value for a in Action]})
    from_status = fields.String(required=True, data_key="from", metadata={"enum": STATUSES})
    to_status = fields.String(required=True, data_key="to", metadata={"enum": STATUSES})
    actor = fields.String(required=True)
    at = LocalDateTime(required=True)
    reason = fields.String(required=True)


class PaymentRecordSchema(ViewSchema):
    paid_on = fields.Date(required=True)
    reference = fields.String(required=True)
    amount = Yuan(required=True)


class AdjustmentSchema(ViewSchema):
    """A line that changes the backstop after the fund's real payment (SPEC §7)."""

    receipt_number = fields.String(required=True)
    belongs_to = fields.String(required=True, metadata={"description": "the visit's month"})
    source = fields.String(required=True, metadata={"enum": ["fund", "review"]})
    outcome = fields.String(required=True)
    reason = fields.String(required=True)
    fund_computed = Yuan(required=True, metadata={"description": "the fund share computed here"})
    fund_paid = Yuan(required=True, metadata={"description": "what the fund really paid"})
    amount = Yuan(
        required=True,
        allow_negative=True,
        metadata={"description": "+ the district owes the clinic more, − less"},
    )


class StatementChecksSchema(ViewSchema):
    """The month's checks at recording: how many visits were recorded with a warning."""

    warned = fields.Integer(
        required=True, metadata={"description": "unvoided visits recorded with a warning"}
    )
    by_rule = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "unvoided visits per rule that warned, e.g. late_entry"},
    )


class StatementSchema(ViewSchema):
    """A clinic's month: status, figures, days, items, history, payment and adjustments."""

    clinic = fields.String(required=True, attribute="clinic.code")
    name = fields.String(required=True, attribute="clinic.name")
    month = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    figures = fields.Nested(StatementFiguresSchema, required=True)
    days = fields.List(fields.Nested(StatementDaySchema), required=True)
    items = fields.List(fields.Nested(StatementItemSchema), required=True)
    history = fields.List(fields.Nested(StatementHistorySchema), required=True)
    payment = fields.Nested(PaymentRecordSchema, attribute="paid", required=True, allow_none=True)
    adjustments = fields.List(fields.Nested(AdjustmentSchema), required=True)
    checks = fields.Nested(StatementChecksSchema, required=True)
    adjustment_total = Yuan(required=True, allow_negative=True)
    fund_adjustment = Yuan(
        required=True,
        allow_negative=True,
        metadata={
            "description": "医保对账调整: the fund reconciliation's part of adjustment_total"
        },
    )
    review_deduction = Yuan(
        required=True,
        allow_negative=True,
        metadata={"description": "审核核减: the reviewers' disallowances (negative)"},
    )
    backstop_due = Yuan(
        required=True,
        allow_negative=True,
        metadata={"description": "figures.fiscal + adjustment_total: what finance pays"},
    )


class SummaryRowSchema(ViewSchema):
    clinic = fields.String(required=True, attribute="clinic.code")
    name = fields.String(required=True, attribute="clinic.name")
    town = fields.String(required=True, attribute="clinic.village.town.name")
    status = fields.String(required=True, metadata={"enum": STATUSES})
    figures = fields.Nested(StatementFiguresSchema, required=True)
    adjustments = Yuan(required=True, allow_negative=True, attribute="adjustment_total")
    fund_adjustment = Yuan(required=True, allow_negative=True)
    review_deduction = Yuan(required=True, allow_negative=True)
    backstop_due = Yuan(required=True, allow_negative=True)
    paid = Yuan(required=True, allow_none=True, attribute="paid.amount")
    paid_on = fields.Date(required=True, allow_none=True, attribute="paid.paid_on")
    reference = fields.String(required=True, allow_none=True, attribute="paid.reference")


class SummaryTotalsSchema(StatementFiguresSchema):
    """The sums of the rows, and what has been paid; dumped from the summary."""

    paid = Yuan(required=True)
    adjustments = Yuan(required=True, allow_negative=True)
    fund_adjustment = Yuan(required=True, allow_negative=True)
    review_deduction = Yuan(required=True, allow_negative=True)
    backstop_due = Yuan(required=True, allow_negative=True)

    # What the summary itself knows, not its figures: paid, adjustments, due.
    OWN: ClassVar[dict[str, str]] = {
        "paid": "paid",
        "adjustments": "adjustment_total",
        "fund_adjustment": "fund_adjustment",
        "review_deduction": "review_deduction",
        "backstop_due": "backstop_due",
    }

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr in self.OWN:
            return getattr(obj, self.OWN[attr])
        return getattr(obj.totals, attr, default)


class ReadyToPaySchema(Schema):
    """The reviewed clinics, which one batch payment pays; dumped from the summary."""

    clinics = fields.Integer(required=True)
    amount = Yuan(required=True)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        return len(obj.payable) if attr == "clinics" else obj.payable_amount


class StatusCountsSchema(Schema):
    """How many clinics of the summary are in each state; dumped from the summary."""

    open = fields.Integer(required=True)
    submitted = fields.Integer(required=True)
    reviewed = fields.Integer(required=True)
    paid = fields.Integer(required=True)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        return obj.count(attr)


class DistrictSummarySchema(ViewSchema):
    """A district's (or town's) month: a row per clinic, totals, what is still owed."""

    district = fields.String(required=True, attribute="district.code")
    name = fields.String(required=True, attribute="district.name")
    town = fields.String(required=True, allow_none=True, attribute="town.code")
    month = fields.String(required=True)
    rows = fields.List(fields.Nested(SummaryRowSchema), required=True, attribute="lines")
    totals = fields.Nested(SummaryTotalsSchema, required=True)
    outstanding = Yuan(
        required=True,
        allow_negative=True,
        metadata={"description": "backstop due (adjustments included) not yet paid"},
    )
    ready_to_pay = fields.Nested(ReadyToPaySchema, required=True)
    statuses = fields.Nested(StatusCountsSchema, required=True)

    # Totals, the payable batch and the counts are groups of the summary itself.
    WHOLE = frozenset({"totals", "ready_to_pay", "statuses"})

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        return obj if attr in self.WHOLE else super().get_attribute(obj, attr, default)
