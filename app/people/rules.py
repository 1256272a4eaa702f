"""Resident identity rules: GB 11643 citizen ID numbers and masking.

Guarantees: :func:`parse_id_number` accepts exactly the 18-character numbers
whose check digit is right (ISO 7064 MOD 11-2) and whose birth date exists,
normalises a lowercase ``x`` to ``X`` and derives sex and birth date; every
other string is refused with the reason.  :func:`mask_id_number` and
:func:`mask_name` are what lists and prints show (personal data is shown whole
only to the roles that need it).  Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from app.errors import InvalidInput, Problem, ProblemCode

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdNumber:
    value: str
    sex: str  # "M" | "F"
    birth_date: dt.date

    @property
    def region(self) -> str:
        return self.value[:6]


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


# Why a text is not an ID number: a stable code (what pages choose their words by) → reason.
ID_PROBLEMS = {
    ProblemCode.ID_LENGTH: "must be 18 characters",
    ProblemCode.ID_SHAPE: "must be 17 digits followed by a digit or X",
    ProblemCode.ID_BIRTH_DATE: "contains an impossible birth date",
    ProblemCode.ID_CHECK_DIGIT: "check digit is wrong",
}


def id_number_problem_code(text: str) -> ProblemCode | None:
    """The code (a key of :data:`ID_PROBLEMS`) of why ``text`` is not valid, or None."""
    value = text.strip().upper()
    if len(value) != 18:
        return ProblemCode.ID_LENGTH
    if not _SHAPE.match(value):
        return ProblemCode.ID_SHAPE
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return ProblemCode.ID_BIRTH_DATE
    if check_digit(value[:17]) != value[17]:
        return ProblemCode.ID_CHECK_DIGIT
    return None


def id_number_problem(text: str) -> str | None:
    """Why ``text`` is not a valid ID number, or None when it is."""
    code = id_number_problem_code(text)
    return ID_PROBLEMS[code] if code else None


def parse_id_number(text: str, field: str = "id_number") -> IdNumber:
    """Validate and normalise; raises :class:`InvalidInput` naming ``field``."""
    code = id_number_problem_code(text if isinstance(text, str) else "")
    if code:
        raise InvalidInput(Problem(field, f"not a valid ID number: {ID_PROBLEMS[code]}", code))
    value = text.strip().upper()
    birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    sex = "M" if int(value[16]) % 2 == 1 else "F"
    return IdNumber(value, sex, birth)


def mask_id_number(value: str) -> str:
    """``440114199001011234`` → ``4401**********1234`` (first 4, last 4)."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(name: str) -> str:
    """``张三`` → ``张*``; ``欧阳小明`` → ``欧***`` (surname only)."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def make_id_number(region: str, birth: dt.date, serial: int) -> str:
    """Build a valid ID number (for demo data and tests): region + birth + 3-digit serial."""
    first17 = f"{region}{birth:%Y%m%d}{serial:03d}"
    return first17 + check_digit(first17)
