"""Tests of te_course.auction against independent references.

The references are written here, not taken from the package:

- the course's seed example, worked by hand;
- brute force over every matching (unit markets) and over every pair of equal-sized
  sets of traded units (divisible markets with integer quantities, expanded into unit
  orders; the welfare LP has a totally unimodular constraint matrix, so with integer
  quantities an integral optimum exists and unit expansion loses nothing);
- for larger random markets, the textbook optimum of a unit market: trade the ``n``
  best bids against the ``n`` best asks and pick the best ``n`` (cross-checked
  against the brute force below);
- the value function ``W(d)`` of the welfare problem with ``d`` kWh of free extra
  supply, solved with scipy's HiGHS (``scipy.optimize.linprog``), not with cvxpy:
  its one-sided slopes at ``d = 0`` bound every shadow price.
"""

import itertools
import math
import re
from fractions import Fraction

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import te_course as tc
from te_course import ClearingResult, Settlement, SolverError, TeCourseError
from te_course.auction import (
    OrderBooks,
    Orders,
    clear_double_auction,
    parse_orders,
    random_orders,
    settle,
    welfare_max_clearing,
)

SEED_BIDS = [12, 10, 8]
SEED_ASKS = [5, 7, 9]
CLEARERS = [clear_double_auction, welfare_max_clearing]

# Hypothesis: no example database on disk, no deadline (the first cvxpy call compiles).
MERIT_SETTINGS = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
LP_SETTINGS = settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- references


def unit_expand(prices, quantities):
    """One unit order per kWh of an order with an integer quantity."""
    units = []
    for p, q in zip(prices, quantities):
        assert float(q).is_integer(), "unit expansion needs integer quantities"
        units.extend([float(p)] * int(q))
    return units


def brute_force_matchings(bid_prices, ask_prices):
    """Best welfare over every matching of unit buyers to unit sellers.

    Returns ``(welfare, volume)`` with the largest volume among the best matchings.
    """
    best, best_volume = 0.0, 0
    buyers, sellers = range(len(bid_prices)), range(len(ask_prices))
    for size in range(min(len(buyers), len(sellers)) + 1):
        for chosen_buyers in itertools.combinations(buyers, size):
            for chosen_sellers in itertools.permutations(sellers, size):
                welfare = sum(bid_prices[b] - ask_prices[s] for b, s in zip(chosen_buyers, chosen_sellers))
                if welfare > best or (welfare == best and size > best_volume):
                    best, best_volume = welfare, size
    return best, best_volume


def brute_force_subsets(bid_units, ask_units):
    """Best welfare over every pair (set of traded bid units, set of traded ask units) of equal size."""
    best, best_volume = 0.0, 0
    for size in range(min(len(bid_units), len(ask_units)) + 1):
        for traded_bids in itertools.combinations(bid_units, size):
            for traded_asks in itertools.combinations(ask_units, size):
                welfare = sum(traded_bids) - sum(traded_asks)
                if welfare > best or (welfare == best and size > best_volume):
                    best, best_volume = welfare, size
    return best, best_volume


def sorted_unit_optimum(bid_units, ask_units):
    """Trade the n highest unit bids with the n lowest unit asks; best welfare and the largest best n."""
    best, best_volume, welfare = 0.0, 0, 0.0
    for size, (b, a) in enumerate(zip(sorted(bid_units, reverse=True), sorted(ask_units)), start=1):
        welfare += b - a
        if welfare >= best:
            best, best_volume = welfare, size
    return best, best_volume


def welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, d):
    """W(d): the largest welfare when ``d`` kWh of free supply must be absorbed (``d < 0``: removed).

    Balance: sum(buyer fills) - sum(seller fills) = d.  Solved with scipy's HiGHS.
    """
    bid_p, bid_q, ask_p, ask_q = (np.asarray(v, dtype=float) for v in (bid_p, bid_q, ask_p, ask_q))
    cost = np.concatenate((-bid_p, ask_p))  # linprog minimises
    balance = np.concatenate((np.ones(bid_p.size), -np.ones(ask_p.size)))[None, :]
    bounds = [(0.0, q) for q in np.concatenate((bid_q, ask_q))]
    out = linprog(cost, A_eq=balance, b_eq=[d], bounds=bounds, method="highs")
    assert out.status == 0, out.message
    return -out.fun


def shadow_price_bounds(bid_p, bid_q, ask_p, ask_q, d=0.25):
    """One-sided slopes of W at 0: (W(0) - W(-d)) / d >= every shadow price >= (W(d) - W(0)) / d."""
    w0 = welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, 0.0)
    right = (welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, d) - w0) / d
    left = (w0 - welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, -d)) / d
    return right, left


def price_and_quantity(orders):
    """A list of prices (1 kWh each) or of (price, quantity) pairs, as two float arrays."""
    arr = np.array(orders, dtype=float)
    if arr.ndim == 1:
        return arr, np.ones_like(arr)
    return arr[:, 0], arr[:, 1]


def as_input(book, form):
    """Write an (n, 2) array of (price, quantity) as a student might: pairs, DataFrame, array, or prices."""
    if form == "pairs":
        return [(float(p), float(q)) for p, q in book]
    if form == "frame":
        return pd.DataFrame({"price": book[:, 0], "quantity": book[:, 1], "trader": np.arange(len(book))})
    if form == "array":
        return book.copy()
    if form == "prices":
        assert np.all(book[:, 1] == 1.0)
        return list(book[:, 0])
    raise AssertionError(form)


def assert_clearing_invariants(r, bid_p, bid_q, ask_p, ask_q, tol):
    """Feasibility and the uniform price's supporting conditions, each checked directly on the orders."""
    bf, sf = r.buyer_fills, r.seller_fills
    assert bf.shape == bid_p.shape and sf.shape == ask_p.shape
    assert np.all(bf >= -tol) and np.all(bf <= bid_q + tol)
    assert np.all(sf >= -tol) and np.all(sf <= ask_q + tol)
    assert math.isclose(bf.sum(), sf.sum(), abs_tol=tol)
    assert math.isclose(bf.sum(), r.quantity, abs_tol=tol)
    assert math.isclose(r.welfare, bid_p @ bf - ask_p @ sf, abs_tol=tol)
    if r.quantity <= tol:
        assert math.isnan(r.price) and all(math.isnan(v) for v in r.price_interval)
        return
    lo, hi = r.price_interval
    price = r.price
    assert lo <= hi + tol
    assert lo - tol <= price <= hi + tol
    # Every filled buyer bids at least the price, every filled seller asks at most the price.
    assert np.all(bid_p[bf > tol] >= price - tol)
    assert np.all(ask_p[sf > tol] <= price + tol)
    # Nobody with quantity left over would rather trade at the price.
    assert np.all(bid_p[bf < bid_q - tol] <= price + tol)
    assert np.all(ask_p[sf < ask_q - tol] >= price - tol)


def books(max_orders=8, max_quantity=4):
    """A side of a market: (price, quantity) rows, half-integer prices (frequent ties), integer quantities."""
    prices = st.integers(-2, 16).map(lambda v: v / 2)
    quantities = st.integers(1, max_quantity)
    rows = st.lists(st.tuples(prices, quantities), min_size=1, max_size=max_orders)
    return rows.map(lambda r: np.array(r, dtype=float))


def lp_tolerance(bids, asks):
    """How close the welfare LP's numbers are expected to be: 1e-6 of the market's gross value (at least 1e-6).

    Interior-point solvers (cvxpy's default for an LP is Clarabel) meet the energy balance only to
    about 1e-7 kWh, so the welfare and the budget carry an error that grows with prices and sizes.
    """
    (bid_p, bid_q), (ask_p, ask_q) = price_and_quantity(bids), price_and_quantity(asks)
    gross = np.abs(bid_p) @ bid_q + np.abs(ask_p) @ ask_q
    return 1e-6 * max(1.0, gross)


# --------------------------------------------------------------------------- the seed example


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        (SEED_BIDS, SEED_ASKS),
        (np.array(SEED_BIDS), tuple(SEED_ASKS)),
        (pd.Series(SEED_BIDS), pd.Series(SEED_ASKS, dtype=float)),
        (
            pd.DataFrame({"price": SEED_BIDS, "quantity": [1, 1, 1]}),
            pd.DataFrame({"price": SEED_ASKS, "quantity": [1.0, 1.0, 1.0]}),
        ),
        (pd.DataFrame({"price": SEED_BIDS}), pd.DataFrame({"name": ["a", "b", "c"], "price": SEED_ASKS})),
        (np.array([[12, 1], [10, 1], [8, 1]]), np.array([[5.0, 1.0], [7.0, 1.0], [9.0, 1.0]])),
        ([(12, 1), (10, 1), (8, 1)], [[5, 1], [7, 1], [9, 1]]),
    ],
    ids=["lists", "array+tuple", "series", "frames", "frames-price-only", "n-by-2-arrays", "pairs"],
)
def test_seed_example(bids, asks):
    r = clear_double_auction(bids, asks)
    assert isinstance(r, ClearingResult)
    assert r.quantity == 2.0
    assert r.price_interval == (8.0, 9.0)
    assert r.price == 8.5
    assert r.k == 0.5
    assert r.welfare == 10.0  # (12 - 5) + (10 - 7)
    np.testing.assert_array_equal(r.buyer_fills, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(r.seller_fills, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(r.bid_prices, [12.0, 10.0, 8.0])
    np.testing.assert_array_equal(r.ask_quantities, [1.0, 1.0, 1.0])
    assert r.method == "merit order"


@pytest.mark.parametrize(("k", "price"), [(0, 8.0), (0.0, 8.0), (1, 9.0), (0.25, 8.25), (0.5, 8.5), (0.75, 8.75)])
def test_seed_example_k_rule(k, price):
    r = clear_double_auction(SEED_BIDS, SEED_ASKS, k=k)
    assert r.price == price
    assert r.k == k
    assert r.price_interval == (8.0, 9.0)  # the interval does not depend on k


def test_seed_example_is_reexported():
    r = tc.clear_double_auction(SEED_BIDS, SEED_ASKS)
    assert (r.quantity, r.price, r.welfare) == (2.0, 8.5, 10.0)


def test_seed_example_in_shuffled_order():
    # The fills follow the input positions, not the sorted order.
    r = clear_double_auction([8, 12, 10], [9, 5, 7])
    np.testing.assert_array_equal(r.buyer_fills, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(r.seller_fills, [0.0, 1.0, 1.0])
    assert (r.quantity, r.price_interval, r.welfare) == (2.0, (8.0, 9.0), 10.0)


def test_seed_example_lp():
    r = welfare_max_clearing(SEED_BIDS, SEED_ASKS)
    assert r.method == "lp"
    assert math.isnan(r.k)
    assert math.isclose(r.welfare, 10.0, abs_tol=1e-6)
    assert math.isclose(r.quantity, 2.0, abs_tol=1e-6)
    np.testing.assert_allclose(r.buyer_fills, [1.0, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(r.seller_fills, [1.0, 1.0, 0.0], atol=1e-6)
    assert 8.0 - 1e-6 <= r.price <= 9.0 + 1e-6
    assert r.price_interval == (8.0, 9.0)


def test_divisible_example_by_hand():
    # Demand: 3 kWh at 11, 2 kWh at 9, 4 kWh at 6.  Supply: 2 kWh at 4, 3 kWh at 7, 5 kWh at 10.
    # Trades: 2 kWh 11/4, 1 kWh 11/7, 2 kWh 9/7 (seller at 7 fully used), then 6 < 10: stop.
    bids = pd.DataFrame({"price": [9.0, 11.0, 6.0], "quantity": [2.0, 3.0, 4.0]})
    asks = [(10.0, 5.0), (4.0, 2.0), (7.0, 3.0)]
    r = clear_double_auction(bids, asks)
    assert r.quantity == 5.0
    np.testing.assert_array_equal(r.buyer_fills, [2.0, 3.0, 0.0])
    np.testing.assert_array_equal(r.seller_fills, [0.0, 2.0, 3.0])
    assert r.welfare == 2 * 9 + 3 * 11 - 2 * 4 - 3 * 7
    # lo = max(last accepted ask 7, best rejected bid 6); hi = min(last accepted bid 9, best rejected ask 10).
    assert r.price_interval == (7.0, 9.0)
    assert r.price == 8.0


# --------------------------------------------------------------------------- marginal orders


def test_marginal_buyer_partly_filled_sets_the_price():
    r = clear_double_auction([(10, 1), (7, 3)], [(3, 2)])
    np.testing.assert_array_equal(r.buyer_fills, [1.0, 1.0])
    assert r.price_interval == (7.0, 7.0)
    assert r.price == 7.0


def test_marginal_seller_partly_filled_sets_the_price():
    r = clear_double_auction([(10, 2)], [(4, 1), (6, 3)])
    np.testing.assert_array_equal(r.seller_fills, [1.0, 1.0])
    assert r.price_interval == (6.0, 6.0)
    assert r.price == 6.0


@pytest.mark.parametrize(
    ("bids", "fills"),
    [
        ([(10, 1), (8, 1), (8, 3)], [1.0, 0.5, 1.5]),
        ([(8, 3), (10, 1), (8, 1)], [1.5, 1.0, 0.5]),  # position in the input does not matter
        ([(8, 1), (8, 1), (8, 1), (10, 1)], [2 / 3, 2 / 3, 2 / 3, 1.0]),
    ],
)
def test_equal_priced_marginal_bids_share_pro_rata(bids, fills):
    r = clear_double_auction(bids, [(2, 3)])
    np.testing.assert_allclose(r.buyer_fills, fills, rtol=1e-12)
    assert math.isclose(r.quantity, 3.0)
    assert r.price_interval == (8.0, 8.0)


def test_equal_priced_marginal_asks_share_pro_rata():
    r = clear_double_auction([(20, 4)], [(5, 1), (6, 1), (5, 2), (3, 1)])
    # 4 kWh: the ask at 3 first, then the level at 5 (3 kWh in all) fully; 6 does not trade.
    np.testing.assert_array_equal(r.seller_fills, [1.0, 0.0, 2.0, 1.0])
    r = clear_double_auction([(20, 3)], [(5, 1), (6, 1), (5, 2), (3, 1)])
    # 3 kWh: 1 at price 3, then 2 of the 3 kWh asked at 5, pro rata.
    np.testing.assert_allclose(r.seller_fills, [2 / 3, 0.0, 4 / 3, 1.0], rtol=1e-12)
    assert r.price_interval == (5.0, 5.0)


def test_zero_surplus_trades_are_included():
    # Bid equals ask: the welfare is the same with or without the trade; the merit order takes it.
    r = clear_double_auction([10], [10])
    assert (r.quantity, r.welfare, r.price_interval, r.price) == (1.0, 0.0, (10.0, 10.0), 10.0)


def test_negative_prices():
    r = clear_double_auction([-1, -3], [-5, -2])
    # -1 vs -5 trades (welfare 4); -3 vs -2 would lose 1.
    assert (r.quantity, r.welfare) == (1.0, 4.0)
    assert r.price_interval == (-3.0, -2.0)  # lo: best rejected bid -3; hi: best rejected ask -2
    assert r.price == -2.5


@pytest.mark.parametrize(
    ("bids", "asks", "interval"),
    [
        ([(10, 0.1), (9, 0.2)], [(5, 0.3)], (5.0, 9.0)),
        ([(10, 0.3)], [(5, 0.1), (6, 0.2)], (6.0, 10.0)),
    ],
    ids=["buyer-side", "seller-side"],
)
def test_decimal_quantities_that_match_exactly(bids, asks, interval):
    # Everybody trades in full: no order is marginal, so the interval is bounded only by the
    # last accepted bid and the last accepted ask (by hand).
    r = clear_double_auction(bids, asks)
    np.testing.assert_allclose(r.buyer_fills, [q for _, q in bids])
    np.testing.assert_allclose(r.seller_fills, [q for _, q in asks])
    assert r.price_interval == pytest.approx(interval)
    assert r.price == pytest.approx(sum(interval) / 2)


# --------------------------------------------------------------------------- no trade


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize(("bids", "asks"), [([3], [9]), ([3, 2, 1], [(9, 4), (3.5, 1)])])
def test_no_trade(clear, bids, asks):
    r = clear(bids, asks)
    assert r.quantity == 0.0
    assert r.welfare == 0.0
    assert math.isnan(r.price)
    assert len(r.price_interval) == 2 and all(math.isnan(v) for v in r.price_interval)
    assert np.all(r.buyer_fills == 0.0) and np.all(r.seller_fills == 0.0)


# --------------------------------------------------------------------------- brute force, small markets

unit_sides = st.lists(st.integers(-2, 16).map(lambda v: v / 2), min_size=1, max_size=5)


@MERIT_SETTINGS
@given(bids=unit_sides, asks=unit_sides)
def test_unit_market_matches_brute_force_over_matchings(bids, asks):
    best, best_volume = brute_force_matchings(bids, asks)
    r = clear_double_auction(bids, asks)
    assert math.isclose(r.welfare, best, abs_tol=1e-9)
    # Among the welfare-maximising volumes, the merit order trades the largest one
    # (up to rounding: pro rata shares such as 2/3 do not add up exactly).
    assert math.isclose(r.quantity, best_volume, abs_tol=1e-9)


@LP_SETTINGS
@given(bids=unit_sides, asks=unit_sides)
def test_unit_market_lp_matches_brute_force_over_matchings(bids, asks):
    best, _ = brute_force_matchings(bids, asks)
    assert math.isclose(welfare_max_clearing(bids, asks).welfare, best, abs_tol=lp_tolerance(bids, asks))


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([12, 10, 8], [5, 7, 9]),
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),
        ([5, 5, 5, 5, 5], [5, 5, 5]),
        ([10, 9, 9, 2], [3, 3, 9, 9, 11]),
        ([0.5], [7, 0, 0.5, 3, 0]),
        ([-2, 4, 4.5, 1], [4.5, -1, 4, 2]),
    ],
)
def test_unit_market_examples_match_brute_force(clear, bids, asks):
    best, _ = brute_force_matchings(bids, asks)
    assert math.isclose(clear(bids, asks).welfare, best, abs_tol=1e-6)


@MERIT_SETTINGS
@given(bids=unit_sides, asks=unit_sides)
def test_welfare_depends_on_who_trades_not_on_the_pairing(bids, asks):
    """Chapter 1, section 2: every pairing of the same traded buyers and sellers has the same welfare."""
    r = clear_double_auction(bids, asks)
    if r.quantity == 0 or not (np.isin(r.buyer_fills, (0, 1)).all() and np.isin(r.seller_fills, (0, 1)).all()):
        return  # nothing trades, or equal-priced marginal orders share a kWh pro rata
    traded_bids = [b for b, x in zip(bids, r.buyer_fills) if x == 1]
    traded_asks = [a for a, y in zip(asks, r.seller_fills) if y == 1]
    pairings = {sum(b - a for b, a in zip(traded_bids, perm)) for perm in itertools.permutations(traded_asks)}
    assert max(pairings) - min(pairings) < 1e-9
    assert math.isclose(min(pairings), r.welfare, abs_tol=1e-9)


@MERIT_SETTINGS
@given(bids=unit_sides, asks=unit_sides)
def test_marginal_gains_fall_and_the_sorted_sets_are_best_for_every_volume(bids, asks):
    """Chapter 1, section 2: b_k - s_k falls with k, and the k best bids and asks beat any other k of each."""
    b, a = sorted(bids, reverse=True), sorted(asks)
    gains = [bk - sk for bk, sk in zip(b, a)]
    assert all(g1 >= g2 for g1, g2 in zip(gains, gains[1:]))
    for k in range(len(gains) + 1):
        subsets = itertools.product(itertools.combinations(bids, k), itertools.combinations(asks, k))
        best_k = max(sum(traded_bids) - sum(traded_asks) for traded_bids, traded_asks in subsets)
        assert math.isclose(best_k, sum(gains[:k]), abs_tol=1e-9)
    # so the welfare peaks where the gains turn negative: at the merit order's volume
    trades = sum(g >= 0 for g in gains)
    assert math.isclose(clear_double_auction(bids, asks).welfare, sum(gains[:trades]), abs_tol=1e-9)


@MERIT_SETTINGS
@given(bids=books(max_orders=3, max_quantity=3), asks=books(max_orders=3, max_quantity=3))
def test_divisible_market_matches_brute_force_on_units(bids, asks):
    bid_units, ask_units = unit_expand(bids[:, 0], bids[:, 1]), unit_expand(asks[:, 0], asks[:, 1])
    best, best_volume = brute_force_subsets(bid_units, ask_units)
    r = clear_double_auction(bids, asks)
    assert math.isclose(r.welfare, best, abs_tol=1e-9)
    assert math.isclose(r.quantity, best_volume, abs_tol=1e-9)
    lp = welfare_max_clearing(bids, asks)
    assert math.isclose(lp.welfare, best, abs_tol=lp_tolerance(bids, asks))


@MERIT_SETTINGS
@given(bids=books(max_orders=4, max_quantity=2), asks=books(max_orders=4, max_quantity=2))
def test_sorted_reference_agrees_with_brute_force(bids, asks):
    # The reference used on larger markets below is itself checked against exhaustive search.
    bid_units, ask_units = unit_expand(bids[:, 0], bids[:, 1]), unit_expand(asks[:, 0], asks[:, 1])
    assert sorted_unit_optimum(bid_units, ask_units) == brute_force_subsets(bid_units, ask_units)


# --------------------------------------------------------------------------- properties on random markets

forms = st.sampled_from(["pairs", "frame", "array"])
ks = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))


@MERIT_SETTINGS
@given(bids=books(), asks=books(), bid_form=forms, ask_form=forms, k=ks)
def test_merit_order_properties(bids, asks, bid_form, ask_form, k):
    bid_p, bid_q, ask_p, ask_q = bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1]
    r = clear_double_auction(as_input(bids, bid_form), as_input(asks, ask_form), k=k)
    np.testing.assert_array_equal(r.bid_prices, bid_p)
    np.testing.assert_array_equal(r.ask_quantities, ask_q)
    assert_clearing_invariants(r, bid_p, bid_q, ask_p, ask_q, tol=1e-9)

    best, best_volume = sorted_unit_optimum(unit_expand(bid_p, bid_q), unit_expand(ask_p, ask_q))
    assert math.isclose(r.welfare, best, rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(r.quantity, best_volume, abs_tol=1e-9)

    if r.quantity > 0:
        lo, hi = r.price_interval
        assert math.isclose(r.price, lo + k * (hi - lo), abs_tol=1e-12)
    # Equal-priced orders on one side are filled in the same proportion (pro rata).
    for prices, quantities, fills in ((bid_p, bid_q, r.buyer_fills), (ask_p, ask_q, r.seller_fills)):
        for p in np.unique(prices):
            at_p = prices == p
            ratios = fills[at_p] / quantities[at_p]
            np.testing.assert_allclose(ratios, ratios[0], rtol=0, atol=1e-12)


@MERIT_SETTINGS
@given(bids=books(), asks=books())
def test_price_interval_is_the_range_of_shadow_prices(bids, asks):
    # [lo, hi] = [W'(0+), W'(0-)]: lo is what one more free kWh is worth, hi what the last kWh is worth.
    bid_p, bid_q, ask_p, ask_q = bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1]
    r = clear_double_auction(bids, asks)
    if r.quantity == 0:
        return
    right, left = shadow_price_bounds(bid_p, bid_q, ask_p, ask_q)
    assert r.price_interval == pytest.approx((right, left), abs=1e-6)


@MERIT_SETTINGS
@given(
    bids=st.lists(st.integers(0, 12), min_size=1, max_size=8), asks=st.lists(st.integers(0, 12), min_size=1, max_size=8)
)
def test_unit_market_properties(bids, asks):
    r = clear_double_auction(bids, asks)
    bid_p, ask_p = np.array(bids, dtype=float), np.array(asks, dtype=float)
    assert_clearing_invariants(r, bid_p, np.ones_like(bid_p), ask_p, np.ones_like(ask_p), tol=1e-9)
    # Pro rata shares such as 1/3 make the welfare inexact in floating point.
    assert math.isclose(r.welfare, sorted_unit_optimum(bids, asks)[0], abs_tol=1e-9)


@LP_SETTINGS
@given(bids=books(), asks=books(), bid_form=forms, ask_form=forms)
def test_lp_agrees_with_merit_order(bids, asks, bid_form, ask_form):
    bid_p, bid_q, ask_p, ask_q = bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1]
    lp = welfare_max_clearing(as_input(bids, bid_form), as_input(asks, ask_form))
    mo = clear_double_auction(bids, asks)
    assert lp.method == "lp" and math.isnan(lp.k)
    assert_clearing_invariants(lp, bid_p, bid_q, ask_p, ask_q, tol=1e-6)
    # abs_tol 1e-6 for small markets; see lp_tolerance and test_lp_fills_balance_exactly.
    assert math.isclose(lp.welfare, mo.welfare, abs_tol=lp_tolerance(bids, asks))
    if lp.quantity > 1e-6:
        lo, hi = mo.price_interval
        assert lo - 1e-6 <= lp.price <= hi + 1e-6
        own_lo, own_hi = lp.price_interval
        assert own_lo - 1e-6 <= lp.price <= own_hi + 1e-6
        # The prices that support an efficient allocation are the same for every efficient
        # allocation (they are the LP's dual solutions), so both intervals coincide.
        assert lp.price_interval == pytest.approx(mo.price_interval, abs=1e-6)


def test_lp_fills_balance_exactly():
    # Found by hypothesis.  By hand: 4 kWh bid at 6 and 3 kWh at 5.5 against 6 kWh asked at 0.5;
    # 4 kWh at 6 and 2 of the 3 kWh at 5.5 trade: welfare 4 * 5.5 + 2 * 5 = 32, price 5.5.
    bids = np.array([(0.0, 1), (0.0, 1), (5.5, 3), (6.0, 1), (6.0, 3)], dtype=float)
    asks = np.array([(0.5, 2), (0.5, 4)], dtype=float)
    lp = welfare_max_clearing(bids, asks)
    assert math.isclose(lp.price, 5.5, abs_tol=1e-6)
    assert math.isclose(lp.welfare, 32.0, abs_tol=1e-6)
    assert math.isclose(lp.buyer_fills.sum(), lp.seller_fills.sum(), abs_tol=1e-9)


# --------------------------------------------------------------------------- the LP's dual by finite differences


@pytest.mark.parametrize(
    ("bids", "asks", "exact"),
    [
        (SEED_BIDS, SEED_ASKS, None),  # the price is anywhere in [8, 9]
        ([(10, 2)], [(4, 1), (6, 3)], 6.0),  # marginal seller partly filled: the price is its ask
        ([(10, 1), (7, 3)], [(3, 2)], 7.0),  # marginal buyer partly filled: the price is its bid
        ([(-1, 2), (3, 1)], [(-4, 2), (0, 1)], -1.0),  # negative price: a sign error would show
        ([(9, 2.5), (12, 1.5)], [(2, 1.0), (5, 2.0), (11, 4)], 9.0),
        ([(10, 1)], [(5, 1)], None),
    ],
    ids=["seed", "marginal-seller", "marginal-buyer", "negative", "fractional", "single-pair"],
)
@pytest.mark.parametrize("solver", [None, "CLARABEL", "HIGHS", "SCIPY"])
def test_lp_price_is_the_welfare_gain_of_free_supply(bids, asks, exact, solver):
    # cvxpy's sign convention for the dual of an equality constraint must not depend on the solver.
    bid_p, bid_q = price_and_quantity(bids)
    ask_p, ask_q = price_and_quantity(asks)
    price = welfare_max_clearing(bids, asks, solver=solver).price
    w0 = welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, 0.0)
    for d in (0.01, 0.1):
        w_plus = welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, d)
        w_minus = welfare_with_free_supply(bid_p, bid_q, ask_p, ask_q, -d)
        # W is concave in d, so any shadow price p satisfies W(d) - W(0) <= p d <= W(0) - W(-d).
        assert w_plus - w0 <= price * d + 1e-7
        assert w0 - w_minus >= price * d - 1e-7
        if exact is not None:
            # Both one-sided slopes equal the marginal order's price: the dual is unique.
            assert math.isclose(w_plus - w0, exact * d, abs_tol=1e-7)
            assert math.isclose(w0 - w_minus, exact * d, abs_tol=1e-7)
    if exact is not None:
        assert math.isclose(price, exact, abs_tol=1e-6)


@LP_SETTINGS
@given(bids=books(), asks=books())
def test_lp_price_within_finite_difference_bounds(bids, asks):
    bid_p, bid_q, ask_p, ask_q = bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1]
    lp = welfare_max_clearing(bids, asks)
    if lp.quantity <= 1e-6:
        return
    right, left = shadow_price_bounds(bid_p, bid_q, ask_p, ask_q)
    assert right - 1e-6 <= lp.price <= left + 1e-6


def test_lp_unknown_solver():
    # a solver the user names is checked before anything is built: a ValueError naming the argument
    with pytest.raises(ValueError, match=r"`solver` 'NO_SUCH_SOLVER' is not an installed cvxpy solver"):
        welfare_max_clearing(SEED_BIDS, SEED_ASKS, solver="NO_SUCH_SOLVER")
    with pytest.raises(TypeError, match=r"`solver` must be a cvxpy solver name"):
        welfare_max_clearing(SEED_BIDS, SEED_ASKS, solver=3)


def test_lp_solver_that_fails(monkeypatch):
    def fail(self, *args, **kwargs):
        raise cp.error.SolverError("boom")

    monkeypatch.setattr("te_course.auction.cp.Problem.solve", fail)
    with pytest.raises(SolverError, match=r"The solver CLARABEL failed on the welfare LP \(boom\); try another "):
        welfare_max_clearing(SEED_BIDS, SEED_ASKS)


def test_lp_solver_without_solution(monkeypatch):
    # A solver that returns without a solution (status None): the status is reported in words.
    monkeypatch.setattr("te_course.auction.cp.Problem.solve", lambda self, *args, **kwargs: None)
    with pytest.raises(SolverError, match=r"The solver CLARABEL stopped on the welfare LP with status None; try "):
        welfare_max_clearing(SEED_BIDS, SEED_ASKS)


def test_solver_error_is_a_value_error():
    assert issubclass(SolverError, TeCourseError) and issubclass(SolverError, ValueError)


# --------------------------------------------------------------------------- settlement


def test_settle_seed_example_uniform():
    s = settle(clear_double_auction(SEED_BIDS, SEED_ASKS), SEED_BIDS, SEED_ASKS)
    assert isinstance(s, Settlement)
    assert s.pricing == "uniform"
    np.testing.assert_array_equal(s.payments, [8.5, 8.5, 0.0, -8.5, -8.5, 0.0])
    np.testing.assert_array_equal(s.buyer_payments, [8.5, 8.5, 0.0])
    np.testing.assert_array_equal(s.seller_payments, [-8.5, -8.5, 0.0])
    np.testing.assert_array_equal(s.buyer_surplus, [3.5, 1.5, 0.0])  # 12 - 8.5, 10 - 8.5
    np.testing.assert_array_equal(s.seller_surplus, [3.5, 1.5, 0.0])  # 8.5 - 5, 8.5 - 7
    assert s.budget == 0.0


def test_settle_seed_example_pay_as_bid():
    s = settle(clear_double_auction(SEED_BIDS, SEED_ASKS), SEED_BIDS, SEED_ASKS, pricing="pay_as_bid")
    np.testing.assert_array_equal(s.payments, [12.0, 10.0, 0.0, -5.0, -7.0, 0.0])
    np.testing.assert_array_equal(s.buyer_surplus, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(s.seller_surplus, [0.0, 0.0, 0.0])
    assert s.budget == 10.0


def test_settle_no_trade_pays_nothing():
    r = clear_double_auction([3], [9])
    for pricing in ("uniform", "pay_as_bid"):
        s = settle(r, [3], [9], pricing=pricing)
        np.testing.assert_array_equal(s.payments, [0.0, 0.0])
        assert s.budget == 0.0
        assert not np.isnan(s.payments).any()


@MERIT_SETTINGS
@given(bids=books(), asks=books(), k=ks, use_lp=st.booleans())
def test_settlement_properties(bids, asks, k, use_lp):
    bid_p, ask_p = bids[:, 0], asks[:, 0]
    r = welfare_max_clearing(bids, asks) if use_lp else clear_double_auction(bids, asks, k=k)
    tol = lp_tolerance(bids, asks) if use_lp else 1e-9

    s = settle(r, bids, asks)
    if r.quantity > 0:
        np.testing.assert_allclose(s.buyer_payments, r.price * r.buyer_fills, atol=tol)
        np.testing.assert_allclose(s.seller_payments, -r.price * r.seller_fills, atol=tol)
    np.testing.assert_array_equal(s.payments, np.concatenate((s.buyer_payments, s.seller_payments)))
    if r.price > 0:
        assert np.all(s.buyer_payments >= 0) and np.all(s.seller_payments <= 0)
    # Uniform price: budget balanced (the LP's fills balance only up to the solver's tolerance).
    assert math.isclose(s.budget, 0.0, abs_tol=tol)
    # Individual rationality: nobody loses by taking part at the uniform price.
    assert np.all(s.buyer_surplus >= -tol) and np.all(s.seller_surplus >= -tol)
    np.testing.assert_allclose(s.buyer_surplus, (bid_p - np.nan_to_num(r.price)) * r.buyer_fills, atol=tol)
    np.testing.assert_allclose(s.seller_surplus, (np.nan_to_num(r.price) - ask_p) * r.seller_fills, atol=tol)
    assert math.isclose(s.buyer_surplus.sum() + s.seller_surplus.sum(), r.welfare, abs_tol=tol)

    p = settle(r, bids, asks, pricing="pay_as_bid")
    assert p.pricing == "pay_as_bid"
    assert math.isclose(p.budget, r.welfare, abs_tol=tol)  # the platform keeps the whole welfare
    np.testing.assert_allclose(p.buyer_payments, bid_p * r.buyer_fills)
    np.testing.assert_allclose(p.seller_payments, -ask_p * r.seller_fills)
    np.testing.assert_allclose(np.r_[p.buyer_surplus, p.seller_surplus], 0.0, atol=1e-9)


def test_settle_accepts_the_same_book_in_another_form():
    r = clear_double_auction(SEED_BIDS, SEED_ASKS)
    s = settle(r, pd.DataFrame({"price": SEED_BIDS}), np.array([[5, 1], [7, 1], [9, 1]]))
    assert s.budget == 0.0


@pytest.mark.parametrize(
    ("bids", "asks", "name"),
    [
        ([12, 10, 7], SEED_ASKS, "bids"),
        ([12, 10], SEED_ASKS, "bids"),
        ([10, 12, 8], SEED_ASKS, "bids"),
        (SEED_BIDS, [5, 7, 9, 11], "asks"),
        (SEED_BIDS, [5, 7, 9.5], "asks"),
    ],
)
def test_settle_rejects_other_order_books(bids, asks, name):
    r = clear_double_auction(SEED_BIDS, SEED_ASKS)
    message = f"`{name}` differ from the orders that produced `result`"
    with pytest.raises(ValueError, match=re.escape(message)):
        settle(r, bids, asks)


def test_settle_rejects_other_quantities():
    bids, asks = [(12, 2), (10, 1)], [(5, 1), (7, 2)]
    r = clear_double_auction(bids, asks)
    with pytest.raises(ValueError, match=r"`bids` differ from the orders that produced `result`"):
        settle(r, [(12, 1), (10, 1)], asks)


@pytest.mark.parametrize("pricing", ["vickrey", "Uniform", "", None])
def test_settle_rejects_unknown_pricing(pricing):
    r = clear_double_auction(SEED_BIDS, SEED_ASKS)
    message = f"`pricing` must be 'uniform' or 'pay_as_bid'; got {pricing!r}."
    with pytest.raises(ValueError, match=re.escape(message)):
        settle(r, SEED_BIDS, SEED_ASKS, pricing=pricing)


@pytest.mark.parametrize(("result", "type_name"), [({"price": 8.5}, "dict"), (None, "NoneType"), (8.5, "float")])
def test_settle_rejects_other_results(result, type_name):
    message = f"`result` must be a ClearingResult from clear_double_auction; got {type_name}."
    with pytest.raises(TypeError, match=re.escape(message)):
        settle(result, SEED_BIDS, SEED_ASKS)


def test_settle_validates_its_order_books():
    r = clear_double_auction(SEED_BIDS, SEED_ASKS)
    with pytest.raises(ValueError, match=r"`asks` must contain finite prices; entry 0 is nan"):
        settle(r, SEED_BIDS, [math.nan, 7, 9])


# --------------------------------------------------------------------------- tables


def test_clearing_result_to_frame():
    bids = [(9.0, 2.0), (11.0, 3.0), (6.0, 4.0)]
    asks = [(10.0, 5.0), (4.0, 2.0), (7.0, 3.0)]
    frame = clear_double_auction(bids, asks).to_frame()
    assert list(frame.columns) == ["side", "order", "price", "quantity", "fill"]
    assert len(frame) == 6
    assert list(frame["side"]) == ["buyer"] * 3 + ["seller"] * 3
    assert list(frame["order"]) == [0, 1, 2, 0, 1, 2]
    assert list(frame["price"]) == [9.0, 11.0, 6.0, 10.0, 4.0, 7.0]
    assert list(frame["quantity"]) == [2.0, 3.0, 4.0, 5.0, 2.0, 3.0]
    assert list(frame["fill"]) == [2.0, 3.0, 0.0, 0.0, 2.0, 3.0]  # by hand, see test_divisible_example_by_hand


def test_clearing_result_to_frame_unequal_sides_lp():
    frame = welfare_max_clearing([12, 10, 8, 1], [5]).to_frame()
    assert list(frame.columns) == ["side", "order", "price", "quantity", "fill"]
    assert list(frame["side"]) == ["buyer"] * 4 + ["seller"]
    assert list(frame["order"]) == [0, 1, 2, 3, 0]
    np.testing.assert_allclose(frame["fill"], [1.0, 0.0, 0.0, 0.0, 1.0], atol=1e-6)


def test_settlement_to_frame():
    s = settle(clear_double_auction(SEED_BIDS, [5, 7]), SEED_BIDS, [5, 7])
    frame = s.to_frame()
    assert list(frame.columns) == ["side", "order", "payment", "surplus"]
    assert len(frame) == 5
    assert list(frame["side"]) == ["buyer"] * 3 + ["seller"] * 2
    assert list(frame["order"]) == [0, 1, 2, 0, 1]
    # Price interval (8, 10): the price is 9; buyers 12 and 10 pay it, sellers 5 and 7 receive it.
    np.testing.assert_array_equal(frame["payment"], [9.0, 9.0, 0.0, -9.0, -9.0])
    np.testing.assert_array_equal(frame["surplus"], [3.0, 1.0, 0.0, 4.0, 2.0])


def test_results_are_frozen():
    r = clear_double_auction(SEED_BIDS, SEED_ASKS)
    with pytest.raises(AttributeError):
        r.price = 0.0
    with pytest.raises(AttributeError):
        settle(r, SEED_BIDS, SEED_ASKS).budget = 1.0


# --------------------------------------------------------------------------- input errors


def test_parse_orders_is_a_named_pair():
    orders = parse_orders([(6.5, 2.0), (7.0, 0.5)], "asks")
    price, quantity = orders  # unpacks as before
    assert isinstance(orders, Orders) and orders.price is price and orders.quantity is quantity
    assert price.tolist() == [6.5, 7.0] and quantity.tolist() == [2.0, 0.5]
    assert orders[0] is price and len(orders) == 2


def test_random_orders_is_a_named_pair():
    books = random_orders(3, 2, seed=1)
    bids, asks = books  # unpacks as before
    assert isinstance(books, OrderBooks) and books.bids is bids and books.asks is asks
    assert (len(bids), len(asks)) == (3, 2) and list(asks.columns) == ["price", "quantity"]


@pytest.mark.parametrize("k", [0.0, 0.3, 1.0])
def test_positional_k_warns_and_gives_the_same_result(k):
    with pytest.warns(DeprecationWarning, match=r"clear_double_auction\(\): pass k=\.\.\. by keyword"):
        old = clear_double_auction(SEED_BIDS, SEED_ASKS, k)
    new = clear_double_auction(SEED_BIDS, SEED_ASKS, k=k)
    assert old.price == new.price == 8.0 + k and old.k == k
    with pytest.raises(TypeError, match="at most 3 positional arguments"):
        clear_double_auction(SEED_BIDS, SEED_ASKS, k, 1)


def test_parse_orders_forms():
    price, quantity = parse_orders([(6.5, 2.0), (7.0, 0.5)], "asks")
    np.testing.assert_array_equal(price, [6.5, 7.0])
    np.testing.assert_array_equal(quantity, [2.0, 0.5])
    price, quantity = parse_orders(pd.DataFrame({"quantity": [3, 1], "price": [1, 2], "id": ["a", "b"]}), "bids")
    np.testing.assert_array_equal(price, [1.0, 2.0])
    np.testing.assert_array_equal(quantity, [3.0, 1.0])


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize(
    ("bids", "asks", "message"),
    [
        ([12, math.nan, 8], SEED_ASKS, "`bids` must contain finite prices; entry 1 is nan."),
        (SEED_BIDS, [5, 7, math.inf], "`asks` must contain finite prices; entry 2 is inf."),
        ([-math.inf], SEED_ASKS, "`bids` must contain finite prices; entry 0 is -inf."),
        (
            pd.DataFrame({"price": [1.0, 2.0], "quantity": [1.0, math.nan]}),
            SEED_ASKS,
            "`bids` must contain finite quantities; entry 1 is nan.",
        ),
        (
            SEED_BIDS,
            pd.DataFrame({"price": [1.0, math.nan]}),
            "`asks` must contain finite prices; entry 1 is nan.",
        ),
        (SEED_BIDS, [(5, 1), (6, 0)], "`asks` must contain positive quantities; entry 1 is 0.0."),
        (
            pd.DataFrame({"price": [5.0], "quantity": [-1.0]}),
            SEED_ASKS,
            "`bids` must contain positive quantities; entry 0 is -1.0.",
        ),
        (np.array([[5.0, 1.0], [4.0, -0.5]]), SEED_ASKS, "`bids` must contain positive quantities; entry 1 is -0.5."),
    ],
    ids=["nan-bid", "inf-ask", "minus-inf-bid", "nan-quantity", "nan-in-frame", "zero-qty", "neg-qty", "neg-qty-array"],
)
def test_bad_values_are_named(clear, bids, asks, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        clear(bids, asks)


def test_zero_quantity_message_says_what_to_do():
    with pytest.raises(ValueError, match=r"Leave an order out instead of giving it no quantity\."):
        clear_double_auction(SEED_BIDS, [(5, 0)])


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize(
    ("bids", "asks", "message"),
    [
        ([], SEED_ASKS, "`bids` is empty; a double auction needs at least one order on each side."),
        (SEED_BIDS, np.empty((0, 2)), "`asks` is empty; a double auction needs at least one order on each side."),
        (SEED_BIDS, pd.DataFrame({"price": [], "quantity": []}), "`asks` is empty"),
    ],
    ids=["empty-list", "empty-array", "empty-frame"],
)
def test_empty_side(clear, bids, asks, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        clear(bids, asks)


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize(
    ("bids", "asks", "name", "shape"),
    [
        (np.ones((3, 3)), SEED_ASKS, "bids", "(3, 3)"),
        (SEED_BIDS, [(5, 1, 0), (7, 1, 0)], "asks", "(2, 3)"),
        (np.ones((2, 2, 2)), SEED_ASKS, "bids", "(2, 2, 2)"),
        (SEED_BIDS, np.ones((4, 1)), "asks", "(4, 1)"),
        (7.0, SEED_ASKS, "bids", "()"),
    ],
    ids=["3-columns", "triples", "3-D", "column", "scalar"],
)
def test_wrong_shape(clear, bids, asks, name, shape):
    message = (
        f"`{name}` must be a list of prices or an (n, 2) table of (price, quantity); got an array of shape {shape}."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        clear(bids, asks)


@pytest.mark.parametrize("clear", CLEARERS)
def test_frame_without_price_column(clear):
    asks = pd.DataFrame({"cost": [5.0, 7.0], "quantity": [1.0, 1.0]})
    message = "`asks` must have a 'price' column (and optionally 'quantity'); got columns ['cost', 'quantity']."
    with pytest.raises(ValueError, match=re.escape(message)):
        clear(SEED_BIDS, asks)


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize("bids", ["12, 10, 8", b"12", None], ids=["str", "bytes", "None"])
def test_strings_and_none_are_rejected(clear, bids):
    with pytest.raises(TypeError, match=r"`bids` must be a list of prices or a table of \(price, quantity\); got "):
        clear(bids, SEED_ASKS)


@pytest.mark.parametrize("clear", CLEARERS)
@pytest.mark.parametrize(
    "asks",
    [["5", "seven"], [(5, 1), (7,)], pd.DataFrame({"price": ["cheap", "dear"]})],
    ids=["words", "ragged", "frame-of-words"],
)
def test_non_numbers_are_rejected(clear, asks):
    with pytest.raises(TypeError, match=r"`asks` must contain only numbers; could not convert it"):
        clear(SEED_BIDS, asks)


@pytest.mark.parametrize("k", [-0.5, 1.5, 2, math.nan, math.inf])
def test_k_outside_unit_interval(k):
    with pytest.raises(ValueError, match=re.escape(f"`k` must lie between 0 and 1; got {k!r}.")):
        clear_double_auction(SEED_BIDS, SEED_ASKS, k=k)


@pytest.mark.parametrize("k", [None, "half", [0.5]])
def test_k_not_a_number(k):
    with pytest.raises(TypeError, match=re.escape(f"`k` must be a number between 0 and 1; got {k!r}.")):
        clear_double_auction(SEED_BIDS, SEED_ASKS, k=k)


# --------------------------------------------------------------------------- random markets


def test_random_orders_reproducible():
    a = random_orders(5, 4, seed=42, divisible=True)
    b = random_orders(5, 4, seed=42, divisible=True)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    c = random_orders(5, 4, seed=np.random.default_rng(42), divisible=True)
    pd.testing.assert_frame_equal(a[0], c[0])
    pd.testing.assert_frame_equal(a[1], c[1])
    d = random_orders(5, 4)  # default seed: also reproducible
    pd.testing.assert_frame_equal(d[0], random_orders(5, 4)[0])


def test_random_orders_differ_with_another_seed():
    bids_1, asks_1 = random_orders(20, 20, seed=1)
    bids_2, asks_2 = random_orders(20, 20, seed=2)
    assert not bids_1.equals(bids_2)
    assert not asks_1.equals(asks_2)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_random_orders_unit_quantities(seed):
    bids, asks = random_orders(6, 3, seed=seed)
    for side, n in ((bids, 6), (asks, 3)):
        assert list(side.columns) == ["price", "quantity"]
        assert len(side) == n
        assert (side["quantity"] == 1.0).all()
        assert side["price"].between(2.0, 16.0).all()
        assert ((side["price"] * 2) % 1 == 0).all()  # rounded to 0.5


def test_random_orders_divisible_quantities():
    bids, asks = random_orders(50, 50, seed=3, divisible=True, price_range=(-1.0, 1.0))
    for side in (bids, asks):
        assert side["quantity"].between(0.5, 5.0).all()
        assert ((side["quantity"] * 2) % 1 == 0).all()
        assert side["quantity"].nunique() > 1
        assert side["price"].between(-1.0, 1.0).all()
    # A random market clears through every entry point.
    r = clear_double_auction(bids, asks)
    assert_clearing_invariants(
        r,
        bids["price"].to_numpy(),
        bids["quantity"].to_numpy(),
        asks["price"].to_numpy(),
        asks["quantity"].to_numpy(),
        tol=1e-9,
    )


@pytest.mark.parametrize(
    ("n_buyers", "n_sellers", "name", "shown"),
    [(0, 3, "n_buyers", "0"), (3, -1, "n_sellers", "-1"), (2.5, 3, "n_buyers", "2.5"), (3, 0, "n_sellers", "0")],
)
def test_random_orders_rejects_bad_sizes(n_buyers, n_sellers, name, shown):
    with pytest.raises(ValueError, match=re.escape(f"`{name}` must be a positive integer; got {shown}.")):
        random_orders(n_buyers, n_sellers)


@pytest.mark.parametrize("n_buyers", [None, math.nan, math.inf], ids=["None", "nan", "inf"])
def test_random_orders_names_non_numeric_size(n_buyers):
    with pytest.raises((TypeError, ValueError), match="`n_buyers`"):
        random_orders(n_buyers, 3)


# --------------------------------------------------------------------------- issue 14: sizes, magnitudes, bad input


def exact_merit_order(bid_p, bid_q, ask_p, ask_q):
    """The textbook merit order in exact rational arithmetic (no rounding, no tolerance).

    Q = max over order prices p of min(D(p), S(p)); each side is filled best price level first,
    a partly filled level pro rata.  Returns (quantity, buyer_fills, seller_fills, interval) as
    Fractions; the interval by its definition in the module docstring, None when nothing trades.
    """
    bq, aq = [Fraction(float(q)) for q in bid_q], [Fraction(float(q)) for q in ask_q]
    bp, ap = [float(p) for p in bid_p], [float(p) for p in ask_p]
    zero = Fraction(0)
    quantity = max(
        min(sum((q for b, q in zip(bp, bq) if b >= p), zero), sum((q for a, q in zip(ap, aq) if a <= p), zero))
        for p in set(bp) | set(ap)
    )

    def fill(prices, quantities, best_first):
        out, left = [zero] * len(prices), quantity
        for level in sorted(set(prices), reverse=best_first):
            at = [i for i, p in enumerate(prices) if p == level]
            total = sum((quantities[i] for i in at), zero)
            take = min(total, left)
            for i in at:
                out[i] = quantities[i] * take / total
            left -= take
        return out

    bf, sf = fill(bp, bq, True), fill(ap, aq, False)
    if quantity == 0:
        return quantity, bf, sf, None
    lo = max([a for a, f in zip(ap, sf) if f > 0] + [b for b, f, q in zip(bp, bf, bq) if f < q])
    hi = min([b for b, f in zip(bp, bf) if f > 0] + [a for a, f, q in zip(ap, sf, aq) if f < q])
    return quantity, bf, sf, (lo, hi)


def binary_books(max_orders=6):
    """Orders whose quantities span 12 orders of magnitude and add up exactly in floating point.

    m * 2**e with m in 1..7 and e in -20..20: every partial sum is exact (53 bits hold them), so the
    float clearing can be compared with the rational one without a tolerance on which orders trade.
    """
    prices = st.integers(-2, 16).map(lambda v: v / 2)
    quantities = st.tuples(st.integers(1, 7), st.integers(-20, 20)).map(lambda t: math.ldexp(t[0], t[1]))
    rows = st.lists(st.tuples(prices, quantities), min_size=1, max_size=max_orders)
    return rows.map(lambda r: np.array(r, dtype=float))


def assert_exact_clearing(r, bids, asks):
    """r agrees with exact_merit_order: the same interval, fills and quantity to rounding."""
    bid_p, bid_q, ask_p, ask_q = bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1]
    quantity, bf, sf, interval = exact_merit_order(bid_p, bid_q, ask_p, ask_q)
    np.testing.assert_allclose(r.buyer_fills, [float(f) for f in bf], rtol=1e-12, atol=0)
    np.testing.assert_allclose(r.seller_fills, [float(f) for f in sf], rtol=1e-12, atol=0)
    assert math.isclose(r.quantity, float(quantity), rel_tol=1e-12)
    if interval is None:
        assert r.quantity == 0 and math.isnan(r.price)
        return
    assert r.price_interval == interval
    lo, hi = interval
    assert lo <= r.price <= hi
    assert math.isclose(r.buyer_fills.sum(), r.seller_fills.sum(), rel_tol=1e-13)


@MERIT_SETTINGS
@given(bids=binary_books(), asks=binary_books())
def test_orders_of_very_different_sizes_clear_exactly(bids, asks):
    # Issue 14, item 1: a 1e-4 kWh order next to a 1e6 kWh one was judged with a tolerance of 1e-9 of
    # the largest order, left unfilled, and the interval came out with lo > hi.
    assert_exact_clearing(clear_double_auction(bids, asks), bids, asks)


@LP_SETTINGS
@given(bids=binary_books(max_orders=4), asks=binary_books(max_orders=4))
def test_lp_on_orders_of_very_different_sizes_agrees_with_the_exact_clearing(bids, asks):
    lp = welfare_max_clearing(bids, asks)
    assert_exact_clearing(lp, bids, asks)


def test_issue_14_small_ask_next_to_a_large_one():
    # By hand: 2e6 kWh bid at 10; asks 1e6 kWh at 1 and 1e-4 kWh at 5.  Both asks trade in full
    # (1e6 + 1e-4 kWh), the bid only partly, so it sets the price: lo = hi = 10.
    for clear in CLEARERS:
        r = clear([(10.0, 2e6)], [(1.0, 1e6), (5.0, 1e-4)])
        np.testing.assert_array_equal(r.seller_fills, [1e6, 1e-4])
        assert r.buyer_fills[0] == pytest.approx(1e6 + 1e-4, rel=1e-15)
        assert r.price_interval == (10.0, 10.0) and r.price == 10.0
        assert abs(r.buyer_fills.sum() - r.seller_fills.sum()) <= 2 * np.spacing(1e6)
        assert r.welfare == pytest.approx(9e6 + 5e-4, rel=1e-15)


@pytest.mark.parametrize("bid_quantity", [1e6, 2e6])
@pytest.mark.parametrize("clear", CLEARERS)
def test_orders_below_the_rounding_of_the_market_keep_the_invariants(clear, bid_quantity):
    # 1e6 + 1e-12 == 1e6 in floating point: whether the 1e-12 kWh ask trades is decided by rounding,
    # but the result must balance, have lo <= hi, and not contradict its own price.
    bids, asks = [(10.0, bid_quantity)], [(1.0, 1e6), (5.0, 1e-12)]
    r = clear(bids, asks)
    (bid_p, bid_q), (ask_p, ask_q) = price_and_quantity(bids), price_and_quantity(asks)
    assert_clearing_invariants(r, bid_p, bid_q, ask_p, ask_q, tol=1e-15)
    assert r.price_interval[0] <= r.price_interval[1]


@pytest.mark.parametrize(
    ("bids", "asks", "quantity", "welfare", "interval"),
    [
        ([(0.10, 3e4)], [(0.12, 1e4)], 0.0, 0.0, None),  # Clarabel failed from about 3e4 kWh
        ([(12.0, 3e7), (10.0, 3e7)], [5.0, 7.0, 9.0], 3.0, 15.0, (12.0, 12.0)),  # gave quantity 0, price NaN
        ([(12.0, 1e7), (10.0, 1e7)], [5.0, 7.0, 9.0], 3.0, 15.0, (12.0, 12.0)),  # "zero-size array to reduction"
    ],
    ids=["no-trade-3e4", "3e7", "1e7"],
)
def test_issue_14_lp_reproducers(bids, asks, quantity, welfare, interval):
    # By hand: the three unit asks all trade with the 12 bid, which is only partly filled: price 12.
    lp = welfare_max_clearing(bids, asks)
    mo = clear_double_auction(bids, asks)
    assert (lp.quantity, lp.welfare) == (quantity, welfare) == (mo.quantity, mo.welfare)
    if interval is None:
        assert math.isnan(lp.price)
    else:
        assert lp.price_interval == interval and lp.price == 12.0


@pytest.mark.parametrize(
    ("quantity_scale", "price_scale", "price_shift"),
    [(1e-150, 1.0, 0.0), (1e140, 1.0, 0.0), (1.0, 1e-150, 0.0), (1.0, 1e140, 0.0), (3e7, 1.0, 0.0),
     (1e-9, 1e9, 0.0), (1e100, 1e-100, 0.0), (1.0, 1e-3, 1e3), (1e-120, 1e120, 0.0)],
    ids=["q1e-150", "q1e140", "p1e-150", "p1e140", "q3e7", "q1e-9p1e9", "q1e100p1e-100", "p~1000", "q1e-120p1e120"],
)
@pytest.mark.parametrize("solver", [None, "HIGHS"])
def test_lp_solves_at_every_magnitude_the_merit_order_handles(quantity_scale, price_scale, price_shift, solver):
    # Per-unit scaling: the same market in other units gives the same answer, checked against the merit order.
    rng = np.random.default_rng(14)
    for _ in range(6):
        nb, ns = rng.integers(1, 7, 2)
        bids = np.column_stack([rng.integers(-2, 16, nb) / 2, rng.integers(1, 5, nb)]).astype(float)
        asks = np.column_stack([rng.integers(-2, 16, ns) / 2, rng.integers(1, 5, ns)]).astype(float)
        for book in (bids, asks):
            book[:, 0] = book[:, 0] * price_scale + price_shift
            book[:, 1] *= quantity_scale
        mo = clear_double_auction(bids, asks)
        lp = welfare_max_clearing(bids, asks, solver=solver)
        assert lp.quantity == pytest.approx(mo.quantity, rel=1e-12, abs=0)
        assert lp.welfare == pytest.approx(mo.welfare, rel=1e-9, abs=1e-12 * quantity_scale * price_scale)
        np.testing.assert_allclose(lp.buyer_fills, mo.buyer_fills, rtol=1e-12)
        if mo.quantity > 0:
            lo, hi = mo.price_interval
            assert lp.price_interval == mo.price_interval and lo <= lp.price <= hi


def test_lp_with_a_wrong_dual_is_a_solver_error(monkeypatch):
    # The solver's dual is checked against the exact optimum (weak duality), so a wrong sign cannot pass.
    monkeypatch.setattr(cp.constraints.zero.Equality, "dual_value", property(lambda self: np.array(20.0)))
    with pytest.raises(SolverError, match=r"The welfare LP's solution is inaccurate .*try another `solver`"):
        welfare_max_clearing(SEED_BIDS, SEED_ASKS)


@pytest.mark.parametrize(
    ("bids", "asks", "name", "what"),
    [
        ([1.7e308, 1.7e308], [1.6e308, 1.6e308], "bids", "prices"),  # welfare was nan
        ([(1.0, 1e200)], [0.5], "bids", "quantities"),
        ([1.0], [(-1e151, 1.0)], "asks", "prices"),
    ],
    ids=["prices-1.7e308", "quantity-1e200", "price-minus-1e151"],
)
@pytest.mark.parametrize("clear", CLEARERS)
def test_numbers_beyond_the_supported_range_are_rejected(clear, bids, asks, name, what):
    with pytest.raises(ValueError, match=rf"`{name}` must contain {what} of at most 1e\+150 in absolute value"):
        clear(bids, asks)


@pytest.mark.parametrize("clear", CLEARERS)
def test_the_largest_supported_numbers_give_finite_answers(clear):
    # By hand: 2 kWh bid at 1e150 against 2 kWh asked at -1e150: all trade, welfare 2 * 2e150 = 4e150,
    # interval [-1e150, 1e150], midpoint 0.
    r = clear([(1e150, 2.0)], [(-1e150, 2.0)])
    assert (r.quantity, r.welfare, r.price_interval) == (2.0, 4e150, (-1e150, 1e150))
    assert math.isfinite(r.price)
    s = settle(r, [(1e150, 2.0)], [(-1e150, 2.0)], pricing="pay_as_bid")
    assert s.budget == 4e150
    big = clear([(1.0, 1e150), (0.5, 1e150)], [(0.0, 1e150)])
    assert (big.quantity, big.welfare, big.price_interval) == (1e150, 1e150, (0.5, 1.0))


@pytest.mark.parametrize(
    ("bids", "name"),
    [([10**400], "bids"), ([(1.0, 10**400)], "bids"), (pd.DataFrame({"price": [10**400]}, dtype=object), "bids")],
    ids=["price", "quantity", "frame"],
)
@pytest.mark.parametrize("clear", CLEARERS)
def test_an_int_beyond_float_range_names_the_order_book(clear, bids, name):
    # Issue 14, item 12: a bare OverflowError ("int too large to convert to float") before.
    with pytest.raises(ValueError, match=rf"`{name}` holds a number too large for a float"):
        clear(bids, [1])


@pytest.mark.parametrize(
    "bids",
    [[True, 2.0], np.array([True, False]), pd.DataFrame({"price": [True, False]}),
     pd.DataFrame({"price": [1.0], "quantity": [True]})],
    ids=["list", "array", "frame-price", "frame-quantity"],
)
@pytest.mark.parametrize("clear", CLEARERS)
def test_booleans_are_not_prices_or_quantities(clear, bids):
    with pytest.raises(TypeError, match=r"`bids` must contain numbers, not booleans"):
        clear(bids, [1.0])


@pytest.mark.parametrize(
    "asks", [np.array([1 + 2j, 3]), pd.Series([1 + 0j]), pd.DataFrame({"price": [1 + 1j]})],
    ids=["array", "series", "frame"],
)
def test_complex_orders_are_rejected_not_cut_to_their_real_part(asks):
    with pytest.raises(TypeError, match=r"`asks` must contain real numbers"):
        clear_double_auction([10.0], asks)


@pytest.mark.parametrize("k", [True, False, np.True_])
def test_k_is_not_a_boolean(k):
    # k=True was read as k = 1.
    with pytest.raises(TypeError, match=r"`k` must be a number between 0 and 1; got"):
        clear_double_auction(SEED_BIDS, SEED_ASKS, k=k)


@pytest.mark.parametrize(
    ("seed", "exc"),
    [("abc", TypeError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ([1, -2], ValueError)],
    ids=["text", "negative", "float", "bool", "negative-entry"],
)
def test_random_orders_names_a_bad_seed(seed, exc):
    with pytest.raises(exc, match=r"`seed` must be None, a non-negative integer or a numpy Generator"):
        random_orders(3, 2, seed=seed)


def test_random_orders_shares_a_generator_and_accepts_none():
    rng = np.random.default_rng(5)
    first = random_orders(3, 2, seed=rng)[0]
    second = random_orders(3, 2, seed=rng)[0]
    assert not first.equals(second)  # one stream, drawn on
    assert len(random_orders(2, 2, seed=None)[0]) == 2


@pytest.mark.parametrize(
    ("price_range", "exc", "match"),
    [
        ((math.nan, 2.0), ValueError, r"`price_range\[0\] \(the lowest price\)` must be a finite number; got nan"),
        ((0.0, math.inf), ValueError, r"`price_range\[1\] \(the highest price\)` must be a finite number"),
        ((3.0, 1.0), ValueError, r"`price_range` must list the lowest price first"),
        ((0.0, 1e200), ValueError, r"`price_range` must lie within \+-1e\+150"),
        ((-1.7e308, 1.7e308), ValueError, r"`price_range` must lie within"),  # numpy: "range exceeds valid bounds"
        (5.0, TypeError, r"`price_range` must be a pair \(lowest, highest\)"),
        ((1.0,), TypeError, r"`price_range` must be a pair"),
        (("a", 2), TypeError, r"`price_range\[0\] \(the lowest price\)` must be a number"),
        ((True, 2), TypeError, r"`price_range\[0\]"),
    ],
    ids=["nan", "inf", "reversed", "beyond-1e150", "float-extremes", "number", "one", "text", "bool"],
)
def test_random_orders_names_a_bad_price_range(price_range, exc, match):
    with pytest.raises(exc, match=match):
        random_orders(3, 2, price_range=price_range)


# --------------------------------------------------------------------------- issue 14: fuzz findings


@pytest.mark.parametrize("n", [10**12, 10**400, tc.auction.MAX_RANDOM_ORDERS + 1], ids=["1e12", "1e400", "cap+1"])
@pytest.mark.parametrize("name", ["n_buyers", "n_sellers"])
def test_random_orders_caps_the_book_size(name, n):
    # 10**12 orders tried to allocate terabytes (MemoryError, or numpy's "Maximum allowed dimension exceeded").
    kw = {"n_buyers": 3, "n_sellers": 2, name: n}
    with pytest.raises(ValueError, match=rf"`{name}` must be at most 1_000_000"):
        random_orders(**kw)


def test_random_orders_at_the_cap():
    bids, asks = random_orders(tc.auction.MAX_RANDOM_ORDERS, 1, seed=0)
    assert len(bids) == 1_000_000 and len(asks) == 1


@pytest.mark.parametrize("divisible", ["False", "yes", None, 2, 1.5])
def test_random_orders_divisible_must_be_a_flag(divisible):
    # The string "False" was truthy: it drew divisible orders.
    with pytest.raises(TypeError, match=r"`divisible` must be True or False"):
        random_orders(3, 2, divisible=divisible)
