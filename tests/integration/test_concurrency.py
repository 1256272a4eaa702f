"""Concurrent visits of one person at two clinics (SPEC §3.6), on both databases.

Several threads, each with its own app context (so its own session and
connection), record visits for ONE person at HD001 and HD002 at the same
moment under a low annual cap.  Whatever the interleaving, the fund never
pays past the cap, the person's year row equals the sum over the visits, every
visit satisfies the identity, receipt numbers stay gapless per clinic and the
statement rollups equal the visits and lines (several doctors of one clinic
adding to the same rows at once lose nothing, nor does a rebuild meanwhile).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.auth.models import User
from app.auth.operations import create_user
from app.database import unit_of_work
from app.extensions import db
from app.oversight.checks import screen
from app.people.models import Resident
from app.policy.models import PolicyVersion
from app.settlement.figures import day_rollup_differences, item_rollup_differences
from app.visits.models import ClinicMonthItem, FundUsage, IdempotencyKey, Visit
from app.visits.operations import (
    LineRequest,
    VisitRequest,
    rebuild_rollups,
    record_visit,
    void_visit,
)
from tests.conftest import FixedClock
from tests.factories import World, build_world

THREADS = 6
VISITS_PER_THREAD = 5
CAP = 3000  # 30.00 yuan: binds after two worked-example visits (12.15 each)

LINES = (
    LineRequest("DX001", "1"),
    LineRequest("AMX01", "12"),
    LineRequest("FFGC1", "1"),
    LineRequest("HY001", "1"),
)


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    world = build_world(clock())
    with unit_of_work() as s:  # the factory's policy, with a cap that binds
        s.execute(update(PolicyVersion).values(fund_annual_cap=CAP))
    for i in range(THREADS):
        create_user(f"racer{i}", "secret-pass", "doctor", clinic_code=("HD001", "HD002")[i % 2])
    return world


def run_threads(
    app: Flask, work: Callable[[int], None], count: int = THREADS
) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads started together; return what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                work(i)
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return errors


def user(username: str) -> User:
    actor = db.session.scalar(select(User).where(User.username == username))
    assert actor is not None
    return actor


def check_books(person_id_number: str) -> dict[str, Any]:
    """The invariants, read back from the database; returns a summary."""
    db.session.rollback()
    resident = db.session.scalar(select(Resident).where(Resident.id_number == person_id_number))
    assert resident is not None
    visits = list(db.session.scalars(select(Visit).order_by(Visit.id)))
    live = [v for v in visits if v.voided_at is None and v.resident_id == resident.id]
    fund_sum = sum(v.fund for v in live)
    assert fund_sum <= CAP
    usage = db.session.get(FundUsage, (resident.id, 2026))
    assert usage is not None and usage.fund_paid == fund_sum
    assert usage.deductible_used == sum(v.deductible_applied for v in live)
    seqs: dict[int, list[int]] = defaultdict(list)
    for visit in visits:
        assert visit.total == visit.patient + visit.fund + visit.fiscal
        assert visit.total == visit.lines_total + visit.registration + visit.injection_fee
        assert min(visit.patient, visit.fund, visit.fiscal) >= 0
        seqs[visit.clinic_id].append(visit.receipt_seq)
        assert visit.receipt_number.endswith(f"-2026-{visit.receipt_seq:06d}")
    for clinic_seqs in seqs.values():
        assert sorted(clinic_seqs) == list(range(1, len(clinic_seqs) + 1))
    # The clinic's month per item and its days lost no concurrent visit or void.
    assert item_rollup_differences() == []
    assert day_rollup_differences() == []
    return {
        "visits": len(visits),
        "fund": fund_sum,
        "per_clinic": {k: len(v) for k, v in seqs.items()},
    }


def test_one_person_two_clinics_never_passes_the_cap(
    app: Flask, world: World, clock: FixedClock
) -> None:
    person = world.ids["insured_village"]

    def work(i: int) -> None:
        actor = user(f"racer{i}")
        clinic = ("HD001", "HD002")[i % 2]
        for _ in range(VISITS_PER_THREAD):
            request = VisitRequest(clinic, person, injection=True, lines=LINES)
            _visit, created = record_visit(request, actor, clock(), screen=screen)
            assert created

    errors = run_threads(app, work)
    assert errors == []
    books = check_books(person)
    assert books["visits"] == THREADS * VISITS_PER_THREAD
    assert books["fund"] == CAP  # 12.15 + 12.15 + 5.70, then nothing
    assert sorted(books["per_clinic"].values()) == [15, 15]
    funds = sorted(v.fund for v in db.session.scalars(select(Visit)))
    assert funds == [0] * 27 + [570, 1215, 1215]
    fiscal = {v.fund + v.fiscal for v in db.session.scalars(select(Visit))}
    assert fiscal == {1770}  # the district backstops exactly what the cap leaves
    # Three doctors of each clinic added to the same item rows at once: 15 visits each.
    counts = db.session.execute(
        select(ClinicMonthItem.clinic_id, ClinicMonthItem.lines).where(
            ClinicMonthItem.item_code == "DX001"
        )
    ).all()
    assert sorted(lines for _, lines in counts) == [15, 15]


def test_voids_and_visits_race(app: Flask, world: World, clock: FixedClock) -> None:
    """Half the threads void while the others record: the year row stays the sum."""
    person = world.ids["insured_village"]
    first: list[int] = []
    for n in range(THREADS // 2):
        actor = user(f"racer{n * 2}")  # HD001 doctors
        visit, _ = record_visit(
            VisitRequest("HD001", person, True, LINES), actor, clock(), screen=screen
        )
        first.append(visit.id)
    db.session.rollback()

    def work(i: int) -> None:
        actor = user(f"racer{i}")
        if i % 2 == 0:  # an HD001 doctor voids one of the first visits
            void_visit(first[i // 2], "entered twice", actor, clock())
        else:
            for _ in range(2):
                record_visit(
                    VisitRequest("HD002", person, True, LINES), actor, clock(), screen=screen
                )

    assert run_threads(app, work) == []
    books = check_books(person)
    assert books["visits"] == THREADS // 2 + (THREADS // 2) * 2


def test_a_rollup_rebuild_racing_visits_loses_and_doubles_nothing(
    app: Flask, world: World, clock: FixedClock
) -> None:
    """One thread rebuilds the rollups again and again while the others record visits,
    each into a day of its own (new rollup rows being inserted as the rebuild refills
    the table): no thread fails, and the rollups end equal to the visits and lines."""
    person = world.ids["insured_village"]
    now = clock()

    def work(i: int) -> None:
        if i == 0:
            for _ in range(VISITS_PER_THREAD):
                rebuild_rollups(None, "racer0", now)
            return
        actor = user(f"racer{i}")
        for n in range(VISITS_PER_THREAD):
            when = now - dt.timedelta(days=i * VISITS_PER_THREAD + n, hours=1)
            request = VisitRequest(
                ("HD001", "HD002")[i % 2], person, injection=True, lines=LINES, visited_at=when
            )
            record_visit(request, actor, now, screen=screen)

    assert run_threads(app, work) == []
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Visit)) == (THREADS - 1) * (
        VISITS_PER_THREAD
    )
    assert day_rollup_differences() == []
    assert item_rollup_differences() == []


def test_one_idempotency_key_from_many_threads_records_once(
    app: Flask, world: World, clock: FixedClock
) -> None:
    person = world.ids["insured_village"]
    results: list[tuple[int, bool]] = []

    def work(_i: int) -> None:
        request = VisitRequest("HD001", person, injection=True, lines=LINES)
        visit, created = record_visit(
            request, user("doctor"), clock(), "retry-storm", screen=screen
        )
        results.append((visit.id, created))

    assert run_threads(app, work) == []
    assert len({visit_id for visit_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    books = check_books(person)
    assert books["visits"] == 1 and books["fund"] == 1215
    assert len(list(db.session.scalars(select(IdempotencyKey)))) == 1


def test_appends_to_one_chain_from_many_threads_stay_one_chain(
    app: Flask, world: World, clock: FixedClock
) -> None:
    """The head row is the only lock here (the system chain): it alone keeps the chain whole."""
    from app.audit.operations import append
    from app.audit.queries import entries, heads
    from app.audit.rules import SYSTEM_CHAIN, chain_findings

    def work(i: int) -> None:
        for n in range(VISITS_PER_THREAD):
            with unit_of_work() as session:
                append(session, "cli", "import", ("import", f"race-{i}-{n}"), None,
                       {"thread": i, "n": n, "名": "并发"}, clock())  # fmt: skip

    assert run_threads(app, work) == []
    db.session.rollback()
    chain = list(entries(SYSTEM_CHAIN))
    assert chain_findings(SYSTEM_CHAIN, chain, heads()[SYSTEM_CHAIN]) == []
    raced = [e for e in chain if e.object_key.startswith("race-")]
    assert len(raced) == THREADS * VISITS_PER_THREAD
