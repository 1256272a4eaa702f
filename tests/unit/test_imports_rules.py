"""The CSV import's schemas and rules: every problem named, nothing Flask."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from app.catalog.rules import pinyin_initials
from app.errors import Problem, ProblemCode
from app.imports.rules import (
    CatalogRow,
    Lined,
    RowProblem,
    RowResult,
    catalog_file_problems,
    catalog_row,
    clinic_row,
    duplicate_problems,
    overlapping,
    reference_problems,
    resident_row,
    village_file_problems,
    village_row,
)
from app.imports.schemas import (
    COLUMNS,
    NOT_UTF8,
    SCHEMAS,
    CsvRow,
    LoadedRow,
    csv_rows,
    decode,
    decode_lines,
    load_cells,
    load_rows,
)
from app.people.rules import make_id_number

ID = make_id_number("440114", dt.date(1980, 5, 17), 123)
MEANING: dict[str, Callable[[Mapping[str, Any]], RowResult[Any]]] = {
    "villages": village_row,
    "clinics": clinic_row,
    "residents": resident_row,
    "catalog": catalog_row,
}


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


def read(table: str, /, **values: str | None) -> RowResult[Any]:
    """One row through its schema, then its rules: the value and every problem, in order."""
    loaded, problems = load_cells(SCHEMAS[table], cells(table, **values))
    value, meant = MEANING[table](loaded)
    return (None if problems else value), [*problems, *meant]


def parse_csv(text: str, columns: tuple[str, ...]) -> tuple[list[CsvRow], list[RowProblem]]:
    items = list(csv_rows(text, columns))
    return (
        [i for i in items if isinstance(i, CsvRow)],
        [i for i in items if isinstance(i, RowProblem)],
    )


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
    village, problems = read("villages")
    assert problems == [] and village is not None and village.kind == "village"
    clinic, _ = read("clinics")
    assert clinic is not None and clinic.joined_on == dt.date(2016, 1, 1) and clinic.left_on is None
    resident, _ = read("residents", id_number=ID.lower())
    assert resident is not None
    assert resident.id_number == ID and resident.sex == "M"
    assert resident.birth_date == dt.date(1980, 5, 17)
    item, _ = read("catalog", price="12.5")
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
    value, problems = read("villages", **values)
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
    value, problems = read("clinics", **values)
    assert value is None and fields(problems) == expected


def test_clinic_not_yet_joined_is_fine() -> None:
    value, problems = read("clinics", joined_on=None, insurance_code=None)
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
    value, problems = read("residents", **values)
    assert value is None and fields(problems) == expected


def test_uninsured_resident_has_no_dates() -> None:
    value, problems = read("residents", insurance_type="none", insured_from=None)
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
    value, problems = read("catalog", **values)
    assert value is None and fields(problems) == expected


# --- whole files -----------------------------------------------------------------


def test_rows_are_loaded_as_read_with_their_line_numbers() -> None:
    header = ",".join(COLUMNS["clinics"])
    good = ",".join(v or "" for v in cells("clinics").values())
    without_code = good.split(",", 1)[1]
    rows = load_rows(f"{header}\n{good}\n,{without_code}\nHD1,x\n", "clinics")
    first = next(rows)  # a generator: one line at a time
    assert first.line == 2 and first.problems == [] and first.values is not None
    assert first.values["joined_on"] == dt.date(2016, 1, 1) and first.values["left_on"] is None
    second, third = rows
    assert second.problems == [RowProblem(3, "code", "is required")]
    assert second.values is not None and "code" not in second.values
    assert third == LoadedRow(4, None, [RowProblem(4, "row", "has 2 cells, the header has 6")])


def test_duplicates_and_references() -> None:
    rows = [Lined(2, "a"), Lined(3, "b"), Lined(4, "a")]
    assert duplicate_problems(rows, lambda v: v, "code", "code") == [
        RowProblem(4, "code", "code repeats line 2")
    ]
    assert reference_problems(rows, lambda v: v, {"a"}, "village_code", "village") == [
        RowProblem(3, "village_code", "unknown village b")
    ]


def test_a_town_named_two_ways() -> None:
    first, _ = read("villages")
    second, _ = read("villages", code="440114102202", town_name="炭步")
    assert first and second
    problems = village_file_problems([Lined(2, first), Lined(3, second)])
    assert fields(problems) == ["town_name"] and problems[0].line == 3


def _price(line: int, valid_from: str, valid_to: str | None = None, **kw: str) -> Lined[CatalogRow]:
    row, problems = read("catalog", valid_from=valid_from, valid_to=valid_to, **kw)
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


# --- the schemas at the edge --------------------------------------------------------


def test_a_bom_file_loads_by_column_name_in_any_order() -> None:
    columns = ("valid_to", *(c for c in COLUMNS["catalog"] if c != "valid_to"))  # reordered
    row = cells("catalog")
    data = "\ufeff" + ",".join(columns) + "\n" + ",".join(row.get(c) or "" for c in columns) + "\n"
    text, problems = decode(data.encode("utf-8"))
    assert problems == [] and text is not None
    (loaded,) = load_rows(text, "catalog")
    # Without dropping the BOM the first column would read "\ufeffvalid_to": missing.
    assert loaded.problems == [] and loaded.values is not None
    assert loaded.values["price"] == 35 and loaded.values["valid_to"] is None


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("12,50", "amount is not a number: '12,50'"),
        ("１２.５０", "amount is not a number: '１２.５０'"),
        ("1e3", "amount is not a number: '1e3'"),
        ("¥12.50", "amount is not a number: '¥12.50'"),
        ("12.505", "amount has more than two decimals: '12.505'"),
    ],
)
def test_a_bad_money_cell_names_the_price(price: str, message: str) -> None:
    value, problems = read("catalog", price=price)
    assert value is None and problems == [Problem("price", message, ProblemCode.BAD_SHAPE)]


def test_the_row_schema_refuses_an_unknown_column_and_control_characters() -> None:
    _, problems = load_cells(SCHEMAS["villages"], {**cells("villages"), "colour": "red"})
    assert problems == [Problem("colour", "Unknown field.", ProblemCode.BAD_SHAPE)]
    value, problems = read("villages", name="大涡\x00村")
    assert value is None and problems == [
        Problem("name", "must not contain control characters", ProblemCode.BAD_SHAPE)
    ]


def test_dates_are_iso_only() -> None:
    for bad in ("2016-1-1", "20160101", "2016-01-01T00:00"):
        value, problems = read("clinics", joined_on=bad)
        assert value is None
        assert problems == [
            Problem(
                "joined_on", f"must be a date like 2026-01-31, not {bad!r}", ProblemCode.BAD_SHAPE
            )
        ]


def test_decode_lines_streams_like_decode() -> None:
    data = "\ufeffcode,name\r\nHD1,甲\rHD2,乙\n\nHD3,丙".encode()
    lines = list(decode_lines(io.BytesIO(data)))
    assert lines == ["code,name\r\n", "HD1,甲\r", "HD2,乙\n", "\n", "HD3,丙"]
    rows, problems = parse_csv("".join(lines), ("code", "name"))
    streamed = list(csv_rows(iter(lines), ("code", "name")))
    assert problems == [] and streamed == rows and [r.line for r in rows] == [2, 3, 5]


def test_decode_lines_names_the_line_that_is_not_utf8() -> None:
    data = b"code,name\nHD1,x\n" + "陈".encode("gbk") + b"\nHD2,y\n"
    items = list(csv_rows(decode_lines(io.BytesIO(data)), ("code", "name")))
    assert items[-1] == RowProblem(3, "file", NOT_UTF8)
    assert [i.line for i in items if isinstance(i, CsvRow)] == [2]
    _, problems = decode(data)
    assert problems == [items[-1]]
