# The course's commands.  Each target creates .venv (a virtual environment with
# the package and its test tools) if it is missing, so on a fresh machine with
# Python 3.11+ and make, `make lab` and `make test` are all you need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
STAMP  := $(VENV)/.installed-dev

.PHONY: lab test test-browser lint release bench clean

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

## make test-browser: the student's journey in JupyterLab, driven in headless Chromium by
## Playwright (tests/browser/; not part of `make test`).  Needs Debian's Chromium:
## `sudo apt-get install -y chromium` (CHROMIUM=/path/to/chromium for another one).
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.installed-browser

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,browser]"
	@touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)
	@test -x "$(CHROMIUM)" || { \
		echo "make test-browser needs Chromium at $(CHROMIUM), which is missing." >&2; \
		echo "Install it with:  sudo apt-get install -y chromium   (Debian/Ubuntu)" >&2; \
		echo "or point to one:  make test-browser CHROMIUM=/path/to/chromium" >&2; \
		exit 1; }
	TE_COURSE_CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -p no:cacheprovider tests/browser

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
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis gradebook.db .nbgrader.log tests/browser/screenshots
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
