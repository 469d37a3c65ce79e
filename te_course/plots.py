"""Plots, one function per result type.

Every function takes ``ax=None`` (a new pyplot figure is made when it is None,
so that a notebook shows it inline at the end of the cell) and returns the
``Axes``; none calls ``plt.show()``.  Widgets, which redraw often, draw on
figures made outside pyplot (``new_axes(pyplot=False)``) and show them as PNG
bytes (:func:`to_png`), so that no figure piles up in pyplot's global state.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .auction import ClearingResult

__all__ = [
    "new_axes", "to_png", "supply_demand_curves", "plot_double_auction", "plot_schedule", "plot_soc",
    "plot_aggregate_response", "plot_convergence", "tree_layout", "plot_feeder", "plot_voltage_profile",
    "plot_dlmp", "plot_misreport",
]

BUY_COLOR = "#1f77b4"
SELL_COLOR = "#d62728"
WELFARE_COLOR = "#2ca02c"


def new_axes(figsize=(6.4, 4.2), *, pyplot: bool = True) -> Axes:
    """Return the axes of a new figure.

    Parameters
    ----------
    figsize : tuple of float
        Width and height in inches.
    pyplot : bool
        ``True``: a pyplot figure, which a notebook displays inline.  ``False``:
        a figure outside pyplot's state, for widgets (render it with :func:`to_png`).
    """
    if pyplot:
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize, layout="constrained")[1]
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def to_png(fig: Figure, dpi: int = 96) -> bytes:
    r"""Render a figure to PNG bytes (for an ``ipywidgets.Image``).

    Examples
    --------
    >>> to_png(new_axes(pyplot=False).figure)[:4]
    b'\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def supply_demand_curves(result: ClearingResult):
    """Return the step curves of a cleared market.

    Returns
    -------
    dict
        ``demand_q``, ``demand_p``: cumulative quantity and price of the bids,
        best first; ``supply_q``, ``supply_p`` the same for the asks.  Each
        price ``p[i]`` holds on ``[q[i], q[i+1])`` (``q`` starts at 0 and is
        one longer than ``p``).

    Examples
    --------
    >>> from te_course import clear_double_auction
    >>> c = supply_demand_curves(clear_double_auction([12, 10, 8], [5, 7, 9]))
    >>> c["demand_q"], c["demand_p"]
    (array([0., 1., 2., 3.]), array([12., 10.,  8.]))
    """
    b = np.argsort(-result.bid_prices, kind="stable")
    a = np.argsort(result.ask_prices, kind="stable")
    return {
        "demand_q": np.concatenate(([0.0], np.cumsum(result.bid_quantities[b]))),
        "demand_p": result.bid_prices[b],
        "supply_q": np.concatenate(([0.0], np.cumsum(result.ask_quantities[a]))),
        "supply_p": result.ask_prices[a],
    }


def _step_value(q_edges, p, x):
    """Price of a step curve at the segments starting at ``x``."""
    i = np.searchsorted(q_edges, x, side="right") - 1
    return p[np.clip(i, 0, p.size - 1)]


def plot_double_auction(
    result: ClearingResult, ax: Axes | None = None, *, show_interval: bool = True, show_welfare: bool = True
) -> Axes:
    """Draw demand and supply step curves, the clearing point, interval and welfare.

    Parameters
    ----------
    result : ClearingResult
        From :func:`te_course.clear_double_auction` or
        :func:`te_course.welfare_max_clearing`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    show_interval : bool
        Mark the interval of clearing prices on the vertical line at the
        traded quantity.
    show_welfare : bool
        Shade the welfare: the area between the two curves up to the traded
        quantity.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from te_course import clear_double_auction
    >>> ax = plot_double_auction(clear_double_auction([12, 10, 8], [5, 7, 9]))
    >>> ax.get_xlabel()
    'quantity (kWh)'
    """
    if ax is None:
        ax = new_axes()
    c = supply_demand_curves(result)
    for q, p, color, label in (
        (c["demand_q"], c["demand_p"], BUY_COLOR, "demand (bids)"),
        (c["supply_q"], c["supply_p"], SELL_COLOR, "supply (asks)"),
    ):
        ax.step(q, np.append(p, p[-1]), where="post", color=color, lw=2, label=label)

    quantity = result.quantity
    if quantity > 0:
        if show_welfare:
            edges = np.union1d(c["demand_q"], c["supply_q"])
            edges = np.append(edges[edges < quantity], quantity)
            d = _step_value(c["demand_q"], c["demand_p"], edges)
            s = _step_value(c["supply_q"], c["supply_p"], edges)
            ax.fill_between(
                edges, s, d, step="post", color=WELFARE_COLOR, alpha=0.25,
                label=f"welfare = {result.welfare:g}",
            )
        lo, hi = result.price_interval
        if show_interval and hi > lo:
            ax.plot([quantity, quantity], [lo, hi], color="k", lw=6, alpha=0.3, solid_capstyle="butt",
                    label=f"price interval [{lo:g}, {hi:g}]")
        ax.axhline(result.price, color="k", ls=":", lw=1)
        ax.plot([quantity], [result.price], "ko", label=f"clearing: {quantity:g} kWh at {result.price:g}")
    else:
        ax.text(0.5, 0.95, "no trade: the best bid is below the best ask", transform=ax.transAxes,
                ha="center", va="top")
    ax.set_xlabel("quantity (kWh)")
    ax.set_ylabel("price (per kWh)")
    ax.set_xlim(left=0)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return ax


# --------------------------------------------------------------------------- chapter 2: schedules


def _soc_columns(table) -> list[str]:
    return [c for c in table.columns if c.endswith("_soc_kwh") and f"{c[:-8]}_charge_kw" in table.columns]


def plot_schedule(schedule, ax: Axes | None = None, *, show_price: bool = True) -> Axes:
    """Draw a prosumer's schedule: grid exchange, battery power, PV and load, and the price.

    Bars show what the battery does in each step (charging up, discharging
    down); lines show the base load, PV output and the net grid import; the
    buy price is drawn on a second axis.

    Parameters
    ----------
    schedule : te_course.prosumer.Schedule
    ax : matplotlib.axes.Axes, optional
    show_price : bool
        Draw the buy (and sell) price on a twin axis.

    Returns
    -------
    matplotlib.axes.Axes
        The power axes (the price axes is ``ax.price_axes`` when drawn).

    Examples
    --------
    >>> from te_course import Battery, Prosumer, schedule
    >>> s = schedule(Prosumer([1.0, 1.0], [Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3])
    >>> plot_schedule(s).get_ylabel()
    'power (kW)'
    """
    if ax is None:
        ax = new_axes((7.5, 4.0))
    t = schedule.table
    steps = t.index.to_numpy()
    for col in _soc_columns(t):
        name = col[:-8]
        net = t[f"{name}_charge_kw"] - t[f"{name}_discharge_kw"]
        ax.bar(steps, net, width=0.8, alpha=0.5, label=f"{name}: charge (+) / discharge (-)")
    ax.step(steps, t["base_load_kw"], where="mid", color="k", lw=1.2, label="base load")
    for col in t.columns:
        if col.endswith("_curtailed_kw"):
            pv = col[: -len("_curtailed_kw")]
            ax.step(steps, t[f"{pv}_kw"], where="mid", color="#ff7f0e", lw=1.5, label=f"{pv} output")
    ax.step(steps, t["net_import_kw"], where="mid", color=BUY_COLOR, lw=2, label="net import from the grid")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"step ({schedule.dt_h:g} h each)")
    ax.set_ylabel("power (kW)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if show_price:
        pax = ax.twinx()
        pax.step(steps, t["buy_price"], where="mid", color=SELL_COLOR, ls="--", lw=1.2, label="buy price")
        if (t["sell_price"] != 0).any():
            pax.step(steps, t["sell_price"], where="mid", color=WELFARE_COLOR, ls="--", lw=1.2, label="sell price")
        pax.set_ylabel("price (per kWh)")
        h2, l2 = pax.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
        ax.price_axes = pax
    ax.legend(handles, labels, loc="upper left", fontsize="small")
    return ax


def plot_soc(schedule, ax: Axes | None = None) -> Axes:
    """Draw each battery's state of charge over the horizon (kWh, at the end of each step).

    Examples
    --------
    >>> from te_course import Battery, Prosumer, schedule
    >>> s = schedule(Prosumer([1.0, 1.0], [Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3])
    >>> [line.get_label() for line in plot_soc(s).get_lines()]
    ['battery']
    """
    if ax is None:
        ax = new_axes((7.5, 2.8))
    t = schedule.table
    for col in _soc_columns(t):
        ax.plot(t.index.to_numpy(), t[col], marker="o", ms=3, label=col[:-8])
    ax.set_xlabel(f"step ({schedule.dt_h:g} h each)")
    ax.set_ylabel("state of charge (kWh)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return ax


# --------------------------------------------------------------------------- chapter 3: coordination


def plot_aggregate_response(agents, price: float | None = None, ax: Axes | None = None) -> Axes:
    """Draw the community's supply and demand as functions of the broadcast price.

    Supply is the sum of the agents' positive best responses, demand the sum of
    the negative ones (as a positive number); they cross at the balancing price.

    Examples
    --------
    >>> from te_course import random_community
    >>> plot_aggregate_response(random_community(20, seed=1)).get_xlabel()
    'power (kW)'
    """
    if ax is None:
        ax = new_axes()
    lo = float(np.min(agents.a * agents.p_min_kw + agents.b))
    hi = float(np.max(agents.a * agents.p_max_kw + agents.b))
    prices = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 400)
    responses = np.array([agents.best_response(p) for p in prices])
    supply = np.clip(responses, 0, None).sum(axis=1)
    demand = -np.clip(responses, None, 0).sum(axis=1)
    ax.plot(supply, prices, color=SELL_COLOR, lw=2, label="supply (sellers)")
    ax.plot(demand, prices, color=BUY_COLOR, lw=2, label="demand (buyers)")
    if price is not None:
        q = float(np.clip(agents.best_response(price), 0, None).sum())
        ax.plot([q], [price], "ko", label=f"balance: {q:.3g} kW at {price:.4g}")
        ax.axhline(price, color="k", ls=":", lw=1)
    ax.set_xlabel("power (kW)")
    ax.set_ylabel("price (per kWh)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_convergence(histories, ax: Axes | None = None, *, column: str = "imbalance_kw") -> Axes:
    """Draw how fast iterative methods balance the community (log scale).

    Parameters
    ----------
    histories : dict of str to DataFrame or result
        Label to a ``history`` DataFrame (or any object with a ``history``).
    ax : matplotlib.axes.Axes, optional
    column : str
        The history column to draw, as an absolute value.

    Examples
    --------
    >>> import pandas as pd
    >>> h = pd.DataFrame({"iteration": [1, 2, 3], "imbalance_kw": [1.0, 0.1, 0.01]})
    >>> plot_convergence({"price iteration": h}).get_yscale()
    'log'
    """
    if ax is None:
        ax = new_axes()
    for label, h in histories.items():
        h = getattr(h, "history", h)
        if h is None or len(h) == 0:
            continue
        values = np.abs(h[column].to_numpy(dtype=float))
        ax.plot(h["iteration"].to_numpy(), np.maximum(values, 1e-16), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"|{column}|")
    ax.grid(alpha=0.3, which="both")
    if ax.get_lines():
        ax.legend(loc="best", fontsize="small")
    return ax


# --------------------------------------------------------------------------- chapter 4: power flow


def tree_layout(feeder) -> dict:
    """Positions for drawing a radial feeder: depth from the substation across, branches stacked.

    Each bus sits at ``x`` = its number of lines from the substation and ``y``
    = the mean height of the leaves below it (leaves are spaced by one, in
    depth-first order), so laterals fan out from the main feeder without
    crossings.  Meshed parts are drawn along a spanning tree.

    Examples
    --------
    >>> from te_course import ieee33
    >>> pos = tree_layout(ieee33())
    >>> pos[1], pos[2][0]
    ((0.0, 0.0), 1.0)
    """
    import networkx as nx

    tree = nx.bfs_tree(feeder.graph, feeder.substation)
    pos: dict = {}
    next_leaf = [0.0]

    def place(node, depth):
        children = list(tree.successors(node))
        if not children:
            y = next_leaf[0]
            next_leaf[0] += 1.0
        else:
            y = float(np.mean([place(c, depth + 1) for c in children]))
        pos[node] = (float(depth), y)
        return y

    place(feeder.substation, 0)
    shift = pos[feeder.substation][1]
    return {bus: (x, shift - y) for bus, (x, y) in pos.items()}


def plot_feeder(feeder, values=None, ax: Axes | None = None, *, label: str = "voltage (p.u.)",
                cmap: str = "viridis", vmin=None, vmax=None, show_labels: bool = True) -> Axes:
    """Draw a feeder as a tree, buses coloured by ``values`` (for example ``result.v_pu``).

    Parameters
    ----------
    feeder : te_course.feeders.Feeder
    values : pandas.Series, optional
        One value per bus label; buses are drawn grey without it.
    ax : matplotlib.axes.Axes, optional
    label : str
        The colour bar's label.
    cmap, vmin, vmax
        Colour map and its range.
    show_labels : bool
        Write the bus labels (small feeders only).

    Examples
    --------
    >>> from te_course import ieee33, ac_power_flow
    >>> ax = plot_feeder(ieee33(), ac_power_flow(ieee33()).v_pu)
    >>> len(ax.collections) >= 1
    True
    """
    if ax is None:
        ax = new_axes((8, 4.5))
    pos = tree_layout(feeder)
    lines = feeder.lines
    for _, line in lines.iterrows():
        (x0, y0), (x1, y1) = pos.get(line.from_bus, (np.nan, np.nan)), pos.get(line.to_bus, (np.nan, np.nan))
        style = dict(color="grey", lw=1.5) if line.in_service else dict(color="tab:red", lw=1, ls=":")
        ax.plot([x0, x1], [y0, y1], zorder=1, **style)
    buses = [b for b in feeder.buses.index if b in pos]
    xy = np.array([pos[b] for b in buses])
    if values is not None:
        c = np.asarray(values.reindex(buses), dtype=float)
        points = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap=cmap, vmin=vmin, vmax=vmax, s=60, zorder=2,
                            edgecolors="k", linewidths=0.5)
        ax.figure.colorbar(points, ax=ax, label=label, shrink=0.8)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], color="lightgrey", s=60, zorder=2, edgecolors="k", linewidths=0.5)
    if show_labels and len(buses) <= 60:
        for b, (x, y) in zip(buses, xy):
            ax.annotate(str(b), (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    sub = pos[feeder.substation]
    ax.plot(*sub, marker="s", color="k", ms=9, zorder=3, label="substation")
    ax.set_xlabel("lines from the substation")
    ax.set_yticks([])
    ax.set_title(feeder.name)
    return ax


def plot_voltage_profile(results, ax: Axes | None = None, *, v_min_pu: float = 0.95,
                         v_max_pu: float = 1.05) -> Axes:
    """Draw bus voltages of one or more power-flow results, with the limits.

    Parameters
    ----------
    results : dict of str to PowerFlowResult
        Label to result (for example ``{"AC": ..., "LinDistFlow": ...}``).
    ax : matplotlib.axes.Axes, optional
    v_min_pu, v_max_pu : float
        Limits drawn as dashed lines.

    Examples
    --------
    >>> from te_course import ieee33, ac_power_flow
    >>> plot_voltage_profile({"AC": ac_power_flow(ieee33())}).get_ylabel()
    'voltage (p.u.)'
    """
    if ax is None:
        ax = new_axes((8, 3.5))
    for (label, r), marker in zip(results.items(), "os^dv"):
        ax.plot(range(len(r.v_pu)), r.v_pu.to_numpy(), marker=marker, ms=4, lw=1, label=label)
        labels = [str(b) for b in r.v_pu.index]
    for v in (v_min_pu, v_max_pu):
        ax.axhline(v, color="tab:red", ls="--", lw=1)
    step = max(1, len(labels) // 33)
    ax.set_xticks(range(0, len(labels), step), labels[::step], fontsize=7)
    ax.set_xlabel("bus")
    ax.set_ylabel("voltage (p.u.)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


# --------------------------------------------------------------------------- chapter 5: DLMPs

COMPONENT_COLORS = {"energy": "#9e9e9e", "loss": "#ff7f0e", "congestion": "#d62728", "voltage": "#1f77b4"}


def plot_dlmp(result, ax: Axes | None = None) -> Axes:
    """Draw each bus's DLMP as stacked bars of its four components, with the total as a dot.

    Positive components stack upwards from zero and negative ones downwards,
    so the bars show exactly what adds up to the total.

    Examples
    --------
    >>> from te_course import ieee33, dlmp
    >>> ax = plot_dlmp(dlmp(ieee33(), price_substation=0.05, v_min_pu=0.9))
    >>> ax.get_ylabel()
    'price (per kWh)'
    """
    if ax is None:
        ax = new_axes((9, 3.8))
    prices = result.prices
    x = np.arange(len(prices))
    up, down = np.zeros(len(x)), np.zeros(len(x))
    for name, color in COMPONENT_COLORS.items():
        values = prices[name].to_numpy(dtype=float)
        pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
        ax.bar(x, pos, bottom=up, color=color, width=0.8, label=name)
        ax.bar(x, neg, bottom=down, color=color, width=0.8)
        up, down = up + pos, down + neg
    ax.plot(x, prices["total"].to_numpy(), "k.", ms=6, label="total")
    ax.set_xticks(x, [str(b) for b in prices.index], fontsize=7)
    ax.set_xlabel("bus")
    ax.set_ylabel("price (per kWh)")
    ax.grid(alpha=0.3, axis="y")
    ax.margins(y=0.25)  # room for the legend above the bars
    ax.legend(loc="upper left", fontsize="small", ncols=5)
    return ax


# --------------------------------------------------------------------------- chapter 6: mechanisms


def plot_misreport(reports, utilities, truthful: float, *, current: float | None = None, ax: Axes | None = None,
                   label: str = "utility") -> Axes:
    """Draw one trader's utility as a function of its report, with the truthful report marked.

    Examples
    --------
    >>> ax = plot_misreport([8, 9, 10], [2.0, 1.5, 1.5], truthful=10)
    >>> ax.get_xlabel()
    'reported price'
    """
    if ax is None:
        ax = new_axes((6.4, 3.6))
    reports, utilities = np.asarray(reports, dtype=float), np.asarray(utilities, dtype=float)
    ax.plot(reports, utilities, color=BUY_COLOR, lw=2, label=label)
    truth_u = np.interp(truthful, reports, utilities)
    ax.axvline(truthful, color=WELFARE_COLOR, ls="--", lw=1.5, label=f"truthful report {truthful:g}")
    ax.axhline(truth_u, color=WELFARE_COLOR, ls=":", lw=1)
    if current is not None:
        ax.plot([current], [np.interp(current, reports, utilities)], "ko", label=f"report {current:g}")
    ax.set_xlabel("reported price")
    ax.set_ylabel("utility (true value)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax
