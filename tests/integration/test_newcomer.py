"""A newcomer's first five minutes (issue 24): the README's shell commands work as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")
# `flask GROUP COMMAND` or `flask COMMAND`, as the README writes them.
COMMAND = re.compile(r"\bflask ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def readme_commands() -> list[tuple[str, ...]]:
    found = {m.groups() for m in COMMAND.finditer((ROOT / "README.md").read_text())}
    return sorted(tuple(part for part in groups if part) for groups in found)


def test_flask_finds_the_app_without_flask_app(tmp_path: Path) -> None:
    # After `. .venv/bin/activate` nothing names the app: wsgi.py at the root does.
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "FLASK_DEBUG")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'newcomer.sqlite3'}"
    env["PATH"] = f"{FLASK.parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["flask", "demo", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "seed" in done.stdout


def test_every_flask_command_in_the_readme_exists(app: Flask) -> None:
    commands = readme_commands()
    assert len(commands) > 20  # the README's Administration, Reconciliation, … sections
    context = click.Context(app.cli)
    missing = []
    for words in commands:
        command = app.cli.get_command(context, words[0])
        if command is None and words[0] not in ("run", "shell", "routes"):
            missing.append(" ".join(words))
            continue
        group = isinstance(command, click.Group) and len(words) > 1
        if group and command.get_command(context, words[1]) is None:  # type: ignore[union-attr]
            missing.append(" ".join(words))
    assert not missing, missing


@pytest.mark.parametrize("setting", ["PUBLIC_BASE_URL", "DATABASE_URL", "SECRET_KEY"])
def test_readme_documents_the_setting(setting: str) -> None:
    assert f"`{setting}`" in (ROOT / "README.md").read_text()
