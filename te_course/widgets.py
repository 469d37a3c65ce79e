"""Interactive explorers: controls, then a plain update function.

Each ``*_explorer`` returns an ipywidgets container that a notebook displays.
The work is done by a module-level ``*_update`` function of explicit arguments
that calls the package and a plot function; the widget only wires controls to
it.  Tests call the update function directly, or build the explorer headless,
set ``.value`` on its controls and read what it produced from ``app.state``.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import ipywidgets as W
import numpy as np
import pandas as pd

from ._validation import ConvergenceError
from .auction import ClearingResult, clear_double_auction, random_orders
from .coordination import admm, centralized_dispatch, price_iteration, random_community
from .feeders import ieee33
from .opf import DLMPProblem
from .plots import (
    clear_axes,
    new_axes,
    plot_convergence,
    plot_dlmp,
    plot_double_auction,
    plot_feeder,
    plot_misreport,
    plot_schedule,
    plot_soc,
    plot_voltage_profile,
)
from .powerflow import ac_power_flow, lindistflow
from .prosumer import BatteryProblem, example_day

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .scheduling import EVStudy

_WIDE = {"description_width": "initial"}  # show slider labels in full


class _Canvas:
    """An explorer's figure: made by the first update, then cleared and drawn again in place.

    A slider move used to build a new figure, lay it out (constrained layout, about a third of
    the drawing time) and encode it at 96 dpi, wider than the page shows it.  Here the layout is
    computed once, on the first drawing, and kept: every later drawing puts each axes (and the
    colour bars and twin axes the plot functions add again) back where the first one had them.
    The figure keeps one Agg canvas at the resolution the page shows (``width_px`` wide), so
    matplotlib reuses its renderer and the text measurements it caches with it.
    """

    def __init__(self, width_px: int):
        self.width_px = width_px
        self.image = W.Image(format="png", layout=W.Layout(width=f"{width_px}px"))
        self.axes = None  # what the update function draws on: an Axes or a tuple of them; None before the first
        self._own: list = []  # those axes
        self._own_at: list = []  # and where the first layout put them
        self._extra_at: list = []  # where it put the axes the plot functions added (colour bars, twins)

    def clean(self, keep: tuple[int, ...] = ()) -> Axes | tuple[Axes, ...] | None:
        """Return the axes to draw on next (None the first time), emptied, without the axes added last time.

        ``keep``: positions of axes not to empty, whose plot function moves its artists in place
        (with every axes kept, the colour bars stay too: :func:`~te_course.plots.plot_feeder` recolours).
        """
        if self.axes is None:
            return None
        fig = self._own[0].figure
        if len(keep) < len(self._own):  # the colour bars and twins belong to axes drawn anew: drawn anew too
            for ax in list(fig.axes):
                if ax not in self._own:
                    ax.remove()
        for k, ax in enumerate(self._own):
            if k not in keep:
                ax.clear()
        return self.axes

    def render(self, axes) -> None:
        """Encode the figure ``axes`` belong to into the image, laying it out the first time only."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        own = list(axes) if isinstance(axes, (tuple, list)) else [axes]
        fig = own[0].figure
        if self.axes is None:
            self.axes, self._own = axes, own
            FigureCanvasAgg(fig)  # the figure's canvas from now on
            fig.set_dpi(self.width_px / fig.get_figwidth())
            fig.draw_without_rendering()  # the layout engine runs once, here
            fig.set_layout_engine("none")
            self._own_at = [ax.get_position() for ax in own]
            self._extra_at = [ax.get_position() for ax in fig.axes if ax not in own]
        else:
            for ax, at in zip(self._own, self._own_at):
                ax.set_position(at)
            extra = [ax for ax in fig.axes if ax not in self._own]
            if len(extra) == len(self._extra_at):
                for ax, at in zip(extra, self._extra_at):
                    ax.set_position(at)
        buffer = io.BytesIO()
        fig.canvas.print_png(buffer)
        self.image.value = buffer.getvalue()


def _wire(controls: dict, refresh) -> None:
    """Call ``refresh`` when a control changes: sliders and text boxes once released, not at every step.

    A dragged slider would otherwise queue a refresh for every value it passes through, and the
    chart would lag behind the hand by the whole queue.
    """
    for w in controls.values():
        if hasattr(w, "continuous_update"):
            w.continuous_update = False
        w.observe(refresh, names="value")

__all__ = [
    "parse_prices", "auction_update", "auction_explorer",
    "battery_update", "battery_explorer", "coordination_update", "coordination_explorer",
    "hosting_update", "hosting_explorer", "dlmp_update", "dlmp_explorer", "misreport_update",
    "misreport_explorer",
    "cournot_update", "cournot_explorer",
    "fairness_update", "fairness_explorer",
    "ev_update", "ev_explorer",
]


def parse_prices(text: str, name: str) -> list[float]:
    """Read prices typed as ``"12, 10, 8"`` (commas or spaces).

    Raises ``ValueError`` naming ``name`` and the entry that is not a number.

    Examples
    --------
    >>> parse_prices("12, 10 8", "bids")
    [12.0, 10.0, 8.0]
    """
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    if not parts:
        raise ValueError(f"`{name}`: type at least one price, for example 12, 10, 8.")
    values = []
    for i, part in enumerate(parts):
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(f"`{name}`: entry {i} ({part!r}) is not a number.") from None
    return values


def _table_html(result: ClearingResult) -> str:
    if result.quantity == 0:
        return "<b>No trade</b>: the highest bid is below the lowest ask."
    lo, hi = result.price_interval
    rows = {
        "quantity traded (kWh)": f"{result.quantity:g}",
        "price interval": f"[{lo:g}, {hi:g}]",
        f"price (k = {result.k:g})": f"{result.price:g}",
        "welfare": f"{result.welfare:g}",
    }
    frame = pd.DataFrame({"": list(rows.values())}, index=list(rows))
    return frame.to_html(header=False)


def auction_update(bids, asks, k: float = 0.5, ax=None) -> tuple:
    """Clear a market and draw it: what the auction explorer shows for given controls.

    Parameters
    ----------
    bids, asks : array_like or pandas.DataFrame
        As in :func:`te_course.clear_double_auction`.
    k : float
        The k-rule's k.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure outside pyplot.

    Returns
    -------
    result : ClearingResult
    ax : matplotlib.axes.Axes
    table : str
        An HTML summary (quantity, interval, price, welfare).

    Examples
    --------
    >>> result, ax, table = auction_update([12, 10, 8], [5, 7, 9], k=0.5)
    >>> result.price
    8.5
    """
    result = clear_double_auction(bids, asks, k=k)
    ax = plot_double_auction(result, ax=ax if ax is not None else new_axes(pyplot=False))
    return result, ax, _table_html(result)


def auction_explorer(bids="12, 10, 8", asks="5, 7, 9", *, k: float = 0.5) -> W.VBox:
    """Build a double-auction explorer: type orders or draw a random market, move k.

    Controls: a choice between typed and random orders; text boxes for typed
    bids and asks; the number of buyers and sellers, a seed and divisible
    quantities for random markets; the k of the k-rule.  The chart (supply and
    demand, clearing point, price interval, welfare) and a summary table update
    on every change.  Typing mistakes are shown in words, never as a traceback.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls`` (a dict of the control widgets), ``app.chart``
        (an ``ipywidgets.Image`` holding the figure as PNG) and ``app.state``
        (a dict holding the last ``result``, ``ax``, ``table`` and ``error``).
    """
    mode = W.ToggleButtons(options=["typed", "random"], value="typed", description="orders")
    bid_text = W.Text(value=str(bids), description="bids")
    ask_text = W.Text(value=str(asks), description="asks")
    n_buyers = W.IntSlider(value=8, min=1, max=40, description="buyers", style=_WIDE)
    n_sellers = W.IntSlider(value=8, min=1, max=40, description="sellers", style=_WIDE)
    seed = W.IntText(value=0, description="seed")
    divisible = W.Checkbox(value=False, description="divisible quantities")
    k_slider = W.FloatSlider(value=k, min=0.0, max=1.0, step=0.05, description="k", style=_WIDE)
    canvas = _Canvas(640)
    chart = canvas.image
    table = W.HTML()
    controls = {
        "mode": mode, "bids": bid_text, "asks": ask_text, "n_buyers": n_buyers,
        "n_sellers": n_sellers, "seed": seed, "divisible": divisible, "k": k_slider,
    }
    state: dict = {"result": None, "ax": None, "table": "", "error": None}

    def refresh(_change=None) -> None:
        typed = mode.value == "typed"
        for w in (bid_text, ask_text):
            w.layout.display = None if typed else "none"
        for w in (n_buyers, n_sellers, seed, divisible):
            w.layout.display = "none" if typed else None
        try:
            if typed:
                b, a = parse_prices(bid_text.value, "bids"), parse_prices(ask_text.value, "asks")
            else:
                b, a = random_orders(n_buyers.value, n_sellers.value, seed=seed.value, divisible=divisible.value)
            result, ax, summary = auction_update(b, a, k=k_slider.value, ax=canvas.clean())
        except (ValueError, TypeError) as exc:
            state.update(error=str(exc))
            table.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        state.update(result=result, ax=ax, table=summary, error=None)
        table.value = summary
        canvas.render(ax)

    _wire(controls, refresh)
    app = W.VBox([
        mode, W.HBox([bid_text, ask_text]), W.HBox([n_buyers, n_sellers]), W.HBox([seed, divisible]),
        k_slider, W.HBox([chart, table]),
    ])
    app.controls = controls
    app.chart = chart
    app.state = state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 2: battery


def _two_panel_figure() -> tuple:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    return top, bottom


def battery_update(problem: BatteryProblem, day, *, e_max_kwh, p_max_kw, eta, ramp_kw=None, axes=None) -> tuple:
    """Re-solve the battery arbitrage problem for one setting of the explorer's sliders.

    Parameters
    ----------
    problem : BatteryProblem
        Built once (cvxpy Parameters); re-solved here.
    day : pandas.DataFrame
        With ``buy_price``, ``sell_price`` and ``base_load_kw`` (see :func:`te_course.example_day`).
    e_max_kwh, p_max_kw : float
        Battery capacity and power.
    eta : float
        Charge and discharge efficiency (each way; the round trip is ``eta**2``).
    ramp_kw : float or None
        Ramp limit on the battery's net power, or None for none.
    axes : pair of matplotlib Axes, optional
        Where to draw the schedule and the state of charge (axes that already show this
        drawing have their bars and lines moved, not drawn anew).

    Returns
    -------
    schedule : te_course.prosumer.Schedule
    axes : tuple of matplotlib.axes.Axes
    summary : str
        HTML: cost without and with the battery, saving, energy cycled.

    Examples
    --------
    >>> from te_course import BatteryProblem, example_day
    >>> s, axes, summary = battery_update(BatteryProblem(24), example_day(), e_max_kwh=5, p_max_kw=2.5, eta=0.95)
    >>> s.cost < float((example_day().buy_price * example_day().base_load_kw).sum())
    True
    """
    top, bottom = axes if axes is not None else _two_panel_figure()
    buy, sell, base = day["buy_price"].to_numpy(), day["sell_price"].to_numpy(), day["base_load_kw"].to_numpy()
    sched = problem.solve(
        buy, sell, e_max_kwh=e_max_kwh, p_max_kw=p_max_kw, eta_charge=eta, eta_discharge=eta,
        ramp_kw=ramp_kw, base_load_kw=base,
    )
    plot_schedule(sched, ax=top)
    top.set_xlabel("")
    plot_soc(sched, ax=bottom, capacity_kwh=e_max_kwh)
    without = float(np.sum(buy * base) * problem.dt_h)
    charged = float(sched.table["battery_charge_kw"].sum() * problem.dt_h)
    rows = {
        "cost without battery": f"{without:.3f}",
        "cost with battery": f"{sched.cost:.3f}",
        "saving": f"{without - sched.cost:.3f}",
        "energy charged (kWh)": f"{charged:.2f}",
        "full cycles": f"{charged / e_max_kwh:.2f}",
        "round-trip efficiency": f"{eta * eta:.3f}",
    }
    summary = pd.DataFrame({"": list(rows.values())}, index=list(rows)).to_html(header=False)
    return sched, (top, bottom), summary


def battery_explorer(day=None) -> W.VBox:
    """Build a battery explorer: size, power, efficiency and ramp sliders against a day of prices.

    The arbitrage problem is built once with cvxpy Parameters and re-solved on
    every change (a few milliseconds), so the sliders stay responsive.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls``, ``app.chart`` (an Image with the figure as PNG)
        and ``app.state`` (the last ``schedule``, ``axes``, ``table``, ``error``).
    """
    day = example_day() if day is None else day
    problem = BatteryProblem(len(day))
    e_max = W.FloatSlider(value=5.0, min=0.5, max=20.0, step=0.5, description="capacity kWh", style=_WIDE)
    p_max = W.FloatSlider(value=2.5, min=0.5, max=10.0, step=0.5, description="power kW", style=_WIDE)
    eta = W.FloatSlider(value=0.95, min=0.5, max=1.0, step=0.01, description="efficiency", style=_WIDE)
    use_ramp = W.Checkbox(value=False, description="ramp limit")
    ramp = W.FloatSlider(value=1.0, min=0.1, max=10.0, step=0.1, description="ramp kW/step", style=_WIDE)
    canvas = _Canvas(640)
    chart = canvas.image
    table = W.HTML()
    controls = {"e_max_kwh": e_max, "p_max_kw": p_max, "eta": eta, "use_ramp": use_ramp, "ramp_kw": ramp}
    state: dict = {"schedule": None, "axes": None, "table": "", "error": None}

    def refresh(_change=None) -> None:
        ramp.disabled = not use_ramp.value
        try:
            sched, axes, summary = battery_update(
                problem, day, e_max_kwh=e_max.value, p_max_kw=p_max.value, eta=eta.value,
                ramp_kw=ramp.value if use_ramp.value else None, axes=canvas.clean(keep=(0, 1)),
            )
        except ValueError as exc:  # SolverError and input errors: show them in words
            state.update(error=str(exc))
            table.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        state.update(schedule=sched, axes=axes, table=summary, error=None)
        table.value = summary
        canvas.render(axes)

    _wire(controls, refresh)
    app = W.VBox([W.HBox([e_max, p_max, eta]), W.HBox([use_ramp, ramp]), W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 3: coordination


def coordination_update(agents, *, step, rho, max_iter=2000, ax=None) -> tuple:
    """Run price iteration and ADMM on a community and draw their convergence.

    A step that makes price iteration diverge is not an error here: its
    history up to the point where it was stopped is drawn and the summary says
    what happened.

    Returns
    -------
    results : dict
        ``"centralized"``, ``"price iteration"``, ``"admm"``: a result, or the
        ``ConvergenceError`` that stopped the method.
    ax : matplotlib.axes.Axes
    summary : str
        HTML table: iterations, price and outcome of each method.

    Examples
    --------
    >>> from te_course import random_community
    >>> results, ax, summary = coordination_update(random_community(20, seed=1), step=0.05, rho=0.5)
    >>> results["admm"].method, results["admm"].iterations > 0
    ('admm', True)
    """
    ax = ax if ax is not None else new_axes(pyplot=False)
    results: dict = {"centralized": centralized_dispatch(agents)}
    for label, run in (
        ("price iteration", lambda: price_iteration(agents, step=step, max_iter=max_iter)),
        ("admm", lambda: admm(agents, rho=rho, max_iter=max_iter)),
    ):
        try:
            results[label] = run()
        except ConvergenceError as exc:
            results[label] = exc
    plot_convergence({k: v.history for k, v in results.items() if k != "centralized"}, ax=ax)
    ax.set_title(f"step = {step:.3g}, rho = {rho:.3g} (safe from any start: below 2/S = {2 / agents.slope:.3g})")
    rows = []
    for label, r in results.items():
        if isinstance(r, ConvergenceError):
            rows.append((label, r.iterations, "-", str(r).split(". ")[0]))
        else:
            outcome = "exact (one solve)" if label == "centralized" else "converged"
            rows.append((label, r.iterations, f"{r.price:.6f}", outcome))
    summary = pd.DataFrame(rows, columns=["method", "iterations", "price", "outcome"]).to_html(index=False)
    return results, ax, summary


def coordination_explorer(agents=None) -> W.VBox:
    """Build a coordination explorer: step size and rho sliders, convergence curves of both methods.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls``, ``app.chart`` and ``app.state`` (the last
        ``results``, ``ax``, ``table``).
    """
    agents = random_community(50, seed=1) if agents is None else agents
    bound = 2.0 / agents.slope
    step = W.FloatLogSlider(value=bound / 4, base=10, min=np.log10(bound) - 3, max=np.log10(bound) + 0.5,
                            step=0.05, description="step", style=_WIDE, readout_format=".3g")
    rho0 = float(np.median(agents.a))  # ADMM is fastest with rho near the agents' typical curvature
    rho = W.FloatLogSlider(value=rho0, base=10, min=np.log10(rho0) - 2, max=np.log10(rho0) + 2, step=0.1,
                           description="rho", style=_WIDE, readout_format=".3g")
    canvas = _Canvas(640)
    chart = canvas.image
    table = W.HTML()
    controls = {"step": step, "rho": rho}
    state: dict = {"results": None, "ax": None, "table": ""}

    def refresh(_change=None) -> None:
        results, ax, summary = coordination_update(agents, step=step.value, rho=rho.value, ax=canvas.clean())
        state.update(results=results, ax=ax, table=summary)
        table.value = summary
        canvas.render(ax)

    _wire(controls, refresh)
    app = W.VBox([W.HBox([step, rho]), W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 4: power flow


def hosting_update(feeder, bus, pv_kw, *, v_max_pu=1.05, axes=None) -> tuple:
    """Add ``pv_kw`` of PV at ``bus`` and compare AC and LinDistFlow voltages.

    Returns
    -------
    results : dict
        ``"AC"`` and ``"LinDistFlow"``: a PowerFlowResult, or the error that
        stopped it.
    axes : tuple of matplotlib.axes.Axes
        The voltage profile and the feeder map (coloured by AC voltage).
    summary : str
        HTML: highest and lowest voltage of each model, losses, and whether
        ``v_max_pu`` is exceeded.

    Examples
    --------
    >>> from te_course import ieee33
    >>> results, axes, summary = hosting_update(ieee33(), 18, 1000.0)
    >>> round(float(results["AC"].v_pu[18]), 3) > round(float(ac_power_flow(ieee33()).v_pu[18]), 3)
    True
    """
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 7), layout="constrained")
        axes = fig.subplots(2, 1, height_ratios=[2, 3])
    profile_ax, map_ax = axes
    with_pv = feeder.with_injection(bus, pv_kw)
    results: dict = {}
    for label, model in (("AC", ac_power_flow), ("LinDistFlow", lindistflow)):
        try:
            results[label] = model(with_pv)
        except ValueError as exc:  # ConvergenceError included
            results[label] = exc
    solved = {k: r for k, r in results.items() if not isinstance(r, Exception)}
    if solved:
        plot_voltage_profile(solved, ax=profile_ax, v_max_pu=v_max_pu)
    else:  # neither model has an operating point: say so where the profile would be
        profile_ax.clear()
        profile_ax.text(0.5, 0.5, "no power flow solution: see the table", ha="center", va="center",
                        transform=profile_ax.transAxes)
    profile_ax.set_title(f"{pv_kw:g} kW of PV at bus {bus}")
    if "AC" in solved:
        plot_feeder(with_pv, solved["AC"].v_pu, ax=map_ax, vmin=0.9, vmax=1.1, cmap="coolwarm", show_labels=True)
    else:  # no AC voltages to colour the map with: no map, rather than an earlier setting's
        clear_axes(map_ax)
    rows = []
    for label, r in results.items():
        if isinstance(r, Exception):
            rows.append((label, "-", "-", "-", str(r).split(". ")[0]))
        else:
            over = "yes" if r.v_pu.max() > v_max_pu + 1e-12 else "no"
            rows.append((label, f"{r.v_pu.max():.4f}", f"{r.v_pu.min():.4f}", f"{r.total_loss_kw:.1f}", over))
    summary = pd.DataFrame(rows, columns=["model", "highest V", "lowest V", "losses kW", f"above {v_max_pu}"])
    return results, (profile_ax, map_ax), summary.to_html(index=False)


def hosting_explorer(feeder=None) -> W.VBox:
    """Build a PV hosting explorer: PV size and bus -> voltages under AC and LinDistFlow, and a feeder map.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls``, ``app.chart`` and ``app.state`` (the last
        ``results``, ``axes``, ``table``).
    """
    feeder = ieee33() if feeder is None else feeder
    buses = [b for b in feeder.buses.index if b != feeder.substation]
    bus = W.Dropdown(options=buses, value=buses[len(buses) // 2], description="PV at bus", style=_WIDE)
    size = W.FloatSlider(value=1000.0, min=0.0, max=6000.0, step=100.0, description="PV kW", style=_WIDE)
    canvas = _Canvas(640)
    chart = canvas.image
    table = W.HTML()
    controls = {"bus": bus, "pv_kw": size}
    state: dict = {"results": None, "axes": None, "table": ""}

    def refresh(_change=None) -> None:
        results, axes, summary = hosting_update(feeder, bus.value, size.value, axes=canvas.clean(keep=(0, 1)))
        state.update(results=results, axes=axes, table=summary)
        table.value = summary
        canvas.render(axes)

    _wire(controls, refresh)
    app = W.VBox([W.HBox([bus, size]), W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 5: DLMPs


def dlmp_update(problem: DLMPProblem, *, price_substation=0.05, load_scale=1.0, line=None, s_max_kva=None,
                v_min_pu=0.95, axes=None) -> tuple:
    """Re-solve a DLMP problem for one setting of the explorer and draw it.

    Parameters
    ----------
    problem : DLMPProblem
        Built once; re-solved here with new loads, line limit and voltage limit.
    price_substation : float
    load_scale : float
        Every load is multiplied by this.
    line : hashable, optional
        The label of the line whose limit ``s_max_kva`` sets (it must have a
        finite limit in the feeder the problem was built on).
    s_max_kva : float, optional
    v_min_pu : float
    axes : pair of matplotlib Axes, optional
        For the price bars and the feeder map.

    Returns
    -------
    result : DLMPResult, or the ValueError of an infeasible setting
    axes : tuple of matplotlib.axes.Axes
    summary : str
        HTML: cost, binding constraints, DER dispatch (or the error in words).

    Examples
    --------
    >>> from te_course import DLMPProblem, ieee33
    >>> result, axes, summary = dlmp_update(DLMPProblem(ieee33()), v_min_pu=0.9)
    >>> float(result.prices.loc[1, "total"])
    0.05
    """
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 7.5), layout="constrained")
        axes = fig.subplots(2, 1, height_ratios=[2, 3])
    bars_ax, map_ax = axes
    feeder = problem.feeder
    limits = None if line is None else {line: s_max_kva}
    try:
        result = problem.solve(price_substation=price_substation, v_min_pu=v_min_pu,
                               p_kw=feeder.buses.p_kw * load_scale, q_kvar=feeder.buses.q_kvar * load_scale,
                               s_max_kva=limits)
    except ValueError as exc:
        bars_ax.clear()  # bars or a map left from an earlier setting would read as this one's prices
        clear_axes(map_ax)
        bars_ax.text(0.5, 0.5, str(exc), transform=bars_ax.transAxes, ha="center", va="center", wrap=True)
        return exc, (bars_ax, map_ax), f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
    plot_dlmp(result, ax=bars_ax)
    bars_ax.set_title(f"DLMPs ({result.model}): loads x {load_scale:g}, v_min {v_min_pu:g} p.u.")
    plot_feeder(feeder, result.prices["total"], ax=map_ax, label="total DLMP (per kWh)", cmap="magma_r")
    binding = "<br>".join(result.binding) or "none"
    dispatch = ", ".join(f"{p:.0f}" for p in np.asarray(result.dispatch, dtype=float))
    summary = (f"<b>cost</b> {result.cost:.2f} per hour<br><b>binding</b><br>{binding}"
               f"<br><b>DER dispatch (kW)</b> {dispatch or '-'}")
    return result, (bars_ax, map_ax), summary


def dlmp_explorer(feeder=None, ders=None, *, line=None, model="socp") -> W.VBox:
    """Build a DLMP explorer: load level, one line's limit and v_min -> price components and a priced map.

    The OPF is built once with cvxpy Parameters and re-solved on every change.
    By default the feeder is IEEE 33 with its line 2-3 given a (loose) limit
    of 6,000 kVA that the slider tightens, and three DERs at buses 18, 25 and 33.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls``, ``app.chart`` and ``app.state`` (``result``,
        ``axes``, ``table``).
    """
    if feeder is None:
        feeder = ieee33()
        lines = feeder.lines
        line = lines.index[(lines.from_bus == 2) & (lines.to_bus == 3)][0]
        feeder.lines.loc[line, "s_max_kva"] = 6000.0
    if ders is None:
        ders = pd.DataFrame({"bus": [18, 33, 25], "p_max_kw": [1200.0, 1200.0, 800.0], "price": [0.08, 0.08, 0.10]})
    problem = DLMPProblem(feeder, ders=ders, model=model)
    load = W.FloatSlider(value=1.0, min=0.5, max=1.5, step=0.05, description="load level", style=_WIDE)
    limit = W.FloatSlider(value=6000.0, min=1500.0, max=6000.0, step=100.0, description=f"line {line} kVA",
                          style=_WIDE, disabled=line is None)
    v_min = W.FloatSlider(value=0.90, min=0.88, max=0.97, step=0.005, description="v_min p.u.", style=_WIDE,
                          readout_format=".3f")
    canvas = _Canvas(700)
    chart = canvas.image
    table = W.HTML()
    controls = {"load_scale": load, "s_max_kva": limit, "v_min_pu": v_min}
    state: dict = {"result": None, "axes": None, "table": ""}

    def refresh(_change=None) -> None:
        result, axes, summary = dlmp_update(problem, load_scale=load.value, line=line,
                                            s_max_kva=limit.value if line is not None else None,
                                            v_min_pu=v_min.value, axes=canvas.clean(keep=(0, 1)))
        state.update(result=result, axes=axes, table=summary)
        table.value = summary
        canvas.render(axes)

    _wire(controls, refresh)
    app = W.VBox([W.HBox([load, limit, v_min]), W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 6: mechanisms


def _utility_of(mechanism, values, costs, side, index, report) -> float:
    from .mechanisms import utilities

    values, costs = np.asarray(values, dtype=float), np.asarray(costs, dtype=float)
    reported_values, reported_costs = values.copy(), costs.copy()
    (reported_values if side == "buyer" else reported_costs)[index] = report
    buyer_u, seller_u = utilities(mechanism(reported_values, reported_costs), values, costs)
    return float((buyer_u if side == "buyer" else seller_u)[index])


def misreport_update(mechanism, values, costs, *, side, index, report, ax=None, n_points=401) -> tuple:
    """Compute a trader's utility against its report under ``mechanism``, everyone else truthful.

    Parameters
    ----------
    mechanism : callable
        ``mechanism(values, costs) -> Outcome`` (see :mod:`te_course.mechanisms`).
    values, costs : array_like
        True values of the buyers and true costs of the sellers.
    side : {"buyer", "seller"}
    index : int
        Which buyer or seller.
    report : float
        The report to mark.
    ax : matplotlib.axes.Axes, optional
    n_points : int
        Points of the curve, spread over the range of all prices (padded).

    Returns
    -------
    curve : pandas.DataFrame
        ``report`` and ``utility``.
    ax : matplotlib.axes.Axes
    summary : str
        HTML: truthful utility, utility at ``report``, the gain.

    Examples
    --------
    >>> from te_course.mechanisms import uniform_price
    >>> curve, ax, summary = misreport_update(uniform_price, [12, 10, 8], [5, 7, 9], side="buyer", index=1, report=8.5)
    >>> round(float(curve.utility.max()), 6) > 1.5  # shading the bid pays under a uniform price
    True
    """
    prices = np.concatenate([np.asarray(values, dtype=float), np.asarray(costs, dtype=float)])
    lo, hi = float(prices.min()), float(prices.max())
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    grid = np.unique(np.concatenate([np.linspace(lo - pad, hi + pad, n_points), prices, [report]]))
    util = [_utility_of(mechanism, values, costs, side, index, r) for r in grid]
    truth = float((values if side == "buyer" else costs)[index])
    ax = plot_misreport(grid, util, truth, current=report, ax=ax if ax is not None else new_axes(pyplot=False),
                        label=f"{side} {index}'s utility")
    ax.set_title(f"{getattr(mechanism, '__name__', 'mechanism')}: {side} {index} (true {truth:g})")
    u_truth = _utility_of(mechanism, values, costs, side, index, truth)
    u_report = _utility_of(mechanism, values, costs, side, index, report)
    summary = (f"truthful utility <b>{u_truth:.4g}</b><br>utility at report {report:g}: <b>{u_report:.4g}</b>"
               f"<br>gain from lying: <b>{u_report - u_truth:+.4g}</b>")
    return pd.DataFrame({"report": grid, "utility": util}), ax, summary


def misreport_explorer(values=(12.0, 10.0, 8.0), costs=(5.0, 7.0, 9.0)) -> W.VBox:
    """Build a misreport explorer: pick a mechanism and a trader, slide the trader's report.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls``, ``app.chart`` and ``app.state`` (``curve``, ``ax``, ``table``).
    """
    from . import mechanisms as M

    values, costs = np.asarray(values, dtype=float), np.asarray(costs, dtype=float)
    choices = {"uniform price (k = 0.5)": M.uniform_price, "VCG": M.vcg, "McAfee trade reduction": M.trade_reduction}
    if hasattr(M, "sbba"):
        choices["SBBA"] = M.sbba
    traders = [(f"buyer {i} (value {v:g})", ("buyer", i)) for i, v in enumerate(values)]
    traders += [(f"seller {j} (cost {c:g})", ("seller", j)) for j, c in enumerate(costs)]
    mechanism = W.Dropdown(options=list(choices), description="mechanism", style=_WIDE)
    trader = W.Dropdown(options=traders, value=traders[1][1], description="trader", style=_WIDE)
    lo, hi = float(min(values.min(), costs.min())), float(max(values.max(), costs.max()))
    report = W.FloatSlider(value=float(values[1]), min=lo - 1, max=hi + 1, step=0.05, description="report",
                           style=_WIDE)
    canvas = _Canvas(640)
    chart = canvas.image
    table = W.HTML()
    controls = {"mechanism": mechanism, "trader": trader, "report": report}
    state: dict = {"curve": None, "ax": None, "table": ""}

    def on_trader(_change=None) -> None:
        side, index = trader.value
        report.value = float((values if side == "buyer" else costs)[index])

    def refresh(_change=None) -> None:
        side, index = trader.value
        curve, ax, summary = misreport_update(choices[mechanism.value], values, costs, side=side, index=index,
                                              report=report.value, ax=canvas.clean())
        state.update(curve=curve, ax=ax, table=summary)
        table.value = summary
        canvas.render(ax)

    trader.observe(on_trader, names="value")
    _wire(controls, refresh)
    app = W.VBox([W.HBox([mechanism, trader]), report, W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 7: strategic behaviour


def cournot_update(n, *, intercept=100.0, slope=1.0, base_cost=10.0, cost_spread=0.0, n_max=20, ax=None) -> tuple:
    """Compute the Cournot equilibrium of ``n`` prosumers and chart price, HHI and Lerner index against n.

    The ``n`` marginal costs are spread evenly over ``[base_cost, base_cost +
    cost_spread]``, as in :func:`te_course.games.competition_curve`, whose
    curve for 1 to ``n_max`` firms is drawn with ``n`` marked.

    Parameters
    ----------
    n : int
        Number of competitors, 1 to ``n_max``.
    intercept, slope : float
        Inverse demand ``P = a - b Q``.
    base_cost, cost_spread : float
        The lowest marginal cost and the spread of the costs.
    n_max : int
        Largest number of firms on the chart.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    result : te_course.games.CournotResult
    ax : matplotlib.axes.Axes
    summary : str
        HTML: price, HHI with its 2023 band, share-weighted Lerner index, firms that produce.

    Examples
    --------
    >>> result, ax, summary = cournot_update(2)
    >>> result.price, result.hhi
    (40.0, 5000.0)
    """
    from .games import competition_curve, cournot_equilibrium
    from .market_power import concentration
    from .plots import plot_competition

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= n_max:
        raise ValueError(f"`n` must be an integer from 1 to n_max = {n_max}; got {n!r}.")
    result = cournot_equilibrium(intercept, slope, base_cost + cost_spread * np.linspace(0.0, 1.0, int(n)))
    curve = competition_curve(intercept, slope, base_cost, n_max=n_max, cost_spread=cost_spread)
    ax = plot_competition(curve, current=int(n), ax=ax if ax is not None else new_axes((7, 3.8), pyplot=False))
    ax.set_title(f"Cournot competition among {int(n)} prosumer(s)")
    row = curve.loc[int(n)]
    band = concentration(result.hhi) if np.isfinite(result.hhi) else "nothing is sold"
    summary = (
        f"price <b>{result.price:.4g}</b> (lowest marginal cost {base_cost:g})<br>"
        f"HHI <b>{result.hhi:,.0f}</b>: {band} (2023 guidelines)<br>"
        f"Lerner index (share-weighted) <b>{row['lerner']:.3f}</b><br>"
        f"firms that produce: <b>{int(result.active.sum())}</b> of {int(n)}"
    )
    return result, ax, summary


def cournot_explorer(n: int = 2, *, intercept: float = 100.0, slope: float = 1.0, base_cost: float = 10.0,
                     cost_spread: float = 0.0, n_max: int = 20) -> W.VBox:
    """Build a Cournot explorer: slide the number of competitors and their costs.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls`` (``n``, ``base_cost``, ``cost_spread``),
        ``app.chart`` and ``app.state`` (``result``, ``ax``, ``table``).
    """
    count = W.IntSlider(value=int(n), min=1, max=int(n_max), description="competitors", style=_WIDE)
    cost = W.FloatSlider(value=float(base_cost), min=0.0, max=0.9 * float(intercept), step=0.5,
                         description="lowest marginal cost", style=_WIDE)
    spread = W.FloatSlider(value=float(cost_spread), min=0.0, max=0.9 * float(intercept), step=0.5,
                           description="cost spread", style=_WIDE)
    canvas = _Canvas(660)
    chart = canvas.image
    table = W.HTML()
    controls = {"n": count, "base_cost": cost, "cost_spread": spread}
    state: dict = {"result": None, "ax": None, "table": ""}

    def refresh(_change=None) -> None:
        result, ax, summary = cournot_update(count.value, intercept=intercept, slope=slope, base_cost=cost.value,
                                             cost_spread=spread.value, n_max=int(n_max), ax=canvas.clean())
        state.update(result=result, ax=ax, table=summary)
        table.value = summary
        canvas.render(ax)

    _wire(controls, refresh)
    app = W.VBox([W.HBox([count, cost, spread]), W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 8: fairness


def _line_network() -> tuple:
    """Two unit links, a long flow over both and a short flow on each (Bertsekas and Gallager, section 6.5.2)."""
    return pd.DataFrame([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]], index=pd.Index(["link 1", "link 2"], name="resource"),
                        columns=pd.Index(["long", "short 1", "short 2"], name="agent"))


def fairness_update(problem, *, weights=None, capacity=None, alpha=None, ax=None) -> tuple:
    """Solve one sharing problem under the three rules (and an alpha-fair one) and draw them side by side.

    Parameters
    ----------
    problem : te_course.fairness.FairnessProblem
        Built once (its cvxpy problems are re-solved with new parameters).
    weights, capacity : array_like, optional
        As in :meth:`~te_course.fairness.FairnessProblem.solve`.
    alpha : float, optional
        Also solve ``rule="alpha"`` with this ``alpha`` (key ``"alpha"``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    allocations : dict of str to Allocation
        One per rule, and ``"alpha"`` when ``alpha`` is given.
    ax : matplotlib.axes.Axes
    summary : str
        HTML: the table of :func:`te_course.fairness.compare_allocations`.

    Examples
    --------
    >>> from te_course.fairness import FairnessProblem
    >>> allocations, ax, summary = fairness_update(FairnessProblem([[1, 1]], [1]), weights=[2, 1])
    >>> allocations["max_min"].x.round(4).tolist(), "price of fairness" in summary
    ([0.3333, 0.6667], True)
    """
    from .fairness import RULES, compare_allocations
    from .plots import plot_allocations

    allocations = {rule: problem.solve(rule, weights=weights, capacity=capacity) for rule in RULES}
    if alpha is not None:
        allocations["alpha"] = problem.solve("alpha", weights=weights, capacity=capacity, alpha=alpha)
    ax = plot_allocations(allocations, ax=ax if ax is not None else new_axes((6.4, 3.8), pyplot=False))
    ax.set_title("amounts under each rule")
    table = compare_allocations(allocations)
    shown = table.drop(columns=["jain_index_x"]).rename(columns=lambda c: c.replace("_", " "))
    summary = shown.to_html(float_format=lambda v: f"{v:.4g}", border=0)
    return allocations, ax, summary


def fairness_explorer(usage=None, capacity=None, *, weights=None, caps=None) -> W.VBox:
    """Build a fairness explorer: a weight slider per agent, a capacity slider per limited resource, an alpha dial.

    Default: the line network (two unit links, a long flow and two short ones).
    The ``"alpha"`` slider (logarithmic, 0.01 to 10) adds the alpha-fair
    allocation beside the three named rules (alpha 0, 1 and infinity).

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls`` (``"weight <agent>"``, ``"capacity <resource>"``
        and ``"alpha"`` sliders), ``app.chart`` and ``app.state``
        (``allocations``, ``metrics``, ``ax``, ``table``).
    """
    from .fairness import FairnessProblem, compare_allocations

    if usage is None:
        usage = _line_network()
        capacity = [1.0, 1.0] if capacity is None else capacity
    if capacity is None:
        raise ValueError("`capacity` is needed with a `usage` of your own.")
    problem = FairnessProblem(usage, capacity, caps=caps)
    w0 = np.ones(len(problem.agents)) if weights is None else np.broadcast_to(
        np.asarray(weights, dtype=float), (len(problem.agents),))
    controls = {}
    for agent, w in zip(problem.agents, w0):
        controls[f"weight {agent}"] = W.FloatSlider(value=float(w), min=0.1, max=max(4.0, 2 * float(w)), step=0.05,
                                                   description=f"weight {agent}", style=_WIDE)
    for resource, c in zip(problem.resources, problem.capacity):
        if np.isfinite(c):
            controls[f"capacity {resource}"] = W.FloatSlider(value=float(c), min=0.0, max=max(1.0, 2 * float(c)),
                                                             step=max(1.0, 2 * float(c)) / 100,
                                                             description=f"capacity {resource}", style=_WIDE)
    controls["alpha"] = W.FloatLogSlider(value=2.0, base=10, min=-2, max=1, step=0.05, description="alpha",
                                         style=_WIDE)
    canvas = _Canvas(600)
    chart = canvas.image
    table = W.HTML()
    state: dict = {"allocations": None, "metrics": None, "ax": None, "table": ""}

    def refresh(_change=None) -> None:
        w = [controls[f"weight {agent}"].value for agent in problem.agents]
        c = problem.capacity.copy()
        for k, resource in enumerate(problem.resources):
            if f"capacity {resource}" in controls:
                c[k] = controls[f"capacity {resource}"].value
        allocations, ax, summary = fairness_update(problem, weights=w, capacity=c, alpha=controls["alpha"].value,
                                                   ax=canvas.clean())
        state.update(allocations=allocations, metrics=compare_allocations(allocations), ax=ax, table=summary)
        table.value = summary
        canvas.render(ax)

    _wire(controls, refresh)
    sliders = list(controls.values())
    app = W.VBox([W.HBox([W.VBox(sliders[:len(problem.agents)]), W.VBox(sliders[len(problem.agents):])]), chart,
                  table])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app


# --------------------------------------------------------------------------- chapter 9: EVs on the feeder


def _ev_day_defaults() -> dict:
    from .prosumer import example_day
    from .scheduling import rate_lines

    load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    price = example_day()["buy_price"].to_numpy()
    return rate_lines(ieee33(), load_scale=float(load.max())), price, load


def ev_update(feeder, penetration, share_responsive, *, price_substation, load_profile, axes=None, problem=None,
              **options) -> tuple:
    """Run the EV study for one setting of the explorer's sliders and draw the day.

    Parameters
    ----------
    feeder : Feeder
        With line ratings (see :func:`te_course.scheduling.rate_lines`).
    penetration, share_responsive : float
        Cars per household and the share of them that respond to DLMPs.
    price_substation, load_profile : array_like
        One value per hour.
    axes : pair of matplotlib Axes, optional
        Where to draw the hourly peak loading and the hourly lowest voltage (axes that
        already show this drawing have their lines moved, not drawn anew).
    problem : te_course.scheduling.EVStudyProblem, optional
        The same study built once for this feeder and day: solved instead of
        :func:`~te_course.scheduling.ev_study` (a warm re-solve; ``options`` then go to
        the problem, not here).  A problem built for another feeder or day raises
        ``ValueError``.
    **options
        Passed to :func:`te_course.scheduling.ev_study`.

    Returns
    -------
    study : te_course.scheduling.EVStudy
    axes : tuple of matplotlib.axes.Axes
    summary : str
        HTML: peak line loading and lowest voltage (AC), energy the operator would shed, cost per car.

    Examples
    --------
    >>> feeder, price, load = _ev_day_defaults()
    >>> study, axes, summary = ev_update(feeder, 0.3, 1.0, price_substation=price, load_profile=load)
    >>> round(float(study.summary["peak_loading"]), 2)
    0.82
    """
    from .plots import plot_day_profiles, plot_voltage_envelope
    from .scheduling import ev_study

    if problem is None:
        study = ev_study(feeder, penetration, share_responsive=share_responsive, price_substation=price_substation,
                         load_profile=load_profile, **options)
    elif options:
        raise TypeError(f"ev_update: with `problem`, give {sorted(options)} to EVStudyProblem instead.")
    elif not problem.describes(feeder, price_substation, load_profile):
        raise ValueError("ev_update: `problem` was built for another feeder or day than the `feeder`, "
                         "`price_substation` and `load_profile` given here; build it from these "
                         "(EVStudyProblem(feeder, price_substation=..., load_profile=...)) or leave it out.")
    else:
        study = problem.solve(penetration, share_responsive=share_responsive)
    top, bottom = axes if axes is not None else _two_panel_figure()
    loading = study.ac.loading.max(axis=1)
    plot_day_profiles({"highest line loading": loading}, ax=top, ylabel="loading (|S| / rating)", limit=1.0,
                      limit_label="rating")
    top.set_xlabel("")
    top.set_title(f"{penetration:.0%} cars per household, {share_responsive:.0%} of them respond to DLMPs")
    v_min = options.get("v_min_pu", 0.9) if problem is None else problem.model.v_min
    plot_voltage_envelope({"AC": study.ac.v_pu}, ax=bottom, v_min_pu=v_min)
    s, c = study.summary, study.ev_costs
    rows = {
        "cars (responsive / uncontrolled)": f"{c.loc['responsive', 'cars']} / {c.loc['uncontrolled', 'cars']}",
        "peak line loading (AC)":
            f"{s['peak_loading']:.0%} on line {s['peak_loading_line']} at {s['peak_loading_step']}h",
        "lowest voltage (AC)": f"{s['v_min_pu']:.4f} p.u. at bus {s['v_min_bus']}, {s['v_min_step']}h",
        "load the operator would shed": f"{s['shed_kwh']:.0f} kWh",
        "cost per responsive car": _money(c.loc["responsive", "cost_per_car_dlmp"]),
        "cost per uncontrolled car": _money(c.loc["uncontrolled", "cost_per_car_dlmp"]),
    }
    summary = pd.DataFrame({"": list(rows.values())}, index=list(rows)).to_html(header=False)
    return study, (top, bottom), summary


class _SeenBefore:
    """An :class:`~te_course.scheduling.EVStudyProblem` that keeps its studies: a setting seen before is not solved.

    The explorer's sliders have 13 x 11 settings, so every study it can show fits.
    """

    def __init__(self, problem) -> None:
        self.model, self._problem, self._seen = problem.model, problem, {}
        self.describes = problem.describes

    def solve(self, penetration: float, *, share_responsive: float) -> EVStudy:
        """Return the study of this setting: kept from before, or solved now and kept."""
        key = (round(float(penetration), 9), round(float(share_responsive), 9))
        if key not in self._seen:
            self._seen[key] = self._problem.solve(penetration, share_responsive=share_responsive)
        return self._seen[key]


def _money(value) -> str:
    return "-" if not np.isfinite(value) else f"{value:.2f} (at its bus's DLMPs)"


def ev_explorer(feeder=None, price_substation=None, load_profile=None) -> W.VBox:
    """Build an EV explorer: EV penetration and share of DLMP-responsive cars -> peak loading, lowest voltage.

    By default: the IEEE 33-bus feeder rated by :func:`te_course.scheduling.rate_lines`
    at the day's peak, the prices of :func:`te_course.example_day` and an evening-peaking
    load profile.  The day's OPF is built once (:class:`~te_course.scheduling.EVStudyProblem`)
    and re-solved at each move; a setting seen before is shown again without solving.

    Returns
    -------
    ipywidgets.VBox
        With ``app.controls``, ``app.chart`` and ``app.state`` (``study``, ``axes``, ``table``).
    """
    from .scheduling import EVStudyProblem

    f0, p0, l0 = _ev_day_defaults()
    feeder = f0 if feeder is None else feeder
    price = p0 if price_substation is None else price_substation
    load = l0 if load_profile is None else load_profile
    penetration = W.FloatSlider(value=0.3, min=0.0, max=0.6, step=0.05, description="cars per household",
                                readout_format=".0%", style=_WIDE)
    share = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, description="share responding to DLMPs",
                          readout_format=".0%", style=_WIDE)
    canvas = _Canvas(620)
    chart = canvas.image
    table = W.HTML()
    controls = {"penetration": penetration, "share_responsive": share}
    state: dict = {"study": None, "axes": None, "table": ""}
    problem = _SeenBefore(EVStudyProblem(feeder, price_substation=price, load_profile=load))

    def refresh(_change=None) -> None:
        try:
            study, axes, summary = ev_update(feeder, penetration.value, share.value, price_substation=price,
                                             load_profile=load, problem=problem, axes=canvas.clean(keep=(0, 1)))
        except ValueError as err:  # a fleet so large that even the AC power flow fails
            state.update(study=None, table=html.escape(str(err)))
            table.value = f"<b>No answer:</b> {html.escape(str(err))}"
            return
        state.update(study=study, axes=axes, table=summary)
        table.value = summary
        canvas.render(axes)

    _wire(controls, refresh)
    app = W.VBox([W.HBox([penetration, share]), W.HBox([chart, table])])
    app.controls, app.chart, app.state = controls, chart, state
    refresh()
    return app
