"""Hidden checks of chapter 6, mechanism design (``solutions/06_mechanism_design``).

The references are the package's unit double auctions (:mod:`te_course.mechanisms`:
:func:`~te_course.mechanisms.vcg` for the VCG payments and the clearing interval of
exercise 1, :func:`~te_course.mechanisms.trade_reduction` for McAfee), themselves
checked against brute force in ``tests/test_mechanisms.py``; exercise 4 has a closed
form here.
"""

from __future__ import annotations

import math

import numpy as np

from te_course import mechanisms
from te_course._checks import Check, case, register
from te_course._checks.plain import as_bool, as_dict, as_float, as_floats, as_int, as_tuple

CHAPTER = "06_mechanism_design"
MECHANISMS = ("uniform_price", "vcg", "trade_reduction", "sbba", "property_table", "max_misreport_gain")
SEED_VALUES, SEED_COSTS = [12.0, 10.0, 8.0], [5.0, 7.0, 9.0]


# -- exercise 1: a value, not a function -------------------------------------------------


def _lie_expected() -> dict:
    """Return the sellers who can gain in the seed market, and the reports that gain.

    By hand: a trading seller (index 0 or 1) reporting r in (8, 9] keeps its trade; the interval becomes
    [r, 9] and the price (r + 9) / 2 > 8.5. Index 2 (cost 9) cannot gain: to trade it must report <= 8,
    and then the price is at most 8 < 9.  Here 8 and 9 are the clearing interval [lo, hi] of the seed
    market, which VCG charges the buyers (lo) and pays the sellers (hi).
    """
    o = mechanisms.vcg(SEED_VALUES, SEED_COSTS)
    return {
        "sellers": np.flatnonzero(o.seller_trades).tolist(),
        "low": float(o.buyer_pays[o.buyer_trades].min()),
        "high": float(o.seller_gets[o.seller_trades].max()),
    }


def _lie_compare(got, want) -> str | None:
    index, report = got
    if index not in want["sellers"]:
        return (f"seller {index} cannot gain (the sellers who can are {want['sellers']}): seller 2, with cost 9, "
                "would sell below its cost")
    if not want["low"] < report <= want["high"] + 1e-9:
        return (f"seller {index} reporting {report!r} does not raise its utility: only reports in "
                f"({want['low']:g}, {want['high']:g}] raise the price while keeping the trade")
    return None


register(Check(
    id="ex1_profitable_lie",
    function="(my_index, my_report)",
    disabled=(),
    expected=_lie_expected,
    plain=lambda r: as_tuple(r, as_int, as_float),
    fixed=[case()],
    draw=None,
    call=lambda value: value,
    compare=_lie_compare,
    chapter=CHAPTER,
))


# -- markets -----------------------------------------------------------------------------


def _market(rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Up to 5 buyers and 5 sellers with distinct integer prices (no ties, whose order the exercises leave open)."""
    nb, ns = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    prices = rng.choice(np.arange(1, 31), size=nb + ns, replace=False)
    return prices[:nb].tolist(), prices[nb:].tolist()


def _efficient_trades(values, costs) -> int:
    s, b = sorted(costs), sorted(values, reverse=True)
    return sum(1 for v, c in zip(b, s) if v >= c)


# -- exercise 2: VCG ----------------------------------------------------------------------


def _draw_vcg(rng: np.random.Generator) -> dict:
    while True:
        values, costs = _market(rng)
        if _efficient_trades(values, costs) > 0:
            return case(values, costs)


def _vcg_expected(values, costs):
    o = mechanisms.vcg(values, costs)
    return [o.buyer_pays.tolist(), o.seller_gets.tolist()]


register(Check(
    id="ex2_vcg_payments",
    function="vcg_payments",
    disabled=MECHANISMS,
    expected=_vcg_expected,
    plain=lambda r: as_tuple(r, as_floats, as_floats),
    fixed=[case([12, 10, 4], [5, 7, 9]), case([10], [3]), case([2], [5]), case([4, 9], [6, 1])],
    draw=_draw_vcg,
    chapter=CHAPTER,
))


# -- exercise 3: McAfee -------------------------------------------------------------------


def _mcafee_expected(values, costs):
    o = mechanisms.trade_reduction(values, costs)
    n = int(o.buyer_trades.sum())
    if n == 0:
        return [0, math.nan, math.nan]
    return [n, float(o.buyer_pays[o.buyer_trades][0]), float(o.seller_gets[o.seller_trades][0])]


def _draw_mcafee(rng: np.random.Generator) -> dict:
    """Draw a market in one regime: all k pairs trade at p0, k - 1 >= 1 pairs trade, or the only pair is dropped."""
    regime = rng.choice(["all", "reduced", "dropped"])
    while True:
        values, costs = _market(rng)
        k = _efficient_trades(values, costs)
        if k == 0:
            continue
        n = int(mechanisms.trade_reduction(values, costs).buyer_trades.sum())
        got = "all" if n == k else ("reduced" if n > 0 else "dropped")
        if got == regime:
            return case(values, costs)


register(Check(
    id="ex3_mcafee",
    function="mcafee",
    disabled=MECHANISMS,
    expected=_mcafee_expected,
    plain=lambda r: as_tuple(r, as_int, as_float, as_float),
    fixed=[case([12, 10], [5, 7]), case([10, 9, 1], [2, 3, 8]), case([3], [9]), case([10], [3])],
    draw=_draw_mcafee,
    n_random=8,
    chapter=CHAPTER,
))


# -- exercise 4: the property table's columns ---------------------------------------------


def _summary_expected(surpluses, welfares, optimal_welfares, tol=1e-9):
    ratios = [w / o for w, o in zip(welfares, optimal_welfares) if o > 0]
    return {
        "weakly_budget_balanced": min(surpluses) >= -tol,
        "strongly_budget_balanced": max(abs(x) for x in surpluses) <= tol,
        "efficiency": math.fsum(ratios) / len(ratios),
    }


def _draw_summary(rng: np.random.Generator) -> dict:
    """Draw surpluses within tol of 0 (some exactly 0) or beyond it, and some markets with nothing to trade."""
    n = int(rng.integers(2, 7))
    tol = float(rng.choice([1e-9, 0.05, 0.5]))
    regime = rng.choice(["strong", "weak", "deficit"])
    small = [float(x) for x in rng.choice([0.0, 0.4 * tol, -0.4 * tol], size=n)]  # within tol of zero
    big = [round(float(x), 2) for x in rng.uniform(2 * tol + 0.1, 5, size=n)]  # beyond tol
    pick = rng.random(n) < 0.5
    pick[int(rng.integers(n))] = True
    if regime == "strong":
        surpluses = small
    elif regime == "weak":
        surpluses = [b if p else s for b, s, p in zip(big, small, pick)]
    else:
        sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        sign[np.flatnonzero(pick)[0]] = -1.0
        surpluses = [float(g * b) if p else s for g, b, s, p in zip(sign, big, small, pick)]
    optimal = [0.0 if rng.random() < 0.3 else round(float(rng.uniform(1, 20)), 2) for _ in range(n)]
    if max(optimal) == 0:
        optimal[int(rng.integers(n))] = round(float(rng.uniform(1, 20)), 2)
    welfares = [round(o * float(rng.choice([1.0, rng.uniform(0.2, 1)])), 2) for o in optimal]
    if tol == 1e-9:
        return case(surpluses, welfares, optimal)
    return case(surpluses, welfares, optimal, tol=tol)


register(Check(
    id="ex4_summarise",
    function="summarise",
    disabled=MECHANISMS,
    expected=_summary_expected,
    plain=lambda r: as_dict(r, {"weakly_budget_balanced": as_bool, "strongly_budget_balanced": as_bool,
                                "efficiency": as_float}),
    fixed=[case([-2.0, 0.0, -1.0], [10.0, 3.0, 0.0], [10.0, 3.0, 0.0]), case([1.0, 0.0], [4.0, 6.0], [8.0, 6.0])],
    draw=_draw_summary,
    n_random=6,
    chapter=CHAPTER,
))
