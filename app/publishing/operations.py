"""Loading policy versions from the bureau's TOML files.

Guarantees:

* a file is checked whole (:class:`app.policy.schemas.PolicyFileSchema`) and every
  problem is reported as ``FILE: key: message``; nothing is written then;
* one version per (district, ``effective_from``): loading the identical file
  again changes nothing; a changed file updates its version only while no
  visit has used it (SPEC §2: a version is immutable once a visit used it —
  a change is a new version with a later ``effective_from``);
* a new version may not start on or before a day that already has visits
  priced with the district's policy: it would change, after the fact, which
  version applies to recorded visits.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.operations import OPERATOR, audit_policy
from app.database import locked, unit_of_work
from app.errors import Conflict, InvalidInput, Problem, ProblemCode
from app.places.models import District
from app.policy.models import PolicyVersion
from app.policy.rules import PolicyFile
from app.policy.schemas import read_policy
from app.publishing.usage import last_priced_day, visits_priced_with


class PolicyRejected(InvalidInput):
    """The policy file has problems; nothing was written."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.file_problems = problems
        super().__init__([Problem(f"{source}: {p.field}", p.message, p.code) for p in problems])

    def lines(self) -> list[str]:
        return [f"{self.source}: {p.field}: {p.message}" for p in self.file_problems]


class PolicyRefused(Conflict):
    """The file is well-formed but would change a version visits already used."""

    def __init__(self, source: str, problem: Problem) -> None:
        self.source = source
        self.file_problems = [problem]
        super().__init__(Problem(f"{source}: {problem.field}", problem.message, problem.code))

    def lines(self) -> list[str]:
        return [f"{self.source}: {p.field}: {p.message}" for p in self.file_problems]


@dataclass(frozen=True)
class PolicyLoad:
    version_id: int
    district: str
    effective_from: dt.date
    status: str  # "added" | "updated" | "unchanged"

    def __str__(self) -> str:
        return (
            f"policy {self.district} from {self.effective_from.isoformat()}: {self.status}"
            f" (version {self.version_id})"
        )


def read_policy_file(data: bytes, source: str) -> PolicyFile:
    """Parse and check a TOML policy file; raises :class:`PolicyRejected`."""
    try:
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PolicyRejected(
            source, [Problem("file", "is not UTF-8 text", ProblemCode.FILE_UNREADABLE)]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyRejected(source, [Problem("toml", str(exc), ProblemCode.BAD_TOML)]) from None
    policy_file, problems = read_policy(doc)
    if policy_file is None:
        raise PolicyRejected(source, problems)
    return policy_file


def load_policy_file(path: str | Path, *, source: str | None = None) -> PolicyLoad:
    source = source if source is not None else str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyRejected(
            source, [Problem("file", exc.strerror or str(exc), ProblemCode.FILE_UNREADABLE)]
        ) from None
    return load_policy(read_policy_file(data, source), source=source)


def load_policy(policy_file: PolicyFile, *, source: str) -> PolicyLoad:
    """Create or update the version of ``policy_file`` (see the module guarantees)."""
    district_code, effective_from = policy_file.district, policy_file.effective_from
    columns = PolicyVersion.columns_for(policy_file.policy)
    with unit_of_work() as session:
        # Lock the district row: two loads for one district are serialised, so
        # the "is it used / does it start after the visits" checks below stay
        # true until this transaction commits.  (Recording a visit does not take
        # this lock; a visit recorded at this instant on a version being updated
        # is the one race left, and loading policy is a rare admin act.)
        if locked(session, District, code=district_code) is None:
            raise PolicyRejected(
                source,
                [
                    Problem(
                        "district",
                        f"unknown district {district_code}; import villages first",
                        ProblemCode.UNKNOWN_DISTRICT,
                    )
                ],
            )
        version = session.scalar(
            select(PolicyVersion).where(
                PolicyVersion.district_code == district_code,
                PolicyVersion.effective_from == effective_from,
            )
        )
        if version is not None:
            current = {key: getattr(version, key) for key in columns}
            if current == columns:
                return PolicyLoad(version.id, district_code, effective_from, "unchanged")
            used = visits_priced_with(session, version.id)
            if used:
                changed = ", ".join(k for k in columns if current[k] != columns[k])
                raise PolicyRefused(
                    source,
                    Problem(
                        "effective_from",
                        f"the version of {district_code} from {effective_from.isoformat()} "
                        f"was used by {used} visit(s) and cannot change ({changed}); "
                        "load the change as a new version with a later effective_from",
                        ProblemCode.VERSION_USED,
                    ),
                )
            for key, value in columns.items():
                setattr(version, key, value)
            version.source = source[-200:]
            audit_policy(session, OPERATOR, version, "updated")
            return PolicyLoad(version.id, district_code, effective_from, "updated")

        last_priced = last_priced_day(session, district_code)
        if last_priced is not None and effective_from <= last_priced:
            raise PolicyRefused(
                source,
                Problem(
                    "effective_from",
                    f"visits up to {last_priced.isoformat()} were already priced with the "
                    f"policy of {district_code}; a new version must start after that day",
                    ProblemCode.BEFORE_RECORDED_VISITS,
                ),
            )
        version = PolicyVersion(
            district_code=district_code,
            effective_from=effective_from,
            source=source[-200:],
            **columns,
        )
        session.add(version)
        audit_policy(session, OPERATOR, version, "added")
        return PolicyLoad(version.id, district_code, effective_from, "added")
