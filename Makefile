# pairchat developer entry points. `make dev` runs the product, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: `make dev` needs only the local stack's packages; `make test` everything.
LOCAL_STAMP := $(VENV)/.installed-local
STAMP := $(VENV)/.installed
LOCAL_EXTRAS := local,ops,auth

.PHONY: dev test lint typecheck pytest pytest-redis pytest-valkey bench clean system-deps

$(LOCAL_STAMP): pyproject.toml
	@PYTHON=$(PYTHON) bash infra/scripts/venv.sh $(LOCAL_EXTRAS) $(LOCAL_STAMP)

# .[dev] includes the local stack's extras, so it satisfies `make dev` too.
$(STAMP): pyproject.toml
	@PYTHON=$(PYTHON) bash infra/scripts/venv.sh dev $(STAMP) $(LOCAL_STAMP)

## Run the whole product locally: API Gateway emulator, Redis, chat page.
dev: $(LOCAL_STAMP)
	@$(VENV)/bin/pairchat dev $(DEV_ARGS)

## Everything CI checks, from a fresh clone: after the installs, lint, typecheck and
## pytest-redis in the foreground while template-check then pytest-valkey run in the
## background, their logs printed at the end (infra/scripts/test.sh says why).
test: $(STAMP) system-deps
	@bash infra/scripts/test.sh

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
## handlers, ops API, the 3-node cluster) again on Valkey, the engine ElastiCache Serverless
## runs. Not again on Valkey: what does not touch the engine (integration/template: the
## template against the code) and the dashboard's browser tests (marked e2e; the ops API they
## chart is tested on Valkey in ops/test_api*.py). The randomized state machine
## (domain/test_service_stateful.py) runs 50 examples on Redis, 20 on Valkey: that pass is
## there to catch where the engines differ, which every example's thousands of script calls
## would show, not to search the operations again.
## xdist workers: 3 on Redis although CI has 2 cores, because its tests mostly wait (for
## servers, browsers, timers: 2 workers kept under one core busy); 2 on Valkey, which runs
## alongside it. Tests of one xdist_group mark (a browser, a dev stack, the cluster) share a
## worker and its setup.
PYTEST_WORKERS ?= 3
VALKEY_WORKERS ?= 2
VALKEY_STATEFUL_EXAMPLES ?= 20
pytest: pytest-redis pytest-valkey

pytest-redis: $(STAMP)
	@echo "==> pytest on Redis: unit, integration (private servers, a 3-node cluster), e2e (pairchat dev, headless Chromium)"
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

pytest-valkey: $(STAMP)
	@echo "==> pytest on Valkey: the integration tier again, without the template and browser tests ($(VALKEY_STATEFUL_EXAMPLES) state machine examples)"
	PAIRCHAT_TEST_ENGINE=valkey PAIRCHAT_STATEFUL_EXAMPLES=$(VALKEY_STATEFUL_EXAMPLES) \
	  $(PY) -m pytest -n $(VALKEY_WORKERS) --dist loadgroup tests/integration \
	  --ignore=tests/integration/template -m "not e2e"

## Benchmarks, a few minutes, not part of `make test`: a table on stdout,
## bench/results/latest.json and latest.png (docs/performance.md).
bench: $(STAMP) system-deps
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .pytest_cache .mypy_cache .ruff_cache .aws-sam
