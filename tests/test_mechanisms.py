"""Tests of te_course.mechanisms against hand-worked cases and brute force.

References written here, not taken from the package:

- the seed market (bids 12, 10, 8; asks 5, 7, 9) and two McAfee markets, by hand;
- brute-force optimal welfare over every pair (set of buyers, set of sellers) of
  equal size, used for VCG's Clarke payments (others' welfare without the trader
  minus their welfare with it) and for efficiency;
- misreports tried over a grid wider than the package's default (integers and
  tenths, so that ties between reports are exercised);
- the clearing interval ``[max(s_k, b_{k+1}), min(b_k, s_{k+1})]`` from the sorted
  reports, and chapter 1's :func:`te_course.auction.clear_double_auction`;
- the linear equilibrium of the bilateral k-double auction (Chatterjee and Samuelson,
  "Bargaining under incomplete information", Operations Research 31(5), 1983): with
  value and cost uniform on [0, 1] and k = 1/2, bids ``2v/3 + 1/12`` and asks
  ``2c/3 + 1/4``, trade only when ``v - c >= 1/4``, an expected welfare of 9/64
  against the first best 1/6 (Myerson and Satterthwaite 1983).
"""

import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from te_course.auction import clear_double_auction
from te_course.mechanisms import (
    MisreportGain,
    Outcome,
    Utilities,
    max_misreport_gain,
    property_table,
    sbba,
    trade_reduction,
    uniform_price,
    utilities,
    vcg,
    welfare,
)

SEED_VALUES = [12, 10, 8]
SEED_COSTS = [5, 7, 9]
MECHANISMS = [uniform_price, vcg, trade_reduction, sbba]
TRUTHFUL = [vcg, trade_reduction, sbba]


# --------------------------------------------------------------------------- references


def brute_welfare(values, costs):
    """Best welfare over every equal-sized pair of buyer and seller sets."""
    best = 0.0
    for t in range(min(len(values), len(costs)) + 1):
        for bs in itertools.combinations(values, t):
            for cs in itertools.combinations(costs, t):
                best = max(best, sum(bs) - sum(cs))
    return best


def random_markets(n, seed, *, integers=False, max_side=4):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        nb, ns = rng.integers(1, max_side + 1, size=2)
        if integers:
            yield rng.integers(0, 6, nb).astype(float), rng.integers(0, 6, ns).astype(float)
        else:
            yield rng.random(nb), rng.random(ns)


# --------------------------------------------------------------------------- seed market


def test_seed_uniform_price():
    o = uniform_price(SEED_VALUES, SEED_COSTS)
    assert o.buyer_trades.tolist() == [True, True, False]
    assert o.seller_trades.tolist() == [True, True, False]
    np.testing.assert_array_equal(o.buyer_pays, [8.5, 8.5, 0])
    np.testing.assert_array_equal(o.seller_gets, [8.5, 8.5, 0])
    assert o.budget_surplus == 0.0 and o.mechanism == "uniform_price"
    assert uniform_price(SEED_VALUES, SEED_COSTS, k=0).buyer_pays[0] == 8.0
    assert uniform_price(SEED_VALUES, SEED_COSTS, k=1).buyer_pays[0] == 9.0


def test_seed_vcg_trade_reduction_sbba():
    o = vcg(SEED_VALUES, SEED_COSTS)
    np.testing.assert_array_equal(o.buyer_pays, [8, 8, 0])  # max(s_2, b_3) = max(7, 8)
    np.testing.assert_array_equal(o.seller_gets, [9, 9, 0])  # min(b_2, s_3) = min(10, 9)
    assert o.budget_surplus == -2.0
    o = trade_reduction(SEED_VALUES, SEED_COSTS)  # p0 = (8 + 9) / 2 in [7, 10]
    np.testing.assert_array_equal(o.buyer_pays, [8.5, 8.5, 0])
    np.testing.assert_array_equal(o.seller_gets, [8.5, 8.5, 0])
    o = sbba(SEED_VALUES, SEED_COSTS)  # p = min(b_2, s_3) = 9 = s_3: both pairs trade
    np.testing.assert_array_equal(o.buyer_pays, [9, 9, 0])
    assert o.seller_trades.tolist() == [True, True, False] and o.budget_surplus == 0.0


def test_seed_utilities_and_welfare():
    for mech in MECHANISMS:
        assert welfare(mech(SEED_VALUES, SEED_COSTS), SEED_VALUES, SEED_COSTS) == 10.0
    ub, us = utilities(uniform_price(SEED_VALUES, SEED_COSTS), SEED_VALUES, SEED_COSTS)
    np.testing.assert_array_equal(ub, [3.5, 1.5, 0])
    np.testing.assert_array_equal(us, [3.5, 1.5, 0])


def test_uniform_price_profitable_misreport_on_seed():
    # Buyer 0 (value 12) bids 8: it ties buyer 2 and wins the tie by input order;
    # the interval becomes [max(s_2, b_3), min(b_2, s_3)] = [8, 8], so it pays 8
    # instead of 8.5: utility 4 instead of 3.5.
    assert max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="buyer", index=0) == (0.5, 8.0)
    # Buyer 1 (value 10) the same way: 2 instead of 1.5.
    assert max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="buyer", index=1) == (0.5, 8.0)
    # Seller 1 (cost 7) asks 9: it ties seller 2 and wins; price [9, 9]: 2 instead of 1.5.
    assert max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="seller", index=1) == (0.5, 9.0)
    # Just above 8 (not a tie) gains a little less: the price is (8 + r) / 2.
    gain, report = max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="buyer", index=0, reports=[8.2])
    assert report == 8.2 and math.isclose(gain, 8.5 - 8.1)
    # Buyer 2 and seller 2 do not trade and cannot gain.
    assert max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="buyer", index=2) == (0.0, 8.0)
    assert max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="seller", index=2) == (0.0, 9.0)


def test_utilities_are_a_named_pair():
    # by the definition: value - payment for a buyer that trades, payment - cost for a seller
    o = vcg(SEED_VALUES, SEED_COSTS)
    u = utilities(o, SEED_VALUES, SEED_COSTS)
    buyers, sellers = u  # unpacks as before
    assert isinstance(u, Utilities) and u.buyers is buyers and u.sellers is sellers
    assert buyers.tolist() == [12 - o.buyer_pays[0], 10 - o.buyer_pays[1], 0.0]
    assert sellers.tolist() == [o.seller_gets[0] - 5, o.seller_gets[1] - 7, 0.0]


def test_max_misreport_gain_is_a_named_pair():
    # a NamedTuple: the old unpacking and indexing keep working, and the fields have names
    r = max_misreport_gain(uniform_price, SEED_VALUES, SEED_COSTS, side="buyer", index=0)
    assert isinstance(r, MisreportGain) and (r.gain, r.report) == (0.5, 8.0) == tuple(r)
    gain, report = r
    assert (gain, report) == (r[0], r[1]) and r._asdict() == {"gain": 0.5, "report": 8.0}


# --------------------------------------------------------------------------- McAfee


def test_trade_reduction_full_case():
    # k = 2, p0 = (6 + 8) / 2 = 7 in [s_2, b_2] = [4, 9].
    o = trade_reduction([6, 9, 10], [8, 1, 4])
    assert o.buyer_trades.tolist() == [False, True, True]
    assert o.seller_trades.tolist() == [False, True, True]
    np.testing.assert_array_equal(o.buyer_pays, [0, 7, 7])
    np.testing.assert_array_equal(o.seller_gets, [0, 7, 7])
    assert o.budget_surplus == 0.0


def test_trade_reduction_reduction_case():
    # k = 2, p0 = (9.8 + 11) / 2 = 10.4 > b_2 = 10: one pair trades, buyer pays 10, seller gets 7.
    o = trade_reduction([12, 10, 9.8], [5, 7, 11])
    assert o.buyer_trades.tolist() == [True, False, False]
    assert o.seller_trades.tolist() == [True, False, False]
    np.testing.assert_array_equal(o.buyer_pays, [10, 0, 0])
    np.testing.assert_array_equal(o.seller_gets, [7, 0, 0])
    assert o.budget_surplus == 3.0


def test_trade_reduction_without_k_plus_first_trader():
    # Every seller trades efficiently: no s_3, so the reduction case applies.
    o = trade_reduction([12, 10, 8], [5, 7])
    assert o.buyer_trades.tolist() == [True, False, False]
    assert o.buyer_pays[0] == 10 and o.seller_gets[0] == 7
    # A single efficient pair and nobody else: nothing trades.
    assert not trade_reduction([3], [1]).buyer_trades.any()


@pytest.mark.parametrize("seed", range(3))
def test_trade_reduction_follows_its_two_cases(seed):
    for values, costs in random_markets(100, seed, max_side=5):
        b = np.sort(values)[::-1]
        s = np.sort(costs)
        k = int(sum(bi >= si for bi, si in zip(b, s)))
        o = trade_reduction(values, costs)
        if k == 0:
            assert not o.buyer_trades.any()
            continue
        p0 = (b[k] + s[k]) / 2 if k < b.size and k < s.size else math.nan
        if s[k - 1] <= p0 <= b[k - 1]:
            assert o.buyer_trades.sum() == k
            assert np.all(o.buyer_pays[o.buyer_trades] == p0) and np.all(o.seller_gets[o.seller_trades] == p0)
        else:
            assert o.buyer_trades.sum() == k - 1
            assert np.all(o.buyer_pays[o.buyer_trades] == b[k - 1])
            assert np.all(o.seller_gets[o.seller_trades] == s[k - 1])
            assert o.budget_surplus >= 0


# --------------------------------------------------------------------------- VCG


@pytest.mark.parametrize("integers", [False, True])
def test_vcg_payments_are_brute_force_externalities(integers):
    for values, costs in random_markets(60, 7, integers=integers):
        o = vcg(values, costs)
        w_all = brute_welfare(values, costs)
        assert math.isclose(welfare(o, values, costs), w_all, abs_tol=1e-12)  # efficient
        for i, v in enumerate(values):
            if o.buyer_trades[i]:
                others_with = w_all - v
                others_without = brute_welfare(np.delete(values, i), costs)
                assert math.isclose(o.buyer_pays[i], others_without - others_with, abs_tol=1e-12)
            else:
                assert o.buyer_pays[i] == 0
        for j, c in enumerate(costs):
            if o.seller_trades[j]:
                others_with = w_all + c
                others_without = brute_welfare(values, np.delete(costs, j))
                assert math.isclose(o.seller_gets[j], others_with - others_without, abs_tol=1e-12)
            else:
                assert o.seller_gets[j] == 0


def test_vcg_is_ir_and_runs_a_deficit():
    for values, costs in random_markets(200, 11):
        o = vcg(values, costs)
        ub, us = utilities(o, values, costs)
        assert ub.min() >= 0 and us.min() >= 0
        if o.buyer_trades.any():
            pay, get = o.buyer_pays[o.buyer_trades][0], o.seller_gets[o.seller_trades][0]
            assert pay <= get
            if pay < get:
                assert o.budget_surplus < 0
        else:
            assert o.budget_surplus == 0


def interval(values, costs):
    """Number of efficient trades k and the clearing interval (lo, hi), from the sorted reports."""
    b, s = sorted(values, reverse=True), sorted(costs)
    k = 0
    while k < min(len(b), len(s)) and b[k] >= s[k]:
        k += 1
    if k == 0:
        return 0, math.nan, math.nan
    lo = max(s[k - 1], b[k] if k < len(b) else -math.inf)
    hi = min(b[k - 1], s[k] if k < len(s) else math.inf)
    return k, lo, hi


@pytest.mark.parametrize("integers", [False, True])
def test_vcg_buyers_pay_lo_sellers_get_hi_and_the_deficit_is_k_times_the_gap(integers):
    """Brute-force Clarke payments: a buyer pays the LOWER end of the interval, a seller gets the UPPER end."""
    no_deficit = 0
    for values, costs in random_markets(150, 13, integers=integers):
        o = vcg(values, costs)
        k, lo, hi = interval(values, costs)
        w_all = brute_welfare(values, costs)
        assert int(o.buyer_trades.sum()) == int(o.seller_trades.sum()) == k
        assert math.isclose(welfare(o, values, costs), w_all, abs_tol=1e-12)
        if k == 0:
            assert o.budget_surplus == 0
            continue
        assert lo <= hi
        assert clear_double_auction(values, costs).price_interval == (lo, hi)  # chapter 1's interval
        for i in np.flatnonzero(o.buyer_trades):
            clarke = brute_welfare(np.delete(values, i), costs) - (w_all - values[i])
            assert math.isclose(clarke, lo, abs_tol=1e-12) and math.isclose(o.buyer_pays[i], lo, abs_tol=1e-12)
        for j in np.flatnonzero(o.seller_trades):
            clarke = (w_all + costs[j]) - brute_welfare(values, np.delete(costs, j))
            assert math.isclose(clarke, hi, abs_tol=1e-12) and math.isclose(o.seller_gets[j], hi, abs_tol=1e-12)
        assert math.isclose(o.budget_surplus, -k * (hi - lo), abs_tol=1e-12)
        assert (o.budget_surplus < 0) == (lo < hi)  # a deficit exactly when the interval has length
        no_deficit += lo == hi
    if integers:
        assert no_deficit > 0  # ties make single-price intervals, and then VCG balances its budget


def test_vcg_without_deficit_when_the_interval_is_one_price():
    # b_2 = s_2 = 10, b_3 = 8, s_3 = 11: lo = max(10, 8) = 10 = hi = min(10, 11).  By hand: without buyer 12
    # the others trade (10, 5) for 5; with it they get 10 - 5 - 10 = -5, so it pays 10.  Without seller 5
    # the others trade (12, 10) for 2; with it they get 12 + 10 - 10 = 12, so it gets 10.
    o = vcg([12, 10, 8], [5, 10, 11])
    assert o.buyer_pays.tolist() == [10, 10, 0] and o.seller_gets.tolist() == [10, 10, 0]
    assert o.budget_surplus == 0
    # the seed market: [lo, hi] = [8, 9], buyers pay 8 (not 9), sellers get 9, deficit 2 x (9 - 8)
    o = vcg(SEED_VALUES, SEED_COSTS)
    assert o.buyer_pays.tolist() == [8, 8, 0] and o.seller_gets.tolist() == [9, 9, 0] and o.budget_surplus == -2


def test_vcg_without_k_plus_first_trader():
    # No b_2: buyer pays s_1; seller gets min(b_1, s_2).
    o = vcg([10], [3, 6])
    assert o.buyer_pays[0] == 3 and o.seller_gets[0] == 6
    o = vcg([10, 4], [3])  # no s_2: seller gets b_1; buyer pays max(s_1, b_2)
    assert o.buyer_pays[0] == 4 and o.seller_gets[0] == 10


# --------------------------------------------------------------------------- SBBA


def test_sbba_reduction_case_and_missing_seller():
    # k = 2, s_3 = 11 > b_2 = 10: p = 10, buyer 0 trades; of sellers 0 and 1, the later one (1) is left out.
    o = sbba([12, 10, 9.8], [5, 7, 11])
    assert o.buyer_trades.tolist() == [True, False, False]
    assert o.seller_trades.tolist() == [True, False, False]
    assert o.buyer_pays[0] == 10 and o.seller_gets[0] == 10
    # Input order, not cost, decides who is left out.
    o = sbba([12, 10, 9.8], [7, 5, 11])
    assert o.seller_trades.tolist() == [True, False, False] and o.seller_gets[0] == 10
    o = sbba([12, 10], [5, 7])  # no s_3
    assert o.buyer_trades.tolist() == [True, False] and o.buyer_pays[0] == 10


def test_sbba_is_strongly_budget_balanced_and_ir():
    for values, costs in random_markets(300, 5, max_side=6):
        o = sbba(values, costs)
        assert o.budget_surplus == 0.0
        ub, us = utilities(o, values, costs)
        assert ub.min() >= 0 and us.min() >= 0


# --------------------------------------------------------------------------- incentive compatibility


@pytest.mark.parametrize("mech", TRUTHFUL, ids=lambda m: m.__name__)
@pytest.mark.parametrize("integers", [False, True])
def test_no_profitable_misreport(mech, integers):
    grid = np.r_[np.arange(0, 6.05, 0.1), 0.5 + np.arange(6)] if integers else None
    for values, costs in random_markets(40, 3, integers=integers):
        for side, n in (("buyer", values.size), ("seller", costs.size)):
            for i in range(n):
                truth = (values if side == "buyer" else costs)[i]
                assert max_misreport_gain(mech, values, costs, side=side, index=i, reports=grid) == (0.0, truth)


def test_max_misreport_gain_custom_mechanism_and_reports():
    def pay_as_bid(values, costs):
        o = uniform_price(values, costs)
        pays = np.where(o.buyer_trades, np.asarray(values, float), 0.0)
        gets = np.where(o.seller_trades, np.asarray(costs, float), 0.0)
        return replace(o, buyer_pays=pays, seller_gets=gets, budget_surplus=pays.sum() - gets.sum())

    # Buyer 0 pays its bid: bidding 8 (tie won by input order) earns 12 - 8 = 4.
    assert max_misreport_gain(pay_as_bid, SEED_VALUES, SEED_COSTS, side="buyer", index=0) == (4.0, 8.0)
    assert max_misreport_gain(pay_as_bid, SEED_VALUES, SEED_COSTS, side="buyer", index=0, reports=[11, 13]) == (
        1.0,
        11.0,
    )


# --------------------------------------------------------------------------- the uniform price in equilibrium


def chatterjee_samuelson_bid(v):
    return 2 * v / 3 + 1 / 12


def chatterjee_samuelson_ask(c):
    return 2 * c / 3 + 1 / 4


def bilateral_utility(side, truth, offers, others, n):
    """Expected utility of each offer against the other side's reports ``others`` (n per offer)."""
    own = np.repeat(offers, others.size)[:, None]
    opp = np.tile(others, offers.size)[:, None]
    V, C = (own, opp) if side == "buyer" else (opp, own)
    tb, ts, pays, gets = uniform_price._batch(V, C)
    if side == "buyer":
        u = np.where(tb[:, 0], truth, 0.0) - pays[:, 0]
    else:
        u = gets[:, 0] - np.where(ts[:, 0], truth, 0.0)
    return u.reshape(offers.size, n).mean(axis=1)


def test_uniform_price_chatterjee_samuelson_strategies_are_mutual_best_responses():
    n = 4000
    grid = (np.arange(n) + 0.5) / n  # midpoint rule over the other side's type, uniform on [0, 1]
    for v in (0.3, 0.5, 0.7, 0.9):
        eq = chatterjee_samuelson_bid(v)
        offers = np.r_[eq, v, np.arange(0.0, 1.0001, 0.005)]
        u = bilateral_utility("buyer", v, offers, chatterjee_samuelson_ask(grid), n)
        assert u[0] >= u.max() - 2e-4, (v, offers[np.argmax(u)], eq)  # quadrature error < 1e-4
        if abs(eq - v) > 0.05:
            assert u[0] > u[1] + 1e-3  # bidding the value is not a best response
    for c in (0.1, 0.3, 0.5, 0.7):
        eq = chatterjee_samuelson_ask(c)
        offers = np.r_[eq, c, np.arange(0.0, 1.0001, 0.005)]
        u = bilateral_utility("seller", c, offers, chatterjee_samuelson_bid(grid), n)
        assert u[0] >= u.max() - 2e-4, (c, offers[np.argmax(u)], eq)
        if abs(eq - c) > 0.05:
            assert u[0] > u[1] + 1e-3  # asking the cost is not a best response


def test_uniform_price_loses_trades_in_the_chatterjee_samuelson_equilibrium():
    n = 401  # odd, so that no grid point has v - c exactly 1/4
    g = (np.arange(n) + 0.5) / n
    v, c = (x.ravel()[:, None] for x in np.meshgrid(g, g, indexing="ij"))
    truthful = uniform_price._batch(v, c)
    shaded = uniform_price._batch(chatterjee_samuelson_bid(v), chatterjee_samuelson_ask(c))
    gains = (v - c)[:, 0]
    assert truthful[0][:, 0].tolist() == (gains >= 0).tolist()  # at truthful reports: efficient
    trades = shaded[0][:, 0]
    assert np.all(trades == (gains >= 0.25 - 1e-12))  # trade only when v - c >= 1/4
    first_best, kept = gains[gains > 0].sum() / n**2, gains[trades].sum() / n**2
    assert first_best == pytest.approx(1 / 6, abs=1e-4) and kept == pytest.approx(9 / 64, abs=2e-3)
    assert kept / first_best == pytest.approx(27 / 32, abs=1e-2)
    assert np.mean(~trades[gains > 0]) == pytest.approx(7 / 16, abs=1e-2)  # worthwhile trades lost


# --------------------------------------------------------------------------- property table


def test_property_table_textbook_pattern():
    t = property_table(
        {"uniform": uniform_price, "vcg": vcg, "mcafee": trade_reduction, "sbba": sbba},
        n_instances=300,
        n_traders=10,
        seed=2,
    )
    assert list(t.index) == ["uniform", "vcg", "mcafee", "sbba"]
    cols = ["incentive_compatible", "individually_rational", "weakly_budget_balanced", "strongly_budget_balanced"]
    expected = {
        "uniform": [False, True, True, True],
        "vcg": [True, True, False, False],
        "mcafee": [True, True, True, False],
        "sbba": [True, True, True, True],
    }
    for name, row in expected.items():
        assert t.loc[name, cols].tolist() == row, name
    assert t.loc["uniform", "efficiency"] == 1.0 and t.loc["vcg", "efficiency"] == 1.0
    assert 0.95 < t.loc["mcafee", "efficiency"] < 1.0
    assert 0.8 < t.loc["sbba", "efficiency"] < t.loc["mcafee", "efficiency"]

    cex = t.attrs["counterexamples"]
    ic = cex["uniform"]["incentive_compatible"]
    gain, _ = max_misreport_gain(uniform_price, ic["values"], ic["costs"], side=ic["side"], index=ic["index"])
    assert ic["gain"] > 0 and math.isclose(gain, ic["gain"])
    deficit = cex["vcg"]["weakly_budget_balanced"]
    assert deficit["budget_surplus"] < 0
    assert vcg(deficit["values"], deficit["costs"]).budget_surplus == pytest.approx(deficit["budget_surplus"])
    assert set(cex["vcg"]) == {"weakly_budget_balanced", "strongly_budget_balanced"}
    assert set(cex["mcafee"]) == {"strongly_budget_balanced", "efficiency"}
    assert set(cex["sbba"]) == {"efficiency"}
    e = cex["sbba"]["efficiency"]
    assert e["optimal_welfare"] == pytest.approx(brute_welfare(e["values"], e["costs"]))


def test_property_table_list_of_custom_mechanisms():
    def grab_all(values, costs):  # a "platform" that pays sellers nothing: not IR
        o = vcg(values, costs)
        return replace(o, seller_gets=np.zeros(len(costs)), budget_surplus=float(o.buyer_pays.sum()))

    t = property_table([grab_all, vcg], n_instances=5, n_traders=3, seed=0)
    assert list(t.index) == ["grab_all", "vcg"]
    assert not t.loc["grab_all", "individually_rational"]
    assert t.loc["grab_all", "weakly_budget_balanced"]
    c = t.attrs["counterexamples"]["grab_all"]["individually_rational"]
    assert c["side"] == "seller" and c["utility"] < 0


def test_property_table_at_the_notebooks_scale():
    """1,000 markets of 20 traders (its speed is measured in benchmarks/bench_mechanisms.py, never asserted)."""
    t = property_table(MECHANISMS, n_instances=1000, n_traders=20, seed=0)
    assert t["incentive_compatible"].tolist() == [False, True, True, True]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("mech", MECHANISMS, ids=lambda m: m.__name__)
def test_bad_reports(mech):
    with pytest.raises(ValueError, match=r"`values` must contain finite prices; entry 1 is nan"):
        mech([1, float("nan")], [1])
    with pytest.raises(ValueError, match=r"`costs` must contain non-negative prices; entry 0 is -1.0"):
        mech([1], [-1])
    with pytest.raises(ValueError, match=r"`costs` is empty"):
        mech([1], [])
    with pytest.raises(ValueError, match=r"`values` is empty"):
        mech([], [1])
    with pytest.raises(TypeError, match=r"`values` must contain only numbers"):
        mech(["a"], [1])
    with pytest.raises(TypeError, match=r"`costs` must be a sequence of numbers"):
        mech([1], "12")


def test_bad_k():
    with pytest.raises(ValueError, match=r"`k` must lie between 0 and 1"):
        uniform_price([1], [1], k=2)


def test_bad_checker_arguments():
    with pytest.raises(ValueError, match=r"`side` must be 'buyer' or 'seller'; got 'buyers'"):
        max_misreport_gain(vcg, [1], [1], side="buyers", index=0)
    with pytest.raises(ValueError, match=r"`index` must be an integer from 0 to 2 \(a buyer\); got 3"):
        max_misreport_gain(vcg, [1, 2, 3], [1], side="buyer", index=3)
    with pytest.raises(ValueError, match=r"`reports` must contain non-negative prices; entry 1 is -2.0"):
        max_misreport_gain(vcg, [1], [1], side="buyer", index=0, reports=[1, -2])
    with pytest.raises(TypeError, match=r"`mechanism` must be callable; got int"):
        max_misreport_gain(3, [1], [1], side="buyer", index=0)
    with pytest.raises(ValueError, match=r"`mechanisms` is empty"):
        property_table({}, n_instances=1, n_traders=1, seed=0)
    with pytest.raises(TypeError, match=r"`mechanisms` must be a dict .* got one callable"):
        property_table(vcg, n_instances=1, n_traders=1, seed=0)
    with pytest.raises(TypeError, match=r"`mechanisms` entry 'x' must be callable; got str"):
        property_table({"x": "vcg"}, n_instances=1, n_traders=1, seed=0)
    with pytest.raises(ValueError, match=r"`n_traders` must be a positive integer; got 0"):
        property_table([vcg], n_instances=1, n_traders=0, seed=0)
    with pytest.raises(ValueError, match=r"`n_instances` must be a positive integer; got 2.5"):
        property_table([vcg], n_instances=2.5, n_traders=1, seed=0)


def _good(values, costs):
    return vcg(values, costs)


MALFORMED = [
    (lambda v, c: "nope", r"must return an Outcome; got str"),
    (lambda v, c: replace(_good(v, c), buyer_trades=_good(v, c).buyer_trades[:-1]), r"`buyer_trades` of shape \(2,\)"),
    (
        lambda v, c: replace(_good(v, c), seller_trades=_good(v, c).seller_trades.astype(int)),
        r"`seller_trades` of dtype int64; expected booleans",
    ),
    (
        lambda v, c: replace(_good(v, c), buyer_pays=np.full(len(v), np.nan)),
        r"`buyer_pays` with a non-finite entry 0",
    ),
    (lambda v, c: replace(_good(v, c), seller_gets=np.ones(2)), r"`seller_gets` of shape \(2,\); expected \(3,\)"),
    (
        lambda v, c: replace(_good(v, c), seller_gets=np.ones(len(c)), budget_surplus=-1.0),
        r"returned `seller_gets` entry \d = 1.0 for a trader who does not trade",
    ),
    (
        lambda v, c: replace(_good(v, c), seller_trades=np.ones(len(c), bool), budget_surplus=-2.0),
        r"`buyer_trades` and `seller_trades` with \d and 3 trades",
    ),
    (
        lambda v, c: replace(_good(v, c), budget_surplus=5.0),
        r"`budget_surplus` = 5.0; expected sum\(buyer_pays\) - sum\(seller_gets\) = ",
    ),
    (lambda v, c: replace(_good(v, c), budget_surplus="x"), r"`budget_surplus` that is not a number"),
    (lambda v, c: replace(_good(v, c), buyer_pays=["a", "b", "c"]), r"`buyer_pays` that is not numeric"),
]


@pytest.mark.parametrize(("bad", "match"), MALFORMED)
def test_malformed_custom_mechanism(bad, match):
    with pytest.raises(ValueError, match=match):
        max_misreport_gain(bad, SEED_VALUES, SEED_COSTS, side="buyer", index=0)
    with pytest.raises(ValueError, match=match):
        property_table({"bad": bad}, n_instances=2, n_traders=3, seed=0)


def test_malformed_outcome_in_utilities_and_welfare():
    o = vcg(SEED_VALUES, SEED_COSTS)
    with pytest.raises(ValueError, match=r"`outcome` must be an Outcome; got str"):
        utilities("x", SEED_VALUES, SEED_COSTS)
    with pytest.raises(ValueError, match=r"`outcome` has `buyer_trades` of shape \(3,\); expected \(2,\)"):
        welfare(o, [1, 2], SEED_COSTS)


def test_outcome_to_frame():
    f = sbba(SEED_VALUES, SEED_COSTS).to_frame()
    assert list(f.columns) == ["side", "index", "trades", "pays", "gets"]
    assert f["pays"].sum() - f["gets"].sum() == 0
    assert isinstance(sbba(SEED_VALUES, SEED_COSTS), Outcome)


# --------------------------------------------------------------------------- issue 14: magnitudes, types, seeds


@pytest.mark.parametrize("mech", MECHANISMS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("values", "costs", "name"),
    [([1.7e308, 1.7e308], [1.6e308, 1.6e308], "values"), ([1.0], [2e150], "costs")],
    ids=["values-1.7e308", "costs-2e150"],
)
def test_reports_beyond_the_supported_range_are_rejected(mech, values, costs, name):
    # fsum raised "intermediate overflow"; now the range (at most 1e150) is checked and named.
    with pytest.raises(ValueError, match=rf"`{name}` must contain prices of at most 1e\+150 in absolute value"):
        mech(values, costs)
    with pytest.raises(ValueError, match=rf"`{name}` must contain prices of at most 1e\+150"):
        welfare(vcg([1.0], [1.0]), [1.0] if name == "costs" else values[:1], costs[:1] if name == "costs" else [1.0])


@pytest.mark.parametrize("scale", [1e150, 1e-150])
def test_the_seed_market_at_the_ends_of_the_range(scale):
    # The seed market (values 12, 10, 8; costs 5, 7, 9) in other units: every number scales by hand.
    values, costs = np.array(SEED_VALUES) * scale / 12, np.array(SEED_COSTS) * scale / 12
    o = vcg(values, costs)
    np.testing.assert_allclose(o.buyer_pays, np.array([8, 8, 0]) * scale / 12, rtol=1e-15)
    np.testing.assert_allclose(o.seller_gets, np.array([9, 9, 0]) * scale / 12, rtol=1e-15)
    assert o.budget_surplus == pytest.approx(-2 * scale / 12, rel=1e-15, abs=0)
    assert welfare(o, values, costs) == pytest.approx(10 * scale / 12, rel=1e-15, abs=0)
    gain, report = max_misreport_gain(uniform_price, values, costs, side="buyer", index=0)
    assert gain == pytest.approx(0.5 * scale / 12, rel=1e-9, abs=0)
    assert report == pytest.approx(8 * scale / 12, rel=1e-15, abs=0)
    assert max_misreport_gain(vcg, values, costs, side="buyer", index=0)[0] == 0.0


@pytest.mark.parametrize(
    ("values", "costs", "error", "match"),
    [
        ([True, 10], [5], TypeError, r"`values` must contain numbers, not booleans"),
        ([12], np.array([False]), TypeError, r"`costs` must contain numbers, not booleans"),
        ([12 + 1j], [5], TypeError, r"`values` must contain real numbers"),
        ([10**400], [5], ValueError, r"`values` holds a number too large for a float"),
    ],
    ids=["values-bool", "costs-bool", "complex", "int-1e400"],
)
@pytest.mark.parametrize("mech", MECHANISMS, ids=lambda m: m.__name__)
def test_reports_that_are_not_real_numbers(mech, values, costs, error, match):
    with pytest.raises(error, match=match):
        mech(values, costs)


def test_misreports_and_k_are_checked_like_reports():
    with pytest.raises(TypeError, match=r"`reports` must contain numbers, not booleans"):
        max_misreport_gain(vcg, [1], [1], side="buyer", index=0, reports=[True])
    with pytest.raises(ValueError, match=r"`reports` must contain prices of at most 1e\+150"):
        max_misreport_gain(vcg, [1], [1], side="buyer", index=0, reports=[1e200])
    with pytest.raises(TypeError, match=r"`k` must be a number between 0 and 1; got True"):
        uniform_price([1], [1], k=True)


def test_custom_outcome_with_huge_payments_is_named():
    def huge(values, costs):
        o = vcg(values, costs)
        pays = np.where(o.buyer_trades, 1.7e308, 0.0)
        return replace(o, buyer_pays=pays, seller_gets=np.where(o.seller_trades, 1.7e308, 0.0), budget_surplus=0.0)

    with pytest.raises(ValueError, match=r"mechanism 'huge' returned `buyer_pays` entry 0 = 1.7e\+308, beyond"):
        max_misreport_gain(huge, SEED_VALUES, SEED_COSTS, side="buyer", index=0)


@pytest.mark.parametrize(
    ("seed", "exc"), [("abc", TypeError), (-1, ValueError), (0.5, TypeError), (True, TypeError)],
    ids=["text", "negative", "float", "bool"],
)
def test_property_table_names_a_bad_seed(seed, exc):
    # numpy said "SeedSequence expects int or sequence of ints for entropy not abc".
    with pytest.raises(exc, match=r"`seed` must be None, a non-negative integer or a numpy Generator"):
        property_table([vcg], n_instances=2, n_traders=2, seed=seed)


def test_property_table_accepts_a_generator():
    a = property_table([vcg], n_instances=20, n_traders=3, seed=np.random.default_rng(4))
    b = property_table([vcg], n_instances=20, n_traders=3, seed=4)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("scale", [1e-150, 1e-20, 1e-9, 1e100])
def test_misreport_gains_are_the_same_in_any_units(scale):
    # The tolerances are relative to the market's prices (they had an absolute floor of 1e-9, which hid
    # every gain in a market priced in small units); the default grid too.
    checked = 0
    for values, costs in random_markets(30, 11, integers=True):
        for mech in MECHANISMS:
            for side, n in (("buyer", len(values)), ("seller", len(costs))):
                for index in range(n):
                    gain, report = max_misreport_gain(mech, values, costs, side=side, index=index)
                    g2, r2 = max_misreport_gain(mech, values * scale, costs * scale, side=side, index=index)
                    assert g2 == pytest.approx(gain * scale, rel=1e-9, abs=0)
                    assert r2 == pytest.approx(report * scale, rel=1e-9, abs=0)
                    checked += gain > 0
    assert checked > 10


# --------------------------------------------------------------------------- issue 14: fuzz findings


def _outcome_kw(**change):
    kw = dict(
        buyer_trades=np.array([True, False]),
        seller_trades=np.array([True, False]),
        buyer_pays=np.array([8.0, 0.0]),
        seller_gets=np.array([8.0, 0.0]),
        budget_surplus=0.0,
        mechanism="m",
    )
    return {**kw, **change}


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"budget_surplus": math.inf}, ValueError, r"`budget_surplus` = inf; expected .* = 0.0"),
        ({"budget_surplus": math.nan}, ValueError, r"`budget_surplus` = nan"),
        ({"budget_surplus": 1.0}, ValueError, r"`budget_surplus` = 1.0; expected"),
        ({"budget_surplus": "0"}, TypeError, r"`budget_surplus` that is not a number"),
        ({"buyer_pays": np.array([math.nan, 0.0])}, ValueError, r"`buyer_pays` with a non-finite entry 0"),
        ({"seller_gets": np.array([-math.inf, 0.0])}, ValueError, r"`seller_gets` with a non-finite entry 0"),
        ({"seller_gets": np.array([8.0, 0.0, 0.0])}, ValueError, r"`seller_gets` of shape \(3,\); expected \(2,\)"),
        ({"buyer_pays": np.array([8.0, 1.0])}, ValueError, r"`buyer_pays` entry 1 = 1.0 for a trader who does not"),
        ({"buyer_trades": np.array([True, True])}, ValueError, r"`buyer_trades` and `seller_trades` with 2 and 1"),
        ({"buyer_trades": None}, ValueError, r"`buyer_trades` of shape \(\)"),
        ({"seller_trades": np.array([1, 0])}, TypeError, r"`seller_trades` of dtype int64; expected booleans"),
        ({"buyer_pays": "8, 0"}, TypeError, r"`buyer_pays` that is not numeric"),
        ({"buyer_pays": np.array([1e200, 0.0]), "budget_surplus": 1e200 - 8}, ValueError, r"`buyer_pays` entry 0"),
        ({"mechanism": None}, TypeError, r"`mechanism` must be a string"),
    ],
)
def test_outcome_checks_its_fields(change, error, match):
    # Outcome(...) accepted NaN and infinite payments and an inconsistent budget_surplus.
    with pytest.raises(error, match=match):
        Outcome(**_outcome_kw(**change))


def test_outcome_stores_read_only_copies():
    pays = np.array([8.0, 0.0])
    o = Outcome(**_outcome_kw(buyer_pays=pays, buyer_trades=[True, False]))
    assert isinstance(o.buyer_trades, np.ndarray) and o.buyer_trades.dtype == bool
    with pytest.raises(ValueError, match="read-only"):
        o.buyer_pays[0] = math.nan
    pays[0] = 99.0  # the caller's array is not the outcome's
    assert o.buyer_pays[0] == 8.0 and o.budget_surplus == 0.0


def test_property_table_names_mechanisms_in_every_message():
    # None said "'NoneType' object is not iterable"; a bad custom mechanism was "mechanism '<lambda>'".
    with pytest.raises(TypeError, match=r"`mechanisms` must be a dict .* got NoneType"):
        property_table(None, n_instances=2, n_traders=2)
    with pytest.raises(ValueError, match=r"`mechanisms` entry 'nan' must return an Outcome; got float"):
        property_table({"nan": lambda v, c: math.nan}, n_instances=2, n_traders=2)

    def nan_mechanism(values, costs):
        return math.nan

    with pytest.raises(ValueError, match=r"^mechanism 'nan_mechanism' must return an Outcome; got float"):
        max_misreport_gain(nan_mechanism, [1.0], [1.0], side="buyer", index=0)
    with pytest.raises(ValueError, match=r"`mechanisms` entry 'nan_mechanism' must return an Outcome"):
        property_table([nan_mechanism], n_instances=2, n_traders=2)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_instances": 10**12}, r"`n_instances` must be at most 100_000"),
        ({"n_instances": 10**400}, r"`n_instances` must be at most 100_000; got a huge integer"),
        ({"n_traders": 10**12}, r"`n_traders` must be at most 300"),
        ({"n_traders": 300, "n_instances": 100}, r"`n_instances` \* `n_traders`\*\*2 must be at most 4_000_000"),
    ],
)
def test_property_table_caps_its_sizes(kw, match):
    # 10**12 markets or traders tried to allocate terabytes; 10**4 traders ran for minutes.
    with pytest.raises(ValueError, match=match):
        property_table([vcg], **{"n_instances": 5, "n_traders": 3, **kw})


def test_property_table_at_the_trader_cap_keeps_its_answers():
    # The batches are cut to bounded memory; VCG is still IC and IR with a deficit, at 300 traders per side.
    t = property_table([vcg], n_instances=2, n_traders=300, seed=3)
    assert t.loc["vcg", "incentive_compatible"] and t.loc["vcg", "individually_rational"]
    assert not t.loc["vcg", "weakly_budget_balanced"]
    assert t.loc["vcg", "efficiency"] == pytest.approx(1.0, rel=1e-12)
