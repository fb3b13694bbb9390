# Two commands matter: `make run` (the whole stack, locally) and `make test` (the suite).
# Everything installs into .venv; PostgreSQL is embedded (pgserver) unless SYMPHONICS_PG_URL is set.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export PYTHONPATH := $(CURDIR)

.DEFAULT_GOAL := help
.PHONY: help install run stop status airflow test unit lint lock bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found %d.%d): install python3.11 and run make again, or set PYTHON=python3.11" % sys.version_info[:2])'
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "error: '$(PYTHON) -m venv' failed: install your system's venv package (Debian/Ubuntu: apt-get install python3-venv) and run make again" >&2; exit 1; }; }
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip sync --quiet requirements.lock
	@touch $@

install: $(VENV)/.installed ## create .venv and install the locked dependencies

run: install ## run the pipeline locally: PostgreSQL, sandbox, Airflow UI on :8080 (Ctrl-C stops all)
	$(PY) -m include.symphonics_devstack run

stop: ## stop what `make run` started (Airflow first, then PostgreSQL)
	@test -x $(PY) && $(PY) -m include.symphonics_devstack stop || true

status: install ## show what `make run` has running
	$(PY) -m include.symphonics_devstack status

airflow: install ## Airflow's CLI against `make run`'s stack, from another shell: make airflow ARGS="dags list"
	@$(PY) -m include.symphonics_devstack airflow $(ARGS)

test: install ## run the test suite (own embedded PostgreSQL, own AIRFLOW_HOME)
	$(PY) -m pytest

unit: install ## the unit lane only: no PostgreSQL, no Airflow database, no server (seconds)
	$(PY) -m pytest -m "not integration"

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

lock: ## re-resolve requirements.txt into requirements.lock
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet uv==0.13.9; }
	$(UV) pip compile --quiet --python-version 3.11 requirements.txt -o requirements.lock

bench: install ## print the benchmark figures
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: stop ## remove the local state (.local: databases, Airflow home, logs)
	rm -rf .local
