"""Exports streamed (issue 9 §3): the same bytes as before, sent chunk by chunk.

The statement and summary CSVs are sent as chunks and equal, byte for byte,
the files written in one go; the month's visit detail (one line per visit)
reads the visits through a server-side cursor a batch at a time, and its
totals line is the statement's (or the summary's) figures to the fen.
Flat memory at district and city scale is measured by ``bench/exports.py``
(docs/benchmarks.md), not here: tests never time or weigh anything.
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.extensions import db
from app.places.models import Clinic
from app.settlement import exports
from app.settlement.figures import FIGURE_FIELDS
from app.settlement.labels import document_locale, figure_labels, status_label
from app.settlement.queries import clinic_visit_detail, visit_detail_rows
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_settlement import SEPT, advance, record, september, summary, world
from tests.integration.test_settlement_pages import login

__all__ = ["september", "world"]  # fixtures shared with test_settlement

STATEMENT = f"/api/v1/statements/HD001/{SEPT}"
SUMMARY = f"/api/v1/districts/440114/summaries/{SEPT}"


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _chunks(app: Flask, url: str, headers: dict[str, str]) -> tuple[Any, list[bytes]]:
    """The view's own response (not the test client's wrapper) and the chunks it sends."""
    with app.test_request_context(url, headers=headers):
        response = app.full_dispatch_request()
        return response, list(response.response)


def test_csv_chunks_join_to_the_file_written_at_once() -> None:
    rows: list[list[Any]] = [["名称", "金额"], ["=HYPERLINK(1)", "-1.50"], ["a,b", 'x"y'], []]
    rows += [[f"R{i}", i] for i in range(7)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [["'=HYPERLINK(1)" if v == "=HYPERLINK(1)" else v for v in row] for row in rows]
    )
    whole = ("\ufeff" + out.getvalue()).encode("utf-8")
    for size in (1, 2, 3, 100):
        chunks = list(exports.csv_chunks(rows, size))
        assert b"".join(chunks) == whole
        assert len(chunks) == len(rows) // size + 1


def test_statement_and_summary_csv_are_streamed_unchanged(
    app: Flask,
    client: FlaskClient,
    world: World,
    september: list[Visit],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    advance(client, world, "submitted")
    headers = world.auth("finance")
    whole = {
        url: client.get(url, headers=headers).data for url in (f"{STATEMENT}.csv", f"{SUMMARY}.csv")
    }
    # The summary as it was written before it was streamed, to the byte.
    with document_locale():
        labels = ",".join(figure_labels().values())
        submitted, still_open = status_label("submitted"), status_label("open")
    expected = (
        f"\ufeff卫生站编码,卫生站,镇（街）,状态,{labels},医保对账调整,审核核减,应付兜底,已拨付,拨付日期,拨付凭证号\r\n"
        f"HD001,大涡村卫生站,炭步镇,{submitted},4,2,3,83.93,64.73,36.45,11.10,2.00,2.00,"
        "17.18,15.20,36.38,0.00,0.00,11.10,,,\r\n"
        f"HD002,瑞岭村卫生站,赤坭镇,{still_open},1,1,1,24.70,17.70,12.15,5.55,1.00,1.00,"
        "0.00,5.00,7.00,0.00,0.00,5.55,,,\r\n"
        "合计,,,,5,3,4,108.63,82.43,48.60,16.65,3.00,3.00,17.18,20.20,43.38,0.00,0.00,16.65,0.00,,\r\n"
        "未拨付,,,,,,,,,,,,,,,,,,16.65,,,\r\n"
    ).encode()
    assert whole[f"{SUMMARY}.csv"] == expected
    # Sent two rows at a time, the files are the same bytes, in many chunks.
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    for url, body in whole.items():
        response, chunks = _chunks(app, url, headers)
        assert response.is_streamed and "Content-Length" not in response.headers
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        assert len(chunks) > 2 and b"".join(chunks) == body
    # Compressed for a client that accepts it, still chunk by chunk (Flask-Compress
    # streams with deflate, brotli or zstd, never gzip).
    url = f"{SUMMARY}.csv"
    response, chunks = _chunks(app, url, {**headers, "Accept-Encoding": "gzip, deflate"})
    assert response.is_streamed and response.headers["Content-Encoding"] == "deflate"
    assert zlib.decompress(b"".join(chunks)) == whole[url]
    # The workbook is not streamed: it is a zip written whole.
    response, _ = _chunks(app, f"{STATEMENT}.xlsx", headers)
    assert not response.is_streamed


def _totals(rows: list[list[str]]) -> dict[str, str]:
    assert rows[-1][0] == "合计"
    return dict(zip(FIGURE_FIELDS, rows[-1][-len(FIGURE_FIELDS) :], strict=True))


def test_visit_detail_lists_the_visits_the_statement_sums(
    app: Flask, client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    headers = world.auth("reviewer")
    response = client.get(f"{STATEMENT}/visits.csv", headers=headers)
    assert response.status_code == 200
    assert 'filename="HD001-2026-09-visits.csv"' in response.headers["Content-Disposition"]
    rows = _rows(response.data)
    with document_locale():
        assert rows[0] == [*exports.VISIT_HEADER, *figure_labels().values()]
    lines = rows[1:-1]
    # The voided visit (the fifth) is not listed: the statement does not count it.
    assert [r[0] for r in lines] == [v.receipt_number for v in september[:4]]
    assert [(r[3], r[4]) for r in lines] == [
        ("2026-09-10", "10:00"),
        ("2026-09-10", "10:00"),
        ("2026-09-21", "09:30"),
        ("2026-09-21", "11:00"),
    ]
    for line, visit in zip(lines, september, strict=False):
        assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", line[5])
        assert line[5][-4:] == visit.patient_id_number[-4:]
    statement = client.get(STATEMENT, headers=headers).get_json()["figures"]
    assert _totals(rows) == {k: str(v) for k, v in statement.items()}
    # Each line is what one visit adds; the lines add up to the totals.
    assert [r[6] for r in lines] == ["", "", "", ""]  # the diagnoses: none recorded here
    first = dict(zip(FIGURE_FIELDS, lines[0][7:], strict=True))
    assert (first["visits"], first["programme_visits"], first["injections"]) == ("1", "1", "1")
    assert first["total"] == "24.70" and first["fiscal"] == "5.55"
    assert sum(int(r[7]) for r in lines) == int(statement["visits"])
    # Submitted (frozen), the detail still equals the statement.
    frozen = advance(client, world, "submitted")["figures"]
    frozen_rows = _rows(client.get(f"{STATEMENT}/visits.csv", headers=headers).data)
    assert frozen_rows == rows and _totals(frozen_rows) == {k: str(v) for k, v in frozen.items()}

    # A batch of two rows at a time reads the same visits (several fetches of the cursor).
    with app.test_request_context():
        detail = clinic_visit_detail("HD001", SEPT, None)
        assert [r.receipt_number for r in visit_detail_rows(detail, batch=2)] == [
            r.receipt_number for r in visit_detail_rows(detail)
        ]


def test_district_visit_detail_is_the_summarys_visits_in_scope(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    response = client.get(f"{SUMMARY}/visits.csv", headers=world.auth("finance"))
    assert response.status_code == 200
    assert 'filename="440114-2026-09-visits.csv"' in response.headers["Content-Disposition"]
    rows = _rows(response.data)
    assert [r[1] for r in rows[1:-1]] == ["HD001"] * 4 + ["HD002"]
    totals = summary(client, world)["totals"]
    assert _totals(rows) == {k: str(totals[k]) for k in FIGURE_FIELDS}
    # A town reviewer's detail is his town's visits, named after the town.
    town = client.get(f"{SUMMARY}/visits.csv", headers=world.auth("town_reviewer"))
    town_rows = _rows(town.data)
    assert [r[1] for r in town_rows[1:-1]] == ["HD002"]
    assert "-2026-09-visits.csv" in town.headers["Content-Disposition"]
    assert "440114-2026-09" not in town.headers["Content-Disposition"]
    # Out of scope: another clinic's doctor, a doctor asking for the district.
    assert client.get(f"{STATEMENT}/visits.csv", headers=world.auth("doctor2")).status_code == 403
    assert client.get(f"{SUMMARY}/visits.csv", headers=world.auth("doctor")).status_code == 403


def test_visit_detail_cells_cannot_run_as_formulas(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    db.session.execute(update(Clinic).where(Clinic.code == "HD001").values(name="=HYPERLINK(1)"))
    db.session.commit()
    rows = _rows(client.get(f"{STATEMENT}/visits.csv", headers=world.auth("finance")).data)
    assert {r[2] for r in rows[1:-1]} == {"'=HYPERLINK(1)"}


def test_the_pages_link_the_visit_detail(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    login(client, "finance")
    page = client.get(f"/finance?month={SEPT}").get_data(as_text=True)
    assert f"/finance/{SEPT}/visits.csv" in page and "逐笔明细" in page
    rows = _rows(client.get(f"/finance/{SEPT}/visits.csv").data)
    assert len(rows) == 1 + 4 + 1
    page = client.get(f"/statements/HD001/{SEPT}").get_data(as_text=True)
    assert f"/statements/HD001/{SEPT}/visits.csv" in page
    response = client.get(f"/statements/HD001/{SEPT}/visits.csv")
    assert response.status_code == 200 and _rows(response.data)[-1][0] == "合计"
    assert client.get("/finance/2026-13/visits.csv").status_code in (400, 404, 422)
