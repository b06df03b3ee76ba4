# Everything installs into .venv/ from nothing but a Python 3.11+ interpreter.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

# Roles (pyproject.toml's extras): `make run` installs only what serving
# needs; tests, the demo and benchmarks install every role.
SERVE_EXTRAS := server,embedded
ALL_EXTRAS   := server,embedded,worker,models,test,dev
PIP          := $(BIN)/python -m pip
ORT_VERSION  := 1.31.1

.PHONY: install install-serve install-gpu constraints run test lint format migrate psql bench demo worker clean

install: $(VENV)/.installed-all
install-serve: $(VENV)/.installed-serve

# insightface requires the CPU onnxruntime, so pip brings it back whenever it
# installs the worker role. Where onnxruntime-gpu was chosen (install-gpu
# left $(VENV)/.gpu), take the CPU build out again and reinstall the GPU
# build over the files the two share: the two never stay side by side.
define keep_one_onnxruntime
	if [ -f $(VENV)/.gpu ]; then \
	  $(PIP) uninstall --quiet --yes onnxruntime 2>/dev/null || true; \
	  $(PIP) install --quiet --force-reinstall --no-deps -c constraints.txt onnxruntime-gpu==$(ORT_VERSION); \
	fi
endef

$(VENV)/.installed-serve: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[$(SERVE_EXTRAS)]'
	touch $@

# The many-hosts tests make network namespaces with `ip` (iproute2), which
# minimal Debian images lack.
$(VENV)/.installed-all: pyproject.toml constraints.txt
	command -v ip >/dev/null || { apt-get update -qq && apt-get install -y -qq iproute2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[$(ALL_EXTRAS)]'
	$(keep_one_onnxruntime)
	touch $@ $(VENV)/.installed-serve

install-gpu: install  ## onnxruntime-gpu instead of onnxruntime (same version; never both)
	touch $(VENV)/.gpu
	$(keep_one_onnxruntime)
	$(BIN)/python -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"

constraints:  ## Re-pin every indirect dependency from the installed environment
	{ echo "# Every package the project's roles install, pinned (pip install -c constraints.txt)."; \
	  echo "# Regenerate after changing pyproject.toml: make constraints"; \
	  $(PIP) freeze --exclude-editable | grep -v -e '^onnxruntime-gpu' | sort; } > constraints.txt

run: install-serve  ## Start Studio on the embedded database (or STUDIO_DATABASE_URL)
	$(BIN)/studio serve

test: install  ## Install everything and run the suite
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app worker tests bench demo
	$(BIN)/ruff format --check app worker tests bench demo

format: install
	$(BIN)/ruff check --fix app worker tests bench demo
	$(BIN)/ruff format app worker tests bench demo

migrate: install-serve
	$(BIN)/studio migrate

psql: install-serve  ## psql on Studio's database, started if need be
	$(BIN)/studio psql

bench: install  ## Benchmarks against their physical limits; writes docs/benchmarks.md
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/reject_bench.py
	$(BIN)/python bench/worker_bench.py
	$(BIN)/python bench/worker_hosts_bench.py
	$(BIN)/python bench/recognition_bench.py
	$(BIN)/python bench/million_bench.py  # 100k; --references 1000000 for the long run
	$(BIN)/python bench/detector_bench.py
	$(BIN)/python bench/recognition_quality.py
	$(BIN)/python bench/gallery_feed_bench.py

demo: install  ## Catalog -> sync -> job -> worker on CPU -> identities, from nothing
	$(BIN)/python demo/run_demo.py

clean:
	rm -rf $(VENV) .data .bench-data .demo-data .models
