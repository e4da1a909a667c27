# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Both create ./.venv on first use and reuse it; it is reinstalled when requirements.txt changes.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test venv lint format bench clean

run: $(STAMP)
	$(VENV_PY) -m devstack run

test: $(STAMP)
	$(VENV_PY) -m devstack test $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): requirements.txt requirements/controlplane.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --upgrade pip
	$(VENV_PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(VENV_PY) -m bench

clean:
	rm -rf .run staticfiles
