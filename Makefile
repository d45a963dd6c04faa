# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO := var/demo

.PHONY: venv run reset test test-sqlite test-postgres test-faults lint check services stack-up stack-down

$(VENV)/.installed: requirements.txt requirements-dev.txt
	scripts/ensure-python-venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Embedded default: SQLite, eager tasks, seeded demo, identity headers trusted from loopback.
# Seeding logs only warnings (one line per step is printed); the server logs in plain text.
# Plain HTTP on loopback: the admin's cookies cannot be Secure-only there.
DEMO_ENV := GATEWAY_TRUST_ANCHOR_FILES=$(CURDIR)/$(DEMO)/trust-anchor/ta.pem GATEWAY_TRUSTED_PROXIES=127.0.0.1/32,::1/128 \
	GATEWAY_SECURE_COOKIES=false

run: venv
	@$(PY) manage.py migrate --no-input -v 0
	@$(PY) manage.py collectstatic --no-input -v 0
	@$(DEMO_ENV) LOG_LEVEL=WARNING $(PY) manage.py demo_seed --dir $(CURDIR)/$(DEMO)
	@$(DEMO_ENV) GATEWAY_LOG_FORMAT=$${GATEWAY_LOG_FORMAT:-console} $(PY) manage.py runserver 127.0.0.1:8000

# Start the demo afresh: the embedded database, published files, publisher key and demo PKI.
reset:
	rm -rf var/gateway.sqlite3 var/publish var/publisher $(DEMO) var/otp var/verifier var/qr.png
	@echo "the demo is removed; make run seeds a new one"

# The suite on SQLite and on PostgreSQL with Redis and a real Celery worker, side by side, then the
# fault injection alone. The two runs share nothing (a database each, free ports, files per
# process) and each uses the other's idle time: the SQLite run computes, the PostgreSQL run mostly
# waits for the processes it starts (the stack, browsers, workers). --output-sync prints each
# run's output in one piece when it ends.
test: venv services lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres
	$(MAKE) --no-print-directory test-faults

services:
	scripts/ensure-services

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run -v 0
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

# Tests marked `postgres` need PostgreSQL and real worker processes; they run in test-postgres.
test-sqlite: venv
	$(VENV)/bin/pytest -q -p no:cacheprovider -m "not postgres and not e2e and not faults"

# Tests marked `no_db` use no database of the test run (the verifier, the pure PKI layer, files):
# they run the same on both engines, so only the SQLite run runs them.
# GATEWAY_TEST_DB names the PostgreSQL database (pytest-django tests in test_<name>): set it in
# the environment to keep two runs on one server apart.
GATEWAY_TEST_DB ?= gateway
TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/$(GATEWAY_TEST_DB)

test-postgres: venv
	DATABASE_URL=$(TEST_DATABASE_URL) GATEWAY_REQUIRE_SERVICES=1 $(VENV)/bin/pytest -q -p no:cacheprovider -m "not faults and not no_db"

# Fault injection against the production-like stack on private PostgreSQL and Redis instances,
# in its own pytest process so that restarting them cannot disturb the other tests.
test-faults: venv
	DATABASE_URL=$(TEST_DATABASE_URL) GATEWAY_REQUIRE_SERVICES=1 $(VENV)/bin/pytest -q -p no:cacheprovider -m faults

# Production-like: nginx (mutual TLS) -> gunicorn (unix socket) -> Django, Celery worker and beat,
# PostgreSQL, Redis. State in var/stack; `source var/stack/env` before manage.py commands.
stack-up: venv
	$(PY) scripts/stack.py up

stack-down:
	$(PY) scripts/stack.py down
