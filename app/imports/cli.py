"""CLI (stub until built)."""

import click
from flask.cli import AppGroup

@click.command("import-data")
def import_data() -> None:
    """stub"""
