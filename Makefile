# pairchat developer entry points. `make dev` runs the product, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: `make dev` needs only the local stack's packages; `make test` everything.
LOCAL_STAMP := $(VENV)/.installed-local
STAMP := $(VENV)/.installed
LOCAL_EXTRAS := local,ops,auth

.PHONY: dev test lint typecheck pytest bench clean system-deps

$(LOCAL_STAMP): pyproject.toml
	@PYTHON=$(PYTHON) bash infra/scripts/venv.sh $(LOCAL_EXTRAS) $(LOCAL_STAMP)

# .[dev] includes the local stack's extras, so it satisfies `make dev` too.
$(STAMP): pyproject.toml
	@PYTHON=$(PYTHON) bash infra/scripts/venv.sh dev $(STAMP) $(LOCAL_STAMP)

## Run the whole product locally: API Gateway emulator, Redis, chat page.
dev: $(LOCAL_STAMP)
	@$(VENV)/bin/pairchat dev $(DEV_ARGS)

## Everything CI checks, from a fresh clone.
test: $(STAMP) system-deps lint typecheck template-check pytest

system-deps:
	@bash infra/scripts/system-deps.sh

lint: $(STAMP)
	@echo "==> ruff (lint and format check)"
	@$(VENV)/bin/ruff check functions tools tests bench
	@$(VENV)/bin/ruff format --check functions tools tests bench

typecheck: $(STAMP)
	@echo "==> mypy --strict"
	@$(VENV)/bin/mypy

## template.yaml offline: cfn-lint (no warnings), checkov (no failed check), sam validate --lint, sam build, Lua in the artifact.
## aws-sam-cli lives in its own .venv-sam (it pins its own boto3); cached by a stamp file.
.PHONY: template-check
template-check:
	@bash infra/scripts/template-check.sh

## Every tier on Redis (Debian's redis-server), then the integration tier (Lua, domain,
## handlers, ops, the 3-node cluster) again on Valkey, the engine ElastiCache Serverless runs.
pytest: $(STAMP)
	@echo "==> pytest on Redis: unit, integration (private servers, a 3-node cluster), e2e (pairchat dev, headless Chromium)"
	$(PY) -m pytest -n 2 --dist loadgroup
	@echo "==> pytest on Valkey: the integration tier again"
	PAIRCHAT_TEST_ENGINE=valkey $(PY) -m pytest -n 2 --dist loadgroup tests/integration

## Benchmarks, a few minutes, not part of `make test`: a table on stdout,
## bench/results/latest.json and latest.png (docs/performance.md).
bench: $(STAMP) system-deps
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .pytest_cache .mypy_cache .ruff_cache .aws-sam
