"""CONTRIBUTING.md, followed: a chapter added as the guide says is picked up by the course with no other edit.

Three things keep the guide true:

* every ``make`` target, file, test and ``te_course`` name that the guide writes in backticks
  exists (a renamed file, target or test shows here);
* the four chapter lists kept by hand (the README's course map and its instructors' ``ALL``
  list, the start page's map, the book's table of contents) name every chapter of
  ``solutions/``, in order;
* in a scratch copy of the course (nothing in the repository is touched), a chapter
  ``10_scratch`` is added exactly as "How to add a chapter" says, with the example exercise of
  "How to write an exercise": its answer cell, test cell, metadata, hint, hidden check,
  ``CHEATS`` entry and list entries are read from the guide's own blocks (``<!-- example: NAME
  -->``).  Then, in the copy: before the hand edits the list check fails, after them it passes;
  ``python -m te_course.grading release`` (what ``make release`` runs) releases the chapter with
  its solution, hidden test and model answers stripped; the course's own tests, run on the copy,
  pick the chapter up and pass (its notebooks, leaks, metadata, hints, model answers, execution,
  hidden check, cheat, student release and book tests); and ``python -m te_course.grading autograde``
  gives the solution full marks, and the untouched notebook and an answer that calls the
  package zero.

If a step the guide gives stops being enough (a new rule for chapters, a new list to edit), the
scratch chapter fails the course's own tests here, and the guide and its examples must change.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from te_course.grading import assignments, is_model_answer

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "CONTRIBUTING.md"
BIN = Path(sys.executable).parent  # .venv/bin under `make test`
NAME = "10_scratch"  # the guide's example chapter
START_PAGE = Path("solutions/00_start_here/00_start_here.ipynb")

# What the scratch copy holds: these folders and every file at the top (what the commands and the tests read).
COPIED = ("te_course", "solutions", "notebooks", "tests", "book", "binder")
IGNORED = shutil.ignore_patterns("__pycache__", "*.py[cod]", ".ipynb_checkpoints", "_build", "node_modules",
                                 "screenshots", "gradebook.db*")

# Written in the guide but made by the commands, not in a clone: not looked for.
GENERATED = {"book/_build/html", ".venv-latest"}
# Placeholders of the guide's instructions, and the example chapter that exists only in a scratch copy.
PLACEHOLDERS = ("NN", "10_scratch", "ch10", "X.Y.Z", "DEST", "<")


# --------------------------------------------------------------------------- reading the guide


def guide_examples() -> dict[str, str]:
    """The guide's example blocks by name: the fenced block after each ``<!-- example: NAME -->``."""
    text = GUIDE.read_text()
    found = {}
    block = re.compile(r"<!-- example: ([\w-]+) -->\n(?P<indent>[ ]*)```[\w-]*\n(?P<body>.*?)\n(?P=indent)```", re.S)
    for m in block.finditer(text):
        indent = len(m["indent"])
        lines = [ln[indent:] if ln[:indent].strip() == "" else ln for ln in m["body"].splitlines()]
        assert m[1] not in found, f"CONTRIBUTING.md has two examples named {m[1]!r}"
        found[m[1]] = "\n".join(lines)
    return found


def inline_code(text: str) -> list[str]:
    """The guide's inline code spans (fenced blocks left out)."""
    prose = re.sub(r"^[ ]*```[^\n]*\n.*?^[ ]*```[ ]*$", "", text, flags=re.S | re.M)
    return [m[2].strip() for m in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", prose)]


def _region(source: str, begin: str, end: str) -> list[str]:
    """The stripped, non-blank lines between two markers of a cell."""
    inside = source[source.index(begin) + len(begin): source.index(end)]
    return [ln.strip() for ln in inside.splitlines() if ln.strip()]


# --------------------------------------------------------------------------- the lists kept by hand


def chapter_lists(root: Path) -> dict[str, list[str]]:
    """The chapters each list kept by hand names, in its order (CONTRIBUTING.md, "How to add a chapter", step 4)."""
    readme = (root / "README.md").read_text()
    assert "\n## Course map\n" in readme, "README.md has no section '## Course map' (CONTRIBUTING.md names it)"
    course_map = readme.split("\n## Course map\n", 1)[1].split("\n## ", 1)[0]
    everyone = re.search(r'^ALL="([^"]*)"', readme, flags=re.M)
    start = nbformat.read(root / START_PAGE, as_version=4)
    start_map = [c.source for c in start.cells
                 if c.cell_type == "markdown" and c.source.startswith("## The course map")]
    toctree = re.search(r"```\{toctree\}\n(.*?)```", (root / "book" / "index.md").read_text(), flags=re.S)
    return {
        "README.md, Course map": re.findall(r"^\|[^\n]*\| `(\d\d_[a-z_]+)` \|", course_map, flags=re.M),
        'README.md, the instructors\' ALL="..."': everyone[1].split() if everyone else [],
        "the start page's course map": re.findall(r"\]\(\.\./(\d\d_[a-z_]+)/\1\.ipynb\)", "".join(start_map)),
        "book/index.md, toctree": re.findall(r"^chapters/(\d\d_[a-z_]+)/\1$", toctree[1] if toctree else "", re.M),
    }


def unlisted(root: Path) -> list[str]:
    """Where a list kept by hand differs from the chapters of ``root/solutions`` (empty when all agree)."""
    chapters = assignments(root)
    problems = []
    for where, named in chapter_lists(root).items():
        want = [c for c in chapters if c != "00_start_here"] if "start page" in where else chapters
        if named != want:
            missing, extra = sorted(set(want) - set(named)), sorted(set(named) - set(want))
            problems.append(f"{where}: lists {named}; missing {missing}, not a chapter {extra}"
                            + ("" if missing or extra else ", out of order"))
    return problems


def readme_points(root: Path) -> dict[str, float]:
    """The points the README's course map states per chapter."""
    return {m[1]: float(m[2]) for m in re.finditer(r"\| `(\d\d_\w+)` \| ready \((\d+) points\) \|",
                                                   (root / "README.md").read_text())}


def metadata_points(path: Path) -> float:
    return float(sum(c.metadata.get("nbgrader", {}).get("points", 0)
                     for c in nbformat.read(path, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade")))


# --------------------------------------------------------------------------- the guide names what exists


def _resolves(dotted: str) -> bool:
    """Whether ``te_course.x.y`` is a module or an attribute of one."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_the_guide_names_only_targets_files_tests_and_names_that_exist():
    text = GUIDE.read_text()
    makefile = (ROOT / "Makefile").read_text()
    spans = inline_code(text)
    grading = (ROOT / "te_course" / "grading.py").read_text()
    tests = "\n".join(p.read_text() for p in sorted((ROOT / "tests").glob("*.py")))
    sources = "\n".join([tests, *(p.read_text() for p in [*sorted((ROOT / "te_course").rglob("*.py")),
                                                          *sorted((ROOT / "book").glob("*.py"))])])
    checked, wrong = Counter(), []
    for span in spans:
        if span.startswith("make "):
            target = span.split()[1]
            checked["make"] += 1
            if not re.search(rf"^{re.escape(target)}:", makefile, flags=re.M):
                wrong.append(f"`{span}`: the Makefile has no target {target!r}")
        elif span.startswith("python -m te_course.grading "):
            checked["command"] += 1
            if f'add_parser("{span.split()[3]}"' not in grading:
                wrong.append(f"`{span}`: python -m te_course.grading has no command {span.split()[3]!r}")
        elif re.fullmatch(r"test_\w+", span):
            checked["test"] += 1
            if not re.search(rf"^def {span}\(", tests, flags=re.M):
                wrong.append(f"`{span}`: no test of tests/ has that name")
        elif re.fullmatch(r"[A-Z][A-Z_]+[A-Z]", span) and span not in ("HEAD", "LICENSE"):  # git's HEAD, a file
            checked["constant"] += 1
            if not re.search(rf"^{span}\s*[:=]", sources, flags=re.M):
                wrong.append(f"`{span}`: no module of tests/, te_course/ or book/ defines it")
        elif re.fullmatch(r"te_course(\.\w+)+", span):
            checked["name"] += 1
            if not _resolves(span):
                wrong.append(f"`{span}`: no such name in the package")
        elif re.fullmatch(r"\.?[\w-]+(\.\w+)?(/[\w.-]*)*(::\w+)?", span) and (
                "/" in span or re.search(r"\.(md|py|toml|cff|yml|ipynb|txt|json)(::\w+)?$", span)
                or span in ("LICENSE", "Makefile")):
            if any(p in span for p in PLACEHOLDERS) or span in GENERATED:
                continue
            path, _, test = span.partition("::")
            checked["path"] += 1
            if not (ROOT / path).exists():
                wrong.append(f"`{span}`: {path} does not exist")
            elif test and not re.search(rf"^def {test}\(", (ROOT / path).read_text(), flags=re.M):
                wrong.append(f"`{span}`: {path} has no test {test}")
    assert not wrong, "CONTRIBUTING.md names what does not exist:\n" + "\n".join(wrong)
    # the guide does name them (the parsing above found something to check)
    assert checked["make"] >= 10 and checked["path"] >= 30 and min(checked.values()) >= 1 and len(checked) == 6, checked
    for target in re.findall(r"^\.PHONY: (.*)$", makefile, flags=re.M)[0].split():
        assert f"`make {target}" in text, f"CONTRIBUTING.md, How to run the checks, does not list `make {target}`"


def test_the_guide_checker_reads_inline_code_and_package_names():
    """The parsing above sees what it must check: spans outside code blocks, names that do not resolve."""
    spans = inline_code("Run `make nosuchtarget`, see `tests/test_nothing.py::test_x` and ``a `quoted` span``.\n"
                        "```bash\n`make inside_a_block`\n```\n")
    assert spans == ["make nosuchtarget", "tests/test_nothing.py::test_x", "a `quoted` span"]
    assert not _resolves("te_course.grading.no_such_function") and _resolves("te_course.grading.hidden_check")


def test_the_lists_kept_by_hand_name_every_chapter():
    assert unlisted(ROOT) == [], "a list the guide says to keep by hand misses a chapter:\n" + "\n".join(unlisted(ROOT))


def test_the_guide_has_every_example_the_scratch_chapter_is_built_from():
    examples = guide_examples()
    assert set(examples) == {"answer-cell", "answer-metadata", "test-cell", "test-metadata", "check-module", "cheat",
                             "slips", "hint", "readme-row", "start-page-row", "toctree-line"}
    answer, test = json.loads(examples["answer-metadata"]), json.loads(examples["test-metadata"])
    assert test["nbgrader"]["grade_id"] == answer["nbgrader"]["grade_id"] + "_tests"
    readme_row = re.search(r"ready \((\d+) points\)", examples["readme-row"])
    assert readme_row and float(readme_row[1]) == test["nbgrader"]["points"], "the example's README row and points"
    compile(examples["check-module"], "ch10.py", "exec")
    assert NAME in ast.literal_eval("{" + examples["cheat"] + "}")
    slips = ast.parse("{" + examples["slips"] + "}", mode="eval").body
    assert [k.value for k in slips.keys] == [answer["nbgrader"]["grade_id"]], "the example's slips, keyed by its check"


# --------------------------------------------------------------------------- a chapter added as the guide says


def _scratch_copy(dest: Path) -> Path:
    dest.mkdir()
    for name in COPIED:
        shutil.copytree(ROOT / name, dest / name, ignore=IGNORED)
    top = [p.name for p in ROOT.iterdir() if p.is_file() and not p.name.startswith(".")]
    for name in sorted(set(top) - set(IGNORED(str(ROOT), top))):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _chapter(ex: dict[str, str]) -> nbformat.NotebookNode:
    """The scratch chapter, in the shape the guide gives, with the guide's example exercise."""
    answer, test = new_code_cell(ex["answer-cell"]), new_code_cell(ex["test-cell"])
    answer.metadata.update(json.loads(ex["answer-metadata"]))
    test.metadata.update(json.loads(ex["test-metadata"]))
    points = test.metadata["nbgrader"]["points"]
    model_code = new_code_cell("# Model answer\nfor n_firms in (1, 2, 5, 10):\n"
                               "    print(f'{n_firms} equal firms: HHI {tc.hhi(np.ones(n_firms)):,.0f}')")
    model_text = new_markdown_cell("**Model answer.** With n equal firms each share is 100 / n percent, so the "
                                   "index is n (100 / n)^2 = 10,000 / n, as the printout shows.")
    for cell in (model_code, model_text):
        cell.metadata["tags"] = ["model-answer"]
    cells = [
        new_markdown_cell("# Chapter 10: Scratch, the concentration of a market\n\nA throwaway chapter that "
                          "tests/test_contributing.py adds to a scratch copy of the course.\n\n**By the end of "
                          "this chapter you can** compute the Herfindahl-Hirschman index (HHI) of a market.\n\n"
                          f"Exercises are worth {points} points in all."),
        new_code_cell("import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n\n"
                      "import te_course as tc\n\nrng = np.random.default_rng(2026)"),
        new_markdown_cell("## 1. Shares and the HHI\n\nThe HHI adds up the squares of the firms' shares, in "
                          "percent. Four firms with shares 30, 30, 20 and 20 % give 900 + 900 + 400 + 400:"),
        new_code_cell("print(tc.hhi([30, 30, 20, 20]))"),
        new_markdown_cell("## 2. Explore\n\nHow does the index of *n* equal firms fall as *n* grows?"),
        new_code_cell("for n in (1, 2, 4):\n    print(n, tc.hhi(np.ones(n)))"),
        model_code,
        model_text,
        new_markdown_cell("## 3. Exercises"),
        new_markdown_cell(f"### Exercise 1 ({points} points): the HHI [section 1]\n\nWrite `market_hhi(quantities)`: "
                          "the HHI of the quantities the firms sell, from 0 to 10,000. It raises a `ValueError` "
                          "for a negative quantity, or when nothing is sold."),
        new_markdown_cell(ex["hint"]),
        answer,
        test,
        new_markdown_cell("## Summary\n\n* The HHI is the sum of the squared percentage shares.\n\n"
                          "## Further reading\n\n* US Department of Justice and Federal Trade Commission, "
                          "*Merger Guidelines*, 2023."),
    ]
    source = nbformat.read(ROOT / "solutions" / "01_double_auction" / "01_double_auction.ipynb", as_version=4)
    return new_notebook(cells=cells, metadata=source.metadata)


def _insert_after_last(text: str, prefix: str, new: str) -> str:
    """``text`` with the line ``new`` after its last line that starts with ``prefix``."""
    lines = text.split("\n")
    last = max(i for i, ln in enumerate(lines) if ln.startswith(prefix))
    return "\n".join(lines[: last + 1] + [new] + lines[last + 1:])


def _edit_the_lists(root: Path, ex: dict[str, str]) -> None:
    """Step 4 of "How to add a chapter", and step 5 (``CHEATS``, ``SLIPS``), with the guide's example entries."""
    readme = (root / "README.md").read_text()
    head, rest = readme.split("\n## Course map\n", 1)
    course_map, tail = rest.split("\n## ", 1)
    readme = head + "\n## Course map\n" + _insert_after_last(course_map, "|", ex["readme-row"]) + "\n## " + tail
    readme, n = re.subn(r'^(ALL="[^"]*)"', rf'\1 {NAME}"', readme, count=1, flags=re.M)
    assert n == 1, 'README.md has no ALL="..." list'
    (root / "README.md").write_text(readme)

    start = nbformat.read(root / START_PAGE, as_version=4)
    cell = next(c for c in start.cells if c.cell_type == "markdown" and c.source.startswith("## The course map"))
    cell.source = _insert_after_last(cell.source, "|", ex["start-page-row"])
    nbformat.write(start, root / START_PAGE)

    index = (root / "book" / "index.md").read_text()
    (root / "book" / "index.md").write_text(_insert_after_last(index, "chapters/", ex["toctree-line"]))

    tests = (root / "tests" / "test_notebooks.py").read_text()
    assert "\nCHEATS = {\n" in tests, "tests/test_notebooks.py has no CHEATS dict for the guide's step 5"
    (root / "tests" / "test_notebooks.py").write_text(tests.replace("\nCHEATS = {\n", "\nCHEATS = {\n" + ex["cheat"]
                                                                    + "\n", 1))

    wrong = (root / "tests" / "wrong_answers.py").read_text()
    assert "\nSLIPS = {\n" in wrong, "tests/wrong_answers.py has no SLIPS dict for the exercise's classic slips"
    wrong = wrong.replace("\nSLIPS = {\n", "\nSLIPS = {\n" + ex["slips"] + "\n", 1)
    (root / "tests" / "wrong_answers.py").write_text(wrong)


def _env(root: Path, home: Path) -> dict[str, str]:
    """The course's commands on the scratch copy: its package first on the path, its folder as the course."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "TE_COURSE_ROOT"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])), TE_COURSE_ROOT=str(root),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"))
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    return env


def _run(cmd: list, root: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"`{' '.join(map(str, cmd))}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


# The course's own tests that must pick the chapter up and pass, run on the scratch copy: the test (its
# function name) and how many of its cases at least (the chapter's or its check's parameters).  Three are left
# out because this test does what they do, in less time: `test_release_is_up_to_date` releases the whole course
# again (the copy's release is the command's own, above); `test_untouched_student_notebook_fails_every_test` and
# `test_autograde_gives_full_marks_to_the_solution_and_zero_to_the_blank` run the solution and the untouched
# notebook once more, which `python -m te_course.grading autograde` grades below.
PICKED_UP = {
    "tests/test_notebooks.py": {
        "test_every_chapter_has_a_solution_and_a_student_notebook": 1,
        "test_committed_notebooks_have_no_outputs": 2,
        "test_student_release_leaks_no_solution_and_no_hidden_test": 1,
        "test_every_graded_cell_has_id_points_and_a_check_docstring": 1,
        "test_solution_passes_its_own_tests": 1,
        "test_hidden_tests_cannot_be_passed_by_calling_the_package": 1,
        "test_every_exercise_has_a_hint_the_student_can_open": 1,
        "test_no_exercise_of_two_points_or_more_is_a_one_liner": 1,
        "test_every_explore_section_has_a_model_answer_kept_from_students": 1,
    },
    "tests/test_hidden_checks.py": {
        "test_every_hidden_test_is_one_call_to_its_own_check": 1,
        "test_every_check_belongs_to_an_exercise": 1,
        "test_every_name_a_check_switches_off_exists_in_the_package": 1,
        "test_cases_are_fresh_for_each_seed_student_and_exercise_and_the_same_on_a_regrade": 1,
        "test_the_solution_passes_on_fresh_cases": 1,
        "test_a_stub_fails_every_check": 3,
    },
    "tests/test_book_prepare.py": {
        "test_each_exercise_reads_starting_code_then_solution_then_visible_tests": 1,
        "test_no_hidden_test_no_marker_and_model_answers_only_with_solutions": 2,
    },
    "tests/test_wrong_answers.py": {
        "test_every_exercise_has_its_classic_slips_and_every_edit_still_applies": 1,
        "test_the_visible_tests_fail_every_wrong_answer_with_a_message_that_points_at_it": 1,
        "test_the_hidden_check_fails_every_wrong_answer_too": 1,
    },
    "tests/test_student_release.py": {
        "test_release_copies_notebooks_package_and_environment_unchanged": 1,
        "test_no_solution_or_hidden_test_line_in_any_file_of_the_release": 1,
    },
}


# The tests above that are not parametrized by chapter or check: they look at every chapter at once.
WHOLE_COURSE = ("test_every_chapter_has_a_solution_and_a_student_notebook",
                "test_every_hidden_test_is_one_call_to_its_own_check", "test_every_check_belongs_to_an_exercise",
                "test_release_copies_notebooks_package_and_environment_unchanged",
                "test_no_solution_or_hidden_test_line_in_any_file_of_the_release")


LEFT_OUT = "(test_untouched_student_notebook_fails_every_test or test_autograde_gives_full_marks_to_the_solution)"


def _junit_outcomes(path: Path) -> tuple[Counter, list[str]]:
    """Passed cases per test function, and every case that failed or errored, from a JUnit XML report."""
    passed, bad = Counter(), []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        if outcome == "passed":
            passed[name.split("[")[0]] += 1
        elif outcome != "skipped":
            message = next(child for child in case if child.tag == outcome)
            bad.append(f"{case.get('classname')}::{name}: {(message.get('message') or '')[:500]}")
    return passed, bad


def _grades(root: Path, assignment: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "te_course") as gb:
        return {s.student.id: (float(s.score), float(s.max_score)) for s in gb.assignment_submissions(assignment)}


def test_a_chapter_added_as_the_guide_says_is_released_tested_and_graded(tmp_path):
    ex = guide_examples()
    root = _scratch_copy(tmp_path / "course")
    env = _env(root, tmp_path / "home")
    answer_id = json.loads(ex["answer-metadata"])["nbgrader"]["grade_id"]
    points = json.loads(ex["test-metadata"])["nbgrader"]["points"]

    # Steps 1 and 2: the notebook and its hidden checks
    chapter = root / "solutions" / NAME / f"{NAME}.ipynb"
    chapter.parent.mkdir()
    nbformat.write(_chapter(ex), chapter)
    (root / "te_course" / "_checks" / "ch10.py").write_text(ex["check-module"] + "\n")
    assert NAME in assignments(root)
    # before step 4 the lists kept by hand miss the chapter, and the check says so
    missing = unlisted(root)
    assert len(missing) == 4 and all(NAME in m for m in missing), missing
    # Steps 4 and 5: the lists and CHEATS
    _edit_the_lists(root, ex)
    assert unlisted(root) == []
    assert readme_points(root)[NAME] == metadata_points(chapter) == points

    # Step 3: `make release`, the command it runs
    released = _run([BIN / "python", "-m", "te_course.grading", "release"], root, env)
    assert f"wrote notebooks/{NAME}/{NAME}.ipynb" in released.stdout.splitlines()
    student = nbformat.read(root / "notebooks" / NAME / f"{NAME}.ipynb", as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "hidden_check", "Model answer"):
        assert secret not in text, f"the release of {NAME} contains {secret!r}"
    assert not any(is_model_answer(c) for c in student.cells)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in student.cells
             if "grade_id" in c.metadata.get("nbgrader", {})}
    answer, tests = cells[answer_id], cells[f"{answer_id}_tests"]
    assert "raise NotImplementedError()" in answer.source and ex["answer-cell"].split("\n")[0] in answer.source
    for line in _region(ex["answer-cell"], "### BEGIN SOLUTION", "### END SOLUTION"):
        assert line not in answer.source, f"a solution line reached the student notebook: {line!r}"
    assert tests.source.strip() == ex["test-cell"].split("### BEGIN HIDDEN TESTS")[0].strip()
    assert tests.metadata["nbgrader"]["points"] == points and tests.metadata["nbgrader"]["locked"]
    start = nbformat.read(root / "notebooks" / START_PAGE.relative_to("solutions"), as_version=4)
    assert f"../{NAME}/{NAME}.ipynb" in "\n".join(c.source for c in start.cells)

    # The book's own rule finds the chapter too (book/prepare.py of the copy, whose ROOT is the copy).
    spec = importlib.util.spec_from_file_location("scratch_book_prepare", root / "book" / "prepare.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    assert NAME in prepare.assignments()

    # Autograding with the instructors' command (the solution, the untouched notebook, an answer that calls
    # te_course) runs beside the course's own tests on the copy, which write nothing into it.
    _submit(root, ex, chapter, answer_id)
    log = tmp_path / "autograde.log"
    with open(log, "w") as out:
        grading = subprocess.Popen([BIN / "python", "-m", "te_course.grading", "autograde", NAME, "--quiet"],
                                   cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        # The course's own tests on the copy pick the chapter (and its check) up and pass.
        report = tmp_path / "junit.xml"
        selected = f"({' or '.join([NAME, answer_id, *WHOLE_COURSE])}) and not {LEFT_OUT}"
        proc = subprocess.run([BIN / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                               f"--basetemp={tmp_path / 'inner'}", "-k", selected, *PICKED_UP],
                              cwd=root, env=env, capture_output=True, text=True, timeout=900)
        graded = grading.wait(timeout=900)
    finally:
        if grading.poll() is None:
            grading.kill()
            grading.wait()
    assert report.exists(), f"the course's tests did not run on the copy:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    passed, bad = _junit_outcomes(report)
    assert not bad and proc.returncode == 0, "the course's tests fail on the chapter added as CONTRIBUTING.md says:\n" \
        + "\n".join(bad) + "\n" + proc.stdout[-2000:]
    short = {t: passed[t] for tests in PICKED_UP.values() for t, n in tests.items() if passed[t] < n}
    assert not short, f"these tests of the course did not pick up {NAME} (cases passed): {short}"

    assert graded == 0 and "autograded 3 of 3 submissions" in log.read_text(), log.read_text()[-3000:]
    assert _grades(root, NAME) == {"solution": (points, points), "untouched": (0.0, points),
                                   "calls_the_package": (0.0, points)}


def _submit(root: Path, ex: dict[str, str], chapter: Path, answer_id: str) -> None:
    """Three submissions of the scratch chapter, as nbgrader's collect leaves them in ``submitted/``."""
    (function, body), = ast.literal_eval("{" + ex["cheat"] + "}")[NAME].items()
    for who in ("solution", "untouched", "calls_the_package"):
        folder = root / "submitted" / who / NAME
        folder.mkdir(parents=True)
        if who == "solution":
            shutil.copy(chapter, folder / chapter.name)
            continue
        nb = nbformat.read(root / "notebooks" / NAME / chapter.name, as_version=4)
        if who == "calls_the_package":
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == answer_id)
            assert f"def {function}(" in cell.source
            cell.source, n = re.subn(r"# YOUR CODE HERE\n\s*raise NotImplementedError\(\)", lambda m: body,
                                     cell.source)
            assert n == 1, cell.source
        nbformat.write(nb, folder / chapter.name)


@pytest.mark.parametrize("example", ["readme-row", "start-page-row", "toctree-line"])
def test_each_list_entry_of_the_guide_is_found_by_the_list_check(tmp_path, example):
    """The list check can fail: each of the guide's entries, left out, is reported for its own list."""
    ex = guide_examples()
    root = tmp_path / "course"
    (root / "book").mkdir(parents=True)
    shutil.copy2(ROOT / "README.md", root / "README.md")
    shutil.copy2(ROOT / "book" / "index.md", root / "book" / "index.md")
    shutil.copytree(ROOT / "solutions", root / "solutions", ignore=IGNORED)
    (root / "tests").mkdir()
    (root / "tests" / "test_notebooks.py").write_text("\nCHEATS = {\n}\n")
    (root / "tests" / "wrong_answers.py").write_text("\nSLIPS = {\n}\n")
    (root / "solutions" / NAME).mkdir()
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Chapter 10")]), root / "solutions" / NAME / f"{NAME}.ipynb")
    _edit_the_lists(root, {**ex, example: ""})
    found = unlisted(root)
    where = {"readme-row": "Course map", "start-page-row": "start page", "toctree-line": "toctree"}[example]
    assert len(found) == 1 and where in found[0] and NAME in found[0], found
