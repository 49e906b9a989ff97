# Frontdesk: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint install clean bench bench-peers

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Start the server on http://localhost:8000 (SQLite file ./frontdesk.db by default).
# Links and space addresses follow PORT unless FRONTDESK_PUBLIC_URL is set.
run: export FRONTDESK_PUBLIC_URL ?= http://localhost:$(PORT)
run: $(STAMP)
	$(BIN)/frontdesk db upgrade
	$(BIN)/frontdesk serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

## The whole suite: lint, types, tests (SQLite; PostgreSQL too when FRONTDESK_TEST_DATABASE_URL is set).
test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

## Benchmarks (see docs/performance.md): Frontdesk alone, then against the peers.
bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-peers: $(STAMP)
	bench/peers.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
