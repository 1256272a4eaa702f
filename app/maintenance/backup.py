"""Backups that are consistent while the app keeps recording, and restores that are checked.

Guarantees:

* a backup is one consistent snapshot even while visits are being recorded:
  SQLite's online backup API copies the database under a read lock (a writer
  waits, none is lost), and ``pg_dump`` reads one MVCC snapshot;
* a backup is written to a temporary file and renamed into place, so a
  failed or interrupted backup never leaves a file that looks complete;
* a restore replaces the whole database in one step (SQLite: the backup API in
  reverse, under the write lock; PostgreSQL: one transaction that empties the
  ``public`` schema and runs the backup's script from ``pg_restore``, committed
  only if ``pg_restore`` read the whole backup), so it either fully happens or
  leaves the database as it was;
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
        _restore_postgresql(libpq_url, env, source)
    else:
        raise BackupError(f"no restore method for {dialect}")


# ``pg_restore --clean`` cannot drop a partition's inherited keys and indexes
# (visit and visit_line are partitioned by month), so the schema is emptied
# and made again instead, in the transaction that restores.
_EMPTY_SCHEMA = b"""\\set ON_ERROR_STOP on
SET client_min_messages = warning;
BEGIN;
DROP SCHEMA public CASCADE;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
"""


def _restore_postgresql(libpq_url: str, env: dict[str, str], source: Path) -> None:
    """pg_restore's script piped into psql inside BEGIN … COMMIT (ROLLBACK if it fell short)."""
    for tool in ("pg_restore", "psql"):
        if shutil.which(tool) is None:
            raise BackupError(f"{tool} is not installed (Debian: postgresql-client)")
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            ["pg_restore", "--no-owner", "--file=-", str(source)],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        ) as script,
        subprocess.Popen(
            ["psql", "--quiet", "--no-psqlrc", "--dbname", libpq_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        ) as apply,
    ):
        assert script.stdout is not None and apply.stdin is not None and apply.stderr is not None
        read_all = stopped = False
        try:
            apply.stdin.write(_EMPTY_SCHEMA)
            shutil.copyfileobj(script.stdout, apply.stdin)
            read_all = script.wait() == 0
            apply.stdin.write(b"COMMIT;\n" if read_all else b"ROLLBACK;\n")
            apply.stdin.close()
        except BrokenPipeError:  # psql stopped at an error, its transaction rolled back
            stopped = True
            script.kill()
        psql_errors = apply.stderr.read().decode(errors="replace").strip()[-500:]
        if apply.wait() != 0 or stopped:
            raise BackupError(f"restore failed, nothing changed: psql: {psql_errors}")
        if not read_all:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-500:]
            raise BackupError(f"pg_restore failed: {message}")
