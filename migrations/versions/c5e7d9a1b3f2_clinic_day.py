"""The clinic's day (clinic_day): the statement's figures per clinic and day, kept as visits are written.

Recording a visit adds its figures to the row of (month, clinic, day); voiding
it takes them off, in the same transaction.  The month close then reads a
clinic's ≤ 31 rows instead of grouping the month's visits (a city's million).
The table is filled here from the visits already recorded, one set-based
INSERT … SELECT.

Revision ID: c5e7d9a1b3f2
Revises: a8c4f2e61d93
Create Date: 2026-11-29 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c5e7d9a1b3f2"
down_revision = "a8c4f2e61d93"
branch_labels = None
depends_on = None

# The non-voided visits, summed per month, clinic and day as the statement
# prints them (also bench/generate.py's fill after COPY).
BACKFILL = """
INSERT INTO clinic_day (month, clinic_id, visit_date, visits, programme_visits, injections,
                        total, in_scope, fund, fiscal, registration, injection, copay,
                        self_pay, patient)
SELECT month, clinic_id, visit_date, COUNT(*),
       SUM(CASE WHEN programme THEN 1 ELSE 0 END), SUM(CASE WHEN injection THEN 1 ELSE 0 END),
       SUM(total), SUM(in_scope), SUM(fund), SUM(fiscal), SUM(registration),
       SUM(injection_fee), SUM(copay), SUM(self_pay), SUM(patient)
FROM visit
WHERE voided_at IS NULL
GROUP BY month, clinic_id, visit_date
"""
MONEY = ("total", "in_scope", "fund", "fiscal", "registration", "injection", "copay",
         "self_pay", "patient")


def upgrade():
    op.create_table(
        "clinic_day",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("programme_visits", sa.Integer(), nullable=False),
        sa.Column("injections", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in MONEY),
        sa.CheckConstraint("total = patient + fund + fiscal", name=op.f("ck_clinic_day_identity")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_clinic_day_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("month", "clinic_id", "visit_date", name=op.f("pk_clinic_day")),
    )
    op.execute(BACKFILL)


def downgrade():
    op.drop_table("clinic_day")
