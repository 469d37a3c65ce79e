"""Solver calls without the native banners some solvers print.

HiGHS prints a copyright banner from its C code the first time it runs in a
process.  Python's ``contextlib.redirect_stdout`` cannot catch it, and a
Jupyter kernel forwards native output into the notebook, so a student would see
it under the first cell that solves anything.  :func:`quiet` points file
descriptor 1 at ``/dev/null`` for the duration of a solve.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["quiet", "solve_quietly"]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence native (C-level) writes to standard output inside the block."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
    except (AttributeError, OSError, ValueError):  # no real stdout (some embedded interpreters)
        yield
        return
    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
    finally:
        os.close(saved)


def solve_quietly(problem, **options):
    """Call ``problem.solve(**options)`` with native output silenced; return its value."""
    with quiet():
        return problem.solve(**options)
