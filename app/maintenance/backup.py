"""Backups that are consistent while the app keeps recording, and restores that are checked.

Guarantees:

* a backup is one consistent snapshot even while visits are being recorded:
  SQLite's online backup API copies the database under a read lock (a writer
  waits, none is lost), and ``pg_dump`` reads one MVCC snapshot;
* a backup is written to a temporary file and renamed into place, so a
  failed or interrupted backup never leaves a file that looks complete;
* a restore replaces the whole database in one step (SQLite: the backup API in
  reverse, under the write lock; PostgreSQL: ``pg_restore --single-transaction
  --clean``), so it either fully happens or leaves the database as it was;
* a password in the database URL is handed to pg_dump/pg_restore through the
  environment, never on a command line where ``ps`` would show it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (Debian: postgresql-client)")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {result.stderr.strip()[-500:]}")


def backup(url: str, target: Path) -> None:
    """Write a consistent copy of the database at ``url`` to ``target``."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial_name = tempfile.mkstemp(prefix=".backup-", dir=target.parent)
    os.close(fd)
    partial = Path(partial_name)
    try:
        dialect = make_url(url).get_backend_name()
        if dialect == "sqlite":
            source = sqlite3.connect(_sqlite_path(url), timeout=60)
            dest = sqlite3.connect(partial)
            try:
                source.backup(dest)  # all pages in one step: one consistent snapshot
            finally:
                dest.close()
                source.close()
        elif dialect == "postgresql":
            libpq_url, env = _libpq(url)
            _run(["pg_dump", "--format=custom", "--file", str(partial), libpq_url], env)
        else:
            raise BackupError(f"no backup method for {dialect}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore(url: str, source: Path) -> None:
    """Replace the database at ``url`` with the backup in ``source``, all or nothing."""
    if not source.is_file():
        raise BackupError(f"no backup file {source}")
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        try:
            backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            backup_db.execute("SELECT count(*) FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a backup of this application: {exc}") from None
        live = sqlite3.connect(_sqlite_path(url), timeout=60)
        try:
            backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
    elif dialect == "postgresql":
        libpq_url, env = _libpq(url)
        _run(
            [
                "pg_restore",
                "--single-transaction",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--dbname",
                libpq_url,
                str(source),
            ],
            env,
        )
    else:
        raise BackupError(f"no restore method for {dialect}")
