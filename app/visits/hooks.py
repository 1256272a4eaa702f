"""What the visits ask of the oversight above them, handed down by the composition root.

The oversight queries the visits (the person's earlier visits, the flags, the
review), so it sits above them; yet recording screens a visit with the checks
at recording, and a receipt shows its public verification code.  app.factory
puts the oversight's two functions on the app (:func:`install`); the visits'
API and pages take them from there (:func:`hooks`) and hand them to the
operations as arguments, so no module of the visits imports the oversight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app

from app.visits.operations import Screen

KEY = "visits.hooks"


@dataclass(frozen=True)
class VisitHooks:
    """The checks at recording, and a visit's receipt code (created the first time it is asked)."""

    screen: Screen
    receipt_code: Callable[[int, dt.datetime], str]


def install(app: Flask, visit_hooks: VisitHooks) -> None:
    app.extensions[KEY] = visit_hooks


def hooks() -> VisitHooks:
    """The app's hooks; a KeyError is a wiring bug (an app not built by app.factory)."""
    return cast(VisitHooks, current_app.extensions[KEY])
