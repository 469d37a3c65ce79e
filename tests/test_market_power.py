"""Tests of te_course.market_power against hand-worked numbers and the Cournot equilibria.

References written here, not taken from the package:

- the agencies' example HHI (shares 30, 30, 20, 20 give 2,600) and the guideline bands, as
  published (2023: above 1,800 highly concentrated, a change above 100 significant; 2010:
  1,500 and 2,500; 1992: 1,000 and 1,800 with 50 and 100 points);
- the elasticity of linear demand by a central finite difference of Q(P) = (a - P)/b;
- the Lerner relations checked on Cournot equilibria, where the Lerner index comes from the
  equilibrium price and costs and the formula from shares and elasticity only.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from te_course.games import cournot_equilibrium
from te_course.market_power import (
    concentration,
    demand_elasticity,
    hhi,
    lerner_cournot,
    lerner_from_hhi,
    lerner_index,
    lerner_monopoly,
    weighted_lerner,
)

# --------------------------------------------------------------------------- HHI


def test_hhi_of_the_agencies_example():
    # 30^2 + 30^2 + 20^2 + 20^2 = 900 + 900 + 400 + 400 = 2,600
    assert hhi([30, 30, 20, 20]) == 2600
    assert hhi([0.3, 0.3, 0.2, 0.2]) == 2600
    assert hhi([3, 3, 2, 2]) == 2600  # quantities (kWh) normalise to the same shares


def test_hhi_extremes():
    assert hhi([7.0]) == 10_000
    assert hhi([1, 0, 0]) == 10_000
    assert hhi([1] * 10) == pytest.approx(1000)
    assert hhi([1] * 10_000) == pytest.approx(1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=30).filter(lambda q: sum(q) > 1e-6))
def test_hhi_is_between_10000_over_n_and_10000_and_scale_free(q):
    value = hhi(q)
    n = len(q)
    assert 10_000 / n - 1e-6 <= value <= 10_000 + 1e-6
    total = sum(q)
    by_hand = sum((100 * x / total) ** 2 for x in q)
    assert value == pytest.approx(by_hand, rel=1e-9, abs=1e-6)
    assert hhi(np.asarray(q) * 3.7) == pytest.approx(value, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("q", "error", "match"),
    [
        ([1, -1], ValueError, "`quantities` must contain non-negative quantities or shares; entry 1 is -1.0"),
        ([1, np.nan], ValueError, "finite quantities or shares; entry 1 is nan"),
        ([0, 0], ValueError, "adds up to 0"),
        ([], ValueError, "`quantities` is empty"),
        ([[1, 2]], ValueError, "one-dimensional"),
        ("30, 70", TypeError, "got the string"),
    ],
)
def test_hhi_rejects_bad_input(q, error, match):
    with pytest.raises(error, match=match):
        hhi(q)


# --------------------------------------------------------------------------- guideline bands


@pytest.mark.parametrize(
    ("value", "guidelines", "band"),
    [
        (1801, "2023", "highly concentrated"),
        (1800, "2023", "moderately concentrated"),  # "greater than 1,800"
        (1000, "2023", "moderately concentrated"),
        (999, "2023", "unconcentrated"),
        (2600, "2010", "highly concentrated"),
        (2500, "2010", "moderately concentrated"),
        (1500, "2010", "moderately concentrated"),
        (1499, "2010", "unconcentrated"),
        (1801, "1992", "highly concentrated"),
        (1200, "1992", "moderately concentrated"),
        (999, "1982", "unconcentrated"),
        (1900, "1982", "highly concentrated"),
    ],
)
def test_concentration_bands(value, guidelines, band):
    assert concentration(value, guidelines=guidelines) == band


def test_concentration_is_an_enum_equal_to_the_old_strings():
    import copy
    import pickle

    from te_course.market_power import Concentration, MergerVerdict

    band = concentration(2600)
    assert band is Concentration.HIGH and band == "highly concentrated" and isinstance(band, str)
    assert f"{band}" == str(band) == "highly concentrated" and f"{concentration(500)}" == "unconcentrated"
    assert concentration(1200) is Concentration.MODERATE and concentration(1200) == "moderately concentrated"
    verdict = concentration(1900, change=150)
    text = ("highly concentrated; a change of 150 (more than 100) in a highly concentrated market: "
            "the merger is presumed to substantially lessen competition")
    assert isinstance(verdict, MergerVerdict) and verdict == text and str(verdict) == text and f"{verdict}" == text
    assert verdict.band is Concentration.HIGH and verdict.verdict == text.split("; ", 1)[1]
    for clone in (pickle.loads(pickle.dumps(verdict)), copy.deepcopy(verdict)):
        assert clone == text and clone.band is Concentration.HIGH and clone.verdict == verdict.verdict


def test_concentration_with_a_change():
    assert concentration(1900, change=150).endswith("presumed to substantially lessen competition")
    assert "not significant" in concentration(1900, change=100)
    assert "not highly concentrated" in concentration(1500, change=300)
    assert concentration(2600, guidelines="2010", change=250).endswith("presumed likely to enhance market power")
    assert "potentially raises significant" in concentration(2600, guidelines="2010", change=150)
    assert "unlikely" in concentration(2600, guidelines="2010", change=50)
    assert "unlikely" in concentration(1000, guidelines="2010", change=150)  # unconcentrated
    assert "potentially raises" in concentration(2000, guidelines="2010", change=150)
    assert "presumed likely to create or enhance" in concentration(1900, guidelines="1992", change=101)
    assert "potentially raises" in concentration(1900, guidelines="1992", change=60)
    assert "unlikely" in concentration(1900, guidelines="1992", change=40)
    assert "potentially raises" in concentration(1500, guidelines="1992", change=120)
    assert "unlikely" in concentration(1500, guidelines="1992", change=80)
    assert "unlikely" in concentration(900, guidelines="1992", change=500)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((10_001,), {}, "between 0 and 10,000"),
        ((-1,), {}, "between 0 and 10,000"),
        ((1000,), {"guidelines": "2020"}, "`guidelines` must be one of"),
        ((1000,), {"change": -5}, "`change` is the increase"),
        ((1000,), {"guidelines": "1982", "change": 5}, "1982 change rules are not implemented"),
    ],
)
def test_concentration_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        concentration(*args, **kwargs)


def test_a_merger_of_the_two_small_firms_of_the_example():
    # merging the two 20 % firms: 30^2 + 30^2 + 40^2 = 3,400, a change of 2 * 20 * 20 = 800
    before, after = hhi([30, 30, 20, 20]), hhi([30, 30, 40])
    assert after - before == pytest.approx(800)
    assert concentration(after, change=after - before).startswith("highly concentrated; a change of 800")


# --------------------------------------------------------------------------- Lerner and elasticity


def test_lerner_index_by_hand():
    assert lerner_index(55, 10) == pytest.approx(9 / 11)
    assert lerner_index(40, 10) == pytest.approx(0.75)
    assert lerner_index(10, 10) == 0.0
    assert lerner_index([40, 50], [10, 25]).tolist() == [0.75, 0.5]
    assert isinstance(lerner_index(55, 10), float)


@pytest.mark.parametrize(
    ("price", "cost", "match"),
    [
        (0, 1, "`price` must be positive for a Lerner index .* entry 0 is 0.0"),
        ([5, -1], 1, "entry 1 is -1.0"),
        (np.nan, 1, "`price` must contain finite prices"),
        (5, -1, "`marginal_cost` must contain non-negative costs"),
        ([5, 6, 7], [1, 2], "must have the same length"),
    ],
)
def test_lerner_index_rejects_bad_input(price, cost, match):
    with pytest.raises(ValueError, match=match):
        lerner_index(price, cost)


@settings(max_examples=100, deadline=None)
@given(st.floats(1, 500), st.floats(0.05, 10), st.floats(0.01, 0.99))
def test_elasticity_is_a_finite_difference_of_demand(a, b, frac):
    p = frac * a
    h = 1e-6 * a
    dq_dp = (((a - (p + h)) / b) - ((a - (p - h)) / b)) / (2 * h)
    assert demand_elasticity(a, b, p) == pytest.approx(dq_dp * p / ((a - p) / b), rel=1e-6)


def test_elasticity_by_hand_and_vectorised():
    assert demand_elasticity(100, 1, 55) == pytest.approx(-55 / 45)
    assert demand_elasticity(100, 3, 50) == pytest.approx(-1)  # unit elastic at a/2, whatever the slope
    assert demand_elasticity(100, 1, [0, 40]).tolist() == [0.0, pytest.approx(-2 / 3)]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((100, 1, 100), "must lie below the intercept 100 .* entry 0 is 100.0"),
        ((100, 1, [10, -1]), "`price` must contain non-negative prices; entry 1"),
        ((0, 1, 10), "`intercept` must be a positive number"),
        ((100, 0, 10), "`slope` must be a positive number"),
    ],
)
def test_demand_elasticity_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        demand_elasticity(*args)


def test_monopoly_inverse_elasticity_rule():
    m = cournot_equilibrium(100, 1, [10])
    eps = demand_elasticity(100, 1, m.price)
    assert lerner_monopoly(eps) == pytest.approx(lerner_index(m.price, 10)) == pytest.approx(9 / 11)
    assert lerner_monopoly([-1, -2]).tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="`elasticity` must be negative .* entry 0 is 0.5"):
        lerner_monopoly(0.5)
    with pytest.raises(ValueError, match="inelastic there"):
        lerner_monopoly(-0.5)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(st.floats(50, 300), st.floats(0.1, 5), st.lists(st.floats(0, 40), min_size=n, max_size=n))
    )
)
def test_cournot_lerner_equals_share_over_elasticity(case):
    a, b, c = case
    r = cournot_equilibrium(a, b, c)
    active = r.active
    eps = demand_elasticity(a, b, r.price)
    from_prices = lerner_index(r.price, np.asarray(c)[active])  # (P - c_i)/P from the equilibrium
    from_shares = lerner_cournot(r.shares[active], eps)  # s_i / |eps|, shares and elasticity only
    assert from_prices == pytest.approx(from_shares, rel=1e-9, abs=1e-12)
    # share-weighted: sum s_i L_i = HHI / |eps| (Cowling and Waterson)
    weighted = weighted_lerner(r.shares[active], from_prices)
    assert weighted == pytest.approx(lerner_from_hhi(hhi(r.quantities), eps), rel=1e-9)
    assert weighted == pytest.approx(np.sum(r.shares**2) / abs(eps), rel=1e-9)


def test_the_issue_duopolies():
    d = cournot_equilibrium(100, 1, [10, 10])
    assert lerner_cournot(d.shares, demand_elasticity(100, 1, d.price)) == pytest.approx([0.75, 0.75])
    assert lerner_from_hhi(5000, -40 / 60) == pytest.approx(0.75)
    a = cournot_equilibrium(100, 1, [10, 20])  # P = 130/3, eps = -13/17, shares 10/17 and 7/17
    assert lerner_cournot([10 / 17, 7 / 17], -13 / 17) == pytest.approx(lerner_index(130 / 3, [10, 20]))
    assert lerner_cournot(a.shares, a.elasticity) == pytest.approx([10 / 13, 7 / 13])


def test_markup_over_cost_is_l_over_one_minus_l_in_cournot():
    """The Lerner index is a share of the price; over the cost the mark-up is L / (1 - L)."""
    a, c = 100.0, 10.0
    for n in range(1, 21):
        price = (a + n * c) / (n + 1)  # Cournot closed form, n identical firms
        over_cost = (a - c) / ((n + 1) * c)  # (P - c) / c by hand
        r = cournot_equilibrium(a, 1, [c] * n)
        assert r.price == pytest.approx(price)
        lerner = lerner_index(r.price, c)
        assert lerner == pytest.approx((a - c) / (a + n * c)) == pytest.approx(r.lerner[0])
        assert lerner / (1 - lerner) == pytest.approx(over_cost)
        assert lerner < over_cost  # a positive mark-up is a smaller share of the price than of the cost
    # the chapter's six prosumers: L = 90/160 = 0.5625 is 56 % of the price, but (160/7 - 10)/10 = 9/7 of the cost
    six = lerner_index(160 / 7, 10)
    assert six == pytest.approx(0.5625) and six / (1 - six) == pytest.approx(9 / 7)
    assert (round(100 * six), round(100 * six / (1 - six))) == (56, 129)
    # asymmetric duopoly, P = 130/3: over cost (100/3)/10 = 10/3 and (70/3)/20 = 7/6
    duo = lerner_index(130 / 3, [10, 20])
    assert duo / (1 - duo) == pytest.approx([10 / 3, 7 / 6])


@pytest.mark.parametrize(
    ("func", "args", "match"),
    [
        (lerner_cournot, ([30, 70], -1), "fractions that add up to at most 1"),
        (lerner_cournot, ([0.5, 0.5], [-1, -2]), "must be a single number"),
        (lerner_cournot, ([0.5, 0.5], 1), "`elasticity` must be negative"),
        (weighted_lerner, ([0.5, 0.4], [0.1, 0.2]), "add up to 1 for a weighted average; they add up to 0.9"),
        (weighted_lerner, ([0.5, 0.5], [0.1]), "`lerner` has 1 entries and `shares` 2"),
        (weighted_lerner, ([0.5, 0.5], [0.1, np.nan]), "`lerner` must contain finite values"),
        (weighted_lerner, ([-0.5, 1.5], [0.1, 0.2]), "non-negative shares; entry 0"),
        (lerner_from_hhi, (5000, [-1, -2]), "must be a single number"),
        (lerner_from_hhi, (20_000, -1), "between 0 and 10,000"),
        (lerner_from_hhi, (5000, np.nan), "finite values"),
    ],
)
def test_lerner_relations_reject_bad_input(func, args, match):
    with pytest.raises(ValueError, match=match):
        func(*args)


# --------------------------------------------------------------------------- issue 14: magnitudes and bad types


@pytest.mark.parametrize("scale", [1.7e308 / 4, 1e200, 1e-200, 5e-324 * 2**20, 1.0], ids=str)
def test_hhi_at_any_finite_magnitude(scale):
    # Shares 30, 30, 20, 20 % (2,600, by hand) at any scale: [1.7e308] * 2 gave 0.0 (the sum overflowed).
    assert hhi(np.array([3.0, 3.0, 2.0, 2.0]) * scale) == 2600
    assert hhi([1.7e308] * 2) == 5000  # the issue's reproducer: two equal firms
    assert hhi([1.7e308, 0.0]) == 10_000


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=10).filter(any), st.integers(-300, 300))
def test_hhi_is_the_same_in_every_unit(counts, exponent):
    by_hand = sum((100 * c / sum(counts)) ** 2 for c in counts)
    assert hhi(np.array(counts, dtype=float) * 10.0**exponent) == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize(
    ("q", "error", "match"),
    [
        ([10**400, 1], ValueError, r"`quantities` holds a number too large for a float \(entry 0 is about 1e400\)"),
        ([True, False], TypeError, r"`quantities` must contain numbers, not booleans"),
        (np.array([1 + 2j, 3]), TypeError, r"`quantities` must contain real numbers"),
    ],
    ids=["int-1e400", "booleans", "complex"],
)
def test_hhi_names_quantities_it_cannot_read(q, error, match):
    with pytest.raises(error, match=match):
        hhi(q)


@pytest.mark.parametrize(
    ("price", "cost", "error", "match"),
    [
        (True, 10, TypeError, r"`price` must contain numbers, not booleans"),  # was -9.0: True read as 1
        (10, True, TypeError, r"`marginal_cost` must contain numbers, not booleans"),
        ([10, True], 1, TypeError, r"`price` must contain numbers, not booleans"),
        (np.array([10 + 1j]), 1, TypeError, r"`price` must contain real numbers"),
        (10**400, 1, ValueError, r"`price` holds a number too large for a float"),
        (1e-308, 1.7e308, ValueError, r"overflows the floats .*`marginal_cost` is too large for so small a `price`"),
    ],
    ids=["price-True", "cost-True", "price-list-True", "complex", "int-1e400", "overflow"],
)
def test_lerner_index_rejects_booleans_complex_and_overflow(price, cost, error, match):
    with pytest.raises(error, match=match):
        lerner_index(price, cost)


def test_lerner_index_of_extreme_but_representable_numbers():
    # (P - MC) / P by hand: a price of 1.7e308 and a cost of 0 is pure mark-up; equal tiny numbers none.
    assert lerner_index(1.7e308, 0) == 1.0
    assert lerner_index(1e-300, 1e-300) == 0.0
    assert lerner_index(1e-300, 2e-300) == -1.0


@pytest.mark.parametrize(
    ("func", "args", "error", "match"),
    [
        (lerner_from_hhi, (5000, -1e-310), ValueError, r"overflows the floats .*`elasticity` is too close to 0"),
        (lerner_cournot, ([0.5, 0.5], -1e-310), ValueError, r"overflows the floats .*`elasticity` is too close to 0"),
        (weighted_lerner, ([0.5, 0.5], [1.7e308, 1.7e308]), None, None),
        (lerner_monopoly, (True,), TypeError, r"`elasticity` must contain numbers, not booleans"),
        (lerner_cournot, ([True, False], -2), TypeError, r"`shares` must contain numbers, not booleans"),
        (weighted_lerner, ([0.5, 0.5], [True, 0.5]), TypeError, r"`lerner` must contain numbers, not booleans"),
        (demand_elasticity, (100, 1, True), TypeError, r"`price` must contain numbers, not booleans"),
        (demand_elasticity, (True, 1, 5), TypeError, r"`intercept` must be a positive number"),
        (concentration, (True,), TypeError, r"`hhi_value` must be a number"),
        (lerner_from_hhi, (10**400, -1), ValueError, r"`hhi_value` is too large for a float"),
    ],
    ids=["from-hhi-overflow", "cournot-overflow", "weighted-huge", "monopoly-True", "shares-True", "lerner-True",
         "elasticity-price-True", "intercept-True", "concentration-True", "hhi-int-1e400"],
)
def test_lerner_relations_reject_overflow_and_booleans(func, args, error, match):
    if error is None:  # the largest finite values still give the finite weighted average, by hand 1.7e308
        assert func(*args) == 1.7e308
        return
    with pytest.raises(error, match=match):
        func(*args)
