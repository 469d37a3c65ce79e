"""Hidden checks of chapter 6, mechanism design (``solutions/06_mechanism_design``).

The references are the package's unit double auctions (:mod:`te_course.mechanisms`:
:func:`~te_course.mechanisms.vcg` for the VCG payments and the clearing interval of
exercise 1, :func:`~te_course.mechanisms.trade_reduction` for McAfee), themselves
checked against brute force in ``tests/test_mechanisms.py``; exercise 4 has a closed
form here; exercise 5 (the audit by search) is a brute force here over the case's own
grid with the package's :func:`~te_course.mechanisms.utilities`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from te_course import mechanisms
from te_course._checks import Check, case, compare, register
from te_course._checks.plain import as_bool, as_dict, as_float, as_floats, as_int, as_tuple, optional

CHAPTER = "06_mechanism_design"
MECHANISMS = ("uniform_price", "vcg", "trade_reduction", "sbba", "property_table", "max_misreport_gain")


# -- markets -----------------------------------------------------------------------------


def _market(rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Up to 5 buyers and 5 sellers with distinct integer prices (no ties, whose order the exercises leave open)."""
    nb, ns = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    prices = rng.choice(np.arange(1, 31), size=nb + ns, replace=False)
    return prices[:nb].tolist(), prices[nb:].tolist()


def _efficient_trades(values, costs) -> int:
    s, b = sorted(costs), sorted(values, reverse=True)
    return sum(1 for v, c in zip(b, s) if v >= c)


# -- exercise 1: a profitable lie, found by reasoning ---------------------------------------


def _lie_expected(values, costs) -> dict:
    """Return the market and whether some seller gains by misreporting under the uniform price (k = 1/2).

    By hand (section 2): with ``k >= 1`` efficient trades and the clearing interval ``[lo, hi]``, a trading
    seller that asks any ``r`` in ``(lo, hi)`` keeps its trade and moves the price from ``(lo + hi) / 2`` up
    to ``(r + hi) / 2``; a seller that does not trade cannot gain (to trade it must ask less than the price
    it would get).  So a lie exists iff something trades and ``lo < hi``.  Here ``lo`` and ``hi`` are read off
    the VCG outcome (buyers pay ``lo``, sellers get ``hi``), checked against brute force in the package tests.
    """
    o = mechanisms.vcg(values, costs)
    trades = bool(o.buyer_trades.any())
    lo = float(o.buyer_pays[o.buyer_trades].min()) if trades else math.nan
    hi = float(o.seller_gets[o.seller_trades].max()) if trades else math.nan
    return {"values": list(values), "costs": list(costs), "can_gain": trades and lo < hi}


def _lie_compare(got, want) -> str | None:
    """Accept any seller and report that raise that seller's utility (judged with the package's uniform price)."""
    if not want["can_gain"]:
        return None if got is None else (f"got {got!r}, expected None: no seller can gain in this market (nothing "
                                         "trades, or the clearing interval is a single price)")
    if got is None:
        return "got None, but a seller can gain in this market"
    index, report = got
    costs = want["costs"]
    if not 0 <= index < len(costs):
        return f"got seller {index}, but the sellers are 0 to {len(costs) - 1}"
    if not 0 <= report <= 1e6:
        return f"seller {index} reporting {report!r}: a report is a price from 0 upwards"
    lied = list(costs)
    lied[index] = report
    honest = mechanisms.utilities(mechanisms.uniform_price(want["values"], costs), want["values"], costs)[1][index]
    lying = mechanisms.utilities(mechanisms.uniform_price(want["values"], lied), want["values"], costs)[1][index]
    if lying <= honest + 1e-9:
        return (f"seller {index} reporting {report!r} gets a utility of {lying:g}, not more than its truthful "
                f"{honest:g}")
    return None


def _draw_lie(rng: np.random.Generator) -> dict:
    """Draw a market in one regime: a seller can gain, nothing trades, or the interval is one price."""
    regime = rng.choice(["gain", "gain", "no trade", "one price"])
    if regime == "one price":  # b_k = s_k = p: lo = hi = p
        k, p = int(rng.integers(1, 4)), int(rng.integers(10, 21))
        above = rng.choice(np.arange(p + 1, 31), size=2 * k, replace=False)
        below = rng.choice(np.arange(1, p), size=2 * k, replace=False)
        values = [*above[: k - 1], p, *below[: int(rng.integers(0, k + 1))]]
        costs = [*below[k: 2 * k - 1], p, *above[k: k + int(rng.integers(0, k + 1))]]
        return case(rng.permutation(values).tolist(), rng.permutation(costs).tolist())
    while True:
        values, costs = _market(rng)
        if (_efficient_trades(values, costs) > 0) == (regime == "gain"):
            return case(values, costs)


register(Check(
    id="ex1_profitable_lie",
    function="profitable_lie",
    disabled=MECHANISMS,
    expected=_lie_expected,
    plain=optional(lambda r: as_tuple(r, as_int, as_float)),
    # the seed market (a lie: [lo, hi] = [8, 9]); one pair (lo = 3, hi = 10); one price (lo = hi = 10);
    # nothing trades
    fixed=[case([12, 10, 8], [5, 7, 9]), case([10], [3]), case([12, 10, 8], [5, 10, 11]), case([3], [9])],
    draw=_draw_lie,
    n_random=6,
    compare=_lie_compare,
    chapter=CHAPTER,
))


# -- exercise 2: VCG ----------------------------------------------------------------------


def _draw_vcg(rng: np.random.Generator) -> dict:
    while True:
        values, costs = _market(rng)
        if _efficient_trades(values, costs) > 0:
            return case(values, costs)


def _vcg_expected(values, costs) -> object:
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


def _mcafee_expected(values, costs) -> object:
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


def _summary_expected(surpluses, welfares, optimal_welfares, tol=1e-9) -> object:
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


# -- exercise 5: an audit of a mechanism by search ---------------------------------------


def _pay_as_bid(values, costs) -> mechanisms.Outcome:
    """Efficient trades; each buyer pays its own bid and each seller gets its own ask (not IC, IR with 0 utility)."""
    o = mechanisms.vcg(values, costs)  # only for who trades: the efficient allocation
    pays = np.where(o.buyer_trades, np.asarray(values, float), 0.0)
    gets = np.where(o.seller_trades, np.asarray(costs, float), 0.0)
    return mechanisms.Outcome(o.buyer_trades, o.seller_trades, pays, gets, math.fsum(pays) - math.fsum(gets),
                              "pay_as_bid")


def _with_fee(fee) -> Callable:
    """Return the uniform price plus a flat fee on every trading buyer, kept by the platform (not IR: thin margins)."""
    def uniform_price_with_fee(values, costs) -> mechanisms.Outcome:
        o = mechanisms.uniform_price(values, costs)
        pays = o.buyer_pays + np.where(o.buyer_trades, fee, 0.0)
        return mechanisms.Outcome(o.buyer_trades, o.seller_trades, pays, o.seller_gets,
                                  math.fsum(pays) - math.fsum(o.seller_gets), "uniform_price_with_fee")
    return uniform_price_with_fee


def _mechanism(spec: dict) -> Callable:
    """Return the mechanism a case names: a package mechanism (the uniform price with its k) or one defined here."""
    name = spec["name"]
    if name == "uniform_price":
        k = spec.get("k", 0.5)

        def uniform(values, costs) -> mechanisms.Outcome:
            return mechanisms.uniform_price(values, costs, k=k)
        return uniform
    if name == "pay_as_bid":
        return _pay_as_bid
    if name == "fee":
        return _with_fee(spec["fee"])
    return {"vcg": mechanisms.vcg, "trade_reduction": mechanisms.trade_reduction, "sbba": mechanisms.sbba}[name]


def _audit_build(spec, values, costs, reports, **kwargs) -> tuple:
    return (_mechanism(spec), values, costs, reports), kwargs


def _audit_call(function, mechanism, values, costs, reports, **kwargs) -> object:
    if len(reports):
        return function(mechanism, values, costs, reports, **kwargs)
    try:
        function(mechanism, values, costs, reports, **kwargs)
    except ValueError:
        return "raises ValueError"
    return "does not raise ValueError"


def _audit_expected(mechanism, values, costs, reports, tol=1e-9) -> object:
    """Brute force with the package's utilities: every trader, every report, everyone else truthful.

    ``buyer_report`` and ``seller_report`` hold, per trader, every report that reaches the best utility
    (the exercise accepts any of them), or the truth alone when no report gains more than ``tol``.
    """
    if not len(reports):
        return "raises ValueError"
    truth = {"buyer": [float(v) for v in values], "seller": [float(c) for c in costs]}
    honest = mechanisms.utilities(mechanism(values, costs), values, costs)
    ref = {}
    for s, side in enumerate(("buyer", "seller")):
        gains, best = [], []
        for i, own in enumerate(truth[side]):
            found = []
            for lie in reports:
                lied = {**truth, side: truth[side][:i] + [float(lie)] + truth[side][i + 1:]}
                u = mechanisms.utilities(mechanism(lied["buyer"], lied["seller"]), values, costs)[s][i]
                found.append(float(u) - float(honest[s][i]))
            top = max(found)
            if top > tol:
                gains.append(top)
                best.append([float(r) for r, g in zip(reports, found) if g >= top - 1e-9])
            else:
                gains.append(0.0)
                best.append([own])
        ref[f"{side}_gain"], ref[f"{side}_report"] = gains, best
    surplus = float(mechanism(values, costs).budget_surplus)
    ref["incentive_compatible"] = max(ref["buyer_gain"] + ref["seller_gain"]) == 0.0
    ref["individually_rational"] = min(min(honest[0]), min(honest[1])) >= -tol
    ref["budget_surplus"] = surplus
    ref["weakly_budget_balanced"] = surplus >= -tol
    return ref


_AUDIT_KEYS = {
    "buyer_gain": as_floats, "buyer_report": as_floats, "seller_gain": as_floats, "seller_report": as_floats,
    "incentive_compatible": as_bool, "individually_rational": as_bool, "budget_surplus": as_float,
    "weakly_budget_balanced": as_bool,
}


def _audit_compare(got, want) -> str | None:
    """Compare the verdicts, the surplus and the gains; accept any best report among the equally good ones."""
    if isinstance(want, str) or isinstance(got, str):
        return compare(got, want)
    for key in ("incentive_compatible", "individually_rational", "weakly_budget_balanced", "budget_surplus"):
        why = compare(got[key], want[key], where=repr(key))
        if why:
            return why
    for side in ["buyer", "seller"]:
        why = compare(got[f"{side}_gain"], want[f"{side}_gain"], where=repr(f"{side}_gain"))
        if why:
            return why
        reports, allowed = got[f"{side}_report"], want[f"{side}_report"]
        if len(reports) != len(allowed):
            return f"got {len(reports)} values at '{side}_report', expected {len(allowed)} (one per {side})"
        for i, (r, ok) in enumerate(zip(reports, allowed)):
            if not any(abs(r - a) <= 1e-9 * max(1.0, abs(a)) for a in ok):
                what = "its true price (no report gains)" if len(ok) == 1 and want[f"{side}_gain"][i] == 0 else (
                    f"a report that reaches the best utility ({', '.join(f'{a:g}' for a in ok)})")
                return f"got {r!r} at '{side}_report'[{i}], expected {what}"
    return None


def _draw_audit(rng: np.random.Generator) -> dict:
    """Draw a small market, a grid of reports and a mechanism.

    The reports lie on a lattice of 0.5, so that gains are multiples of 0.25 (clear of ``tol``); the mechanisms
    are the truthful ones, the uniform price with k in {0, 1/2, 1}, pay-as-bid, or a fee that may break IR.  In
    some cases ``tol`` is set just above the smallest positive gain, which it must then hide.
    """
    pick = rng.choice(["uniform_price", "uniform_price", "vcg", "trade_reduction", "sbba", "pay_as_bid", "fee", "fee"])
    while True:  # a fee needs a trade to bite
        values, costs = _market(rng)
        if len(values) + len(costs) <= 6 and (pick != "fee" or _efficient_trades(values, costs) > 0):
            break
    spec = {"name": str(pick)}
    if pick == "uniform_price":
        spec["k"] = float(rng.choice([0.0, 0.5, 1.0]))
    if pick == "fee":  # a fee above the thinnest margin of a trading buyer (IR fails) or below it (IR holds)
        o = mechanisms.uniform_price(values, costs)
        margins = (np.asarray(values, float) - o.buyer_pays)[o.buyer_trades]
        thin = float(margins.min()) if margins.size else 1.0
        spec["fee"] = float(np.floor(thin) + 1 if rng.random() < 0.5 else max(0.5, np.floor(thin) - 0.5))
    lattice = np.arange(0, 31.5, 0.5)
    reports = np.sort(rng.choice(lattice, size=int(rng.integers(5, 13)), replace=False)).tolist()
    if rng.random() < 0.4:
        want = _audit_expected(_mechanism(spec), values, costs, reports)
        positive = [g for g in want["buyer_gain"] + want["seller_gain"] if g > 0]
        if positive:
            return case(spec, values, costs, reports, tol=min(positive) + 0.1)
    return case(spec, values, costs, reports)


SEED_GRID = list(range(16))  # 0, 1, ..., 15: the lies of section 6 (bid 8, ask 9) are on it

register(Check(
    id="ex5_audit",
    # the mechanisms under audit, which the check hands to the student's function
    allowed=("uniform_price", "vcg", "trade_reduction", "sbba", "Outcome", "_checks.ch06._mechanism",
             "_checks.ch06._pay_as_bid", "_checks.ch06._with_fee"),
    function="audit",
    disabled=("max_misreport_gain", "property_table", "mechanisms.utilities", "mechanisms.welfare", "mechanisms._gains",
              "mechanisms._evaluate", "widgets.misreport_update", "widgets._utility_of"),
    expected=_audit_expected,
    plain=lambda r: r if isinstance(r, str) else as_dict(r, _AUDIT_KEYS),
    # the seed market under the three mechanisms of the chapter, and a fee that makes buyer 1 (10 - 8.5 < 2) lose
    fixed=[case({"name": "uniform_price"}, [12, 10, 8], [5, 7, 9], SEED_GRID),
           case({"name": "vcg"}, [12, 10, 8], [5, 7, 9], SEED_GRID),
           case({"name": "trade_reduction"}, [12, 10, 8], [5, 7, 9], SEED_GRID),
           case({"name": "fee", "fee": 2}, [12, 10, 8], [5, 7, 9], [0, 8, 9, 12]),
           case({"name": "uniform_price"}, [12, 10, 8], [5, 7, 9], [8, 9], tol=0.6),  # gains of 0.5 are below tol
           case({"name": "vcg"}, [12], [5], [])],
    draw=_draw_audit,
    n_random=6,
    build=_audit_build,
    call=_audit_call,
    compare=_audit_compare,
    chapter=CHAPTER,
))
