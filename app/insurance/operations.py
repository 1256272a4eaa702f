"""Settling a recorded visit with the platform, and undoing it (SPEC §7 real-time, §9).

The visit is recorded and committed first (app.visits.operations.record_visit);
then :func:`open_settlement` writes its settlement row (pending), and
:func:`settle` walks the platform's steps — 9001 sign-in (once a day), 1101
person, 2201 register, 2203 diagnoses, 2204 fee lines, 2206 pre-settle, 2207
settle — each step's id stored as soon as it is known, so a later attempt
resumes where the last one stopped.

Guarantees:

* **no database transaction is open while the platform is waited on**: every
  message is written (state ``sending``) and committed before it is sent, and
  its answer written in a new unit of work after — no lock, no snapshot held
  across the network;
* **nothing is settled twice**: a write whose answer is unknown (a read
  time-out, or a ``sending`` row left by a crash) is reversed with 2601 before
  its step is tried again; if the reversal itself cannot be made, the
  settlement stays pending and nothing else is sent for it;
* only one worker settles a visit at a time: an attempt takes a lease
  (``next_attempt_at`` moved forward by a compare-and-set UPDATE) and a worker
  that loses the race leaves the row alone;
* a visit row is never edited: the platform's figures are the settlement's
  (``fund``/``fiscal``/``patient``, ``total`` unchanged), its difference to the
  expected backstop is ``adjustment`` on ``statement_month`` — the visit's
  month, or the clinic's next unpaid one when that month is already paid —
  and the statements read it as an adjustment line (app.insurance.queries);
* after ``max_attempts`` failed attempts the settlement is ``failed``: handed to
  a person (pages show it and why), retried again only when told to.

Every write here appends an audit entry (settled, failed, reversed, decided).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import select, text, update

from app.audit.operations import append
from app.audit.rules import clinic_chain
from app.auth.models import User
from app.database import unit_of_work
from app.errors import Conflict, InvalidInput, NotFound, Problem, ProblemCode
from app.extensions import db
from app.insurance import rules
from app.insurance.client import Gateway, Unknown, Unreachable, post
from app.insurance.models import (
    InsuranceExchange,
    InsuranceSettlement,
    InsuranceSignIn,
    MessageSequence,
)
from app.insurance.rules import (
    BadAnswer,
    Claim,
    ClaimLine,
    ClaimVisit,
    ExpectedLine,
    Institution,
    Operator,
    Refused,
)
from app.localtime import local_date
from app.periods.models import Statement
from app.places.models import Clinic

Clock = Callable[[], dt.datetime]

LEASE = dt.timedelta(minutes=2)  # an attempt in progress; a crashed one is retried after it
FIRST_BACKOFF = dt.timedelta(minutes=1)
LONGEST_BACKOFF = dt.timedelta(hours=1)


class NotSettled(Exception):
    """One attempt stopped; the settlement stays pending (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _chain(session: Any, clinic_id: int) -> str:
    """Settlements are audited on their clinic's chain, as its visits are."""
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    return clinic_chain(clinic.code)


# --- opening --------------------------------------------------------------------------


class SettledLine(ClaimLine, Protocol):
    fund_base: int  # what the fund's ratio applied to (the platform's answer is compared)


class SettledVisit(ClaimVisit, Protocol):
    """What settling reads of a recorded visit (app.visits.models.Visit): the claim, the money.

    The insurance area sits below the visits that call it, so it names the
    shape it reads instead of importing the model.
    """

    clinic_id: int
    voided_at: dt.datetime | None
    registration: int
    injection_fee: int
    self_pay: int
    fund: int
    fiscal: int
    patient: int

    @property
    def clinic(self) -> Clinic: ...

    @property
    def lines(self) -> Iterable[SettledLine]: ...


def designated(clinic: Clinic) -> bool:
    """A clinic the platform knows: a 12-character institution code (fixmedins_code)."""
    return bool(clinic.insurance_code) and len(clinic.insurance_code or "") == 12


def expected_lines(visit: SettledVisit) -> list[ExpectedLine]:
    return [
        ExpectedLine(f"{visit.receipt_number}-{line.line_no}", line.amount, line.fund_base)
        for line in visit.lines
    ]


def open_settlement(
    visit: SettledVisit, claim: Claim, now: dt.datetime, *, leased: bool = True
) -> tuple[int, bool] | None:
    """The pending settlement of an insured visit: ``(id, made now)``; ``None``: not claimed.

    A visit of an uninsured patient, or at a clinic without an institution
    code, is not sent to the platform.  Idempotent: a visit's row is made once.
    ``leased``: the caller attempts it at once (others leave it alone until
    the lease lapses); else it is due now.
    """
    if not visit.insured or not designated(visit.clinic) or visit.voided_at is not None:
        return None
    with unit_of_work() as session:
        existing = session.scalar(
            select(InsuranceSettlement.id).where(InsuranceSettlement.visit_id == visit.id)
        )
        if existing is not None:
            return int(existing), False
        row = InsuranceSettlement(
            visit_id=visit.id,
            visit_month=visit.month,
            clinic_id=visit.clinic_id,
            receipt_number=visit.receipt_number,
            status="pending",
            programme=visit.programme,
            claim=claim.to_json(),
            fees=visit.registration + visit.injection_fee,
            self_pay=visit.self_pay,
            expected_fund=visit.fund,
            expected_fiscal=visit.fiscal,
            expected_patient=visit.patient,
            expected_lines=json.dumps([asdict(x) for x in expected_lines(visit)]),
            visit_info_sent=False,
            adjustment=0,
            # Leased: the caller's attempt is the first, counted here (one commit fewer).
            attempts=1 if leased else 0,
            # Leased by the caller that settles it now; after a crash, retried when it lapses.
            next_attempt_at=now + LEASE if leased else now,
            last_error="",
            created_at=now,
        )
        session.add(row)
        session.flush()
        return int(row.id), True


# --- talking to the platform --------------------------------------------------------


@dataclass
class _Context:
    gateway: Gateway
    institution: Institution
    operator: Operator
    clock: Clock
    settlement_id: int | None


def institution_of(clinic: Clinic, gateway: Gateway) -> Institution:
    admvs = gateway.admvs or clinic.district_code
    return Institution(
        fixmedins_code=clinic.insurance_code or "",
        fixmedins_name=clinic.name,
        mdtrtarea_admvs=admvs,
        insuplc_admdvs=admvs,
        recer_sys_code=gateway.recer_sys_code,
        infver=gateway.infver,
    )


def _next_msgid(session: Any, code: str, at: dt.datetime) -> str:
    row = session.get(MessageSequence, code, with_for_update=True)
    if row is None:
        row = MessageSequence(fixmedins_code=code, last=0)
        session.add(row)
    row.last = int(row.last) + 1
    return rules.message_id(code, at, row.last % 10000)


def _exchange(
    ctx: _Context,
    infno: str,
    payload: dict[str, Any],
    sign_no: str,
    effect: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Send one message, stored before and after; its ``output``, or an exception.

    :class:`Unreachable` (never sent), :class:`Unknown` (maybe arrived),
    :class:`Refused` (``infcode`` ≠ 0) or :class:`BadAnswer`.  ``effect``
    reads the output into the settlement's columns, written in the same unit
    of work as the answer (one commit per message); an output it cannot read
    counts as an unknown answer, reversed before the step is tried again.
    """
    at = ctx.clock()
    with unit_of_work() as session:
        msgid = _next_msgid(session, ctx.institution.fixmedins_code, at)
        body = rules.envelope(
            infno, msgid, at, ctx.institution, ctx.operator, sign_no, payload, ctx.gateway.signer
        )
        row = InsuranceExchange(
            settlement_id=ctx.settlement_id,
            fixmedins_code=ctx.institution.fixmedins_code,
            infno=infno,
            msgid=msgid,
            state="sending",
            request=json.dumps(body, ensure_ascii=False),
            sent_at=at,
        )
        session.add(row)
        session.flush()
        exchange_id = row.id
    # Nothing is open here: the platform is waited on with no transaction held.
    try:
        answer, elapsed = post(ctx.gateway, body)
    except (Unreachable, Unknown) as exc:
        state = "unreachable" if isinstance(exc, Unreachable) else "unknown"
        _answered(exchange_id, state, None, None, str(exc), ctx.clock())
        raise
    try:
        output = rules.read_answer(answer)
    except Refused as exc:
        exc.infno = infno
        _answered(exchange_id, "answered", answer, exc.infcode, exc.err_msg, ctx.clock(), elapsed)
        raise
    except BadAnswer as exc:
        _answered(exchange_id, "unknown", answer, None, str(exc), ctx.clock(), elapsed)
        raise Unknown(str(exc)) from exc
    try:
        values = effect(output) if effect is not None else {}
    except BadAnswer as exc:
        _answered(exchange_id, "unknown", answer, None, str(exc), ctx.clock(), elapsed)
        raise Unknown(str(exc)) from exc
    _answered(exchange_id, "answered", answer, "0", None, ctx.clock(), elapsed,
              settlement_id=ctx.settlement_id if values else None,
              values=values)  # fmt: skip
    return output


def _no_wait_for_disk(session: Any) -> None:
    """PostgreSQL: this commit need not wait for the disk — losing it is already handled.

    Only a record of what came *back* is committed so: were it lost in a crash,
    its message is still ``sending``, i.e. unknown, and is reversed (2601) and
    sent again.  What goes *out* (the ``sending`` row) always waits for the disk.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def _answered(
    exchange_id: int,
    state: str,
    answer: dict[str, Any] | None,
    infcode: str | None,
    err_msg: str | None,
    at: dt.datetime,
    elapsed: int | None = None,
    *,
    settlement_id: int | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    with unit_of_work() as session:
        _no_wait_for_disk(session)
        if settlement_id is not None and values:
            session.execute(
                update(InsuranceSettlement)
                .where(InsuranceSettlement.id == settlement_id)
                .values(**values)
            )
        session.execute(
            update(InsuranceExchange)
            .where(InsuranceExchange.id == exchange_id)
            .values(
                state=state,
                answer=None if answer is None else json.dumps(answer, ensure_ascii=False),
                infcode=infcode,
                err_msg=None if err_msg is None else err_msg[:500],
                answered_at=at,
                elapsed_ms=elapsed,
            )
        )


def _sign_no(ctx: _Context) -> str:
    """Today's sign-in of the institution (9001 once a day; a repeat is harmless)."""
    day = local_date(ctx.clock())
    code = ctx.institution.fixmedins_code
    sign_no = db.session.scalar(
        select(InsuranceSignIn.sign_no).where(
            InsuranceSignIn.fixmedins_code == code, InsuranceSignIn.day == day
        )
    )
    db.session.commit()  # end the read: nothing is held while 9001 is waited on
    if sign_no is not None:
        return str(sign_no)
    saved, ctx.settlement_id = ctx.settlement_id, None
    try:
        output = _exchange(ctx, rules.SIGN_IN, rules.sign_in_input(ctx.operator.opter), "")
    finally:
        ctx.settlement_id = saved
    sign_no = str((output.get("signinoutb") or {}).get("sign_no") or "")
    if not sign_no:
        raise BadAnswer("9001: signinoutb.sign_no missing")
    with unit_of_work() as session:
        if session.get(InsuranceSignIn, (code, day)) is None:
            session.add(
                InsuranceSignIn(
                    fixmedins_code=code, day=day, sign_no=sign_no, signed_at=ctx.clock()
                )
            )
    return sign_no


# --- a circuit breaker per gateway: one doctor waits for an outage, not every one -----

_paused_until: dict[str, float] = {}
_pause_lock = threading.Lock()


def _paused(gateway: Gateway) -> bool:
    with _pause_lock:
        return _paused_until.get(gateway.url, 0.0) > time.monotonic()


def _pause(gateway: Gateway) -> None:
    with _pause_lock:
        _paused_until[gateway.url] = time.monotonic() + gateway.pause_after_failure


def _resume(gateway: Gateway) -> None:
    with _pause_lock:
        _paused_until.pop(gateway.url, None)


# --- one attempt ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    settlement_id: int
    status: str
    reason: str


def _take_lease(settlement_id: int, now: dt.datetime, *, force: bool) -> bool:
    """Compare-and-set: this worker, and no other, attempts the settlement now."""
    with unit_of_work() as session:
        due = InsuranceSettlement.status.in_(("pending", "failed") if force else ("pending",))
        condition = [InsuranceSettlement.id == settlement_id, due]
        if not force:
            condition.append(
                (InsuranceSettlement.next_attempt_at.is_(None))
                | (InsuranceSettlement.next_attempt_at <= now)
            )
        taken: Any = session.execute(
            update(InsuranceSettlement)
            .where(*condition)
            .values(next_attempt_at=now + LEASE, attempts=InsuranceSettlement.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount)


def settle(
    settlement_id: int,
    gateway: Gateway,
    clock: Clock,
    *,
    leased: bool = False,
    force: bool = False,
) -> Attempt:
    """One attempt to settle; never raises for the platform's trouble (pending says why).

    ``leased``: the caller holds the lease already (it has just opened the
    row, its attempt counted).  ``force``: a person asked to retry a failed settlement now.
    """
    now = clock()
    # ``leased``: opened just now with its first attempt counted (open_settlement).
    if not leased and not _take_lease(settlement_id, now, force=force):
        row = db.session.get(InsuranceSettlement, settlement_id)
        db.session.commit()
        return Attempt(settlement_id, row.status if row else "missing", "not due")
    row = db.session.get(InsuranceSettlement, settlement_id, populate_existing=True)
    assert row is not None
    if row.voided:
        db.session.commit()
        status = _reverse(settlement_id, gateway, clock)
        return Attempt(settlement_id, status, "" if status == "reversed" else "reversal pending")
    clinic = db.session.get(Clinic, row.clinic_id)
    assert clinic is not None
    claim = Claim.from_json(row.claim)
    ctx = _Context(
        gateway,
        institution_of(clinic, gateway),
        Operator(claim.atddr_no, claim.dr_name),
        clock,
        settlement_id,
    )
    db.session.commit()
    if leased and _paused(gateway):
        paused = rules.Failure("unreachable", "paused after a failure").stored()
        return _failed_attempt(settlement_id, paused, clock, gateway.max_attempts)
    try:
        _resolve_unknown(ctx)
        _walk(ctx, claim)
    except (NotSettled, Unreachable, Unknown, Refused, BadAnswer) as exc:
        if isinstance(exc, (Unreachable, Unknown)):
            _pause(gateway)
        return _failed_attempt(settlement_id, _failure(exc).stored(), clock, gateway.max_attempts)
    _resume(gateway)
    return Attempt(settlement_id, "settled", "")


def _failure(exc: Exception, *, reversal: bool = False) -> rules.Failure:
    """Why an attempt stopped, as ``last_error`` keeps it (rules.Failure)."""
    if isinstance(exc, NotSettled):
        found = rules.parse_failure(exc.reason) or rules.Failure("other", exc.reason)
        return rules.Failure(found.kind, found.detail, found.infno, found.infcode, reversal)
    if isinstance(exc, Refused):
        infcode = exc.infcode.replace(" ", "") or "?"
        return rules.Failure("refused", exc.err_msg, exc.infno, infcode, reversal)
    kind = {Unreachable: "unreachable", Unknown: "unknown"}.get(type(exc), "bad_answer")
    return rules.Failure(kind, str(exc), reversal=reversal)


def _failed_attempt(settlement_id: int, reason: str, clock: Clock, max_attempts: int) -> Attempt:
    now = clock()
    with unit_of_work() as session:
        row = session.get(InsuranceSettlement, settlement_id, with_for_update=True)
        assert row is not None
        row.last_error = reason[:300]
        backoff = min(FIRST_BACKOFF * (2 ** max(row.attempts - 1, 0)), LONGEST_BACKOFF)
        row.next_attempt_at = now + backoff
        if row.status == "pending" and not row.voided and row.attempts >= max_attempts:
            row.status = "failed"
            append(
                session,
                "system",
                "insurance.failed",
                ("insurance_settlement", row.id),
                None,
                {"visit": row.receipt_number, "attempts": row.attempts, "reason": row.last_error},
                now,
                chain=_chain(session, row.clinic_id),
            )
        status = row.status
    return Attempt(settlement_id, status, reason)


def _step_done(settlement_id: int, **values: Any) -> None:
    with unit_of_work() as session:
        session.execute(
            update(InsuranceSettlement)
            .where(InsuranceSettlement.id == settlement_id)
            .values(**values)
        )


def _row(settlement_id: int) -> InsuranceSettlement:
    row = db.session.get(InsuranceSettlement, settlement_id, populate_existing=True)
    assert row is not None
    db.session.commit()
    return row


def _resolve_unknown(ctx: _Context) -> None:
    """Reverse (2601) every write of this settlement whose answer never came back."""
    assert ctx.settlement_id is not None
    open_calls = db.session.execute(
        select(InsuranceExchange.id, InsuranceExchange.infno, InsuranceExchange.msgid).where(
            InsuranceExchange.settlement_id == ctx.settlement_id,
            InsuranceExchange.state.in_(("sending", "unknown")),
        )
    ).all()
    psn_no = _row(ctx.settlement_id).psn_no or ""
    for exchange_id, infno, msgid in open_calls:
        if infno in rules.SAFE_TO_REPEAT or infno == rules.REVERSE_UNKNOWN:
            _mark(exchange_id, "reversed" if infno != rules.REVERSE_UNKNOWN else "answered")
            continue
        sign_no = _sign_no(ctx)
        try:
            _exchange(ctx, rules.REVERSE_UNKNOWN, rules.reverse_unknown_input(psn_no, msgid, infno),
                      sign_no)  # fmt: skip
        except Refused as exc:
            infcode = exc.infcode.replace(" ", "") or "?"
            unreversed = rules.Failure("unreversed", f"{exc.err_msg} ({msgid})", infno, infcode)
            raise NotSettled(unreversed.stored()) from exc
        _mark(exchange_id, "reversed")


def _mark(exchange_id: int, state: str) -> None:
    with unit_of_work() as session:
        session.execute(
            update(InsuranceExchange).where(InsuranceExchange.id == exchange_id).values(state=state)
        )


def _walk(ctx: _Context, claim: Claim) -> None:
    assert ctx.settlement_id is not None
    sid = ctx.settlement_id
    row = _row(sid)
    if row.status != "pending" and row.status != "failed":
        return
    if row.status == "failed":
        _step_done(sid, status="pending")
    sign_no = _sign_no(ctx)
    visit_day = dt.date.fromisoformat(claim.visit_day)
    if row.psn_no is None:

        def person_found(output: dict[str, Any]) -> dict[str, Any]:
            person = rules.read_person(output)
            insutype = person.active_insutype(visit_day)
            fallback = person.insurances[0].insutype if person.insurances else "390"
            return {
                "psn_no": person.psn_no,
                "insutype": insutype or fallback,
                "insured_on_platform": insutype is not None,
            }

        _exchange(ctx, rules.PERSON, rules.person_input(claim.certno), sign_no, person_found)
        row = _row(sid)
    psn_no, insutype = row.psn_no, row.insutype
    assert psn_no is not None and insutype is not None
    mdtrt_id = row.mdtrt_id
    if mdtrt_id is None:

        def registered(output: dict[str, Any]) -> dict[str, Any]:
            found = str((output.get("data") or {}).get("mdtrt_id") or "")
            if not found:
                raise BadAnswer("2201: data.mdtrt_id missing")
            return {"mdtrt_id": found}

        output = _exchange(ctx, rules.REGISTER, rules.register_input(claim, psn_no, insutype),
                           sign_no, registered)  # fmt: skip
        mdtrt_id = str(output["data"]["mdtrt_id"])
    if not row.visit_info_sent:
        _exchange(ctx, rules.VISIT_INFO, rules.visit_info_input(claim, mdtrt_id, psn_no), sign_no,
                  lambda output: {"visit_info_sent": True})  # fmt: skip
    batch = row.chrg_bchno
    if batch is None:
        batch = f"{claim.ipt_otp_no}-{row.attempts}"
        uploaded = batch

        def fee_results(output: dict[str, Any]) -> dict[str, Any]:
            results = rules.read_fee_results(output)
            return {"chrg_bchno": uploaded, "fee_results": json.dumps([asdict(r) for r in results])}

        _exchange(ctx, rules.FEE_DETAIL, rules.fee_detail_input(claim, mdtrt_id, psn_no, batch),
                  sign_no, fee_results)  # fmt: skip
    settle_input = rules.settle_input(claim, mdtrt_id, psn_no, insutype, batch)
    row = _row(sid)

    def pre_settled(output: dict[str, Any]) -> dict[str, Any]:
        info = rules.read_settlement(output, pre=True)
        # Read like 2207's answer: a fund outside 0..L is an impossible answer.
        rules.settled_split(lines_total=claim.medfee_sumamt, fees=row.fees,
                            self_pay=row.self_pay, programme=row.programme,
                            platform_fund=info.fund_pay_sumamt)  # fmt: skip
        return {"pre_fund": info.fund_pay_sumamt}

    # 2206 first, with 2207's very inputs: a refusal stops here (2207 is not sent;
    # the visit stays pending with the platform's reason).  2206 changes nothing
    # at the platform (rules.SAFE_TO_REPEAT), so a lost 2206 answer needs no 2601:
    # _resolve_unknown only closes its row, and the next attempt simply repeats it.
    _exchange(ctx, rules.PRE_SETTLE, settle_input, sign_no, pre_settled)
    output = _exchange(ctx, rules.SETTLE, settle_input, sign_no)
    _settled(sid, rules.read_settlement(output), claim, ctx.clock())


def _fee_results(text: str | None) -> list[rules.FeeResult]:
    return [rules.FeeResult(**r) for r in json.loads(text or "[]")]


def _expected(text: str) -> list[ExpectedLine]:
    return [ExpectedLine(**x) for x in json.loads(text)]


def statement_month_for(session: Any, clinic_id: int, month: str) -> str:
    """The visit's month, or the clinic's first later month whose statement is not paid."""
    paid = set(
        session.scalars(
            select(Statement.month).where(
                Statement.clinic_id == clinic_id,
                Statement.month >= month,
                Statement.status == "paid",
            )
        )
    )
    while month in paid:
        year, mon = int(month[:4]), int(month[5:])
        month = f"{year + mon // 12}-{mon % 12 + 1:02d}"
    return month


def _settled(sid: int, info: rules.SettlementInfo, claim: Claim, now: dt.datetime) -> None:
    with unit_of_work() as session:
        row = session.get(InsuranceSettlement, sid, with_for_update=True)
        assert row is not None
        lines_total = claim.medfee_sumamt
        split = rules.settled_split(
            lines_total=lines_total,
            fees=row.fees,
            self_pay=row.self_pay,
            programme=row.programme,
            platform_fund=info.fund_pay_sumamt,
        )
        row.setl_id = info.setl_id
        row.medins_setl_id = info.medins_setl_id
        row.setlinfo = json.dumps(info.amounts)
        row.fund, row.fiscal, row.patient = split.fund, split.fiscal, split.patient
        row.why = ",".join(
            rules.differences(
                row.expected_fund,
                split.fund,
                bool(row.insured_on_platform),
                _expected(row.expected_lines),
                _fee_results(row.fee_results),
            )
        )
        # Only the programme's backstop moves; a non-programme difference is reported.
        row.adjustment = split.fiscal - row.expected_fiscal if row.programme else 0
        row.statement_month = statement_month_for(session, row.clinic_id, row.visit_month)
        row.status = "settled"
        row.settled_at = now
        row.next_attempt_at = None
        row.last_error = ""
        append(
            session,
            "system",
            "insurance.settle",
            ("insurance_settlement", row.id),
            {"fund": row.expected_fund, "fiscal": row.expected_fiscal,
             "patient": row.expected_patient},
            {"fund": row.fund, "fiscal": row.fiscal, "patient": row.patient,
             "pre_fund": row.pre_fund, "setl_id": row.setl_id, "mdtrt_id": row.mdtrt_id,
             "statement_month": row.statement_month},
            now,
            chain=_chain(session, row.clinic_id),
        )  # fmt: skip


# --- entry points -------------------------------------------------------------------------


def settle_recorded_visit(
    visit: SettledVisit, claim: Claim, gateway: Gateway, clock: Clock
) -> Attempt | None:
    """After the visit's commit: open its settlement and try once, now (``None``: not claimed)."""
    opened = open_settlement(visit, claim, clock())
    if opened is None:
        return None
    settlement_id, made_now = opened
    # A replayed recording finds its row: attempted only if due (another may hold it).
    return settle(settlement_id, gateway, clock, leased=made_now)


def settle_due(gateway: Gateway, clock: Clock, *, limit: int = 500) -> list[Attempt]:
    """The retry loop's pass (补结算): every pending settlement whose time has come."""
    now = clock()
    due = list(
        db.session.execute(
            select(InsuranceSettlement.id, InsuranceSettlement.clinic_id)
            .where(
                InsuranceSettlement.status == "pending",
                (InsuranceSettlement.next_attempt_at.is_(None))
                | (InsuranceSettlement.next_attempt_at <= now),
            )
            .order_by(InsuranceSettlement.id)
            .limit(limit)
        )
    )
    db.session.commit()
    attempts = []
    for settlement_id, _clinic_id in due:
        attempts.append(settle(settlement_id, gateway, clock))
    return attempts


def retry_now(settlement_id: int, gateway: Gateway, clock: Clock) -> Attempt:
    """A person retries a pending or failed settlement at once (the lease still holds)."""
    row = db.session.get(InsuranceSettlement, settlement_id)
    if row is None:
        raise NotFound(
            Problem("settlement", f"no settlement {settlement_id}", ProblemCode.NOT_FOUND)
        )
    if row.status not in ("pending", "failed"):
        raise Conflict(
            Problem("settlement", f"the settlement is {row.status}", ProblemCode.NOT_PENDING)
        )
    db.session.commit()
    return settle(settlement_id, gateway, clock, force=True)


def reverse_visit_settlement(visit_id: int, gateway: Gateway, clock: Clock) -> str:
    """The visit was voided: undo at the platform what was done (2208, 2205, 2202).

    Answers the settlement's status afterwards (``reversed``, or ``pending``
    with the reason when the platform could not be reached: the retry loop
    finishes the reversal), or ``none`` when the visit was never claimed.
    """
    sid = db.session.scalar(
        select(InsuranceSettlement.id).where(InsuranceSettlement.visit_id == visit_id)
    )
    db.session.commit()
    if sid is None:
        return "none"
    _step_done(int(sid), voided=True)
    return _reverse(int(sid), gateway, clock)


def _reverse(sid: int, gateway: Gateway, clock: Clock) -> str:
    row = _row(sid)
    if row.status == "reversed":
        return "reversed"
    clinic = db.session.get(Clinic, row.clinic_id)
    assert clinic is not None
    claim = Claim.from_json(row.claim)
    operator = Operator(claim.atddr_no, claim.dr_name)
    ctx = _Context(gateway, institution_of(clinic, gateway), operator, clock, sid)
    db.session.commit()
    try:
        _resolve_unknown(ctx)
        row = _row(sid)
        sign_no = _sign_no(ctx) if row.mdtrt_id else ""
        if row.setl_id:  # still live at the platform (cleared once 2208 answers)
            _exchange(ctx, rules.REVERSE_SETTLEMENT,
                      rules.reverse_settlement_input(row.setl_id, row.mdtrt_id or "",
                                                     row.psn_no or ""), sign_no)  # fmt: skip
            _step_done(sid, status="pending", setl_id=None)
        if row.chrg_bchno and row.mdtrt_id:
            _exchange(ctx, rules.UNDO_FEE_DETAIL,
                      rules.undo_fee_detail_input(row.mdtrt_id, row.chrg_bchno, row.psn_no or ""),
                      sign_no)  # fmt: skip
            _step_done(sid, chrg_bchno=None)
        if row.mdtrt_id:
            _exchange(ctx, rules.UNDO_REGISTER,
                      rules.undo_register_input(row.mdtrt_id, claim.ipt_otp_no, row.psn_no or ""),
                      sign_no)  # fmt: skip
    except (Unreachable, Unknown, Refused, BadAnswer, NotSettled) as exc:
        # Left for the retry loop: a voided visit's settlement is reversed, never settled.
        _step_done(sid, status="pending", last_error=_failure(exc, reversal=True).stored(),
                   next_attempt_at=clock() + FIRST_BACKOFF)  # fmt: skip
        return "pending"
    now = clock()
    with unit_of_work() as session:
        done = session.get(InsuranceSettlement, sid, with_for_update=True)
        assert done is not None
        done.status = "reversed"
        done.reversed_at = now
        done.next_attempt_at = None
        done.adjustment = 0
        append(session, "system", "insurance.reverse", ("insurance_settlement", done.id),
               {"fund": done.fund, "setl_id": done.setl_id}, {"status": "reversed"},
               now, chain=_chain(session, done.clinic_id))  # fmt: skip
    return "reversed"


def decide_at_expected(
    clinic_id: int, month: str, reason: str, actor: User, now: dt.datetime
) -> int:
    """Finance lets a statement be paid while visits are pending: at the expected figures.

    Recorded per settlement, with the reason and the actor, and audited; the
    platform is still settled later, and any difference then goes on the
    clinic's next unpaid statement.  Answers how many were decided.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(Problem("reason", "a reason is required", ProblemCode.REASON_REQUIRED))
    if len(reason) > 200:
        raise InvalidInput(Problem("reason", "at most 200 characters", ProblemCode.REASON_TOO_LONG))
    with unit_of_work() as session:
        rows = list(
            session.scalars(
                select(InsuranceSettlement)
                .where(
                    InsuranceSettlement.clinic_id == clinic_id,
                    InsuranceSettlement.visit_month == month,
                    InsuranceSettlement.status.in_(("pending", "failed")),
                    InsuranceSettlement.decided_at.is_(None),
                )
                .with_for_update()
            )
        )
        for row in rows:
            row.decided_at = now
            row.decided_by_id = actor.id
            row.decided_reason = reason
            append(session, actor, "insurance.decide", ("insurance_settlement", row.id),
                   None, {"visit": row.receipt_number, "reason": reason,
                          "fund": row.expected_fund, "fiscal": row.expected_fiscal},
                   now, chain=_chain(session, row.clinic_id))  # fmt: skip
        return len(rows)


__all__ = [
    "Attempt",
    "decide_at_expected",
    "open_settlement",
    "retry_now",
    "reverse_visit_settlement",
    "settle",
    "settle_due",
    "settle_recorded_visit",
]


# --- reconciliation's transactions (issue 21): 3201, 9101, 3202, 9102 ------------------


def exchange_for_clinic(
    clinic: Clinic, gateway: Gateway, clock: Clock, infno: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """One message of ``clinic`` (signed in first), kept like every other; its ``output``.

    For the daily reconciliation (:mod:`app.reconcile.operations`); raises what
    :func:`_exchange` raises (Unreachable, Unknown, Refused, BadAnswer).  These
    transactions are queries and uploads: repeating one settles nothing.
    """
    ctx = _Context(
        gateway, institution_of(clinic, gateway), Operator("SYSTEM", "对账"), clock, None
    )
    db.session.commit()
    return _exchange(ctx, infno, payload, _sign_no(ctx))
