"""Input checks shared by every module.

Each helper raises ``ValueError`` (or ``TypeError``) with a message that names
the argument, shows the offending entry and says what is expected, in the form
"`bids` must contain finite prices; entry 3 is nan."  Computation modules call
these at their public boundary so that a student never meets a deep stack trace
from numpy or cvxpy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import ConvergenceError, InfeasibleError, SolverError, TeCourseError, UnboundedError

__all__ = [
    "label",
    "float_column",
    "TeCourseError",
    "SolverError",
    "ConvergenceError",
    "InfeasibleError",
    "UnboundedError",
    "as_1d_float",
    "as_finite_float",
    "check_finite",
    "check_positive",
    "check_nonnegative",
    "check_fraction",
    "check_same_length",
    "as_positive_float",
    "as_positive_int",
    "as_generator",
    "as_float_array",
    "check_magnitude",
    "MAX_MAGNITUDE",
]

#: The largest absolute value that :func:`check_magnitude` accepts by default.  Prices,
#: quantities and values up to 1e150 keep every product of two of them (a price times a
#: quantity) and every sum of millions of such products far inside the float range
#: (about 1.8e308), so that welfare, budgets and payments never overflow to ``inf``.
MAX_MAGNITUDE = 1e150


# The error classes live in te_course.errors; they are imported here for the modules that
# import them from _validation.


def label(value) -> object:
    """Return a label as a plain Python object, so that messages show ``18``, not ``np.int64(18)``."""
    return value.item() if isinstance(value, np.generic) else value


def float_column(col: pd.Series, name: str, kind: str) -> np.ndarray:
    """Return a column as a float array (None and NA as NaN), or raise ``TypeError`` naming the first bad entry.

    Strings, booleans and complex numbers are refused: ``"1.5"`` or ``True`` in a
    table of impedances is a mistake to report, not to convert.
    """
    dtype = col.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
            and not pd.api.types.is_complex_dtype(dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    out = np.empty(len(col))
    for i, v in enumerate(col.to_numpy(dtype=object)):
        if v is None or v is pd.NA:
            out[i] = np.nan
            continue
        if not isinstance(v, (str, bytes, bool, np.bool_, complex, np.complexfloating)):
            try:
                out[i] = float(v)
                continue
            except OverflowError:
                raise ValueError(
                    f"{name} must contain finite numbers; {kind} {label(col.index[i])!r} has a number too large "
                    "for a float."
                ) from None
            except (TypeError, ValueError):
                pass
        raise TypeError(
            f"{name} must contain numbers; {kind} {label(col.index[i])!r} has {label(v)!r} "
            f"(a {type(v).__name__})."
        )
    return out


def _number_kind(value) -> str:
    """``"b"`` for a boolean, ``"c"`` for a complex number, ``""`` for anything else (a scalar)."""
    if isinstance(value, (bool, np.bool_)):
        return "b"
    if isinstance(value, (complex, np.complexfloating)):
        return "c"
    return ""


def _element_kind(values, depth: int = 0) -> str:
    """Whether ``values`` (array, Series, list, ...) holds booleans (``"b"``) or complex numbers (``"c"``).

    numpy turns ``[True, 2.5]`` into ``[1.0, 2.5]`` and a complex array into its real
    part (with only a warning), so the elements are inspected before the conversion.
    """
    kind = _number_kind(values)
    if kind:
        return kind
    dtype = getattr(values, "dtype", None)
    if dtype is not None and not isinstance(values, (list, tuple)):
        try:
            code = np.dtype(dtype).kind
        except TypeError:  # a pandas extension dtype (nullable boolean, ...)
            code = "b" if str(dtype).lower() == "boolean" else ("c" if "complex" in str(dtype) else "O")
        if code in ("b", "c"):
            return code
        if code != "O" or depth > 2:
            return ""
        values = np.asarray(values).ravel()
    elif not isinstance(values, (list, tuple)) or depth > 2:
        return ""
    for v in values:
        kind = _number_kind(v)
        if not kind and isinstance(v, (list, tuple, np.ndarray, pd.Series)):
            kind = _element_kind(v, depth + 1)
        if kind:
            return kind
    return ""


def _int_size(v: int) -> str:
    """``"about 1e400"`` for a Python integer (``str`` of a huge integer may itself fail)."""
    return f"about {'-' if v < 0 else ''}1e{int(abs(v).bit_length() * 0.30103)}"


def _first_overflow(values, prefix: str = "") -> str:
    """Return " (entry i is about 1e400)" for the first entry of a sequence too large for a float."""
    if not isinstance(values, (list, tuple, np.ndarray, pd.Series)):
        return ""
    for i, v in enumerate(values):
        where = f"{prefix}{i}"
        if isinstance(v, (list, tuple, np.ndarray)):
            found = _first_overflow(v, f"{where}, ")
            if found:
                return found
            continue
        try:
            float(v)
        except OverflowError:
            label = f"[{where}]" if prefix else where
            return f" (entry {label} is {_int_size(v)})" if isinstance(v, int) else f" (entry {label})"
        except (TypeError, ValueError):
            continue
    return ""


def as_float_array(values, name: str, *, allow_bool: bool = False, expected: str | None = None) -> np.ndarray:
    """``np.asarray(values, dtype=float)`` with errors that name the argument.

    Raises ``TypeError`` for text, complex numbers (numpy would silently keep their
    real part), booleans when ``allow_bool`` is False, and anything numpy cannot
    convert; ``ValueError`` for a number too large for a float (a Python integer
    beyond about 1.8e308, which numpy reports as a bare ``OverflowError``).  No
    check of the shape.  ``expected`` (e.g. "a matrix of numbers") words the
    error when numpy cannot convert ``values`` at all.

    Examples
    --------
    >>> as_float_array([[1, 2], [3, 4.5]], "usage")
    array([[1. , 2. ],
           [3. , 4.5]])
    >>> as_float_array([1, 10**400], "prices")
    Traceback (most recent call last):
    ...
    ValueError: `prices` holds a number too large for a float (entry 1 is about 1e400); ...
    >>> as_float_array([1 + 2j], "prices")
    Traceback (most recent call last):
    ...
    TypeError: `prices` must contain real numbers; got complex numbers ...
    """
    if isinstance(values, (str, bytes)):
        raise TypeError(f"`{name}` must contain numbers; got the string {values!r}.")
    kind = _element_kind(values)
    if kind == "c":
        raise TypeError(
            f"`{name}` must contain real numbers; got complex numbers (pass `.real` or `abs(...)` if that is "
            "what you mean)."
        )
    if kind == "b" and not allow_bool:
        raise TypeError(f"`{name}` must contain numbers, not booleans (True/False); got {_short(values)}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            return np.asarray(values, dtype=float)
    except OverflowError:
        raise ValueError(
            f"`{name}` holds a number too large for a float{_first_overflow(values)}; floats end near "
            "1.8e308, so express it in other units."
        ) from None
    except np.exceptions.ComplexWarning:
        raise TypeError(f"`{name}` must contain real numbers; got complex numbers.") from None
    except (TypeError, ValueError) as exc:
        if _is_ragged(values):
            raise TypeError(
                f"`{name}` must contain only numbers; could not convert it: it is ragged (its entries are lists of "
                "different lengths, or numbers mixed with lists); give a flat list of numbers or a table whose rows "
                "all have the same length."
            ) from None
        if expected is not None:
            raise TypeError(f"`{name}` must be {expected} ({exc}).") from None
        raise TypeError(f"`{name}` must contain only numbers; could not convert it ({exc}).") from None


def _is_ragged(values, depth: int = 0) -> bool:
    """Whether ``values`` is a nested sequence whose entries differ in length (or mix numbers and sequences)."""
    if depth > 3 or not isinstance(values, (list, tuple, np.ndarray, pd.Series)):
        return False
    if isinstance(values, (np.ndarray, pd.Series)) and np.asarray(values).dtype != object:
        return False
    shapes = set()
    for v in (np.asarray(values, dtype=object).ravel() if isinstance(values, (np.ndarray, pd.Series)) else values):
        if isinstance(v, (list, tuple, np.ndarray, pd.Series)):
            if _is_ragged(v, depth + 1):
                return True
            shapes.add(len(v))
        else:
            shapes.add(None)
    return len(shapes) > 1


def _short(values) -> str:
    """Describe ``values`` in one line of at most 60 characters, for an error message."""
    if isinstance(values, int) and not isinstance(values, bool) and abs(values) > 10**50:
        return _int_size(values)
    if isinstance(values, (np.ndarray, pd.Series, pd.Index)) and values.size > 1:
        return f"{type(values).__name__} of dtype {values.dtype}"
    text = " ".join(repr(values).split())
    return text if len(text) <= 60 else text[:57] + "..."


def as_1d_float(
    values, name: str, *, allow_empty: bool = False, allow_scalar: bool = False, allow_bool: bool = False
) -> np.ndarray:
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
    allow_bool : bool, optional
        Whether booleans count as the numbers 0 and 1 (for masks such as an
        EV's availability).  By default they are rejected with a ``TypeError``:
        ``k=True`` or a list of True/False where numbers belong is a mistake.

    Returns
    -------
    numpy.ndarray
        A new float array of shape ``(n,)``.

    Raises
    ------
    TypeError
        For text, complex numbers, anything that is not a number (and booleans
        when ``allow_bool`` is False).
    ValueError
        For a wrong shape, an empty input, or a number too large for a float.

    Examples
    --------
    >>> as_1d_float([1, 2.5], "prices")
    array([1. , 2.5])
    >>> as_1d_float([True, 2.5], "prices")
    Traceback (most recent call last):
    ...
    TypeError: `prices` must contain numbers, not booleans (True/False); got [True, 2.5].
    """
    if isinstance(values, (str, bytes)):
        what = "a number or a sequence of numbers" if allow_scalar else "a sequence of numbers"
        raise TypeError(f"`{name}` must be {what}, got the string {values!r}.")
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"`{name}` must be one-dimensional; got a DataFrame with columns {list(values.columns)}.")
    try:
        arr = as_float_array(values, name, allow_bool=allow_bool)
    except TypeError:
        if not _is_ragged(values):
            raise
        raise TypeError(
            f"`{name}` is ragged (nested lists of different lengths): it must be a flat list of numbers, "
            f"one per entry; got {_short(values)}."
        ) from None
    if arr.ndim == 0 and allow_scalar:
        return arr.copy()
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional; got an array of shape {arr.shape}.")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"`{name}` is empty; give at least one entry.")
    return arr.copy()


def scalar_float(value, name: str, expected: str) -> float:
    """``float(value)`` for a real number (not text, a boolean or a complex number), else ``TypeError``."""
    if isinstance(value, (str, bytes)) or _number_kind(value):
        raise TypeError(f"`{name}` must be {expected}; got {value!r}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            return float(value)
    except OverflowError:
        raise ValueError(
            f"`{name}` is too large for a float (floats end near 1.8e308); got {_short(value)}. "
            "Express it in other units."
        ) from None
    except (TypeError, ValueError, np.exceptions.ComplexWarning):
        raise TypeError(f"`{name}` must be {expected}; got {_short(value)}.") from None


def as_finite_float(value, name: str) -> float:
    """Return ``value`` as a finite float or raise ``TypeError``/``ValueError`` naming ``name``.

    Booleans, text and complex numbers are not numbers here (``TypeError``).

    Examples
    --------
    >>> as_finite_float(0.05, "price_substation")
    0.05
    >>> as_finite_float(True, "price_substation")
    Traceback (most recent call last):
    ...
    TypeError: `price_substation` must be a number; got True.
    """
    v = scalar_float(value, name, "a number")
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

    Booleans, text and complex numbers raise ``TypeError``.

    Examples
    --------
    >>> check_fraction(0.5, "k")
    0.5
    """
    v = scalar_float(value, name, "a number between 0 and 1")
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
    v = scalar_float(value, name, "a positive number")
    if v == math.inf:
        raise ValueError(f"`{name}` must be a positive number; got {value!r}: it must be a finite positive number.")
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"`{name}` must be a positive number; got {value!r}.")
    return v


def as_positive_int(value, name: str) -> int:
    """Return ``value`` as an int if it is a whole number >= 1 (not a bool), else raise ``ValueError``.

    Examples
    --------
    >>> as_positive_int(2, "jobs")
    2
    >>> as_positive_int(0, "jobs")
    Traceback (most recent call last):
    ...
    ValueError: `jobs` must be a positive integer; got 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_magnitude(arr: np.ndarray, name: str, what: str = "values", limit: float = MAX_MAGNITUDE) -> None:
    """Raise ``ValueError`` naming the first entry of ``arr`` whose absolute value exceeds ``limit``.

    For inputs whose products and sums must stay finite (see :data:`MAX_MAGNITUDE`).
    NaN entries pass (that is :func:`check_finite`'s job).

    Examples
    --------
    >>> check_magnitude(np.array([1.0, -1e200]), "bids", "prices")
    Traceback (most recent call last):
    ...
    ValueError: `bids` must contain prices of at most 1e+150 in absolute value; entry 1 is -1e+200. ...
    """
    arr = np.atleast_1d(np.asarray(arr, dtype=float))
    bad = np.abs(arr) > limit
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must contain {what} of at most {limit:g} in absolute value; entry {i} is {arr[i]:g}. "
            "Such numbers would overflow the floats (products and sums beyond 1.8e308): "
            "express them in other units (MWh instead of kWh, thousands instead of units)."
        )


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
