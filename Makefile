# `make run` and `make test` set everything up on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
PORT   ?= 5000
CATALOGS := $(wildcard campaign/translations/*/LC_MESSAGES/messages.po)

.PHONY: run test setup db translations extract-messages update-messages lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

node_modules/axe-core/axe.min.js:
	npm install --no-save --no-audit --no-fund --silent axe-core@4 vnu-jar

translations: $(VENV)/.installed
	@if [ -n "$(CATALOGS)" ]; then $(VENV)/bin/pybabel compile -f -d campaign/translations >/dev/null; fi

setup: $(VENV)/.installed translations

db: setup
	$(FLASK) db upgrade
	$(FLASK) content load

# The dev server plus a mail worker that prints mail to the console. Links in mail
# point at this port unless BASE_URL is set (in the environment or .env). Without an
# ORGANIZER_PUBLIC_KEY, a development organizer key pair is made in instance/ (issue 23).
run: db
	@echo "Serving http://127.0.0.1:$(PORT) (mail is printed here)"
	@trap 'kill 0' INT TERM EXIT; \
	if [ -z "$$BASE_URL" ] && ! grep -qs '^BASE_URL=' .env; then \
	  export BASE_URL=http://127.0.0.1:$(PORT); fi; \
	if [ -z "$$ORGANIZER_PUBLIC_KEY" ] && ! grep -qs '^ORGANIZER_PUBLIC_KEY=' .env; then \
	  test -f instance/organizer-private.key || $(FLASK) keys organizer-keygen --dev; \
	  export ORGANIZER_PUBLIC_KEY=$$(cat instance/organizer-public.key); \
	  echo "WARNING: development organizer key (issue 23): its private half is in"; \
	  echo "instance/organizer-private.key, where the app can read it. Never for real signers."; fi; \
	$(FLASK) mail work & \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# The W3C Nu HTML checker (tests/test_html_valid.py runs it; needs java).
node_modules/vnu-jar/build/dist/vnu.jar:
	npm install --no-save --no-audit --no-fund --silent axe-core@4 vnu-jar

# The suite on PostgreSQL and Redis running locally (127.0.0.1:5432 and :6379;
# tests/testdb.py makes and drops its own database). TEST_DATABASE_URL= (empty) runs
# the SQLite half. TEST_WORKERS processes share the tests
# (pytest-xdist, each on its own database copy); TEST_WORKERS=0 runs them in this process.
# System packages are installed first (.ci/system-packages: apt-get as root, else the one
# command to run); a service that does not answer stops the run with the command that
# starts it (.ci/test-services). Nothing skips: CI_REQUIRE_ALL=1 fails a would-be skip.
TEST_WORKERS ?= auto
# TEST_DATABASE_URL set but empty: the SQLite half, without the PostgreSQL-only tests.
SQLITE_ONLY := $(if $(filter environment command,$(origin TEST_DATABASE_URL)),$(if $(TEST_DATABASE_URL),,-m "not postgres"))
test: setup node_modules/axe-core/axe.min.js node_modules/vnu-jar/build/dist/vnu.jar
	.ci/system-packages
	.ci/test-services
	CI_REQUIRE_ALL=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(SQLITE_ONLY) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r campaign

bench: setup
	$(PY) bench/run.py
	$(PY) bench/sealing.py

extract-messages: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location -o campaign/translations/messages.pot .

update-messages: extract-messages
	$(VENV)/bin/pybabel update -i campaign/translations/messages.pot -d campaign/translations

clean:
	rm -rf $(VENV) node_modules instance/*.db*
