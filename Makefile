# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make repro   run the pipeline (dvc repro) on the embedded default of params.yaml
#   make test    run the test suite
# Both create and reuse a virtual environment in .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: repro paper test test-all bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

# dvc repro copies outputs into its cache; relinking turns the copies into hard links (no second copy on disk)
repro: $(BIN)/.installed
	$(BIN)/dvc repro dvc.yaml
	$(BIN)/dvc checkout --relink dvc.yaml

# the paper's settings (params-paper.yaml) as a DVC experiment named "paper", in a temporary copy of the
# project: params.yaml and the workspace stay as they are (for a GPU machine with the real sets in data/real)
paper: $(BIN)/.installed
	$(BIN)/python -m fractalvid exp-run params-paper.yaml --name paper

test: $(BIN)/.installed
	$(BIN)/python -m pytest

test-all: $(BIN)/.installed
	$(BIN)/python -m pytest -m ""

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/generate.py

clean:
	rm -rf $(VENV) .pytest_cache
