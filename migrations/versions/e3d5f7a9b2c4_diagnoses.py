"""Diagnoses: the national lists, and a visit's diagnoses.

* ``diagnosis``: a code of the national medical-insurance diagnosis list
  (医保疾病诊断分类与代码) or of the TCM list (中医病证), its name, system
  (``western`` / ``tcm``), validity and pinyin initials for the terminal.
* ``visit.diagnoses`` (every code, the main one first, comma-separated; ``''``
  for none, which every visit recorded so far has), ``visit.main_diagnosis``
  (the main one alone, for grouping), with a CHECK that they agree, and
  ``visit.diagnosis_names`` (the names the list gave, tab-separated).

Columns are added in place (no rebuild): on SQLite with their CHECK in the
``ALTER TABLE … ADD COLUMN``; on PostgreSQL the partitioned ``visit`` takes
them on every partition.

Revision ID: e3d5f7a9b2c4
Revises: e2b4d6f8a1c3
Create Date: 2026-12-07 23:30:00

"""

from alembic import op
import sqlalchemy as sa

revision = "e3d5f7a9b2c4"
down_revision = "e2b4d6f8a1c3"
branch_labels = None
depends_on = None

MAIN_LISTED = (
    "(main_diagnosis IS NULL AND diagnoses = '') OR "
    "(main_diagnosis IS NOT NULL AND diagnoses <> '')"
)


def upgrade():
    op.create_table(
        "diagnosis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("system", sa.String(length=10), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("pinyin", sa.String(length=100), nullable=False),
        sa.CheckConstraint("system IN ('western', 'tcm')", name=op.f("ck_diagnosis_system_known")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_diagnosis_period_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnosis")),
        sa.UniqueConstraint("code", name=op.f("uq_diagnosis_code")),
    )
    op.create_index(op.f("ix_diagnosis_pinyin"), "diagnosis", ["pinyin"], unique=False)
    op.execute("ALTER TABLE visit ADD COLUMN diagnosis_names VARCHAR(520) DEFAULT '' NOT NULL")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE visit ADD COLUMN diagnoses VARCHAR(120) DEFAULT '' NOT NULL")
        op.execute(
            "ALTER TABLE visit ADD COLUMN main_diagnosis VARCHAR(20) "
            f"CONSTRAINT ck_visit_main_diagnosis_listed CHECK ({MAIN_LISTED})"
        )
    else:
        op.execute("ALTER TABLE visit ADD COLUMN diagnoses VARCHAR(120) DEFAULT '' NOT NULL")
        op.execute("ALTER TABLE visit ADD COLUMN main_diagnosis VARCHAR(20)")
        op.execute(f"ALTER TABLE visit ADD CONSTRAINT ck_visit_main_diagnosis_listed CHECK ({MAIN_LISTED})")


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # SQLite drops no column a constraint names: the CHECK goes first.
        clause = f" CONSTRAINT ck_visit_main_diagnosis_listed CHECK ({MAIN_LISTED})"
        sql = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'visit'")
        ).scalar_one()
        if sql.count(clause) != 1:
            raise RuntimeError(f"not found once in the stored schema of visit: {clause}\n{sql}")
        version = conn.execute(sa.text("PRAGMA schema_version")).scalar_one()
        conn.execute(sa.text("PRAGMA writable_schema = ON"))
        conn.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'visit'"),
            {"sql": sql.replace(clause, "")},
        )
        conn.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
        conn.execute(sa.text("PRAGMA writable_schema = OFF"))
    else:
        op.execute("ALTER TABLE visit DROP CONSTRAINT ck_visit_main_diagnosis_listed")
    op.execute("ALTER TABLE visit DROP COLUMN main_diagnosis")
    op.execute("ALTER TABLE visit DROP COLUMN diagnoses")
    op.execute("ALTER TABLE visit DROP COLUMN diagnosis_names")
    op.drop_index(op.f("ix_diagnosis_pinyin"), table_name="diagnosis")
    op.drop_table("diagnosis")
