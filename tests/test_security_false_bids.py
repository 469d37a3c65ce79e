"""Tests of te_course.security.false_bids (phantom orders, the screen) against independent references.

References written here, not taken from the package:

- the seed market (bids 12, 10, 8; asks 5, 7, 9) with phantom orders, cleared by hand;
- the welfare optimum of random markets by scipy ``linprog`` (the true welfare of an
  attacked market can never exceed it);
- robust z-scores (Iglewicz and Hoaglin 1993) worked by hand.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from te_course.security import (
    FalseBidResult,
    MitigationResult,
    Screening,
    false_bid_attack,
    mitigate_false_bids,
    robust_z,
    screen_orders,
)

SEED_BIDS = [12, 10, 8]
SEED_ASKS = [5, 7, 9]


# --------------------------------------------------------------------------- false bids: hand-worked markets


def test_phantom_ask_of_10_kwh_at_zero():
    """Supply 0 (10 kWh) undercuts everyone: all three buyers match phantom energy, nothing is delivered."""
    res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 10.0)])
    assert isinstance(res, FalseBidResult)
    h, a = res.honest, res.attacked
    assert (h.price, h.quantity_kwh, h.welfare) == (8.5, 2.0, 10.0)
    # interval: lo = max(last accepted ask 0, best rejected bid -) = 0; hi = min(8, best rejected ask 0) = 0
    assert a.price == 0.0 and a.quantity_kwh == 3.0
    assert a.delivered_kwh == 0.0 and a.welfare == 0.0
    assert a.welfare_reported == 12 + 10 + 8 - 0
    assert res.price_shift == -8.5 and res.welfare_loss == 10.0
    book = a.to_frame()
    assert book["fake"].tolist() == [False] * 6 + [True]
    assert book["delivered"].sum() == 0.0


def test_phantom_ask_of_1_kwh_serves_buyers_pro_rata():
    """Supply 0 (1), 5, 7, 9 against 12, 10, 8: 3 kWh clear at 7.5; 2 real kWh shared by 3 buyers."""
    res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 1.0)])
    a = res.attacked
    assert a.price == 7.5 and a.quantity_kwh == 3.0 and a.delivered_kwh == 2.0
    served = a.book.query("side == 'buyer'")["delivered"].to_numpy()
    assert np.allclose(served, 2 / 3)
    assert a.welfare == pytest.approx((12 + 10 + 8) * 2 / 3 - (5 + 7))  # 8
    assert a.buyer_surplus == pytest.approx((4.5 + 2.5 + 0.5) * 2 / 3)
    assert a.seller_surplus == pytest.approx(2.5 + 0.5)
    assert res.welfare_loss == pytest.approx(2.0)


def test_phantom_bid_raises_the_price_for_sellers():
    """Bids 20 (phantom), 12, 10, 8 against 5, 7, 9: 3 kWh clear in [9, 10] at 9.5; 2 real kWh are taken."""
    res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_bids=[20])
    a = res.attacked
    assert a.price == 9.5 and a.quantity_kwh == 3.0 and a.delivered_kwh == 2.0
    assert res.price_shift == 1.0
    delivered = a.book.query("side == 'seller'")["delivered"].to_numpy()
    assert np.allclose(delivered, 2 / 3)
    assert a.welfare == pytest.approx(12 + 10 - (5 + 7 + 9) * 2 / 3)  # 8
    assert a.buyer_surplus == pytest.approx(2.5 + 0.5)
    assert a.seller_surplus == pytest.approx((4.5 + 2.5 + 0.5) * 2 / 3)
    table = res.to_frame()
    assert list(table.index) == ["honest", "attacked"]
    assert table.loc["honest", "seller_surplus"] == pytest.approx(3.5 + 1.5)


def test_no_phantom_orders_changes_nothing():
    for empty in (None, [], pd.DataFrame({"price": [], "quantity": []})):
        res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_bids=empty, fake_asks=empty)
        assert res.honest.summary() == res.attacked.summary()
        assert res.welfare_loss == 0.0


def lp_welfare(bp, bq, ap, aq):
    """Best welfare of divisible orders by scipy linprog (independent of the merit order)."""
    nb, na = len(bp), len(ap)
    c = np.r_[-np.asarray(bp), np.asarray(ap)]
    a_eq = np.r_[np.ones(nb), -np.ones(na)][None, :]
    bounds = [(0, q) for q in np.r_[bq, aq]]
    r = linprog(c, A_eq=a_eq, b_eq=[0.0], bounds=bounds, method="highs")
    return -r.fun


orders = st.lists(
    st.tuples(st.integers(0, 20).map(float), st.integers(1, 5).map(float)), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None)
@given(bids=orders, asks=orders, fb=st.lists(st.tuples(st.integers(0, 30).map(float), st.integers(1, 6).map(float)),
                                             max_size=2),
       fa=st.lists(st.tuples(st.integers(0, 30).map(float), st.integers(1, 6).map(float)), max_size=2),
       k=st.sampled_from([0.0, 0.5, 1.0]))
def test_true_welfare_never_beats_the_honest_optimum(bids, asks, fb, fa, k):
    res = false_bid_attack(bids, asks, fake_bids=fb or None, fake_asks=fa or None, k=k)
    bp, bq = np.array(bids).T
    ap, aq = np.array(asks).T
    best = lp_welfare(bp, bq, ap, aq)
    assert res.honest.welfare == pytest.approx(best, abs=1e-7)
    assert res.attacked.welfare <= best + 1e-7
    for m in (res.honest, res.attacked):
        assert m.buyer_surplus + m.seller_surplus == pytest.approx(m.welfare, abs=1e-9)
        assert m.delivered_kwh <= min(bq.sum(), aq.sum()) + 1e-12
        assert m.delivered_kwh <= m.quantity_kwh + 1e-12
        served = m.book.query("side == 'buyer' and not fake")["delivered"].sum()
        made = m.book.query("side == 'seller' and not fake")["delivered"].sum()
        assert served == pytest.approx(made) == pytest.approx(m.delivered_kwh)
        assert (m.book.query("fake")["delivered"] == 0).all()


def test_false_bid_argument_errors():
    with pytest.raises(ValueError, match="`fake_asks` must contain finite prices; entry 0 is nan"):
        false_bid_attack(SEED_BIDS, SEED_ASKS, fake_asks=[(float("nan"), 1.0)])
    with pytest.raises(ValueError, match="`fake_bids` must contain positive quantities; entry 0 is -1.0"):
        false_bid_attack(SEED_BIDS, SEED_ASKS, fake_bids=[(20.0, -1.0)])
    with pytest.raises(ValueError, match="`bids` is empty"):
        false_bid_attack([], SEED_ASKS)
    with pytest.raises(ValueError, match="`k` must lie between 0 and 1"):
        false_bid_attack(SEED_BIDS, SEED_ASKS, k=2)


# --------------------------------------------------------------------------- robust z-score and screening


def test_robust_z_by_hand():
    # asks 5, 7, 9, 0: median 6, |deviations| 1, 1, 3, 6 -> MAD 2
    assert np.allclose(robust_z([5, 7, 9, 0]), 0.6745 * np.array([-1, 1, 3, -6]) / 2)
    # 10..13 and 100: median 12, |deviations| 2, 1, 0, 1, 88 -> MAD 1
    assert np.allclose(robust_z([10, 11, 12, 13, 100]), 0.6745 * np.array([-2, -1, 0, 1, 88]))
    # MAD 0: the median value scores 0, every other value is infinitely far
    assert robust_z([1, 1, 1, 10]).tolist() == [0.0, 0.0, 0.0, math.inf]
    assert robust_z([3.0]).tolist() == [0.0]
    assert robust_z([2, 4]).tolist() == [-0.6745, 0.6745]


def test_robust_z_errors():
    with pytest.raises(ValueError, match="`values` must contain finite values; entry 1 is nan"):
        robust_z([1.0, float("nan")])
    with pytest.raises(ValueError, match="`values` is empty"):
        robust_z([])


def test_screen_bounds_capacity_and_outliers():
    s = screen_orders([(5, 1), (7, 1), (9, 1), (0, 10), (50, 1)], price_bounds=(1, 20), registered_kw=5, z_max=None)
    assert isinstance(s, Screening)
    assert s.accepted_mask.tolist() == [True, True, True, False, False]
    reasons = s.table["reason"]
    assert reasons[3] == "price 0 below the floor 1; quantity 10 above the registered 5 kW x 1 h, clipped to 5"
    assert reasons[4] == "price 50 above the cap 20"
    assert list(s.rejected.index) == [3, 4]
    assert s.accepted["quantity"].tolist() == [1.0, 1.0, 1.0]
    assert s.table["z_price"].isna().all()


def test_screen_clip_or_reject_over_capacity():
    book = pd.DataFrame({"price": [5.0, 6.0], "quantity": [4.0, 1.0], "registered_kw": [2.0, 3.0]})
    clipped = screen_orders(book, z_max=None)
    assert clipped.accepted_mask.all()
    assert clipped.accepted["quantity"].tolist() == [2.0, 1.0]
    rejected = screen_orders(book, z_max=None, over_capacity="reject")
    assert rejected.accepted_mask.tolist() == [False, True]
    assert rejected.table.loc[0, "reason"] == "quantity 4 above the registered 2 kW x 1 h"
    # a half-hour market halves what each capacity may sell
    half = screen_orders(book, z_max=None, dt_h=0.5)
    assert half.accepted["quantity"].tolist() == [1.0, 1.0]
    # a capacity of 0 rejects even when clipping
    zero = screen_orders([(5.0, 1.0)], registered_kw=0.0, z_max=None)
    assert not zero.accepted_mask[0]


def test_screen_outliers_by_robust_z():
    s = screen_orders([10, 11, 12, 13, 100])
    assert s.accepted_mask.tolist() == [True, True, True, True, False]
    assert s.table.loc[4, "z_price"] == pytest.approx(0.6745 * 88)
    assert s.table.loc[4, "reason"] == "price is an outlier (robust z = 59.4, |z| > 3.5)"
    assert screen_orders([10, 11, 12, 13, 100], z_max=60).accepted_mask.all()


def test_screen_argument_errors():
    with pytest.raises(ValueError, match="`price_bounds` has its floor 5.0 above its cap 1.0"):
        screen_orders([1, 2], price_bounds=(5, 1))
    with pytest.raises(TypeError, match="`price_bounds` must be a pair"):
        screen_orders([1, 2], price_bounds=3)
    with pytest.raises(ValueError, match=r"`price_bounds\[1\] \(the cap\)` must be a finite number"):
        screen_orders([1, 2], price_bounds=(None, float("nan")))
    with pytest.raises(ValueError, match=r"`registered_kw` must contain non-negative .* entry 1 is nan"):
        screen_orders([1, 2], registered_kw=[1.0, float("nan")])
    with pytest.raises(TypeError, match="`registered_kw` must be a number or one number per order"):
        screen_orders([1, 2], registered_kw={"a": 1.0})
    with pytest.raises(ValueError, match="`registered_kw` must contain non-negative capacities in kW"):
        screen_orders([1, 2], registered_kw=-1.0)
    with pytest.raises(ValueError, match=r"`registered_kw` must be one number or one per order \(2\)"):
        screen_orders([1, 2], registered_kw=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="`registered_kw` must be a number or one number per order"):
        screen_orders([1, 2], registered_kw="lots")
    with pytest.raises(ValueError, match=r"`orders\['registered_kw'\]` must contain non-negative"):
        screen_orders(pd.DataFrame({"price": [1.0], "registered_kw": [-2.0]}))
    with pytest.raises(ValueError, match="`z_max` must be a positive number"):
        screen_orders([1, 2], z_max=0)
    with pytest.raises(ValueError, match="`dt_h` must be a positive number"):
        screen_orders([1, 2], dt_h=-1)
    with pytest.raises(ValueError, match="`over_capacity` must be 'clip' or 'reject'"):
        screen_orders([1, 2], over_capacity="shrug")
    with pytest.raises(ValueError, match="`orders` must contain finite prices"):
        screen_orders([1, float("nan")])


# --------------------------------------------------------------------------- mitigation in the market


def test_mitigation_restores_the_honest_market_when_fakes_are_out_of_bounds():
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_bids=[20], fake_asks=[(0.0, 10.0)], price_bounds=(1, 15))
    assert isinstance(res, MitigationResult)
    assert res.mitigated.summary() == res.honest.summary()
    assert (res.honest.price, res.honest.welfare) == (8.5, 10.0)
    assert res.n_fakes == 2 and res.n_fakes_caught == 2 and res.n_honest_rejected == 0
    assert res.damage == 10.0 and res.damage_removed == 1.0 and res.false_positive_cost == 0.0
    table = res.to_frame()
    assert list(table.index) == ["honest", "attacked", "mitigated", "honest_screened"]
    assert table["welfare_loss"].tolist() == [0.0, 10.0, 0.0, 0.0]
    assert res.bid_screening.rejected.index.tolist() == [3]
    assert res.ask_screening.rejected.index.tolist() == [3]
    # the screened book keeps the positions of the orders in the attacked book
    book = res.mitigated.to_frame()
    assert book["order"].tolist() == [0, 1, 2, 0, 1, 2] and not book["fake"].any()


def test_old_count_names_warn_and_give_the_same_counts():
    """fakes_total, fakes_caught, honest_rejected became n_fakes, n_fakes_caught, n_honest_rejected (issue 17)."""
    res = mitigate_false_bids([12, 10, 8, 30], SEED_ASKS, fake_bids=[20], fake_asks=[(0.0, 10.0)],
                              price_bounds=(1, 15))
    # by hand: both phantom orders break the bounds (bid 20 > 15, ask 0 < 1); the genuine buyer at 30 too
    assert (res.n_fakes, res.n_fakes_caught, res.n_honest_rejected) == (2, 2, 1)
    for old, new in (("fakes_total", "n_fakes"), ("fakes_caught", "n_fakes_caught"),
                     ("honest_rejected", "n_honest_rejected")):
        with pytest.warns(DeprecationWarning, match=f"MitigationResult.{old} is now called {new}"):
            assert getattr(res, old) == getattr(res, new)

def test_clipping_a_phantom_ask_removes_part_of_the_damage():
    """Clipped to its registered 1 kW, the phantom ask is the 1 kWh case: welfare 8 instead of 0."""
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 10.0)], registered_kw=1.0, z_max=None)
    assert res.n_fakes_caught == 0
    assert res.mitigated.price == 7.5 and res.mitigated.welfare == pytest.approx(8.0)
    assert res.damage_removed == pytest.approx(0.8)


def test_registered_capacity_per_order_in_a_column():
    fake = pd.DataFrame({"price": [0.0], "quantity": [10.0], "registered_kw": [1.0]})
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=fake, z_max=None, over_capacity="reject")
    assert res.n_fakes_caught == 1 and res.damage_removed == 1.0


def test_a_screen_that_accepts_everything_removes_nothing():
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=[(4.0, 3.0)], z_max=None)
    assert res.mitigated.summary() == res.attacked.summary()
    assert res.damage_removed == 0.0
    no_damage = mitigate_false_bids(SEED_BIDS, SEED_ASKS)
    assert math.isnan(no_damage.damage_removed)


def test_false_positive_cost_of_the_outlier_test():
    """A genuine buyer at 30 is an outlier among bids 12, 10, 8, 30.

    Median 11, |deviations| 1, 1, 3, 19, MAD 2: z = 0.6745 * 19 / 2 = 6.41 > 3.5.
    """
    bids = [12, 10, 8, 30]
    res = mitigate_false_bids(bids, SEED_ASKS)
    assert res.honest.welfare == 30 + 12 + 10 - (5 + 7 + 9)  # 31, three trades
    assert res.honest_screened.welfare == 10.0  # the seed market without the buyer at 30
    assert res.false_positive_cost == 21.0
    assert res.n_honest_rejected == 1
    assert res.honest_screened.to_frame().query("side == 'buyer'")["order"].tolist() == [0, 1, 2]
    assert res.bid_screening.table.loc[3, "z_price"] == pytest.approx(0.6745 * 19 / 2)


def test_an_empty_side_after_screening_trades_nothing():
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, price_bounds=(None, 4))
    assert res.honest_screened.quantity_kwh == 0.0 and math.isnan(res.honest_screened.price)
    assert res.honest_screened.welfare == 0.0 and res.false_positive_cost == 10.0


def test_mitigation_argument_errors():
    with pytest.raises(ValueError, match="`registered_kw` must be one number for every order here"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, registered_kw=[1, 2, 3])
    with pytest.raises(ValueError, match=r"`fake_asks\['registered_kw'\]` must contain non-negative"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS,
                            fake_asks=pd.DataFrame({"price": [0.0], "quantity": [1.0], "registered_kw": [np.nan]}))
    with pytest.raises(ValueError, match="`over_capacity` must be 'clip' or 'reject'"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, over_capacity="cut")
    with pytest.raises(ValueError, match="`k` must lie between 0 and 1"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, k=-0.1)


# --------------------------------------------------------------------------- issue 14: fuzz findings


@pytest.mark.parametrize(
    ("registered", "error", "match"),
    [
        (10**400, ValueError, r"`registered_kw` holds a number too large for a float"),
        ([[1.0], [1.0, 2.0]], TypeError, r"`registered_kw` .*ragged"),
        (True, TypeError, r"`registered_kw` must contain numbers, not booleans"),
        (1 + 1j, TypeError, r"`registered_kw` must contain real numbers"),
    ],
    ids=["int-1e400", "ragged", "bool", "complex"],
)
def test_registered_kw_that_is_not_a_capacity_is_named(registered, error, match):
    # 10**400 raised a bare OverflowError from numpy; a ragged list numpy's "inhomogeneous shape".
    with pytest.raises(error, match=match):
        screen_orders([(5, 1), (7, 1)], registered_kw=registered)
    with pytest.raises(error, match=match):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 10.0)], registered_kw=registered)


def test_registered_kw_column_beyond_the_floats_is_named():
    book = pd.DataFrame({"price": [5.0, 7.0], "quantity": [1.0, 1.0], "registered_kw": [1, 10**400]})
    with pytest.raises(ValueError, match=r"`orders\['registered_kw'\]` holds a number too large"):
        screen_orders(book)


def test_infinite_registered_kw_is_no_limit():
    # inf is documented as "no limit": the order passes untouched, as with None.
    s = screen_orders([(5, 1), (7, 100)], registered_kw=math.inf, z_max=None)
    assert s.accepted_mask.tolist() == [True, True]
    assert s.table["quantity_accepted"].tolist() == [1.0, 100.0]
