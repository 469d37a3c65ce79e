"""The machinery of the fuzz suite (``tests/test_fuzz.py``): bad values, the contract, counts.

The suite calls a public callable with one argument replaced by a bad or extreme
value and holds the call to the contract of issue 14:

* either it raises the package's own ``ValueError`` or ``TypeError`` (raised in a
  ``te_course`` module, not deep inside numpy or cvxpy) whose message names the
  argument that was changed (or one of the names the spec lists for it, such as a
  feeder's column), within :data:`CALL_TIMEOUT_S` seconds; a model-level failure
  (``SolverError``, ``ConvergenceError``: infeasible limits, an iteration that did
  not converge) may come from several arguments together, and its message must
  name at least one argument of the call, to say what to change;
* or it returns a result that satisfies the function's invariants (finite numbers,
  balance, limits), checked by the spec's ``check``;
* and in both cases the caller's inputs are unchanged.

This module holds no test; ``test_fuzz.py`` holds the specs and the tests.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import re
import signal
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

import te_course as tc

PACKAGE_DIR = Path(tc.__file__).resolve().parent

#: A call that takes longer than this is a hang (issue 14 found bisections that never ended).
CALL_TIMEOUT_S = 30

#: What the suite did, for the summary line and the issue note (see ``conftest.py``).
COUNTS: Counter = Counter()


class Hang(Exception):
    """A call ran past :data:`CALL_TIMEOUT_S`."""


class Broken(AssertionError):
    """A call broke the contract; the message says how."""


# --------------------------------------------------------------------------- bad values

NAN, INF = math.nan, math.inf

#: Scalars that replace a number: non-finite, negative, zero, huge, tiny, beyond the floats,
#: and the wrong types a student types (booleans, complex numbers, strings, None, a list).
BAD_SCALARS = (
    NAN,
    INF,
    -INF,
    -1.0,
    0.0,
    1e300,
    -1e300,
    1e-300,
    5e-324,
    10**400,
    True,
    False,
    1 + 1j,
    "1",
    None,
    [1.0],
    np.float64(NAN),
    np.int64(-3),
)
BAD_INTS = (0, -1, -(10**6), 10**12, 10**400, 2.5, NAN, INF, True, "3", None, [1], 1j)
BAD_FLAGS = ("yes", 2, None, NAN, 1.5, "False")
BAD_CHOICES = ("", "no such option", None, 3, ["a"])


def _scalars(value) -> st.SearchStrategy:
    return (
        st.sampled_from(BAD_SCALARS + (value * 1e12, value * 1e-12, -value))
        | st.floats()
        | st.integers(-(2**80), 2**80)
    )


def _ints(value) -> st.SearchStrategy:
    return st.sampled_from(BAD_INTS) | st.integers(-(2**70), 2**70)


def _elementwise(values: np.ndarray, data_draw, bad) -> np.ndarray:
    """``values`` (an object array) with one entry, or every entry, replaced by ``bad``."""
    out = values.astype(object).copy()
    if out.size == 0:
        return out
    flat = out.reshape(-1)
    i = data_draw(st.integers(0, flat.size - 1))
    if data_draw(st.booleans()):
        flat[i] = bad
    else:
        flat[:] = bad
    return out


def _rebuild(template, arr):
    """``arr`` in the container type of ``template`` (list, tuple, ndarray, Series)."""
    if isinstance(template, pd.Series):
        index = template.index if len(arr) == len(template) else None
        return pd.Series(arr, index=index, name=template.name)
    if isinstance(template, np.ndarray):
        try:
            return arr.astype(template.dtype)
        except (TypeError, ValueError, OverflowError):
            return arr
    lst = arr.tolist()
    if isinstance(template, tuple):
        return tuple(tuple(r) if isinstance(r, list) else r for r in lst)
    if template and isinstance(template[0], tuple):
        return [tuple(r) if isinstance(r, list) else r for r in lst]
    return lst


def _array_mutation(value, data_draw):
    """A 1-D or 2-D list, tuple, array or Series, broken in one of many ways."""
    arr = np.asarray(value, dtype=object)
    n = len(value)
    kind = data_draw(
        st.sampled_from(
            [
                "entry",
                "entry",
                "entry",
                "empty",
                "none",
                "text",
                "scalar",
                "shorter",
                "longer",
                "ragged",
                "deeper",
                "scaled",
                "negated",
                "zeros",
            ]
        )
    )
    COUNTS[f"array:{kind}"] += 1
    if kind == "entry":
        bad = data_draw(st.sampled_from(BAD_SCALARS) | st.floats())
        return _rebuild(value, _elementwise(arr, data_draw, bad))
    if kind == "empty":
        return type(value)() if isinstance(value, (list, tuple)) else value[:0]
    if kind == "none":
        return None
    if kind == "text":
        return "12, 10, 8"
    if kind == "scalar":
        return 3.0
    if kind == "shorter":
        return value[: max(n - 1, 0)] if not isinstance(value, pd.Series) else value.iloc[:-1]
    if kind == "longer":
        extra = arr[-1:] if n else np.array([1.0], dtype=object)
        return _rebuild(value, np.concatenate([arr, extra]))
    if kind == "ragged":
        rows = arr.tolist()
        if rows and isinstance(rows[0], list):
            rows[0] = rows[0] + [1.0]
            return rows
        return [rows[:1], rows] if rows else [[1.0], [1.0, 2.0]]
    if kind == "deeper":
        return [arr.tolist(), arr.tolist()]
    factor = {"scaled": data_draw(st.sampled_from([1e200, 1e-200, 1e150, 1e-12, 1e12])), "negated": -1.0, "zeros": 0.0}[
        kind
    ]
    try:
        scaled = arr.astype(float) * factor
    except (TypeError, ValueError):
        return None
    return _rebuild(value, scaled.astype(object))


def _frame_mutation(value: pd.DataFrame, data_draw):
    df = value.copy()
    kind = data_draw(
        st.sampled_from(
            ["cell", "cell", "cell", "drop column", "no rows", "relabel", "duplicate row", "text column", "scaled"]
        )
    )
    COUNTS[f"frame:{kind}"] += 1
    cols = list(df.columns)
    if kind == "cell" and df.size:
        col = data_draw(st.sampled_from(cols))
        row = data_draw(st.integers(0, len(df) - 1))
        bad = data_draw(st.sampled_from(BAD_SCALARS) | st.floats())
        df[col] = df[col].astype(object)
        df.iloc[row, df.columns.get_loc(col)] = bad
        return df
    if kind == "drop column" and cols:
        return df.drop(columns=data_draw(st.sampled_from(cols)))
    if kind == "no rows":
        return df.iloc[:0]
    if kind == "relabel" and len(df):
        return df.rename(index={df.index[-1]: "no such label"})
    if kind == "duplicate row" and len(df):
        return pd.concat([df, df.iloc[-1:]])
    if kind == "text column" and cols:
        df[data_draw(st.sampled_from(cols))] = "x"
        return df
    num = df.select_dtypes("number").columns
    if len(num):
        df[num] = df[num] * data_draw(st.sampled_from([1e200, 1e-200, -1.0, 0.0]))
    return df


def _feeder_mutation(feeder: tc.Feeder, data_draw):
    """A feeder edited in place the way the notebooks teach, broken in one of many ways."""
    kind = data_draw(
        st.sampled_from(
            [
                "bus cell",
                "line cell",
                "drop line column",
                "drop bus column",
                "unknown bus",
                "meshed",
                "disconnected",
                "text in_service",
                "not a feeder",
            ]
        )
    )
    COUNTS[f"feeder:{kind}"] += 1
    bad = data_draw(st.sampled_from(BAD_SCALARS) | st.floats())
    b, ln = feeder.buses, feeder.lines
    if kind == "bus cell":
        col = data_draw(st.sampled_from(list(b.columns)))
        b[col] = b[col].astype(object)
        b.iloc[data_draw(st.integers(0, len(b) - 1)), b.columns.get_loc(col)] = bad
    elif kind == "line cell":
        col = data_draw(st.sampled_from(["r_ohm", "x_ohm", "s_max_kva"]))
        ln[col] = ln[col].astype(object)
        ln.iloc[data_draw(st.integers(0, len(ln) - 1)), ln.columns.get_loc(col)] = bad
    elif kind == "drop line column":
        del ln[data_draw(st.sampled_from(list(ln.columns)))]
    elif kind == "drop bus column":
        del b[data_draw(st.sampled_from(list(b.columns)))]
    elif kind == "unknown bus":
        ln.iloc[-1, ln.columns.get_loc("to_bus")] = 999
    elif kind == "meshed":
        ln.loc[ln.index.max() + 1] = [b.index[1], b.index[-1], 0.1, 0.1, NAN, True][: len(ln.columns)]
    elif kind == "disconnected":
        ln.iloc[0, ln.columns.get_loc("in_service")] = False  # the substation's first line opened
    elif kind == "text in_service":
        ln["in_service"] = "False"
    else:
        return data_draw(st.sampled_from([None, "ieee33", 3.0, b]))
    return feeder


def _object_mutation(obj, data_draw):
    """An object (a Prosumer, agents, a result) replaced, or one of its arrays edited in place."""
    arrays = []
    for name, val in _attributes(obj):
        if isinstance(val, np.ndarray) and val.dtype.kind in "fiu" and val.size:
            arrays.append(name)
    kind = data_draw(st.sampled_from(["edited", "edited", "replaced"] if arrays else ["replaced"]))
    COUNTS[f"object:{kind}"] += 1
    if kind == "replaced":
        return data_draw(st.sampled_from([None, "x", 3.0, [1.0, 2.0], {}]))
    name = data_draw(st.sampled_from(arrays))
    arr = getattr(obj, name)
    bad = data_draw(st.sampled_from([NAN, INF, -INF, -1.0, 1e300, -1e300]))
    try:
        arr.reshape(-1)[data_draw(st.integers(0, arr.size - 1))] = bad
    except (ValueError, TypeError, OverflowError):  # read-only or integer arrays cannot be edited: fine
        COUNTS["object:read-only"] += 1
    return obj


def _attributes(obj):
    if dataclasses.is_dataclass(obj):
        return [(f.name, getattr(obj, f.name, None)) for f in dataclasses.fields(obj)]
    return list(getattr(obj, "__dict__", {}).items())


def mutate(value, data_draw):
    """Draw a bad or extreme replacement for ``value``, chosen by its type."""
    if isinstance(value, (bool, np.bool_)):
        return data_draw(st.sampled_from(BAD_FLAGS))
    if isinstance(value, (int, np.integer)):
        return data_draw(_ints(value))
    if isinstance(value, (float, np.floating)):
        return data_draw(_scalars(float(value)))
    if isinstance(value, str):
        return data_draw(st.sampled_from(BAD_CHOICES + (value.upper(), value + " ")))
    if value is None:
        return data_draw(st.sampled_from(["x", NAN, -1.0, [NAN], {}, 1e300]))
    if isinstance(value, tc.Feeder):
        return _feeder_mutation(value, data_draw)
    if isinstance(value, pd.DataFrame):
        return _frame_mutation(value, data_draw)
    if isinstance(value, dict):
        kind = data_draw(st.sampled_from(["none", "empty", "drop", "junk key", "junk value"]))
        COUNTS[f"dict:{kind}"] += 1
        out = dict(value)
        if kind == "none":
            return None
        if kind == "empty" or not out:
            return {}
        key = data_draw(st.sampled_from(sorted(out, key=repr)))
        if kind == "drop":
            out.pop(key)
        elif kind == "junk key":
            out["no such key"] = out[key]
        else:
            out[key] = mutate(out[key], data_draw)
        return out
    if callable(value) and not isinstance(value, type):
        return data_draw(st.sampled_from([None, 3.0, lambda *a, **k: NAN, lambda *a, **k: "x"]))
    if isinstance(value, (list, tuple)) and value and all(callable(v) for v in value):
        i = data_draw(st.integers(0, len(value) - 1))
        out = list(value)
        out[i] = data_draw(st.sampled_from([None, lambda *a: NAN, lambda *a: -1e300, lambda *a: "x"]))
        return data_draw(st.sampled_from([out, [], None]))
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        try:
            numeric = np.asarray(value, dtype=float).ndim in (1, 2)
        except (TypeError, ValueError):
            numeric = False
        if numeric:
            return _array_mutation(value, data_draw)
        if value and not isinstance(value, np.ndarray):  # a list of objects: edit one of them
            out = list(value)
            i = data_draw(st.integers(0, len(out) - 1))
            out[i] = mutate(out[i], data_draw)
            return out
    return _object_mutation(value, data_draw)


# --------------------------------------------------------------------------- the contract


def snapshot(x, depth: int = 0):
    """A comparable picture of ``x`` (arrays and tables by their bytes), to detect changed inputs."""
    if depth > 6:
        return repr(type(x))
    if isinstance(x, np.ndarray):
        return ("nd", x.dtype.str, x.shape, x.tobytes() if x.dtype != object else repr(x.tolist()))
    if isinstance(x, (pd.DataFrame, pd.Series, pd.Index)):
        return ("pd", pickle.dumps(x))
    if isinstance(x, float):
        return ("f", repr(x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(snapshot(v, depth + 1) for v in x))
    if isinstance(x, dict):
        return ("d", tuple((repr(k), snapshot(v, depth + 1)) for k, v in x.items()))
    if callable(x):
        return ("callable", id(x))
    attrs = _attributes(x)
    if attrs:
        return (type(x).__name__, tuple((k, snapshot(v, depth + 1)) for k, v in attrs))
    return ("r", repr(x))


def numbers(x, path: str = "result", depth: int = 0):
    """Every number inside a result, as (where, value) pairs; tables by their numeric columns."""
    if depth > 5:
        return
    if isinstance(x, (bool, np.bool_, str, type(None))):
        return
    if isinstance(x, (int, float, np.integer, np.floating)):
        try:
            yield path, float(x)
        except OverflowError:  # an int beyond the floats kept in a result
            yield path, math.inf
    elif isinstance(x, np.ndarray):
        if x.dtype.kind in "fiu" and x.size:
            arr = x.astype(float).reshape(-1)
            bad = ~np.isfinite(arr)
            yield path, float(arr[bad][0]) if bad.any() else 0.0
    elif isinstance(x, pd.Series):
        yield from numbers(
            pd.to_numeric(x, errors="coerce").to_numpy() if x.dtype.kind in "fiu" else np.array([]), path, depth + 1
        )
    elif isinstance(x, pd.DataFrame):
        for col in x.columns:
            if x[col].dtype.kind in "fiu":
                yield from numbers(x[col].to_numpy(), f"{path}[{col!r}]", depth + 1)
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x[:50]):
            yield from numbers(v, f"{path}[{i}]", depth + 1)
    elif isinstance(x, dict):
        for k, v in list(x.items())[:50]:
            yield from numbers(v, f"{path}[{k!r}]", depth + 1)
    elif dataclasses.is_dataclass(x):
        for f in dataclasses.fields(x):
            yield from numbers(getattr(x, f.name, None), f"{path}.{f.name}", depth + 1)


def check_finite(result, nan_ok: tuple[str, ...] = ()) -> None:
    """No NaN or infinity anywhere in ``result`` but in the fields ``nan_ok`` names (path prefixes)."""
    for where, v in numbers(result):
        if math.isfinite(v) or any(where.startswith(f"result.{p}") or where.startswith(f"result{p}") for p in nan_ok):
            continue
        raise Broken(f"{where} is {v}")


def names_argument(message: str, names) -> bool:
    """Whether ``message`` names one of ``names``: in backticks or quotes, or as a whole word of 3+ letters."""
    for name in names:
        if f"`{name}`" in message or f"'{name}'" in message or f'"{name}"' in message:
            return True
        if len(name) >= 3 and re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message):
            return True
    return False


def _raised_in_package(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE_DIR)


def _on_alarm(signum, frame):
    raise Hang(f"the call ran longer than {CALL_TIMEOUT_S} s")


def call_under_contract(fn: Callable, kwargs: dict, changed: str, names, check: Callable | None, nan_ok=()):
    """Call ``fn(**kwargs)`` and hold it to the contract; return "error" or "result"."""
    before = snapshot(kwargs)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CALL_TIMEOUT_S)
    COUNTS["calls"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(**kwargs)
    except (ValueError, TypeError) as exc:
        outcome = "error"
        message = str(exc)
        if not _raised_in_package(exc):
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            raise Broken(
                f"{type(exc).__name__} raised outside te_course ({Path(frame.filename).name}:{frame.lineno}): {message}"
            ) from exc
        if isinstance(exc, tc.TeCourseError):
            # A model-level failure (infeasible, did not converge, the solver gave up) may come
            # from a combination of arguments: its message must name one of them, to say what to change.
            if not names_argument(message, tuple(names) + tuple(kwargs)):
                raise Broken(f"{type(exc).__name__} names no argument of the call: {message}") from exc
        elif not names_argument(message, names):
            raise Broken(f"{type(exc).__name__} does not name `{changed}` (or {sorted(names)}): {message}") from exc
    except Hang as exc:
        raise Broken(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - anything else is a broken contract
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise Broken(f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}: {exc}") from exc
    else:
        outcome = "result"
        check_finite(result, nan_ok)
        if check is not None:
            check(result, kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if snapshot(kwargs) != before:
        raise Broken(f"the call changed its input `{changed}` (or another argument)")
    COUNTS[outcome] += 1
    return outcome


def fresh(value):
    """A deep copy, so that an edit in one example never leaks into the next."""
    return copy.deepcopy(value)
