# Two commands do all the set-up on a fresh machine:
#   make run    install, migrate, seed a demo tenant, serve on http://localhost:8000
#   make test   install and run the test suite
# With no DATABASE_URL both use an embedded PostgreSQL under .data/postgres.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The official MCP SDK client the tests drive the server with (tests/mcp), in a venv of its own: the project's
# settings package `mcp/` would shadow the SDK's `mcp` in .venv.
MCP_CLIENT_VENV ?= .venv-mcpclient
HOST ?= 0.0.0.0
PORT ?= 8000
# `make run` is a development server: DEBUG on unless you say otherwise.
export DEBUG ?= true

.PHONY: install run test lint lint-migrations migrate stop-db clean-db

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed

$(MCP_CLIENT_VENV)/.installed: requirements-mcp-client.txt
	$(PYTHON) -m venv $(MCP_CLIENT_VENV)
	$(MCP_CLIENT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-mcp-client.txt
	touch $@

migrate: install
	$(PY) manage.py migrate_schemas --shared
	$(PY) manage.py migrate_schemas --tenant

# The URLs the project prints name the port it serves on (settings.SITE_URL).
run: export SITE_URL ?= http://$(or $(BASE_DOMAIN),localhost):$(PORT)
run: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite in one process per core (pytest-xdist; each worker has a test database of its own).
# PYTEST_WORKERS=0 runs it in this process, e.g. to use a debugger.
PYTEST_WORKERS ?= auto
test: install $(MCP_CLIENT_VENV)/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Unused or undefined names, import order, and types (pyproject.toml: mypy with django-stubs, every package).
lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy audit contexts mcp tenants

# Fail on a model change that has no migration, and on a migration that locks or
# rewrites a table with rows unless it is marked reviewed (README, "Writing a migration").
lint-migrations: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py lintmigrations

# The embedded PostgreSQL keeps running after `make run` stops (commands and tests share it):
# stop it, keeping its data; the next command that needs it starts it again.
stop-db: install
	$(PY) -m mcp.embedded_postgres stop

# Stop the embedded PostgreSQL and delete its data.
clean-db: install
	$(PY) -m mcp.embedded_postgres delete
