# Two commands matter: `make run` and `make test`. Both create or refresh .venv first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Keep every tool's state inside the repo, never in the user's home.
export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(BIN)/python
export JUPYTER_CONFIG_DIR := $(CURDIR)/build/jupyter/config
export JUPYTER_DATA_DIR := $(CURDIR)/build/jupyter/data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/build/jupyter/runtime
export IPYTHONDIR := $(CURDIR)/build/jupyter/ipython
export MPLCONFIGDIR := $(CURDIR)/build/matplotlib
export GX_ANALYTICS_ENABLED := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SAMPLE := build/sample/orders.json
LAKE ?= lake

NODE_STAMP := node_modules/.installed
ENV ?= dev

.PHONY: help venv node tools browser run test lint format lab deploy destroy clean

help:
	@echo "make run   - set up .venv and run the pipeline on the bundled sample into ./$(LAKE)"
	@echo "make test  - set up .venv and run the test suite"
	@echo "make lint  - ruff check + format check"
	@echo "make lab   - JupyterLab on the project kernel"
	@echo "make deploy ENV=dev [ARGS=--endpoint-url URL] - export and deploy the stacks"

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Node tools for the tests (asl-validator), from the committed lock file.
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# checkov lives in its own venv (its dependencies clash with .venv); set up here, not mid-test.
CHECKOV_STAMP := build/tools/checkov/.installed
tools: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): requirements-infra.txt
	scripts/checkov.sh --version

run: venv
	$(BIN)/etl sample --out build/sample
	$(BIN)/etl run $(SAMPLE) --lake $(LAKE)
	$(BIN)/etl query --lake $(LAKE) \
	  "SELECT region_name, amount_category, sum(orders) AS orders, round(sum(total_sales), 2) AS total_sales FROM etl_pipeline.daily_sales GROUP BY ALL ORDER BY ALL"

# Headless Chromium (Debian's package) for the run report's browser tests. Installed when
# missing and we are root (CI, containers); elsewhere those tests say how to get it.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: no chromium (apt-get install chromium); the report's browser tests skip (fail under CI)"

test: venv node tools browser
	@mkdir -p $(IPYTHONDIR)  # IPython warns when its folder's parent is missing
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Jupyter refuses to run as root without --allow-root (containers often run as root); a
# machine with no display gets no browser, only the URL with its token that jupyter prints.
USER_ID ?= $(shell id -u)
HEADLESS = $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,yes)
LAB_FLAGS = --notebook-dir=notebooks $(if $(filter 0,$(USER_ID)),--allow-root) \
	$(if $(HEADLESS),--no-browser)

lab: venv
	$(BIN)/etl notebook kernel
	@echo "JupyterLab: open the http://localhost:8888/lab?token=... address printed below"
	$(BIN)/jupyter lab $(LAB_FLAGS)

# Deploy to AWS (or a local emulator: make deploy ENV=dev ARGS="--endpoint-url http://127.0.0.1:5000").
deploy: venv
	scripts/deploy.sh $(ENV) $(ARGS)

destroy: venv
	scripts/destroy.sh $(ENV) $(ARGS)

clean:
	rm -rf build lake .pytest_cache .ruff_cache
