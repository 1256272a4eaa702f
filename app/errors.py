"""Typed domain errors.

Rules and operations raise these; one handler per surface (JSON for the API,
a message next to the field for pages, ``FILE:LINE`` for imports) turns them
into what the user sees.  Every error names the field that failed, so a 4xx
always says what to fix.  Nothing here imports Flask.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: the field (dotted path) and why."""

    field: str
    message: str
    code: str = "invalid"


class DomainError(Exception):
    """Base class: carries the HTTP status the API answers with."""

    status = 400

    def __init__(self, problems: list[Problem] | Problem | str, field: str = "_") -> None:
        if isinstance(problems, str):
            problems = [Problem(field, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
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
