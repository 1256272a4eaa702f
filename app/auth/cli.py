"""``flask users create|token|list``: accounts and API tokens from the command line.

Problems are printed as ``field: message`` on stderr and exit 1; nothing is
written then.  Passwords never appear on the command line: they are typed at a
hidden prompt (twice) or read from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import ROLES, User
from app.auth.operations import create_user, issue_token
from app.clock import clock
from app.errors import DomainError
from app.extensions import db

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
@click.option("--password-stdin", is_flag=True, help="read the password from stdin")
def create_command(
    username: str,
    role: str,
    clinic_code: str | None,
    district_code: str | None,
    town_code: str | None,
    display_name: str,
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
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"created {user.username} ({user.role}{_scope(user)})")


@users_cli.command("token")
@click.argument("username")
def token_command(username: str) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is kept)."""
    try:
        token = issue_token(username, clock()())
    except DomainError as exc:
        _fail(exc)
    click.echo(token)


@users_cli.command("list")
def list_command() -> None:
    """List every user with role and scope."""
    users = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    for user in users:
        state = "" if user.active else "  (inactive)"
        click.echo(f"{user.username:<20} {user.role:<9} {user.display_name}{_scope(user)}{state}")


def _scope(user: User) -> str:
    if user.clinic is not None:
        return f", clinic {user.clinic.code}"
    if user.town_code:
        return f", district {user.district_code} town {user.town_code}"
    if user.district_code:
        return f", district {user.district_code}"
    return ""
