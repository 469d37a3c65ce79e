"""Write the book's chapter notebooks (book/chapters/) from solutions/ and the student release in notebooks/.

Run by ``make book`` before Sphinx; the chapters are generated, never edited (git ignores them).
Each chapter is its solution notebook, with every exercise shown the way a reader can use it:

1. the starting code exactly as the student notebook gives it (taken from ``notebooks/``,
   which nbgrader generates), shown as code and not run;
2. the solution, run, behind a "Show solution" toggle (myst-nb's ``hide-cell`` tag, which hides
   the code and its output, with the cell's ``mystnb.code_prompt_show`` label), the nbgrader
   markers removed;
3. the visible tests, taken from the student notebook too, so that no hidden test reaches the
   book: nbgrader's release removes them, and :func:`check_no_hidden_tests` checks it again.

The hints are already toggles (``<details>``); the model answers to the Explore questions go
behind toggles too, their code and the numbers it prints.  Each explorer (widget) gets a
sentence saying that it reacts on Binder or in ``make lab``; each page starts with a launch
link to the student notebook on Binder and a download of it.

``--solutions none`` builds the book an instructor can publish to a class being graded: no
solution, no model answer, and the visible tests shown but not run.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
CHAPTERS = BOOK / "chapters"
# The repository's placeholder, as in the README's Binder badge: replace OWNER/REPO (and HEAD by a tag).
BINDER = "https://mybinder.org/v2/gh/OWNER/REPO/HEAD?urlpath=lab/tree/notebooks/{name}/{name}.ipynb"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden_check(")
EXPLORER = re.compile(r"\b\w+_explorer\(")
WIDGET_NOTE = ("*The explorer above is drawn as it first appears, with its saved state: its controls do not "
               "react in the book. Open the chapter on Binder (link at the top) or run `make lab` to move them.*")


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _markdown(source: str, **metadata) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata.update(metadata)
    return cell


def _toggle(cell, show: str, hide: str) -> nbformat.NotebookNode:
    """Return a copy of a code cell that hides behind a button, code and output (the output may be the answer)."""
    cell = copy.deepcopy(cell)
    cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {"hide-cell"})
    cell.metadata["mystnb"] = {"code_prompt_show": show, "code_prompt_hide": hide}
    return cell


def _code_block(source: str) -> str:
    return "```python\n" + source.rstrip() + "\n```"


def _without_markers(source: str) -> str:
    return "\n".join(ln for ln in source.splitlines() if ln.strip() not in MARKERS)


def _clean(cell) -> nbformat.NotebookNode:
    """Return a copy of the cell without nbgrader's metadata and outputs (the book grades nothing)."""
    cell = copy.deepcopy(cell)
    cell.metadata.pop("nbgrader", None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def header(name: str) -> nbformat.NotebookNode:
    """Return the cell under a chapter's title: the launch link and the download of the student notebook."""
    binder = BINDER.format(name=name)
    return _markdown(  # a text link: the site loads nothing from the internet (no badge image)
        f"**[Open the student notebook on Binder]({binder})** · "
        f"{{download}}`Download the student notebook <../../../notebooks/{name}/{name}.ipynb>`\n\n"
        "Read the chapter here; to run it, change it and answer the exercises yourself, open the student "
        "notebook on Binder or, on your own machine, run `make lab`.",
        tags=["book-launch"],
    )


def chapter(name: str, solutions: bool) -> nbformat.NotebookNode:
    """Return the book's version of chapter ``name`` (see the module's docstring)."""
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    student = {_nbgrader(c)["grade_id"]: c for c in release.cells if _nbgrader(c).get("grade_id")}
    cells = []
    for cell in source.cells:
        meta, tags = _nbgrader(cell), set(cell.metadata.get("tags", []))
        if "model-answer" in tags:
            if not solutions:
                continue
            if cell.cell_type == "code":
                cells.append(_toggle(_clean(cell), "Show the model answer (code and numbers)", "Hide the model answer"))
            else:
                body = _clean(cell)
                body.source = ('<details class="model-answer"><summary>Model answer</summary>\n\n'
                               f"{cell.source}\n\n</details>")
                cells.append(body)
        elif meta.get("solution"):
            starting = student[meta["grade_id"]].source
            cells.append(_markdown("**Starting code** (as in the student notebook):\n\n" + _code_block(starting),
                                   tags=["book-starting-code"]))
            if solutions:
                solved = _clean(cell)
                solved.source = _without_markers(cell.source)
                cells.append(_toggle(solved, "Show solution", "Hide solution"))
        elif meta.get("grade"):
            tests = student[meta["grade_id"]].source
            if solutions:
                visible = _clean(cell)
                visible.source = tests
                visible.metadata["tags"] = ["book-visible-tests"]
                cells.append(visible)
            else:
                cells.append(_markdown("**Visible tests** (they run in the student notebook):\n\n"
                                       + _code_block(tests), tags=["book-visible-tests"]))
        else:
            cells.append(_clean(cell))
            if cell.cell_type == "code" and EXPLORER.search(cell.source):
                cells.append(_markdown(WIDGET_NOTE, tags=["book-widget-note"]))
    title = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("# "))
    cells.insert(title + 1, header(name))
    book = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    check_no_hidden_tests(book, name)
    return book


def check_no_hidden_tests(nb, name: str) -> None:
    """Raise if a hidden test or a solution marker made it into a book chapter."""
    for cell in nb.cells:
        for word in HIDDEN + MARKERS:
            if word in cell.source:
                raise SystemExit(f"book/prepare.py: {name} would show {word!r}; the book must never contain hidden "
                                 "tests or nbgrader's solution markers (is notebooks/ up to date? make release)")


def assignments() -> list[str]:
    """Return the course's notebooks, in order (each folder of solutions/ with a notebook of its name)."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


def main(argv: list[str] | None = None) -> int:
    """Write every chapter; exit 2 if the student release is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solutions", choices=("all", "none"), default="all",
                        help="all: solutions and model answers behind toggles; none: neither (a graded class)")
    args = parser.parse_args(argv)
    shutil.rmtree(CHAPTERS, ignore_errors=True)
    for name in assignments():
        if not (ROOT / "notebooks" / name / f"{name}.ipynb").is_file():
            print(f"book/prepare.py: notebooks/{name}/{name}.ipynb is missing; run make release", file=sys.stderr)
            return 2
        out = CHAPTERS / name / f"{name}.ipynb"
        out.parent.mkdir(parents=True)
        nbformat.write(chapter(name, args.solutions == "all"), out)
    (CHAPTERS / ".solutions").write_text(args.solutions + "\n")
    print(f"book/prepare.py: wrote {len(assignments())} chapters to {CHAPTERS.relative_to(ROOT)} "
          f"(solutions: {args.solutions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
