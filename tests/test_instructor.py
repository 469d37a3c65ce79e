"""The instructor's journey with nbgrader's own commands, and the faults a real class produces.

One machine plays the whole class.  A scratch copy of the course (``solutions/``
and ``nbgrader_config.py``) gets a local exchange folder; the commands are the
ones README.md ("For instructors") gives, run as subprocesses from ``.venv/bin``:

1. ``python -m te_course.grading release`` (what ``make release`` runs);
2. ``nbgrader release_assignment NAME`` for every assignment;
3. three students, each from a folder of their own, ``nbgrader fetch_assignment``
   everything and ``nbgrader submit`` every graded assignment: alice the
   solution, bob the first half of the exercises, carol nothing;
4. ``nbgrader collect NAME``; ``python -m te_course.grading autograde``;
   ``nbgrader generate_feedback "*"``; ``nbgrader export``.

The expected scores do not come from nbgrader: full marks are the sum of the
``points`` of the graded cells in the source notebooks' metadata; bob earns the
points of the test cells of the exercises whose answer cells were copied into
his notebook; carol earns zero.

The faults (a loop that never ends, an edited locked test cell, a deleted
graded cell, a kernel that dies, a file that is not JSON, a student who calls
the package instead of answering) are a second class on chapter 1 only, graded
together with a student who submitted the solution, who must keep full marks.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from class_answers import (
    ASSIGNMENTS,
    FULL,
    GRADED,
    SOLVED_BY_BOB,
    _meta,
    _read,
    _source,
    answer,
    exercises,
    feedback_text,
    leaked,
    secret_lines,
)

from te_course import grading

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # .venv/bin under `make test`
COURSE_ID = "te_course"
SOLUTION, PARTIAL, UNTOUCHED = "alice", "bob", "carol"
FAULT_ASSIGNMENT = "01_double_auction"
TIMEOUT_S = 15  # per cell, instead of the course's 120 s, for the looping submission


# --------------------------------------------------------------------------- what the sources say



def expected_scores():
    """Score per (student, assignment): from the metadata and from what each student answered."""
    scores = {}
    for a in ASSIGNMENTS:
        pairs = exercises(a) if a in GRADED else []
        scores[(SOLUTION, a)] = float(sum(p for *_, p in pairs))
        scores[(PARTIAL, a)] = float(sum(p for ans, _, p in pairs if ans in SOLVED_BY_BOB[a]))
        scores[(UNTOUCHED, a)] = 0.0
    return scores



# --------------------------------------------------------------------------- running commands


def _run(cmd, cwd, home):
    """Run a command as a user whose Jupyter config and data live in ``home`` (nbgrader's cache too)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"))
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    proc.cmd = " ".join(str(c) for c in cmd)
    return proc


def _nbgrader(*args):
    return [BIN / "nbgrader", *args]


def _course_tool(*args):
    return [BIN / "python", "-m", "te_course.grading", *args]


def _all(jobs, *, first=1):
    """Run (cmd, cwd, home) jobs, the ``first`` ones before the others, then two at a time; all must succeed.

    nbgrader creates the folders it shares (the exchange's course folder,
    ``submitted/<student>/``, a student's cache) without expecting a second
    process to do the same at the same moment, so the first jobs create them.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda job: _run(*job), jobs[:first]))
        procs += list(pool.map(lambda job: _run(*job), jobs[first:]))
    for proc in procs:
        assert proc.returncode == 0, f"`{proc.cmd}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return procs


def _course(tmp, names):
    root = tmp / "course"
    root.mkdir()
    for name in names:
        shutil.copytree(ROOT / "solutions" / name, root / "solutions" / name)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def _grades_csv(root):
    with open(root / "grades.csv", newline="") as f:
        return {(row["student_id"], row["assignment"]): row for row in csv.DictReader(f)}



# --------------------------------------------------------------------------- the journey


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    """Release -> fetch -> submit -> collect -> autograde -> feedback -> export, every assignment, three students."""
    tmp = tmp_path_factory.mktemp("journey")
    root, exchange, instructor = _course(tmp, ASSIGNMENTS), tmp / "exchange", tmp / "home" / "instructor"
    exchange.mkdir()
    ex = f"--Exchange.root={exchange}"
    _all([(_course_tool("release"), root, instructor)])
    _all([(_nbgrader("release_assignment", a, ex), root, instructor) for a in ASSIGNMENTS])

    students = {s: tmp / "students" / s for s in (SOLUTION, PARTIAL, UNTOUCHED)}
    homes = {s: tmp / "home" / s for s in students}
    for folder in students.values():
        folder.mkdir(parents=True)
    _all([(_nbgrader("fetch_assignment", *ASSIGNMENTS, f"--course={COURSE_ID}", ex), folder, homes[s])
          for s, folder in students.items()])
    for a in GRADED:
        for s, solved in ((SOLUTION, {ans for ans, *_ in exercises(a)}), (PARTIAL, SOLVED_BY_BOB[a])):
            path = next((students[s] / a).glob("*.ipynb"))
            nbformat.write(answer(_read(path), a, solved), path)
    _all([(_nbgrader("submit", a, f"--course={COURSE_ID}", ex, f"--student={s}"), folder, homes[s])
          for a in GRADED for s, folder in students.items()], first=len(students))

    _all([(_nbgrader("collect", a, ex, "--ExchangeCollect.check_owner=False"), root, instructor) for a in GRADED])
    graded = _run(_course_tool("autograde"), root, instructor)
    _all([(_nbgrader("generate_feedback", "*"), root, instructor)])
    _all([(_nbgrader("export"), root, instructor)])
    return {"root": root, "autograde": graded, "students": students, "exchange": exchange, "instructor": instructor}


def test_every_submission_travelled_through_the_exchange(journey):
    inbound = journey["exchange"] / COURSE_ID / "inbound"
    submitted = sorted(p.name.split("+")[:2] for p in inbound.iterdir())
    assert submitted == sorted([s, a] for a in GRADED for s in (SOLUTION, PARTIAL, UNTOUCHED))
    for s in (SOLUTION, PARTIAL, UNTOUCHED):
        assert sorted(p.name for p in journey["students"][s].iterdir()) == ASSIGNMENTS, f"{s} fetched everything"


def test_grading_command_succeeds_when_every_submission_grades(journey):
    proc = journey["autograde"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    n = 3 * len(GRADED)
    assert f"autograded {n} of {n} submissions" in proc.stdout
    assert "FAILED" not in proc.stdout + proc.stderr


def test_exported_grades_are_the_expected_scores(journey):
    rows = _grades_csv(journey["root"])
    expected = expected_scores()
    assert set(rows) == set(expected), "grades.csv must list every student for every assignment"
    got = {key: float(row["score"]) for key, row in rows.items()}
    assert got == expected
    for (_, a), row in rows.items():
        assert float(row["max_score"]) == FULL.get(a, 0.0)
    # the README's course map states each chapter's points: they are what the class is graded out of
    stated = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"\| `(\d\d_\w+)` \| ready \((\d+) points\) \|", (ROOT / "README.md").read_text())}
    assert stated == {a: FULL[a] for a in GRADED if a != "00_start_here"}, (stated, FULL)


def _run_on_a_terminal(cmd, cwd, home):
    """Run ``cmd`` as :func:`_run` does, but with standard error on a pseudo-terminal (as in a shell)."""
    import fcntl
    import pty
    import struct
    import termios

    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"))
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal has a size
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stdout = proc.stdout.read()
    proc.wait(timeout=600)
    return proc.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_grading_shows_a_progress_bar_on_a_terminal_and_lines_in_a_log(journey):
    """On a terminal: a bar (done / total, failures, elapsed, time left); in a log: a line each; --quiet: neither."""
    root, home, a = journey["root"], journey["instructor"], GRADED[1]
    code, stdout, terminal = _run_on_a_terminal(
        _course_tool("autograde", a, "--student", SOLUTION, "--student", UNTOUCHED, "--force"), root, home)
    assert code == 0, terminal[-2000:]
    assert re.search(r"autograding: 100%.*\| 2/2 \[\d\d:\d\d<00:00", terminal), terminal[-2000:]
    assert "failed=0" in terminal
    assert stdout.strip() == f"autograded 2 of 2 submissions ({a}) in " + stdout.split(" in ")[-1].strip()
    quiet = _run(_course_tool("autograde", a, "--student", SOLUTION, "--force", "--quiet"), root, home)
    assert quiet.returncode == 0 and quiet.stdout.splitlines() == [quiet.stdout.strip()], quiet.stdout
    assert quiet.stdout.startswith("autograded 1 of 1 submissions") and "autograding" not in quiet.stderr
    log = journey["autograde"].stdout.splitlines()  # the journey's run, output to a file: one line per submission
    assert sum(line.startswith(f"{a}  ") for line in log) == 3


def test_partial_answer_earns_exactly_the_solved_exercises(journey):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{journey['root'] / 'gradebook.db'}", COURSE_ID) as gb:
        for a in GRADED:
            sub = gb.find_submission_notebook(a, a, PARTIAL)
            scores = {g.name: g.score for g in sub.grades}
            for ans, test, points in exercises(a):
                want = points if ans in SOLVED_BY_BOB[a] else 0
                assert scores[test] == want, f"{a} {test}: {PARTIAL} solved={ans in SOLVED_BY_BOB[a]}"
            assert not sub.needs_manual_grade


def test_feedback_of_every_student_shows_no_hidden_test(journey):
    for a in GRADED:
        secret = secret_lines(a)
        assert secret, f"{a} has hidden tests"
        for s in (SOLUTION, PARTIAL, UNTOUCHED):
            page = journey["root"] / "feedback" / s / a / f"{a}.html"
            text = feedback_text(page)
            assert '"""Check that' in text, f"{page}: the feedback shows the visible tests"
            assert leaked(text, secret) == [], f"{s}/{a}: hidden-test lines in the feedback"


# --------------------------------------------------------------------------- faults


def _loop_exercise(name):
    """The first exercise whose function only its own test cell calls (so one cell times out)."""
    nb = _source(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for ans, test, points in exercises(name):
        cell = next(c for c in code if _meta(c).get("grade_id") == ans)
        fn = re.search(r"^def (\w+)\(", cell.source, flags=re.M)
        if fn is None:
            continue
        users = [c for c in code if c is not cell and re.search(rf"\b{fn.group(1)}\b", c.source)]
        if [_meta(c).get("grade_id") for c in users] == [test]:
            return ans, test, points
    raise AssertionError(f"{name}: no exercise whose function only its test calls")


A = FAULT_ASSIGNMENT
ALL = {ans for ans, *_ in exercises(A)} if A in GRADED else set()
EX1, EX1_TEST, EX1_POINTS = exercises(A)[0]
LAST, LAST_TEST, LAST_POINTS = exercises(A)[-1]
LOOP, LOOP_TEST, LOOP_POINTS = _loop_exercise(A)
CHEAT = {"ex1_count_trades": "return int(round(tc.clear_double_auction(bids, asks).quantity))"}


def _faulty_submissions(release_nb):
    """Student -> notebook JSON text, each with one fault; 'good' submits the solution."""
    def nb():
        return _read(release_nb)

    subs = {"good": answer(nb(), A, ALL)}
    subs["looper"] = answer(nb(), A, ALL, bodies={LOOP: "while True:  # never returns\n    pass"})
    tamperer = answer(nb(), A, ALL - {EX1})
    cell = next(c for c in tamperer.cells if _meta(c).get("grade_id") == EX1_TEST)
    cell.source = '"""Check that everything is fine."""\npass'
    subs["tamperer"] = tamperer
    deleter = answer(nb(), A, ALL)
    deleter.cells = [c for c in deleter.cells if _meta(c).get("grade_id") != LAST_TEST]
    subs["deleter"] = deleter
    crasher = answer(nb(), A, ALL)
    cell = next(c for c in crasher.cells if _meta(c).get("grade_id") == EX1)
    cell.source += "\n\nimport os\nos._exit(1)"
    subs["crasher"] = crasher
    subs["cheater"] = answer(nb(), A, ALL - set(CHEAT), bodies=CHEAT)
    texts = {s: nbformat.writes(n) for s, n in subs.items()}
    texts["corrupt"] = texts["good"][: len(texts["good"]) // 2]  # an upload cut short
    return texts


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """A class of seven on chapter 1: one good submission and six faulty ones, graded in one run."""
    tmp = tmp_path_factory.mktemp("faults")
    root, home = _course(tmp, [A]), tmp / "home"
    _all([(_course_tool("release"), root, home)])
    texts = _faulty_submissions(root / "notebooks" / A / f"{A}.ipynb")
    for student, text in texts.items():
        dest = root / "submitted" / student / A
        dest.mkdir(parents=True)
        (dest / f"{A}.ipynb").write_text(text, encoding="utf-8")
    graded = _run(_course_tool("autograde", A, "--timeout", TIMEOUT_S), root, home)
    _all([(_nbgrader("generate_feedback", A), root, home)])
    _all([(_nbgrader("export"), root, home)])
    from nbgrader.api import Gradebook, MissingEntry

    cells = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        for s in texts:
            try:
                grades = gb.find_submission_notebook(A, A, s).grades
            except MissingEntry:
                continue
            cells[s] = {g.name: (g.score, g.needs_manual_grade) for g in grades}
    scores = {student: float(row["score"]) for (student, _), row in _grades_csv(root).items()}
    return {"root": root, "autograde": graded, "scores": scores, "cells": cells, "lines": _result_lines(graded)}


def _result_lines(proc):
    """Student -> what the grading command printed for them ('8 / 10' or 'FAILED: ...')."""
    found = {}
    for line in proc.stdout.splitlines():
        parts = line.split("  ")
        if len(parts) >= 3 and parts[0] == A:
            found[parts[1]] = parts[2]
    return found


def _autograded_cell(root, student, grade_id):
    nb = _read(root / "autograded" / student / A / f"{A}.ipynb")
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def test_the_rest_of_the_class_is_graded_normally(faulty):
    assert faulty["scores"]["good"] == FULL[A]
    assert faulty["cells"]["good"] and all(not manual for _, manual in faulty["cells"]["good"].values())


def test_a_submission_that_loops_forever_loses_only_the_cells_that_time_out(faulty):
    assert faulty["scores"]["looper"] == FULL[A] - LOOP_POINTS
    assert faulty["cells"]["looper"][LOOP_TEST][0] == 0
    outputs = _autograded_cell(faulty["root"], "looper", LOOP_TEST).outputs
    errors = [o.ename for o in outputs if o.output_type == "error"]
    assert "CellTimeoutError" in errors, f"the cell should have been stopped by the time limit, got {errors}"
    assert faulty["lines"]["looper"] == f"{FULL[A] - LOOP_POINTS:g} / {FULL[A]:g}"


def test_an_edited_locked_test_cell_is_restored_and_graded_with_its_hidden_tests(faulty):
    restored = _autograded_cell(faulty["root"], "tamperer", EX1_TEST).source
    original = next(c.source for c in _source(A).cells if _meta(c).get("grade_id") == EX1_TEST)
    assert restored == original and "### BEGIN HIDDEN TESTS" in restored
    assert faulty["cells"]["tamperer"][EX1_TEST] == (0, False)
    assert faulty["scores"]["tamperer"] == FULL[A] - EX1_POINTS


def test_a_deleted_graded_cell_is_added_back_and_graded(faulty):
    assert faulty["cells"]["deleter"][LAST_TEST] == (LAST_POINTS, False), "graded, not left for manual grading"
    assert faulty["scores"]["deleter"] == FULL[A]
    restored = _autograded_cell(faulty["root"], "deleter", LAST_TEST)
    assert "### BEGIN HIDDEN TESTS" in restored.source


def test_a_kernel_crash_and_a_file_that_is_not_json_fail_the_grading_command_by_name(faulty):
    proc = faulty["autograde"]
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = proc.stderr
    assert "FAILED TO GRADE: 2 submission(s)" in report
    crash = next(ln for ln in report.splitlines() if ln.strip().startswith("crasher /"))
    assert "kernel died" in crash
    corrupt = next(ln for ln in report.splitlines() if ln.strip().startswith("corrupt /"))
    assert re.search(rf"{A}\.ipynb is not a valid notebook file \(not JSON: .*: line \d+, column \d+\)", corrupt)
    assert faulty["lines"]["crasher"].startswith("FAILED: ") and faulty["lines"]["corrupt"].startswith("FAILED: ")
    assert faulty["lines"]["good"] == f"{FULL[A]:g} / {FULL[A]:g}"
    named = {ln.strip().split(" /")[0] for ln in report.splitlines() if ln.startswith("  ") and " / " in ln}
    assert named == {"crasher", "corrupt"}, "only the two broken submissions are reported"


def test_export_alone_would_show_the_failed_submissions_as_real_zeros(faulty):
    """Why the grading command must fail: nbgrader's grades.csv cannot tell a crash from a zero."""
    assert faulty["scores"]["crasher"] == 0.0 and faulty["scores"]["corrupt"] == 0.0
    assert not (faulty["root"] / "autograded" / "crasher" / A).exists(), "nbgrader removed the failed copy"


def test_feedback_hides_the_hidden_tests_a_student_failed(faulty):
    secret = secret_lines(A)
    # the graded notebook shows hidden lines in the cheater's traceback: that is what feedback must not show
    outputs = _autograded_cell(faulty["root"], "cheater", EX1_TEST).outputs
    tb = "\n".join(ln for o in outputs if o.output_type == "error" for ln in o.traceback)
    assert leaked(re.sub(r"\x1b\[[0-9;]*m", "", tb), secret), "the hidden test should have failed with a traceback"
    assert faulty["cells"]["cheater"][EX1_TEST][0] == 0
    assert faulty["scores"]["cheater"] == FULL[A] - EX1_POINTS
    for student in ("good", "looper", "tamperer", "deleter", "cheater"):
        text = feedback_text(faulty["root"] / "feedback" / student / A / f"{A}.html")
        assert leaked(text, secret) == [], student
    cheater = feedback_text(faulty["root"] / "feedback" / "cheater" / A / f"{A}.html")
    assert "switched off while it is graded" in cheater, "the student still learns why the test failed"


# --------------------------------------------------------------------------- nbgrader validate


def test_nbgrader_validate_exits_zero_on_failing_tests_so_checks_use_the_api(tmp_path):
    student = ROOT / "notebooks" / A / f"{A}.ipynb"
    shutil.copy(student, tmp_path / student.name)
    proc = _run(_nbgrader("validate", student.name), tmp_path, tmp_path / "home")
    assert proc.returncode == 0 and "failed" in (proc.stdout + proc.stderr).lower()
    tests = [m for m in grading.validate(tmp_path / student.name) if m.startswith('failed: """Check that')]
    assert len(tests) == len(exercises(A)), "the API names every failing test cell"


# --------------------------------------------------------------------------- the grading command's checks


def _tiny_course(tmp_path, student="dana"):
    (tmp_path / "solutions" / A).mkdir(parents=True)
    (tmp_path / "submitted" / student / A).mkdir(parents=True)
    return tmp_path


def test_autograde_rejects_what_it_cannot_grade(tmp_path):
    with pytest.raises(ValueError, match=r"`root` must be a course directory .* has no solutions/"):
        grading.autograde(tmp_path)
    (tmp_path / "solutions").mkdir()
    with pytest.raises(ValueError, match=r"has no submitted/ \(collect first\)"):
        grading.autograde(tmp_path)
    root = _tiny_course(tmp_path)
    with pytest.raises(ValueError, match=r"nothing to grade: .* holds no submission"):
        grading.autograde(root)  # the solutions folder holds no notebook, so it is no assignment
    shutil.copy(next((ROOT / "solutions" / A).glob("*.ipynb")), root / "solutions" / A)
    with pytest.raises(ValueError, match=r"`names` entry '09_nope' is not an assignment of this course"):
        grading.autograde(root, names=["09_nope"])
    (root / "solutions" / "02_empty").mkdir()
    shutil.copy(next((ROOT / "solutions" / A).glob("*.ipynb")), root / "solutions" / "02_empty" / "x.ipynb")
    with pytest.raises(ValueError, match=r"`names` entry '02_empty' has no submission .* nbgrader collect 02_empty"):
        grading.autograde(root, names="02_empty")
    with pytest.raises(ValueError, match=r"`students` entry 'erin' has no submission to grade"):
        grading.autograde(root, students=["erin"])
    with pytest.raises(ValueError, match=r"`timeout` must be a positive number; got 0"):
        grading.autograde(root, timeout=0)
    with pytest.raises(ValueError, match=rf"assignment '{A}' is not in the gradebook .*: release it first"):
        grading.autograde(root, names=[A], db_url=f"sqlite:///{tmp_path / 'empty.db'}")


def test_the_command_line_says_what_is_wrong_and_exits_2(tmp_path, monkeypatch, capsys):
    root = _tiny_course(tmp_path)
    shutil.copy(next((ROOT / "solutions" / A).glob("*.ipynb")), root / "solutions" / A)
    monkeypatch.chdir(root)
    assert grading.main(["autograde", "09_nope"]) == 2
    assert "error: `names` entry '09_nope' is not an assignment" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        grading.main([])
    assert exit_info.value.code == 2


# --------------------------------------------------------------------------- the feedback scrubber, alone


def _failed_cell(source, traceback, ename="AssertionError", evalue=""):
    from nbformat.v4 import new_code_cell, new_output

    cell = new_code_cell(source)
    cell.outputs = [new_output("error", ename=ename, evalue=evalue, traceback=traceback)]
    return cell


def test_scrubber_removes_hidden_lines_from_coloured_tracebacks_and_keeps_the_rest():
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    source = ('"""Check that f works."""\nassert f(1) == 1, "f(1) should be 1"\n### BEGIN HIDDEN TESTS\n'
              'for x in (2, 3):\n    assert f(x) == x * x, f"f({x}) is {x * x}"\n### END HIDDEN TESTS')
    frame = ("Cell \x1b[0;32mIn[7], line 5\x1b[0m\n\x1b[1;32m      3\x1b[0m \x1b[38;5;66;03m### BEGIN HIDDEN TESTS"
             "\x1b[39;00m\n\x1b[1;32m      4\x1b[0m \x1b[38;5;28;01mfor\x1b[39;00m x "
             "\x1b[38;5;129;01min\x1b[39;00m (2, 3):"
             "\n\x1b[0;32m----> 5\x1b[0m     \x1b[38;5;28;01massert\x1b[39;00m f(x) == x * x, f\"f({x}) is {x * x}\"\n"
             "\x1b[1;32m      6\x1b[0m \x1b[38;5;66;03m### END HIDDEN TESTS\x1b[39;00m\n")
    graded = _failed_cell(source, ["\x1b[0;31m----\x1b[0m", frame, "\x1b[0;31mAssertionError\x1b[0m: f(2) is 4"],
                          evalue="f(2) is 4")
    printed = new_code_cell("print('hi')")
    printed.outputs = [new_output("stream", name="stdout", text="for x in (2, 3):\nhello\n")]
    nb = grading.scrub_hidden_test_outputs(new_notebook(cells=[graded, printed]))
    tb = "\n".join(nb.cells[0].outputs[0].traceback)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", tb)
    hidden = ("for x in (2, 3):", 'assert f(x) == x * x, f"f({x}) is {x * x}"', "### BEGIN HIDDEN TESTS", "f(2) is 4")
    for line in hidden:
        assert line not in plain
    assert "----> 5 (hidden test: not shown)" in plain and "Cell In[7], line 5" in plain
    assert plain.endswith("AssertionError: a hidden test failed (its code and message are not shown)")
    assert nb.cells[0].outputs[0].evalue == ""
    assert nb.cells[1].outputs[0].text == "(hidden test: not shown)\nhello\n"
    assert "### BEGIN HIDDEN TESTS" in nb.cells[0].source, "sources are ClearHiddenTests' job"


def test_scrubber_keeps_the_message_of_an_error_raised_in_the_students_code():
    from nbformat.v4 import new_notebook

    source = "### BEGIN HIDDEN TESTS\nassert g([5, 1]) == 6\n### END HIDDEN TESTS"
    tb = ["Cell In[9], line 2\n      1 ### BEGIN HIDDEN TESTS\n----> 2 assert g([5, 1]) == 6\n",
          "Cell In[4], line 3, in g(xs)\n      2 def g(xs):\n----> 3     return tc.total(xs)\n",
          "PackageDisabled: te_course.total is switched off while it is graded."]
    failed = _failed_cell(source, tb, ename="PackageDisabled", evalue="te_course.total is switched off")
    nb = new_notebook(cells=[failed])
    out = grading.scrub_hidden_test_outputs(nb).cells[0].outputs[0]
    assert out.evalue == "te_course.total is switched off"
    assert out.traceback[-1] == tb[-1] and out.traceback[1] == tb[1]
    assert "assert g([5, 1]) == 6" not in out.traceback[0]
    untouched = new_notebook(cells=[_failed_cell("assert h() == 1", ["----> 1 assert h() == 1", "AssertionError: "])])
    assert grading.scrub_hidden_test_outputs(untouched).cells[0].outputs[0].traceback[0] == "----> 1 assert h() == 1"


def test_scrubber_preprocessor_follows_the_markers_configured_for_clear_hidden_tests():
    from nbformat.v4 import new_notebook
    from traitlets.config import Config

    cfg = Config()
    cfg.ClearHiddenTests.begin_test_delimeter = "SECRET START"
    cfg.ClearHiddenTests.end_test_delimeter = "SECRET STOP"
    source = "# SECRET START\nassert k() == 42\n# SECRET STOP"
    nb = new_notebook(cells=[_failed_cell(source, ["----> 2 assert k() == 42", "AssertionError: "])])
    out, _ = grading.ScrubHiddenTestOutputs(config=cfg)(nb, {})  # as nbconvert calls it
    assert out.cells[0].outputs[0].traceback[0] == "----> 2 (hidden test: not shown)"
    assert json.dumps(out).count("assert k() == 42") == 1, "only the source still holds it"


def test_grading_report_puts_failures_first_in_words_and_tabulates_everything():
    ok = grading.Submission(A, "ann", True, 10.0, 10.0, False, 3.0)
    bad = grading.Submission(A, "bo", False, None, None, False, 0.1, "the kernel died")
    manual = grading.Submission(A, "cy", True, 7.0, 10.0, True, 2.0)
    report = grading.GradingReport((ok, bad, manual))
    assert not report.ok and report.failed == (bad,)
    text = report.summary()
    assert text.startswith(f"autograded 2 of 3 submissions ({A}) in 5 s")
    assert "1 need manual grading in the formgrader: cy" in text
    assert "FAILED TO GRADE: 1 submission(s)" in text and f"  bo / {A}: the kernel died" in text
    frame = report.to_frame()
    assert list(frame.columns) == ["assignment", "student", "graded", "score", "max_score", "needs_manual_grade",
                                   "seconds", "reason", "skipped"]
    assert frame["graded"].tolist() == [True, False, True] and frame["score"].iloc[0] == 10.0
    assert grading.GradingReport((ok,)).ok and "FAILED" not in grading.GradingReport((ok,)).summary()


def test_failure_reasons_an_instructor_can_act_on(tmp_path):
    folder = tmp_path / "submitted" / "dana" / A
    folder.mkdir(parents=True)
    (folder / "renamed.ipynb").write_text("{}")
    reason = grading._failure_reason(tmp_path, A, "dana", [A], {"success": True})
    assert reason == f"no {A}.ipynb in submitted/dana/{A}/ (found: renamed.ipynb)"
    (folder / f"{A}.ipynb").write_bytes(b'{"cells": [\xff')
    assert "is not a valid notebook file (not JSON: " in grading._failure_reason(tmp_path, A, "dana", [A], {})
    (folder / f"{A}.ipynb").write_text("{}")
    hung = {"success": False, "log": "[ERROR] ...\n    nbgrader.preprocessors.execute.UnresponsiveKernelError\n"}
    assert "could not be interrupted" in grading._failure_reason(tmp_path, A, "dana", [A], hung)
    other = {"success": False, "error": "Traceback ...\nnbformat.ValidationError: 'cells' is a required property"}
    assert grading._failure_reason(tmp_path, A, "dana", [A], other) == (
        "ValidationError: 'cells' is a required property")
    assert grading._failure_reason(tmp_path, A, "dana", [A], {"success": True}).startswith("nbgrader wrote no graded")
