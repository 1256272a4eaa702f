"""The README's nginx example is one to copy: TLS only, and HSTS so it stays so (issue 23)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_nginx_example_sends_hsts_for_a_year() -> None:
    block = re.search(r"```nginx\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "README has no nginx example"
    hsts = re.search(r'add_header Strict-Transport-Security "max-age=(\d+)[^"]*" always;', block[1])
    assert hsts and int(hsts[1]) >= 31536000
