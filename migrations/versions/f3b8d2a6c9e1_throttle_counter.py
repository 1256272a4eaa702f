"""Throttling counted in the database: one row per rate-limit window, shared by every worker.

Revision ID: f3b8d2a6c9e1
Revises: f4a6c8e0b2d1
Create Date: 2026-12-07 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f3b8d2a6c9e1"
down_revision = "f4a6c8e0b2d1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "throttle_counter",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counter")),
    )


def downgrade():
    op.drop_table("throttle_counter")
