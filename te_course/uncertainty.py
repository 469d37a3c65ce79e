"""Scheduling under uncertainty: scenarios, two-stage stochastic and robust plans, EVPI and VSS.

A prosumer with a battery plans the battery's charge and discharge for the
whole horizon *before* it knows how much its PV will produce (the first
stage); once the PV output is known, grid import and export (and, if it
pays, PV curtailment) balance the rest (the second stage, the *recourse*).
The PV output is described by ``S`` scenarios ``xi_s`` with probabilities
``p_s``.  With ``x`` the battery plan and ``Q(x, xi)`` the second-stage cost
(energy bought minus energy sold)::

    RP  = min_x  sum_s p_s Q(x, xi_s)                 the recourse problem (here-and-now)
    WS  = sum_s p_s min_x Q(x, xi_s)                   wait-and-see (a clairvoyant per scenario)
    EEV = sum_s p_s Q(x_bar, xi_s)                     x_bar: the plan made for the mean PV
    EVPI = RP - WS >= 0                                expected value of perfect information
    VSS  = EEV - RP >= 0                               value of the stochastic solution

(Birge and Louveaux, *Introduction to Stochastic Programming*, 2nd ed.,
Springer 2011, sections 4.1-4.2; Conejo, Carrion and Morales, *Decision
Making Under Uncertainty in Electricity Markets*, Springer 2010, ch. 2.)
The recourse is complete (import and export can balance any plan), so
every plan has a finite cost in every scenario and ``EEV`` is well defined.

The robust variant (:func:`two_stage_schedule` with
``objective="worst_case"``) minimises ``max_s Q(x, xi_s)`` instead: the
plan a prosumer would choose if it only cared about the worst scenario
(Ben-Tal, El Ghaoui and Nemirovski, *Robust Optimization*, Princeton 2009,
with the scenario set as the uncertainty set).

A risk-averse planner (:func:`cvar_schedule`) minimises a weighted sum of the
expected cost and the conditional value at risk of the cost, the mean of its
worst ``1 - alpha`` tail, in the linear form of Rockafellar and Uryasev
("Optimization of conditional value-at-risk", *Journal of Risk* 2(3), 21-41,
2000), with an auxiliary variable ``eta`` whose smallest minimiser is the value at risk::

    CVaR_alpha(x) = min_eta  eta + 1/(1 - alpha) sum_s p_s max(Q(x, xi_s) - eta, 0)

Conejo, Carrion and Morales (2010, ch. 2) use the same form for the risk of a
producer's profit.

Every problem here is a linear program in cvxpy, solved with HiGHS (through
:func:`te_course._solvers.solve`, which raises :class:`~te_course.errors.InfeasibleError`
when the batteries' limits cannot all be met).  Battery
constraints are those of :class:`te_course.prosumer.Battery`; the device model
and the sign conventions are in :mod:`te_course.prosumer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import pandas as pd

from ._deprecation import renamed_keywords
from ._device_model import check_bounded, clean, cost_scale, price_series, step_hours
from ._solvers import solve
from ._validation import (
    as_1d_float,
    as_float_array,
    as_generator,
    as_positive_float,
    check_finite,
    check_nonnegative,
    scalar_float,
)
from .devices import Battery, Prosumer
from .errors import InfeasibleError

__all__ = [
    "RiskAverseSchedule",
    "StochasticValue",
    "TwoStageSchedule",
    "stochastic_value",
    "two_stage_schedule",
    "cvar_schedule",
    "recourse_costs",
    "pv_scenarios",
]

_PROB_TOL = 1e-9
#: :func:`pv_scenarios` draws at most this many numbers (``n_scenarios`` times the steps): 80 MB of floats.
MAX_SCENARIO_VALUES = 10_000_000
_OBJECTIVES = ("expected", "worst_case")


# --------------------------------------------------------------------------- inputs


def _check_prosumer(prosumer) -> list[Battery]:
    """Return the prosumer's batteries, or raise if it is not a Prosumer with batteries and nothing else."""
    if not isinstance(prosumer, Prosumer):
        raise TypeError(f"`prosumer` must be a te_course Prosumer; got {type(prosumer).__name__}.")
    batteries = []
    for dev in prosumer.devices:
        if isinstance(dev, Battery):
            batteries.append(dev)
        else:
            what = "its PV output comes from `pv_scenarios_kw`" if type(dev).__name__ == "PV" else (
                "only batteries are first-stage devices here")
            raise ValueError(
                f"`prosumer` has the {type(dev).__name__} {dev.name!r}; remove it: {what}."
            )
    if not batteries:
        raise ValueError("`prosumer` has no Battery: without one there is nothing to plan before the PV is known.")
    return batteries


def _scenarios(pv_scenarios_kw, n_steps: int) -> np.ndarray:
    """Read the PV scenarios as an ``(n_scenarios, n_steps)`` array of non-negative kW."""
    if isinstance(pv_scenarios_kw, pd.DataFrame):
        pv_scenarios_kw = pv_scenarios_kw.to_numpy()
    if isinstance(pv_scenarios_kw, (str, bytes)):
        raise TypeError(f"`pv_scenarios_kw` must be a 2-D array of numbers (one row per scenario); got "
                        f"{pv_scenarios_kw!r}.")
    # complex numbers, ragged rows and ints beyond the floats: an error naming the argument
    pv = np.array(as_float_array(pv_scenarios_kw, "pv_scenarios_kw",
                                 expected="a 2-D array of numbers (one row per scenario)"), dtype=float)
    if pv.ndim == 1 and pv.size == n_steps:
        pv = pv[None, :]
    if pv.ndim != 2 or pv.shape[1] != n_steps or pv.shape[0] == 0:
        raise ValueError(
            f"`pv_scenarios_kw` must have shape (n_scenarios, {n_steps}): one row per scenario and one column per "
            f"step of the prosumer's horizon; got shape {pv.shape}."
        )
    check_nonnegative(pv.ravel(), "pv_scenarios_kw", "PV outputs (kW)")
    return pv


def _probabilities(probabilities, n_scenarios: int) -> np.ndarray:
    """Read one probability per scenario (equal when None), non-negative and summing to 1."""
    if probabilities is None:
        return np.full(n_scenarios, 1.0 / n_scenarios)
    p = as_1d_float(probabilities, "probabilities")
    if p.size != n_scenarios:
        raise ValueError(f"`probabilities` has {p.size} entries; give one per scenario ({n_scenarios}): "
                         f"`pv_scenarios_kw` has {n_scenarios} rows.")
    check_nonnegative(p, "probabilities", "probabilities")
    if not math.isclose(math.fsum(p), 1.0, rel_tol=0.0, abs_tol=_PROB_TOL):
        raise ValueError(
            f"`probabilities` must sum to 1; they sum to {math.fsum(p):.12g}. Divide them by their sum, "
            "or pass None for equally likely scenarios."
        )
    return p


@dataclass(frozen=True)
class _Inputs:
    """The checked inputs of the scenario problems: batteries, base load, prices, PV scenarios and probabilities."""

    batteries: list
    base: np.ndarray
    buy: np.ndarray
    sell: np.ndarray
    pv: np.ndarray
    prob: np.ndarray
    dt: float


def _inputs(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities, dt_h) -> _Inputs:
    """Check every input of the public functions and gather them."""
    batteries = _check_prosumer(prosumer)
    n = prosumer.n_steps
    dt = step_hours(dt_h, positive="a positive number")
    buy = price_series(price_buy, "price_buy", n)
    sell = np.zeros(n) if price_sell is None else price_series(price_sell, "price_sell", n)
    check_bounded(buy, sell, None, None, limits_accepted=False)
    pv = _scenarios(pv_scenarios_kw, n)
    prob = _probabilities(probabilities, pv.shape[0])
    return _Inputs(batteries, prosumer.base_load_kw, buy, sell, pv, prob, dt)


# --------------------------------------------------------------------------- the linear programs


def _battery_block(b: Battery, rows: int, n: int, dt: float, fixed=None) -> tuple:
    """Charge, discharge and state of charge of ``rows`` copies of battery ``b``, with its constraints."""
    if fixed is not None:
        c, d = fixed
        return c, d, None, []
    c = cp.Variable((rows, n), nonneg=True)
    d = cp.Variable((rows, n), nonneg=True)
    soc = b.soc0_kwh + cp.cumsum(b.eta_charge * c - d / b.eta_discharge, axis=1) * dt
    cons = [c <= b.p_max_kw, d <= b.p_max_kw, soc <= b.e_max_kwh, soc >= b.soc_min_kwh]
    if b.ramp_kw is not None:
        p = c - d
        cons += [cp.abs(p[:, :1]) <= b.ramp_kw]
        if n > 1:
            cons += [cp.abs(p[:, 1:] - p[:, :-1]) <= b.ramp_kw]
    if b.soc_end_kwh is not None:
        cons.append(soc[:, n - 1] >= b.soc_end_kwh)
    return c, d, soc, cons


@dataclass
class _ScenarioLP:
    """The scenario LP of :func:`_solve_lp` and the variables its answer is read from."""

    problem: cp.Problem
    imp: cp.Variable
    exp: cp.Variable
    blocks: list  # per battery: (charge, discharge, state of charge or None)


def _scenario_lp(inp: _Inputs, pv: np.ndarray, prob: np.ndarray, *, shared: bool, objective: str, fixed,
                 risk) -> _ScenarioLP:
    """Write the scenario LP of :func:`_solve_lp`: the batteries, the balance per scenario, the objective."""
    s_count, n = pv.shape
    rows = 1 if (shared or fixed is not None) else s_count
    imp = cp.Variable((s_count, n), nonneg=True)
    exp = cp.Variable((s_count, n), nonneg=True)
    used = cp.Variable((s_count, n), nonneg=True)  # PV output used (the rest is curtailed)
    cons = [used <= pv]
    net_battery = 0
    blocks = []
    for k, b in enumerate(inp.batteries):
        c, d, soc, bcons = _battery_block(b, rows, n, inp.dt, None if fixed is None else fixed[k])
        cons += bcons
        blocks.append((c, d, soc))
        net_battery = net_battery + c - d
    cons.append(imp - exp == inp.base[None, :] + net_battery - used)
    # the solver sees the costs times a power of two that brings them near 1 (exact; same optimum)
    scale = cost_scale(inp.buy, inp.sell, factor=inp.dt)
    costs = (imp @ (inp.buy * scale) - exp @ (inp.sell * scale)) * inp.dt  # one entry per scenario, scaled
    if objective == "worst_case":
        worst = cp.Variable()
        cons.append(costs <= worst)
        goal = worst
    elif objective == "cvar":
        alpha, weight = risk
        var = cp.Variable()  # the auxiliary variable of Rockafellar and Uryasev: the VaR at the optimum
        excess = cp.Variable(s_count, nonneg=True)  # each scenario's cost above var
        cons.append(excess >= costs - var)
        goal = (1.0 - weight) * (prob @ costs) + weight * (var + prob @ excess / (1.0 - alpha))
    else:
        goal = prob @ costs
    return _ScenarioLP(cp.Problem(cp.Minimize(goal), cons), imp, exp, blocks)


def _solve_lp(inp: _Inputs, pv: np.ndarray, prob: np.ndarray, *, shared: bool, objective: str = "expected",
              fixed=None, risk=(0.0, 0.0)) -> tuple[np.ndarray, list]:
    """Solve the scenario LP.

    ``shared=True``: one battery plan for every scenario (the recourse problem);
    ``shared=False``: one plan per scenario (wait-and-see, which separates into S
    problems).  ``fixed``: a given plan (list of (charge, discharge) arrays per
    battery, each of shape (1, T)) whose scenario costs are evaluated.
    ``objective="cvar"``: ``risk = (alpha, weight)``, minimise
    ``(1 - weight) E[cost] + weight CVaR_alpha[cost]`` (Rockafellar and Uryasev 2000).
    Returns (per-scenario costs, list of (charge, discharge, soc) arrays).
    """
    lp = _scenario_lp(inp, pv, prob, shared=shared, objective=objective, fixed=fixed, risk=risk)
    try:
        solve(lp.problem, what="the scenario problem", kind="lp", hint=_DATA_HINT)
    except InfeasibleError:
        raise InfeasibleError(
            "The scenario problem is infeasible: the batteries' limits cannot all be met. Check them "
            "(`soc_end_kwh`, `ramp_kw`, `soc0_kwh`)."
        ) from None
    scenario_costs = (lp.imp.value @ inp.buy - lp.exp.value @ inp.sell) * inp.dt
    plans = []
    for c, d, soc in lp.blocks:
        cv = np.asarray(c.value if isinstance(c, cp.Expression) else c, dtype=float)
        dv = np.asarray(d.value if isinstance(d, cp.Expression) else d, dtype=float)
        sv = None if soc is None else np.asarray(soc.value, dtype=float)
        plans.append((cv, dv, sv))
    return np.asarray(scenario_costs, dtype=float), plans


_DATA_HINT = (
    "Its numbers may be too large or too far apart for the solver: keep the powers (kW: the `prosumer`'s "
    "`base_load_kw` and batteries, `pv_scenarios_kw`, the `plan`), the prices (per kWh: `price_buy`, `price_sell`) "
    "and the step `dt_h` within a few orders of magnitude of each other."
)


def _clean_costs(costs, inp: _Inputs) -> np.ndarray:
    """Set to zero the costs that are solver noise: below 1e-9 kW at the largest price over one step.

    The threshold scales with the prices (an absolute 1e-9 wiped out every cost at prices of 1e-12).
    """
    costs = np.asarray(costs, dtype=float).reshape(-1)
    noise = 1e-9 * max(float(np.abs(inp.buy).max(initial=0.0)), float(np.abs(inp.sell).max(initial=0.0))) * inp.dt
    return np.where(np.abs(costs) < noise, 0.0, costs)


def _plan_frame(batteries, plans) -> pd.DataFrame:
    """Return the first-stage plan as a table: charge, discharge (and state of charge) per battery and step."""
    cols = {}
    for b, (c, d, soc) in zip(batteries, plans):
        cols[f"{b.name}_charge_kw"] = clean(c[0])
        cols[f"{b.name}_discharge_kw"] = clean(d[0])
        if soc is not None:
            cols[f"{b.name}_soc_kwh"] = clean(soc[0])
    return pd.DataFrame(cols, index=pd.RangeIndex(len(c[0]), name="step"))


def _fixed_plan(batteries, plan: pd.DataFrame, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read a given plan's (charge, discharge) rows per battery, each of shape (1, n)."""
    if not isinstance(plan, pd.DataFrame):
        raise TypeError(f"`plan` must be a DataFrame of charge and discharge columns; got {type(plan).__name__}.")
    fixed = []
    for b in batteries:
        cols = [f"{b.name}_charge_kw", f"{b.name}_discharge_kw"]
        missing = [c for c in cols if c not in plan.columns]
        if missing:
            raise ValueError(f"`plan` is missing the column(s) {missing} of battery {b.name!r}.")
        arrays = []
        for col in cols:
            v = as_1d_float(plan[col], f"plan['{col}']")
            if v.size != n:
                raise ValueError(f"`plan['{col}']` has {v.size} steps; the prosumer's horizon has {n}.")
            check_nonnegative(v, f"plan['{col}']", "powers")
            arrays.append(v[None, :])
        fixed.append(tuple(arrays))
    return fixed


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class TwoStageSchedule:
    """A battery plan made before the PV is known, and what it costs in each scenario.

    Attributes
    ----------
    plan : pandas.DataFrame
        First stage, one row per step: ``<battery>_charge_kw``,
        ``<battery>_discharge_kw``, ``<battery>_soc_kwh``.
    scenario_costs : numpy.ndarray
        Second-stage cost of the plan in each scenario (bought minus sold).
    probabilities : numpy.ndarray
    expected_cost, worst_case_cost : float
        ``probabilities @ scenario_costs`` and ``scenario_costs.max()``.
    objective : str
        ``"expected"`` (stochastic) or ``"worst_case"`` (robust).
    """

    plan: pd.DataFrame
    scenario_costs: np.ndarray
    probabilities: np.ndarray
    expected_cost: float
    worst_case_cost: float
    objective: str

    def to_frame(self) -> pd.DataFrame:
        """Return one row per scenario: probability and cost.

        Examples
        --------
        >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
        >>> two_stage_schedule(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]]).to_frame()
                  probability  cost
        scenario
        0                 0.5   0.0
        1                 0.5   0.4
        """
        return pd.DataFrame(
            {"probability": self.probabilities, "cost": self.scenario_costs},
            index=pd.RangeIndex(self.scenario_costs.size, name="scenario"),
        )


@dataclass(frozen=True, eq=False)
class StochasticValue:
    """Wait-and-see, recourse and expected-value results, and the two values they define.

    Attributes
    ----------
    ws, rp, eev : float
        Expected costs: wait-and-see, recourse problem, and the expected
        result of the expected-value (mean-PV) solution.
    ev : float
        The optimal cost of the expected-value problem itself (the plan for
        the mean PV, costed as if the mean came true).  Because the PV enters
        only the right-hand side of a linear program, ``ev <= ws <= rp <= eev``
        (Birge and Louveaux 2011, section 4.2; Madansky 1960).
    evpi, vss : float
        ``rp - ws`` and ``eev - rp``; both >= 0 (up to solver tolerance).
    recourse : TwoStageSchedule
        The recourse problem's plan and its scenario costs.
    expected_value : TwoStageSchedule
        The mean-PV plan evaluated in every scenario (its expected cost is ``eev``).
    wait_and_see_costs : numpy.ndarray
        Each scenario's cost with a plan made knowing that scenario.
    """

    ws: float
    rp: float
    eev: float
    ev: float
    evpi: float
    vss: float
    recourse: TwoStageSchedule
    expected_value: TwoStageSchedule
    wait_and_see_costs: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Return the five numbers, one row each, with what they mean.

        Examples
        --------
        >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
        >>> stochastic_value(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]]).to_frame()["value"].round(4)
        WS      0.15
        RP      0.20
        EEV     0.25
        EVPI    0.05
        VSS     0.05
        Name: value, dtype: float64
        """
        meaning = {
            "WS": "wait-and-see: expected cost with the PV known in advance",
            "RP": "recourse problem: expected cost of the best plan made before the PV is known",
            "EEV": "expected cost of the plan made for the mean PV",
            "EVPI": "RP - WS: what a perfect PV forecast is worth",
            "VSS": "EEV - RP: what planning with scenarios instead of the mean is worth",
        }
        values = [self.ws, self.rp, self.eev, self.evpi, self.vss]
        return pd.DataFrame({"value": values, "meaning": list(meaning.values())}, index=list(meaning))


# --------------------------------------------------------------------------- public functions


@renamed_keywords(buy_price="price_buy", sell_price="price_sell")
def two_stage_schedule(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities=None, *, dt_h: float = 1.0,
                       objective: str = "expected") -> TwoStageSchedule:
    """Plan the batteries before the PV is known: stochastic (expected cost) or robust (worst case).

    Parameters
    ----------
    prosumer : Prosumer
        A base load and one or more :class:`~te_course.prosumer.Battery`
        (no other devices: PV comes from the scenarios).
    price_buy, price_sell : float or array_like
        Prices per kWh, scalar or one per step; ``price_sell`` <= ``price_buy``
        (``None``: exports earn nothing).  The old keywords ``buy_price`` and
        ``sell_price`` still work for one release, with a ``DeprecationWarning``.
    pv_scenarios_kw : array_like, shape (n_scenarios, n_steps)
        PV output available in each scenario and step, kW (>= 0).
    probabilities : array_like, optional
        One per scenario, >= 0, summing to 1; equal when None.
    dt_h : float
        Step length, hours.
    objective : {"expected", "worst_case"}
        Minimise the expected cost (two-stage stochastic program) or the
        largest scenario cost (robust counterpart over the scenario set).

    Returns
    -------
    TwoStageSchedule

    Raises
    ------
    ValueError
        Bad shapes, negative PV, probabilities that are negative or do not sum
        to 1, a prosumer without a battery, ``price_sell > price_buy``.
    InfeasibleError
        If the batteries' limits (``soc_end_kwh``, ``ramp_kw``) cannot all be met.

    Examples
    --------
    Charge 1 kWh in step 0 and use it in step 1: free if the sun shines
    (PV 1 kW), 0.4 from the grid if not.  The stochastic plan charges
    (expected cost 0.2); the robust plan does not (worst case 0.3, not 0.4).

    >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
    >>> sto = two_stage_schedule(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]])
    >>> rob = two_stage_schedule(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]], objective="worst_case")
    >>> float(sto.plan.loc[0, "battery_charge_kw"]), round(sto.expected_cost, 4), round(sto.worst_case_cost, 4)
    (1.0, 0.2, 0.4)
    >>> float(rob.plan.loc[0, "battery_charge_kw"]), round(rob.expected_cost, 4), round(rob.worst_case_cost, 4)
    (0.0, 0.3, 0.3)
    """
    if objective not in _OBJECTIVES:
        raise ValueError(f"`objective` must be one of {_OBJECTIVES}; got {objective!r}.")
    inp = _inputs(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities, dt_h)
    costs, plans = _solve_lp(inp, inp.pv, inp.prob, shared=True, objective=objective)
    if objective == "worst_case":
        # the min-max LP only pins down the worst scenario's second stage; cost the plan in every
        # scenario with its best recourse
        costs, _ = _solve_lp(inp, inp.pv, inp.prob, shared=True, fixed=[(c, d) for c, d, _ in plans])
    return _schedule(inp, costs, plans, objective)


def _schedule(inp: _Inputs, costs, plans, objective) -> TwoStageSchedule:
    """Gather a plan and its scenario costs into a :class:`TwoStageSchedule`."""
    costs = _clean_costs(costs, inp)
    return TwoStageSchedule(
        plan=_plan_frame(inp.batteries, plans),
        scenario_costs=costs,
        probabilities=inp.prob.copy(),
        expected_cost=float(inp.prob @ costs),
        worst_case_cost=float(costs.max()),
        objective=objective,
    )


@renamed_keywords(buy_price="price_buy", sell_price="price_sell")
def recourse_costs(prosumer, plan: pd.DataFrame, price_buy, price_sell, pv_scenarios_kw, *,
                   dt_h: float = 1.0) -> np.ndarray:
    """Return the cost of a fixed battery ``plan`` in every PV scenario (the second stage alone).

    Parameters
    ----------
    prosumer : Prosumer
        As in :func:`two_stage_schedule`.
    plan : pandas.DataFrame
        ``<battery>_charge_kw`` and ``<battery>_discharge_kw`` per step, e.g.
        ``two_stage_schedule(...).plan``.  The plan is taken as given; its
        state of charge is not re-checked.
    price_buy, price_sell, pv_scenarios_kw, dt_h
        As in :func:`two_stage_schedule`.

    Returns
    -------
    numpy.ndarray
        One cost per scenario.

    Examples
    --------
    >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
    >>> plan = pd.DataFrame({"battery_charge_kw": [0.5, 0.0], "battery_discharge_kw": [0.0, 0.5]})
    >>> recourse_costs(p, plan, [0.4, 0.3], 0.0, [[1, 0], [0, 0]]).round(4)
    array([0.15, 0.35])
    """
    inp = _inputs(prosumer, price_buy, price_sell, pv_scenarios_kw, None, dt_h)
    fixed = _fixed_plan(inp.batteries, plan, prosumer.n_steps)
    costs, _ = _solve_lp(inp, inp.pv, inp.prob, shared=True, fixed=fixed)
    return _clean_costs(costs, inp)


@renamed_keywords(buy_price="price_buy", sell_price="price_sell")
def stochastic_value(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities=None, *,
                     dt_h: float = 1.0) -> StochasticValue:
    """Compute WS, RP, EEV, EVPI = RP - WS and VSS = EEV - RP for a prosumer with a battery.

    The definitions and their sources are in the module docstring
    (:mod:`te_course.uncertainty`; Birge and Louveaux 2011, ch. 4).  The first
    stage is the battery's charge and discharge plan for the whole horizon;
    the second stage, once the PV is known, is grid import, export and PV
    curtailment.  The expected-value solution is the recourse plan for the
    probability-weighted mean PV profile.

    Parameters
    ----------
    prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities, dt_h
        As in :func:`two_stage_schedule`.

    Returns
    -------
    StochasticValue

    Raises
    ------
    ValueError
        As in :func:`two_stage_schedule`.

    Examples
    --------
    Load 1 kW in step 1 only; a 1 kWh lossless battery; PV in step 0 is
    1 kW (sunny) or 0 (cloudy), equally likely; buying costs 0.4 then 0.3,
    selling earns nothing.  Charging x kWh costs 0.3 (1 - x) if sunny and
    0.3 + 0.1 x if cloudy: RP charges fully (0.2), a clairvoyant pays 0 or
    0.3 (WS = 0.15), the mean-PV plan charges 0.5 kWh (EEV = 0.25).

    >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
    >>> v = stochastic_value(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]])
    >>> round(v.ws, 6), round(v.rp, 6), round(v.eev, 6), round(v.evpi, 6), round(v.vss, 6)
    (0.15, 0.2, 0.25, 0.05, 0.05)
    """
    inp = _inputs(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities, dt_h)
    rp_costs, rp_plans = _solve_lp(inp, inp.pv, inp.prob, shared=True)
    ws_costs, _ = _solve_lp(inp, inp.pv, inp.prob, shared=False)
    mean_pv = (inp.prob @ inp.pv)[None, :]
    ev_costs, ev_plans = _solve_lp(inp, mean_pv, np.ones(1), shared=True)
    fixed = [(c, d) for c, d, _ in ev_plans]
    eev_costs, _ = _solve_lp(inp, inp.pv, inp.prob, shared=True, fixed=fixed)
    recourse = _schedule(inp, rp_costs, rp_plans, "expected")
    expected_value = _schedule(inp, eev_costs, ev_plans, "expected")
    ws = float(inp.prob @ _clean_costs(ws_costs, inp))
    rp, eev = recourse.expected_cost, expected_value.expected_cost
    return StochasticValue(
        ws=ws, rp=rp, eev=eev, ev=float(_clean_costs(ev_costs, inp)[0]), evpi=rp - ws, vss=eev - rp, recourse=recourse,
        expected_value=expected_value, wait_and_see_costs=_clean_costs(ws_costs, inp),
    )


def _tail(costs: np.ndarray, prob: np.ndarray, alpha: float) -> tuple[float, float, np.ndarray]:
    """Return the VaR, the CVaR and each scenario's weight in the CVaR of a discrete cost distribution.

    VaR is the smallest cost ``c`` with ``P(cost <= c) >= alpha``; the CVaR is the
    Rockafellar-Uryasev function ``eta + E[max(cost - eta, 0)] / (1 - alpha)`` at
    ``eta = VaR``, where it is smallest (Rockafellar and Uryasev 2000, Theorem 1).
    """
    order = np.argsort(costs, kind="stable")
    below = np.cumsum(prob[order])
    k = min(int(np.searchsorted(below, alpha - _PROB_TOL)), costs.size - 1)
    var = float(costs[order[k]])
    cvar = var + math.fsum(prob * np.maximum(costs - var, 0.0)) / (1.0 - alpha)
    weight = np.where(costs > var, prob / (1.0 - alpha), 0.0)  # the tail beyond the VaR, in full
    at_var = costs == var
    weight[at_var] = max(0.0, 1.0 - float(weight.sum())) * prob[at_var] / max(float(prob[at_var].sum()), 1e-300)
    return var, float(cvar), weight


@dataclass(frozen=True, eq=False)
class RiskAverseSchedule:
    """A battery plan that minimises ``(1 - risk_weight) E[cost] + risk_weight CVaR_alpha[cost]``.

    Attributes
    ----------
    plan : pandas.DataFrame
        The first stage, as in :class:`TwoStageSchedule`.
    scenario_costs : numpy.ndarray
        The plan's cost in each scenario, with the best recourse.
    probabilities : numpy.ndarray
    expected_cost : float
        ``probabilities @ scenario_costs``.
    var, cvar : float
        Value at risk and conditional value at risk of the costs at level
        ``alpha``: the smallest cost not exceeded with probability ``alpha``,
        and the expected cost in the worst ``1 - alpha`` of the probability.
    tail_weights : numpy.ndarray
        Each scenario's weight in the CVaR (they sum to 1; ``cvar =
        tail_weights @ scenario_costs``).
    alpha, risk_weight : float
        The arguments of :func:`cvar_schedule`.
    """

    plan: pd.DataFrame
    scenario_costs: np.ndarray
    probabilities: np.ndarray
    expected_cost: float
    var: float
    cvar: float
    tail_weights: np.ndarray
    alpha: float
    risk_weight: float

    def to_frame(self) -> pd.DataFrame:
        """Return one row per scenario: probability, cost and weight in the CVaR.

        Examples
        --------
        >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
        >>> cvar_schedule(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]], alpha=0.5, risk_weight=0.25).to_frame()
                  probability  cost  tail_weight
        scenario
        0                 0.5   0.0          0.0
        1                 0.5   0.4          1.0
        """
        return pd.DataFrame(
            {"probability": self.probabilities, "cost": self.scenario_costs, "tail_weight": self.tail_weights},
            index=pd.RangeIndex(self.scenario_costs.size, name="scenario"),
        )


@renamed_keywords(buy_price="price_buy", sell_price="price_sell")
def cvar_schedule(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities=None, *, alpha: float = 0.9,
                  risk_weight: float = 1.0, dt_h: float = 1.0) -> RiskAverseSchedule:
    """Plan the batteries before the PV is known, averse to the risk of a costly day (CVaR).

    Minimises ``(1 - risk_weight) E[Q(x, xi)] + risk_weight CVaR_alpha[Q(x, xi)]``
    over the battery plan ``x``, where the CVaR is the expected cost in the
    worst ``1 - alpha`` of the probability.  The CVaR enters in the linear form
    of Rockafellar and Uryasev (2000)::

        min  (1 - w) sum_s p_s Q_s + w (eta + 1/(1 - alpha) sum_s p_s u_s)
        s.t. u_s >= Q_s - eta,  u_s >= 0,  and the battery and balance constraints

    so the whole problem stays one linear program (the extensive form of
    :func:`two_stage_schedule` with one more variable ``eta`` and one ``u_s`` per
    scenario).  ``risk_weight = 0`` is the expected-cost plan, ``alpha = 0``
    makes the CVaR the expected cost, and ``risk_weight = 1`` with ``alpha``
    above ``1 - min_s p_s`` is the worst-case plan.  The plan's costs are then
    computed scenario by scenario with the best recourse, and its VaR and
    CVaR from them (the CVaR equals the LP's term when ``risk_weight > 0``).

    Parameters
    ----------
    prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities, dt_h
        As in :func:`two_stage_schedule`.
    alpha : float
        The level, in [0, 1): the CVaR averages the costs beyond the
        ``alpha``-quantile (0.9: the worst 10 %).
    risk_weight : float
        ``w`` in [0, 1]: how much of the objective is the CVaR.

    Returns
    -------
    RiskAverseSchedule

    Raises
    ------
    ValueError
        As in :func:`two_stage_schedule`, and ``alpha`` outside [0, 1) or
        ``risk_weight`` outside [0, 1].

    Examples
    --------
    The two-hour case of :func:`two_stage_schedule`: charging ``x`` kWh costs
    ``0.3 (1 - x)`` if sunny and ``0.3 + 0.1 x`` if cloudy.  With ``alpha = 0.5``
    the CVaR is the cloudy cost; weighting it by 0.75 makes ``0.3 + 0.05 x``,
    so the plan does not charge; weighting it by 0.25 makes ``0.3 - 0.05 x``,
    so it charges fully.

    >>> p = Prosumer([0.0, 1.0], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
    >>> averse = cvar_schedule(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]], alpha=0.5, risk_weight=0.75)
    >>> bold = cvar_schedule(p, [0.4, 0.3], 0.0, [[1, 0], [0, 0]], alpha=0.5, risk_weight=0.25)
    >>> float(averse.plan.loc[0, "battery_charge_kw"]), round(averse.expected_cost, 4), round(averse.cvar, 4)
    (0.0, 0.3, 0.3)
    >>> float(bold.plan.loc[0, "battery_charge_kw"]), round(bold.expected_cost, 4), round(bold.cvar, 4)
    (1.0, 0.2, 0.4)
    """
    level = scalar_float(alpha, "alpha", "a number in [0, 1)")
    if not 0.0 <= level < 1.0:
        raise ValueError(f"`alpha` must lie in [0, 1) (0.9: the worst 10 % of the scenarios); got {alpha!r}.")
    weight = scalar_float(risk_weight, "risk_weight", "a number between 0 and 1")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"`risk_weight` must lie between 0 (expected cost) and 1 (CVaR alone); got {risk_weight!r}.")
    inp = _inputs(prosumer, price_buy, price_sell, pv_scenarios_kw, probabilities, dt_h)
    _, plans = _solve_lp(inp, inp.pv, inp.prob, shared=True, objective="cvar", risk=(level, weight))
    # the CVaR term pins down only the tail's second stage: cost the plan in every scenario with its best recourse
    costs, _ = _solve_lp(inp, inp.pv, inp.prob, shared=True, fixed=[(c, d) for c, d, _ in plans])
    costs = _clean_costs(costs, inp)
    var, cvar, tail = _tail(costs, inp.prob, level)
    return RiskAverseSchedule(
        plan=_plan_frame(inp.batteries, plans), scenario_costs=costs, probabilities=inp.prob.copy(),
        expected_cost=float(inp.prob @ costs), var=var, cvar=cvar, tail_weights=tail, alpha=level,
        risk_weight=weight,
    )


def _number(value, name: str) -> float:
    """Return ``value`` as a float, or raise naming ``name``."""
    if isinstance(value, (str, bytes, bool, np.bool_, complex, np.complexfloating)) or value is None:
        raise TypeError(f"`{name}` must be a number; got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number; got {value!r}.") from None
    except OverflowError:  # an integer beyond the floats
        raise ValueError(f"`{name}` is too large for a float (floats end near 1.8e308).") from None


def pv_scenarios(forecast_kw, n_scenarios: int, *, error_std: float = 0.25, autocorrelation: float = 0.8,
                 p_max_kw: float | None = None, seed=0) -> np.ndarray:
    """Draw PV scenarios around a forecast with a multiplicative, autocorrelated Gaussian error.

    For scenario ``s`` and step ``t``::

        e_s0 ~ N(0, sigma^2),   e_st = rho e_s,t-1 + sqrt(1 - rho^2) N(0, sigma^2)     (AR(1), stationary)
        pv_st = clip(forecast_t (1 + e_st), 0, p_max_kw)

    Forecast errors of solar power are correlated from one hour to the next;
    an AR(1) error with a Gaussian marginal is the simplest model that keeps
    that (Pinson, Madsen, Nielsen, Papaefthymiou and Kloeckl, "From
    probabilistic forecasts to statistical scenarios of short-term wind power
    production", Wind Energy 12(1), 2009, use the same idea through a Gaussian
    copula).  At night (forecast 0) every scenario is 0.

    Parameters
    ----------
    forecast_kw : array_like
        The point forecast, kW (>= 0), one value per step.
    n_scenarios : int
        How many scenarios (>= 1); ``n_scenarios`` times the steps is at most
        ``MAX_SCENARIO_VALUES`` = 10,000,000.
    error_std : float
        ``sigma``, the relative error's standard deviation (>= 0).
    autocorrelation : float
        ``rho`` in [0, 1).
    p_max_kw : float, optional
        The inverter's rating: no scenario exceeds it.
    seed : None, int or numpy.random.Generator
        Randomness only through this (a Generator is used as is; see
        :func:`te_course._validation.as_generator`).

    Returns
    -------
    numpy.ndarray, shape (n_scenarios, n_steps)

    Raises
    ------
    ValueError
        If a scenario exceeds the float range (about 1.8e308) and no
        ``p_max_kw`` caps it.

    Examples
    --------
    >>> s = pv_scenarios([0.0, 2.0, 4.0, 2.0, 0.0], 500, error_std=0.2, seed=1)
    >>> s.shape, float(s[:, 0].max()), bool((s >= 0).all())
    ((500, 5), 0.0, True)
    >>> bool(abs(s[:, 2].mean() - 4.0) < 4 * 0.2 * 4.0 / 500 ** 0.5)  # within four standard errors
    True
    """
    forecast = as_1d_float(forecast_kw, "forecast_kw")
    check_nonnegative(forecast, "forecast_kw", "PV outputs (kW)")
    _check_scenario_count(n_scenarios, forecast.size)
    sigma = _number(error_std, "error_std")
    check_finite(np.array([sigma]), "error_std", "values")
    if sigma < 0:
        raise ValueError(f"`error_std` must be >= 0; got {error_std!r}.")
    rho = _number(autocorrelation, "autocorrelation")
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"`autocorrelation` must lie in [0, 1); got {autocorrelation!r}.")
    cap = np.inf if p_max_kw is None else as_positive_float(p_max_kw, "p_max_kw")
    e = _ar1_errors(as_generator(seed, "seed"), int(n_scenarios), forecast.size, rho)
    with np.errstate(over="ignore", invalid="ignore"):
        # Beyond the float range sigma e, then the product, is +-inf (never NaN), which the clip to
        # [0, p_max_kw] maps to the right answer, unless there is no p_max_kw; the night stays 0.
        pv = np.clip(np.where(forecast[None, :] > 0, forecast[None, :] * (1.0 + sigma * e), 0.0), 0.0, cap)
    if not np.isfinite(pv).all():
        s, t = (int(v) for v in np.argwhere(~np.isfinite(pv))[0])
        raise ValueError(
            f"Scenario {s} at step {t} leaves the float range (about 1.8e308): `forecast_kw` ({forecast[t]:g} kW) "
            f"times 1 plus an error of `error_std` = {sigma:g} overflows. Give PV outputs in kW and a relative "
            "error_std of order 0.1-1, or a `p_max_kw`."
        )
    return pv


def _check_scenario_count(n_scenarios, n_steps: int) -> None:
    """Raise unless ``n_scenarios`` is a positive integer and the scenarios hold at most MAX_SCENARIO_VALUES numbers."""
    if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, (int, np.integer)) or n_scenarios < 1:
        raise ValueError(f"`n_scenarios` must be a positive integer; got {n_scenarios!r}.")
    if n_scenarios * n_steps > MAX_SCENARIO_VALUES:
        count = f"{int(n_scenarios):,}" if n_scenarios < 10**15 else f"about 1e{len(str(int(n_scenarios))) - 1}"
        raise ValueError(
            f"`n_scenarios` = {count} scenarios of {n_steps} steps is more than the "
            f"{MAX_SCENARIO_VALUES:,} numbers pv_scenarios draws (80 MB); a few hundred scenarios are plenty for a "
            "two-stage problem."
        )


def _ar1_errors(rng: np.random.Generator, n_scenarios: int, n_steps: int, rho: float) -> np.ndarray:
    """Draw the stationary AR(1) errors of :func:`pv_scenarios` for ``sigma = 1``, one row per scenario."""
    z = rng.standard_normal((n_scenarios, n_steps))
    e = np.empty_like(z)  # sigma = 1 (moderate numbers), scaled by sigma by the caller
    e[:, 0] = z[:, 0]
    scale = math.sqrt(1.0 - rho * rho)
    for t in range(1, n_steps):
        e[:, t] = rho * e[:, t - 1] + scale * z[:, t]
    return e
