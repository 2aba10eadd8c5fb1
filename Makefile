# Everything a fresh machine needs, behind two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-workspace
PORT ?= 8888
# Jupyter refuses to run as root unless told to (containers, CI machines).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup system-deps demo demo-headless test test-fast lint bench binder-check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Chromium for the browser tests, SLURM for the cluster tests (Debian packages; needs root).
system-deps:
	bash .ci/system-deps.sh

# The main job: JupyterLab on the demo notebook, with the live panel beside it.
demo: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser $(ALLOW_ROOT) \
		--ServerApp.root_dir=$(CURDIR) notebooks/design_experiment.ipynb

# The same workflow without a browser: execute the demo notebook and print the log it wrote.
demo-headless: setup
	$(BIN)/python -m designlog_magics.demo run --workspace $(DEMO_DIR)

test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

test-fast: setup
	$(BIN)/python -m pytest -n auto -m "not browser and not slurm"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/run.py

binder-check: setup
	$(BIN)/python -m pytest tests/test_binder.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist *.egg-info tests/artifacts benchmarks/data
