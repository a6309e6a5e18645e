# The two commands in the README:
#   make demo   set up, run a full cycle on the bundled demo site, serve the alert queue
#   make test   set up, lint, type-check and run the tests on SQLite, then on PostgreSQL
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# pytest processes (pytest-xdist); each gets its own databases
PYTEST_WORKERS    ?= 2
# the PostgreSQL server for `make pytest-pg`: each test gets a fresh database on it (tests/conftest.py)
TEST_DATABASE_URL ?= postgresql+psycopg://root@127.0.0.1:5432/test

.PHONY: setup demo test lint typecheck pytest pytest-pg bench clean

setup: $(STAMP) node_modules/htmx.org/dist/htmx.min.js

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "MediaWatch needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# htmx is served by the app itself (no CDN); without npm the pages still work, just without htmx.
node_modules/htmx.org/dist/htmx.min.js: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the web app will work without htmx"; fi

demo: setup
	$(BIN)/mediawatch demo

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench

typecheck: $(STAMP)
	$(BIN)/mypy pipeline

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The same suite on PostgreSQL; an unreachable server fails the run with a one-line reason.
pytest-pg: $(STAMP)
	MEDIAWATCH_TEST_DATABASE_URL='$(TEST_DATABASE_URL)' $(BIN)/pytest -n $(PYTEST_WORKERS)

test: setup lint typecheck pytest pytest-pg

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
