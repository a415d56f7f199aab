# `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format docs docs-check clean certify

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
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

# Render every page (the home page, the user guide, the gallery, ...; not the
# search and index pages) with headless Chromium (Debian's package, installed
# when missing) into docs/_build/render/, and fail on a blank page, a missing
# image, text past the content column or a table clipped by it.
RENDERED = $$(cd docs/_build/check-html && find . -name '*.html' ! -name search.html \
	! -name genindex.html ! -path './_*' | sed 's|^\./||' | sort)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

docs-check: docs
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium >/dev/null)
	SKTORCH_LINEAR_RENDER_CHECK=1 $(PY) -m sphinx -W --keep-going -q -b html \
		docs docs/_build/check-html
	$(PY) docs/check_render.py docs/_build/check-html docs/_build/render $(RENDERED)

# The whole certification matrix (tests/certify, ~15 min on 2 cores; make test
# runs its fast slice), then its summary tables written into README.md and
# docs/user_guide.rst.
MATRIX_OUT ?= /tmp/sktorch-linear-matrix.jsonl

certify: $(STAMP)
	SKTORCH_LINEAR_MATRIX=full SKTORCH_LINEAR_MATRIX_OUT=$(MATRIX_OUT) \
		$(PY) -m pytest -q tests/test_certification.py
	cd tests && ../$(PY) -m certify $(MATRIX_OUT)

# Benchmarks (benchmarks/README.md): `make bench` installs the plotting extra and
# runs the full suite (~37 min); `make bench-quick` is the CI smoke run
# (~4.5 min, plots only if matplotlib is present). Pass options with
# BENCH_ARGS, e.g. `make bench BENCH_ARGS="--device cuda"`.
.PHONY: bench bench-quick

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[benchmarks]"
	$(PY) -m benchmarks.run $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(PY) -m benchmarks.run --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) docs/_build docs/generated docs/auto_examples .pytest_cache .ruff_cache
