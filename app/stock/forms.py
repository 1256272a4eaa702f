"""The stock page's form (Flask-WTF): a count of one item at the end of a day."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Optional


class StockTakeForm(FlaskForm):
    item = StringField(_l("Item code"), validators=[InputRequired(), Length(max=30)])
    taken_on = StringField(_l("Counted on"), validators=[InputRequired(), Length(max=12)])
    counted = StringField(_l("Quantity on the shelf"), validators=[InputRequired(), Length(max=12)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
