# The two commands of the README, and the checks behind them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e up bench clean

# The virtual environment is rebuilt whenever the project's dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,clickhouse,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tidings demo

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q -p no:cacheprovider

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration -q -p no:cacheprovider

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -q -p no:cacheprovider

# The shop as processes on PostgreSQL (payments on MariaDB) with RabbitMQ; Ctrl-C stops it.
up: $(STAMP)
	$(BIN)/tidings up --system shop --backend postgres --broker rabbitmq

# A test that fails is run again once and reported as rerun ("R"): on a loaded two-core
# machine a timing-bound integration test can miss its window; a real fault fails twice.
test: lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider --reruns 1 -rR

bench: $(STAMP)
	$(BIN)/tidings bench relay --broker rabbitmq --json
	$(BIN)/tidings bench relay --broker nats --json
	$(BIN)/tidings bench eventstore --json
	$(BIN)/tidings bench saga --broker rabbitmq --json
	$(BIN)/tidings bench saga --broker nats --json

clean:
	rm -rf $(VENV) .tidings .mypy_cache .ruff_cache
