"""Catalogue rules: the pinyin initials a doctor types to find an item; the national codes.

Guarantees: :func:`pinyin_initials` is lowercase ASCII letters and digits only,
deterministic for a given name (阿莫西林胶囊 → ``amxljn``, 0.9%氯化钠注射液 →
``09lhnzsy``).  Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import re

_KEEP = re.compile(r"[^a-z0-9]")

# The insurance platform's fee categories (med_chrgitm_type, SPEC §2.1).
FEE_CLASSES = {
    "02": "诊察费",
    "05": "治疗费",
    "08": "卫生材料费",
    "09": "西药费",
    "10": "中药饮片费",
    "11": "中成药费",
    "12": "一般诊疗费",
    "13": "挂号费",
    "14": "其他费",
}


def pinyin_initials(name: str) -> str:
    """First letter of each character's pinyin; other characters kept if ASCII alphanumeric."""
    # Imported here: pypinyin loads its dictionaries on import, which only the
    # catalogue import needs, not every web request.
    from pypinyin import Style, lazy_pinyin

    letters = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))
    return _KEEP.sub("", letters.lower())[:100]


DIAGNOSIS_SYSTEMS = ("western", "tcm")
MAX_DIAGNOSES = 5  # one main and up to four more (SPEC §4)
