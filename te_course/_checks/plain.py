"""Turn a student's result into plain numbers before anything compares it.

Each function accepts what an honest answer may be (a Python or numpy number, a
list, an array, a pandas Series) and raises TypeError or ValueError for anything
else, so that an object whose ``__eq__`` answers True to everything, or text that
looks like a number, earns nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np

__all__ = ["as_float", "as_floats", "as_int", "as_bool", "as_dict", "optional", "as_tuple"]


def as_float(x) -> float:
    """Return a real number (an int, a float, a numpy scalar or a one-element 0-d array) as a float."""
    if isinstance(x, (str, bytes)) or isinstance(x, (bool, np.bool_)):
        raise TypeError(f"expected a number, got {type(x).__name__}")
    if isinstance(x, np.ndarray):
        if x.ndim != 0 or x.dtype.kind not in "iuf":
            raise TypeError(f"expected a number, got an array of shape {x.shape}")
        return float(x)
    if not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"expected a number, got {type(x).__name__}")
    return float(x)


def as_floats(x, shape: tuple[int, ...] | None = None) -> list:
    """Return an array of real numbers (list, tuple, numpy array, pandas Series or frame) as nested lists of floats."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"expected numbers, got {type(x).__name__}")
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    if isinstance(x, (list, tuple)):
        x = [as_floats(v) if isinstance(v, (list, tuple, np.ndarray)) or hasattr(v, "to_numpy") else as_float(v)
             for v in x]
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"expected numbers, got an array of {array.dtype}")
    array = array.astype(float)
    if shape is not None and array.shape != shape:
        raise ValueError(f"expected shape {shape}, got {array.shape}")
    return array.tolist()


def as_int(x) -> int:
    """Return an integer (Python or numpy), or a float that is whole (2.0 counts as 2; 2.5 does not)."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("expected an integer, got a bool")
    if isinstance(x, (float, np.floating)):
        if not float(x).is_integer():
            raise ValueError(f"expected a whole number, got {float(x)!r}")
        return int(float(x))
    return operator.index(x)


def as_bool(x) -> bool:
    """Return a Python or numpy boolean as a bool."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"expected True or False, got {type(x).__name__}")
    return bool(x)


def as_dict(x, each: dict[str, Callable]) -> dict:
    """Return a dict with exactly the keys of ``each``, every value coerced by its function."""
    if not isinstance(x, dict):
        raise TypeError(f"expected a dict, got {type(x).__name__}")
    if set(x) != set(each):
        raise ValueError(f"expected the keys {sorted(each)}, got {sorted(map(str, x))}")
    return {key: f(x[key]) for key, f in each.items()}


def as_tuple(x, *each: Callable) -> list:
    """Return a tuple (or list) of ``len(each)`` items, each coerced by its function."""
    if not isinstance(x, (tuple, list)) or len(x) != len(each):
        raise TypeError(f"expected a tuple of {len(each)} values, got {type(x).__name__}")
    return [f(v) for f, v in zip(each, x)]


def optional(f: Callable) -> Callable:
    """``f``, letting None through (for an answer that may be None)."""
    return lambda x: None if x is None else f(x)
