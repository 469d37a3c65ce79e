"""Tests of te_course.prosumer against independent references.

The references are written here, not taken from the package:

- small arbitrage cases worked by hand (derivations in comments), and the
  breakeven price ratio 1 / (eta_c eta_d) on both sides of it;
- every device limit re-checked step by step on the returned table, with the
  state of charge recomputed here from the charge and discharge columns;
- an independent LP of the prosumer with a battery and PV, written with
  ``scipy.optimize.linprog`` (HiGHS through scipy, not through cvxpy); its
  optimal cost as a function of the base load gives one-sided slopes that bound
  the ``balance`` dual (finite differences);
- for ``exclusive=True``, brute force over every charge/discharge pattern (one
  linprog per pattern);
- closed forms derived in the comments for the claims chapter 2 makes: the
  two-step arbitrage profit, the greedy EV schedule, the threshold below which
  simultaneous charge and discharge pays, the example day's cost and values of
  energy, and the balance dual leaving the price band when a grid limit binds.
"""

import itertools
import math
import re
import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from te_course._validation import check_nonnegative
from te_course.errors import InfeasibleError, SolverError, TeCourseError, UnboundedError
from te_course.prosumer import (
    EV,
    PV,
    Battery,
    BatteryProblem,
    FlexibleLoad,
    Prosumer,
    Schedule,
    breakeven_price_ratio,
    example_day,
    schedule,
)

TOL = 1e-6


# --------------------------------------------------------------------------- the independent LP


def reference_lp(base, buy, sell=None, *, dt=1.0, pv=None, battery=None, throughput=0.0, import_max=None,
                 export_max=None, pattern=None):
    """Optimal cost of a prosumer with base load, optional PV and optional battery, via scipy's linprog.

    Variables, stacked: import, export, pv output, charge, discharge (T each).  ``battery`` is a dict
    with e_max, p_max, eta_c, eta_d, soc0 and optionally soc_min, ramp, soc_end.  ``pattern`` (0/1 per
    step) forbids discharge where 1 and charge where 0, as the exclusive MILP does.
    Returns ``None`` when infeasible.
    """
    base = np.asarray(base, dtype=float)
    n = base.size
    buy = np.broadcast_to(np.asarray(buy, dtype=float), (n,))
    sell = np.zeros(n) if sell is None else np.broadcast_to(np.asarray(sell, dtype=float), (n,))
    pv = np.zeros(n) if pv is None else np.broadcast_to(np.asarray(pv, dtype=float), (n,))
    b = {"e_max": 0.0, "p_max": 0.0, "eta_c": 1.0, "eta_d": 1.0, "soc0": 0.0} if battery is None else battery
    zeros, eye = np.zeros((n, n)), np.eye(n)
    cost = np.concatenate((buy * dt, -sell * dt, np.zeros(n), np.full(n, throughput * dt), np.full(n, throughput * dt)))
    # balance: import - export + pv - charge + discharge = base
    a_eq = np.hstack((eye, -eye, eye, -eye, eye))
    lower = np.tril(np.ones((n, n)))  # soc_t - soc0 = dt * sum_{s<=t} (eta_c c_s - d_s / eta_d)
    soc_c, soc_d = dt * b["eta_c"] * lower, -dt / b["eta_d"] * lower
    a_ub = [np.hstack((zeros, zeros, zeros, soc_c, soc_d)), np.hstack((zeros, zeros, zeros, -soc_c, -soc_d))]
    b_ub = [np.full(n, b["e_max"] - b["soc0"]), np.full(n, b["soc0"] - b.get("soc_min", 0.0))]
    if b.get("ramp") is not None:
        diff = eye - np.eye(n, k=-1)
        a_ub += [np.hstack((zeros, zeros, zeros, diff, -diff)), np.hstack((zeros, zeros, zeros, -diff, diff))]
        b_ub += [np.full(n, b["ramp"]), np.full(n, b["ramp"])]
    if b.get("soc_end") is not None:
        a_ub.append(np.hstack((np.zeros(3 * n), -soc_c[-1], -soc_d[-1]))[None, :])
        b_ub.append([b["soc0"] - b["soc_end"]])
    pattern = np.ones(n) if pattern is None else np.asarray(pattern, dtype=float)
    c_max = b["p_max"] * (pattern if battery is not None and "exclusive" in b else np.ones(n))
    d_max = b["p_max"] * ((1 - pattern) if battery is not None and "exclusive" in b else np.ones(n))
    bounds = (
        [(0, None if import_max is None else import_max)] * n
        + [(0, None if export_max is None else export_max)] * n
        + [(0, p) for p in pv]
        + [(0, p) for p in c_max]
        + [(0, p) for p in d_max]
    )
    out = linprog(cost, A_ub=np.vstack(a_ub), b_ub=np.concatenate(b_ub), A_eq=a_eq, b_eq=base, bounds=bounds,
                  method="highs")
    if out.status == 2:
        return None
    assert out.status == 0, out.message
    return out.fun


def battery_kwargs(b):
    """The reference's battery dict, from a Battery."""
    return {
        "e_max": b.e_max_kwh, "p_max": b.p_max_kw, "eta_c": b.eta_charge, "eta_d": b.eta_discharge,
        "soc0": b.soc0_kwh, "soc_min": b.soc_min_kwh, "ramp": b.ramp_kw, "soc_end": b.soc_end_kwh,
    }


def random_battery_pv_instance(rng, n=None):
    n = int(rng.integers(3, 10)) if n is None else n
    base = rng.uniform(0.0, 2.0, n)
    buy = rng.uniform(0.05, 0.5, n)
    sell = buy * rng.uniform(0.0, 1.0, n)
    pv = rng.uniform(0.0, 3.0, n) * (rng.uniform(size=n) < 0.6)
    e_max = rng.uniform(0.5, 5.0)
    soc_min = rng.uniform(0.0, 0.3) * e_max
    soc0 = rng.uniform(soc_min, e_max)
    battery = Battery(
        e_max, rng.uniform(0.2, 2.0), rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), soc0_kwh=soc0,
        ramp_kw=rng.choice([None, rng.uniform(0.1, 1.0)]), soc_min_kwh=soc_min,
        soc_end_kwh=rng.choice([None, rng.uniform(soc_min, soc0)]),
    )
    dt = float(rng.choice([0.5, 1.0]))
    return base, buy, sell, pv, battery, dt


# --------------------------------------------------------------------------- worked by hand


def test_two_step_arbitrage_by_hand():
    # Load 1 kW in both steps, prices 0.1 then 0.3, battery 1 kWh / 1 kW, eta 0.9 / 0.9, soc0 = 0, dt = 1 h.
    # Step 0: charge 1 kW for 1 h -> stores 0.9 * 1 = 0.9 kWh (<= 1 kWh); import 1 + 1 = 2 kW, cost 0.2.
    # Step 1: discharge all 0.9 kWh -> delivers 0.9 * 0.9 = 0.81 kWh (<= 1 kW * 1 h); import 1 - 0.81 = 0.19,
    #         cost 0.3 * 0.19 = 0.057.  Total 0.257 instead of 0.1 + 0.3 = 0.4: profit 0.3*0.81 - 0.1*1 = 0.143.
    # Charging less is worse: each kWh charged earns 0.3 * 0.81 - 0.1 = 0.143 > 0, and 1 kW is the limit.
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    s = schedule(p, [0.1, 0.3])
    assert isinstance(s, Schedule)
    assert s.cost == pytest.approx(0.257, abs=1e-9)
    t = s.table
    np.testing.assert_allclose(t["battery_charge_kw"], [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(t["battery_discharge_kw"], [0.0, 0.81], atol=1e-9)
    np.testing.assert_allclose(t["battery_soc_kwh"], [0.9, 0.0], atol=1e-9)
    np.testing.assert_allclose(t["import_kw"], [2.0, 0.19], atol=1e-9)
    np.testing.assert_allclose(t["step_cost"], [0.2, 0.057], atol=1e-9)
    assert s.to_frame() is s.table
    assert not s.has_simultaneous and s.warnings == ()
    assert list(t.index) == [0, 1]


def test_breakeven_ratio_closed_form():
    assert breakeven_price_ratio(0.9, 0.9) == pytest.approx(1 / 0.81)
    assert breakeven_price_ratio(1.0, 1.0) == 1.0
    assert breakeven_price_ratio(0.95, 0.8) == pytest.approx(1 / 0.76)


def test_idle_below_breakeven_and_cycles_above():
    # Ratio 0.12 / 0.1 = 1.2 < 1 / 0.81 = 1.2346: a kWh bought at 0.1 returns 0.81 kWh worth 0.0972 < 0.1.
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    assert 0.12 / 0.1 < breakeven_price_ratio(0.9, 0.9) < 0.125 / 0.1
    idle = schedule(p, [0.1, 0.12])
    assert idle.cost == pytest.approx(0.22, abs=1e-9)
    assert np.allclose(idle.table[["battery_charge_kw", "battery_discharge_kw"]], 0.0, atol=1e-9)
    # Ratio 1.25 > 1.2346: charging 1 kWh earns 0.125 * 0.81 - 0.1 = 0.00125, so cost 0.225 - 0.00125.
    cycles = schedule(p, [0.1, 0.125])
    assert cycles.cost == pytest.approx(0.225 - 0.00125, abs=1e-9)
    np.testing.assert_allclose(cycles.table["battery_charge_kw"], [1.0, 0.0], atol=1e-9)


def two_step_profit_closed_form(p_lo, p_hi, e_max, p_max, eta_c, eta_d, dt):
    # Charge as much as power and capacity allow (the capacity bounds eta_c * c * dt), deliver it all next step;
    # or do nothing when eta_c eta_d p_hi <= p_lo.  Valid for positive prices (chapter 2, exercise 2).
    if eta_c * eta_d * p_hi <= p_lo:
        return 0.0
    c = min(p_max, e_max / (eta_c * dt))
    return (eta_c * eta_d * p_hi - p_lo) * c * dt


@pytest.mark.parametrize("seed", range(6))
def test_two_step_profit_matches_the_closed_form(seed):
    rng = np.random.default_rng(300 + seed)
    p_lo, p_hi = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.5)
    e_max, p_max = rng.uniform(0.2, 3.0), rng.uniform(0.2, 3.0)
    eta_c, eta_d, dt = rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0), float(rng.choice([0.25, 0.5, 1.0]))
    battery = Battery(e_max, p_max, eta_charge=eta_c, eta_discharge=eta_d)
    s = schedule(Prosumer([0.0, 0.0], [battery]), [p_lo, p_hi], [p_lo, p_hi], dt_h=dt)
    assert -s.cost == pytest.approx(two_step_profit_closed_form(p_lo, p_hi, e_max, p_max, eta_c, eta_d, dt), abs=1e-9)


def test_two_step_closed_form_needs_positive_prices():
    # At p_lo = -0.1, p_hi = -0.05 the rule says "cycle" (0.81 * -0.05 > -0.1) and earns 0.1 - 0.0405 = 0.0595,
    # but keeping what was bought is better: 0.1 in step 0, then burning in step 1 (charge 1 kW, discharge 0.72 kW
    # to stay within 1 kWh) is paid 0.05 * 0.28 = 0.014 more: 0.114.
    battery = Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)
    with pytest.warns(UserWarning, match="same step"):
        s = schedule(Prosumer([0.0, 0.0], [battery]), [-0.1, -0.05], [-0.1, -0.05])
    assert two_step_profit_closed_form(-0.1, -0.05, 1.0, 1.0, 0.9, 0.9, 1.0) == pytest.approx(0.0595)
    assert -s.cost == pytest.approx(0.114, abs=1e-9)


def test_ramp_limit_caps_the_first_step():
    # The battery counts as idle before step 0 (p_{-1} = 0): with ramp 0.4 kW it may discharge only 0.4 kW at once,
    # although it holds 5 kWh and may deliver 1 kW.  Load 1 kW at 0.5: import 0.6 kW, cost 0.3.
    p = Prosumer([1.0], [Battery(10.0, 1.0, 1.0, 1.0, soc0_kwh=5.0, ramp_kw=0.4)])
    s = schedule(p, 0.5)
    assert s.table.loc[0, "battery_discharge_kw"] == pytest.approx(0.4, abs=1e-9)
    assert s.cost == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_ev_schedule_is_the_greedy_fill(seed):
    # Linear cost, one price per step, a base load so the house always imports: a fractional knapsack, solved by
    # filling the cheapest plugged-in steps at full power until eta * sum(e) * dt reaches the need.
    rng = np.random.default_rng(400 + seed)
    n, dt = 12, float(rng.choice([0.5, 1.0]))
    available = rng.uniform(size=n) < 0.6
    available[0] = True
    p_max, eta = rng.uniform(2.0, 7.0), rng.uniform(0.8, 1.0)
    need = rng.uniform(0.1, 0.95) * eta * p_max * dt * available.sum()
    buy = rng.uniform(0.05, 0.5, n)
    s = schedule(Prosumer(np.ones(n), [EV(available, need, p_max, eta=eta)]), buy, dt_h=dt)
    greedy, left = np.zeros(n), need / (eta * dt)  # kW-steps still to draw
    for t in sorted(np.flatnonzero(available), key=lambda t: buy[t]):
        greedy[t] = min(p_max, left)
        left -= greedy[t]
    np.testing.assert_allclose(s.table["ev_kw"], greedy, atol=1e-7)
    assert s.cost == pytest.approx(float((buy * (1.0 + greedy)).sum() * dt), abs=1e-9)


def test_pv_surplus_sold_or_spilled():
    # PV 3 kW, load 1 kW, one step.  With a feed-in price of 0.05 the 2 kW surplus earns 0.1; without one it is
    # worth nothing, and the cost is 0 either way (exported for free or curtailed).
    p = Prosumer([1.0], [PV([3.0])])
    sold = schedule(p, 0.3, 0.05)
    assert sold.cost == pytest.approx(-0.1, abs=1e-9)
    assert sold.table.loc[0, "export_kw"] == pytest.approx(2.0)
    spilled = schedule(p, 0.3)
    assert spilled.cost == pytest.approx(0.0, abs=1e-9)
    row = spilled.table.loc[0]
    assert row["import_kw"] == pytest.approx(0.0, abs=1e-9)
    assert row["pv_kw"] + row["pv_curtailed_kw"] == pytest.approx(3.0)
    assert row["net_import_kw"] == pytest.approx(1.0 - row["pv_kw"])


def test_ev_charges_in_cheapest_plugged_in_steps():
    # Plugged in at steps 1..4 with prices 0.3, 0.1, 0.2, 0.15; needs 5.4 kWh at eta 0.9 -> 6 kWh of charge;
    # 3 kW max: 3 kW at the cheapest plugged step (0.1) and 3 kW at the next (0.15). Cost 0.3 + 0.45.
    ev = EV([0, 1, 1, 1, 1, 0], e_need_kwh=5.4, p_max_kw=3.0, eta=0.9)
    s = schedule(Prosumer(np.zeros(6), [ev]), [0.05, 0.3, 0.1, 0.2, 0.15, 0.01])
    np.testing.assert_allclose(s.table["ev_kw"], [0, 0, 3, 0, 3, 0], atol=1e-9)
    np.testing.assert_allclose(s.table["ev_soc_kwh"], [0, 0, 2.7, 2.7, 5.4, 5.4], atol=1e-9)
    assert s.cost == pytest.approx(0.75, abs=1e-9)


def test_flexible_loads_by_hand():
    # Curtailable: utility 0.2 per kWh, 2 kW max, min 0.5 kW; consumes the max where price < 0.2, the min elsewhere.
    flex = FlexibleLoad(2.0, utility=0.2, p_min_kw=0.5, name="heater")
    s = schedule(Prosumer(np.zeros(3), [flex]), [0.1, 0.3, 0.19])
    np.testing.assert_allclose(s.table["heater_kw"], [2.0, 0.5, 2.0], atol=1e-9)
    # cost = sum (price - utility) * f = (-0.1 * 2) + (0.1 * 0.5) + (-0.01 * 2) = -0.17
    assert s.cost == pytest.approx(-0.17, abs=1e-9)
    # Shiftable: 3 kWh in steps of 1 kW max -> the three cheapest steps.
    wash = FlexibleLoad(1.0, utility=0.0, e_kwh=3.0, name="wash")
    s = schedule(Prosumer(np.zeros(5), [wash]), [0.4, 0.1, 0.3, 0.2, 0.25])
    np.testing.assert_allclose(s.table["wash_kw"], [0, 1, 0, 1, 1], atol=1e-9)
    assert s.cost == pytest.approx(0.55, abs=1e-9)


def test_half_hour_steps_scale_energy():
    # Same two-step case with dt = 0.5 h: 1 kW for 0.5 h stores 0.45 kWh, returns 0.405 kWh = 0.81 kW * 0.5 h.
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    s = schedule(p, [0.1, 0.3], dt_h=0.5)
    assert s.cost == pytest.approx(0.257 * 0.5, abs=1e-9)
    np.testing.assert_allclose(s.table["battery_soc_kwh"], [0.45, 0.0], atol=1e-9)


# --------------------------------------------------------------------------- limits on random instances


def random_prosumer(rng):
    n = int(rng.integers(4, 12))
    dt = float(rng.choice([0.5, 1.0]))
    e_max = rng.uniform(1.0, 8.0)
    soc_min = rng.uniform(0.0, 0.2) * e_max
    soc0 = rng.uniform(soc_min, e_max)
    battery = Battery(
        e_max, rng.uniform(0.5, 3.0), rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), soc0_kwh=soc0,
        ramp_kw=rng.choice([None, rng.uniform(0.2, 1.5)]), soc_min_kwh=soc_min,
        soc_end_kwh=rng.choice([None, rng.uniform(soc_min, soc0)]), name="bat",
    )
    start = int(rng.integers(0, n - 1))
    stop = int(rng.integers(start + 1, n + 1))
    available = np.zeros(n, dtype=bool)
    available[start:stop] = True
    ev_p = rng.uniform(1.0, 7.0)
    ev = EV(available, e_need_kwh=0.8 * 0.9 * ev_p * dt * available.sum() * rng.uniform(), p_max_kw=ev_p, eta=0.9,
            name="car")
    p_max = rng.uniform(0.5, 2.0, n)
    p_min = p_max * rng.uniform(0.0, 0.5, n)
    e_kwh = float(dt * (p_min.sum() + rng.uniform() * (p_max - p_min).sum()))
    shift = FlexibleLoad(p_max, utility=rng.uniform(0.0, 0.3), e_kwh=e_kwh, p_min_kw=p_min, name="shift")
    curtail = FlexibleLoad(rng.uniform(0.5, 2.0), utility=rng.uniform(0.0, 0.5, n), name="curtail")
    pv = PV(rng.uniform(0.0, 4.0, n), name="roof")
    prosumer = Prosumer(rng.uniform(0.2, 2.0, n), [battery, ev, shift, curtail, pv])
    buy = rng.uniform(-0.05, 0.5, n)
    sell = buy - rng.uniform(0.0, 0.2, n)
    return prosumer, buy, sell, dt


@pytest.mark.filterwarnings("ignore::UserWarning")  # negative prices may make the LP burn energy on purpose
@pytest.mark.parametrize("seed", range(12))
def test_every_limit_respected(seed):
    rng = np.random.default_rng(seed)
    prosumer, buy, sell, dt = random_prosumer(rng)
    bat, ev, shift, curtail, pv = prosumer.devices
    s = schedule(prosumer, buy, sell, dt_h=dt)
    t = s.table
    c, d, soc = t["bat_charge_kw"].to_numpy(), t["bat_discharge_kw"].to_numpy(), t["bat_soc_kwh"].to_numpy()
    # Battery power and state of charge, the recursion recomputed here.
    assert np.all(c >= -TOL) and np.all(c <= bat.p_max_kw + TOL)
    assert np.all(d >= -TOL) and np.all(d <= bat.p_max_kw + TOL)
    expected_soc = bat.soc0_kwh + np.cumsum(bat.eta_charge * c - d / bat.eta_discharge) * dt
    np.testing.assert_allclose(soc, expected_soc, atol=1e-6)
    assert np.all(soc >= bat.soc_min_kwh - TOL) and np.all(soc <= bat.e_max_kwh + TOL)
    if bat.ramp_kw is not None:
        net = c - d
        assert np.all(np.abs(np.diff(np.concatenate(([0.0], net)))) <= bat.ramp_kw + TOL)
    if bat.soc_end_kwh is not None:
        assert soc[-1] >= bat.soc_end_kwh - TOL
    # EV: charges only when plugged in, within its power, and receives at least its need.
    e = t["car_kw"].to_numpy()
    assert np.all(e >= -TOL) and np.all(e <= ev.p_max_kw * ev.available + TOL)
    assert np.all(np.abs(e[~ev.available]) <= TOL)
    assert ev.eta * e.sum() * dt >= ev.e_need_kwh - TOL
    np.testing.assert_allclose(t["car_soc_kwh"], np.cumsum(ev.eta * e * dt), atol=1e-9)
    # Flexible loads.
    f = t["shift_kw"].to_numpy()
    assert np.all(f >= shift.p_min_kw - TOL) and np.all(f <= shift.p_max_kw + TOL)
    assert f.sum() * dt == pytest.approx(shift.e_kwh, abs=1e-6)
    g = t["curtail_kw"].to_numpy()
    assert np.all(g >= -TOL) and np.all(g <= curtail.p_max_kw + TOL)
    # PV within availability; grid variables non-negative; the power balance holds.
    y = t["roof_kw"].to_numpy()
    assert np.all(y >= -TOL) and np.all(y <= pv.p_max_kw + TOL)
    assert np.all(t["import_kw"] >= -TOL) and np.all(t["export_kw"] >= -TOL)
    net = prosumer.base_load_kw + c - d + e + f + g - y
    np.testing.assert_allclose(t["net_import_kw"], net, atol=1e-6)
    np.testing.assert_allclose(t["net_import_kw"], t["import_kw"] - t["export_kw"], atol=1e-9)
    # The cost is what the table says, recomputed from prices and powers.
    cost = (
        (buy * t["import_kw"] - sell * t["export_kw"]) * dt
        - curtail.utility * g * dt
        - shift.utility * f * dt
    ).sum()
    assert s.cost == pytest.approx(cost, abs=1e-6)
    assert s.cost == pytest.approx(t["step_cost"].sum(), abs=1e-9)
    # Battery energy accounting: out = eta_c eta_d in + eta_d (soc0 - soc_end) <= eta_c eta_d in + eta_d soc0.
    energy_in, energy_out = c.sum() * dt, d.sum() * dt
    eta_cd = bat.eta_charge * bat.eta_discharge
    assert energy_out == pytest.approx(eta_cd * energy_in + bat.eta_discharge * (bat.soc0_kwh - soc[-1]), abs=1e-6)
    assert energy_out <= eta_cd * energy_in + bat.eta_discharge * (bat.soc0_kwh - bat.soc_min_kwh) + TOL


# --------------------------------------------------------------------------- the independent LP and duals


@pytest.mark.parametrize("seed", range(8))
def test_cost_matches_scipy_linprog(seed):
    rng = np.random.default_rng(100 + seed)
    base, buy, sell, pv, battery, dt = random_battery_pv_instance(rng)
    throughput = float(rng.choice([0.0, 0.01]))
    s = schedule(Prosumer(base, [battery, PV(pv)]), buy, sell, dt_h=dt, throughput_cost=throughput)
    ref = reference_lp(base, buy, sell, dt=dt, pv=pv, battery=battery_kwargs(battery), throughput=throughput)
    assert s.cost == pytest.approx(ref, abs=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_balance_dual_is_the_finite_difference(seed):
    # The optimal cost is convex in the base load of step t, so its one-sided slopes bound the dual:
    # (C(0) - C(-h)) / (h dt) <= balance_t <= (C(h) - C(0)) / (h dt); where they agree, they pin it.
    rng = np.random.default_rng(200 + seed)
    base, buy, sell, pv, battery, dt = random_battery_pv_instance(rng, n=5)
    base = base + 0.5  # keep base - h >= 0
    s = schedule(Prosumer(base, [battery, PV(pv)]), buy, sell, dt_h=dt)
    kw = battery_kwargs(battery)
    c0 = reference_lp(base, buy, sell, dt=dt, pv=pv, battery=kw)
    h = 1e-4
    for t in range(base.size):
        bump = np.zeros(base.size)
        bump[t] = h
        right = (reference_lp(base + bump, buy, sell, dt=dt, pv=pv, battery=kw) - c0) / (h * dt)
        left = (c0 - reference_lp(base - bump, buy, sell, dt=dt, pv=pv, battery=kw)) / (h * dt)
        lam = s.duals.loc[t, "balance"]
        assert left - 1e-6 <= lam <= right + 1e-6, (t, left, lam, right)
        assert sell[t] - 1e-9 <= lam <= buy[t] + 1e-9


def test_balance_dual_exact_cases():
    # One step, no devices: the dual is the buy price when importing, the sell price when exporting.
    importing = schedule(Prosumer([2.0], [PV([1.0])]), 0.3, 0.1)
    assert importing.duals.loc[0, "balance"] == pytest.approx(0.3)
    exporting = schedule(Prosumer([1.0], [PV([3.0])]), 0.3, 0.1)
    assert exporting.duals.loc[0, "balance"] == pytest.approx(0.1)
    # Two steps, half-hour steps: the dual is per kWh, not per kW-step.
    s = schedule(Prosumer([1.0, 1.0]), [0.2, 0.4], dt_h=0.5)
    np.testing.assert_allclose(s.duals["balance"], [0.2, 0.4])


def test_battery_duals_by_hand():
    # Two-step case: the battery's energy limit does not bind (0.9 < 1 kWh), the charge power limit does.
    # Relaxing p_max by x kW charges x more, stores 0.9x, returns 0.81x: saves 0.3 * 0.81x - 0.1x = 0.143x.
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    s = schedule(p, [0.1, 0.3])
    assert {"balance", "battery_soc_max", "battery_soc_min", "battery_charge_max", "battery_discharge_max"} <= set(
        s.duals.columns
    )
    assert s.duals.loc[0, "battery_charge_max"] == pytest.approx(0.143, abs=1e-9)
    assert s.duals.loc[0, "battery_soc_max"] == pytest.approx(0.0, abs=1e-9)
    # The cells are empty after step 1: one more kWh allowed out of them delivers 0.9 kWh, saving 0.3 * 0.9.
    assert s.duals.loc[1, "battery_soc_min"] == pytest.approx(0.27, abs=1e-9)
    assert (s.duals.drop(columns="balance") >= -1e-9).all().all()


def test_balance_dual_leaves_the_price_band_when_a_grid_limit_binds():
    # Load 2 kW in step 1 but at most 1.8 kW may be imported: the battery (eta 0.5 each way) must deliver 0.2 kW,
    # drawing 0.4 kWh from its cells, charged with 0.8 kW at 0.1 in step 0 (cycling would not pay otherwise:
    # 0.3 / 0.1 = 3 < 1 / 0.25).  One more kWh in step 1 needs 4 kWh more in step 0: it is worth 0.4 > buy = 0.3.
    p = Prosumer([0.0, 2.0], [Battery(2.0, 2.0, eta_charge=0.5, eta_discharge=0.5)])
    s = schedule(p, [0.1, 0.3], import_max_kw=1.8)
    assert s.cost == pytest.approx(0.1 * 0.8 + 0.3 * 1.8, abs=1e-9)
    np.testing.assert_allclose(s.duals["balance"], [0.1, 0.4], atol=1e-9)
    assert s.duals.loc[1, "balance"] > s.table.loc[1, "buy_price"]
    # Negative prices and no export: the value of energy is the (negative) buy price, below the sell price 0.
    prosumer, buy, kwargs = burning_case()
    with pytest.warns(UserWarning):
        burning = schedule(prosumer, buy, **kwargs)
    np.testing.assert_allclose(burning.duals["balance"], buy, atol=1e-9)
    assert (burning.duals["balance"] < burning.table["sell_price"]).all()


# --------------------------------------------------------------------------- simultaneous charge and discharge


def burning_case():
    # Importing is paid (buy = -0.1) and nothing may be exported: the LP absorbs as much as it can.  Once the
    # battery is full, charging c and discharging 0.81c at once keeps it full and absorbs 0.19c more.
    prosumer = Prosumer(np.full(4, 0.2), [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    kwargs = {"import_max_kw": 2.0, "export_max_kw": 0.0}
    return prosumer, -0.1, kwargs


def test_simultaneous_detected_and_warned():
    prosumer, buy, kwargs = burning_case()
    with pytest.warns(UserWarning, match="same step"):
        s = schedule(prosumer, buy, **kwargs)
    assert s.has_simultaneous
    steps = s.simultaneous["battery"]
    assert len(steps) > 0
    t = s.table
    for step in steps:
        assert t.loc[step, "battery_charge_kw"] > 1e-6 and t.loc[step, "battery_discharge_kw"] > 1e-6
    assert len(s.warnings) == 1
    assert "throughput_cost" in s.warnings[0] and "exclusive=True" in s.warnings[0]
    ref = reference_lp(prosumer.base_load_kw, buy, dt=1.0, battery=battery_kwargs(prosumer.devices[0]),
                       import_max=2.0, export_max=0.0)
    assert s.cost == pytest.approx(ref, abs=1e-9)


def test_throughput_cost_removes_simultaneous():
    # Burning c kW gains 0.1 * 0.19 c = 0.019c but costs 0.05 * (1 + 0.81) c = 0.0905c of throughput.
    prosumer, buy, kwargs = burning_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = schedule(prosumer, buy, throughput_cost=0.05, **kwargs)
    assert not s.has_simultaneous and s.warnings == ()
    ref = reference_lp(prosumer.base_load_kw, buy, battery=battery_kwargs(prosumer.devices[0]), throughput=0.05,
                       import_max=2.0, export_max=0.0)
    assert s.cost == pytest.approx(ref, abs=1e-9)


def test_exclusive_milp_removes_simultaneous_and_matches_brute_force():
    prosumer, buy, kwargs = burning_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = schedule(prosumer, buy, exclusive=True, **kwargs)
    assert not s.has_simultaneous
    t = s.table
    assert np.all(np.minimum(t["battery_charge_kw"], t["battery_discharge_kw"]) <= 1e-9)
    kw = battery_kwargs(prosumer.devices[0]) | {"exclusive": True}
    best = min(
        reference_lp(prosumer.base_load_kw, buy, battery=kw, import_max=2.0, export_max=0.0, pattern=z)
        for z in itertools.product((0, 1), repeat=4)
    )
    assert s.cost == pytest.approx(best, abs=1e-9)
    with pytest.warns(UserWarning):
        lp = schedule(prosumer, buy, **kwargs)
    assert s.cost >= lp.cost - 1e-9
    assert not s.duals["balance"].isna().any()


@pytest.mark.parametrize(
    ("price", "tau"),
    [(-0.05, 0.0), (-0.05, 0.01), (-0.2, 0.01), (-0.2, 0.05), (-0.6, 0.05)],
)
def test_simultaneous_charge_and_discharge_iff_below_the_threshold(price, tau):
    # Battery full from the start (1 kWh, 1 kW, eta 0.9 each way), no export, base load 0.5 kW for 3 steps, the
    # import limit never binds, so the value of energy is the price.  Burning c kW (discharging 0.81 c) keeps the
    # cells full and consumes 0.19 c more, at a wear of tau * 1.81 c: the cost per kW is
    # k = price * 0.19 + tau * 1.81.  If k < 0 the optimum burns at full power in every step (and must), otherwise
    # not at all, so cost = 3 * (0.5 * price + min(0, k)), and simultaneity <=> price < -tau * 1.81 / 0.19.
    eta_cd, n = 0.81, 3
    k = price * (1 - eta_cd) + tau * (1 + eta_cd)
    burns = price < -tau * (1 + eta_cd) / (1 - eta_cd)
    assert burns == (k < 0)
    p = Prosumer(np.full(n, 0.5), [Battery(1.0, 1.0, 0.9, 0.9, soc0_kwh=1.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = schedule(p, price, throughput_cost=tau, import_max_kw=5.0, export_max_kw=0.0)
    assert s.cost == pytest.approx(n * (0.5 * price + min(0.0, k)), abs=1e-9)
    assert s.has_simultaneous == burns
    if burns:
        assert s.simultaneous["battery"] == tuple(range(n))
    np.testing.assert_allclose(s.duals["balance"], price, atol=1e-9)


def test_no_simultaneous_charge_and_discharge_at_a_positive_price():
    # Same battery, price 0.1 > 0: burning only costs.  The battery just delivers its 0.9 kWh to the 1.5 kWh load.
    p = Prosumer(np.full(3, 0.5), [Battery(1.0, 1.0, 0.9, 0.9, soc0_kwh=1.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = schedule(p, 0.1, import_max_kw=5.0, export_max_kw=0.0)
    assert not s.has_simultaneous
    assert s.cost == pytest.approx(0.1 * (1.5 - 0.9), abs=1e-9)


def test_chapter_2_negative_price_example():
    # The notebook's case: empty 1 kWh / 1 kW battery, eta 0.9, base 0.5 kW, price -0.05 for 4 steps, no export.
    # Plain LP: charge 1 kW in every step (3.6 kWh into the cells), end full (1 kWh), so 2.6 kWh leave the cells
    # and 2.34 kWh come out: import 2 + 4 - 2.34 = 3.66 kWh.  With tau = 0.01, k = -0.05 * 0.19 + 0.01 * 1.81 > 0:
    # no burning, the battery only fills (1 / 0.9 kWh in) and pays the wear.
    house = Prosumer([0.5] * 4, [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    kwargs = {"import_max_kw": 3.0, "export_max_kw": 0.0}
    with pytest.warns(UserWarning):
        plain = schedule(house, [-0.05] * 4, **kwargs)
    assert plain.cost == pytest.approx(-0.05 * (2 + 4 - 0.9 * 2.6), abs=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        worn = schedule(house, [-0.05] * 4, throughput_cost=0.01, **kwargs)
    assert not worn.has_simultaneous
    assert worn.cost == pytest.approx(-0.05 * (2 + 1 / 0.9) + 0.01 / 0.9, abs=1e-9)


def test_exclusive_is_the_lp_when_no_burning_pays():
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    s = schedule(p, [0.1, 0.3], exclusive=True)
    assert s.cost == pytest.approx(0.257, abs=1e-9)


# --------------------------------------------------------------------------- the re-solvable battery problem


def test_battery_problem_is_dpp():
    assert BatteryProblem(6).problem.is_dcp(dpp=True)


def test_battery_problem_matches_schedule_on_resolves():
    rng = np.random.default_rng(7)
    n = 8
    bp = BatteryProblem(n, dt_h=0.5)
    for _ in range(6):
        buy = rng.uniform(0.05, 0.5, n)
        sell = buy * rng.uniform(0.0, 1.0, n)
        base = rng.uniform(0.0, 2.0, n)
        e_max, p_max = rng.uniform(0.5, 5.0), rng.uniform(0.2, 2.0)
        kw = {
            "e_max_kwh": e_max, "p_max_kw": p_max, "eta_charge": rng.uniform(0.7, 1.0),
            "eta_discharge": rng.uniform(0.7, 1.0), "soc0_kwh": rng.uniform(0, e_max),
            "ramp_kw": rng.choice([None, rng.uniform(0.1, 1.0)]),
        }
        got = bp.solve(buy, sell, base_load_kw=base, **kw)
        battery = Battery(kw["e_max_kwh"], kw["p_max_kw"], kw["eta_charge"], kw["eta_discharge"],
                          soc0_kwh=kw["soc0_kwh"], ramp_kw=kw["ramp_kw"])
        want = schedule(Prosumer(base, [battery]), buy, sell, dt_h=0.5)
        assert got.cost == pytest.approx(want.cost, abs=1e-8)
        assert list(got.table.columns) == list(want.table.columns)
        ref = reference_lp(base, buy, sell, dt=0.5, battery=battery_kwargs(battery))
        assert got.cost == pytest.approx(ref, abs=1e-7)
        np.testing.assert_allclose(got.table["battery_soc_kwh"].iloc[-1], want.table["battery_soc_kwh"].iloc[-1],
                                   atol=1e-6)
        assert set(got.duals.columns) == set(want.duals.columns)


def test_battery_problem_scalar_inputs_and_no_export_revenue():
    # Flat price and no load: nothing to gain, cost 0.
    s = BatteryProblem(3).solve(0.2, None, e_max_kwh=2, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9)
    assert s.cost == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(s.table["sell_price"], 0.0)


def test_battery_problem_errors():
    with pytest.raises(ValueError, match=r"`n_steps` must be a positive integer; got 0"):
        BatteryProblem(0)
    with pytest.raises(ValueError, match=r"`dt_h` must be positive"):
        BatteryProblem(3, dt_h=0)
    bp = BatteryProblem(3)
    with pytest.raises(ValueError, match=r"`eta_charge` must lie in \(0, 1\]; got 1.5"):
        bp.solve(0.2, 0.1, e_max_kwh=1, p_max_kw=1, eta_charge=1.5, eta_discharge=0.9)
    with pytest.raises(ValueError, match=r"`price_buy` has 2 entries but the horizon has 3 steps"):
        bp.solve([0.2, 0.3], 0.1, e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9)
    with pytest.raises(ValueError, match=r"`base_load_kw` has 4 entries but the horizon has 3 steps"):
        bp.solve(0.2, 0.1, e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9, base_load_kw=[1, 1, 1, 1])


# --------------------------------------------------------------------------- example day


def test_example_day_shape_and_ranges():
    day = example_day()
    assert list(day.columns) == ["buy_price", "sell_price", "pv_kw_per_kwp", "base_load_kw", "price_buy", "price_sell"]
    assert day["price_buy"].equals(day["buy_price"]) and day["price_sell"].equals(day["sell_price"])
    assert len(day) == 24 and list(day.index) == list(range(24))
    assert day["buy_price"].between(0.05, 0.45).all()
    assert (day["sell_price"] <= day["buy_price"]).all()
    assert day["pv_kw_per_kwp"].max() == pytest.approx(1.0) and day["pv_kw_per_kwp"].idxmax() == 12
    assert (day.loc[list(range(0, 7)) + list(range(18, 24)), "pv_kw_per_kwp"] < 1e-12).all()
    assert day["base_load_kw"].between(0.3, 1.5).all()
    # Two price peaks: morning around 8h, a higher evening one around 19h.
    assert day["buy_price"].idxmax() == 19 and day["buy_price"].iloc[6:11].idxmax() == 8
    # Formula from the docstring, recomputed.
    h = np.arange(24)
    g = lambda m, w: np.exp(-0.5 * ((h - m) / w) ** 2)  # noqa: E731
    np.testing.assert_allclose(day["buy_price"], 0.10 + 0.12 * g(8, 1.5) + 0.26 * g(19, 2) - 0.03 * g(13, 2))


def test_example_day_seeded_noise():
    a, b, c = example_day(seed=1), example_day(seed=1), example_day(seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["buy_price"], c["buy_price"])
    assert not np.allclose(a["buy_price"], example_day()["buy_price"])
    assert (a["buy_price"] >= a["sell_price"]).all() and (a["base_load_kw"] >= 0).all()
    assert (a["pv_kw_per_kwp"] <= example_day()["pv_kw_per_kwp"] + 1e-12).all()


def test_example_day_docstring_ranges():
    # The docstring says: prices about 0.07 to 0.36, base load between 0.3 and 1.37 kW.
    day = example_day()
    assert round(day["buy_price"].min(), 2) == 0.07 and round(day["buy_price"].max(), 2) == 0.36
    assert round(day["base_load_kw"].min(), 2) == 0.3 and round(day["base_load_kw"].max(), 2) == 1.37


def test_chapter_2_day_in_closed_form():
    # 4 kWp of PV and a 10 kWh / 5 kW battery, eta 0.95 each way (r = 0.9025), on the example day.  The premises,
    # checked first: PV is zero outside 7-17 h and covers the load from 7 to 17 h; hour 0 is the cheapest hour
    # before sunrise; buy_0 / r lies between the buy prices of hours 4 and 5; 0.05 / r is below every evening price.
    # Then the battery buys (base_5 + base_6) / r at hour 0 for hours 5-6, stores evening_load / r of the PV
    # surplus (worth 0.05) for hours 18-23, and the rest of the surplus is exported.
    day = example_day()
    buy, sell, base = day["buy_price"].to_numpy(), day["sell_price"].to_numpy(), day["base_load_kw"].to_numpy()
    pv = 4.0 * day["pv_kw_per_kwp"].to_numpy()
    r = 0.95 * 0.95
    sunny = np.arange(7, 18)
    assert np.all(pv[:7] == 0) and np.all(pv[18:] == 0) and np.all(pv[sunny] >= base[sunny])
    assert buy[0] == buy[:7].min() and buy[4] < buy[0] / r < buy[5] and np.all(0.05 / r < buy[18:])
    surplus, evening = float((pv - base)[sunny].sum()), float(base[18:].sum())
    pv_only = float((buy * np.maximum(base - pv, 0)).sum() - 0.05 * surplus)
    both = float((buy[:5] * base[:5]).sum() + buy[0] * (base[5] + base[6]) / r - 0.05 * (surplus - evening / r))
    with_pv = schedule(Prosumer(base, [PV(pv)]), buy, sell)
    with_both = schedule(Prosumer(base, [PV(pv), Battery(10.0, 5.0, 0.95, 0.95)]), buy, sell)
    assert with_pv.cost == pytest.approx(pv_only, abs=1e-8)
    assert with_both.cost == pytest.approx(both, abs=1e-8)
    t, lam = with_both.table, with_both.duals["balance"].to_numpy()
    assert t["import_kw"].iloc[18:].sum() == pytest.approx(0.0, abs=1e-8)
    assert t["battery_soc_kwh"].max() == pytest.approx(evening / 0.95, abs=1e-8)
    np.testing.assert_allclose(lam[[5, 6]], buy[0] / r, atol=1e-9)
    np.testing.assert_allclose(lam[18:], 0.05 / r, atol=1e-9)
    np.testing.assert_allclose(lam[sunny], 0.05, atol=1e-9)
    np.testing.assert_allclose(lam[:5], buy[:5], atol=1e-9)


def test_example_day_schedules():
    day = example_day()
    p = Prosumer(day["base_load_kw"], [PV(4.0 * day["pv_kw_per_kwp"]), Battery(5.0, 2.5)])
    s = schedule(p, day["buy_price"], day["sell_price"])
    no_battery = schedule(Prosumer(day["base_load_kw"], [PV(4.0 * day["pv_kw_per_kwp"])]), day["buy_price"],
                          day["sell_price"])
    assert s.cost <= no_battery.cost + 1e-9


# --------------------------------------------------------------------------- error paths


def test_ev_infeasible_names_ev_need_and_max():
    # 8 plugged-in steps x 3 kW x 1 h x eta 0.9 = 21.6 kWh < 40 kWh.
    ev = EV([1] * 8 + [0] * 4, e_need_kwh=40, p_max_kw=3.0, name="ev")
    p = Prosumer(np.ones(12), [ev])
    with pytest.raises(ValueError, match=r"EV 'ev': it needs 40 kWh but can receive at most 21.6 kWh while plugged in"):
        schedule(p, 0.2)
    assert ev.max_energy_kwh(1.0) == pytest.approx(21.6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"e_max_kwh": -1, "p_max_kw": 1}, r"Battery 'battery': `e_max_kwh` must be non-negative; got -1"),
        ({"e_max_kwh": 1, "p_max_kw": -2}, r"`p_max_kw` must be non-negative; got -2"),
        ({"e_max_kwh": 1, "p_max_kw": 1, "eta_charge": 0}, r"`eta_charge` must lie in \(0, 1\]; got 0"),
        ({"e_max_kwh": 1, "p_max_kw": 1, "eta_discharge": 1.1}, r"`eta_discharge` must lie in \(0, 1\]; got 1.1"),
        ({"e_max_kwh": 1, "p_max_kw": 1, "soc0_kwh": 2}, r"`soc0_kwh` = 2 must lie in \[soc_min_kwh, e_max_kwh\]"),
        (
            {"e_max_kwh": 1, "p_max_kw": 1, "soc0_kwh": 0.1, "soc_min_kwh": 0.2},
            r"`soc0_kwh` = 0.1 must lie in \[soc_min_kwh, e_max_kwh\] = \[0.2, 1\]",
        ),
        ({"e_max_kwh": 1, "p_max_kw": 1, "soc_min_kwh": 2}, r"`soc_min_kwh` = 2 exceeds `e_max_kwh` = 1"),
        ({"e_max_kwh": 1, "p_max_kw": 1, "soc_end_kwh": 1.5}, r"`soc_end_kwh` = 1.5 exceeds `e_max_kwh` = 1"),
        ({"e_max_kwh": 1, "p_max_kw": 1, "ramp_kw": -0.5}, r"`ramp_kw` must be non-negative; got -0.5"),
        ({"e_max_kwh": math.nan, "p_max_kw": 1}, r"`e_max_kwh` must be finite; got nan"),
    ],
)
def test_battery_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Battery(**kwargs)


def test_battery_type_errors():
    with pytest.raises(TypeError, match=r"`e_max_kwh` must be a number; got 'big'"):
        Battery("big", 1)
    with pytest.raises(TypeError, match=r"`name` must be a non-empty string; got ''"):
        Battery(1, 1, name="")


def test_device_validation():
    with pytest.raises(ValueError, match=r"EV 'ev': `eta` must lie in \(0, 1\]; got 0"):
        EV([1, 1], 1, 1, eta=0)
    with pytest.raises(ValueError, match=r"EV 'ev': `available` must contain booleans \(or 0/1\); entry 1 is 2.0"):
        EV([1, 2], 1, 1)
    with pytest.raises(ValueError, match=r"`e_need_kwh` must be non-negative; got -3"):
        EV([1, 1], -3, 1)
    with pytest.raises(ValueError, match=r"PV 'pv': `p_max_kw` must be non-negative; entry 1 is -1.0"):
        PV([1.0, -1.0])
    with pytest.raises(ValueError, match=r"`p_max_kw` must contain finite values; entry 0 is nan"):
        PV([math.nan])
    with pytest.raises(ValueError, match=r"FlexibleLoad 'flex': `p_min_kw` exceeds `p_max_kw` at entry 1 \(3 > 2\)"):
        FlexibleLoad([2, 2], 0.1, p_min_kw=[0, 3])
    with pytest.raises(ValueError, match=r"`p_min_kw` has 3 entries but `p_max_kw` has 2"):
        FlexibleLoad([2, 2], 0.1, p_min_kw=[0, 0, 0])
    with pytest.raises(ValueError, match=r"`e_kwh` must be non-negative; got -1"):
        FlexibleLoad(2, 0.1, e_kwh=-1)


def test_shiftable_load_infeasible():
    # 3 steps x 1 kW x 1 h = at most 3 kWh; 5 kWh cannot fit.
    p = Prosumer(np.zeros(3), [FlexibleLoad(1.0, 0.0, e_kwh=5.0, name="wash")])
    with pytest.raises(ValueError, match=r"FlexibleLoad 'wash': `e_kwh` = 5 kWh cannot be consumed.*between 0 kWh .* "
                                         r"and 3 kWh"):
        schedule(p, 0.2)
    p = Prosumer(np.zeros(3), [FlexibleLoad(1.0, 0.0, e_kwh=1.0, p_min_kw=0.5, name="wash")])
    with pytest.raises(ValueError, match=r"between 1.5 kWh"):
        schedule(p, 0.2)


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ([PV([1, 2, 3])], r"PV 'pv': `p_max_kw` has 3 entries but the horizon has 4 steps"),
        ([EV([1, 1], 1, 1)], r"EV 'ev': `available` has 2 entries but the horizon has 4 steps"),
        ([FlexibleLoad(1, [0.1] * 5)], r"FlexibleLoad 'flex': `utility` has 5 entries but the horizon has 4 steps"),
        ([Battery(1, 1), Battery(2, 1)], r"Device names must be unique; 'battery' appears twice"),
        ([PV(1, name="x"), EV([1] * 4, 1, 1, name="x")], r"Device names must be unique; 'x' appears twice"),
        ([Battery(1, 1, name="b"), PV(1, name="b_charge")], r"Devices 'b' and 'b_charge' would both produce"),
        ([PV(1, name="import")], r"Device name 'import' is reserved"),
    ],
)
def test_prosumer_validation(devices, message):
    with pytest.raises(ValueError, match=message):
        Prosumer(np.ones(4), devices)


def test_prosumer_other_errors():
    with pytest.raises(TypeError, match=r"`devices` entry 0 is a str"):
        Prosumer([1.0], ["pv"])
    with pytest.raises(ValueError, match=r"`base_load_kw` must contain non-negative powers; entry 1 is -1.0"):
        Prosumer([1.0, -1.0])
    with pytest.raises(ValueError, match=r"`base_load_kw` must contain finite powers; entry 0 is nan"):
        Prosumer([math.nan])
    assert Prosumer([1.0], PV(1.0)).devices[0].name == "pv"  # a single device is accepted


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0.1, math.nan, 0.2],), {}, r"`price_buy` must contain finite prices; entry 1 is nan"),
        (([0.1, 0.2, 0.3], [0.0, math.inf, 0.0]), {}, r"`price_sell` must contain finite prices; entry 1 is inf"),
        ((math.nan,), {}, r"`price_buy` must be finite; got nan"),
        (([0.1, 0.2],), {}, r"`price_buy` has 2 entries but the horizon has 3 steps"),
        ((0.1, 0.2), {}, r"`price_sell` exceeds `price_buy` at step 0 \(0.2 > 0.1\).*`import_max_kw`"),
        ((0.1,), {"dt_h": 0}, r"`dt_h` must be positive; got 0"),
        ((0.1,), {"throughput_cost": -1}, r"`throughput_cost` must be non-negative; got -1"),
        ((0.1,), {"import_max_kw": -1}, r"`import_max_kw` must contain non-negative powers; entry 0 is -1.0"),
    ],
)
def test_schedule_input_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        schedule(Prosumer(np.ones(3)), *args, **kwargs)


def test_schedule_type_errors():
    with pytest.raises(TypeError, match=r"`prosumer` must be a Prosumer; got list"):
        schedule([1.0, 2.0], 0.1)
    with pytest.raises(TypeError, match=r"`price_buy` must be a number; got None"):
        schedule(Prosumer(np.ones(3)), None)


def test_soc_end_unreachable():
    # From 0 kWh, 1 kW x 0.9 x 2 steps stores at most 1.8 kWh < 2 kWh.
    p = Prosumer(np.zeros(2), [Battery(5, 1, 0.9, 0.9, soc_end_kwh=2.0)])
    with pytest.raises(ValueError, match=r"Battery 'battery': `soc_end_kwh` = 2 cannot be reached.*at most 1.8 kWh"):
        schedule(p, 0.1)


def test_infeasible_grid_limit_names_the_family():
    # Base load 3 kW but at most 1 kW may be imported: only the grid limit can be blamed.
    p = Prosumer(np.full(2, 3.0), [Battery(1, 1, soc0_kwh=0.5)])
    with pytest.raises(InfeasibleError, match=r"infeasible.*grid connection limits \(`import_max_kw`"):
        schedule(p, 0.1, import_max_kw=1.0)
    assert issubclass(SolverError, TeCourseError)


def test_infeasible_ramp_and_soc_end_are_named():
    # soc_end = 1.8 kWh needs 1 kW of charge in both steps (0.9 kWh each), but the ramp allows only 0.5 kW in
    # step 0 (p_{-1} = 0): dropping either the ramp or the end target restores feasibility.
    p = Prosumer(np.zeros(2), [Battery(2, 1, 0.9, 0.9, ramp_kw=0.5, soc_end_kwh=1.8)])
    with pytest.raises(InfeasibleError) as info:
        schedule(p, 0.1)
    text = str(info.value)
    assert "ramp limits (`ramp_kw`)" in text and "end-of-horizon state of charge (`soc_end_kwh`)" in text
    assert re.search(r"Dropping any one of these makes it feasible", text)


def test_check_nonnegative_helper():
    check_nonnegative(np.array([0.0, 1.0]), "p_kw")
    with pytest.raises(ValueError, match=r"`p_kw` must contain non-negative powers; entry 0 is -0.5"):
        check_nonnegative(np.array([-0.5]), "p_kw", "powers")
    with pytest.raises(ValueError, match=r"`p_kw` must contain finite values; entry 0 is nan"):
        check_nonnegative(math.nan, "p_kw")


def test_battery_problem_rejects_unbounded_prices():
    message = r"`price_sell` exceeds `price_buy` at step 1 \(0.3 > 0.2\).*Make `price_sell`"
    with pytest.raises(ValueError, match=message):
        BatteryProblem(2).solve([0.2, 0.2], [0.1, 0.3], e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9)


def test_infeasible_with_no_single_culprit():
    # Two independent contradictions: the battery's ramp vs its end target (as above) and, at step 1, a base
    # load of 3 kW against a 1 kW import limit.  Dropping any one family leaves the other one infeasible.
    p = Prosumer([0.0, 3.0], [Battery(2, 1, 0.9, 0.9, ramp_kw=0.5, soc_end_kwh=1.8)])
    with pytest.raises(InfeasibleError, match=r"No single family is to blame; check these together: .*grid.*ramp"):
        schedule(p, 0.1, import_max_kw=1.0)


def test_solver_failures_become_solver_errors(monkeypatch):
    p = Prosumer([1.0, 1.0], [Battery(1, 1)])
    # Clarabel cannot solve the mixed-integer problem: cvxpy's error is reworded.
    failed = r"The solver CLARABEL failed on the self-scheduling problem .*try another `solver`"
    with pytest.raises(SolverError, match=failed):
        schedule(p, [0.1, 0.3], exclusive=True, solver="CLARABEL")
    with pytest.raises(ValueError, match=r"`solver` 'NO_SUCH_SOLVER' is not an installed cvxpy solver"):
        schedule(p, [0.1, 0.3], solver="NO_SUCH_SOLVER")

    def ends_unbounded(self, *args, **kwargs):
        self._status = "unbounded"

    monkeypatch.setattr(cp.Problem, "solve", ends_unbounded)
    with pytest.raises(UnboundedError, match=r"The self-scheduling problem of 'prosumer' is unbounded"):
        schedule(p, [0.1, 0.3])
    with pytest.raises(UnboundedError, match=r"The battery arbitrage problem is unbounded"):
        BatteryProblem(2).solve([0.1, 0.3], None, e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9)

    def stops(self, *args, **kwargs):
        self._status = "user_limit"

    monkeypatch.setattr(cp.Problem, "solve", stops)
    with pytest.raises(SolverError, match=r"stopped on the self-scheduling problem of 'prosumer' with status"):
        schedule(p, [0.1, 0.3])


# --------------------------------------------------------------------------- issue 14: bad and extreme input


@pytest.mark.parametrize("devices", [None, 3, "pv", {"pv": PV(1.0)}])
def test_prosumer_devices_that_are_not_a_sequence_of_devices_are_named(devices):
    with pytest.raises(TypeError, match=r"`devices` must be a list of PV, Battery, EV or FlexibleLoad"):
        Prosumer([1.0], devices)


RAGGED = [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize(("make", "name"), [
    (lambda: PV(RAGGED), "p_max_kw"),
    (lambda: FlexibleLoad(RAGGED, 0.2), "p_max_kw"),
    (lambda: FlexibleLoad(1.0, RAGGED), "utility"),
    (lambda: FlexibleLoad(1.0, 0.2, p_min_kw=RAGGED), "p_min_kw"),
    (lambda: schedule(Prosumer([1.0, 1.0]), RAGGED), "price_buy"),
    (lambda: schedule(Prosumer([1.0, 1.0]), 0.2, RAGGED), "price_sell"),
    (lambda: schedule(Prosumer([1.0, 1.0]), 0.2, import_max_kw=RAGGED), "import_max_kw"),
    (lambda: schedule(Prosumer([1.0, 1.0]), 0.2, export_max_kw=RAGGED), "export_max_kw"),
])
def test_ragged_lists_are_named(make, name):
    """Issue 14, item 16: numpy's "inhomogeneous shape" error did not say which argument."""
    with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
        make()


@pytest.mark.parametrize("seed", ["abc", 1.5, -1, True, [1, -2], object()])
def test_example_day_names_a_bad_seed(seed):
    with pytest.raises((TypeError, ValueError), match="`seed`"):
        example_day(seed=seed)


@pytest.mark.parametrize("k", [1e300, 1e12, 1e-12])
def test_prices_of_any_magnitude_give_the_schedule_of_the_docstring_example(k):
    """Issue 14, item 15: prices of 1e300 ended in cvxpy's "Cannot unpack invalid solution".

    The cost and the duals are proportional to the prices, and the schedule does not depend on their
    scale: the docstring example (cost 0.257 at prices 0.1 and 0.3, worked out there) times k.
    """
    s = schedule(Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)]), [0.1 * k, 0.3 * k])
    assert s.cost == pytest.approx(0.257 * k, rel=1e-9)
    np.testing.assert_allclose(s.table["battery_charge_kw"], [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(s.duals["balance"], [0.1 * k, 0.3 * k], rtol=1e-9)


def test_the_reproducer_of_issue_14_item_15_solves():
    # one price for both steps: the battery can only lose energy, so it stays idle and the load is bought
    s = schedule(Prosumer([1.0, 1.0], [Battery(2, 1)]), 1e300)
    assert s.cost == pytest.approx(2e300, rel=1e-12)
    assert s.table["battery_charge_kw"].sum() == 0.0


def test_numbers_beyond_the_solver_or_the_float_range_raise_the_package_errors():
    with pytest.raises(SolverError, match="too large or too far apart"):
        schedule(Prosumer([1e300], [Battery(2, 1)]), 1.0)
    # BatteryProblem scales its costs as schedule does (issue 14, fuzz findings): the docstring example times 1e300
    s = BatteryProblem(2).solve([1e299, 3e299], None, e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9,
                                base_load_kw=1.0)
    assert s.cost == pytest.approx(0.257e300, rel=1e-9)
    np.testing.assert_allclose(s.duals["balance"], [1e299, 3e299], rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning on the way
        with pytest.raises(ValueError, match="`price_buy`.*float range|float range.*`price_buy`"):
            schedule(Prosumer([2.0]), 1.7e308)


def test_other_bad_arguments_of_schedule_are_named():
    p = Prosumer([1.0, 1.0], [Battery(2, 1)])
    with pytest.raises(TypeError, match="`exclusive` must be True or False"):
        schedule(p, 0.2, exclusive=np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="`solver` must be a cvxpy solver name"):
        schedule(p, 0.2, solver=["HIGHS"])
    with pytest.raises(ValueError, match="`price_buy` must be finite; got an integer too large"):
        schedule(p, 10**400)
    with pytest.raises(ValueError, match="`e_max_kwh` must be finite"):
        Battery(10**400, 1)
    with pytest.raises(ValueError, match="`n_steps` must be a positive integer"):
        BatteryProblem(10**400)


def test_a_long_horizon_with_a_ramp_limit_builds_without_a_dense_matrix():
    # the ramp rows use a sparse difference matrix (a dense one grows as n^2: 3.2 GB for 20,000 steps)
    n = 3000
    p = Prosumer(np.ones(n), [Battery(2, 1, ramp_kw=0.5)])
    s = schedule(p, np.where(np.arange(n) % 2, 0.3, 0.1))
    change = np.diff(np.r_[0.0, s.table["battery_charge_kw"] - s.table["battery_discharge_kw"]])
    assert np.abs(change).max() <= 0.5 + 1e-7


# --- issue 14: fuzz findings


@pytest.mark.parametrize(("make", "attr"), [
    (lambda: PV([0.0, 2.0, 1.0]), "p_max_kw"),
    (lambda: FlexibleLoad([1.0, 2.0], [0.3, 0.2], p_min_kw=[0.0, 0.5]), "p_min_kw"),
    (lambda: FlexibleLoad([1.0, 2.0], [0.3, 0.2]), "utility"),
    (lambda: EV([1, 1, 0], e_need_kwh=3.0, p_max_kw=7.0), "available"),
    (lambda: Prosumer([1.0, 0.5]), "base_load_kw"),
])
def test_the_arrays_of_devices_and_prosumers_are_read_only(make, attr):
    # an edit in place (pv.p_max_kw[0] = nan) bypassed the constructor's checks: NaN reached the solver
    obj = make()
    with pytest.raises(ValueError, match="read-only"):
        getattr(obj, attr)[0] = np.nan
    rebuilt = type(obj)(**{**{f: getattr(obj, f) for f in obj.__dataclass_fields__}})  # copies are writable
    assert np.array_equal(getattr(rebuilt, attr), getattr(obj, attr))


@pytest.mark.parametrize(("dt_h", "error"), [
    (None, TypeError), ("1", TypeError), (1 + 1j, TypeError), ([1.0], TypeError), (10**400, ValueError),
    (math.nan, ValueError), (math.inf, ValueError), (-1.0, ValueError), (0.0, ValueError), (1e300, ValueError),
    (1e-300, ValueError),
])
def test_ev_max_energy_checks_its_step_length(dt_h, error):
    # it multiplied whatever it got: nan, inf, OverflowError or numpy's own TypeError
    with pytest.raises(error, match="`dt_h`"):
        EV([1, 1, 0], e_need_kwh=3.0, p_max_kw=7.0).max_energy_kwh(dt_h=dt_h)


def test_ev_max_energy_at_the_ends_of_the_step_range():
    ev = EV([1, 1, 0], e_need_kwh=3.0, p_max_kw=7.0, eta=0.9)
    assert ev.max_energy_kwh(dt_h=1e-4) == pytest.approx(0.9 * 7.0 * 1e-4 * 2, rel=1e-12)
    assert ev.max_energy_kwh(dt_h=1e4) == pytest.approx(0.9 * 7.0 * 1e4 * 2, rel=1e-12)


def test_an_ev_that_a_short_step_cannot_charge_names_dt_h():
    with pytest.raises(ValueError, match="`e_need_kwh`.*`dt_h`"):
        schedule(Prosumer([0.0, 0.0], [EV([1, 1], e_need_kwh=3.0, p_max_kw=7.0)]), 0.1, dt_h=1e-3)


@pytest.mark.parametrize("eta", [5e-324, 1e-300, 1e-4])
def test_efficiencies_below_the_documented_minimum_are_refused(eta):
    # breakeven_price_ratio(5e-324, 0.9) was inf; 1 / eta_discharge of 1e300 broke the solver
    with pytest.raises(ValueError, match="`eta_charge`"):
        breakeven_price_ratio(eta, 0.9)
    with pytest.raises(ValueError, match="`eta_discharge`"):
        Battery(1, 1, eta_discharge=eta)
    with pytest.raises(ValueError, match="`eta`"):
        EV([1, 1], e_need_kwh=0.0, p_max_kw=1.0, eta=eta)
    assert breakeven_price_ratio(1e-3, 1e-3) == pytest.approx(1e6)


@pytest.mark.parametrize("dt_h", [1e-12, 1e-300, 1e5, 1e300])
def test_schedule_refuses_steps_outside_the_documented_range(dt_h):
    # 1e-12 h: HiGHS read the costs as zero and returned a wrong schedule (a profit of 9.5e-14 instead of
    # a cost); 1e300 h: "Cannot unpack invalid solution"
    with pytest.raises(ValueError, match="`dt_h`"):
        schedule(Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)]), [0.1, 0.3], dt_h=dt_h)
    with pytest.raises(ValueError, match="`dt_h`"):
        BatteryProblem(2, dt_h=dt_h)


@pytest.mark.parametrize(("dt_h", "k"), [(1e-4, 1e-3), (1e-4, 1.0), (1e4, 1.0), (1e4, 1e6)])
def test_schedule_at_the_ends_of_the_step_range_is_the_docstring_example(dt_h, k):
    # by hand (docstring of schedule): charge 1 kW in step 0, store 0.9 dt_h, return 0.81 kW in step 1 while
    # 0.9 dt_h <= e_max_kwh; the cost is dt_h k (0.1 x 2 + 0.3 x 0.19) = 0.257 dt_h k.  With dt_h = 1e4 the
    # battery (1 kWh) limits the energy: it charges 1/0.9 kWh over the step, i.e. 1 / (0.9 dt_h) kW.
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    s = schedule(p, [0.1 * k, 0.3 * k], dt_h=dt_h)
    c = min(1.0, 1.0 / (0.9 * dt_h))
    d = 0.81 * c
    assert s.cost == pytest.approx(dt_h * k * (0.1 * (1 + c) + 0.3 * (1 - d)), rel=1e-7)
    np.testing.assert_allclose(s.table["battery_charge_kw"], [c, 0.0], rtol=1e-7, atol=1e-12)
    b = BatteryProblem(2, dt_h=dt_h).solve([0.1 * k, 0.3 * k], None, e_max_kwh=1, p_max_kw=1, eta_charge=0.9,
                                           eta_discharge=0.9, base_load_kw=1.0)
    assert b.cost == pytest.approx(s.cost, rel=1e-7)


def test_a_solver_failure_on_huge_powers_names_the_arguments_to_check():
    with pytest.raises(SolverError, match="`base_load_kw`.*`price_buy`.*`dt_h`"):
        schedule(Prosumer([1.0, 1e300, 2.0], [PV([0.0, 2.0, 1.0]), Battery(2.0, 1.0)]), [0.3, 0.1, 0.4])
    with pytest.raises(SolverError, match="`base_load_kw`"):
        BatteryProblem(3).solve([0.1, 0.3, 0.2], 0.05, e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9,
                                base_load_kw=1e20)


# --------------------------------------------------------------------------- issue 17: renamed keywords


def test_old_price_keywords_warn_and_give_the_same_schedule():
    """``buy_price``/``sell_price`` are now ``price_buy``/``price_sell``; the old keywords work for one release."""
    p = Prosumer([1.0, 1.0], [Battery(1.0, 1.0, eta_charge=0.9, eta_discharge=0.9)])
    with pytest.warns(DeprecationWarning) as caught:
        old = schedule(p, buy_price=[0.1, 0.3], sell_price=0.05)
    assert {str(w.message).split(";")[0] for w in caught} == {
        "schedule(): the argument `buy_price` is now called `price_buy`",
        "schedule(): the argument `sell_price` is now called `price_sell`",
    }
    new = schedule(p, price_buy=[0.1, 0.3], price_sell=0.05)
    assert old.cost == new.cost == pytest.approx(0.1 * 2.0 + 0.3 * (1.0 - 0.81))  # the docstring's hand solution
    with pytest.raises(TypeError, match="got both `buy_price` and `price_buy`"):
        schedule(p, buy_price=0.1, price_buy=0.1)
    options = dict(e_max_kwh=1, p_max_kw=1, eta_charge=0.9, eta_discharge=0.9, base_load_kw=1.0)
    with pytest.warns(DeprecationWarning) as caught:
        old = BatteryProblem(2).solve(buy_price=[0.1, 0.3], sell_price=None, **options)
    assert len(caught) == 2 and all("is now called `price_" in str(w.message) for w in caught)
    assert old.cost == pytest.approx(0.257)
    assert BatteryProblem(2).solve(price_buy=[0.1, 0.3], price_sell=None, **options).cost == pytest.approx(0.257)


def test_the_table_has_the_prices_under_both_names():
    s = schedule(Prosumer([1.0, 1.0]), [0.1, 0.3], 0.05)
    np.testing.assert_array_equal(s.table["price_buy"], [0.1, 0.3])
    np.testing.assert_array_equal(s.table["price_sell"], [0.05, 0.05])
    assert s.table["buy_price"].equals(s.table["price_buy"]) and s.table["sell_price"].equals(s.table["price_sell"])


def test_the_device_classes_live_in_devices_and_are_reexported():
    import te_course.devices as devices
    import te_course.prosumer as prosumer

    for name in ("PV", "Battery", "EV", "FlexibleLoad", "Prosumer", "MIN_EFFICIENCY", "DT_H_MIN", "DT_H_MAX"):
        assert getattr(prosumer, name) is getattr(devices, name)
