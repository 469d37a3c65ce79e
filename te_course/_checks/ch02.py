"""Hidden checks of chapter 2, prosumers (``solutions/02_prosumers``).

The references are the package's battery self-scheduling LP
(:func:`te_course.prosumer.schedule` with one :class:`~te_course.prosumer.Battery`,
buying and selling at the same prices), its break-even ratio
(:func:`te_course.prosumer.breakeven_price_ratio`) and an EV's largest energy
(:meth:`te_course.prosumer.EV.max_energy_kwh`), all checked by hand, against the
two-step closed form and against scipy's ``linprog`` in ``tests/test_prosumer.py``.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np

from te_course import prosumer
from te_course._checks import Check, case, register
from te_course._checks.plain import as_float
from te_course._solvers import solve_quietly

CHAPTER = "02_prosumers"
ETAS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7)
STEPS_H = (1.0, 0.5, 0.25, 2.0)


# -- exercise 1: the student's constraints inside an arbitrage LP ---------------------------


def _arbitrage_with(function, prices, *, dt_h, **battery):
    """Return the least cost of trading at ``prices`` (buying c, selling d) under the student's constraints."""
    horizon = len(prices)
    charge, discharge, stored = (cp.Variable(horizon, name=n) for n in ("c", "d", "soc"))
    rows = function(charge, discharge, stored, dt_h=dt_h, **battery)
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, cp.constraints.constraint.Constraint)
                                                      for r in rows):
        raise AssertionError(
            f"battery_constraints should return a list of cvxpy constraints; got {type(rows).__name__}")
    net_kwh = (charge - discharge) * dt_h
    lp = cp.Problem(cp.Minimize(np.asarray(prices, dtype=float) @ net_kwh), list(rows))
    solve_quietly(lp, solver="HIGHS")
    return lp.value


def _arbitrage_reference(prices, *, dt_h, e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh):
    """Solve the same LP with the package's schedule: no base load, exports paid the buy price."""
    unit = prosumer.Battery(e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh=soc0_kwh)
    home = prosumer.Prosumer(np.zeros(len(prices)), [unit])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a lossless battery may charge and discharge at once: same cost
        plan = prosumer.schedule(home, prices, prices, dt_h=dt_h)
    return plan.cost


def _draw_battery(rng: np.random.Generator) -> dict:
    """Draw a few steps of prices; the capacity often binds within one step at full power."""
    horizon = int(rng.integers(2, 6))
    prices = (rng.integers(1, 41, horizon) / 100).tolist()
    p_max = round(float(rng.uniform(0.5, 3.0)), 1)
    dt_h = float(rng.choice(STEPS_H))
    e_max = round(max(p_max * dt_h * float(rng.uniform(0.3, 2.5)), 0.2), 2)
    return case(
        prices,
        e_max_kwh=e_max,
        p_max_kw=p_max,
        eta_charge=float(rng.choice(ETAS)),
        eta_discharge=float(rng.choice(ETAS)),
        soc0_kwh=round(float(rng.uniform(0.0, e_max)), 2) if rng.random() < 0.6 else 0.0,
        dt_h=dt_h,
    )


IDEAL = dict(eta_charge=1.0, eta_discharge=1.0)

register(Check(
    id="ex1_battery_constraints",
    function="battery_constraints",
    disabled=("schedule", "BatteryProblem", "Battery"),
    expected=_arbitrage_reference,
    plain=as_float,
    fixed=[
        case([0.3, 0.1, 0.3], e_max_kwh=2, p_max_kw=1, soc0_kwh=1, dt_h=1.0, **IDEAL),
        case([0.1, 0.3], e_max_kwh=0.5, p_max_kw=1, soc0_kwh=0, dt_h=1.0, **IDEAL),
        case([0.1, 0.3], e_max_kwh=10, p_max_kw=1, soc0_kwh=0, eta_charge=0.8, eta_discharge=1.0, dt_h=1.0),
        case([0.1, 0.3], e_max_kwh=10, p_max_kw=1, soc0_kwh=0, dt_h=0.5, **IDEAL),
        case([0.3, 0.3], e_max_kwh=1, p_max_kw=2, soc0_kwh=1, dt_h=1.0, **IDEAL),
        case([0.1, 0.3], e_max_kwh=10, p_max_kw=1, soc0_kwh=0, eta_charge=1.0, eta_discharge=0.5, dt_h=1.0),
    ],
    draw=_draw_battery,
    n_random=4,
    call=_arbitrage_with,
    atol=1e-5,
    chapter=CHAPTER,
))


# -- exercise 2: two-step arbitrage in closed form ------------------------------------------


def _two_step_reference(p_lo, p_hi, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, dt_h=1.0):
    """Return minus the cost of the package's schedule of an empty battery over the two steps."""
    unit = prosumer.Battery(e_max_kwh, p_max_kw, eta_charge, eta_discharge)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = prosumer.schedule(prosumer.Prosumer([0.0, 0.0], [unit]), [p_lo, p_hi], [p_lo, p_hi], dt_h=dt_h)
    return -plan.cost


def _draw_two_step(rng: np.random.Generator) -> dict:
    """Draw a case where cycling pays (power or capacity binding), losses eat the spread, or the price falls."""
    regime = rng.choice(["pays", "losses", "falls"], p=[0.55, 0.3, 0.15])
    while True:
        eta_c = float(rng.choice(ETAS[1:]))
        eta_d = float(rng.choice(ETAS[:-1]))
        p_lo = int(rng.integers(5, 40)) / 100
        round_trip = eta_c * eta_d
        if regime == "pays":
            p_hi = round(p_lo / round_trip + float(rng.uniform(0.02, 0.4)), 2)
        elif regime == "losses":
            if p_lo / round_trip - p_lo < 0.03:
                continue
            p_hi = round(float(rng.uniform(p_lo + 0.01, p_lo / round_trip - 0.01)), 3)
        else:
            p_hi = int(rng.integers(1, int(p_lo * 100) + 1)) / 100
        margin = abs(round_trip * p_hi - p_lo)
        if margin > 0.004 and (regime != "losses" or p_hi > p_lo):
            break
    p_max = round(float(rng.uniform(0.5, 5.0)), 1)
    dt_h = float(rng.choice(STEPS_H))
    # capacity below or above what the charger puts into the cells in one step
    fill = rng.uniform(0.3, 0.8) if rng.random() < 0.65 else rng.uniform(1.2, 3.0)
    e_max = round(eta_c * p_max * dt_h * float(fill), 2)
    kwargs = dict(e_max_kwh=max(e_max, 0.1), p_max_kw=p_max, eta_charge=eta_c, eta_discharge=eta_d)
    if dt_h != 1.0 or rng.random() < 0.5:  # the default step, or given
        kwargs["dt_h"] = dt_h
    return case(p_lo, p_hi, **kwargs)


register(Check(
    id="ex2_two_step_profit",
    function="two_step_profit",
    disabled=("schedule", "BatteryProblem", "breakeven_price_ratio"),
    expected=_two_step_reference,
    plain=as_float,
    fixed=[
        case(0.1, 0.5, e_max_kwh=10, p_max_kw=2, eta_charge=0.95, eta_discharge=0.95),
        case(0.1, 0.3, e_max_kwh=0.5, p_max_kw=2, eta_charge=1, eta_discharge=1),
        case(0.1, 0.3, e_max_kwh=10, p_max_kw=1, eta_charge=1, eta_discharge=1, dt_h=0.5),
        case(0.1, 0.3, e_max_kwh=0.9, p_max_kw=5, eta_charge=0.9, eta_discharge=0.9),
        case(0.3, 0.1, e_max_kwh=1, p_max_kw=1, eta_charge=1, eta_discharge=1),
        # the price rises by 20 %, less than the round trip loses (1 / 0.8 = 1.25): idle, profit 0
        case(0.2, 0.24, e_max_kwh=2, p_max_kw=1, eta_charge=0.8, eta_discharge=1.0),
    ],
    draw=_draw_two_step,
    n_random=6,
    atol=1e-6,
    chapter=CHAPTER,
))


# -- exercise 3: the break-even high price ---------------------------------------------------


def _draw_idle(rng: np.random.Generator) -> dict:
    eta_c = 1.0 if rng.random() < 0.2 else round(float(rng.uniform(0.5, 1.0)), 3)
    eta_d = round(float(rng.uniform(0.5, 1.0)), 3)
    return case(round(float(rng.uniform(0.01, 0.6)), 3), eta_c, eta_d)


register(Check(
    id="ex3_idle_below",
    function="idle_below",
    disabled=("breakeven_price_ratio",),
    expected=lambda p_lo, eta_charge, eta_discharge: p_lo * prosumer.breakeven_price_ratio(eta_charge, eta_discharge),
    plain=as_float,
    fixed=[case(0.1, 0.9, 0.9), case(0.05, 0.95, 0.9), case(0.3, 0.5, 1.0)],
    draw=_draw_idle,
    chapter=CHAPTER,
))


# -- exercise 4: an EV's largest energy -------------------------------------------------------


def _ev_reference(available, p_max_kw, eta, dt_h=1.0):
    return prosumer.EV(available, 0.0, p_max_kw, eta=eta).max_energy_kwh(dt_h)


def _draw_ev(rng: np.random.Generator) -> dict:
    steps = int(rng.integers(1, 25))
    plugged = (rng.random(steps) < rng.uniform(0.1, 0.9)).tolist()
    chargers = [2.3, 3.7, 7.4, 11.0, 22.0]
    p_max = float(rng.choice(chargers)) if rng.random() < 0.5 else round(float(rng.uniform(1, 15)), 1)
    eta = round(float(rng.uniform(0.8, 1.0)), 2)
    if rng.random() < 0.3:
        return case(plugged, p_max, eta)
    return case(plugged, p_max, eta, dt_h=float(rng.choice(STEPS_H)))


register(Check(
    id="ex4_ev_max_energy",
    function="ev_max_energy",
    disabled=("EV", "schedule"),
    expected=_ev_reference,
    plain=as_float,
    fixed=[case([True, False, True, False], 7.0, 1.0), case([True] * 8, 11.0, 0.95, dt_h=0.25),
           case([False, False], 11.0, 0.9)],
    draw=_draw_ev,
    chapter=CHAPTER,
))
