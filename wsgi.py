"""What `flask …` finds when FLASK_APP is not set: run from the repository root,
every command in the README works after `. .venv/bin/activate` (Flask looks for
``wsgi.py`` first and calls its ``create_app`` factory)."""

from app.factory import create_app

__all__ = ["create_app"]
