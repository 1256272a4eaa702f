"""The same-content floor of recording a visit (issue 22 goal 1).

A plain psycopg client — no Flask, no SQLAlchemy at run time, no HTTP — that
writes **exactly the rows one recorded visit writes, in the same transaction
shape**, so its rate is the honest limit for recording on this machine's disk:

1. ``BEGIN``; the app's own lock statement (:data:`app.visits.operations._PG_RESERVE`,
   its SQL compiled once for psycopg): the clinic-month statement row locked
   ``FOR UPDATE``, the person's fund-usage year row upserted and locked, the
   clinic's receipt counter incremented, the visit's id drawn;
2. the app's own write (:func:`app.visits.operations._pg_write`, with the
   idempotency key and the fund-usage update): the visit, its four lines, the
   clinic's month per item and day rollups, the idempotency key, the fund usage,
   and the ``visit.record`` audit entry sealed in SQL from the clinic's chain
   head, which it moves;
3. one durable ``COMMIT`` (``synchronous_commit`` as the server is configured;
   the deferred lines-total checks run there, as for the app).

What it leaves out is what is not a write: the token lookup, the patient's
facts and prices (read), the request's parse, the pricing, the answer.  The
rows' content is one visit the app recorded (:func:`template`, read back from
the database), with what makes each visit its own replaced: its id and
receipt number (from the lock statement), the patient, the times, the
idempotency key, and the audit entry's canonical form (built with
:mod:`app.audit.rules`, as the app builds it, so the chain stays verifiable).
The fund-usage update adds the template's fund share to the person's year.

:func:`written` counts what a number of visits wrote per table (PostgreSQL's
``n_tup_ins`` + ``n_tup_upd`` per table, partitions summed into their
parent), so :func:`bench.recording.verify_floor` can show that the floor and
the app write the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from app.audit.rules import (
    SEQ_SEPARATOR,
    Entry,
    canonical_head,
    clinic_chain,
    dumps,
    normalise,
    visit_state,
)
from app.visits.operations import _PG_RESERVE, AUDIT, LINE_COLUMNS, _pg_write
from bench.timing import for_a_while

# The tables a recorded visit writes (partitions are summed into these).
TABLES = (
    "statement", "fund_usage", "receipt_counter", "visit", "visit_line", "clinic_month_item",
    "clinic_day", "idempotency_key", "audit_entry", "audit_chain", "visit_check",
    "dispensed_pack", "api_token",
)  # fmt: skip


def conninfo(url: str) -> str:
    """A libpq connection string from a SQLAlchemy URL."""
    u = make_url(url)
    return psycopg.conninfo.make_conninfo(
        host=u.host or "", port=u.port or 5432, user=u.username or "",
        password=u.password or "", dbname=u.database or "",
    )  # fmt: skip


def _compiled(clause: Any) -> str:
    """The app's statement as psycopg receives it (``%(name)s`` placeholders)."""
    return str(clause.compile(dialect=postgresql.psycopg.dialect()))


RESERVE_SQL = _compiled(_PG_RESERVE)
WRITE_SQL = _compiled(_pg_write(True, True))


@dataclass(frozen=True)
class Template:
    """One visit as the app wrote it: the row (as JSON gives it) and its lines."""

    visit: dict[str, Any]
    lines: list[dict[str, Any]]


def template(conn: psycopg.Connection[Any], visit_id: int) -> Template:
    """The app's visit ``visit_id`` and its lines, read back, as the floor's content."""
    with conn.cursor() as cur:
        row = cur.execute(
            "SELECT row_to_json(v) FROM visit AS v WHERE id = %s", (visit_id,)
        ).fetchone()
        assert row is not None, f"no visit {visit_id}"
        columns = ", ".join(LINE_COLUMNS)
        lines = cur.execute(
            f"SELECT row_to_json(l) FROM (SELECT {columns} FROM visit_line"
            " WHERE visit_id = %s ORDER BY line_no) AS l",
            (visit_id,),
        ).fetchall()
    conn.rollback()
    return Template(row[0], [line[0] for line in lines])


@dataclass(frozen=True)
class Doctor:
    """Who records at a clinic: the floor's visits name him as the app's do."""

    clinic_id: int
    clinic_code: str
    user_id: int
    username: str


def doctors(conn: psycopg.Connection[Any], usernames: Sequence[str]) -> list[Doctor]:
    """The bench's doctors (one per clinic) in the order given."""
    with conn.cursor() as cur:
        rows = cur.execute(
            "SELECT u.username, c.id, c.code, u.id FROM user_account AS u"
            " JOIN clinic AS c ON c.id = u.clinic_id WHERE u.username = ANY(%s)",
            (list(usernames),),
        ).fetchall()
    conn.rollback()
    by_name = {name: Doctor(clinic, code, user, name) for name, clinic, code, user in rows}
    return [by_name[name] for name in usernames]


def write_visit(
    conn: psycopg.Connection[Any],
    content: Template,
    doctor: Doctor,
    patient: tuple[int, str],
) -> int:
    """One visit's rows and one durable commit: the visit's id."""
    now = dt.datetime.now(dt.UTC)
    visit = content.visit
    year = visit["year"]
    resident_id, id_number = patient
    with conn.cursor() as cur:
        row = cur.execute(
            RESERVE_SQL,
            {
                "clinic_id": doctor.clinic_id,
                "month": visit["month"],
                "resident_id": resident_id,
                "year": year,
            },
        ).fetchone()
        if row is None:
            raise RuntimeError("no statement row for the month: record through the app first")
        status, fund_paid, deductible_used, seq, visit_id, _ = row
        if status != "open":
            raise RuntimeError(f"{visit['month']} of {doctor.clinic_code} is {status}")
        values = {
            **visit,
            "id": visit_id,
            "clinic_id": doctor.clinic_id,
            "resident_id": resident_id,
            "patient_id_number": id_number,
            "visited_at": now.isoformat(),
            "recorded_at": now.isoformat(),
            "recorded_by_id": doctor.user_id,
            "receipt_seq": seq,
            "receipt_number": f"{doctor.clinic_code}-{year}-{seq:06d}",
        }
        # The audit entry the app appends: visit_state of the visit as written.
        audited = SimpleNamespace(
            **{
                **values,
                "visited_at": now,
                "visit_date": dt.date.fromisoformat(visit["visit_date"]),
                "voided_at": None,
            }
        )
        lines = [SimpleNamespace(**line) for line in content.lines]
        entry = Entry(
            chain=clinic_chain(doctor.clinic_code),
            seq=0,
            at=now,
            actor=doctor.username,
            action="visit.record",
            object_type="visit",
            object_key=str(visit_id),
            before=None,
            after=normalise(visit_state(audited, lines)),
            prev_hash="",
        )
        params = {
            "visit": json.dumps(values),
            "lines": json.dumps(content.lines),
            "key": uuid.uuid4().hex,
            "request_hash": uuid.uuid4().hex + uuid.uuid4().hex,
            "key_created_at": now,
            "key_user_id": doctor.user_id,
            "person": resident_id,
            "in_year": year,
            "paid": fund_paid + visit["fund"],
            "deductible": deductible_used + visit["deductible_applied"],
            f"{AUDIT}chain": entry.chain,
            f"{AUDIT}at": now,
            f"{AUDIT}actor": entry.actor,
            f"{AUDIT}action": entry.action,
            f"{AUDIT}object_type": entry.object_type,
            f"{AUDIT}object_key": entry.object_key,
            f"{AUDIT}before": None,
            f"{AUDIT}after": dumps(entry.after),
            f"{AUDIT}head": canonical_head(entry),
            f"{AUDIT}sep": SEQ_SEPARATOR,
        }
        written = cur.execute(WRITE_SQL, params).fetchone()
        if written is None or written[0] is None:
            raise RuntimeError(f"{entry.chain} has no head: record through the app first")
    conn.commit()
    return int(visit_id)


def measure(
    info: str,
    content: Template,
    staff: Sequence[Doctor],
    patient: Callable[[int], tuple[int, str]],
    clients: int,
    seconds: float,
) -> tuple[float, list[float]]:
    """``clients`` threads, one connection each, writing visits for ``seconds``:
    (visits/s, latencies in s).  Client *n* records at clinic *n* mod the clinics,
    its patients from ``patient(clinic index)``, as the HTTP clients do."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    connections = [psycopg.connect(info) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(n: int) -> None:
        conn, doctor, mine = connections[n], staff[n % len(staff)], latencies[n]
        barrier.wait()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                write_visit(conn, content, doctor, patient(n % len(staff)))
            except (psycopg.Error, RuntimeError) as exc:
                failures.append(repr(exc))
                conn.rollback()
                if len(failures) > 20:
                    return
                continue
            if not stop.is_set():
                mine.append(time.perf_counter() - started)

    try:
        elapsed = for_a_while(client, clients, seconds, barrier, stop)
    finally:
        for conn in connections:
            conn.close()
    if failures:
        raise SystemExit(f"floor: {len(failures)} failed visits, e.g. {failures[:3]}")
    done = [x for mine in latencies for x in mine]
    return len(done) / elapsed, done


def written(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows inserted plus rows updated so far, per table (partitions into their parent)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(
        "SELECT coalesce(p.relname, s.relname), sum(s.n_tup_ins + s.n_tup_upd)"
        " FROM pg_stat_user_tables AS s"
        " LEFT JOIN pg_class AS p ON p.oid = pg_partition_root(s.relid)"
        " WHERE coalesce(p.relname, s.relname) = ANY(%s)"
        " GROUP BY 1",
        (list(TABLES),),
    ).fetchall()
    counts = {name: 0 for name in TABLES}
    counts.update({name: int(total) for name, total in rows})
    return counts
