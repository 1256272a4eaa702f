"""The platform's fuller settlement columns, how a finding matched, and the date tolerance.

Issue 21: the monthly file is matched the way the fund keys it and a
difference is explained from the platform's own columns; the date tolerance
of the last-resort match (ID number, date, amount) is a policy setting.

Revision ID: b21c0f5e9a47
Revises: f1b3d5a7c9e2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b21c0f5e9a47"
down_revision = "f1b3d5a7c9e2"
branch_labels = None
depends_on = None

_TEXT = (
    ("medins_setl_id", 40),
    ("psn_no", 30),
    ("insutype", 6),
    ("med_type", 6),
    ("refd_setl_flag", 1),
)
_MONEY = (
    "acct_pay",
    "psn_part_amt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
)


def upgrade() -> None:
    with op.batch_alter_table("fund_settlement") as batch:
        for name, length in _TEXT:
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
        for name in _MONEY:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_fund_settlement_own_number", ["insurance_code", "medins_setl_id"])
    with op.batch_alter_table("fund_finding") as batch:
        batch.add_column(sa.Column("matched_by", sa.String(20), nullable=False, server_default=""))
    with op.batch_alter_table("policy_version") as batch:
        batch.add_column(
            sa.Column(
                "settlement_date_tolerance_days",
                sa.Integer(),
                nullable=False,
                server_default="1",
            )
        )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch rebuild would drop
    # and recreate policy_version, which the visits' foreign keys point at.
    op.drop_index("ix_fund_settlement_own_number", table_name="fund_settlement")
    dropped = {
        "policy_version": ["settlement_date_tolerance_days"],
        "fund_finding": ["matched_by"],
        "fund_settlement": [*reversed(_MONEY), *(name for name, _ in reversed(_TEXT))],
    }
    for table, columns in dropped.items():
        for column in columns:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
