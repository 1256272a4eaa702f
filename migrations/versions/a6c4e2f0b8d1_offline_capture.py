"""Visits captured offline: the capture time and the terminal's local code.

Revision ID: a6c4e2f0b8d1
Revises: d8f1a3c5e7b9
Create Date: 2026-12-07 23:00:00

``visit.captured_at`` is when the doctor saved the visit at a terminal that could
not reach the server (the visit waited in the browser's queue until it could);
the late-entry check measures from it rather than from ``recorded_at``, so the
queue's time never makes a visit late.  ``visit.offline_code`` is the code on
the provisional slip the patient took home, printed on the official receipt so
the two can be matched.  Both are empty for a visit recorded online.

Plain ``ADD COLUMN`` of nullable columns: on PostgreSQL the partitioned ``visit``
passes them to every month's partition; on SQLite no table is rebuilt (a batch
rebuild would drop the lines-total triggers).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a6c4e2f0b8d1"
down_revision = "d8f1a3c5e7b9"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("visit", sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("visit", sa.Column("offline_code", sa.String(length=40), nullable=True))


def downgrade():
    # SQLite (3.35+) and PostgreSQL both drop a column in place.
    op.execute("ALTER TABLE visit DROP COLUMN offline_code")
    op.execute("ALTER TABLE visit DROP COLUMN captured_at")
