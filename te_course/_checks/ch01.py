"""Hidden checks of chapter 1, double auctions (``solutions/01_double_auction``).

The references are the package's merit-order clearing
(:func:`te_course.clear_double_auction`), itself checked against a brute force and
the LP in ``tests/test_auction.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from te_course import auction
from te_course._checks import Check, case, compare, register
from te_course._checks.plain import as_float, as_floats, as_int

AUCTION = ("clear_double_auction", "welfare_max_clearing", "settle")


def _prices(rng: np.random.Generator, low: int = 1, high: int = 30) -> list[int]:
    return rng.integers(low, high, size=int(rng.integers(1, 7))).tolist()


def _book_of_t_trades(rng: np.random.Generator) -> dict:
    """One-kWh bids and asks with exactly ``t`` trades, ``t`` drawn from 0 to 5, in random order.

    The ``t`` trading bids lie in [16, 29] and the ``t`` trading asks in [1, 15], so each of these pairs
    trades; the other bids (at most 7) and asks (at least 22) cannot trade with anything left.  Every number
    of trades is as likely, so an answer that guesses one count (a hard-coded default) fails almost surely.
    """
    t = int(rng.integers(0, 6))
    n_other = int(rng.integers(0 if t else 1, 4))  # a book without trades still has an order on each side
    bids = rng.integers(16, 30, size=t).tolist() + rng.integers(1, 8, size=n_other).tolist()
    n_other = int(rng.integers(0 if t else 1, 4))
    asks = rng.integers(1, 16, size=t).tolist() + rng.integers(22, 30, size=n_other).tolist()
    return case(rng.permutation(bids).tolist(), rng.permutation(asks).tolist())


def _trading_book(rng: np.random.Generator) -> dict:
    """One-kWh bids and asks, drawn until at least one pair trades."""
    while True:
        bids, asks = _prices(rng), _prices(rng)
        if max(bids) >= min(asks):
            return case(bids, asks)


register(Check(
    id="ex1_count_trades",
    function="count_trades",
    disabled=AUCTION,
    expected=lambda bids, asks: int(round(auction.clear_double_auction(bids, asks).quantity)),
    plain=as_int,
    fixed=[case([3], [9]), case([10, 10, 10], [1, 2, 3]), case([8], [8]), case([5, 20, 1, 14, 9], [13, 2, 8, 30]),
           case([15, 14, 13, 12], [1])],
    draw=_book_of_t_trades,
    chapter="01_double_auction",
))

register(Check(
    id="ex2_clearing_interval",
    function="clearing_interval",
    disabled=AUCTION,
    expected=lambda bids, asks: list(auction.clear_double_auction(bids, asks).price_interval),
    plain=lambda r: as_floats(r, shape=(2,)),
    fixed=[case([12, 10], [5, 7, 9]), case([5, 20, 1, 14, 9], [13, 2, 8, 30]), case([15, 14, 13, 12], [1]),
           case([10, 10], [9, 12])],
    draw=_trading_book,
    chapter="01_double_auction",
))


def _k_price_call(function, lo, hi, k) -> object:
    if 0 <= k <= 1:
        return function(lo, hi, k)
    try:
        function(lo, hi, k)
    except ValueError:
        return "raises ValueError"
    return "does not raise ValueError"


def _draw_k(rng: np.random.Generator) -> dict:
    lo = int(rng.integers(0, 20))
    hi = lo + int(rng.integers(0, 10))
    k = float(rng.choice([rng.uniform(0, 1), rng.uniform(1.01, 3), -rng.uniform(0.01, 2)]))
    return case(lo, hi, round(k, 3))


register(Check(
    id="ex3_k_price",
    function="k_price",
    disabled=(),
    expected=lambda lo, hi, k: (1 - k) * lo + k * hi if 0 <= k <= 1 else "raises ValueError",
    plain=lambda r: r if isinstance(r, str) else as_float(r),
    fixed=[case(7, 9, 0.25), case(9, 13, 1), case(10, 10, 0.3), case(0, 1, -0.1), case(0, 1, 2)],
    draw=_draw_k,
    call=_k_price_call,
    chapter="01_double_auction",
))

register(Check(
    id="ex4_welfare",
    function="welfare",
    disabled=AUCTION,
    expected=lambda bids, asks: auction.clear_double_auction(bids, asks).welfare,
    plain=as_float,
    fixed=[case([5, 20, 1, 14, 9], [13, 2, 8, 30]), case([15, 14, 13, 12], [1]), case([10, 10, 10], [1, 2, 3]),
           case([8], [8])],
    draw=lambda rng: case(_prices(rng), _prices(rng)),
    chapter="01_double_auction",
))


def _lp_expected(bid_prices, bid_quantities, ask_prices, ask_quantities) -> object:
    r = auction.clear_double_auction(pd.DataFrame({"price": bid_prices, "quantity": bid_quantities}),
                                     pd.DataFrame({"price": ask_prices, "quantity": ask_quantities}))
    return {"welfare": r.welfare, "interval": list(r.price_interval)}


def _lp_compare(got, want) -> str | None:
    """Check the welfare; accept as the price any point of the clearing interval (the dual is not unique)."""
    why = compare(got[0], want["welfare"], atol=1e-5, where="the welfare")
    if why:
        return why
    lo, hi = want["interval"]
    if not lo - 1e-5 <= got[1] <= hi + 1e-5:
        return f"the price {got[1]!r} lies outside the clearing interval [{lo}, {hi}]"
    return None


def _draw_lp(rng: np.random.Generator) -> dict:
    while True:
        nb, na = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        bp, ap = rng.integers(1, 30, nb).tolist(), rng.integers(1, 30, na).tolist()
        if max(bp) > min(ap):
            return case(bp, rng.integers(1, 6, nb).tolist(), ap, rng.integers(1, 6, na).tolist())


register(Check(
    id="ex5_lp_clearing",
    function="lp_clearing",
    disabled=AUCTION,
    expected=_lp_expected,
    plain=lambda r: as_floats(r, shape=(2,)),
    fixed=[case([12, 10], [2, 3], [5, 7, 9], [1, 2, 5]), case([10], [4], [4, 6, 8], [1, 2, 2]),
           case([15, 11], [2, 4], [3, 6], [3, 1])],
    draw=_draw_lp,
    n_random=4,
    compare=_lp_compare,
    chapter="01_double_auction",
))


def _draw_fills(rng: np.random.Generator) -> dict:
    buyers = rng.integers(0, 4, int(rng.integers(1, 5))).tolist()
    sellers = rng.integers(0, 4, int(rng.integers(1, 5))).tolist()
    return case(buyers, sellers, round(float(rng.uniform(1, 20)), 2))


register(Check(
    id="ex6_uniform_payments",
    function="uniform_payments",
    disabled=("settle",),
    expected=lambda buyer_fills, seller_fills, price: ([price * q for q in buyer_fills]
                                                       + [-price * q for q in seller_fills]),
    plain=as_floats,
    fixed=[case([2, 0.5], [1, 1.5], 4), case([0], [0, 0], 7)],
    draw=_draw_fills,
    chapter="01_double_auction",
))
