"""CLI (stub until built)."""

import click
from flask.cli import AppGroup

policy_cli = AppGroup("policy")
