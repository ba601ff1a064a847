# The README's commands. Needs only Python 3.11+, make and git: uv is bootstrapped into .tools/
# from the package registry, and every dependency is installed into .venv/ by it.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# Installed packages get their bytecode at install time: without it every `mockloop serve`
# compiles FastAPI, pydantic, uvicorn ... from source again when the environment forbids
# writing .pyc files (PYTHONDONTWRITEBYTECODE), which doubled a cold start (0.95 s -> 0.45 s).
export UV_COMPILE_BYTECODE := 1

.PHONY: help setup browser postgres demo test test-fast lint format bench conformance clean

help:
	@echo "make demo   - install everything and run the main job on embedded defaults"
	@echo "make test   - install everything and run the whole test suite"
	@echo "make lint   - ruff check, ruff format --check, pyright and the import contracts"
	@echo "make bench  - run the benchmarks under bench/ (needs wrk; see bench/README.md)"
	@echo "make conformance - serve every real-world description and our own hard cases, check them with schemathesis"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check 'uv>=0.9,<1'

$(VENV)/.synced: $(UV) pyproject.toml packages/*/pyproject.toml
	$(UV) sync --all-packages --python $(PYTHON) --quiet
	@touch $@

# Our own packages are installed editable (their sources are imported): compile what changed.
setup: $(VENV)/.synced
	@$(PY) -m compileall -q packages/mockloop-core/src packages/mockloop-mcp/src \
		packages/mockloop-langchain/src packages/mockloop-crewai/src >/dev/null

# The admin UI's browser tests drive Debian's chromium through Playwright (Playwright's own
# browser download is never used). Install it when missing and we are root with apt-get;
# otherwise those tests skip, saying why.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the admin UI browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			|| echo "could not install chromium: the admin UI browser tests will skip (fail if CI is set)"; \
	else \
		echo "no chromium and no root apt-get: the admin UI browser tests will skip (fail if CI is set)"; \
	fi

# The store suite runs on SQLite and on PostgreSQL. Install Debian's PostgreSQL when missing and
# we are root with apt-get; the tests start a throwaway cluster of their own from it (or use
# MOCKLOOP_TEST_DATABASE_URL). Without it the PostgreSQL half skips, saying why (fails if CI is set).
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's postgresql for the store tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
			|| echo "could not install postgresql: the PostgreSQL store tests will skip (fail if CI is set)"; \
	else \
		echo "no postgresql and no root apt-get: the PostgreSQL store tests will skip (fail if CI is set)"; \
	fi

demo: setup
	$(PY) examples/demo.py
	@echo
	$(PY) examples/client_quickstart.py
	@echo
	$(PY) examples/mock_features.py
	@echo
	$(PY) examples/testing_workflow.py --out mockloop-reports

test: setup browser postgres
	CREWAI_DISABLE_TELEMETRY=true CREWAI_TRACING_ENABLED=false OTEL_SDK_DISABLED=true \
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -x -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pyright
	$(VENV)/bin/lint-imports --no-cache

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) bench/bench_mock.py
	$(PY) bench/bench_startup.py
	$(PY) bench/bench_workers.py
	$(PY) bench/bench_load.py

conformance: setup
	$(PY) scripts/conformance.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
