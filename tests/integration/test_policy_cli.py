"""``flask policy load|show`` and :func:`app.policy.queries.policy_for`, on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from app.auth.models import User
from app.database import unit_of_work
from app.extensions import db
from app.oversight.checks import screen
from app.places.models import District
from app.policy.models import PolicyVersion
from app.policy.queries import policy_for
from app.visits.operations import LineRequest, VisitRequest, record_visit
from tests.conftest import FixedClock
from tests.factories import HUADU, build_world

POLICY = """\
district = "440114"
effective_from = 2026-01-01
registration_fee = "1.00"          # patient, every programme visit
injection_fee = "1.00"             # patient, when the visit includes an injection
fund_ratio = "0.70"                # share of the fund base the insurance fund pays
fund_deductible = "0.00"           # per person per calendar year
fund_annual_cap = "600.00"         # fund payment per person per calendar year
# fund_visit_cap = "30.00"         # optional cap per visit; omit the key for none
class_b_selfpay_ratio = "0.10"     # 乙类先行自付
class_b_selfpay_backstopped = true # programme: the district also pays that part
require_insured = true             # programme needs an active insurance enrolment
"""


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(args=["policy", *args])
    db.session.rollback()
    return result


def versions() -> list[tuple[dt.date, int, int | None]]:
    rows = db.session.execute(
        select(
            PolicyVersion.effective_from, PolicyVersion.fund_ratio, PolicyVersion.fund_visit_cap
        ).order_by(PolicyVersion.effective_from)
    )
    result = [tuple(row) for row in rows]
    db.session.rollback()
    return result  # type: ignore[return-value]


def add_district() -> None:
    with unit_of_work() as s:
        s.add(District(code=HUADU, name="花都区"))


def test_load_then_reload_identical(app: Flask, tmp_path: Path) -> None:
    add_district()
    path = write(tmp_path, POLICY)
    result = run(app, "load", str(path))
    assert result.exit_code == 0, result.output
    assert "policy 440114 from 2026-01-01: added" in result.stdout
    assert versions() == [(dt.date(2026, 1, 1), 7000, None)]

    again = run(app, "load", str(path))
    assert again.exit_code == 0
    assert "policy 440114 from 2026-01-01: unchanged" in again.stdout
    assert versions() == [(dt.date(2026, 1, 1), 7000, None)]


def test_unused_version_may_be_updated(app: Flask, tmp_path: Path) -> None:
    add_district()
    run(app, "load", str(write(tmp_path, POLICY)))
    changed = POLICY.replace('fund_ratio = "0.70"', 'fund_ratio = "0.75"').replace(
        '# fund_visit_cap = "30.00"', 'fund_visit_cap = "30.00"'
    )
    result = run(app, "load", str(write(tmp_path, changed)))
    assert result.exit_code == 0, result.output
    assert "updated" in result.stdout
    assert versions() == [(dt.date(2026, 1, 1), 7500, 3000)]


def test_problems_name_the_key(app: Flask, tmp_path: Path) -> None:
    add_district()
    bad = (
        POLICY.replace('fund_ratio = "0.70"', 'fund_ratio = "1.5"')
        .replace('injection_fee = "1.00"', "injection_fee = 1.00")
        .replace("require_insured = true", 'require_insured = "yes"')
        + 'colour = "red"\n'
    )
    path = write(tmp_path, bad)
    result = run(app, "load", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: colour: unknown key",
        f'{path}: injection_fee: must be yuan in quotes, e.g. "1.00"',
        f"{path}: fund_ratio: ratio must be between 0 and 1: '1.5'",
        f"{path}: require_insured: must be true or false",
    ]
    assert versions() == []


def test_bad_toml_and_unknown_district(app: Flask, tmp_path: Path) -> None:
    path = write(tmp_path, "district = \n")
    result = run(app, "load", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: toml: ")

    path = write(tmp_path, POLICY)  # no district in the database yet
    result = run(app, "load", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: district: unknown district 440114; import villages first"
    ]
    assert versions() == []

    result = run(app, "load", str(tmp_path / "missing.toml"))
    assert result.exit_code == 1 and "missing.toml: file: " in result.stderr


def _record_one_visit(clock: FixedClock) -> None:
    world = build_world(clock.now)
    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None
    record_visit(
        VisitRequest(
            clinic=world.clinic.code,
            patient_id_number=world.ids["insured_village"],
            lines=(LineRequest("DX001", "1"), LineRequest("AMX01", "12")),
        ),
        actor=doctor,
        now=clock.now,
        screen=screen,
    )
    db.session.rollback()


def test_used_version_is_immutable(app: Flask, tmp_path: Path, clock: FixedClock) -> None:
    _record_one_visit(clock)  # priced with the factory's 2026-01-01 version (the same policy)
    used = db.session.scalar(select(PolicyVersion))
    assert used is not None
    version_id = used.id
    db.session.rollback()

    identical = run(app, "load", str(write(tmp_path, POLICY)))
    assert identical.exit_code == 0 and "unchanged" in identical.stdout

    changed = write(tmp_path, POLICY.replace('fund_ratio = "0.70"', 'fund_ratio = "0.80"'))
    result = run(app, "load", str(changed))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{changed}: effective_from: the version of 440114 from 2026-01-01 was used by "
        "1 visit(s) and cannot change (fund_ratio); load the change as a new version "
        "with a later effective_from"
    ]
    version = db.session.get(PolicyVersion, version_id)
    assert version is not None and version.fund_ratio == 7000
    db.session.rollback()


def test_a_change_is_a_later_version(app: Flask, tmp_path: Path, clock: FixedClock) -> None:
    _record_one_visit(clock)  # 2026-10-15
    on_visit_day = write(
        tmp_path,
        POLICY.replace("2026-01-01", "2026-10-15").replace('"0.70"', '"0.80"'),
        "october.toml",
    )
    result = run(app, "load", str(on_visit_day))
    assert result.exit_code == 1
    assert "visits up to 2026-10-15 were already priced" in result.stderr
    assert len(versions()) == 1

    later = write(
        tmp_path,
        POLICY.replace("2026-01-01", "2026-10-16").replace('"0.70"', '"0.80"'),
        "later.toml",
    )
    result = run(app, "load", str(later))
    assert result.exit_code == 0, result.output
    assert versions() == [(dt.date(2026, 1, 1), 7000, None), (dt.date(2026, 10, 16), 8000, None)]

    shown = run(app, "show", "--district", HUADU)
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("440114 from 2026-01-01") and "1 visits, locked" in lines[0]
    assert "fund_ratio=0.70" in lines[1]
    assert lines[8].startswith("440114 from 2026-10-16") and "0 visits)" in lines[8]
    assert "over_ceiling_backstopped=false require_diagnosis=false" in lines[3]
    assert "fund_ratio=0.80" in lines[9]


def test_policy_for_picks_the_latest_version_in_force(app: Flask, tmp_path: Path) -> None:
    add_district()
    run(app, "load", str(write(tmp_path, POLICY)))
    run(app, "load", str(write(tmp_path, POLICY.replace("2026-01-01", "2026-07-01"), "july.toml")))
    assert policy_for(HUADU, dt.date(2025, 12, 31)) is None
    first = policy_for(HUADU, dt.date(2026, 1, 1))
    assert first is not None and first.effective_from == dt.date(2026, 1, 1)
    june = policy_for(HUADU, dt.date(2026, 6, 30))
    assert june is not None and june.effective_from == dt.date(2026, 1, 1)
    july = policy_for(HUADU, dt.date(2026, 7, 1))
    assert july is not None and july.effective_from == dt.date(2026, 7, 1)
    assert policy_for("440112", dt.date(2026, 7, 1)) is None
    assert db.session.scalar(select(func.count()).select_from(PolicyVersion)) == 2


def test_show_without_versions(app: Flask) -> None:
    result = run(app, "show", "--district", "440112")
    assert result.exit_code == 0
    assert "no policy version" in result.stdout


def test_an_unknown_key_is_refused(app: Flask, tmp_path: Path) -> None:
    add_district()
    # A typo of an optional key must not silently load a policy without a visit cap.
    path = write(tmp_path, POLICY + 'fund_visit_caps = "30.00"\n')
    result = run(app, "load", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"{path}: fund_visit_caps: unknown key"]
    assert versions() == []


def test_a_ratio_has_at_most_four_decimals(app: Flask, tmp_path: Path) -> None:
    add_district()
    five = write(tmp_path, POLICY.replace('fund_ratio = "0.70"', 'fund_ratio = "0.70005"'))
    result = run(app, "load", str(five))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{five}: fund_ratio: ratio has more than 4 decimals: '0.70005'"
    ]
    # Unquoted it is a TOML float: the decimals typed are already lost.
    unquoted = write(tmp_path, POLICY.replace('"0.10"', "0.10005").replace("= true", "= 1"))
    result = run(app, "load", str(unquoted))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f'{unquoted}: class_b_selfpay_ratio: must be a ratio in quotes, e.g. "0.70"',
        f"{unquoted}: class_b_selfpay_backstopped: must be true or false",
        f"{unquoted}: require_insured: must be true or false",
    ]
    assert versions() == []

    four = write(tmp_path, POLICY.replace('fund_ratio = "0.70"', 'fund_ratio = "0.7025"'))
    result = run(app, "load", str(four))
    assert result.exit_code == 0, result.output
    assert versions() == [(dt.date(2026, 1, 1), 7025, None)]


# --- the oversight tables (issue 11): every threshold and switch is the policy's ---------

OVERSIGHT = """
[checks]
late_entry = "warn"
late_entry_hours = 72

[flags]
threshold = "3.5"
min_peers = 5
min_count = 3

[review]
trusted_after_months = 3
sample_percent = 5
sample_above = "100.00"

[auto_submit]
day = 5
"""


def test_oversight_tables_load_show_and_are_what_is_in_force(app: Flask, tmp_path: Path) -> None:
    from fractions import Fraction

    from app.checks.rules import FlagPolicy, ReviewPolicy
    from app.oversight.queries import oversight_policy_for

    add_district()
    result = run(app, "load", str(write(tmp_path, POLICY + OVERSIGHT)))
    assert result.exit_code == 0, result.output
    settings = oversight_policy_for(HUADU, dt.date(2026, 11, 1))
    assert settings.policy.flags == FlagPolicy(Fraction(7, 2), 5, 3)
    assert settings.policy.review == ReviewPolicy(3, 5, 10000)
    assert settings.policy.auto_submit_day == 5 and settings.policy.late_entry_hours == 72
    assert settings.version.startswith("v")
    shown = run(app, "show", "--district", HUADU).stdout.splitlines()
    assert shown[4:] == [
        "  [checks] quantity_over_max=off frequent_visits=off split_visit=off early_refill=off"
        " injection_without_injectable=off injectable_without_injection=off unsuited_item=off"
        " late_entry=warn no_diagnosis=off off_indication=off unsuited_diagnosis=off"
        " late_entry_hours=72",
        "  [flags] threshold=3.5 min_peers=5 min_count=3",
        "  [review] trusted_after_months=3 sample_percent=5 sample_above=100.00",
        "  [auto_submit] day=5",
    ]
    # Before the first version, and with no tables at all: everything off.
    assert oversight_policy_for(HUADU, dt.date(2025, 12, 31)).policy.review is None
    run(app, "load", str(write(tmp_path, POLICY.replace("2026-01-01", "2026-07-01"), "b.toml")))
    later = oversight_policy_for(HUADU, dt.date(2026, 7, 1)).policy
    assert (later.flags, later.review, later.auto_submit_day) == (None, None, None)


def test_oversight_problems_name_the_key(app: Flask, tmp_path: Path) -> None:
    add_district()
    bad = (
        OVERSIGHT.replace('threshold = "3.5"', "threshold = 3.5")
        .replace("min_peers = 5", "min_peers = 2")
        .replace('sample_above = "100.00"', "sample_above = 100")
        .replace("sample_percent = 5", "sample_percent = 120")
        .replace("day = 5", "day = 31")
        .replace("trusted_after_months = 3\n", "")
        .replace("min_count = 3", "min_count = 3\nmin_voids = 2")
    )
    path = write(tmp_path, POLICY + bad)
    result = run(app, "load", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f'{path}: flags.threshold: must be a positive decimal in quotes, e.g. "3.5"',
        f"{path}: flags.min_peers: must be a whole number from 3 to 10000",
        f"{path}: flags.min_voids: unknown key",
        f"{path}: review.trusted_after_months: is required (a whole number from 1 to 60)",
        f"{path}: review.sample_percent: must be a whole number from 0 to 100",
        f'{path}: review.sample_above: must be yuan in quotes, e.g. "1.00"',
        f"{path}: auto_submit.day: must be a whole number from 1 to 28",
    ]
    assert versions() == []
    table = write(tmp_path, POLICY + 'review = "on"\n', "t.toml")
    assert run(app, "load", str(table)).stderr.splitlines() == [
        f"{table}: review: must be a table, e.g. [review]"
    ]


def test_turning_review_on_is_a_new_version_once_visits_used_the_old(
    app: Flask, tmp_path: Path, clock: FixedClock
) -> None:
    from app.oversight.queries import oversight_policy_for

    _record_one_visit(clock)  # 2026-10-15, priced with the 2026-01-01 version
    same_day = write(tmp_path, POLICY + OVERSIGHT, "on.toml")
    refused = run(app, "load", str(same_day))
    assert refused.exit_code == 1 and "cannot change (oversight)" in refused.stderr
    november = write(tmp_path, POLICY.replace("2026-01-01", "2026-11-01") + OVERSIGHT, "nov.toml")
    assert run(app, "load", str(november)).exit_code == 0
    # October's statement is decided under the version in force on 1 November.
    assert oversight_policy_for(HUADU, dt.date(2026, 10, 31)).policy.review is None
    assert oversight_policy_for(HUADU, dt.date(2026, 11, 1)).policy.review is not None


def test_the_readme_example_of_the_oversight_tables_loads() -> None:
    import re

    from app.publishing.operations import read_policy_file

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("*Turning it on.*") :]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    oversight = read_policy_file((POLICY + block.group(1)).encode(), "README.md").policy.oversight
    assert oversight.flags is not None and oversight.review is not None
    assert oversight.auto_submit_day == 5 and oversight.late_entry_hours == 72


def test_the_stock_check_multiple_is_an_optional_flags_key(app: Flask, tmp_path: Path) -> None:
    from fractions import Fraction

    from app.oversight.queries import oversight_policy_for

    add_district()
    text = POLICY + OVERSIGHT.replace("min_count = 3\n", 'min_count = 3\nstock_far_above = "2"\n')
    result = run(app, "load", str(write(tmp_path, text)))
    assert result.exit_code == 0, result.output
    flags = oversight_policy_for(HUADU, dt.date(2026, 11, 1)).policy.flags
    assert flags is not None and flags.stock_far_above == Fraction(2)
    shown = run(app, "show", "--district", HUADU).stdout
    assert "[flags] threshold=3.5 min_peers=5 min_count=3 stock_far_above=2" in shown
    bad = POLICY + OVERSIGHT.replace("min_count = 3\n", "min_count = 3\nstock_far_above = 2\n")
    refused = run(app, "load", str(write(tmp_path, bad)))
    assert refused.exit_code == 1 and "flags.stock_far_above" in refused.output
