# kanbert-async — every target creates .venv on first use; nothing relies on hand-installed tools.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup generate check lint typecheck test test-lowest demo bench spec-download prism clean

# Stoplight Prism, the mock server the contract tests run against: pinned, installed from npm into
# .prism/ (git-ignored) once; later runs find the stamp and do nothing.
PRISM_VERSION := 5.16.0
PRISM_STAMP   := .prism/.installed-$(PRISM_VERSION)

# pip >= 25.1 reads [dependency-groups] (--group); the upgrade brings a fresh venv's pip there.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=25.1'
	$(PY) -m pip install --quiet -e . --group dev --group bench
	touch $(STAMP)

# The lowest versions pyproject.toml allows: every direct runtime dependency at its floor
# (transitive ones as uv resolves them), the package built with the lowest setuptools allowed,
# the test tools (group "test") at their newest that keep those floors.
LOWEST       := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed
LOWEST_PY    := $(LOWEST)/bin/python
UV           := $(VENV)/bin/uv
# The core, the sandbox, both clients on it and the pytest plugin; codegen (and the sandbox's check
# against it), mypy, the export, the schemathesis run and the rate limiter's conformance matrices
# (pure timing logic, in virtual and real time, and against slowapi; its rules stay in) run with the
# newest versions only.
LOWEST_TESTS := tests/core tests/sandbox tests/clients tests/test_pytest_plugin.py \
	--ignore=tests/sandbox/test_schemathesis.py --ignore=tests/sandbox/test_description.py \
	--ignore=tests/core/filters/test_typed_parameters.py \
	--ignore=tests/core/ratelimit/test_conformance.py --ignore=tests/core/ratelimit/test_against_the_sandbox.py

$(LOWEST_STAMP): pyproject.toml $(STAMP)
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python $(PYTHON) $(LOWEST)
	$(UV) pip compile --quiet --resolution lowest-direct --python $(LOWEST_PY) pyproject.toml \
		-o $(LOWEST)/runtime.txt
	$(PY) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], \
		sep='\n')" | $(UV) pip compile --quiet --resolution lowest --python $(LOWEST_PY) - -o $(LOWEST)/build.txt
	$(UV) pip install --quiet --python $(LOWEST_PY) -r $(LOWEST)/runtime.txt
	$(UV) pip install --quiet --python $(LOWEST_PY) --no-deps --build-constraints $(LOWEST)/build.txt -e .
	$(UV) pip install --quiet --python $(LOWEST_PY) -c $(LOWEST)/runtime.txt --group test
	touch $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP)
	@grep -E '^(aiohttp|msgspec|yarl|multidict|anyio)==' $(LOWEST)/runtime.txt | tr '\n' ' '; echo
	$(LOWEST_PY) -m pytest -p no:cacheprovider $(LOWEST_TESTS)

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
	$(MAKE) --no-print-directory test-lowest

demo: $(STAMP)
	$(VENV)/bin/kanbert-async demo

bench: $(STAMP)
	$(PY) -m bench

spec-download: $(STAMP)
	$(PY) -m codegen.download

clean:
	rm -rf $(VENV) $(LOWEST) .mypy_cache .pytest_cache .ruff_cache .prism
