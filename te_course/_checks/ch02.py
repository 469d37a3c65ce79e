"""Hidden checks of chapter 2, prosumers (``solutions/02_prosumers``).

The references are the package's battery self-scheduling LP
(:func:`te_course.prosumer.schedule` with one :class:`~te_course.prosumer.Battery`,
buying and selling at the same prices) and its break-even ratio
(:func:`te_course.prosumer.breakeven_price_ratio`), both checked by hand, against
the two-step closed form and against scipy's ``linprog`` in ``tests/test_prosumer.py``;
and, for the EV smart-charging LP of exercise 4 (a car with a capacity and an
energy on arrival, which the package's :class:`~te_course.prosumer.EV` does not
model), scipy's ``linprog`` on the charging powers alone, written here and tried on
the hand-worked fixed cases below.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np

from te_course import prosumer
from te_course._checks import Check, case, register
from te_course._checks.plain import as_float, as_floats, as_tuple
from te_course._solvers import solve_quietly

CHAPTER = "02_prosumers"
ETAS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7)
STEPS_H = (1.0, 0.5, 0.25, 2.0)


# -- exercise 1: the student's constraints inside an arbitrage LP ---------------------------


def _arbitrage_with(function, prices, *, dt_h, **battery) -> float:
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


def _arbitrage_reference(prices, *, dt_h, e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh) -> float:
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
    disabled=("schedule", "BatteryProblem", "Battery", "prosumer.Battery"),  # Battery: te_course.devices
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


def _two_step_reference(p_lo, p_hi, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, dt_h=1.0) -> float:
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


# -- exercise 4: an EV's smart-charging LP, written from scratch ----------------------------


def _charging_call(function, price, available, **car) -> object:
    """Call the student's function; an infeasible car must raise ValueError (reported as text)."""
    try:
        return function(price, available, **car)
    except ValueError:
        return "raises ValueError"


def _charging_plain(result) -> object:
    """``(charge_kw, cost)`` as ``[list of floats, float]``, or the text of :func:`_charging_call`."""
    if isinstance(result, str):
        return result
    charge, cost = as_tuple(result, as_floats, as_float)
    if np.ndim(charge) != 1:
        raise ValueError("charge_kw must be one power per step")
    return [charge, cost]


def _charging_reference(price, available, *, e_target_kwh, e_max_kwh, p_max_kw, eta, e0_kwh=0.0, dt_h=1.0) -> object:
    """Solve the car's LP with scipy's ``linprog`` over the charging powers alone.

    The energy after step ``t`` is ``e0 + eta * dt * (c_0 + ... + c_t)``, so the
    capacity is a lower-triangular block of rows and the target one row; the
    window and the charger are the variables' bounds.  Returns the least cost with
    the instance (the comparison checks the student's schedule against it), or
    ``"raises ValueError"`` when ``linprog`` finds the target out of reach.
    """
    from scipy.optimize import linprog

    costs = np.array(price, float)
    mask = [bool(on) for on in available]
    horizon = costs.size
    gain = eta * dt_h  # kWh stored per kW drawn for one step
    rows = np.vstack([np.tril(np.ones((horizon, horizon))) * gain, -gain * np.ones((1, horizon))])
    limits = np.r_[np.full(horizon, e_max_kwh - e0_kwh), e0_kwh - e_target_kwh]
    bounds = [(0.0, p_max_kw if on else 0.0) for on in mask]
    lp = linprog(costs * dt_h, A_ub=rows, b_ub=limits, bounds=bounds, method="highs")
    if lp.status == 2:
        return "raises ValueError"
    if lp.status != 0:
        raise RuntimeError(f"the reference LP of ex4 failed: {lp.message}")
    instance = dict(price=costs.tolist(), available=mask, e_target_kwh=e_target_kwh,
                    e_max_kwh=e_max_kwh, p_max_kw=p_max_kw, eta=eta, e0_kwh=e0_kwh, dt_h=dt_h)
    return {"cost": float(lp.fun), "instance": instance}


def _charging_compare(got, want) -> str | None:
    """Accept any schedule that keeps every limit, costs what it claims and costs the least."""
    if isinstance(want, str):
        return None if got == want else f"got {got!r}, expected the function to raise ValueError (no schedule " \
                                         "can reach the target)"
    if isinstance(got, str):
        return "raised ValueError, but a schedule that reaches the target exists"
    charge, cost = np.asarray(got[0], dtype=float), float(got[1])
    k = want["instance"]
    price, plugged = np.asarray(k["price"]), np.asarray(k["available"], dtype=bool)
    if charge.shape != price.shape:
        return f"got {charge.size} charging powers, expected one per step ({price.size})"
    tol_kw = 1e-5 * (1 + k["p_max_kw"])
    tol_kwh = 1e-5 * (1 + k["e_max_kwh"])
    energy = k["e0_kwh"] + k["eta"] * k["dt_h"] * np.cumsum(charge)
    step = int(np.argmax(charge < -tol_kw))
    if charge[step] < -tol_kw:
        return f"the car discharges ({charge[step]:.4g} kW in step {step}); charging powers must be >= 0"
    above = charge - k["p_max_kw"] * plugged
    step = int(np.argmax(above))
    if above[step] > tol_kw:
        where = "while unplugged" if not plugged[step] else f"above the charger's {k['p_max_kw']:g} kW"
        return f"the car charges {charge[step]:.4g} kW in step {step}, {where}"
    step = int(np.argmax(energy))
    if energy[step] > k["e_max_kwh"] + tol_kwh:
        return f"the car holds {energy[step]:.4g} kWh after step {step}, above its capacity {k['e_max_kwh']:g} kWh"
    if energy[-1] < k["e_target_kwh"] - tol_kwh:
        return f"the car leaves with {energy[-1]:.4g} kWh, short of its target {k['e_target_kwh']:g} kWh"
    scale = 1 + k["dt_h"] * float(np.abs(price) @ (k["p_max_kw"] * plugged))
    paid = float(price @ charge) * k["dt_h"]
    if abs(cost - paid) > 1e-6 * scale:
        return f"the returned cost {cost:.6g} is not what the returned schedule costs ({paid:.6g})"
    if abs(cost - want["cost"]) > 1e-6 * scale:
        return f"the schedule costs {cost:.6g}; a cheaper one exists ({want['cost']:.6g})"
    return None


CHARGERS_KW = (2.3, 3.7, 7.4, 11.0)


def _draw_charging(rng: np.random.Generator) -> dict:
    """Draw a car in one of five regimes.

    Positive prices (the cheapest steps fill first), a few negative prices (the
    capacity binds), the target already met on arrival, or a target out of reach
    (the charger is too slow for the window, or the battery too small).
    """
    regime = rng.choice(["cheapest", "negative", "met", "slow", "small"], p=[0.35, 0.3, 0.1, 0.15, 0.1])
    while True:
        horizon = int(rng.integers(3, 11))
        if rng.random() < 0.7:  # one plug-in window
            arrive = int(rng.integers(0, horizon - 1))
            leave = int(rng.integers(arrive + 1, horizon + 1))
            plugged = (arrive <= np.arange(horizon)) & (np.arange(horizon) < leave)
        else:  # plugged in, away, plugged in again
            plugged = rng.random(horizon) < 0.6
        if not plugged.any():
            continue
        price = rng.integers(1, 41, horizon) / 100
        if regime == "negative" or (regime == "met" and rng.random() < 0.5):
            low = rng.random(horizon) < 0.4
            price[low] = -rng.integers(1, 11, int(low.sum())) / 100
        p_max = float(rng.choice(CHARGERS_KW)) if rng.random() < 0.6 else round(float(rng.uniform(1.0, 12.0)), 1)
        eta = round(float(rng.uniform(0.8, 1.0)), 2)
        dt_h = float(rng.choice(STEPS_H))
        reach = eta * p_max * dt_h * int(plugged.sum())  # the most the window can store
        e0 = round(float(rng.uniform(0.0, 20.0)), 1)
        if regime == "slow":
            target = round(e0 + reach + float(rng.uniform(0.5, 5.0)), 1)
            e_max = round(target + float(rng.uniform(0.0, 20.0)), 1)
        elif regime == "small":
            e_max = round(e0 + float(rng.uniform(1.0, 10.0)), 1)
            target = round(e_max + float(rng.uniform(0.5, 5.0)), 1)
        elif regime == "met":
            target = round(e0 * float(rng.uniform(0.3, 1.0)), 1)
            e_max = round(e0 + float(rng.uniform(0.5, 1.5)) * reach, 1)
        else:
            target = round(e0 + reach * float(rng.uniform(0.1, 0.9)), 1)
            e_max = round(target + reach * float(rng.uniform(0.05, 1.0)), 1)
        if regime in ("cheapest", "negative") and not (0.3 < target - e0 < reach - 0.3 and e_max > target + 0.3):
            continue
        break
    return case(price.tolist(), plugged.tolist(), e_target_kwh=target, e_max_kwh=e_max, p_max_kw=p_max, eta=eta,
                e0_kwh=e0, dt_h=dt_h)


register(Check(
    id="ex4_smart_charging",
    function="smart_charging",
    disabled=("schedule", "BatteryProblem", "prosumer._build"),  # not EV: Prosumer checks isinstance(d, EV)
    expected=_charging_reference,
    plain=_charging_plain,
    fixed=[
        # needs 4 kWh in the cells, 4 / 0.9 kWh drawn: 2 kW at 0.10, 2 kW at 0.20, the rest at 0.25
        case([0.30, 0.10, 0.20, 0.25], [True] * 4, e_target_kwh=5, e_max_kwh=10, p_max_kw=2, eta=0.9, e0_kwh=1),
        # paid to take energy in steps 1 and 2: full power at -0.04, then fill to the 6 kWh capacity at -0.02
        case([0.25, -0.04, -0.02, 0.12, 0.30], [True] * 5, e_target_kwh=5, e_max_kwh=6, p_max_kw=3, eta=0.9,
             e0_kwh=2),
        # never plugged in, and the target is already met: nothing to do, cost 0
        case([0.2, 0.1], [False, False], e_target_kwh=3, e_max_kwh=40, p_max_kw=7.4, eta=0.9, e0_kwh=5),
        # two plugged-in steps of half an hour store at most 0.9 x 3.7 kWh: 10 kWh are out of reach
        case([0.1, 0.2, 0.3], [True, False, True], e_target_kwh=10, e_max_kwh=50, p_max_kw=3.7, eta=0.9,
             e0_kwh=5, dt_h=0.5),
        # the target exceeds the battery's capacity
        case([0.1, 0.2], [True, True], e_target_kwh=12, e_max_kwh=10, p_max_kw=11, eta=0.95, e0_kwh=0),
    ],
    draw=_draw_charging,
    n_random=6,
    call=_charging_call,
    compare=_charging_compare,
    chapter=CHAPTER,
))
