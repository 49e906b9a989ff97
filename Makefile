# Frontdesk: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run check-port test lint install browser-js client-js clean bench bench-peers messages

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The browser tests' JavaScript (axe-core, pinned in tests/browser/package-lock.json), from the
# npm registry; it is injected into the test browser and never served by Frontdesk.
BROWSER_JS := tests/browser/node_modules/.installed
# Without npm the accessibility checks are skipped (and fail under .ci/run), like the browser
# tests without Chromium.
$(BROWSER_JS): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
	  echo "npm not found: the accessibility checks in tests/browser will be skipped (install Node.js and npm)"; \
	fi

browser-js: $(BROWSER_JS)

# The real JavaScript client the protocol tests drive (oauth4webapi, pinned in
# tests/clients/js/package-lock.json), run by Node.js; never served by Frontdesk. Without npm
# those tests are skipped (and fail under .ci/run, which sets FRONTDESK_REQUIRE_NODE=1).
CLIENT_JS := tests/clients/js/node_modules/.installed
$(CLIENT_JS): tests/clients/js/package.json tests/clients/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd tests/clients/js && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
	  echo "npm not found: the oauth4webapi tests in tests/clients will be skipped (install Node.js 20+ and npm)"; \
	fi

client-js: $(CLIENT_JS)

## Start the server on http://localhost:8000 (SQLite file ./frontdesk.db by default).
# Links and space addresses follow PORT unless FRONTDESK_PUBLIC_URL is set; `frontdesk serve`
# notes the URL next to the SQLite file, and the frontdesk command and
# examples/space_app/register.sh in other terminals print it. The port is checked first (with
# the system's Python), before anything is installed or migrated.
run: export FRONTDESK_PUBLIC_URL ?= http://localhost:$(PORT)
run: check-port $(STAMP)
	@if [ "$$FRONTDESK_PUBLIC_URL" != "http://localhost:8000" ]; then \
	  echo "Serving at $$FRONTDESK_PUBLIC_URL (the frontdesk command on this SQLite database prints it too;"; \
	  echo "with PostgreSQL, first export FRONTDESK_PUBLIC_URL=$$FRONTDESK_PUBLIC_URL in other terminals)"; \
	fi
	$(BIN)/frontdesk db upgrade
	$(BIN)/frontdesk serve --host $(HOST) --port $(PORT)

define CHECK_PORT
import errno, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        s.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            sys.exit(f"error: port {port} is in use; try make run PORT={port + 1}")
        sys.exit(f"error: cannot listen on {host}:{port}: {exc.strerror}")
endef
export CHECK_PORT

check-port:
	@$(PYTHON) -c "$$CHECK_PORT" '$(HOST)' '$(PORT)'

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

## The languages' catalogues (docs/guide.md, "Languages"): extract every marked string into
# src/frontdesk/locale/messages.pot and merge it into each language's messages.po (then
# translate the new, empty msgstr entries: tests/web/test_languages.py fails while one is
# empty). The .po files are compiled in memory at first use (frontdesk/i18n.py): no .mo.
LOCALES := src/frontdesk/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
	  -o $(LOCALES)/messages.pot src/frontdesk
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages \
	  --no-fuzzy-matching --ignore-obsolete

## The whole suite: lint, types, tests (SQLite; PostgreSQL too when FRONTDESK_TEST_DATABASE_URL is set).
test: lint $(BROWSER_JS) $(CLIENT_JS)
	$(BIN)/pytest $(PYTEST_ARGS)

## Benchmarks (see docs/performance.md): Frontdesk alone, then against the peers.
bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-peers: $(STAMP)
	bench/peers.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules
