"""The student release: the tree that students get, as a repository to publish for Binder or a hub.

The course repository holds the instructor's material beside the students' (the
solutions with their hidden tests, the test suite, the gradebook), so it cannot be
published to students as it is.  :func:`student_release` writes, into a new folder,
exactly what a student needs to run the course, and nothing else.

What ships, and why:

- ``notebooks/``: the student notebooks, byte for byte as nbgrader generated them
  into the course's ``notebooks/`` (``make release``), with no outputs; the release
  refuses notebooks that carry outputs or an nbgrader solution or hidden-test
  marker, and a solution that has no student notebook (run ``make release``);
- ``te_course/``: the package the notebooks import (every ``.py`` file and
  ``te_course/data/``, no ``__pycache__``).  The notebooks import nothing else of
  the course.  ``te_course/grading.py`` ships too: the package imports it lazily
  (``tc.grading``), it holds ``package_disabled`` and the grading tools but no
  solution and no hidden test; the hidden tests live in the gradebook and in
  ``solutions/``, which do not ship;
- ``binder/`` (the students' lock ``requirements.txt``, ``runtime.txt`` and
  ``postBuild``), ``environment.yml`` and ``pyproject.toml``: what mybinder.org, a
  hub's image, ``make lab`` and conda install, unchanged, so that students get the
  versions the course was tested with;
- ``LICENSE``, ``LICENSE-CONTENT.md`` and ``CITATION.cff``: a published tree says under
  which terms it may be used and how to cite it;
- a ``Makefile`` with ``make lab`` only (the course's ``lab`` target and its
  virtual-environment rule, made smaller: the lock plus ``pip install -e .``, with
  nbgrader's instructor extensions switched off as on Binder), a ``.gitignore``,
  and a ``README.md`` written for students (how to start, how an exercise works,
  the Validate button, how to hand in, where to ask).

What does not ship: ``solutions/``, ``tests/``, ``benchmarks/``, ``.ci/``,
``nbgrader_config.py``, the gradebook and the folders grading writes
(``submitted/``, ``autograded/``, ``feedback/``), the instructor's README, caches
and environments.  ``tests/test_student_release.py`` checks that no line of a
solution or of a hidden test reaches any file of the release.

From the repository root: ``python -m te_course.grading student-release DEST``
(``make student-release DEST=...``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ._paths import course_root, find_course_root

__all__ = ["student_release", "REPO_ROOT"]

#: The course folder found at import (see :func:`te_course._paths.course_root`), None if there is none.
REPO_ROOT = find_course_root()

# nbgrader's markers (its defaults, which the course keeps): none may reach a student notebook.
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# Never copied, wherever they appear in a shipped folder.
IGNORED = shutil.ignore_patterns("__pycache__", "*.py[cod]", ".ipynb_checkpoints", ".DS_Store",
                                 ".nbgrader.log", "gradebook.db*", ".pytest_cache")
# The folders of the course that the release copies from (a destination inside them is refused).
SOURCES = ("notebooks", "te_course", "binder")
# The files at the top of the course that ship unchanged.
SHIPPED_FILES = ("environment.yml", "pyproject.toml", "LICENSE", "LICENSE-CONTENT.md", "CITATION.cff")
START_PAGE = "notebooks/00_start_here/00_start_here.ipynb"
BINDER_BADGE = ("[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD"
                f"?urlpath=lab/tree/{START_PAGE})")

MAKEFILE = f"""\
# make lab: set up (the first time only) and open the course in JupyterLab.
#
# All you need is Python 3.11 or newer and make.  The first `make lab` creates a virtual
# environment in .venv/ (about a minute) with exactly the versions of binder/requirements.txt,
# the ones Binder installs, and the course's package te_course; later runs reuse it.

PYTHON ?= python3
LOCK   := binder/requirements.txt
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-lock
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: lab clean

# Made afresh whenever the lock or pyproject.toml changes.  As on Binder (binder/postBuild),
# nbgrader's instructor tools are switched off: students need its Validate button only.
$(STAMP): $(LOCK) pyproject.toml
\t@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer needed, \
this is " + sys.version.split()[0] + ": run make PYTHON=/path/to/python3.11")'
\trm -rf $(VENV)
\t$(PYTHON) -m venv $(VENV)
\t$(BIN)/python -m pip install --quiet --upgrade pip
\t$(BIN)/python -m pip install --quiet -r $(LOCK) -e .
\tfor plugin in formgrader create-assignment course-list assignment-list; do \\
\t\t$(BIN)/jupyter labextension disable --level=sys_prefix "@jupyter/nbgrader:$$plugin" || exit 1; done
\tfor ext in formgrader course_list assignment_list; do \\
\t\t$(BIN)/jupyter server extension disable --sys-prefix "nbgrader.server_extensions.$$ext" || exit 1; done
\t@touch $(STAMP)

# root (containers) needs --allow-root; extra flags via LAB_ARGS="--port=8890 ..."
LAB_ARGS ?=
lab: $(STAMP)
\t$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \\
\t\t--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/{START_PAGE} $(LAB_ARGS)

# Removes the environment and caches, never your notebooks.
clean:
\trm -rf $(VENV) build *.egg-info
\tfind . -name __pycache__ -type d -prune -exec rm -rf {{}} +
"""

GITIGNORE = """\
# the environment that `make lab` creates
.venv/
# caches and build scratch
__pycache__/
*.py[cod]
*.egg-info/
build/
.pytest_cache/
.ipynb_checkpoints/
.virtual_documents/
.nbgrader.log
"""

README = f"""\
# Peer-to-peer and transactive energy markets: the course notebooks

In this course you build, clear, price and stress-test local energy markets: double
auctions, prosumers with batteries and electric cars, power flow on a real feeder,
locational prices, mechanism design, market power and fairness. Each chapter is a
Jupyter notebook with worked examples, interactive figures and exercises that check
themselves. Start with `{START_PAGE}`.

## Start

### In the browser, with nothing to install (Binder)

<!-- Instructors: replace OWNER/REPO with the repository that publishes this release
     (and HEAD with a tag to pin a semester's version). -->
{BINDER_BADGE}

Click the badge. The first start can take a few minutes; JupyterLab then opens the start
page. A Binder session is temporary: it stops after some minutes without activity and
its files are gone. Download your notebooks (right-click in the file browser,
**Download**) before you close the tab, and upload them again next time.

### On your computer

You need Python 3.11 or newer and `make` (Linux, macOS, or WSL on Windows). In this
folder, run

```bash
make lab
```

The first time, it creates a virtual environment in `.venv/` with exactly the versions
that Binder installs (about a minute); later it reuses it. JupyterLab opens the start
page. Stop it with Ctrl+C in the terminal. With conda instead of make:

```bash
conda env create -f environment.yml
conda activate te_course
jupyter lab {START_PAGE}
```

## How an exercise works

Run the cells from the top, in order, with **Shift+Enter**: later cells use what earlier
ones defined (**Kernel > Restart Kernel and Run All Cells** starts afresh). An exercise
is a function to complete:

```python
def count_trades(bids, asks):
    \"\"\"Return how many one-kWh orders trade in a double auction.\"\"\"
    # YOUR CODE HERE
    raise NotImplementedError()
```

Replace the two last lines with your code and run the cell. The cell under it holds
**tests**: run it, and it either passes silently or tells you what is wrong. When the
notebook is graded, each test cell also runs hidden tests on cases you have not seen,
so make your function work in general, not only for the visible examples. The hidden
tests switch off the package's own version of the function they test (`te_course`
does many of the computations for the worked examples): to earn the points, write the
code yourself.

Leave the test cells as they are (they are locked, and the grader restores them
anyway), do not rename the notebook, and keep your answers in the cells that say
`YOUR CODE HERE`.

## The Validate button

The **Validate** button in the notebook's toolbar runs the whole notebook in a fresh
kernel and tells you which tests fail. Save the notebook and press it before you hand
it in: it runs the notebook as the grader will, without the hidden tests.

## Handing in

- **On the course's JupyterHub**: open the **Assignments** tab (nbgrader's Assignment
  List). **Fetch** the chapter: it lands in a folder of its own named after the chapter
  (for example `01_double_auction/`). Work in that copy, press Validate, save, and
  press **Submit**. You may submit again until the deadline; the last submission
  counts. Your feedback appears in the same tab once the chapter is graded.
- **Anywhere else** (Binder, your computer): hand in the notebook file itself, for
  example `01_double_auction.ipynb`, under its own name, in the way your instructor
  announced (Binder: right-click it in the file browser, **Download**). Hand in the
  `.ipynb` file, not a PDF or a copy of its cells.

## Where to ask

<!-- Instructors: name the course's forum, office hours and contact here. -->
Ask in the course's forum or at the office hours that your instructor announced. A
question about an exercise is easier to answer with the notebook's name, the cell, and
the full error message. If you think you found a mistake in a notebook or in
`te_course`, say so there too.

## What is in this folder

| path | what it is |
|---|---|
| `notebooks/` | the chapters, one folder each; start with `00_start_here` |
| `te_course/` | the course's helper package, which the notebooks import (`import te_course as tc`) |
| `binder/` | what Binder installs: the exact versions (`requirements.txt`), Python's version, set-up steps |
| `environment.yml`, `pyproject.toml` | the same environment for conda; the package's description |
| `LICENSE`, `LICENSE-CONTENT.md`, `CITATION.cff` | the licences (code: BSD-3-Clause; text: CC BY 4.0), how to cite |
| `Makefile` | `make lab` (and `make clean`, which removes `.venv/`, never your notebooks) |
"""


def _refuse_destination(dest: Path, root: Path) -> None:
    """Raise ValueError when ``dest`` is not a place the release may be written to."""
    if dest == root:
        raise ValueError(f"`dest` {dest} is the course repository itself; give a new, empty folder.")
    for name in ("solutions", *SOURCES):
        folder = root / name
        if dest == folder or folder in dest.parents:
            raise ValueError(f"`dest` {dest} is inside the course's {name}/; give a folder outside it.")
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise ValueError(f"`dest` {dest} exists and is not a folder; give a new, empty folder.")
        if any(dest.iterdir()):
            raise ValueError(f"`dest` {dest} is not empty; give a new or empty folder (nothing is overwritten).")


def _check_student_notebooks(root: Path) -> list[Path]:
    """Return the student notebooks of ``root/notebooks``; raise ValueError if one is unfit to ship."""
    notebooks = sorted((root / "notebooks").glob("*/*.ipynb"))
    if not notebooks:
        raise ValueError(f"`root` {root} has no student notebooks in notebooks/*/; run `make release` first.")
    solutions = root / "solutions"
    if solutions.is_dir():
        missing = [p.relative_to(solutions) for p in sorted(solutions.glob("*/*.ipynb"))
                   if not (root / "notebooks" / p.relative_to(solutions)).exists()]
        if missing:
            raise ValueError(f"notebooks/ lacks the student version of solutions/{missing[0]}; "
                             "run `make release` first.")
    for path in notebooks:
        rel = path.relative_to(root)
        try:
            nb = json.loads(path.read_bytes())
        except ValueError as err:
            raise ValueError(f"{rel} is not a notebook (not JSON: {err}); run `make release`.") from None
        for cell in nb.get("cells", []):
            source = "".join(cell.get("source", ""))
            marker = next((m for m in MARKERS if m in source), None)
            if marker:
                raise ValueError(f"{rel} contains nbgrader's marker {marker!r}: it is not a student version; "
                                 "run `make release` (never edit notebooks/ by hand).")
            if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count")):
                raise ValueError(f"{rel} carries outputs; clear them (or run `make release`) before a release.")
    return notebooks


def student_release(dest: Path | str, root: Path | str | None = None) -> list[Path]:
    """Write the tree that students get into the new folder ``dest``.

    The tree is a repository to publish for Binder or a hub: the student notebooks,
    the package ``te_course``, ``binder/``, ``environment.yml``, ``pyproject.toml``,
    the licences and ``CITATION.cff``, and a ``Makefile`` (``make lab``), ``.gitignore`` and ``README.md`` for
    students.  Nothing of the instructor's ships (see the module's docstring).
    Every check runs before the first file is written.

    Parameters
    ----------
    dest : path
        The folder to write; it must not exist or be empty, and may be neither the
        course repository ``root`` itself nor inside its ``solutions/``,
        ``notebooks/``, ``te_course/`` or ``binder/``.
    root : path
        The course repository (by default :func:`te_course._paths.course_root`: ``TE_COURSE_ROOT``,
        the current folder or a parent, or the checkout this package lives in).

    Returns
    -------
    list of pathlib.Path
        The files written, sorted.

    Raises
    ------
    ValueError
        If ``dest`` is refused, ``root`` lacks a part of the release, or a student
        notebook is unfit to ship (a solution without its student version, outputs,
        an nbgrader marker); the message says which and what to do.

    Examples
    --------
    >>> student_release(REPO_ROOT)
    Traceback (most recent call last):
    ...
    ValueError: `dest` ... is the course repository itself; give a new, empty folder.
    """
    root = Path(course_root() if root is None else root).resolve()
    dest = Path(dest).expanduser().resolve()
    _refuse_destination(dest, root)
    for part in ("notebooks", "te_course", "binder", *SHIPPED_FILES):
        if not (root / part).exists():
            raise ValueError(f"`root` {root} is not the course repository: it has no {part}.")
    _check_student_notebooks(root)

    copies = [
        (src, dest / src.relative_to(root))
        for src in sorted((root / "notebooks").rglob("*")) + sorted((root / "binder").rglob("*"))
        if src.is_file() and not _ignored(src, root)
    ]
    package = root / "te_course"
    copies += [(src, dest / src.relative_to(root)) for src in sorted(package.rglob("*.py")) if not _ignored(src, root)]
    copies += [(src, dest / src.relative_to(root)) for src in sorted((package / "data").rglob("*"))
               if src.is_file() and not _ignored(src, root)]
    copies += [(root / name, dest / name) for name in SHIPPED_FILES]

    written = []
    dest.mkdir(parents=True, exist_ok=True)
    for src, out in copies:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
        written.append(out)
    for name, text in (("Makefile", MAKEFILE), (".gitignore", GITIGNORE), ("README.md", README)):
        (dest / name).write_text(text)
        written.append(dest / name)
    return sorted(written)


def _ignored(path: Path, root: Path) -> bool:
    """Return True when a part of ``path`` (below ``root``) matches :data:`IGNORED`."""
    parts = path.relative_to(root).parts
    for i, part in enumerate(parts):
        if IGNORED(str(root.joinpath(*parts[:i])), [part]):
            return True
    return False
