"""On SQLite too, the audit table refuses UPDATE and DELETE (PostgreSQL has since b3c9e1f2a4d5).

Revision ID: b7d9f1a3c5e8
Revises: a4c6e8f0b2d4
Create Date: 2026-12-07 23:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "b7d9f1a3c5e8"
down_revision = "a4c6e8f0b2d4"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
        )


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER audit_entry_no_{verb}")
