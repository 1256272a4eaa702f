"""Every row that moves money or decides eligibility is under the audit chain (issue 23, item 2).

Each test makes one insider edit by direct SQL, behind the app's back, and
checks that ``flask audit verify`` reports it: an inserted or changed
adjustment line, a changed or inserted fund settlement row, a policy ratio
changed after use, a price period or a catalogue field changed, a resident
moved to another village or his insurance dates changed, a visit's patient,
date or doctor changed, and a whole clinic chain rewritten consistently (only
the signed anchors outside the database catch that one).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.audit.models import AuditChain, AuditEntry
from app.audit.operations import append, table_digest_state
from app.audit.queries import entries
from app.audit.rules import clinic_chain, seal
from app.database import unit_of_work
from app.extensions import db
from app.integrity.verify import verify
from tests.factories import World
from tests.integration.test_audit import tamper
from tests.integration.test_reconcile import import_file, simulate, world

__all__ = ["world"]  # October's visits at HD001 (test_reconcile)

MIN_ADJUSTMENT = "(SELECT min(id) FROM statement_adjustment)"
ADJUSTMENT_COLUMNS = (
    "clinic_id, statement_month, belongs_to, visit_id, receipt_number, source, outcome, "
    "reason, fund_computed, fund_paid, amount, note, created_at, created_by_id"
)
SETTLEMENT_COLUMNS = (
    "file_id, line, insurance_code, mdtrt_id, certno, setl_time, medfee_sumamt, "
    "inscp_scp_amt, act_pay_dedc, hifp_pay, fund_pay_sumamt, psn_cash_pay"
)


@pytest.fixture
def reconciled(app: Flask, world: World, tmp_path: Path) -> World:
    """October's fund settlement imported, with adjustments booked; the chains clean."""
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1, price=1, reversed=1)
    import_file(app, path)
    assert db.session.scalar(text("SELECT count(*) FROM statement_adjustment")) > 0
    assert findings() == []
    return world


def findings() -> list[str]:
    db.session.remove()
    found = [str(f) for f in verify().findings]
    db.session.remove()  # SQLite: no read left open under the next edit
    return found


def caught(expected: str) -> None:
    found = findings()
    assert any(expected in f for f in found), found


def test_an_inserted_adjustment_is_caught(reconciled: World) -> None:
    tamper(
        f"INSERT INTO statement_adjustment ({ADJUSTMENT_COLUMNS}) "
        f"SELECT clinic_id, statement_month, belongs_to, visit_id, receipt_number, source, "
        f"outcome, reason, fund_computed, fund_paid, 50000, note, created_at, created_by_id "
        f"FROM statement_adjustment WHERE id = {MIN_ADJUSTMENT}"
    )
    caught("was never audited")


def test_a_changed_adjustment_is_caught(reconciled: World) -> None:
    tamper(f"UPDATE statement_adjustment SET amount = amount + 10000 WHERE id = {MIN_ADJUSTMENT}")
    caught("amount is")


def test_a_changed_settlement_row_is_caught(reconciled: World) -> None:
    tamper(
        "UPDATE fund_settlement SET fund_pay_sumamt = fund_pay_sumamt - 500 "
        "WHERE id = (SELECT min(id) FROM fund_settlement)"
    )
    caught("fund settlement file")


def test_an_inserted_settlement_row_is_caught(reconciled: World) -> None:
    tamper(
        f"INSERT INTO fund_settlement (setl_id, {SETTLEMENT_COLUMNS}) "
        f"SELECT 'FORGED-1', {SETTLEMENT_COLUMNS} FROM fund_settlement "
        "WHERE id = (SELECT min(id) FROM fund_settlement)"
    )
    caught("fund settlement file")


def test_a_policy_ratio_changed_after_use_is_caught(reconciled: World) -> None:
    tamper("UPDATE policy_version SET fund_ratio = fund_ratio - 100")
    caught("fund_ratio is")


def test_a_changed_price_period_is_caught(reconciled: World) -> None:
    tamper("UPDATE item_price SET price = price + 100 WHERE id = (SELECT min(id) FROM item_price)")
    caught("table item_price")


def test_a_changed_catalogue_field_is_caught(reconciled: World) -> None:
    tamper("UPDATE catalog_item SET insurance_class = 'A' WHERE insurance_class = 'B'")
    caught("table catalog_item")


def test_a_resident_moved_to_another_village_is_caught(reconciled: World) -> None:
    tamper(
        "UPDATE resident SET hukou_village_code = '440114101201' WHERE id_number = :id",
        id=reconciled.ids["insured_community"],
    )
    caught("table resident")


def test_changed_insurance_dates_are_caught(reconciled: World) -> None:
    tamper(
        "UPDATE resident SET insured_to = NULL WHERE id_number = :id",
        id=reconciled.ids["expired_village"],
    )
    caught("table resident")


def test_a_visits_patient_swapped_for_another_is_caught(reconciled: World) -> None:
    tamper(
        "UPDATE visit SET patient_id_number = :other WHERE id = (SELECT min(id) FROM visit)",
        other=reconciled.ids["insured_community"],
    )
    caught("patient_id_number is")


def test_a_visits_date_moved_is_caught(reconciled: World) -> None:
    tamper(
        "UPDATE visit SET visit_date = :day WHERE id = (SELECT min(id) FROM visit)",
        day=dt.date(2026, 10, 28),
    )
    caught("visit_date is")


def test_a_visits_doctor_changed_is_caught(reconciled: World) -> None:
    tamper(
        "UPDATE visit SET recorded_by_id = "
        "(SELECT id FROM user_account WHERE username = 'doctor2') "
        "WHERE id = (SELECT min(id) FROM visit)"
    )
    caught("recorded_by_id is")


# --- anchors: a consistent rewrite of a whole chain -----------------------------------------


def _rewrite_chain(chain: str) -> None:
    """Change the first entry's actor and re-seal every entry after it, head included:
    the chain is consistent again, as an administrator with the database alone can make it."""
    old = list(entries(chain))
    db.session.remove()
    prev = old[0].prev_hash
    statements, params = [], {}
    for n, entry in enumerate(old):
        forged = seal(
            type(entry)(**{**entry.__dict__, "hash": "", "prev_hash": prev,
                           "actor": "doctor2" if n == 0 else entry.actor})
        )  # fmt: skip
        statements.append(
            f"UPDATE audit_entry SET actor = :actor{n}, prev_hash = :prev{n}, hash = :hash{n} "
            f"WHERE chain = :chain AND seq = {entry.seq}"
        )
        params.update({f"actor{n}": forged.actor, f"prev{n}": prev, f"hash{n}": forged.hash})
        prev = forged.hash
    statements.append(f"UPDATE audit_chain SET last_hash = '{prev}' WHERE chain = :chain")
    if db.engine.dialect.name == "postgresql":  # the superuser switches the guard off
        statements = [
            "ALTER TABLE audit_entry DISABLE TRIGGER USER",
            *statements,
            "ALTER TABLE audit_entry ENABLE TRIGGER USER",
        ]
    tamper(*statements, chain=chain, **params)


def test_a_consistently_rewritten_chain_is_caught_by_the_anchors(
    app: Flask, reconciled: World, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.log"
    app.config.update(AUDIT_ANCHOR_FILE=str(anchors), AUDIT_ANCHOR_KEY="kept-off-the-database")
    runner = app.test_cli_runner()
    anchored = runner.invoke(args=["audit", "anchor"])
    assert anchored.exit_code == 0 and "anchored" in anchored.output, anchored.output
    db.session.remove()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    chain = clinic_chain("HD001")
    _rewrite_chain(chain)
    assert findings() == []  # consistent: the chain alone cannot tell
    assert db.session.scalar(select(AuditChain.last_seq).where(AuditChain.chain == chain))
    db.session.remove()
    result = runner.invoke(args=["audit", "verify"])  # checks the anchors by itself
    assert result.exit_code == 1
    assert "the chain was rewritten" in result.output, result.output


def test_an_altered_anchor_line_is_caught(app: Flask, reconciled: World, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.log"
    app.config.update(AUDIT_ANCHOR_FILE=str(anchors), AUDIT_ANCHOR_KEY="kept-off-the-database")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    lines = anchors.read_text().splitlines()
    assert len(lines) == 2  # appended, never rewritten
    anchors.write_text(lines[0].replace('"at":"2', '"at":"1', 1) + "\n" + lines[1] + "\n")
    db.session.remove()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "signature does not match" in result.output
    db.session.remove()
    assert db.session.scalar(select(AuditEntry.id).limit(1)) is not None


def test_a_digest_from_before_a_new_column_still_verifies(reconciled: World) -> None:
    """A migration that adds a column (say a national catalogue field) raises no false
    finding: the recorded digest names its columns and is checked over those."""
    older = [c.name for c in db.metadata.tables["item_price"].c][:-1]
    with unit_of_work() as session:
        state = table_digest_state(session, "item_price", older)
        append(session, "cli", "table.digest", ("table", "item_price"), None, state, None)
    assert findings() == []
    tamper("UPDATE item_price SET price = price + 1 WHERE id = (SELECT min(id) FROM item_price)")
    caught("table item_price")
