"""The catalogue kind ``diagnosis`` is now ``consultation`` (一般诊疗费).

The general consultation fee was stored as kind ``diagnosis``, a word that
collides with a visit's real diagnoses (SPEC §2).  Catalogue items and the
lines already recorded are renamed (a line's kind is the catalogue's word at
the visit; no money moves, and the audit chain does not hold a line's kind),
``kind`` widens to 20 characters on both tables, and the catalogue's CHECK
lists the new word.

SQLite: neither table is rebuilt (a batch rebuild of ``catalog_item`` fails
once visit lines point at it, and one of ``visit_line`` would lose its
lines-total triggers).  The CHECK's text and the declared lengths are edited in
the stored schema instead — SQLite's own recipe for changes that do not touch
the stored rows (https://www.sqlite.org/lang_altertable.html, "other kinds of
table schema changes"), done after the rows already satisfy the new CHECK.

Revision ID: e1c0a5f7b2d4
Revises: e1a9c3b5d7f2
Create Date: 2026-12-07 23:00:00

"""

from alembic import op
import sqlalchemy as sa

revision = "e1c0a5f7b2d4"
down_revision = "e1a9c3b5d7f2"
branch_labels = None
depends_on = None

KINDS = "'{}', 'drug', 'service', 'material'"


def _sqlite_edit_schema(conn, table, replacements):
    """Replace texts in ``table``'s stored CREATE TABLE; each must be there exactly once."""
    sql = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    for old, new in replacements:
        if sql.count(old) != 1:
            raise RuntimeError(f"not found once in the stored schema of {table}: {old}\n{sql}")
        sql = sql.replace(old, new)
    version = conn.execute(sa.text("PRAGMA schema_version")).scalar_one()
    conn.execute(sa.text("PRAGMA writable_schema = ON"))
    conn.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": sql, "t": table},
    )
    conn.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(sa.text("PRAGMA writable_schema = OFF"))


def _rename(old_word, new_word, old_length, new_length):
    conn = op.get_bind()
    old_check, new_check = KINDS.format(old_word), KINDS.format(new_word)
    if conn.dialect.name == "sqlite":
        # The new CHECK first: the old one would refuse the renamed rows.
        old_type, new_type = f"kind VARCHAR({old_length})", f"kind VARCHAR({new_length})"
        _sqlite_edit_schema(
            conn, "catalog_item", [(old_type, new_type), (f"({old_check})", f"({new_check})")]
        )
        _sqlite_edit_schema(conn, "visit_line", [(old_type, new_type)])
        _rename_rows(old_word, new_word)
        return
    op.drop_constraint(op.f("ck_catalog_item_kind_known"), "catalog_item", type_="check")
    if new_length > old_length:
        _alter_length(new_length)
    _rename_rows(old_word, new_word)
    # The lines-total check fires for the updated lines; a table with pending
    # trigger events cannot be altered, so the checks run now, not at commit.
    op.execute("SET CONSTRAINTS visit_line_lines_total IMMEDIATE")
    if new_length < old_length:
        _alter_length(new_length)
    op.create_check_constraint("kind_known", "catalog_item", f"kind IN ({new_check})")


def _alter_length(length):
    # visit_line is partitioned on PostgreSQL: ALTER TABLE reaches every partition.
    for table in ("catalog_item", "visit_line"):
        op.alter_column(table, "kind", type_=sa.String(length), existing_nullable=False)


def _rename_rows(old_word, new_word):
    for table in ("catalog_item", "visit_line"):
        op.execute(sa.text(f"UPDATE {table} SET kind = '{new_word}' WHERE kind = '{old_word}'"))


def upgrade():
    _rename("diagnosis", "consultation", 10, 20)


def downgrade():
    _rename("consultation", "diagnosis", 20, 10)
