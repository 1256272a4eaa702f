"""The reconciliation pages in Chromium (issue 21): the preview of a file, the daily differences."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from app.database import unit_of_work
from app.extensions import db
from app.reconcile.models import DailyDifference
from app.reconcile.platform import SimulatedPlatform, settlement_csv
from app.reconcile.queries import platform_visits
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_settlement_browser import sign_in
from tests.integration.test_settlement import record


def test_finance_previews_a_file_then_sees_the_days_differences(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    server = live_server
    with server.app.app_context():
        now = server.clock()
        for day in (3, 4):
            record(server.world, now, at=dt.datetime(2026, 10, day, 2, 0, tzinfo=dt.UTC))
        platform = SimulatedPlatform()
        rows = platform.run_month(platform_visits("440114", "2026-10"), "2026-10")
        path = tmp_path / "oct.csv"
        path.write_bytes(settlement_csv([*rows, platform.reverse(rows[0].setl_id)]))
        with unit_of_work() as session:
            session.add(
                DailyDifference(
                    clinic_id=server.world.clinic.id, day=dt.date(2026, 10, 3), insutype="390",
                    kind="platform_only", setl_id="T00000000000001", mdtrt_id="M1",
                    psn_no="P1", negative=True, refd_setl_flag="1", memo="中心有，医药机构无",
                    medfee=-2270, fund=-1215, status="pending", found_at=now, reason="",
                )
            )  # fmt: skip
        db.session.remove()

    sign_in(page, server, "finance")
    page.goto(server.url + "/reconcile?month=2026-10")
    page.fill("#upload-month", "2026-10")
    page.set_input_files("#upload-file", str(path))
    page.click("#upload-preview")
    page.wait_for_load_state()
    preview = page.inner_text("#preview")
    assert "尚未写入任何数据" in preview and "HD001" in preview
    assert page.is_visible("#no-file")  # nothing was imported
    screenshot(page, "reconcile-preview", full_page=True)

    page.click("#daily-link")
    page.wait_for_load_state()
    page.fill("#day", "2026-10-03")
    page.press("#day", "Enter")
    page.wait_for_load_state()
    assert "中心有，本站无" in page.inner_text("#differences")
    row = '#differences tr[data-kind="platform_only"]'
    page.select_option(f"{row} select", "resolved")
    page.fill(f"{row} input[name=reason]", "医保窗口退费，已补登")
    page.click(f"{row} button[type=submit]")
    page.wait_for_load_state()
    assert page.get_attribute(row, "data-status") == "resolved"
    assert "finance" in page.inner_text(f"{row} .changed-by")  # who changed it, and when
    screenshot(page, "reconcile-daily", full_page=True)
