"""The platform's pre-settlement (2206) fund of each settlement, beside the expected one.

Revision ID: f1b3d5a7c9e2
Revises: e5a7c9d2e4f6
Create Date: 2026-12-08 00:10:00

"""

from alembic import op

revision = "f1b3d5a7c9e2"
down_revision = "e5a7c9d2e4f6"
branch_labels = None
depends_on = None


def upgrade():
    # insurance_settlement is not partitioned: a plain nullable column on both databases.
    op.execute("ALTER TABLE insurance_settlement ADD COLUMN pre_fund INTEGER")


def downgrade():
    op.execute("ALTER TABLE insurance_settlement DROP COLUMN pre_fund")
