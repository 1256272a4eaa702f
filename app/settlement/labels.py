"""The one table of the settlement's words: figure labels, status and action names.

Pages, PDFs and the CSV/XLSX exports all take their labels from here, so a
figure is called the same on screen, on paper and in a spreadsheet.  Each
label is written once, in English, and translated by Flask-Babel (Simplified
Chinese by default).  The printed documents and the exports are always in
Chinese (SPEC §5), so they read the labels under :data:`DOCUMENT_LOCALE`;
:mod:`reports` imports no Flask and receives them as plain strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.ledger import FIGURE_FIELDS, FIGURE_TERMS
from app.settlement.rules import RETURNED, Action, Status
from app.web.glossary import term_name

DOCUMENT_LOCALE = "zh"

STATUS_LABELS = {
    Status.OPEN.value: _l("Open"),
    Status.SUBMITTED.value: _l("Submitted"),
    Status.REVIEWED.value: _l("Reviewed"),
    Status.PAID.value: _l("Paid"),
    # Shown, not stored: an open statement whose last step was a return.
    RETURNED: _l("Returned"),
}
# What happened to a statement, in its history.
ACTION_LABELS = {
    Action.SUBMIT.value: _l("Submitted"),
    Action.REVIEW.value: _l("Reviewed"),
    Action.RETURN.value: _l("Returned"),
    Action.PAY.value: _l("Paid"),
    Action.PULL_BACK.value: _l("Pulled back"),
}
# The figures' names are the glossary's (app.glossary), the one table of the
# programme's terms, so a figure has the same name on every page and paper.
FIGURE_LABELS = {name: term_name(FIGURE_TERMS[name]) for name in FIGURE_FIELDS}
assert tuple(FIGURE_LABELS) == FIGURE_FIELDS


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return status if label is None else str(label)


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return action if label is None else str(label)


def figure_labels() -> dict[str, str]:
    """Every figure's label as plain text in the current locale, in figure order."""
    return {name: str(label) for name, label in FIGURE_LABELS.items()}


@contextmanager
def document_locale() -> Iterator[None]:
    """Labels read inside are in the documents' language, whoever asked for them."""
    with force_locale(DOCUMENT_LOCALE):
        yield
