"""The injectable clock.

Operations never read the time themselves: the web and CLI layers hand them
the clock configured on the app (``CLOCK``), which tests replace with one
they can set and move.  Nothing below the web/CLI layer imports this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask, current_app

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock: an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def clock(app: Flask | None = None) -> Clock:
    """The clock configured on ``app`` (or the current app)."""
    result: Clock = (app or current_app).config["CLOCK"]
    return result
