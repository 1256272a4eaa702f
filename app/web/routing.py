"""URL rules shared by the pages and the API.

Guarantee: an id in a path is matched up to the largest 64-bit key
(:data:`app.database.MAX_ID`) and no further, so every id the database can
hand out is reachable and a larger number is a 404, never a database error.
"""

from __future__ import annotations

from app.database import MAX_ID


def id_rule(name: str) -> str:
    """The ``<int:…>`` rule for the id ``name``, bounded by :data:`~app.database.MAX_ID`."""
    return f"<int(max={MAX_ID}):{name}>"
