"""Grading a class several submissions at once, on one machine or on a Dask cluster, and resuming after a stop.

One class on chapter 1, six students: two submit the solution, two the untouched
release, one the first exercise only, and one a file cut short (not a notebook).
It is graded three ways from three copies of the same course (same secret seed):
one submission at a time (``jobs=1``), two at a time (``jobs=2``), and on a
``distributed.LocalCluster`` of two workers.  The three must give the same grades
and the same autograded notebooks, cell by cell.  The expected grades do not come
from nbgrader: full marks are the sum of the points in the source's metadata, the
first exercise alone earns its own points, an untouched notebook zero.

The interruption test stops a parallel run from the command line twice, with
Ctrl-C (SIGINT) and as if the machine went away (SIGKILL), while a slow submission
is still running, then runs the command a third time and checks that every
submission is graded once, with the expected grade.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from te_course import _grading_pool, grading

ROOT = Path(__file__).resolve().parent.parent
A = "01_double_auction"
SEED = "a seed for this test"


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _graded_cells(nb):
    return [c for c in nb.cells if _meta(c).get("grade")]


def _course(tmp: Path) -> Path:
    root = tmp / "course"
    shutil.copytree(ROOT / "solutions" / A, root / "solutions" / A)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / ".grading_seed").write_text(SEED)
    (root / ".grading_seed").chmod(0o600)
    grading.release(root, names=[A])
    return root


def _notebooks(root: Path) -> dict[str, str]:
    """Each student's submitted file (a class of six, see the module's docstring)."""
    solution = nbformat.read(root / "solutions" / A / f"{A}.ipynb", as_version=4)
    release = nbformat.read(root / "notebooks" / A / f"{A}.ipynb", as_version=4)
    first = next(_meta(c)["grade_id"] for c in solution.cells if _meta(c).get("solution"))
    partial = nbformat.from_dict(release)
    for cell in partial.cells:
        if _meta(cell).get("grade_id") == first:
            cell.source = next(c.source for c in solution.cells if _meta(c).get("grade_id") == first)
    texts = {"ann": nbformat.writes(solution), "ben": nbformat.writes(release), "cat": nbformat.writes(partial),
             "dan": nbformat.writes(solution), "eve": nbformat.writes(release)}
    texts["fay"] = texts["ann"][: len(texts["ann"]) // 3]  # an upload cut short
    return texts


def _expected(root: Path) -> dict[str, float | None]:
    nb = nbformat.read(root / "solutions" / A / f"{A}.ipynb", as_version=4)
    full = float(sum(_meta(c)["points"] for c in _graded_cells(nb)))
    first = next(_meta(c)["grade_id"] for c in nb.cells if _meta(c).get("solution"))
    own = float(sum(_meta(c)["points"] for c in _graded_cells(nb) if _meta(c)["grade_id"] == f"{first}_tests"))
    assert 0 < own < full
    return {"ann": full, "ben": 0.0, "cat": own, "dan": full, "eve": 0.0, "fay": None}


def _submit(root: Path, texts: dict[str, str]) -> None:
    for student, text in texts.items():
        dest = root / "submitted" / student / A
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{A}.ipynb").write_text(text, encoding="utf-8")


# What differs between two runs of the same notebook, serial or not: a widget's model id (a fresh uuid), an
# object's address, and where the kernel's printed text is cut into stream outputs (as its messages arrive).
_RUN_SPECIFIC = re.compile(r'(?<="model_id": ")[0-9a-f]{32}|0x[0-9a-f]{6,16}')


def _joined_streams(outputs: list) -> list:
    out = []
    for o in outputs:
        if out and o.get("output_type") == "stream" == out[-1].get("output_type") and o["name"] == out[-1]["name"]:
            out[-1] = {**out[-1], "text": out[-1]["text"] + o["text"]}
        else:
            out.append(o)
    return out


def _outputs(root: Path, student: str) -> list:
    """Every cell of a student's autograded notebook: source, outputs, and nbgrader's metadata."""
    nb = nbformat.read(root / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    return [(c.cell_type, c.source,
             _RUN_SPECIFIC.sub("*", json.dumps(_joined_streams(c.get("outputs", [])), sort_keys=True)),
             c.metadata.get("nbgrader")) for c in nb.cells]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    root = _course(tmp_path_factory.mktemp("serial"))
    _submit(root, _notebooks(root))
    return root, grading.autograde(root, jobs=1)


def _graded_like_serial(serial, root, report):
    serial_root, serial_report = serial
    expected = _expected(root)
    assert {s.student: s.score for s in report.submissions} == expected
    assert [(s.student, s.score, s.max_score, s.reason) for s in report.submissions] == [
        (s.student, s.score, s.max_score, s.reason) for s in serial_report.submissions]
    assert "not a valid notebook file" in next(s.reason for s in report.submissions if s.student == "fay")
    for student, score in expected.items():
        if score is not None:
            assert _outputs(root, student) == _outputs(serial_root, student), f"{student}'s autograded notebook"
    assert not (root / _grading_pool.JOURNAL).exists(), "every marker removed"


def test_serial_grading_gives_the_expected_grades(serial):
    root, report = serial
    assert {s.student: s.score for s in report.submissions} == _expected(root)
    assert report.jobs == 1 and not report.ok and [s.student for s in report.failed] == ["fay"]


def test_two_at_a_time_gives_the_grades_and_notebooks_of_a_serial_run(serial, tmp_path):
    root = _course(tmp_path)
    _submit(root, _notebooks(root))
    seen = []
    report = grading.autograde(root, jobs=2, on_graded=seen.append)
    assert report.jobs == 2 and "2 at a time" in report.summary()
    assert sorted(s.student for s in seen) == sorted(s.student for s in report.submissions)
    _graded_like_serial(serial, root, report)


def test_a_dask_cluster_gives_the_grades_and_notebooks_of_a_serial_run(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    root = _course(tmp_path)
    _submit(root, _notebooks(root))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  processes=True) as cluster:
        report = grading.autograde(root, scheduler=cluster.scheduler_address)
        workers = len(cluster.scheduler_info["workers"])
    assert report.jobs == workers == 2
    _graded_like_serial(serial, root, report)


def test_a_scheduler_that_cannot_be_used_is_named_before_anything_is_graded(serial, tmp_path):
    pytest.importorskip("distributed")
    root, _ = serial
    with pytest.raises(RuntimeError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"):
        grading.autograde(root, students=["ann"], force=True, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"`jobs` must be a positive integer; got 0"):
        grading.autograde(root, jobs=0)


# --------------------------------------------------------------------------- interruptions

SLOW_S = 20  # the first exercise of the slow submission sleeps this long before answering


def _slow(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    cell = next(c for c in nb.cells if _meta(c).get("solution"))
    cell.source = f"import time\ntime.sleep({SLOW_S})\n" + cell.source
    return nbformat.writes(nb)


def _command(root: Path, signum: int | None) -> tuple[int, list[str], str]:
    """Run the grading command (two at a time, output to a log); send ``signum`` after its first graded line."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [sys.executable, "-m", "te_course.grading", "autograde", A, "--jobs", "2"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if signum is not None and line.startswith(f"{A}  ") and "earlier run" not in line:
            proc.send_signal(signum)
            break
    t0 = time.monotonic()
    rest, err = proc.communicate(timeout=600)
    lines += rest.splitlines()
    if signum is not None:
        assert time.monotonic() - t0 < SLOW_S / 2, "the slow kernel was stopped, not waited for"
    graded = [ln.split("  ")[1] for ln in lines if ln.startswith(f"{A}  ") and "earlier run" not in ln]
    return proc.returncode, graded, err


def test_an_interrupted_parallel_run_loses_nothing_and_the_next_run_grades_the_rest(tmp_path):
    from nbgrader.api import Gradebook

    root = _course(tmp_path)
    texts = _notebooks(root)
    del texts["fay"]
    texts["abe"] = _slow(texts["ann"])  # graded first (sorted), still running when the run is stopped
    _submit(root, texts)
    expected = _expected(root)
    expected["abe"] = expected["ann"]
    del expected["fay"]

    code, first, err = _command(root, signal.SIGINT)  # Ctrl-C
    assert code == 130, err[-2000:]
    assert "INTERRUPTED" in err and "Run the same command again" in err, err[-2000:]
    assert "abe" not in first and not (root / "autograded" / "abe" / A).exists()
    assert (root / _grading_pool.JOURNAL / "abe" / A).is_file(), "abe was cut short: marked to grade again"

    code, second, err = _command(root, signal.SIGKILL)  # the machine goes away
    assert code == -signal.SIGKILL
    assert not set(first) & set(second), "what was graded is skipped"
    assert "abe" not in second and (root / _grading_pool.JOURNAL / "abe" / A).is_file()
    assert (root / "autograded" / "abe" / A).is_dir(), "nbgrader had begun abe's graded copy"

    code, third, err = _command(root, None)
    assert code == 0, err[-2000:]
    assert sorted(first + second + third) == sorted(expected), "every submission graded exactly once"
    assert "abe" in third
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "te_course") as gb:
        assert {s: gb.find_submission(A, s).score for s in expected} == expected
    assert not (root / _grading_pool.JOURNAL).exists()


def test_the_journal_regrades_what_an_earlier_run_left_half_done(tmp_path):
    journal = _grading_pool.Journal(tmp_path)
    journal.start(A, "ann")
    journal.start(A, "ben")
    journal.finish(A, "ben")
    assert journal.unfinished() == [(A, "ann")]
    half = tmp_path / "autograded" / "ann" / A
    half.mkdir(parents=True)
    (half / "timestamp.txt").write_text("2026-12-01 10:00:00")
    assert journal.restart([(A, "ben")]) == [] and half.exists(), "not asked for: left alone"
    assert journal.restart([(A, "ann"), (A, "ben")]) == [(A, "ann")] and not half.exists()
    journal.finish(A, "ann")
    assert not (tmp_path / _grading_pool.JOURNAL).exists()
