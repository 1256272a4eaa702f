"""Issue 26: residents' date of death (and, further down, the drug stock tables).

* ``resident.died_on`` (nullable), never before the birth date: on PostgreSQL
  ``ck_resident_died_after_birth``; on SQLite the same rule as two triggers, since a
  CHECK there means rebuilding ``resident``, which visits point at (a rebuild's
  DROP TABLE would trip their foreign keys) — the column itself is a plain
  ``ALTER TABLE … ADD`` / ``DROP COLUMN`` on both;
* ``visit_disowned``: a resident's "not me" about one of his visits, pointing at
  ``(visit_id, visit_month)`` like every table that points at a visit;
* ``dispensed_pack``: the drug traceability codes of the packs a visit dispensed;
* ``stock_delivery`` and ``stock_take``: the drug stock's purchases in and counts.

Revision ID: f4a6c8e0b2d1
Revises: f3b6d2a8c4e1
Create Date: 2026-12-07 23:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "f4a6c8e0b2d1"
down_revision = "f3b6d2a8c4e1"
branch_labels = None
depends_on = None


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


DIED_AFTER_BIRTH = "died_on IS NULL OR died_on >= birth_date"
TRIGGERS = {
    "insert": "BEFORE INSERT ON resident",
    "update": "BEFORE UPDATE OF died_on, birth_date ON resident",
}


def upgrade():
    op.add_column("resident", sa.Column("died_on", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for name, when in TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER ck_resident_died_after_birth_{name} {when} "
                "FOR EACH ROW WHEN NOT (NEW.died_on IS NULL OR NEW.died_on >= NEW.birth_date) "
                "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: "
                "ck_resident_died_after_birth'); END"
            )
    else:
        op.create_check_constraint(
            op.f("ck_resident_died_after_birth"), "resident", DIED_AFTER_BIRTH
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


    op.create_table(
        "dispensed_pack",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("visit_month", sa.String(length=7), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=30), nullable=False),
        sa.Column("trace_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_dispensed_pack_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id", "visit_month"],
            ["visit.id", "visit.month"],
            name=op.f("fk_dispensed_pack_visit_id_visit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispensed_pack")),
        sa.UniqueConstraint(
            "visit_id",
            "visit_month",
            "trace_code",
            name=op.f("uq_dispensed_pack_visit_id_visit_month_trace_code"),
        ),
    )
    op.create_index("ix_dispensed_pack_trace_code", "dispensed_pack", ["trace_code"])
    op.create_table(
        "stock_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=30), nullable=False),
        sa.Column("national_code", sa.String(length=50), nullable=True),
        sa.Column("batch_number", sa.String(length=40), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("supplier", sa.String(length=100), nullable=False),
        sa.Column("approval_number", sa.String(length=60), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "quantity > 0 AND price >= 0 AND amount >= 0", name=op.f("ck_stock_delivery_positive")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_delivery_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["catalog_item.id"], name=op.f("fk_stock_delivery_item_id_catalog_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_delivery")),
        sa.UniqueConstraint(
            "clinic_id", "item_code", "batch_number", "delivered_on", name="uq_stock_delivery"
        ),
    )
    op.create_index(
        "ix_stock_delivery_clinic_day", "stock_delivery", ["clinic_id", "delivered_on"]
    )
    op.create_table(
        "stock_take",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=30), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=False),
        sa.Column("book", sa.BigInteger(), nullable=False),
        sa.Column("adjustment", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "counted >= 0 AND adjustment = counted - book",
            name=op.f("ck_stock_take_adjusts_to_count"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_take_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_stock_take_recorded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_take")),
        sa.UniqueConstraint(
            "clinic_id",
            "item_code",
            "taken_on",
            name=op.f("uq_stock_take_clinic_id_item_code_taken_on"),
        ),
    )


def downgrade():
    op.drop_table("stock_take")
    op.drop_index("ix_stock_delivery_clinic_day", table_name="stock_delivery")
    op.drop_table("stock_delivery")
    op.drop_index("ix_dispensed_pack_trace_code", table_name="dispensed_pack")
    op.drop_table("dispensed_pack")
    op.drop_table("visit_disowned")
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER ck_resident_died_after_birth_{name}")
        op.execute("ALTER TABLE resident DROP COLUMN died_on")
    else:
        op.drop_constraint(op.f("ck_resident_died_after_birth"), "resident", type_="check")
        op.drop_column("resident", "died_on")
