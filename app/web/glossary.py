"""The glossary in the user's language, for label tables and the 术语说明 page.

Label tables are built at import time, before any request knows its language,
so :func:`term_name` returns a lazy string that picks the Chinese or English
name from :data:`app.glossary.TERMS` when it is shown (``force_locale`` works
on it as on any translated label, so the documents still print Chinese).
"""

from __future__ import annotations

from flask_babel import LazyString, get_locale

from app.glossary import GROUP_NAMES, TERMS, Group, Term


def language() -> str:
    """``en`` when the user reads English, else ``zh`` (the default, and the documents')."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def _name(key: str) -> str:
    return TERMS[key].name(language())


def term_name(key: str) -> LazyString:
    """A term's name, in the language of whoever reads it (a KeyError for an unknown term)."""
    if key not in TERMS:  # fail at import time, not when the label is shown
        raise KeyError(key)
    return LazyString(_name, key)


def glossary_groups() -> list[tuple[str, list[Term]]]:
    """The glossary as the page lists it: each group's name and its terms, in table order."""
    index = 1 if language() == "en" else 0
    return [
        (GROUP_NAMES[group][index], [t for t in TERMS.values() if t.group == group])
        for group in Group
    ]
