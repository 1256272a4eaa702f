"""Catalogue items' indications: diagnosis code prefixes, for the off_indication check.

Revision ID: e5a7c9d2e4f6
Revises: e4f6a8b1c3d5
Create Date: 2026-12-08 00:00:00

"""

from alembic import op

revision = "e5a7c9d2e4f6"
down_revision = "e4f6a8b1c3d5"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER TABLE catalog_item ADD COLUMN indications VARCHAR(200)")


def downgrade():
    op.execute("ALTER TABLE catalog_item DROP COLUMN indications")
