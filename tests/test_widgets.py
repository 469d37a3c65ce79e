"""te_course.widgets: each update function called directly, each explorer built headless and driven.

An update function returns (result, axes, summary): the tests compare the result with
values computed here or with the package's own function for the same inputs, read the
figure back (lines, bars, colours) and the summary's numbers.  An explorer is driven by
setting ``.value`` on its controls; what it shows is read from ``app.state``,
``app.chart`` (PNG bytes) and its HTML table, including the message shown for bad input.
"""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import te_course as tc
from te_course import widgets
from te_course.scheduling import EVStudyProblem, ev_study

SEED_BIDS, SEED_ASKS = [12, 10, 8], [5, 7, 9]
PNG = b"\x89PNG"


def _lines(*axes):
    return {ln.get_label(): ln for ax in axes for ln in ax.get_lines()}


def _heights(container):
    return np.array([b.get_height() for b in container])


# --------------------------------------------------------------------------- every builder and update is tested here


def test_every_widget_builder_and_update_function_has_a_direct_test_in_this_file():
    public = {n for n, f in inspect.getmembers(widgets, inspect.isfunction)
              if not n.startswith("_") and f.__module__ == widgets.__name__}
    assert public == set(widgets.__all__), "widgets.__all__ and the module's public functions differ"
    for name in public:  # every explorer comes with its plain update function
        if name.endswith("_explorer"):
            assert name.replace("_explorer", "_update") in public, name
    source = Path(__file__).read_text()
    untested = sorted(n for n in public if not re.search(rf"widgets\.{n}\(", source))
    assert not untested, f"widget functions without a direct test in tests/test_widgets.py: {untested}"


# --------------------------------------------------------------------------- chapter 1: the auction


def test_parse_prices_accepts_commas_and_spaces_and_names_bad_entries():
    assert widgets.parse_prices(" 12,10  8;7 ", "bids") == [12, 10, 8, 7]
    with pytest.raises(ValueError, match=r"`asks`: entry 1 \('x'\) is not a number"):
        widgets.parse_prices("5, x", "asks")
    with pytest.raises(ValueError, match="`bids`: type at least one price"):
        widgets.parse_prices(" , ", "bids")


def test_auction_update_returns_result_axes_and_table():
    result, ax, table = widgets.auction_update(SEED_BIDS, SEED_ASKS, k=0.0)
    # two trades (12 >= 5, 10 >= 7; 8 < 9), prices in [8, 9], k = 0 takes the low end
    assert (result.quantity, result.price, result.welfare) == (2, 8, 10) and isinstance(ax, Axes)
    assert "[8, 9]" in table and "<table" in table and "price (k = 0)" in table
    point = [ln for ln in ax.get_lines() if ln.get_marker() == "o"][0]
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (2, 8)
    bids = pd.DataFrame({"price": [12.0, 10.0], "quantity": [2.0, 1.0]})
    result, ax, table = widgets.auction_update(bids, [5.0, 7.0], k=1.0)
    assert result.quantity == 2 and "<table" in table
    result, ax, table = widgets.auction_update([3], [9])
    assert "No trade" in table and any("no trade" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError, match="`k`"):
        widgets.auction_update(SEED_BIDS, SEED_ASKS, k=2.0)


def test_auction_explorer_headless_reacts_to_every_control():
    app = widgets.auction_explorer()
    c, state = app.controls, app.state
    assert state["result"].price == 8.5 and state["error"] is None

    png = app.chart.value
    assert png[:4] == PNG
    c["k"].value = 1.0
    assert state["result"].price == 9.0
    assert app.chart.value[:4] == PNG and app.chart.value != png  # the chart was redrawn
    c["bids"].value = "12, 10, 9.5"
    assert state["result"].quantity == 3 and state["result"].welfare == pytest.approx(10.5)

    c["asks"].value = "5, oops"
    assert "entry 1 ('oops') is not a number" in state["error"]
    assert "oops" in app.children[-1].children[1].value  # the message is shown, not raised
    c["asks"].value = "5, 7, 9"
    assert state["error"] is None

    c["mode"].value = "random"
    assert c["bids"].layout.display == "none" and c["n_buyers"].layout.display is None
    first = state["result"]
    bids, asks = tc.random_orders(8, 8, seed=0)
    assert first.welfare == pytest.approx(tc.clear_double_auction(bids, asks, k=1.0).welfare)
    c["n_buyers"].value = 20
    assert state["result"].bid_prices.size == 20
    c["seed"].value = 3
    c["divisible"].value = True
    bids, asks = tc.random_orders(20, 8, seed=3, divisible=True)
    assert np.array_equal(state["result"].bid_quantities, bids["quantity"])


def test_auction_explorer_reports_a_market_without_trade():
    app = widgets.auction_explorer("3", "9")
    assert app.state["result"].quantity == 0 and "No trade" in app.state["table"]


def test_plots_and_the_explorer_render_as_images_in_a_kernel():
    """A notebook must show a figure, not '<Figure size ...>' (a figure outside pyplot would)."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell("import te_course as tc\nfrom te_course import plots\n"
                      "ax = plots.plot_double_auction(tc.clear_double_auction([12, 10, 8], [5, 7, 9]))"),
        new_code_cell("tc.widgets.auction_explorer()"),
    ])
    NotebookClient(nb, kernel_name="python3", timeout=60).execute()
    figure_outputs = nb.cells[0].outputs
    assert [o.output_type for o in figure_outputs] == ["display_data"]
    assert "image/png" in figure_outputs[0].data
    (widget,) = nb.cells[1].outputs
    assert "application/vnd.jupyter.widget-view+json" in widget.data


# --------------------------------------------------------------------------- chapter 2: the battery


def test_battery_update_draws_the_schedule_it_solved_and_sums_up_the_saving():
    day = tc.example_day()
    eta = 0.9
    sched, (top, bottom), summary = widgets.battery_update(tc.BatteryProblem(len(day)), day, e_max_kwh=5.0,
                                                           p_max_kw=2.5, eta=eta)
    ref = tc.schedule(tc.Prosumer(day.base_load_kw, [tc.Battery(5.0, 2.5, eta, eta)]), day.buy_price,
                      day.sell_price)
    assert sched.cost == pytest.approx(ref.cost, abs=1e-6)
    t = sched.table
    (bars,) = top.containers
    assert np.allclose(_heights(bars), t["battery_charge_kw"] - t["battery_discharge_kw"])
    soc = _lines(bottom)["battery"].get_ydata()
    assert np.allclose(np.diff(soc), (eta * t["battery_charge_kw"] - t["battery_discharge_kw"] / eta)[1:], atol=1e-6)
    assert any(ln.get_ydata()[0] == 5.0 and ln.get_linestyle() == ":" for ln in bottom.get_lines())  # capacity
    without = float((day.buy_price * day.base_load_kw).sum())
    assert f"{without:.3f}" in summary and f"{without - sched.cost:.3f}" in summary
    assert f"{t['battery_charge_kw'].sum() / 5.0:.2f}" in summary and "0.810" in summary  # cycles, round trip


def test_battery_update_applies_the_ramp_limit():
    day = tc.example_day()
    problem = tc.BatteryProblem(len(day))
    free = widgets.battery_update(problem, day, e_max_kwh=10.0, p_max_kw=5.0, eta=0.95)[0]
    ramped = widgets.battery_update(problem, day, e_max_kwh=10.0, p_max_kw=5.0, eta=0.95, ramp_kw=0.5)[0]
    net = ramped.table["battery_charge_kw"] - ramped.table["battery_discharge_kw"]
    assert np.abs(np.diff(net)).max() <= 0.5 + 1e-6 < np.abs(np.diff(
        free.table["battery_charge_kw"] - free.table["battery_discharge_kw"])).max()
    assert ramped.cost >= free.cost - 1e-9


def test_battery_explorer_resolves_on_every_slider_and_matches_schedule():
    day = tc.example_day()
    app = widgets.battery_explorer(day)
    c, state = app.controls, app.state
    first = state["schedule"]
    assert app.chart.value[:4] == PNG and "saving" in state["table"]
    # the widget's re-solved parametric problem agrees with a fresh schedule() of the same prosumer
    ref = tc.schedule(
        tc.Prosumer(day.base_load_kw, [tc.Battery(5.0, 2.5, 0.95, 0.95)]), day.buy_price, day.sell_price
    )
    assert first.cost == pytest.approx(ref.cost, abs=1e-6)
    c["eta"].value = 0.5  # round trip 0.25: only the widest spreads still pay
    lossy = state["schedule"]
    assert lossy.cost > first.cost
    assert lossy.table["battery_charge_kw"].sum() < first.table["battery_charge_kw"].sum()
    c["eta"].value = 0.95
    assert c["ramp_kw"].disabled
    c["use_ramp"].value = True
    assert not c["ramp_kw"].disabled
    c["ramp_kw"].value = 0.5
    net = state["schedule"].table["battery_charge_kw"] - state["schedule"].table["battery_discharge_kw"]
    assert np.abs(np.diff(np.r_[0.0, net])).max() <= 0.5 + 1e-6
    assert state["schedule"].cost >= first.cost - 1e-9  # a tighter limit never lowers the cost
    c["e_max_kwh"].value = 10.0
    assert state["error"] is None and state["schedule"].table["battery_soc_kwh"].max() <= 10 + 1e-6
    c["p_max_kw"].value = 1.0
    assert state["schedule"].table["battery_charge_kw"].max() <= 1.0 + 1e-6


def test_battery_explorer_stays_idle_below_the_breakeven_spread():
    """Prices alternate 0.20 / 0.22: a ratio of 1.1 is below 1 / 0.95**2 = 1.108, so no cycling pays."""
    day = pd.DataFrame({"buy_price": [0.20, 0.22] * 6, "sell_price": [0.20, 0.22] * 6, "base_load_kw": 1.0})
    app = widgets.battery_explorer(day)
    assert app.state["schedule"].table["battery_charge_kw"].sum() == pytest.approx(0, abs=1e-6)
    app.controls["eta"].value = 1.0  # lossless: now every 0.20 -> 0.22 pair pays
    assert app.state["schedule"].table["battery_charge_kw"].sum() > 1


def test_battery_explorer_shows_bad_prices_in_words():
    day = tc.example_day()
    day.loc[3, "buy_price"] = np.nan
    app = widgets.battery_explorer(day)
    error = app.state["error"]
    assert app.state["schedule"] is None and re.search(r"`\w*price\w*` must contain finite prices; entry 3", error)
    assert "entry 3" in app.children[-1].children[1].value


# --------------------------------------------------------------------------- chapter 3: coordination


def _balancing_price(agents):
    """The price where the closed-form best responses clip((p - b) / a) sum to zero, by bisection."""
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        total = np.clip((mid - agents.b) / agents.a, agents.p_min_kw, agents.p_max_kw).sum()
        lo, hi = (mid, hi) if total < 0 else (lo, mid)
    return 0.5 * (lo + hi)


def test_coordination_update_finds_the_balancing_price_and_draws_both_methods():
    agents = tc.random_community(15, seed=3)
    results, ax, summary = widgets.coordination_update(agents, step=1 / agents.slope, rho=0.5)
    price = _balancing_price(agents)
    for label in ("centralized", "price iteration", "admm"):
        assert results[label].price == pytest.approx(price, abs=1e-4), label
    lines = _lines(ax)
    assert set(lines) == {"price iteration", "admm"} and ax.get_yscale() == "log"
    assert np.allclose(lines["admm"].get_ydata(),
                       np.maximum(np.abs(results["admm"].history["imbalance_kw"]), 1e-16))
    assert summary.count("converged") == 2 and "exact (one solve)" in summary
    shown = [float(p) for p in re.findall(r"<td>(-?\d+\.\d{6})</td>", summary)]
    assert len(shown) == 3 and shown == pytest.approx([price] * 3, abs=1e-5)
    assert f"{2 / agents.slope:.3g}" in ax.get_title()


def test_coordination_update_reports_a_diverging_step_in_the_summary():
    agents = tc.random_community(10, seed=2)
    results, ax, summary = widgets.coordination_update(agents, step=3 * 2 / agents.slope, rho=0.5, max_iter=500)
    assert isinstance(results["price iteration"], tc.ConvergenceError)
    stopped = results["price iteration"]
    assert str(stopped).split(". ")[0] in summary and isinstance(results["admm"], tc.CoordinationResult)
    assert f"<td>{stopped.iterations}</td>" in summary
    assert len(_lines(ax)["price iteration"].get_ydata()) > 1  # the history up to where it stopped is drawn


def test_coordination_explorer_reports_divergence_without_raising():
    agents = tc.random_community(20, seed=2)
    app = widgets.coordination_explorer(agents)
    results = app.state["results"]
    central = results["centralized"].price
    assert central == pytest.approx(_balancing_price(agents), abs=1e-6)
    assert results["price iteration"].price == pytest.approx(central, rel=1e-4)
    assert results["admm"].price == pytest.approx(central, rel=1e-4)
    app.controls["step"].value = 3 * (2 / agents.slope)
    assert isinstance(app.state["results"]["price iteration"], tc.ConvergenceError)
    assert "diverges" in app.state["table"]
    assert app.chart.value[:4] == PNG
    before = app.state["results"]["admm"].iterations
    app.controls["rho"].value = app.controls["rho"].value * 10
    assert app.state["results"]["admm"].iterations != before


# --------------------------------------------------------------------------- chapter 4: power flow


def test_hosting_update_compares_ac_and_lindistflow_with_pv():
    f = tc.ieee33()
    results, (profile, feeder_map), summary = widgets.hosting_update(f, 18, 2000.0, v_max_pu=1.02)
    ac = tc.ac_power_flow(f.with_injection(18, 2000.0))
    assert np.allclose(results["AC"].v_pu, ac.v_pu)
    assert np.allclose(results["LinDistFlow"].v_pu, tc.lindistflow(f.with_injection(18, 2000.0)).v_pu)
    lines = _lines(profile)
    assert np.allclose(lines["AC"].get_ydata(), ac.v_pu.to_numpy())
    assert profile.get_title() == "2000 kW of PV at bus 18"
    assert sorted(ln.get_ydata()[0] for ln in profile.get_lines() if ln.get_linestyle() == "--") == [0.95, 1.02]
    (points,) = feeder_map.collections
    assert np.allclose(points.get_array(), ac.v_pu.to_numpy())
    assert f"{ac.v_pu.max():.4f}" in summary and f"{ac.total_loss_kw:.1f}" in summary
    assert ("yes" in summary) == (ac.v_pu.max() > 1.02)


def test_hosting_update_names_a_model_that_fails_and_draws_the_other():
    results, (profile, feeder_map), summary = widgets.hosting_update(tc.ieee33(), 18, 1e6)
    assert isinstance(results["AC"], tc.ConvergenceError) and "did not converge" in summary
    assert set(_lines(profile)) >= {"LinDistFlow"} and "AC" not in _lines(profile)
    assert len(feeder_map.collections) == 0  # no AC voltages to colour the map with


def test_hosting_update_says_so_when_neither_model_solves():
    results, (profile, _), summary = widgets.hosting_update(tc.ieee33(), 18, -1e5)  # 100 MW of load at bus 18
    assert all(isinstance(r, ValueError) for r in results.values()) and summary.count("<td>-</td>") == 6
    assert not profile.get_lines() and "no power flow solution" in profile.texts[0].get_text()


def test_hosting_explorer_moves_pv_and_compares_models():
    app = widgets.hosting_explorer()
    state, c = app.state, app.controls
    base = tc.ac_power_flow(tc.ieee33())
    c["bus"].value = 18
    c["pv_kw"].value = 0.0
    assert state["results"]["AC"].v_pu.to_numpy() == pytest.approx(base.v_pu.to_numpy())
    c["pv_kw"].value = 3000.0
    ac, ldf = state["results"]["AC"], state["results"]["LinDistFlow"]
    assert ac.v_pu[18] > 1.05 and ldf.v_pu[18] > 1.05 and "yes" in state["table"]
    assert ac.v_pu[18] == pytest.approx(tc.ac_power_flow(tc.ieee33().with_injection(18, 3000.0)).v_pu[18])
    assert app.chart.value[:4] == PNG
    assert 1 not in c["bus"].options  # no PV at the substation


# --------------------------------------------------------------------------- chapter 5: DLMPs


def test_dlmp_update_draws_the_prices_of_the_opf_it_solved():
    f = tc.ieee33()
    result, (bars, feeder_map), summary = widgets.dlmp_update(tc.DLMPProblem(f), price_substation=0.07,
                                                              v_min_pu=0.9, load_scale=0.8)
    buses = f.buses.copy()
    buses[["p_kw", "q_kvar"]] *= 0.8
    scaled = tc.Feeder(buses, f.lines, v_base_kv=f.v_base_kv, s_base_kva=f.s_base_kva, substation=f.substation)
    ref = tc.dlmp(scaled, price_substation=0.07, v_min_pu=0.9)
    assert result.prices.loc[1, "total"] == pytest.approx(0.07)
    assert np.allclose(result.prices["total"], ref.prices["total"], atol=1e-6)
    stacked = sum(_heights(c) for c in bars.containers)
    assert np.allclose(stacked, result.prices["total"].to_numpy())
    (points,) = feeder_map.collections
    assert np.allclose(points.get_array(), result.prices["total"].to_numpy())
    assert f"{result.cost:.2f}" in summary and "binding</b><br>none" in summary
    assert "loads x 0.8" in bars.get_title()


def test_dlmp_update_shows_an_infeasible_setting_in_words():
    result, (bars, feeder_map), summary = widgets.dlmp_update(tc.DLMPProblem(tc.ieee33()), v_min_pu=0.95)
    assert isinstance(result, ValueError) and "infeasible" in str(result)
    assert "infeasible" in summary and summary.startswith("<span style='color:#b00'>")
    assert any("infeasible" in t.get_text() for t in bars.texts) and len(bars.containers) == 0


def test_dlmp_explorer_shows_each_component_when_its_limit_binds():
    app = widgets.dlmp_explorer()
    state, c = app.state, app.controls
    loose = state["result"]  # v_min 0.90, line 2-3 at 6,000 kVA: nothing binds
    assert loose.binding == () and (loose.prices[["congestion", "voltage"]] == 0).all().all()
    c["s_max_kva"].value = 2500.0
    congested = state["result"]
    assert any("line 2-3" in b for b in congested.binding)
    assert (congested.prices.loc[3:18, "congestion"] > 0.01).all()
    c["s_max_kva"].value = 6000.0
    c["v_min_pu"].value = 0.95
    assert any("voltage" in b for b in state["result"].binding)
    assert state["result"].prices.loc[18, "voltage"] > 0
    assert app.chart.value[:4] == PNG and "binding" in state["table"]
    c["load_scale"].value = 1.5
    c["v_min_pu"].value = 0.97  # more than the DERs can hold up
    assert isinstance(state["result"], ValueError) and "infeasible" in state["table"]


# --------------------------------------------------------------------------- chapter 6: mechanisms


def test_misreport_update_traces_the_utility_of_each_report():
    values, costs = [12.0, 10.0, 8.0], [5.0, 7.0, 9.0]
    curve, ax, summary = widgets.misreport_update(tc.uniform_price, values, costs, side="buyer", index=1,
                                                  report=8.2)
    u = dict(zip(curve.report.round(6), curve.utility))
    # truthful: two trades at the midpoint of [8, 9], 8.5, so buyer 1 gets 10 - 8.5 = 1.5;
    # bidding 8.2 moves the interval to [8, 8.2] and the price to 8.1: 10 - 8.1 = 1.9
    assert u[10.0] == pytest.approx(1.5) and u[8.2] == pytest.approx(1.9)
    assert u[7.0] == 0.0  # below the 8 of buyer 2: buyer 1 no longer trades
    assert "+0.4" in summary and "1.5" in summary and "1.9" in summary
    line = _lines(ax)["buyer 1's utility"]
    assert np.allclose(line.get_xdata(), curve.report) and np.allclose(line.get_ydata(), curve.utility)
    assert ax.get_title().startswith("uniform_price: buyer 1 (true 10)")
    curve, _, summary = widgets.misreport_update(tc.mechanisms.vcg, values, costs, side="seller", index=0,
                                                 report=6.0, n_points=51)
    assert curve.utility.max() <= curve.utility[curve.report == 5.0].iloc[0] + 1e-9  # truthful is best
    assert "gain from lying: <b>+0" in summary


def test_misreport_explorer_shows_the_gain_of_shading_and_none_under_vcg():
    app = widgets.misreport_explorer()
    c, state = app.controls, app.state
    assert c["trader"].value == ("buyer", 1) and c["report"].value == 10.0
    c["report"].value = 8.2  # section 2 of chapter 6: the price falls to 8.1, utility 1.9 instead of 1.5
    assert "+0.4" in state["table"]
    c["mechanism"].value = "VCG"
    curve = state["curve"]
    truthful = float(np.interp(10.0, curve.report, curve.utility))
    assert curve.utility.max() <= truthful + 1e-9  # no report beats the truth under VCG
    c["trader"].value = ("seller", 0)
    assert c["report"].value == 5.0 and app.chart.value[:4] == PNG


# --------------------------------------------------------------------------- chapter 7: strategic behaviour


def test_cournot_update_matches_the_symmetric_closed_form():
    result, ax, summary = widgets.cournot_update(3, intercept=100.0, slope=1.0, base_cost=10.0, n_max=6)
    # n identical firms: q = (a - c) / (b (n + 1)) each, P = (a + n c) / (n + 1)
    assert result.price == pytest.approx(32.5) and np.allclose(result.quantities, 22.5)
    assert result.hhi == pytest.approx(10_000 / 3)
    assert "32.5" in summary and "3,333" in summary and f"{22.5 / 32.5:.3f}" in summary and "3</b> of 3" in summary
    price = _lines(ax)["price"]
    n = np.arange(1, 7)
    assert np.allclose(price.get_ydata(), (100 + 10 * n) / (n + 1))
    assert [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"][0].get_xdata()[0] == 3
    for bad in (0, 7, 2.5, True):
        with pytest.raises(ValueError, match="`n` must be an integer from 1 to n_max = 6"):
            widgets.cournot_update(bad, n_max=6)


def test_cournot_explorer_moves_to_competition_and_prices_out_the_dear_firm():
    app = widgets.cournot_explorer()
    c, state = app.controls, app.state
    assert state["result"].price == pytest.approx(40) and "highly concentrated" in state["table"]
    c["n"].value = 20  # P = (100 + 200) / 21, HHI = 10,000 / 20
    assert state["result"].price == pytest.approx(300 / 21) and state["result"].hhi == pytest.approx(500)
    c["n"].value = 2
    c["cost_spread"].value = 80.0  # costs 10 and 90: the second is priced out
    assert state["result"].price == pytest.approx(55) and "1</b> of 2" in state["table"]
    c["base_cost"].value = 20.0
    assert state["result"].quantities[0] == pytest.approx(40)  # (100 - 20) / 2
    assert app.chart.value[:4] == PNG


# --------------------------------------------------------------------------- chapter 8: fairness


def test_fairness_update_solves_every_rule_and_draws_it():
    problem = tc.FairnessProblem([[1, 1]], [1])
    allocations, ax, summary = widgets.fairness_update(problem, weights=[1, 3], alpha=1.0)
    # weights 1 and 3 on one unit: utilitarian all to agent 1, max-min 3 x1 = x0 (3/4, 1/4),
    # proportional and alpha = 1 give 1/2 each
    expected = {"utilitarian": [0, 1], "max_min": [0.75, 0.25], "proportional": [0.5, 0.5], "alpha": [0.5, 0.5]}
    for rule, want in expected.items():
        assert allocations[rule].x.tolist() == pytest.approx(want, abs=1e-6), rule
    for container, rule in zip(ax.containers, expected):
        assert _heights(container) == pytest.approx(expected[rule], abs=1e-6)
    assert "price of fairness" in summary and ax.get_title() == "amounts under each rule"
    allocations, _, _ = widgets.fairness_update(problem, weights=[1, 3], capacity=[2.0])
    assert allocations["max_min"].x.tolist() == pytest.approx([1.5, 0.5], abs=1e-6) and "alpha" not in allocations


def test_fairness_explorer_reacts_to_weights_capacities_and_alpha():
    app = widgets.fairness_explorer()
    c, state = app.controls, app.state
    assert set(c) == {"weight long", "weight short 1", "weight short 2", "capacity link 1", "capacity link 2", "alpha"}
    assert state["allocations"]["utilitarian"].x.tolist() == pytest.approx([0, 1, 1], abs=1e-6)
    c["alpha"].value = 1.0  # proportional: the long flow gets 1/3
    assert state["allocations"]["alpha"].x.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3], abs=1e-6)
    c["capacity link 2"].value = 0.0
    assert state["allocations"]["max_min"].x.tolist() == pytest.approx([0, 1, 0], abs=1e-6)
    assert app.chart.value[:4] == PNG and list(state["metrics"].index)[-1] == "alpha"
    with pytest.raises(ValueError, match="`capacity` is needed"):
        widgets.fairness_explorer([[1, 1]])


# --------------------------------------------------------------------------- chapter 9: EVs on the feeder


@pytest.fixture(scope="module")
def ev_day():
    return widgets._ev_day_defaults()


def test_ev_update_matches_the_study_and_draws_its_numbers(ev_day):
    feeder, price, load = ev_day
    study, (top, bottom), summary = widgets.ev_update(feeder, 0.3, 0.0, price_substation=price, load_profile=load)
    ref = ev_study(feeder, 0.3, share_responsive=0.0, price_substation=price, load_profile=load)
    assert study.summary["peak_loading"] == pytest.approx(ref.summary["peak_loading"])
    assert np.allclose(top.get_lines()[0].get_ydata(), ref.ac.loading.max(axis=1))
    assert np.allclose(bottom.get_lines()[0].get_ydata(), ref.ac.v_pu.min(axis=1))
    assert f"{ref.summary['peak_loading']:.0%}" in summary and "kWh" in summary
    assert top.get_title() == "30% cars per household, 0% of them respond to DLMPs"
    assert any(ln.get_ydata()[0] == 1.0 for ln in top.get_lines()[1:])  # the rating
    assert any(ln.get_ydata()[0] == 0.9 for ln in bottom.get_lines()[1:])  # v_min


def test_ev_explorer_headless_moving_the_share_lowers_the_peak():
    app = widgets.ev_explorer()
    before = app.state["study"].summary
    assert before["peak_loading"] > 1.0  # the uncontrolled evening peak overloads a line
    first_png = app.chart.value
    app.controls["share_responsive"].value = 1.0
    after = app.state["study"].summary
    assert after["peak_loading"] < 1.0 and after["v_min_pu"] > before["v_min_pu"] and after["shed_kwh"] == 0
    assert app.chart.value != first_png and "cost per responsive car" in app.state["table"]
    app.controls["penetration"].value = 0.0
    assert app.state["study"].fleet.counts["evs"].sum() == 0


def test_ev_explorer_solves_each_setting_once_and_moves_its_lines():
    app = widgets.ev_explorer()
    c = app.controls
    first, png = app.state["study"], app.chart.value
    top, bottom = app.state["axes"]
    line = top.lines[0]
    c["share_responsive"].value = 0.5
    second = app.state["study"]
    assert second is not first and top.lines[0] is line, "the lines move: the axes are not drawn again"
    assert np.allclose(line.get_ydata(), second.ac.loading.max(axis=1))
    assert np.allclose(bottom.lines[0].get_ydata(), second.ac.v_pu.min(axis=1))
    c["share_responsive"].value = 0.0  # back to a setting seen before: the same study, the same picture
    assert app.state["study"] is first and app.chart.value == png


def test_ev_update_with_a_problem_matches_the_study_and_refuses_options_for_the_study(ev_day):
    feeder, price, load = ev_day
    problem = EVStudyProblem(feeder, price_substation=price, load_profile=load)
    study, _, _ = widgets.ev_update(feeder, 0.3, 1.0, price_substation=price, load_profile=load, problem=problem)
    ref = ev_study(feeder, 0.3, share_responsive=1.0, price_substation=price, load_profile=load)
    assert study.day.cost == pytest.approx(ref.day.cost, rel=1e-7)
    with pytest.raises(TypeError, match="v_min_pu.*EVStudyProblem"):
        widgets.ev_update(feeder, 0.3, 1.0, price_substation=price, load_profile=load, problem=problem, v_min_pu=0.9)
    # a problem built for another day or feeder is refused, not solved for the day it was built for
    others = {"load_profile": 1.1 * np.asarray(load, dtype=float), "price_substation": np.asarray(price) + 0.01,
              "feeder": feeder.scale_loads(1.1)}
    for name, other in others.items():
        day = {"feeder": feeder, "price_substation": price, "load_profile": load, name: other}
        with pytest.raises(ValueError, match="`problem` was built for another feeder or day"):
            widgets.ev_update(day.pop("feeder"), 0.3, 1.0, problem=problem, **day)
    equal = copy.deepcopy((feeder, price, load))  # equal, not the same objects: accepted
    assert problem.describes(*equal) and not problem.describes(feeder, price, list(load)[:-1])

# --------------------------------------------------------------------------- chapters 7 and 8 (moved from test_games.py
# and test_fairness.py, so that each test file tests one module)

ONE_UNIT = ([[1, 1]], [1])  # one unit, two agents
LINE = ([[1, 1, 0], [1, 0, 1]], [1, 1])  # long flow on both links, short flows on one each


def test_cournot_explorer_approaches_competition():
    app = widgets.cournot_explorer()
    c, state = app.controls, app.state
    assert state["result"].price == pytest.approx(40) and "highly concentrated" in state["table"]
    c["n"].value = 1
    assert state["result"].price == pytest.approx(55) and state["result"].hhi == 10_000
    c["n"].value = 20  # P = (100 + 200)/21, HHI = 500
    assert state["result"].price == pytest.approx(300 / 21) and state["result"].hhi == pytest.approx(500)
    assert "unconcentrated" in state["table"]
    c["n"].value = 2
    c["cost_spread"].value = 80.0  # costs 10 and 90: the second is priced out, a monopoly again
    assert state["result"].price == pytest.approx(55) and "1</b> of 2" in state["table"]
    c["base_cost"].value = 20.0
    assert state["result"].quantities[0] == pytest.approx(40)  # (100 - 20)/2
    assert app.chart.value[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="`n` must be an integer from 1 to n_max = 20"):
        widgets.cournot_update(21)


def test_fairness_update_and_explorer():
    allocations, ax, summary = widgets.fairness_update(tc.FairnessProblem(*ONE_UNIT), weights=[2, 1])
    assert allocations["max_min"].x.tolist() == pytest.approx([1 / 3, 2 / 3])
    assert "price of fairness" in summary and "<table" in summary and ax.figure is not None
    app = widgets.fairness_explorer()
    c, state = app.controls, app.state
    assert set(c) == {"weight long", "weight short 1", "weight short 2", "capacity link 1", "capacity link 2", "alpha"}
    assert state["allocations"]["utilitarian"].x.tolist() == pytest.approx([0, 1, 1])
    assert state["metrics"].loc["proportional", "welfare"] == pytest.approx(5 / 3)
    # the alpha dial starts at 2: the long flow gets 1 / (1 + 2^(1/2)) (by hand, see the closed form above)
    assert state["allocations"]["alpha"].x.tolist() == pytest.approx([1 / (1 + 2**0.5), 2**0.5 / (1 + 2**0.5)] + [
        2**0.5 / (1 + 2**0.5)], abs=1e-9)
    assert list(state["metrics"].index) == ["utilitarian", "max_min", "proportional", "alpha"]
    c["alpha"].value = 1.0  # the proportional rule
    assert state["allocations"]["alpha"].x.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3], abs=1e-9)
    c["alpha"].value = 2.0
    c["weight long"].value = 3.0  # 3 x_0 beats x_1 + x_2: the long flow takes everything
    assert state["allocations"]["utilitarian"].x.tolist() == pytest.approx([1, 0, 0], abs=1e-9)
    assert state["allocations"]["max_min"].utilities.tolist() == pytest.approx([0.75, 0.75, 0.75])
    c["capacity link 2"].value = 0.0  # the long flow and short 2 get nothing, short 1 takes link 1
    assert state["allocations"]["proportional"].x.tolist() == pytest.approx([0, 1, 0], abs=1e-9)
    assert app.chart.value[:4] == b"\x89PNG" and "worst off" in state["table"]
    own = widgets.fairness_explorer(pd.DataFrame([[1, 1]], columns=["a", "b"]), [2.0], weights=[1, 2])
    assert own.state["allocations"]["max_min"].x.tolist() == pytest.approx([4 / 3, 2 / 3])
    with pytest.raises(ValueError, match="`capacity` is needed"):
        widgets.fairness_explorer([[1, 1]])


# --------------------------------------------------------------------------- every explorer: redrawn in place


EXPLORERS = ("auction", "battery", "coordination", "cournot", "dlmp", "ev", "fairness", "hosting", "misreport")


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:4] == PNG
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _layout(fig):
    return [tuple(np.round(ax.get_position().bounds, 6)) for ax in fig.axes]


@pytest.mark.parametrize("name", EXPLORERS)
def test_an_explorer_redraws_its_one_figure_in_place_at_the_width_shown(name):
    """Each slider move draws on the same figure, laid out once: no axes pile up, none moves, none is lost."""
    from ipywidgets import FloatLogSlider, FloatSlider, IntSlider

    app = getattr(widgets, f"{name}_explorer")()
    sliders = [w for w in app.controls.values() if isinstance(w, (FloatSlider, IntSlider, FloatLogSlider))]
    assert sliders, f"{name} has a slider"
    for w in app.controls.values():  # a drag sends one refresh, at release: no backlog of intermediate values
        assert getattr(w, "continuous_update", False) is False, f"{name}: {w.description} updates while dragged"
    axes = app.state.get("ax") or app.state.get("axes")
    fig = (axes[0] if isinstance(axes, tuple) else axes).figure
    first, first_png = _layout(fig), app.chart.value
    width_px = int(app.chart.layout.width.removesuffix("px"))
    assert abs(_png_size(first_png)[0] - width_px) <= 1, "the PNG is encoded at the width the page shows"
    slider = app.controls["k"] if name == "auction" else sliders[0]  # the auction's first sliders act on random markets
    for fraction in (0.3, 0.7, 0.3):
        value = slider.min + fraction * (slider.max - slider.min)
        slider.value = slider.base ** value if isinstance(slider, FloatLogSlider) else (
            int(round(value)) if isinstance(slider.value, int) else value)
        now = app.state.get("ax") or app.state.get("axes")
        assert (now[0] if isinstance(now, tuple) else now).figure is fig, "the same figure, drawn again"
        assert _layout(fig) == first, f"{name}: the axes moved or piled up after a slider move"
    assert app.chart.value != first_png, f"{name}: the chart did not change when {slider.description} moved"
