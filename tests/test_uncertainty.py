"""Tests of te_course.uncertainty against hand-worked cases and an independent extensive form.

References written here, not taken from the package:

- a two-scenario, two-step case solved by hand (the battery charges x kWh in step 0:
  cost 0.3 (1 - x) if sunny, 0.3 + 0.1 x if cloudy);
- the deterministic-equivalent ("extensive form") LP written directly as matrices for
  scipy.optimize.linprog, one battery, no curtailment (with sell prices >= 0 and
  buy >= sell curtailing never lowers the cost);
- the second-stage cost of a fixed plan in closed form:
  sum_t dt (buy_t max(net_t, 0) - sell_t max(-net_t, 0));
- the ordering EV <= WS <= RP <= EEV (Birge and Louveaux 2011, section 4.2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from te_course.prosumer import EV, PV, Battery, Prosumer
from te_course.uncertainty import cvar_schedule, pv_scenarios, recourse_costs, stochastic_value, two_stage_schedule

LOSSLESS = dict(eta_charge=1.0, eta_discharge=1.0)
HAND = dict(price_buy=[0.4, 0.3], price_sell=0.0, pv_scenarios_kw=[[1.0, 0.0], [0.0, 0.0]])


def hand_prosumer():
    return Prosumer([0.0, 1.0], [Battery(1.0, 1.0, **LOSSLESS)])


# --------------------------------------------------------------------------- independent references


def closed_form_costs(base, c, d, buy, sell, pv, dt=1.0):
    """Second-stage cost of plan (c, d) in each scenario; valid when 0 <= sell <= buy."""
    net = base[None, :] + (c - d)[None, :] - pv
    return (buy * np.maximum(net, 0) - sell * np.maximum(-net, 0)).sum(axis=1) * dt


def extensive_form(base, battery, buy, sell, pv, prob, dt=1.0):
    """Solve min_x sum_s p_s Q(x, xi_s) with scipy: variables c, d (T each), imp, exp (S x T each)."""
    S, T = pv.shape
    n = 2 * T + 2 * S * T
    cost = np.zeros(n)
    for s in range(S):
        cost[2 * T + s * T: 2 * T + (s + 1) * T] = prob[s] * buy * dt
        cost[2 * T + S * T + s * T: 2 * T + S * T + (s + 1) * T] = -prob[s] * sell * dt
    # balance: imp - exp - c + d = base - pv
    A_eq = np.zeros((S * T, n))
    b_eq = np.zeros(S * T)
    for s in range(S):
        for t in range(T):
            r = s * T + t
            A_eq[r, 2 * T + s * T + t] = 1.0
            A_eq[r, 2 * T + S * T + s * T + t] = -1.0
            A_eq[r, t] = -1.0
            A_eq[r, T + t] = 1.0
            b_eq[r] = base[t] - pv[s, t]
    # state of charge: soc_t = soc0 + dt * sum_{u <= t} (eta_c c_u - d_u / eta_d) in [soc_min, e_max]
    L = np.tril(np.ones((T, T))) * dt
    soc = np.hstack([battery.eta_charge * L, -L / battery.eta_discharge, np.zeros((T, 2 * S * T))])
    A_ub = np.vstack([soc, -soc])
    b_ub = np.r_[np.full(T, battery.e_max_kwh - battery.soc0_kwh), np.full(T, battery.soc0_kwh - battery.soc_min_kwh)]
    bounds = [(0, battery.p_max_kw)] * (2 * T) + [(0, None)] * (2 * S * T)
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.fun, res.x[:T], res.x[T:2 * T]


def random_case(rng, T=4, S=3):
    base = rng.uniform(0, 2, T)
    buy = rng.uniform(0.1, 0.5, T)
    sell = buy * rng.uniform(0, 1, T)
    pv = rng.uniform(0, 3, (S, T)) * (rng.uniform(size=(S, T)) < 0.8)
    prob = rng.dirichlet(np.ones(S))
    battery = Battery(rng.uniform(0.5, 4), rng.uniform(0.5, 2), eta_charge=rng.uniform(0.8, 1),
                      eta_discharge=rng.uniform(0.8, 1), soc0_kwh=0.0)
    return base, battery, buy, sell, pv, prob


# --------------------------------------------------------------------------- hand-worked case


def test_two_scenario_case_matches_the_hand_solution():
    v = stochastic_value(hand_prosumer(), **HAND)
    # WS: sunny charges 1 (cost 0), cloudy charges 0 (cost 0.3): 0.15.
    # RP: E[cost] = 0.3 - 0.1 x, minimised at x = 1: 0.2.
    # EV problem (PV 0.5): cost 0.3 - 0.3 x for x <= 0.5, 0.1 + 0.1 x above: x_bar = 0.5, EV = 0.15;
    # EEV = (0.3 * 0.5 + 0.35) / 2 = 0.25.
    assert v.ws == pytest.approx(0.15, abs=1e-9)
    assert v.rp == pytest.approx(0.20, abs=1e-9)
    assert v.eev == pytest.approx(0.25, abs=1e-9)
    assert v.ev == pytest.approx(0.15, abs=1e-9)
    assert v.evpi == pytest.approx(0.05, abs=1e-9) and v.vss == pytest.approx(0.05, abs=1e-9)
    assert np.allclose(v.wait_and_see_costs, [0.0, 0.3], atol=1e-9)
    assert v.recourse.plan.loc[0, "battery_charge_kw"] == pytest.approx(1.0)
    assert v.recourse.plan.loc[1, "battery_discharge_kw"] == pytest.approx(1.0)
    assert np.allclose(v.recourse.scenario_costs, [0.0, 0.4], atol=1e-9)
    assert v.expected_value.plan.loc[0, "battery_charge_kw"] == pytest.approx(0.5)
    assert np.allclose(v.expected_value.scenario_costs, [0.15, 0.35], atol=1e-9)
    frame = v.to_frame()
    assert list(frame.index) == ["WS", "RP", "EEV", "EVPI", "VSS"]
    assert frame.loc["VSS", "value"] == pytest.approx(0.05, abs=1e-9)


def test_robust_plan_of_the_hand_case_does_not_charge():
    # max(0.3 - 0.3 x, 0.3 + 0.1 x) = 0.3 + 0.1 x is smallest at x = 0: worst case 0.3, expected 0.3.
    rob = two_stage_schedule(hand_prosumer(), **HAND, objective="worst_case")
    sto = two_stage_schedule(hand_prosumer(), **HAND)
    assert rob.plan["battery_charge_kw"].sum() == pytest.approx(0.0, abs=1e-9)
    assert rob.worst_case_cost == pytest.approx(0.3) and rob.expected_cost == pytest.approx(0.3)
    assert sto.worst_case_cost == pytest.approx(0.4) and sto.expected_cost == pytest.approx(0.2)
    assert rob.objective == "worst_case" and sto.objective == "expected"
    assert list(rob.to_frame().columns) == ["probability", "cost"]


def test_unequal_probabilities_move_the_hand_solution():
    # p = P(sunny): E[cost] = 0.3 - 0.3 p x + 0.1 (1 - p) x; charging pays iff p > 1/4.
    for p_sunny, x in ((0.2, 0.0), (0.3, 1.0)):
        v = stochastic_value(hand_prosumer(), **HAND, probabilities=[p_sunny, 1 - p_sunny])
        assert v.recourse.plan.loc[0, "battery_charge_kw"] == pytest.approx(x, abs=1e-9)
        assert v.rp == pytest.approx(0.3 + (0.1 - 0.4 * p_sunny) * x, abs=1e-9)
        assert v.ws == pytest.approx((1 - p_sunny) * 0.3, abs=1e-9)


# --------------------------------------------------------------------------- against the extensive form


@pytest.mark.parametrize("seed", range(6))
def test_recourse_and_wait_and_see_match_scipy_extensive_form(seed):
    rng = np.random.default_rng(seed)
    base, battery, buy, sell, pv, prob = random_case(rng)
    prosumer = Prosumer(base, [battery])
    v = stochastic_value(prosumer, buy, sell, pv, prob)
    rp, _, _ = extensive_form(base, battery, buy, sell, pv, prob)
    ws = sum(p * extensive_form(base, battery, buy, sell, pv[s:s + 1], [1.0])[0] for s, p in enumerate(prob))
    assert v.rp == pytest.approx(rp, abs=1e-7)
    assert v.ws == pytest.approx(ws, abs=1e-7)
    # EEV: the package's mean-value plan, costed in closed form
    plan = v.expected_value.plan
    eev = prob @ closed_form_costs(base, plan["battery_charge_kw"].to_numpy(), plan["battery_discharge_kw"].to_numpy(),
                                   buy, sell, pv)
    assert v.eev == pytest.approx(eev, abs=1e-7)
    ev, _, _ = extensive_form(base, battery, buy, sell, (prob @ pv)[None, :], [1.0])
    assert v.ev == pytest.approx(ev, abs=1e-7)
    # and the recourse plan's own scenario costs, in closed form
    rplan = v.recourse.plan
    costs = closed_form_costs(base, rplan["battery_charge_kw"].to_numpy(), rplan["battery_discharge_kw"].to_numpy(),
                              buy, sell, pv)
    assert np.allclose(v.recourse.scenario_costs, costs, atol=1e-7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 5))
def test_evpi_and_vss_are_nonnegative_and_the_chain_holds(seed, n_scenarios, n_steps):
    rng = np.random.default_rng(seed)
    base, battery, buy, sell, pv, prob = random_case(rng, T=n_steps, S=n_scenarios)
    v = stochastic_value(Prosumer(base, [battery]), buy, sell, pv, prob)
    tol = 1e-7
    assert v.evpi >= -tol and v.vss >= -tol
    assert v.ev <= v.ws + tol <= v.rp + 2 * tol <= v.eev + 3 * tol
    assert v.evpi == pytest.approx(v.rp - v.ws) and v.vss == pytest.approx(v.eev - v.rp)
    assert v.ws == pytest.approx(prob @ v.wait_and_see_costs, abs=1e-9)
    if n_scenarios == 1:  # no uncertainty: no value in information or in scenarios
        assert abs(v.evpi) < tol and abs(v.vss) < tol


def test_a_zero_probability_scenario_and_a_duplicated_one_change_nothing():
    rng = np.random.default_rng(7)
    base, battery, buy, sell, pv, prob = random_case(rng, S=2)
    prosumer = Prosumer(base, [battery])
    ref = stochastic_value(prosumer, buy, sell, pv, prob)
    extra = stochastic_value(prosumer, buy, sell, np.vstack([pv, 3 * pv[:1]]), np.r_[prob, 0.0])
    split = stochastic_value(prosumer, buy, sell, np.vstack([pv, pv[:1]]), np.r_[prob[0] / 2, prob[1], prob[0] / 2])
    for other in (extra, split):
        assert other.rp == pytest.approx(ref.rp, abs=1e-8) and other.ws == pytest.approx(ref.ws, abs=1e-8)


def test_robust_plan_minimises_the_worst_case_against_a_grid():
    """One battery, two steps, lossless: the worst case over a fine grid of plans (c0, d1)."""
    base, buy, sell = np.array([0.2, 1.5]), np.array([0.35, 0.3]), np.array([0.05, 0.02])
    pv = np.array([[1.2, 0.3], [0.1, 0.0], [0.6, 0.8]])
    battery = Battery(1.0, 1.0, **LOSSLESS)
    rob = two_stage_schedule(Prosumer(base, [battery]), buy, sell, pv, objective="worst_case")
    grid = np.linspace(0, 1, 201)
    best = min(
        closed_form_costs(base, np.array([x, 0.0]), np.array([0.0, y]), buy, sell, pv).max()
        for x in grid for y in grid if y <= x
    )
    assert rob.worst_case_cost == pytest.approx(best, abs=1e-9)  # the optimum lies on the grid (kinks at 0.1 steps)
    sto = two_stage_schedule(Prosumer(base, [battery]), buy, sell, pv)
    assert rob.worst_case_cost <= sto.worst_case_cost + 1e-9 and sto.expected_cost <= rob.expected_cost + 1e-9
    # every scenario's cost is that of the plan with its best recourse, not only the worst one
    c, d = rob.plan["battery_charge_kw"].to_numpy(), rob.plan["battery_discharge_kw"].to_numpy()
    assert np.allclose(rob.scenario_costs, closed_form_costs(base, c, d, buy, sell, pv), atol=1e-9)


def test_robust_scenario_costs_are_the_plans_real_costs_on_random_days():
    for seed in range(5):
        base, battery, buy, sell, pv, prob = random_case(np.random.default_rng(100 + seed), T=6, S=4)
        prosumer = Prosumer(base, [battery])
        rob = two_stage_schedule(prosumer, buy, sell, pv, prob, objective="worst_case")
        assert np.allclose(rob.scenario_costs, recourse_costs(prosumer, rob.plan, buy, sell, pv), atol=1e-7)
        c, d = rob.plan["battery_charge_kw"].to_numpy(), rob.plan["battery_discharge_kw"].to_numpy()
        assert np.allclose(rob.scenario_costs, closed_form_costs(base, c, d, buy, sell, pv), atol=1e-7)
        assert rob.expected_cost == pytest.approx(prob @ rob.scenario_costs)


def test_recourse_costs_of_a_fixed_plan_match_the_closed_form():
    rng = np.random.default_rng(3)
    base, battery, buy, sell, pv, prob = random_case(rng)
    c, d = rng.uniform(0, 0.5, 4), rng.uniform(0, 0.5, 4)
    plan = pd.DataFrame({"battery_charge_kw": c, "battery_discharge_kw": d})
    got = recourse_costs(Prosumer(base, [battery]), plan, buy, sell, pv)
    assert np.allclose(got, closed_form_costs(base, c, d, buy, sell, pv), atol=1e-8)


def test_negative_sell_price_curtails_pv_instead_of_paying_to_export():
    p = Prosumer([0.0], [Battery(1.0, 1.0, **LOSSLESS)])
    v = stochastic_value(p, [0.2], [-0.1], [[2.0]])
    # charge 1 kW from PV (nothing to keep it for), curtail the remaining kW: cost 0, not 0.1 for exporting
    assert v.rp == pytest.approx(0.0, abs=1e-9)


def test_dt_scales_the_costs():
    v1 = stochastic_value(hand_prosumer(), **HAND)
    p = Prosumer([0.0, 1.0], [Battery(0.5, 1.0, **LOSSLESS)])  # half the step: half the energy per kW
    v2 = stochastic_value(p, **HAND, dt_h=0.5)
    assert v2.rp == pytest.approx(v1.rp / 2) and v2.ws == pytest.approx(v1.ws / 2)


# --------------------------------------------------------------------------- scenario generation


def test_pv_scenarios_are_seeded_bounded_and_zero_at_night():
    forecast = np.r_[0.0, 1.0, 3.0, 4.0, 3.0, 1.0, 0.0]
    a = pv_scenarios(forecast, 50, seed=4, p_max_kw=4.5)
    b = pv_scenarios(forecast, 50, seed=4, p_max_kw=4.5)
    c = pv_scenarios(forecast, 50, seed=5, p_max_kw=4.5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (50, 7) and (a >= 0).all() and (a <= 4.5).all()
    assert (a[:, [0, -1]] == 0).all()
    g = pv_scenarios(forecast, 5, seed=np.random.default_rng(1))
    assert g.shape == (5, 7)


def test_pv_scenario_errors_have_the_stated_spread_and_autocorrelation():
    sigma, rho = 0.1, 0.6  # small enough that clipping at 0 never happens
    s = pv_scenarios(np.full(6, 2.0), 100_000, error_std=sigma, autocorrelation=rho, seed=0)
    e = s / 2.0 - 1.0
    assert e.std(axis=0) == pytest.approx(np.full(6, sigma), rel=0.02)
    assert abs(e.mean()) < 4 * sigma / np.sqrt(e.size) * 3
    lag1 = np.mean([np.corrcoef(e[:, t], e[:, t + 1])[0, 1] for t in range(5)])
    lag2 = np.corrcoef(e[:, 0], e[:, 2])[0, 1]
    assert lag1 == pytest.approx(rho, abs=0.01) and lag2 == pytest.approx(rho**2, abs=0.01)
    assert np.array_equal(pv_scenarios([1.0, 2.0], 3, error_std=0.0), np.tile([1.0, 2.0], (3, 1)))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(probabilities=[0.6, 0.6]), r"`probabilities` must sum to 1; they sum to 1.2"),
        (dict(probabilities=[1.5, -0.5]), r"`probabilities` must contain non-negative probabilities; entry 1"),
        (dict(probabilities=[1.0]), r"`probabilities` has 1 entries; give one per scenario \(2\)"),
        (dict(probabilities=[0.5, float("nan")]), r"`probabilities` must contain finite"),
        (dict(pv_scenarios_kw=[[1.0, 0.0, 0.0]]), r"`pv_scenarios_kw` must have shape \(n_scenarios, 2\).*\(1, 3\)"),
        (dict(pv_scenarios_kw=np.zeros((2, 2, 2))), r"`pv_scenarios_kw` must have shape"),
        (dict(pv_scenarios_kw=np.zeros((0, 2))), r"`pv_scenarios_kw` must have shape"),
        (dict(pv_scenarios_kw=[[1.0, -1.0]]), r"`pv_scenarios_kw` must contain non-negative PV outputs"),
        (dict(pv_scenarios_kw=[[1.0, float("nan")]]), r"`pv_scenarios_kw` must contain finite"),
        (dict(price_sell=[0.5, 0.0]), r"`price_sell` exceeds `price_buy` at step 0"),
        (dict(price_buy=[0.4, 0.3, 0.2]), r"price_buy"),
        (dict(dt_h=0), r"`dt_h` must be a positive number"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {**HAND, **kwargs}
    with pytest.raises(ValueError, match=match):
        stochastic_value(hand_prosumer(), args["price_buy"], args["price_sell"], args["pv_scenarios_kw"],
                         args.get("probabilities"), dt_h=args.get("dt_h", 1.0))


def test_bad_prosumers_plans_and_options_are_refused():
    with pytest.raises(ValueError, match="remove it: its PV output comes from `pv_scenarios_kw`"):
        stochastic_value(Prosumer([0.0, 1.0], [PV([1.0, 0.0]), Battery(1, 1)]), **HAND)
    with pytest.raises(ValueError, match="only batteries are first-stage devices"):
        stochastic_value(Prosumer([0.0, 1.0], [EV([1, 1], 1.0, 2.0), Battery(1, 1)]), **HAND)
    with pytest.raises(ValueError, match="has no Battery"):
        stochastic_value(Prosumer([0.0, 1.0]), **HAND)
    with pytest.raises(TypeError, match="`pv_scenarios_kw` must be a 2-D array of numbers"):
        stochastic_value(hand_prosumer(), [0.4, 0.3], 0.0, "sunny")
    with pytest.raises(TypeError, match="`prosumer` must be a te_course Prosumer"):
        stochastic_value([0.0, 1.0], **HAND)
    with pytest.raises(ValueError, match="`objective` must be one of"):
        two_stage_schedule(hand_prosumer(), **HAND, objective="minimax")
    with pytest.raises(ValueError, match=r"`plan` is missing the column\(s\) \['battery_discharge_kw'\]"):
        recourse_costs(hand_prosumer(), pd.DataFrame({"battery_charge_kw": [0.0, 0.0]}), [0.4, 0.3], 0.0, [[1, 0]])
    with pytest.raises(ValueError, match=r"`plan\['battery_charge_kw'\]` has 3 steps"):
        three = pd.DataFrame({"battery_charge_kw": [0.0] * 3, "battery_discharge_kw": [0.0] * 3})
        recourse_costs(hand_prosumer(), three, [0.4, 0.3], 0.0, [[1, 0]])
    with pytest.raises(ValueError, match=r"`plan\['battery_charge_kw'\]` must contain non-negative"):
        negative = pd.DataFrame({"battery_charge_kw": [-1.0, 0], "battery_discharge_kw": [0, 0.0]})
        recourse_costs(hand_prosumer(), negative, [0.4, 0.3], 0.0, [[1, 0]])
    with pytest.raises(TypeError, match="`plan` must be a DataFrame"):
        recourse_costs(hand_prosumer(), [[0, 0]], [0.4, 0.3], 0.0, [[1, 0]])


def test_infeasible_battery_limits_raise_an_infeasible_error_in_words():
    from te_course import InfeasibleError

    # the ramp lets the battery store at most 0.1 + 0.2 = 0.3 kWh in two steps, short of soc_end
    p = Prosumer([0.0, 1.0], [Battery(1.0, 1.0, ramp_kw=0.1, soc_end_kwh=0.5, **LOSSLESS)])
    with pytest.raises(InfeasibleError, match="scenario problem is infeasible.*`soc_end_kwh`, `ramp_kw`"):
        stochastic_value(p, **HAND)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_scenarios=0), r"`n_scenarios` must be a positive integer; got 0"),
        (dict(n_scenarios=2.5), r"`n_scenarios` must be a positive integer"),
        (dict(error_std=-0.1), r"`error_std` must be >= 0"),
        (dict(error_std=float("nan")), r"`error_std` must contain finite"),
        (dict(autocorrelation=1.0), r"`autocorrelation` must lie in \[0, 1\)"),
        (dict(p_max_kw=0), r"`p_max_kw` must be a positive number"),
    ],
)
def test_bad_scenario_options_name_the_argument(kwargs, match):
    args = {"n_scenarios": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        pv_scenarios([1.0, 2.0], **args)
    with pytest.raises(ValueError, match=r"`forecast_kw` must contain non-negative"):
        pv_scenarios([1.0, -2.0], 3)


def test_scenario_options_that_are_not_numbers_name_the_argument():
    with pytest.raises(TypeError, match="`error_std` must be a number; got 'high'"):
        pv_scenarios([1.0, 2.0], 3, error_std="high")
    with pytest.raises(TypeError, match="`autocorrelation` must be a number; got None"):
        pv_scenarios([1.0, 2.0], 3, autocorrelation=None)


# --------------------------------------------------------------------------- extreme inputs (issue 14)


@pytest.mark.parametrize(
    ("seed", "error"),
    [("abc", TypeError), (-1, ValueError), (1.5, TypeError), (True, TypeError), (object(), TypeError)],
)
def test_a_bad_seed_names_the_argument(seed, error):
    with pytest.raises(error, match=r"`seed` must be None, a non-negative integer or a numpy Generator"):
        pv_scenarios([1.0, 2.0], 3, seed=seed)


def test_scenarios_beyond_the_float_range_are_refused_or_capped():
    with pytest.raises(ValueError, match=r"leaves the float range.*`forecast_kw` \(1.7e\+308 kW\)"):
        pv_scenarios([0.0, 1.7e308], 3, seed=1)
    with pytest.raises(ValueError, match=r"leaves the float range.*`error_std` = 1e\+308"):
        pv_scenarios([0.0, 2.0], 50, error_std=1e308, seed=1)
    # With an inverter rating every scenario is a number: an overflowing product is above the cap (or,
    # for 1 + e < 0, below 0), and the night stays 0 even when 0 * (1 + e) would be 0 * inf = nan.
    capped = pv_scenarios([0.0, 1.7e308], 20, p_max_kw=5.0, seed=1)
    assert np.isfinite(capped).all() and (capped[:, 0] == 0).all() and set(np.unique(capped[:, 1])) <= {0.0, 5.0}
    # errors of +-inf at consecutive steps (inf - inf in the AR(1) recursion was NaN)
    wild = pv_scenarios([0.0, 2.0, 3.0, 0.0], 2000, error_std=1e308, p_max_kw=5.0, seed=1)
    assert (wild[:, [0, 3]] == 0).all() and set(np.unique(wild[:, 1:3])) == {0.0, 5.0}


# --- issue 14: fuzz findings


@pytest.mark.parametrize("k", [1e300, 1e-12])
def test_prices_of_any_magnitude_give_the_hand_solution(k):
    # prices of 1e300 ended in cvxpy's "Cannot unpack invalid solution" (a ValueError from cvxpy).
    # The hand solution (docstring of stochastic_value) times k: WS 0.15 k, RP 0.2 k, EEV 0.25 k.
    v = stochastic_value(hand_prosumer(), [0.4 * k, 0.3 * k], 0.0, [[1.0, 0.0], [0.0, 0.0]])
    # (the costs were cleaned with an absolute 1e-9: at k = 1e-12 every cost came back 0)
    assert (v.ws, v.rp, v.eev) == pytest.approx((0.15 * k, 0.2 * k, 0.25 * k), rel=1e-9, abs=0.0)
    plan = pd.DataFrame({"battery_charge_kw": [0.5, 0.0], "battery_discharge_kw": [0.0, 0.5]})
    np.testing.assert_allclose(recourse_costs(hand_prosumer(), plan, [0.4 * k, 0.3 * k], 0.0,
                                              [[1.0, 0.0], [0.0, 0.0]]), [0.15 * k, 0.35 * k], rtol=1e-9)


def test_a_solver_failure_names_the_arguments_to_check():
    from te_course._validation import SolverError

    p = Prosumer([0.0, 1e300], [Battery(1, 1, eta_charge=1, eta_discharge=1)])
    with pytest.raises(SolverError, match="`base_load_kw`.*`price_buy`"):
        two_stage_schedule(p, **HAND)


@pytest.mark.parametrize("dt_h", [1e-300, 1e300])
def test_steps_outside_the_documented_range_are_named(dt_h):
    with pytest.raises(ValueError, match="`dt_h`"):
        stochastic_value(hand_prosumer(), **HAND, dt_h=dt_h)


@pytest.mark.parametrize(("pv", "error"), [([[1.0, 10**400], [0.0, 0.0]], ValueError),
                                           ([[1.0, 1 + 1j], [0.0, 0.0]], TypeError)])
def test_scenario_values_that_are_not_floats_are_named(pv, error):
    # 10**400 raised a bare OverflowError
    with pytest.raises(error, match="`pv_scenarios_kw`"):
        two_stage_schedule(hand_prosumer(), [0.4, 0.3], 0.0, pv)


def test_probabilities_of_another_length_name_the_scenarios_too():
    with pytest.raises(ValueError, match="`probabilities`.*`pv_scenarios_kw` has 3 rows"):
        two_stage_schedule(hand_prosumer(), [0.4, 0.3], 0.0, [[1.0, 0.0], [0.0, 0.0], [0.5, 0.0]], [0.5, 0.5])


@pytest.mark.parametrize("n", [10**12, 10**400, 2_500_001])
def test_pv_scenarios_caps_the_number_of_draws(n):
    # 10**12 scenarios tried to allocate 29 TiB (MemoryError) or ran for minutes
    with pytest.raises(ValueError, match="`n_scenarios`"):
        pv_scenarios([0.0, 1.0, 2.0, 1.0], n)
    assert pv_scenarios([0.0, 1.0, 2.0, 1.0], 2_500_000, seed=1).shape == (2_500_000, 4)


@pytest.mark.parametrize("name", ["error_std", "autocorrelation"])
def test_pv_scenarios_names_an_integer_beyond_the_floats(name):
    # float(10**400) raised a bare OverflowError
    with pytest.raises(ValueError, match=f"`{name}`"):
        pv_scenarios([0.0, 1.0], 3, **{name: 10**400})


# --------------------------------------------------------------------------- CVaR (Rockafellar and Uryasev 2000)


def brute_force_cvar(costs, prob, alpha):
    """The mean of the worst 1 - alpha of the probability: sort the costs, take the tail, split the last atom."""
    order = np.argsort(costs)[::-1]  # the dearest first
    left, total = 1.0 - alpha, 0.0
    for s in order:
        take = min(prob[s], left)
        total += take * costs[s]
        left -= take
        if left <= 1e-15:
            break
    return total / (1.0 - alpha)


def cvar_extensive_form(base, battery, buy, sell, pv, prob, alpha, w, dt=1.0):
    """min (1 - w) E[Q] + w (eta + E[u] / (1 - alpha)), u_s >= Q_s - eta, u >= 0, as one scipy LP.

    Columns: c, d (T each), imp, exp (S x T each), eta (free), u (S).
    """
    S, T = pv.shape
    n0 = 2 * T + 2 * S * T
    n = n0 + 1 + S
    q = np.zeros((S, n))  # row s: the cost Q_s as a linear function of the columns
    for s in range(S):
        q[s, 2 * T + s * T: 2 * T + (s + 1) * T] = buy * dt
        q[s, 2 * T + S * T + s * T: 2 * T + S * T + (s + 1) * T] = -sell * dt
    cost = (1 - w) * prob @ q
    cost[n0] = w
    cost[n0 + 1:] = w * np.asarray(prob) / (1 - alpha)
    A_eq = np.zeros((S * T, n))
    b_eq = np.zeros(S * T)
    for s in range(S):
        for t in range(T):
            r = s * T + t
            A_eq[r, [2 * T + s * T + t, 2 * T + S * T + s * T + t, t, T + t]] = [1.0, -1.0, -1.0, 1.0]
            b_eq[r] = base[t] - pv[s, t]
    L = np.tril(np.ones((T, T))) * dt
    soc = np.hstack([battery.eta_charge * L, -L / battery.eta_discharge, np.zeros((T, n - 2 * T))])
    tail = q.copy()  # Q_s - eta - u_s <= 0
    tail[:, n0] = -1.0
    tail[np.arange(S), n0 + 1 + np.arange(S)] = -1.0
    A_ub = np.vstack([soc, -soc, tail])
    b_ub = np.r_[np.full(T, battery.e_max_kwh - battery.soc0_kwh), np.full(T, battery.soc0_kwh - battery.soc_min_kwh),
                 np.zeros(S)]
    bounds = [(0, battery.p_max_kw)] * (2 * T) + [(0, None)] * (2 * S * T) + [(None, None)] + [(0, None)] * S
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.fun


def test_cvar_plan_of_the_hand_case():
    # alpha = 0.5, equal probabilities: the CVaR is the dearer scenario, cloudy (0.3 + 0.1 x >= 0.3 - 0.3 x).
    # (1 - w)(0.3 - 0.1 x) + w (0.3 + 0.1 x) = 0.3 + (0.2 w - 0.1) x: charge fully iff w < 1/2.
    for w, x in ((0.0, 1.0), (0.25, 1.0), (0.75, 0.0), (1.0, 0.0)):
        r = cvar_schedule(hand_prosumer(), **HAND, alpha=0.5, risk_weight=w)
        assert r.plan.loc[0, "battery_charge_kw"] == pytest.approx(x, abs=1e-9)
        assert np.allclose(r.scenario_costs, [0.3 * (1 - x), 0.3 + 0.1 * x], atol=1e-9)
        # VaR_0.5 is the cheaper cost (it is not exceeded with probability 0.5); the CVaR the dearer one
        assert r.var == pytest.approx(0.3 * (1 - x), abs=1e-9) and r.cvar == pytest.approx(0.3 + 0.1 * x, abs=1e-9)
        assert r.expected_cost == pytest.approx(0.3 - 0.1 * x, abs=1e-9)
    frame = r.to_frame()
    assert list(frame.columns) == ["probability", "cost", "tail_weight"]
    assert frame["tail_weight"].sum() == pytest.approx(1.0)


def test_cvar_with_no_weight_or_level_zero_is_the_expected_cost_plan():
    sto = two_stage_schedule(hand_prosumer(), **HAND)
    for kwargs in (dict(risk_weight=0.0), dict(alpha=0.0)):
        r = cvar_schedule(hand_prosumer(), **HAND, **kwargs)
        assert r.expected_cost == pytest.approx(sto.expected_cost, abs=1e-9)
    # alpha = 0: the CVaR is the mean
    r = cvar_schedule(hand_prosumer(), **HAND, alpha=0.0)
    assert r.cvar == pytest.approx(r.expected_cost, abs=1e-9)


def test_cvar_at_a_high_level_is_the_worst_case_plan():
    rng = np.random.default_rng(3)
    base, battery, buy, sell, pv, prob = random_case(rng, T=5, S=4)
    prosumer = Prosumer(base, [battery])
    rob = two_stage_schedule(prosumer, buy, sell, pv, prob, objective="worst_case")
    r = cvar_schedule(prosumer, buy, sell, pv, prob, alpha=1.0 - 0.5 * prob.min(), risk_weight=1.0)
    assert r.cvar == pytest.approx(rob.worst_case_cost, abs=1e-7)
    assert r.scenario_costs.max() == pytest.approx(rob.worst_case_cost, abs=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_cvar_plan_matches_scipy_and_the_brute_force_cvar(seed):
    rng = np.random.default_rng(100 + seed)
    base, battery, buy, sell, pv, prob = random_case(rng, T=4, S=5)
    alpha, w = float(rng.choice([0.5, 0.8, 0.9])), float(rng.choice([0.3, 0.7, 1.0]))
    r = cvar_schedule(Prosumer(base, [battery]), buy, sell, pv, prob, alpha=alpha, risk_weight=w)
    # the plan's real costs, in closed form
    c, d = r.plan["battery_charge_kw"].to_numpy(), r.plan["battery_discharge_kw"].to_numpy()
    costs = closed_form_costs(base, c, d, buy, sell, pv)
    assert np.allclose(r.scenario_costs, costs, atol=1e-7)
    # its CVaR by sorting, and the objective against scipy's optimum of the same LP
    cvar = brute_force_cvar(costs, prob, alpha)
    assert r.cvar == pytest.approx(cvar, abs=1e-7)
    assert r.tail_weights @ r.scenario_costs == pytest.approx(cvar, abs=1e-7)
    assert (1 - w) * prob @ costs + w * cvar == pytest.approx(
        cvar_extensive_form(base, battery, buy, sell, pv, prob, alpha, w), abs=1e-6)
    # VaR: the smallest cost whose probability of not being exceeded reaches alpha
    assert prob[costs <= r.var + 1e-12].sum() >= alpha - 1e-9
    assert prob[costs < r.var - 1e-9].sum() < alpha + 1e-9


def test_risk_aversion_trades_expected_cost_for_a_lower_cvar():
    rng = np.random.default_rng(7)
    base, battery, buy, sell, pv, prob = random_case(rng, T=6, S=6)
    prosumer = Prosumer(base, [battery])
    runs = [cvar_schedule(prosumer, buy, sell, pv, prob, alpha=0.8, risk_weight=w) for w in (0.0, 0.5, 1.0)]
    for a, b in zip(runs, runs[1:]):
        assert b.expected_cost >= a.expected_cost - 1e-7 and b.cvar <= a.cvar + 1e-7


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(alpha=1.0), ValueError, "alpha"),
    (dict(alpha=-0.1), ValueError, "alpha"),
    (dict(alpha="0.9"), TypeError, "alpha"),
    (dict(risk_weight=1.5), ValueError, "risk_weight"),
    (dict(risk_weight=None), TypeError, "risk_weight"),
])
def test_cvar_options_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        cvar_schedule(hand_prosumer(), **HAND, **kwargs)


def test_old_price_keywords_warn_and_give_the_same_answers():
    """Issue 17: ``buy_price``/``sell_price`` became ``price_buy``/``price_sell``; the old keywords still work."""
    old_args = dict(buy_price=[0.4, 0.3], sell_price=0.0, pv_scenarios_kw=[[1.0, 0.0], [0.0, 0.0]])
    plan = pd.DataFrame({"battery_charge_kw": [0.5, 0.0], "battery_discharge_kw": [0.0, 0.5]})
    calls = [
        (stochastic_value, (), {}, lambda v: (v.ws, v.rp, v.eev)),
        (two_stage_schedule, (), {}, lambda r: r.expected_cost),
        (cvar_schedule, (), dict(alpha=0.5, risk_weight=0.25), lambda r: r.cvar),
        (recourse_costs, (plan,), {}, tuple),
    ]
    for function, args, options, key in calls:
        with pytest.warns(DeprecationWarning) as caught:
            old = function(hand_prosumer(), *args, **old_args, **options)
        assert len(caught) == 2 and all("is now called `price_" in str(w.message) for w in caught)
        new = function(hand_prosumer(), *args, **HAND, **options)
        assert key(old) == pytest.approx(key(new))
    # the hand values of the module docstring's example: WS 0.15, RP 0.2, EEV 0.25
    assert (stochastic_value(hand_prosumer(), **HAND).ws, stochastic_value(hand_prosumer(), **HAND).rp) == (
        pytest.approx(0.15), pytest.approx(0.2))
