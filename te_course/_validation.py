"""Input checks shared by every module.

Each helper raises ``ValueError`` (or ``TypeError``) with a message that names
the argument, shows the offending entry and says what is expected, in the form
"`bids` must contain finite prices; entry 3 is nan."  Computation modules call
these at their public boundary so that a student never meets a deep stack trace
from numpy or cvxpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "TeCourseError",
    "SolverError",
    "ConvergenceError",
    "as_1d_float",
    "as_finite_float",
    "check_finite",
    "check_positive",
    "check_nonnegative",
    "check_fraction",
    "check_same_length",
    "as_positive_float",
    "as_generator",
]


class TeCourseError(ValueError):
    """Base class of the errors that ``te_course`` raises on purpose."""


class SolverError(TeCourseError):
    """An optimisation solver failed or reported the problem infeasible."""


class ConvergenceError(TeCourseError):
    """An iterative method diverged, stalled or ran out of iterations.

    ``iterations`` is how many iterations ran before it stopped and ``history``
    (a DataFrame, or None) what they did, so that a learner can plot them.
    """

    def __init__(self, message: str, *, iterations: int | None = None, history=None):
        super().__init__(message)
        self.iterations = iterations
        self.history = history


def as_1d_float(values, name: str, *, allow_empty: bool = False, allow_scalar: bool = False) -> np.ndarray:
    """Convert ``values`` to a 1-D float array or raise a clear error.

    Parameters
    ----------
    values : array_like
        A list, tuple, numpy array or pandas Series of numbers.
    name : str
        The argument's name, used in the error message.
    allow_empty : bool, optional
        Whether an empty input is acceptable.
    allow_scalar : bool, optional
        Whether a single number is acceptable (returned as a 0-d array, for
        parameters that broadcast over agents).

    Returns
    -------
    numpy.ndarray
        A new float array of shape ``(n,)``.

    Examples
    --------
    >>> as_1d_float([1, 2.5], "prices")
    array([1. , 2.5])
    """
    if isinstance(values, (str, bytes)):
        what = "a number or a sequence of numbers" if allow_scalar else "a sequence of numbers"
        raise TypeError(f"`{name}` must be {what}, got the string {values!r}.")
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"`{name}` must be one-dimensional; got a DataFrame with columns {list(values.columns)}.")
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must contain only numbers; could not convert it ({exc}).") from None
    if arr.ndim == 0 and allow_scalar:
        return arr.copy()
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional; got an array of shape {arr.shape}.")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"`{name}` is empty; give at least one entry.")
    return arr.copy()


def as_finite_float(value, name: str) -> float:
    """Return ``value`` as a finite float or raise ``TypeError``/``ValueError`` naming ``name``.

    Examples
    --------
    >>> as_finite_float(0.05, "price_substation")
    0.05
    """
    try:
        if isinstance(value, (str, bytes, bool)):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number; got {value!r}.") from None
    if not np.isfinite(v):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")
    return v


def check_finite(arr: np.ndarray, name: str, what: str = "values") -> None:
    """Raise ``ValueError`` naming the first NaN or infinite entry of ``arr``.

    Examples
    --------
    >>> check_finite(np.array([1.0, np.nan]), "bids", "prices")
    Traceback (most recent call last):
    ...
    ValueError: `bids` must contain finite prices; entry 1 is nan.
    """
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`{name}` must contain finite {what}; entry {i} is {arr[i]}.")


def check_positive(arr: np.ndarray, name: str, what: str = "values") -> None:
    """Raise ``ValueError`` naming the first entry of ``arr`` that is not > 0.

    Examples
    --------
    >>> check_positive(np.array([1.0, 0.0]), "asks", "quantities")
    Traceback (most recent call last):
    ...
    ValueError: `asks` must contain positive quantities; entry 1 is 0.0. Leave an order out ...
    """
    check_finite(arr, name, what)
    bad = arr <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must contain positive {what}; entry {i} is {arr[i]}. "
            "Leave an order out instead of giving it no quantity."
        )


def check_fraction(value: float, name: str) -> float:
    """Return ``value`` as a float if it lies in [0, 1], else raise ``ValueError``.

    Examples
    --------
    >>> check_fraction(0.5, "k")
    0.5
    """
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number between 0 and 1; got {value!r}.") from None
    if not (0.0 <= v <= 1.0):
        raise ValueError(f"`{name}` must lie between 0 and 1; got {value!r}.")
    return v


def check_same_length(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """Raise ``ValueError`` when the arrays do not all have the same length."""
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        parts = ", ".join(f"`{n}` has {m}" for n, m in zip(names, lengths))
        raise ValueError(f"These inputs must have the same length: {parts}.")


def check_nonnegative(arr: np.ndarray, name: str, what: str = "values") -> None:
    """Raise ``ValueError`` naming the first entry of ``arr`` that is NaN, infinite or < 0.

    Examples
    --------
    >>> check_nonnegative(np.array([1.0, -2.0]), "p_max_kw", "powers")
    Traceback (most recent call last):
    ...
    ValueError: `p_max_kw` must contain non-negative powers; entry 1 is -2.0.
    """
    arr = np.atleast_1d(np.asarray(arr, dtype=float))
    check_finite(arr, name, what)
    bad = arr < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`{name}` must contain non-negative {what}; entry {i} is {arr[i]}.")


def as_positive_float(value, name: str) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ``ValueError``.

    Examples
    --------
    >>> as_positive_float(0.5, "step")
    0.5
    >>> as_positive_float(-1, "rho")
    Traceback (most recent call last):
    ...
    ValueError: `rho` must be a positive number; got -1.
    """
    try:
        if isinstance(value, (str, bytes, bool)):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a positive number; got {value!r}.") from None
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"`{name}` must be a positive number; got {value!r}.")
    return v


def as_generator(seed, name: str = "seed") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from ``seed`` or raise an error that names the argument.

    ``seed`` may be None (fresh entropy), a non-negative integer, a sequence of them,
    a ``numpy.random.SeedSequence`` or a ``Generator`` (returned as is, so that a
    caller can share one stream).

    Examples
    --------
    >>> as_generator(3).integers(10) == as_generator(3).integers(10)
    np.True_
    >>> as_generator("abc")
    Traceback (most recent call last):
    ...
    TypeError: `seed` must be None, a non-negative integer or a numpy Generator; got str 'abc'.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or isinstance(seed, (float, complex, str, bytes)):
        raise TypeError(f"`{name}` must be None, a non-negative integer or a numpy Generator; "
                        f"got {type(seed).__name__} {seed!r}.")
    try:
        return np.random.default_rng(seed)
    except ValueError as exc:  # negative integers
        raise ValueError(f"`{name}` must be None, a non-negative integer or a numpy Generator; got {seed!r}.") from exc
    except TypeError as exc:
        raise TypeError(f"`{name}` must be None, a non-negative integer or a numpy Generator; "
                        f"got {type(seed).__name__} {seed!r}.") from exc
