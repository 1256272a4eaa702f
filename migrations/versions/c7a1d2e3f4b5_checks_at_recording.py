"""Checks at recording (事前审核): catalogue columns, policy [checks], visit_check.

The catalogue's columns the checks read (all nullable: an item without them is
not checked), the policy version's [checks] settings as JSON text (part of
the version), the hits stored with each visit, and an index to read a
person's recent visits in one range scan.

Revision ID: c7a1d2e3f4b5
Revises: 4d2f94d4eafd
Create Date: 2026-11-29 05:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c7a1d2e3f4b5"
down_revision = "4d2f94d4eafd"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("catalog_item") as batch:
        batch.add_column(sa.Column("max_per_visit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("units_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("injectable", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("sex", sa.String(length=1), nullable=True))
        batch.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_age", sa.Integer(), nullable=True))
        batch.create_check_constraint("sex_known", "sex IS NULL OR sex IN ('M', 'F')")
    with op.batch_alter_table("policy_version") as batch:
        batch.add_column(sa.Column("checks", sa.Text(), nullable=True))
    op.create_table(
        "visit_check",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=5), nullable=False),
        sa.Column("subject", sa.String(length=30), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("policy_version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_version.id"],
            name=op.f("fk_visit_check_policy_version_id_policy_version"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_visit_check_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_check")),
    )
    op.create_index(op.f("ix_visit_check_visit_id"), "visit_check", ["visit_id"], unique=False)
    op.create_index(
        "ix_visit_patient_date", "visit", ["patient_id_number", "visit_date"], unique=False
    )


def downgrade():
    op.drop_index("ix_visit_patient_date", table_name="visit")
    op.drop_index(op.f("ix_visit_check_visit_id"), table_name="visit_check")
    op.drop_table("visit_check")
    with op.batch_alter_table("policy_version") as batch:
        batch.drop_column("checks")
    with op.batch_alter_table("catalog_item") as batch:
        batch.drop_constraint(batch.f("ck_catalog_item_sex_known"), type_="check")
        batch.drop_column("max_age")
        batch.drop_column("min_age")
        batch.drop_column("sex")
        batch.drop_column("injectable")
        batch.drop_column("units_per_day")
        batch.drop_column("max_per_visit")
