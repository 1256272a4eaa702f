"""gunicorn settings for ``make run`` and production (``gunicorn -c gunicorn.conf.py``).

Every number comes from the environment, with defaults sized from the CPU count:

* ``WEB_CONCURRENCY`` worker processes (default: one per CPU);
* ``THREADS`` threads per worker (default 4; gthread workers), so a request
  waiting on the database (an fsync on SQLite, a lock on PostgreSQL) does not
  hold a whole process.  With PostgreSQL, workers x threads should stay within
  the connection pool (5 + 10 overflow per worker) and the server's
  ``max_connections``;
* ``HOST`` / ``PORT`` the address (default 127.0.0.1:5000: behind a reverse proxy,
  never on a public interface);
* ``GUNICORN_TIMEOUT`` seconds a request may take before its worker is restarted.
  With gthread workers gunicorn's heartbeat comes from the worker's main loop,
  not from the request threads, so a request stuck for ever would never get its
  worker replaced; the hooks below stop the heartbeat while any request has run
  longer than the timeout, and the arbiter then replaces the worker as it does
  a sync worker that stopped answering (``WORKER TIMEOUT``).

gunicorn's own access log stays off: its lines carry paths and query strings,
which hold ID numbers.  The app logs one JSON line per request with the route
rule instead (``app/web/requestlog.py``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def _int(name: str, default: int) -> int:
    return max(1, int(os.environ.get(name) or default))


wsgi_app = "app.factory:create_app()"
bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"]
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", os.cpu_count() or 1)
threads = _int("THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 60)  # a district summary PDF takes seconds, not minutes
graceful_timeout = 30
keepalive = 5  # behind nginx, connections are reused between requests
# Recycle workers now and then (staggered) so no slow leak grows for ever.
max_requests = 2000
max_requests_jitter = 200
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# No gunicornc control socket: its default path is one per user, so two servers on
# one machine (a test beside `make run`) would take each other's.
control_socket_disable = True
# Worker heartbeats on a RAM disk: a slow disk must not get healthy workers killed.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


# --- a stuck request gets its worker replaced ------------------------------------------

_started: dict[int, float] = {}  # thread id -> when its current request began (monotonic)


def pre_request(worker: Any, _req: Any) -> None:
    _started[threading.get_ident()] = time.monotonic()


def post_request(worker: Any, _req: Any, _environ: Any, _resp: Any) -> None:
    _started.pop(threading.get_ident(), None)


def post_worker_init(worker: Any) -> None:
    heartbeat = worker.notify
    limit = worker.cfg.timeout

    def notify_unless_stuck() -> None:
        now = time.monotonic()
        if any(now - began > limit for began in list(_started.values())):
            return  # no heartbeat: the arbiter aborts and replaces this worker
        heartbeat()

    worker.notify = notify_unless_stuck
