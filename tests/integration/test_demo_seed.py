"""``flask demo seed``: a small variant, through the real import, policy, user and visit paths."""

from __future__ import annotations

import random
from fractions import Fraction

from flask import Flask
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.auth.models import User
from app.catalog.models import CatalogItem
from app.demo.seed import DATA, residents_file
from app.extensions import db
from app.people.models import Resident
from app.places.models import Clinic, District, Village
from app.policy.models import PolicyVersion
from app.visits.models import Visit


def count(model: type, *where: object) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_demo_seed(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "seed", "--residents", "200", "--days", "10"])
    db.session.rollback()
    assert result.exit_code == 0, result.output
    assert "0 break total = patient + fund + fiscal" in result.stdout
    assert "password demo1234" in result.stdout

    assert count(District) == 2
    assert count(Village) >= 30
    assert count(Village, Village.kind == "community") >= 5
    assert count(Village, Village.code.startswith("440112")) >= 2
    assert count(Clinic) == 20
    assert count(Clinic, Clinic.left_on.is_not(None)) == 1
    assert count(Clinic, Clinic.joined_on.is_(None)) == 1
    assert count(Resident) == 200
    assert count(CatalogItem) >= 150
    assert count(CatalogItem, CatalogItem.kind == "consultation") == 1
    consultation = db.session.scalar(select(CatalogItem).where(CatalogItem.kind == "consultation"))
    assert (
        consultation is not None and consultation.code == "DX001" and consultation.pinyin == "ybzlf"
    )
    assert count(PolicyVersion) == 1
    for username in ("doctor", "doctor2", "reviewer", "finance", "admin", "doc_HD0101"):
        assert count(User, User.username == username) == 1, username
    # The clinic doctors share one hash of the demo password: each can still log in.
    for username in ("doctor", "doc_HD0101", "doc_HD0603"):
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None and check_password_hash(user.password_hash, "demo1234"), username

    visits = count(Visit)
    assert 20 <= visits <= 6000
    assert count(Visit, Visit.programme.is_(True), Visit.fiscal > 0) > 0
    assert count(Visit, Visit.injection.is_(True)) > 0
    # The identity, for every visit (the CHECK constraint guarantees it; prove it).
    assert count(Visit, Visit.total != Visit.patient + Visit.fund + Visit.fiscal) == 0
    totals = db.session.execute(
        select(func.sum(Visit.total), func.sum(Visit.patient + Visit.fund + Visit.fiscal))
    ).one()
    assert totals[0] == totals[1] and totals[0] > 0
    # Every visit was recorded by a doctor of its own clinic.
    recorded_elsewhere = db.session.scalar(
        select(func.count())
        .select_from(Visit)
        .join(User, User.id == Visit.recorded_by_id)
        .where((User.role != "doctor") | (User.clinic_id != Visit.clinic_id))
    )
    assert recorded_elsewhere == 0
    db.session.rollback()

    again = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    refused = runner.invoke(args=["demo", "seed"])
    assert refused.exit_code == 1 and "not empty" in refused.stderr
    db.session.rollback()
    assert count(Visit) == visits


def test_generated_residents_are_deterministic(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["import-data", "villages", str(DATA / "villages.csv")])
    db.session.rollback()
    first = residents_file(random.Random(7), 100)
    assert first == residents_file(random.Random(7), 100)
    lines = first.decode().splitlines()
    assert len(lines) == 101
    assert len({line.split(",")[0] for line in lines[1:]}) == 100


def test_demo_seed_settles_history(app: Flask, clock: object) -> None:
    """The full-calendar seed leaves the oldest month paid and last month to review.

    Few visits keep it quick; the history goes through the settlement operations.
    """
    from app.demo.seed import SeedOptions, seed_demo
    from app.settlement.models import Statement

    now = app.config["CLOCK"]()  # 2026-10-15 in Shanghai: August paid, September submitted
    report = seed_demo(SeedOptions(residents=60, visits_per_clinic_day=(6, 1)), now)
    db.session.rollback()
    assert report.visits > 0
    assert count(Statement, Statement.month == "2026-08", Statement.status == "paid") == 20
    paid = db.session.scalar(
        select(func.sum(Statement.paid_amount)).where(Statement.month == "2026-08")
    )
    due = db.session.scalar(
        select(func.sum(Visit.fiscal)).where(Visit.month == "2026-08", Visit.voided_at.is_(None))
    )
    assert paid == due and paid > 0
    # September under credit-first: trusted clinics reviewed by the system, the rest
    # (a month returned, or flagged) waiting with a worklist; the costly clinic flagged.
    submitted = count(Statement, Statement.month == "2026-09", Statement.status == "submitted")
    reviewed = count(Statement, Statement.month == "2026-09", Statement.status == "reviewed")
    assert submitted + reviewed == 19 and reviewed > 0 and submitted >= 3
    from app.oversight.models import ClinicFlag, ReceiptFeedback, ReviewItem

    costly = db.session.scalar(select(Clinic.id).order_by(Clinic.code.desc()).limit(1))
    assert count(ClinicFlag, ClinicFlag.clinic_id == costly, ClinicFlag.month == "2026-09") > 0
    # The costly clinic stands out most; no flag is a clinic below its peers.
    flags = db.session.scalars(select(ClinicFlag).where(ClinicFlag.month == "2026-09")).all()
    # Issue 26: the clinic with phantom visits (second to last) stands out by its repeat
    # visits (in this tiny world of 60 people, so may a clinic that saw one twice).
    phantom = db.session.scalar(select(Clinic.id).order_by(Clinic.code.desc()).offset(1).limit(1))
    figures = {(f.clinic_id, f.figure) for f in flags}
    assert (phantom, "visits_per_patient") in figures
    # …and by its strokes: every villager it billed "had one", no other clinic records any.
    strokes = {(f.clinic_id, f.figure) for f in flags if f.diagnosis == "I64.x00"}
    assert (phantom, "diagnosis_share") in strokes
    people = db.session.scalar(
        select(func.count(func.distinct(Visit.patient_id_number))).where(
            Visit.clinic_id == phantom, Visit.month == "2026-09", Visit.diagnoses == "I64.x00"
        )
    )
    # Per 1,000 residents too, once enough people "had one" (min_count 3; 60 people here).
    assert ((phantom, "diagnosis_prevalence") in strokes) == (people >= 3), people
    assert {clinic for clinic, _ in strokes} == {phantom}
    costliest = max((f for f in flags if f.clinic_id == costly), key=lambda f: Fraction(f.score))
    assert costliest.figure in ("cost_per_visit", "complaint_share")
    assert all(Fraction(f.score) > 0 for f in flags)
    assert count(ReviewItem) > 0 and count(ReceiptFeedback, ReceiptFeedback.asked_more) == 3
    # September's fund settlement is reconciled, with one of every kind of difference.
    from app.reconcile.queries import reconciliation

    outcomes = {o.reason for o in reconciliation("440114", "2026-09").outcomes}
    assert {"insurance_lapsed", "price_difference", "never_settled", "reversed"} <= outcomes
    assert {"duplicate_settlement", "no_such_receipt", "equal"} <= outcomes
    assert "2026-09" in report.reconciled and "adjustments" in report.reconciled
    first = db.session.scalar(select(Clinic).order_by(Clinic.code))
    assert first is not None
    # Patients to try, one per eligibility case, each really eligible or not.
    result = app.test_cli_runner().invoke(args=["demo", "patients", "--clinic", first.code])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and lines[0].split()[3] == "一元看病"
    assert all(line.split()[3].startswith("非一元看病") for line in lines[1:4])
    assert lines[4].split()[3] == "已死亡:"  # issue 26: the demo's death
    from app.localtime import local_date
    from app.visits.queries import patient_eligibility

    admin = db.session.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    verdicts = [
        patient_eligibility(line.split()[0], first, local_date(now), admin).eligibility.programme
        for line in lines
    ]
    assert verdicts == [True, False, False, False, False]
    # Issue 26: a death with a visit after it, on a worklist; villagers disowning phantom
    # visits; a clinic dispensing beyond its deliveries, flagged; the doctor's clinic clean.
    from app.oversight.models import VisitDisowned
    from app.stock.queries import far_above_for, stock_statement

    assert count(Resident, Resident.died_on.is_not(None)) == 1
    assert count(ReviewItem, ReviewItem.why.like("%died:%")) >= 1
    assert count(VisitDisowned) >= 1
    assert count(ReviewItem, ReviewItem.why.like("%disowned%")) == count(VisitDisowned)
    short = db.session.scalars(select(Clinic).order_by(Clinic.code.desc()).offset(2)).first()
    assert short is not None
    kinds = {
        f.kind.value
        for f in stock_statement(short, "2026-09", far_above_for(short, "2026-09")).flags
    }
    assert {"dispensed_over_delivered", "dispensed_far_above", "trace_code_twice"} <= kinds
    assert stock_statement(first, "2026-09", far_above_for(first, "2026-09")).flags == []
    assert stock_statement(first, "2026-09", None).rows
    # The demo doctor's clinic keeps September open, for the demo to submit.
    kept_open = Statement.month == "2026-09", Statement.clinic_id == first.id
    assert count(Statement, *kept_open, Statement.status != "open") == 0
