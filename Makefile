# Two commands on a fresh clone: `make run` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 5000
# The insurance platform simulator that `make run` starts beside the app (Procfile).
SIM_PORT ?= 5001
PYTEST_ARGS ?=
# pytest-xdist workers: one per core (each worker prepares its own template databases).
PYTEST_WORKERS ?= auto
export FLASK_APP := app.factory

.PHONY: install install-app translations migrate seed run dev test lint bench bench-settlement-file clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# What the app needs to run; `make run` installs only this (the test tools,
# Playwright, mypy … come with `make install` / `make test`), so a fresh clone serves sooner.
# (--no-compile: Python compiles what it imports when it first imports it, not every
# module of every package up front.)
$(VENV)/.installed-app: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-app
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Each area keeps its own message catalog; Flask-Babel merges them at run time.
translations: $(VENV)/.installed-app
	@for dir in app/*/translations; do \
	  if ls $$dir/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	    $(BIN)/pybabel -q compile -d $$dir || exit 1; \
	  fi; \
	done

install: $(VENV)/.installed translations

install-app: $(VENV)/.installed-app translations

# Month partitions exist on PostgreSQL only: on the default SQLite, one process less.
migrate: install-app
	$(BIN)/flask db upgrade
	case "$${DATABASE_URL:-sqlite}" in postgresql*) $(BIN)/flask visits partitions --ahead 3;; esac

seed: migrate
	$(BIN)/flask demo seed --if-empty

# Production server (gunicorn.conf.py: workers and threads from WEB_CONCURRENCY /
# THREADS, sized from the CPU count by default), with the insurance platform
# simulator and the settlement retry loop beside it (honcho runs the Procfile).
run: seed
	HOST=$(HOST) PORT=$(PORT) SIM_PORT=$(SIM_PORT) \
	INSURANCE_GATEWAY_URL=http://127.0.0.1:$(SIM_PORT)/ \
	$(BIN)/honcho start -f Procfile

# Flask's debug server: reloads on code changes, static files served as edited.
dev: seed
	$(BIN)/flask run --debug --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check app reports tests bench platform_sim
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# SCALE = tiny | district (100 k visits) | city (1 M) | province (10 M); see docs/benchmarks.md.
SCALE ?= district
bench: install
	$(BIN)/python -m bench.run
	SCALE=$(SCALE) $(BIN)/python -m bench.scale
	$(BIN)/python -m bench.exports --scale $(SCALE) --reuse --database yiyuan_bench_$(SCALE)

# The fund's settlement file at 100 k and 1 M rows against COPY plus one join (its own
# target: at a city's scale it runs for an hour on a shared machine; docs/benchmarks.md).
bench-settlement-file: install
	$(BIN)/python -m bench.settlement_file --reuse

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache .ruff_cache
