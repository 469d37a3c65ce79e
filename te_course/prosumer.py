"""Prosumers: device models as constraints, and self-scheduling against prices.

A prosumer owns a *base load* (uncontrollable consumption) and devices: PV
panels, batteries, electric vehicles (EVs) and flexible loads.  Given prices for
buying from and selling to the grid over a horizon of ``T`` steps of ``dt_h``
hours, :func:`schedule` finds the operation of every device that minimises the
prosumer's cost, as a linear program (a mixed-integer one with
``exclusive=True``) written with cvxpy.

Where to look: the devices (:class:`PV`, :class:`Battery`, :class:`EV`,
:class:`FlexibleLoad`, :class:`Prosumer`) are defined in :mod:`te_course.devices`
and importable from here too; how each becomes variables and constraints is
``te_course._device_model.device_constraints``, shared with
:mod:`te_course.scheduling` and :mod:`te_course.uncertainty`.  This module holds
the self-scheduling problem (:func:`schedule` and its result :class:`Schedule`),
:class:`BatteryProblem` (the same problem re-solved fast, for widgets),
:func:`breakeven_price_ratio` and :func:`example_day`.

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
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cvxpy as cp
import numpy as np
import pandas as pd

from ._deprecation import renamed_keywords
from ._device_model import (
    CONSTRAINT_FAMILIES,
    DT_H_MAX,
    DT_H_MIN,
    MIN_EFFICIENCY,
    BatterySpec,
    DeviceModel,
    battery_spec,
    broadcast,
    check_bounded,
    clean,
    cost_scale,
    device_constraints,
    dual_value,
    grid_limit,
    price_series,
    read_efficiency,
    read_number,
    read_profile,
    step_hours,
)
from ._solvers import check_solver, solve
from ._validation import as_generator
from .devices import EV, PV, Battery, FlexibleLoad, Prosumer
from .errors import InfeasibleError, SolverError

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

# Still importable from here, where they lived before issue 17: the limits of the device data and the
# model's shared parts (now in te_course._device_model, used by te_course.scheduling and te_course.uncertainty).
_REEXPORTED = (MIN_EFFICIENCY, DT_H_MIN, DT_H_MAX, battery_spec, broadcast, check_bounded, clean, cost_scale,
               device_constraints, price_series, step_hours)

#: Charge and discharge both above this (kW) in one step count as simultaneous.
SIMULTANEOUS_TOL_KW = 1e-6

#: What to check when the solver stops without an answer (a sentence of every solver error here).
_DATA_HINT = (
    "Its numbers may be too large or too far apart for the solver: keep the powers (kW: `base_load_kw`, the "
    "devices' `p_max_kw`, `e_max_kwh`), the prices (per kWh: `price_buy`, `price_sell`) and the step `dt_h` "
    "within a few orders of magnitude of each other."
)


# --------------------------------------------------------------------------- the optimisation model


@dataclass
class _Model:
    """The self-scheduling LP and the variables and constraints its result is read from."""

    problem: cp.Problem
    imp: cp.Variable
    exp: cp.Variable
    balance: cp.Constraint
    devices: DeviceModel  # the devices' variables and constraints


def _build(
    n, dt, base, buy, sell, *, batteries=(), pvs=(), evs=(), flexes=(), throughput=0.0, exclusive=False,
    z_fixed=None, import_max=None, export_max=None, relax=frozenset(),
) -> _Model:
    """Write the self-scheduling problem; numbers or Parameters alike (DPP-compliant)."""
    imp = cp.Variable(n, nonneg=True, name="import_kw")
    exp = cp.Variable(n, nonneg=True, name="export_kw")
    dev = device_constraints(n, dt, batteries=batteries, pvs=pvs, evs=evs, flexes=flexes, throughput=throughput,
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
    return _Model(problem, imp, exp, balance, dev)


def _solve(problem: cp.Problem, solver: str | None, what: str = "the self-scheduling problem") -> None:
    """Solve a self-scheduling LP (HiGHS unless the user chose a ``solver``); raise the package's errors."""
    solve(problem, what=what, kind="lp", solver=solver, hint=_DATA_HINT, choosable=True)


def _simultaneous_note(name: str, steps: tuple) -> str:
    """Return the warning for a battery that charges and discharges in the same ``steps``."""
    return (
        f"Battery {name!r} charges and discharges in the same step at steps {list(steps)}: the LP wastes energy "
        "through the battery's losses because that lowers the cost (e.g. negative prices with no way to export). "
        "Add a large enough `throughput_cost` (the threshold is in the docstring of te_course.prosumer) or pass "
        "`exclusive=True`."
    )


@np.errstate(over="ignore", invalid="ignore")  # an overflowing cost is checked below and explained
def _table(model: _Model, *, n, dt, base, buy, sell, throughput, utilities) -> tuple[pd.DataFrame, dict, list]:
    """Read the solved model's powers, energies and step costs into the per-step table.

    Returns the table, the steps of simultaneous charge and discharge per battery, and the warnings.
    """
    imp, exp = clean(model.imp.value), clean(model.exp.value)
    cols = {
        "base_load_kw": base,
        "import_kw": imp,
        "export_kw": exp,
        "net_import_kw": imp - exp,
        "buy_price": buy,
        "sell_price": sell,
        "price_buy": buy,
        "price_sell": sell,
    }
    step_cost = (buy * imp - sell * exp) * dt
    simultaneous, notes = {}, []
    for name, c, d, soc, _ in model.devices.batteries:
        cv, dv = clean(c.value), clean(d.value)
        cols[f"{name}_charge_kw"], cols[f"{name}_discharge_kw"] = cv, dv
        cols[f"{name}_soc_kwh"] = clean(soc.value)
        step_cost = step_cost + throughput * (cv + dv) * dt
        both = np.flatnonzero((cv > SIMULTANEOUS_TOL_KW) & (dv > SIMULTANEOUS_TOL_KW))
        simultaneous[name] = tuple(int(t) for t in both)
        if both.size:
            notes.append(_simultaneous_note(name, simultaneous[name]))
    for name, g, available in model.devices.pvs:
        gv = clean(g.value)
        cols[f"{name}_kw"], cols[f"{name}_curtailed_kw"] = gv, clean(available - gv)
    for name, e, eta in model.devices.evs:
        ev = clean(e.value)
        cols[f"{name}_kw"], cols[f"{name}_soc_kwh"] = ev, clean(np.cumsum(eta * ev * dt))
    for name, f in model.devices.flexes:
        fv = clean(f.value)
        cols[f"{name}_kw"] = fv
        step_cost = step_cost - utilities[name] * fv * dt
    if not (np.all(np.isfinite(step_cost)) and math.isfinite(float(np.sum(step_cost)))):
        raise ValueError(
            "The schedule's cost leaves the float range (about 1.8e308): `price_buy`, `price_sell`, "
            "`throughput_cost` or the utilities times the powers are too large. Give them in a larger currency "
            "unit (thousands, millions)."
        )
    cols["step_cost"] = step_cost
    return pd.DataFrame(cols, index=pd.RangeIndex(n, name="step")), simultaneous, notes


def _duals(model: _Model, n: int, dt: float, cost_scale: float) -> pd.DataFrame:
    """Read the balance and battery multipliers, in currency per kWh (or per kW), unscaled."""
    # cvxpy's dual of ``import - export == base + ...`` is -d(cost)/d(base) (cost per kW of
    # the step); minus it over dt_h is the cost of one more kWh consumed in that step.
    dual_cols = {"balance": dual_value(model.balance, -1.0 / dt) / cost_scale}
    for name, *_, duals in model.devices.batteries:
        for key, con in duals.items():
            dual_cols[f"{name}_{key}"] = dual_value(con) / cost_scale
    return pd.DataFrame(dual_cols, index=pd.RangeIndex(n, name="step"))


def _result(model: _Model, *, n, dt, base, buy, sell, throughput, utilities, duals_model=None, status="optimal",
            cost_scale=1.0) -> Schedule:
    """Read the solved model into a :class:`Schedule` (``cost_scale``: what the model's costs were multiplied by)."""
    table, simultaneous, notes = _table(model, n=n, dt=dt, base=base, buy=buy, sell=sell, throughput=throughput,
                                        utilities=utilities)
    duals = _duals(duals_model if duals_model is not None else model, n, dt, cost_scale)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=4)
    return Schedule(
        cost=float(np.sum(table["step_cost"].to_numpy())),
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
        ``export_kw``, ``net_import_kw``, ``buy_price``, ``sell_price`` (the prices; the
        same again as ``price_buy``, ``price_sell``, the names of the arguments), then per
        device ``<name>_kw`` (PV output used, EV charge, flexible consumption),
        ``<name>_curtailed_kw`` (PV), ``<name>_charge_kw``,
        ``<name>_discharge_kw``, ``<name>_soc_kwh`` (batteries), ``<name>_soc_kwh``
        (EV: energy delivered so far), and ``step_cost``.
    duals : pandas.DataFrame
        One row per step.  ``balance`` is the marginal value of energy at the
        prosumer (currency per kWh): how much the optimal cost rises if it
        consumes one more kWh in that step.  It lies between ``price_sell`` and
        ``price_buy`` when no grid limit binds and ``price_sell <= price_buy``
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
        ['base_load_kw', 'import_kw', 'export_kw', 'net_import_kw', 'buy_price', 'sell_price', 'price_buy',
         'price_sell', 'step_cost']
        """
        return self.table



# --------------------------------------------------------------------------- self-scheduling


@dataclass(frozen=True)
class _Inputs:
    """The checked inputs of :func:`schedule` (prices and limits as arrays of the horizon's length)."""

    n: int
    dt: float
    buy: np.ndarray
    sell: np.ndarray
    throughput: float
    import_max: np.ndarray | None
    export_max: np.ndarray | None


def _read_inputs(prosumer, price_buy, price_sell, *, dt_h, throughput_cost, exclusive, import_max_kw,
                 export_max_kw) -> _Inputs:
    """Check the arguments of :func:`schedule` and read the prices and limits over the horizon."""
    if not isinstance(prosumer, Prosumer):
        raise TypeError(f"`prosumer` must be a Prosumer; got {type(prosumer).__name__}.")
    if not isinstance(exclusive, (bool, np.bool_)):
        raise TypeError(f"`exclusive` must be True or False; got {exclusive!r}.")
    n = prosumer.n_steps
    inputs = _Inputs(
        n=n,
        dt=step_hours(dt_h, "schedule"),
        buy=price_series(price_buy, "price_buy", n),
        sell=np.zeros(n) if price_sell is None else price_series(price_sell, "price_sell", n),
        throughput=read_number(throughput_cost, "throughput_cost", "schedule"),
        import_max=grid_limit(import_max_kw, "import_max_kw", n),
        export_max=grid_limit(export_max_kw, "export_max_kw", n),
    )
    check_bounded(inputs.buy, inputs.sell, inputs.import_max, inputs.export_max)
    return inputs


def _check_devices_can_comply(prosumer: Prosumer, n: int, dt: float) -> None:
    """Raise ValueError, naming the device, if an EV, a shiftable load or a battery's end state cannot be met."""
    for ev in (d for d in prosumer.devices if isinstance(d, EV)):
        ev.check_feasible(dt)
    for fl in (d for d in prosumer.devices if isinstance(d, FlexibleLoad)):
        fl.check_feasible(n, dt)
    for b in (d for d in prosumer.devices if isinstance(d, Battery) and d.soc_end_kwh is not None):
        reach = min(b.e_max_kwh, b.soc0_kwh + b.eta_charge * b.p_max_kw * dt * n)
        if b.soc_end_kwh > reach + 1e-9:
            raise ValueError(
                f"Battery {b.name!r}: `soc_end_kwh` = {b.soc_end_kwh:g} cannot be reached; starting from "
                f"{b.soc0_kwh:g} kWh it can store at most {reach:g} kWh by the end of the horizon."
            )


def _families(prosumer: Prosumer, inputs: _Inputs) -> list[str]:
    """Return the constraint families that could make the model infeasible (keys of CONSTRAINT_FAMILIES)."""
    devices = prosumer.devices
    batteries = [d for d in devices if isinstance(d, Battery)]
    flexes = [d for d in devices if isinstance(d, FlexibleLoad)]
    present = {
        "grid": inputs.import_max is not None or inputs.export_max is not None,
        "ramp": any(b.ramp_kw is not None for b in batteries),
        "soc_end": any(b.soc_end_kwh is not None for b in batteries),
        "ev": any(isinstance(d, EV) for d in devices),
        "flex": any(fl.e_kwh is not None or np.any(np.asarray(fl.p_min_kw) > 0) for fl in flexes),
    }
    return [family for family, here in present.items() if here]


def _diagnose(build, families, solver) -> str:
    """Re-solve with one constraint family dropped at a time; name those that restore feasibility."""
    culprits = []
    for fam in families:
        trial = build(frozenset([fam]))
        try:
            _solve(trial.problem, solver)
        except SolverError:
            continue
        culprits.append(CONSTRAINT_FAMILIES[fam])
    if culprits:
        return "Dropping any one of these makes it feasible: " + "; ".join(culprits) + "."
    if families:
        return ("No single family is to blame; check these together: "
                + "; ".join(CONSTRAINT_FAMILIES[f] for f in families) + ".")
    return "Check the devices' limits."


@renamed_keywords(buy_price="price_buy", sell_price="price_sell")
def schedule(
    prosumer: Prosumer,
    price_buy,
    price_sell=None,
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
    price_buy, price_sell : float or array_like
        Prices per kWh, scalar or ``T`` values (negative allowed, NaN not).
        ``price_sell=None`` means exports earn nothing (surplus PV can still be
        exported for free or curtailed).  (The old keywords ``buy_price`` and
        ``sell_price`` still work for one release, with a ``DeprecationWarning``.)
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
        A cvxpy solver name (default HiGHS), checked before anything is built.
    import_max_kw, export_max_kw : float or array_like, optional
        Grid connection limits.  Needed when ``price_sell`` exceeds
        ``price_buy`` somewhere (otherwise buying to resell is unbounded).

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
    InfeasibleError
        The limits cannot all be met; the message names the constraint
        families that make it so.
    UnboundedError
        The cost has no lower bound (the grid limits are missing).
    SolverError
        The solver stopped without an answer.

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
    inputs = _read_inputs(prosumer, price_buy, price_sell, dt_h=dt_h, throughput_cost=throughput_cost,
                          exclusive=exclusive, import_max_kw=import_max_kw, export_max_kw=export_max_kw)
    solver = check_solver(solver)
    _check_devices_can_comply(prosumer, inputs.n, inputs.dt)
    build, scale, utilities = _builder(prosumer, inputs, exclusive=bool(exclusive))
    model = build()
    what = f"the self-scheduling problem of {prosumer.name!r}"
    try:
        _solve(model.problem, solver, what)
    except InfeasibleError:
        raise InfeasibleError(
            f"The self-scheduling problem of {prosumer.name!r} is infeasible: its limits cannot all be met. "
            + _diagnose(build, _families(prosumer, inputs), solver)
        ) from None
    duals_model = None
    if model.devices.binaries:  # the MILP has no duals: read them from the LP with the binaries fixed at their optimum
        duals_model = build(milp=False, z_fixed={name: np.round(z.value) for name, z in model.devices.binaries.items()})
        _solve(duals_model.problem, solver, what)
    return _result(
        model, n=inputs.n, dt=inputs.dt, base=prosumer.base_load_kw.copy(), buy=inputs.buy, sell=inputs.sell,
        throughput=inputs.throughput, utilities=utilities, duals_model=duals_model, status=model.problem.status,
        cost_scale=scale,
    )


def _builder(prosumer: Prosumer, inputs: _Inputs, *, exclusive: bool) -> tuple[Callable[..., _Model], float, dict]:
    """Return the function that writes the prosumer's model, the cost scale, and the flexible loads' utilities.

    ``build(relax, milp=..., z_fixed=...)`` writes the model with the families in ``relax`` left
    out (for :func:`_diagnose`), as a MILP or with the binaries fixed.  The costs are multiplied
    by a power of two that brings them near 1 for the solver (:func:`cost_scale`: exact, the
    same optimum); the returned utilities are unscaled.
    """
    n, dt = inputs.n, inputs.dt
    batteries = [battery_spec(d) for d in prosumer.devices if isinstance(d, Battery)]
    pvs = [(d.name, broadcast(d.p_max_kw, "p_max_kw", n, f"PV {d.name!r}")) for d in prosumer.devices
           if isinstance(d, PV)]
    evs = [d for d in prosumer.devices if isinstance(d, EV)]
    flexes = [d for d in prosumer.devices if isinstance(d, FlexibleLoad)]
    utilities = {fl.name: broadcast(fl.utility, "utility", n, f"FlexibleLoad {fl.name!r}") for fl in flexes}
    scale = cost_scale(inputs.buy, inputs.sell, np.array([inputs.throughput]), *utilities.values(), factor=dt)
    flexes_model = flexes if scale == 1.0 else [replace(fl, utility=utilities[fl.name] * scale) for fl in flexes]

    def build(relax=frozenset(), *, milp: bool = exclusive and bool(batteries), z_fixed=None) -> _Model:
        return _build(
            n, dt, prosumer.base_load_kw, inputs.buy * scale, inputs.sell * scale, batteries=batteries, pvs=pvs,
            evs=evs, flexes=flexes_model, throughput=inputs.throughput * scale, exclusive=milp, z_fixed=z_fixed,
            import_max=inputs.import_max, export_max=inputs.export_max, relax=relax,
        )

    return build, scale, utilities


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
    eta_c = read_efficiency(eta_charge, "eta_charge", "breakeven_price_ratio")
    eta_d = read_efficiency(eta_discharge, "eta_discharge", "breakeven_price_ratio")
    return 1.0 / (eta_c * eta_d)


def _bump(h: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Return the Gaussian bump ``exp(-(h - centre)^2 / (2 width^2))`` of :func:`example_day`."""
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
        ``pv_kw_per_kwp``, ``base_load_kw``, and the prices again as ``price_buy``,
        ``price_sell`` (the names of :func:`schedule`'s arguments).

    Examples
    --------
    >>> day = example_day()
    >>> day.shape, float(day["pv_kw_per_kwp"].max())
    ((24, 6), 1.0)
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
        {"buy_price": buy, "sell_price": sell, "pv_kw_per_kwp": pv, "base_load_kw": load, "price_buy": buy,
         "price_sell": sell},
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

    def __init__(self, n_steps: int, *, dt_h: float = 1.0) -> None:
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or not 1 <= n_steps <= 100_000:
            raise ValueError(f"`n_steps` must be a positive integer; got {n_steps!r} (at most 100,000 steps).")
        dt = step_hours(dt_h, "BatteryProblem")
        n = int(n_steps)
        self.n_steps, self.dt_h = n, dt
        self._buy = cp.Parameter(n, name="price_buy")
        self._sell = cp.Parameter(n, name="price_sell")
        self._base = cp.Parameter(n, nonneg=True, name="base_load_kw")
        self._throughput = cp.Parameter(nonneg=True, name="throughput_cost")
        self._spec = BatterySpec(
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

    @renamed_keywords(buy_price="price_buy", sell_price="price_sell")
    def solve(
        self, price_buy, price_sell, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh=0.0,
        ramp_kw=None, base_load_kw=0.0, throughput_cost=0.0, solver=None,
    ) -> Schedule:
        """Set the parameters and re-solve; arguments as in :class:`Battery` and :func:`schedule`.

        ``price_sell=None`` means exports earn nothing (the old keywords ``buy_price`` and
        ``sell_price`` still work for one release, with a ``DeprecationWarning``).  Returns a
        :class:`Schedule` with the same columns as :func:`schedule`.

        Raises
        ------
        ValueError, TypeError
            A bad argument, named.
        SolverError
            The solver stopped without an answer (see :func:`schedule`).

        Examples
        --------
        >>> s = BatteryProblem(3).solve(0.2, None, e_max_kwh=2, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9)
        >>> round(s.cost, 6)
        0.0
        """
        n = self.n_steps
        b = Battery(e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh=soc0_kwh, ramp_kw=ramp_kw)
        base = broadcast(read_profile(base_load_kw, "base_load_kw", "BatteryProblem"), "base_load_kw", n,
                         "BatteryProblem")
        buy = price_series(price_buy, "price_buy", n)
        sell = np.zeros(n) if price_sell is None else price_series(price_sell, "price_sell", n)
        check_bounded(buy, sell, None, None, limits_accepted=False)
        throughput = read_number(throughput_cost, "throughput_cost", "BatteryProblem")
        solver = check_solver(solver)
        scale = self._set_parameters(b, base, buy, sell, throughput)
        _solve(self.problem, solver, "the battery arbitrage problem")
        result = _result(
            self._model, n=n, dt=self.dt_h, base=base, buy=buy, sell=sell, throughput=throughput, utilities={},
            status=self.problem.status, cost_scale=scale,
        )
        if ramp_kw is None:  # the never-binding ramp rows are not a constraint of the user's problem
            duals = result.duals.drop(columns=["battery_ramp_up", "battery_ramp_down"])
            object.__setattr__(result, "duals", duals)
        return result

    def _set_parameters(self, b: Battery, base, buy, sell, throughput: float) -> float:
        """Write the data into the Parameters; return the factor the costs were scaled by for the solver."""
        # the solver sees the costs times a power of two that brings them near 1 (exact; same optimum)
        scale = cost_scale(buy, sell, np.array([throughput]), factor=self.dt_h)
        self._buy.value, self._sell.value, self._base.value = buy * scale, sell * scale, base
        self._throughput.value = throughput * scale
        spec = self._spec
        spec.e_max.value, spec.p_max.value = b.e_max_kwh, b.p_max_kw
        spec.eta_c.value, spec.inv_eta_d.value = b.eta_charge, 1.0 / b.eta_discharge
        spec.soc0.value = b.soc0_kwh
        spec.ramp.value = 2.0 * b.p_max_kw if b.ramp_kw is None else b.ramp_kw
        return scale
