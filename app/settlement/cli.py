"""CLI (stub until built)."""

import click
from flask.cli import AppGroup

statements_cli = AppGroup("statements")
