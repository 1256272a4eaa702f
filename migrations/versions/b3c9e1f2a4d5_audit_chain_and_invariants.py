"""The audit chains; a visit's lines sum to its lines_total; price periods never overlap.

* ``audit_chain`` (one head row per chain) and ``audit_entry`` (append-only);
  on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of entries.
* ``visit.lines_total = SUM(visit_line.amount)``: on PostgreSQL a deferred
  constraint trigger checks it at commit (a visit and its lines are written
  in one transaction); on SQLite, which has no deferred triggers, the lines
  may never sum to more than ``lines_total`` while they are inserted, and an
  UPDATE or DELETE that leaves them unequal is refused.
* No two price periods of one item overlap: an EXCLUDE constraint on
  PostgreSQL (btree_gist); the import checks it on both databases.

Revision ID: b3c9e1f2a4d5
Revises: fd7d9972c74a
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "b3c9e1f2a4d5"
down_revision = "fd7d9972c74a"
branch_labels = None
depends_on = None

PG_UP = [
    """
    CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()
    """,
    """
    CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()
    """,
    """
    CREATE FUNCTION check_visit_lines_total() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        ids bigint[];
        v bigint;
        expected bigint;
        actual bigint;
    BEGIN
        IF TG_TABLE_NAME = 'visit' THEN
            ids := ARRAY[NEW.id];
        ELSIF TG_OP = 'INSERT' THEN
            ids := ARRAY[NEW.visit_id];
        ELSIF TG_OP = 'DELETE' THEN
            ids := ARRAY[OLD.visit_id];
        ELSE
            ids := ARRAY[OLD.visit_id, NEW.visit_id];
        END IF;
        FOREACH v IN ARRAY ids LOOP
            SELECT lines_total INTO expected FROM visit WHERE id = v;
            CONTINUE WHEN NOT FOUND;
            SELECT COALESCE(SUM(amount), 0) INTO actual FROM visit_line WHERE visit_id = v;
            IF actual <> expected THEN
                RAISE EXCEPTION 'visit_lines_total: visit % has lines summing to %, lines_total %',
                    v, actual, expected
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'visit_lines_total';
            END IF;
        END LOOP;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER visit_lines_total
    AFTER INSERT OR UPDATE OF lines_total ON visit
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_visit_lines_total()
    """,
    """
    CREATE CONSTRAINT TRIGGER visit_line_lines_total
    AFTER INSERT OR UPDATE OR DELETE ON visit_line
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_visit_lines_total()
    """,
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE item_price ADD CONSTRAINT ex_item_price_no_overlap
    EXCLUDE USING gist (item_id WITH =, daterange(valid_from, valid_to, '[]') WITH &&)
    """,
]

PG_DOWN = [
    "ALTER TABLE item_price DROP CONSTRAINT ex_item_price_no_overlap",
    "DROP TRIGGER visit_line_lines_total ON visit_line",
    "DROP TRIGGER visit_lines_total ON visit",
    "DROP FUNCTION check_visit_lines_total()",
    "DROP TRIGGER audit_entry_no_truncate ON audit_entry",
    "DROP TRIGGER audit_entry_append_only ON audit_entry",
    "DROP FUNCTION audit_entry_append_only()",
]

_SUM = "(SELECT COALESCE(SUM(amount), 0) FROM visit_line WHERE visit_id = {id})"
_TOTAL = "(SELECT lines_total FROM visit WHERE id = {id})"
_RAISE = "SELECT RAISE(ABORT, 'visit_lines_total: the lines of a visit must sum to its lines_total')"

SQLITE_UP = [
    f"""
    CREATE TRIGGER visit_line_lines_total_insert AFTER INSERT ON visit_line
    WHEN {_SUM.format(id="NEW.visit_id")} > {_TOTAL.format(id="NEW.visit_id")}
    BEGIN {_RAISE}; END
    """,
    f"""
    CREATE TRIGGER visit_line_lines_total_update AFTER UPDATE ON visit_line
    WHEN {_SUM.format(id="NEW.visit_id")} <> {_TOTAL.format(id="NEW.visit_id")}
      OR {_SUM.format(id="OLD.visit_id")} <> {_TOTAL.format(id="OLD.visit_id")}
    BEGIN {_RAISE}; END
    """,
    f"""
    CREATE TRIGGER visit_line_lines_total_delete AFTER DELETE ON visit_line
    WHEN {_SUM.format(id="OLD.visit_id")} <> {_TOTAL.format(id="OLD.visit_id")}
    BEGIN {_RAISE}; END
    """,
    f"""
    CREATE TRIGGER visit_lines_total_update AFTER UPDATE OF lines_total ON visit
    WHEN NEW.lines_total <> {_SUM.format(id="NEW.id")}
    BEGIN {_RAISE}; END
    """,
]

SQLITE_DOWN = [
    "DROP TRIGGER visit_lines_total_update",
    "DROP TRIGGER visit_line_lines_total_delete",
    "DROP TRIGGER visit_line_lines_total_update",
    "DROP TRIGGER visit_line_lines_total_insert",
]


def upgrade():
    op.create_table(
        "audit_chain",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chain")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("object_key", sa.String(length=80), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
        sa.UniqueConstraint("chain", "seq", name=op.f("uq_audit_entry_chain_seq")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_object", ["object_type", "object_key"], unique=False)
    statements = PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP
    for statement in statements:
        op.execute(statement)


def downgrade():
    statements = PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN
    for statement in statements:
        op.execute(statement)
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_object")
    op.drop_table("audit_entry")
    op.drop_table("audit_chain")
