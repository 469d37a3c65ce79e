# The course's commands.  Each target creates the virtual environments it needs when
# they are missing, so on a fresh machine with Python 3.11+ and make, `make lab` and
# `make test` are all you need.
#
#   .venv         the course as students get it: exactly the versions of the students'
#                 lock, binder/requirements.txt (what mybinder.org installs), plus the test
#                 tools (extra [test]), which never move a locked version.  `make lab`, the
#                 notebooks, the widgets, the grading and every test but the oracles run here.
#   .venv-dev     the [dev] extra: ruff and the test-only oracles (pandapower, which holds
#                 pandas below 3), for the tests marked `oracle`; `make lock`, `make bench`.
#   .venv-latest  `make test-latest`: the newest versions that pyproject.toml's ranges allow,
#                 made afresh each run, so a new release that breaks the course shows here first.

PYTHON ?= python3
LOCK   := binder/requirements.txt
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-lock
DEV       := .venv-dev
DEV_BIN   := $(DEV)/bin
DEV_STAMP := $(DEV)/.installed-dev
LATEST := .venv-latest
export PATH := $(CURDIR)/$(BIN):$(PATH)

# The command that writes the lock (also written into the lock's header by uv): one version
# of every package for Python 3.11 (binder/runtime.txt) on every platform, from the ranges of
# pyproject.toml.  tests/test_environment.py checks that the lock's header says the same.
UV_VERSION := 0.13.9
LOCK_COMMAND := uv pip compile pyproject.toml --universal --fork-strategy fewest --python-version 3.11 --output-file $(LOCK)

.PHONY: lab test test-latest test-browser book book-build test-book test-hub lint lock release student-release bench clean

define check_python
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "te_course needs Python 3.11 or newer; this is " + sys.version.split()[0] + ". Run make with PYTHON=/path/to/python3.11 or newer.")'
endef

# Made afresh whenever the lock or pyproject.toml changes, so that it holds the lock and nothing
# older; the package is installed editable, so a change to te_course/ needs no rebuild.
$(STAMP): $(LOCK) pyproject.toml
	$(check_python)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK) -e ".[test]"
	$(BIN)/python -m pip check
	@touch $(STAMP)

$(DEV_STAMP): pyproject.toml
	$(check_python)
	@test -x $(DEV_BIN)/python || $(PYTHON) -m venv $(DEV)
	$(DEV_BIN)/python -m pip install --quiet --upgrade pip
	$(DEV_BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(DEV_STAMP)

## make lab: set up and open the course in JupyterLab
# root (containers, CI machines) needs --allow-root; extra flags via LAB_ARGS="--port=8890 ..."
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
		--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00_start_here/00_start_here.ipynb $(LAB_ARGS)

## make test: set up and run every test (lint, unit, property, doctests, notebooks, grading)
# The suite and every notebook in the students' versions (.venv); then the comparisons with
# pandapower in .venv-dev (tests/conftest.py marks them `oracle`).  Each solution notebook runs
# top to bottom in a fresh kernel once, in tests/test_notebooks.py (tests/executed.py), whose
# tests share that execution; nbval would run them all a second time.
test: $(STAMP) $(DEV_STAMP)
	$(DEV_BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not oracle"
	$(DEV_BIN)/python -m pytest -n 2 --dist loadfile -m oracle tests

## make test-latest: the notebooks, their grading and the widgets under the newest versions that
## pyproject.toml's ranges allow (a fresh .venv-latest each run; .ci/run calls it)
# Every chapter runs in NOTEBOOK_TESTS (tests/test_notebooks.py); nbval, which students may use,
# runs on the first chapter only, to show that it still works with the newest pytest.
NOTEBOOK_TESTS := tests/test_notebooks.py tests/test_plots.py tests/test_widgets.py
test-latest:
	$(check_python)
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m pip check
	-@$(LATEST)/bin/python tests/lockfiles.py --compare
	$(LATEST)/bin/python -m pytest -n 2 --dist loadfile $(NOTEBOOK_TESTS)
	$(LATEST)/bin/python -m pytest --nbval-lax -p no:cacheprovider solutions/00_start_here

## make lock: refresh the students' lock (binder/requirements.txt) from pyproject.toml's ranges,
## with the newest versions PyPI has today; then pin environment.yml to it (once a semester)
lock: $(DEV_STAMP)
	$(DEV_BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(DEV_BIN)/$(LOCK_COMMAND) --quiet
	$(DEV_BIN)/python tests/lockfiles.py

## make test-browser: the student's journey in JupyterLab, driven in headless Chromium by
## Playwright (tests/browser/; not part of `make test`).  Needs Debian's Chromium:
## `sudo apt-get install -y chromium` (CHROMIUM=/path/to/chromium for another one).
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := $(DEV)/.installed-browser

$(BROWSER_STAMP): $(DEV_STAMP)
	$(DEV_BIN)/python -m pip install --quiet -e ".[dev,browser]"
	@touch $(BROWSER_STAMP)

# Playwright runs from .venv-dev; JupyterLab, its kernel and the package from .venv, as `make lab`.
test-browser: $(BROWSER_STAMP) $(STAMP)
	@test -x "$(CHROMIUM)" || { \
		echo "make test-browser needs Chromium at $(CHROMIUM), which is missing." >&2; \
		echo "Install it with:  sudo apt-get install -y chromium   (Debian/Ubuntu)" >&2; \
		echo "or point to one:  make test-browser CHROMIUM=/path/to/chromium" >&2; \
		exit 1; }
	TE_COURSE_CHROMIUM="$(CHROMIUM)" $(DEV_BIN)/python -m pytest -p no:cacheprovider tests/browser --ignore=tests/browser/test_book.py

lint: $(DEV_STAMP)
	$(DEV_BIN)/ruff check .

## make book: the course book, a static site in book/_build/html, from the solution notebooks executed
## during the build (a rebuild runs only the chapters that changed).  BOOK_SOLUTIONS=none leaves the
## solutions and model answers out, for a class being graded.  Needs npm (Node.js) for the pinned
## MathJax and widget files the pages load from the site itself (book/package-lock.json).
BOOK_SOLUTIONS ?= all
BOOK_HTML ?= book/_build/html
BOOK_STAMP := $(VENV)/.installed-book
NPM_STAMP := book/node_modules/.installed-lock

$(BOOK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[test,book]"
	@touch $(BOOK_STAMP)

$(NPM_STAMP): book/package.json book/package-lock.json
	@command -v npm >/dev/null || { echo "make book needs npm: sudo apt-get install -y npm (Debian/Ubuntu)" >&2; exit 1; }
	cd book && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(NPM_STAMP)

book: $(BOOK_STAMP) $(NPM_STAMP)
	@$(MAKE) --no-print-directory book-build

# The build alone, once everything is installed (make test-book runs it with the network cut off).
book-build:
	$(BIN)/python book/prepare.py --solutions $(BOOK_SOLUTIONS)
	$(BIN)/python -m sphinx -b html -q --keep-going -W book $(BOOK_HTML)
	@echo "The book: $(BOOK_HTML)/index.html (solutions: $(BOOK_SOLUTIONS))"

# A command with no network but loopback: a new user and network namespace (util-linux's unshare).
OFFLINE := unshare --map-root-user --net sh -c 'ip link set lo up && exec "$$@"' offline

## make test-book: build both editions of the book offline (everything installed first, then the
## builds in a network namespace with loopback only), then read every page in headless Chromium with
## every request off this machine blocked (tests/browser/test_book.py); .ci/run calls it
test-book: $(BOOK_STAMP) $(NPM_STAMP) $(BROWSER_STAMP)
	@test -x "$(CHROMIUM)" || { echo "make test-book needs Chromium at $(CHROMIUM): sudo apt-get install -y chromium" >&2; exit 1; }
	@$(OFFLINE) true 2>/dev/null || { echo "make test-book builds the book with the network cut off and needs unshare (util-linux) with user namespaces allowed" >&2; exit 1; }
	$(OFFLINE) $(MAKE) --no-print-directory book-build BOOK_SOLUTIONS=none BOOK_HTML=book/_build/html-none
	$(OFFLINE) $(MAKE) --no-print-directory book-build BOOK_SOLUTIONS=all BOOK_HTML=book/_build/html
	TE_COURSE_CHROMIUM="$(CHROMIUM)" $(DEV_BIN)/python -m pytest -p no:cacheprovider tests/browser/test_book.py

## make test-hub: a real JupyterHub on this machine (hub/jupyterhub_config.py) with an instructor and
## three students as Linux accounts of their own, created and removed by the test (tests/hub/); as root
HUB_NPM_STAMP := hub/node_modules/.installed-lock

$(HUB_NPM_STAMP): hub/package.json hub/package-lock.json
	@command -v npm >/dev/null || { echo "make test-hub needs npm: sudo apt-get install -y npm (Debian/Ubuntu)" >&2; exit 1; }
	cd hub && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(HUB_NPM_STAMP)

test-hub: $(DEV_STAMP) $(HUB_NPM_STAMP)
	@test "$$(id -u)" = 0 || { echo "make test-hub creates and removes Linux accounts: run it as root" >&2; exit 1; }
	$(DEV_BIN)/python -m pytest -p no:cacheprovider -s tests/hub

## make release: regenerate the student notebooks in notebooks/ from solutions/
release: $(STAMP)
	$(BIN)/python -m te_course.grading release

## make student-release DEST=folder: write the tree students get (notebooks/, te_course/, binder/, make lab,
## a students' README; no solutions, tests or gradebook) into a new or empty folder, to publish for Binder or a hub
student-release: $(STAMP)
	@test -n "$(DEST)" || { echo "usage: make student-release DEST=/path/to/a/new/folder" >&2; exit 2; }
	$(BIN)/python -m te_course.grading release
	$(BIN)/python -m te_course.grading student-release "$(DEST)"

## make bench: measure speed (benchmarks/), print the table and write it into README.md
# In .venv-dev: the peers measured beside the course (pymarket) need pandas below 3.
bench: $(DEV_STAMP)
	$(DEV_BIN)/python -m pip install --quiet -e ".[bench]"
	$(DEV_BIN)/python benchmarks/run.py --write-readme

clean:
	rm -rf $(VENV) $(DEV) $(LATEST) build *.egg-info .pytest_cache .ruff_cache .hypothesis gradebook.db .nbgrader.log tests/browser/screenshots \
		book/_build book/chapters book/node_modules hub/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
