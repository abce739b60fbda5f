# kanbert-async — every target creates .venv on first use; nothing relies on hand-installed tools.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup generate check lint typecheck test demo bench spec-download prism clean

# Stoplight Prism, the mock server the contract tests run against: pinned, installed from npm into
# .prism/ (git-ignored) once; later runs find the stamp and do nothing.
PRISM_VERSION := 5.16.0
PRISM_STAMP   := .prism/.installed-$(PRISM_VERSION)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

# `make generate SPEC=path/to/openapi.json` generates from another description (OVERLAY=... too).
generate: $(STAMP)
	$(PY) -m codegen $(if $(SPEC),--spec $(SPEC)) $(if $(OVERLAY),--overlay $(OVERLAY))

check: $(STAMP)
	$(PY) -m codegen --check

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check kanbert_async codegen tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict kanbert_async

$(PRISM_STAMP):
	rm -rf .prism && mkdir -p .prism
	npm install --prefix .prism --no-audit --no-fund --loglevel=error @stoplight/prism-cli@$(PRISM_VERSION)
	touch $(PRISM_STAMP)

prism: $(PRISM_STAMP)

test: check lint typecheck prism
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(VENV)/bin/kanbert-async demo

bench: $(STAMP)
	$(PY) -m bench

spec-download: $(STAMP)
	$(PY) -m codegen.download

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .prism
