"""Oversight settings live in the policy version: checks → oversight; no oversight_setting.

Issue 11: every rule, threshold and switch is part of the district's versioned
policy.  ``policy_version.checks`` (the [checks] table as JSON) becomes
``policy_version.oversight``, which also holds [flags], [review] and
[auto_submit]; the old JSON reads unchanged (absent parts are off).  The
``oversight_setting`` table (review on/off, auto-submit day, set by a command
outside the policy) is dropped: a district turns them on by loading a policy
version.  Its rows are not carried over; the downgrade recreates it empty.

Revision ID: a3f8c2d61e07
Revises: e5d1c0a9b8f7
Create Date: 2026-11-29 08:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a3f8c2d61e07"
down_revision = "e5d1c0a9b8f7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("policy_version") as batch:
        batch.alter_column("checks", new_column_name="oversight", existing_type=sa.Text())
    op.drop_table("oversight_setting")


def downgrade():
    op.create_table(
        "oversight_setting",
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("review", sa.Boolean(), nullable=False),
        sa.Column("auto_submit_day", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "auto_submit_day IS NULL OR auto_submit_day BETWEEN 1 AND 28",
            name=op.f("ck_oversight_setting_day_in_month"),
        ),
        sa.ForeignKeyConstraint(
            ["district_code"],
            ["district.code"],
            name=op.f("fk_oversight_setting_district_code_district"),
        ),
        sa.PrimaryKeyConstraint("district_code", name=op.f("pk_oversight_setting")),
    )
    with op.batch_alter_table("policy_version") as batch:
        batch.alter_column("oversight", new_column_name="checks", existing_type=sa.Text())
