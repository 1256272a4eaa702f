"""The PDF renderers: real documents rendered and read back with poppler.

Each test builds a realistic document (a full month of days, ~80 catalogue
items, a district of 40 clinics), renders it, and checks what a reader of the
printout would see: ``pdftotext`` finds the headings, names and every total,
``pdffonts`` shows the CJK font embedded.  Page 1 of every PDF is also
rasterised into ``test-artifacts/reports/`` for a human to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.glossary import zh
from app.money import format_yuan as yuan
from app.settlement.rules import FIGURE_FIELDS
from reports import fonts, render_district_summary, render_receipt, render_statement
from reports.data import (
    DayRow,
    DistrictSummaryDocument,
    Figures,
    HistoryRow,
    ItemRow,
    ReceiptDocument,
    ReceiptLine,
    StatementDocument,
    SummaryRow,
    SummaryTotals,
)
from reports.fonts import (
    EMBEDDED_FONT_NAME,
    FALLBACK_FONT_NAME,
    cjk_font_name,
    font_candidates,
    font_is_embedded,
    load_cjk_font,
    packaged_font_path,
    registered_font,
)
from reports.statement import StatementMismatch
from reports.summary import SummaryMismatch, axis_step

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "reports"

TOWNS = ("花东镇", "花山镇", "炭步镇", "赤坭镇", "梯面镇", "狮岭镇")
VILLAGES = ("两龙", "洛场", "平西", "东华", "七星", "大塘", "朗头", "石岗", "瑞岭", "联民")
DRUGS = (
    ("阿莫西林胶囊", "盒"),
    ("复方甘草片", "瓶"),
    ("布洛芬缓释胶囊", "盒"),
    ("氨咖黄敏胶囊", "盒"),
    ("板蓝根颗粒", "袋"),
    ("葡萄糖注射液（5%，250ml）", "瓶"),
    ("氯化钠注射液（0.9%，100ml）", "瓶"),
    ("头孢氨苄胶囊", "盒"),
    ("维生素B1片", "瓶"),
    ("硝苯地平缓释片", "盒"),
    ("二甲双胍片", "盒"),
    ("一般诊疗费", "次"),
    ("肌肉注射", "次"),
    ("静脉输液", "次"),
    ("清创缝合（小）", "次"),
    ("测血糖", "次"),
)


# -- documents --------------------------------------------------------------

# The labels arrive as plain data (the app reads them from app.settlement.labels,
# which names every figure by the glossary).
LABELS = {name: zh(name) for name in FIGURE_FIELDS}


def day_figures(day: int) -> Figures:
    visits = 20 + (day * 7) % 23
    programme = visits - day % 4
    injections = day % 6
    registration = programme * 100  # the one yuan the programme patient pays
    injection = injections * 100
    copay = (day % 3) * 250
    self_pay = (day % 5) * 1_230
    patient = registration + injection + copay + self_pay
    fund = programme * 1_150 + day * 37
    fiscal = programme * 420 + (day * 53) % 900
    total = fund + fiscal + patient
    return Figures(
        visits=visits,
        programme_visits=programme,
        injections=injections,
        total=total,
        in_scope=total - self_pay,
        fund=fund,
        fiscal=fiscal,
        registration=registration,
        injection=injection,
        copay=copay,
        self_pay=self_pay,
        patient=patient,
    )


def add_figures(rows: list[Figures]) -> Figures:
    return Figures(**{f.name: sum(getattr(r, f.name) for r in rows) for f in fields(Figures)})


def make_statement(
    status: str = "submitted",
    status_label: str = "已提交",
    clinic_name: str = "花山镇两龙村卫生站",
    days: int = 31,
    items: int = 80,
) -> StatementDocument:
    day_rows = tuple(DayRow(f"2026-10-{d:02d}", day_figures(d)) for d in range(1, days + 1))
    item_rows = tuple(
        ItemRow(
            code=f"XM{n:05d}",
            name=f"{DRUGS[n % len(DRUGS)][0]}" + ("（规格二）" if n >= len(DRUGS) else ""),
            unit=DRUGS[n % len(DRUGS)][1],
            quantity=str(1 + n % 17) if n % 5 else f"{n % 7}.5",
            amount=1_999 + n * 311,
        )
        for n in range(items)
    )
    history = (
        HistoryRow("提交", "李医生", "2026-11-01 09:12"),
        HistoryRow(
            "退回", "镇卫生院 王审核", "2026-11-02 15:40", "10月12日一笔注射费重复登记，请核对"
        ),
        HistoryRow("提交", "李医生", "2026-11-03 10:05"),
    )
    return StatementDocument(
        district_code="440114",
        district_name="花都区",
        town_name="花山镇",
        clinic_code="440114-HS-017",
        clinic_name=clinic_name,
        month="2026-10",
        status=status,
        status_label=status_label,
        generated_at="2026-11-05 16:20",
        figures=add_figures([d.figures for d in day_rows]),
        figure_labels=LABELS,
        days=day_rows,
        items=item_rows,
        history=history,
    )


def make_summary(clinics: int = 40) -> DistrictSummaryDocument:
    statuses = (
        ("paid", "已拨付"),
        ("reviewed", "已审核"),
        ("submitted", "已提交"),
        ("open", "未提交"),
    )
    rows = []
    for n in range(clinics):
        status, label = statuses[n % len(statuses)]
        fiscal = 180_000 + (n * 7_919) % 260_000
        paid = fiscal if status == "paid" else None
        rows.append(
            SummaryRow(
                clinic_code=f"440114-{n:03d}",
                clinic_name=f"{TOWNS[n % len(TOWNS)][:2]}{VILLAGES[n % len(VILLAGES)]}村卫生站",
                town_name=TOWNS[n % len(TOWNS)],
                status=status,
                status_label=label,
                visits=300 + n * 11,
                programme_visits=280 + n * 10,
                total=fiscal * 4 + n,
                fund=fiscal * 2 + n,
                fiscal=fiscal,
                paid=paid,
                paid_on="2026-11-20" if paid is not None else "",
                reference=f"HDCZ-2026-{n:04d}" if paid is not None else "",
            )
        )
    paid_total = sum(r.paid for r in rows if r.paid is not None)
    fiscal_total = sum(r.fiscal for r in rows)
    totals = SummaryTotals(
        visits=sum(r.visits for r in rows),
        programme_visits=sum(r.programme_visits for r in rows),
        total=sum(r.total for r in rows),
        fund=sum(r.fund for r in rows),
        fiscal=fiscal_total,
        paid=paid_total,
        outstanding=fiscal_total - paid_total,
    )
    return DistrictSummaryDocument(
        district_code="440114",
        district_name="花都区",
        month="2026-10",
        generated_at="2026-11-21 09:30",
        figure_labels=LABELS,
        rows=tuple(rows),
        totals=totals,
    )


def make_receipt(programme: bool = True, voided: bool = False) -> ReceiptDocument:
    lines = (
        ReceiptLine("一般诊疗费", "次", "A", "1", 1_000, 1_000),
        ReceiptLine("阿莫西林胶囊", "盒", "A", "2", 1_250, 2_500),
        ReceiptLine("复方甘草片", "瓶", "A", "1", 380, 380),
        ReceiptLine("肌肉注射", "次", "B", "1", 500, 500),
        ReceiptLine("板蓝根颗粒", "袋", "B", "1.5", 820, 1_230),
        ReceiptLine("清创缝合（小）", "次", "C", "1", 3_000, 3_000),
    )
    lines_total = sum(line.amount for line in lines)
    if programme:
        # As a recorded visit: total = lines + fees = patient + fund + fiscal.
        registration, injection_fee, copay, self_pay = 100, 100, 0, 3_000
        total = lines_total + registration + injection_fee
        patient = registration + injection_fee + copay + self_pay
        fund = 4_210
        fiscal = total - fund - patient
    else:
        registration, injection_fee, copay, self_pay = 0, 0, 0, lines_total
        total = lines_total
        patient, fund, fiscal = total, 0, 0
    return ReceiptDocument(
        receipt_number="HS017-20261012-0042",
        clinic_code="440114-HS-017",
        clinic_name="花山镇两龙村卫生站",
        visited_at="2026-10-12 09:41",
        patient_name="张*明",
        patient_id_number="4401**********1234",
        programme=programme,
        injection=True,
        lines=lines,
        total=total,
        fund=fund,
        fiscal=fiscal,
        registration=registration,
        injection_fee=injection_fee,
        copay=copay,
        self_pay=self_pay,
        patient=patient,
        voided=voided,
        eligibility_notes=("本村常住参保居民，符合“一元钱看病”条件。",) if programme else (),
    )


# -- poppler helpers --------------------------------------------------------


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (apt-get install poppler-utils; CI installs it)")
    return path


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        [need("pdftotext"), "-layout", str(source), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def pdf_pages(pdf: bytes, tmp_path: Path) -> int:
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    info = subprocess.run(
        [need("pdfinfo"), str(source)], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert match, info
    return int(match.group(1))


def pdf_fonts(pdf: bytes, tmp_path: Path) -> list[tuple[str, str]]:
    """(name, emb) of every font in the PDF."""
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    out = subprocess.run(
        [need("pdffonts"), str(source)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    # The header's dashes give the column boundaries; names have no spaces.
    rule = out[1]
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    emb_column = 3  # name, type, encoding, emb, sub, uni, object ID
    fonts = []
    for line in out[2:]:
        name = line.split()[0]
        emb = line[starts[emb_column] : starts[emb_column + 1]].strip()
        fonts.append((name, emb))
    return fonts


def save_png(pdf: bytes, name: str, tmp_path: Path) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    prefix = ARTIFACTS / name
    paths = (str(source), str(prefix))
    subprocess.run(
        [need("pdftoppm"), "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", *paths],
        check=True,
    )
    return prefix.with_suffix(".png")


def compact(layout_text: str) -> str:
    """pdftotext -layout pads with spaces; compare Chinese text without them."""
    return re.sub(r"\s+", "", layout_text)


def assert_page_numbers(text: str, pages: int) -> None:
    """Footer "第 x 页 共 y 页" (pdftotext drops the spaces between CJK and digits)."""
    assert pages >= 1
    for page in (1, pages):
        assert re.search(rf"第\s*{page}\s*页\s*共\s*{pages}\s*页", text), (page, pages)


def big_words(pdf: bytes, tmp_path: Path, min_height: float = 60) -> list[str]:
    """Per page, the text of glyphs taller than ``min_height`` pt (watermarks).

    pdftotext splits diagonal text into single glyphs, so a rotated "草稿"
    cannot be found as a word; its glyph boxes can.
    """
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    xhtml = subprocess.run(
        [need("pdftotext"), "-bbox", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = []
    for page in xhtml.split("<page ")[1:]:
        big = ""
        for y_min, y_max, word in re.findall(
            r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', page
        ):
            if Decimal(y_max) - Decimal(y_min) > min_height:
                big += word
        pages.append(big)
    return pages


def assert_font_embedded(pdf: bytes, tmp_path: Path) -> None:
    if not font_is_embedded():
        pytest.skip("WenQuanYi Micro Hei not installed (apt-get install fonts-wqy-microhei)")
    fonts = pdf_fonts(pdf, tmp_path)
    assert any(EMBEDDED_FONT_NAME in name for name, _ in fonts), fonts
    # Every font, not only the CJK one: a stray Helvetica would be unembedded.
    assert all(emb == "yes" for _, emb in fonts), fonts


# -- money formatting -------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (-5, "-0.05"),
        (100, "1.00"),
        (1234, "12.34"),
        (-1234, "-12.34"),
        (123_456_789, "1234567.89"),
    ],
)
def test_yuan_examples(fen: int, text: str) -> None:
    assert yuan(fen) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_yuan_is_exact(fen: int) -> None:
    text = yuan(fen)
    assert re.fullmatch(r"-?\d+\.\d\d", text)
    assert Decimal(text) * 100 == fen


@pytest.mark.parametrize("bad", [1.5, True, Decimal("1"), "100"])
def test_yuan_refuses_anything_but_int_fen(bad: object) -> None:
    with pytest.raises(TypeError):
        yuan(bad)  # type: ignore[arg-type]


# -- fonts ------------------------------------------------------------------


def test_font_is_registered_once_across_threads() -> None:
    seen = []

    def grab() -> None:
        seen.append(registered_font())

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(font is seen[0] for font in seen)
    assert cjk_font_name() == seen[0].name


def test_font_path_from_environment_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTS_FONT_PATH", "/opt/fonts/custom.ttc")
    assert font_candidates()[0] == "/opt/fonts/custom.ttc"


def test_missing_font_falls_back_to_cid_font_with_a_warning(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level("WARNING", logger="reports.fonts"):
        font = load_cjk_font([str(tmp_path / "missing.ttc")])
    assert font.name == FALLBACK_FONT_NAME
    assert not font.embedded
    assert "NOT embed" in caplog.text


def test_a_fresh_machine_embeds_the_packaged_font(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No system font anywhere: the font package (a dependency) still gives an
    # embedded WenQuanYi Micro Hei, never the unembedded CID fallback.
    monkeypatch.setattr(fonts, "DEFAULT_FONT_PATHS", (str(tmp_path / "none.ttc"),))
    monkeypatch.delenv("REPORTS_FONT_PATH", raising=False)
    candidates = font_candidates()
    assert candidates[-1] == packaged_font_path()
    font = load_cjk_font(candidates)
    assert font.embedded and font.name == EMBEDDED_FONT_NAME
    assert font.path == packaged_font_path()


def test_wenquanyi_is_used_when_installed() -> None:
    if not any(Path(p).is_file() for p in font_candidates()):
        pytest.skip("WenQuanYi Micro Hei not installed (apt-get install fonts-wqy-microhei)")
    assert cjk_font_name() == EMBEDDED_FONT_NAME
    assert font_is_embedded()


def test_reports_import_neither_flask_nor_sqlalchemy() -> None:
    # The app modules reports may load are the pure ones: money, the glossary, the
    # figures' declaration (app.ledger) and what those import.
    code = (
        "import sys, reports\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy')]\n"
        "pure = {'app', 'app.money', 'app.errors', 'app.localtime', 'app.glossary',\n"
        "        'app.ledger'}\n"
        "bad += [m for m in sys.modules if m.split('.')[0] == 'app' and m not in pure]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- statement --------------------------------------------------------------


def test_statement_prints_headings_figures_and_page_numbers(tmp_path: Path) -> None:
    doc = make_statement()
    pdf = render_statement(doc)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    pages = pdf_pages(pdf, tmp_path)
    assert pages >= 3, "31 days and 80 items should span several pages"
    assert_page_numbers(text, pages)

    assert "花都区农村“一元钱看病”村卫生站月度结算单" in flat
    for heading in (
        "花山镇两龙村卫生站",
        "440114-HS-017",
        "2026-10",
        "已提交",
        "2026-11-0516:20",
        "结算汇总",
        "逐日明细",
        "诊疗项目明细",
        "状态记录",
        *LABELS.values(),
        "医疗总费用（元）",  # money labels carry their unit
        "区财政兜底（元）",
        "制表人：",
        "审核人：",
        "财政局审核：",
        "日期：",
        "合计",
    ):
        assert heading in flat, heading
    f = doc.figures
    for money in (
        f.total,
        f.in_scope,
        f.fund,
        f.fiscal,
        f.registration,
        f.injection,
        f.copay,
        f.self_pay,
        f.patient,
    ):
        assert yuan(money) in text
    assert yuan(sum(i.amount for i in doc.items)) in text
    for item in doc.items:  # no row lost at a page break
        assert item.code in text
    for day in doc.days:
        assert day.date in text
    assert "10月12日一笔注射费重复登记" in flat
    assert "草稿" not in flat
    assert_font_embedded(pdf, tmp_path)
    save_png(pdf, "statement", tmp_path)


def test_long_tables_repeat_their_header_row_on_every_page(tmp_path: Path) -> None:
    doc = make_statement(items=200)
    text = pdf_text(doc and render_statement(doc), tmp_path)
    pages = text.split("\f")
    item_pages = [p for p in pages if re.search(r"XM\d{5}", p)]
    assert len(item_pages) >= 3
    for page in item_pages:
        assert "金额（元）" in compact(page)


def test_open_statement_carries_a_draft_mark_on_every_page(tmp_path: Path) -> None:
    pdf = render_statement(make_statement(status="open", status_label="未提交"))
    marks = big_words(pdf, tmp_path)
    assert len(marks) >= 3
    assert all(set(mark) == {"草", "稿"} for mark in marks), marks
    assert "草稿" in compact(pdf_text(pdf, tmp_path))  # the notice under the title
    save_png(pdf, "statement-draft", tmp_path)


def test_paid_statement_has_no_draft_mark(tmp_path: Path) -> None:
    pdf = render_statement(make_statement("paid", "已拨付"))
    text = pdf_text(pdf, tmp_path)
    assert "草稿" not in compact(text)
    assert not any(big_words(pdf, tmp_path))
    assert "已拨付" in compact(text)


def test_statement_escapes_user_text(tmp_path: Path) -> None:
    doc = make_statement(clinic_name="R&D <测试> 卫生站", days=3, items=4)
    doc = replace(
        doc,
        items=(*doc.items, ItemRow("X<1>", "<b>未闭合 & 标签", "盒", "1", 100)),
        figures=doc.figures,
    )
    text = pdf_text(render_statement(doc), tmp_path)
    assert "R&D <测试> 卫生站" in text
    assert "<b>未闭合 & 标签" in text
    assert "X<1>" in text


def test_empty_month_still_renders(tmp_path: Path) -> None:
    doc = replace(make_statement(days=0, items=0), history=())
    text = compact(pdf_text(render_statement(doc), tmp_path))
    assert "本月无就诊记录" in text
    assert "第1页共1页" in text


def test_statement_whose_days_do_not_add_up_is_refused() -> None:
    doc = make_statement(days=5, items=3)
    wrong = replace(doc.figures, fiscal=doc.figures.fiscal + 1)
    with pytest.raises(StatementMismatch):
        render_statement(replace(doc, figures=wrong))


def test_rendering_is_deterministic() -> None:
    doc = make_statement(days=4, items=6)
    assert render_statement(doc) == render_statement(doc)


# -- district summary -------------------------------------------------------


def test_summary_prints_every_clinic_totals_and_chart(tmp_path: Path) -> None:
    doc = make_summary()
    pdf = render_district_summary(doc)
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    pages = pdf_pages(pdf, tmp_path)
    assert pages >= 2
    assert_page_numbers(text, pages)
    assert "花都区农村“一元钱看病”区财政兜底资金月度汇总表" in flat
    for heading in (
        "卫生站编码",
        "所属镇",
        "区财政兜底",
        "已拨付",
        "拨付日期",
        "凭证号",
        "合计",
        "未拨付",
        "区财政兜底（按卫生站，元）",
        "制表人：",
        "审核人：",
        "财政局：",
    ):
        assert heading in flat, heading
    t = doc.totals
    for money in (t.total, t.fund, t.fiscal, t.paid, t.outstanding):
        assert yuan(money) in text
    assert str(t.visits) in text
    for row in doc.rows:
        assert row.clinic_code in text
        assert yuan(row.fiscal) in text
    # The chart labels every bar with its clinic and its amount.
    chart_text = compact(text.split("（按卫生站，元）")[1])
    for row in doc.rows:
        assert row.clinic_name in chart_text
    assert_font_embedded(pdf, tmp_path)
    save_png(pdf, "summary", tmp_path)


def test_summary_totals_must_add_up() -> None:
    doc = make_summary(clinics=5)
    with pytest.raises(SummaryMismatch):
        render_district_summary(replace(doc, totals=replace(doc.totals, fiscal=1)))


def test_summary_escapes_user_text(tmp_path: Path) -> None:
    doc = make_summary(clinics=3)
    rows = (replace(doc.rows[0], clinic_name="<&>村卫生站"), *doc.rows[1:])
    text = pdf_text(render_district_summary(replace(doc, rows=rows)), tmp_path)
    assert "<&>村卫生站" in text


@pytest.mark.parametrize(
    ("largest", "step"),
    [(0, 100), (450_000, 100_000), (100, 100), (1_234_567, 500_000), (99_999, 20_000)],
)
def test_axis_step_is_a_round_number_of_yuan(largest: int, step: int) -> None:
    assert axis_step(largest) == step


# -- receipt ----------------------------------------------------------------


def test_programme_receipt(tmp_path: Path) -> None:
    doc = make_receipt()
    pdf = render_receipt(doc)
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    assert "花山镇两龙村卫生站门诊收费收据" in flat
    for expected in (
        "HS017-20261012-0042",
        "2026-10-1209:41",
        "张*明",
        "4401**********1234",
        "一元看病",
        "含注射",
        "医保基金支付",
        "区财政兜底",
        "个人负担",
        "个人自付",
        "全自费",
        f"本次您只需支付{yuan(doc.patient)}元",
        "符合“一元钱看病”条件",
    ):
        assert expected in flat, expected
    for line in doc.lines:
        assert line.name in flat
        assert yuan(line.amount) in text
    for money in (doc.total, doc.fund, doc.fiscal, doc.patient):
        assert yuan(money) in text
    # The fees are rows of the item table, so the amounts above its total add up to it.
    assert "医疗总费用" in text
    table = text.split("医疗总费用")[0]
    assert "挂号费" in table and "注射费" in table
    listed = [*(line.amount for line in doc.lines), doc.registration, doc.injection_fee]
    assert sum(listed) == doc.total
    assert all(yuan(amount) in table for amount in listed)
    assert "已作废" not in flat
    assert "非一元看病" not in flat
    assert_page_numbers(text, pdf_pages(pdf, tmp_path))
    assert_font_embedded(pdf, tmp_path)
    save_png(pdf, "receipt", tmp_path)


def test_voided_non_programme_receipt(tmp_path: Path) -> None:
    doc = make_receipt(programme=False, voided=True)
    pdf = render_receipt(doc)
    flat = compact(pdf_text(pdf, tmp_path))
    assert "非一元看病" in flat
    assert "一元看病" not in flat.replace("非一元看病", "")
    assert "已作废" in flat
    assert all(set(mark) == set("已作废") for mark in big_words(pdf, tmp_path, min_height=30))
    assert f"本次您需支付{yuan(doc.patient)}元" in flat
    save_png(pdf, "receipt-void", tmp_path)
