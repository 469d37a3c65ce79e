"""te_course.plots: every public function draws what the numbers say.

Each test draws a result and reads the figure back (bar heights, line data, markers, labels),
comparing with values computed here: step curves summed by hand, energy balances, closed-form
best responses, the result's own fields where the plot must show exactly them.
"""

from __future__ import annotations

import inspect
import re
import struct
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import te_course as tc
from te_course import plots

SEED_BIDS, SEED_ASKS = [12, 10, 8], [5, 7, 9]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _lines(*axes):
    return {ln.get_label(): ln for ax in axes for ln in ax.get_lines()}


def _heights(container):
    return np.array([b.get_height() for b in container])


# --------------------------------------------------------------------------- every public function is tested here


def test_every_public_plot_function_has_a_direct_test_in_this_file():
    public = {n for n, f in inspect.getmembers(plots, inspect.isfunction)
              if not n.startswith("_") and f.__module__ == plots.__name__}
    assert public == set(plots.__all__), "plots.__all__ and the module's public functions differ"
    source = Path(__file__).read_text()
    untested = sorted(n for n in public if not re.search(rf"plots\.{n}\(", source))
    assert not untested, f"plot functions without a direct test in tests/test_plots.py: {untested}"


# --------------------------------------------------------------------------- figures


def test_new_axes_in_pyplot_or_outside_it():
    before = set(plt.get_fignums())
    ax = plots.new_axes((5.0, 3.0))
    assert isinstance(ax, Axes) and set(plt.get_fignums()) - before == {ax.figure.number}
    assert tuple(ax.figure.get_size_inches()) == (5.0, 3.0)
    quiet = plots.new_axes((4.0, 2.0), pyplot=False)
    assert isinstance(quiet.figure, Figure) and set(plt.get_fignums()) - before == {ax.figure.number}


def test_to_png_renders_the_figure_at_its_size_and_dpi():
    fig = plots.new_axes((5.0, 3.0), pyplot=False).figure
    for dpi in (50, 96):
        png = plots.to_png(fig, dpi=dpi)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (5 * dpi, 3 * dpi)


# --------------------------------------------------------------------------- chapter 1: the double auction


def test_supply_demand_curves_are_sorted_cumulative_steps():
    r = tc.clear_double_auction([8, 12, 10], [(9, 2), (5, 1), (7, 0.5)])
    c = plots.supply_demand_curves(r)
    assert np.array_equal(c["demand_p"], [12, 10, 8]) and np.array_equal(c["demand_q"], [0, 1, 2, 3])
    assert np.array_equal(c["supply_p"], [5, 7, 9]) and np.array_equal(c["supply_q"], [0, 1, 1.5, 3.5])


def test_plot_double_auction_draws_curves_point_and_welfare_area():
    r = tc.clear_double_auction(SEED_BIDS, SEED_ASKS)
    ax = plots.plot_double_auction(r)
    assert isinstance(ax, Axes)
    labels = _legend(ax)
    assert "demand (bids)" in labels and "supply (asks)" in labels
    assert "price interval [8, 9]" in labels and "clearing: 2 kWh at 8.5" in labels
    # the shaded welfare area equals the welfare (12 - 5) + (10 - 7) = 10: integrate the polygon's area
    (poly,) = ax.collections
    verts = poly.get_paths()[0].vertices
    x, y = verts[:, 0], verts[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area == pytest.approx(10.0) == r.welfare
    point = [ln for ln in ax.get_lines() if ln.get_marker() == "o"][0]
    assert point.get_xdata()[0] == 2 and point.get_ydata()[0] == 8.5


def test_plot_double_auction_leaves_out_what_it_is_told_to():
    r = tc.clear_double_auction(SEED_BIDS, SEED_ASKS)
    ax = plots.plot_double_auction(r, show_interval=False, show_welfare=False)
    assert len(ax.collections) == 0 and not any(t.startswith("price interval") for t in _legend(ax))


def test_plot_of_a_market_without_trade_says_so():
    ax = plots.plot_double_auction(tc.clear_double_auction([3], [9]))
    assert any("no trade" in t.get_text() for t in ax.texts)
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "o"]


def test_plot_draws_into_a_given_axes():
    ax0 = plots.new_axes()
    assert plots.plot_double_auction(tc.clear_double_auction(SEED_BIDS, SEED_ASKS), ax=ax0) is ax0


# --------------------------------------------------------------------------- chapter 2: schedules


@pytest.fixture(scope="module")
def pv_schedule():
    load, buy = [1.0, 2.0, 0.5, 1.5], [0.1, 0.3, 0.05, 0.4]
    devices = [tc.Battery(2.0, 1.0, 0.9, 0.9), tc.PV([0.0, 1.0, 3.0, 0.5])]
    return tc.schedule(tc.Prosumer(load, devices), buy, [0.02, 0.05, 0.01, 0.05])


def test_plot_schedule_bars_are_the_battery_power_and_lines_balance_the_grid(pv_schedule):
    t = pv_schedule.table
    ax = plots.plot_schedule(pv_schedule)
    (bars,) = ax.containers
    lines = _lines(ax, ax.price_axes)
    # energy balance in every step: import = load + battery - PV output
    net = _heights(bars)
    assert np.allclose(net, t["battery_charge_kw"] - t["battery_discharge_kw"])
    assert np.allclose(lines["net import from the grid"].get_ydata(),
                       lines["base load"].get_ydata() + net - lines["pv output"].get_ydata(), atol=1e-6)
    assert np.allclose(lines["base load"].get_ydata(), [1.0, 2.0, 0.5, 1.5])
    assert np.all(lines["pv output"].get_ydata() <= np.array([0.0, 1.0, 3.0, 0.5]) + 1e-6)
    assert np.allclose(lines["buy price"].get_ydata(), [0.1, 0.3, 0.05, 0.4])
    assert np.allclose(lines["sell price"].get_ydata(), [0.02, 0.05, 0.01, 0.05])
    assert ax.get_xlabel() == "step (1 h each)" and ax.price_axes.get_ylabel() == "price (per kWh)"


def test_plot_schedule_without_price_or_sell_price():
    s = tc.schedule(tc.Prosumer([1.0, 1.0], [tc.Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3], dt_h=0.5)
    ax = plots.plot_schedule(s)
    assert "sell price" not in _lines(ax.price_axes)  # a zero sell price is not drawn
    quiet = plots.plot_schedule(s, ax=plots.new_axes(pyplot=False), show_price=False)
    assert not hasattr(quiet, "price_axes") and quiet.get_xlabel() == "step (0.5 h each)"
    assert "buy price" not in _legend(quiet)


def test_plot_soc_draws_each_battery_and_the_soc_follows_its_power(pv_schedule):
    t = pv_schedule.table
    ax = plots.plot_soc(pv_schedule)
    (line,) = ax.get_lines()
    soc = line.get_ydata()
    # soc_t = soc_{t-1} + 0.9 charge_t - discharge_t / 0.9, from an empty battery (1 h steps)
    expected = np.cumsum(0.9 * t["battery_charge_kw"] - t["battery_discharge_kw"] / 0.9)
    assert line.get_label() == "battery" and np.allclose(soc, expected, atol=1e-6)
    assert ax.get_ylim()[0] == 0 and ax.get_ylabel() == "state of charge (kWh)"


def _schedule(buy, p_max=1.0):
    load = [1.0, 2.0, 0.5, 1.5]
    return tc.schedule(tc.Prosumer(load, [tc.Battery(2.0, p_max, 0.9, 0.9), tc.PV([0.0, 1.0, 3.0, 0.5])]), buy,
                       [0.02, 0.05, 0.01, 0.05])


def test_plot_schedule_and_soc_drawn_again_move_to_the_new_schedule():
    first, second = _schedule([0.1, 0.3, 0.05, 0.4]), _schedule([0.4, 0.05, 0.3, 0.1], p_max=2.0)
    ax = plots.plot_schedule(first)
    soc_ax = plots.plot_soc(first, capacity_kwh=2.0)
    bars, line, price_ax = ax.containers[0], ax.lines[0], ax.price_axes
    assert plots.plot_schedule(second, ax=ax) is ax and plots.plot_soc(second, ax=soc_ax, capacity_kwh=3.0) is soc_ax
    fresh, fresh_soc = plots.plot_schedule(second), plots.plot_soc(second, capacity_kwh=3.0)
    assert ax.containers == [bars] and ax.lines[0] is line and ax.price_axes is price_ax, "moved, not drawn again"
    assert np.allclose(_heights(bars), _heights(fresh.containers[0]))
    assert not np.allclose(_heights(bars), _heights(plots.plot_schedule(first).containers[0]))  # it did move
    for mine, theirs in ((ax, fresh), (ax.price_axes, fresh.price_axes), (soc_ax, fresh_soc)):
        assert len(mine.lines) == len(theirs.lines)
        for a, b in zip(mine.lines, theirs.lines):
            assert np.allclose(a.get_ydata(), b.get_ydata())
        assert np.allclose(mine.get_ylim(), theirs.get_ylim())
    assert len(ax.figure.axes) == 2  # the power and the price axes, no second twin


def test_plot_schedule_drawn_again_for_other_devices_replaces_the_drawing_and_its_price_axes(pv_schedule):
    s = tc.schedule(tc.Prosumer([1.0, 1.0, 1.0, 1.0], [tc.Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3, 0.2, 0.1])
    ax = plots.plot_schedule(pv_schedule)
    plots.plot_schedule(s, ax=ax)
    assert len(ax.figure.axes) == 2 and "pv output" not in _lines(ax)
    assert "sell price" not in _lines(ax.price_axes)


# --------------------------------------------------------------------------- chapter 3: coordination


def _best_response(agents, price):
    """argmin of a/2 p^2 + b p - price p over [p_min, p_max]: clip((price - b) / a)."""
    return np.clip((price - agents.b) / agents.a, agents.p_min_kw, agents.p_max_kw)


def test_plot_aggregate_response_sums_the_closed_form_best_responses():
    agents = tc.random_community(12, seed=4)
    price = tc.centralized_dispatch(agents).price
    ax = plots.plot_aggregate_response(agents, price=price)
    lines = _lines(ax)
    supply, demand = lines["supply (sellers)"], lines["demand (buyers)"]
    for p, q in zip(supply.get_ydata()[::37], supply.get_xdata()[::37]):
        assert q == pytest.approx(np.clip(_best_response(agents, p), 0, None).sum(), abs=1e-9)
    for p, q in zip(demand.get_ydata()[::37], demand.get_xdata()[::37]):
        assert q == pytest.approx(-np.clip(_best_response(agents, p), None, 0).sum(), abs=1e-9)
    (point,) = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    balanced = np.clip(_best_response(agents, price), 0, None).sum()
    assert point.get_xdata()[0] == pytest.approx(balanced) and point.get_ydata()[0] == price
    # at the balancing price, supply meets demand
    assert balanced == pytest.approx(-np.clip(_best_response(agents, price), None, 0).sum(), abs=1e-6)
    assert len(plots.plot_aggregate_response(agents).get_lines()) == 2  # no price: no point, no line


def test_plot_convergence_draws_absolute_values_on_a_log_scale_and_skips_empty_histories():
    h = pd.DataFrame({"iteration": [1, 2, 3], "imbalance_kw": [-1.0, 0.1, 0.0]})
    result = tc.price_iteration(tc.random_community(5, seed=1), step=0.009)
    ax = plots.plot_convergence({"by hand": h, "result": result, "none": None, "empty": h.iloc[:0]})
    lines = _lines(ax)
    assert set(lines) == {"by hand", "result"} and ax.get_yscale() == "log"
    assert np.allclose(lines["by hand"].get_ydata(), [1.0, 0.1, 1e-16])
    assert np.allclose(lines["result"].get_ydata(), np.maximum(np.abs(result.history["imbalance_kw"]), 1e-16))
    ax = plots.plot_convergence({"by hand": h}, column="iteration")
    assert ax.get_ylabel() == "|iteration|"
    assert plots.plot_convergence({}).get_legend() is None


# --------------------------------------------------------------------------- chapter 4: power flow


def test_tree_layout_puts_every_bus_at_its_depth():
    f = tc.ieee33(tie_lines=True)
    pos = plots.tree_layout(f)
    assert set(pos) == set(f.buses.index)
    assert pos[18][0] == 17 and pos[1] == (0.0, 0.0)  # bus 18 is 17 lines from the substation
    assert pos[22][0] == 5 and pos[33][0] == 13  # laterals 2-19-...-22 and 6-26-...-33


def test_plot_feeder_colours_buses_by_value_and_dots_open_lines():
    f = tc.ieee33(tie_lines=True)
    v = tc.ac_power_flow(tc.ieee33()).v_pu
    ax = plots.plot_feeder(f, v)
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == (~f.lines.in_service).sum() == 5  # the five open tie lines
    (points,) = ax.collections
    assert np.allclose(points.get_array(), v.reindex(f.buses.index).to_numpy())
    assert len(ax.texts) == 33 and ax.get_title() == f.name
    assert ax.figure.axes[-1].get_ylabel() == "voltage (p.u.)"  # the colour bar
    (sub,) = [ln for ln in ax.get_lines() if ln.get_marker() == "s"]
    assert (sub.get_xdata()[0], sub.get_ydata()[0]) == plots.tree_layout(f)[f.substation]


def test_plot_feeder_without_values_and_labels():
    f = tc.radial_feeder(8, seed=1)
    ax = plots.plot_feeder(f, show_labels=False)
    (points,) = ax.collections
    assert points.get_array() is None and len(points.get_offsets()) == len(f.buses) and not ax.texts
    assert len(ax.figure.axes) == 1  # no colour bar


def test_plot_feeder_drawn_again_recolours_or_replaces_the_map():
    f = tc.ieee33()
    v_base, v_sunny = tc.ac_power_flow(f).v_pu, tc.ac_power_flow(f.with_injection(18, 2000.0)).v_pu
    ax = plots.plot_feeder(f, v_base)
    (points,) = ax.collections
    assert plots.plot_feeder(f, v_sunny, ax=ax, label="sunny") is ax
    fresh = plots.plot_feeder(f, v_sunny, label="sunny")
    assert list(ax.collections) == [points] and len(ax.figure.axes) == 2, "recoloured, not drawn again"
    assert np.allclose(points.get_array(), fresh.collections[0].get_array())
    assert points.get_clim() == pytest.approx(fresh.collections[0].get_clim())
    assert ax.figure.axes[-1].get_ylabel() == "sunny"
    plots.plot_feeder(f, ax=ax)  # no values: the coloured map and its colour bar give way to a grey one
    assert len(ax.figure.axes) == 1 and ax.collections[0].get_array() is None
    other = tc.radial_feeder(8, seed=1)
    plots.plot_feeder(other, tc.ac_power_flow(other).v_pu, ax=ax)  # another feeder: replaced
    assert len(ax.collections[0].get_offsets()) == len(other.buses) and len(ax.figure.axes) == 2


def test_clear_axes_takes_the_colour_bar_with_it():
    ax = plots.plot_feeder(tc.ieee33(), tc.ac_power_flow(tc.ieee33()).v_pu)
    assert len(ax.figure.axes) == 2
    assert plots.clear_axes(ax) is ax and len(ax.figure.axes) == 1 and not ax.collections


def test_plot_voltage_profile_draws_each_result_and_the_limits():
    f = tc.ieee33()
    results = {"AC": tc.ac_power_flow(f), "LinDistFlow": tc.lindistflow(f)}
    ax = plots.plot_voltage_profile(results, v_min_pu=0.92, v_max_pu=1.04)
    lines = _lines(ax)
    for label, r in results.items():
        assert np.allclose(lines[label].get_ydata(), r.v_pu.to_numpy())
    assert results["LinDistFlow"].v_pu[18] > results["AC"].v_pu[18]  # LinDistFlow leaves out the losses
    limits = sorted(ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--")
    assert limits == [0.92, 1.04]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(b) for b in f.buses.index]


def test_plot_voltage_profile_drawn_again_replaces_the_profile():
    base, sunny = tc.ieee33(), tc.ieee33().with_injection(18, 1500.0)
    first = {"AC": tc.ac_power_flow(base), "LinDistFlow": tc.lindistflow(base)}
    second = {"AC": tc.ac_power_flow(sunny), "LinDistFlow": tc.lindistflow(sunny)}
    ax = plots.plot_voltage_profile(first)
    assert plots.plot_voltage_profile(second, ax=ax, v_max_pu=1.04) is ax
    fresh = plots.plot_voltage_profile(second, v_max_pu=1.04)
    assert len(ax.lines) == len(fresh.lines) == 4, "moved, not drawn again"
    for mine, theirs in zip(ax.lines, fresh.lines):
        assert np.allclose(mine.get_ydata(), theirs.get_ydata())
    assert np.allclose(ax.get_ylim(), fresh.get_ylim())
    only_ac = plots.plot_voltage_profile({"AC": second["AC"]}, ax=ax)  # other results: the profile is replaced
    assert [ln.get_label() for ln in only_ac.lines if not ln.get_label().startswith("_")] == ["AC"]


def test_plot_voltage_profile_names_an_empty_argument():
    with pytest.raises(ValueError, match="`results`"):
        plots.plot_voltage_profile({})


# --------------------------------------------------------------------------- chapter 5: DLMPs


def test_plot_dlmp_stacks_components_to_the_total():
    r = tc.dlmp(tc.ieee33(), price_substation=0.05, v_min_pu=0.9)
    ax = plots.plot_dlmp(r)
    (dots,) = [ln for ln in ax.get_lines() if ln.get_marker() == "."]
    assert np.allclose(dots.get_ydata(), r.prices["total"].to_numpy())
    heights = np.zeros(len(r.prices))
    for bars in ax.containers:
        heights += _heights(bars)
    assert np.allclose(heights, r.prices["total"].to_numpy())
    assert len(ax.containers) == 8  # four components, each drawn upwards and downwards


def test_plot_dlmp_draws_negative_components_below_zero():
    prices = pd.DataFrame({"energy": [0.05, 0.05], "loss": [0.0, -0.01], "congestion": [0.0, 0.02],
                           "voltage": [0.0, -0.005]}, index=pd.Index([1, 2], name="bus"))
    prices["total"] = prices.sum(axis=1)

    class Result:  # the fields plot_dlmp reads
        pass

    result = Result()
    result.prices = prices
    ax = plots.plot_dlmp(result)
    below = sum(_heights(c) for c in ax.containers[1::2])
    above = sum(_heights(c) for c in ax.containers[0::2])
    assert np.allclose(below, [0.0, -0.015]) and np.allclose(above, [0.05, 0.07])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def _bar_geometry(ax):
    return [[(b.get_x(), b.get_y(), b.get_height()) for b in c] for c in ax.containers]


def test_plot_dlmp_drawn_again_on_its_axes_moves_the_bars_to_the_new_prices():
    """An explorer draws each new setting on the same axes: it must look exactly like a fresh drawing."""
    ders = pd.DataFrame({"bus": [18, 33, 25], "p_max_kw": [1200.0, 1200.0, 800.0], "price": [0.08, 0.08, 0.10]})
    loose = tc.dlmp(tc.ieee33(), ders=ders, price_substation=0.05, v_min_pu=0.9)
    tight = tc.dlmp(tc.ieee33(), ders=ders, price_substation=0.05, v_min_pu=0.95)  # the voltage limit binds
    assert not np.allclose(loose.prices["voltage"], tight.prices["voltage"])
    ax = plots.plot_dlmp(loose)
    assert plots.plot_dlmp(tight, ax=ax) is ax
    fresh = plots.plot_dlmp(tight)
    assert len(ax.containers) == 8 and len(ax.patches) == len(fresh.patches), "moved, not drawn again"
    assert np.allclose(_bar_geometry(ax), _bar_geometry(fresh))
    (dots,) = [ln for ln in ax.get_lines() if ln.get_marker() == "."]
    assert np.allclose(dots.get_ydata(), tight.prices["total"].to_numpy())
    assert np.allclose(ax.get_ylim(), fresh.get_ylim())
    other = tc.dlmp(tc.radial_feeder(6, seed=1), price_substation=0.05, v_min_pu=0.9)
    plots.plot_dlmp(other, ax=ax)  # other buses: the drawing is replaced, not piled on
    assert len(ax.containers) == 8 and len(ax.patches) == 8 * len(other.prices)


# --------------------------------------------------------------------------- chapter 6: mechanisms


def test_plot_misreport_marks_the_truthful_and_the_current_report():
    ax = plots.plot_misreport([8, 9, 10, 11], [2.0, 1.8, 1.5, 1.5], truthful=10, current=8.5, label="buyer 1")
    lines = _lines(ax)
    assert np.allclose(lines["buyer 1"].get_ydata(), [2.0, 1.8, 1.5, 1.5])
    assert lines["truthful report 10"].get_xdata()[0] == 10
    assert lines["report 8.5"].get_ydata()[0] == pytest.approx(1.9)  # halfway between 2.0 and 1.8
    horizontal = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert horizontal[0].get_ydata()[0] == 1.5  # the truthful utility
    assert "report 8.5" not in _lines(plots.plot_misreport([8, 9], [1, 2], truthful=8.5))


# --------------------------------------------------------------------------- chapter 7: strategic behaviour


def test_plot_best_responses_draws_both_reaction_lines_the_equilibrium_and_a_simultaneous_path():
    # a = 60, b = 2, costs 0 and 12: BR_0(q1) = (60 - 2 q1) / 4, BR_1(q0) = (48 - 2 q0) / 4
    r = tc.cournot_equilibrium(60, 2, [0, 12])
    dyn = tc.best_response_dynamics(tc.cournot_best_responses(60, 2, [0, 12]), [0.0, 0.0], order="simultaneous")
    ax = plots.plot_best_responses(r, dyn)
    lines = _lines(ax)
    br0, br1 = lines["firm 0's best response"], lines["firm 1's best response"]
    assert np.allclose(br0.get_xdata(), np.clip((60 - 2 * br0.get_ydata()) / 4, 0, None))
    assert np.allclose(br1.get_ydata(), np.clip((48 - 2 * br1.get_xdata()) / 4, 0, None))
    (nash,) = [ln for lab, ln in lines.items() if lab.startswith("Nash equilibrium")]
    # q0 = (60 - 2 q1) / 4 and q1 = (48 - 2 q0) / 4: q0 = 12, q1 = 6
    assert (nash.get_xdata()[0], nash.get_ydata()[0]) == (pytest.approx(12), pytest.approx(6))
    path = lines["simultaneous best responses"]
    assert np.allclose(path.get_xdata()[:2], [0, 15]) and np.allclose(path.get_ydata()[:2], [0, 12])
    assert len(path.get_xdata()) == len(dyn.history)  # simultaneous: one point per round, no staircase
    with pytest.raises(ValueError, match="two-firm Cournot equilibrium"):
        plots.plot_best_responses(tc.cournot_equilibrium(100, 1, [10]))


def test_plot_competition_draws_price_hhi_and_lerner_against_n():
    t = tc.competition_curve(100, 1, 10, n_max=4)
    ax = plots.plot_competition(t, current=2)
    lines = _lines(ax, ax.right_axis)
    n = np.arange(1, 5)
    assert np.allclose(lines["price"].get_ydata(), (100 + 10 * n) / (n + 1))  # symmetric Cournot
    assert np.allclose(lines["HHI / 10,000"].get_ydata(), 1 / n)
    assert np.allclose(lines["Lerner index (share-weighted)"].get_ydata(), 90 / (100 + 10 * n))
    marks = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert marks[0].get_xdata()[0] == 2 and ax.right_axis.get_ylim() == (0, 1.05)
    assert not [ln for ln in plots.plot_competition(t).get_lines() if ln.get_linestyle() == ":"]


def test_plot_withholding_draws_profit_welfare_and_both_offers():
    w = tc.withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    ax = plots.plot_withholding(w)
    lines = _lines(ax)
    assert np.allclose(lines["prosumer's profit"].get_ydata(), w.curve["profit"])
    assert np.allclose(lines["welfare"].get_ydata(), w.curve["welfare"])
    star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"][0]
    full = [ln for ln in ax.get_lines() if ln.get_marker() == "s"][0]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (w.offer_kw, w.profit) == (25, 625)
    assert (full.get_xdata()[0], full.get_ydata()[0]) == (60, w.full_profit)
    table = pd.DataFrame({"offer_kw": [0, 1, 2, 3], "profit": [0, 3, 5, 1]})
    ax = plots.plot_withholding(table)
    star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"][0]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (2, 5) and "welfare" not in _lines(ax)


# --------------------------------------------------------------------------- chapter 8: fairness


def test_plot_allocations_bars_are_the_allocations_of_each_rule():
    # one unit shared by two agents with weights 2 and 1: utilitarian gives all to the first,
    # max-min equalises 2 x0 = x1 (1/3, 2/3), proportional gives 1/2 each
    rules = ("utilitarian", "max_min", "proportional")
    alloc = {r: tc.fair_allocation([[1, 1]], [1], weights=[2, 1], rule=r) for r in rules}
    ax = plots.plot_allocations(alloc)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["utilitarian", "max-min", "proportional"]
    expected = [[1, 0], [1 / 3, 2 / 3], [0.5, 0.5]]
    for container, want in zip(ax.containers, expected):
        assert _heights(container) == pytest.approx(want, abs=1e-6)
    ax = plots.plot_allocations(list(alloc.values()), quantity="utilities", ax=plots.new_axes(pyplot=False))
    assert _heights(ax.containers[1]) == pytest.approx([2 / 3, 2 / 3], abs=1e-6)  # w x equalised
    with pytest.raises(ValueError, match="`quantity`"):
        plots.plot_allocations(alloc, quantity="u")
    with pytest.raises(ValueError, match="`allocations` is empty"):
        plots.plot_allocations({})


# --------------------------------------------------------------------------- chapter 9: a day on the feeder


def test_price_heatmap_shows_buses_by_hours():
    prices = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=[7, 8])  # 3 hours, 2 buses
    ax = plots.plot_price_heatmap(prices, label="DLMP")
    image = ax.images[0].get_array()
    assert image.shape == (2, 3) and image[1, 2] == 5.0  # bus 8 at hour 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["7", "8"]
    assert ax.figure.axes[-1].get_ylabel() == "DLMP"


def test_voltage_envelope_draws_lowest_voltage_and_limit():
    v = pd.DataFrame([[1.0, 0.96, 0.97], [1.0, 0.91, 0.94]])
    ax = plots.plot_voltage_envelope({"a": v, "b": v + 0.01}, v_min_pu=0.92, v_max_pu=1.05)
    lines = ax.get_lines()
    assert np.allclose(lines[0].get_ydata(), [0.96, 0.91]) and np.allclose(lines[1].get_ydata(), [0.97, 0.92])
    assert sorted(ln.get_ydata()[0] for ln in lines[2:]) == [0.92, 1.05]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(1.0)
    assert len(plots.plot_voltage_envelope({"a": v}).get_lines()) == 1  # no limits given


def test_day_profiles_one_line_per_case():
    ax = plots.plot_day_profiles({"x": [1, 2], "y": [3, 4]}, limit=2.5, limit_label="rating", ylabel="MW")
    assert _legend(ax) == ["x", "y", "rating"] and ax.get_ylabel() == "MW"
    lines = _lines(ax)
    assert np.allclose(lines["y"].get_ydata(), [3, 4]) and np.allclose(lines["y"].get_xdata(), [0, 1])
    assert lines["rating"].get_ydata()[0] == 2.5


def _band(ax, k=0):
    return np.sort(ax.collections[k].get_paths()[0].vertices[:, 1])


def test_voltage_envelope_drawn_again_moves_the_lines_and_bands():
    v = pd.DataFrame([[1.0, 0.96, 0.97], [1.0, 0.91, 0.94]])
    w = pd.DataFrame([[1.0, 0.99, 0.98], [1.0, 0.85, 0.93]])
    ax = plots.plot_voltage_envelope({"a": v}, v_min_pu=0.9)
    line, band = ax.lines[0], ax.collections[0]
    assert plots.plot_voltage_envelope({"a": w}, ax=ax, v_min_pu=0.88) is ax
    fresh = plots.plot_voltage_envelope({"a": w}, v_min_pu=0.88)
    assert ax.lines[0] is line and len(ax.lines) == len(fresh.lines) == 2, "moved, not drawn again"
    assert len(ax.collections) == 1 and (band in ax.collections or not hasattr(band, "set_data"))
    for mine, theirs in zip(ax.lines, fresh.lines):
        assert np.allclose(mine.get_ydata(), theirs.get_ydata())
    assert np.allclose(_band(ax), _band(fresh))
    assert np.allclose(ax.get_ylim(), fresh.get_ylim())  # rescaled to the new band (0.85)
    other = plots.plot_voltage_envelope({"a": w, "b": v}, ax=ax)  # other cases: the drawing is replaced
    assert len(other.lines) == 2 and len(other.collections) == 2


def test_day_profiles_drawn_again_moves_the_lines():
    ax = plots.plot_day_profiles({"x": [1, 2]}, limit=2.5)
    first = ax.lines[0]
    plots.plot_day_profiles({"x": [5, 7]}, ax=ax, limit=3.0)
    fresh = plots.plot_day_profiles({"x": [5, 7]}, limit=3.0)
    assert ax.lines[0] is first and len(ax.lines) == 2, "moved, not drawn again"
    for mine, theirs in zip(ax.lines, fresh.lines):
        assert np.allclose(mine.get_ydata(), theirs.get_ydata())
    assert np.allclose(ax.get_ylim(), fresh.get_ylim())
    plots.plot_day_profiles({"x": [1, 2, 3]}, ax=ax)  # three steps and no limit: replaced
    assert [len(ln.get_ydata()) for ln in ax.lines] == [3]

# --------------------------------------------------------------------------- chapters 7 and 8 (moved from test_games.py
# and test_fairness.py, so that each test file tests one module)

ONE_UNIT = ([[1, 1]], [1])  # one unit, two agents
LINE = ([[1, 1, 0], [1, 0, 1]], [1, 1])  # long flow on both links, short flows on one each


def test_plot_best_responses_draws_the_lines_the_point_and_a_staircase():
    r = tc.cournot_equilibrium(100, 1, [10, 20])
    dyn = tc.best_response_dynamics(tc.cournot_best_responses(100, 1, [10, 20]), [0.0, 0.0])
    ax = plots.plot_best_responses(r, dyn)
    assert isinstance(ax, Axes)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    br0 = lines["firm 0's best response"]
    x, y = br0.get_xdata(), br0.get_ydata()
    assert np.allclose(x, np.clip((90 - y) / 2, 0, None))  # q_0 = (100 - 10 - q_1) / 2
    br1 = lines["firm 1's best response"]
    assert np.allclose(br1.get_ydata(), np.clip((80 - br1.get_xdata()) / 2, 0, None))
    point = [ln for lab, ln in lines.items() if lab.startswith("Nash equilibrium")][0]
    assert point.get_xdata()[0] == pytest.approx(100 / 3) and point.get_ydata()[0] == pytest.approx(70 / 3)
    path = lines["sequential best responses"]
    px, py = path.get_xdata(), path.get_ydata()
    # from (0, 0): firm 0 moves to 45 (horizontal step), then firm 1 to (80 - 45)/2 = 17.5 (vertical step)
    assert (px[:3].tolist(), py[:3].tolist()) == ([0, 45, 45], [0, 0, 17.5])
    with pytest.raises(ValueError, match="two-firm Cournot equilibrium"):
        plots.plot_best_responses(tc.cournot_equilibrium(100, 1, [10, 10, 10]))


def test_plot_competition_plots_the_curves():
    t = tc.competition_curve(100, 1, 10, n_max=5)
    ax = plots.plot_competition(t, current=3)
    lines = {ln.get_label(): ln for ln in ax.get_lines() + ax.right_axis.get_lines()}
    assert np.allclose(lines["price"].get_ydata(), (100 + 10 * np.arange(1, 6)) / np.arange(2, 7))
    assert np.allclose(lines["HHI / 10,000"].get_ydata(), 1 / np.arange(1, 6))
    assert np.allclose(lines["marginal cost (lowest)"].get_ydata(), 10)
    assert np.allclose(lines["Lerner index (share-weighted)"].get_ydata(), 90 / (100 + 10 * np.arange(1, 6)))


def test_plot_withholding_marks_the_best_offer():
    w = tc.withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    ax = plots.plot_withholding(w)
    star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"][0]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (25, 625)
    (span,) = [p for p in ax.patches if p.get_label() == "line congested"]
    assert span.get_x() + span.get_width() == pytest.approx(40, abs=0.5)  # congested below D0 - F = 40
    table = pd.DataFrame({"offer_kw": [0, 1, 2], "profit": [0, 3, 1]})
    star = [ln for ln in plots.plot_withholding(table).get_lines() if ln.get_marker() == "*"][0]
    assert star.get_xdata()[0] == 1


def test_plot_allocations_draws_one_bar_group_per_rule():
    alloc = {r: tc.fair_allocation(*LINE, weights=[2, 1, 1], rule=r) for r in tc.fairness.RULES}
    ax = plots.plot_allocations(alloc)
    assert isinstance(ax, Axes) and len(ax.containers) == 3
    for container, a in zip(ax.containers, alloc.values()):
        assert [b.get_height() for b in container] == pytest.approx(a.x.tolist())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["utilitarian", "max-min", "proportional"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    ax = plots.plot_allocations(list(alloc.values()), quantity="utilities", ax=plots.new_axes(pyplot=False))
    assert [b.get_height() for b in ax.containers[0]] == pytest.approx(alloc["utilitarian"].utilities.tolist())
    assert ax.get_ylabel() == "utility w x"
    with pytest.raises(ValueError, match="`quantity` must be 'x' or 'utilities'"):
        plots.plot_allocations(alloc, quantity="u")
    with pytest.raises(ValueError, match="`allocations` is empty"):
        plots.plot_allocations([])
    with pytest.raises(ValueError, match="other agents"):
        plots.plot_allocations([alloc["max_min"], tc.fair_allocation(*ONE_UNIT, rule="max_min")])
