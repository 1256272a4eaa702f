"""One patient answer per receipt: earlier duplicates dropped (the latest kept), then unique.

Revision ID: a4c6e8f0b2d4
Revises: f3b8d2a6c9e1
Create Date: 2026-12-07 23:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "a4c6e8f0b2d4"
down_revision = "f3b8d2a6c9e1"
branch_labels = None
depends_on = None


def upgrade():
    # Each stored answer is also in the audit chain, so nothing is lost here.
    op.execute(
        "DELETE FROM receipt_feedback WHERE id NOT IN ("
        " SELECT max(id) FROM receipt_feedback GROUP BY visit_id, visit_month)"
    )
    with op.batch_alter_table("receipt_feedback", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_receipt_feedback_visit", ["visit_id", "visit_month"]
        )


def downgrade():
    with op.batch_alter_table("receipt_feedback", schema=None) as batch_op:
        batch_op.drop_constraint("uq_receipt_feedback_visit", type_="unique")
