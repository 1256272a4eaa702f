"""Deaths (issue 26 §1): the register's date of death refuses visits on or after it, and a
death imported later puts every visit already recorded after it on a review worklist."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.audit.models import AuditEntry
from app.auth.models import User
from app.database import unit_of_work
from app.errors import Problem, ProblemCode
from app.extensions import db
from app.oversight.models import ReviewItem
from app.people.models import Resident
from app.periods.models import Statement
from app.settlement.operations import review_statement, submit_statement
from app.visits.messages import problem_text
from tests.conftest import FixedClock
from tests.factories import World


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(app: Flask, kind: str, path: Path) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(args=["import-data", kind, str(path)])
    db.session.rollback()
    return result.exit_code, result.stdout, result.stderr


def record(client: FlaskClient, world: World, who: str, at: str | None = None) -> dict:
    body: dict = {
        "clinic": "HD001",
        "patient_id_number": world.ids[who],
        "lines": [{"item": "DX001", "quantity": "1"}, {"item": "AMX01", "quantity": "6"}],
    }
    if at:
        body["visited_at"] = at
    headers = {**world.auth("doctor"), "Idempotency-Key": uuid.uuid4().hex}
    resp = client.post("/api/v1/visits", json=body, headers=headers)
    return {"status": resp.status_code, **(resp.json or {})}


def died_on(number: str) -> dt.date | None:
    value = db.session.scalar(select(Resident.died_on).where(Resident.id_number == number))
    db.session.rollback()
    return value


def test_deaths_file_is_checked_whole_and_idempotent(
    app: Flask, world: World, tmp_path: Path
) -> None:
    someone = world.ids["insured_village"]
    bad = write(
        tmp_path,
        "deaths.csv",
        "id_number,died_on\n"
        f"{someone},2026-10-01\n"
        f"{world.ids['unknown']},2026-10-01\n"  # not in the register
        f"{world.ids['uninsured_village']},1950-01-01\n"  # before his birth
        f"{someone},2026-10-02\n"  # repeated
        "44011419600307100X,2026/10/01\n",  # bad check digit and date
    )
    code, _, err = run(app, "deaths", bad)
    assert code == 1
    assert f"{bad}:3: id_number: is not in the resident register" in err
    assert f"{bad}:4: died_on: must not be before the birth date" in err
    assert f"{bad}:5: id_number: ID number repeats line 2" in err
    assert f"{bad}:6: died_on: must be a date like 2026-01-31" in err
    assert died_on(someone) is None  # nothing written

    good = write(tmp_path, "deaths2.csv", f"id_number,died_on\n{someone.lower()},2026-10-01\n")
    code, out, _ = run(app, "deaths", good)
    assert code == 0 and "1 updated" in out
    assert died_on(someone) == dt.date(2026, 10, 1)
    code, out, _ = run(app, "deaths", good)
    assert code == 0 and "1 unchanged" in out
    assert db.session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.action == "import", AuditEntry.object_key == "deaths"
        )
    )


def test_residents_file_may_carry_died_on(app: Flask, world: World, tmp_path: Path) -> None:
    number = world.ids["insured_village"]
    header = "id_number,name,hukou_village_code,insurance_type,insured_from,insured_to,died_on\n"
    path = write(
        tmp_path, "r.csv", header + f"{number},张三,440114100201,resident,2026-01-01,,2026-09-30\n"
    )
    code, _out, err = run(app, "residents", path)
    assert code == 0, err
    assert died_on(number) == dt.date(2026, 9, 30)
    # Without the column the stored date stays; an empty cell clears it.
    old = "id_number,name,hukou_village_code,insurance_type,insured_from,insured_to\n"
    path = write(tmp_path, "r2.csv", old + f"{number},张三,440114100201,resident,2026-01-01,\n")
    assert run(app, "residents", path)[0] == 0
    assert died_on(number) == dt.date(2026, 9, 30)
    path = write(tmp_path, "r3.csv", header + f"{number},张三,440114100201,resident,2026-01-01,,\n")
    assert run(app, "residents", path)[0] == 0
    assert died_on(number) is None


def test_no_visit_on_or_after_the_death(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    number = world.ids["insured_village"]
    with unit_of_work() as s:
        s.execute(
            update(Resident)
            .where(Resident.id_number == number)
            .values(died_on=dt.date(2026, 10, 10))
        )
    before = record(client, world, "insured_village", "2026-10-09T10:00:00+08:00")
    assert before["status"] == 201
    for at in ("2026-10-10T08:00:00+08:00", None):  # the day itself and today
        refused = record(client, world, "insured_village", at)
        assert refused["status"] == 422
        assert "patient_id_number" in refused["errors"]
    # The eligibility look-up says so before anything is typed.
    resp = client.post(
        "/api/v1/residents/eligibility",
        json={"id_number": number, "clinic": "HD001", "date": "2026-10-12"},
        headers=world.auth("doctor"),
    )
    assert resp.status_code == 200 and "deceased" in resp.json["reasons"]
    assert resp.json["programme"] is False
    with app.test_request_context():
        words = problem_text(Problem("patient_id_number", "x", ProblemCode.DECEASED))
    assert "已死亡" in words


def user(name: str) -> User:
    return db.session.scalars(select(User).where(User.username == name)).one()


def test_a_death_imported_later_lists_the_visits_after_it(
    app: Flask, world: World, client: FlaskClient, tmp_path: Path, clock: FixedClock
) -> None:
    september = record(client, world, "insured_village", "2026-09-20T10:00:00+08:00")
    early = record(client, world, "insured_village", "2026-09-01T10:00:00+08:00")
    october = record(client, world, "insured_village")
    other = record(client, world, "uninsured_village")
    assert {september["status"], early["status"], october["status"], other["status"]} == {201}
    # September is reviewed already: its late finding goes on October's worklist.
    submit_statement("HD001", "2026-09", user("doctor"), clock())
    review_statement("HD001", "2026-09", user("reviewer"), clock())
    path = write(
        tmp_path, "d.csv", f"id_number,died_on\n{world.ids['insured_village']},2026-09-10\n"
    )
    code, out, err = run(app, "deaths", path)
    assert code == 0, err
    assert "listed for review: 2" in out
    items = db.session.execute(
        select(ReviewItem, Statement.month).join(Statement, Statement.id == ReviewItem.statement_id)
    ).all()
    listed = {(item.visit_id, month, item.why) for item, month in items}
    assert listed == {
        (september["id"], "2026-10", "died:2026-09-10"),
        (october["id"], "2026-10", "died:2026-09-10"),
    }
    db.session.rollback()
    # Importing the same file again lists nothing twice.
    assert run(app, "deaths", path)[0] == 0
    assert len(db.session.scalars(select(ReviewItem)).all()) == 2
    assert db.session.scalar(
        select(AuditEntry.id).where(AuditEntry.action == "review.listed_after_death")
    )


def test_the_database_refuses_a_death_before_the_birth(app: Flask, world: World) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    number = world.ids["insured_village"]  # born 1960-03-07
    for day in (dt.date(1960, 3, 6), dt.date(1900, 1, 1)):
        refused = pytest.raises(IntegrityError, match="ck_resident_died_after_birth")
        with refused, unit_of_work() as s:
            s.execute(update(Resident).where(Resident.id_number == number).values(died_on=day))
    with unit_of_work() as s:
        s.execute(
            update(Resident).where(Resident.id_number == number).values(died_on=dt.date(1960, 3, 7))
        )
    assert died_on(number) == dt.date(1960, 3, 7)
