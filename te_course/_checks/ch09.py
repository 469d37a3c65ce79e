"""Hidden checks of chapter 9, applications (``solutions/09_applications``).

The references: for the two-stage battery plan, the extensive form written here as one
scipy ``linprog`` problem (independent of ``te_course.uncertainty``; it agrees with
:func:`te_course.stochastic_value`, which ``tests/test_uncertainty.py`` checks by hand);
the plans the student returns are not unique, so the check verifies them (limits, and
that each one's cost is the optimum) instead of comparing them; for the first
congestion, a closed form written here (the package computes it only inside
``ev_study``); for the robust z-score, :func:`te_course.robust_z`; for the damage of
phantom asks, :func:`te_course.false_bid_attack` on the books that
:func:`te_course.screen_orders` accepts (``mitigate_false_bids`` screens the bids
too, which the exercise does not).  The security functions are checked in
``tests/test_security_false_bids.py`` (and the other ``tests/test_security_*.py``).

The old hidden test of ``first_congestion`` also tried the notebook's ``uncontrolled``
EV study; rebuilding it takes about a second (``ev_study``), too slow for a check, so
its tables are drawn instead (the visible test still uses the study).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from te_course import security
from te_course._checks import Check, case, register
from te_course._checks.plain import as_dict, as_float, as_floats, as_int, as_tuple, optional

STOCHASTIC = ("stochastic_value", "two_stage_schedule", "recourse_costs", "cvar_schedule", "uncertainty._solve_lp")
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


# -- exercise 1: the two-stage battery plan, and RP, WS, EEV, EVPI and VSS --------------

_KEYS = ("rp", "ws", "eev", "evpi", "vss")


def _battery_lp(load, pv, p, buy, sell, e_max, p_max, soc0) -> float:
    """Solve the extensive form as one scipy LP (one net battery plan for all rows of ``pv``); return its optimum."""
    n_scen, n = pv.shape
    tri = np.tril(np.ones((n, n)))  # the state of charge is soc0 plus the running sum of the plan
    eye = np.eye(n)
    a_eq = np.zeros((n_scen * n, n + 2 * n_scen * n))
    for s in range(n_scen):
        rows = slice(s * n, (s + 1) * n)
        a_eq[rows, :n] = -eye
        a_eq[rows, n + s * n:n + (s + 1) * n] = eye  # import
        a_eq[rows, n + (n_scen + s) * n:n + (n_scen + s + 1) * n] = -eye  # export
    a_ub = np.zeros((2 * n + 1, a_eq.shape[1]))
    a_ub[:n, :n], a_ub[n:2 * n, :n], a_ub[2 * n, :n] = tri, -tri, -1.0
    b_ub = np.r_[np.full(n, e_max - soc0), np.full(n, soc0), 0.0]
    c = np.r_[np.zeros(n), np.kron(p, buy), -np.kron(p, sell)]
    bounds = [(-p_max, p_max)] * n + [(0, None)] * (2 * n_scen * n)
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=(load[None, :] - pv).ravel(), bounds=bounds,
                  method="highs")
    if res.status != 0:
        raise RuntimeError(f"the reference LP failed: {res.message}")
    return float(res.fun)


def _battery_values(load_kw, pv_kw, probabilities, buy_price, sell_price, e_max_kwh, p_max_kw, soc0_kwh=0.0) -> tuple:
    """RP, WS and EV (the optimum of the mean-PV problem) by scipy's linprog, independent of the package."""
    load, pv, p = (np.array(v, dtype=float) for v in (load_kw, pv_kw, probabilities))
    buy, sell = (np.broadcast_to(np.asarray(x, dtype=float), load.shape) for x in (buy_price, sell_price))
    solve = partial(_battery_lp, load, buy=buy, sell=sell, e_max=e_max_kwh, p_max=p_max_kw, soc0=soc0_kwh)
    rp = solve(pv=pv, p=p)
    ws = math.fsum(q * solve(pv=pv[s:s + 1], p=np.ones(1)) for s, q in enumerate(p))
    ev = solve(pv=(p @ pv)[None, :], p=np.ones(1))
    return rp, ws, ev


def _battery_expected(load_kw, pv_kw, probabilities, buy_price, sell_price, e_max_kwh, p_max_kw,
                      soc0_kwh=0.0) -> object:
    """RP, WS and the mean-value problem's optimum, and the instance (the plans are not unique)."""
    if not math.isclose(math.fsum(probabilities), 1.0, abs_tol=1e-9) or any(len(row) != len(load_kw) for row in pv_kw):
        return "raises ValueError"
    rp, ws, ev = _battery_values(load_kw, pv_kw, probabilities, buy_price, sell_price, e_max_kwh, p_max_kw, soc0_kwh)
    instance = {"load": load_kw, "pv": pv_kw, "p": probabilities, "buy": buy_price, "sell": sell_price,
                "e_max": e_max_kwh, "p_max": p_max_kw, "soc0": soc0_kwh}
    return {"rp": rp, "ws": ws, "ev": ev, "instance": instance}


def _recourse(plan, load, pv, buy, sell) -> np.ndarray:
    """Each scenario's cost of a fixed net battery plan: buy what is missing, sell what is left (sell <= buy)."""
    net = load[None, :] - np.atleast_2d(pv) + plan[None, :]  # kW drawn from the grid, positive importing
    return np.clip(net, 0.0, None) @ buy + np.clip(net, None, 0.0) @ sell


def _plan_problem(plan, inst, name: str, tol: float) -> str | None:
    """Why ``plan`` (net battery power, + charging) breaks a battery limit, or None."""
    if len(plan) != len(inst["load"]):
        return f"`{name}` has {len(plan)} values; give one net battery power per step ({len(inst['load'])})"
    b = np.asarray(plan, dtype=float)
    soc = inst["soc0"] + np.cumsum(b)
    if np.abs(b).max() > inst["p_max"] + tol:
        return f"`{name}` charges or discharges faster than p_max_kw ({np.abs(b).max():.4g} kW)"
    if soc.min() < -tol or soc.max() > inst["e_max"] + tol:
        return f"`{name}` takes the state of charge outside [0, e_max_kwh] (from {soc.min():.4g} to {soc.max():.4g})"
    if soc[-1] < inst["soc0"] - tol:
        return f"`{name}` ends the day with less energy than it started with ({soc[-1]:.4g} < {inst['soc0']:g} kWh)"
    return None


def _battery_call(function, *args, **kwargs) -> object:
    try:
        return function(*args, **kwargs)
    except ValueError:
        return "raises ValueError"


def _battery_plain(result) -> object:
    if isinstance(result, str) and result == "raises ValueError":
        return result
    return as_dict(result, {**dict.fromkeys(_KEYS, as_float), "plan": as_floats, "mean_value_plan": as_floats})


def _battery_compare(got, want) -> str | None:
    if isinstance(want, str) or isinstance(got, str):
        if got == want:
            return None
        if isinstance(want, str):
            return "the probabilities do not sum to 1 or the PV rows are not one value per step: raise ValueError"
        return "raised ValueError on a valid instance"
    inst = want["instance"]
    load, pv, p = (np.asarray(inst[k], dtype=float) for k in ("load", "pv", "p"))
    n = load.size
    buy, sell = (np.broadcast_to(np.asarray(inst[k], dtype=float), (n,)) for k in ("buy", "sell"))
    scale = 1.0 + abs(want["rp"]) + abs(want["ws"])
    tol = 1e-5 * scale
    for key in ("rp", "ws"):
        if abs(got[key] - want[key]) > tol:
            return f"{key.upper()} = {got[key]!r}, expected {want[key]!r}"
    if abs(got["evpi"] - (got["rp"] - got["ws"])) > tol:
        return f"EVPI = {got['evpi']!r} is not RP - WS = {got['rp'] - got['ws']!r}"
    for name in ("plan", "mean_value_plan"):
        why = _plan_problem(got[name], inst, name, 1e-5 * (1.0 + inst["e_max"]))
        if why:
            return why
    rp_plan = np.asarray(got["plan"], dtype=float)
    rp_of_plan = float(p @ _recourse(rp_plan, load, pv, buy, sell))
    if abs(rp_of_plan - want["rp"]) > tol:
        return (f"`plan` has an expected cost of {rp_of_plan!r} over the scenarios, not RP = {want['rp']!r}: it is "
                "not the plan of the recourse problem")
    mean_plan = np.asarray(got["mean_value_plan"], dtype=float)
    ev_of_plan = float(_recourse(mean_plan, load, p @ pv, buy, sell)[0])
    if abs(ev_of_plan - want["ev"]) > tol:
        return (f"`mean_value_plan` costs {ev_of_plan!r} when the PV is the probability-weighted mean; the best plan "
                f"for the mean PV costs {want['ev']!r}")
    eev = float(p @ _recourse(mean_plan, load, pv, buy, sell))
    if abs(got["eev"] - eev) > tol:
        return f"EEV = {got['eev']!r}, but your `mean_value_plan` costs {eev!r} on average over the scenarios"
    if abs(got["vss"] - (got["eev"] - got["rp"])) > tol:
        return f"VSS = {got['vss']!r} is not EEV - RP = {got['eev'] - got['rp']!r}"
    return None


def _draw_battery(rng: np.random.Generator) -> dict:
    for _ in range(20):
        n_steps, n_scen = int(rng.integers(3, 7)), int(rng.integers(2, 5))
        load = np.round(rng.uniform(0.0, 2.5, n_steps), 1)
        sun = np.sin(np.pi * (np.arange(n_steps) + 0.5) / n_steps)  # a day's arc
        pv = np.round(rng.uniform(0.0, 4.0) * rng.uniform(0.0, 1.3, (n_scen, 1)) * sun[None, :]
                      * rng.uniform(0.6, 1.0, (n_scen, n_steps)), 1)
        weights = rng.multinomial(100 - n_scen, np.ones(n_scen) / n_scen) + 1
        probabilities = (weights / 100).tolist()
        buy = np.round(rng.uniform(0.1, 0.4, n_steps), 2)
        sell = np.zeros(n_steps) if rng.random() < 0.3 else np.round(rng.uniform(0.0, 0.08, n_steps), 2)
        e_max = round(float(rng.uniform(1.0, 5.0)), 1)
        p_max = round(float(rng.uniform(0.5, 2.5)), 1)
        soc0 = 0.0 if rng.random() < 0.4 else round(float(rng.uniform(0.0, e_max)), 1)
        args = (load.tolist(), pv.tolist(), probabilities, buy.tolist(), sell.tolist(), e_max, p_max)
        rp, ws, _ = _battery_values(*args, soc0)
        if rp - ws > 0.01:  # clear of the cases where one plan is best in every scenario
            break
    return case(*args, soc0_kwh=soc0) if soc0 else case(*args)


_HAND = ([0.0, 1.0], [[1.0, 0.0], [0.0, 0.0]])

register(Check(
    id="ex1_two_stage_battery",
    function="two_stage_battery",
    disabled=STOCHASTIC + ("schedule", "BatteryProblem"),
    expected=_battery_expected,
    plain=_battery_plain,
    call=_battery_call,
    compare=_battery_compare,
    fixed=[
        # section 2 by hand: WS = 0.15, RP = 0.2 (charge 1 kWh), EEV = 0.25 (the mean plan charges 0.5 kWh)
        case(*_HAND, [0.5, 0.5], [0.4, 0.3], [0.0, 0.0], 1.0, 1.0),
        # four steps, exports paid, a battery that starts (and must end) half full
        case([1.0, 0.5, 2.0, 1.0], [[0.0, 2.0, 3.0, 0.0], [0.0, 1.0, 0.5, 0.0], [0.0, 3.0, 1.0, 0.0]], [0.3, 0.3, 0.4],
             [0.2, 0.25, 0.3, 0.35], [0.05, 0.05, 0.05, 0.05], 3.0, 1.5, soc0_kwh=1.5),
        case(*_HAND, [0.5, 0.6], [0.4, 0.3], [0.0, 0.0], 1.0, 1.0),  # probabilities summing to 1.1
        case([0.0, 1.0], [[1.0, 0.0, 0.0]], [1.0], [0.4, 0.3], [0.0, 0.0], 1.0, 1.0),  # three PV values for two steps
    ],
    draw=_draw_battery,
    n_random=2,
    chapter="09_applications",
))


# -- exercise 2: the first congestion ----------------------------------------------------


def _congestion_expected(loading: pd.DataFrame, limit=1.0) -> object:
    for step in loading.index:
        row = loading.loc[step].dropna()
        if len(row) and float(row.max()) > limit:
            return [step, row.idxmax()]
    return None


def _label(x) -> object:
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


def _congestion_build(loading, limit=None) -> tuple:
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


def _damage_expected(bids, asks, fake_asks, z_max=3.5) -> object:
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
    allowed=("clear_double_auction", "ClearingResult"),
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
