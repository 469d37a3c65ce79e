"""The prosumer model's shared parts: reading inputs, and writing devices as cvxpy constraints.

Private to the package: :mod:`te_course.devices` checks its data with the readers here,
and :func:`te_course.prosumer.schedule`, :mod:`te_course.scheduling` (prosumers on a
feeder) and :mod:`te_course.uncertainty` (two-stage plans) write the same device
constraints with :func:`device_constraints`.  The model itself (sign convention,
battery state of charge) is documented in :mod:`te_course.prosumer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ._validation import as_1d_float, check_finite, check_nonnegative

if TYPE_CHECKING:
    from .devices import Battery

__all__ = [
    "MIN_EFFICIENCY", "DT_H_MIN", "DT_H_MAX", "read_number", "read_efficiency", "step_hours", "read_only",
    "is_scalar", "read_profile", "broadcast", "price_series", "check_name", "grid_limit", "check_bounded",
    "cost_scale", "clean", "dual_value", "CONSTRAINT_FAMILIES", "BatterySpec", "battery_spec", "DeviceModel",
    "device_constraints",
]

#: Efficiencies (``eta_charge``, ``eta_discharge``, an EV's ``eta``) lie in [MIN_EFFICIENCY, 1]: a device
#: that keeps less than 0.1 % of the energy stores nothing worth modelling, and the models divide by the
#: efficiency (``1 / eta_discharge``), which beyond this range leaves the numbers a solver can read.
MIN_EFFICIENCY = 1e-3
#: Step lengths ``dt_h`` lie in [DT_H_MIN, DT_H_MAX] hours (0.36 s to about 14 months): the models
#: multiply powers by ``dt_h``, and coefficients outside this range are rounded to zero or to
#: infinity by the solvers (a step of 1e-12 h made HiGHS ignore the prices and return a wrong schedule).
DT_H_MIN, DT_H_MAX = 1e-4, 1e4


# --------------------------------------------------------------------------- input helpers


def read_number(value, name: str, owner: str, *, nonnegative: bool = True) -> float:
    """Return ``value`` as a finite float (>= 0 unless told otherwise) or raise naming it."""
    label = f"{owner}: `{name}`" if owner else f"`{name}`"
    if isinstance(value, (str, bytes, bool, np.bool_, complex, np.complexfloating)) or value is None:
        raise TypeError(f"{label} must be a number; got {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{label} must be a number; got {value!r}.") from None
    except OverflowError:  # an integer beyond the float range
        raise ValueError(f"{label} must be finite; got an integer too large for a float.") from None
    if not math.isfinite(v):
        raise ValueError(f"{label} must be finite; got {value!r}.")
    if nonnegative and v < 0:
        raise ValueError(f"{label} must be non-negative; got {value!r}.")
    return v


def read_efficiency(value, name: str, owner: str) -> float:
    """Return an efficiency in [MIN_EFFICIENCY, 1] or raise naming ``owner``'s ``name``."""
    v = read_number(value, name, owner, nonnegative=False)
    if not MIN_EFFICIENCY <= v <= 1.0:
        raise ValueError(
            f"{owner}: `{name}` must lie in (0, 1]; got {value!r} (it is the fraction of the energy kept, "
            f"and at least {MIN_EFFICIENCY:g}: below that the device stores nothing worth modelling)."
        )
    return v


def step_hours(value, owner: str = "", name: str = "dt_h", *, positive: str = "positive") -> float:
    """Return a step length in hours, in [DT_H_MIN, DT_H_MAX], or raise naming ``name``.

    ``positive`` words the error for a value <= 0 ("`dt_h` must be <positive>; got 0").
    """
    v = read_number(value, name, owner, nonnegative=False)
    if not DT_H_MIN <= v <= DT_H_MAX:
        label = f"{owner}: `{name}`" if owner else f"`{name}`"
        what = f"must be {positive}" if v <= 0 else f"must lie between {DT_H_MIN:g} and {DT_H_MAX:g} hours"
        raise ValueError(
            f"{label} {what}; got {value!r} (a step length in hours between {DT_H_MIN:g} and {DT_H_MAX:g}: "
            "0.25 for 15 minutes, 1.0 for an hour)."
        )
    return v


def read_only(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` made read-only: a device's data, checked once, cannot be edited around its checks."""
    arr.setflags(write=False)
    return arr


def is_scalar(value) -> bool:
    """Whether ``value`` is a single number-like item (False for ragged nested lists, which np.ndim rejects)."""
    if isinstance(value, (str, bytes)):
        return False
    try:
        return np.ndim(value) == 0
    except ValueError:  # a ragged list: as_1d_float says what is wrong with it, naming the argument
        return False


def read_profile(value, name: str, owner: str, *, nonnegative: bool = True) -> float | np.ndarray:
    """Read a scalar (returned as float) or a 1-D array of finite values."""
    if is_scalar(value):
        return read_number(value, name, owner, nonnegative=nonnegative)
    arr = as_1d_float(value, name)
    label = f"{owner}: `{name}`" if owner else name
    check_finite(arr, name, "values")
    if nonnegative:
        bad = arr < 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{label} must be non-negative; entry {i} is {arr[i]}.")
    return read_only(arr)


def broadcast(value, name: str, n: int, owner: str) -> np.ndarray:
    """Broadcast a scalar to length ``n`` or check that an array has length ``n``."""
    if np.ndim(value) == 0:
        return np.full(n, float(value))
    arr = np.asarray(value, dtype=float)
    if arr.size != n:
        raise ValueError(
            f"{owner}: `{name}` has {arr.size} entries but the horizon has {n} steps "
            f"(the length of `base_load_kw`); give a scalar or {n} entries."
        )
    return arr.copy()


def price_series(value, name: str, n: int) -> np.ndarray:
    """Read a price series: scalar or length ``n``, finite (negative prices are allowed)."""
    if is_scalar(value):
        return np.full(n, read_number(value, name, "schedule", nonnegative=False))
    arr = as_1d_float(value, name)
    check_finite(arr, name, "prices")
    if arr.size != n:
        raise ValueError(f"`{name}` has {arr.size} entries but the horizon has {n} steps; give a scalar or {n}.")
    return arr


def check_name(name, kind: str) -> str:
    """Return ``name`` if it is a non-empty string (a device's or prosumer's name), or raise TypeError."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"A {kind}'s `name` must be a non-empty string; got {name!r}.")
    return name



#: The families of constraints that :func:`te_course.prosumer.schedule` drops one at a time to say which
#: of them make an infeasible model infeasible, with the words its message uses.
CONSTRAINT_FAMILIES = {
    "grid": "the grid connection limits (`import_max_kw` / `export_max_kw`)",
    "ramp": "the battery ramp limits (`ramp_kw`)",
    "soc_end": "the batteries' end-of-horizon state of charge (`soc_end_kwh`)",
    "ev": "the EV energy needs (`e_need_kwh`)",
    "flex": "the flexible loads' minimum power or fixed energy (`p_min_kw`, `e_kwh`)",
}


@dataclass
class BatterySpec:
    """Battery data as numbers or cvxpy Parameters (for :class:`te_course.prosumer.BatteryProblem`)."""

    name: str
    e_max: object
    p_max: object
    eta_c: object
    inv_eta_d: object
    soc0: object
    soc_min: object = 0.0
    ramp: object = None
    soc_end: object = None


def battery_spec(b: Battery) -> BatterySpec:
    """Return the numbers of the :class:`~te_course.devices.Battery` ``b`` as the constraint writer reads them."""
    return BatterySpec(
        b.name, b.e_max_kwh, b.p_max_kw, b.eta_charge, 1.0 / b.eta_discharge, b.soc0_kwh, b.soc_min_kwh,
        b.ramp_kw, b.soc_end_kwh,
    )


@dataclass
class DeviceModel:
    """The device part of a self-scheduling model: constraints, consumption and device costs."""

    load: object  # cvxpy expression (or 0): the devices' net consumption per step, kW
    objective: object  # cvxpy expression (or 0): throughput cost minus flexible-load utility
    constraints: list
    batteries: list = field(default_factory=list)  # (name, c, d, soc, {dual name: constraint})
    pvs: list = field(default_factory=list)  # (name, g, available)
    evs: list = field(default_factory=list)  # (name, e, eta)
    flexes: list = field(default_factory=list)  # (name, f)
    binaries: dict = field(default_factory=dict)


def device_constraints(
    n: int, dt: float, *, batteries=(), pvs=(), evs=(), flexes=(), throughput=0.0, exclusive: bool = False,
    z_fixed: dict | None = None, relax=frozenset(),
) -> DeviceModel:
    """Write the devices' variables and constraints over ``n`` steps of ``dt`` hours.

    Shared by :func:`te_course.prosumer.schedule` and :mod:`te_course.scheduling`.
    ``batteries`` are :class:`BatterySpec` (numbers or cvxpy Parameters), ``pvs``
    ``(name, available_kw)`` pairs, ``evs`` and ``flexes`` the devices themselves.
    ``throughput`` is the cost per kWh charged or discharged; ``exclusive`` adds one
    binary per battery and step (no charge and discharge together), ``z_fixed`` fixes
    those binaries at given values; ``relax`` names constraint families
    (:data:`CONSTRAINT_FAMILIES`) left out, to find which one makes a model infeasible.
    """
    model = DeviceModel(load=0, objective=0, constraints=[])
    for b in batteries:
        _add_battery(model, b, n, dt, throughput=throughput, exclusive=exclusive, z_fixed=z_fixed, relax=relax)
    for name, available in pvs:
        _add_pv(model, name, available, n)
    for ev in evs:
        _add_ev(model, ev, n, dt, relax=relax)
    for fl in flexes:
        _add_flexible_load(model, fl, n, dt, relax=relax)
    return model


def _add_battery(model: DeviceModel, b: BatterySpec, n: int, dt: float, *, throughput, exclusive: bool,
                 z_fixed: dict | None, relax) -> None:
    """Add a battery: charge and discharge limits, state of charge, ramp, end state and (optional) binaries."""
    c = cp.Variable(n, nonneg=True, name=f"{b.name}_charge_kw")
    d = cp.Variable(n, nonneg=True, name=f"{b.name}_discharge_kw")
    soc = b.soc0 + cp.cumsum(b.eta_c * c - b.inv_eta_d * d) * dt
    duals = {
        "soc_max": soc <= b.e_max,
        "soc_min": soc >= b.soc_min,
        "charge_max": c <= b.p_max,
        "discharge_max": d <= b.p_max,
    }
    if b.ramp is not None and "ramp" not in relax:
        step_diff = sp.eye(n, format="csr") - sp.eye(n, k=-1, format="csr")  # (D p)_t = p_t - p_{t-1}, p_{-1} = 0
        duals["ramp_up"] = step_diff @ (c - d) <= b.ramp
        duals["ramp_down"] = step_diff @ (c - d) >= -b.ramp
    model.constraints += list(duals.values())
    if b.soc_end is not None and "soc_end" not in relax:
        model.constraints.append(soc[n - 1] >= b.soc_end)
    if exclusive:
        z = cp.Variable(n, boolean=True, name=f"{b.name}_charging")
        model.binaries[b.name] = z
        model.constraints += [c <= b.p_max * z, d <= b.p_max * (1 - z)]
    elif z_fixed is not None:
        z = z_fixed[b.name]
        model.constraints += [c <= b.p_max * z, d <= b.p_max * (1 - z)]
    if throughput is not None:
        model.objective = model.objective + throughput * cp.sum(c + d) * dt
    model.load = model.load + c - d
    model.batteries.append((b.name, c, d, soc, duals))


def _add_pv(model: DeviceModel, name: str, available, n: int) -> None:
    """Add PV panels: an output between zero (curtailed) and the available power."""
    g = cp.Variable(n, nonneg=True, name=f"{name}_kw")
    model.constraints.append(g <= available)
    model.load = model.load - g
    model.pvs.append((name, g, available))


def _add_ev(model: DeviceModel, ev, n: int, dt: float, *, relax) -> None:
    """Add an EV: charging only while plugged in, and its energy need met by departure."""
    e = cp.Variable(n, nonneg=True, name=f"{ev.name}_kw")
    model.constraints.append(e <= ev.p_max_kw * ev.available.astype(float))
    if "ev" not in relax:
        model.constraints.append(ev.eta * cp.sum(e) * dt >= ev.e_need_kwh)
    model.load = model.load + e
    model.evs.append((ev.name, e, ev.eta))


def _add_flexible_load(model: DeviceModel, fl, n: int, dt: float, *, relax) -> None:
    """Add a flexible load: power limits, its energy if shiftable, and its utility in the objective."""
    owner = f"FlexibleLoad {fl.name!r}"
    f = cp.Variable(n, name=f"{fl.name}_kw")
    p_min = broadcast(fl.p_min_kw, "p_min_kw", n, owner)
    model.constraints += [f >= (0.0 if "flex" in relax else p_min), f <= broadcast(fl.p_max_kw, "p_max_kw", n, owner)]
    if fl.e_kwh is not None and "flex" not in relax:
        model.constraints.append(cp.sum(f) * dt == fl.e_kwh)
    model.objective = model.objective - broadcast(fl.utility, "utility", n, owner) @ f * dt
    model.load = model.load + f
    model.flexes.append((fl.name, f))


def cost_scale(*arrays, factor: float = 1.0) -> float:
    """Return a power of two to multiply the cost coefficients by, so that the solver can read them; usually 1.

    The model's cost coefficients are the entries of ``arrays`` times ``factor``
    (the step length ``dt_h``).  Multiplying every cost coefficient by a power
    of two is exact in floating point and changes neither the optimal schedule
    nor its feasibility.  HiGHS takes a cost of 1e20 or more as infinite and one
    below its tolerances (about 1e-7) as zero, so a largest coefficient above
    1e9 is brought to about 1e6 and one below 1e-6 to about 1; in between
    nothing changes.
    """
    m0 = max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)
    if m0 == 0.0:
        return 1.0
    exponent = math.frexp(m0)[1] + math.frexp(factor)[1]  # m0 * factor is about 2**exponent (never overflows)
    m = m0 * factor  # inf beyond the floats: then scaled down like any large cost
    if 1e-6 <= m <= 1e9:
        return 1.0
    target = 20 if m > 1e9 else 0
    return math.ldexp(1.0, min(max(target - exponent, -1000), 1000))


def clean(v) -> np.ndarray:
    """Return ``v`` as a flat float array with solver noise (below 1e-9 in absolute value) set to zero."""
    v = np.asarray(v, dtype=float).reshape(-1)
    return np.where(np.abs(v) < 1e-9, 0.0, v)


def dual_value(constraint, sign: float = 1.0) -> np.ndarray:
    """Return ``sign`` times a solved constraint's multiplier, cleaned (NaN if the solver gave none)."""
    value = constraint.dual_value
    if value is None:
        return np.full(constraint.shape or (1,), math.nan)
    return clean(sign * np.asarray(value, dtype=float))



def grid_limit(value, name: str, n: int) -> np.ndarray | None:
    """Read a grid connection limit (kW, scalar or ``n`` values, >= 0), or None for no limit."""
    if value is None:
        return None
    arr = price_series(value, name, n)
    check_nonnegative(arr, name, "powers")
    return arr


def check_bounded(buy, sell, import_max, export_max, *, limits_accepted: bool = True) -> None:
    """Raise ValueError if selling dearer than buying makes the cost unbounded (no grid limit to stop it)."""
    if import_max is not None or export_max is not None:
        return
    bad = sell > buy
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        fix = (
            "Give `import_max_kw` or `export_max_kw` (a grid connection limit), or make `price_sell` <= `price_buy`."
            if limits_accepted
            else "Make `price_sell` <= `price_buy` at every step."
        )
        raise ValueError(
            f"`price_sell` exceeds `price_buy` at step {t} ({sell[t]:g} > {buy[t]:g}): the prosumer could buy "
            f"and resell without limit. {fix}"
        )
