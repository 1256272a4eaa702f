"""The daily close (日结): one row per clinic and day, with the figures at closing.

Revision ID: e5d1c0a9b8f7
Revises: 7a1c0e5b9f3d
Create Date: 2026-11-29 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e5d1c0a9b8f7"
down_revision = "7a1c0e5b9f3d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "day_close",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("voided", sa.Integer(), nullable=False),
        sa.Column("registration", sa.Integer(), nullable=False),
        sa.Column("injection_fee", sa.Integer(), nullable=False),
        sa.Column("patient_share", sa.Integer(), nullable=False),
        sa.Column("cash", sa.Integer(), nullable=False),
        sa.Column("fund", sa.Integer(), nullable=False),
        sa.Column("fiscal", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_day_close_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["user_account.id"],
            name=op.f("fk_day_close_closed_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_close")),
        sa.UniqueConstraint("clinic_id", "day", name=op.f("uq_day_close_clinic_id_day")),
    )


def downgrade():
    op.drop_table("day_close")
