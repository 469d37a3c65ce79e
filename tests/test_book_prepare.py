"""book/prepare.py: the book's chapters from solutions/ and notebooks/, without running them (make test-book runs them).

Checked against the two sources directly: each exercise shows the student notebook's
starting code, then (with solutions) the solution without nbgrader's markers behind a
"Show solution" toggle, then the student notebook's visible tests; no hidden test and no
marker anywhere; the model answers behind toggles, or gone without solutions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("book_prepare", ROOT / "book" / "prepare.py")
prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare)
CHAPTERS = prepare.assignments()


def _read(folder: str, name: str):
    return nbformat.read(ROOT / folder / name / f"{name}.ipynb", as_version=4)


def _gid(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_exercise_reads_starting_code_then_solution_then_visible_tests(name):
    source, release = _read("solutions", name), _read("notebooks", name)
    student = {_gid(c): c.source for c in release.cells if _gid(c)}
    book = prepare.chapter(name, solutions=True)
    texts = [c.source for c in book.cells]
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        gid = meta["grade_id"]
        start = next(i for i, t in enumerate(texts) if t.startswith("**Starting code**") and student[gid] in t)
        solution, tests = book.cells[start + 1], book.cells[start + 2]
        assert "hide-cell" in solution.metadata["tags"]
        assert solution.metadata["mystnb"]["code_prompt_show"] == "Show solution"
        kept = [ln for ln in cell.source.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
        assert solution.source == "\n".join(kept) and len(kept) == len(cell.source.splitlines()) - 2
        assert tests.cell_type == "code" and tests.source == student[f"{gid}_tests"]
    assert sum("Show solution" == c.metadata.get("mystnb", {}).get("code_prompt_show") for c in book.cells) == sum(
        bool(c.metadata.get("nbgrader", {}).get("solution")) for c in source.cells)


@pytest.mark.parametrize("solutions", [True, False])
@pytest.mark.parametrize("name", CHAPTERS)
def test_no_hidden_test_no_marker_and_model_answers_only_with_solutions(name, solutions):
    book = prepare.chapter(name, solutions=solutions)
    text = "\n".join(c.source for c in book.cells)
    for word in ("BEGIN HIDDEN TESTS", "hidden_check(", "BEGIN SOLUTION", "END SOLUTION"):
        assert word not in text
    source = _read("solutions", name)
    answers = [c for c in source.cells if "model-answer" in c.metadata.get("tags", [])]
    for cell in answers:
        assert (cell.source in text) == solutions
    if not solutions:
        assert not any(c.metadata.get("mystnb") for c in book.cells)
        assert all(c.cell_type == "markdown" for c in book.cells if "book-visible-tests" in c.metadata.get("tags", []))
    assert "book-launch" in book.cells[1].metadata.get("tags", [])
    assert f"urlpath=lab/tree/notebooks/{name}/{name}.ipynb" in book.cells[1].source


def test_a_hidden_test_that_reached_a_chapter_stops_the_book():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('### BEGIN HIDDEN TESTS\nhidden_check("x", f)')])
    with pytest.raises(SystemExit, match="must never contain hidden tests"):
        prepare.check_no_hidden_tests(nb, "99_test")
