# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install browser axe clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium and its driver for the browser tests, from Debian, when missing and possible.
browser:
	@if ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
		else echo "chromedriver not found: install chromium and chromium-driver to run the browser tests"; fi; \
	fi

# axe-core from npm for the accessibility tests (a dev tool: package.json, never the app's dependencies).
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json
	@if command -v npm >/dev/null 2>&1; then npm install --no-audit --no-fund --silent && touch $(AXE); \
	else echo "npm not found: the accessibility tests will be skipped"; fi

axe: $(AXE)

# Everything on one machine: private Redis, SQLite under var/, demo data, worker, beat, web.
run: $(STAMP)
	$(BIN)/tradeboard run

test: $(STAMP) browser axe
	$(BIN)/python -m pytest

# Every benchmark into bench/RESULTS.md (PostgreSQL too when TRADEBOARD_TEST_POSTGRES_URL is set);
# the `bench` extra brings the engine's peers, backtesting.py and vectorbt, for bench/engine_peers.py.
bench: $(STAMP) browser
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis node_modules
