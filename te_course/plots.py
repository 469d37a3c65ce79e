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

__all__ = ["new_axes", "to_png", "supply_demand_curves", "plot_double_auction"]

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
