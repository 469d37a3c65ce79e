"""The errors that ``te_course`` raises on purpose, one class per kind of failure.

Every class derives from :class:`TeCourseError`, itself a ``ValueError``, so that
``except ValueError`` in a notebook catches them all, and a widget can show any of them
in words.  Which one you meet tells you what to do:

======================  ==============================================================
error                   what happened, and what to do
======================  ==============================================================
``ValueError``,         the input is wrong (NaN, a negative quantity, a wrong length,
``TypeError``           an unknown bus); the message names the argument: correct it.
:class:`InfeasibleError`  the model is well formed but has no solution: its limits cannot
                        all be met (the message names the family of limits when it is
                        known); loosen a limit or change the data.
:class:`UnboundedError`   the model's optimum is infinite (a price lets someone earn
                        without bound); add the missing limit.
:class:`SolverError`      the solver stopped without an answer (numerical trouble): try
                        another ``solver``, or rescale the data.  The two classes above
                        derive from it.
:class:`ConvergenceError` an iterative method (price iteration, ADMM, best-response
                        dynamics, the AC power flow) diverged, cycled or ran out of
                        iterations; ``iterations`` and ``history`` say what it did:
                        change the step, ``rho`` or ``max_iter``.
======================  ==============================================================

Examples
--------
>>> import te_course as tc
>>> issubclass(tc.InfeasibleError, tc.SolverError), issubclass(tc.SolverError, ValueError)
(True, True)
"""

from __future__ import annotations

__all__ = ["TeCourseError", "SolverError", "InfeasibleError", "UnboundedError", "ConvergenceError"]


class TeCourseError(ValueError):
    """Base class of the errors that ``te_course`` raises on purpose."""


class SolverError(TeCourseError):
    """An optimisation solver stopped without a usable answer (see the subclasses for infeasible and unbounded)."""


class InfeasibleError(SolverError):
    """The optimisation model has no solution: its constraints cannot all be met."""


class UnboundedError(SolverError):
    """The optimisation model's optimum is unbounded: a limit is missing."""


class ConvergenceError(TeCourseError):
    """An iterative method diverged, stalled or ran out of iterations.

    ``iterations`` is how many iterations ran before it stopped and ``history``
    (a DataFrame, or None) what they did, so that a learner can plot them.  Methods that tell
    the ways of failing apart say which in ``reason`` (best-response dynamics: ``"cycle"``,
    ``"diverged"`` or ``"max_iter"``) and, for a cycle, its ``cycle_length`` in rounds.
    """

    def __init__(self, message: str, *, iterations: int | None = None, history=None, reason: str | None = None,
                 cycle_length: int | None = None):
        super().__init__(message)
        self.iterations = iterations
        self.history = history
        self.reason = reason
        self.cycle_length = cycle_length
