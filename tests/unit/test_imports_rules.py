"""Row and file rules of the CSV import: every problem named, nothing Flask."""

from __future__ import annotations

import datetime as dt

import pytest

from app.catalog.rules import pinyin_initials
from app.imports.rules import (
    COLUMNS,
    CatalogRow,
    Lined,
    RowProblem,
    catalog_file_problems,
    catalog_row,
    clinic_row,
    decode,
    duplicate_problems,
    overlapping,
    parse_csv,
    read_rows,
    reference_problems,
    resident_row,
    village_file_problems,
    village_row,
)
from app.people.rules import make_id_number

ID = make_id_number("440114", dt.date(1980, 5, 17), 123)


def cells(table: str, **values: str | None) -> dict[str, str | None]:
    base: dict[str, dict[str, str | None]] = {
        "villages": {
            "code": "440114102201",
            "name": "大涡村",
            "kind": "village",
            "town_code": "440114102",
            "town_name": "炭步镇",
            "district_code": "440114",
            "district_name": "花都区",
        },
        "clinics": {
            "code": "HD0301",
            "name": "大涡村卫生站",
            "village_code": "440114102201",
            "insurance_code": "H44011400301",
            "joined_on": "2016-01-01",
            "left_on": None,
        },
        "residents": {
            "id_number": ID,
            "name": "陈大文",
            "hukou_village_code": "440114102201",
            "insurance_type": "resident",
            "insured_from": "2016-01-01",
            "insured_to": None,
        },
        "catalog": {
            "code": "AMX01",
            "name": "阿莫西林胶囊",
            "kind": "drug",
            "unit": "粒",
            "insurance_class": "A",
            "price": "0.35",
            "valid_from": "2016-01-01",
            "valid_to": None,
        },
    }
    return {**base[table], **values}


def fields(problems: list) -> list[str]:
    return [p.field for p in problems]


# --- decoding and header ---------------------------------------------------------


def test_bom_is_dropped() -> None:
    text, problems = decode("\ufeffcode,name\n".encode())
    assert problems == [] and text == "code,name\n"


def test_non_utf8_names_its_line() -> None:
    text, problems = decode(b"a,b\n1,2\n" + "陈".encode("gbk") + b"\n")
    assert text is None
    assert problems == [RowProblem(3, "file", problems[0].message)]


def test_header_problems() -> None:
    rows, problems = parse_csv("code,name,extra,name\n", ("code", "name", "kind"))
    assert rows == []
    messages = [p.message for p in problems]
    assert all(p.line == 1 and p.field == "header" for p in problems)
    assert any("missing column(s) kind" in m for m in messages)
    assert any("unknown column(s) extra" in m for m in messages)
    assert any("repeated column(s) name" in m for m in messages)


def test_empty_file() -> None:
    _, problems = parse_csv("", ("code",))
    assert problems[0].field == "header"


def test_rows_keep_their_line_numbers_and_empty_cells_are_none() -> None:
    text = 'name,code\n a , 1 \n\n"two\nlines",2\nx,\nonly-one-cell\n'
    rows, problems = parse_csv(text, ("code", "name"))
    assert [(r.line, r.cells) for r in rows] == [
        (2, {"name": "a", "code": "1"}),
        (4, {"name": "two\nlines", "code": "2"}),
        (6, {"name": "x", "code": None}),
    ]
    assert problems == [RowProblem(7, "row", "has 1 cells, the header has 2")]


# --- rows ----------------------------------------------------------------------


def test_good_rows_are_typed() -> None:
    village, problems = village_row(cells("villages"))
    assert problems == [] and village is not None and village.kind == "village"
    clinic, _ = clinic_row(cells("clinics"))
    assert clinic is not None and clinic.joined_on == dt.date(2016, 1, 1) and clinic.left_on is None
    resident, _ = resident_row(cells("residents", id_number=ID.lower()))
    assert resident is not None
    assert resident.id_number == ID and resident.sex == "M"
    assert resident.birth_date == dt.date(1980, 5, 17)
    item, _ = catalog_row(cells("catalog", price="12.5"))
    assert item is not None and item.price == 1250 and item.valid_to is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"code": "4401141022"}, ["code"]),
        ({"kind": "town"}, ["kind"]),
        ({"name": None}, ["name"]),
        ({"town_code": "440115102"}, ["town_code", "code"]),
        ({"code": "440114101201"}, ["code"]),
        ({"district_code": "44011"}, ["district_code"]),
        ({"name": "村" * 61}, ["name"]),
    ],
)
def test_village_problems(values: dict[str, str | None], expected: list[str]) -> None:
    value, problems = village_row(cells("villages", **values))
    assert value is None and fields(problems) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"code": "HD 01"}, ["code"]),
        ({"village_code": None}, ["village_code"]),
        ({"joined_on": "2016/01/01"}, ["joined_on"]),
        ({"joined_on": "2016-02-30"}, ["joined_on"]),
        ({"left_on": "2016-01-01"}, ["left_on"]),
        ({"joined_on": None, "left_on": "2020-01-01"}, ["left_on"]),
    ],
)
def test_clinic_problems(values: dict[str, str | None], expected: list[str]) -> None:
    value, problems = clinic_row(cells("clinics", **values))
    assert value is None and fields(problems) == expected


def test_clinic_not_yet_joined_is_fine() -> None:
    value, problems = clinic_row(cells("clinics", joined_on=None, insurance_code=None))
    assert problems == [] and value is not None and value.joined_on is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"id_number": ID[:17] + "0" if ID[17] != "0" else ID[:17] + "1"}, ["id_number"]),
        ({"id_number": None}, ["id_number"]),
        ({"insurance_type": "rural"}, ["insurance_type"]),
        ({"insured_from": None}, ["insured_from"]),
        ({"insured_to": "2015-12-31"}, ["insured_to"]),
        ({"insurance_type": "none"}, ["insured_from"]),
        ({"hukou_village_code": "4401"}, ["hukou_village_code"]),
        ({"name": None, "insurance_type": None}, ["name", "insurance_type"]),
    ],
)
def test_resident_problems(values: dict[str, str | None], expected: list[str]) -> None:
    value, problems = resident_row(cells("residents", **values))
    assert value is None and fields(problems) == expected


def test_uninsured_resident_has_no_dates() -> None:
    value, problems = resident_row(cells("residents", insurance_type="none", insured_from=None))
    assert problems == [] and value is not None and value.insured_from is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"kind": "food"}, ["kind"]),
        ({"insurance_class": "D"}, ["insurance_class"]),
        ({"insurance_class": "a"}, ["insurance_class"]),
        ({"price": "0.355"}, ["price"]),
        ({"price": "-1"}, ["price"]),
        ({"price": "abc"}, ["price"]),
        ({"price": None}, ["price"]),
        ({"valid_from": None}, ["valid_from"]),
        ({"valid_to": "2015-01-01"}, ["valid_to"]),
        ({"unit": None}, ["unit"]),
    ],
)
def test_catalog_problems(values: dict[str, str | None], expected: list[str]) -> None:
    value, problems = catalog_row(cells("catalog", **values))
    assert value is None and fields(problems) == expected


# --- whole files -----------------------------------------------------------------


def test_read_rows_puts_line_numbers_on_problems() -> None:
    from app.imports.rules import CsvRow

    rows = [CsvRow(2, cells("clinics")), CsvRow(3, cells("clinics", code=None))]
    values, problems = read_rows(rows, clinic_row)
    assert [v.line for v in values] == [2]
    assert problems == [RowProblem(3, "code", "is required")]


def test_duplicates_and_references() -> None:
    rows = [Lined(2, "a"), Lined(3, "b"), Lined(4, "a")]
    assert duplicate_problems(rows, lambda v: v, "code", "code") == [
        RowProblem(4, "code", "code repeats line 2")
    ]
    assert reference_problems(rows, lambda v: v, {"a"}, "village_code", "village") == [
        RowProblem(3, "village_code", "unknown village b")
    ]


def test_a_town_named_two_ways() -> None:
    first, _ = village_row(cells("villages"))
    second, _ = village_row(cells("villages", code="440114102202", town_name="炭步"))
    assert first and second
    problems = village_file_problems([Lined(2, first), Lined(3, second)])
    assert fields(problems) == ["town_name"] and problems[0].line == 3


def _price(line: int, valid_from: str, valid_to: str | None = None, **kw: str) -> Lined[CatalogRow]:
    row, problems = catalog_row(cells("catalog", valid_from=valid_from, valid_to=valid_to, **kw))
    assert row is not None, problems
    return Lined(line, row)


def test_overlap() -> None:
    d = dt.date
    assert overlapping([(d(2016, 1, 1), d(2025, 12, 31)), (d(2026, 1, 1), None)]) is None
    assert overlapping([(d(2026, 1, 1), None), (d(2016, 1, 1), d(2026, 1, 1))]) is not None
    assert overlapping([(d(2016, 1, 1), None), (d(2026, 1, 1), None)]) is not None


def test_price_history_in_one_file() -> None:
    rows = [_price(2, "2016-01-01", "2025-12-31"), _price(3, "2026-01-01", price="0.38")]
    assert catalog_file_problems(rows, {}) == []


def test_overlapping_periods_in_one_file() -> None:
    rows = [_price(2, "2016-01-01"), _price(3, "2026-01-01", price="0.38")]
    problems = catalog_file_problems(rows, {})
    assert [(p.line, p.field) for p in problems] == [(3, "valid_from")]
    assert "line 2" in problems[0].message


def test_overlap_with_the_catalogue() -> None:
    existing = {"AMX01": [(dt.date(2016, 1, 1), None)]}
    problems = catalog_file_problems([_price(2, "2026-01-01", price="0.38")], existing)
    assert [(p.line, p.field) for p in problems] == [(2, "valid_from")]
    assert "already in the catalogue" in problems[0].message
    # The same valid_from replaces its period: closing the open one is fine.
    rows = [_price(2, "2016-01-01", "2025-12-31"), _price(3, "2026-01-01", price="0.38")]
    assert catalog_file_problems(rows, existing) == []


def test_one_item_described_two_ways_and_repeated_periods() -> None:
    rows = [
        _price(2, "2016-01-01", "2025-12-31"),
        _price(3, "2026-01-01", name="阿莫西林", insurance_class="B"),
        _price(4, "2026-01-01", name="阿莫西林", insurance_class="B"),
    ]
    problems = catalog_file_problems(rows, {})
    assert (4, "valid_from") in [(p.line, p.field) for p in problems]
    assert (3, "name") in [(p.line, p.field) for p in problems]
    assert (3, "insurance_class") in [(p.line, p.field) for p in problems]


def test_row_problem_format() -> None:
    assert RowProblem(7, "price", "is required").format("catalog.csv") == (
        "catalog.csv:7: price: is required"
    )


def test_columns_are_the_spec() -> None:
    assert COLUMNS["residents"] == (
        "id_number",
        "name",
        "hukou_village_code",
        "insurance_type",
        "insured_from",
        "insured_to",
    )


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("阿莫西林胶囊", "amxljn"),
        ("0.9%氯化钠注射液", "09lhnzsy"),
        ("维生素C片", "wsscp"),
        ("一般诊疗费", "ybzlf"),
        ("复方甘草片", "ffgcp"),
    ],
)
def test_pinyin_initials(name: str, initials: str) -> None:
    assert pinyin_initials(name) == initials
