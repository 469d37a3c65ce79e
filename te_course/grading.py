"""Grading tools: hidden-test helpers, the student release, validation, autograding, feedback.

What the notebooks, ``make release``, the instructor and the test suite share:

- :func:`hidden_check`, the one line of every hidden test: it runs the exercise's
  check (:mod:`te_course._checks`) on cases drawn at grading time and, while a
  submission is graded, lets the grader reach the verdict outside the kernel;
- :func:`package_disabled`, used by the checks so that an exercise cannot be
  passed by calling the package's own version of the function it asks for;
- :func:`release`, which regenerates ``notebooks/`` from ``solutions/`` with
  nbgrader's ``generate_assignment`` (run by ``make release``);
- :func:`validate`, nbgrader's validator through its Python API, because
  ``nbgrader validate`` on the command line exits 0 even when tests fail;
- :func:`autograde`, nbgrader's autograder run submission by submission (several
  at once, or on a Dask cluster: :mod:`te_course._grading_pool`), which
  reports by name every submission that failed to grade (a kernel that died, a
  file that is not a notebook): nbgrader itself logs the error, carries on, and
  its ``export`` then lists such a submission as 0.0, exactly like a real zero;
  every kernel runs in a bubblewrap sandbox (:mod:`te_course._sandbox`), so that
  student code cannot read the solutions, the gradebook or other submissions,
  reach the network, or exhaust the machine;
- ``student-release`` (:mod:`te_course._student_release`), which writes the
  tree students get (no solutions, no hidden tests) for Binder or a hub;
- :class:`ScrubHiddenTestOutputs` and :func:`scrub_hidden_test_outputs`, which
  remove hidden-test lines from the outputs (tracebacks) of the feedback that
  ``nbgrader generate_feedback`` writes; nbgrader's ``ClearHiddenTests`` removes
  them from the cell sources only (nbgrader issues #917 and #1156).

From the repository root (or any course directory with this ``nbgrader_config.py``)::

    python -m te_course.grading release                 # make release
    python -m te_course.grading autograde [NAME ...] [--student ID ...] [--timeout S] [--force] [--no-sandbox]
                                          [--quiet] [--jobs N] [--scheduler ADDRESS]
    python -m te_course.grading student-release DEST     # make student-release DEST=...

nbgrader is imported inside the functions, so ``import te_course`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ._paths import course_root, find_course_root
from ._progress import progress_bar

if TYPE_CHECKING:
    import pandas as pd
    from traitlets.config import Config

__all__ = [
    "PackageDisabled",
    "package_disabled",
    "hidden_check",
    "release",
    "validate",
    "assignments",
    "Submission",
    "GradingReport",
    "GradingInterrupted",
    "autograde",
    "hidden_test_lines",
    "scrub_hidden_test_outputs",
    "ScrubHiddenTestOutputs",  # noqa: F822  (built on first use, see __getattr__)
    "RemoveModelAnswers",  # noqa: F822  (built on first use, see __getattr__)
    "is_model_answer",
]

#: The course folder found at import (see :func:`te_course._paths.course_root`), None if there is none;
#: the functions below look again when called without ``root``.
REPO_ROOT = find_course_root()


class PackageDisabled(AssertionError):
    """Raised when graded code calls a ``te_course`` function that a hidden test disabled."""


@contextlib.contextmanager
def package_disabled(*names: str, namespace: dict | None = None) -> Iterator[None]:
    """Make ``te_course`` functions raise while a hidden test runs the student's code.

    Every listed name is replaced, for the duration of the ``with`` block, in
    ``te_course``, in the module that defines it, and in ``namespace`` (the
    notebook's globals; ``__main__`` by default) wherever the notebook bound the
    same object under any name (``from te_course.auction import
    clear_double_auction as f`` is caught too).

    Parameters
    ----------
    *names : str
        Names of public ``te_course`` functions, for example
        ``"clear_double_auction"``, or dotted ``"auction._fill"`` for helpers.
    namespace : dict, optional
        Where else to look for aliases; the notebook's globals by default.

    Examples
    --------
    >>> import te_course as tc
    >>> with package_disabled("clear_double_auction"):
    ...     tc.clear_double_auction([12], [5])
    Traceback (most recent call last):
    ...
    te_course.grading.PackageDisabled: This exercise asks you to write the code yourself: ...
    >>> tc.clear_double_auction([12], [5]).quantity
    1.0
    """
    import te_course

    if namespace is None:
        namespace = vars(sys.modules["__main__"])
    saved: list[tuple[object, str, object]] = []

    def swap(holder, attr, new) -> None:
        if isinstance(holder, dict):
            saved.append((holder, attr, holder[attr]))
            holder[attr] = new
        else:
            saved.append((holder, attr, getattr(holder, attr)))
            setattr(holder, attr, new)

    try:
        for name in names:
            if "." in name:
                mod_name, attr = name.rsplit(".", 1)
                module = importlib.import_module(f"te_course.{mod_name}")
                original = getattr(module, attr)
            else:
                attr = name
                original = getattr(te_course, name)
                module = importlib.import_module(original.__module__)

            def blocked(*args, _name=f"te_course.{name}", **kwargs) -> NoReturn:
                raise PackageDisabled(
                    f"This exercise asks you to write the code yourself: {_name} is switched off while it is graded."
                )

            for holder in (te_course, module):
                if getattr(holder, attr, None) is original:
                    swap(holder, attr, blocked)
            for key, value in list(namespace.items()):
                if value is original:
                    swap(namespace, key, blocked)
        yield
    finally:
        for holder, attr, value in reversed(saved):
            if isinstance(holder, dict):
                holder[attr] = value
            else:
                setattr(holder, attr, value)


def hidden_check(check_id: str, function: Callable, *, cases: str | None = None, nonce: str | None = None) -> None:
    """Run the hidden check ``check_id`` on the student's ``function`` (the one line of a hidden test).

    Outside grading (``make test``, an instructor's run) the check draws its cases
    from a fixed seed and compares the results with the package's reference here,
    raising AssertionError on the first wrong case.  While a submission is graded,
    the grader writes the cases it drew from the instructor's secret seed into the
    call (``cases``, ``nonce``); the kernel then only publishes the results, and the
    grader judges them in its own process (:mod:`te_course._checks`).

    Parameters
    ----------
    check_id : str
        The exercise, as its test cell's ``grade_id`` without ``_tests``.
    function : callable
        The student's function.
    cases, nonce : str, optional
        Written by the grader; never by hand.

    Raises
    ------
    AssertionError
        Outside grading, when a case is wrong; :class:`PackageDisabled` when the
        function calls the package's own version of the exercise.

    Examples
    --------
    >>> def k_price(lo, hi, k):
    ...     if not 0 <= k <= 1:
    ...         raise ValueError("k must lie in [0, 1]")
    ...     return lo + k * (hi - lo)
    >>> hidden_check("ex3_k_price", k_price)
    >>> hidden_check("ex3_k_price", lambda lo, hi, k: lo)
    Traceback (most recent call last):
    ...
    AssertionError: hidden check ex3_k_price: ...
    """
    from te_course._checks import run_in_kernel

    run_in_kernel(check_id, function, cases=cases, nonce=nonce)


def assignments(root: Path | str | None = None) -> list[str]:
    """Return the assignment folders of ``solutions/`` (``00_start_here``, ...), sorted."""
    src = Path(course_root() if root is None else root) / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and p.name[:2].isdigit() and any(p.glob("*.ipynb")))


def release(root: Path | str | None = None, *, names: list[str] | None = None, db_url: str | None = None) -> list[Path]:
    """Regenerate the student notebooks from the solutions with nbgrader.

    Runs nbgrader's ``generate_assignment`` for every assignment in
    ``root/solutions`` (or only ``names``), writing ``root/notebooks/NAME/``.
    The course's ``nbgrader_config.py`` in ``root`` is used.

    Parameters
    ----------
    root : path
        The course directory (the repository root by default).
    names : list of str, optional
        Assignments to release; all by default.
    db_url : str, optional
        The gradebook database (default: ``sqlite:///root/gradebook.db``).

    Returns
    -------
    list of pathlib.Path
        The student notebooks written.

    Raises
    ------
    RuntimeError
        If nbgrader fails on an assignment (its log says why).
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _venv_on_path()
    root = Path(course_root() if root is None else root).resolve()
    config = _course_config(root)
    config.CourseDirectory.root = str(root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    written = []
    for name in names or assignments(root):
        out = root / "notebooks" / name
        if out.exists():
            shutil.rmtree(out)
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            log, error = result.get("log", ""), result.get("error", "")
            raise RuntimeError(f"nbgrader could not release {name}:\n{log}\n{error}")
        written.extend(sorted(out.glob("*.ipynb")))
    return written


def _venv_on_path() -> None:
    """Put this interpreter's ``bin`` first on PATH: nbgrader runs ``alembic`` from there."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


def _course_config(root: Path) -> Config:
    """Load the ``nbgrader_config.py`` files that nbgrader's own commands read, run from ``root``.

    Those of the Jupyter config path first (the system-wide one of a hub, with ``Exchange.root``;
    the user's ``~/.jupyter``), then the course's ``root/nbgrader_config.py``, each overriding the
    ones before, as nbgrader does.  The sandbox hides the exchange it finds there.
    """
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    return config


def validate(path: Path | str, *, invert: bool = False) -> list[str]:
    """Run a notebook's tests with nbgrader's validator and return what went wrong.

    Parameters
    ----------
    path : path
        The notebook.
    invert : bool
        ``False``: return the cells that fail: a graded test cell that does
        not pass, or any code cell that raises an error (warnings printed
        on stderr do not count; an empty list means the whole
        notebook runs and every test passes, as for a solution notebook).  ``True``: return the graded
        test cells that *pass* (an empty list means every test fails, as for an
        untouched student notebook).

    Returns
    -------
    list of str
        One message per offending cell; empty when the notebook is as expected.
    """
    from nbgrader import utils
    from nbgrader.validator import Validator

    class _Validator(Validator):
        """nbgrader's validator, plus any code cell that raises (warnings on stderr are fine)."""

        def _get_failed_cells(self, nb) -> list:
            failed = super()._get_failed_cells(nb)
            if not self.invert:
                failed += [
                    c for c in nb.cells
                    if c.cell_type == "code" and not utils.is_grade(c)
                    and any(o.output_type == "error" for o in c.outputs)
                ]
            return sorted(failed, key=lambda c: nb.cells.index(c))

    result = _Validator(invert=invert).validate(str(path))
    key = "passed" if invert else "failed"
    problems = []
    for entry in result.get(key, []):
        source = entry.get("source", "")
        first = next((ln for ln in source.splitlines() if ln.strip()), "")
        problems.append(f"{key}: {first[:100]} {entry.get('error', '')[-300:]}".strip())
    for entry in result.get("changed", []) + result.get("type_changed", []):
        problems.append(f"changed cell: {entry.get('source', '')[:100]}")
    return problems


# --------------------------------------------------------------------------- autograding


@dataclass(frozen=True)
class Submission:
    """One student's submission of one assignment, after :func:`autograde`.

    ``graded`` is False when nbgrader could not grade it at all (``reason``
    says why); its ``score`` is then None, although nbgrader's ``export``
    would list it as 0.0.  ``skipped`` is True when an earlier run had graded
    it and this one only read its grades back (without ``force``).
    """

    assignment: str
    student: str
    graded: bool
    score: float | None
    max_score: float | None
    needs_manual_grade: bool
    seconds: float
    reason: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class GradingReport:
    """What one :func:`autograde` run did, one :class:`Submission` per student and assignment.

    ``seconds`` is the run's wall-clock time (None: the sum of the submissions' times);
    ``jobs`` how many submissions it graded at once.
    """

    submissions: tuple[Submission, ...]
    seconds: float | None = None
    jobs: int = 1

    @property
    def failed(self) -> tuple[Submission, ...]:
        """The submissions that nbgrader could not grade."""
        return tuple(s for s in self.submissions if not s.graded)

    @property
    def ok(self) -> bool:
        """True when every submission was graded."""
        return not self.failed

    def to_frame(self) -> pd.DataFrame:
        """Return one row per submission: its fields (assignment, student, graded, score, ..., reason, skipped)."""
        import pandas as pd

        columns = list(Submission.__dataclass_fields__)
        return pd.DataFrame([[getattr(s, c) for c in columns] for s in self.submissions], columns=columns)

    def summary(self) -> str:
        """Return the report an instructor reads: failures by name, with what to do."""
        n, bad = len(self.submissions), self.failed
        total = self.seconds if self.seconds is not None else sum(s.seconds for s in self.submissions)
        names = sorted({s.assignment for s in self.submissions})
        at_once = f", {self.jobs} at a time" if self.jobs > 1 else ""
        skipped = sum(s.skipped for s in self.submissions)
        earlier = f"; {skipped} of them graded by an earlier run, skipped" if skipped else ""
        lines = [f"autograded {n - len(bad)} of {n} submissions ({', '.join(names)}) in {total:.0f} s{at_once}"
                 f"{earlier}"]
        manual = [s for s in self.submissions if s.needs_manual_grade]
        if manual:
            lines.append(f"{len(manual)} need manual grading in the formgrader: "
                         + ", ".join(f"{s.student} ({s.assignment})" for s in manual))
        if bad:
            lines.append(
                f"FAILED TO GRADE: {len(bad)} submission(s). nbgrader's export lists them as 0.0, "
                "exactly like a real zero; do not publish grades before fixing them:"
            )
            lines += [f"  {s.student} / {s.assignment}: {s.reason}" for s in bad]
            lines.append(
                "Fix the file or ask the student to submit again, collect it, and run this command again "
                "(submissions already graded are skipped; --force grades them again)."
            )
        return "\n".join(lines)


class GradingInterrupted(KeyboardInterrupt):
    """An :func:`autograde` run stopped by Ctrl-C; ``report`` holds what was graded before it stopped.

    Nothing graded is lost, and a submission whose grading was cut short is graded again by the next run.
    """

    def __init__(self, report: GradingReport, left: int) -> None:
        super().__init__(f"interrupted: {len(report.submissions)} submission(s) graded, {left} left")
        self.report = report
        self.left = left


def autograde(
    root: Path | str | None = None,
    *,
    names: Sequence[str] | None = None,
    students: Sequence[str] | None = None,
    timeout: float | None = None,
    force: bool = False,
    db_url: str | None = None,
    on_graded: Callable[[Submission], None] | None = None,
    sandbox: bool = True,
    progress: bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> GradingReport:
    """Autograde the collected submissions with nbgrader and report those that failed.

    Runs nbgrader's autograder (its ``Autograde`` converter, as ``nbgrader
    autograde`` and the formgrader do) for every student folder of
    ``root/submitted/*/NAME``, one submission per call, so that a submission that
    cannot be graded is known by name.  nbgrader on its own logs the error, grades
    the others, and its ``export`` then shows 0.0 for the broken submission,
    indistinguishable from a real zero (measured with nbgrader 0.9.6).

    ``jobs`` submissions are graded at once, each in its own kernel and sandbox;
    nbgrader's own code (and so every write to the gradebook) runs for one of them
    at a time (:mod:`te_course._grading_pool`), so the grades and the autograded
    notebooks are those of a serial run.  With ``scheduler``, the kernels run on the
    workers of a Dask cluster (:mod:`te_course._cluster`) and the gradebook stays here.

    Parameters
    ----------
    root : path
        The course directory (with ``nbgrader_config.py``, ``solutions/`` and
        ``submitted/``); the repository root by default.
    names : sequence of str, optional
        Assignments to grade; by default every assignment that has a submission.
    students : sequence of str, optional
        Only these students; by default everyone with a submission.
    timeout : float, optional
        Seconds each cell may run, instead of the course's ``Execute.timeout``.
    force : bool
        Grade again submissions that nbgrader already graded (by default they
        are skipped, as by ``nbgrader autograde``).
    db_url : str, optional
        The gradebook (default: ``sqlite:///root/gradebook.db``).
    on_graded : callable, optional
        Called with each :class:`Submission` as soon as it is graded (progress),
        in the calling thread.
    sandbox : bool
        Run each submission's kernel in bubblewrap (:mod:`te_course._sandbox`:
        the course, the gradebook, other submissions, homes and the network out
        of reach; memory, processes, CPU time and file size limited).  False
        grades with the grader's rights and warns; so does
        ``c.Sandbox.enabled = False`` or ``TE_COURSE_NO_SANDBOX=1``.
    progress : bool
        Show a progress bar (tqdm, on standard error): submissions graded of the total,
        failures so far, the time elapsed and an estimate of the time left.
    jobs : int, optional
        Submissions graded at once (default: the CPUs of this machine, or with
        ``scheduler`` the tasks the cluster's workers run at once).
    scheduler : str, optional
        The address of a Dask scheduler (``tcp://HOST:8786``) whose workers run the
        kernels; needs ``distributed`` (``pip install te_course[cluster]``).

    Returns
    -------
    GradingReport
        One :class:`Submission` per student and assignment, in the order of the
        student folders; ``report.ok`` is False when any failed, and
        ``report.failed`` says which and why.

    Raises
    ------
    ValueError
        If a name is not an assignment of the course (or not in the
        gradebook: release it first), a student has no submission,
        ``timeout`` or ``jobs`` is not positive, or there is nothing to grade.
    te_course._sandbox.SandboxUnavailable
        If the sandbox is on and bubblewrap is missing or cannot run here
        (the message says what to install), before anything is graded.
    RuntimeError
        If the cluster at ``scheduler`` cannot be used (the message says why).
    GradingInterrupted
        On Ctrl-C (a ``KeyboardInterrupt``), once the kernels still running are
        stopped; its ``report`` holds what was graded, and the next run grades
        the rest, the interrupted submissions included.

    Examples
    --------
    >>> autograde("/nonexistent/course")
    Traceback (most recent call last):
    ...
    ValueError: `root` must be a course directory with solutions/ and submitted/; ...
    """
    root = Path(course_root() if root is None else root).resolve()
    submitted = root / "submitted"
    if not (root / "solutions").is_dir() or not submitted.is_dir():
        missing = "no solutions/" if not (root / "solutions").is_dir() else "no submitted/ (collect first)"
        raise ValueError(f"`root` must be a course directory with solutions/ and submitted/; {root} has {missing}.")
    from te_course._validation import as_positive_float, as_positive_int

    if timeout is not None:
        timeout = int(math.ceil(as_positive_float(timeout, "timeout")))
    if jobs is not None:
        jobs = as_positive_int(jobs, "jobs")
    todo = _submissions_to_grade(root, names, students)

    from nbgrader.coursedir import CourseDirectory

    from te_course import _grading_pool

    config = _grading_config(root, db_url=db_url, timeout=timeout, sandbox=sandbox)
    coursedir = CourseDirectory(config=config)
    _check_released(coursedir, sorted({a for a, _ in todo}))
    if scheduler:
        from te_course import _cluster
        from te_course._sandbox import Sandbox

        capacity = _cluster.connect(scheduler, sandbox=Sandbox(config=config).enabled)
        config.SandboxedExecute.scheduler = scheduler
    else:
        capacity = _grading_pool.default_jobs()
    jobs = min(jobs or capacity, len(todo))
    journal = _grading_pool.Journal(root)
    again = set(journal.restart(todo))
    try:
        return _grade_all(config, root, todo, journal, again, force=force, jobs=jobs, on_graded=on_graded,
                          progress=progress)
    finally:
        if scheduler:
            _cluster.close(scheduler)


def _grade_all(config: Config, root: Path, todo: list[tuple[str, str]], journal, again: set, *, force: bool,
               jobs: int, on_graded, progress: bool) -> GradingReport:
    """Grade ``todo`` with ``jobs`` threads, reporting each submission as it is done (see :func:`autograde`)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from te_course import _grading_pool

    t0 = time.perf_counter()
    done: dict[int, Submission] = {}
    pending: dict = {}  # future -> index in todo (empty if Ctrl-C comes before the first is queued)
    bar = progress_bar(progress, len(todo), "autograding")
    _grading_pool.reset()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="autograde")
    try:
        with _grading_pool.same_process_state(root), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Object of type <Submitted")  # nbgrader's SQLAlchemy autoflush
            pending = {pool.submit(_grade_one, config, root, journal, a, s, force=force or (a, s) in again): i
                       for i, (a, s) in enumerate(todo)}
            try:
                while pending:
                    finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        entry = done[pending.pop(future)] = future.result()
                        if bar is not None:  # the failures so far, then the count (which redraws the bar)
                            bar.set_postfix(failed=sum(not s.graded for s in done.values()), refresh=False)
                            bar.update(1)
                        if on_graded is not None:
                            on_graded(entry)
            except KeyboardInterrupt:  # stop the threads while the process state is still the run's
                _grading_pool.abort()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            if bar is not None:
                bar.refresh()  # the last state (tqdm skips a redraw that follows the one before within 0.1 s)
    except KeyboardInterrupt:
        for future, i in pending.items():  # those that finished while the others were stopped
            if future.done() and not future.cancelled() and future.exception() is None:
                done[i] = future.result()
        report = GradingReport(tuple(done[i] for i in sorted(done)), time.perf_counter() - t0, jobs)
        raise GradingInterrupted(report, len(todo) - len(done)) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _grading_pool.reset()  # an interrupted run stops nothing that this process runs later
        if bar is not None:
            bar.close()
    return GradingReport(tuple(done[i] for i in sorted(done)), time.perf_counter() - t0, jobs)


def _grading_config(root: Path, *, db_url, timeout, sandbox: bool) -> Config:
    """Return the course's nbgrader configuration with the sandboxed executor, the timeout and the gradebook set.

    Refuses (``check_sandbox``) before anything is graded if the sandbox is asked for and missing; warns if
    it is switched off.
    """
    from te_course._sandbox import Sandbox, autograde_preprocessors, check_sandbox

    _venv_on_path()
    config = _course_config(root)
    config.CourseDirectory.root = str(root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    if timeout is not None:
        config.Execute.timeout = timeout
    # Execute -> SandboxedExecute, in the course's own list when nbgrader_config.py sets one
    configured = config.Autograde.get("autograde_preprocessors") if "Autograde" in config else None
    config.Autograde.autograde_preprocessors = autograde_preprocessors(configured)
    if not sandbox:
        config.Sandbox.enabled = False
    settings = Sandbox(config=config)
    if settings.enabled:
        check_sandbox(settings.bwrap)  # refuse before grading anything
    else:
        warnings.warn("autograding WITHOUT a sandbox: student code runs with your rights and can read solutions, "
                      "the gradebook and other submissions.", stacklevel=3)
    return config


def _check_released(coursedir, names: list[str]) -> None:
    """Raise ``ValueError`` naming the first assignment of ``names`` that the gradebook does not know."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for name in names:
            try:
                gb.find_assignment(name)
            except MissingEntry:
                raise ValueError(f"assignment {name!r} is not in the gradebook {coursedir.db_url}: release it first "
                                 "(python -m te_course.grading release) so that nbgrader knows its tests.") from None


def _grade_one(config: Config, root: Path, journal, assignment: str, student: str, *, force: bool) -> Submission:
    """Autograde one submission with nbgrader (in nbgrader's turn) and read its score back, or why it failed.

    Raises ``_grading_pool.Aborted`` when the run was interrupted before the grades were written; the
    submission's marker then stays in the journal, so the next run grades it again.
    """
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    from te_course import _grading_pool

    with _grading_pool.nbgrader_turn():
        t0 = time.perf_counter()
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id, coursedir.student_id = assignment, student
        journal.start(assignment, student)
        app = Autograde(coursedir=coursedir, config=config, log=_grading_pool.slot_logger())
        app.force, app.create_student = force, True
        result = capture_log(app)
        seconds = time.perf_counter() - t0
        if _grading_pool.aborted():
            raise _grading_pool.Aborted
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            expected = [nb.name for nb in gb.find_assignment(assignment).notebooks]
            reason = _failure_reason(root, assignment, student, expected, result)
            score = max_score = None
            manual = False
            if not reason:
                sub = gb.find_submission(assignment, student)
                score, max_score, manual = float(sub.score), float(sub.max_score), bool(sub.needs_manual_grade)
        journal.finish(assignment, student)
    skipped = "Skipping existing assignment" in (result.get("log") or "")
    return Submission(assignment, student, not reason, score, max_score, manual, seconds, reason, skipped)


def _submissions_to_grade(root: Path, names, students) -> list[tuple[str, str]]:
    """Return the (assignment, student) pairs of ``root/submitted``, checked against the course."""
    known = assignments(root)
    found = sorted({(p.name, p.parent.name) for p in (root / "submitted").glob("*/*") if p.is_dir()})
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in known:
                raise ValueError(f"`names` entry {name!r} is not an assignment of this course; solutions/ holds "
                                 f"{', '.join(known)}.")
            if not any(a == name for a, _ in found):
                raise ValueError(f"`names` entry {name!r} has no submission in submitted/*/{name}/; "
                                 f"collect them first: nbgrader collect {name}")
        found = [(a, s) for a, s in found if a in names]
    else:
        found = [(a, s) for a, s in found if a in known]
    if students is not None:
        students = [students] if isinstance(students, str) else list(students)
        for student in students:
            if not any(s == student for _, s in found):
                raise ValueError(f"`students` entry {student!r} has no submission to grade in submitted/{student}/.")
        found = [(a, s) for a, s in found if s in students]
    if not found:
        raise ValueError(f"nothing to grade: {root / 'submitted'} holds no submission of an assignment of this "
                         "course; collect them first (nbgrader collect NAME).")
    return found


_EXC_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")

_KNOWN_FAILURES = {
    "DeadKernelError": "the kernel died while running the notebook (the code ended the Python process, "
                       "for example with os._exit, or ran out of memory); nothing was graded",
    "UnresponsiveKernelError": "a cell ran past the time limit and the kernel could not be interrupted "
                               "(a loop that ignores KeyboardInterrupt?); nothing was graded",
}


def _failure_reason(root: Path, assignment: str, student: str, expected: list[str], result: dict) -> str:
    """Why a submission was not graded ('' when it was), in words an instructor can act on."""
    folder = root / "submitted" / student / assignment
    for name in expected:
        path = folder / f"{name}.ipynb"
        if not path.exists():
            if result.get("success"):
                present = sorted(p.name for p in folder.glob("*.ipynb")) or ["no notebook"]
                return f"no {name}.ipynb in submitted/{student}/{assignment}/ (found: {', '.join(present)})"
            continue
        try:
            json.loads(path.read_bytes())
        except ValueError as err:  # json.JSONDecodeError, UnicodeDecodeError
            detail = f"{err.msg}: line {err.lineno}, column {err.colno}" if isinstance(err, json.JSONDecodeError) \
                else str(err)[:120]
            return (f"{name}.ipynb is not a valid notebook file (not JSON: {detail}); "
                    "ask the student to save it from Jupyter and submit it again")
    if result.get("success"):
        missing = [n for n in expected if not (root / "autograded" / student / assignment / f"{n}.ipynb").exists()]
        return f"nbgrader wrote no graded copy of {', '.join(missing)}" if missing else ""
    log = (result.get("log") or "") + "\n" + (result.get("error") or "")
    for line in reversed(log.splitlines()):
        m = _EXC_LINE.match(line)
        if m and m.group(1) not in ("NbGraderException",):
            name, message = m.group(1), (m.group(2) or "").strip()
            return _KNOWN_FAILURES.get(name, f"{name}: {message[:200]}" if message else name)
    errors = [ln for ln in log.splitlines() if ln.startswith("[ERROR]")]
    return errors[0][len("[ERROR] "):] if errors else "nbgrader reported an error (see its log)"


# --------------------------------------------------------------------------- feedback


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_GUTTER = re.compile(r"^\s*(?:-*>\s*)?\d+(?:\s|$)")  # IPython's traceback margin: "---> 12 " or "     11 "
_ARROW = re.compile(r"^\s*-+>")
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HIDDEN_PLACEHOLDER = "(hidden test: not shown)"


def hidden_test_lines(nb, *, begin: str = BEGIN_HIDDEN, end: str = END_HIDDEN) -> set[str]:
    r"""Return the stripped, non-blank lines of every hidden-test region of a notebook, markers included.

    A region runs from a line containing ``begin`` to a line containing
    ``end``, as nbgrader's ``ClearHiddenTests`` reads it.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> cell = new_code_cell("assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS")
    >>> sorted(hidden_test_lines(new_notebook(cells=[cell])))
    ['### BEGIN HIDDEN TESTS', '### END HIDDEN TESTS', 'assert f(2) == 4']
    """
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            if inside and line.strip():
                lines.add(line.strip())
            if end in line:
                inside = False
    return lines


def _scrub_text(text: str, hidden: set[str], placeholder: str) -> tuple[str, list[bool]]:
    """Replace every line whose code (after ANSI colours and a traceback margin) is a hidden line.

    Returns the new text and, per line, whether it was an arrow line (``---->``) that was replaced.
    """
    out, arrows = [], []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        plain = _ANSI.sub("", body)
        margin = _GUTTER.match(plain)
        code = plain[margin.end():] if margin else plain
        if code.strip() and code.strip() in hidden:
            out.append((margin.group(0) if margin else "") + placeholder + line[len(body):])
            arrows.append(bool(margin and _ARROW.match(plain)))
        else:
            out.append(line)
            arrows.append(False)
    return "".join(out), arrows


def scrub_hidden_test_outputs(nb, *, begin: str = BEGIN_HIDDEN, end: str = END_HIDDEN,
                              placeholder: str = HIDDEN_PLACEHOLDER) -> object:
    r"""Remove the lines of hidden tests from a graded notebook's outputs (in place; returns ``nb``).

    A failing hidden test shows its own line, and the lines around it, in the
    traceback that nbgrader keeps in the graded notebook, so the feedback
    would reveal it even when ``ClearHiddenTests`` has emptied the cell
    sources (nbgrader issues #917 and #1156).  Every output line (traceback
    frames, printed text, plain-text results) whose code is a line of a
    hidden-test region becomes ``placeholder``; when the error was raised by
    a hidden line itself, its message is replaced too (it may quote the
    expected value).  Errors raised inside the student's own code keep their
    message.  Run it before ``ClearHiddenTests``, which deletes the regions it
    reads.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A notebook whose cells still hold their hidden-test regions.
    begin, end : str
        The markers, as configured for nbgrader's ``ClearHiddenTests``.
    placeholder : str
        What replaces a hidden line.

    Returns
    -------
    nbformat.NotebookNode
        ``nb`` itself.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_notebook, new_output
    >>> cell = new_code_cell("### BEGIN HIDDEN TESTS\nassert f(2) == 4, 'f(2) is 4'\n### END HIDDEN TESTS")
    >>> cell.outputs = [new_output("error", ename="AssertionError", evalue="f(2) is 4", traceback=[
    ...     "Cell In[3], line 2\n      1 ### BEGIN HIDDEN TESTS\n----> 2 assert f(2) == 4, 'f(2) is 4'",
    ...     "AssertionError: f(2) is 4"])]
    >>> out = scrub_hidden_test_outputs(new_notebook(cells=[cell])).cells[0].outputs[0]
    >>> print("\n".join(out.traceback))
    Cell In[3], line 2
          1 (hidden test: not shown)
    ----> 2 (hidden test: not shown)
    AssertionError: a hidden test failed (its code and message are not shown)
    >>> out.evalue
    ''
    """
    hidden = hidden_test_lines(nb, begin=begin, end=end)
    if not hidden:
        return nb
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                frames, innermost_hidden = [], False
                for entry in output.get("traceback", []):
                    text, arrows = _scrub_text(entry, hidden, placeholder)
                    frames.append(text)
                    if any(_ARROW.match(_ANSI.sub("", ln)) for ln in entry.splitlines()):
                        innermost_hidden = any(arrows)  # the last frame with an arrow is where it was raised
                if innermost_hidden:
                    ename = output.get("ename", "Error")
                    output["evalue"] = ""
                    if frames and _ANSI.sub("", frames[-1]).startswith(ename):
                        frames[-1] = f"{ename}: a hidden test failed (its code and message are not shown)"
                output["traceback"] = frames
            elif kind == "stream":
                output["text"] = _scrub_text(output.get("text", ""), hidden, placeholder)[0]
            elif kind in ("execute_result", "display_data") and "text/plain" in output.get("data", {}):
                output["data"]["text/plain"] = _scrub_text(output["data"]["text/plain"], hidden, placeholder)[0]
    return nb


def _scrubber_class() -> type:
    """Build :class:`ScrubHiddenTestOutputs` (nbconvert is imported only when nbgrader needs it)."""
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Bool, Unicode

    class ScrubHiddenTestOutputs(NbGraderPreprocessor):
        """nbconvert preprocessor for ``GenerateFeedback``: :func:`scrub_hidden_test_outputs`.

        It reads the markers from the ``ClearHiddenTests`` configuration, so
        the two always agree; list it before ``ClearHiddenTests`` in
        ``c.GenerateFeedback.preprocessors`` (see the course's ``nbgrader_config.py``).
        """

        enabled = Bool(True, help="nbconvert skips preprocessors that are not enabled.").tag(config=True)
        placeholder = Unicode(HIDDEN_PLACEHOLDER, help="What replaces a hidden-test line.").tag(config=True)

        def preprocess(self, nb, resources) -> tuple:
            cfg = self.config.ClearHiddenTests
            begin = cfg.get("begin_test_delimeter", BEGIN_HIDDEN)
            end = cfg.get("end_test_delimeter", END_HIDDEN)
            return scrub_hidden_test_outputs(nb, begin=begin, end=end, placeholder=self.placeholder), resources

    ScrubHiddenTestOutputs.__module__, ScrubHiddenTestOutputs.__qualname__ = __name__, "ScrubHiddenTestOutputs"
    return ScrubHiddenTestOutputs


MODEL_ANSWER_TAG = "model-answer"
"""The cell tag of a model answer (to an Explore question): in ``solutions/`` only, never in a student notebook."""


def is_model_answer(cell) -> bool:
    """Return True for a cell tagged :data:`MODEL_ANSWER_TAG`."""
    return MODEL_ANSWER_TAG in cell.get("metadata", {}).get("tags", [])


def _model_answer_remover_class() -> type:
    """Build :class:`RemoveModelAnswers` (nbconvert is imported only when nbgrader needs it)."""
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Bool

    class RemoveModelAnswers(NbGraderPreprocessor):
        """nbconvert preprocessor for ``GenerateAssignment``: drop every cell tagged ``model-answer``.

        Model answers to the Explore questions live in the solution notebooks (for
        instructors and the course book); the course's ``nbgrader_config.py`` lists
        this step first in ``c.GenerateAssignment.preprocessors`` so that students
        never receive them.
        """

        enabled = Bool(True, help="nbconvert skips preprocessors that are not enabled.").tag(config=True)

        def preprocess(self, nb, resources) -> tuple:
            nb.cells = [cell for cell in nb.cells if not is_model_answer(cell)]
            return nb, resources

    RemoveModelAnswers.__module__, RemoveModelAnswers.__qualname__ = __name__, "RemoveModelAnswers"
    return RemoveModelAnswers


_LAZY = {"ScrubHiddenTestOutputs": _scrubber_class, "RemoveModelAnswers": _model_answer_remover_class}


def __getattr__(name) -> object:
    if name in _LAZY:
        cls = globals()[name] = _LAZY[name]()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m te_course.grading release | autograde | student-release DEST``: the course's grading commands.

    ``autograde`` exits with status 1 when any submission failed to grade,
    after naming each one; 2 on a usage error (unknown assignment, nothing
    collected).
    """
    parser = argparse.ArgumentParser(prog="python -m te_course.grading", description=main.__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="regenerate notebooks/ from solutions/ (nbgrader generate_assignment)")
    grade = sub.add_parser("autograde", help="autograde collected submissions; report those that failed")
    grade.add_argument("names", nargs="*", metavar="NAME", help="assignments (default: all with submissions)")
    grade.add_argument("--student", action="append", dest="students", metavar="ID", help="only this student")
    grade.add_argument("--timeout", type=float, help="seconds per cell (default: the course's Execute.timeout)")
    grade.add_argument("--force", action="store_true", help="grade again submissions already graded")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code with your rights, outside bubblewrap (warns on every run)")
    grade.add_argument("--quiet", action="store_true",
                       help="print only the summary and the failures (no progress bar, no line per submission)")
    grade.add_argument("--jobs", "-j", type=int, metavar="N",
                       help="submissions graded at once (default: the CPUs here, or the cluster's worker threads)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the kernels on the workers of this Dask scheduler (tcp://HOST:8786); "
                            "needs pip install 'te_course[cluster]'")
    students = sub.add_parser("student-release", help="write the tree students get (student notebooks, te_course, "
                              "binder/, make lab, a students' README) into DEST, to publish for Binder or a hub")
    students.add_argument("dest", metavar="DEST", help="a new or empty folder, outside the course")
    args = parser.parse_args(argv)
    root = find_course_root(checkout=False) or Path.cwd()  # the course around the current folder (or TE_COURSE_ROOT)
    if args.command == "release":
        for nb in release(root):
            print(f"wrote {nb.relative_to(root)}")
        return 0
    if args.command == "student-release":
        from te_course._student_release import student_release

        try:
            written = student_release(args.dest, root)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"wrote {len(written)} files to {Path(args.dest).resolve()}")
        return 0

    def show(s: Submission) -> None:
        result = f"{s.score:g} / {s.max_score:g}" if s.graded else f"FAILED: {s.reason}"
        when = "(graded by an earlier run)" if s.skipped else f"({s.seconds:.1f} s)"
        print(f"{s.assignment}  {s.student}  {result}  {when}", flush=True)

    # On a terminal, a progress bar; in a log (output not a terminal), one line per submission.
    bar = not args.quiet and sys.stderr.isatty()
    lines = not args.quiet and not bar
    try:
        report = autograde(root, names=args.names or None, students=args.students, timeout=args.timeout,
                           force=args.force, on_graded=show if lines else None, sandbox=not args.no_sandbox,
                           progress=bar, jobs=args.jobs, scheduler=args.scheduler)
    except (ValueError, RuntimeError) as err:  # RuntimeError: SandboxUnavailable, saying what to install
        print(f"error: {err}", file=sys.stderr)
        return 2
    except GradingInterrupted as stop:
        print(f"{stop.report.summary()}\nINTERRUPTED: {stop.left} submission(s) not graded. Run the same command "
              "again to grade them (what was graded is kept; submissions cut short are graded again).",
              file=sys.stderr)
        return 130
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
