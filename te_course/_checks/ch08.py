"""Hidden checks of chapter 8, fairness (``solutions/08_fairness``).

The references are the package's fairness functions: :func:`te_course.fair_allocation`
for the shares of one line, :func:`te_course.envy` of a market outcome for the buyers'
envy, :func:`te_course.jain_index` and :func:`te_course.price_of_fairness` for the
measures; all of them are checked in ``tests/test_fairness.py``.
"""

from __future__ import annotations

import numpy as np

from te_course import fairness as fair
from te_course._checks import Check, case, register
from te_course._checks.plain import as_dict, as_float, as_floats, as_tuple
from te_course.mechanisms import Outcome

FAIRNESS = ("fair_allocation", "FairnessProblem", "envy", "is_envy_free", "jain_index", "price_of_fairness",
            "worst_off", "compare_allocations")


# -- exercise 1: three shares of one line ------------------------------------------------


def _shares_expected(weights, capacity) -> object:
    problem = fair.FairnessProblem([[1.0] * len(weights)], [capacity])
    return {rule: problem.solve(rule, weights=weights).x.tolist() for rule in fair.RULES}


def _draw_shares(rng: np.random.Generator) -> dict:
    n = int(rng.integers(1, 6))
    if rng.random() < 0.5:
        weights = rng.integers(1, 7, n).astype(float)
    else:
        weights = np.round(rng.uniform(0.5, 5.0, n), 1)
    if n > 1 and rng.random() < 0.4:  # several owners share the largest weight
        top = rng.choice(n, size=int(rng.integers(2, n + 1)), replace=False)
        weights[top] = weights.max() + float(rng.integers(0, 3))
    capacity = float(rng.integers(1, 10)) if rng.random() < 0.5 else round(float(rng.uniform(0.5, 8.0)), 2)
    return case(weights.tolist(), capacity)


register(Check(
    id="ex1_share_one_resource",
    function="share_one_resource",
    disabled=FAIRNESS,
    expected=_shares_expected,
    plain=lambda r: as_dict(r, dict.fromkeys(fair.RULES, as_floats)),
    fixed=[
        # by hand: utilitarian to the largest weight; max-min x_i proportional to 1/w_i; proportional equal
        case([1.0, 3.0], 2.0),
        case([2.0, 2.0, 1.0], 1.0),
        case([5.0], 3.0),
        case([0.1 + 0.2, 0.3], 1.0),  # a tie up to rounding: the utilitarian rule splits the line
    ],
    draw=_draw_shares,
    rtol=1e-6,
    atol=1e-6,
    chapter="08_fairness",
))


# -- exercise 2: envy among buyers -------------------------------------------------------


def _envy_expected(values, trades, pays) -> object:
    """Return the buyer block of the package's envy of a market outcome (sellers mirror the buyers, cost 0)."""
    t = np.asarray(trades, dtype=bool)
    paid = np.asarray(pays, dtype=float)
    n = t.size
    outcome = Outcome(buyer_trades=t, seller_trades=t.copy(), buyer_pays=paid, seller_gets=paid.copy(),
                      budget_surplus=0.0)
    return fair.envy(outcome, values=values, costs=np.zeros(n)).to_numpy()[:n, :n].tolist()


def _draw_envy(rng: np.random.Generator) -> dict:
    while True:
        n = int(rng.integers(2, 6))
        values = rng.choice(np.arange(1, 21), size=n, replace=False).astype(float)  # distinct values
        trades = rng.random(n) < 0.6
        # what the traders pay: sometimes one price for all, sometimes pay as bid or scattered,
        # sometimes above the value (a negative utility); the others pay nothing
        kind = rng.integers(0, 3)
        if kind == 0:
            pays = np.full(n, float(rng.integers(1, 15)))
        elif kind == 1:
            pays = values - rng.integers(0, 3, n)
        else:
            pays = np.round(rng.uniform(0.0, 22.0, n) * 2) / 2
        pays = np.where(trades, pays, 0.0)
        if trades.any():
            return case(values.tolist(), trades.tolist(), pays.tolist())


register(Check(
    id="ex2_buyer_envy",
    function="buyer_envy",
    disabled=FAIRNESS,
    expected=_envy_expected,
    plain=as_floats,
    fixed=[
        # by hand, pay as bid: buyer 0 would rather pay 10 than 12 for the same kWh
        case([12.0, 10.0, 8.0], [True, True, False], [12.0, 10.0, 0.0]),
        # buyer 1 (value 9) does not trade, buyer 0 buys at 3: 9 - 3 = 6
        case([5.0, 9.0], [True, False], [3.0, 0.0]),
        # buyer 0 pays 6 for a value of 4 (utility -2); buyer 1's empty deal is worth 0 to it
        case([4.0, 1.0], [True, False], [6.0, 0.0]),
        case([3.0, 3.0], [True, True], [1.0, 2.0]),
    ],
    draw=_draw_envy,
    chapter="08_fairness",
))


# -- exercise 3: Jain's index and the price of fairness ----------------------------------


def _measures_expected(utilities, utilitarian_utilities) -> object:
    return [fair.jain_index(utilities), fair.price_of_fairness(float(np.sum(utilities)),
                                                                float(np.sum(utilitarian_utilities)))]


def _draw_measures(rng: np.random.Generator) -> dict:
    n = int(rng.integers(1, 6))
    kind = int(rng.integers(0, 5))
    tenths = np.zeros(n, dtype=int) if kind == 0 else rng.integers(0, 51, n)  # kind 0: nobody gets anything
    if kind > 1:
        tenths[rng.random(n) < 0.3] = 0  # some get nothing
    if kind == 0 and rng.random() < 0.5:  # a utilitarian welfare of 0 too
        best = np.zeros(n, dtype=int)
    else:
        total = int(tenths.sum()) + (0 if kind == 1 else int(rng.integers(1, 61)))  # kind 1: the same welfare
        share = np.eye(n)[rng.integers(n)] if rng.random() < 0.5 else rng.dirichlet(np.ones(n))
        best = rng.multinomial(total, share)
    return case((tenths / 10).tolist(), (best / 10).tolist())


register(Check(
    id="ex3_fairness_measures",
    function="fairness_measures",
    disabled=FAIRNESS,
    expected=_measures_expected,
    plain=lambda r: as_tuple(r, as_float, as_float),
    fixed=[
        # by hand: (1 + 2)^2 / (2 * 5) = 0.9; both welfares 3
        case([1.0, 2.0], [3.0, 0.0]),
        # 3^2 / (3 * 9) = 1/3; (6 - 3) / 6 = 1/2
        case([0.0, 0.0, 3.0], [4.0, 0.0, 2.0]),
        case([0.0, 0.0], [0.0, 0.0]),
        # section 1, max-min: utilities 2/3 and 2/3 against 2 and 0
        case([2 / 3, 2 / 3], [2.0, 0.0]),
    ],
    draw=_draw_measures,
    chapter="08_fairness",
))


# -- exercise 4: progressive filling on several lines ------------------------------------


def _filling_problem(usage, capacity) -> str | None:
    """Why the exercise's spec says to raise ValueError on these arguments (None when they are valid)."""
    a, c = np.asarray(usage, dtype=float), np.asarray(capacity, dtype=float)
    if a.ndim != 2 or c.shape != a.shape[:1]:
        return "a capacity per line"
    if np.any(a < 0) or np.any(c < 0):
        return "a negative entry"
    if not np.all(np.any(a > 0, axis=0)):
        return "an owner on no line"
    return None


def _filling_expected(usage, capacity) -> object:
    if _filling_problem(usage, capacity) is not None:
        return "raises ValueError"
    return fair.FairnessProblem(usage, capacity).solve("max_min").x.tolist()


def _filling_call(function, usage, capacity) -> object:
    try:
        return function(usage, capacity)
    except ValueError:
        return "raises ValueError"


def _tree_usage(rng: np.random.Generator) -> list:
    """Path indicators of owners on a random radial feeder: line k joins bus k + 1 to an earlier bus."""
    n_lines = int(rng.integers(2, 8))
    parent = [int(rng.integers(0, k + 1)) for k in range(n_lines)]  # bus k + 1 hangs from bus parent[k]
    owners = rng.choice(np.arange(1, n_lines + 1), size=int(rng.integers(2, min(6, n_lines) + 1)), replace=False)
    usage = np.zeros((n_lines, owners.size), dtype=int)
    for i, bus in enumerate(owners):
        while bus != 0:
            usage[bus - 1, i] = 1
            bus = parent[bus - 1]
    return usage.tolist()


def _draw_filling(rng: np.random.Generator) -> dict:
    if rng.random() < 0.5:  # owners on a feeder: 0/1 paths, some lines too strong to matter
        usage = np.array(_tree_usage(rng), dtype=float)
        capacity = rng.integers(1, 25, usage.shape[0]).astype(float)
        capacity[rng.random(usage.shape[0]) < 0.3] = 100.0
    else:  # any non-negative usage
        m, n = int(rng.integers(1, 5)), int(rng.integers(1, 7))
        usage = rng.choice([0.0, 0.0, 0.5, 1.0, 1.0, 2.0, 3.0], size=(m, n))
        for i in np.flatnonzero(~np.any(usage > 0, axis=0)):
            usage[rng.integers(m), i] = float(rng.integers(1, 4))
        capacity = rng.integers(1, 13, m).astype(float)
    if rng.random() < 0.15:
        capacity[rng.integers(capacity.size)] = 0.0
    kind = rng.random()
    if kind < 0.08:  # an owner on no line
        usage = np.hstack([usage, np.zeros((usage.shape[0], 1))])
    elif kind < 0.14:
        capacity[rng.integers(capacity.size)] = -float(rng.integers(1, 5))
    elif kind < 0.18:
        capacity = np.append(capacity, 5.0)
    return case(usage.tolist(), capacity.tolist())


register(Check(
    id="ex4_progressive_filling",
    function="progressive_filling",
    disabled=FAIRNESS,
    expected=_filling_expected,
    plain=lambda r: r if isinstance(r, str) else as_floats(r),
    fixed=[
        # section 3 by hand: both links fill at 1/2; then link 1 first and short 2 alone up to 3/2
        case([[1, 1, 0], [1, 0, 1]], [1.0, 1.0]),
        case([[1, 1, 0], [1, 0, 1]], [1.0, 2.0]),
        # section 5 (the two limited lines): owners 9 and 18 share 500 kW, the other five 1300 kW
        case([[1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 0, 1, 0]], [1800.0, 500.0]),
        # a full line of capacity 0 freezes its owners at 0; the third owner takes line 2
        case([[1, 1, 0], [0, 1, 1]], [0.0, 4.0]),
        # two lines fill at the same level (2) and freeze all three owners at once
        case([[1, 1, 0], [0, 1, 2]], [4.0, 6.0]),
        case([[1, 0]], [3.0]),  # owner 1 uses no line
        case([[1, 1]], [-1.0]),
        case([[1, 1], [1, 0]], [2.0]),  # one capacity for two lines
    ],
    draw=_draw_filling,
    call=_filling_call,
    n_random=8,
    rtol=1e-6,
    atol=1e-6,
    chapter="08_fairness",
))
