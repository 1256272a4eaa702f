"""The public verification page's forms (Flask-WTF: CSRF and values checked on the server)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp


class CodeForm(FlaskForm):
    code = StringField(_l("Code on the receipt"), validators=[InputRequired(), Length(max=20)])


class FeedbackForm(FlaskForm):
    asked_more = RadioField(
        _l("Were you asked to pay more than this?"),
        choices=[SelectChoice("no", _l("No")), SelectChoice("yes", _l("Yes"))],
        validators=[InputRequired()],
    )
    said_paid = StringField(
        _l("How much did you pay? (yuan, optional)"),
        validators=[
            Optional(),
            Regexp(r"^\d{1,6}(\.\d{1,2})?$", message=_l("Enter yuan, e.g. 5 or 5.50.")),
        ],
    )


class OwnVisitsForm(FlaskForm):
    id_tail = StringField(
        _l("Last six characters of your ID number"),
        validators=[
            InputRequired(message=_l("Enter the last six characters of your ID number.")),
            Regexp(
                r"^\s*\d{5}[\dXx]\s*$",
                message=_l("Six characters: five digits, then a digit or X."),
            ),
        ],
    )


class NotMeForm(FlaskForm):
    """ "我没有在这天看病": the button alone (its CSRF token is the form)."""
