"""Hidden checks of chapter 9, applications (``solutions/09_applications``).

The references: for the values of a cost table and the first congestion, closed forms
written here (the package computes them only inside ``stochastic_value`` and
``ev_study``); for the robust z-score, :func:`te_course.robust_z`; for the damage of
phantom asks, :func:`te_course.false_bid_attack` on the books that
:func:`te_course.screen_orders` accepts (``mitigate_false_bids`` screens the bids
too, which the exercise does not).  The security functions are checked in
``tests/test_security.py``.

The old hidden test of ``first_congestion`` also tried the notebook's ``uncontrolled``
EV study; rebuilding it takes about a second (``ev_study``), too slow for a check, so
its tables are drawn instead (the visible test still uses the study).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from te_course import security
from te_course._checks import Check, case, register
from te_course._checks.plain import as_dict, as_float, as_floats, as_int, as_tuple, optional

STOCHASTIC = ("stochastic_value", "two_stage_schedule", "recourse_costs")
EV = ("ev_study", "evaluate_day", "DayFlows", "DayResult")
SECURITY = ("robust_z", "screen_orders", "false_bid_attack", "mitigate_false_bids")


def _table(data, index, columns) -> dict:
    """Return a DataFrame as JSON data: its rows, index labels and column labels."""
    return {"data": data, "index": index, "columns": columns}


def _frame(table: dict) -> pd.DataFrame:
    return pd.DataFrame(table["data"], index=table["index"], columns=table["columns"], dtype=float)


def _labels(rng: np.random.Generator, n: int, kind: int, start: int = 1) -> list:
    """``n`` distinct labels that are not positions: strings, offset integers or floats."""
    if kind == 0:
        return [f"{chr(ord('A') + i)}" for i in range(n)]
    if kind == 1:
        step = int(rng.integers(1, 11))
        first = int(rng.integers(start, start + 20))
        return [first + step * i for i in range(n)]
    return [round(0.25 * i, 2) for i in range(n)]


# -- exercise 1: WS, RP, EEV, EVPI and VSS of a cost table -------------------------------


def _values_expected(costs: pd.DataFrame, probabilities, ev_decision) -> dict:
    p = [float(q) for q in probabilities]
    rows = {label: [float(v) for v in costs.loc[label].tolist()] for label in costs.index}

    def mean(row):
        return math.fsum(q * c for q, c in zip(p, row))

    scenario_best = [min(row[j] for row in rows.values()) for j in range(len(p))]
    ws = math.fsum(q * c for q, c in zip(p, scenario_best))
    rp = min(mean(row) for row in rows.values())
    eev = mean(rows[ev_decision])
    return {"ws": ws, "rp": rp, "eev": eev, "vss": eev - rp, "evpi": rp - ws}


def _draw_values(rng: np.random.Generator) -> dict:
    n_rows, n_cols = int(rng.integers(2, 6)), int(rng.integers(2, 5))
    if rng.random() < 0.3:
        n_cols = n_rows  # a square table: taking the minimum along the wrong axis still gives numbers
    while True:  # unequal probabilities, in hundredths
        weights = rng.multinomial(100 - n_cols, np.ones(n_cols) / n_cols) + 1
        if len(set(weights.tolist())) > 1:
            break
    probabilities = (weights / 100).tolist()
    if rng.random() < 0.5:
        costs = rng.integers(-5, 16, (n_rows, n_cols)).astype(float)
    else:
        costs = np.round(rng.uniform(-2.0, 10.0, (n_rows, n_cols)), 1)
    index = _labels(rng, n_rows, int(rng.integers(0, 3)))
    columns = [f"s{j + 1}" for j in range(n_cols)]
    ev_decision = index[int(rng.integers(n_rows))]
    return case(_table(costs.tolist(), index, columns), probabilities, ev_decision)


def _values_build(costs, probabilities, ev_decision):
    return (_frame(costs), probabilities, ev_decision), {}


_TABLE = _table([[4.0, 0.0], [2.0, 2.0], [0.0, 6.0]], ["a", "b", "c"], ["s1", "s2"])

register(Check(
    id="ex1_stochastic_values",
    function="stochastic_values",
    disabled=STOCHASTIC,
    expected=_values_expected,
    plain=lambda r: as_dict(r, dict.fromkeys(("ws", "rp", "eev", "evpi", "vss"), as_float)),
    fixed=[
        # rows a, b, c; scenario minima 0 (c) and 0 (a): WS = 0; expected costs 2, 2, 3: RP = 2
        case(_TABLE, [0.5, 0.5], "c"),
        case(_TABLE, [0.5, 0.5], "a"),  # the mean-value plan is optimal: VSS = 0
        # unequal probabilities: expected costs 1, 2, 4.5 -> RP = 1; EEV of b = 2
        case(_TABLE, [0.25, 0.75], "b"),
        # three scenarios, a revenue: minima -1, 1, 1 -> WS = -0.2 + 0.3 + 0.5 = 0.6; expected 1.7 and 0.8 -> RP = 0.8
        case(_table([[-1.0, 3.0, 2.0], [0.0, 1.0, 1.0]], [10, 20], [0, 1, 2]), [0.2, 0.3, 0.5], 10),
    ],
    draw=_draw_values,
    build=_values_build,
    chapter="09_applications",
))


# -- exercise 2: the first congestion ----------------------------------------------------


def _congestion_expected(loading: pd.DataFrame, limit=1.0):
    for step in loading.index:
        row = loading.loc[step].dropna()
        if len(row) and float(row.max()) > limit:
            return [step, row.idxmax()]
    return None


def _label(x):
    """Return a label of the table: text or an integer."""
    return x if isinstance(x, str) else as_int(x)


def _draw_congestion(rng: np.random.Generator) -> dict:
    n_steps, n_lines = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    if rng.random() < 0.5:  # hours as text
        first = int(rng.integers(0, 24 - n_steps))
        index = [f"{h:02d}:00" for h in range(first, first + n_steps)]
    else:  # integer steps that are not positions
        index = _labels(rng, n_steps, 1)
    if rng.random() < 0.5:
        columns = [f"L{j}" for j in range(2, 2 + n_lines)]
    else:
        first = int(rng.integers(1, 10))
        columns = list(range(first, first + n_lines))
    limit = [None, 1.0, 0.9, 1.1, 0.8][int(rng.integers(0, 5))]
    bound = 1.0 if limit is None else limit
    want = int(rng.integers(0, 6))  # 0: never above the limit; 1: the first step above it is the worst; else: a later
    while True:
        hump = np.exp(-0.5 * ((np.arange(n_steps) - rng.uniform(0, n_steps)) / rng.uniform(1, 3)) ** 2)
        top = 0.9 if want == 0 else rng.uniform(1.1, 1.5)
        values = np.round(bound * (0.4 + (top - 0.4) * hump)[:, None] * rng.uniform(0.7, 1.0, (n_steps, n_lines)), 2)
        if rng.random() < 0.4:
            values[:, int(rng.integers(n_lines))] = np.nan  # a line without a rating
        values[rng.random(values.shape) < 0.15] = np.nan
        highest = np.where(np.isnan(values), -np.inf, values).max(axis=1)
        over = np.flatnonzero(highest > bound)
        first = int(over[0]) if over.size else n_steps
        rated = [r for r in range(first) if highest[r] > -np.inf]
        if rated and rng.random() < 0.4:  # an earlier step exactly at the limit, which is not above it
            r = rated[int(rng.integers(len(rated)))]
            values[r, int(np.nanargmax(values[r]))] = bound
        if not over.size:
            if want == 0:
                break
            continue
        if np.sum(values[first] == highest[first]) > 1:  # a tie for the most loaded line
            continue
        if want and (want == 1) == (int(np.argmax(highest)) == first):
            break
    kwargs = {} if limit is None else {"limit": limit}
    return case(_table(values.tolist(), index, columns), **kwargs)


def _congestion_build(loading, limit=None):
    return (_frame(loading),), ({} if limit is None else {"limit": limit})


_LOADING = _table([[0.5, 0.6, None], [0.9, 1.1, 2.0], [1.2, 1.3, None], [0.8, 0.7, None]], [6, 7, 8, 9],
                  ["a", "b", "c"])
_TWO_LINES = _table([[0.5, 0.6], [0.9, 1.1], [1.2, 1.3], [0.8, 0.7]], [6, 7, 8, 9], ["a", "b"])

register(Check(
    id="ex2_first_congestion",
    function="first_congestion",
    disabled=EV,
    expected=lambda loading, limit=1.0: _congestion_expected(loading, limit),
    plain=optional(lambda r: as_tuple(r, _label, _label)),
    fixed=[
        case(_LOADING),
        case(_TWO_LINES),
        case(_TWO_LINES, limit=1.15),
        case(_TWO_LINES, limit=1.3),  # at the limit is not above it
        case(_TWO_LINES, limit=0.55),
        case(_table([[None], [None]], [0, 1], ["x"])),
    ],
    draw=_draw_congestion,
    build=_congestion_build,
    chapter="09_applications",
))


# -- exercise 3a: the robust z-score -----------------------------------------------------


def _draw_z(rng: np.random.Generator) -> dict:
    n = int(rng.integers(1, 8))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # more than half the values equal: MAD 0
        values = np.full(n, float(rng.integers(0, 10)))
        others = rng.choice(n, size=(n - 1) // 2, replace=False)
        values[others] = rng.integers(-20, 30, others.size)
    elif kind == 1:  # floats
        values = np.round(rng.normal(5.0, 2.0, n), 2)
    else:  # integers, sometimes with an outlier
        values = rng.integers(0, 15, n).astype(float)
        if kind == 3:
            values[rng.integers(n)] = float(rng.choice([-1, 1]) * rng.integers(40, 200))
    return case(values.tolist())


register(Check(
    id="ex3a_robust_z_score",
    function="robust_z_score",
    disabled=SECURITY,
    expected=lambda values: security.robust_z(values).tolist(),
    plain=as_floats,
    fixed=[
        # median 12, |deviations| 2, 1, 0, 1, 88 -> MAD 1
        case([10, 11, 12, 13, 100]),
        # median 6, |deviations| 1, 1, 3, 6 -> MAD 2
        case([5, 7, 9, 0]),
        # even length: median 2.5, |deviations| 1.5, 0.5, 0.5, 1.5 -> MAD 1
        case([1.0, 2.0, 3.0, 4.0]),
        case([1, 1, 1, 10]),
        case([2, 2, 2, 1]),
    ],
    draw=_draw_z,
    chapter="09_applications",
))


# -- exercise 3b: the damage of phantom asks, and the screen -----------------------------


def _screened_welfare(bids, asks, fake_asks, z_max) -> float:
    """Return the true welfare of the market whose asks (genuine and phantom) passed the robust z screen."""
    book = [[float(p), float(q)] for p, q in list(asks) + list(fake_asks)]
    kept = security.screen_orders(book, z_max=z_max).accepted_mask.tolist()
    n = len(asks)
    genuine = [order for order, ok in zip(book[:n], kept[:n]) if ok]
    phantom = [order for order, ok in zip(book[n:], kept[n:]) if ok]
    if not genuine:
        return 0.0  # nothing real to deliver
    return security.false_bid_attack(bids, genuine, fake_asks=phantom or None).attacked.welfare


def _damage_expected(bids, asks, fake_asks, z_max=3.5):
    attack = security.false_bid_attack(bids, asks, fake_asks=list(fake_asks) or None)
    honest = attack.honest.welfare
    return [honest - attack.attacked.welfare, honest - _screened_welfare(bids, asks, fake_asks, z_max)]


def _clear_of_edges(bids, asks, fake_asks, z_max) -> bool:
    """No knife edge: no ask priced like a bid, no phantom priced like a genuine ask, no score near z_max."""
    bid_prices = {p for p, _ in bids}
    ask_prices = {p for p, _ in asks}
    if any(p in bid_prices for p, _ in asks + fake_asks) or any(p in ask_prices for p, _ in fake_asks):
        return False
    book = np.array(asks + fake_asks, dtype=float)
    scores = np.abs(np.r_[security.robust_z(book[:, 0]), security.robust_z(book[:, 1])])
    finite = scores[np.isfinite(scores)]
    if np.any(np.abs(finite - z_max) < 0.05):
        return False
    return bool(security.screen_orders(book.tolist(), z_max=z_max).accepted_mask.any())


def _draw_damage(rng: np.random.Generator) -> dict:
    z_max = [3.5, 3.5, 3.5, 2.0, 3.0][int(rng.integers(0, 5))]
    want_slip = rng.random() < 0.4  # a small phantom that the screen lets through
    while True:
        nb, na = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        whole = rng.random() < 0.6
        bq = rng.integers(1, 4, nb).astype(float) if whole else np.round(rng.uniform(0.5, 3.0, nb), 1)
        aq = rng.integers(1, 4, na).astype(float) if whole else np.round(rng.uniform(0.5, 3.0, na), 1)
        bids = [[float(p), float(q)] for p, q in zip(rng.integers(6, 21, nb), bq)]
        asks = [[float(p), float(q)] for p, q in zip(rng.integers(1, 16, na), aq)]
        fakes = []
        for _ in range(int(rng.integers(0, 3)) if not want_slip else 1):
            if want_slip or rng.random() < 0.5:  # small: priced among the asks, an ordinary quantity
                fakes.append([float(rng.integers(1, 16)) + 0.5, float(rng.choice(aq))])
            else:  # big: cheap, and far more than anyone else
                fakes.append([float(rng.integers(0, 3)), float(rng.integers(6, 16))])
        if not _clear_of_edges(bids, asks, fakes, z_max):
            continue
        if want_slip:
            kept = security.screen_orders(asks + fakes, z_max=z_max).accepted_mask
            if not kept[-1] or _damage_expected(bids, asks, fakes, z_max)[1] <= 1e-6:
                continue
        kwargs = {} if z_max == 3.5 and rng.random() < 0.7 else {"z_max": z_max}
        return case(bids, asks, fakes, **kwargs)


_SEED_BIDS, _SEED_ASKS = [[12, 1], [10, 1], [8, 1]], [[5, 1], [7, 1], [9, 1]]

register(Check(
    id="ex3b_attack_damage",
    function="attack_damage",
    disabled=SECURITY,
    expected=_damage_expected,
    plain=lambda r: as_tuple(r, as_float, as_float),
    fixed=[
        # quantities 1, 1, 1, 10: MAD 0, the phantom is rejected and the honest market restored
        case(_SEED_BIDS, _SEED_ASKS, [[0.0, 10.0]]),
        # 1 kWh at 0: 3 kWh clear, 2 real kWh for three buyers: 30 x 2/3 - 12 = 8; price z = -2.02 passes 3.5
        case(_SEED_BIDS, _SEED_ASKS, [[0.0, 1.0]]),
        case(_SEED_BIDS, _SEED_ASKS, [[0.0, 1.0]], z_max=2.0),
        # 2 kWh orders: honest 24 + 20 - 10 - 14 = 20; attacked: 5 kWh clear, 4 real: 0.8 x 52 - 24 = 17.6
        case([[12, 2], [10, 2], [8, 2]], [[5, 2], [7, 2], [9, 2]], [[0.0, 1.0]]),
        # a phantom that takes all the demand: nothing real is delivered
        case(_SEED_BIDS, _SEED_ASKS, [[4.0, 3.0]]),
        # no attack, but the screen rejects an honest ask of 3 kWh at 4 (welfare 30 - 12 = 18 -> 10)
        case(_SEED_BIDS, _SEED_ASKS + [[4.0, 3.0]], []),
        case(_SEED_BIDS, _SEED_ASKS, []),
    ],
    draw=_draw_damage,
    chapter="09_applications",
))
