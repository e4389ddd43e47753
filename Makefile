# The two commands: `make run` (the demo) and `make test` (the whole suite). Both set up .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck format requirements clean

NPM_STAMP := node_modules/.installed

$(STAMP): requirements/base.txt requirements/dev.txt $(NPM_STAMP)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --python $(PY) --quiet -r requirements/dev.txt
	@touch $(STAMP)

# Front-end libraries (lightweight-charts) from the npm registry into node_modules/ (ignored);
# no lock file is written: package.json pins exact versions.
$(NPM_STAMP): package.json
	npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m standx_web.launcher run

test: $(STAMP)
	$(PY) -m standx_web.launcher test $(PYTEST_ARGS)

lint: typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The django-stubs plugin imports the settings; give it values that start no servers.
typecheck: $(STAMP)
	DEBUG=1 DATABASE_URL=postgres://localhost/typecheck REDIS_URL=redis://localhost:6379/0 \
		$(VENV)/bin/mypy .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-pin after editing pyproject.toml.
requirements: $(STAMP)
	$(VENV)/bin/uv pip compile --quiet --no-header --python-version 3.11 pyproject.toml -o requirements/base.txt
	$(VENV)/bin/uv pip compile --quiet --no-header --python-version 3.11 --extra dev pyproject.toml -o requirements/dev.txt

clean:
	rm -rf var/staticfiles var/celerybeat-schedule* node_modules
