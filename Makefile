# The README's two commands: `make demo` and `make test`. Each installs everything the project
# needs into .venv (pinned by constraints.txt) and then runs. Nothing is installed by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow test-spark test-spark-rules test-browser test-programme lint bench clean web-assets browser java

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "OpenPHM needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) java

# Spark (the engine for a nation's data) needs Java 17, and javac to build the small key-service
# class that serves keys from OpenPHM's key store to Spark (src/openphm/engine/java); Debian's.
java:
	command -v javac || (apt-get update && apt-get install -y openjdk-17-jdk-headless)

demo: install web-assets
	$(BIN)/phm demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint web-assets browser
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

# The Spark tests (tests/spark: encryption, the engines' differential on one linked region),
# the browser tests (Chromium) and the end-to-end tests (the programme tier: phm refresh run,
# interrupted and resumed; phm demo; a provider's cohort list; a second link of a linked
# region): kept out of `make test` for its time, run by CI after it (docs/testing.md).
test-programme: install
	$(BIN)/python -m pytest -m 'programme and not slow'

test-spark: install
	$(BIN)/python -m pytest -m 'spark and not slow'

# The rule tests of analytics, indicators and cohorts (tests/conftest.py's `engine` fixture) on
# Spark: the same assertions `make test` checks on DuckDB (docs/spark.md).
test-spark-rules: install
	$(BIN)/python -m pytest -m 'spark and slow' tests/analytics tests/indicators tests/cohorts

test-browser: install web-assets browser
	$(BIN)/python -m pytest -m 'browser and not slow'

# The web service's NHS.UK frontend assets and libsodium's JavaScript: npm installs the pinned
# nhsuk-frontend and libsodium-wrappers (package.json, package-lock.json), then the files the app
# serves are copied into src/openphm/web/static/nhsuk and src/openphm/web/static/sodium.
WEB_ASSETS := src/openphm/web/static/nhsuk/nhsuk-frontend.min.css \
	src/openphm/web/static/sodium/libsodium-wrappers.mjs

$(WEB_ASSETS) &: package.json package-lock.json src/openphm/web/assets.py $(STAMP)
	npm ci --ignore-scripts --no-audit --no-fund
	$(BIN)/python -m openphm.web.assets node_modules

web-assets: $(WEB_ASSETS)

# The browser tests drive Debian's chromium (Playwright's own browser download needs internet).
browser:
	command -v chromium || (apt-get update && apt-get install -y chromium)

bench: install
	$(BIN)/phm bench --people 100000

clean:
	rm -rf $(VENV) demo-output bench-output .pytest_cache .ruff_cache node_modules \
		src/openphm/web/static/nhsuk \
		src/openphm/web/static/sodium
