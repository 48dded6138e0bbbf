# pairchat developer entry points. `make dev` runs the product, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck pytest bench clean system-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Run the whole product locally: API Gateway emulator, Redis, chat page.
dev: $(STAMP)
	$(VENV)/bin/pairchat dev

## Everything CI checks, from a fresh clone.
test: $(STAMP) system-deps lint typecheck pytest

system-deps:
	bash infra/scripts/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check functions tests
	$(VENV)/bin/ruff format --check functions tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
