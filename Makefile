# The course's commands.  Each target creates .venv (a virtual environment with
# the package and its test tools) if it is missing, so on a fresh machine with
# Python 3.11+ and make, `make lab` and `make test` are all you need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
STAMP  := $(VENV)/.installed-dev

.PHONY: lab test lint release bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "te_course needs Python 3.11 or newer; this is " + sys.version.split()[0] + ". Run make with PYTHON=/path/to/python3.11 or newer.")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

## make lab: set up and open the course in JupyterLab
# root (containers, CI machines) needs --allow-root; extra flags via LAB_ARGS="--port=8890 ..."
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
		--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00_start_here/00_start_here.ipynb $(LAB_ARGS)

## make test: set up and run every test (lint, unit, property, doctests, notebooks, grading)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider solutions

lint: $(STAMP)
	$(BIN)/ruff check .

## make release: regenerate the student notebooks in notebooks/ from solutions/
release: $(STAMP)
	$(BIN)/python -m te_course.grading release

## make bench: measure speed (benchmarks/), print the table and write it into README.md
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run.py --write-readme

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis gradebook.db .nbgrader.log
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
