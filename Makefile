# medtrack: `make run` serves the API and the scheduler with demo data; `make test`
# runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps in one .venv: `make run` installs only what serving needs; the checks add
# the dev extras (pytest, ruff, mypy, schemathesis...) on top.
RUN_STAMP := $(VENV)/.installed-run
STAMP     := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install lint types contracts pytest fuzz-live openapi bench bench-quick vendor clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "medtrack needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(RUN_STAMP) $(STAMP)

install: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/medtrack db upgrade
	$(BIN)/medtrack demo
	$(BIN)/medtrack run --host $(HOST) --port $(PORT)

test: lint types contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check service schedules tests bench
	$(BIN)/ruff format --check service schedules tests bench

types: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

# schemathesis from outside against a live server (migrated SQLite, demo data), as CI runs it.
fuzz-live: $(STAMP)
	$(BIN)/python .ci/schemathesis_live.py

# Benchmarks print figures against their targets; PostgreSQL at BENCH_POSTGRES_URL.
BENCH_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

bench: $(STAMP)
	$(BIN)/python -m bench.interactions --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.reminders --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.materialise --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.api --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.console --postgres-url $(BENCH_POSTGRES_URL)

# The quick forms (a few minutes), as CI runs them: the exit status is non-zero only on an
# error or a failed check (a wrong answer, a reminder lost or sent twice), never on a figure.
bench-quick: $(STAMP)
	$(BIN)/python -m bench.interactions --quick --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.reminders --quick --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.materialise --quick --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.api --quick --postgres-url $(BENCH_POSTGRES_URL)
	$(BIN)/python -m bench.console --quick --postgres-url $(BENCH_POSTGRES_URL)

openapi: $(STAMP)
	$(BIN)/medtrack openapi write openapi.yaml

# Patient-facing texts: extract every gettext(locale, ...) / ngettext / N_ text into the
# template, then merge it into each language's catalog (translate the new entries there).
# The service reads the .po files directly; nothing is compiled.
I18N := service/i18n
.PHONY: messages
messages: $(STAMP)
	$(BIN)/pybabel extract -F $(I18N)/babel.cfg --no-default-keywords \
	  -k gettext:2 -k ngettext:2,3 -k N_ --sort-by-file --no-wrap \
	  --project medtrack --version 0.1.0 --copyright-holder "medtrack contributors" \
	  --header-comment "# Patient-facing texts of medtrack (make messages writes this file)." \
	  -o $(I18N)/locale/messages.pot service schedules
	$(BIN)/pybabel update -i $(I18N)/locale/messages.pot -d $(I18N)/locale -D messages \
	  --no-fuzzy-matching --no-wrap

# The console's front-end assets, from the npm registry into the app (served by it, no CDN).
HTMX_VERSION ?= 2.0.11
VENDOR := service/console/static/vendor

vendor:
	rm -rf .vendor-tmp && mkdir -p .vendor-tmp
	cd .vendor-tmp && npm pack --silent htmx.org@$(HTMX_VERSION) && tar xzf htmx.org-$(HTMX_VERSION).tgz
	cp .vendor-tmp/package/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp .vendor-tmp/package/LICENSE $(VENDOR)/htmx.LICENSE
	rm -rf .vendor-tmp

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
