"""Interactive explorers: controls, then a plain update function.

Each ``*_explorer`` returns an ipywidgets container that a notebook displays.
The work is done by a module-level ``*_update`` function of explicit arguments
that calls the package and a plot function; the widget only wires controls to
it.  Tests call the update function directly, or build the explorer headless,
set ``.value`` on its controls and read what it produced from ``app.state``.
"""

from __future__ import annotations

import html

import ipywidgets as W
import pandas as pd

from .auction import ClearingResult, clear_double_auction, random_orders
from .plots import new_axes, plot_double_auction, to_png

__all__ = ["parse_prices", "auction_update", "auction_explorer"]


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


def auction_update(bids, asks, k: float = 0.5, ax=None):
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
    n_buyers = W.IntSlider(value=8, min=1, max=40, description="buyers")
    n_sellers = W.IntSlider(value=8, min=1, max=40, description="sellers")
    seed = W.IntText(value=0, description="seed")
    divisible = W.Checkbox(value=False, description="divisible quantities")
    k_slider = W.FloatSlider(value=k, min=0.0, max=1.0, step=0.05, description="k")
    chart = W.Image(format="png", layout=W.Layout(width="640px"))
    table = W.HTML()
    controls = {
        "mode": mode, "bids": bid_text, "asks": ask_text, "n_buyers": n_buyers,
        "n_sellers": n_sellers, "seed": seed, "divisible": divisible, "k": k_slider,
    }
    state: dict = {"result": None, "ax": None, "table": "", "error": None}

    def refresh(_change=None):
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
            result, ax, summary = auction_update(b, a, k=k_slider.value)
        except (ValueError, TypeError) as exc:
            state.update(error=str(exc))
            table.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        state.update(result=result, ax=ax, table=summary, error=None)
        table.value = summary
        chart.value = to_png(ax.figure)

    for w in controls.values():
        w.observe(refresh, names="value")
    app = W.VBox([
        mode, W.HBox([bid_text, ask_text]), W.HBox([n_buyers, n_sellers]), W.HBox([seed, divisible]),
        k_slider, W.HBox([chart, table]),
    ])
    app.controls = controls
    app.chart = chart
    app.state = state
    refresh()
    return app
