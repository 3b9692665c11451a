# Two commands on a fresh machine with Python >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

# hotpipe (with the test tools) and arcsearch, its own distribution kept in this repository
$(STAMP): pyproject.toml packages/arcsearch/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,daft,jax,retrieval]' -e packages/arcsearch
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py
	$(PY) -m arcsearch --split training --tasks 40 --workers 2

test: $(STAMP)
	bash scripts/install-chromium.sh
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

bench: $(STAMP)
	$(PY) -m pip install -q -r benchmarks/requirements-peers.txt
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
