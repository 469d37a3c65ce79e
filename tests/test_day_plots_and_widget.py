"""Chapter 9 plots and the EV explorer: plotted data and a headless drive of the widget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from te_course import plots, widgets
from te_course.scheduling import ev_study


def test_price_heatmap_shows_buses_by_hours():
    prices = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=[7, 8])  # 3 hours, 2 buses
    ax = plots.plot_price_heatmap(prices, label="DLMP")
    image = ax.images[0].get_array()
    assert image.shape == (2, 3) and image[1, 2] == 5.0  # bus 8 at hour 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["7", "8"]


def test_voltage_envelope_draws_lowest_voltage_and_limit():
    v = pd.DataFrame([[1.0, 0.96, 0.97], [1.0, 0.91, 0.94]])
    ax = plots.plot_voltage_envelope({"a": v, "b": v + 0.01}, v_min_pu=0.92, v_max_pu=1.05)
    lines = ax.get_lines()
    assert np.allclose(lines[0].get_ydata(), [0.96, 0.91]) and np.allclose(lines[1].get_ydata(), [0.97, 0.92])
    assert sorted(ln.get_ydata()[0] for ln in lines[2:]) == [0.92, 1.05]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(1.0)


def test_day_profiles_one_line_per_case():
    ax = plots.plot_day_profiles({"x": [1, 2], "y": [3, 4]}, limit=2.5, limit_label="rating")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["x", "y", "rating"]


def test_ev_update_matches_the_study_and_draws_its_numbers():
    feeder, price, load = widgets._ev_day_defaults()
    study, (top, bottom), summary = widgets.ev_update(feeder, 0.3, 0.0, price_substation=price, load_profile=load)
    ref = ev_study(feeder, 0.3, 0.0, price_substation=price, load_profile=load)
    assert study.summary["peak_loading"] == pytest.approx(ref.summary["peak_loading"])
    assert np.allclose(top.get_lines()[0].get_ydata(), ref.ac.loading.max(axis=1))
    assert np.allclose(bottom.get_lines()[0].get_ydata(), ref.ac.v_pu.min(axis=1))
    assert f"{ref.summary['peak_loading']:.0%}" in summary and "kWh" in summary


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
