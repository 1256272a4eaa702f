"""Visits and their lines partitioned by month on PostgreSQL; a visit's key is (id, month).

* PostgreSQL: ``visit`` and ``visit_line`` become ``PARTITION BY LIST (month)``,
  one partition per month (``visit_y2026m11``, ``visit_line_y2026m11``), made
  here for every month holding visits plus the current month and the next two
  (later ones: ``flask visits partitions`` or on demand,
  ``app.visits.partitions``).  The rows are copied into the new tables, which
  then take the old names, indexes (partitioned), CHECK constraints (same
  names), foreign keys and sequences (ids keep counting where they were).
  PostgreSQL wants the partition key in every primary key and unique
  constraint: the keys become ``(id, month)``, the receipt's unique
  ``(clinic_id, year, receipt_seq, month)``, the line's ``(visit_id, line_no,
  month)``.  The lines-total constraint trigger is made again on the
  partitioned tables, and now finds a visit by id and month (one partition).
* Both databases: ``visit_line.month`` (its visit's month) and, in every table
  pointing at a visit, ``visit_month``, filled from the visits (an adjustment
  line's ``belongs_to`` already is its visit's month); the foreign keys become
  ``(visit_id, month) -> visit (id, month)``.  SQLite keeps ``id``
  as its rowid key and gets ``uq_visit_id_month`` as the composite target; its
  tables are rebuilt from their own stored ``CREATE TABLE`` text, edited (an
  ``ALTER TABLE`` cannot change a constraint there), in an order that keeps
  every row's foreign keys satisfied at each step.

Revision ID: d8f1a3c5e7b9
Revises: c5e7d9a1b3f2
Create Date: 2026-11-29 14:30:00

"""

import re

from alembic import op
from sqlalchemy import text

revision = "d8f1a3c5e7b9"
down_revision = "c5e7d9a1b3f2"
branch_labels = None
depends_on = None

# Table pointing at a visit: (its month column, nullable, whether it is new).  An
# adjustment line already holds its visit's month (belongs_to): its key uses it.
POINTERS = {
    "idempotency_key": ("visit_month", False, True),
    "receipt_code": ("visit_month", False, True),
    "receipt_feedback": ("visit_month", False, True),
    "visit_check": ("visit_month", False, True),
    "review_item": ("visit_month", False, True),
    "statement_adjustment": ("belongs_to", False, False),
    "fund_finding": ("visit_month", True, True),
}
LINE_COLUMNS = (
    "id, visit_id, line_no, item_id, item_code, item_name, kind, unit, insurance_class, "
    "quantity, unit_price, amount, in_scope, self_pay, fund_base"
)
VISIT_FKS = [
    ("fk_visit_clinic_id_clinic", "clinic_id", "clinic (id)"),
    ("fk_visit_resident_id_resident", "resident_id", "resident (id)"),
    ("fk_visit_policy_version_id_policy_version", "policy_version_id", "policy_version (id)"),
    ("fk_visit_recorded_by_id_user_account", "recorded_by_id", "user_account (id)"),
    ("fk_visit_voided_by_id_user_account", "voided_by_id", "user_account (id)"),
]
VISIT_INDEXES = [
    "CREATE INDEX ix_visit_clinic_month ON visit (clinic_id, month)",
    "CREATE INDEX ix_visit_clinic_visited_at ON visit (clinic_id, visited_at)",
    "CREATE INDEX ix_visit_month_id ON visit (month, id)",
    "CREATE INDEX ix_visit_patient_date ON visit (patient_id_number, visit_date)",
]

# --- PostgreSQL -------------------------------------------------------------------

# The lines-total check of b3c9e1f2a4d5, finding the visit and its lines by id
# and month: a row trigger on a partition sees the partition's TG_TABLE_NAME,
# so which table fired is passed as the trigger's argument.  Its two queries run
# with generic plans: on a partitioned table a custom plan looks cheaper (it
# prunes while planning), so PostgreSQL would plan them afresh on every call —
# five calls per recorded visit, ≈ 1.4 ms of the server's time; a generic plan
# prunes when it runs (≈ 0.25 ms).
PG_CHECK = """
CREATE OR REPLACE FUNCTION check_visit_lines_total() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    ids bigint[];
    months text[];
    expected bigint;
    actual bigint;
BEGIN
    IF TG_ARGV[0] = 'visit' THEN
        ids := ARRAY[NEW.id]; months := ARRAY[NEW.month];
    ELSIF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.visit_id]; months := ARRAY[NEW.month];
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY[OLD.visit_id]; months := ARRAY[OLD.month];
    ELSE
        ids := ARRAY[OLD.visit_id, NEW.visit_id]; months := ARRAY[OLD.month, NEW.month];
    END IF;
    FOR i IN 1 .. array_length(ids, 1) LOOP
        SELECT lines_total INTO expected FROM visit WHERE id = ids[i] AND month = months[i];
        CONTINUE WHEN NOT FOUND;
        SELECT COALESCE(SUM(amount), 0) INTO actual FROM visit_line
        WHERE visit_id = ids[i] AND month = months[i];
        IF actual <> expected THEN
            RAISE EXCEPTION 'visit_lines_total: visit % has lines summing to %, lines_total %',
                ids[i], actual, expected
                USING ERRCODE = 'check_violation', CONSTRAINT = 'visit_lines_total';
        END IF;
    END LOOP;
    RETURN NULL;
END $$
"""
PG_TRIGGERS = [
    """
    CREATE CONSTRAINT TRIGGER visit_lines_total
    AFTER INSERT OR UPDATE OF lines_total ON visit
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_visit_lines_total('visit')
    """,
    """
    CREATE CONSTRAINT TRIGGER visit_line_lines_total
    AFTER INSERT OR UPDATE OR DELETE ON visit_line
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_visit_lines_total('visit_line')
    """,
]
# b3c9e1f2a4d5's function and triggers, as they were (for the downgrade).
PG_CHECK_BEFORE = """
CREATE OR REPLACE FUNCTION check_visit_lines_total() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""
PG_TRIGGERS_BEFORE = [t.replace("('visit')", "()").replace("('visit_line')", "()") for t in PG_TRIGGERS]
PG_DROP_TRIGGERS = [
    "DROP TRIGGER visit_line_lines_total ON visit_line",
    "DROP TRIGGER visit_lines_total ON visit",
]


def _partition(table, month):
    year, number = month.split("-")
    return f"{table}_y{int(year):04d}m{int(number):02d}"


def _pg_months(conn):
    """Every month holding visits, and the current month (Shanghai) and the next two."""
    return conn.execute(
        text(
            """
            SELECT month FROM visit
            UNION
            SELECT to_char(date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')
                           + make_interval(months => n), 'YYYY-MM')
            FROM generate_series(0, 2) AS n
            ORDER BY 1
            """
        )
    ).scalars().all()


def _pg_visit_keys(unique_line, unique_receipt, line_fk):
    for statement in [
        f"ALTER TABLE visit ADD CONSTRAINT {unique_receipt}",
        *(f"ALTER TABLE visit ADD CONSTRAINT {n} FOREIGN KEY ({c}) REFERENCES {r}" for n, c, r in VISIT_FKS),
        *VISIT_INDEXES,
        f"ALTER TABLE visit_line ADD CONSTRAINT {unique_line}",
        "ALTER TABLE visit_line ADD CONSTRAINT fk_visit_line_item_id_catalog_item "
        "FOREIGN KEY (item_id) REFERENCES catalog_item (id)",
        f"ALTER TABLE visit_line ADD CONSTRAINT fk_visit_line_visit_id_visit {line_fk}",
        "CREATE INDEX ix_visit_line_item_id ON visit_line (item_id)",
    ]:
        op.execute(statement)


def _pg_upgrade(conn):
    for statement in PG_DROP_TRIGGERS:
        op.execute(statement)
    for table, (column, nullable, added) in POINTERS.items():
        if added:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} varchar(7)")
            op.execute(
                f"UPDATE {table} SET {column} = visit.month FROM visit "
                f"WHERE visit.id = {table}.visit_id"
            )
            if not nullable:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_visit_id_visit")
    # The new tables (columns, defaults — the sequences — and CHECKs of the old).
    op.execute(
        "CREATE TABLE visit_partitioned (LIKE visit INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        "PARTITION BY LIST (month)"
    )
    op.execute(
        "CREATE TABLE visit_line_partitioned (LIKE visit_line INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS, month varchar(7) NOT NULL) PARTITION BY LIST (month)"
    )
    for month in _pg_months(conn):
        for table in ("visit", "visit_line"):
            op.execute(
                f"CREATE TABLE {_partition(table, month)} PARTITION OF {table}_partitioned "
                f"FOR VALUES IN ('{month}')"
            )
    op.execute("INSERT INTO visit_partitioned SELECT * FROM visit")
    op.execute(
        f"INSERT INTO visit_line_partitioned ({LINE_COLUMNS}, month) "
        f"SELECT {', '.join('l.' + c for c in LINE_COLUMNS.split(', '))}, v.month "
        "FROM visit_line l JOIN visit v ON v.id = l.visit_id"
    )
    for table in ("visit_line", "visit"):
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
        op.execute(f"DROP TABLE {table}")
    for table in ("visit", "visit_line"):
        op.execute(f"ALTER TABLE {table}_partitioned RENAME TO {table}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id, month)")
    _pg_visit_keys(
        "uq_visit_line_visit_id_line_no_month UNIQUE (visit_id, line_no, month)",
        "uq_visit_clinic_id_year_receipt_seq_month UNIQUE (clinic_id, year, receipt_seq, month)",
        "FOREIGN KEY (visit_id, month) REFERENCES visit (id, month)",
    )
    for table, (column, _, _) in POINTERS.items():
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_visit_id_visit "
            f"FOREIGN KEY (visit_id, {column}) REFERENCES visit (id, month)"
        )
    op.execute(PG_CHECK)
    for statement in PG_TRIGGERS:
        op.execute(statement)


def _pg_downgrade():
    for statement in PG_DROP_TRIGGERS:
        op.execute(statement)
    for table in POINTERS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_visit_id_visit")
    op.execute("CREATE TABLE visit_plain (LIKE visit INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    op.execute(
        "CREATE TABLE visit_line_plain (LIKE visit_line INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    op.execute("ALTER TABLE visit_line_plain DROP COLUMN month")
    op.execute("INSERT INTO visit_plain SELECT * FROM visit")
    op.execute(f"INSERT INTO visit_line_plain ({LINE_COLUMNS}) SELECT {LINE_COLUMNS} FROM visit_line")
    for table in ("visit_line", "visit"):
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
        op.execute(f"DROP TABLE {table}")  # and its partitions
    for table in ("visit", "visit_line"):
        op.execute(f"ALTER TABLE {table}_plain RENAME TO {table}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
    _pg_visit_keys(
        "uq_visit_line_visit_id_line_no UNIQUE (visit_id, line_no)",
        "uq_visit_clinic_id_year_receipt_seq UNIQUE (clinic_id, year, receipt_seq)",
        "FOREIGN KEY (visit_id) REFERENCES visit (id)",
    )
    for table, (column, _, added) in POINTERS.items():
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_visit_id_visit "
            "FOREIGN KEY (visit_id) REFERENCES visit (id)"
        )
        if added:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.execute(PG_CHECK_BEFORE)
    for statement in PG_TRIGGERS_BEFORE:
        op.execute(statement)


# --- SQLite -----------------------------------------------------------------------

# b3c9e1f2a4d5's triggers, as they are: a rebuilt table loses its triggers, and
# renaming a table checks every trigger's SQL, so they go first and come back last.
_SUM = "(SELECT COALESCE(SUM(amount), 0) FROM visit_line WHERE visit_id = {id})"
_TOTAL = "(SELECT lines_total FROM visit WHERE id = {id})"
_RAISE = "SELECT RAISE(ABORT, 'visit_lines_total: the lines of a visit must sum to its lines_total')"
SQLITE_TRIGGERS = [
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
SQLITE_TRIGGER_NAMES = [
    "visit_line_lines_total_insert",
    "visit_line_lines_total_update",
    "visit_line_lines_total_delete",
    "visit_lines_total_update",
]
RECEIPT_UQ = "CONSTRAINT uq_visit_clinic_id_year_receipt_seq UNIQUE (clinic_id, year, receipt_seq)"
RECEIPT_UQ_MONTH = (
    "CONSTRAINT uq_visit_clinic_id_year_receipt_seq_month "
    "UNIQUE (clinic_id, year, receipt_seq, month)"
)
ID_MONTH_UQ = "CONSTRAINT uq_visit_id_month UNIQUE (id, month)"
LINE_UQ = "CONSTRAINT uq_visit_line_visit_id_line_no UNIQUE (visit_id, line_no)"
LINE_UQ_MONTH = "CONSTRAINT uq_visit_line_visit_id_line_no_month UNIQUE (visit_id, line_no, month)"


def _replace(sql, old, new):
    """``sql`` with ``old`` (a regular expression) replaced once; refuses if it is not there."""
    result, count = re.subn(old, lambda _: new, sql, count=1)
    if count != 1:
        raise RuntimeError(f"not found in the stored schema: {old}\n{sql}")
    return result


def _sqlite_table(conn, table):
    """The table's CREATE TABLE text, its own indexes' CREATE INDEX texts, its columns."""
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    indexes = conn.execute(
        text(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
            "AND sql IS NOT NULL"
        ),
        {"t": table},
    ).scalars().all()
    columns = [row[1] for row in conn.execute(text(f"PRAGMA table_info({table})"))]
    return sql, indexes, columns


def _renamed(sql, table, new_name):
    return _replace(sql, rf'^CREATE TABLE "?{table}"?', f"CREATE TABLE {new_name}")


def _sqlite_rebuild(conn, up):
    """Rebuild visit and every table pointing at it, in an order the foreign keys allow.

    A new ``visit_new`` is filled first; each pointing table is rebuilt pointing at
    it; the old visit, no longer pointed at, is dropped; renaming ``visit_new`` to
    ``visit`` then renames every reference (SQLite ≥ 3.26 rewrites them).
    """
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER {name}")
    sql, visit_indexes, _ = _sqlite_table(conn, "visit")
    sql = _renamed(sql, "visit", "visit_new")
    if up:
        sql = _replace(sql, re.escape(RECEIPT_UQ), f"{RECEIPT_UQ_MONTH}, \n\t{ID_MONTH_UQ}")
    else:
        sql = _replace(sql, re.escape(RECEIPT_UQ_MONTH) + r", \n\t" + re.escape(ID_MONTH_UQ), RECEIPT_UQ)
    op.execute(sql)
    op.execute("INSERT INTO visit_new SELECT * FROM visit")
    for table, (column, nullable, added) in {"visit_line": ("month", False, True), **POINTERS}.items():
        sql, indexes, columns = _sqlite_table(conn, table)
        sql = _renamed(sql, table, f"{table}_new")
        fk = f"CONSTRAINT fk_{table}_visit_id_visit FOREIGN KEY"
        if up:
            if added:
                definition = f"{column} VARCHAR(7)" + ("" if nullable else " NOT NULL")
                # The new column right after visit_id.
                at = re.search(r"\n\s*visit_id INTEGER( NOT NULL)?, \n", sql)
                if at is None:
                    raise RuntimeError(f"no visit_id column in the stored schema:\n{sql}")
                sql = f"{sql[: at.end()]}\t{definition}, \n{sql[at.end() :]}"
            sql = _replace(
                sql,
                re.escape(fk) + r'\(visit_id\) REFERENCES "?visit"? \(id\)',
                f"{fk}(visit_id, {column}) REFERENCES visit_new (id, month)",
            )
            if table == "visit_line":
                sql = _replace(sql, re.escape(LINE_UQ), LINE_UQ_MONTH)
            kept = ", ".join(columns)
            op.execute(sql)
            if added:
                op.execute(
                    f"INSERT INTO {table}_new ({kept}, {column}) SELECT {kept}, "
                    f"(SELECT month FROM visit WHERE visit.id = {table}.visit_id) FROM {table}"
                )
            else:
                op.execute(f"INSERT INTO {table}_new ({kept}) SELECT {kept} FROM {table}")
        else:
            if added:
                sql = _replace(sql, rf"\n\s*{column} VARCHAR\(7\)( NOT NULL)?, ", "")
            sql = _replace(
                sql,
                re.escape(fk) + rf'\(visit_id, {column}\) REFERENCES "?visit"? \(id, month\)',
                f"{fk}(visit_id) REFERENCES visit_new (id)",
            )
            if table == "visit_line":
                sql = _replace(sql, re.escape(LINE_UQ_MONTH), LINE_UQ)
            kept = ", ".join(c for c in columns if c != column or not added)
            op.execute(sql)
            op.execute(f"INSERT INTO {table}_new ({kept}) SELECT {kept} FROM {table}")
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        for index in indexes:
            op.execute(index)
    op.execute("DROP TABLE visit")
    op.execute("ALTER TABLE visit_new RENAME TO visit")
    for index in visit_indexes:
        op.execute(index)
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    broken = conn.execute(text("PRAGMA foreign_key_check")).all()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")


def upgrade():
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _pg_upgrade(conn)
    else:
        _sqlite_rebuild(conn, up=True)


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _pg_downgrade()
    else:
        _sqlite_rebuild(conn, up=False)
