"""Monthly statements per clinic and their transition history.

The rows are defined in :mod:`app.periods.models`, below both visits and
settlement, because the clinic-month row is the lock that recording a visit
and moving a statement both take; settlement names them here as its own.
"""

from app.periods.models import STATUSES, Statement, StatementEvent

__all__ = ["STATUSES", "Statement", "StatementEvent"]
