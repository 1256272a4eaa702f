"""``flask insurance …``: settling recorded visits — the retry loop (补结算) and the sweep.

It lives with the visits because its sweep finds recorded visits that never got
a settlement row; the settling itself is :mod:`app.insurance`, below the visits.

Run ``flask insurance retry`` every minute from cron (or a worker loop with
``--every 60``): it settles every pending visit whose time has come, with
backoff, and hands a visit over to a person (``failed``, shown on the pending
board) after ``INSURANCE_MAX_ATTEMPTS`` attempts.  It first sweeps: an insured
visit recorded with a platform configured but without a settlement row (the
app was killed between the visit's commit and the row's) gets one now.
"""

from __future__ import annotations

import datetime as dt
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.auth.models import User
from app.clock import clock
from app.extensions import db
from app.insurance.client import gateway_from_config
from app.insurance.models import InsuranceSettlement
from app.insurance.operations import open_settlement, settle_due
from app.insurance.rules import visit_claim
from app.localtime import SHANGHAI
from app.visits.models import Visit


@click.group("insurance")
def insurance_cli() -> None:
    """Real-time settlement with the insurance platform."""


def sweep_unopened(limit: int = 1000) -> int:
    """Open the settlement of every recent insured visit that has none (a crash in between).

    Recent: recorded in the last ``INSURANCE_SWEEP_HOURS`` (24) and not before
    ``INSURANCE_SINCE`` (when the platform went live), so turning a platform on
    never sends the installation's history to it.
    """
    now = clock()()
    since = now - dt.timedelta(hours=float(current_app.config.get("INSURANCE_SWEEP_HOURS", 24)))
    live = current_app.config.get("INSURANCE_SINCE") or ""
    if live:
        went_live = dt.datetime.fromisoformat(live)
        if went_live.tzinfo is None:
            went_live = went_live.replace(tzinfo=SHANGHAI)
        since = max(since, went_live)
    visits = db.session.scalars(
        select(Visit)
        .outerjoin(InsuranceSettlement, InsuranceSettlement.visit_id == Visit.id)
        .where(
            Visit.insured.is_(True),
            Visit.voided_at.is_(None),
            Visit.recorded_at >= since,
            InsuranceSettlement.id.is_(None),
        )
        .order_by(Visit.id)
        .limit(limit)
    ).all()
    opened = 0
    for visit in visits:
        recorder = db.session.get(User, visit.recorded_by_id)
        assert recorder is not None
        claim = visit_claim(visit, recorder.username, recorder.display_name or recorder.username)
        # Due at once: nobody holds this one.
        if open_settlement(visit, claim, now, leased=False) is not None:
            opened += 1
    return opened


@insurance_cli.command("retry")
@click.option("--every", type=int, default=0, help="Repeat every N seconds (0: once).")
@with_appcontext
def retry_command(every: int) -> None:
    """Settle the pending visits that are due; print what happened."""
    gateway = gateway_from_config(current_app.config)
    if gateway is None:
        raise click.ClickException("no insurance platform configured (INSURANCE_GATEWAY_URL)")
    while True:
        try:
            opened = sweep_unopened()
            attempts = settle_due(gateway, clock())
        except OperationalError as exc:  # the database busy or away: the next pass retries
            db.session.rollback()
            if not every:
                raise click.ClickException(f"database: {exc.orig}") from exc
            click.echo(f"database unavailable; next pass in {every} s", err=True)
        else:
            settled = sum(1 for a in attempts if a.status == "settled")
            failed = sum(1 for a in attempts if a.status == "failed")
            click.echo(
                f"opened {opened}, attempted {len(attempts)}: settled {settled}, "
                f"still pending {len(attempts) - settled - failed}, handed over {failed}"
            )
        if not every:
            return
        time.sleep(every)
