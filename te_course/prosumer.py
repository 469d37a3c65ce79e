"""Prosumers: device models as constraints, and self-scheduling against prices.

A prosumer owns a *base load* (uncontrollable consumption) and devices: PV
panels, batteries, electric vehicles (EVs) and flexible loads.  Given prices for
buying from and selling to the grid over a horizon of ``T`` steps of ``dt_h``
hours, :func:`schedule` finds the operation of every device that minimises the
prosumer's cost, as a linear program (a mixed-integer one with
``exclusive=True``) written with cvxpy.

Sign convention
---------------
All powers are in kW and every device power is non-negative in its natural
direction: PV output ``g_t``, battery charge ``c_t`` and discharge ``d_t``, EV
charge ``e_t`` and flexible consumption ``f_t`` are all ``>= 0``.  The
prosumer's *net import* is::

    net_import_t = base_load_t + sum(c_t - d_t) + sum(e_t) + sum(f_t) - sum(g_t)

The net import is positive when the prosumer takes power from the grid (load
convention) and negative when it exports.  Grid import and export are separate
non-negative variables with ``net_import_t = import_t - export_t``, and the
prosumer pays::

    cost = sum_t (buy_t * import_t - sell_t * export_t) * dt_h

(a negative cost is a profit).  With ``sell_t <= buy_t`` importing and
exporting in the same step never lowers the cost; with ``sell_t > buy_t``
buying to resell is unbounded unless a grid limit is given.  Energies are in
kWh, prices in currency per kWh, and a step's energy is its power times
``dt_h``, a step length between ``DT_H_MIN`` = 1e-4 and ``DT_H_MAX`` = 1e4
hours (outside it the solvers round the coefficients to zero or infinity).
The arrays of a device or a prosumer are read-only: build a new one to change
a profile, so that every number passes the constructor's checks.

Battery model
-------------
``c_t`` and ``d_t`` are measured at the battery's terminals (the side the
house and the grid see); the state of charge ``soc_t`` is the energy in the
cells (kWh) at the end of step ``t``.  With charge and discharge efficiencies
``eta_c`` and ``eta_d``, charging at ``c_t`` stores ``eta_c * c_t`` and
delivering ``d_t`` draws ``d_t / eta_d`` from the cells::

    soc_t = soc_{t-1} + (eta_c * c_t - d_t / eta_d) * dt_h,    soc_{-1} = soc0_kwh

(Kirschen and Strbac, *Fundamentals of Power System Economics*, 2nd ed., 2018;
Sioshansi, Denholm, Jenkin and Weiss, "Estimating the value of electricity
storage in PJM: arbitrage and some welfare effects", Energy Economics 31(2),
2009).  A kWh bought at price ``p_lo`` returns ``eta_c * eta_d`` kWh later, so
arbitrage pays only if ``eta_c * eta_d * p_hi > p_lo``, i.e. for ``p_lo > 0``
only if ``p_hi / p_lo > 1 / (eta_c * eta_d)`` (:func:`breakeven_price_ratio`).

Because charge and discharge are separate variables, an LP may charge and
discharge in the same step when wasting energy is profitable.  Charging
``delta`` more and discharging ``eta_c * eta_d * delta`` more leaves the state
of charge unchanged and consumes ``(1 - eta_c * eta_d) * delta`` more, at a
throughput cost ``tau * (1 + eta_c * eta_d) * delta``; with ``lambda_t`` the
value of energy at the prosumer (the ``balance`` dual of :class:`Schedule`)
this pays only if::

    lambda_t < -tau * (1 + eta_c * eta_d) / (1 - eta_c * eta_d)

that is, never at a positive value of energy, but possibly at negative prices
with no way to export.  (Li, Guo, Sun and Wang, "Sufficient conditions for
exact relaxation of complementarity constraints for storage-concerned economic
dispatch", IEEE Trans. Power Systems 31(2), 2016, give sufficient conditions
of this kind.)  :class:`Schedule` reports such steps; a large enough
``throughput_cost`` or ``exclusive=True`` (one binary per battery and step)
removes them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._solvers import solve_quietly
from ._validation import (
    SolverError,
    as_1d_float,
    as_generator,
    check_finite,
    check_nonnegative,
)

__all__ = [
    "PV",
    "Battery",
    "EV",
    "FlexibleLoad",
    "Prosumer",
    "Schedule",
    "schedule",
    "breakeven_price_ratio",
    "example_day",
    "BatteryProblem",
]

#: Charge and discharge both above this (kW) in one step count as simultaneous.
SIMULTANEOUS_TOL_KW = 1e-6
#: Efficiencies (``eta_charge``, ``eta_discharge``, an EV's ``eta``) lie in [MIN_EFFICIENCY, 1]: a device
#: that keeps less than 0.1 % of the energy stores nothing worth modelling, and the models divide by the
#: efficiency (``1 / eta_discharge``), which beyond this range leaves the numbers a solver can read.
MIN_EFFICIENCY = 1e-3
#: Step lengths ``dt_h`` lie in [DT_H_MIN, DT_H_MAX] hours (0.36 s to about 14 months): the models
#: multiply powers by ``dt_h``, and coefficients outside this range are rounded to zero or to
#: infinity by the solvers (a step of 1e-12 h made HiGHS ignore the prices and return a wrong schedule).
DT_H_MIN, DT_H_MAX = 1e-4, 1e4
_DEFAULT_SOLVER = "HIGHS"
_RESERVED = ("base_load", "import", "export", "net_import")


# --------------------------------------------------------------------------- input helpers


def _scalar(value, name: str, owner: str, *, nonnegative: bool = True) -> float:
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


def _efficiency(value, name: str, owner: str) -> float:
    v = _scalar(value, name, owner, nonnegative=False)
    if not MIN_EFFICIENCY <= v <= 1.0:
        raise ValueError(
            f"{owner}: `{name}` must lie in (0, 1]; got {value!r} (it is the fraction of the energy kept, "
            f"and at least {MIN_EFFICIENCY:g}: below that the device stores nothing worth modelling)."
        )
    return v


def _step_hours(value, owner: str = "", name: str = "dt_h", *, positive: str = "positive") -> float:
    """Return a step length in hours, in [DT_H_MIN, DT_H_MAX], or raise naming ``name``.

    ``positive`` words the error for a value <= 0 ("`dt_h` must be <positive>; got 0").
    """
    v = _scalar(value, name, owner, nonnegative=False)
    if not DT_H_MIN <= v <= DT_H_MAX:
        label = f"{owner}: `{name}`" if owner else f"`{name}`"
        what = f"must be {positive}" if v <= 0 else f"must lie between {DT_H_MIN:g} and {DT_H_MAX:g} hours"
        raise ValueError(
            f"{label} {what}; got {value!r} (a step length in hours between {DT_H_MIN:g} and {DT_H_MAX:g}: "
            "0.25 for 15 minutes, 1.0 for an hour)."
        )
    return v


def _frozen(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` made read-only: a device's data, checked once, cannot be edited around its checks."""
    arr.setflags(write=False)
    return arr


def _is_scalar(value) -> bool:
    """Whether ``value`` is a single number-like item (False for ragged nested lists, which np.ndim rejects)."""
    if isinstance(value, (str, bytes)):
        return False
    try:
        return np.ndim(value) == 0
    except ValueError:  # a ragged list: as_1d_float says what is wrong with it, naming the argument
        return False


def _profile(value, name: str, owner: str, *, nonnegative: bool = True):
    """Read a scalar (returned as float) or a 1-D array of finite values."""
    if _is_scalar(value):
        return _scalar(value, name, owner, nonnegative=nonnegative)
    arr = as_1d_float(value, name)
    label = f"{owner}: `{name}`" if owner else name
    check_finite(arr, name, "values")
    if nonnegative:
        bad = arr < 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{label} must be non-negative; entry {i} is {arr[i]}.")
    return _frozen(arr)


def _broadcast(value, name: str, n: int, owner: str) -> np.ndarray:
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


def _prices(value, name: str, n: int) -> np.ndarray:
    """Read a price series: scalar or length ``n``, finite (negative prices are allowed)."""
    if _is_scalar(value):
        return np.full(n, _scalar(value, name, "schedule", nonnegative=False))
    arr = as_1d_float(value, name)
    check_finite(arr, name, "prices")
    if arr.size != n:
        raise ValueError(f"`{name}` has {arr.size} entries but the horizon has {n} steps; give a scalar or {n}.")
    return arr


def _check_name(name, kind: str) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"A {kind}'s `name` must be a non-empty string; got {name!r}.")
    return name


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True, eq=False)
class PV:
    """Photovoltaic panels: output up to an availability profile, curtailable to zero.

    Parameters
    ----------
    p_max_kw : float or array_like
        Available output in each step, kW (a scalar for every step, or ``T``
        values, e.g. ``kwp * pv_kw_per_kwp`` from :func:`example_day`).
    name : str
        Unique name within the prosumer; table columns are ``<name>_kw``
        (output used) and ``<name>_curtailed_kw``.

    Examples
    --------
    >>> PV([0.0, 2.0, 3.5]).name
    'pv'
    """

    p_max_kw: float | np.ndarray
    name: str = "pv"

    def __post_init__(self):
        _check_name(self.name, "device")
        object.__setattr__(self, "p_max_kw", _profile(self.p_max_kw, "p_max_kw", f"PV {self.name!r}"))


@dataclass(frozen=True, eq=False)
class Battery:
    """A battery with separate charge and discharge, efficiencies and state of charge.

    Constraints, for every step ``t`` (see the module docstring for the
    state-of-charge recursion, its sources, and the convention that ``c_t``
    and ``d_t`` are terminal powers while ``soc_t`` is the energy in the
    cells)::

        0 <= c_t <= p_max,  0 <= d_t <= p_max,  soc_min <= soc_t <= e_max
        |p_t - p_{t-1}| <= ramp_kw   with p_t = c_t - d_t, p_{-1} = 0   (if ramp_kw given)
        soc_{T-1} >= soc_end_kwh                                         (if given)

    Parameters
    ----------
    e_max_kwh : float
        Energy capacity, kWh.
    p_max_kw : float
        Largest charge and largest discharge power, kW.
    eta_charge, eta_discharge : float
        Efficiencies in [0.001, 1] (``MIN_EFFICIENCY``): charging at ``c`` kW stores ``eta_charge * c``
        in the cells; delivering ``d`` kW draws ``d / eta_discharge`` from them.
    soc0_kwh : float
        Energy stored before the first step, in ``[soc_min_kwh, e_max_kwh]``.
    ramp_kw : float, optional
        Largest change of the net battery power ``c_t - d_t`` between steps, kW
        per step; the battery counts as idle before the first step, so
        ``ramp_kw`` also bounds the first step's power.
    soc_min_kwh : float
        Lowest allowed state of charge.
    soc_end_kwh : float, optional
        Least energy stored at the end of the horizon.
    name : str
        Unique name; table columns ``<name>_charge_kw``, ``<name>_discharge_kw``,
        ``<name>_soc_kwh``.

    Raises
    ------
    ValueError
        Negative capacity or power, efficiency outside [0.001, 1], ``soc0_kwh``
        outside ``[soc_min_kwh, e_max_kwh]``, ``soc_end_kwh > e_max_kwh``.

    Examples
    --------
    >>> b = Battery(10, 5, soc0_kwh=2)
    >>> b.eta_charge * b.eta_discharge
    0.9025
    """

    e_max_kwh: float
    p_max_kw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    soc0_kwh: float = 0.0
    ramp_kw: float | None = None
    soc_min_kwh: float = 0.0
    soc_end_kwh: float | None = None
    name: str = "battery"

    def __post_init__(self):
        _check_name(self.name, "device")
        owner = f"Battery {self.name!r}"
        s = lambda attr, v: object.__setattr__(self, attr, v)  # noqa: E731
        s("e_max_kwh", _scalar(self.e_max_kwh, "e_max_kwh", owner))
        s("p_max_kw", _scalar(self.p_max_kw, "p_max_kw", owner))
        s("eta_charge", _efficiency(self.eta_charge, "eta_charge", owner))
        s("eta_discharge", _efficiency(self.eta_discharge, "eta_discharge", owner))
        s("soc_min_kwh", _scalar(self.soc_min_kwh, "soc_min_kwh", owner))
        s("soc0_kwh", _scalar(self.soc0_kwh, "soc0_kwh", owner))
        if self.ramp_kw is not None:
            s("ramp_kw", _scalar(self.ramp_kw, "ramp_kw", owner))
        if self.soc_min_kwh > self.e_max_kwh:
            raise ValueError(
                f"{owner}: `soc_min_kwh` = {self.soc_min_kwh:g} exceeds `e_max_kwh` = {self.e_max_kwh:g}."
            )
        if not self.soc_min_kwh <= self.soc0_kwh <= self.e_max_kwh:
            raise ValueError(
                f"{owner}: `soc0_kwh` = {self.soc0_kwh:g} must lie in [soc_min_kwh, e_max_kwh] = "
                f"[{self.soc_min_kwh:g}, {self.e_max_kwh:g}]."
            )
        if self.soc_end_kwh is not None:
            s("soc_end_kwh", _scalar(self.soc_end_kwh, "soc_end_kwh", owner))
            if self.soc_end_kwh > self.e_max_kwh:
                raise ValueError(
                    f"{owner}: `soc_end_kwh` = {self.soc_end_kwh:g} exceeds `e_max_kwh` = {self.e_max_kwh:g}; "
                    "the battery cannot hold that much."
                )


@dataclass(frozen=True, eq=False)
class EV:
    """An electric vehicle that charges while plugged in and needs an amount of energy.

    Constraints: ``0 <= e_t <= p_max_kw * available_t`` and
    ``sum_t eta * e_t * dt_h >= e_need_kwh``: the energy is delivered by the end
    of the last plugged-in step (departure).  ``e_t`` is the power drawn from
    the house and ``eta * e_t`` what the car stores (as for :class:`Battery`,
    the efficiency acts on the way into the cells).  When the prosumer imports
    in every plugged-in step, so that a kWh costs the buy price, the optimum
    fills the cheapest plugged-in steps at full power first (a fractional
    knapsack).

    Parameters
    ----------
    available : array_like of bool
        Whether the EV is plugged in at each step (length ``T``).
    e_need_kwh : float
        Energy to be stored in the EV by departure, kWh.
    p_max_kw : float
        Largest charging power, kW.
    eta : float
        Charging efficiency in [0.001, 1]: the fraction of the power drawn that is stored.
    name : str
        Unique name; table columns ``<name>_kw`` and ``<name>_soc_kwh`` (energy
        delivered so far).

    Examples
    --------
    >>> ev = EV([0, 1, 1, 0], e_need_kwh=5, p_max_kw=3.7)
    >>> ev.max_energy_kwh(dt_h=1.0)
    6.66
    """

    available: np.ndarray
    e_need_kwh: float
    p_max_kw: float
    eta: float = 0.9
    name: str = "ev"

    def __post_init__(self):
        _check_name(self.name, "device")
        owner = f"EV {self.name!r}"
        arr = as_1d_float(self.available, "available", allow_bool=True)  # a mask: True/False are its values
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{owner}: `available` must contain booleans (or 0/1); entry {i} is {arr[i]}.")
        object.__setattr__(self, "available", _frozen(arr.astype(bool)))
        object.__setattr__(self, "e_need_kwh", _scalar(self.e_need_kwh, "e_need_kwh", owner))
        object.__setattr__(self, "p_max_kw", _scalar(self.p_max_kw, "p_max_kw", owner))
        object.__setattr__(self, "eta", _efficiency(self.eta, "eta", owner))

    def max_energy_kwh(self, dt_h: float = 1.0) -> float:
        """Return the most energy the EV can store: ``eta * p_max_kw * dt_h * (plugged-in steps)``.

        ``dt_h`` is the step length in hours, in [``DT_H_MIN``, ``DT_H_MAX``] (1e-4 to 1e4).

        Raises
        ------
        ValueError
            If ``dt_h`` is not a step length in that range, or the energy leaves the float range.

        Examples
        --------
        >>> EV([1, 1, 0], e_need_kwh=1, p_max_kw=2, eta=0.9).max_energy_kwh(dt_h=0.5)
        1.8
        """
        dt = _step_hours(dt_h, f"EV {self.name!r}")
        most = self.eta * self.p_max_kw * dt * int(self.available.sum())
        if not math.isfinite(most):
            raise ValueError(
                f"EV {self.name!r}: `p_max_kw` = {self.p_max_kw:g} kW times `dt_h` = {dt:g} h leaves the float "
                "range (about 1.8e308); give the charger's power in kW."
            )
        return round(most, 12)

    def _check_feasible(self, dt_h: float) -> None:
        most = self.max_energy_kwh(dt_h)
        if self.e_need_kwh > most + 1e-9:
            n = int(self.available.sum())
            raise ValueError(
                f"EV {self.name!r}: it needs {self.e_need_kwh:g} kWh but can receive at most {most:g} kWh "
                f"while plugged in (eta {self.eta:g} x {self.p_max_kw:g} kW x `dt_h` {dt_h:g} h x {n} plugged-in "
                "steps); lower `e_need_kwh`, raise `p_max_kw` or `dt_h`, or plug it in for longer."
            )


@dataclass(frozen=True, eq=False)
class FlexibleLoad:
    """A consumption that can be reduced (curtailable) or moved in time (shiftable).

    Constraints: ``p_min_kw <= f_t <= p_max_kw``; with ``e_kwh`` given, also
    ``sum_t f_t * dt_h == e_kwh``.  The objective counts ``-utility_t * f_t *
    dt_h``: each kWh consumed is worth ``utility`` to the prosumer.

    Parameters
    ----------
    p_max_kw : float or array_like
        Largest consumption in each step, kW.
    utility : float or array_like
        Value of a kWh consumed, currency per kWh.
    e_kwh : float, optional
        Energy to consume over the horizon (shiftable load).  Without it the
        load is curtailable.
    p_min_kw : float or array_like
        Least consumption in each step, kW.
    name : str
        Unique name; table column ``<name>_kw``.

    Examples
    --------
    >>> FlexibleLoad(2.0, utility=0.25, e_kwh=3.0).e_kwh
    3.0
    """

    p_max_kw: float | np.ndarray
    utility: float | np.ndarray
    e_kwh: float | None = None
    p_min_kw: float | np.ndarray = 0.0
    name: str = "flex"

    def __post_init__(self):
        _check_name(self.name, "device")
        owner = f"FlexibleLoad {self.name!r}"
        p_max = _profile(self.p_max_kw, "p_max_kw", owner)
        p_min = _profile(self.p_min_kw, "p_min_kw", owner)
        object.__setattr__(self, "p_max_kw", p_max)
        object.__setattr__(self, "p_min_kw", p_min)
        object.__setattr__(self, "utility", _profile(self.utility, "utility", owner, nonnegative=False))
        if self.e_kwh is not None:
            object.__setattr__(self, "e_kwh", _scalar(self.e_kwh, "e_kwh", owner))
        if np.ndim(p_min) and np.ndim(p_max) and np.size(p_min) != np.size(p_max):
            raise ValueError(
                f"{owner}: `p_min_kw` has {np.size(p_min)} entries but `p_max_kw` has {np.size(p_max)}."
            )
        bad = np.atleast_1d(np.asarray(p_min) > np.asarray(p_max))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{owner}: `p_min_kw` exceeds `p_max_kw` at entry {i} "
                f"({np.atleast_1d(p_min)[min(i, np.size(p_min) - 1)]:g} > "
                f"{np.atleast_1d(p_max)[min(i, np.size(p_max) - 1)]:g})."
            )

    def _check_feasible(self, n: int, dt_h: float) -> None:
        if self.e_kwh is None:
            return
        owner = f"FlexibleLoad {self.name!r}"
        lo = float(_broadcast(self.p_min_kw, "p_min_kw", n, owner).sum() * dt_h)
        hi = float(_broadcast(self.p_max_kw, "p_max_kw", n, owner).sum() * dt_h)
        if not lo - 1e-9 <= self.e_kwh <= hi + 1e-9:
            raise ValueError(
                f"{owner}: `e_kwh` = {self.e_kwh:g} kWh cannot be consumed within its limits: "
                f"over the horizon it consumes between {lo:g} kWh (all steps at `p_min_kw`) and "
                f"{hi:g} kWh (all steps at `p_max_kw`)."
            )


_DEVICE_TYPES = (PV, Battery, EV, FlexibleLoad)


def _device_columns(dev) -> list[str]:
    n = dev.name
    if isinstance(dev, Battery):
        return [f"{n}_charge_kw", f"{n}_discharge_kw", f"{n}_soc_kwh"]
    if isinstance(dev, PV):
        return [f"{n}_kw", f"{n}_curtailed_kw"]
    if isinstance(dev, EV):
        return [f"{n}_kw", f"{n}_soc_kwh"]
    return [f"{n}_kw"]


@dataclass(frozen=True, eq=False)
class Prosumer:
    """A base load and a set of devices behind one grid connection.

    Parameters
    ----------
    base_load_kw : array_like
        Uncontrollable consumption in each step, kW (>= 0); its length ``T``
        defines the horizon.
    devices : sequence of PV, Battery, EV or FlexibleLoad
        Each with a unique ``name``.  Profiles are scalars or have ``T`` entries.
    name : str
        The prosumer's name.

    Raises
    ------
    ValueError
        On duplicate device names, names that clash with the table's columns,
        or a profile whose length is not ``T``.
    TypeError
        If ``devices`` is not a sequence of PV, Battery, EV or FlexibleLoad.

    Examples
    --------
    >>> p = Prosumer([0.5, 0.8, 1.2], [PV([0, 2, 1]), Battery(5, 2)])
    >>> p.n_steps, [d.name for d in p.devices]
    (3, ['pv', 'battery'])
    """

    base_load_kw: np.ndarray
    devices: tuple = ()
    name: str = "prosumer"

    def __post_init__(self):
        base = as_1d_float(self.base_load_kw, "base_load_kw")
        check_nonnegative(base, "base_load_kw", "powers")
        object.__setattr__(self, "base_load_kw", _frozen(base))
        if isinstance(self.devices, _DEVICE_TYPES):
            object.__setattr__(self, "devices", (self.devices,))
        if isinstance(self.devices, (str, bytes, dict)):
            devices = None
        else:
            try:
                devices = tuple(self.devices)
            except TypeError:
                devices = None
        if devices is None:
            raise TypeError(
                "`devices` must be a list of PV, Battery, EV or FlexibleLoad objects (an empty list for none); "
                f"got {type(self.devices).__name__} {self.devices!r}."
            )
        object.__setattr__(self, "devices", devices)
        n = base.size
        seen: dict[str, str] = {}
        for i, dev in enumerate(devices):
            if not isinstance(dev, _DEVICE_TYPES):
                raise TypeError(
                    f"`devices` entry {i} is a {type(dev).__name__}; use PV, Battery, EV or FlexibleLoad."
                )
            if dev.name in _RESERVED:
                raise ValueError(f"Device name {dev.name!r} is reserved (it would clash with the table's columns).")
            for col in _device_columns(dev):
                if col in seen:
                    if seen[col] == dev.name:
                        raise ValueError(f"Device names must be unique; {dev.name!r} appears twice in `devices`.")
                    raise ValueError(f"Devices {seen[col]!r} and {dev.name!r} would both produce the column {col!r}.")
                seen[col] = dev.name
            owner = f"{type(dev).__name__} {dev.name!r}"
            if isinstance(dev, PV):
                _broadcast(dev.p_max_kw, "p_max_kw", n, owner)
            elif isinstance(dev, EV):
                _broadcast(dev.available, "available", n, owner)
            elif isinstance(dev, FlexibleLoad):
                for attr in ("p_max_kw", "p_min_kw", "utility"):
                    _broadcast(getattr(dev, attr), attr, n, owner)

    @property
    def n_steps(self) -> int:
        """The horizon's length ``T`` (the length of ``base_load_kw``).

        Examples
        --------
        >>> Prosumer([1.0, 2.0]).n_steps
        2
        """
        return int(self.base_load_kw.size)


# --------------------------------------------------------------------------- the optimisation model

_FAMILIES = {
    "grid": "the grid connection limits (`import_max_kw` / `export_max_kw`)",
    "ramp": "the battery ramp limits (`ramp_kw`)",
    "soc_end": "the batteries' end-of-horizon state of charge (`soc_end_kwh`)",
    "ev": "the EV energy needs (`e_need_kwh`)",
    "flex": "the flexible loads' minimum power or fixed energy (`p_min_kw`, `e_kwh`)",
}


@dataclass
class _BatterySpec:
    """Battery data as numbers or cvxpy Parameters (for :class:`BatteryProblem`)."""

    name: str
    e_max: object
    p_max: object
    eta_c: object
    inv_eta_d: object
    soc0: object
    soc_min: object = 0.0
    ramp: object = None
    soc_end: object = None


def _spec(b: Battery) -> _BatterySpec:
    return _BatterySpec(
        b.name, b.e_max_kwh, b.p_max_kw, b.eta_charge, 1.0 / b.eta_discharge, b.soc0_kwh, b.soc_min_kwh,
        b.ramp_kw, b.soc_end_kwh,
    )


@dataclass
class _Model:
    problem: cp.Problem
    imp: cp.Variable
    exp: cp.Variable
    balance: cp.Constraint
    batteries: list = field(default_factory=list)  # (name, c, d, soc, {dual name: constraint})
    pvs: list = field(default_factory=list)  # (name, g, available)
    evs: list = field(default_factory=list)  # (name, e, eta)
    flexes: list = field(default_factory=list)  # (name, f)
    binaries: dict = field(default_factory=dict)


@dataclass
class _Devices:
    """The device part of a self-scheduling model: constraints, consumption and device costs."""

    load: object  # cvxpy expression (or 0): the devices' net consumption per step, kW
    objective: object  # cvxpy expression (or 0): throughput cost minus flexible-load utility
    constraints: list
    batteries: list = field(default_factory=list)  # (name, c, d, soc, {dual name: constraint})
    pvs: list = field(default_factory=list)  # (name, g, available)
    evs: list = field(default_factory=list)  # (name, e, eta)
    flexes: list = field(default_factory=list)  # (name, f)
    binaries: dict = field(default_factory=dict)


def _devices(
    n, dt, *, batteries=(), pvs=(), evs=(), flexes=(), throughput=0.0, exclusive=False, z_fixed=None,
    relax=frozenset(),
) -> _Devices:
    """Write the devices' variables and constraints (shared by :func:`schedule` and te_course.scheduling)."""
    cons = []
    load = 0
    objective = 0
    model_batteries, model_pvs, model_evs, model_flexes, binaries = [], [], [], [], {}
    step_diff = sp.eye(n, format="csr") - sp.eye(n, k=-1, format="csr")  # (D p)_t = p_t - p_{t-1}, p_{-1} = 0
    for b in batteries:
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
            duals["ramp_up"] = step_diff @ (c - d) <= b.ramp
            duals["ramp_down"] = step_diff @ (c - d) >= -b.ramp
        cons += list(duals.values())
        if b.soc_end is not None and "soc_end" not in relax:
            cons.append(soc[n - 1] >= b.soc_end)
        if exclusive:
            z = cp.Variable(n, boolean=True, name=f"{b.name}_charging")
            binaries[b.name] = z
            cons += [c <= b.p_max * z, d <= b.p_max * (1 - z)]
        elif z_fixed is not None:
            z = z_fixed[b.name]
            cons += [c <= b.p_max * z, d <= b.p_max * (1 - z)]
        if throughput is not None:
            objective = objective + throughput * cp.sum(c + d) * dt
        load = load + c - d
        model_batteries.append((b.name, c, d, soc, duals))
    for name, available in pvs:
        g = cp.Variable(n, nonneg=True, name=f"{name}_kw")
        cons.append(g <= available)
        load = load - g
        model_pvs.append((name, g, available))
    for ev in evs:
        e = cp.Variable(n, nonneg=True, name=f"{ev.name}_kw")
        cons.append(e <= ev.p_max_kw * ev.available.astype(float))
        if "ev" not in relax:
            cons.append(ev.eta * cp.sum(e) * dt >= ev.e_need_kwh)
        load = load + e
        model_evs.append((ev.name, e, ev.eta))
    for fl in flexes:
        owner = f"FlexibleLoad {fl.name!r}"
        f = cp.Variable(n, name=f"{fl.name}_kw")
        p_min = _broadcast(fl.p_min_kw, "p_min_kw", n, owner)
        cons += [f >= (0.0 if "flex" in relax else p_min), f <= _broadcast(fl.p_max_kw, "p_max_kw", n, owner)]
        if fl.e_kwh is not None and "flex" not in relax:
            cons.append(cp.sum(f) * dt == fl.e_kwh)
        objective = objective - _broadcast(fl.utility, "utility", n, owner) @ f * dt
        load = load + f
        model_flexes.append((fl.name, f))
    return _Devices(load, objective, cons, model_batteries, model_pvs, model_evs, model_flexes, binaries)


def _build(
    n, dt, base, buy, sell, *, batteries=(), pvs=(), evs=(), flexes=(), throughput=0.0, exclusive=False,
    z_fixed=None, import_max=None, export_max=None, relax=frozenset(),
) -> _Model:
    """Write the self-scheduling problem; numbers or Parameters alike (DPP-compliant)."""
    imp = cp.Variable(n, nonneg=True, name="import_kw")
    exp = cp.Variable(n, nonneg=True, name="export_kw")
    dev = _devices(n, dt, batteries=batteries, pvs=pvs, evs=evs, flexes=flexes, throughput=throughput,
                   exclusive=exclusive, z_fixed=z_fixed, relax=relax)
    cons = list(dev.constraints)
    objective = buy @ imp * dt - sell @ exp * dt + dev.objective
    if "grid" not in relax:
        if import_max is not None:
            cons.append(imp <= import_max)
        if export_max is not None:
            cons.append(exp <= export_max)
    balance = imp - exp == base + dev.load
    problem = cp.Problem(cp.Minimize(objective), [balance, *cons])
    return _Model(problem, imp, exp, balance, dev.batteries, dev.pvs, dev.evs, dev.flexes, dev.binaries)


def _solve(problem: cp.Problem, solver) -> None:
    if solver is not None and not isinstance(solver, str):
        raise TypeError(f"`solver` must be a cvxpy solver name such as 'HIGHS', or None; got {solver!r}.")
    try:
        solve_quietly(problem, solver=solver or _DEFAULT_SOLVER)
    except cp.error.SolverError as exc:
        raise SolverError(f"The self-scheduling problem could not be solved ({exc}); try another `solver`.") from None
    except ValueError:  # cvxpy cannot read what the solver returned ("Cannot unpack invalid solution")
        raise SolverError(
            f"The solver {solver or _DEFAULT_SOLVER} stopped without a solution of the self-scheduling problem: its "
            "numbers are probably too large or too far apart for it. Keep the powers (kW: `base_load_kw`, the "
            "devices' `p_max_kw`, `e_max_kwh`), the prices (per kWh: `buy_price`, `sell_price`) and the step "
            "`dt_h` within a few orders of magnitude of each other, or try another `solver`."
        ) from None


def _cost_scale(*arrays, factor: float = 1.0) -> float:
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


def _clean(v) -> np.ndarray:
    v = np.asarray(v, dtype=float).reshape(-1)
    return np.where(np.abs(v) < 1e-9, 0.0, v)


def _dual(constraint, sign: float = 1.0) -> np.ndarray:
    value = constraint.dual_value
    if value is None:
        return np.full(constraint.shape or (1,), math.nan)
    return _clean(sign * np.asarray(value, dtype=float))


@np.errstate(over="ignore", invalid="ignore")  # an overflowing cost is checked below and explained
def _result(model: _Model, *, n, dt, base, buy, sell, throughput, utilities, duals_model=None, status="optimal",
            cost_scale=1.0):
    """Read the solved model into a :class:`Schedule` (``cost_scale``: what the model's costs were multiplied by)."""
    imp, exp = _clean(model.imp.value), _clean(model.exp.value)
    cols = {
        "base_load_kw": base,
        "import_kw": imp,
        "export_kw": exp,
        "net_import_kw": imp - exp,
        "buy_price": buy,
        "sell_price": sell,
    }
    step_cost = (buy * imp - sell * exp) * dt
    simultaneous, notes = {}, []
    for name, c, d, soc, _ in model.batteries:
        cv, dv = _clean(c.value), _clean(d.value)
        cols[f"{name}_charge_kw"], cols[f"{name}_discharge_kw"] = cv, dv
        cols[f"{name}_soc_kwh"] = _clean(soc.value)
        step_cost = step_cost + throughput * (cv + dv) * dt
        both = np.flatnonzero((cv > SIMULTANEOUS_TOL_KW) & (dv > SIMULTANEOUS_TOL_KW))
        simultaneous[name] = tuple(int(t) for t in both)
        if both.size:
            notes.append(
                f"Battery {name!r} charges and discharges in the same step at steps {list(simultaneous[name])}: "
                "the LP wastes energy through the battery's losses because that lowers the cost (e.g. negative "
                "prices with no way to export). Add a large enough `throughput_cost` (the threshold is in the "
                "docstring of te_course.prosumer) or pass `exclusive=True`."
            )
    for name, g, available in model.pvs:
        gv = _clean(g.value)
        cols[f"{name}_kw"], cols[f"{name}_curtailed_kw"] = gv, _clean(available - gv)
    for name, e, eta in model.evs:
        ev = _clean(e.value)
        cols[f"{name}_kw"], cols[f"{name}_soc_kwh"] = ev, _clean(np.cumsum(eta * ev * dt))
    for name, f in model.flexes:
        fv = _clean(f.value)
        cols[f"{name}_kw"] = fv
        step_cost = step_cost - utilities[name] * fv * dt
    total = float(np.sum(step_cost))
    if not (np.all(np.isfinite(step_cost)) and math.isfinite(total)):
        raise ValueError(
            "The schedule's cost leaves the float range (about 1.8e308): `buy_price`, `sell_price`, "
            "`throughput_cost` or the utilities times the powers are too large. Give them in a larger currency "
            "unit (thousands, millions)."
        )
    cols["step_cost"] = step_cost
    index = pd.RangeIndex(n, name="step")
    table = pd.DataFrame(cols, index=index)

    dm = duals_model if duals_model is not None else model
    # cvxpy's dual of ``import - export == base + ...`` is -d(cost)/d(base) (cost per kW of
    # the step); minus it over dt_h is the cost of one more kWh consumed in that step.
    dual_cols = {"balance": _dual(dm.balance, -1.0 / dt) / cost_scale}
    for name, *_, duals in dm.batteries:
        for key, con in duals.items():
            dual_cols[f"{name}_{key}"] = _dual(con) / cost_scale
    duals = pd.DataFrame(dual_cols, index=index)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return Schedule(
        cost=total,
        table=table,
        duals=duals,
        simultaneous=simultaneous,
        warnings=tuple(notes),
        status=status,
        dt_h=dt,
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Schedule:
    """A prosumer's cost-minimising schedule.

    Attributes
    ----------
    cost : float
        Total over the horizon: energy bought minus energy sold, plus the
        battery throughput cost, minus the utility of flexible consumption.
    table : pandas.DataFrame
        One row per step (index ``step``): ``base_load_kw``, ``import_kw``,
        ``export_kw``, ``net_import_kw``, ``buy_price``, ``sell_price``, then per
        device ``<name>_kw`` (PV output used, EV charge, flexible consumption),
        ``<name>_curtailed_kw`` (PV), ``<name>_charge_kw``,
        ``<name>_discharge_kw``, ``<name>_soc_kwh`` (batteries), ``<name>_soc_kwh``
        (EV: energy delivered so far), and ``step_cost``.
    duals : pandas.DataFrame
        One row per step.  ``balance`` is the marginal value of energy at the
        prosumer (currency per kWh): how much the optimal cost rises if it
        consumes one more kWh in that step.  It lies between ``sell_price`` and
        ``buy_price`` when no grid limit binds and ``sell_price <= buy_price``
        (the buy price while importing, the sell price while exporting, or a
        value set by the devices when the net import is zero); a binding
        ``import_max_kw`` can raise it above the buy price, and negative prices
        with ``export_max_kw = 0`` can take it below the sell price.  Per battery,
        the non-negative multipliers ``<name>_soc_max``, ``<name>_soc_min``
        (currency per kWh of the bound) and ``<name>_charge_max``,
        ``<name>_discharge_max`` (and ``<name>_ramp_up``, ``<name>_ramp_down``
        with a ramp limit; currency per kW of the bound in that step): how much
        the cost falls per unit the bound is relaxed.  With ``exclusive=True``
        they come from the LP with the binaries fixed at their optimum.
    simultaneous : dict of str to tuple of int
        Per battery, the steps where charge and discharge both exceed 1e-6 kW.
    warnings : tuple of str
        Explanations of anything suspicious (simultaneous charge and discharge).
    status : str
        The solver's status.
    dt_h : float
        The step length, hours.

    Examples
    --------
    >>> s = schedule(Prosumer([1.0, 1.0], [Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3])
    >>> round(s.cost, 6), s.has_simultaneous
    (0.257, False)
    """

    cost: float
    table: pd.DataFrame = field(repr=False)
    duals: pd.DataFrame = field(repr=False)
    simultaneous: dict = field(repr=False, default_factory=dict)
    warnings: tuple = ()
    status: str = "optimal"
    dt_h: float = 1.0

    @property
    def has_simultaneous(self) -> bool:
        """Whether some battery charges and discharges in the same step.

        Examples
        --------
        >>> schedule(Prosumer([1.0], [Battery(1, 1)]), 0.2).has_simultaneous
        False
        """
        return any(len(steps) > 0 for steps in self.simultaneous.values())

    def to_frame(self) -> pd.DataFrame:
        """Return :attr:`table`: one row per step, one column per quantity.

        Examples
        --------
        >>> list(schedule(Prosumer([1.0]), 0.2).to_frame().columns)
        ['base_load_kw', 'import_kw', 'export_kw', 'net_import_kw', 'buy_price', 'sell_price', 'step_cost']
        """
        return self.table


# --------------------------------------------------------------------------- self-scheduling


def _grid_limit(value, name, n):
    if value is None:
        return None
    arr = _prices(value, name, n)
    check_nonnegative(arr, name, "powers")
    return arr


def _check_bounded(buy, sell, import_max, export_max, *, limits_accepted=True):
    if import_max is not None or export_max is not None:
        return
    bad = sell > buy
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        fix = (
            "Give `import_max_kw` or `export_max_kw` (a grid connection limit), or make `sell_price` <= `buy_price`."
            if limits_accepted
            else "Make `sell_price` <= `buy_price` at every step."
        )
        raise ValueError(
            f"`sell_price` exceeds `buy_price` at step {t} ({sell[t]:g} > {buy[t]:g}): the prosumer could buy "
            f"and resell without limit. {fix}"
        )


def _diagnose(build, families, solver) -> str:
    """Re-solve with one constraint family dropped at a time; name those that restore feasibility."""
    culprits = []
    for fam in families:
        trial = build(frozenset([fam]))
        try:
            solve_quietly(trial.problem, solver=solver or _DEFAULT_SOLVER)
        except (cp.error.SolverError, ValueError):
            continue
        if trial.problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            culprits.append(_FAMILIES[fam])
    if culprits:
        return "Dropping any one of these makes it feasible: " + "; ".join(culprits) + "."
    if families:
        return "No single family is to blame; check these together: " + "; ".join(_FAMILIES[f] for f in families) + "."
    return "Check the devices' limits."


def schedule(
    prosumer: Prosumer,
    buy_price,
    sell_price=None,
    *,
    dt_h: float = 1.0,
    throughput_cost: float = 0.0,
    exclusive: bool = False,
    solver: str | None = None,
    import_max_kw=None,
    export_max_kw=None,
) -> Schedule:
    """Find the prosumer's cost-minimising operation against buy and sell prices.

    The linear program (Conejo, Carrion and Morales, *Decision Making Under
    Uncertainty in Electricity Markets*, 2010, ch. 1; device constraints as in
    each device's docstring)::

        minimise    sum_t (buy_t import_t - sell_t export_t) dt
                    + throughput_cost sum_t sum_b (c_bt + d_bt) dt
                    - sum_t sum_f utility_ft f_ft dt
        subject to  import_t - export_t = net_import_t     (balance, every t)
                    import_t, export_t >= 0, device constraints

    Parameters
    ----------
    prosumer : Prosumer
        The base load and devices; its length ``T`` is the horizon.
    buy_price, sell_price : float or array_like
        Prices per kWh, scalar or ``T`` values (negative allowed, NaN not).
        ``sell_price=None`` means exports earn nothing (surplus PV can still be
        exported for free or curtailed).
    dt_h : float
        Step length, hours.
    throughput_cost : float
        Cost per kWh charged or discharged (degradation).  It removes
        simultaneous charge and discharge in step ``t`` unless the value of
        energy there (the ``balance`` dual) is below
        ``-throughput_cost * (1 + eta_c * eta_d) / (1 - eta_c * eta_d)``.
    exclusive : bool
        Forbid charging and discharging in the same step with one binary per
        battery and step (a MILP, solved with HiGHS).
    solver : str, optional
        A cvxpy solver name (default HiGHS).
    import_max_kw, export_max_kw : float or array_like, optional
        Grid connection limits.  Needed when ``sell_price`` exceeds
        ``buy_price`` somewhere (otherwise buying to resell is unbounded).

    Returns
    -------
    Schedule
        Cost, per-step table, duals and simultaneous charge/discharge report.
        A ``UserWarning`` is also emitted when a battery charges and discharges
        in the same step.

    Raises
    ------
    ValueError
        Non-finite prices, wrong lengths, an EV that cannot receive its energy,
        a shiftable load whose energy does not fit its limits, a battery that
        cannot reach ``soc_end_kwh``, or prices so large that the cost leaves
        the float range.
    SolverError
        The solver failed or the problem is infeasible; the message names the
        constraint families that make it so.

    Examples
    --------
    Two steps, prices 0.1 then 0.3: a 1 kWh battery with 90 % efficiencies
    charges 1 kWh (stores 0.9) and returns 0.81 kWh to the 1 kW load.

    >>> p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    >>> s = schedule(p, [0.1, 0.3])
    >>> s.table[["import_kw", "battery_charge_kw", "battery_discharge_kw", "battery_soc_kwh"]].round(4)
          import_kw  battery_charge_kw  battery_discharge_kw  battery_soc_kwh
    step
    0          2.00                1.0                  0.00              0.9
    1          0.19                0.0                  0.81              0.0
    >>> round(s.cost, 4)
    0.257
    """
    if not isinstance(prosumer, Prosumer):
        raise TypeError(f"`prosumer` must be a Prosumer; got {type(prosumer).__name__}.")
    if not isinstance(exclusive, (bool, np.bool_)):
        raise TypeError(f"`exclusive` must be True or False; got {exclusive!r}.")
    if solver is not None and not isinstance(solver, str):
        raise TypeError(f"`solver` must be a cvxpy solver name such as 'HIGHS', or None; got {solver!r}.")
    n = prosumer.n_steps
    dt = _step_hours(dt_h, "schedule")
    buy = _prices(buy_price, "buy_price", n)
    sell = np.zeros(n) if sell_price is None else _prices(sell_price, "sell_price", n)
    throughput = _scalar(throughput_cost, "throughput_cost", "schedule")
    import_max = _grid_limit(import_max_kw, "import_max_kw", n)
    export_max = _grid_limit(export_max_kw, "export_max_kw", n)
    _check_bounded(buy, sell, import_max, export_max)

    batteries = [d for d in prosumer.devices if isinstance(d, Battery)]
    pvs = [(d.name, _broadcast(d.p_max_kw, "p_max_kw", n, f"PV {d.name!r}")) for d in prosumer.devices
           if isinstance(d, PV)]
    evs = [d for d in prosumer.devices if isinstance(d, EV)]
    flexes = [d for d in prosumer.devices if isinstance(d, FlexibleLoad)]
    for ev in evs:
        ev._check_feasible(dt)
    for fl in flexes:
        fl._check_feasible(n, dt)
    for b in batteries:
        if b.soc_end_kwh is not None:
            reach = min(b.e_max_kwh, b.soc0_kwh + b.eta_charge * b.p_max_kw * dt * n)
            if b.soc_end_kwh > reach + 1e-9:
                raise ValueError(
                    f"Battery {b.name!r}: `soc_end_kwh` = {b.soc_end_kwh:g} cannot be reached; starting from "
                    f"{b.soc0_kwh:g} kWh it can store at most {reach:g} kWh by the end of the horizon."
                )
    utilities = {fl.name: _broadcast(fl.utility, "utility", n, f"FlexibleLoad {fl.name!r}") for fl in flexes}
    specs = [_spec(b) for b in batteries]
    exclusive = bool(exclusive) and bool(specs)
    # the solver sees the costs times a power of two that brings them near 1 (exact; same optimum)
    scale = _cost_scale(buy, sell, np.array([throughput]), *utilities.values(), factor=dt)
    flexes_model = flexes if scale == 1.0 else [replace(fl, utility=utilities[fl.name] * scale) for fl in flexes]

    def build(relax=frozenset(), *, milp=exclusive, z_fixed=None):
        return _build(
            n, dt, prosumer.base_load_kw, buy * scale, sell * scale, batteries=specs, pvs=pvs, evs=evs,
            flexes=flexes_model, throughput=throughput * scale, exclusive=milp, z_fixed=z_fixed,
            import_max=import_max, export_max=export_max, relax=relax,
        )

    model = build()
    _solve(model.problem, solver)
    status = model.problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        families = [f for f, present in (
            ("grid", import_max is not None or export_max is not None),
            ("ramp", any(b.ramp_kw is not None for b in batteries)),
            ("soc_end", any(b.soc_end_kwh is not None for b in batteries)),
            ("ev", bool(evs)),
            ("flex", any(fl.e_kwh is not None or np.any(np.asarray(fl.p_min_kw) > 0) for fl in flexes)),
        ) if present]
        raise SolverError(
            f"The self-scheduling problem of {prosumer.name!r} is infeasible (solver status {status!r}). "
            + _diagnose(build, families, solver)
        )
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise SolverError(
            f"The self-scheduling problem of {prosumer.name!r} ended with status {status!r}; "
            "check that `sell_price` <= `buy_price` or give grid limits, or try another `solver`."
        )
    duals_model = None
    if exclusive:
        z_fixed = {name: np.round(z.value) for name, z in model.binaries.items()}
        duals_model = build(milp=False, z_fixed=z_fixed)
        _solve(duals_model.problem, solver)
    return _result(
        model, n=n, dt=dt, base=prosumer.base_load_kw.copy(), buy=buy, sell=sell, throughput=throughput,
        utilities=utilities, duals_model=duals_model, status=status, cost_scale=scale,
    )


def breakeven_price_ratio(eta_charge: float, eta_discharge: float) -> float:
    """Return the price ratio above which storage arbitrage pays: ``1 / (eta_charge * eta_discharge)``.

    A kWh bought at ``p_lo`` and stored returns ``eta_charge * eta_discharge``
    kWh, worth ``p_hi * eta_charge * eta_discharge``; arbitrage is profitable
    only if ``p_hi / p_lo`` exceeds the returned ratio (for ``p_lo > 0``,
    ignoring degradation).  Sioshansi, Denholm, Jenkin and Weiss, "Estimating
    the value of electricity storage in PJM: arbitrage and some welfare
    effects", Energy Economics 31(2), 2009; Kirschen and Strbac, *Fundamentals
    of Power System Economics*, 2nd ed., 2018.

    Parameters
    ----------
    eta_charge, eta_discharge : float
        Efficiencies in [0.001, 1] (``MIN_EFFICIENCY``).

    Returns
    -------
    float

    Examples
    --------
    >>> round(breakeven_price_ratio(0.9, 0.9), 4)
    1.2346
    """
    eta_c = _efficiency(eta_charge, "eta_charge", "breakeven_price_ratio")
    eta_d = _efficiency(eta_discharge, "eta_discharge", "breakeven_price_ratio")
    return 1.0 / (eta_c * eta_d)


def _bump(h, centre, width):
    return np.exp(-0.5 * ((h - centre) / width) ** 2)


def example_day(*, seed=None) -> pd.DataFrame:
    """Return a SYNTHETIC day of 24 hourly prices, PV and load, for teaching.

    No data source: every column is a formula, chosen to look like a household
    on a day-ahead tariff.  With ``h = 0, ..., 23`` the hour and
    ``g(h; m, s) = exp(-(h - m)^2 / (2 s^2))``::

        buy_price      = 0.10 + 0.12 g(h; 8, 1.5) + 0.26 g(h; 19, 2) - 0.03 g(h; 13, 2)
        sell_price     = 0.05                                      (flat feed-in tariff)
        pv_kw_per_kwp  = max(0, sin(pi (h - 6) / 12))              (0 outside 6h-18h, 1 at noon)
        base_load_kw   = 0.3 + 0.55 g(h; 7.5, 1.2) + 1.1 g(h; 19.5, 2)

    Prices are in currency per kWh (about 0.07 to 0.36), PV per kWp installed,
    the base load between 0.3 and 1.37 kW (peaks at 7-8h and 19-20h).

    Parameters
    ----------
    seed : int or numpy.random.Generator, optional
        With a seed, multiply ``buy_price`` by ``1 + 0.05 N(0, 1)``,
        ``base_load_kw`` by ``1 + 0.1 N(0, 1)`` and ``pv_kw_per_kwp`` by
        ``1 - 0.2 U(0, 1)`` (passing clouds), then clip so that the buy price
        stays >= the sell price and the load >= 0.

    Returns
    -------
    pandas.DataFrame
        24 rows indexed by ``hour``; columns ``buy_price``, ``sell_price``,
        ``pv_kw_per_kwp``, ``base_load_kw``.

    Examples
    --------
    >>> day = example_day()
    >>> day.shape, float(day["pv_kw_per_kwp"].max())
    ((24, 4), 1.0)
    >>> bool((day["buy_price"] >= day["sell_price"]).all())
    True
    """
    h = np.arange(24, dtype=float)
    buy = 0.10 + 0.12 * _bump(h, 8, 1.5) + 0.26 * _bump(h, 19, 2) - 0.03 * _bump(h, 13, 2)
    sell = np.full(24, 0.05)
    pv = np.clip(np.sin(np.pi * (h - 6) / 12), 0.0, None)
    pv[(h <= 6) | (h >= 18)] = 0.0  # exact zeros at night (sin(pi) is 1e-16, not 0)
    load = 0.3 + 0.55 * _bump(h, 7.5, 1.2) + 1.1 * _bump(h, 19.5, 2)
    if seed is not None:
        rng = as_generator(seed)
        buy = np.maximum(buy * (1 + 0.05 * rng.standard_normal(24)), sell)
        load = np.clip(load * (1 + 0.1 * rng.standard_normal(24)), 0.0, None)
        pv = pv * (1 - 0.2 * rng.uniform(size=24))
    return pd.DataFrame(
        {"buy_price": buy, "sell_price": sell, "pv_kw_per_kwp": pv, "base_load_kw": load},
        index=pd.RangeIndex(24, name="hour"),
    )


# --------------------------------------------------------------------------- re-solvable battery problem


class BatteryProblem:
    """A battery-only arbitrage problem built once with cvxpy Parameters, re-solved fast.

    The same model as :func:`schedule` for a prosumer with one
    :class:`Battery` named ``"battery"``; every number is a ``cp.Parameter``
    and the problem is DPP-compliant, so cvxpy compiles it once and each
    :meth:`solve` only updates the data (for widgets).  Without a ramp limit
    the ramp parameter is set to ``2 * p_max_kw``, which never binds.

    Parameters
    ----------
    n_steps : int
        The horizon ``T``.
    dt_h : float
        Step length, hours.

    Examples
    --------
    >>> bp = BatteryProblem(2)
    >>> bp.problem.is_dcp(dpp=True)
    True
    >>> s = bp.solve([0.1, 0.3], 0.0, e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9,
    ...              base_load_kw=1.0)
    >>> round(s.cost, 4)
    0.257
    """

    def __init__(self, n_steps: int, *, dt_h: float = 1.0):
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or not 1 <= n_steps <= 100_000:
            raise ValueError(f"`n_steps` must be a positive integer; got {n_steps!r} (at most 100,000 steps).")
        dt = _step_hours(dt_h, "BatteryProblem")
        n = int(n_steps)
        self.n_steps, self.dt_h = n, dt
        self._buy = cp.Parameter(n, name="buy_price")
        self._sell = cp.Parameter(n, name="sell_price")
        self._base = cp.Parameter(n, nonneg=True, name="base_load_kw")
        self._throughput = cp.Parameter(nonneg=True, name="throughput_cost")
        self._spec = _BatterySpec(
            "battery",
            e_max=cp.Parameter(nonneg=True, name="e_max_kwh"),
            p_max=cp.Parameter(nonneg=True, name="p_max_kw"),
            eta_c=cp.Parameter(nonneg=True, name="eta_charge"),
            inv_eta_d=cp.Parameter(nonneg=True, name="inv_eta_discharge"),
            soc0=cp.Parameter(nonneg=True, name="soc0_kwh"),
            ramp=cp.Parameter(nonneg=True, name="ramp_kw"),
        )
        self._model = _build(
            n, dt, self._base, self._buy, self._sell, batteries=[self._spec], throughput=self._throughput
        )
        self.problem = self._model.problem

    def solve(
        self, buy_price, sell_price, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh=0.0,
        ramp_kw=None, base_load_kw=0.0, throughput_cost=0.0, solver=None,
    ) -> Schedule:
        """Set the parameters and re-solve; arguments as in :class:`Battery` and :func:`schedule`.

        ``sell_price=None`` means exports earn nothing.  Returns a
        :class:`Schedule` with the same columns as :func:`schedule`.

        Examples
        --------
        >>> s = BatteryProblem(3).solve(0.2, None, e_max_kwh=2, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9)
        >>> round(s.cost, 6)
        0.0
        """
        n = self.n_steps
        b = Battery(e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh=soc0_kwh, ramp_kw=ramp_kw)
        base = _broadcast(_profile(base_load_kw, "base_load_kw", "BatteryProblem"), "base_load_kw", n, "BatteryProblem")
        buy = _prices(buy_price, "buy_price", n)
        sell = np.zeros(n) if sell_price is None else _prices(sell_price, "sell_price", n)
        _check_bounded(buy, sell, None, None, limits_accepted=False)
        throughput = _scalar(throughput_cost, "throughput_cost", "BatteryProblem")
        # the solver sees the costs times a power of two that brings them near 1 (exact; same optimum)
        scale = _cost_scale(buy, sell, np.array([throughput]), factor=self.dt_h)
        self._buy.value, self._sell.value, self._base.value = buy * scale, sell * scale, base
        self._throughput.value = throughput * scale
        sp = self._spec
        sp.e_max.value, sp.p_max.value = b.e_max_kwh, b.p_max_kw
        sp.eta_c.value, sp.inv_eta_d.value = b.eta_charge, 1.0 / b.eta_discharge
        sp.soc0.value = b.soc0_kwh
        sp.ramp.value = 2.0 * b.p_max_kw if b.ramp_kw is None else b.ramp_kw
        _solve(self.problem, solver)
        status = self.problem.status
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise SolverError(f"The battery arbitrage problem ended with status {status!r}; try another `solver`.")
        result = _result(
            self._model, n=n, dt=self.dt_h, base=base, buy=buy, sell=sell, throughput=throughput, utilities={},
            status=status, cost_scale=scale,
        )
        if ramp_kw is None:  # the never-binding ramp rows are not a constraint of the user's problem
            duals = result.duals.drop(columns=["battery_ramp_up", "battery_ramp_down"])
            object.__setattr__(result, "duals", duals)
        return result
