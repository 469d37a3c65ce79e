"""What the source notebooks say, the answers a test class hands in, and what a feedback page shows.

Shared by the instructor's journey with nbgrader's commands (test_instructor.py) and the
journey on a real JupyterHub (hub/test_hub.py): expected grades come from the sources'
metadata, never from nbgrader.
"""

from __future__ import annotations

import html.parser
import math
import re
from pathlib import Path

import nbformat

from te_course.grading import assignments

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = assignments(ROOT)


def _read(path):
    return nbformat.read(path, as_version=4)


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _source(name):
    return _read(next((ROOT / "solutions" / name).glob("*.ipynb")))


def exercises(name):
    """(answer grade_id, test grade_id, points) in notebook order, read from the source metadata."""
    nb = _source(name)
    answers = [_meta(c)["grade_id"] for c in nb.cells if _meta(c).get("solution")]
    tests = {_meta(c)["grade_id"]: _meta(c)["points"] for c in nb.cells if _meta(c).get("grade")}
    pairs = [(a, f"{a}_tests", tests[f"{a}_tests"]) for a in answers if f"{a}_tests" in tests]
    assert {t for _, t, _ in pairs} == set(tests), f"{name}: every graded cell X_tests must test an answer cell X"
    return pairs


GRADED = [a for a in ASSIGNMENTS if any(_meta(c).get("grade") for c in _source(a).cells)]
FULL = {a: sum(p for *_, p in exercises(a)) for a in GRADED}
SOLVED_BY_BOB = {a: {ans for ans, *_ in exercises(a)[: math.ceil(len(exercises(a)) / 2)]} for a in GRADED}


HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", flags=re.S)


def secret_lines(name):
    """Lines of the hidden-test regions that appear nowhere else in the source notebook."""
    nb = _source(name)
    hidden, public = set(), []
    for cell in nb.cells:
        for block in HIDDEN.findall(cell.source):
            hidden |= {ln.strip() for ln in block.splitlines() if ln.strip()}
        public += [ln.strip() for ln in HIDDEN.sub("", cell.source).splitlines()]
    return hidden - set(public)


def _strip_markers(source):
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(ln for ln in source.splitlines() if not any(m in ln for m in markers))


def _with_body(source, body):
    """Replace the solution region (markers included) by ``body``, indented like the markers."""
    lines = source.splitlines()
    start = next(i for i, ln in enumerate(lines) if "### BEGIN SOLUTION" in ln)
    end = next(i for i, ln in enumerate(lines) if "### END SOLUTION" in ln)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    return "\n".join(lines[:start] + [indent + b for b in body.splitlines()] + lines[end + 1:])


def answer(student_nb, name, solved, *, bodies=None):
    """Copy the solution of the answer cells in ``solved`` into a student notebook (a student at work).

    ``bodies`` maps an answer grade_id to a body of the student's own instead.
    """
    solutions = {_meta(c)["grade_id"]: c.source for c in _source(name).cells if _meta(c).get("solution")}
    for cell in student_nb.cells:
        gid = _meta(cell).get("grade_id")
        if bodies and gid in bodies:
            cell.source = _with_body(solutions[gid], bodies[gid])
        elif gid in solved:
            cell.source = _strip_markers(solutions[gid])
    return student_nb


class _Text(html.parser.HTMLParser):
    """The text a student reads in an HTML page (no style sheets, no scripts)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(page: str) -> str:
    """The text of an HTML page as a student reads it."""
    parser = _Text()
    parser.feed(page)
    return "".join(parser.parts)


def feedback_text(path):
    return page_text(path.read_text(encoding="utf-8"))


MARGIN = re.compile(r"^\s*(?:-*>\s*)?\d+\s")  # a traceback's line-number margin


def leaked(text, secret):
    """Hidden-test lines found in a page: as a line of its own (after a traceback margin) or inside a line."""
    lines = {MARGIN.sub("", ln).strip() for ln in text.splitlines()} | {ln.strip() for ln in text.splitlines()}
    flat = " ".join(text.split())
    return sorted(s for s in secret if s in lines or (len(s) >= 25 and " ".join(s.split()) in flat))
