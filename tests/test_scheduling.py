"""Tests of te_course.scheduling: the multi-period OPF, its DLMPs, the hourly clearing and the EV fleet.

Independent references:

- every DLMP against a central finite difference of the optimal cost in the load of
  that bus and step (re-solving the OPF with ``fixed_kw`` perturbed);
- the decentralisation property (Li, Wu and Oren 2014): each prosumer's schedule is a
  best response to its DLMPs, checked with te_course.prosumer.schedule, an LP written
  separately for a single prosumer;
- voltages without prosumers against the single-period LinDistFlow of
  te_course.powerflow (tested against pandapower) and, on a two-bus feeder, the
  closed form w = 1 - 2 (r P + x Q);
- the rolling clearing against the day-ahead solution (Bellman: equal with perfect forecasts);
- hand-worked uncontrolled charging and fleet counts;
- the cheapest-first charging against scipy's linprog (HiGHS) on random EVs, and against the OPF's own
  schedule: the same cost at the DLMPs (prices x energy), while the AC power flow finds a limit broken
  that the OPF's schedule keeps (Huang, Wu, Oren, Li and Liu 2015: the multiple-solution issue).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import te_course as tc
from te_course.prosumer import EV, PV, Battery, FlexibleLoad, Prosumer, schedule
from te_course.scheduling import (
    EVStudyProblem,
    cheapest_first_charging,
    day_ahead_dlmp,
    ev_fleet,
    ev_study,
    evaluate_day,
    rate_lines,
    simulate_day,
    uncontrolled_charging,
)

NIGHT = np.r_[np.ones(7), np.zeros(11), np.ones(6)]  # plugged in 18:00-07:00


def two_bus(r_ohm=0.05, x_ohm=0.03, s_max_kva=np.nan):
    buses = pd.DataFrame({"p_kw": [0.0, 100.0], "q_kvar": [0.0, 30.0]}, index=["grid", "house"])
    lines = pd.DataFrame({"from_bus": ["grid"], "to_bus": ["house"], "r_ohm": [r_ohm], "x_ohm": [x_ohm],
                          "s_max_kva": [s_max_kva]})
    return tc.Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation="grid")


def small_day():
    """IEEE 33 over 4 steps, three prosumers; the voltage limit binds in step 2 (the EV wants the cheap step)."""
    f = tc.ieee33()
    pv = np.array([0.0, 40.0, 60.0, 0.0])
    pros = {
        18: Prosumer(np.full(4, 20.0), [PV(pv, name="pv"), Battery(80.0, 40.0, name="battery")], name="a"),
        33: Prosumer(np.zeros(4), [EV([1, 1, 1, 1], 120.0, 60.0, eta=1.0, name="ev")], name="b"),
        25: Prosumer(np.full(4, 10.0), [Battery(50.0, 25.0, eta_charge=0.9, eta_discharge=0.9, name="battery")],
                     name="c"),
    }
    kwargs = dict(price_substation=[0.10, 0.20, 0.15, 0.30], load_profile=[0.8, 0.9, 0.95, 0.95], v_min_pu=0.92)
    return f, pros, kwargs


# --------------------------------------------------------------------------- physics without prosumers


def test_voltages_without_prosumers_match_single_period_lindistflow():
    f = tc.ieee33()
    scale = [0.3, 0.8, 1.0]
    day = day_ahead_dlmp(f, price_substation=0.05, load_profile=scale, v_min_pu=0.85)
    for t, k in enumerate(scale):
        ref = tc.lindistflow(f.scale_loads(k))
        assert np.allclose(day.v_pu.loc[t].to_numpy(), ref.v_pu.to_numpy(), atol=1e-7)
        assert np.allclose(day.flows_kw.loc[t].to_numpy(), ref.p_kw.to_numpy(), atol=1e-4)
        assert day.substation_kw[t] == pytest.approx(3715.0 * k, abs=1e-4)
    # with no limit binding, every DLMP is the substation price
    assert np.allclose(day.prices.to_numpy(), 0.05, atol=1e-8) and day.binding == ()


def test_two_bus_voltage_is_the_closed_form():
    f = two_bus()
    day = day_ahead_dlmp(f, price_substation=[0.1, 0.1], load_profile=[1.0, 2.0], v_min_pu=0.5)
    zb = 0.4**2 * 1000 / 100.0
    for t, k in enumerate([1.0, 2.0]):
        w = 1 - 2 * (0.05 / zb * 1.0 * k + 0.03 / zb * 0.3 * k)  # P = 100 kW * k = k p.u., Q = 0.3 k p.u.
        assert day.v_pu.loc[t, "house"] == pytest.approx(np.sqrt(w), abs=1e-9)


# --------------------------------------------------------------------------- prices are marginal costs


def _cost_with_extra_load(f, pros, kwargs, bus, step, delta):
    extra = pd.DataFrame(0.0, index=range(4), columns=[bus])
    extra.loc[step, bus] = delta
    return day_ahead_dlmp(f, pros, fixed_kw=extra, **kwargs).cost


def test_dlmps_are_finite_differences_of_the_optimal_cost():
    f, pros, kwargs = small_day()
    day = day_ahead_dlmp(f, pros, **kwargs)
    assert any("voltage at bus" in b for b in day.binding), day.binding  # a congested case
    congested = day.prices.max(axis=None) - day.prices.min(axis=None)
    assert congested > 0.01
    h = 0.5  # kW; the OPF is piecewise linear in the load, so a small step stays on one piece
    for bus in (2, 18, 33, 25):
        for step in range(4):
            up = _cost_with_extra_load(f, pros, kwargs, bus, step, h)
            down = _cost_with_extra_load(f, pros, kwargs, bus, step, -h)
            fd = (up - down) / (2 * h)  # dt = 1 h: currency per kWh
            assert day.prices.loc[step, bus] == pytest.approx(fd, abs=2e-5), (bus, step)


def test_a_line_limit_makes_the_downstream_price_rise_and_is_reported():
    f = tc.ieee33()
    f.lines.loc[1, "s_max_kva"] = 2500.0  # the substation's line 1-2
    ev = Prosumer(np.zeros(3), [EV([1, 1, 1], 600.0, 400.0, eta=1.0)], name="fleet")
    # at half load line 1-2 carries 1857.5 kW and 1150 kvar (2185 kVA): room for about 360 kW more, less than the
    # fleet would like to draw in the cheapest step
    day = day_ahead_dlmp(f, {18: ev}, price_substation=[0.1, 0.2, 0.3], load_profile=[0.5, 0.5, 0.5],
                         v_min_pu=0.8)
    assert any("line 1-2 at its limit" in b for b in day.binding), day.binding
    s12 = np.hypot(day.flows_kw[1], day.flows_kvar[1])
    assert (s12 <= 2500.0 + 1e-3).all() and day.loading[1].max() == pytest.approx(1.0, abs=1e-6)
    # finite difference at the congested step
    t = int(np.argmax(day.prices[18].to_numpy()))
    costs = []
    for d in (0.5, -0.5):
        extra = pd.DataFrame(0.0, index=range(3), columns=[18])
        extra.loc[t, 18] = d
        costs.append(day_ahead_dlmp(f, {18: ev}, price_substation=[0.1, 0.2, 0.3], load_profile=[0.5] * 3,
                                    fixed_kw=extra, v_min_pu=0.8).cost)
    assert day.prices.loc[t, 18] == pytest.approx((costs[0] - costs[1]) / 1.0, abs=2e-5)


def test_each_prosumer_best_responds_to_its_dlmps():
    """Li, Wu and Oren (2014): the OPF schedule minimises each prosumer's own bill at the DLMPs."""
    f, pros, kwargs = small_day()
    day = day_ahead_dlmp(f, pros, **kwargs)
    for bus, p in pros.items():
        table = day.schedules[p.name]
        prices = day.prices[bus].to_numpy()
        own = schedule(p, prices, prices)  # a separate LP: the prosumer alone, buying and selling at its DLMP
        assert table["payment"].sum() == pytest.approx(own.cost, abs=1e-5), p.name
        assert np.allclose(table["net_import_kw"], day.net_load_kw[bus] - np.r_[0.8, 0.9, 0.95, 0.95]
                           * f.buses.loc[bus, "p_kw"], atol=1e-6)
    ev = day.schedules["b"]["ev_kw"]
    assert ev.sum() == pytest.approx(120.0, abs=1e-6)


def test_schedule_tables_respect_the_devices():
    f, pros, kwargs = small_day()
    a = day_ahead_dlmp(f, pros, **kwargs).schedules["a"]
    assert (a["pv_kw"] <= np.array([0.0, 40.0, 60.0, 0.0]) + 1e-7).all()
    assert np.allclose(a["pv_kw"] + a["pv_curtailed_kw"], [0.0, 40.0, 60.0, 0.0])
    soc = np.cumsum(0.95 * a["battery_charge_kw"] - a["battery_discharge_kw"] / 0.95)
    assert np.allclose(a["battery_soc_kwh"], soc, atol=1e-6) and (a["battery_soc_kwh"] <= 80 + 1e-6).all()
    net = 20.0 + a["battery_charge_kw"] - a["battery_discharge_kw"] - a["pv_kw"]
    assert np.allclose(a["net_import_kw"], net, atol=1e-6)


# --------------------------------------------------------------------------- hourly clearing


def test_rolling_clearing_with_perfect_forecasts_reproduces_the_day_ahead_solution():
    f, pros, kwargs = small_day()
    ahead = day_ahead_dlmp(f, pros, **kwargs)
    rolling = simulate_day(f, pros, **kwargs, progress=False)
    assert np.allclose(rolling.v_pu, ahead.v_pu, atol=1e-7)
    assert np.allclose(rolling.net_load_kw, ahead.net_load_kw, atol=1e-5)
    # the last step has nothing left to shift: its prices agree; at step 2 the day-ahead price may differ, because
    # it may still move energy to steps 0 and 1, which the hourly clearing has already settled
    assert np.allclose(rolling.prices.loc[3], ahead.prices.loc[3], atol=1e-6)
    assert np.allclose(rolling.prices.loc[0], ahead.prices.loc[0], atol=1e-6)
    assert rolling.cost == pytest.approx(ahead.cost, rel=1e-7)
    assert set(rolling.binding) == set(ahead.binding)
    assert np.allclose(rolling.schedules["b"]["ev_kw"], ahead.schedules["b"]["ev_kw"], atol=1e-5)


def test_rolling_clearing_uses_the_actual_pv_of_each_hour_and_keeps_the_state():
    f, pros, kwargs = small_day()
    actual = np.array([0.0, 10.0, 90.0, 0.0])  # a cloudy step 1, a sunnier step 2
    day = simulate_day(f, pros, **kwargs, pv_actual_kw={("a", "pv"): actual}, progress=False)
    a = day.schedules["a"]
    assert np.allclose(a["pv_kw"] + a["pv_curtailed_kw"], actual)  # each step cleared with its actual PV
    # the battery's state of charge follows its own recursion from step to step
    soc = np.cumsum(0.95 * a["battery_charge_kw"] - a["battery_discharge_kw"] / 0.95)
    assert np.allclose(a["battery_soc_kwh"], soc, atol=1e-5)
    # the EV still gets exactly its energy over the day
    assert day.schedules["b"]["ev_kw"].sum() == pytest.approx(120.0, abs=1e-5)
    # and the cost actually incurred is the substation energy bill
    assert day.cost == pytest.approx(float(np.dot(day.substation_kw, kwargs["price_substation"])), rel=1e-9)


def test_rolling_clearing_refuses_what_it_cannot_carry_over():
    f = tc.ieee33()
    ramp = Prosumer(np.zeros(2), [Battery(1, 1, ramp_kw=0.5)], name="r")
    with pytest.raises(ValueError, match="has `ramp_kw`; the hourly clearing does not carry ramp limits"):
        simulate_day(f, {5: ramp}, price_substation=[0.1, 0.2], progress=False)
    flex = Prosumer(np.zeros(2), [FlexibleLoad(1.0, utility=0.2)], name="x")
    with pytest.raises(ValueError, match="the hourly clearing takes PV, Battery and EV devices"):
        simulate_day(f, {5: flex}, price_substation=[0.1, 0.2], progress=False)
    house = Prosumer(np.zeros(2), [PV([0, 1.0])], name="h")
    with pytest.raises(ValueError, match=r"`pv_actual_kw` names \('h', 'roof'\)"):
        simulate_day(f, {5: house}, price_substation=[0.1, 0.2], pv_actual_kw={("h", "roof"): [0, 1]}, progress=False)
    with pytest.raises(ValueError, match=r"`pv_actual_kw\[\('h', 'pv'\)\]` must hold 2 finite values >= 0"):
        simulate_day(f, {5: house}, price_substation=[0.1, 0.2], pv_actual_kw={("h", "pv"): [0, -1]}, progress=False)


# --------------------------------------------------------------------------- AC evaluation


def test_evaluate_day_is_the_ac_power_flow_of_every_step():
    f, pros, kwargs = small_day()
    day = day_ahead_dlmp(f, pros, **kwargs)
    flows = evaluate_day(f, day.net_load_kw, day.net_load_kvar)  # every step in one sweep
    for t in day.net_load_kw.index:
        feeder_t = f.replace(buses=f.buses.assign(p_kw=day.net_load_kw.loc[t], q_kvar=day.net_load_kvar.loc[t]))
        ref = tc.ac_power_flow(feeder_t)
        assert np.allclose(flows.v_pu.loc[t], ref.v_pu, rtol=0, atol=1e-12)
        assert np.allclose(flows.flows_kva.loc[t], np.hypot(ref.p_kw, ref.q_kvar), rtol=1e-12, atol=1e-9)
        assert flows.loss_kw[t] == pytest.approx(ref.total_loss_kw, rel=1e-12)
        assert flows.substation_kw[t] == pytest.approx(ref.substation_p_kw, rel=1e-12)
        # LinDistFlow neglects losses: the AC voltages are lower, by less than 1 %
        assert (flows.v_pu.loc[t] <= day.v_pu.loc[t] + 1e-9).all()
        assert (day.v_pu.loc[t] - flows.v_pu.loc[t]).max() < 0.01
    frame = flows.to_frame()
    assert list(frame.columns) == ["v_min_pu", "v_min_bus", "loading_max", "loading_max_line", "loss_kw",
                                   "substation_kw"]


# --------------------------------------------------------------------------- EVs


def test_uncontrolled_charging_by_hand():
    car = EV(NIGHT, e_need_kwh=20.0, p_max_kw=7.0, eta=1.0)
    p = uncontrolled_charging(car)
    assert p[18] == 7.0 and p[19] == 7.0 and p[20] == pytest.approx(6.0) and p.sum() == pytest.approx(20.0)
    late = uncontrolled_charging(car, arrival_step=22)  # 22, 23, then wraps to 0
    assert np.allclose(late[[22, 23, 0]], [7, 7, 6]) and late.sum() == pytest.approx(20.0)
    lossy = uncontrolled_charging(EV(NIGHT, 9.0, 5.0, eta=0.9))
    assert np.allclose(lossy[[18, 19, 20]], [5.0, 5.0, 0.0])  # 0.9 * 5 * 2 = 9 kWh
    half_hours = uncontrolled_charging(EV(np.ones(4), 3.0, 2.0, eta=1.0), dt_h=0.5)
    assert np.allclose(half_hours, [2.0, 2.0, 2.0, 0.0])
    with pytest.raises(ValueError, match=r"`arrival_step` must be an integer step in \[0, 24\)"):
        uncontrolled_charging(car, arrival_step=24)
    with pytest.raises(TypeError, match="`ev` must be a te_course EV"):
        uncontrolled_charging("car")
    with pytest.raises(ValueError, match="can receive at most"):
        uncontrolled_charging(EV(NIGHT, 200.0, 7.0))


def test_uncontrolled_charging_goes_round_the_day_once():
    car = EV(np.r_[np.ones(3), np.zeros(3)], e_need_kwh=3.0, p_max_kw=1.0, eta=1.0)
    assert np.allclose(uncontrolled_charging(car, arrival_step=1), [1, 1, 1, 0, 0, 0])


def test_ev_fleet_counts_and_loads_by_hand():
    f = tc.ieee33()
    fleet = ev_fleet(f, 0.2, share_responsive=0.5, kw_per_household=2.0, p_max_kw=3.7, e_need_kwh=10.0, eta=0.9)
    # bus 18: 90 kW -> 45 households -> 9 cars: round(4.5) = 4 responsive (banker's rounding), 5 uncontrolled
    assert fleet.counts.loc[18].tolist() == [9, 4, 5]
    assert fleet.counts.loc[1, "evs"] == 0 and 1 not in fleet.prosumers
    ev = fleet.prosumers[18].devices[0]
    assert ev.p_max_kw == pytest.approx(4 * 3.7) and ev.e_need_kwh == pytest.approx(40.0)
    # each uncontrolled car draws 3.7 kW from 18:00 until it has 10 / 0.9 kWh from the grid
    one = fleet.fixed_kw[18] / 5
    assert np.allclose(one[[18, 19, 20, 21, 22]], [3.7, 3.7, 3.7, 10 / 0.9 - 11.1, 0.0])
    assert one.sum() == pytest.approx(10 / 0.9)
    assert fleet.to_frame().equals(fleet.counts)
    for bad, match in (
        (dict(penetration=-0.1), r"`penetration` must be a number >= 0"),
        (dict(share_responsive=1.5), r"`share_responsive` must lie between 0 and 1"),
        (dict(arrival_step=30), r"`arrival_step` must be an integer step in \[0, 24\)"),
        (dict(arrival_step=7, departure_step=7), "are equal"),
        (dict(kw_per_household=0), r"`kw_per_household` must be a positive number"),
    ):
        args = {"penetration": 0.2, **bad}
        with pytest.raises(ValueError, match=match):
            ev_fleet(f, args.pop("penetration"), **args)


def test_responsive_evs_lower_the_peak_and_raise_the_lowest_voltage():
    f = tc.ieee33()
    load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    price = tc.example_day()["buy_price"].to_numpy()
    results = {}
    for share in (0.0, 1.0):
        fleet = ev_fleet(f, 0.3, share_responsive=share)
        day = day_ahead_dlmp(f, fleet.prosumers, price_substation=price, load_profile=load, fixed_kw=fleet.fixed_kw,
                             v_min_pu=0.9, voll=10.0)
        ac = evaluate_day(f, day.net_load_kw, day.net_load_kvar)
        results[share] = (ac.substation_kw.max(), ac.v_pu.min(axis=None))
        base = (load[:, None] * f.buses["p_kw"].to_numpy()[None, :]).sum()
        energy = (day.net_load_kw + day.shed_kw).to_numpy().sum() - base
        assert energy == pytest.approx(fleet.counts["evs"].sum() * 10.0 / 0.9, rel=1e-6)  # same energy either way
    assert results[1.0][0] < results[0.0][0] - 500  # a much lower peak
    assert results[1.0][1] > results[0.0][1] + 0.01  # and a higher lowest voltage


# --------------------------------------------------------------------------- limits and bad input


def test_hard_limits_that_cannot_be_met_are_explained_and_voll_sheds_load_instead():
    f = tc.ieee33()
    with pytest.raises(tc.InfeasibleError, match=r"infeasible: no schedule .* keeps every voltage in \[0.95, 1.05\]"):
        day_ahead_dlmp(f, price_substation=[0.1], load_profile=[1.0], v_min_pu=0.95)
    day = day_ahead_dlmp(f, price_substation=[0.1], load_profile=[1.0], v_min_pu=0.95, voll=5.0)
    shed = day.shed_kw.loc[0]
    assert shed.sum() > 0 and any("of load shed at bus" in b for b in day.binding)
    assert day.v_pu.min(axis=None) >= 0.95 - 1e-7  # the limits hold for the load that is served
    assert np.allclose(day.net_load_kw.loc[0], f.buses["p_kw"] - shed)
    load = f.buses["p_kw"]
    partly = shed.index[(shed > 1e-3) & (shed < load - 1e-3)]
    assert len(partly) > 0
    for bus in partly:  # where some, not all, of the load is shed, one more kW costs exactly VoLL
        assert day.prices.loc[0, bus] == pytest.approx(5.0, abs=1e-6)
    assert (day.prices.loc[0, shed < 1e-6] <= 5.0 + 1e-6).all()
    # cost = energy bought + VoLL x energy shed
    assert day.cost == pytest.approx(0.1 * day.substation_kw[0] + 5.0 * shed.sum(), rel=1e-7)
    # a generous feasible case: nothing is shed and the answer is that of hard limits
    hard = day_ahead_dlmp(f, price_substation=[0.1], load_profile=[0.5], v_min_pu=0.95)
    soft = day_ahead_dlmp(f, price_substation=[0.1], load_profile=[0.5], v_min_pu=0.95, voll=50.0)
    assert np.allclose(hard.prices, soft.prices, atol=1e-6) and hard.cost == pytest.approx(soft.cost, rel=1e-7)
    assert soft.shed_kw.to_numpy().max() < 1e-6 and (hard.shed_kw == 0).all(axis=None)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(prosumers={99: "x"}), TypeError, "entry 0 is a str; place te_course Prosumer objects"),
        (dict(prosumers={99: Prosumer([0.0, 0.0], name="p")}), ValueError, "at bus 99, which is not a bus"),
        (dict(prosumers=[(5, Prosumer([0.0, 0.0], name="p")), (6, Prosumer([0.0, 0.0], name="p"))]), ValueError,
         "the name 'p' is used twice"),
        (dict(prosumers={5: Prosumer([0.0, 0.0, 0.0], name="p")}), ValueError,
         r"same number of steps: `price_substation` has 2, prosumer 'p' has 3"),
        (dict(price_substation=[0.1, float("nan")]), ValueError, "`price_substation` must contain finite values"),
        (dict(load_profile=[1.0, -1.0]), ValueError, r"`load_profile` must be >= 0; entry 1 is -1.0"),
        (dict(fixed_kw=pd.DataFrame({"x": [1.0, 2.0]})), ValueError, r"`fixed_kw` has column\(s\) \['x'\]"),
        (dict(fixed_kw=[[1.0]]), TypeError, "`fixed_kw` must be a DataFrame"),
        (dict(v_min_pu=1.1), ValueError, r"`v_min_pu` \(1.1\) must be below `v_max_pu`"),
        (dict(dt_h=-1), ValueError, "`dt_h` must be a positive number"),
        (dict(voll=0), ValueError, "`voll` must be a positive number"),
        (dict(prosumers=5), TypeError, "`prosumers` must be a dict"),
        (dict(prosumers=[(5,)]), TypeError, r"`prosumers` must be a list of \(bus, Prosumer\) pairs"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, match):
    args = {"price_substation": [0.1, 0.2], **kwargs}
    with pytest.raises(error, match=match):
        day_ahead_dlmp(tc.ieee33(), args.pop("prosumers", None), **args)


def test_the_horizon_must_be_given_somewhere():
    with pytest.raises(ValueError, match="Give the horizon"):
        day_ahead_dlmp(tc.ieee33(), price_substation=0.1)
    with pytest.raises(TypeError, match="`net_load_kw` must be a DataFrame"):
        evaluate_day(tc.ieee33(), [[1.0]])
    with pytest.raises(TypeError, match="`feeder` must be a te_course Feeder"):
        day_ahead_dlmp("ieee33", price_substation=[0.1])


def test_rate_lines_sizes_each_line_to_its_peak_flow_with_a_margin():
    f = tc.ieee33(tie_lines=True)
    rated = rate_lines(f, load_scale=0.9, margin=1.5)
    ref = tc.ac_power_flow(f.scale_loads(0.9))
    s = np.hypot(ref.p_kw, ref.q_kvar)
    live = f.lines["in_service"]
    assert np.allclose(rated.lines.loc[live, "s_max_kva"], 1.5 * s[live], atol=5.0)  # rounded to 10 kVA
    assert rated.lines.loc[~live, "s_max_kva"].isna().all()
    assert f.lines["s_max_kva"].isna().all()  # the original is untouched


@pytest.fixture(scope="module")
def ev_day33():
    load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    return rate_lines(tc.ieee33(), load_scale=float(load.max())), tc.example_day()["buy_price"].to_numpy(), load


def test_ev_study_problem_solves_what_ev_study_solves_fleet_after_fleet(ev_day33):
    """One OPF with Parameters, re-solved, against a new OPF built for each fleet by ev_study.

    Both are optimal; where the optimum is not unique (load shed at equal cost at several buses,
    cars indifferent between hours) the two solves may pick different schedules, so the
    comparison is of the cost, of the fleets, and, where the day has one optimum (every car
    responsive), of the prices, the schedules and the AC check.
    """
    f, price, load = ev_day33
    problem = EVStudyProblem(f, price_substation=price, load_profile=load)
    for penetration, share in ((0.3, 1.0), (0.5, 0.0), (0.2, 0.5), (0.0, 1.0), (0.3, 1.0)):
        mine = problem.solve(penetration, share_responsive=share)
        ref = ev_study(f, penetration, share_responsive=share, price_substation=price, load_profile=load)
        assert mine.day.cost == pytest.approx(ref.day.cost, rel=1e-7, abs=1e-9), (penetration, share)
        assert mine.fleet.counts.equals(ref.fleet.counts) and mine.fleet.fixed_kw.equals(ref.fleet.fixed_kw)
        assert mine.day.shed_kw.to_numpy().sum() == pytest.approx(ref.day.shed_kw.to_numpy().sum(), abs=1e-3)
        assert mine.responsive_kw.to_numpy().sum() == pytest.approx(ref.responsive_kw.to_numpy().sum(), rel=1e-6)
        assert set(mine.day.schedules) == set(ref.day.schedules)
        if share == 1.0:
            assert np.allclose(mine.day.prices, ref.day.prices, atol=1e-6)
            assert np.allclose(mine.responsive_kw, ref.responsive_kw, atol=0.05)
            assert mine.summary["peak_loading"] == pytest.approx(ref.summary["peak_loading"], abs=1e-5)
            assert mine.summary["peak_loading_line"] == ref.summary["peak_loading_line"]
            assert np.allclose(mine.ev_costs.fillna(0).to_numpy(float), ref.ev_costs.fillna(0).to_numpy(float),
                               rtol=1e-5)
            for name, table in ref.day.schedules.items():
                assert list(mine.day.schedules[name].columns) == list(table.columns)


def test_ev_study_problem_reads_its_inputs_and_survives_a_bad_fleet(ev_day33):
    f, price, load = ev_day33
    with pytest.raises(ValueError, match="`load_profile`"):
        EVStudyProblem(f, price_substation=price, load_profile=load[:5])
    with pytest.raises(ValueError, match="`v_min_pu`"):
        EVStudyProblem(f, price_substation=price, load_profile=load, v_min_pu=1.2)
    with pytest.raises(ValueError, match="`e_need_kwh`"):
        EVStudyProblem(f, price_substation=price, load_profile=load, e_need_kwh=-1.0)
    problem = EVStudyProblem(f, price_substation=price, load_profile=load)
    with pytest.raises(ValueError, match="`penetration`"):
        problem.solve(-0.1, share_responsive=0.5)
    with pytest.raises(ValueError, match="`share_responsive`"):
        problem.solve(0.3, share_responsive=1.5)
    ref = ev_study(f, 0.1, share_responsive=1.0, price_substation=price, load_profile=load)
    assert problem.solve(0.1, share_responsive=1.0).day.cost == pytest.approx(ref.day.cost, rel=1e-7)


def test_ev_study_costs_and_summary_by_hand():
    load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    f = rate_lines(tc.ieee33(), load_scale=float(load.max()))
    price = tc.example_day()["buy_price"].to_numpy()
    study = ev_study(f, 0.3, share_responsive=0.5, price_substation=price, load_profile=load)
    fleet, day = study.fleet, study.day
    costs = study.ev_costs
    cars = fleet.counts[["responsive", "uncontrolled"]].sum()
    assert costs["cars"].tolist() == [cars["responsive"], cars["uncontrolled"]]
    assert np.allclose(costs["kwh_per_car"], 10 / 0.9)  # every car draws e_need / eta from the grid
    one = uncontrolled_charging(fleet.ev)  # kW of one uncontrolled car
    assert costs.loc["uncontrolled", "cost_per_car_energy_price"] == pytest.approx(one @ price)
    by_bus = (fleet.fixed_kw * day.prices).sum(axis=0).sum() / cars["uncontrolled"]
    assert costs.loc["uncontrolled", "cost_per_car_dlmp"] == pytest.approx(by_bus)
    paid = sum(day.schedules[p.name]["payment"].sum() for p in fleet.prosumers.values()) / cars["responsive"]
    assert costs.loc["responsive", "cost_per_car_dlmp"] == pytest.approx(paid)
    # responsive_kw is the OPF's schedule of the responsive cars, zero at buses without any
    for bus in f.buses.index:
        expected = day.schedules[fleet.prosumers[bus].name]["ev_kw"] if bus in fleet.prosumers else 0.0
        assert np.allclose(study.responsive_kw[bus], expected)
    assert study.responsive_kw.to_numpy().sum() == pytest.approx(cars["responsive"] * 10 / 0.9, rel=1e-6)
    # the night has room for every responsive car at full power: no limit binds then, the cars' least-cost
    # schedule is unique up to ties of the substation price, and cheapest first finds the OPF's schedule
    alt = cheapest_first_charging(day.prices, fleet)
    assert alt.equals(cheapest_first_charging(day.prices, fleet.prosumers))
    assert np.allclose(alt, study.responsive_kw, atol=0.5)
    # the summary reads the AC flows of what the cars really draw (nothing shed)
    drawn = day.net_load_kw + day.shed_kw
    ref = tc.ac_power_flow(f.replace(buses=f.buses.assign(p_kw=drawn.loc[19], q_kvar=day.net_load_kvar.loc[19])))
    assert np.allclose(study.ac.v_pu.loc[19], ref.v_pu)
    assert study.summary["peak_loading"] == pytest.approx(study.ac.loading.max(axis=None))
    assert study.summary["v_min_pu"] == pytest.approx(study.ac.v_pu.min(axis=None))
    step, line = study.summary["peak_loading_step"], study.summary["peak_loading_line"]
    assert study.ac.loading.loc[step, line] == pytest.approx(study.summary["peak_loading"])
    assert study.summary["shed_kwh"] == pytest.approx(day.shed_kw.to_numpy().sum())
    assert list(study.to_frame().columns)[:2] == ["v_min_pu", "v_min_bus"]


def test_rolling_clearing_counts_shed_energy_at_voll_like_the_day_ahead_cost():
    f = tc.ieee33()
    kwargs = dict(price_substation=[0.1, 0.2], load_profile=[1.0, 0.5], v_min_pu=0.95, voll=5.0)
    ahead = day_ahead_dlmp(f, **kwargs)
    rolling = simulate_day(f, **kwargs, progress=False)
    assert ahead.shed_kw.loc[0].sum() > 0
    assert rolling.cost == pytest.approx(ahead.cost, rel=1e-7)
    energy = float(np.dot(ahead.substation_kw, [0.1, 0.2]))
    assert ahead.cost == pytest.approx(energy + 5.0 * ahead.shed_kw.to_numpy().sum(), rel=1e-7)


# --------------------------------------------------------------------------- cheapest-first charging


def _least_cost_by_linprog(prices, ev, dt=1.0):
    """The price taker's LP written out for scipy: min sum c_t e_t dt, 0 <= e_t <= p_max a_t, sum eta e_t dt = need."""
    bounds = [(0.0, ev.p_max_kw * a) for a in ev.available]
    res = linprog(np.asarray(prices) * dt, A_eq=[np.full(len(prices), ev.eta * dt)], b_eq=[ev.e_need_kwh],
                  bounds=bounds, method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0
    return res.fun


def test_cheapest_first_charging_by_hand():
    # plugged in from step 4 to step 0 (cyclically): steps 4, 5, 0 in that order after plug-in; 6 kWh stored at
    # 80 % is 7.5 kWh from the grid: one step at 5 kW and half a step
    small = Prosumer(np.zeros(6), [EV([1, 0, 0, 0, 1, 1], e_need_kwh=6.0, p_max_kw=5.0, eta=0.8)], name="small")
    flat = pd.DataFrame({"b": [0.2, 0.0, 0.0, 0.0, 0.2, 0.2]})  # steps 1-3: unplugged, their price is never used
    assert cheapest_first_charging(flat, {"b": small})["b"].tolist() == [0.0, 0.0, 0.0, 0.0, 5.0, 2.5]
    cheap_last = pd.DataFrame({"b": [0.1, 0.0, 0.0, 0.0, 0.3, 0.2]})  # step 0, then 5; never the dearest (4)
    assert cheapest_first_charging(cheap_last, {"b": small})["b"].tolist() == [5.0, 0.0, 0.0, 0.0, 0.0, 2.5]
    # two prices 1e-6 apart tie at the default tolerance (earliest after plug-in first), not at tol=0
    near = pd.DataFrame({"b": [0.1, 0.0, 0.0, 0.0, 0.1 + 1e-6, 0.3]})
    assert cheapest_first_charging(near, {"b": small})["b"].tolist() == [2.5, 0.0, 0.0, 0.0, 5.0, 0.0]
    assert cheapest_first_charging(near, {"b": small}, tol=0.0)["b"].tolist() == [5.0, 0.0, 0.0, 0.0, 2.5, 0.0]
    # half-hour steps: 15 kW x steps from the grid, three steps of 5 kW: all of them
    assert cheapest_first_charging(near, {"b": small}, dt_h=0.5)["b"].tolist() == [5.0, 0.0, 0.0, 0.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="can receive at most"):  # quarter hours: it cannot get its energy
        cheapest_first_charging(near, {"b": small}, dt_h=0.25)
    # two cars at one bus add up (the second, always plugged in, takes step 1 of the tied steps 1-3);
    # a bus without a car draws nothing; a list of pairs works like the dict
    both = Prosumer(np.zeros(6), [small.devices[0], EV(np.ones(6), 1.0, 1.0, eta=1.0, name="ev2")], name="both")
    out = cheapest_first_charging(near.assign(c=0.5), [("b", both)], tol=0.0)
    assert out["b"].tolist() == [5.0, 1.0, 0.0, 0.0, 2.5, 0.0] and (out["c"] == 0).all()
    assert list(out.columns) == ["b", "c"] and out.index.equals(near.index)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (dict(prices=[[0.1]]), TypeError, "`prices` must be a DataFrame"),
        (dict(prices=pd.DataFrame({"b": [0.1, np.nan]})), ValueError, "`prices` must contain finite prices"),
        (dict(tol=-1e-6), ValueError, r"`tol` must be >= 0"),
        (dict(tol="small"), TypeError, "`tol` must be a number"),
        (dict(dt_h=0), ValueError, "`dt_h` must be a positive number"),
        (dict(prosumers={"x": "car"}), TypeError, "entry 0 is a str; place te_course Prosumer objects"),
        (dict(prosumers=5), TypeError, "`prosumers` must be a dict"),
        (dict(prosumers=[("b",)]), TypeError, r"`prosumers` must be a list of \(bus, Prosumer\) pairs"),
        (dict(prosumers={"z": Prosumer([0.0, 0.0], [EV([1, 1], 1.0, 1.0)], name="p")}), ValueError,
         "places 'p' at bus 'z', which is not a column of `prices`"),
        (dict(prosumers={"b": Prosumer([0.0, 0.0, 0.0], [EV([1, 1, 1], 1.0, 1.0)], name="p")}), ValueError,
         "'p' has 3 steps; `prices` has 2"),
        (dict(prosumers={"b": Prosumer([0.0, 0.0], [Battery(1.0, 1.0)], name="p")}), ValueError,
         "'p' holds a Battery; cheapest_first_charging schedules EVs only"),
    ],
)
def test_cheapest_first_charging_names_the_bad_argument(args, error, match):
    kwargs = {"prices": pd.DataFrame({"b": [0.1, 0.2]}),
              "prosumers": {"b": Prosumer([0.0, 0.0], [EV([1, 1], 1.0, 1.0)], name="p")}, **args}
    with pytest.raises(error, match=match):
        cheapest_first_charging(kwargs.pop("prices"), kwargs.pop("prosumers"), **kwargs)


def test_cheapest_first_charging_is_a_least_cost_schedule_of_every_ev():
    rng = np.random.default_rng(7)
    for trial in range(40):
        T = int(rng.integers(3, 13))
        available = rng.random(T) < 0.7
        available[rng.integers(T)] = True
        # prices on a coarse grid, so that ties are common, plus a perturbation below the tolerance
        prices = np.round(rng.uniform(0.05, 0.3, T), 2) + rng.uniform(0, 1e-6, T)
        ev = EV(available, 0.0, float(rng.uniform(1, 10)), eta=float(rng.uniform(0.8, 1.0)), name="ev")
        need = float(rng.uniform(0.05, 1.0)) * ev.max_energy_kwh()
        ev = EV(available, need, ev.p_max_kw, eta=ev.eta, name="ev")
        power = cheapest_first_charging(pd.DataFrame({"b": prices}), {"b": Prosumer(np.zeros(T), [ev], name="p")},
                                        tol=2e-6)["b"].to_numpy()
        assert (power >= 0).all() and (power <= ev.p_max_kw * available + 1e-12).all(), trial
        assert ev.eta * power.sum() == pytest.approx(need, rel=1e-12), trial
        cost, least = prices @ power, _least_cost_by_linprog(prices, ev)
        assert least - 1e-9 <= cost <= least + 2e-6 * power.sum() + 1e-9, trial  # within tol x energy drawn
        exact = cheapest_first_charging(pd.DataFrame({"b": prices}), {"b": Prosumer(np.zeros(T), [ev], name="p")},
                                        tol=0.0)["b"].to_numpy()
        assert prices @ exact == pytest.approx(least, abs=1e-9), trial
        # in every group of tied steps at most one step is partly filled, and the steps filled come first
        used = np.flatnonzero(power > 1e-12)
        assert (np.isclose(power[used], ev.p_max_kw)).sum() >= len(used) - 1, trial


def _one_ev_day(price, need_kwh):
    """IEEE 33 over three steps at half load, one 300 kW EV fleet at bus 18, line 17-18 rated 200 kVA.

    The OPF clears against 195 kVA, a margin of 2.5 % for LinDistFlow's optimism (it leaves out the losses);
    the AC check uses the real 200 kVA.
    """
    real = tc.ieee33()
    line = real.lines.index[real.lines["to_bus"] == 18][0]
    real.lines.loc[line, "s_max_kva"] = 200.0
    inside = real.copy()
    inside.lines.loc[line, "s_max_kva"] = 195.0
    fleet = Prosumer(np.zeros(3), [EV([1, 1, 1], need_kwh, 300.0, eta=1.0, name="ev")], name="fleet")
    day = day_ahead_dlmp(inside, {18: fleet}, price_substation=price, load_profile=0.5, v_min_pu=0.85)
    return real, line, fleet, day


@pytest.mark.parametrize(("price", "need", "binds"), [([0.1, 0.1, 0.1], 300.0, False),
                                                     ([0.1, 0.1, 0.2], 400.0, True)])
def test_another_least_cost_schedule_at_the_same_dlmps_breaks_the_limit_the_opf_keeps(price, need, binds):
    """Flat prices (any split is optimal), and a congestion that raises two steps' DLMP to the third's (a tie)."""
    f, line, fleet, day = _one_ev_day(price, need)
    assert any("line 17-18 at its limit" in b for b in day.binding) == binds, day.binding
    opf = pd.DataFrame({18: day.schedules["fleet"]["ev_kw"]}).reindex(columns=day.prices.columns, fill_value=0.0)
    alt = cheapest_first_charging(day.prices, {18: fleet})
    assert (alt.drop(columns=18) == 0).all(axis=None)
    # both meet the fleet's need within its plug-in window and charger
    for kw in (opf[18], alt[18]):
        assert kw.sum() == pytest.approx(need, rel=1e-7) and (kw <= 300.0 + 1e-6).all() and (kw >= -1e-9).all()
    # and cost the same at the DLMPs, the least cost of the price taker's LP
    cost_opf = float((opf * day.prices).to_numpy().sum())
    cost_alt = float((alt * day.prices).to_numpy().sum())
    assert cost_alt == pytest.approx(cost_opf, rel=1e-6)
    assert cost_alt == pytest.approx(_least_cost_by_linprog(day.prices[18], fleet.devices[0]), rel=1e-6)
    if binds:  # the congestion raised the DLMP of steps 0 and 1 at bus 18 to that of step 2, exactly a tie
        assert np.allclose(day.prices.loc[[0, 1], 18], 0.2, atol=1e-6)
    # the AC power flow of each schedule, everything else as the OPF left it: the OPF's schedule keeps the real
    # rating of line 17-18, the alternative (the whole fleet at full power in step 0) breaks it
    others = day.net_load_kw - opf
    ac_opf = evaluate_day(f, others + opf, day.net_load_kvar)
    ac_alt = evaluate_day(f, others + alt, day.net_load_kvar)
    assert alt.loc[0, 18] == pytest.approx(300.0)
    assert ac_opf.loading[line].max() < 1.0
    assert ac_alt.loading[line].max() > 1.2


# --------------------------------------------------------------------------- issue 14: bad and extreme input


def test_rate_lines_rates_a_line_without_load_and_the_result_is_a_valid_feeder():
    """Issue 14, item 5: a line that carries nothing was rated 0 kVA, which Feeder itself rejects."""
    f = tc.radial_feeder(6, seed=3)
    buses = f.buses.copy()
    buses.loc[6, ["p_kw", "q_kvar"]] = 0.0  # the leaf's line 5-6 carries nothing
    f0 = tc.Feeder(buses, f.lines, v_base_kv=f.v_base_kv, s_base_kva=f.s_base_kva, substation=f.substation)
    rated = rate_lines(f0)
    assert rated.lines.loc[5, "s_max_kva"] == 10.0  # the smallest rating
    tc.Feeder(rated.buses, rated.lines, v_base_kv=f.v_base_kv, s_base_kva=f.s_base_kva, substation=f.substation)
    ref = tc.ac_power_flow(f0)
    s = np.hypot(ref.p_kw, ref.q_kvar)
    assert np.allclose(rated.lines["s_max_kva"].iloc[:4], 1.25 * s.iloc[:4], atol=5.0)  # the others as before
    assert (rate_lines(f, load_scale=1e-9).lines["s_max_kva"] == 10.0).all()  # nearly no load anywhere
    with pytest.raises(ValueError, match="`margin`"):
        rate_lines(f, margin=1e308)
    with pytest.raises(ValueError, match="`load_scale`"):
        rate_lines(f, load_scale=1e300)


@pytest.mark.parametrize(("penetration", "error", "match"), [
    ([0.5], TypeError, "`penetration` must be one number"),  # issue 14, item 16: "only 0-dimensional arrays"
    (np.array([0.5, 0.6]), TypeError, "`penetration` must be one number"),
    (True, TypeError, "`penetration`"),
    (float("nan"), ValueError, "`penetration`"),
    (1e300, ValueError, "`penetration`"),  # counts overflowed to garbage: no cars at all
])
def test_ev_fleet_names_a_bad_penetration(penetration, error, match):
    with pytest.raises(error, match=match):
        ev_fleet(tc.radial_feeder(6, seed=3), penetration)


def test_ev_fleet_accepts_a_numpy_scalar():
    f = tc.radial_feeder(6, seed=3)
    assert ev_fleet(f, np.float64(0.5)).counts.equals(ev_fleet(f, 0.5).counts)


@pytest.mark.parametrize("seed", ["abc", 1.5, -1, True, [1, -2], object()])
def test_example_feeder_day_names_a_bad_seed(seed):
    with pytest.raises((TypeError, ValueError), match="`seed`"):
        tc.example_feeder_day(seed=seed)


def test_example_feeder_day_takes_a_generator():
    a = tc.example_feeder_day(seed=np.random.default_rng(5))
    b = tc.example_feeder_day(seed=5)
    assert sorted(a["prosumers"]) == sorted(b["prosumers"])


@pytest.mark.parametrize("name", ["price_substation", "load_profile"])
def test_ragged_day_profiles_are_named(name):
    day = {"price_substation": np.full(24, 0.1), "load_profile": np.ones(24), name: [[1.0, 2.0], [3.0]]}
    with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
        day_ahead_dlmp(tc.radial_feeder(6, seed=3), **day)


# --- issue 14: fuzz findings


def _car_day(**kwargs):
    car = Prosumer([0.0, 0.0], [EV([1, 1], e_need_kwh=3.0, p_max_kw=7.0)], name="car")
    args = dict(prosumers={4: car}, price_substation=[0.3, 0.1], load_profile=0.6, v_min_pu=0.9, dt_h=1.0,
                voll=10.0)
    args.update(kwargs)
    return tc.radial_feeder(4, seed=1), args


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(price_substation=[1e12, 0.1]), "price_substation"),  # was: solver status 'unbounded', naming nothing
    (dict(price_substation=[1e300, 0.1]), "price_substation"),
    (dict(voll=1e12), "voll"),
    (dict(dt_h=1e12), "dt_h"),
    (dict(dt_h=1e-300), "dt_h"),  # was: DLMPs of -3e284 without a word
    (dict(v_max_pu=1e300), "v_max_pu"),  # was: OverflowError in v_max ** 2
    (dict(load_profile=1e300), "load_profile"),
])
def test_day_ahead_data_outside_the_documented_ranges_are_named(kwargs, name):
    feeder, args = _car_day(**kwargs)
    with pytest.raises(ValueError, match=f"`{name}`"):
        day_ahead_dlmp(feeder, **args)
    if name != "load_profile":
        feeder, args = _car_day(**kwargs)
        with pytest.raises(ValueError, match=f"`{name}`"):
            simulate_day(feeder, **args, progress=False)


def test_an_ev_that_a_short_step_cannot_charge_names_dt_h():
    feeder, args = _car_day(dt_h=1e-3)
    with pytest.raises(ValueError, match="`dt_h`"):
        day_ahead_dlmp(feeder, **args)
    with pytest.raises(ValueError, match="`dt_h`"):
        uncontrolled_charging(EV([1, 0, 1, 1], e_need_kwh=5.0, p_max_kw=3.0), dt_h=1e-3)


def test_the_largest_prices_and_steps_in_range_give_the_hand_computed_cost():
    # price 1e6 per kWh over 1e4-hour steps was 'unbounded'.  By hand: VoLL (10) is below the price,
    # so the operator sheds every load in both steps: cost = 10 x 1e4 h x the day's load (kW) x 2 steps,
    # and the DLMPs stay at the price (the shed cap moves with the load, not the balance).
    feeder, args = _car_day(prosumers=None, price_substation=[1e6, 1e6], dt_h=1e4)
    day = day_ahead_dlmp(feeder, **args)
    load = 0.6 * feeder.buses["p_kw"].clip(lower=0.0).sum()
    assert day.cost == pytest.approx(10.0 * 1e4 * load * 2, rel=1e-7)
    assert day.shed_kw.sum(axis=1).to_numpy() == pytest.approx([load, load], rel=1e-7)
    np.testing.assert_allclose(day.prices.to_numpy(), 1e6, rtol=1e-9)


def test_a_large_voll_does_not_spoil_the_small_prices():
    # with VoLL 1e6 next to prices of 0.1 the EV still charges in the cheap step (as with VoLL 10)
    feeder, args = _car_day(voll=1e6)
    day = day_ahead_dlmp(feeder, **args)
    np.testing.assert_allclose(day.schedules["car"]["ev_kw"], [0.0, 3.0 / 0.9], atol=1e-5)
    np.testing.assert_allclose(day.prices[4], [0.3, 0.1], rtol=1e-7)


def test_day_ahead_uses_the_checked_copy_of_an_edited_feeder():
    # lines['s_max_kva'] of dtype object (edited in place) reached np.isfinite: "ufunc 'isfinite' not supported"
    feeder, args = _car_day()
    feeder.lines["s_max_kva"] = feeder.lines["s_max_kva"].astype(object)
    ref_feeder, ref_args = _car_day()
    assert day_ahead_dlmp(feeder, **args).cost == pytest.approx(day_ahead_dlmp(ref_feeder, **ref_args).cost)


@pytest.mark.parametrize(("cell", "error"), [("x", TypeError), (1 + 1j, TypeError), (10**400, ValueError),
                                             ([1.0, 2.0], TypeError)])
def test_bad_cells_of_day_tables_are_named(cell, error):
    f = tc.radial_feeder(4, seed=1)
    net = pd.DataFrame([f.buses["p_kw"]] * 2, index=[0, 1]).astype(object)
    net.iloc[1, 2] = cell
    with pytest.raises(error, match="`net_load_kw`"):
        evaluate_day(f, net)
    car = Prosumer(np.zeros(4), [EV([1, 0, 1, 1], e_need_kwh=7.0, p_max_kw=7.0, eta=1.0)], name="car")
    prices = pd.DataFrame({"home": [0.1, 0.3, 0.1, 0.1]}).astype(object)
    prices.iloc[2, 0] = cell
    with pytest.raises(error, match="`prices`"):
        cheapest_first_charging(prices, {"home": car})


def test_a_step_without_an_operating_point_is_named_and_the_others_agree_with_ac_power_flow():
    f = tc.ieee33()
    net = pd.DataFrame([f.buses["p_kw"], f.buses["p_kw"] * 30, f.buses["p_kw"] * 0.5], index=["6h", "18h", "23h"])
    with pytest.raises(tc.errors.ConvergenceError, match=r"Step '18h' of `net_load_kw`: `ac_power_flow` did not "
                                                          r"converge") as err:
        evaluate_day(f, net)
    alone = f.replace(buses=f.buses.assign(p_kw=net.loc["18h"], q_kvar=0.0))
    with pytest.raises(tc.errors.ConvergenceError) as ref:
        tc.ac_power_flow(alone)
    assert err.value.iterations == ref.value.iterations and err.value.history.equals(ref.value.history)


def test_net_loads_beyond_the_feeder_range_are_named():
    # the error named `buses['p_kw']`, an argument the caller never passed
    f = tc.radial_feeder(4, seed=1)
    net = pd.DataFrame([f.buses["p_kw"]] * 2, index=[0, 1])
    net.iloc[1, 2] = 1e300
    with pytest.raises(ValueError, match="`net_load_kw`"):
        evaluate_day(f, net)


def test_ev_fleet_caps_the_number_of_steps():
    # n_steps=10**12 tried to allocate terabytes (MemoryError)
    with pytest.raises(ValueError, match="`n_steps` must be a positive integer of at most"):
        ev_fleet(tc.radial_feeder(4, seed=1), 0.5, n_steps=10**12)


def test_rate_lines_names_a_margin_beyond_the_feeder_range():
    # 1e300 x the flows is finite but beyond the feeder's per-unit range: the error named only `s_max_kva`
    with pytest.raises(ValueError, match="`margin`"):
        rate_lines(tc.radial_feeder(4, seed=1), margin=1e300)


def test_prosumer_devices_beyond_the_opf_range_are_named():
    car = Prosumer([0.0, 0.0], [EV([1, 1], e_need_kwh=3.0, p_max_kw=7e300)], name="car")
    with pytest.raises(ValueError, match="`prosumers`: 'car' has EV 'ev' `p_max_kw`"):
        day_ahead_dlmp(tc.radial_feeder(4, seed=1), {4: car}, price_substation=[0.3, 0.1])


def test_infeasibility_and_solver_failures_raise_their_own_errors(monkeypatch):
    """One error class per failure (issue 17): limits no schedule meets -> InfeasibleError; a solver that
    fails -> SolverError naming the data to check (after one retry with the solver's defaults)."""
    f = tc.ieee33()
    with pytest.raises(tc.InfeasibleError, match=r"keeps every voltage in \[0.95, 1.05\]"):
        day_ahead_dlmp(f, price_substation=[0.1], load_profile=[1.0], v_min_pu=0.95)
    calls = []

    def fail(problem, **options):
        calls.append(options)
        raise cp.error.SolverError("boom")

    monkeypatch.setattr(cp.Problem, "solve", fail)
    with pytest.raises(tc.SolverError, match=r"failed on the day-ahead OPF \(boom\).*`price_substation` and `voll` "
                                             r"per kWh") as caught:
        day_ahead_dlmp(f, price_substation=[0.1], load_profile=[0.5])
    assert not isinstance(caught.value, tc.InfeasibleError)
    assert len(calls) == 2 and "tol_feas" in calls[0] and "tol_feas" not in calls[1]  # tight, then the defaults


def test_ev_study_takes_share_responsive_by_position_with_a_deprecation_warning():
    """share_responsive became keyword-only (issue 17, as in ev_fleet); by position it warns, with the same answer."""
    load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    f = rate_lines(tc.ieee33(), load_scale=float(load.max()))
    price = np.full(24, 0.1)
    new = ev_study(f, 0.1, share_responsive=0.0, price_substation=price, load_profile=load)
    with pytest.warns(DeprecationWarning, match=r"pass share_responsive=\.\.\. by keyword"):
        old = ev_study(f, 0.1, 0.0, price_substation=price, load_profile=load)
    pd.testing.assert_frame_equal(old.ev_costs, new.ev_costs)
    # no responsive car: the uncontrolled cars' energy is the fleet's, cars x e_need_kwh / eta (ev_fleet's defaults)
    cars = int(new.fleet.counts["evs"].sum())
    assert new.ev_costs.loc["uncontrolled", "kwh_per_car"] == pytest.approx(10.0 / 0.9)
    assert new.ev_costs.loc["uncontrolled", "cars"] == cars


def test_example_feeder_day_is_a_result_that_reads_as_the_old_dict():
    """example_feeder_day returned a dict up to 0.5; it is now a dataclass that still reads like one."""
    day = tc.example_feeder_day(n_prosumers=2, seed=3)
    assert isinstance(day, tc.FeederDay)
    assert sorted(day) == ["feeder", "load_profile", "price_substation", "prosumers"] and len(day) == 4
    assert day["feeder"] is day.feeder and day["prosumers"] is day.prosumers
    assert dict(**day)["load_profile"] is day.load_profile  # simulate_day(**day) keeps working
    with pytest.raises(KeyError):
        day["voll"]
    # the documented set-up: the substation price is example_day's, the loads peak at 0.95 at 19:00
    assert np.allclose(day.price_substation, tc.example_day()["buy_price"].to_numpy())
    assert day.to_frame()["load_profile"].idxmax() == 19 and day.load_profile.max() == pytest.approx(0.95)
