"""The one solver path: solver choice, tolerances, silence, status checks and errors.

Every cvxpy problem of the package is solved by :func:`solve`, which picks the solver
(HiGHS for LPs whose schedules we read, Clarabel with tight tolerances for prices read from
duals, QPs and SOCPs), silences it, checks the status and raises the error of
:mod:`te_course.errors` that says what went wrong, naming the problem in words.


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

import cvxpy as cp

from .errors import InfeasibleError, SolverError, UnboundedError

__all__ = ["quiet", "solve_quietly", "solve", "options", "check_solver", "LP_SOLVER", "CONIC_SOLVER", "TOLERANCE"]


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


def solve_quietly(problem, **options) -> float:
    """Call ``problem.solve(**options)`` with native output silenced; return its value."""
    with quiet():
        return problem.solve(**options)


# --------------------------------------------------------------------------- the one solver path

#: LPs and MILPs whose primal answer we read (schedules): HiGHS gives a vertex, exact to its tolerances.
LP_SOLVER = "HIGHS"
#: QPs and SOCPs, and LPs whose duals we read as prices: Clarabel's interior point method, whose duals are
#: the centre of the optimal face (an interval price is reported at its middle, never at an arbitrary end).
CONIC_SOLVER = "CLARABEL"
#: Clarabel's gap and feasibility tolerances by default: prices read from duals are checked in the tests
#: against closed forms to 1e-8, so the solver is asked for two more digits than its default of 1e-8.
TOLERANCE = 1e-10

_STATUS_ERRORS = {
    cp.INFEASIBLE: InfeasibleError,
    cp.INFEASIBLE_INACCURATE: InfeasibleError,
    cp.UNBOUNDED: UnboundedError,
    cp.UNBOUNDED_INACCURATE: UnboundedError,
}


def check_solver(solver, name: str = "solver") -> str | None:
    """Return ``solver`` (None or an installed cvxpy solver's name, upper case), or raise naming ``name``."""
    if solver is None:
        return None
    if not isinstance(solver, str):
        raise TypeError(f"`{name}` must be a cvxpy solver name such as 'HIGHS' or 'CLARABEL', or None; "
                        f"got {solver!r}.")
    installed = cp.installed_solvers()
    if solver.upper() not in installed:
        raise ValueError(f"`{name}` {solver!r} is not an installed cvxpy solver; installed: {sorted(installed)}.")
    return solver.upper()


def options(kind: str = "conic", *, solver: str | None = None, tol: float | None = None,
            max_iter: int | None = None) -> dict:
    """Return the keyword arguments of ``problem.solve`` for a ``kind`` of problem ("lp" or "conic").

    A ``solver`` chosen by the user is used with its own defaults; otherwise :data:`LP_SOLVER`
    for "lp" and :data:`CONIC_SOLVER` with tolerances ``tol`` (default :data:`TOLERANCE`) and,
    if given, ``max_iter`` for "conic".
    """
    if kind not in ("lp", "conic"):
        raise ValueError(f"kind must be 'lp' or 'conic'; got {kind!r}")
    if solver is not None:
        return {"solver": solver}
    if kind == "lp":
        return {"solver": LP_SOLVER}
    t = TOLERANCE if tol is None else tol
    out = {"solver": CONIC_SOLVER, "tol_gap_abs": t, "tol_gap_rel": t, "tol_feas": t}
    if max_iter is not None:
        out["max_iter"] = max_iter
    return out


def solve(problem: cp.Problem, *, what: str, kind: str = "conic", solver: str | None = None,
          tol: float | None = None, max_iter: int | None = None, hint: str = "",
          retry_with_defaults: bool = False, choosable: bool = False) -> float:
    """Solve ``problem`` quietly with the course's solver settings; return its optimal value.

    Parameters
    ----------
    problem : cvxpy.Problem
    what : str
        The problem in words, for the messages ("the welfare LP", "the day-ahead OPF").
    kind : {"conic", "lp"}
        Which default solver (see :func:`options`).
    solver : str, optional
        A solver chosen by the user (checked with :func:`check_solver` by the caller).
    tol, max_iter : optional
        Clarabel's tolerances and iteration limit, for ``kind="conic"``.
    hint : str
        A sentence appended to every error (what to check in the data).
    retry_with_defaults : bool
        If the solver fails with the tight tolerances, try once more with its defaults
        (an answer accurate to about 1e-8 rather than none).
    choosable : bool
        Whether the public function takes a ``solver`` argument: then a solver failure
        suggests trying another one.

    Raises
    ------
    InfeasibleError, UnboundedError
        If the solver proves the problem infeasible or unbounded.
    SolverError
        If the solver stops without a solution (an error, an iteration limit).
    """
    opts = options(kind, solver=solver, tol=tol, max_iter=max_iter)
    tail = f" {hint}" if hint else ""
    advice = "try another `solver`" if choosable else "the numbers may be badly scaled: check their units"
    try:
        with quiet():
            value = problem.solve(**opts)
    except (cp.error.SolverError, ValueError, ArithmeticError) as exc:  # ValueError: cvxpy could not read the answer
        if retry_with_defaults and solver is None and len(opts) > 1:
            return solve(problem, what=what, kind=kind, solver=opts["solver"], hint=hint, choosable=choosable)
        raise SolverError(f"The solver {opts['solver']} failed on {what} ({exc}); {advice}.{tail}") from None
    status = problem.status
    if status in _STATUS_ERRORS:
        error = _STATUS_ERRORS[status]
        word = "infeasible: its limits cannot all be met" if error is InfeasibleError else "unbounded"
        raise error(f"{what[:1].upper()}{what[1:]} is {word}.{tail}")
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        if retry_with_defaults and solver is None and len(opts) > 1:
            return solve(problem, what=what, kind=kind, solver=opts["solver"], hint=hint, choosable=choosable)
        raise SolverError(f"The solver {opts['solver']} stopped on {what} with status {status!r}; {advice}.{tail}")
    return value
