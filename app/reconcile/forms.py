"""The finance clerk's upload form (Flask-WTF: CSRF, file and month checked on the server)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Regexp

from app.localtime import parse_typed_month

MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"


class SettlementUploadForm(FlaskForm):
    # A text box (no browser month picker): 2026-10, 2026/10 and 202610 all mean October.
    month = StringField(
        _l("Month settled"),
        filters=[lambda v: (parse_typed_month(v) or v.strip()) if isinstance(v, str) else v],
        validators=[
            InputRequired(_l("Enter a month as 2026-10.")),
            Regexp(MONTH, message=_l("Enter a month as 2026-10.")),
        ],
    )
    file = FileField(
        _l("Settlement detail file"),
        validators=[
            FileRequired(_l("Choose the file from the insurance platform.")),
            FileAllowed(["csv", "xlsx"], _l("A CSV or XLSX file.")),
        ],
    )
    # Two buttons: check first (nothing written), or import.
    preview = SubmitField(_l("Preview (nothing is written)"))
    submit = SubmitField(_l("Import and reconcile"))
