"""The day rollup equals its visits, checked by PostgreSQL at commit (a deferred constraint trigger).

``clinic_day`` is kept by the recording path (a visit's figures added, a
void's taken off) and rebuilt by ``flask statements rebuild-rollups``;
``flask statements check-rollup`` finds a difference after the fact.  Here the
database refuses one when it is committed, as django-hordak checks its legs:
``clinic_day_is_its_visits()`` (the body :meth:`app.visits.figures.FigureSql.pg_day_check`
derives from the figures' declaration, frozen here as it was) runs at commit
for every day row written and every visit updated or deleted (the old and the
new day), and raises ``check_violation`` (constraint
``clinic_day_is_its_visits``) when the row differs from the ``GROUP BY`` of the
day's non-voided visits.  Cost: one aggregate over a clinic's day per visit
recorded or voided, at commit, by the ``(clinic_id, visited_at)`` index
(measured on the shared test machine, 300 visits of one clinic over 14 days:
≈ 0.28 ms of the server's time a visit, 0.39 ms when it read the clinic's month).  A rebuild from the visits sets
``yiyuan.rollup_rebuild`` for its transaction and is not checked row by row.
The visit's trigger is named to fire after ``visit_lines_total`` (triggers of
one event fire in name order).  A migration adding a figure re-creates the
function from the declaration.
SQLite: nothing (``check-rollup`` remains the check there).

Revision ID: e1a9c3b5d7f2
Revises: 6f2e8a4c1d30
Create Date: 2026-12-07 23:20:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "e1a9c3b5d7f2"
down_revision = "6f2e8a4c1d30"
branch_labels = None
depends_on = None

BODY = """DECLARE
    months text[];
    clinics integer[];
    days date[];
    differs boolean;
BEGIN
    IF current_setting('yiyuan.rollup_rebuild', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        months := ARRAY[NEW.month]; clinics := ARRAY[NEW.clinic_id]; days := ARRAY[NEW.visit_date];
    ELSIF TG_OP = 'DELETE' THEN
        months := ARRAY[OLD.month]; clinics := ARRAY[OLD.clinic_id]; days := ARRAY[OLD.visit_date];
    ELSE
        months := ARRAY[OLD.month, NEW.month];
        clinics := ARRAY[OLD.clinic_id, NEW.clinic_id];
        days := ARRAY[OLD.visit_date, NEW.visit_date];
    END IF;
    FOR i IN 1 .. array_length(months, 1) LOOP
        SELECT ROW(coalesce(d.visits, 0), coalesce(d.programme_visits, 0), coalesce(d.injections, 0), coalesce(d.total, 0), coalesce(d.in_scope, 0), coalesce(d.fund, 0), coalesce(d.fiscal, 0), coalesce(d.registration, 0), coalesce(d.injection, 0), coalesce(d.copay, 0), coalesce(d.self_pay, 0), coalesce(d.patient, 0)) IS DISTINCT FROM ROW(s.visits, s.programme_visits, s.injections, s.total, s.in_scope, s.fund, s.fiscal, s.registration, s.injection, s.copay, s.self_pay, s.patient) INTO differs
        FROM (
            SELECT count(*) AS visits, coalesce(sum(CASE WHEN v.programme THEN 1 ELSE 0 END), 0) AS programme_visits, coalesce(sum(CASE WHEN v.injection THEN 1 ELSE 0 END), 0) AS injections, coalesce(sum(v.total), 0) AS total, coalesce(sum(v.in_scope), 0) AS in_scope, coalesce(sum(v.fund), 0) AS fund, coalesce(sum(v.fiscal), 0) AS fiscal, coalesce(sum(v.registration), 0) AS registration, coalesce(sum(v.injection_fee), 0) AS injection, coalesce(sum(v.copay), 0) AS copay, coalesce(sum(v.self_pay), 0) AS self_pay, coalesce(sum(v.patient), 0) AS patient
            FROM visit AS v
            WHERE v.month = months[i] AND v.clinic_id = clinics[i]
              AND v.visited_at >= days[i]::timestamp AT TIME ZONE 'Asia/Shanghai'
              AND v.visited_at < (days[i] + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'
              AND v.visit_date = days[i] AND v.voided_at IS NULL
        ) AS s
        LEFT JOIN clinic_day AS d
            ON d.month = months[i] AND d.clinic_id = clinics[i] AND d.visit_date = days[i];
        IF differs THEN
            RAISE EXCEPTION 'clinic_day_is_its_visits: clinic % on % differs from its visits',
                clinics[i], days[i]
                USING ERRCODE = 'check_violation', CONSTRAINT = 'clinic_day_is_its_visits';
        END IF;
    END LOOP;
    RETURN NULL;
END
"""

UPGRADE = [
    f"CREATE OR REPLACE FUNCTION clinic_day_is_its_visits() RETURNS trigger "
    f"LANGUAGE plpgsql AS $$\n{BODY}$$",
    """
    CREATE CONSTRAINT TRIGGER clinic_day_is_its_visits
    AFTER INSERT OR UPDATE OR DELETE ON clinic_day
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION clinic_day_is_its_visits()
    """,
    """
    CREATE CONSTRAINT TRIGGER visit_within_its_day
    AFTER UPDATE OR DELETE ON visit
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION clinic_day_is_its_visits()
    """,
]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS visit_within_its_day ON visit")
    op.execute("DROP TRIGGER IF EXISTS clinic_day_is_its_visits ON clinic_day")
    op.execute("DROP FUNCTION IF EXISTS clinic_day_is_its_visits()")
