"""``flask users create|token|list``: accounts and API tokens from the command line.

Problems are printed as ``field: message`` on stderr and exit 1; nothing is
written then.  Passwords never appear on the command line: they are typed at a
hidden prompt (twice) or read from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import ROLES, User
from app.auth.operations import create_user, deactivate_user, issue_token, revoke_token
from app.auth.queries import tokens_of
from app.clock import clock
from app.errors import DomainError, Problem, ProblemCode
from app.extensions import db
from app.localtime import format_local

users_cli = AppGroup("users", help="User accounts and API tokens.")


def _fail(exc: DomainError) -> NoReturn:
    for problem in exc.problems:
        click.echo(f"{problem.field}: {problem.message}", err=True)
    raise SystemExit(1)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--clinic", "clinic_code", help="clinic code (doctor)")
@click.option("--district", "district_code", help="6-digit district code (reviewer, finance)")
@click.option("--town", "town_code", help="9-digit town code, narrowing a district scope")
@click.option("--display-name", default="", help="name shown in the UI and on statements")
@click.option(
    "--practitioner-code",
    default=None,
    help="a doctor's national practitioner code (医保医师编码), sent with his visits",
)
@click.option("--password-stdin", is_flag=True, help="read the password from stdin")
def create_command(
    username: str,
    role: str,
    clinic_code: str | None,
    district_code: str | None,
    town_code: str | None,
    display_name: str,
    practitioner_code: str | None,
    password_stdin: bool,
) -> None:
    """Create USERNAME with a role and its scope."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            username,
            password,
            role,
            clinic_code=clinic_code,
            district_code=district_code,
            town_code=town_code,
            display_name=display_name,
            practitioner_code=practitioner_code,
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"created {user.username} ({user.role}{_scope(user)})")


@users_cli.command("token")
@click.argument("username")
@click.option(
    "--days",
    type=int,
    default=None,
    help="Days until the token expires (default: API_TOKEN_DAYS, 90).",
)
@click.option("--no-expiry", is_flag=True, help="A token that never expires (use sparingly).")
def token_command(username: str, days: int | None, no_expiry: bool) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is kept)."""
    valid_days = None if no_expiry else (days or current_app.config["API_TOKEN_DAYS"])
    try:
        token = issue_token(username, clock()(), valid_days)
    except DomainError as exc:
        _fail(exc)
    click.echo(token)


@users_cli.command("tokens")
@click.argument("username")
def tokens_command(username: str) -> None:
    """List USERNAME's API tokens: id, issued, expires, last used, state."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        _fail(DomainError(Problem("username", f"no user {username!r}", ProblemCode.NOT_FOUND)))
    now = clock()()
    for row in tokens_of(user):
        if row.revoked_at is not None:
            state = f"revoked {format_local(row.revoked_at)}"
        elif row.expires_at is not None and row.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        click.echo(
            f"{row.id:>6}  issued {format_local(row.created_at)}"
            f"  expires {format_local(row.expires_at) or 'never':<16}"
            f"  last used {format_local(row.last_used_at) or 'never':<16}  {state}"
        )


@users_cli.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke the token TOKEN_ID (the id `flask users tokens` shows)."""
    try:
        row = revoke_token(token_id, clock()())
    except DomainError as exc:
        _fail(exc)
    click.echo(f"revoked token {row.id} of {row.user.username}")


@users_cli.command("deactivate")
@click.argument("username")
def deactivate_command(username: str) -> None:
    """Deactivate USERNAME: no more logins, every token revoked, sessions ended."""
    try:
        user = deactivate_user(username, clock()())
    except DomainError as exc:
        _fail(exc)
    click.echo(f"deactivated {user.username}")


@users_cli.command("list")
def list_command() -> None:
    """List every user with role and scope."""
    users = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    for user in users:
        state = "" if user.active else "  (inactive)"
        code = f", practitioner {user.practitioner_code}" if user.practitioner_code else ""
        click.echo(
            f"{user.username:<20} {user.role:<9} {user.display_name}{_scope(user)}{code}{state}"
        )


def _scope(user: User) -> str:
    if user.clinic is not None:
        return f", clinic {user.clinic.code}"
    if user.town_code:
        return f", district {user.district_code} town {user.town_code}"
    if user.district_code:
        return f", district {user.district_code}"
    return ""
