# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	mkdir -p var
	$(BIN)/dicom-resolver serve

test: $(STAMP_TEST)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check service tests bench

# Benchmarks (not tests): each prints its figures beside same-run baselines.
bench: $(STAMP_TEST)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.query
	$(BIN)/python -m bench.pixels
	$(BIN)/python -m bench.volume
	$(BIN)/python -m bench.dicomweb
	$(BIN)/python -m bench.retrieve

clean:
	rm -rf $(VENV) var
