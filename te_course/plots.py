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
    "new_axes", "to_png", "clear_axes", "supply_demand_curves", "plot_double_auction", "plot_schedule", "plot_soc",
    "plot_aggregate_response", "plot_convergence", "tree_layout", "plot_feeder", "plot_voltage_profile",
    "plot_dlmp", "plot_misreport",
    "plot_best_responses", "plot_competition", "plot_withholding",
    "plot_allocations",
    "plot_price_heatmap", "plot_voltage_envelope", "plot_day_profiles",
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


def supply_demand_curves(result: ClearingResult) -> dict:
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


def _step_value(q_edges, p, x) -> np.ndarray:
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


def _on_axes(lines) -> bool:
    """Whether every line of an earlier drawing is still on its axes, and those axes on their figure."""
    return all(line.axes is not None and line in line.axes.lines and line.axes.figure is not None
               and line.axes in line.axes.figure.axes for line in lines)


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

    Called again on axes that show a schedule of the same devices and steps (an explorer's),
    it moves the bars and lines to the new schedule instead of drawing them anew; otherwise
    it replaces the drawing.
    """
    if ax is None:
        ax = new_axes((7.5, 4.0))
    t = schedule.table
    steps = t.index.to_numpy()
    key = (tuple(t.columns), tuple(steps), show_price, bool((t["sell_price"] != 0).any()), schedule.dt_h)
    drawn = getattr(ax, "_te_schedule", None)
    if drawn is not None and _on_axes([line for line, _ in drawn["lines"]]):
        if drawn["key"] == key and all(r in ax.patches for bars, _ in drawn["bars"] for r in bars):
            _move_schedule(ax, drawn, t)
            return ax
        old = vars(ax).pop("price_axes", None)  # another schedule: replace the drawing, with its price axes
        if old is not None and old in ax.figure.axes:
            old.remove()
        ax.clear()
    bars, lines = [], []
    for col in _soc_columns(t):
        name = col[:-8]
        bars.append((ax.bar(steps, _net_battery(t, name), width=0.8, alpha=0.5,
                            label=f"{name}: charge (+) / discharge (-)"), name))
    lines += [(*ax.step(steps, t["base_load_kw"], where="mid", color="k", lw=1.2, label="base load"),
               "base_load_kw")]
    for col in t.columns:
        if col.endswith("_curtailed_kw"):
            pv = col[: -len("_curtailed_kw")]
            lines += [(*ax.step(steps, t[f"{pv}_kw"], where="mid", color="#ff7f0e", lw=1.5, label=f"{pv} output"),
                       f"{pv}_kw")]
    lines += [(*ax.step(steps, t["net_import_kw"], where="mid", color=BUY_COLOR, lw=2,
                        label="net import from the grid"), "net_import_kw")]
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"step ({schedule.dt_h:g} h each)")
    ax.set_ylabel("power (kW)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if show_price:
        pax = ax.twinx()
        lines += [(*pax.step(steps, t["buy_price"], where="mid", color=SELL_COLOR, ls="--", lw=1.2,
                             label="buy price"), "buy_price")]
        if (t["sell_price"] != 0).any():
            lines += [(*pax.step(steps, t["sell_price"], where="mid", color=WELFARE_COLOR, ls="--", lw=1.2,
                                 label="sell price"), "sell_price")]
        pax.set_ylabel("price (per kWh)")
        h2, l2 = pax.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
        ax.price_axes = pax
    ax.legend(handles, labels, loc="upper left", fontsize="small")
    ax._te_schedule = {"key": key, "bars": bars, "lines": lines}
    return ax


def _net_battery(table, name: str) -> np.ndarray:
    """Return a battery's charging minus its discharging, kW per step."""
    return (table[f"{name}_charge_kw"] - table[f"{name}_discharge_kw"]).to_numpy()


def _move_schedule(ax: Axes, drawn: dict, table) -> None:
    """Move :func:`plot_schedule`'s bars and lines to a new schedule table, and rescale both axes."""
    for bars, name in drawn["bars"]:
        for rect, height in zip(bars, _net_battery(table, name)):
            rect.set_height(height)
    for line, column in drawn["lines"]:
        line.set_ydata(table[column].to_numpy())
    for axes in {line.axes for line, _ in drawn["lines"]} | {ax}:
        axes.relim()
        axes.autoscale_view()


def plot_soc(schedule, ax: Axes | None = None, *, capacity_kwh: float | None = None) -> Axes:
    """Draw each battery's state of charge over the horizon (kWh, at the end of each step).

    Parameters
    ----------
    schedule : te_course.prosumer.Schedule
    ax : matplotlib.axes.Axes, optional
    capacity_kwh : float, optional
        A dotted line at this energy (the battery's capacity).

    Examples
    --------
    >>> from te_course import Battery, Prosumer, schedule
    >>> s = schedule(Prosumer([1.0, 1.0], [Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3])
    >>> [line.get_label() for line in plot_soc(s).get_lines()]
    ['battery']

    Called again on axes that show the same batteries over as many steps (an explorer's),
    it moves the lines instead of drawing them anew; otherwise it replaces the drawing.
    """
    if ax is None:
        ax = new_axes((7.5, 2.8))
    t = schedule.table
    columns = _soc_columns(t)
    key = (tuple(columns), tuple(t.index), schedule.dt_h, capacity_kwh is None)
    drawn = getattr(ax, "_te_soc", None)
    if drawn is not None and _on_axes(drawn["lines"]):
        if drawn["key"] == key:
            for line, col in zip(drawn["lines"], columns):
                line.set_ydata(t[col].to_numpy())
            if capacity_kwh is not None:
                drawn["lines"][-1].set_ydata([capacity_kwh, capacity_kwh])
            ax.set_autoscaley_on(True)  # set_ylim(bottom=0) below turned it off
            ax.relim()
            ax.autoscale_view()
            ax.set_ylim(bottom=0)
            return ax
        ax.clear()
    lines = []
    for col in columns:
        lines += ax.plot(t.index.to_numpy(), t[col], marker="o", ms=3, label=col[:-8])
    if capacity_kwh is not None:
        lines.append(ax.axhline(capacity_kwh, color="grey", ls=":", lw=1))
    ax._te_soc = {"key": key, "lines": lines}
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

    def place(node, depth) -> None:
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


def clear_axes(ax: Axes) -> Axes:
    """Empty axes, with the colour bar that :func:`plot_feeder` added beside them.

    Examples
    --------
    >>> from te_course import ieee33, ac_power_flow
    >>> ax = plot_feeder(ieee33(), ac_power_flow(ieee33()).v_pu)
    >>> len(clear_axes(ax).figure.axes)
    1
    """
    drawn = getattr(ax, "_te_feeder", None)
    if drawn is not None and drawn["colorbar"] is not None and drawn["colorbar"].ax in ax.figure.axes:
        drawn["colorbar"].remove()
    ax._te_feeder = None
    ax.clear()
    return ax


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

    Drawn again on axes that show a map of the same feeder (an explorer's
    next setting), it recolours the buses instead of drawing the map anew;
    on axes that show another drawing of this function, it replaces it.
    """
    if ax is None:
        ax = new_axes((8, 4.5))
    lines = feeder.lines
    key = (tuple(feeder.buses.index), tuple(map(tuple, lines[["from_bus", "to_bus", "in_service"]].to_numpy())),
           feeder.name)
    drawn = getattr(ax, "_te_feeder", None)
    if drawn is not None:
        if (values is not None and drawn["key"] == key and drawn["colorbar"] is not None
                and drawn["points"] in ax.collections):
            c = np.asarray(values.reindex(drawn["buses"]), dtype=float)
            points = drawn["points"]
            points.set_array(c)
            points.set_cmap(cmap)
            points.set_clim(np.nanmin(c) if vmin is None else vmin, np.nanmax(c) if vmax is None else vmax)
            drawn["colorbar"].set_label(label)
            return ax
        clear_axes(ax)  # another feeder, or no values: drawn anew
    pos = tree_layout(feeder)
    for _, line in lines.iterrows():
        (x0, y0), (x1, y1) = pos.get(line.from_bus, (np.nan, np.nan)), pos.get(line.to_bus, (np.nan, np.nan))
        style = dict(color="grey", lw=1.5) if line.in_service else dict(color="tab:red", lw=1, ls=":")
        ax.plot([x0, x1], [y0, y1], zorder=1, **style)
    buses = [b for b in feeder.buses.index if b in pos]
    xy = np.array([pos[b] for b in buses])
    colorbar = None
    if values is not None:
        c = np.asarray(values.reindex(buses), dtype=float)
        points = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap=cmap, vmin=vmin, vmax=vmax, s=60, zorder=2,
                            edgecolors="k", linewidths=0.5)
        colorbar = ax.figure.colorbar(points, ax=ax, label=label, shrink=0.8)
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], color="lightgrey", s=60, zorder=2, edgecolors="k", linewidths=0.5)
    ax._te_feeder = {"key": key, "buses": buses, "points": points, "colorbar": colorbar}
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

    Drawn again on axes that show an earlier voltage profile, it replaces it:
    for the same results' labels and buses (an explorer's next setting) it
    moves the lines instead of drawing them anew.

    Examples
    --------
    >>> from te_course import ieee33, ac_power_flow
    >>> plot_voltage_profile({"AC": ac_power_flow(ieee33())}).get_ylabel()
    'voltage (p.u.)'
    """
    if not isinstance(results, dict) or not results:
        raise ValueError(f"`results` must be a non-empty dict of label to PowerFlowResult; got {results!r}.")
    if ax is None:
        ax = new_axes((8, 3.5))
    key = [(label, tuple(r.v_pu.index)) for label, r in results.items()]
    drawn = getattr(ax, "_te_voltage_profile", None)
    if drawn is not None:
        if drawn["key"] == key and all(ln in ax.lines for ln in drawn["lines"] + drawn["limits"]):
            for line, r in zip(drawn["lines"], results.values()):
                line.set_ydata(r.v_pu.to_numpy())
            for line, v in zip(drawn["limits"], (v_min_pu, v_max_pu)):
                line.set_ydata([v, v])
            ax.relim()
            ax.autoscale_view()
            return ax
        ax.clear()  # another profile: replace it
    lines = []
    for (label, r), marker in zip(results.items(), "os^dv"):
        lines += ax.plot(range(len(r.v_pu)), r.v_pu.to_numpy(), marker=marker, ms=4, lw=1, label=label)
        labels = [str(b) for b in r.v_pu.index]
    limits = [ax.axhline(v, color="tab:red", ls="--", lw=1) for v in (v_min_pu, v_max_pu)]
    ax._te_voltage_profile = {"key": key, "lines": lines, "limits": limits}
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
    so the bars show exactly what adds up to the total.  Called again on axes
    that already show this drawing for the same buses (an explorer's), it moves
    the bars and dots to the new prices instead of drawing them anew; for other
    buses it replaces the drawing.

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
    drawn = getattr(ax, "_te_dlmp", None)
    if drawn is not None and drawn["index"].equals(prices.index) and all(c in ax.containers for c in drawn["bars"]):
        up, down = np.zeros(len(x)), np.zeros(len(x))
        levels = [up]  # every bar's bottom and top: the data limits relim() would find (it takes 60 ms here)
        bars = iter(drawn["bars"])
        for name in COMPONENT_COLORS:
            values = prices[name].to_numpy(dtype=float)
            for container, part, base in ((next(bars), np.clip(values, 0, None), up),
                                          (next(bars), np.clip(values, None, 0), down)):
                for rect, height, bottom in zip(container, part, base):
                    rect.set_y(bottom)
                    rect.set_height(height)
            up, down = up + np.clip(values, 0, None), down + np.clip(values, None, 0)
            levels += [up, down]
        total = prices["total"].to_numpy(dtype=float)
        drawn["dots"].set_ydata(total)
        y = np.concatenate([*levels, total])
        x_lo, x_hi = drawn["x_extent"]
        ax.ignore_existing_data_limits = True
        ax.update_datalim([(x_lo, y.min()), (x_hi, y.max())])
        ax.autoscale_view()
        return ax
    if drawn is not None:  # other buses, or bars already cleared away: drawn anew, like the other in-place plots
        ax.clear()
    up, down = np.zeros(len(x)), np.zeros(len(x))
    bars = []
    for name, color in COMPONENT_COLORS.items():
        values = prices[name].to_numpy(dtype=float)
        pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
        bars.append(ax.bar(x, pos, bottom=up, color=color, width=0.8, label=name))
        bars.append(ax.bar(x, neg, bottom=down, color=color, width=0.8))
        up, down = up + pos, down + neg
    (dots,) = ax.plot(x, prices["total"].to_numpy(), "k.", ms=6, label="total")
    x_extent = (bars[0][0].get_x(), bars[0][-1].get_x() + bars[0][-1].get_width()) if len(x) else (0.0, 0.0)
    ax._te_dlmp = {"index": prices.index.copy(), "bars": bars, "dots": dots, "x_extent": x_extent}
    ax.set_xticks(x, [str(b) for b in prices.index], fontsize=7)
    ax.tick_params(axis="x", length=0)  # the bars mark the buses; 33 tick marks cost more to draw than the bars
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


# --------------------------------------------------------------------------- chapter 7: strategic behaviour


def plot_best_responses(result, dynamics=None, ax: Axes | None = None) -> Axes:
    """Draw the two best-response lines of a Cournot duopoly, its equilibrium and a best-response path.

    Firm 0's best response is drawn as ``q_0 = BR_0(q_1)``, firm 1's as
    ``q_1 = BR_1(q_0)``; they cross at the Nash equilibrium.  A sequential
    path (``dynamics.order == "sequential"``) is drawn as a staircase, one
    move at a time; a simultaneous one jumps from round to round.

    Parameters
    ----------
    result : te_course.games.CournotResult
        A two-firm equilibrium.
    dynamics : te_course.games.DynamicsResult, optional
        Best-response dynamics of the same game (its first two columns).
    ax : matplotlib.axes.Axes, optional

    Examples
    --------
    >>> from te_course.games import cournot_equilibrium
    >>> ax = plot_best_responses(cournot_equilibrium(100, 1, [10, 10]))
    >>> ax.get_xlabel()
    'q_0: firm 0 (kW)'
    """
    from .games import cournot_best_responses

    if result.n_firms != 2:
        raise ValueError(f"`result` must be a two-firm Cournot equilibrium to draw in the plane; it has "
                         f"{result.n_firms} firms.")
    if ax is None:
        ax = new_axes((5.2, 4.6))
    br = cournot_best_responses(result.intercept, result.slope, result.marginal_costs,
                                capacities_kw=result.capacities_kw)
    top = float(np.max((result.intercept - result.marginal_costs) / result.slope))
    grid = np.linspace(0.0, max(top, 1e-9), 201)
    ax.plot([br[0]([0.0, q]) for q in grid], grid, color=BUY_COLOR, lw=2, label="firm 0's best response")
    ax.plot(grid, [br[1]([q, 0.0]) for q in grid], color=SELL_COLOR, lw=2, label="firm 1's best response")
    if dynamics is not None:
        path = dynamics.history.iloc[:, :2].to_numpy(dtype=float)
        if dynamics.order == "sequential":
            stairs = [path[0]]
            for prev, new in zip(path[:-1], path[1:]):
                stairs += [np.array([new[0], prev[1]]), new]
            path = np.array(stairs)
        ax.plot(path[:, 0], path[:, 1], color="0.4", lw=1, marker=".", ms=5, label=f"{dynamics.order} best responses")
    q0, q1 = result.quantities
    ax.plot([q0], [q1], "ko", ms=8, label=f"Nash equilibrium ({q0:.3g}, {q1:.3g})")
    ax.set_xlabel("q_0: firm 0 (kW)")
    ax.set_ylabel("q_1: firm 1 (kW)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_competition(table, *, current: int | None = None, ax: Axes | None = None) -> Axes:
    """Draw price, HHI and Lerner index against the number of competitors.

    The price (left axis) falls towards the lowest marginal cost (dashed);
    the HHI (as a fraction, HHI / 10,000) and the share-weighted Lerner index
    (right axis) fall towards 0.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`te_course.games.competition_curve`.
    current : int, optional
        A number of firms to mark with a vertical line.
    ax : matplotlib.axes.Axes, optional
        The price axes; the right axis is ``ax.right_axis``.

    Examples
    --------
    >>> from te_course.games import competition_curve
    >>> ax = plot_competition(competition_curve(100, 1, 10, n_max=5))
    >>> ax.right_axis.get_ylabel()
    'HHI / 10,000 and Lerner index'
    """
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        ax = new_axes((7, 3.8))
    n = table.index.to_numpy()
    right = ax.twinx()
    ax.right_axis = right
    ax.plot(n, table["price"], color=BUY_COLOR, marker="o", ms=4, lw=2, label="price")
    ax.plot(n, table["min_cost"], color=BUY_COLOR, ls="--", lw=1, label="marginal cost (lowest)")
    right.plot(n, table["hhi"] / 10_000, color=SELL_COLOR, marker="s", ms=4, lw=1.5, label="HHI / 10,000")
    right.plot(n, table["lerner"], color=WELFARE_COLOR, marker="^", ms=4, lw=1.5, label="Lerner index (share-weighted)")
    if current is not None:
        ax.axvline(current, color="0.3", ls=":", lw=1.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of competitors")
    ax.set_ylabel("price")
    right.set_ylabel("HHI / 10,000 and Lerner index")
    ax.set_ylim(bottom=0)
    right.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize="small")
    return ax


def plot_withholding(result, ax: Axes | None = None) -> Axes:
    """Draw a strategic prosumer's profit (and welfare) against the quantity it offers.

    Parameters
    ----------
    result : te_course.games.WithholdingResult or pandas.DataFrame
        A two-zone result (its ``curve`` is drawn with profit and welfare, the
        import-congested offers shaded, the profit-maximising and the full
        offer marked), or a table with ``offer_kw`` and ``profit`` columns,
        such as :func:`te_course.games.dlmp_withholding` returns (its best
        offer marked).
    ax : matplotlib.axes.Axes, optional

    Examples
    --------
    >>> from te_course.games import withholding
    >>> w = withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    >>> ax = plot_withholding(w)
    >>> ax.get_xlabel()
    'offered quantity (kW)'
    """
    if ax is None:
        ax = new_axes((6.4, 3.8))
    is_result = hasattr(result, "curve")  # a WithholdingResult, not a table
    table = result.curve if is_result else result
    q, profit = table["offer_kw"].to_numpy(dtype=float), table["profit"].to_numpy(dtype=float)
    ax.plot(q, profit, color=SELL_COLOR, lw=2, marker="." if len(q) < 60 else None, label="prosumer's profit")
    if "welfare" in table:
        ax.plot(q, table["welfare"].to_numpy(dtype=float), color=WELFARE_COLOR, lw=2, label="welfare")
    if "line" in table:
        congested = q[table["line"].to_numpy() == "import congested"]
        if congested.size:
            ax.axvspan(0, congested.max(), color="0.85", alpha=0.6, label="line congested")
    if is_result:
        best, full = result.offer_kw, result.capacity_kw
        ax.plot([best], [result.profit], "k*", ms=12, label=f"best offer {best:.3g} kW")
        ax.plot([full], [result.full_profit], "ks", ms=7, label=f"full offer {full:.3g} kW")
    else:
        i = int(np.argmax(profit))
        ax.plot([q[i]], [profit[i]], "k*", ms=12, label=f"best offer {q[i]:.3g} kW")
    ax.set_xlabel("offered quantity (kW)")
    ax.set_ylabel("per hour")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


# --------------------------------------------------------------------------- chapter 8: fairness

RULE_COLORS = {"utilitarian": "#1f77b4", "max_min": "#ff7f0e", "proportional": "#2ca02c"}


def plot_allocations(allocations, ax: Axes | None = None, *, quantity: str = "x") -> Axes:
    """Draw allocations as grouped bars: agents on the x axis, one bar per rule.

    Parameters
    ----------
    allocations : dict of str to Allocation, or sequence of Allocation
        From :func:`te_course.fairness.fair_allocation`, all of the same agents;
        a sequence is labelled by each allocation's rule.
    ax : matplotlib.axes.Axes, optional
    quantity : {"x", "utilities"}
        Draw the amounts or the utilities.

    Examples
    --------
    >>> from te_course.fairness import fair_allocation
    >>> rules = ("utilitarian", "max_min", "proportional")
    >>> ax = plot_allocations([fair_allocation([[1, 1]], [1], weights=[2, 1], rule=r) for r in rules])
    >>> [round(float(b.get_height()), 4) for b in ax.containers[1]]  # max-min
    [0.3333, 0.6667]
    """
    if quantity not in ("x", "utilities"):
        raise ValueError(f"`quantity` must be 'x' or 'utilities'; got {quantity!r}.")
    items = list(allocations.items()) if isinstance(allocations, dict) else [(a.rule, a) for a in allocations]
    if not items:
        raise ValueError("`allocations` is empty; give at least one allocation.")
    agents = items[0][1].x.index
    for label, a in items:
        if not a.x.index.equals(agents):
            raise ValueError(f"allocation {label!r} has other agents than {items[0][0]!r}; compare one problem.")
    if ax is None:
        ax = new_axes((6.4, 3.8))
    pos = np.arange(len(agents))
    width = 0.8 / len(items)
    for j, (label, a) in enumerate(items):
        values = getattr(a, quantity).to_numpy()
        ax.bar(pos + (j - (len(items) - 1) / 2) * width, values, width, label=label.replace("_", "-"),
               color=RULE_COLORS.get(a.rule, None))
    ax.set_xticks(pos, [str(agent) for agent in agents])
    ax.set_xlabel(str(agents.name or "agent"))
    ax.set_ylabel("amount x" if quantity == "x" else "utility w x")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="best", fontsize="small")
    return ax


# --------------------------------------------------------------------------- chapter 9: a day on the feeder


def plot_price_heatmap(prices, ax: Axes | None = None, *, label: str = "DLMP (per kWh)", cmap: str = "viridis") -> Axes:
    """Draw prices (or any steps x buses table) as a heatmap: buses down, hours across.

    Parameters
    ----------
    prices : pandas.DataFrame
        One row per step, one column per bus, e.g. ``DayResult.prices``.
    ax : matplotlib.axes.Axes, optional
    label : str
        The colour bar's label.
    cmap : str

    Examples
    --------
    >>> import pandas as pd
    >>> ax = plot_price_heatmap(pd.DataFrame([[0.1, 0.2], [0.3, 0.4]], columns=[1, 2]))
    >>> ax.images[0].get_array().shape  # buses x steps
    (2, 2)
    """
    if ax is None:
        ax = new_axes((8, 4.5))
    data = prices.to_numpy(dtype=float).T
    image = ax.imshow(data, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest")
    buses = [str(b) for b in prices.columns]
    step = max(1, len(buses) // 17)
    ax.set_yticks(range(0, len(buses), step), buses[::step], fontsize=7)
    hours = list(prices.index)
    ax.set_xticks(range(0, len(hours), max(1, len(hours) // 12)), [str(h) for h in hours][::max(1, len(hours) // 12)])
    ax.set_xlabel("hour")
    ax.set_ylabel("bus")
    ax.figure.colorbar(image, ax=ax, label=label)
    return ax


def plot_voltage_envelope(cases, ax: Axes | None = None, *, v_min_pu: float | None = None,
                          v_max_pu: float | None = None) -> Axes:
    """Draw, for each case, the lowest and highest bus voltage of every hour as a band.

    Parameters
    ----------
    cases : dict of str to pandas.DataFrame
        Label to voltages (steps x buses), e.g. ``{"uncontrolled": flows.v_pu, ...}``.
    ax : matplotlib.axes.Axes, optional
    v_min_pu, v_max_pu : float, optional
        Limits drawn as dashed lines.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame([[1.0, 0.95], [1.0, 0.93]])
    >>> ax = plot_voltage_envelope({"case": v}, v_min_pu=0.94)
    >>> ax.get_lines()[0].get_ydata().tolist()  # the lowest voltage of each hour
    [0.95, 0.93]

    Called again on axes that show the same cases over as many hours (an explorer's), it
    moves the lines and bands to the new voltages instead of drawing them anew; otherwise it
    replaces the drawing.
    """
    if ax is None:
        ax = new_axes((7, 3.6))
    key = [(label, len(v)) for label, v in cases.items()] + [v_min_pu is None, v_max_pu is None]
    drawn = getattr(ax, "_te_voltage_envelope", None)
    if drawn is not None and _on_axes(drawn["lines"] + drawn["limits"]):
        if drawn["key"] == key and all(band in ax.collections for band in drawn["bands"]):
            _move_envelope(ax, drawn, cases, (v_min_pu, v_max_pu))
            return ax
        ax.clear()
    lines, bands, limits = [], [], []
    for label, v in cases.items():
        lo, hi = v.min(axis=1).to_numpy(), v.max(axis=1).to_numpy()
        x = np.arange(len(v))
        lines += ax.plot(x, lo, lw=1.8, label=f"{label}: lowest")
        bands.append(ax.fill_between(x, lo, hi, color=lines[-1].get_color(), alpha=0.15,
                                     label=f"{label}: range over buses"))
    for lim in (v_min_pu, v_max_pu):
        if lim is not None:
            limits.append(ax.axhline(lim, color="tab:red", ls="--", lw=1))
    ax._te_voltage_envelope = {"key": key, "lines": lines, "bands": bands, "limits": limits,
                               "artists": lines + bands + limits}
    ax.set_xlabel("hour")
    ax.set_ylabel("voltage (p.u.)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def _move_envelope(ax: Axes, drawn: dict, cases, limits) -> None:
    """Move :func:`plot_voltage_envelope`'s lines, bands and limits to new voltages, and rescale."""
    for k, (line, v) in enumerate(zip(drawn["lines"], cases.values())):
        lo, hi = v.min(axis=1).to_numpy(), v.max(axis=1).to_numpy()
        line.set_ydata(lo)
        band = drawn["bands"][k]
        if hasattr(band, "set_data"):  # matplotlib >= 3.10: the band keeps its artist
            band.set_data(np.arange(len(v)), lo, hi)
        else:
            new = ax.fill_between(np.arange(len(v)), lo, hi, color=band.get_facecolor(), label=band.get_label())
            band.remove()
            drawn["bands"][k] = new
            drawn["artists"] = drawn["lines"] + drawn["bands"] + drawn["limits"]
    for line, lim in zip(drawn["limits"], [lim for lim in limits if lim is not None]):
        line.set_ydata([lim, lim])
    ax.relim()
    ax.autoscale_view()


def plot_day_profiles(profiles, ax: Axes | None = None, *, ylabel: str = "kW", limit: float | None = None,
                      limit_label: str = "limit") -> Axes:
    """Draw one line per case over the hours of a day (substation power, peak loading, ...).

    Parameters
    ----------
    profiles : dict of str to array_like
        Label to one value per step.
    ax : matplotlib.axes.Axes, optional
    ylabel : str
    limit : float, optional
        A horizontal line (a rating, a limit).
    limit_label : str

    Examples
    --------
    >>> ax = plot_day_profiles({"a": [1, 2, 3]}, limit=2.5)
    >>> ax.get_lines()[0].get_ydata().tolist()
    [1.0, 2.0, 3.0]

    Called again on axes that show the same profiles over as many steps (an explorer's), it
    moves the lines to the new values instead of drawing them anew; otherwise it replaces
    the drawing.
    """
    if ax is None:
        ax = new_axes((7, 3.4))
    arrays = {label: np.asarray(values, dtype=float) for label, values in profiles.items()}
    key = [(label, y.size) for label, y in arrays.items()] + [limit is None, limit_label]
    drawn = getattr(ax, "_te_day_profiles", None)
    if drawn is not None and _on_axes(drawn["lines"]):
        if drawn["key"] == key:
            for line, y in zip(drawn["lines"], list(arrays.values()) + [np.array([limit, limit])]):
                line.set_ydata(y)
            ax.set_ylabel(ylabel)
            ax.relim()
            ax.autoscale_view()
            return ax
        ax.clear()
    lines = []
    for label, y in arrays.items():
        lines += ax.plot(np.arange(y.size), y, marker="o", ms=3, lw=1.5, label=label)
    if limit is not None:
        lines.append(ax.axhline(limit, color="tab:red", ls="--", lw=1, label=limit_label))
    ax._te_day_profiles = {"key": key, "lines": lines}
    ax.set_xlabel("hour")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax
