# One-command entry points. The virtualenv lives in .venv; stamps skip installs already done.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test bench lint clean-data

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml $(VENV)/bin/activate
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed  ## start database (embedded unless DATABASE_URL), worker and dashboard
	$(PY) -m core.cli up

test: $(VENV)/.installed-dev  ## the whole suite on a real (embedded) PostgreSQL
	$(PY) -m tests.browser_setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev  ## benchmarks; prints ratios measured in the same run
	$(PY) -m bench

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

clean-data:  ## remove the embedded database and generated key (irreversible)
	rm -rf .loglytics
