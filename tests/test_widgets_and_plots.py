"""Plots return Axes with the right data; widgets are built headless and driven."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import te_course as tc
from te_course import plots, widgets

SEED_BIDS, SEED_ASKS = [12, 10, 8], [5, 7, 9]


def test_supply_demand_curves_are_sorted_cumulative_steps():
    r = tc.clear_double_auction([8, 12, 10], [(9, 2), (5, 1), (7, 0.5)])
    c = plots.supply_demand_curves(r)
    assert np.array_equal(c["demand_p"], [12, 10, 8]) and np.array_equal(c["demand_q"], [0, 1, 2, 3])
    assert np.array_equal(c["supply_p"], [5, 7, 9]) and np.array_equal(c["supply_q"], [0, 1, 1.5, 3.5])


def test_plot_double_auction_draws_curves_point_and_welfare_area():
    r = tc.clear_double_auction(SEED_BIDS, SEED_ASKS)
    ax = plots.plot_double_auction(r)
    assert isinstance(ax, Axes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "demand (bids)" in labels and "supply (asks)" in labels
    assert "price interval [8, 9]" in labels and "clearing: 2 kWh at 8.5" in labels
    # the shaded welfare area equals the welfare: integrate the polygon's area
    (poly,) = ax.collections
    verts = poly.get_paths()[0].vertices
    x, y = verts[:, 0], verts[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area == pytest.approx(r.welfare)
    point = [ln for ln in ax.get_lines() if ln.get_marker() == "o"][0]
    assert point.get_xdata()[0] == 2 and point.get_ydata()[0] == 8.5


def test_plot_of_a_market_without_trade_says_so():
    ax = plots.plot_double_auction(tc.clear_double_auction([3], [9]))
    assert any("no trade" in t.get_text() for t in ax.texts)


def test_plot_draws_into_a_given_axes():
    ax0 = plots.new_axes()
    assert plots.plot_double_auction(tc.clear_double_auction(SEED_BIDS, SEED_ASKS), ax=ax0) is ax0


def test_parse_prices_accepts_commas_and_spaces_and_names_bad_entries():
    assert widgets.parse_prices(" 12,10  8;7 ", "bids") == [12, 10, 8, 7]
    with pytest.raises(ValueError, match=r"`asks`: entry 1 \('x'\) is not a number"):
        widgets.parse_prices("5, x", "asks")
    with pytest.raises(ValueError, match="`bids`: type at least one price"):
        widgets.parse_prices(" , ", "bids")


def test_auction_update_returns_result_axes_and_table():
    result, ax, table = widgets.auction_update(SEED_BIDS, SEED_ASKS, k=0.0)
    assert result.price == 8 and isinstance(ax, Axes)
    assert "[8, 9]" in table and "<table" in table


def test_auction_explorer_headless_reacts_to_every_control():
    app = widgets.auction_explorer()
    c, state = app.controls, app.state
    assert state["result"].price == 8.5 and state["error"] is None

    png = app.chart.value
    assert png[:4] == b"\x89PNG"
    c["k"].value = 1.0
    assert state["result"].price == 9.0
    assert app.chart.value[:4] == b"\x89PNG" and app.chart.value != png  # the chart was redrawn
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


def test_battery_explorer_resolves_on_every_slider_and_matches_schedule():
    day = tc.example_day()
    app = widgets.battery_explorer(day)
    c, state = app.controls, app.state
    first = state["schedule"]
    assert app.chart.value[:4] == b"\x89PNG" and "saving" in state["table"]
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
    c["use_ramp"].value = True
    c["ramp_kw"].value = 0.5
    net = state["schedule"].table["battery_charge_kw"] - state["schedule"].table["battery_discharge_kw"]
    assert np.abs(np.diff(np.r_[0.0, net])).max() <= 0.5 + 1e-6
    assert state["schedule"].cost >= first.cost - 1e-9  # a tighter limit never lowers the cost
    c["e_max_kwh"].value = 10.0
    assert state["error"] is None and state["schedule"].table["battery_soc_kwh"].max() <= 10 + 1e-6


def test_coordination_explorer_reports_divergence_without_raising():
    agents = tc.random_community(20, seed=2)
    app = widgets.coordination_explorer(agents)
    results = app.state["results"]
    central = results["centralized"].price
    assert results["price iteration"].price == pytest.approx(central, rel=1e-4)
    assert results["admm"].price == pytest.approx(central, rel=1e-4)
    app.controls["step"].value = 3 * (2 / agents.slope)
    assert isinstance(app.state["results"]["price iteration"], tc.ConvergenceError)
    assert "diverges" in app.state["table"]
    assert app.chart.value[:4] == b"\x89PNG"


def test_battery_explorer_stays_idle_below_the_breakeven_spread():
    """Prices alternate 0.20 / 0.22: a ratio of 1.1 is below 1 / 0.95**2 = 1.108, so no cycling pays."""
    day = pd.DataFrame({"buy_price": [0.20, 0.22] * 6, "sell_price": [0.20, 0.22] * 6, "base_load_kw": 1.0})
    app = widgets.battery_explorer(day)
    assert app.state["schedule"].table["battery_charge_kw"].sum() == pytest.approx(0, abs=1e-6)
    app.controls["eta"].value = 1.0  # lossless: now every 0.20 -> 0.22 pair pays
    assert app.state["schedule"].table["battery_charge_kw"].sum() > 1


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
    assert app.chart.value[:4] == b"\x89PNG"


def test_feeder_plot_puts_every_bus_on_a_tree_layout():
    f = tc.ieee33(tie_lines=True)
    pos = plots.tree_layout(f)
    assert set(pos) == set(f.buses.index)
    assert pos[18][0] == 17 and pos[1] == (0.0, 0.0)  # bus 18 is 17 lines from the substation
    ax = plots.plot_feeder(f, tc.ac_power_flow(tc.ieee33()).v_pu)
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 5  # the five open tie lines


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
    assert app.chart.value[:4] == b"\x89PNG" and "binding" in state["table"]


def test_plot_dlmp_stacks_components_to_the_total():
    r = tc.dlmp(tc.ieee33(), price_substation=0.05, v_min_pu=0.9)
    ax = plots.plot_dlmp(r)
    (dots,) = [ln for ln in ax.get_lines() if ln.get_marker() == "."]
    assert np.allclose(dots.get_ydata(), r.prices["total"].to_numpy())
    heights = np.zeros(len(r.prices))
    for bars in ax.containers:
        heights += np.array([b.get_height() for b in bars])
    assert np.allclose(heights, r.prices["total"].to_numpy())


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
    assert c["report"].value == 5.0 and app.chart.value[:4] == b"\x89PNG"
