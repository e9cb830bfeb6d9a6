# elm-snn: `make demo` (install + the main job) and `make test` (install + full test suite)
# work on a fresh clone; everything is installed into .venv.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.elm-snn-installed
PYTEST_ARGS ?=

.PHONY: install test demo bench mutants lint format docs clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/elm-snn demo

bench: install
	$(PY) benchmarks/run.py

# plant named bugs in a temporary copy and report which ones the tests catch (not in CI)
mutants: install
	OMP_NUM_THREADS=1 $(PY) benchmarks/mutants.py

lint: install
	$(VENV)/bin/ruff check elm_snn tests benchmarks
	$(VENV)/bin/ruff format --check elm_snn tests benchmarks

format: install
	$(VENV)/bin/ruff format elm_snn tests benchmarks
	$(VENV)/bin/ruff check --fix elm_snn tests benchmarks

docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site .pytest_cache
