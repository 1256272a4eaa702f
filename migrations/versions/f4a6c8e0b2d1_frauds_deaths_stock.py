"""Issue 26: residents' date of death (and, further down, the drug stock tables).

* ``resident.died_on`` (nullable) with ``ck_resident_died_after_birth``;
* ``visit_disowned``: a resident's "not me" about one of his visits, pointing at
  ``(visit_id, visit_month)`` like every table that points at a visit.

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


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("died_on", sa.Date(), nullable=True))
        batch.create_check_constraint(
            "died_after_birth", "died_on IS NULL OR died_on >= birth_date"
        )
    op.create_table(
        "visit_disowned",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("visit_month", sa.String(length=7), nullable=False),
        sa.Column("via_visit_id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id", "visit_month"],
            ["visit.id", "visit.month"],
            name=op.f("fk_visit_disowned_visit_id_visit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_disowned")),
        sa.UniqueConstraint(
            "visit_id", "visit_month", name=op.f("uq_visit_disowned_visit_id_visit_month")
        ),
    )


def downgrade():
    op.drop_table("visit_disowned")
    with op.batch_alter_table("resident") as batch:
        batch.drop_constraint("died_after_birth", type_="check")
        batch.drop_column("died_on")
