# The two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ROWS ?= 200000
SEED ?= 42
UI_PORT ?= 3000

export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

MLFLOW_PORT ?= 5000

BENCH_ROWS := $(if $(filter command line environment,$(origin ROWS)),$(ROWS),200000,1000000)
REPEATS ?= 3

DASHBOARD_PORT ?=

.PHONY: install data run test chromium lint typecheck fmt ui mlflow dashboard bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## the Dagster instance, created once here (its SQLite schema too) so that two first runs
## cannot race to create it
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml | install
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@
	$(BIN)/dagster instance migrate > /dev/null

## data: write the default generated export into data/raw when it holds no export yet
data: install
	$(BIN)/ecom generate --rows $(ROWS) --seed $(SEED) --if-empty

## run: set up, prepare the default data, and materialise the whole graph
run: data $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster job execute -m ecom_assets -j ecommerce_pipeline

## test: set up, then lint, type-check and run the whole test suite
test: install chromium lint typecheck
	$(BIN)/pytest

## chromium: the browser tests' /usr/bin/chromium, installed with apt-get where this user can
chromium:
	@.ci/install-chromium

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## ui: the Dagster UI (webserver and daemon) on the workspace, http://127.0.0.1:$(UI_PORT)
ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

## mlflow: the MLflow UI on the local tracking store, http://127.0.0.1:$(MLFLOW_PORT)
mlflow: install
	mkdir -p data/mlflow
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/data/mlflow/mlflow.db \
		--default-artifact-root $(CURDIR)/data/mlflow/artifacts -h 127.0.0.1 -p $(MLFLOW_PORT)

## dashboard: the browser dashboard on the lake's latest tables (prints its URL;
## DASHBOARD_PORT= to pick the port)
dashboard: install
	$(BIN)/ecom dashboard $(if $(DASHBOARD_PORT),--port $(DASHBOARD_PORT))

## bench: the whole graph through Dagster per size (ROWS=200000,1000000 by default), medians of
## REPEATS runs plus the incremental load of a 0.5% daily file (BENCH_FLAGS=--no-incremental skips
## it), written to bench/results.md and bench/scaling.png
bench: install
	$(BIN)/python bench/run.py --rows $(BENCH_ROWS) --repeats $(REPEATS) $(BENCH_FLAGS)

clean:
	rm -rf data/lake data/mlflow data/dagster_home
