"""One closed set of problem codes, each with its words in one table (issue 18 item 4).

* every :class:`ProblemCode` has English words in :data:`app.web.messages.MESSAGES`
  and a Chinese translation in the web catalog, with the same placeholders;
* every ``Problem(...)`` in ``app/`` passes its code from the enum (no string, no
  default), and no :class:`DomainError` is built from a bare string (an AST scan);
* the codes made elsewhere (money's parse errors, the checks' rules) are members.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, force_locale

from app.checks.rules import Rule
from app.checks.screening import check_code
from app.errors import DomainError, Problem, ProblemCode
from app.web.i18n import translation_directories
from app.web.messages import MESSAGES, problem_words

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
WEB_CATALOG = APP / "web/translations/zh/LC_MESSAGES/messages.po"
# Codes whose Chinese words may read exactly as the English (none today).
SAME_IN_BOTH: frozenset[ProblemCode] = frozenset()
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_code_has_words_in_the_one_table() -> None:
    assert set(MESSAGES) == set(ProblemCode)
    assert all(isinstance(code, ProblemCode) for code in MESSAGES)


def test_values_are_unique_and_stable_in_shape() -> None:
    values = [code.value for code in ProblemCode]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z_]*", v) for v in values)


def test_every_code_has_chinese_words_in_the_catalog() -> None:
    with WEB_CATALOG.open("rb") as f:
        catalog = read_po(f)
    for code, words in MESSAGES.items():
        english = words._args[0]
        assert english.strip(), code
        message = catalog.get(english)
        assert message is not None, f"{code}: {english!r} is not in {WEB_CATALOG}"
        assert message.string and not message.fuzzy, f"{code}: no Chinese for {english!r}"
        assert PLACEHOLDER.findall(message.string) == PLACEHOLDER.findall(english), code
        if code not in SAME_IN_BOTH:
            assert message.string != english, code


@pytest.fixture(scope="module")
def babel_app() -> Flask:
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translation_directories()
    Babel(app, default_locale="zh")
    return app


def test_every_code_renders_in_both_languages(babel_app: Flask) -> None:
    """Through the compiled, merged catalogs: what a page shows."""
    with babel_app.test_request_context():
        for code in ProblemCode:
            problem = Problem("field", "the rule's own message", code)
            with force_locale("zh"):
                chinese = problem_words(problem, n=20, status="已审核", month="2026-11")
            with force_locale("en"):
                english = problem_words(problem, n=20, status="reviewed", month="2026-11")
            assert chinese and english and "%(" not in chinese + english, code
            assert re.search(r"[\u4e00-\u9fff]", chinese), (code, chinese)
            if code not in SAME_IN_BOTH:
                assert chinese != english, code


def test_a_code_must_come_from_the_enum() -> None:
    with pytest.raises(TypeError):
        Problem("field", "message", "invalid")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DomainError("a bare string")  # type: ignore[arg-type]


def test_the_codes_made_outside_the_enum_are_members() -> None:
    # app.money sits below app.errors: its codes are strings, checked here.
    money = ast.parse((APP / "money.py").read_text())
    made = {"not_number"}  # MoneyFormatError's default
    for node in ast.walk(money):
        if _called(node) == "MoneyFormatError" and len(node.args) > 1:
            arg = node.args[1]
            assert isinstance(arg, ast.Constant), ast.unparse(node)
            made.add(arg.value)
    assert made <= {code.value for code in ProblemCode}
    for rule in Rule:
        assert check_code(rule) in ProblemCode


# --- the AST scan of app/ ---------------------------------------------------------


def _called(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _error_classes(trees: list[ast.Module]) -> set[str]:
    """DomainError and every class in app/ derived from it (by name, transitively)."""
    names = {"DomainError"}
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {
                        b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                        for b in node.bases
                    }
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _bad_code(code: ast.expr | None) -> str | None:
    """Why ``code`` (a Problem's third argument) is not a code from the enum, or None."""
    if code is None:
        return "no code"
    if isinstance(code, ast.Constant | ast.JoinedStr | ast.BinOp):
        return "a literal, not a ProblemCode"
    if isinstance(code, ast.IfExp):
        return _bad_code(code.body) or _bad_code(code.orelse)
    if (
        isinstance(code, ast.Attribute)
        and isinstance(code.value, ast.Name)
        and code.value.id == "ProblemCode"
        and code.attr not in ProblemCode.__members__
    ):
        return f"ProblemCode has no member {code.attr}"
    # A name, an attribute or a call (ProblemCode(...), check_code(...)): typed as
    # ProblemCode by mypy and checked at run time by Problem.__post_init__.
    return None


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr | ast.BinOp) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def scan(sources: dict[str, str]) -> Iterator[str]:
    trees = {name: ast.parse(text) for name, text in sources.items()}
    errors = _error_classes(list(trees.values()))
    for name, tree in trees.items():
        for node in ast.walk(tree):
            called = _called(node)
            if not isinstance(node, ast.Call) or called is None:
                continue
            where = f"{name}:{node.lineno}"
            if called == "Problem":
                code = node.args[2] if len(node.args) > 2 else None
                code = next((k.value for k in node.keywords if k.arg == "code"), code)
                if (why := _bad_code(code)) is not None:
                    yield f"{where}: {why}: {ast.unparse(node)[:80]}"
            elif called in errors and any(_is_text(a) for a in node.args[:1]):
                yield f"{where}: {called} built from a string: {ast.unparse(node)[:80]}"
            elif (
                called == "ProblemCode"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value not in {c.value for c in ProblemCode}
            ):
                yield f"{where}: no such code {node.args[0].value!r}"


def test_the_scan_finds_what_it_guards_against() -> None:
    bad = """
class InvalidInput(DomainError): ...
class Refused(InvalidInput): ...
Problem("f", "m")
Problem("f", "m", "invalid")
Problem("f", "m", code=f"check_{x}")
Problem("f", "m", ProblemCode.NO_SUCH_MEMBER)
InvalidInput("a bare string")
Refused(f"no user {name}")
"""
    good = 'Problem("f", "m", ProblemCode.REQUIRED if a else code)\nRefused(problems)\n'
    assert len(list(scan({"bad.py": bad}))) == 6
    assert list(scan({"good.py": "\n".join(bad.split("\n")[1:3]) + "\n" + good})) == []


def test_every_problem_in_the_app_has_a_code_from_the_enum() -> None:
    sources = {str(p.relative_to(ROOT)): p.read_text() for p in sorted(APP.rglob("*.py"))}
    assert len(sources) > 100  # the scan reads the app, not an empty folder
    assert list(scan(sources)) == []
