# Everything installs into .venv/ from nothing but a Python 3.11+ interpreter.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install install-gpu run test lint format migrate psql bench demo worker clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install-gpu: install  ## Swap onnxruntime for onnxruntime-gpu (same version; never both)
	$(BIN)/python -m pip uninstall --quiet --yes onnxruntime
	$(BIN)/python -m pip install --quiet -e '.[gpu]'

run: install  ## Start Studio on the embedded database (or STUDIO_DATABASE_URL)
	$(BIN)/studio serve

test: install  ## Install everything and run the suite
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app worker tests bench demo
	$(BIN)/ruff format --check app worker tests bench demo

format: install
	$(BIN)/ruff check --fix app worker tests bench demo
	$(BIN)/ruff format app worker tests bench demo

migrate: install
	$(BIN)/studio migrate

psql: install  ## psql on Studio's database, started if need be
	$(BIN)/studio psql

bench: install  ## Benchmarks against their physical limits; writes docs/benchmarks.md
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/worker_bench.py
	$(BIN)/python bench/recognition_bench.py

demo: install  ## Catalog -> sync -> job -> worker on CPU -> identities, from nothing
	$(BIN)/python demo/run_demo.py

clean:
	rm -rf $(VENV) .data .bench-data .demo-data .models
