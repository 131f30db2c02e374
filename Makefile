# `make test` and `make demo` work from a fresh clone: they create .venv and install what they need.
# The Lambda runtime is python3.13, so the venv prefers it; scripts/find_python.sh says which Python that is here.
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell sh scripts/find_python.sh)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# The SAM CLI pins its own boto3/pydantic, so it lives in a venv of its own (pin: pyproject's `sam` extra).
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
EXTRA_PIN = $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["$(1)"][0])')
SAM_PIN = $(call EXTRA_PIN,sam)
# checkov (the CloudFormation security scanner) pins its own libraries too: a third venv.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
CHECKOV_PIN = $(call EXTRA_PIN,checkov)
# Coverage of the layer and the CLI by the in-process tests; the floor is the figure reached, rounded down.
# sys.monitoring (COVERAGE_CORE=sysmon) keeps the tracing cost low; the tests run on both cores, a
# file per worker (most of their time is spent waiting on moto, the simulator and subprocesses).
COVERAGE = --cov=tuma --cov=tuma_cli --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)
# sam build runs pip for python3.13: put that interpreter first on PATH.
SAM_PATH := $(dir $(PYTHON)):$(PATH)
PIP_QUIET := -q --disable-pip-version-check
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

COVERAGE_FLOOR ?= 75

.PHONY: install sam browser setup lint typecheck test unit integration e2e demo bench bench-first-day build clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) with $$($(BIN)/python --version)"
	@$(BIN)/python -m pip install $(PIP_QUIET) -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -c "import tuma, tuma_cli, moto" # fail here, loudly, if the install did not work
	@rm -f $(VENV)/.installed-* && touch $@

$(SAM_STAMP): pyproject.toml
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@echo "installing $(SAM_PIN) into $(SAM_VENV)"
	@$(SAM_VENV)/bin/python -m pip install $(PIP_QUIET) '$(SAM_PIN)' 2>&1 | grep -v "is ignored" || true
	@$(SAM) --version
	@rm -f $(SAM_VENV)/.installed-* && touch $@

$(CHECKOV_STAMP): pyproject.toml
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@echo "installing $(CHECKOV_PIN) into $(CHECKOV_VENV)"
	@$(CHECKOV_VENV)/bin/python -m pip install $(PIP_QUIET) '$(CHECKOV_PIN)' 2>&1 | grep -v "is ignored" || true
	@$(CHECKOV) --version
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

install: $(STAMP)

sam: $(SAM_STAMP)

lint: install $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/layer_requirements.py --check
	$(BIN)/python scripts/make_events.py --check
	$(BIN)/openapi-spec-validator docs/openapi.json
	$(BIN)/cfn-lint template.yaml
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f template.yaml

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install sam browser
	PATH="$(SAM_PATH)" TUMA_SAM=$(abspath $(SAM)) $(BIN)/pytest -q tests/e2e

browser:
	@sh scripts/apt_install.sh chromium

# The three venvs and the browser do not depend on one another: on a fresh machine (CI) they are
# installed side by side, which saves minutes of waiting on one download at a time.
setup:
	@$(MAKE) --no-print-directory -j4 $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) browser

test: setup lint typecheck sam browser
	PATH="$(SAM_PATH)" TUMA_SAM=$(abspath $(SAM)) COVERAGE_CORE=sysmon $(BIN)/pytest -q --durations=15 -n 2 --dist loadfile $(COVERAGE) tests

demo: install
	$(BIN)/tuma local demo

# Figures, not tests: each prints its baseline measured in the same run. Run on an idle machine.
bench: install
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/outbox_batch.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/cold_start.py
	@sh scripts/apt_install.sh valgrind
	$(BIN)/python bench/cold_start.py --instructions
	$(BIN)/python bench/bytecode.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/signed_requests.py

# A new engineer's first steps on a fresh clone, timed (docs/first-day.md): about two minutes.
bench-first-day: install
	$(BIN)/python bench/first_day.py

build: sam
	@test -f samconfig.toml || cp samconfig.example.toml samconfig.toml
	PATH="$(SAM_PATH)" $(SAM) validate --lint
	PATH="$(SAM_PATH)" $(SAM) build

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .coverage .pytest_cache .mypy_cache .ruff_cache .aws-sam .local
