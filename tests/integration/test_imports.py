"""``flask import-data``: each kind on SQLite and PostgreSQL.

For every kind: the happy path, idempotency (a second import changes
nothing), updates, and every kind of problem reported as
``FILE:LINE: field: message`` with nothing written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.catalog.models import CatalogItem, ItemPrice
from app.extensions import db
from app.imports.operations import ImportRejected, import_file
from app.people.models import Resident
from app.people.rules import make_id_number
from app.places.models import Clinic, District, Town, Village

VILLAGES_HEADER = "code,name,kind,town_code,town_name,district_code,district_name\n"
VILLAGES = VILLAGES_HEADER + (
    "440114102201,大涡村,village,440114102,炭步镇,440114,花都区\n"
    "440114102202,石湖村,village,440114102,炭步镇,440114,花都区\n"
    "440114102001,炭步社区,community,440114102,炭步镇,440114,花都区\n"
    "440114103201,瑞岭村,village,440114103,赤坭镇,440114,花都区\n"
    "440112101201,汤村村,village,440112101,九龙镇,440112,黄埔区\n"
)
CLINICS_HEADER = "code,name,village_code,insurance_code,joined_on,left_on\n"
CLINICS = CLINICS_HEADER + (
    "HD0301,大涡村卫生站,440114102201,H44011400301,2016-01-01,\n"
    "HD0302,石湖村卫生站,440114102202,,2016-03-01,2026-07-01\n"
    "HD0401,瑞岭村卫生站,440114103201,H44011400401,,\n"
)
RESIDENTS_HEADER = "id_number,name,hukou_village_code,insurance_type,insured_from,insured_to\n"
ID_A = make_id_number("440114", dt.date(1975, 6, 1), 1)  # ends in X
ID_B = make_id_number("440114", dt.date(1988, 2, 29), 22)
ID_C = make_id_number("440112", dt.date(2001, 11, 30), 305)
RESIDENTS = RESIDENTS_HEADER + (
    f"{ID_A.lower()},陈大文,440114102201,resident,2016-01-01,\n"
    f"{ID_B},梁小玲,440114102001,employee,2020-01-01,2026-12-31\n"
    f"{ID_C},黄志强,440112101201,none,,\n"
)
CATALOG_HEADER = "code,name,kind,unit,insurance_class,price,valid_from,valid_to\n"
CATALOG = CATALOG_HEADER + (
    "DX001,一般诊疗费,consultation,次,A,10.00,2016-01-01,\n"
    "Y001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,\n"
    "Y022,复方甘草片,drug,瓶,B,3.5,2016-01-01,\n"
    "F006,换药,service,次,A,5,2016-01-01,\n"
    "Y043,维生素C片,drug,片,C,0.02,2016-01-01,\n"
)

MODELS = {
    "district": District,
    "town": Town,
    "village": Village,
    "clinic": Clinic,
    "resident": Resident,
    "item": CatalogItem,
    "price": ItemPrice,
}


def counts() -> dict[str, int]:
    result = {
        name: db.session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in MODELS.items()
    }
    # End the read: a SQLite reader left open would block the next import's commit.
    db.session.rollback()
    return result


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def run(app: Flask, kind: str, path: Path) -> Result:
    result = app.test_cli_runner().invoke(args=["import-data", kind, str(path)])
    db.session.rollback()
    return result


def errors(result: Result) -> list[str]:
    lines = result.stderr.splitlines()
    assert lines[-1].endswith("nothing was imported")
    return lines[:-1]


@pytest.fixture
def places(app: Flask, tmp_path: Path) -> None:
    assert run(app, "villages", write(tmp_path, "v.csv", VILLAGES)).exit_code == 0


@pytest.fixture
def clinics(app: Flask, tmp_path: Path, places: None) -> None:
    assert run(app, "clinics", write(tmp_path, "c.csv", CLINICS)).exit_code == 0


# --- villages --------------------------------------------------------------------


def test_villages_create_districts_and_towns(app: Flask, tmp_path: Path) -> None:
    path = write(tmp_path, "villages.csv", VILLAGES)
    result = run(app, "villages", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"{path}: 5 rows, 5 added, 0 updated, 0 unchanged "
        "(districts: 2 added, 0 updated; towns: 3 added, 0 updated)"
    )
    assert counts()["district"] == 2 and counts()["town"] == 3 and counts()["village"] == 5
    village = db.session.get(Village, "440114102001")
    assert village is not None and village.kind == "community"
    assert village.town.name == "炭步镇" and village.district_code == "440114"
    assert db.session.get(District, "440112").name == "黄埔区"  # type: ignore[union-attr]


def test_villages_reimport_changes_nothing(app: Flask, tmp_path: Path, places: None) -> None:
    before = counts()
    result = run(app, "villages", write(tmp_path, "villages.csv", VILLAGES))
    assert result.exit_code == 0
    assert "5 rows, 0 added, 0 updated, 5 unchanged" in result.stdout
    assert "districts: 0 added, 0 updated; towns: 0 added, 0 updated" in result.stdout
    assert counts() == before


def test_villages_update_and_add(app: Flask, tmp_path: Path, places: None) -> None:
    changed = (
        VILLAGES.replace("石湖村,village", "石湖村,community")
        .replace("炭步镇", "炭步镇人民政府")
        .replace("黄埔区", "广州市黄埔区")
        + "440114103202,莲塘村,village,440114103,赤坭镇,440114,花都区\n"
    )
    result = run(app, "villages", write(tmp_path, "villages.csv", changed))
    assert result.exit_code == 0, result.output
    assert "6 rows, 1 added, 1 updated, 4 unchanged" in result.stdout
    assert "districts: 0 added, 1 updated; towns: 0 added, 1 updated" in result.stdout
    assert db.session.get(Village, "440114102202").kind == "community"  # type: ignore[union-attr]
    assert db.session.get(Town, "440114102").name == "炭步镇人民政府"  # type: ignore[union-attr]
    assert db.session.get(District, "440112").name == "广州市黄埔区"  # type: ignore[union-attr]
    assert counts()["village"] == 6


def test_villages_with_bom(app: Flask, tmp_path: Path) -> None:
    result = run(app, "villages", write(tmp_path, "villages.csv", VILLAGES, bom=True))
    assert result.exit_code == 0, result.output
    assert counts()["village"] == 5


def test_village_problems_write_nothing(app: Flask, tmp_path: Path) -> None:
    bad = VILLAGES_HEADER + (
        "440114102201,大涡村,village,440114102,炭步镇,440114,花都区\n"
        "4401141022,石湖村,hamlet,440114102,炭步镇,440114,花都区\n"
        "440114103201,,village,440114102,炭步镇,440114,花都区\n"
        "440114102201,大涡村,village,440114102,炭步,440114,花都区\n"
        "440114102203,塱头村\n"
    )
    path = write(tmp_path, "villages.csv", bad)
    result = run(app, "villages", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:3: code: must be a 12-digit division code, not '4401141022'",
        f"{path}:3: kind: must be one of village, community, not 'hamlet'",
        f"{path}:4: name: is required",
        f"{path}:4: code: does not belong to town 440114102",
        f"{path}:5: code: village code repeats line 2",
        f"{path}:5: town_name: town 440114102 differs from line 2",
        f"{path}:6: row: has 2 cells, the header has 7",
    ]
    assert result.stdout == ""
    assert counts() == dict.fromkeys(MODELS, 0)


def test_header_problems(app: Flask, tmp_path: Path) -> None:
    path = write(tmp_path, "villages.csv", "code,name,kind,town,district_code,district_name\n")
    result = run(app, "villages", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:1: header: missing column(s) town_code, town_name",
        f"{path}:1: header: unknown column(s) town",
    ]


def test_not_utf8(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "villages.csv"
    path.write_bytes(VILLAGES.encode("gbk"))
    result = run(app, "villages", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:2: file: is not UTF-8 text (save the spreadsheet as CSV UTF-8)"
    ]
    assert counts()["village"] == 0


def test_missing_file_and_unknown_kind(app: Flask, tmp_path: Path) -> None:
    result = run(app, "villages", tmp_path / "nope.csv")
    assert result.exit_code == 1 and "No such file" in result.stderr
    result = run(app, "hamlets", write(tmp_path, "v.csv", VILLAGES))
    assert result.exit_code == 2 and "hamlets" in result.stderr


# --- clinics ---------------------------------------------------------------------


def test_clinics_import_and_reimport(app: Flask, tmp_path: Path, places: None) -> None:
    path = write(tmp_path, "clinics.csv", CLINICS)
    result = run(app, "clinics", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{path}: 3 rows, 3 added, 0 updated, 0 unchanged"
    left = db.session.scalar(select(Clinic).where(Clinic.code == "HD0302"))
    assert left is not None
    assert (left.insurance_code, left.joined_on, left.left_on) == (
        None,
        dt.date(2016, 3, 1),
        dt.date(2026, 7, 1),
    )
    not_joined = db.session.scalar(select(Clinic).where(Clinic.code == "HD0401"))
    assert not_joined is not None and not_joined.joined_on is None
    db.session.rollback()

    again = run(app, "clinics", path)
    assert "3 rows, 0 added, 0 updated, 3 unchanged" in again.stdout
    assert counts()["clinic"] == 3


def test_clinics_update(app: Flask, tmp_path: Path, clinics: None) -> None:
    changed = CLINICS.replace("H44011400401,,", "H44011400401,2026-11-01,").replace(
        "大涡村卫生站", "大涡村卫生站（新址）"
    )
    result = run(app, "clinics", write(tmp_path, "clinics.csv", changed))
    assert "3 rows, 0 added, 2 updated, 1 unchanged" in result.stdout
    clinic = db.session.scalar(select(Clinic).where(Clinic.code == "HD0401"))
    assert clinic is not None and clinic.joined_on == dt.date(2026, 11, 1)
    assert counts()["clinic"] == 3


def test_clinic_problems_write_nothing(app: Flask, tmp_path: Path, places: None) -> None:
    bad = CLINICS_HEADER + (
        "HD0301,大涡村卫生站,440114102201,H1,2016-01-01,\n"
        "HD0501,马岭村卫生站,440114104201,H2,2016-01-01,\n"
        "HD0301,大涡村卫生站,440114102201,H1,2016-01-01,\n"
        "HD 09,,440114102202,H3,2016-13-01,2016-01-01\n"
        "HD0303,塱头村卫生站,440114102202,H4,2016-01-01,2016-01-01\n"
    )
    path = write(tmp_path, "clinics.csv", bad)
    result = run(app, "clinics", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:3: village_code: unknown village 440114104201",
        f"{path}:4: code: clinic code repeats line 2",
        f"{path}:5: code: must be letters and digits, not 'HD 09'",
        f"{path}:5: name: is required",
        f"{path}:5: joined_on: must be a date like 2026-01-31, not '2016-13-01'",
        f"{path}:6: left_on: must be after joined_on 2016-01-01",
    ]
    assert counts()["clinic"] == 0


# --- residents -------------------------------------------------------------------


def test_residents_import(app: Flask, tmp_path: Path, places: None) -> None:
    assert ID_A.endswith("X")
    path = write(tmp_path, "residents.csv", RESIDENTS, bom=True)
    result = run(app, "residents", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{path}: 3 rows, 3 added, 0 updated, 0 unchanged"
    a = db.session.scalar(select(Resident).where(Resident.id_number == ID_A))
    assert a is not None  # the lowercase x was stored as X
    assert (a.name, a.sex, a.birth_date) == ("陈大文", "M", dt.date(1975, 6, 1))
    assert (a.insurance_type, a.insured_from, a.insured_to) == (
        "resident",
        dt.date(2016, 1, 1),
        None,
    )
    b = db.session.scalar(select(Resident).where(Resident.id_number == ID_B))
    assert b is not None and b.sex == "F" and b.birth_date == dt.date(1988, 2, 29)
    assert b.insured_to == dt.date(2026, 12, 31)
    c = db.session.scalar(select(Resident).where(Resident.id_number == ID_C))
    assert c is not None and c.insurance_type == "none" and c.insured_from is None
    db.session.rollback()

    again = run(
        app, "residents", write(tmp_path, "again.csv", RESIDENTS.replace(ID_A.lower(), ID_A))
    )
    assert "3 rows, 0 added, 0 updated, 3 unchanged" in again.stdout
    assert counts()["resident"] == 3


def test_residents_update(app: Flask, tmp_path: Path, places: None) -> None:
    run(app, "residents", write(tmp_path, "residents.csv", RESIDENTS))
    changed = RESIDENTS.replace("resident,2016-01-01,", "resident,2016-01-01,2026-10-31").replace(
        "黄志强", "黄志坚"
    )
    result = run(app, "residents", write(tmp_path, "residents.csv", changed))
    assert "3 rows, 0 added, 2 updated, 1 unchanged" in result.stdout
    a = db.session.scalar(select(Resident).where(Resident.id_number == ID_A))
    assert a is not None and a.insured_to == dt.date(2026, 10, 31)
    assert counts()["resident"] == 3


def test_resident_problems_write_nothing(app: Flask, tmp_path: Path, places: None) -> None:
    wrong_check = ID_B[:17] + ("0" if ID_B[17] != "0" else "1")
    impossible = make_id_number("440114", dt.date(1990, 1, 31), 5).replace("19900131", "19900231")
    bad = RESIDENTS + (
        f"{ID_A},陈大文,440114102201,resident,2016-01-01,\n"
        f"{wrong_check},李四,440114102201,resident,2016-01-01,\n"
        f"{impossible},王五,440114102201,resident,2016-01-01,\n"
        f"{make_id_number('440114', dt.date(1990, 1, 1), 7)},赵六,440114999201,rural,,\n"
        f"{make_id_number('440114', dt.date(1990, 1, 1), 9)},钱七,440114102201,employee,,\n"
        f"{make_id_number('440114', dt.date(1990, 1, 1), 11)},孙八,440114102201,none,2016-01-01,\n"
        f"{make_id_number('440114', dt.date(1990, 1, 1), 13)},周九,440114102201,resident,"
        "2016-01-01,2015-01-01\n"
    )
    path = write(tmp_path, "residents.csv", bad)
    result = run(app, "residents", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:5: id_number: ID number repeats line 2",
        f"{path}:6: id_number: not a valid ID number: check digit is wrong",
        f"{path}:7: id_number: not a valid ID number: contains an impossible birth date",
        f"{path}:8: insurance_type: must be one of resident, employee, none, not 'rural'",
        f"{path}:9: insured_from: is required for insurance_type employee",
        f"{path}:10: insured_from: must be empty when insurance_type is none",
        f"{path}:11: insured_to: must not be before 2016-01-01",
    ]
    assert counts()["resident"] == 0


def test_resident_in_unknown_village(app: Flask, tmp_path: Path, places: None) -> None:
    bad = RESIDENTS.replace("440112101201", "440112101299")
    path = write(tmp_path, "residents.csv", bad)
    result = run(app, "residents", path)
    assert errors(result) == [f"{path}:4: hukou_village_code: unknown village 440112101299"]
    assert counts()["resident"] == 0


# --- catalogue -------------------------------------------------------------------


def prices(code: str) -> list[tuple[int, dt.date, dt.date | None]]:
    rows = db.session.execute(
        select(ItemPrice.price, ItemPrice.valid_from, ItemPrice.valid_to)
        .join(CatalogItem)
        .where(CatalogItem.code == code)
        .order_by(ItemPrice.valid_from)
    )
    result = list(rows)
    db.session.rollback()
    return result


def test_catalog_import(app: Flask, tmp_path: Path) -> None:
    path = write(tmp_path, "catalog.csv", CATALOG, bom=True)
    result = run(app, "catalog", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"{path}: 5 rows, 5 added, 0 updated, 0 unchanged (items: 5 added, 0 updated)"
    )
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.code == "Y001"))
    assert item is not None
    assert (item.name, item.kind, item.unit, item.insurance_class, item.pinyin) == (
        "阿莫西林胶囊",
        "drug",
        "粒",
        "A",
        "amxljn",
    )
    db.session.rollback()
    assert prices("Y022") == [(350, dt.date(2016, 1, 1), None)]
    assert prices("F006") == [(500, dt.date(2016, 1, 1), None)]

    again = run(app, "catalog", path)
    assert "5 rows, 0 added, 0 updated, 5 unchanged (items: 0 added, 0 updated)" in again.stdout
    assert counts()["price"] == 5


def test_an_old_catalog_with_kind_diagnosis_still_imports(app: Flask, tmp_path: Path) -> None:
    """Older files call the 一般诊疗费's kind ``diagnosis``: read as consultation."""
    old = CATALOG.replace(",consultation,", ",diagnosis,")
    path = write(tmp_path, "catalog.csv", old)
    result = run(app, "catalog", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"{path}: 5 rows, 5 added, 0 updated, 0 unchanged (items: 5 added, 0 updated; "
        "1 row(s) of kind diagnosis read as consultation "
        "(the 一般诊疗费's kind is now called consultation))"
    )
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.code == "DX001"))
    assert item is not None and item.kind == "consultation"
    db.session.rollback()
    # The same catalogue in the new word is the same catalogue.
    again = run(app, "catalog", write(tmp_path, "new.csv", CATALOG))
    assert "5 rows, 0 added, 0 updated, 5 unchanged" in again.stdout


def test_catalog_price_history(app: Flask, tmp_path: Path) -> None:
    run(app, "catalog", write(tmp_path, "catalog.csv", CATALOG))
    # A new price from 2027: the old period is closed in the same file.
    history = CATALOG.replace(
        "Y001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,\n",
        "Y001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,2026-12-31\n"
        "Y001,阿莫西林胶囊,drug,粒,A,0.38,2027-01-01,\n",
    )
    path = write(tmp_path, "catalog-2027.csv", history)
    result = run(app, "catalog", path)
    assert result.exit_code == 0, result.output
    assert "6 rows, 1 added, 1 updated, 4 unchanged (items: 0 added, 0 updated)" in result.stdout
    assert prices("Y001") == [
        (35, dt.date(2016, 1, 1), dt.date(2026, 12, 31)),
        (38, dt.date(2027, 1, 1), None),
    ]
    # The identical history again: nothing changes.
    again = run(app, "catalog", path)
    assert "6 rows, 0 added, 0 updated, 6 unchanged" in again.stdout
    # The original file, still listing only the first period: its row is now a
    # change (it reopens the period), which would overlap 2027 → refused.
    back = run(app, "catalog", write(tmp_path, "catalog.csv", CATALOG))
    assert back.exit_code == 1
    assert counts()["price"] == 6


def test_catalog_item_update(app: Flask, tmp_path: Path) -> None:
    run(app, "catalog", write(tmp_path, "catalog.csv", CATALOG))
    changed = CATALOG.replace("复方甘草片,drug,瓶,B,3.5", "复方甘草片（100片）,drug,瓶,B,3.80")
    result = run(app, "catalog", write(tmp_path, "catalog.csv", changed))
    assert "5 rows, 0 added, 1 updated, 4 unchanged (items: 0 added, 1 updated)" in result.stdout
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.code == "Y022"))
    assert item is not None and item.pinyin == "ffgcp100p"
    db.session.rollback()
    assert prices("Y022") == [(380, dt.date(2016, 1, 1), None)]


NATIONAL_HEADER = CATALOG_HEADER.strip() + ",national_code,fee_class,selfpay_ratio,price_ceiling\n"
NATIONAL = NATIONAL_HEADER + (
    "DX001,一般诊疗费,consultation,次,A,10.00,2016-01-01,,001102000010000,12,,\n"
    "Y001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,2025-12-31,XJ01CAA040A001010100483,09,,0.30\n"
    "Y001,阿莫西林胶囊,drug,粒,A,0.38,2026-01-01,,XJ01CAA040A001010100483,09,,0.32\n"
    "Y022,复方甘草片,drug,瓶,B,3.5,2016-01-01,,XR05DAF088A001010100216,09,0.05,\n"
)


def national(code: str) -> list[tuple[Any, ...]]:
    rows = db.session.execute(
        select(
            ItemPrice.valid_from,
            ItemPrice.national_code,
            ItemPrice.fee_class,
            ItemPrice.selfpay_ratio,
            ItemPrice.price_ceiling,
        )
        .join(CatalogItem)
        .where(CatalogItem.code == code)
        .order_by(ItemPrice.valid_from)
    )
    result = [tuple(row) for row in rows]
    db.session.rollback()
    return result


def test_catalog_national_fields_per_price_row(app: Flask, tmp_path: Path) -> None:
    result = run(app, "catalog", write(tmp_path, "catalog.csv", NATIONAL))
    assert result.exit_code == 0, result.output
    y2016, y2026 = dt.date(2016, 1, 1), dt.date(2026, 1, 1)
    assert national("Y001") == [
        (y2016, "XJ01CAA040A001010100483", "09", None, 30),
        (y2026, "XJ01CAA040A001010100483", "09", None, 32),
    ]
    assert national("Y022") == [(y2016, "XR05DAF088A001010100216", "09", 500, None)]
    assert national("DX001") == [(y2016, "001102000010000", "12", None, None)]
    again = run(app, "catalog", write(tmp_path, "catalog.csv", NATIONAL))
    assert "4 rows, 0 added, 0 updated, 4 unchanged" in again.stdout
    # A file without the columns changes none of them.
    without = "".join(",".join(line.split(",")[:8]) + "\n" for line in NATIONAL.splitlines())
    plain = run(app, "catalog", write(tmp_path, "plain.csv", without))
    assert plain.exit_code == 0, plain.output
    assert national("Y022") == [(y2016, "XR05DAF088A001010100216", "09", 500, None)]
    # A changed ratio updates its price row; an empty cell clears it.
    changed = NATIONAL.replace(",09,0.05,", ",09,,0.40")
    result = run(app, "catalog", write(tmp_path, "changed.csv", changed))
    assert "4 rows, 0 added, 1 updated, 3 unchanged" in result.stdout
    assert national("Y022") == [(y2016, "XR05DAF088A001010100216", "09", None, 40)]


def test_catalog_national_field_problems(app: Flask, tmp_path: Path) -> None:
    bad = NATIONAL_HEADER + (
        "Y001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,,XJ 01,9,1.5,-0.30\n"
        "Y002,头孢氨苄胶囊,drug,粒,A,0.18,2016-01-01,,,07,0.12345,0.001\n"
    )
    path = write(tmp_path, "catalog.csv", bad)
    result = run(app, "catalog", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:2: national_code: must be a national catalogue code, not 'XJ 01'",
        f"{path}:2: fee_class: must be one of 02, 05, 08, 09, 10, 11, 12, 13, 14, not '9'",
        f"{path}:2: selfpay_ratio: ratio must be between 0 and 1: '1.5'",
        f"{path}:2: price_ceiling: amount must not be negative: '-0.30'",
        f"{path}:3: fee_class: must be one of 02, 05, 08, 09, 10, 11, 12, 13, 14, not '07'",
        f"{path}:3: selfpay_ratio: ratio has more than 4 decimals: '0.12345'",
        f"{path}:3: price_ceiling: amount has more than two decimals: '0.001'",
    ]
    assert counts()["price"] == 0


def test_catalog_new_period_overlapping_the_catalogue(app: Flask, tmp_path: Path) -> None:
    run(app, "catalog", write(tmp_path, "catalog.csv", CATALOG))
    before = counts()
    path = write(
        tmp_path,
        "new-price.csv",
        CATALOG_HEADER + "Y001,阿莫西林胶囊,drug,粒,A,0.38,2027-01-01,\n",
    )
    result = run(app, "catalog", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:2: valid_from: price period 2027-01-01..open of item Y001 overlaps "
        "2016-01-01..open (already in the catalogue); close the earlier period with valid_to"
    ]
    assert counts() == before


def test_catalog_problems_write_nothing(app: Flask, tmp_path: Path) -> None:
    bad = CATALOG_HEADER + (
        "DX001,一般诊疗费,consultation,次,A,10.00,2016-01-01,\n"
        "Y001,阿莫西林胶囊,pill,粒,D,0.355,,\n"
        "Y002,头孢氨苄胶囊,drug,粒,A,-0.18,2016-01-01,2015-12-31\n"
        "Y003,头孢拉定胶囊,drug,,A,0.25,2016-01-01,\n"
        "Y004,罗红霉素胶囊,drug,粒,A,0.30,2016-01-01,\n"
        "Y004,罗红霉素胶囊,drug,粒,A,0.32,2020-01-01,\n"
        "Y005,甲硝唑片,drug,片,A,0.05,2016-01-01,\n"
        "Y005,甲硝唑片,drug,片,A,0.06,2016-01-01,\n"
    )
    path = write(tmp_path, "catalog.csv", bad)
    result = run(app, "catalog", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:3: kind: must be one of consultation, drug, service, material, not 'pill'",
        f"{path}:3: insurance_class: must be one of A, B, C, not 'D'",
        f"{path}:3: price: amount has more than two decimals: '0.355'",
        f"{path}:3: valid_from: is required (a date like 2026-01-31)",
        f"{path}:4: price: amount must not be negative: '-0.18'",
        f"{path}:4: valid_to: must not be before 2016-01-01",
        f"{path}:5: unit: is required",
        f"{path}:7: valid_from: price period 2020-01-01..open of item Y004 overlaps "
        "2016-01-01..open (line 6); close the earlier period with valid_to",
        f"{path}:9: valid_from: price period of the item repeats line 8",
    ]
    assert counts() == dict.fromkeys(MODELS, 0)


def test_import_operation_raises_with_every_problem(app: Flask, tmp_path: Path) -> None:
    path = write(tmp_path, "villages.csv", VILLAGES_HEADER + "1,2,3,4,5,6,7\n")
    with pytest.raises(ImportRejected) as err:
        import_file("villages", path, source="villages.csv")
    assert err.value.lines()[0].startswith("villages.csv:2: code: ")
    assert err.value.status == 422
    assert counts()["village"] == 0


def test_residents_bulk(app: Flask, tmp_path: Path, places: None) -> None:
    """A few thousand rows, in one unit of work, and a second pass that only compares."""
    lines = [RESIDENTS_HEADER]
    for n in range(3000):
        number = make_id_number("440114", dt.date(1950, 1, 1) + dt.timedelta(days=n), n % 1000)
        lines.append(f"{number},居民{n},440114102201,resident,2016-01-01,\n")
    path = write(tmp_path, "many.csv", "".join(lines))
    assert "3000 added" in run(app, "residents", path).stdout
    assert "3000 unchanged" in run(app, "residents", path).stdout
    assert counts()["resident"] == 3000


def test_clinics_with_bom_and_columns_in_another_order(
    app: Flask, tmp_path: Path, places: None
) -> None:
    reordered = "left_on,joined_on,insurance_code,village_code,name,code\n" + (
        ",2016-01-01,H44011400301,440114102201,大涡村卫生站,HD0301\n"
    )
    result = run(app, "clinics", write(tmp_path, "clinics.csv", reordered, bom=True))
    assert result.exit_code == 0, result.output
    clinic = db.session.scalar(select(Clinic).where(Clinic.code == "HD0301"))
    assert clinic is not None and clinic.joined_on == dt.date(2016, 1, 1)
    assert clinic.insurance_code == "H44011400301" and clinic.left_on is None
    db.session.rollback()


def test_a_bad_money_cell_writes_nothing(app: Flask, tmp_path: Path) -> None:
    bad = CATALOG.replace("Y022,复方甘草片,drug,瓶,B,3.5,", 'Y022,复方甘草片,drug,瓶,B,"3,50",')
    path = write(tmp_path, "catalog.csv", bad)
    result = run(app, "catalog", path)
    assert result.exit_code == 1
    assert errors(result) == [f"{path}:4: price: amount is not a number: '3,50'"]
    assert counts() == dict.fromkeys(MODELS, 0)


# --- residents at scale: streamed in batches, one transaction ---------------------


def many_residents(rows: int) -> list[str]:
    """``rows`` valid resident lines (no header), each with its own number."""
    return [
        f"{make_id_number('440114', dt.date(1950, 1, 1) + dt.timedelta(days=n // 1000), n % 1000)},"
        f"居民{n},440114102201,resident,2016-01-01,\n"
        for n in range(rows)
    ]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> int:
    """Batches of 500 rows: a few thousand rows cross many batch boundaries."""
    monkeypatch.setattr("app.imports.operations.BATCH", 500)
    return 500


def test_residents_stream_a_bad_last_row_writes_nothing(
    app: Flask, tmp_path: Path, places: None, small_batches: int
) -> None:
    rows = many_residents(3000)
    rows[-1] = rows[-1].replace(",resident,", ",rural,")
    path = write(tmp_path, "many.csv", RESIDENTS_HEADER + "".join(rows))
    result = run(app, "residents", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"{path}:3001: insurance_type: must be one of resident, employee, none, not 'rural'"
    ]
    # Five batches had gone to the database before line 3001 was read: rolled back.
    assert counts()["resident"] == 0


def test_residents_stream_reimport_and_update(
    app: Flask, tmp_path: Path, places: None, small_batches: int
) -> None:
    rows = many_residents(3000)
    path = write(tmp_path, "many.csv", RESIDENTS_HEADER + "".join(rows))
    assert "3000 rows, 3000 added, 0 updated, 0 unchanged" in run(app, "residents", path).stdout
    assert "3000 rows, 0 added, 0 updated, 3000 unchanged" in run(app, "residents", path).stdout
    rows[2500] = rows[2500].replace("居民2500", "居民二千五")
    rows[10] = rows[10].replace("resident,2016-01-01,", "resident,2016-01-01,2026-12-31")
    changed = write(tmp_path, "changed.csv", RESIDENTS_HEADER + "".join(rows))
    result = run(app, "residents", changed)
    assert "3000 rows, 0 added, 2 updated, 2998 unchanged" in result.stdout
    number = rows[2500].split(",")[0]
    resident = db.session.scalar(select(Resident).where(Resident.id_number == number))
    assert resident is not None and resident.name == "居民二千五"
    assert counts()["resident"] == 3000


def test_residents_stream_repeats_name_both_lines(
    app: Flask, tmp_path: Path, places: None, small_batches: int
) -> None:
    rows = many_residents(3000)
    rows[2700] = rows[3].replace("居民3", "另一人")  # line 2702 repeats line 5, batches apart
    rows[6] = rows[5].lower()  # line 8 repeats line 7 in one batch (x and X are one number)
    rows[2999] = rows[3]  # a third occurrence names the first
    path = write(tmp_path, "many.csv", RESIDENTS_HEADER + "".join(rows))
    result = run(app, "residents", path)
    assert errors(result) == [
        f"{path}:8: id_number: ID number repeats line 7",
        f"{path}:2702: id_number: ID number repeats line 5",
        f"{path}:3001: id_number: ID number repeats line 5",
    ]
    assert counts()["resident"] == 0


def test_residents_stream_stops_listing_after_the_limit(
    app: Flask, tmp_path: Path, places: None, small_batches: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.imports.operations.PROBLEM_LIMIT", 3)
    rows = many_residents(3000)
    for n in (100, 200, 300, 400, 2000):
        rows[n] = rows[n].replace("440114102201", "440114999999")
    path = write(tmp_path, "many.csv", RESIDENTS_HEADER + "".join(rows))
    assert errors(run(app, "residents", path)) == [
        f"{path}:102: hukou_village_code: unknown village 440114999999",
        f"{path}:202: hukou_village_code: unknown village 440114999999",
        f"{path}:302: hukou_village_code: unknown village 440114999999",
        f"{path}:501: file: stopped reading after 3 problems; fix these and import again",
    ]
    assert counts()["resident"] == 0


def test_import_audit_names_the_streamed_file(
    app: Flask, tmp_path: Path, places: None, small_batches: int
) -> None:
    path = write(tmp_path, "many.csv", RESIDENTS_HEADER + "".join(many_residents(1200)))
    assert run(app, "residents", path).exit_code == 0
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "import").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.after is not None
    after = json.loads(entry.after)
    data = path.read_bytes()
    assert after["sha256"] == hashlib.sha256(data).hexdigest() and after["bytes"] == len(data)
    assert after["rows"] == after["added"] == 1200
    db.session.rollback()
