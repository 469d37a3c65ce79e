"""Each solution notebook executed once per test session, the executed copy shared by the tests.

``executed(path, folder)`` runs a notebook top to bottom in a fresh kernel (nbclient, the
notebook's own kernelspec, its folder as the working directory, every cell run even after an
error) and keeps the executed copy in ``folder`` under a name that is the SHA-256 of the
notebook, of every file of the package ``te_course/`` and of the notebook's folder, and of the
Python that runs the tests: a notebook or package edited during the session, or another
environment, is executed afresh, never read from a stale copy.

``folder`` is one per test session, shared by pytest-xdist's workers (see the
``executed_notebook`` fixture in tests/conftest.py), so a later ``make test`` executes every
notebook again.  A lock file per notebook (``fcntl.flock``) makes a worker that asks for a
notebook another worker is executing wait for that execution instead of starting its own.

``EXECUTIONS`` counts the executions this process made (for the test that proves the sharing).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "te_course"
TIMEOUT_S = 600  # per cell; the slowest cell of the course takes well under a minute
EXECUTIONS: list[Path] = []


def _files(folder: Path):
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".lock"))


def fingerprint(path: Path) -> str:
    """SHA-256 of the notebook, its folder, the package's files and the Python that runs it."""
    digest = hashlib.sha256(sys.executable.encode())
    for file in [path, *_files(path.parent), *_files(PACKAGE)]:
        digest.update(str(file).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def execute(path: Path) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel and return the executed notebook (errors kept as outputs)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=TIMEOUT_S, allow_errors=True, extra_arguments=["--HistoryManager.hist_file=:memory:"],
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    EXECUTIONS.append(path)
    return nb


def executed(path: Path, folder: Path) -> nbformat.NotebookNode:
    """The executed copy of ``path``: read from ``folder`` when this session already ran it, else run it now."""
    path = Path(path).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{path.stem}-{fingerprint(path)[:32]}"
    result = folder / f"{key}.ipynb"
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if execution fails
        if not result.exists():
            nb = execute(path)
            scratch = result.with_suffix(f".{os.getpid()}.tmp")
            nbformat.write(nb, scratch)
            os.replace(scratch, result)  # readers see the whole notebook or none
    return nbformat.read(result, as_version=4)


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What went wrong in an executed notebook: cells that did not run, raised, or failed a graded test.

    The same verdict as :func:`te_course.grading.validate` on the source notebook (nbgrader's
    grade of each graded cell, and an error in any code cell), read from the shared execution.
    """
    from nbgrader import utils

    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:100]
        if cell.source.strip() and cell.execution_count is None:
            found.append(f"cell {i} did not run: {first}")
        for out in cell.outputs:
            if out.output_type == "error":
                found.append(f"cell {i} raised {out.ename}: {out.evalue[:300]} ({first})")
        if utils.is_grade(cell):
            score, max_score = utils.determine_grade(cell, None)
            if score is not None and score < max_score:
                found.append(f"graded cell {i} scored {score} of {max_score}: {first}")
    return found
