"""A prosumer's devices: PV panels, batteries, EVs and flexible loads, behind one grid connection.

Each device is a frozen dataclass that checks its numbers once, in its constructor, and
keeps its profiles as read-only arrays (build a new device to change one).  Powers are in
kW and non-negative in their natural direction, energies in kWh, efficiencies in
[``MIN_EFFICIENCY``, 1].  :func:`te_course.prosumer.schedule` turns a :class:`Prosumer`
(a base load and its devices) into a linear program; its module docstring gives the sign
convention and the battery model.  Every name here is also importable from
:mod:`te_course.prosumer`.

Examples
--------
>>> home = Prosumer([0.5, 0.8], [PV([0.0, 2.0]), Battery(5.0, 2.0)])
>>> home.n_steps, [d.name for d in home.devices]
(2, ['pv', 'battery'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._device_model import (
    DT_H_MAX,
    DT_H_MIN,
    MIN_EFFICIENCY,
    broadcast,
    check_name,
    read_efficiency,
    read_number,
    read_only,
    read_profile,
    step_hours,
)
from ._validation import as_1d_float, check_nonnegative

__all__ = ["PV", "Battery", "EV", "FlexibleLoad", "Prosumer", "MIN_EFFICIENCY", "DT_H_MIN", "DT_H_MAX"]

_RESERVED = ("base_load", "import", "export", "net_import")


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

    def __post_init__(self) -> None:
        check_name(self.name, "device")
        object.__setattr__(self, "p_max_kw", read_profile(self.p_max_kw, "p_max_kw", f"PV {self.name!r}"))


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

    def __post_init__(self) -> None:
        check_name(self.name, "device")
        owner = f"Battery {self.name!r}"
        s = lambda attr, v: object.__setattr__(self, attr, v)  # noqa: E731
        s("e_max_kwh", read_number(self.e_max_kwh, "e_max_kwh", owner))
        s("p_max_kw", read_number(self.p_max_kw, "p_max_kw", owner))
        s("eta_charge", read_efficiency(self.eta_charge, "eta_charge", owner))
        s("eta_discharge", read_efficiency(self.eta_discharge, "eta_discharge", owner))
        s("soc_min_kwh", read_number(self.soc_min_kwh, "soc_min_kwh", owner))
        s("soc0_kwh", read_number(self.soc0_kwh, "soc0_kwh", owner))
        if self.ramp_kw is not None:
            s("ramp_kw", read_number(self.ramp_kw, "ramp_kw", owner))
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
            s("soc_end_kwh", read_number(self.soc_end_kwh, "soc_end_kwh", owner))
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

    def __post_init__(self) -> None:
        check_name(self.name, "device")
        owner = f"EV {self.name!r}"
        arr = as_1d_float(self.available, "available", allow_bool=True)  # a mask: True/False are its values
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{owner}: `available` must contain booleans (or 0/1); entry {i} is {arr[i]}.")
        object.__setattr__(self, "available", read_only(arr.astype(bool)))
        object.__setattr__(self, "e_need_kwh", read_number(self.e_need_kwh, "e_need_kwh", owner))
        object.__setattr__(self, "p_max_kw", read_number(self.p_max_kw, "p_max_kw", owner))
        object.__setattr__(self, "eta", read_efficiency(self.eta, "eta", owner))

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
        dt = step_hours(dt_h, f"EV {self.name!r}")
        most = self.eta * self.p_max_kw * dt * int(self.available.sum())
        if not math.isfinite(most):
            raise ValueError(
                f"EV {self.name!r}: `p_max_kw` = {self.p_max_kw:g} kW times `dt_h` = {dt:g} h leaves the float "
                "range (about 1.8e308); give the charger's power in kW."
            )
        return round(most, 12)

    def check_feasible(self, dt_h: float) -> None:
        """Raise ``ValueError`` if the EV cannot take ``e_need_kwh`` while it is plugged in, at steps of ``dt_h``.

        Examples
        --------
        >>> EV([0, 1, 1, 0], e_need_kwh=5, p_max_kw=3.7).check_feasible(dt_h=1.0)  # 6.66 kWh at most: fine
        >>> EV([0, 1, 1, 0], e_need_kwh=5, p_max_kw=3.7).check_feasible(dt_h=0.5)
        Traceback (most recent call last):
        ...
        ValueError: EV 'ev': it needs 5 kWh but can receive at most 3.33 kWh while plugged in ...
        """
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

    def __post_init__(self) -> None:
        check_name(self.name, "device")
        owner = f"FlexibleLoad {self.name!r}"
        p_max = read_profile(self.p_max_kw, "p_max_kw", owner)
        p_min = read_profile(self.p_min_kw, "p_min_kw", owner)
        object.__setattr__(self, "p_max_kw", p_max)
        object.__setattr__(self, "p_min_kw", p_min)
        object.__setattr__(self, "utility", read_profile(self.utility, "utility", owner, nonnegative=False))
        if self.e_kwh is not None:
            object.__setattr__(self, "e_kwh", read_number(self.e_kwh, "e_kwh", owner))
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

    def check_feasible(self, n_steps: int, dt_h: float) -> None:
        """Raise ``ValueError`` if the load cannot consume ``e_kwh`` within its bounds over ``n_steps`` of ``dt_h``.

        Examples
        --------
        >>> FlexibleLoad(2.0, utility=0.25, e_kwh=3.0).check_feasible(n_steps=2, dt_h=1.0)  # up to 4 kWh: fine
        >>> FlexibleLoad(2.0, utility=0.25, e_kwh=3.0).check_feasible(n_steps=1, dt_h=1.0)
        Traceback (most recent call last):
        ...
        ValueError: FlexibleLoad 'flex': `e_kwh` = 3 kWh cannot be consumed within its limits: ...
        """
        owner = f"FlexibleLoad {self.name!r}"
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or not 1 <= n_steps <= 10**9:
            shown = n_steps if not isinstance(n_steps, int) or abs(n_steps) < 10**30 else "a huge integer"
            raise ValueError(f"{owner}: `n_steps` must be a positive integer, the horizon's steps (at most 1e9); "
                             f"got {shown!r}.")
        dt = step_hours(dt_h, owner)
        if self.e_kwh is None:
            return

        def energy(profile, name: str) -> float:
            """Return the energy (kWh) over the horizon at the power ``profile`` in every step."""
            if np.ndim(profile) == 0:
                return float(profile) * int(n_steps) * dt
            if np.size(profile) != n_steps:
                raise ValueError(f"{owner}: `n_steps` = {n_steps} does not match the {np.size(profile)} entries of "
                                 f"`{name}`: give the horizon's number of steps.")
            return float(np.sum(profile) * dt)

        lo, hi = energy(self.p_min_kw, "p_min_kw"), energy(self.p_max_kw, "p_max_kw")
        if not lo - 1e-9 <= self.e_kwh <= hi + 1e-9:
            raise ValueError(
                f"{owner}: `e_kwh` = {self.e_kwh:g} kWh cannot be consumed within its limits: "
                f"over the horizon it consumes between {lo:g} kWh (all steps at `p_min_kw`) and "
                f"{hi:g} kWh (all steps at `p_max_kw`)."
            )


_DEVICE_TYPES = (PV, Battery, EV, FlexibleLoad)


def _device_columns(dev) -> list[str]:
    """Return the table columns :func:`te_course.prosumer.schedule` writes for the device ``dev``."""
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

    def __post_init__(self) -> None:
        base = as_1d_float(self.base_load_kw, "base_load_kw")
        check_nonnegative(base, "base_load_kw", "powers")
        object.__setattr__(self, "base_load_kw", read_only(base))
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
                broadcast(dev.p_max_kw, "p_max_kw", n, owner)
            elif isinstance(dev, EV):
                broadcast(dev.available, "available", n, owner)
            elif isinstance(dev, FlexibleLoad):
                for attr in ("p_max_kw", "p_min_kw", "utility"):
                    broadcast(getattr(dev, attr), attr, n, owner)

    @property
    def n_steps(self) -> int:
        """The horizon's length ``T`` (the length of ``base_load_kw``).

        Examples
        --------
        >>> Prosumer([1.0, 2.0]).n_steps
        2
        """
        return int(self.base_load_kw.size)

