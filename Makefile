# The two commands of the README: `make demo` (set up, run the main job) and `make test`
# (set up, run the tests). Both create or reuse the virtual environment at .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# Reinstall when the dependencies change. pip takes torch 2.14.1 / torchvision 0.29.1 from
# this machine's disk (see README "Setup").
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workbench demo

test: $(STAMP)
	$(BIN)/python -m ruff check workbench tests benchmarks
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/python -m ruff check workbench tests benchmarks
	$(BIN)/python -m ruff format --check workbench tests benchmarks

# The quick benchmarks; the long ones (verify_calibration, speedup, batch_overhead,
# store_recorder_overhead) are run one by one, as benchmarks/README.md says.
bench: $(STAMP)
	$(BIN)/python benchmarks/policies_bench.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/store_insert.py --repeats 3

clean:
	rm -rf $(VENV) build *.egg-info
