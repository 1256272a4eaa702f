"""``python -m platform_sim --port 5203 --db instance/platform_sim.sqlite3``."""

from __future__ import annotations

import argparse
import logging
import os

from werkzeug.serving import run_simple

from platform_sim.service import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="platform_sim")
    parser.add_argument("--host", default=os.environ.get("SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIM_PORT", "5203")))
    parser.add_argument(
        "--db", default=os.environ.get("SIM_DATABASE", "instance/platform_sim.sqlite3")
    )
    args = parser.parse_args()
    # One line per message would drown the app's own log (and carries no personal data
    # worth keeping): only warnings and errors.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(args.db)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
