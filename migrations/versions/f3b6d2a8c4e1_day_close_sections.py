"""The daily close (日结) may close a day more than once: ``seq`` numbers its closes.

Each close keeps the figures of its own section of the day — what was entered
(or voided) since the close before — so a printed sheet stays true when later
entries arrive and are closed on their own.  The existing closes become the
first of their day.

Revision ID: f3b6d2a8c4e1
Revises: a6c4e2f0b8d1
Create Date: 2026-12-07 23:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f3b6d2a8c4e1"
down_revision = "a6c4e2f0b8d1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("day_close", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="1"))
        batch_op.drop_constraint(op.f("uq_day_close_clinic_id_day"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_day_close_clinic_id_day_seq"), ["clinic_id", "day", "seq"]
        )
        batch_op.create_check_constraint(op.f("ck_day_close_seq_positive"), "seq >= 1")


def downgrade():
    # Only a day's first close fits the old one-close-per-day table.
    op.execute("DELETE FROM day_close WHERE seq > 1")
    with op.batch_alter_table("day_close", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_day_close_seq_positive"), type_="check")
        batch_op.drop_constraint(op.f("uq_day_close_clinic_id_day_seq"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_day_close_clinic_id_day"), ["clinic_id", "day"])
        batch_op.drop_column("seq")
