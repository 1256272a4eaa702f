"""Practitioner codes: a doctor's national code (医保医师编码), and the one a visit was sent with.

* ``user_account.practitioner_code``, unique where given;
* ``visit.practitioner_code``: the recording doctor's code at the time (NULL for
  the visits recorded before, and for a user without one).

Added in place (no rebuild); on PostgreSQL the partitioned ``visit`` takes the
column on every partition.

Revision ID: e4f6a8b1c3d5
Revises: e3d5f7a9b2c4
Create Date: 2026-12-07 23:40:00

"""

from alembic import op
import sqlalchemy as sa

revision = "e4f6a8b1c3d5"
down_revision = "e3d5f7a9b2c4"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("user_account", sa.Column("practitioner_code", sa.String(length=30), nullable=True))
    op.create_index(
        "uq_user_account_practitioner_code", "user_account", ["practitioner_code"], unique=True
    )
    op.execute("ALTER TABLE visit ADD COLUMN practitioner_code VARCHAR(30)")


def downgrade():
    op.execute("ALTER TABLE visit DROP COLUMN practitioner_code")
    op.drop_index("uq_user_account_practitioner_code", table_name="user_account")
    op.execute("ALTER TABLE user_account DROP COLUMN practitioner_code")
