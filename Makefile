# `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format docs clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sktorch_linear demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docs: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[docs]"
	$(PY) -m sphinx -W -b html docs docs/_build/html

# Benchmarks (benchmarks/README.md): `make bench` installs the plotting extra and
# runs the full suite (~15-20 min); `make bench-quick` is the CI smoke run
# (< 3 min, plots only if matplotlib is present). Pass options with
# BENCH_ARGS, e.g. `make bench BENCH_ARGS="--device cuda"`.
.PHONY: bench bench-quick

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[benchmarks]"
	$(PY) -m benchmarks.run $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(PY) -m benchmarks.run --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) docs/_build docs/generated docs/auto_examples .pytest_cache .ruff_cache
