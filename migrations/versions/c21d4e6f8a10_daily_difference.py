"""Daily reconciliation's differences (issue 21: 3201 / 3202 with 9101 / 9102).

Revision ID: c21d4e6f8a10
Revises: b21c0f5e9a47
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)

revision = "c21d4e6f8a10"
down_revision = "b21c0f5e9a47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_difference",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("mdtrt_id", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("refd_setl_flag", sa.String(1), nullable=False),
        sa.Column("memo", sa.String(100), nullable=False),
        sa.Column("medfee", sa.Integer(), nullable=False),
        sa.Column("fund", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("found_at", UTC, nullable=False),
        sa.Column("changed_at", UTC, nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_difference")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_daily_difference_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["user_account.id"],
            name=op.f("fk_daily_difference_changed_by_id_user_account"),
        ),
        sa.UniqueConstraint(
            "clinic_id",
            "day",
            "setl_id",
            "negative",
            name=op.f("uq_daily_difference_clinic_id_day_setl_id_negative"),
        ),
    )
    op.create_index("ix_daily_difference_day", "daily_difference", ["day", "status"])


def downgrade() -> None:
    op.drop_index("ix_daily_difference_day", "daily_difference")
    op.drop_table("daily_difference")
