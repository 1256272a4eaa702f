"""The platform simulator as the tests run it: its own process, database and free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Simulator:
    """``python -m platform_sim`` on a free port with its own SQLite file; stop/start = outage."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.database = tmp / "platform_sim.sqlite3"
        self.log = tmp / "platform_sim.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "platform_sim", "--port", str(self.port),
                 "--db", str(self.database)],
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60  # a loaded machine; it returns as soon as up
        while time.monotonic() < deadline:
            try:
                self.get("admin/health")
                return
            except OSError:
                time.sleep(0.05)
        self.stop()  # not left running past the test
        raise RuntimeError(f"the simulator did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def mode(self, **how: Any) -> Any:
        return self.post("admin/mode", how)

    def settlements(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.get("admin/settlements")
        return rows


# The factory catalogue as the platform classes it (tests.factories.CATALOG):
# 01 甲, 02 乙 (10 % self-pay), 03 自费; services are self-paid in the programme.
FACTORY_CATALOGUE = [
    {"code": "DX001", "chrgitm_lv": "01", "med_chrgitm_type": "12"},
    {"code": "AMX01", "chrgitm_lv": "01", "med_chrgitm_type": "09"},
    {"code": "FFGC1", "chrgitm_lv": "02", "selfpay_prop": "0.10", "med_chrgitm_type": "09"},
    {"code": "HY001", "chrgitm_lv": "03", "med_chrgitm_type": "05"},
    {"code": "VC001", "chrgitm_lv": "03", "med_chrgitm_type": "09"},
    {"code": "ZS001", "chrgitm_lv": "03", "med_chrgitm_type": "05"},
    {"code": "MZ001", "chrgitm_lv": "01", "med_chrgitm_type": "08"},
    {"code": "BSJ01", "chrgitm_lv": "02", "selfpay_prop": "0.10", "med_chrgitm_type": "09"},
]


def load_factory_world(sim: Simulator, ids: dict[str, str]) -> None:
    """The platform's own copy of the factory world's insured persons and catalogue."""
    sim.post("admin/catalogue", FACTORY_CATALOGUE)
    sim.post(
        "admin/persons",
        [
            {"certno": ids["insured_village"], "insutype": "390", "insured_from": "2026-01-01"},
            {"certno": ids["insured_community"], "insutype": "310", "insured_from": "2026-01-01"},
            {"certno": ids["other_district"], "insutype": "390", "insured_from": "2026-01-01"},
        ],
    )
    sim.post("admin/rules", {"fund_ratio": "0.70", "annual_cap": 60000})
