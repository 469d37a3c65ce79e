"""Double auctions: order books, uniform-price clearing, the welfare LP, settlement.

A *bid* is a buyer's offer to buy a quantity at up to a price; an *ask* is a
seller's offer to sell a quantity at no less than a price.  Prices are in
currency per kWh and quantities in kWh.  Orders are given either as a plain
list of prices (one kWh each: the "unit" market of the course's first
examples) or as a table with ``price`` and ``quantity`` columns (divisible
orders, which may be partly filled).

Clearing rule
-------------
The traded quantity ``Q`` maximises welfare, the area between the demand and
the supply step curves (Friedman and Rust, *The Double Auction Market*, 1993;
Krishna, *Auction Theory*, 2nd ed., 2010, ch. 13).  For step curves it equals::

    Q = max over prices p of  min(D(p), S(p))

with ``D(p)`` the quantity bid at ``p`` or more and ``S(p)`` the quantity asked
at ``p`` or less.  Orders at the same price as the other side's order trade
(the volume is the largest among the welfare-maximising ones).

Tie-breaking: the orders are filled from the best price down.  When several
orders share the *marginal* price (the last price level that trades on a side)
and that level is only partly filled, they share the remaining quantity
*pro rata* to their quantities, whatever their position in the input.

The *price interval* ``[lo, hi]`` holds every price at which each trader is
content with its fill: every filled buyer bids at least the price, every filled
seller asks at most the price, every buyer with unfilled quantity bids at most
the price and every seller with unfilled quantity asks at least the price.  So
``lo`` is the larger of the last accepted ask and the best rejected bid, and
``hi`` the smaller of the last accepted bid and the best rejected ask.  The
*k-rule* picks ``price = lo + k (hi - lo)``: the k-double auction (Chatterjee
and Samuelson, "Bargaining under incomplete information", Operations Research
31(5), 1983, for one buyer and one seller; Rustichini, Satterthwaite and
Williams, "Convergence to efficiency in a simple market with incomplete
information", Econometrica 62(5), 1994, for many).  Its case ``k = 1`` is the
buyer's bid double auction of Satterthwaite and Williams (Review of Economic
Studies 56(4), 1989).

Why sorting maximises welfare (unit orders): when some buyers and as many
sellers trade, the welfare is the sum of their bids minus the sum of their
asks whatever the pairing, so ``k`` trades are best made by the ``k`` highest
bids and the ``k`` lowest asks; the marginal gain ``b_k - s_k`` of the k-th
sorted pair falls with ``k``, so the welfare peaks at the last ``k`` with
``b_k >= s_k``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import cvxpy as cp
import numpy as np
import pandas as pd

from ._deprecation import keywords_were_positional
from ._solvers import check_solver, solve
from ._validation import (
    MAX_MAGNITUDE,
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_generator,
    check_finite,
    check_fraction,
    check_magnitude,
    check_positive,
)
from .errors import SolverError

__all__ = [
    "ClearingResult",
    "Orders",
    "OrderBooks",
    "Settlement",
    "parse_orders",
    "clear_double_auction",
    "welfare_max_clearing",
    "settle",
    "random_orders",
]


# --------------------------------------------------------------------------- inputs


class Orders(NamedTuple):
    """An order book as read by :func:`parse_orders`: unpacks as ``price, quantity``."""

    price: np.ndarray
    """The orders' prices, currency per kWh, shape ``(n,)``."""
    quantity: np.ndarray
    """The orders' quantities, kWh (> 0), shape ``(n,)``."""


def parse_orders(orders, name: str = "orders") -> Orders:
    """Read an order book into arrays of prices and quantities.

    Parameters
    ----------
    orders : array_like or pandas.DataFrame
        One of

        - a 1-D list, array or Series of prices: one unit (1 kWh) per order;
        - a DataFrame with a ``price`` column and optionally a ``quantity``
          column (other columns are ignored);
        - a 2-D array or a list of ``(price, quantity)`` pairs, shape ``(n, 2)``.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    Orders
        A named pair ``(price, quantity)`` of float arrays of shape ``(n,)``
        (unpacks as two arrays).

    Raises
    ------
    ValueError
        If a price is NaN or infinite, a quantity is not positive, the shape is
        wrong, or there are no orders; or if a price or a quantity exceeds
        1e150 in absolute value (the supported range: larger numbers would make
        the welfare overflow the floats; use other units).
    TypeError
        If an entry is not a real number (text, a boolean, a complex number).

    Examples
    --------
    >>> price, quantity = parse_orders([12, 10, 8], "bids")
    >>> price, quantity
    (array([12., 10.,  8.]), array([1., 1., 1.]))
    >>> parse_orders([(6.5, 2.0), (7.0, 0.5)], "asks").quantity
    array([2. , 0.5])
    """
    if isinstance(orders, pd.DataFrame):
        if "price" not in orders.columns:
            raise ValueError(
                f"`{name}` must have a 'price' column (and optionally 'quantity'); "
                f"got columns {list(orders.columns)}."
            )
        price = as_1d_float(orders["price"], name)
        if "quantity" in orders.columns:
            quantity = as_1d_float(orders["quantity"], name)
        else:
            quantity = np.ones_like(price)
    else:
        if isinstance(orders, (str, bytes)) or orders is None:
            raise TypeError(f"`{name}` must be a list of prices or a table of (price, quantity); got {orders!r}.")
        arr = as_float_array(orders, name)
        if arr.ndim == 1:
            price, quantity = arr.copy(), np.ones(arr.shape)
        elif arr.ndim == 2 and arr.shape[1] == 2:
            price, quantity = arr[:, 0].copy(), arr[:, 1].copy()
        else:
            raise ValueError(
                f"`{name}` must be a list of prices or an (n, 2) table of (price, quantity); "
                f"got an array of shape {arr.shape}."
            )
    if price.size == 0:
        raise ValueError(f"`{name}` is empty; a double auction needs at least one order on each side.")
    check_finite(price, name, "prices")
    check_positive(quantity, name, "quantities")
    check_magnitude(price, name, "prices")
    check_magnitude(quantity, name, "quantities")
    return Orders(price, quantity)


# --------------------------------------------------------------------------- results


def _frame(side_prices, side_quantities, side_fills) -> pd.DataFrame:
    """One row per order: side, position in the input, price, quantity, fill."""
    frames = []
    for side, p, q, f in zip(("buyer", "seller"), side_prices, side_quantities, side_fills):
        frames.append(
            pd.DataFrame({"side": side, "order": np.arange(len(p)), "price": p, "quantity": q, "fill": f})
        )
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class ClearingResult:
    """The outcome of clearing a double auction.

    Attributes
    ----------
    price : float
        The uniform clearing price (NaN when nothing trades).
    price_interval : tuple of float
        ``(lo, hi)``: every price in it clears the market with these fills
        (``(nan, nan)`` when nothing trades).
    quantity : float
        The total quantity traded, kWh.
    welfare : float
        Total gains from trade: what the filled buyers are willing to pay minus
        what the filled sellers ask (bid times fill minus ask times fill).
    buyer_fills, seller_fills : numpy.ndarray
        The quantity each order trades, aligned with the input order.
    bid_prices, bid_quantities, ask_prices, ask_quantities : numpy.ndarray
        The order books as read from the input.
    k : float
        The k of the k-rule (NaN when the price comes from an LP dual).
    method : str
        ``"merit order"`` or ``"lp"``.
    """

    price: float
    price_interval: tuple[float, float]
    quantity: float
    welfare: float
    buyer_fills: np.ndarray = field(repr=False)
    seller_fills: np.ndarray = field(repr=False)
    bid_prices: np.ndarray = field(repr=False)
    bid_quantities: np.ndarray = field(repr=False)
    ask_prices: np.ndarray = field(repr=False)
    ask_quantities: np.ndarray = field(repr=False)
    k: float = 0.5
    method: str = "merit order"

    def to_frame(self) -> pd.DataFrame:
        """Return one row per order: side, order (input position), price, quantity, fill."""
        return _frame(
            (self.bid_prices, self.ask_prices),
            (self.bid_quantities, self.ask_quantities),
            (self.buyer_fills, self.seller_fills),
        )


# --------------------------------------------------------------------------- merit order


def _candidate_price(bid_p, bid_q, ask_p, ask_q) -> float:
    """Return an order price that clears the market: the fills it implies balance.

    A price ``p`` clears when the bids strictly above it can be served by the asks at
    or below it (``g = S(p) - D_>(p) >= 0``) and the asks strictly below it by the
    bids at or above it (``h = D(p) - S_<(p) >= 0``).  ``g`` rises and ``h`` falls with
    ``p``, so the price with the largest ``min(g, h)`` is one (the first, on ties);
    rounding in the cumulative sums can only make it miss by a rounding error.
    One sort per side and no Python loop over orders.
    """
    b_order, a_order = np.argsort(bid_p), np.argsort(ask_p)
    bp, ap = bid_p[b_order], ask_p[a_order]
    b_tail = np.concatenate((np.cumsum(bid_q[b_order][::-1])[::-1], [0.0]))  # b_tail[i] = sum of bq[i:]
    a_head = np.concatenate(([0.0], np.cumsum(ask_q[a_order])))  # a_head[i] = sum of aq[:i]
    candidates = np.unique(np.concatenate((bid_p, ask_p)))
    demand = b_tail[np.searchsorted(bp, candidates, side="left")]  # bids >= p
    demand_above = b_tail[np.searchsorted(bp, candidates, side="right")]  # bids > p
    supply = a_head[np.searchsorted(ap, candidates, side="right")]  # asks <= p
    supply_below = a_head[np.searchsorted(ap, candidates, side="left")]  # asks < p
    margin = np.minimum(supply - demand_above, demand - supply_below)
    return float(candidates[int(np.argmax(margin))])


def _share(fill: float, total: float, tol: float) -> float:
    """Return ``fill`` as a share of a price level's quantity ``total``; 0 or 1 within ``tol`` (rounding)."""
    if total <= 0.0:
        return 0.0
    if fill >= total - tol and 2.0 * fill >= total:
        return 1.0
    if fill <= tol:
        return 0.0
    return min(1.0, fill / total)


def _clear(bid_p, bid_q, ask_p, ask_q) -> tuple[np.ndarray, np.ndarray, float]:
    """Merit-order fills ``(buyer_fills, seller_fills, quantity)``; all zero when nothing trades.

    Every order is filled as at one clearing price ``p`` (:func:`_candidate_price`):
    bids above ``p`` and asks below it in full, bids below and asks above not at
    all, and the orders at ``p`` share what balances the market, pro rata.  The
    fills therefore never contradict the price (``lo <= p <= hi`` for the interval
    of :func:`_interval`), whatever the orders' sizes.  The sums at ``p`` are exact
    to rounding (``math.fsum``), so that an order is judged against its own size:
    only a difference of a few units of rounding of the traded quantity counts as
    zero.
    """
    if bid_p.max() < ask_p.min():
        return np.zeros_like(bid_q), np.zeros_like(ask_q), 0.0
    p = _candidate_price(bid_p, bid_q, ask_p, ask_q)
    above, at_b = bid_p > p, bid_p == p
    below, at_a = ask_p < p, ask_p == p
    demand_above, demand = math.fsum(bid_q[above]), math.fsum(bid_q[bid_p >= p])
    supply_below, supply = math.fsum(ask_q[below]), math.fsum(ask_q[ask_p <= p])
    quantity = min(demand, supply)
    tol = 8.0 * np.finfo(float).eps * quantity
    share_b = _share(quantity - demand_above, math.fsum(bid_q[at_b]), tol)
    share_a = _share(quantity - supply_below, math.fsum(ask_q[at_a]), tol)
    buyer_fills = np.where(above, bid_q, 0.0)
    buyer_fills[at_b] = bid_q[at_b] * share_b
    seller_fills = np.where(below, ask_q, 0.0)
    seller_fills[at_a] = ask_q[at_a] * share_a
    return buyer_fills, seller_fills, quantity


def _interval(bid_p, bid_q, buyer_fills, ask_p, ask_q, seller_fills) -> tuple[float, float]:
    """Return the interval of prices that support the given fills (see module docstring)."""
    if not (buyer_fills > 0).any():
        return (math.nan, math.nan)
    buy_in = buyer_fills > 0
    sell_in = seller_fills > 0
    buy_left = buyer_fills < bid_q
    sell_left = seller_fills < ask_q
    last_accepted_bid = bid_p[buy_in].min()
    last_accepted_ask = ask_p[sell_in].max()
    best_rejected_bid = bid_p[buy_left].max() if buy_left.any() else -math.inf
    best_rejected_ask = ask_p[sell_left].min() if sell_left.any() else math.inf
    lo = max(last_accepted_ask, best_rejected_bid)
    hi = min(last_accepted_bid, best_rejected_ask)
    return (float(lo), float(hi))


@keywords_were_positional("k")
def clear_double_auction(bids, asks, *, k: float = 0.5) -> ClearingResult:
    """Clear a uniform-price double auction by merit order.

    Parameters
    ----------
    bids, asks : array_like or pandas.DataFrame
        Buy and sell orders: a list of prices (one kWh each), or a DataFrame /
        ``(n, 2)`` array with ``price`` and ``quantity``.  See :func:`parse_orders`
        (prices and quantities up to 1e150 in absolute value).
    k : float, optional
        Where in the price interval the price is set: ``lo + k (hi - lo)``.
        ``k = 0.5`` (the default) is the midpoint; ``k = 0`` favours buyers,
        ``k = 1`` sellers.  Keyword only (``clear_double_auction(bids, asks, 0.3)``
        still works in this release, with a ``DeprecationWarning``).

    Returns
    -------
    ClearingResult
        Price, price interval, quantity, welfare and each order's fill.  When
        nothing trades the quantity and welfare are 0 and the price is NaN.
        The fills balance (to rounding), ``lo <= price <= hi``, and every order
        is content with its fill at every price of the interval, whatever the
        sizes of the orders (a 1e-4 kWh ask next to a 1e6 kWh one is judged by
        its own size).

    Notes
    -----
    Vectorised: one sort per side and no Python loop over orders, so a million
    orders per side clear in well under a second.  Ties: see the module
    docstring (equal-priced marginal orders share pro rata).

    Examples
    --------
    The course's first market: bids 12, 10, 8 and asks 5, 7, 9.

    >>> r = clear_double_auction([12, 10, 8], [5, 7, 9])
    >>> r.quantity, r.price_interval, r.price, r.welfare
    (2.0, (8.0, 9.0), 8.5, 10.0)
    >>> r.buyer_fills, r.seller_fills
    (array([1., 1., 0.]), array([1., 1., 0.]))
    """
    k = check_fraction(k, "k")
    bid_p, bid_q = parse_orders(bids, "bids")
    ask_p, ask_q = parse_orders(asks, "asks")
    buyer_fills, seller_fills, quantity = _clear(bid_p, bid_q, ask_p, ask_q)
    return _result(bid_p, bid_q, ask_p, ask_q, buyer_fills, seller_fills, k=k, quantity=quantity)


def _result(bid_p, bid_q, ask_p, ask_q, buyer_fills, seller_fills, *, k, quantity, price=None,
            method="merit order") -> ClearingResult:
    """Assemble the ClearingResult of given fills: price interval, welfare, and the k-rule price unless given."""
    lo, hi = _interval(bid_p, bid_q, buyer_fills, ask_p, ask_q, seller_fills)
    if quantity <= 0:
        quantity, welfare, price = 0.0, 0.0, math.nan
        buyer_fills = np.zeros_like(buyer_fills)
        seller_fills = np.zeros_like(seller_fills)
    else:
        welfare = float(bid_p @ buyer_fills - ask_p @ seller_fills)
        if price is None:
            price = lo + k * (hi - lo)
    return ClearingResult(
        price=float(price),
        price_interval=(lo, hi),
        quantity=float(quantity),
        welfare=welfare,
        buyer_fills=buyer_fills,
        seller_fills=seller_fills,
        bid_prices=bid_p,
        bid_quantities=bid_q,
        ask_prices=ask_p,
        ask_quantities=ask_q,
        k=k,
        method=method,
    )


# --------------------------------------------------------------------------- welfare LP


def welfare_max_clearing(bids, asks, *, solver: str | None = None) -> ClearingResult:
    """Clear the market as a welfare-maximising LP; the price is a shadow price.

    The linear program (Samuelson, "Spatial price equilibrium and linear
    programming", American Economic Review 42(3), 1952; Kirschen and Strbac,
    *Fundamentals of Power System Economics*, 2nd ed., 2018, ch. 2)::

        maximise    sum_b bid_b x_b - sum_s ask_s y_s        (welfare)
        subject to  sum_s y_s - sum_b x_b = 0        (lambda)  (energy balance)
                    0 <= x_b <= q_b,  0 <= y_s <= q_s

    The clearing price is the multiplier ``lambda`` of the balance constraint:
    the welfare gained if one more kWh were available for free.  Its sign is
    fixed here so that it is a price (positive for positive bids and asks) and
    is checked by a finite difference in the tests.

    The LP is solved in per-unit quantities and prices (quantities divided by
    the largest one; prices shifted to the middle of their range and divided by
    its half-width), which leaves its solutions unchanged and lets it solve at
    any magnitude :func:`clear_double_auction` accepts.  The fills reported are
    the optimal solution that the dual price determines by complementary
    slackness (what a simplex solver's crossover does): orders in the money at
    the price trade in full, orders out of the money not at all, and orders at
    the price share the rest pro rata (the largest volume, as in the merit
    order).  So they balance exactly whatever the sizes of the orders, where the
    solver's own values are accurate only to its tolerance.  A dual that lies
    outside the clearing interval by the solver's tolerance is moved into it.

    Parameters
    ----------
    bids, asks : array_like or pandas.DataFrame
        As in :func:`clear_double_auction`.
    solver : str, optional
        An installed cvxpy solver's name.  Default: Clarabel with tolerances of
        1e-11 (an interior-point method: when the price is not unique it returns
        one near the middle of the interval; a simplex solver such as HiGHS
        returns an end point).

    Returns
    -------
    ClearingResult
        With ``method="lp"``; ``price`` is the dual, ``price_interval`` the
        interval supported by the fills, ``k`` is NaN.

    Raises
    ------
    ValueError, TypeError
        If ``solver`` is not the name of an installed cvxpy solver.
    SolverError
        If the solver fails, or returns a solution whose welfare or dual
        misses the optimum by more than 1e-6 of the market's gross value.

    Examples
    --------
    >>> r = welfare_max_clearing([12, 10, 8], [5, 7, 9])
    >>> round(r.welfare, 6), round(r.quantity, 6)
    (10.0, 2.0)
    >>> 8.0 - 1e-6 <= r.price <= 9.0 + 1e-6
    True
    """
    solver = check_solver(solver)
    bid_p, bid_q = parse_orders(bids, "bids")
    ask_p, ask_q = parse_orders(asks, "asks")
    unit = _PerUnit.of(bid_p, bid_q, ask_p, ask_q)
    lam_s, value, status = _solve_welfare_lp(unit, solver)
    buyer_fills, seller_fills, quantity = _clear(bid_p, bid_q, ask_p, ask_q)
    _check_lp_optimum(unit, lam_s, value, status, buyer_fills, seller_fills)
    price = unit.p_mid + unit.p_unit * lam_s
    result = _result(bid_p, bid_q, ask_p, ask_q, buyer_fills, seller_fills, k=math.nan, quantity=quantity,
                     price=price, method="lp")
    if result.quantity > 0:
        lo, hi = result.price_interval
        result = dataclasses.replace(result, price=float(min(max(price, lo), hi)))
    return result


class _PerUnit(NamedTuple):
    """The order books in per-unit terms: quantities in (0, 1], prices shifted and scaled into [-1, 1]."""

    bid_s: np.ndarray
    bid_qs: np.ndarray
    ask_s: np.ndarray
    ask_qs: np.ndarray
    p_mid: float
    p_unit: float
    q_unit: float

    @classmethod
    def of(cls, bid_p, bid_q, ask_p, ask_q) -> _PerUnit:
        """Scale the books: quantities by the largest one, prices about the middle of their range."""
        p_max, p_min = max(bid_p.max(), ask_p.max()), min(bid_p.min(), ask_p.min())
        p_mid, p_unit = p_max / 2 + p_min / 2, p_max / 2 - p_min / 2
        if p_unit == 0:  # every order at one price: the shifted prices are all 0
            p_unit = abs(p_mid) or 1.0
        q_unit = max(bid_q.max(), ask_q.max())
        return cls((bid_p - p_mid) / p_unit, bid_q / q_unit, (ask_p - p_mid) / p_unit, ask_q / q_unit,
                   float(p_mid), float(p_unit), float(q_unit))


def _solve_welfare_lp(unit: _PerUnit, solver: str | None) -> tuple[float, float, str]:
    """Solve the per-unit welfare LP; return its price (the balance dual), its value and its status."""
    x = cp.Variable(unit.bid_s.size, name="buyer_fills")
    y = cp.Variable(unit.ask_s.size, name="seller_fills")
    balance = cp.sum(y) - cp.sum(x) == 0
    problem = cp.Problem(
        cp.Maximize(unit.bid_s @ x - unit.ask_s @ y),
        [balance, x >= 0, x <= unit.bid_qs, y >= 0, y <= unit.ask_qs],
    )
    with warnings.catch_warnings():  # an inaccurate solution is checked against the optimum afterwards
        warnings.simplefilter("ignore", UserWarning)
        # tol=1e-11, one digit tighter than the default: the price (a dual) is compared with the exact
        # interval in the tests to 1e-10 of the range of prices.
        solve(problem, what="the welfare LP", solver=solver, tol=1e-11, choosable=True)
    if balance.dual_value is None:
        raise SolverError(f"The solver {solver or 'CLARABEL'} returned no price (dual) for the welfare LP; try "
                          "another `solver`.")
    # cvxpy reports the dual of a maximisation's equality constraint with the
    # sign of the equivalent minimisation; negating it gives d(welfare)/d(supply).
    value = problem.value if problem.value is not None else math.nan
    return -float(balance.dual_value), float(value), problem.status


def _check_lp_optimum(unit: _PerUnit, lam_s: float, value: float, status: str, buyer_fills, seller_fills) -> None:
    """Raise SolverError unless the LP's welfare and its dual objective at its price meet the exact optimum.

    In per-unit terms, to 1e-6 of the market's gross value; the dual objective is never
    below the optimum (weak duality), so a wrong price cannot pass.
    """
    best = float(unit.bid_s @ (buyer_fills / unit.q_unit) - unit.ask_s @ (seller_fills / unit.q_unit))
    dual = float(unit.bid_qs @ np.maximum(unit.bid_s - lam_s, 0.0) + unit.ask_qs @ np.maximum(lam_s - unit.ask_s, 0.0))
    gross = float(unit.bid_qs @ np.abs(unit.bid_s) + unit.ask_qs @ np.abs(unit.ask_s))
    tol = 1e-6 * max(gross, 1.0)
    if not (abs(value - best) <= tol and dual - best <= tol):
        raise SolverError(
            f"The welfare LP's solution is inaccurate (status {status!r}: welfare off by "
            f"{abs(value - best) * unit.p_unit * unit.q_unit:.3g}, price off the optimum); try another `solver`."
        )


# --------------------------------------------------------------------------- settlement


@dataclass(frozen=True)
class Settlement:
    """Who pays whom after clearing.

    Attributes
    ----------
    payments : numpy.ndarray
        What each trader pays, buyers first (aligned with ``bids``), then
        sellers (aligned with ``asks``); a seller's payment is negative: it
        receives money.
    buyer_payments, seller_payments : numpy.ndarray
        The same, split by side.
    buyer_surplus, seller_surplus : numpy.ndarray
        Each trader's gain: bid times fill minus payment for buyers, minus
        payment minus ask times fill for sellers.
    budget : float
        What the platform keeps: the sum of all payments (zero under a uniform
        price, the welfare under pay-as-bid).
    pricing : str
        ``"uniform"`` or ``"pay_as_bid"``.
    """

    payments: np.ndarray
    buyer_payments: np.ndarray
    seller_payments: np.ndarray
    buyer_surplus: np.ndarray
    seller_surplus: np.ndarray
    budget: float
    pricing: str = "uniform"

    def to_frame(self) -> pd.DataFrame:
        """Return one row per trader: side, order, payment, surplus."""
        n_b = self.buyer_payments.size
        return pd.DataFrame(
            {
                "side": ["buyer"] * n_b + ["seller"] * self.seller_payments.size,
                "order": np.r_[np.arange(n_b), np.arange(self.seller_payments.size)],
                "payment": self.payments,
                "surplus": np.r_[self.buyer_surplus, self.seller_surplus],
            }
        )


def settle(result: ClearingResult, bids, asks, *, pricing: str = "uniform") -> Settlement:
    """Settle a cleared market: what each trader pays or receives.

    Parameters
    ----------
    result : ClearingResult
        The outcome of :func:`clear_double_auction` or :func:`welfare_max_clearing`.
    bids, asks : array_like or pandas.DataFrame
        The same order books that were cleared (checked against ``result``).
    pricing : {"uniform", "pay_as_bid"}
        ``"uniform"``: every trade at ``result.price``, so the platform's budget
        is zero.  ``"pay_as_bid"``: buyers pay their bid and sellers receive
        their ask, so the platform keeps the whole welfare.

    Returns
    -------
    Settlement

    Examples
    --------
    >>> bids, asks = [12, 10, 8], [5, 7, 9]
    >>> s = settle(clear_double_auction(bids, asks), bids, asks)
    >>> s.payments
    array([ 8.5,  8.5,  0. , -8.5, -8.5,  0. ])
    >>> s.budget
    0.0
    >>> settle(clear_double_auction(bids, asks), bids, asks, pricing="pay_as_bid").budget
    10.0
    """
    if not isinstance(result, ClearingResult):
        raise TypeError(f"`result` must be a ClearingResult from clear_double_auction; got {type(result).__name__}.")
    bid_p, bid_q = parse_orders(bids, "bids")
    ask_p, ask_q = parse_orders(asks, "asks")
    for name, given, cleared in (
        ("bids", (bid_p, bid_q), (result.bid_prices, result.bid_quantities)),
        ("asks", (ask_p, ask_q), (result.ask_prices, result.ask_quantities)),
    ):
        if not all(g.shape == c.shape and np.array_equal(g, c) for g, c in zip(given, cleared)):
            raise ValueError(
                f"`{name}` differ from the orders that produced `result` (prices or quantities); "
                "pass the same order books."
            )
    if pricing == "uniform":
        price = 0.0 if result.quantity == 0 else result.price
        buyer_pay = price * result.buyer_fills + 0.0  # + 0.0 turns -0.0 into 0.0
        seller_pay = -price * result.seller_fills + 0.0
    elif pricing == "pay_as_bid":
        buyer_pay = bid_p * result.buyer_fills + 0.0
        seller_pay = -ask_p * result.seller_fills + 0.0
    else:
        raise ValueError(f"`pricing` must be 'uniform' or 'pay_as_bid'; got {pricing!r}.")
    payments = np.concatenate((buyer_pay, seller_pay))
    return Settlement(
        payments=payments,
        buyer_payments=buyer_pay,
        seller_payments=seller_pay,
        buyer_surplus=bid_p * result.buyer_fills - buyer_pay,
        seller_surplus=-seller_pay - ask_p * result.seller_fills,
        budget=math.fsum(payments) + 0.0,
        pricing=pricing,
    )


# --------------------------------------------------------------------------- random markets

#: The most orders per side that :func:`random_orders` draws (a million: about 16 MB per side).
MAX_RANDOM_ORDERS = 1_000_000


class OrderBooks(NamedTuple):
    """A random market (:func:`random_orders`); unpacks as ``bids, asks``."""

    bids: pd.DataFrame
    """The buy orders, columns ``price`` and ``quantity``."""
    asks: pd.DataFrame
    """The sell orders, columns ``price`` and ``quantity``."""


def random_orders(
    n_buyers: int, n_sellers: int, *, seed=0, divisible: bool = False, price_range=(2.0, 16.0)
) -> OrderBooks:
    """Draw a random market for examples and exercises.

    Prices are uniform on ``price_range`` rounded to 0.5; with ``divisible`` the
    quantities are uniform on [0.5, 5] kWh rounded to 0.5, else 1 kWh each.

    Parameters
    ----------
    n_buyers, n_sellers : int
        How many orders on each side (at least 1, at most :data:`MAX_RANDOM_ORDERS`,
        a million: a bigger book would take gigabytes).
    seed : None, int or numpy.random.Generator
        The source of randomness (a non-negative integer, or a Generator to
        share one stream).
    divisible : bool
        Whether orders carry random quantities (True or False).
    price_range : tuple of float
        Lowest and highest price (finite, lowest first).

    Returns
    -------
    OrderBooks
        A named pair that unpacks as ``bids, asks``: two DataFrames with
        columns ``price`` and ``quantity``.

    Examples
    --------
    >>> bids, asks = random_orders(3, 2, seed=1)
    >>> list(bids.columns), len(bids), len(asks)
    (['price', 'quantity'], 3, 2)
    """
    for name, n in (("n_buyers", n_buyers), ("n_sellers", n_sellers)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {n!r}.")
        if n > MAX_RANDOM_ORDERS:
            raise ValueError(
                f"`{name}` must be at most {MAX_RANDOM_ORDERS:_} (orders per side of a random market); "
                f"got {_count(n)}."
            )
    if not isinstance(divisible, bool | np.bool_):
        raise TypeError(f"`divisible` must be True or False; got {divisible!r}.")
    rng = as_generator(seed, "seed")
    lo, hi = _price_range(price_range)

    def side(n) -> pd.DataFrame:
        price = np.round(rng.uniform(lo, hi, int(n)) * 2) / 2
        qty = np.round(rng.uniform(0.5, 5.0, int(n)) * 2) / 2 if divisible else np.ones(int(n))
        return pd.DataFrame({"price": price, "quantity": qty})

    return OrderBooks(side(n_buyers), side(n_sellers))


def _count(n) -> str:
    """``n`` for a message: the integer itself, or "about 1e400" when it has too many digits to print."""
    n = int(n)
    return f"{n:_}" if abs(n) < 10**30 else f"about 1e{int(n.bit_length() * 0.30103)}"


def _price_range(price_range) -> tuple[float, float]:
    """Validate ``price_range``: two finite prices, the lowest first, within the orders' range."""
    pair = list(price_range) if isinstance(price_range, (tuple, list, np.ndarray, pd.Series)) else None
    if pair is None or len(pair) != 2:
        raise TypeError(f"`price_range` must be a pair (lowest, highest) of prices; got {price_range!r}.")
    lo = as_finite_float(pair[0], "price_range[0] (the lowest price)")
    hi = as_finite_float(pair[1], "price_range[1] (the highest price)")
    if lo > hi:
        raise ValueError(f"`price_range` must list the lowest price first; got {price_range!r}.")
    if max(abs(lo), abs(hi)) > MAX_MAGNITUDE:
        raise ValueError(
            f"`price_range` must lie within +-{MAX_MAGNITUDE:g} (the prices an order book accepts); "
            f"got {price_range!r}."
        )
    return lo, hi
