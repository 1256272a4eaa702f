"""Asia/Shanghai calendar: the programme's days, months and years.

Times are stored in UTC; a visit's day, month and year are those of
Asia/Shanghai (SPEC §4), whatever the server's own time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The programme's calendar: years 2000 to 2099.  Anything further is a typing
# slip, and at the calendar's own ends (0000, 9999) the day or month before or
# after does not exist.
MONTH = re.compile(r"^(20\d{2})-(0[1-9]|1[0-2])$")
FIRST_YEAR, LAST_YEAR = 2000, 2099
# What a clerk types for a day or a month: 2026-11-29, 2026/11/29, 2026.11.29,
# 20261129 (and 2026-1-5); 2026-11, 2026/11, 202611.  Pages show 2026-11-29.
TYPED_DAY = re.compile(r"^(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))$")
TYPED_MONTH = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})|(\d{2}))$")


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(SHANGHAI)


def local_date(moment: dt.datetime) -> dt.date:
    return local(moment).date()


def month_of(moment: dt.datetime) -> str:
    return f"{local(moment):%Y-%m}"


def parse_month(text: str) -> tuple[int, int] | None:
    """``"2026-10"`` → ``(2026, 10)``; None for anything else."""
    m = MONTH.match(text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_typed_day(text: str | None) -> dt.date | None:
    """A day as typed (``2026-11-29``, ``2026/11/29``, ``20261129``) → a date; None if not one."""
    m = TYPED_DAY.match((text or "").strip().replace("／", "/").replace("－", "-"))
    if m is None:
        return None
    month, day = (m.group(3), m.group(4)) if m.group(2) else (m.group(5), m.group(6))
    if not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        return None
    try:
        return dt.date(int(m.group(1)), int(month), int(day))
    except ValueError:
        return None


TYPED_TIME = re.compile(r"^(\d{1,2})[:：]?(\d{2})$")


def parse_typed_minute(text: str | None) -> dt.datetime | None:
    """A local date and time as typed (``2026-11-29 09:30``, ``2026/11/29 9:30``,
    ``2026-11-29T09:30``) → a naive local datetime; None if it is not one."""
    parts = (text or "").strip().replace("T", " ", 1).split()
    if len(parts) != 2:
        return None
    day = parse_typed_day(parts[0])
    m = TYPED_TIME.match(parts[1])
    if day is None or m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return dt.datetime.combine(day, dt.time(int(m.group(1)), int(m.group(2))))


def parse_typed_month(text: str | None) -> str | None:
    """A month as typed (``2026-11``, ``2026/11``, ``202611``) → ``"2026-11"``; None if not one."""
    m = TYPED_MONTH.match((text or "").strip().replace("／", "/").replace("－", "-"))
    if m is None:
        return None
    month = int(m.group(2) or m.group(3))
    if not 1 <= month <= 12 or not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        return None
    return f"{m.group(1)}-{month:02d}"


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First day and the first day of the next month."""
    parsed = parse_month(month)
    if parsed is None:
        raise ValueError(f"not a month: {month!r}")
    year, mon = parsed
    start = dt.date(year, mon, 1)
    end = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return start, end


def format_local(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if moment is None else local(moment).strftime(fmt)


def start_of_local_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), SHANGHAI).astimezone(dt.UTC)
