# The README's commands. Each target creates .venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
KERNEL := lc-analytics

.PHONY: demo test lint lab serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,sandbox]'
	# A kernel registered inside the venv, so papermill and nbval always find it.
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "lc-analytics (.venv)" >/dev/null
	touch $(STAMP)

demo: $(STAMP)  ## run the main job on the built-in sandbox
	$(VENV)/bin/lc-analytics demo

test: $(STAMP)  ## run the test suite
	$(PY) -m pytest -n auto

lint: $(STAMP)  ## ruff on the code (notebooks included), tests and benchmarks; mypy with zero errors
	$(VENV)/bin/ruff check lc_analytics tests bench
	$(VENV)/bin/mypy lc_analytics

lab: $(STAMP)  ## JupyterLab on lc_analytics/notebooks/, reading the demo warehouse
	@test -f data/demo.duckdb || $(VENV)/bin/lc-analytics demo
	@# migrate the demo warehouse if this lc-analytics is newer (notebooks open it read-only)
	@$(PY) -c 'from lc_analytics.warehouse import Warehouse; Warehouse("data/demo.duckdb")'
	LC_ANALYTICS_DB=$(CURDIR)/data/demo.duckdb $(VENV)/bin/jupyter lab \
	  --ServerApp.root_dir=lc_analytics/notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

serve: $(STAMP)  ## serve the emulated Cloudflare API + R2 on loopback
	$(VENV)/bin/lc-analytics sandbox serve

.PHONY: bench
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,sandbox,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## run the benchmarks (medium sandbox; bench/RESULTS.md records them)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache data
