"""Oversight: peer flags, the review worklist, district switches, system-moved statements.

Revision ID: 7a1c0e5b9f3d
Revises: 1b7281bbf996
Create Date: 2026-11-29 05:10:00

A statement event's actor may now be NULL: the system moved it (a
credit-first review, an automatic submission); its reason names the rule.
"""
from alembic import op
import sqlalchemy as sa


revision = "7a1c0e5b9f3d"
down_revision = "1b7281bbf996"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "clinic_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("figure", sa.String(length=30), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("median", sa.String(length=40), nullable=False),
        sa.Column("mad", sa.String(length=40), nullable=False),
        sa.Column("score", sa.String(length=40), nullable=False),
        sa.Column("peers", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_clinic_flag_clinic_id_clinic")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_flag")),
        sa.UniqueConstraint("clinic_id", "month", "figure", name=op.f("uq_clinic_flag_clinic_id_month_figure")),
    )
    op.create_index(op.f("ix_clinic_flag_month"), "clinic_flag", ["month"], unique=False)
    op.create_table(
        "review_item",
        sa.Column("id", BigId, nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("why", sa.String(length=200), nullable=False),
        sa.Column("finding", sa.String(length=12), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "finding IS NULL OR finding IN ('accepted', 'disallowed')",
            name=op.f("ck_review_item_finding_known"),
        ),
        sa.CheckConstraint(
            "(finding = 'disallowed') = (amount IS NOT NULL AND amount > 0) OR finding IS NULL",
            name=op.f("ck_review_item_disallowed_has_amount"),
        ),
        sa.ForeignKeyConstraint(["statement_id"], ["statement.id"], name=op.f("fk_review_item_statement_id_statement")),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"], name=op.f("fk_review_item_visit_id_visit")),
        sa.ForeignKeyConstraint(["reviewer_id"], ["user_account.id"], name=op.f("fk_review_item_reviewer_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_item")),
        sa.UniqueConstraint("statement_id", "visit_id", name=op.f("uq_review_item_statement_id_visit_id")),
    )
    op.create_index(op.f("ix_review_item_statement_id"), "review_item", ["statement_id"], unique=False)
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
        sa.ForeignKeyConstraint(["district_code"], ["district.code"], name=op.f("fk_oversight_setting_district_code_district")),
        sa.PrimaryKeyConstraint("district_code", name=op.f("pk_oversight_setting")),
    )
    with op.batch_alter_table("statement_event", schema=None) as batch_op:
        batch_op.alter_column("actor_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM statement_event WHERE actor_id IS NULL")
    with op.batch_alter_table("statement_event", schema=None) as batch_op:
        batch_op.alter_column("actor_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("oversight_setting")
    op.drop_index(op.f("ix_review_item_statement_id"), table_name="review_item")
    op.drop_table("review_item")
    op.drop_index(op.f("ix_clinic_flag_month"), table_name="clinic_flag")
    op.drop_table("clinic_flag")
