"""The terminal's page forms (Flask-WTF): what a posted form may carry, read one way.

The forms read and tidy the posted text (strip, length caps, the repeated
``item``/``quantity`` inputs of the line table); they judge nothing.  What the
values mean — a valid ID number, a known item, a reason to void — is checked by
the visit operations, whose problems the pages show in the doctor's words
(:mod:`app.visits.messages`).  CSRF is checked by the app's CSRFProtect for
every page post, so these forms do not check it a second time.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, StringField


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _cap(n: int) -> Any:
    def cap(value: Any) -> Any:
        return value[:n] if isinstance(value, str) else value

    return cap


class Repeated(Field):
    """An input that appears once per table row (``name="item"`` on every line)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = [v.strip() for v in valuelist]

    def _value(self) -> str:
        return ""


class Checkbox(BooleanField):
    """Ticked only by the values a checkbox sends ("1", "on", "true"), not by any text."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = bool(valuelist) and valuelist[0] in ("1", "on", "true")


class _Form(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect already checked the post


class NewVisitForm(_Form):
    token = HiddenField(filters=[_strip, _cap(100)])
    id_number = StringField(
        filters=[_strip, lambda v: v.replace(" ", "") if isinstance(v, str) else v, _cap(30)]
    )
    injection = Checkbox()
    visited_at = StringField(filters=[_strip, _cap(20)])
    warning_reason = StringField(filters=[_strip, _cap(200)])
    q = StringField(filters=[_strip, _cap(50)])
    item = Repeated()
    quantity = Repeated()
    diagnosis = Repeated()  # the chosen codes, the main one first
    dq = StringField(filters=[_strip, _cap(50)])  # the diagnosis search
    add = StringField(filters=[_strip])
    remove = StringField(filters=[_strip])
    add_diagnosis = StringField(filters=[_strip, _cap(20)])
    remove_diagnosis = StringField(filters=[_strip])
    action = StringField(filters=[_strip])


class VoidForm(_Form):
    reason = StringField(filters=[_strip])


class RegisterForm(_Form):
    """The register's search, posted (an ID number never goes in a URL)."""

    date_from = StringField(filters=[_strip, _cap(10)])
    date_to = StringField(filters=[_strip, _cap(10)])
    patient = StringField(
        filters=[_strip, lambda v: v.replace(" ", "") if isinstance(v, str) else v, _cap(30)]
    )
    receipt = StringField(filters=[_strip, _cap(40)])
    status = StringField(filters=[_strip, _cap(10)])
    clinic = StringField(filters=[_strip, _cap(20)])
    page = StringField(filters=[_strip, _cap(6)])


class CloseDayForm(_Form):
    day = StringField(filters=[_strip, _cap(10)])
