"""Diagnosis-mix flags: a clinic flag may be about one diagnosis code (issue 19 §5, 26 §3).

``clinic_flag.diagnosis`` holds the code of a per-diagnosis flag (share of the
visits, prevalence per 1,000 residents) and is NULL for the clinic-month's other
figures; a clinic-month has one row per figure and diagnosis.

Revision ID: a7d3f9c1b5e2
Revises: c21d4e6f8a10
Create Date: 2026-12-08 00:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a7d3f9c1b5e2"
down_revision = "c21d4e6f8a10"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clinic_flag") as batch:
        batch.add_column(sa.Column("diagnosis", sa.String(length=20), nullable=True))
        batch.drop_constraint("uq_clinic_flag_clinic_id_month_figure", type_="unique")
        batch.create_unique_constraint(
            "uq_clinic_flag_clinic_id_month_figure_diagnosis",
            ["clinic_id", "month", "figure", "diagnosis"],
        )


def downgrade():
    op.execute("DELETE FROM clinic_flag WHERE diagnosis IS NOT NULL")
    with op.batch_alter_table("clinic_flag") as batch:
        batch.drop_constraint("uq_clinic_flag_clinic_id_month_figure_diagnosis", type_="unique")
        batch.create_unique_constraint(
            "uq_clinic_flag_clinic_id_month_figure", ["clinic_id", "month", "figure"]
        )
        batch.drop_column("diagnosis")
