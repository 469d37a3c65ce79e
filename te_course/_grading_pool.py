"""Several submissions graded at once, with one writer of the gradebook and nothing lost to an interruption.

nbgrader grades one submission after another (jupyter/nbgrader#174).  Almost all of a
submission's time is its kernel running the notebook (measured on chapter 1: 4.2 s of
4.4 s), and the kernel is a separate process.  So :func:`te_course.grading.autograde`
runs ``jobs`` submissions in threads of one process, and lets only one thread at a time
run nbgrader's own code (its sanitising pass, its gradebook reads and writes, its
copying of files): the **turn** (:func:`nbgrader_turn`).  The sandboxed ``Execute``
preprocessor gives the turn up while its kernel runs (:func:`outside_turn`), so the
kernels run side by side while the gradebook (SQLite) has one writer, in one process,
one transaction after another, exactly as in a serial run.

Everything nbgrader keeps per process is made the same for every thread: the working
folder (nbgrader changes into the course folder and back around each submission), the
``NBGRADER_EXECUTION`` variable (set and deleted around each execution), the warning filters, and
the log, which nbgrader captures per run from its application's logger: each thread
logs to its own (:func:`slot_logger`), so a failure's reason is read from that
submission's log only.

**Interruptions.**  Before a submission is handed to nbgrader, a marker
``.autograding/STUDENT/ASSIGNMENT`` is written in the course folder; it is removed once
the grades are in the gradebook (or the failure is known).  A marker left behind (Ctrl-C,
a crash, the machine going away) means that the submission may be half-written: the next
run removes its ``autograded/`` copy, so nbgrader grades it again instead of skipping it.
On Ctrl-C the kernels still running are stopped (:func:`abort`), and no new one starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "JOURNAL",
    "Aborted",
    "Journal",
    "nbgrader_turn",
    "outside_turn",
    "running",
    "abort",
    "aborted",
    "reset",
    "slot_logger",
    "same_process_state",
    "default_jobs",
]

JOURNAL = ".autograding"
"""The folder of the course (beside ``autograded/``) that holds a marker per submission being graded."""

_turn = threading.Lock()
_local = threading.local()
_abort = threading.Event()
_running: weakref.WeakSet = weakref.WeakSet()  # the Execute preprocessors whose kernels run now
_running_lock = threading.Lock()


class Aborted(Exception):
    """The run was interrupted before this submission's grades were written."""


def default_jobs() -> int:
    """Return the CPUs this process may use (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def nbgrader_turn() -> Iterator[None]:
    """Hold the turn (the right to run nbgrader's code) for the body; raise :class:`Aborted` once interrupted."""
    _turn.acquire()
    _local.held = True
    try:
        if _abort.is_set():
            raise Aborted
        yield
    finally:
        if getattr(_local, "held", False):
            _local.held = False
            _turn.release()


@contextlib.contextmanager
def outside_turn() -> Iterator[None]:
    """Give the turn up for the body (a kernel running), if this thread holds it; take it back after."""
    if not getattr(_local, "held", False):
        yield
        return
    _local.held = False
    _turn.release()
    try:
        yield
    finally:
        _turn.acquire()
        _local.held = True


@contextlib.contextmanager
def running(preprocessor) -> Iterator[None]:
    """Register an Execute preprocessor whose kernel runs, so that :func:`abort` can stop it."""
    if _abort.is_set():
        raise Aborted
    with _running_lock:
        _running.add(preprocessor)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(preprocessor)


def abort() -> None:
    """Stop the run: no submission starts any more, and every kernel running now is killed."""
    _abort.set()
    with _running_lock:
        preprocessors = list(_running)
    for pp in preprocessors:
        cancel = getattr(pp, "cancel_remote", None)
        if cancel is not None:
            cancel()
        km = getattr(pp, "km", None)
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()  # the sandbox's bubblewrap: its pid namespace, the kernel in it, ends too


def aborted() -> bool:
    """Return True once :func:`abort` was called in this run."""
    return _abort.is_set()


def reset() -> None:
    """Forget an earlier run's interruption (at the start of a run)."""
    _abort.clear()


_slots = threading.local()


def slot_logger() -> logging.Logger:
    """Return this thread's own logger for nbgrader's application (nbgrader captures a run's log from it)."""
    log = getattr(_slots, "log", None)
    if log is None:
        log = logging.getLogger(f"te_course.autograde.{threading.get_ident()}")
        log.setLevel(logging.INFO)
        log.propagate = False
        log.addHandler(logging.NullHandler())
        _slots.log = log
    return log


@contextlib.contextmanager
def _setenv_for_the_run(**values: str) -> Iterator[None]:
    """Set the variables and restore nothing (the run does): nbgrader's ``utils.setenv`` for overlapping threads."""
    os.environ.update(values)
    yield


@contextlib.contextmanager
def same_process_state(root: Path) -> Iterator[None]:
    """Keep the process state that nbgrader changes per submission the same for every thread, then restore it.

    Around each submission nbgrader changes into the course folder and back, and sets
    ``NBGRADER_EXECUTION`` and deletes it (``nbgrader.utils.setenv``, 0.9.6, looks the old value up under
    the wrong key, so it always deletes it).  Threads that overlap would undo each other's changes, or fail
    deleting a variable another thread deleted (``KeyError``).  Inside this block the folder is already the
    course folder, so nbgrader's changes back are no-ops, and ``setenv`` sets and leaves; both are restored
    when the block ends.
    """
    from nbgrader import utils

    cwd = os.getcwd()
    before = os.environ.get("NBGRADER_EXECUTION")
    setenv = utils.setenv
    os.chdir(root)
    utils.setenv = _setenv_for_the_run
    try:
        yield
    finally:
        utils.setenv = setenv
        os.chdir(cwd)
        if before is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = before


class Journal:
    """The markers of the submissions being graded in a course folder (see the module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.folder = self.root / JOURNAL

    def _marker(self, assignment: str, student: str) -> Path:
        return self.folder / student / assignment

    def unfinished(self) -> list[tuple[str, str]]:
        """Return the (assignment, student) pairs whose grading an earlier run began and did not finish."""
        if not self.folder.is_dir():
            return []
        return sorted((m.name, m.parent.name) for m in self.folder.glob("*/*") if m.is_file())

    def restart(self, todo: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Remove the half-written ``autograded/`` copies of the unfinished submissions of ``todo``; return them."""
        again = [pair for pair in self.unfinished() if pair in set(todo)]
        for assignment, student in again:
            shutil.rmtree(self.root / "autograded" / student / assignment, ignore_errors=True)
        return again

    def start(self, assignment: str, student: str) -> None:
        marker = self._marker(assignment, student)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"pid {os.getpid()}\n")

    def finish(self, assignment: str, student: str) -> None:
        marker = self._marker(assignment, student)
        marker.unlink(missing_ok=True)
        for folder in (marker.parent, self.folder):
            with contextlib.suppress(OSError):  # not empty: other submissions still being graded
                folder.rmdir()
