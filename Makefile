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
	$(VENV)/bin/pairchat dev $(DEV_ARGS)

## Everything CI checks, from a fresh clone.
test: $(STAMP) system-deps lint typecheck template-check pytest

system-deps:
	bash infra/scripts/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check functions tools tests bench
	$(VENV)/bin/ruff format --check functions tools tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## template.yaml offline: cfn-lint (no warnings), checkov (no failed check), sam validate --lint, sam build, Lua in the artifact.
## aws-sam-cli lives in its own .venv-sam (it pins its own boto3); cached by a stamp file.
.PHONY: template-check
template-check:
	bash infra/scripts/template-check.sh

## Every tier on Redis (Debian's redis-server), then the integration tier (Lua, domain,
## handlers, ops, the 3-node cluster) again on Valkey, the engine ElastiCache Serverless runs.
pytest: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup
	PAIRCHAT_TEST_ENGINE=valkey $(PY) -m pytest -n 2 --dist loadgroup tests/integration

## Benchmarks, a few minutes, not part of `make test`: a table on stdout,
## bench/results/latest.json and latest.png (docs/performance.md).
bench: $(STAMP) system-deps
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .pytest_cache .mypy_cache .ruff_cache .aws-sam
