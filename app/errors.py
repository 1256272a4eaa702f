"""Typed domain errors.

Rules and operations raise these; one handler per surface (JSON for the API,
a message next to the field for pages, ``FILE:LINE`` for imports) turns them
into what the user sees.  Every error names the field that failed, so a 4xx
always says what to fix, and carries a :class:`ProblemCode` from one closed
set, so every surface words it from one table (:mod:`app.web.messages`).
Nothing here imports Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProblemCode(StrEnum):
    """Why an input was refused: the closed set of problem codes.

    The value is what the JSON answers carry in ``"codes"`` (clients and tests
    read it, so a value never changes); one member per meaning, so one code has
    one set of words (:mod:`app.web.messages`) wherever it is shown.
    """

    # --- any input ---
    BAD_SHAPE = "invalid"  # a schema's shape check refused it; its message says how
    REQUIRED = "required"
    TOO_LONG = "too_long"
    BAD_MONTH = "bad_month"
    BAD_DATE = "bad_date"
    BAD_AMOUNT = "bad_amount"  # not a yuan amount such as 123.45
    NOT_NUMBER = "not_number"  # app.money.MoneyFormatError's codes (money sits below this module)
    DECIMALS = "decimals"
    NOT_POSITIVE = "not_positive"
    NOT_FOUND = "not_found"  # the record the field names does not exist
    UNKNOWN_DISTRICT = "unknown"
    UNKNOWN_TOWN = "unknown_town"
    UNKNOWN_CLINIC = "unknown_clinic"
    # --- who may do what ---
    ROLE = "role"  # the user's role may not do this
    NO_CLINIC = "no_clinic"  # the doctor's account belongs to no clinic
    SCOPE = "scope"  # the clinic or district is outside what the user may see
    NOT_YOUR_CLINIC = "not_your_clinic"  # only a doctor of that clinic may do this
    # --- users and tokens (the CLI) ---
    UNKNOWN_ROLE = "unknown_role"  # the role given is none of the roles
    SCOPE_FOR_ROLE = "scope_for_role"  # a clinic, district or town the role does not use
    BAD_USERNAME = "bad_username"
    USERNAME_TAKEN = "username_taken"
    BAD_PRACTITIONER_CODE = "bad_practitioner_code"
    PRACTITIONER_CODE_TAKEN = "practitioner_code_taken"
    PASSWORD_TOO_SHORT = "password_too_short"
    USER_DEACTIVATED = "user_deactivated"
    BAD_DAYS = "bad_days"  # a token's validity below one day
    # --- files imported (reference data, policy, the platform's settlement file) ---
    UNKNOWN_KIND = "unknown_kind"
    FILE_UNREADABLE = "file_unreadable"
    EMPTY_FILE = "empty"
    BAD_TOML = "bad_toml"
    BAD_ROW = "bad_row"
    MORE_PROBLEMS = "more_problems"  # a refused file's problems beyond those listed, counted
    DATE_ORDER = "date_order"  # a date before the one it must follow
    PLACE_MISMATCH = "place_mismatch"  # a town or village not inside the place it names
    MUST_BE_EMPTY = "must_be_empty"
    DIED_BEFORE_BIRTH = "died_before_birth"
    AGE_RANGE = "age_range"
    VERSION_USED = "version_used"
    BEFORE_RECORDED_VISITS = "before_recorded_visits"
    # --- a visit's request ---
    BAD_KEY = "bad_key"
    KEY_REUSED = "key_reused"
    UNKNOWN_ITEM = "unknown_item"
    NO_PRICE = "no_price"
    NEGATIVE_PRICE = "negative_price"
    NEGATIVE_CEILING = "negative_ceiling"
    BAD_RATIO = "bad_ratio"
    SECOND_CONSULTATION = "second_consultation"
    CONSULTATION_ONCE = "consultation_once"
    NO_LINES = "no_lines"
    TOO_MANY_LINES = "too_many_lines"
    TOO_MUCH = "too_much"
    IMPLAUSIBLE = "implausible"
    TRACE_CODE_REPEATED = "trace_code_repeated"
    NO_DIAGNOSIS = "no_diagnosis"
    TOO_MANY_DIAGNOSES = "too_many_diagnoses"
    UNKNOWN_DIAGNOSIS = "unknown_diagnosis"
    DIAGNOSIS_NOT_VALID = "diagnosis_not_valid"
    DIAGNOSIS_REPEATED = "diagnosis_repeated"
    ID_LENGTH = "id_length"  # the patient's ID number (app.people.rules.ID_PROBLEMS)
    ID_SHAPE = "id_shape"
    ID_BIRTH_DATE = "id_birth_date"
    ID_CHECK_DIGIT = "id_check_digit"
    DECEASED = "deceased"
    FUTURE = "future"  # the visit time
    TOO_EARLY = "too_early"
    NO_ZONE = "no_zone"
    BAD_TIME = "bad_time"
    MONTH_FROZEN = "month_frozen"
    REASON_REQUIRED = "reason_required"  # voiding a visit
    REASON_TOO_LONG = "reason_too_long"
    VOIDED = "voided"
    DAY_CLOSED = "day_closed"
    FUTURE_DAY = "future_day"
    # the checks at recording: one code per rule of app.checks.rules.Rule
    WARNING_REASON_REQUIRED = "warning_reason_required"
    CHECK_QUANTITY_OVER_MAX = "check_quantity_over_max"
    CHECK_FREQUENT_VISITS = "check_frequent_visits"
    CHECK_SPLIT_VISIT = "check_split_visit"
    CHECK_EARLY_REFILL = "check_early_refill"
    CHECK_INJECTION_WITHOUT_INJECTABLE = "check_injection_without_injectable"
    CHECK_INJECTABLE_WITHOUT_INJECTION = "check_injectable_without_injection"
    CHECK_UNSUITED_ITEM = "check_unsuited_item"
    CHECK_LATE_ENTRY = "check_late_entry"
    CHECK_NO_DIAGNOSIS = "check_no_diagnosis"
    CHECK_OFF_INDICATION = "check_off_indication"
    CHECK_UNSUITED_DIAGNOSIS = "check_unsuited_diagnosis"
    # a visit captured offline (issue 25)
    CAPTURE_FUTURE = "capture_future"
    CAPTURE_BEFORE_VISIT = "capture_before_visit"
    PROGRAMME_DIFFERS = "programme_differs"
    PATIENT_DIFFERS = "patient_differs"
    # --- statements, payments and the review ---
    ILLEGAL_TRANSITION = "illegal_transition"
    MONTH_NOT_ENDED = "month_not_ended"
    FIGURES_CHANGED = "figures_changed"
    FIGURES_MISMATCH = "figures_mismatch"  # a stored figure differs from the visits' sum
    PENDING_SETTLEMENT = "pending_settlement"
    AMOUNT_MISMATCH = "amount_mismatch"
    PAID_IN_FUTURE = "paid_on_future"
    BEFORE_MONTH_END = "before_month_end"
    BATCH_CHANGED = "batch_changed"
    NOTHING_TO_PAY = "none"
    ZERO_ADJUSTMENT = "zero"
    WORKLIST_OPEN = "worklist_open"
    NOT_ON_WORKLIST = "not_on_worklist"
    BAD_DISALLOWED_AMOUNT = "bad_disallowed_amount"
    ALREADY_FOUND = "already_found"
    BAD_FINDING = "bad_finding"
    NOT_SYSTEM_SUBMITTED = "not_system_submitted"
    # --- receipts (patients' verification), stock, reconciliation, insurance ---
    ID_TAIL_MISMATCH = "mismatch"
    NEGATIVE_AMOUNT = "negative_amount"
    TOO_LARGE = "too_large"
    COUNTED = "counted"  # the item was already counted that day
    COUNTED_IN_FUTURE = "taken_on_future"
    BAD_STATUS = "bad_status"
    NOT_PENDING = "not_pending"
    # --- the service itself ---
    UNAVAILABLE = "unavailable"  # the database is down (app.web.security)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: the field (dotted path), why (English, for logs
    and the API's ``errors``) and the code pages choose their words by."""

    field: str
    message: str
    code: ProblemCode

    def __post_init__(self) -> None:
        # A free string would be a code without words: refuse it where it is made.
        if not isinstance(self.code, ProblemCode):
            raise TypeError(f"Problem.code must be a ProblemCode, not {self.code!r}")


class DomainError(Exception):
    """Base class: carries the HTTP status the API answers with."""

    status = 400

    def __init__(self, problems: list[Problem] | Problem) -> None:
        # A bare string would be a problem without a code (and without words).
        if isinstance(problems, str):
            raise TypeError(f"{type(self).__name__} takes Problems, not {problems!r}")
        listed = [problems] if isinstance(problems, Problem) else list(problems)
        if not all(isinstance(p, Problem) for p in listed):
            raise TypeError(f"{type(self).__name__} takes Problems, not {listed!r}")
        self.problems: list[Problem] = listed
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def message(self) -> str:
        return self.problems[0].message

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "error": type(self).__name__,
            "message": str(self),
            "errors": {p.field: [p.message] for p in self.problems},
            "codes": {p.field: p.code for p in self.problems},
        }


class InvalidInput(DomainError):
    """The input is well-formed but means something the rules refuse."""

    status = 422


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    """The actor's role or scope does not allow this."""

    status = 403


class Conflict(DomainError):
    """The request clashes with the current state (a frozen month, a reused key)."""

    status = 409


class PreconditionRequired(DomainError):
    """A header the operation depends on is missing (RFC 6585: 428)."""

    status = 428
