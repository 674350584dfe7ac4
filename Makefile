# The two commands of the README: `make run` and `make test`.
# Both create the virtual environment (.venv) on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# One pytest worker more than cores: e2e tests spend part of their time waiting on processes.
# Each worker takes whole modules (--dist loadscope), so a module's shared servers start once.
WORKERS ?= $(shell expr $$(nproc) + 1)

.PHONY: run test lint types pytest browser graphviz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The tests' tools from npm (package-lock.json): an OpenID provider, axe-core, Spectral.
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

## run: serve on the embedded default (SQLite under ./var, mail to ./var/mail)
run: $(STAMP) graphviz
	$(BIN)/ratify serve

## test: lint (ruff, import layers), types, and the whole suite on SQLite and PostgreSQL (and a headless browser)
test: lint types pytest

# The status page is tested in Debian's headless Chromium.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# The status page draws the state machines with Graphviz's `dot` (Debian's graphviz).
graphviz:
	@command -v dot >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP) browser graphviz
	$(BIN)/pytest -n $(WORKERS) --dist loadscope -m 'not exclusive'
	$(BIN)/pytest -m exclusive

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache .pytest_cache .hypothesis
