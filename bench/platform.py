"""Recording and settling visits in real time against the platform simulator (issue 20).

``python -m bench.platform`` drops and creates ``yiyuan_bench_platform`` on the
PostgreSQL server named by ``BENCH_DATABASE_URL``, fills it as
:mod:`bench.recording` does (32 clinics with a doctor each, 2,000 insured
residents) and gives every clinic an institution code; starts the platform
simulator (its own process and SQLite file, loaded with the same persons and
catalogue) and the production server (gunicorn, ``make run``'s workers and
threads) configured for it.  Clients post visits over keep-alive connections
(client *n* is the doctor of clinic *n mod 32*) for ``BENCH_SECONDS`` (default
5) at 1, 8 and 32 clients with the simulator answering every message after
0, 50 and 200 ms; and once with no platform configured (the monthly-file way)
for the baseline.  Every answer must be a 201 whose settlement is ``settled``
(``pending`` counts as a failure), so an outage cannot pass for speed.
Printed: visits/s, p50 and p99 per cell.  Nothing here runs in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.recording import (
    CLINICS,
    CONCURRENCY,
    LINES,
    Server,
    _database,
    _percentile,
    _postgresql,
    prepare,
)
from bench.timing import for_a_while
from tests.simulator import FACTORY_CATALOGUE, Simulator

DATABASE = "yiyuan_bench_platform"
LATENCIES = (0, 50, 200)  # ms the platform takes to answer each message


def measure(port: int, tokens: list[str], ids: list[str], clients: int, seconds: float,
            platform: bool) -> tuple[float, list[float]]:  # fmt: skip
    """``clients`` threads recording visits for ``seconds``: (visits/s, latencies in s)."""
    import http.client
    import random

    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(n: int) -> None:
        rng = random.Random(n)
        clinic, token = f"BX{n % CLINICS:03d}", tokens[n % CLINICS]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        while not stop.is_set():
            body = json.dumps({"clinic": clinic, "patient_id_number": rng.choice(ids),
                               "injection": True, "lines": LINES}).encode()  # fmt: skip
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": uuid.uuid4().hex}  # fmt: skip
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/visits", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except OSError as exc:
                failures.append(repr(exc))
                conn.close()
                continue
            if response.status != 201:
                failures.append(f"{response.status} {answer[:200]!r}")
                continue
            settled = json.loads(answer).get("insurance")
            if platform and (settled is None or settled["status"] != "settled"):
                failures.append(f"not settled: {settled}")
                continue
            if not stop.is_set():
                latencies[n].append(time.perf_counter() - started)
        conn.close()

    elapsed = for_a_while(client, clients, seconds, barrier, stop, join_timeout=300)
    if failures:
        raise SystemExit(f"{len(failures)} failed visits, e.g. {failures[:3]}")
    done = [x for mine in latencies for x in mine]
    return len(done) / elapsed, done


def run(seconds: float, latencies: tuple[int, ...] = LATENCIES) -> None:
    server_url = _postgresql(None, "settling in real time", print)
    if server_url is None:
        return
    url = _database(server_url, DATABASE)
    tokens, ids = prepare(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "UPDATE clinic SET insurance_code = 'H440114' || lpad(substr(code, 3), 5, '0') "
            "WHERE code LIKE 'BX%'"
        ))  # fmt: skip
    engine.dispose()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulator(Path(tmp))
        sim.start()
        try:
            sim.post("admin/catalogue", FACTORY_CATALOGUE)
            sim.post("admin/persons", [{"certno": i, "insured_from": "2020-01-01"} for i in ids])
            sim.post("admin/rules", {"annual_cap": 10**9})
            for platform in (False, True):
                os.environ.pop("INSURANCE_GATEWAY_URL", None)
                if platform:
                    os.environ["INSURANCE_GATEWAY_URL"] = sim.url
                    os.environ["INSURANCE_READ_TIMEOUT"] = "30"
                server = Server(url, Path(tmp) / "gunicorn.log")
                try:
                    measure(server.port, tokens, ids, 8, 1.0, platform)  # warm up
                    for latency in latencies if platform else (None,):
                        if latency is not None:
                            sim.mode(latency_ms=latency)
                        for clients in CONCURRENCY:
                            rate, done = measure(server.port, tokens, ids, clients, seconds,
                                                 platform)  # fmt: skip
                            label = "none" if latency is None else f"{latency} ms"
                            rows.append(
                                f"| {label:>7} | {clients:>7} | {rate:8.1f} | "
                                f"{_percentile(done, 0.5) * 1000:7.0f} | "
                                f"{_percentile(done, 0.99) * 1000:7.0f} |"
                            )
                            print(rows[-1], flush=True)
                finally:
                    server.stop()
        finally:
            sim.stop()
    print(f"settling in real time (gunicorn, PostgreSQL, {seconds:g} s per cell; "
          f"load {os.getloadavg()[0]:.1f})")  # fmt: skip
    print("| platform latency | clients | visits/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.platform")
    default = float(os.environ.get("BENCH_SECONDS", "5"))
    parser.add_argument("--seconds", type=float, default=default)
    parser.add_argument("--latency", type=int, action="append", help="ms (repeatable)")
    args = parser.parse_args()
    run(args.seconds, tuple(args.latency) if args.latency else LATENCIES)


if __name__ == "__main__":
    main()
