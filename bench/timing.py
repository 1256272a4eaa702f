"""The two timing shapes every benchmark uses: interleaved pairs, and clients for a while.

* :func:`side_by_side` runs two sides in rounds whose order alternates, so a slow
  moment of a shared machine falls on both, and gives their medians;
* :func:`for_a_while` starts ``clients`` threads that wait on one barrier, lets
  them run for ``seconds`` and gives the elapsed time (the threads stop when the
  event is set; their results are theirs to keep).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any


def side_by_side(
    ours: Callable[[int], Any], limit: Callable[[int], Any], rounds: int
) -> tuple[float, float]:
    """Medians of interleaved rounds, seconds; the order alternates each round.

    Both sides get the round's number (e.g. which clinic to read, which to submit).
    """
    a: list[float] = []
    b: list[float] = []
    for index in range(rounds):
        pair = ((ours, a), (limit, b)) if index % 2 == 0 else ((limit, b), (ours, a))
        for fn, out in pair:
            start = time.perf_counter()
            fn(index)
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def for_a_while(
    client: Callable[[int], None],
    clients: int,
    seconds: float,
    barrier: threading.Barrier,
    stop: threading.Event,
    join_timeout: float = 120.0,
) -> float:
    """Run ``client(n)`` in ``clients`` threads for ``seconds``; the elapsed seconds.

    Each client must wait on ``barrier`` (made for ``clients + 1``) before its
    first request and stop once ``stop`` is set; the clock starts when all are ready.
    """
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join(timeout=join_timeout)
    return elapsed
