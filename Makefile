# kanbert-async — every target creates .venv on first use; nothing relies on hand-installed tools.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup generate check lint typecheck test demo bench spec-download clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

generate: $(STAMP)
	$(PY) -m codegen

check: $(STAMP)
	$(PY) -m codegen --check

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check kanbert_async codegen tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict kanbert_async

test: check lint typecheck
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(VENV)/bin/kanbert-async demo

bench: $(STAMP)
	$(PY) -m bench

spec-download: $(STAMP)
	$(PY) -m codegen.download

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
