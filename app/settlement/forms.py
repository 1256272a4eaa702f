"""The settlement pages' forms (Flask-WTF): the only way a page form is read.

Forms check shape only — a date is a date, an amount is yuan with at most two
decimals, a count is a whole number — and hand typed values (int fen, a
``date``) to the operations, whose rules check meaning and name the failing
field.  A form that does not load becomes an :class:`~app.errors.InvalidInput`
naming its first bad field with a stable code, so the page words it from
:mod:`app.web.messages` like any other refusal.  The CSRF token is
checked here too, with the same token the pages already render.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp

from app.errors import InvalidInput, Problem, ProblemCode
from app.localtime import parse_typed_day
from app.money import MoneyFormatError, parse_yuan
from app.settlement.rules import FIGURE_FIELDS
from app.settlement.schemas import MONTH_PATTERN

# The code a field's shape error carries (pages word it by code).
SHAPE_CODES = {"amount": ProblemCode.BAD_AMOUNT, "paid_on": ProblemCode.BAD_DATE}


class YuanField(StringField):
    """A yuan amount as typed (``123.45``, ``¥123.45``) → int fen; refused, never rounded."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = (valuelist[0] if valuelist else "").strip().lstrip("¥")
        try:
            self.data = parse_yuan(text)
        except MoneyFormatError as exc:
            self.data = None
            raise ValueError(str(exc)) from None


class DayField(StringField):
    """A day typed into a text box (no browser date picker): ``2026-11-29``,
    ``2026/11/29`` or ``20261129`` → a ``date``; anything else is refused."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        self.data = parse_typed_day(text)
        if not text:
            raise ValueError("required")
        if self.data is None:
            raise ValueError("not a date such as 2026-11-29")


class ReasonForm(FlaskForm):
    """Review (optional note) or return (reason required by the rules)."""

    reason = StringField(default="")
    back = HiddenField()


class PaymentForm(FlaskForm):
    paid_on = DayField(validators=[InputRequired()])
    reference = StringField(default="")
    amount = YuanField(validators=[InputRequired()])
    back = HiddenField()


class BatchPaymentForm(PaymentForm):
    count = IntegerField(validators=[InputRequired(), NumberRange(min=1)])


class FindingForm(FlaskForm):
    """A reviewer's finding on one worklist visit; the amount only when disallowing."""

    finding = StringField(validators=[InputRequired()])
    reason = StringField(default="")
    amount = YuanField(validators=[Optional()])


class SubmitForm(FlaskForm):
    """The figures the doctor confirmed, sent back as hidden fields."""


for _name in FIGURE_FIELDS:
    setattr(SubmitForm, _name, IntegerField(validators=[InputRequired()]))


class SummaryQueryForm(FlaskForm):
    """The board's and finance page's query: month picker, district, sort (GET: no CSRF).

    Every value is optional: an empty month is the month being settled, an
    empty district the user's own, an unknown sort the clinic code.
    """

    class Meta:
        csrf = False

    month = StringField(validators=[Optional(), Regexp(MONTH_PATTERN)])
    district = StringField()
    sort = StringField()
    dir = StringField()


def loaded(form: FlaskForm) -> FlaskForm:
    """``form`` if it loads; otherwise an :class:`InvalidInput` naming its first bad field."""
    if form.validate():
        return form
    field: Field
    for field in form:
        if field.errors:
            message = str(field.errors[0])
            typed = field.raw_data[0] if field.raw_data else ""
            blank = not (typed.strip() if isinstance(typed, str) else typed)
            code = (
                ProblemCode.REQUIRED if blank else SHAPE_CODES.get(field.name, ProblemCode.REQUIRED)
            )
            raise InvalidInput(Problem(field.name, message, code))
    raise InvalidInput(Problem("_", "the form could not be read", ProblemCode.REQUIRED))
