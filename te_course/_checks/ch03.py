"""Hidden checks of chapter 3, coordination (``solutions/03_coordination``).

The references are the package's community model
(:class:`te_course.coordination.QuadraticAgents`: best responses and costs) and its
centralized dispatch (:func:`te_course.coordination.centralized_dispatch`, whose price
is the dual of the balance), checked by hand, against brentq and by finite
differences in ``tests/test_coordination.py``.  The ADMM exchange exercise is checked
against an independent run of Boyd et al.'s exchange algorithm in their own variables
(what each agent receives), whose drawn cases stop at the centralized price.
"""

from __future__ import annotations

import numpy as np

from te_course import coordination
from te_course._checks import Check, case, register
from te_course._checks.plain import as_float, as_floats, as_int, as_tuple

CHAPTER = "03_coordination"
COORDINATION = ("QuadraticAgents", "centralized_dispatch", "price_iteration", "admm", "p2p_bilateral",
                "p2p_centralized")


def _community(rng: np.random.Generator, n: int) -> list[list[float]]:
    """Draw the curvatures, marginal costs at zero and limits of ``n`` prosumers (readable numbers)."""
    a = np.round(rng.uniform(0.2, 3.0, n), 2)
    b = np.round(rng.uniform(-0.2, 0.6, n), 2)
    low = np.round(rng.uniform(-3.0, 0.0, n), 1)
    high = np.round(rng.uniform(0.0, 3.0, n), 1)
    return [a.tolist(), b.tolist(), low.tolist(), high.tolist()]


def _injections(price, a, b, p_min_kw, p_max_kw) -> np.ndarray:
    return coordination.QuadraticAgents(a, b, p_min_kw, p_max_kw).best_response(price)


# -- exercise 1: best responses --------------------------------------------------------------


def _draw_response(rng: np.random.Generator) -> dict:
    """Draw a price that leaves some prosumers inside their limits and pushes others to a limit."""
    community = _community(rng, int(rng.integers(1, 6)))
    return case(round(float(rng.uniform(-2.0, 3.0)), 2), *community)


register(Check(
    id="ex1_best_response",
    function="best_response",
    disabled=COORDINATION,
    expected=lambda price, a, b, p_min_kw, p_max_kw: _injections(price, a, b, p_min_kw, p_max_kw).tolist(),
    plain=as_floats,
    fixed=[case(0.5, [1, 2], [0.1, 0.3], [-5, -5], [5, 5]), case(10, [1, 2], [0.1, 0.3], [-5, -5], [5, 5]),
           case(-1, [1, 0.5], [0.0, 0.0], [-0.5, -10], [1, 1])],
    draw=_draw_response,
    chapter=CHAPTER,
))


# -- exercise 2: price iteration to the balancing price, or RuntimeError ------------------------

RAISES = "raises RuntimeError"
_RAISED = object()  # what the call returns when the student's function raised RuntimeError


def _balance_call(function, *args, **kwargs) -> object:
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except RuntimeError:
        return _RAISED


def _free_slope(price, a, b, p_min_kw, p_max_kw) -> float:
    """``sum 1 / a_i`` over the prosumers strictly inside their limits at ``price``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    inside = (b + a * np.asarray(p_min_kw, dtype=float) < price) & (price < b + a * np.asarray(p_max_kw, dtype=float))
    return float(np.sum(1.0 / a[inside]))


def _balance_reference(a, b, p_min_kw, p_max_kw, *, step, tol=1e-9, max_iter=100_000) -> object:
    """Return the centralized price, or a RuntimeError when the step makes that price repel the iteration.

    Near the balancing price the imbalance grows by ``S_free`` kW per unit of price, so
    the error is multiplied by ``1 - step * S_free`` at each step: beyond
    ``step * S_free = 2`` the iteration never settles (the drawn cases keep clear of 2).
    """
    price = coordination.centralized_dispatch(coordination.QuadraticAgents(a, b, p_min_kw, p_max_kw)).price
    if step * _free_slope(price, a, b, p_min_kw, p_max_kw) > 2.0:
        return RAISES
    return price


def _iterate(agents, step: float, steps: int) -> tuple[bool, float]:
    """Run ``steps`` price steps from 0; return whether the imbalance fell to 1e-10, and the smallest one seen."""
    price, smallest = 0.0, np.inf
    for _ in range(steps):
        excess = float(agents.best_response(price).sum())
        smallest = min(smallest, abs(excess))
        if smallest <= 1e-10:
            return True, smallest
        price -= excess * step
    return False, smallest


def _draw_balance(rng: np.random.Generator) -> dict:
    """Draw a community with one clear balancing price, and a step that converges or clearly diverges.

    Converging steps include some above ``2 / sum(1 / a)``: they converge because the
    prosumers at a limit near the balancing price do not count (section 4).
    """
    regime = rng.choice(["converges", "converges above 2/S", "diverges"], p=[0.35, 0.3, 0.35])
    while True:
        a, b, low, high = _community(rng, int(rng.integers(2, 6)))
        if sum(low) > -0.5 or sum(high) < 0.5:
            continue
        agents = coordination.QuadraticAgents(a, b, low, high)
        price = float(coordination.clearing_price(agents))
        kinks = np.concatenate([agents.b + agents.a * agents.p_min_kw, agents.b + agents.a * agents.p_max_kw])
        if np.min(np.abs(kinks - price)) < 0.02:  # a prosumer just at a limit: the slope is ambiguous there
            continue
        slope = _free_slope(price, a, b, low, high)
        if slope == 0.0:  # a flat piece: many balancing prices
            continue
        diverge = regime == "diverges"
        step = round(float(rng.uniform(2.5, 6.0) if diverge else rng.uniform(0.2, 1.8)) / slope, 3)
        factor = step * slope
        if not (2.3 < factor < 6.5 if diverge else 0.15 < factor < 1.85):
            continue
        if regime == "converges above 2/S" and step * agents.slope < 2.2:
            continue
        if diverge:
            max_iter = int(rng.integers(100, 400))
            converged, smallest = _iterate(agents, step, max_iter)
            if not converged and smallest > 1e-3:
                return case(a, b, low, high, step=step, max_iter=max_iter)
        elif _iterate(agents, step, 2000)[0]:
            return case(a, b, low, high, step=step)


register(Check(
    id="ex2_balance_price",
    function="balance_price",
    disabled=COORDINATION,
    expected=_balance_reference,
    plain=lambda r: RAISES if r is _RAISED else as_float(r),
    fixed=[
        case([1, 1], [0.1, 0.3], [-5, -5], [5, 5], step=0.5),
        case([1, 2, 4], [0.1, 0.2, 0.4], [-5, -5, -5], [5, 5, 5], step=0.5),
        case([1, 1, 1], [0, 0, 1], [-10, -10, -0.5], [10, 10, 10], step=0.3),
        # step 0.8 exceeds 2 / S = 2/3, but the third prosumer sits at its limit near the price 0.25:
        # only the other two count, 1 - 0.8 * 2 = -0.6, and the iteration converges
        case([1, 1, 1], [0, 0, 1], [-10, -10, -0.5], [10, 10, 10], step=0.8),
        # step 1.5 with S = 1 + 1/2 + 1/4 = 1.75: each step multiplies the error by 1 - 2.625
        case([1, 2, 4], [0.1, 0.2, 0.4], [-5, -5, -5], [5, 5, 5], step=1.5, max_iter=300),
    ],
    draw=_draw_balance,
    n_random=5,
    call=_balance_call,
    atol=1e-7,
    rtol=0.0,
    chapter=CHAPTER,
))


# -- exercise 3: the ADMM exchange loop --------------------------------------------------------------


def _exchange(a, b, p_min_kw, p_max_kw, rho, tol, max_iter) -> tuple[list, int]:
    """Run Boyd et al.'s exchange ADMM (2011, section 7.3.2) in their own variables; return the iterates and ratios.

    Boyd et al. write the algorithm for what each agent receives, ``x_i = -p_i``, with
    the cost ``f_i(-x) = a_i x^2 / 2 - b_i x``; the scaled dual ``w`` then moves by
    ``+xbar`` and equals the ``u`` of the notebook (section 5), so the price is
    ``rho * w``.  Each agent's step sets the derivative ``a x - b + rho (x - c) = 0``,
    with ``c = x^k - xbar^k - w^k``, and clips.  Returns ``(price, dispatch, k)`` at
    the first ``k`` whose residuals are both at most ``tol`` (``None`` for the price
    when ``max_iter`` passes first), and ``max(primal, dual) / tol`` at every iteration.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    receive_min, receive_max = -np.asarray(p_max_kw, dtype=float), -np.asarray(p_min_kw, dtype=float)
    n = a.size
    x, xbar, w = np.zeros(n), 0.0, 0.0
    ratios = []
    for k in range(1, max_iter + 1):
        balanced = x - xbar  # z^k of Boyd et al., section 7.3.2
        x = np.minimum(np.maximum((b + rho * (balanced - w)) / (a + rho), receive_min), receive_max)
        xbar = float(np.mean(x))
        w += xbar
        primal = abs(xbar) * n ** 0.5
        dual = rho * float(np.sqrt(np.sum((x - xbar - balanced) ** 2)))
        ratios.append(max(primal, dual) / tol)
        if max(primal, dual) <= tol:
            return [rho * w, (-x + 0.0).tolist(), k], ratios
    return [None, None, max_iter], ratios


def _admm_reference(a, b, p_min_kw, p_max_kw, *, rho, tol=1e-8, max_iter=10_000) -> object:
    result, _ = _exchange(a, b, p_min_kw, p_max_kw, rho, tol, max_iter)
    return RAISES if result[0] is None else result


def _clear_stop(ratios: list) -> bool:
    """Whether the stopping iteration is clear of the edge: a roundoff cannot move it by one."""
    return ratios[-1] < 0.98 and min(ratios[:-1], default=2.0) > 1.02


def _draw_admm(rng: np.random.Generator) -> dict:
    """Draw a community whose ADMM loop stops clearly, at the centralized price; sometimes too few iterations.

    In about half of the cases that converge some prosumer's limit binds at the balancing
    price, clearly (its unconstrained wish lies at least 0.05 kW beyond); ``rho`` is drawn
    around the prosumers' median curvature, ``tol`` over five decades.
    """
    regime = rng.choice(["free", "binding", "raises"], p=[0.35, 0.45, 0.2])
    while True:
        n = int(rng.integers(2, 7))
        a = np.round(rng.uniform(0.2, 3.0, n), 2)
        b = np.round(rng.uniform(-0.2, 0.6, n), 2)
        low = np.round(rng.uniform(-1.5, 0.0, n), 1) + 0.0
        high = np.round(rng.uniform(0.0, 1.5, n), 1)
        if low.sum() > -0.5 or high.sum() < 0.5:
            continue
        central = coordination.clearing_price(coordination.QuadraticAgents(a, b, low, high))  # exact, no solver
        wish = (central - b) / a
        beyond = np.maximum(low - wish, wish - high)  # > 0 where a limit binds
        if np.any(np.abs(beyond) < 0.05) or (regime != "raises" and (regime == "binding") != bool(np.any(beyond > 0))):
            continue
        rho = round(float(np.median(a) * rng.uniform(0.3, 3.0)), 2)
        tol = float(rng.choice([1e-5, 1e-6, 1e-7, 1e-8, 1e-9]))
        result, ratios = _exchange(a, b, low, high, rho, tol, 20_000)
        if result[0] is None or not _clear_stop(ratios) or result[2] < 8:
            continue
        if abs(result[0] - central) > max(1e-6, 100 * tol):  # the loop reaches the centralized price
            continue
        community = a.tolist(), b.tolist(), low.tolist(), high.tolist()
        if regime == "raises":
            return case(*community, rho=rho, tol=tol, max_iter=int(result[2] * rng.uniform(0.3, 0.8)))
        return case(*community, rho=rho, tol=tol)


register(Check(
    id="ex3_admm_exchange",
    function="admm_exchange",
    disabled=COORDINATION,
    expected=_admm_reference,
    plain=lambda r: RAISES if r is _RAISED else as_tuple(r, as_float, as_floats, as_int),
    fixed=[
        # the two prosumers of section 5, by hand: price 0.2, dispatch (0.1, -0.1)
        case([1, 1], [0.1, 0.3], [-5, -5], [5, 5], rho=1.0),
        case([1, 1], [0.1, 0.3], [-5, -5], [5, 5], rho=1.0, tol=1e-3),
        case([1, 1], [0.1, 0.3], [-5, -5], [5, 5], rho=1.0, max_iter=5),
        # a seller and a buyer that can only sell and only buy: price 0.5, dispatch (0.5, -0.5); the primal
        # residual falls below tol in round 13, the dual one only in round 34
        case([1, 1], [0, 1], [0, -2], [2, 0], rho=2.0, tol=1e-6),
        # the third prosumer sits at its limit -0.5 at the price 0.25; a dual residual without the change of
        # pbar would stop one round late
        case([1, 1, 1], [0, 0, 1], [-10, -10, -0.5], [10, 10, 10], rho=1.0),
    ],
    draw=_draw_admm,
    n_random=7,
    call=_balance_call,
    rtol=1e-6,
    atol=1e-7,
    chapter=CHAPTER,
))


# -- exercise 4: the welfare lost to trading fees -------------------------------------------------


def _fee_loss_reference(a, b, trading_cost, pool_dispatch, trades) -> float:
    n = len(a)
    unlimited = np.full(n, 1e9)  # the limits do not enter a cost
    agents = coordination.QuadraticAgents(a, b, -unlimited, unlimited)
    flows = np.asarray(trades, dtype=float)
    between = ~np.eye(n, dtype=bool)
    fees = 0.5 * float((np.asarray(trading_cost, dtype=float) * np.abs(flows))[between].sum())
    pool_welfare = -float(agents.cost(np.asarray(pool_dispatch, dtype=float)).sum())
    p2p_welfare = -float(agents.cost(flows.sum(axis=1)).sum()) - fees
    return pool_welfare - p2p_welfare


def _draw_fees(rng: np.random.Generator) -> dict:
    """Draw the pool's dispatch of a community and bilateral trades (some pairs idle), with or without fees."""
    n = int(rng.integers(2, 5))
    a, b, low, high = _community(rng, n)
    low, high = [min(x, -1.0) for x in low], [max(x, 1.0) for x in high]
    agents = coordination.QuadraticAgents(a, b, low, high)
    pool = np.round(agents.best_response(coordination.clearing_price(agents)), 3)
    upper = np.triu(np.round(rng.uniform(-1.0, 1.0, (n, n)), 2) * (rng.random((n, n)) < 0.8), 1)
    trades = upper - upper.T
    fee = np.triu(np.round(rng.uniform(0.0, 0.1, (n, n)), 3), 1) * (rng.random() < 0.85)
    return case(a, b, (fee + fee.T).tolist(), pool.tolist(), (trades + 0.0).tolist())


register(Check(
    id="ex4_fee_welfare_loss",
    function="fee_welfare_loss",
    disabled=COORDINATION,
    expected=_fee_loss_reference,
    plain=as_float,
    fixed=[
        # no trade at all: the whole pool welfare 0.01 is lost
        case([1, 1], [0.1, 0.3], [[0, 1], [1, 0]], [0.1, -0.1], [[0, 0], [0, 0]]),
        # three prosumers, one seller (b=0) selling 0.1 kW to each buyer (b=0.3) with fees 0.02 and 0.04:
        # pool dispatch (0.2, -0.1, -0.1) has cost 0.02 + 2 * (0.005 - 0.03) = -0.03, welfare 0.03;
        # same dispatch in P2P, fees 0.5*(0.02+0.04)*0.1*2 = 0.006 -> welfare 0.024, loss 0.006
        case([1, 1, 1], [0, 0.3, 0.3], [[0, 0.02, 0.04], [0.02, 0, 0], [0.04, 0, 0]], [0.2, -0.1, -0.1],
             [[0, 0.1, 0.1], [-0.1, 0, 0], [-0.1, 0, 0]]),
    ],
    draw=_draw_fees,
    chapter=CHAPTER,
))
