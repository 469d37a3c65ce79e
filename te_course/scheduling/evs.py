"""EVs on a feeder: uncontrolled and cheapest-first charging, an EV fleet, and the EV study of chapter 9.

The operator's side is :mod:`te_course.scheduling.day` (the day-ahead OPF and its DLMPs);
here are the cars: :func:`uncontrolled_charging` (full power from plug-in),
:func:`cheapest_first_charging` (a price taker's cost-minimising schedule at given prices),
:func:`ev_fleet` (cars per household spread over the buses, some of them price-responsive)
and :func:`ev_study`, which puts a fleet on a feeder, clears the day and checks it with
the AC power flow (after Li, Wu and Oren, IEEE Trans. Power Systems 29(1), 2014).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._deprecation import keywords_were_positional
from .._device_model import step_hours
from .._validation import (
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_positive_float,
    check_finite,
    check_fraction,
)
from .._validation import label as _label
from ..devices import EV, Prosumer
from ..feeders import Feeder, check_feeder
from .day import (
    DayFlows,
    DayResult,
    EVDayModel,
    day_ahead_dlmp,
    evaluate_day,
    read_horizon,
    read_pairs,
    read_profile,
)

__all__ = ["uncontrolled_charging", "cheapest_first_charging", "EVFleet", "ev_fleet", "EVStudy", "ev_study",
           "EVStudyProblem", "MAX_STEPS"]

#: At most this many steps in a day (:func:`ev_fleet`'s ``n_steps``): a year of 5-minute steps.
MAX_STEPS = 105_120


def uncontrolled_charging(ev: EV, *, dt_h: float = 1.0, arrival_step: int | None = None) -> np.ndarray:
    """Return the charging power of an EV that charges at full power as soon as it is plugged in.

    From ``arrival_step`` on (by default the step where its plug-in window starts,
    read cyclically so that a car plugged in from 18:00 to 07:00 of a 24-step day
    starts at step 18), the EV draws ``p_max_kw`` in every plugged-in step until it
    has stored ``e_need_kwh`` (the last step partly), going round the day once.

    Parameters
    ----------
    ev : EV
        The car (:class:`te_course.prosumer.EV`).
    dt_h : float
        Step length, hours.
    arrival_step : int, optional
        Where charging starts.

    Returns
    -------
    numpy.ndarray
        Charging power per step, kW.

    Examples
    --------
    >>> car = EV([1] * 7 + [0] * 11 + [1] * 6, e_need_kwh=20.0, p_max_kw=7.0, eta=1.0)
    >>> uncontrolled_charging(car)[[18, 19, 20, 21]].round(4).tolist()
    [7.0, 7.0, 6.0, 0.0]
    """
    if not isinstance(ev, EV):
        raise TypeError(f"`ev` must be a te_course EV; got {type(ev).__name__}.")
    dt = step_hours(dt_h, positive="a positive number")
    ev.check_feasible(dt)
    avail = ev.available
    T = avail.size
    if arrival_step is None:
        start = _plug_in_step(avail)
    else:
        if isinstance(arrival_step, bool) or not isinstance(arrival_step, (int, np.integer)) or not (
                0 <= arrival_step < T):
            raise ValueError(f"`arrival_step` must be an integer step in [0, {T}); got {arrival_step!r}.")
        start = int(arrival_step)
    power = np.zeros(T)
    need = ev.e_need_kwh
    for t in np.r_[start:T, 0:start]:
        if need <= 1e-12:
            break
        if avail[t]:
            p = min(ev.p_max_kw, need / (ev.eta * dt))
            power[t] = p
            need -= p * ev.eta * dt
    return power  # the EV's own check above guarantees that one round of the day is enough


def _plug_in_step(available: np.ndarray) -> int:
    """Return the first step of the plug-in window, read cyclically (0 when the EV is always plugged in)."""
    starts = np.flatnonzero(available & ~np.roll(available, 1))
    return int(starts[0]) if starts.size else 0


def _plug_in_order(available: np.ndarray) -> np.ndarray:
    """Return the plugged-in steps in the order they come after plug-in."""
    start = _plug_in_step(available)
    steps = np.r_[start:available.size, 0:start]
    return steps[available[steps]]


def cheapest_first_charging(prices: pd.DataFrame, prosumers, *, tol: float = 1e-5, dt_h: float = 1.0) -> pd.DataFrame:
    """Return a cost-minimising charging schedule of each EV at given prices: cheapest steps first, ties earliest.

    Each EV is a price taker: it minimises ``sum_t price_t e_t dt`` subject to
    ``0 <= e_t <= p_max_kw * available_t`` and ``sum_t eta e_t dt = e_need_kwh``,
    with the prices of its bus.  With linear costs the greedy rule is optimal
    (the continuous knapsack; Dantzig, "Discrete-variable extremum
    problems", Operations Research 5(2), 266-288, 1957):
    charge at full power in the cheapest plugged-in step, then the next
    cheapest, until the energy is delivered.  When several steps cost the same,
    every split of the energy among them is optimal too; this rule takes them
    in the order they come after plug-in (read cyclically, as in
    :func:`uncontrolled_charging`), so it charges each car in as few steps as
    possible and as early as the prices allow.  It is one cost-minimising
    schedule, not necessarily the operator's: at DLMPs from an OPF whose cost is
    linear in the cars' power (as in :func:`day_ahead_dlmp`) it need not keep
    the network's limits (Huang, Wu, Oren, Li and Liu, "Distribution
    locational marginal pricing through quadratic programming for congestion
    management in distribution networks", IEEE Trans. Power Systems 30(4),
    2170-2178, 2015, call this the multiple-solution issue).

    Prices are counted as equal when they differ by at most ``tol`` (DLMPs
    read from a solver's duals carry small errors): starting from the cheapest
    step left, every step priced within ``tol`` of it forms one group, filled
    in plug-in order.  The schedule's cost then exceeds the least cost by at
    most ``tol`` times the energy drawn; with ``tol=0`` it is the least cost.

    Parameters
    ----------
    prices : pandas.DataFrame
        Currency per kWh, one row per step and one column per bus, e.g.
        ``DayResult.prices``.
    prosumers : dict, list or EVFleet
        ``{bus: Prosumer or [Prosumer, ...]}``, ``[(bus, Prosumer), ...]`` or
        an :class:`EVFleet`; every prosumer holds EVs only, over the steps of
        ``prices``.
    tol : float
        Largest price difference (currency per kWh) counted as a tie, >= 0.
    dt_h : float
        Step length, hours.

    Returns
    -------
    pandas.DataFrame
        Charging power (kW, drawn from the grid) per step and bus, the shape of
        ``prices`` (zero at buses without EVs).

    Raises
    ------
    ValueError
        Unknown buses, prosumers that hold other devices or another number of
        steps, NaN prices, a negative ``tol``, an EV that cannot get its energy.
    TypeError
        ``prices`` that is not a DataFrame, ``prosumers`` of another kind.

    Examples
    --------
    A car plugged in at step 2 and until the end of step 0 (cyclically: steps
    2, 3, 0) needs two full steps; the three cost the same, so it takes the
    first two after plug-in:

    >>> from te_course.prosumer import EV, Prosumer
    >>> car = Prosumer(np.zeros(4), [EV([1, 0, 1, 1], e_need_kwh=14.0, p_max_kw=7.0, eta=1.0)], name="car")
    >>> prices = pd.DataFrame({"home": [0.10, 0.30, 0.10, 0.10]})
    >>> cheapest_first_charging(prices, {"home": car})["home"].tolist()
    [0.0, 0.0, 7.0, 7.0]
    """
    if not isinstance(prices, pd.DataFrame):
        raise TypeError("`prices` must be a DataFrame with one row per step and one column per bus.")
    table = as_float_array(prices.to_numpy(), "prices")  # text or lists in a cell: an error naming `prices`
    check_finite(table.ravel(), "prices", "prices")
    tie = as_finite_float(tol, "tol")
    if tie < 0:
        raise ValueError(f"`tol` must be >= 0 (currency per kWh); got {tol!r}.")
    dt = step_hours(dt_h, positive="a positive number")
    if isinstance(prosumers, EVFleet):
        prosumers = prosumers.prosumers
    pairs = read_pairs(prosumers, ", a list of (bus, Prosumer) pairs or an EVFleet")
    out = pd.DataFrame(0.0, index=prices.index, columns=prices.columns)
    for i, (bus, p) in enumerate(pairs):
        _check_ev_prosumer(i, bus, p, prices)
        c = table[:, out.columns.get_loc(bus)]
        for ev in p.devices:
            out[bus] += _cheapest_first(ev, c, tie=tie, dt=dt)
    return out


def _check_ev_prosumer(i: int, bus, p, prices: pd.DataFrame) -> None:
    """Raise unless ``p`` is a Prosumer of EVs only, at a bus of ``prices``, over its steps."""
    if not isinstance(p, Prosumer):
        raise TypeError(f"`prosumers` entry {i} is a {type(p).__name__}; place te_course Prosumer objects.")
    if bus not in prices.columns:
        raise ValueError(f"`prosumers` places {p.name!r} at bus {bus!r}, which is not a column of `prices`.")
    if p.n_steps != len(prices):
        raise ValueError(f"`prosumers`: {p.name!r} has {p.n_steps} steps; `prices` has {len(prices)}.")
    others = [type(d).__name__ for d in p.devices if not isinstance(d, EV)]
    if others:
        raise ValueError(f"`prosumers`: {p.name!r} holds a {others[0]}; cheapest_first_charging schedules "
                         "EVs only.")


def _cheapest_first(ev: EV, c: np.ndarray, *, tie: float, dt: float) -> np.ndarray:
    """Return one EV's charging power (kW per step) at prices ``c``: cheapest group first, each in plug-in order."""
    ev.check_feasible(dt)
    left = ev.e_need_kwh / (ev.eta * dt)  # kW x steps still to draw from the grid
    queue = list(_plug_in_order(ev.available))
    power = np.zeros(c.size)
    while queue and left > 1e-12:
        cheapest = min(c[t] for t in queue)
        group = [t for t in queue if c[t] <= cheapest + tie]  # in plug-in order
        for t in group:
            power[t] = min(ev.p_max_kw, left)
            left -= power[t]
            if left <= 1e-12:
                break
        queue = [t for t in queue if t not in group]
    return power


# --------------------------------------------------------------------------- an EV fleet on a feeder


@dataclass(frozen=True, eq=False)
class EVFleet:
    """EVs spread over a feeder's buses: the price-responsive ones as prosumers, the others as fixed load.

    Attributes
    ----------
    prosumers : dict
        ``{bus: Prosumer}``, one aggregated EV per bus (the responsive cars of that
        bus), ready for :func:`day_ahead_dlmp`.
    fixed_kw : pandas.DataFrame
        The uncontrolled cars' charging, steps x buses (``fixed_kw`` of :func:`day_ahead_dlmp`).
    counts : pandas.DataFrame
        Per bus: ``evs``, ``responsive``, ``uncontrolled``.
    ev : EV
        One car (availability, energy need, charger).
    """

    prosumers: dict
    fixed_kw: pd.DataFrame
    counts: pd.DataFrame
    ev: EV

    def to_frame(self) -> pd.DataFrame:
        """Return the counts per bus."""
        return self.counts.copy()


_MAX_CARS_PER_BUS = 1e9


def ev_fleet(feeder: Feeder, penetration: float, *, share_responsive: float = 1.0, kw_per_household: float = 2.0,
             p_max_kw: float = 3.7, e_need_kwh: float = 10.0, arrival_step: int = 18, departure_step: int = 7,
             n_steps: int = 24, eta: float = 0.9) -> EVFleet:
    """Put EVs on every load bus: ``penetration`` cars per household, a share of them price-responsive.

    A bus with load ``p_kw`` is taken to have ``p_kw / kw_per_household``
    households (an assumption for teaching, not data); it gets
    ``round(penetration * households)`` cars, all alike: plugged in from
    ``arrival_step`` to ``departure_step`` (cyclically, so 18 to 7 is the
    night), needing ``e_need_kwh`` with a ``p_max_kw`` charger.  The
    responsive cars of a bus are aggregated into one EV whose power and energy
    are the sums (exact for identical cars in a linear program); the others
    charge as soon as they arrive (:func:`uncontrolled_charging`).

    Parameters
    ----------
    feeder : Feeder
    penetration : float
        Cars per household, >= 0.
    share_responsive : float
        Share of the cars that respond to DLMPs, in [0, 1].
    kw_per_household, p_max_kw, e_need_kwh, eta : float
        Household peak load, charger power, energy per car per day, charging efficiency.
    arrival_step, departure_step, n_steps : int
        Plug-in window and horizon (``n_steps`` at most ``MAX_STEPS`` = 105,120).

    Returns
    -------
    EVFleet

    Raises
    ------
    TypeError
        If ``penetration`` is not one number (a list of penetrations, for instance).
    ValueError
        If a number is out of range, or ``penetration`` puts more than 1e9 cars
        at one bus.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> fleet = ev_fleet(ieee33(), 0.2, share_responsive=0.5)
    >>> int(fleet.counts["evs"].sum()), int(fleet.counts["responsive"].sum())
    (371, 182)
    >>> round(float(fleet.fixed_kw.loc[18].sum()), 1)  # the uncontrolled cars at 18:00, kW
    699.3
    """
    feeder = check_feeder(feeder)
    if as_1d_float(penetration, "penetration", allow_scalar=True).ndim != 0:
        raise TypeError(f"`penetration` must be one number (cars per household); got {penetration!r}. "
                        "Call ev_fleet once per penetration.")
    pen = as_finite_float(penetration, "penetration")
    if pen < 0:
        raise ValueError(f"`penetration` must be a number >= 0 (cars per household); got {penetration!r}.")
    share = check_fraction(share_responsive, "share_responsive")
    kw_hh = as_positive_float(kw_per_household, "kw_per_household")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or not 1 <= n_steps <= MAX_STEPS:
        raise ValueError(f"`n_steps` must be a positive integer of at most {MAX_STEPS:,} (a year of 5-minute "
                         f"steps); got {n_steps!r}.")
    avail = _plug_in_window(arrival_step, departure_step, n_steps)
    car = EV(avail, e_need_kwh, p_max_kw, eta=eta, name="ev")
    one = uncontrolled_charging(car, arrival_step=int(arrival_step))
    counts = _cars_per_bus(feeder, pen, kw_hh)
    responsive = np.rint(share * counts).astype(int)
    uncontrolled = counts - responsive
    prosumers = {}
    for bus, k in zip(feeder.buses.index, responsive):
        if k > 0:
            fleet = EV(avail, k * car.e_need_kwh, k * car.p_max_kw, eta=car.eta, name="ev")
            prosumers[bus] = Prosumer(np.zeros(n_steps), [fleet], name=f"evs at bus {_label(bus)}")
    fixed = pd.DataFrame(np.outer(one, uncontrolled), index=pd.RangeIndex(n_steps, name="step"),
                         columns=feeder.buses.index)
    table = pd.DataFrame({"evs": counts, "responsive": responsive, "uncontrolled": uncontrolled},
                         index=feeder.buses.index)
    return EVFleet(prosumers=prosumers, fixed_kw=fixed, counts=table, ev=car)


def _plug_in_window(arrival_step, departure_step, n_steps: int) -> np.ndarray:
    """Return the steps (bool per step) from ``arrival_step`` up to ``departure_step``, cyclically; or raise."""
    for name, value in (("arrival_step", arrival_step), ("departure_step", departure_step)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n_steps:
            raise ValueError(f"`{name}` must be an integer step in [0, {n_steps}); got {value!r}.")
    steps = np.arange(n_steps)
    if arrival_step == departure_step:
        raise ValueError("`arrival_step` and `departure_step` are equal: the cars would never be plugged in.")
    if arrival_step < departure_step:
        return (steps >= arrival_step) & (steps < departure_step)
    return (steps >= arrival_step) | (steps < departure_step)


def _cars_per_bus(feeder: Feeder, penetration: float, kw_per_household: float) -> np.ndarray:
    """Return ``round(penetration * households)`` cars per bus (int), households ``p_kw / kw_per_household``."""
    loads = feeder.buses["p_kw"].clip(lower=0.0)
    with np.errstate(over="ignore"):
        cars = np.rint(penetration * loads.to_numpy() / kw_per_household)
    if not np.all(cars <= _MAX_CARS_PER_BUS):  # also catches inf
        i = int(np.argmax(cars))
        bus = _label(feeder.buses.index[i])
        raise ValueError(
            f"`penetration` = {penetration:g} cars per household puts {cars[i]:.3g} cars at bus {bus!r} "
            f"(with `kw_per_household` = {kw_per_household:g}); at most {_MAX_CARS_PER_BUS:.0e} per bus can be "
            "modelled. A realistic penetration is below 3."
        )
    return cars.astype(int)


@dataclass(frozen=True, eq=False)
class EVStudy:
    """Uncontrolled against DLMP-responsive EV charging on a feeder, over a day.

    Attributes
    ----------
    fleet : EVFleet
    day : DayResult
        The OPF: responsive cars scheduled, uncontrolled ones as fixed load (load is
        shed at ``voll`` only where the uncontrolled cars leave no feasible schedule).
    ac : DayFlows
        The exact AC power flow of every step with what the cars really draw (nothing shed).
    responsive_kw : pandas.DataFrame
        The responsive cars' charging in the OPF's schedule, steps x buses (kW; zero where
        a bus has none): the schedule that the cars are assumed to follow.
    ev_costs : pandas.DataFrame
        Per group (``responsive``, ``uncontrolled``): cars, energy per car (kWh from the
        grid), cost per car at the DLMPs of its bus and at the substation price.
    summary : pandas.Series
        ``peak_loading`` and ``v_min_pu`` (AC), their step, bus and line, the energy the
        operator would have to shed (kWh), and the peak substation power.
    """

    fleet: EVFleet
    day: DayResult = field(repr=False)
    ac: DayFlows = field(repr=False)
    responsive_kw: pd.DataFrame = field(repr=False)
    ev_costs: pd.DataFrame
    summary: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """Return the per-step AC summary (:meth:`DayFlows.to_frame`)."""
        return self.ac.to_frame()


@keywords_were_positional("share_responsive")
def ev_study(feeder: Feeder, penetration: float, *, share_responsive: float, price_substation, load_profile,
             v_min_pu: float = 0.9, v_max_pu: float = 1.05, voll: float = 10.0, **fleet_options) -> EVStudy:
    """Put an EV fleet on a feeder, schedule the responsive cars by DLMPs, and check the day with AC power flow.

    After Li, Wu and Oren (IEEE Trans. Power Systems 29(1), 2014): the
    operator's OPF (:func:`day_ahead_dlmp`) gives DLMPs to which the OPF's
    schedule of the responsive cars is a best response, and the responsive
    cars are assumed to follow that schedule (``responsive_kw``).  With linear
    costs it is not always the only best response: other schedules can cost
    the cars the same at the same DLMPs and break a limit
    (:func:`cheapest_first_charging`).  The uncontrolled cars charge as soon
    as they arrive (:func:`uncontrolled_charging`).  Every car pays the DLMP of
    its bus in the steps it charges.

    Parameters
    ----------
    feeder : Feeder
        With line ratings (``s_max_kva``) for loadings, e.g. :func:`te_course.scheduling.rate_lines`.
    penetration, share_responsive : float
        As in :func:`ev_fleet`.  ``share_responsive`` is keyword-only since
        te_course 0.6 (by position it still works for one release, with a
        ``DeprecationWarning``).
    price_substation, load_profile, v_min_pu, v_max_pu, voll
        As in :func:`day_ahead_dlmp` (``voll`` defaults to 10 per kWh here).
    **fleet_options
        Passed to :func:`ev_fleet` (``p_max_kw``, ``e_need_kwh``, ...).

    Returns
    -------
    EVStudy

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> from te_course.prosumer import example_day
    >>> from te_course.scheduling import rate_lines
    >>> load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    >>> f = rate_lines(ieee33(), load_scale=float(load.max()))
    >>> price = example_day()["buy_price"].to_numpy()
    >>> before = ev_study(f, 0.3, share_responsive=0.0, price_substation=price, load_profile=load)
    >>> after = ev_study(f, 0.3, share_responsive=1.0, price_substation=price, load_profile=load)
    >>> round(float(before.summary["peak_loading"]), 2), round(float(after.summary["peak_loading"]), 2)
    (1.24, 0.82)
    """
    fleet = ev_fleet(feeder, penetration, share_responsive=share_responsive, n_steps=read_horizon(
        price_substation, load_profile, [], None), **fleet_options)
    day = day_ahead_dlmp(feeder, fleet.prosumers, price_substation=price_substation, load_profile=load_profile,
                         fixed_kw=fleet.fixed_kw, v_min_pu=v_min_pu, v_max_pu=v_max_pu, voll=voll)
    return _study(feeder, fleet, day, price_substation)


def _study(feeder: Feeder, fleet: EVFleet, day: DayResult, price_substation) -> EVStudy:
    """Check the cleared day with the AC power flow and sum up the cars' costs (the second half of :func:`ev_study`)."""
    drawn = day.net_load_kw + day.shed_kw
    ac = evaluate_day(feeder, drawn, day.net_load_kvar)
    price = read_profile(price_substation, "price_substation", len(day.prices))
    responsive = pd.DataFrame(0.0, index=day.prices.index, columns=feeder.buses.index)
    for bus, p in fleet.prosumers.items():
        responsive[bus] = day.schedules[p.name]["ev_kw"].to_numpy()
    rows = {}
    for group, kw, cars in (("responsive", responsive, int(fleet.counts["responsive"].sum())),
                            ("uncontrolled", fleet.fixed_kw, int(fleet.counts["uncontrolled"].sum()))):
        energy = float(kw.to_numpy().sum()) * day.dt_h
        at_dlmp = float((kw * day.prices).to_numpy().sum()) * day.dt_h
        at_sub = float(kw.sum(axis=1).to_numpy() @ price) * day.dt_h
        per = 1.0 / cars if cars else np.nan
        rows[group] = {"cars": cars, "kwh_per_car": energy * per, "cost_per_car_dlmp": at_dlmp * per,
                       "cost_per_car_energy_price": at_sub * per}
    costs = pd.DataFrame(rows).T
    costs["cars"] = costs["cars"].astype(int)
    loading = ac.loading
    has_limits = bool(loading.notna().any(axis=None))
    stacked = loading.stack() if has_limits else None
    peak_at = stacked.idxmax() if has_limits else (np.nan, np.nan)
    v_at = ac.v_pu.stack().idxmin()
    summary = pd.Series({
        "peak_loading": float(stacked.max()) if has_limits else np.nan,
        "peak_loading_step": peak_at[0],
        "peak_loading_line": peak_at[1],
        "v_min_pu": float(ac.v_pu.min(axis=None)),
        "v_min_step": v_at[0],
        "v_min_bus": v_at[1],
        "shed_kwh": float(day.shed_kw.to_numpy().sum()) * day.dt_h,
        "substation_peak_kw": float(ac.substation_kw.max()),
    }, dtype=object)
    return EVStudy(fleet=fleet, day=day, ac=ac, responsive_kw=responsive, ev_costs=costs, summary=summary)


class EVStudyProblem:
    """The EV study of :func:`ev_study` for one feeder and day, written once, solved for many fleets.

    The day-ahead OPF is built once with cvxpy Parameters (the cars' energy needs and charger
    powers at every bus, the uncontrolled cars' load), so each fleet after the first is a warm
    re-solve: what the EV explorer does at every slider move, and a sweep of penetrations
    and shares does in a loop.  :meth:`solve` returns what :func:`ev_study` returns for the
    same arguments.

    Parameters
    ----------
    feeder, price_substation, load_profile, v_min_pu, v_max_pu, voll
        As in :func:`ev_study`.
    **fleet_options
        Passed to :func:`ev_fleet` at every :meth:`solve` (``p_max_kw``, ``e_need_kwh``, ...).

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> from te_course.prosumer import example_day
    >>> from te_course.scheduling import rate_lines
    >>> load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    >>> f = rate_lines(ieee33(), load_scale=float(load.max()))
    >>> problem = EVStudyProblem(f, price_substation=example_day()["buy_price"].to_numpy(), load_profile=load)
    >>> [round(float(problem.solve(0.3, share_responsive=s).summary["peak_loading"]), 2) for s in (0.0, 1.0)]
    [1.24, 0.82]
    """

    def __init__(self, feeder: Feeder, *, price_substation, load_profile, v_min_pu: float = 0.9,
                 v_max_pu: float = 1.05, voll: float = 10.0, **fleet_options) -> None:
        """Check the day and the fleet options, and write the OPF once (see the class docstring)."""
        self.feeder = check_feeder(feeder)
        self.price_substation = price_substation
        self.n_steps = read_horizon(price_substation, load_profile, [], None)
        self._day = (np.array(price_substation, dtype=float), np.array(load_profile, dtype=float))  # copies
        self.fleet_options = dict(fleet_options)
        car = ev_fleet(self.feeder, 0.0, n_steps=self.n_steps, **self.fleet_options).ev
        self.model = EVDayModel(self.feeder, car, price_substation=price_substation, load_profile=load_profile,
                                v_min_pu=v_min_pu, v_max_pu=v_max_pu, voll=voll)

    def describes(self, feeder: Feeder, price_substation, load_profile) -> bool:
        """Whether this problem was built for ``feeder`` and this day (equal tables, bases, prices and loads).

        Examples
        --------
        >>> from te_course.feeders import ieee33
        >>> from te_course.scheduling import rate_lines
        >>> f, price, load = rate_lines(ieee33()), np.full(24, 0.2), np.full(24, 0.5)
        >>> problem = EVStudyProblem(f, price_substation=price, load_profile=load)
        >>> problem.describes(f, price, load), problem.describes(f, price, 2 * load)
        (True, False)
        """
        mine = self.feeder
        same_feeder = feeder is mine or (
            isinstance(feeder, Feeder) and feeder.buses.equals(mine.buses) and feeder.lines.equals(mine.lines)
            and (feeder.v_base_kv, feeder.s_base_kva, feeder.substation) == (mine.v_base_kv, mine.s_base_kva,
                                                                              mine.substation))
        try:
            day = (np.asarray(price_substation, dtype=float), np.asarray(load_profile, dtype=float))
        except (TypeError, ValueError):
            return False
        return same_feeder and all(np.array_equal(a, b) for a, b in zip(day, self._day, strict=True))

    def solve(self, penetration: float, *, share_responsive: float) -> EVStudy:
        """Put ``penetration`` cars per household on the feeder, ``share_responsive`` of them responding to DLMPs.

        Returns
        -------
        EVStudy
            As :func:`ev_study` with the same arguments.

        Raises
        ------
        ValueError
            As :func:`ev_fleet` (a penetration or share out of range).
        InfeasibleError, SolverError
            As :func:`ev_study`.
        """
        fleet = ev_fleet(self.feeder, penetration, share_responsive=share_responsive, n_steps=self.n_steps,
                         **self.fleet_options)
        day = self.model.day(list(fleet.prosumers.items()), fleet.fixed_kw.to_numpy())
        return _study(self.feeder, fleet, day, self.price_substation)
