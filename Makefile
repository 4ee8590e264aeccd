# The newcomer's two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export DJANGO_DEBUG ?= 1

.PHONY: run test install services db lint lock messages clean otp

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

services: install
	@$(PY) scripts/check_services.py

db: services
	@$(PY) scripts/ensure_database.py
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

## run: set everything up, then serve the web app with a Celery worker and beat (Ctrl-C stops all)
run: db
	@$(PY) scripts/devstack.py --port $(PORT)

## test: the whole suite against the real PostgreSQL and Redis
test: services
	@$(PY) scripts/ensure_database.py
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

messages: install
	$(PY) manage.py makemessages -l en --no-obsolete --ignore '.venv/*' --ignore 'staticfiles/*'
	$(PY) manage.py compilemessages -l en --ignore '.venv/*'

lock: install
	@echo "# Full resolved dependency set for Python 3.11 (pip freeze). Regenerate with \`make lock\`." > requirements.lock
	$(PY) -m pip freeze --exclude-editable >> requirements.lock

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

## otp: print the current TOTP code of a demo staff user (development only)
otp: install
	@$(PY) manage.py otp_code $(EMAIL)
