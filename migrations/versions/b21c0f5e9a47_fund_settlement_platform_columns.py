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
    with op.batch_alter_table("policy_version") as batch:
        batch.drop_column("settlement_date_tolerance_days")
    with op.batch_alter_table("fund_finding") as batch:
        batch.drop_column("matched_by")
    with op.batch_alter_table("fund_settlement") as batch:
        batch.drop_index("ix_fund_settlement_own_number")
        for name in reversed(_MONEY):
            batch.drop_column(name)
        for name, _length in reversed(_TEXT):
            batch.drop_column(name)
