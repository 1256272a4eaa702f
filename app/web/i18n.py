"""Locale selection: Simplified Chinese by default, English on request.

Each area keeps its own message catalog (``app/<area>/translations``);
Flask-Babel merges every directory listed here.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, request, session

APP_ROOT = Path(__file__).resolve().parent.parent


def translation_directories() -> str:
    dirs = sorted(str(p) for p in APP_ROOT.glob("*/translations") if p.is_dir())
    return ";".join(dirs)


def select_locale() -> str:
    chosen = request.args.get("lang") or session.get("lang")
    languages: list[str] = current_app.config["LANGUAGES"]
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]
