"""Peer flags on the diagnosis mix (issue 19 §5, issue 26 §3): the phantom strokes.

A clinic whose village suddenly has many "strokes" among peers that record a
cold now and then is flagged on the share of its visits with the stroke code
and on its prevalence per 1,000 registered residents; the flags are stored
with the diagnosis code, shown in Chinese on the reviewer's board and the
flagged-visits page, and open the visits carrying that diagnosis.
"""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth.operations import create_user
from app.catalog.models import Diagnosis
from app.catalog.rules import pinyin_initials
from app.checks.labels import decimal_places
from app.database import unit_of_work
from app.extensions import db
from app.oversight.models import ClinicFlag
from app.people.models import Resident
from app.people.rules import make_id_number
from app.places.models import Clinic
from app.settlement.operations import submit_statement
from tests.conftest import FixedClock
from tests.factories import HUADU, World, set_oversight_policy
from tests.integration.test_settlement import SEPT, record, user, world
from tests.integration.test_settlement_pages import login

__all__ = ["world"]

VILLAGE = "440114101201"
STROKE = "I64.x00"
COLD = "J06.900"
PEERS = ("DP01", "DP02", "DP03", "DP04", "DP05")
PHANTOM = "DPX9"
SEPT_DAY = dt.datetime(2026, 9, 10, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_g(app: Flask) -> None:
    @app.before_request
    def _forget() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)


@pytest.fixture
def district(world: World) -> dict[str, str]:
    """Six clinics in one village of 40 registered residents, a stroke code in the list."""
    set_oversight_policy(review=False)
    people: dict[str, str] = {}
    with unit_of_work() as s:
        s.add(
            Diagnosis(
                code=STROKE,
                name="脑卒中",
                system="western",
                valid_from=dt.date(2019, 1, 1),
                valid_to=None,
                pinyin=pinyin_initials("脑卒中"),
            )
        )
        for n, code in enumerate((*PEERS, PHANTOM), start=1):
            s.add(
                Clinic(
                    code=code,
                    name=f"诊断{n}村卫生站",
                    village_code=VILLAGE,
                    joined_on=dt.date(2016, 1, 1),
                )
            )
        for serial in range(40):
            number = make_id_number("440114", dt.date(1950 + serial, 5, 1), 300 + serial)
            people[f"v{serial}"] = number
            s.add(
                Resident(
                    id_number=number,
                    name=f"村民{serial}",
                    sex="M" if int(number[16]) % 2 else "F",
                    birth_date=dt.date(1950 + serial, 5, 1),
                    hukou_village_code=VILLAGE,
                    insurance_type="resident",
                    insured_from=dt.date(2026, 1, 1),
                )
            )
    for code in (*PEERS, PHANTOM):
        create_user(f"doc-{code}", "secret-pass", "doctor", clinic_code=code)
    world.ids.update(people)
    return people


def seed(world: World, now: dt.datetime) -> None:
    """Peers: four colds each, one of them also a stroke; the phantom: six strokes."""
    for n, clinic in enumerate(PEERS):
        for k in range(4):
            diagnoses = (COLD, STROKE) if (n, k) == (0, 0) else (COLD,)
            record(
                world,
                now,
                clinic=clinic,
                doctor=f"doc-{clinic}",
                patient=f"v{n * 4 + k}",
                at=SEPT_DAY.replace(day=3 + k),
                lines=(("DX001", "1"),),
                injection=False,
                diagnoses=diagnoses,
            )
    for k in range(6):
        record(
            world,
            now,
            clinic=PHANTOM,
            doctor=f"doc-{PHANTOM}",
            patient=f"v{20 + k}",
            at=SEPT_DAY.replace(day=3 + k),
            lines=(("DX001", "1"),),
            injection=False,
            diagnoses=(STROKE,),
        )


def stored(clinic: str) -> dict[tuple[str, str | None], ClinicFlag]:
    rows = db.session.scalars(
        select(ClinicFlag)
        .join(Clinic, Clinic.id == ClinicFlag.clinic_id)
        .where(Clinic.code == clinic, ClinicFlag.month == SEPT)
    )
    return {(r.figure, r.diagnosis): r for r in rows}


def test_phantom_strokes_are_flagged_stored_shown_and_open_their_visits(
    app: Flask, client: FlaskClient, world: World, district: dict[str, str], clock: FixedClock
) -> None:
    seed(world, clock())
    result = app.test_cli_runner().invoke(
        args=["oversight", "flags", "--district", HUADU, "--month", SEPT]
    )
    assert result.exit_code == 0, result.output
    assert f"{PHANTOM}\tdiagnosis_prevalence:{STROKE}" in result.output
    flags = stored(PHANTOM)
    prevalence = flags[("diagnosis_prevalence", STROKE)]
    residents = db.session.scalar(
        select(db.func.count(Resident.id)).where(Resident.hukou_village_code == VILLAGE)
    )
    # Six people with a stroke among the village's registered residents, per 1,000.
    assert abs(Fraction(prevalence.value) - Fraction(6000, residents)) < Fraction(1, 10**11)
    assert Fraction(prevalence.median) == 0 and prevalence.peers == 6
    assert ("diagnosis_share", STROKE) in flags
    # The colds are like everyone's, the one peer stroke is one case: no flag elsewhere.
    for clinic in PEERS:
        assert not [k for k in stored(clinic) if k[1] is not None]
    assert not [k for k in flags if k[1] == COLD]

    login(client, "reviewer")
    board = client.get(f"/board?month={SEPT}").get_data(as_text=True)
    words = re.search(
        r"脑卒中 I64\.x00 患病率 每千人 (\d+\.\d)，全区中位数 0\.0，高于中位数", board
    )
    assert words, board
    assert words.group(1) == str(decimal_places(Fraction(6000, residents), 1))
    assert "脑卒中 I64.x00 就诊占比 100.0%，全区中位数 0.0%" in board
    link = (
        f"/oversight/clinics/{PHANTOM}/{SEPT}/visits"
        "?figure=diagnosis_prevalence&amp;diagnosis=I64.x00"
    )
    assert link in board

    page = client.get(link.replace("&amp;", "&"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "脑卒中 I64.x00 患病率：有此诊断的就诊，按患者排列" in text
    assert len(re.findall(r'<tr data-visit="', text)) == 6
    # A peer's stroke page lists its one stroke visit, not its colds.
    peer = client.get(
        f"/oversight/clinics/{PEERS[0]}/{SEPT}/visits?figure=diagnosis_share&diagnosis={STROKE}"
    ).get_data(as_text=True)
    assert len(re.findall(r'<tr data-visit="', peer)) == 1
    # A diagnosis figure without its code is nobody's page.
    bare = client.get(f"/oversight/clinics/{PHANTOM}/{SEPT}/visits?figure=diagnosis_share")
    assert bare.status_code == 404


def test_submitting_stores_the_clinics_diagnosis_flags(
    world: World, district: dict[str, str], clock: FixedClock
) -> None:
    seed(world, clock())
    submit_statement(PHANTOM, SEPT, user(f"doc-{PHANTOM}"), clock())
    assert {("diagnosis_share", STROKE), ("diagnosis_prevalence", STROKE)} <= set(stored(PHANTOM))
    # Submitting again replaces them, never doubles them.
    assert len(stored(PHANTOM)) == len(set(stored(PHANTOM)))


def test_a_decision_naming_a_diagnosis_flag_reads_in_words(app: Flask) -> None:
    """Credit-first's reasons name a diagnosis-mix flag with its code (rules.trust)."""
    from app.checks.rules import Figure, Flag, ReviewPolicy, trust
    from app.checks.words import decision_words

    one = Fraction(1)
    flag = Flag(PHANTOM, Figure.DIAGNOSIS_PREVALENCE, one, one, one, one, 6, STROKE)
    decision = trust([], [flag], ReviewPolicy(0, 5, 10_000))
    reason = "credit_first policy v1: " + ",".join(decision.reasons)
    assert f"flagged:diagnosis_prevalence:{STROKE}" in reason
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        words = decision_words(reason)
        assert f"{STROKE} 患病率" in words and "flagged" not in words
        # A reason cut at its stored length mid-code stays readable, never an error.
        cut = decision_words("credit_first policy v1: flagged:diagnosis_sha")
        assert "diagnosis_sha" in cut
