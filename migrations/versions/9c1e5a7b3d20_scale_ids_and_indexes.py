"""Province scale: 64-bit visit ids on PostgreSQL; indexes the close and today page use.

* PostgreSQL: visit.id, visit_line.id/visit_id, idempotency_key.id/visit_id
  become BIGINT and their sequences ``AS bigint`` (a 32-bit visit_line id
  runs out after ≈ 2.1 G lines: six years at province scale).  SQLite's
  INTEGER is already 64-bit and is left alone.
* Added: ix_visit_clinic_visited_at (the doctor's today page and daily
  close), ix_visit_month_id (the month close: its clinics and its id range),
  ix_idempotency_key_created_at (the purge of old keys).
* Dropped, unused by every query (EXPLAIN in docs/benchmarks.md):
  ix_visit_patient_id_number, ix_visit_resident_year, uq_visit_receipt_number
  (the receipt number is built from the unique (clinic, year, seq)), and
  ix_visit_line_visit_id (uq_visit_line_visit_id_line_no leads with visit_id).

Rewriting the two biggest tables takes an exclusive lock: run it in a
maintenance window on a large database.

Revision ID: 9c1e5a7b3d20
Revises: 5e55a0c1a0b2
Create Date: 2026-11-29
"""

from alembic import op

revision = "9c1e5a7b3d20"
down_revision = "5e55a0c1a0b2"
branch_labels = None
depends_on = None

# (table, column, has its own sequence)
WIDE_IDS = (
    ("visit", "id", True),
    ("visit_line", "id", True),
    ("visit_line", "visit_id", False),
    ("idempotency_key", "id", True),
    ("idempotency_key", "visit_id", False),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _widen(to: str) -> None:
    for table, column, sequenced in WIDE_IDS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {to}")
        if sequenced:
            # A serial's sequence is "AS integer": it would stop at 2^31 - 1.
            op.execute(f"ALTER SEQUENCE {table}_{column}_seq AS {to}")


def upgrade():
    if _postgresql():
        _widen("bigint")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_patient_id_number")
        batch_op.drop_index("ix_visit_resident_year")
        batch_op.drop_constraint("uq_visit_receipt_number", type_="unique")
        batch_op.create_index("ix_visit_clinic_visited_at", ["clinic_id", "visited_at"])
        batch_op.create_index("ix_visit_month_id", ["month", "id"])
    with op.batch_alter_table("visit_line", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_line_visit_id")
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_key_created_at"), ["created_at"])


def downgrade():
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_key_created_at"))
    with op.batch_alter_table("visit_line", schema=None) as batch_op:
        batch_op.create_index("ix_visit_line_visit_id", ["visit_id"])
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_month_id")
        batch_op.drop_index("ix_visit_clinic_visited_at")
        batch_op.create_unique_constraint("uq_visit_receipt_number", ["receipt_number"])
        batch_op.create_index("ix_visit_resident_year", ["resident_id", "year"])
        batch_op.create_index("ix_visit_patient_id_number", ["patient_id_number"])
    if _postgresql():
        _widen("integer")
