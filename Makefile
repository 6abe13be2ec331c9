# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint typecheck example-test wheel-check bench bench-throughput bench-scale clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]' -e ./client
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	mkdir -p var
	$(BIN)/dicom-resolver serve

test: $(STAMP_TEST)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# mypy's settings and files (service/, dicom_resolver_testing/) are in pyproject.toml.
lint: $(STAMP_TEST)
	$(BIN)/ruff check service tests bench client dicom_resolver_testing examples
	$(BIN)/mypy

# The client distribution is type-checked strictly (its own mypy settings).
typecheck: $(STAMP_TEST)
	$(BIN)/mypy --config-file client/pyproject.toml client/dicom_resolver_client

# The worked example (examples/consumer), exactly as a consuming project runs it: its own
# venv, the client and dicom-resolver[testing] installed from this repository, its tests.
EXAMPLE := examples/consumer
EXAMPLE_STAMP := $(EXAMPLE)/.venv/.installed
$(EXAMPLE_STAMP): pyproject.toml client/pyproject.toml $(EXAMPLE)/pyproject.toml
	$(PYTHON) -m venv $(EXAMPLE)/.venv
	$(EXAMPLE)/.venv/bin/pip install --quiet --upgrade pip
	$(EXAMPLE)/.venv/bin/pip install --quiet ./client '.[testing]' -e '$(EXAMPLE)[test]'
	touch $@

example-test: $(EXAMPLE_STAMP)
	cd $(EXAMPLE) && .venv/bin/python -m pytest -q

# The built wheel, installed in a fresh venv outside the repository, serves (.ci/wheel_check.py).
wheel-check: $(STAMP_TEST)
	$(BIN)/python .ci/wheel_check.py

# Benchmarks (not tests): each prints its figures beside same-run baselines.
bench: $(STAMP_TEST)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.query
	$(BIN)/python -m bench.pixels
	$(BIN)/python -m bench.volume
	$(BIN)/python -m bench.dicomweb
	$(BIN)/python -m bench.retrieve
	$(BIN)/python -m bench.slow_clients
	$(BIN)/python -m bench.request_memory
	$(BIN)/python -m bench.show

# wrk against `dicom-resolver serve` (needs Debian's wrk; says so and stops without it).
# BENCH_ARGS passes options, e.g. BENCH_ARGS='--database-url postgresql+psycopg://…'.
bench-throughput: $(STAMP_TEST)
	$(BIN)/python -m bench.throughput $(BENCH_ARGS)

# 1,000,000 instances by default (SQLite measured ≈ 25 KB per instance: mind the disk);
# a smaller store: BENCH_ARGS='--studies 1000'.
bench-scale: $(STAMP_TEST)
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var $(EXAMPLE)/.venv
