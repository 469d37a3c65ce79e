"""Hidden checks of chapter 7, strategic behaviour (``solutions/07_strategic_behaviour``).

The references are the package's Cournot equilibrium and withholding
(:func:`te_course.games.cournot_equilibrium`, :func:`te_course.games.withholding`),
its best-response dynamics (:func:`te_course.games.best_response_dynamics` over
:func:`te_course.games.cournot_best_responses`), all checked in ``tests/test_games.py``,
and its market-power indices
(:mod:`te_course.market_power`: ``hhi``, ``lerner_index``, ``demand_elasticity``,
``lerner_cournot``), checked in ``tests/test_market_power.py``.
"""

from __future__ import annotations

import math

import numpy as np

from te_course import games, market_power
from te_course._checks import Check, case, register
from te_course._checks.plain import as_float, as_floats, as_int, as_tuple
from te_course.errors import ConvergenceError

CHAPTER = "07_strategic_behaviour"


# -- exercise 1: Cournot ------------------------------------------------------------------


def _cournot_expected(a, b, costs) -> object:
    return games.cournot_equilibrium(a, b, costs).quantities.tolist()


def _removal_rounds(a, costs) -> int:
    """How many times the closed form over the firms still in prices some out (P <= c_i) before none is."""
    left, rounds = list(costs), 0
    while left:
        price = (a + sum(left)) / (len(left) + 1)
        kept = [c for c in left if c < price]
        if len(kept) == len(left):
            break
        left, rounds = kept, rounds + 1
    return rounds


def _draw_cournot(rng: np.random.Generator) -> dict:
    """Draw 1 to 6 firms: every firm produces, firms priced out in one round, or in two rounds or more."""
    regime = int(rng.integers(0, 3))  # rounds of removal, 2 meaning 2 or more
    while True:
        a = int(rng.integers(50, 151))
        b = float(rng.choice([0.5, 1.0, 2.0]))
        n = int(rng.integers(1 if regime == 0 else 2, 7))
        costs = rng.integers(0, (a if regime else a // 2) + 1, size=n).tolist()
        q = games.cournot_equilibrium(a, b, costs)
        # clear of the edge: a firm out is clearly out, a firm in sells clearly more than nothing
        if np.any(np.abs(q.price - np.asarray(costs)) < 0.5) or not q.active.any():
            continue
        if min(_removal_rounds(a, costs), 2) == regime:
            return case(a, b, costs)


register(Check(
    id="ex1_cournot_quantities",
    function="cournot_quantities",
    disabled=("cournot_equilibrium", "cournot_best_responses", "best_response_dynamics", "competition_curve"),
    expected=_cournot_expected,
    plain=as_floats,
    fixed=[
        case(100, 1, [10, 20]),  # costs 10 and 20: ((100 - 30 + 30) / 3, (100 - 60 + 30) / 3)
        case(120, 2, [0, 0, 0]),  # three free firms, b = 2: 120 / (2 * 4) = 15 each
        # costs 0, 30, 70, a = 90: the third gets (190 - 280) / 4 < 0; without it (40, 10), P = 40 < 70
        case(90, 1, [0, 30, 70]),
        case(90, 1, [70, 0, 30]),
        # two rounds of removal: 4 firms give P = 69.6 (last out), 3 firms P = 37 < 48 (third out), 2 firms 100/3
        case(100, 1, [0, 0, 48, 200]),
        case(50, 1, [60, 70]),  # every cost above the intercept: nobody sells
    ],
    draw=_draw_cournot,
    n_random=6,
    chapter=CHAPTER,
))


# -- exercise 2: best-response dynamics ---------------------------------------------------

_ORDERS = ("sequential", "simultaneous")


def _play(a, b, costs, start, order, capacities, tol, max_rounds) -> object:
    """Return the package's history of every round up to ``max_rounds``.

    ``stop_at_cycle=False``: a cycle that the package spots is no reason for the student's loop to stop
    early; it keeps playing until the cap.
    """
    responses = games.cournot_best_responses(a, b, costs, capacities_kw=capacities)
    try:
        return games.best_response_dynamics(responses, start, order=order, tol=tol, max_iter=max_rounds,
                                            stop_at_cycle=False).history
    except ConvergenceError as err:  # no equilibrium within max_rounds: the rounds played are on the error
        return err.history


def _settled(history, tol) -> object:
    """``[quantities, rounds]`` after the first round whose change is at most ``tol``, or the error."""
    settled = np.flatnonzero(history["change"].to_numpy()[1:] <= tol)
    if settled.size == 0:
        return "raises RuntimeError"
    t = int(settled[0]) + 1
    return [history.iloc[t, :-1].to_numpy(dtype=float).tolist(), t]


def _dynamics_expected(a, b, costs, start, *, order="sequential", capacities=None, tol=1e-6, max_rounds=200) -> object:
    if order not in _ORDERS:
        return "raises ValueError"
    return _settled(_play(a, b, costs, start, order, capacities, tol, max_rounds), tol)


def _dynamics_call(function, *args, **kwargs) -> object:
    """Call the student's function; a RuntimeError or ValueError it raises is the answer (not NotImplementedError)."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except RuntimeError:
        return "raises RuntimeError"
    except ValueError:
        return "raises ValueError"


def _dynamics_plain(result) -> object:
    return result if isinstance(result, str) else as_tuple(result, as_floats, as_int)


def _draw_dynamics(rng: np.random.Generator) -> dict:
    """Draw a market and a protocol, resampled until the stopping round is clear of the edge.

    Regimes: sequential play (always settles); simultaneous play that settles (two firms, or the others
    priced out or at capacity); simultaneous play that oscillates (three firms or more); a cap on the
    rounds just at or just below the rounds needed (off by one).
    """
    regime = str(rng.choice(["sequential", "simultaneous settles", "simultaneous oscillates", "tight cap"]))
    while True:
        a = int(rng.integers(50, 151))
        b = float(rng.choice([0.5, 1.0, 2.0]))
        if regime == "tight cap":
            order = str(rng.choice(_ORDERS))
        else:
            order = "sequential" if regime == "sequential" else "simultaneous"
        n = int(rng.integers(1 if order == "sequential" else 2, 6))
        costs = rng.integers(0, int(0.7 * a), size=n).tolist()
        capacities = None
        if rng.random() < 0.4:
            shares = rng.choice([0.1, 0.2, 0.3, np.inf, np.inf], size=n)  # of a / b, the most anyone buys
            capacities = [float(np.round(x * a / b)) if np.isfinite(x) else math.inf for x in shares]
        upper = [a / b if capacities is None or not np.isfinite(k) else k for k in (capacities or [np.inf] * n)]
        start = [round(float(rng.uniform(0, u)), 1) for u in upper]
        tol = float(rng.choice([1e-3, 1e-5, 1e-7]))
        max_rounds = 300
        history = _play(a, b, costs, start, order, capacities, tol, max_rounds)
        change = history["change"].to_numpy()[1:]
        if np.any(np.abs(change - tol) <= 1e-3 * tol):
            continue  # a round within 0.1 % of tol: a rounding difference could move the stopping round
        want = _settled(history, tol)
        if regime == "simultaneous oscillates":
            if want != "raises RuntimeError" or change[-1] < 1.0:  # a clear oscillation, still wide at the end
                continue
        elif want == "raises RuntimeError" or want[1] > 150:
            continue
        elif regime == "simultaneous settles" and n - sum(q == 0 for q in want[0]) < 2:
            continue  # keep two firms or more in play
        if regime == "tight cap":
            if want[1] < 3:
                continue
            max_rounds = want[1] - int(rng.integers(0, 2))
        return case(a, b, costs, start, order=order, capacities=capacities, tol=tol, max_rounds=max_rounds)


register(Check(
    id="ex2_cournot_dynamics",
    function="cournot_dynamics",
    disabled=("best_response_dynamics", "cournot_best_responses", "cournot_equilibrium", "competition_curve"),
    expected=_dynamics_expected,
    plain=_dynamics_plain,
    fixed=[
        # the worked example: the change falls by 4 per round in turn and by 2 at once
        case(100, 1, [10, 20], [0, 0], order="sequential", tol=0.01, max_rounds=50),
        case(100, 1, [10, 20], [0, 0], order="simultaneous", tol=0.01, max_rounds=50),
        # the cap counts rounds from 1: 7 rounds are enough at 0.01, 6 are not
        case(100, 1, [10, 20], [0, 0], order="sequential", tol=0.01, max_rounds=7),
        case(100, 1, [10, 20], [0, 0], order="sequential", tol=0.01, max_rounds=6),
        # a monopolist: one round to move, one to see that nothing changes
        case(100, 1, [10], [0], tol=1e-6, max_rounds=10),
        # started at the equilibrium: the first round changes nothing
        case(100, 1, [10, 10], [30, 30], order="simultaneous", tol=1e-6, max_rounds=10),
        # three identical firms at once: 0, 45, 0, 45, ... never settles; in turn they do
        case(100, 1, [10, 10, 10], [0, 0, 0], order="simultaneous", tol=1e-6, max_rounds=200),
        case(100, 1, [10, 10, 10], [0, 0, 0], order="sequential", tol=1e-6, max_rounds=200),
        # four firms at once, two of them held at a capacity of 10: the two free ones settle
        case(100, 1, [10, 10, 10, 10], [0, 0, 0, 0], order="simultaneous", capacities=[10, 10, np.inf, np.inf],
             tol=1e-6, max_rounds=200),
        # the third firm (cost 70) is priced out: its answers stay at 0
        case(90, 1, [0, 30, 70], [10, 10, 10], order="sequential", tol=1e-6, max_rounds=200),
        # an order the function does not know
        case(100, 1, [10, 20], [0, 0], order="random", tol=1e-6, max_rounds=50),
    ],
    draw=_draw_dynamics,
    n_random=6,
    call=_dynamics_call,
    chapter=CHAPTER,
))


# -- exercise 3: the regulator's dashboard ------------------------------------------------


def _dashboard_expected(a, b, quantities, marginal_costs) -> object:
    q = np.array(quantities, dtype=float)
    price = a - b * float(q.sum())
    elasticity = market_power.demand_elasticity(a, b, price)
    lerner = np.atleast_1d(market_power.lerner_index(price, marginal_costs))
    predicted = market_power.lerner_cournot(q / q.sum(), elasticity)
    return [market_power.hhi(q), lerner.tolist(), predicted.tolist()]


def _draw_dashboard(rng: np.random.Generator) -> dict:
    """Draw 2 to 5 firms at a Cournot equilibrium (Lerner = prediction) or at any quantities (they differ)."""
    while True:
        a = int(rng.integers(30, 151))
        b = float(rng.choice([0.5, 1.0, 2.0]))
        n = int(rng.integers(2, 6))
        costs = rng.integers(0, a // 2, size=n).tolist()
        if rng.random() < 0.5:
            r = games.cournot_equilibrium(a, b, costs)
            if r.active.all():
                return case(a, b, [round(float(x), 6) for x in r.quantities], costs)
        else:
            quantities = [round(float(x), 2) for x in rng.uniform(0.5, 0.9 * a / b / n, size=n)]
            if a - b * sum(quantities) > 1:  # a positive price, away from 0
                return case(a, b, quantities, costs)


register(Check(
    id="ex3_dashboard",
    function="dashboard",
    disabled=("hhi", "lerner_index", "lerner_cournot", "demand_elasticity", "weighted_lerner", "lerner_from_hhi",
              "concentration", "cournot_equilibrium"),
    expected=_dashboard_expected,
    plain=lambda r: as_tuple(r, as_float, as_floats, as_floats),
    fixed=[
        # asymmetric duopoly: shares 10/17 and 7/17, P = 130/3, elasticity -13/17
        case(100, 1, [100 / 3, 70 / 3], [10, 20]),
        # not an equilibrium: Q = 40, P = 60, L = 50/60, elasticity -60/40, s / |elasticity| = 0.5 / 1.5
        case(100, 1, [20, 20], [10, 10]),
        # shares 30/30/20/20 (HHI 2,600); P = 30 - 10 = 20, elasticity -20/10 = -2
        case(30, 1, [3, 3, 2, 2], [5, 5, 10, 10]),
    ],
    draw=_draw_dashboard,
    chapter=CHAPTER,
))


# -- exercise 4: withholding --------------------------------------------------------------


def _best_offer_expected(a, b, line_kw, marginal_cost, capacity_kw, price_import) -> object:
    return games.withholding(intercept=a, slope=b, line_kw=line_kw, marginal_cost=marginal_cost,
                             capacity_kw=capacity_kw, price_import=price_import).offer_kw


def _local_optima(a, b, f, c, k, p0) -> list[tuple[float, float]]:
    """(offer, profit) at the best congested offer and at the capacity (the other offers earn less)."""
    edge = (a - p0) / b - f

    def profit(q) -> float:  # the price never falls below the import price p0
        return (max(a - b * (q + f), p0) - c) * q

    congested = min(max((a - b * f - c) / (2 * b), 0.0), max(min(k, edge), 0.0))
    return [(congested, profit(congested)), (k, profit(k)), (0.0, 0.0)]


def _draw_offer(rng: np.random.Generator) -> dict:
    """Draw a zone where withholding pays, or offering everything does, or the grid price lies below the cost.

    Resampled until the best offer earns clearly more (1 %) than every other local optimum, so that a grid finds it.
    """
    regime = rng.choice(["withhold", "full", "grid below cost"])
    while True:
        a = int(rng.integers(60, 151))
        b = float(rng.choice([0.5, 1.0, 2.0]))
        p0 = int(rng.integers(5, a // 2))
        d0 = (a - p0) / b
        f = int(rng.integers(0, int(1.2 * d0) + 1))
        c = int(rng.integers(0, int(0.6 * a)))
        k = int(rng.integers(1, int(d0 + f) + 1))  # the capacity never exceeds D0 + F
        if abs(p0 - c) < 1:
            continue
        optima = sorted(_local_optima(a, b, f, c, k, p0), key=lambda t: t[1], reverse=True)
        (q1, v1), rest = optima[0], optima[1:]
        if not all(abs(q - q1) <= 0.01 or v1 - v >= 0.01 * max(v1, 1.0) for q, v in rest):
            continue
        got = "grid below cost" if p0 < c else ("full" if abs(q1 - k) <= 0.01 else "withhold")
        if got == regime:
            return case(a, b, f, c, k, p0)


register(Check(
    id="ex4_best_offer",
    function="best_offer",
    disabled=("withholding", "two_zone_outcome", "dlmp_withholding"),
    expected=_best_offer_expected,
    plain=as_float,
    fixed=[
        case(100, 1, 100, 10, 60, 20),  # the line never congests: offer everything
        case(100, 1, 40, 10, 20, 20),  # capacity below q* = 25
        case(100, 1, 40, 10, 70, 20),  # 10 * 70 = 700 beats 625
        case(120, 2, 10, 20, 35, 40),  # q* = (120 - 20 - 20) / 4 = 20: 800 > 20 * 35
        case(100, 1, 40, 30, 60, 20),  # grid price below cost: q* = 15
        case(100, 1, 80, 20, 60, 20),  # the line never congests and the grid price is the cost: all earn 0, offer 60
    ],
    draw=_draw_offer,
    n_random=6,
    rtol=0.0,
    atol=0.01,
    chapter=CHAPTER,
))
