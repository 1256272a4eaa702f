"""National catalogue fields on price rows and visit lines; two new policy switches.

* ``item_price``: ``national_code`` (医保目录编码), ``fee_class``
  (``med_chrgitm_type``, two digits of SPEC §2.1's list), ``selfpay_ratio``
  (先行自付比例, ten-thousandths like the policy's ratios) and
  ``price_ceiling`` (医保支付限价, fen per unit), each valid over its row's dates.
* ``visit_line``: what of them the visit used — the codes, the ratio and the
  ceiling on the visit date and ``over_ceiling``, the part of the amount above
  the ceiling (fen, 0 without one; never above the amount).
* ``policy_version``: ``over_ceiling_backstopped`` and ``require_diagnosis``
  (false for the versions already loaded: what they meant until now).

The defaults stay (bulk loaders such as ``bench/generate.py`` copy rows
without the new columns).  Every column is added in place (no table rebuild): on SQLite a column and its
named CHECK in one ``ALTER TABLE … ADD COLUMN``; on PostgreSQL the partitioned
``visit_line`` takes the column on every partition.

Revision ID: e2b4d6f8a1c3
Revises: e1c0a5f7b2d4
Create Date: 2026-12-07 23:10:00

"""

from alembic import op
import sqlalchemy as sa

revision = "e2b4d6f8a1c3"
down_revision = "e1c0a5f7b2d4"
branch_labels = None
depends_on = None

FEE_CLASSES = "'02', '05', '08', '09', '10', '11', '12', '13', '14'"
# table, column, type (SQL), NOT NULL default or None, (constraint name, CHECK) or None
COLUMNS = [
    ("item_price", "national_code", "VARCHAR(50)", None, None),
    ("item_price", "fee_class", "VARCHAR(2)", None,
     ("ck_item_price_fee_class_known", f"fee_class IS NULL OR fee_class IN ({FEE_CLASSES})")),
    ("item_price", "selfpay_ratio", "INTEGER", None,
     ("ck_item_price_selfpay_ratio_in_range", "selfpay_ratio IS NULL OR selfpay_ratio BETWEEN 0 AND 10000")),
    ("item_price", "price_ceiling", "INTEGER", None,
     ("ck_item_price_ceiling_not_negative", "price_ceiling IS NULL OR price_ceiling >= 0")),
    ("visit_line", "national_code", "VARCHAR(50)", None, None),
    ("visit_line", "fee_class", "VARCHAR(2)", None, None),
    ("visit_line", "selfpay_ratio", "INTEGER", None, None),
    ("visit_line", "price_ceiling", "INTEGER", None, None),
    ("visit_line", "over_ceiling", "INTEGER", "0",
     ("ck_visit_line_over_ceiling_in_amount", "over_ceiling >= 0 AND over_ceiling <= amount")),
    ("policy_version", "over_ceiling_backstopped", "BOOLEAN", "false", None),
    ("policy_version", "require_diagnosis", "BOOLEAN", "false", None),
]  # fmt: skip


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, kind, default, check in COLUMNS:
        definition = f"{column} {kind}"
        if default is not None:
            definition += f" DEFAULT {default} NOT NULL"
        if sqlite and check is not None:
            definition += f" CONSTRAINT {check[0]} CHECK ({check[1]})"
        op.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")
        if not sqlite and check is not None:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {check[0]} CHECK ({check[1]})")


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _, _, check in reversed(COLUMNS):
        if check is not None and not sqlite:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {check[0]}")
        if sqlite and check is not None:
            # SQLite drops no column a constraint names: the CHECK goes first.
            _sqlite_drop_check(table, check[0], check[1])
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _sqlite_drop_check(table, name, expression):
    conn = op.get_bind()
    sql = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    clause = f" CONSTRAINT {name} CHECK ({expression})"
    if sql.count(clause) != 1:
        raise RuntimeError(f"not found once in the stored schema of {table}: {clause}\n{sql}")
    version = conn.execute(sa.text("PRAGMA schema_version")).scalar_one()
    conn.execute(sa.text("PRAGMA writable_schema = ON"))
    conn.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": sql.replace(clause, ""), "t": table},
    )
    conn.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(sa.text("PRAGMA writable_schema = OFF"))
