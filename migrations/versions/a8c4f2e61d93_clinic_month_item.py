"""The clinic's month per item (clinic_month_item): the statement's item table, kept as visits are written.

Recording a visit adds its lines to the row of (month, clinic, item code, name,
unit); voiding it takes them off, in the same transaction.  The month close
then reads a few hundred rows per month instead of joining the month's lines
(2.3 per visit) to their visits.  The table is filled here from the lines
already recorded, one set-based INSERT … SELECT.

Revision ID: a8c4f2e61d93
Revises: a3f8c2d61e07
Create Date: 2026-11-29 08:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a8c4f2e61d93"
down_revision = "a3f8c2d61e07"
branch_labels = None
depends_on = None

# The non-voided lines, summed per month, clinic and item as printed (also
# bench/generate.py's fill after COPY).
BACKFILL = """
INSERT INTO clinic_month_item (month, clinic_id, item_code, item_name, unit, quantity, amount, lines)
SELECT v.month, v.clinic_id, l.item_code, l.item_name, l.unit,
       SUM(l.quantity), SUM(l.amount), COUNT(*)
FROM visit_line l JOIN visit v ON v.id = l.visit_id
WHERE v.voided_at IS NULL
GROUP BY v.month, v.clinic_id, l.item_code, l.item_name, l.unit
"""


def upgrade():
    op.create_table(
        "clinic_month_item",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=30), nullable=False),
        sa.Column("item_name", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_clinic_month_item_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint(
            "month", "clinic_id", "item_code", "item_name", "unit",
            name=op.f("pk_clinic_month_item"),
        ),
    )
    op.execute(BACKFILL)


def downgrade():
    op.drop_table("clinic_month_item")
