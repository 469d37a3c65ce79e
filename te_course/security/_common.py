"""What the modules of :mod:`te_course.security` share: operating limits in words, and the screen.

Private to the subpackage; its names carry no underscore so that the modules beside it may import them.

- Checking an operating point against its limits (:func:`voltage_limits`, :func:`line_loading`,
  :func:`assess`, :func:`labels_text`): used by the N-1 check (:mod:`.contingencies`) and by the
  false offer on a feeder (:mod:`.feeder_attacks`).
- The rules of the screen (:func:`screen_rules`, :func:`registered_capacity`, :func:`screen_table`,
  :func:`modified_z`): applied to an order book by :func:`te_course.security.screen_orders` and
  :func:`te_course.security.mitigate_false_bids` (:mod:`.false_bids`), and to the DERs' offers by the
  ``screen`` option of :func:`te_course.security.false_offer_on_feeder` (:mod:`.feeder_attacks`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._validation import as_finite_float, as_float_array, as_positive_float
from .._validation import label as _label
from ..powerflow import PowerFlowResult

__all__ = [
    "V_TOL",
    "voltage_limits",
    "labels_text",
    "line_loading",
    "assess",
    "MAD_SCALE",
    "modified_z",
    "ScreenRules",
    "screen_rules",
    "registered_array",
    "registered_capacity",
    "screen_table",
]

V_TOL = 1e-6  # p.u.: a voltage this close to its limit is within it (the OPF's solver tolerance)
LOAD_TOL = 1e-9  # relative: a loading this close to its limit is within it
SHOW = 12  # how many bus labels a sentence lists before "and N more"
MAD_SCALE = 0.6745  # Phi^-1(0.75): makes the MAD comparable with a standard deviation
OVER_CAPACITY = ("clip", "reject")


# =========================================================================== limits in words


def voltage_limits(v_min_pu, v_max_pu) -> tuple[float, float]:
    """Return ``(v_min, v_max)`` as positive floats with ``v_min < v_max``, or raise naming the argument."""
    v_min = as_positive_float(v_min_pu, "v_min_pu")
    v_max = as_positive_float(v_max_pu, "v_max_pu")
    if v_min >= v_max:
        raise ValueError(f"`v_min_pu` ({v_min}) must be below `v_max_pu` ({v_max}).")
    return v_min, v_max


def labels_text(labels) -> str:
    """Return the first labels of a list as text, then "and N more"."""
    shown = [_label(b) for b in labels[:SHOW]]
    more = f" and {len(labels) - SHOW} more" if len(labels) > SHOW else ""
    return f"{shown}{more}"


def line_loading(res: PowerFlowResult, limits: pd.Series) -> pd.Series:
    """|S| / s_max per line, the larger of the two ends; NaN where no limit or out of service."""
    s_from = res.p_kw + 1j * res.q_kvar
    s_to = s_from - (res.loss_kw + 1j * res.loss_kvar)  # what leaves the line at its to_bus end
    s_abs = np.maximum(np.abs(s_from), np.abs(s_to))
    loading = s_abs / limits.reindex(res.p_kw.index)
    loading[~res.lines["in_service"].to_numpy()] = np.nan
    return loading.astype(float)


def assess(v_pu: pd.Series, loading: pd.Series, limits: pd.Series, v_min: float, v_max: float,
           loading_limit: float) -> tuple[dict, list[str]]:
    """Summary numbers and the violated limits, in words, of one operating point."""
    v = v_pu.dropna()
    out = {
        "min_v_pu": float(v.min()),
        "min_v_bus": _label(v.idxmin()),
        "max_v_pu": float(v.max()),
        "max_loading": math.nan,
        "max_loading_line": None,
    }
    words = []
    low = v[v < v_min - V_TOL]
    if len(low):
        where = f"bus {_label(low.index[0])}" if len(low) == 1 else f"buses {labels_text(list(low.index))}"
        words.append(f"undervoltage at {where} (lowest {low.min():.4f} p.u. at bus {_label(low.idxmin())})")
    high = v[v > v_max + V_TOL]
    if len(high):
        where = f"bus {_label(high.index[0])}" if len(high) == 1 else f"buses {labels_text(list(high.index))}"
        words.append(f"overvoltage at {where} (highest {high.max():.4f} p.u. at bus {_label(high.idxmax())})")
    ld = loading.dropna()
    if len(ld):
        out["max_loading"] = float(ld.max())
        out["max_loading_line"] = _label(ld.idxmax())
        for line, value in ld[ld > loading_limit * (1 + LOAD_TOL)].items():
            words.append(f"overload on line {_label(line)} ({100 * value:.1f}% of {limits[line]:g} kVA)")
    return out, words


# =========================================================================== the screen


def modified_z(x: np.ndarray) -> np.ndarray:
    """Return the modified z-score ``0.6745 (x - median) / MAD`` of finite values (+-inf off the median if MAD = 0)."""
    dev = x - np.median(x)
    mad = float(np.median(np.abs(dev)))
    if mad > 0:
        return MAD_SCALE * dev / mad
    return np.where(dev > 0, np.inf, np.where(dev < 0, -np.inf, 0.0))


class ScreenRules(NamedTuple):
    """The checked options of a screen (see :func:`te_course.security.screen_orders`)."""

    floor: float
    cap: float
    z_max: float | None
    dt_h: float
    over_capacity: str


def _price_bounds(price_bounds) -> tuple[float, float]:
    """``(floor, cap)`` from ``price_bounds`` (None at an end: no bound), or an error naming it."""
    if price_bounds is None:
        return -math.inf, math.inf
    try:
        lo, hi = price_bounds
    except (TypeError, ValueError):
        raise TypeError(
            f"`price_bounds` must be a pair (floor, cap); use None for a missing end; got {price_bounds!r}."
        ) from None
    lo = -math.inf if lo is None else as_finite_float(lo, "price_bounds[0] (the floor)")
    hi = math.inf if hi is None else as_finite_float(hi, "price_bounds[1] (the cap)")
    if lo > hi:
        raise ValueError(f"`price_bounds` has its floor {lo} above its cap {hi}; give (floor, cap).")
    return lo, hi


def screen_rules(price_bounds, z_max, dt_h, over_capacity) -> ScreenRules:
    """Check the options of a screen, naming the bad one; return them as :class:`ScreenRules`."""
    lo, hi = _price_bounds(price_bounds)
    if z_max is not None:
        z_max = as_positive_float(z_max, "z_max")
    if over_capacity not in OVER_CAPACITY:
        raise ValueError(f"`over_capacity` must be 'clip' or 'reject'; got {over_capacity!r}.")
    return ScreenRules(lo, hi, z_max, as_positive_float(dt_h, "dt_h"), over_capacity)


def registered_array(registered_kw, name: str) -> np.ndarray:
    """``registered_kw`` as a float array (any shape), or an error naming ``name``."""
    if isinstance(registered_kw, str | bytes):
        raise TypeError(f"`{name}` must be a number or one number per order; got {registered_kw!r}.")
    return as_float_array(registered_kw, name, expected="a number or one number per order")


def registered_capacity(registered_kw, n: int, name: str = "registered_kw") -> np.ndarray:
    """Return the registered capacity of each order, kW (inf: no limit), from None, a number or one per order."""
    if registered_kw is None:
        return np.full(n, math.inf)
    arr = registered_array(registered_kw, name)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must be one number or one per order ({n}); got shape {arr.shape}.")
    bad = np.isnan(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must contain non-negative capacities in kW (inf for no limit); entry {i} is {arr[i]}."
        )
    return arr


def screen_table(price: np.ndarray, quantity: np.ndarray, registered: np.ndarray, rules: ScreenRules) -> pd.DataFrame:
    """Apply the screen ``rules`` to one side's orders: the table of :class:`te_course.security.Screening`."""
    reasons = [[] for _ in range(price.size)]  # why rejected
    notes = [[] for _ in range(price.size)]  # what was changed
    for i in np.flatnonzero(price < rules.floor):
        reasons[i].append(f"price {price[i]:g} below the floor {rules.floor:g}")
    for i in np.flatnonzero(price > rules.cap):
        reasons[i].append(f"price {price[i]:g} above the cap {rules.cap:g}")
    cap = registered * rules.dt_h
    kept = quantity.copy()
    for i in np.flatnonzero(quantity > cap * (1 + 1e-12)):
        what = f"quantity {quantity[i]:g} above the registered {registered[i]:g} kW x {rules.dt_h:g} h"
        if rules.over_capacity == "reject" or cap[i] == 0:
            reasons[i].append(what)
        else:
            notes[i].append(f"{what}, clipped to {cap[i]:g}")
            kept[i] = cap[i]
    z_p = z_q = np.full(price.size, np.nan)
    if rules.z_max is not None:
        z_p, z_q = modified_z(price), modified_z(quantity)
        for what, z in (("price", z_p), ("quantity", z_q)):
            for i in np.flatnonzero(np.abs(z) > rules.z_max):
                reasons[i].append(f"{what} is an outlier (robust z = {z[i]:.3g}, |z| > {rules.z_max:g})")
    accepted = np.array([not r for r in reasons], dtype=bool)
    table = pd.DataFrame({
        "price": price, "quantity": quantity, "registered": registered, "z_price": z_p, "z_quantity": z_q,
        "accepted": accepted, "quantity_accepted": np.where(accepted, kept, 0.0),
        "reason": ["; ".join(r + n) for r, n in zip(reasons, notes)],
    })
    table.index.name = "order"
    return table
