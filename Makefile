# `make test` and `make demo` work from a fresh clone: they create .venv and install what they need.
# The Lambda runtime is python3.13, so the venv prefers it (pyenv's shim for 3.13 is not on PATH here).
PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.13.*/bin/python3) $(shell command -v python3.13 python3 2>/dev/null))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# The SAM CLI pins its own boto3/pydantic, so it lives in a venv of its own (pin: pyproject's `sam` extra).
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
SAM_PIN = $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["sam"][0])')
# sam build runs pip for python3.13: put that interpreter first on PATH.
SAM_PATH := $(dir $(PYTHON)):$(PATH)
PIP_QUIET := -q --disable-pip-version-check
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install sam lint typecheck test unit integration e2e demo bench build clean

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

install: $(STAMP)

sam: $(SAM_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/layer_requirements.py --check
	$(BIN)/python scripts/make_events.py --check
	$(BIN)/cfn-lint template.yaml

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install sam
	PATH="$(SAM_PATH)" TUMA_SAM=$(abspath $(SAM)) $(BIN)/pytest -q tests/e2e

test: lint typecheck sam
	PATH="$(SAM_PATH)" TUMA_SAM=$(abspath $(SAM)) $(BIN)/pytest -q tests

demo: install
	$(BIN)/tuma local demo

bench: install
	$(BIN)/python bench/outbox_batch.py

build: sam
	PATH="$(SAM_PATH)" $(SAM) validate --lint
	PATH="$(SAM_PATH)" $(SAM) build

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam .local
