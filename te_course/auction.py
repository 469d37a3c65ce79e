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

import math
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import pandas as pd

from ._validation import SolverError, as_1d_float, check_finite, check_fraction, check_positive

__all__ = [
    "ClearingResult",
    "Settlement",
    "parse_orders",
    "clear_double_auction",
    "welfare_max_clearing",
    "settle",
    "random_orders",
]


# --------------------------------------------------------------------------- inputs


def parse_orders(orders, name: str = "orders") -> tuple[np.ndarray, np.ndarray]:
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
    price, quantity : numpy.ndarray
        Two float arrays of shape ``(n,)``.

    Raises
    ------
    ValueError
        If a price is NaN or infinite, a quantity is not positive, the shape is
        wrong, or there are no orders.

    Examples
    --------
    >>> parse_orders([12, 10, 8], "bids")
    (array([12., 10.,  8.]), array([1., 1., 1.]))
    >>> parse_orders([(6.5, 2.0), (7.0, 0.5)], "asks")[1]
    array([2. , 0.5])
    """
    if isinstance(orders, pd.DataFrame):
        if "price" not in orders.columns:
            raise ValueError(
                f"`{name}` must have a 'price' column (and optionally 'quantity'); "
                f"got columns {list(orders.columns)}."
            )
        price = as_1d_float(orders["price"].to_numpy(), name)
        if "quantity" in orders.columns:
            quantity = as_1d_float(orders["quantity"].to_numpy(), name)
        else:
            quantity = np.ones_like(price)
    else:
        if isinstance(orders, (str, bytes)) or orders is None:
            raise TypeError(f"`{name}` must be a list of prices or a table of (price, quantity); got {orders!r}.")
        try:
            arr = np.asarray(orders, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"`{name}` must contain only numbers; could not convert it ({exc}).") from None
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
    return price, quantity


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


def _levels(key: np.ndarray, quantity: np.ndarray):
    """Sort orders by ``key`` (smaller is better) and group equal keys into levels.

    Returns the sort order, each order's level id, each level's key and each
    level's total quantity (in sorted order).
    """
    order = np.argsort(key)  # stability is not needed: equal keys share a level pro rata
    k_sorted = key[order]
    new_level = np.empty(k_sorted.size, dtype=bool)
    new_level[0] = True
    np.not_equal(k_sorted[1:], k_sorted[:-1], out=new_level[1:])
    starts = np.flatnonzero(new_level)
    level_of_sorted = np.cumsum(new_level) - 1
    level_qty = np.add.reduceat(quantity[order], starts)
    return order, level_of_sorted, k_sorted[starts], level_qty


def _fill(quantity, order, level_of_sorted, level_qty, total) -> np.ndarray:
    """Fill orders best level first up to ``total``; a partly filled level shares pro rata.

    Cumulative sums of decimal quantities carry rounding (0.1 + 0.2 > 0.3), so a
    level whose cumulative quantity reaches ``total`` within a relative 1e-9 is
    filled completely, and one that starts within it is left empty.
    """
    cum = np.cumsum(level_qty)
    before = cum - level_qty
    slack = 1e-9 * max(total, 1e-300)
    share = np.clip((total - before) / level_qty, 0.0, 1.0)
    share[cum <= total + slack] = 1.0
    share[before >= total - slack] = 0.0
    fills = np.empty_like(quantity)
    fills[order] = quantity[order] * share[level_of_sorted]
    return fills


def _interval(bid_p, bid_q, buyer_fills, ask_p, ask_q, seller_fills, tol=0.0) -> tuple[float, float]:
    """Return the interval of prices that support the given fills (see module docstring)."""
    if buyer_fills.sum() <= tol:
        return (math.nan, math.nan)
    buy_in = buyer_fills > tol
    sell_in = seller_fills > tol
    buy_left = buyer_fills < bid_q - tol
    sell_left = seller_fills < ask_q - tol
    last_accepted_bid = bid_p[buy_in].min()
    last_accepted_ask = ask_p[sell_in].max()
    best_rejected_bid = bid_p[buy_left].max() if buy_left.any() else -math.inf
    best_rejected_ask = ask_p[sell_left].min() if sell_left.any() else math.inf
    lo = max(last_accepted_ask, best_rejected_bid)
    hi = min(last_accepted_bid, best_rejected_ask)
    return (float(lo), float(hi))


def clear_double_auction(bids, asks, k: float = 0.5) -> ClearingResult:
    """Clear a uniform-price double auction by merit order.

    Parameters
    ----------
    bids, asks : array_like or pandas.DataFrame
        Buy and sell orders: a list of prices (one kWh each), or a DataFrame /
        ``(n, 2)`` array with ``price`` and ``quantity``.  See :func:`parse_orders`.
    k : float, optional
        Where in the price interval the price is set: ``lo + k (hi - lo)``.
        ``k = 0.5`` (the default) is the midpoint; ``k = 0`` favours buyers,
        ``k = 1`` sellers.

    Returns
    -------
    ClearingResult
        Price, price interval, quantity, welfare and each order's fill.  When
        nothing trades the quantity and welfare are 0 and the price is NaN.

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

    b_order, b_level_of, b_key, b_level_q = _levels(-bid_p, bid_q)  # best bid first
    a_order, a_level_of, a_key, a_level_q = _levels(ask_p, ask_q)  # best ask first
    b_cum = np.concatenate(([0.0], np.cumsum(b_level_q)))  # demand at >= each level
    a_cum = np.concatenate(([0.0], np.cumsum(a_level_q)))  # supply at <= each level

    candidates = np.concatenate((-b_key, a_key))
    demand = b_cum[np.searchsorted(b_key, -candidates, side="right")]
    supply = a_cum[np.searchsorted(a_key, candidates, side="right")]
    quantity = float(np.minimum(demand, supply).max())

    buyer_fills = _fill(bid_q, b_order, b_level_of, b_level_q, quantity)
    seller_fills = _fill(ask_q, a_order, a_level_of, a_level_q, quantity)
    return _result(bid_p, bid_q, ask_p, ask_q, buyer_fills, seller_fills, k=k, quantity=quantity)


def _result(
    bid_p, bid_q, ask_p, ask_q, buyer_fills, seller_fills, *, k, price=None, method="merit order", tol=0.0,
    quantity=None,
):
    if quantity is None:
        quantity = float(buyer_fills.sum())
    lo, hi = _interval(bid_p, bid_q, buyer_fills, ask_p, ask_q, seller_fills, tol=tol)
    if quantity <= tol:
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
        quantity=quantity,
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

    Parameters
    ----------
    bids, asks : array_like or pandas.DataFrame
        As in :func:`clear_double_auction`.
    solver : str, optional
        A cvxpy solver name.  Default: Clarabel with tolerances of 1e-11 (an
        interior-point method: when the price is not unique it returns one
        near the middle of the interval; a simplex solver such as HiGHS returns
        an end point).

    Returns
    -------
    ClearingResult
        With ``method="lp"``; ``price`` is the dual, ``price_interval`` the
        interval supported by the LP's fills, ``k`` is NaN.

    Raises
    ------
    SolverError
        If the solver fails.

    Examples
    --------
    >>> r = welfare_max_clearing([12, 10, 8], [5, 7, 9])
    >>> round(r.welfare, 6), round(r.quantity, 6)
    (10.0, 2.0)
    >>> 8.0 - 1e-6 <= r.price <= 9.0 + 1e-6
    True
    """
    bid_p, bid_q = parse_orders(bids, "bids")
    ask_p, ask_q = parse_orders(asks, "asks")
    x = cp.Variable(bid_p.size, name="buyer_fills")
    y = cp.Variable(ask_p.size, name="seller_fills")
    balance = cp.sum(y) - cp.sum(x) == 0
    problem = cp.Problem(
        cp.Maximize(bid_p @ x - ask_p @ y),
        [balance, x >= 0, x <= bid_q, y >= 0, y <= ask_q],
    )
    options = {"solver": solver} if solver is not None else dict(_TIGHT_CLARABEL)
    try:
        problem.solve(**options)
    except cp.error.SolverError as exc:
        raise SolverError(f"The welfare LP could not be solved ({exc}); try another `solver`.") from None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or balance.dual_value is None:
        raise SolverError(f"The welfare LP ended with status {problem.status!r}; try another `solver`.")
    scale = max(bid_q.max(), ask_q.max())
    tol = 1e-7 * scale
    buyer_fills = _snap(np.asarray(x.value, dtype=float), bid_q, tol)
    seller_fills = _snap(np.asarray(y.value, dtype=float), ask_q, tol)
    # cvxpy reports the dual of a maximisation's equality constraint with the
    # sign of the equivalent minimisation; negating it gives d(welfare)/d(supply).
    price = -float(balance.dual_value)
    return _result(
        bid_p, bid_q, ask_p, ask_q, buyer_fills, seller_fills, k=math.nan, price=price, method="lp", tol=tol
    )


# Clarabel (interior point) with tolerances tighter than its defaults (1e-8), so that
# fills balance and welfare matches the merit order to about 1e-10 of the market's size.
_TIGHT_CLARABEL = {"solver": "CLARABEL", "tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}


def _snap(fills: np.ndarray, quantity: np.ndarray, tol: float) -> np.ndarray:
    """Round solver noise: fills within ``tol`` of 0 or of the order size become exact."""
    fills = np.clip(fills, 0.0, quantity)
    fills[fills <= tol] = 0.0
    full = fills >= quantity - tol
    fills[full] = quantity[full]
    return fills


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


def random_orders(
    n_buyers: int, n_sellers: int, *, seed=0, divisible: bool = False, price_range=(2.0, 16.0)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw a random market for examples and exercises.

    Prices are uniform on ``price_range`` rounded to 0.5; with ``divisible`` the
    quantities are uniform on [0.5, 5] kWh rounded to 0.5, else 1 kWh each.

    Parameters
    ----------
    n_buyers, n_sellers : int
        How many orders on each side (at least 1).
    seed : int or numpy.random.Generator
        The source of randomness.
    divisible : bool
        Whether orders carry random quantities.
    price_range : tuple of float
        Lowest and highest price.

    Returns
    -------
    bids, asks : pandas.DataFrame
        With columns ``price`` and ``quantity``.

    Examples
    --------
    >>> bids, asks = random_orders(3, 2, seed=1)
    >>> list(bids.columns), len(bids), len(asks)
    (['price', 'quantity'], 3, 2)
    """
    for name, n in (("n_buyers", n_buyers), ("n_sellers", n_sellers)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {n!r}.")
    rng = np.random.default_rng(seed)
    lo, hi = price_range

    def side(n):
        price = np.round(rng.uniform(lo, hi, int(n)) * 2) / 2
        qty = np.round(rng.uniform(0.5, 5.0, int(n)) * 2) / 2 if divisible else np.ones(int(n))
        return pd.DataFrame({"price": price, "quantity": qty})

    return side(n_buyers), side(n_sellers)
