"""Asia/Shanghai calendar: the programme's days, months and years.

Times are stored in UTC; a visit's day, month and year are those of
Asia/Shanghai (SPEC §4), whatever the server's own time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


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
