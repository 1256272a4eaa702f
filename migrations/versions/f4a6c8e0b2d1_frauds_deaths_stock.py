"""Issue 26: residents' date of death (and, further down, the drug stock tables).

* ``resident.died_on`` (nullable) with ``ck_resident_died_after_birth``.

Revision ID: f4a6c8e0b2d1
Revises: d8f1a3c5e7b9
Create Date: 2026-12-07 23:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "f4a6c8e0b2d1"
down_revision = "d8f1a3c5e7b9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("died_on", sa.Date(), nullable=True))
        batch.create_check_constraint(
            "died_after_birth", "died_on IS NULL OR died_on >= birth_date"
        )


def downgrade():
    with op.batch_alter_table("resident") as batch:
        batch.drop_constraint("died_after_birth", type_="check")
        batch.drop_column("died_on")
