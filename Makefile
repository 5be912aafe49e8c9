# warrantdesk: build, run and test. Every target is idempotent.
#   make run     local demo on http://127.0.0.1:$(PORT)/ (SQLite in var/, demo data, task worker, periodic jobs)
#   make test    lint + migration check + pytest on SQLite, then pytest on PostgreSQL
#   make help    all targets and variables

SHELL := bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANAGE := $(PY) manage.py

.PHONY: help venv run test bench lint typecheck typecheck-baseline fmt clean distclean sysdeps-run sysdeps-test messages \
        check-migrations test-sqlite test-postgres postgres smoke prod-smoke

help:
	@echo "warrantdesk targets:"
	@echo "  make run        local demo at http://127.0.0.1:$(PORT)/ (PORT=8001 make run, or make run PORT=8001)"
	@echo "  make test       ruff, makemigrations --check, pytest on SQLite, then on PostgreSQL (PYTEST_ARGS=...)"
	@echo "  make lint       ruff check + ruff format --check + import-linter + mypy (typecheck)"
	@echo "  make fmt        ruff format + ruff check --fix"
	@echo "  make bench      python bench/run.py (BENCH_ARGS=...)"
	@echo "  make venv       (re)build .venv from requirements.txt (Python >= 3.12, see scripts/find-python.sh)"
	@echo "  make postgres   start local PostgreSQL, create role/db warrantdesk, print DATABASE_URL"
	@echo "  make smoke      start the app on a free port in a temp dir, check /accounts/login/, stop"
	@echo "  make prod-smoke production settings on the local PostgreSQL: gunicorn + 2 workers + periodic jobs, one export through them"
	@echo "  make clean      remove caches and test artefacts (keeps .venv and var/)"
	@echo "  make distclean  clean + remove .venv (var/ with the demo data and secrets is kept)"

# --- Python environment ----------------------------------------------------------------------------
venv: $(STAMP)

# Rebuilt when requirements.txt is newer than the stamp, or the interpreter is gone or too old.
VENV_OK := $(shell $(PY) -c 'import sys; print(sys.version_info >= (3, 12))' 2>/dev/null)
ifneq ($(VENV_OK),True)
$(STAMP): FORCE
endif
FORCE:
.PHONY: FORCE

$(STAMP): requirements.txt
	@py="$$(scripts/find-python.sh)"
	if [ -e $(VENV) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    echo "venv: $(VENV) is broken or older than Python 3.12; recreating"; rm -rf $(VENV); fi
	if [ ! -x $(PY) ]; then echo "venv: creating $(VENV) with $$py"; "$$py" -m venv $(VENV); fi
	echo "venv: installing requirements.txt (log: $(VENV)/pip.log)"
	if ! $(PY) -m pip install --disable-pip-version-check -r requirements.txt >$(VENV)/pip.log 2>&1; then
	    echo "venv: pip install FAILED; last lines of $(VENV)/pip.log:" >&2
	    grep -v -e 'is ignored: it is neither a file nor a directory' -e '^Requirement already satisfied' $(VENV)/pip.log | tail -n 40 >&2
	    exit 1
	fi
	touch $(STAMP)

# --- Debian packages -------------------------------------------------------------------------------
sysdeps-run:
	@scripts/system-deps.sh run

sysdeps-test:
	@scripts/system-deps.sh test

# --- Django helpers --------------------------------------------------------------------------------
# compilemessages only when the project has translations (a locale/ dir outside .venv).
messages: venv
	@if [ -n "$$(find . -path ./.venv -prune -o -path ./.git -prune -o -type d -name locale -print -quit)" ]; then \
	    $(MANAGE) compilemessages --ignore=.venv --ignore=var -v 0; fi

check-migrations: venv
	env -u DATABASE_URL $(MANAGE) makemigrations --check --dry-run

# --- Run -------------------------------------------------------------------------------------------
run: sysdeps-run venv messages
	@PORT=$(PORT) scripts/serve.sh

smoke: sysdeps-run venv messages
	@port=$$($(PY) -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	scripts/smoke-run.sh "$$port"

# Production settings on this machine (README "Deployment"): PostgreSQL, migrate, collectstatic, gunicorn on
# 127.0.0.1 and a free port, two db_worker, run_periodic; one export built by a worker, downloaded through
# gunicorn and verified with the published key; everything stopped and removed at the end.
prod-smoke: sysdeps-run venv messages
	@scripts/prod-smoke.sh

# --- Quality ---------------------------------------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	@$(MAKE) typecheck

# mypy with django-stubs against a committed baseline (mypy-baseline.txt) that only shrinks: a new type
# error fails; after fixing old ones, `make typecheck-baseline` rewrites the baseline.
typecheck: venv
	@echo "== mypy (baseline: mypy-baseline.txt)"
	VENV=$(VENV) scripts/typecheck.sh

typecheck-baseline: venv
	VENV=$(VENV) scripts/typecheck.sh sync

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# --- Tests -----------------------------------------------------------------------------------------
# The two database passes run side by side (one per core; each target's output is printed whole when it
# ends): the suite's wall time is the longer pass, not their sum. `make test-sqlite` / `make test-postgres`
# run one pass alone.
test: sysdeps-test venv messages lint check-migrations
	@$(MAKE) -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: venv
	@echo "== pytest on SQLite"
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

postgres:
	@scripts/postgres.sh start

test-postgres: venv
	@echo "== pytest on PostgreSQL"
	url="$$(scripts/postgres.sh start | tail -n 1)"
	case "$$url" in postgres://*) ;; *) echo "scripts/postgres.sh start gave no URL: $$url" >&2; exit 1 ;; esac
	echo "DATABASE_URL=$$url"
	DATABASE_URL="$$url" $(PY) -m pytest $(PYTEST_ARGS)

# --- Benchmarks ------------------------------------------------------------------------------------
bench: sysdeps-run venv
	@if [ ! -f bench/run.py ]; then echo "make bench: bench/run.py does not exist yet" >&2; exit 1; fi
	# The load test (bench/load.py) needs PostgreSQL: the local one, started here if it can be.
	load_url="$${BENCH_LOAD_DATABASE_URL:-$$(scripts/postgres.sh start 2>/dev/null | tail -n 1 || true)}"
	# The same PostgreSQL runs the export section a second time, printed beside SQLite's.
	BENCH_LOAD_DATABASE_URL="$$load_url" BENCH_EXPORT_DATABASE_URL="$${BENCH_EXPORT_DATABASE_URL-$$load_url}" \
		$(PY) bench/run.py $(BENCH_ARGS)

# --- Cleaning --------------------------------------------------------------------------------------
clean:
	@rm -rf .pytest_cache .ruff_cache test-results staticfiles htmlcov .coverage
	find . -path ./.venv -prune -o -path ./.git -prune -o -type d -name __pycache__ -print0 | xargs -0r rm -rf
	echo "clean: removed caches and test artefacts; kept .venv and var/ (demo database, generated secrets)"

distclean: clean
	rm -rf $(VENV)
