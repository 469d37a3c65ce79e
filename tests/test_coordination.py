"""Tests of te_course.coordination against independent references.

The references are written here, not taken from the package:

- two-agent communities worked by hand (comments below);
- the clearing price found with scipy's ``brentq`` on the total best response,
  written out in this file, and the cost of the community as a function of a
  fixed free injection ``d`` (``C(d)``), whose derivative is minus the price:
  every price, including cvxpy's dual, is checked by a central finite difference;
- cvxpy's single QP (``centralized_dispatch``, ``p2p_centralized``) for the
  distributed methods, itself checked against the two above;
- the exchange ADMM exactly as chapter 3 writes it (in injections, price ``rho u``),
  iterated here, for the sign of the ADMM price and the meaning of its residuals.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from te_course._validation import ConvergenceError, TeCourseError
from te_course.coordination import (
    CoordinationResult,
    P2PResult,
    QuadraticAgents,
    admm,
    centralized_dispatch,
    clearing_price,
    distance_costs,
    p2p_bilateral,
    p2p_centralized,
    price_iteration,
    random_community,
)

# Seller: cost p^2/2 (a=1, b=0), 0 <= p <= 2.  Buyer: cost p^2/2 + p (a=1, b=1), -2 <= p <= 0,
# i.e. it values consuming d = -p kW at d - d^2/2.  Best responses: seller p = price,
# buyer p = price - 1.  Balance: price + price - 1 = 0, so price = 0.5, dispatch (0.5, -0.5).
# Costs 0.125 and 0.125 - 0.5 = -0.375: welfare 0.25.
TWO = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0.0, -2.0], p_max_kw=[2.0, 0.0])
# Same but the seller is capped at 0.3 kW: the seller sits at its limit, the buyer takes
# -0.3 kW and sets the price at its marginal value 1 - 0.3 = 0.7.
TWO_CAPPED = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0.0, -2.0], p_max_kw=[0.3, 0.0])

SEEDS = [1, 2, 3]


# --------------------------------------------------------------------------- references


def response(agents, price):
    """Total best response, written out independently of the package."""
    p = np.minimum(np.maximum((price - agents.b) / agents.a, agents.p_min_kw), agents.p_max_kw)
    return p


def brentq_price(agents, supply_kw=0.0):
    """Price at which the agents inject -supply_kw in total (d kW of free extra supply)."""
    lo = np.min(agents.b + agents.a * agents.p_min_kw) - 1.0
    hi = np.max(agents.b + agents.a * agents.p_max_kw) + 1.0
    return brentq(lambda lam: response(agents, lam).sum() + supply_kw, lo, hi, xtol=1e-14, rtol=1e-14)


def community_cost(agents, supply_kw):
    """Least total cost when a free injection of supply_kw must be absorbed."""
    p = response(agents, brentq_price(agents, supply_kw))
    return float(np.sum(0.5 * agents.a * p**2 + agents.b * p))


def wide(n, seed):
    """A community whose limits never bind (for the linear analysis of the step size)."""
    rng = np.random.default_rng(seed)
    return QuadraticAgents(
        a=rng.uniform(0.5, 2.0, n), b=rng.uniform(0.05, 0.4, n), p_min_kw=np.full(n, -100.0), p_max_kw=np.full(n, 100.0)
    )


# --------------------------------------------------------------------------- closed form


@pytest.mark.parametrize(
    "solve",
    [
        centralized_dispatch,
        lambda ag: price_iteration(ag, step=0.25, tol=1e-10),
        lambda ag: admm(ag, rho=1.0, tol=1e-10),
    ],
    ids=["centralized", "price_iteration", "admm"],
)
def test_two_agents_by_hand(solve):
    r = solve(TWO)
    assert isinstance(r, CoordinationResult)
    assert r.price == pytest.approx(0.5, abs=1e-7)
    np.testing.assert_allclose(r.dispatch, [0.5, -0.5], atol=1e-7)
    assert r.welfare == pytest.approx(0.25, abs=1e-7)
    capped = solve(TWO_CAPPED)
    assert capped.price == pytest.approx(0.7, abs=1e-6)
    np.testing.assert_allclose(capped.dispatch, [0.3, -0.3], atol=1e-7)


def test_two_agents_exact_price_and_frame():
    assert clearing_price(TWO) == pytest.approx(0.5, abs=1e-15)
    assert clearing_price(TWO_CAPPED) == pytest.approx(0.7, abs=1e-15)
    frame = centralized_dispatch(TWO).to_frame()
    assert list(frame.columns) == ["a", "b", "p_min_kw", "p_max_kw", "dispatch_kw", "cost"]
    np.testing.assert_allclose(frame["cost"], [0.125, -0.375], atol=1e-7)


def test_best_response_closed_form_and_broadcast():
    agents = QuadraticAgents(a=2.0, b=[0.0, 1.0, 4.0], p_min_kw=-1.0, p_max_kw=1.0)
    # (3 - b) / 2 = 1.5, 1.0, -0.5, clipped to [-1, 1].
    np.testing.assert_allclose(agents.best_response(3.0), [1.0, 1.0, -0.5])
    assert agents.n == 3 and agents.slope == pytest.approx(1.5)


# --------------------------------------------------------------------------- centralized and exact price


@pytest.mark.parametrize("seed", SEEDS)
def test_centralized_matches_brentq_and_exact_price(seed):
    agents = random_community(30, seed=seed)
    ref = brentq_price(agents)
    assert clearing_price(agents) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    r = centralized_dispatch(agents)
    assert r.price == pytest.approx(ref, rel=1e-6)
    np.testing.assert_allclose(r.dispatch, response(agents, ref), atol=1e-6)
    assert abs(r.dispatch.sum()) < 1e-6
    # Marginal cost equals the price for every agent strictly inside its limits.
    p = r.dispatch
    inside = (p > agents.p_min_kw + 1e-4) & (p < agents.p_max_kw - 1e-4)
    assert inside.sum() >= 5
    np.testing.assert_allclose(agents.a[inside] * p[inside] + agents.b[inside], r.price, atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_dual_price_is_the_cost_saved_by_free_supply(seed):
    # C(d): least cost when d kW are injected for free; dC/dd = -price.
    agents = random_community(30, seed=seed)
    d = 1e-4
    fd = -(community_cost(agents, d) - community_cost(agents, -d)) / (2 * d)
    assert centralized_dispatch(agents).price == pytest.approx(fd, rel=1e-5)
    assert centralized_dispatch(agents, solver="OSQP").price == pytest.approx(fd, rel=1e-3)
    # The same finite difference, re-solving the QP with cvxpy (written here) with d kW of free supply.
    fd_cvxpy = -(cvxpy_cost(agents, d) - cvxpy_cost(agents, -d)) / (2 * d)
    assert centralized_dispatch(agents).price == pytest.approx(fd_cvxpy, rel=1e-3)


def cvxpy_cost(agents, supply_kw):
    import cvxpy as cp

    p = cp.Variable(agents.n)
    cost = 0.5 * cp.sum(cp.multiply(agents.a, cp.square(p))) + agents.b @ p
    problem = cp.Problem(
        cp.Minimize(cost), [cp.sum(p) + supply_kw == 0, p >= agents.p_min_kw, p <= agents.p_max_kw]
    )
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return problem.value


# --------------------------------------------------------------------------- distributed methods


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["price_iteration", "admm"])
def test_distributed_methods_reach_the_centralized_optimum(seed, method):
    agents = random_community(50, seed=seed)
    if method == "price_iteration":
        r = price_iteration(agents, step=1.0 / agents.slope)
    else:
        r = admm(agents, rho=float(np.median(agents.a)))
    ref = brentq_price(agents)
    central = centralized_dispatch(agents)
    assert r.method == method.replace("_", " ")
    for price, dispatch in ((ref, response(agents, ref)), (central.price, central.dispatch)):
        assert r.price == pytest.approx(price, rel=1e-4)
        np.testing.assert_allclose(r.dispatch, dispatch, atol=1e-3)
    demand = np.maximum(-r.dispatch, 0).sum()
    assert demand == pytest.approx(r.demand_kw) and demand > 1.0
    assert abs(r.dispatch.sum()) <= 1e-6 * demand
    # An imbalance of up to tol * D kW is valued at about the price (< 1 per kWh).
    assert r.welfare == pytest.approx(central.welfare, abs=1e-6 * demand)
    h = r.history
    assert len(h) == r.iterations and list(h["iteration"]) == list(range(1, r.iterations + 1))
    assert abs(h["imbalance_kw"].iloc[-1]) <= 1e-6 * demand
    if method == "admm":
        assert {"primal_residual", "dual_residual"} <= set(h.columns)
        assert h["primal_residual"].iloc[-1] == pytest.approx(abs(h["imbalance_kw"].iloc[-1]) / np.sqrt(agents.n))


def test_price_iteration_imbalance_never_grows_with_a_stable_step():
    agents = random_community(40, seed=5)
    r = price_iteration(agents, step=1.9 / agents.slope, price0=1.0)
    size = r.history["imbalance_kw"].abs().to_numpy()
    assert np.all(size[1:] <= size[:-1] * (1 + 1e-9) + 1e-12)


@pytest.mark.parametrize("method", ["price_iteration", "admm"])
def test_cvxpy_per_agent_equals_vectorised(method):
    agents = random_community(5, seed=3)
    if method == "price_iteration":
        kw = {"step": 1.0 / agents.slope}
        solve = price_iteration
    else:
        kw = {"rho": float(np.median(agents.a))}
        solve = admm
    fast, slow = solve(agents, **kw), solve(agents, vectorised=False, **kw)
    assert slow.iterations == fast.iterations
    assert slow.price == pytest.approx(fast.price, abs=1e-8)
    np.testing.assert_allclose(slow.dispatch, fast.dispatch, atol=1e-7)


def test_progress_bar_runs(capsys):
    r = price_iteration(TWO, step=0.25, progress=True)
    assert r.price == pytest.approx(0.5, abs=1e-6) and len(r.history) == r.iterations
    r = admm(TWO, rho=1.0, progress=True)
    assert r.price == pytest.approx(0.5, abs=1e-6) and len(r.history) == r.iterations


# --------------------------------------------------------------------------- divergence


@pytest.mark.parametrize("factor", [2.2, 5.0])
def test_step_above_two_over_s_raises_quickly(factor):
    agents = wide(20, seed=0)
    bound = 2.0 / np.sum(1.0 / agents.a)
    with pytest.raises(ConvergenceError, match=r"step = .* is too large: it is stable for 0 < step < 2/S = ") as info:
        price_iteration(agents, step=factor * bound, max_iter=10_000)
    assert f"{bound:.6g}" in str(info.value)
    assert info.value.iterations < 100
    assert len(info.value.history) == info.value.iterations
    assert isinstance(info.value, TeCourseError)


def test_step_below_two_over_s_converges():
    agents = wide(20, seed=0)
    bound = 2.0 / np.sum(1.0 / agents.a)
    r = price_iteration(agents, step=0.9 * bound)
    assert r.price == pytest.approx(brentq_price(agents), rel=1e-6)


def test_bounded_oscillation_is_detected():
    # With the limits binding, an unstable step ends in an oscillation of bounded size.
    with pytest.raises(ConvergenceError, match=r"changed sign at every iteration .* step = 40 is too large") as info:
        price_iteration(TWO, step=40.0, max_iter=10_000)
    assert info.value.iterations < 200


def test_max_iter_reached_raises_with_advice():
    agents = random_community(20, seed=1)
    with pytest.raises(ConvergenceError, match=r"did not converge in max_iter = 3 iterations: .* Increase `max_iter`"):
        price_iteration(agents, step=0.01 / agents.slope, max_iter=3)
    with pytest.raises(ConvergenceError, match=r"ADMM did not converge in max_iter = 2 iterations: .* `rho`"):
        admm(agents, rho=1.0, max_iter=2)
    with pytest.raises(ConvergenceError, match=r"P2P ADMM did not converge in max_iter = 2 iterations"):
        p2p_bilateral(random_community(4, seed=1), rho=1.0, max_iter=2)


# --------------------------------------------------------------------------- ADMM: sign of the price, residuals


def text_admm(agents, rho, iterations, *, boyd_on_injections=False):
    """The exchange ADMM as chapter 3 writes it, in injections p (positive = sells), written out here.

    Chapter 3 (and Boyd et al. 2011, section 7.3.2, with their x_i = -p_i, what agent i receives)::

        p_i^{k+1} = argmin_{p_min <= p <= p_max} f_i(p) + rho/2 (p - p_i^k + pbar^k - u^k)^2
        u^{k+1}   = u^k - pbar^{k+1}

    ``boyd_on_injections=True`` copies Boyd et al.'s update with p in place of x instead
    (``+ pbar^k + u^k`` inside the square, ``u^{k+1} = u^k + pbar^{k+1}``).  The agent's step
    minimises a strictly convex quadratic of one variable on an interval: the unconstrained
    minimiser, ``(rho v - b) / (a + rho)``, projected on the interval.  Returns the iterates
    ``p^k`` and ``u^k`` for k = 1..iterations.
    """
    sign = -1.0 if boyd_on_injections else 1.0
    p, u = np.zeros(agents.n), 0.0
    ps, us = [], []
    for _ in range(iterations):
        v = p - p.mean() + sign * u
        p = np.minimum(np.maximum((rho * v - agents.b) / (agents.a + rho), agents.p_min_kw), agents.p_max_kw)
        u = u - sign * p.mean()
        ps.append(p)
        us.append(u)
    return np.array(ps), np.array(us)


@pytest.mark.parametrize("seed", SEEDS)
def test_admm_price_is_rho_u_and_equals_the_centralized_dual(seed):
    # Chapter 3: with injections and the update above, the price is +rho u.  Its fixed point
    # gives a_i p_i + b_i = rho u for every agent inside its limits; the reference price is the
    # brentq root (and cvxpy's dual, itself checked by a finite difference above).
    agents = random_community(30, seed=seed)
    rho = float(np.median(agents.a))
    ps, us = text_admm(agents, rho, 3000)
    p, price = ps[-1], rho * us[-1]
    ref = brentq_price(agents)
    assert price == pytest.approx(ref, rel=1e-9)
    assert price == pytest.approx(centralized_dispatch(agents).price, rel=1e-6)
    assert price > 0  # the community's price is positive here, so a sign error cannot pass
    inside = (p > agents.p_min_kw + 1e-6) & (p < agents.p_max_kw - 1e-6)
    assert inside.sum() >= 5
    np.testing.assert_allclose(agents.a[inside] * p[inside] + agents.b[inside], price, atol=1e-9)
    # Boyd et al.'s update copied on injections is the same algorithm with u of the opposite
    # sign: its price is -rho u (the mistake that issue 13 found in the chapter).
    ps_boyd, us_boyd = text_admm(agents, rho, 3000, boyd_on_injections=True)
    np.testing.assert_allclose(ps_boyd, ps, atol=1e-12)
    assert -rho * us_boyd[-1] == pytest.approx(ref, rel=1e-9)
    # The package follows the chapter's formula iterate by iterate: its history's price is rho u^k.
    r = admm(agents, rho=rho)
    k = r.iterations
    np.testing.assert_allclose(r.history["price"], rho * us[:k], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.dispatch, ps[k - 1], atol=1e-12)
    assert r.price == pytest.approx(rho * us[k - 1], rel=1e-12)


def test_admm_residuals_primal_moves_the_price_dual_measures_the_dispatch():
    # Boyd et al. (2011), section 3.3, for the exchange problem written as p_i = z_i, sum z_i = 0
    # (z_i^k = p_i^k - pbar^k): primal residual ||r^k|| = sqrt(N) |pbar^k|, dual residual
    # ||s^k|| = rho ||z^k - z^{k-1}||.  The price changes by -rho pbar^{k+1}, that is by
    # rho ||r^{k+1}|| / sqrt(N): the primal residual, not the dual one, moves the price.
    agents = random_community(30, seed=1)
    n, rho = agents.n, float(np.median(agents.a))
    r = admm(agents, rho=rho)
    h = r.history
    ps, us = text_admm(agents, rho, r.iterations)
    pbar = ps.mean(axis=1)
    z = ps - pbar[:, None]
    z_prev = np.vstack([np.zeros(n), z[:-1]])  # p^0 = 0, so z^0 = 0
    np.testing.assert_allclose(h["primal_residual"], np.sqrt(n) * np.abs(pbar), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(h["dual_residual"], rho * np.linalg.norm(z - z_prev, axis=1), rtol=1e-9, atol=1e-15)
    change = np.diff(h["price"].to_numpy())
    np.testing.assert_allclose(change, -rho * pbar[1:], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(np.abs(change), rho * h["primal_residual"].to_numpy()[1:] / np.sqrt(n), rtol=1e-9,
                               atol=1e-15)
    # The dual residual is not the price change: they differ by orders of magnitude along the run.
    ratio = h["dual_residual"].to_numpy()[1:] / np.abs(change)
    assert ratio.max() > 10 * ratio.min()


def test_price_iteration_bound_is_two_over_the_free_slope_near_the_solution():
    # Chapter 3: near the solution the step factor is 1 - step * S_free, S_free = sum 1/a over the
    # agents inside their limits at the brentq price.  A step between 2/S and 2/S_free converges,
    # one above 2/S_free diverges.
    agents = random_community(30, seed=1)
    p = response(agents, brentq_price(agents))
    free = (p > agents.p_min_kw + 1e-9) & (p < agents.p_max_kw - 1e-9)
    s_all, s_free = agents.slope, float(np.sum(1.0 / agents.a[free]))
    assert s_free < 0.9 * s_all
    r = price_iteration(agents, step=0.5 * (2 / s_all + 2 / s_free))
    assert r.price == pytest.approx(brentq_price(agents), rel=1e-5)
    with pytest.raises(ConvergenceError, match="diverges"):
        price_iteration(agents, step=1.1 * 2 / s_free)


# --------------------------------------------------------------------------- peer to peer


def test_p2p_two_agents_by_hand():
    # Fee c = 0.2 per kW, half paid by each side.  Seller: price = t + 0.1; buyer: price = (1 - t) - 0.1.
    # So t = 0.4 kW at price 0.5.  Costs 0.08 + (0.08 - 0.4) + fees 0.08: welfare 0.16, pool 0.25.
    c = [[0.0, 0.2], [0.2, 0.0]]
    for r in (p2p_bilateral(TWO, c, tol=1e-9), p2p_centralized(TWO, c)):
        assert isinstance(r, P2PResult)
        assert r.trades[0, 1] == pytest.approx(0.4, abs=1e-6) and r.trades[1, 0] == pytest.approx(-0.4, abs=1e-6)
        assert r.prices[0, 1] == pytest.approx(0.5, abs=1e-6) and np.isnan(r.prices[0, 0])
        assert r.welfare == pytest.approx(0.16, abs=1e-6)
        assert r.pool_welfare == pytest.approx(0.25, abs=1e-12)
        assert r.trading_cost_paid == pytest.approx(0.08, abs=1e-6)
    # A fee above the gap between the first kW's value and cost (1 - 0) stops trade.
    r = p2p_bilateral(TWO, [[0.0, 1.5], [1.5, 0.0]])
    assert r.n_trades == 0 and np.isnan(r.prices).all() and r.welfare == 0.0


@pytest.mark.parametrize("seed", [4, 5])
def test_p2p_without_fees_is_the_pool(seed):
    agents = random_community(8, seed=seed)
    pool = brentq_price(agents)
    r = p2p_bilateral(agents, rho=0.05)
    traded = np.isfinite(r.prices)
    assert traded.sum() > 0
    np.testing.assert_allclose(r.prices[traded], pool, rtol=1e-4)
    np.testing.assert_allclose(r.dispatch, response(agents, pool), atol=1e-3)
    np.testing.assert_allclose(r.trades, -r.trades.T)
    assert r.welfare == pytest.approx(centralized_dispatch(agents).welfare, abs=1e-6)
    central = p2p_centralized(agents)
    np.testing.assert_allclose(central.prices[np.isfinite(central.prices)], pool, rtol=1e-5)
    np.testing.assert_allclose(central.dispatch, response(agents, pool), atol=1e-5)


@pytest.mark.parametrize("seed", [6, 7])
def test_p2p_with_distance_fees_matches_cvxpy(seed):
    agents = random_community(10, seed=seed)
    rng = np.random.default_rng(seed)
    costs = distance_costs(rng.uniform(0.0, 5.0, (10, 2)), 0.01)
    r = p2p_bilateral(agents, costs, rho=0.02, tol=1e-6)
    ref = p2p_centralized(agents, costs)
    free = p2p_bilateral(agents, rho=0.02)
    assert r.welfare == pytest.approx(ref.welfare, abs=1e-5 * ref.demand_kw)
    np.testing.assert_allclose(r.dispatch, ref.dispatch, atol=1e-3)
    np.testing.assert_allclose(r.trades, ref.trades, atol=1e-3)
    both = np.isfinite(r.prices) & np.isfinite(ref.prices) & (np.abs(ref.trades) > 1e-2)
    np.testing.assert_allclose(r.prices[both], ref.prices[both], atol=1e-4)
    # Fees cost welfare and remove trades between far-apart agents.
    assert ref.welfare < ref.pool_welfare - 1e-3
    assert r.welfare_loss == pytest.approx(ref.pool_welfare - r.welfare)
    assert r.n_trades < free.n_trades
    # Bilateral price: seller's marginal cost plus half the fee, buyer's marginal value minus
    # half the fee (for agents inside their limits).
    inside = (r.dispatch > agents.p_min_kw + 1e-3) & (r.dispatch < agents.p_max_kw - 1e-3)
    mc = agents.a * r.dispatch + agents.b
    checked = 0
    for _, row in r.trades_frame().iterrows():
        i, j = int(row["seller"]), int(row["buyer"])
        if inside[i]:
            assert row["price"] == pytest.approx(mc[i] + costs[i, j] / 2, abs=1e-4)
            checked += 1
        if inside[j]:
            assert row["price"] == pytest.approx(mc[j] - costs[i, j] / 2, abs=1e-4)
            checked += 1
    assert checked >= 3


def test_distance_costs():
    c = distance_costs(pd.DataFrame({"x": [0.0, 3.0, 0.0], "y": [0.0, 4.0, 1.0]}), 2.0)
    np.testing.assert_allclose(c, [[0, 10, 2], [10, 0, 2 * np.sqrt(18)], [2, 2 * np.sqrt(18), 0]])


def test_random_community_is_a_realistic_feasible_mix():
    agents = random_community(1000, seed=0)
    assert np.all(agents.a > 0)
    sellers, buyers = agents.p_min_kw >= 0, agents.p_max_kw <= 0
    assert 0.3 < sellers.mean() < 0.5 and 0.3 < buyers.mean() < 0.5
    assert agents.p_min_kw.sum() <= 0 <= agents.p_max_kw.sum()
    p = response(agents, brentq_price(agents))
    at_limit = (p <= agents.p_min_kw + 1e-9) | (p >= agents.p_max_kw - 1e-9)
    assert 0.1 < at_limit.mean() < 0.9
    same = random_community(1000, seed=0)
    np.testing.assert_array_equal(same.b, agents.b)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(a=[1, 1], b=[0, 0, 0], p_min_kw=0, p_max_kw=1), r"same length: `a` has 2, `b` has 3"),
        (dict(a=[1, 0], b=0, p_min_kw=0, p_max_kw=1), r"`a` must be positive .*strictly convex.*; entry 1 is 0.0"),
        (dict(a=[1, -2], b=0, p_min_kw=0, p_max_kw=1), r"`a` must be positive .*; entry 1 is -2.0"),
        (dict(a=1, b=0, p_min_kw=[0, 2], p_max_kw=[1, 1]), r"`p_min_kw` must not exceed `p_max_kw`; entry 1 has"),
        (dict(a=1, b=[0, np.nan], p_min_kw=0, p_max_kw=1), r"`b` must contain finite numbers; entry 1 is nan"),
        (dict(a=1, b=0, p_min_kw=0, p_max_kw=[1, np.inf]), r"`p_max_kw` must contain finite numbers; entry 1 is inf"),
        (dict(a=[[1, 2]], b=0, p_min_kw=0, p_max_kw=1), r"`a` must be one-dimensional"),
        (dict(a=[], b=0, p_min_kw=0, p_max_kw=1), r"`a` is empty"),
    ],
)
def test_agent_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuadraticAgents(**kwargs)


def test_agent_type_errors():
    with pytest.raises(TypeError, match=r"`b` must be a number or a sequence of numbers, got the string"):
        QuadraticAgents(a=1, b="x", p_min_kw=0, p_max_kw=1)
    with pytest.raises(TypeError, match=r"`a` must contain only numbers"):
        QuadraticAgents(a=[1, "x"], b=0, p_min_kw=0, p_max_kw=1)
    with pytest.raises(TypeError, match=r"`a` must be one-dimensional; got a DataFrame"):
        QuadraticAgents(a=pd.DataFrame({"a": [1]}), b=0, p_min_kw=0, p_max_kw=1)
    with pytest.raises(TypeError, match=r"`agents` must be a QuadraticAgents"):
        centralized_dispatch([1, 2])
    with pytest.raises(ValueError, match=r"`n_agents` must be a positive integer; got 0"):
        random_community(0, seed=1)


SOLVERS = [
    centralized_dispatch,
    lambda ag: price_iteration(ag, step=0.1),
    lambda ag: admm(ag, rho=1.0),
    p2p_bilateral,
    p2p_centralized,
]


@pytest.mark.parametrize("solve", SOLVERS)
def test_infeasible_community_cannot_balance(solve):
    sellers_only = QuadraticAgents(a=[1, 1], b=[0, 0], p_min_kw=[0.5, 0.0], p_max_kw=[1, 1])
    with pytest.raises(ValueError, match=r"cannot balance: .*sum\(p_min_kw\) = 0.5 kW > 0"):
        solve(sellers_only)
    buyers_only = QuadraticAgents(a=[1, 1], b=[0, 0], p_min_kw=[-1, -1], p_max_kw=[-0.5, 0])
    with pytest.raises(ValueError, match=r"cannot balance: .*sum\(p_max_kw\) = -0.5 kW < 0"):
        solve(buyers_only)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: price_iteration(TWO, step=-0.1), ValueError, r"`step` must be a positive number; got -0.1"),
        (lambda: price_iteration(TWO, step=0.0), ValueError, r"`step` must be a positive number; got 0.0"),
        (lambda: price_iteration(TWO, step=np.nan), ValueError, r"`step` must be a positive number; got nan"),
        (lambda: price_iteration(TWO, step="big"), TypeError, r"`step` must be a positive number; got 'big'"),
        (lambda: price_iteration(TWO, step=0.1, tol=0), ValueError, r"`tol` must be a positive number"),
        (lambda: price_iteration(TWO, step=0.1, max_iter=0), ValueError, r"`max_iter` must be a positive integer"),
        (lambda: price_iteration(TWO, step=0.1, price0=np.nan), ValueError, r"`price0` must be a finite number"),
        (lambda: admm(TWO, rho=-1.0), ValueError, r"`rho` must be a positive number; got -1.0"),
        (lambda: admm(TWO, rho=1.0, price0=np.inf), ValueError, r"`price0` must be a finite number"),
        (lambda: p2p_bilateral(TWO, rho=0.0), ValueError, r"`rho` must be a positive number; got 0.0"),
        (lambda: p2p_bilateral(TWO, np.zeros((3, 3))), ValueError,
         r"`trading_cost` must be an N x N matrix with N = 2 agents; got shape \(3, 3\)"),
        (lambda: p2p_bilateral(TWO, [[0, -1], [1, 0]]), ValueError,
         r"`trading_cost` must be nonnegative; entry \(0, 1\) is -1.0"),
        (lambda: p2p_centralized(TWO, [[0, np.nan], [1, 0]]), ValueError,
         r"`trading_cost` must contain finite costs; entry \(0, 1\) is nan"),
        (lambda: p2p_bilateral(TWO, "cheap"), TypeError, r"`trading_cost` must be an N x N matrix of numbers"),
        (lambda: p2p_bilateral(TWO, [[0, "x"], [1, 0]]), TypeError, r"`trading_cost` must contain only numbers"),
        (lambda: p2p_bilateral(QuadraticAgents(1, 0, -1, 1)), ValueError, r"at least 2 agents"),
        (lambda: distance_costs([[0, 0, 0]], 1.0), ValueError, r"`positions` must be an \(N, 2\) array"),
        (lambda: distance_costs([[0, np.nan]], 1.0), ValueError, r"`positions` must contain finite coordinates"),
        (lambda: distance_costs([["a", 0]], 1.0), TypeError, r"`positions` must contain only numbers"),
        (lambda: distance_costs([[0, 0]], -1.0), ValueError, r"`cost_per_km` must be a nonnegative number"),
        (lambda: distance_costs([[0, 0]], "x"), TypeError, r"`cost_per_km` must be a number"),
    ],
)
def test_argument_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_solver_errors():
    with pytest.raises(ValueError, match=r"`solver` 'NO_SUCH_SOLVER' is not an installed cvxpy solver"):
        centralized_dispatch(TWO, solver="NO_SUCH_SOLVER")
    with pytest.raises(ValueError, match=r"`solver` 'NO_SUCH_SOLVER' is not an installed cvxpy solver"):
        p2p_centralized(TWO, solver="NO_SUCH_SOLVER")
    with pytest.raises(TypeError, match=r"`solver` must be a cvxpy solver name"):
        centralized_dispatch(TWO, solver=3)


def test_solver_without_solution(monkeypatch):
    # A solver that returns without a solution (status None): the status is reported in words.
    from te_course._validation import SolverError

    monkeypatch.setattr("te_course.coordination.cp.Problem.solve", lambda self, *args, **kwargs: None)
    with pytest.raises(SolverError, match=r"stopped on the dispatch QP with status None; try another `solver`\."):
        centralized_dispatch(TWO)
    with pytest.raises(SolverError, match=r"stopped on the P2P problem with status None; try another `solver`\."):
        p2p_centralized(TWO)
    with pytest.raises(SolverError, match=r"stopped on agent 0's problem with status None"):
        price_iteration(TWO, step=0.25, vectorised=False)


def test_per_agent_solver_failure(monkeypatch):
    import cvxpy as cp

    from te_course._validation import SolverError

    def fail(self, *args, **kwargs):
        raise cp.error.SolverError("boom")

    monkeypatch.setattr("te_course.coordination.cp.Problem.solve", fail)
    with pytest.raises(SolverError, match=r"The solver CLARABEL failed on agent 0's problem \(boom\)"):
        admm(TWO, rho=1.0, vectorised=False)


# --------------------------------------------------------------------------- extreme inputs (issue 14)

# "No limit" idioms: the two agents of TWO with limits of +-L.  The limits never bind, so the closed
# form of TWO holds: price 0.5, dispatch (0.5, -0.5), welfare 0.25, and without fees P2P is the pool.
NO_LIMITS = [1e16, 1e300, np.finfo(float).max]


@pytest.mark.parametrize("limit", NO_LIMITS)
def test_no_limit_idiom_keeps_the_closed_form(limit):
    wide_two = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[-limit, -limit], p_max_kw=[limit, limit])
    assert clearing_price(wide_two) == pytest.approx(0.5, abs=1e-12)
    central = centralized_dispatch(wide_two)
    assert central.price == pytest.approx(0.5, abs=1e-7) and central.welfare == pytest.approx(0.25, abs=1e-9)
    for r in (p2p_bilateral(wide_two, tol=1e-9), p2p_centralized(wide_two)):
        assert r.pool_welfare == pytest.approx(0.25, abs=1e-12)
        assert r.welfare == pytest.approx(0.25, abs=1e-9)
        assert r.welfare_loss == pytest.approx(0.0, abs=1e-9)
        np.testing.assert_allclose(r.dispatch, [0.5, -0.5], atol=1e-6)
        assert r.prices[0, 1] == pytest.approx(0.5, abs=1e-6)
    # with a fee of 0.2 the closed form of test_p2p_two_agents_by_hand: 0.4 kW at 0.5, welfare 0.16
    fee = [[0.0, 0.2], [0.2, 0.0]]
    for r in (p2p_bilateral(wide_two, fee, tol=1e-9), p2p_centralized(wide_two, fee)):
        assert r.trades[0, 1] == pytest.approx(0.4, abs=1e-6) and r.welfare == pytest.approx(0.16, abs=1e-6)
        assert r.welfare_loss == pytest.approx(0.09, abs=1e-6)


def test_no_limit_idiom_where_the_old_interpolations_lost_every_digit():
    # Costs p^2/2 - 5p, p^2/2 + p, p^2 + 3p: unconstrained, p_i = (price - b_i)/a_i balance at
    # price (sum b/a) / (sum 1/a) = -2.5 / 2.5 = -1, dispatch (4, -2, -2), welfare -(8 - 20 + 2 - 2 + 4 - 6) = 14.
    # (The ADMM agent step interpolated from the kink b + a p_min = -1e16 and returned welfare 12.1.)
    agents = QuadraticAgents(a=[1.0, 1.0, 2.0], b=[-5.0, 1.0, 3.0], p_min_kw=-1e16, p_max_kw=1e16)
    assert clearing_price(agents) == pytest.approx(-1.0, abs=1e-12)
    for r in (centralized_dispatch(agents), p2p_bilateral(agents, tol=1e-9), p2p_centralized(agents)):
        np.testing.assert_allclose(r.dispatch, [4.0, -2.0, -2.0], atol=1e-6)
        assert r.welfare == pytest.approx(14.0, abs=1e-6)
    assert p2p_bilateral(agents).pool_welfare == pytest.approx(14.0, abs=1e-12)


@pytest.mark.parametrize("seed", [6, 7])
def test_no_limit_idiom_matches_moderate_limits_that_do_not_bind(seed):
    # A random community whose nonzero limits are replaced by +-1e16, against the same community with
    # +-1e3 instead (which brentq shows do not bind, so both problems have the same solution).
    agents = random_community(10, seed=seed)
    lo, hi = agents.p_min_kw, agents.p_max_kw

    def limited(value):
        return QuadraticAgents(agents.a, agents.b, np.where(lo < 0, -value, lo), np.where(hi > 0, value, hi))

    big, moderate = limited(1e16), limited(1e3)
    pool = brentq_price(moderate)
    p_pool = response(moderate, pool)
    assert np.all(np.abs(p_pool) < 1e3 - 1)
    assert clearing_price(big) == pytest.approx(pool, abs=1e-12)
    assert centralized_dispatch(big).welfare == pytest.approx(-float(np.sum(moderate.cost(p_pool))), abs=1e-7)
    costs = distance_costs(np.random.default_rng(seed).uniform(0.0, 5.0, (10, 2)), 0.01)
    ref = p2p_centralized(moderate, costs)
    for r in (p2p_centralized(big, costs), p2p_bilateral(big, costs, rho=0.05, tol=1e-8)):
        assert r.pool_welfare == pytest.approx(-float(np.sum(moderate.cost(p_pool))), abs=1e-9)
        assert r.welfare == pytest.approx(ref.welfare, abs=1e-6)
        np.testing.assert_allclose(r.dispatch, ref.dispatch, atol=1e-4)


def test_distance_costs_of_huge_coordinates_are_exact_or_refused():
    # hypot, not sqrt(dx^2 + dy^2): (1e300, 1e300) is sqrt(2) 1e300 km from the origin, not inf
    np.testing.assert_allclose(distance_costs([[1e300, 1e300], [0.0, 0.0]], 1.0)[0, 1], np.sqrt(2) * 1e300)
    # a zero cost per km is zero for every finite distance (was 0 * inf = nan)
    assert np.array_equal(distance_costs([[1e200, 0.0], [0.0, 0.0]], 0.0), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"`positions` 0 and 1 are too far apart"):
        distance_costs([[1.7e308, 0.0], [-1.7e308, 0.0]], 1.0)
    with pytest.raises(ValueError, match=r"`cost_per_km` = 1e\+200 times the distance 1e\+200 km"):
        distance_costs([[1e200, 0.0], [0.0, 0.0]], 1e200)


def test_price0_and_seed_errors_name_the_argument():
    with pytest.raises(TypeError, match=r"`price0` must be a number; got None"):
        price_iteration(TWO, step=0.25, price0=None)
    with pytest.raises(TypeError, match=r"`price0` must be a number; got None"):
        admm(TWO, rho=1.0, price0=None)
    with pytest.raises(TypeError, match=r"`price0` must be a number; got 'low'"):
        price_iteration(TWO, step=0.25, price0="low")
    for seed, error in (("abc", TypeError), (-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match=r"`seed` must be None, a non-negative integer or a numpy Generator"):
            random_community(3, seed=seed)
    # a Generator is used as is: two calls continue one stream
    rng = np.random.default_rng(9)
    first, second = random_community(3, seed=rng), random_community(3, seed=rng)
    assert not np.array_equal(first.a, second.a)
    np.testing.assert_array_equal(random_community(3, seed=9).a, first.a)


def test_price_iteration_whose_price_leaves_the_float_range_says_it_diverges():
    # TWO at price 0 is short by 1 kW: the price jumps to 1e308, where both agents sell 2 kW, and the
    # next step leaves the float range (it used to carry on with a NaN price).
    with pytest.raises(ConvergenceError, match=r"diverges: the price left the float range after iteration 2"):
        price_iteration(TWO, step=1e308)


# --- issue 14: fuzz findings


def test_agent_methods_check_their_argument():
    agents = random_community(4, seed=1)
    for bad, error, match in [
        ("12, 10, 8", TypeError, r"`p_kw` must be a number or a sequence"),
        ([1 + 1j] * 4, TypeError, r"`p_kw` must contain real numbers"),
        ([0.0, 10**400, 0.0, 0.0], ValueError, r"`p_kw` holds a number too large for a float"),
        ([0.0, 1.0, 0.5], ValueError, r"`p_kw` must be a number or hold one injection per agent \(4\); got 3"),
        ([], ValueError, r"`p_kw` is empty"),
        ([[0.0], [0.0, 1.0]], (TypeError, ValueError), r"`p_kw` (is ragged|must contain only numbers)"),
        ([0.0, np.nan, 0.0, 0.0], ValueError, r"`p_kw` must contain finite injections; entry 1 is nan"),
        ([True, False, True, False], TypeError, r"`p_kw` must contain numbers, not booleans"),
    ]:
        for method in (agents.cost, agents.marginal_cost):
            with pytest.raises(error, match=match):
                method(bad)
    # a cost beyond the floats (was inf): 0.5 * 0.05 * (1e160)^2
    with pytest.raises(ValueError, match=r"`p_kw` is too large: agent 0's cost overflows"):
        agents.cost([1e160, 0.0, 0.0, 0.0])
    for bad, error in ((np.nan, ValueError), (10**400, ValueError), (1 + 1j, TypeError), ("0.2", TypeError)):
        with pytest.raises(error, match=r"`price`"):
            agents.best_response(bad)
    # one number, or one per agent: the closed form of TWO (p = price - b), by hand
    np.testing.assert_allclose(TWO.cost([0.5, -0.5]), [0.125, -0.375])
    np.testing.assert_allclose(TWO.cost(1.0), [0.5, 1.5])
    np.testing.assert_allclose(TWO.marginal_cost([0.5, -0.5]), [0.5, 0.5])
    np.testing.assert_allclose(TWO.best_response([0.5, 1.5]), [0.5, 0.0])
    np.testing.assert_array_equal(TWO.best_response(np.inf), TWO.p_max_kw)  # the limits, as before
    np.testing.assert_array_equal(TWO.best_response(-np.inf), TWO.p_min_kw)
    # p (a p / 2 + b), not a p^2 / 2: finite where p^2 overflows, 1e-20 * 1e310 / 2 = 5e289
    tiny = QuadraticAgents(a=1e-20, b=0.0, p_min_kw=-1e200, p_max_kw=1e200)
    assert tiny.cost(1e155)[0] == pytest.approx(5e289)


def test_random_community_size_is_capped():
    for n in (10**12, 10**400):
        with pytest.raises(ValueError, match=r"`n_agents` must be at most 1,000,000 agents"):
            random_community(n, seed=1)
    with pytest.raises(ValueError, match=r"`n_agents` must be a positive integer; got an integer of about -1e400"):
        random_community(-(10**400), seed=1)


def test_distance_costs_of_ints_beyond_the_floats_name_the_argument():
    with pytest.raises(ValueError, match=r"`positions` holds a number too large for a float"):
        distance_costs([[0, 10**400], [0, 0]], 1.0)
    with pytest.raises(ValueError, match=r"`cost_per_km` is too large for a float"):
        distance_costs([[0, 0], [3, 4]], 10**400)
    with pytest.raises(TypeError, match=r"`positions` must contain real numbers"):
        distance_costs([[0, 1j], [0, 0]], 1.0)


def test_tol_of_one_or_more_is_refused():
    # tol = 2180 accepted the first price, whose imbalance was 5.7 kW
    agents = random_community(4, seed=1)
    for call in (
        lambda: price_iteration(agents, step=0.014, tol=2180),
        lambda: admm(agents, rho=1.0, tol=1.0),
        lambda: p2p_bilateral(agents, tol=1e300),
    ):
        with pytest.raises(ValueError, match=r"`tol` is a fraction of the total demand and must lie below 1"):
            call()


def test_trading_costs_beyond_the_documented_maximum_are_refused():
    # a fee of 1e12 on every pair made Clarabel fail ("could not be solved; try another `solver`")
    agents = random_community(4, seed=1)
    for solve in (p2p_centralized, p2p_bilateral):
        with pytest.raises(ValueError, match=r"`trading_cost` entry \(0, 1\) is 1e\+12; .* at most 1e\+06"):
            solve(agents, np.full((4, 4), 1e12))
        with pytest.raises(ValueError, match=r"`trading_cost` holds a number too large for a float"):
            solve(agents, [[0, 10**400, 0, 0]] + [[0, 0, 0, 0]] * 3)
    # the largest fee forbids every trade: each agent alone must inject 0, welfare 0
    big = np.full((4, 4), 1e6)
    for r in (p2p_centralized(agents, big), p2p_bilateral(agents, big)):
        np.testing.assert_allclose(r.dispatch, 0.0, atol=1e-6)
        assert r.welfare == pytest.approx(0.0, abs=1e-6)
    matrix = np.full((4, 4), 0.01)
    p2p_centralized(agents, matrix)
    assert (matrix == 0.01).all()  # the diagonal is zeroed in a copy


@pytest.mark.parametrize("solve", [admm, p2p_bilateral])
def test_a_huge_rho_does_not_converge_to_a_wrong_dispatch(solve):
    # rho = 1e9 moved the dispatch by so little per iteration that the residual tests passed after a
    # few iterations, kW away from the optimum; the stopping rules now also test the optimality
    # conditions (ADMM) and the dual residual against the prices (P2P).
    agents = random_community(6, seed=3)
    with pytest.raises(ConvergenceError, match=r"`rho`"):
        solve(agents, rho=1e9, max_iter=2000)
    reference = (centralized_dispatch if solve is admm else p2p_centralized)(agents)
    np.testing.assert_allclose(solve(agents, rho=1.0).dispatch, reference.dispatch, atol=1e-4)


def test_p2p_solver_failure_names_the_arguments(monkeypatch):
    import cvxpy as cp

    def fail(self, *args, **kwargs):
        raise cp.error.SolverError("boom")

    monkeypatch.setattr("te_course.coordination.cp.Problem.solve", fail)
    with pytest.raises(TeCourseError, match=r"failed on the P2P problem \(boom\).* Check that `trading_cost` and"):
        p2p_centralized(TWO)


# --------------------------------------------------------------------------- issue 17: deprecated forms


def test_converged_is_deprecated_and_always_true():
    """Non-convergence raises ConvergenceError, so ``converged`` was always True: it now warns."""
    results = [centralized_dispatch(TWO), price_iteration(TWO, step=0.25), admm(TWO, rho=1.0), p2p_bilateral(TWO),
               p2p_centralized(TWO)]
    for r in results:
        with pytest.warns(DeprecationWarning, match=r"converged is always True"):
            assert r.converged is True
        assert "converged" not in {f.name for f in dataclasses.fields(r)}


def test_random_community_old_keyword_n_warns_and_draws_the_same_community():
    with pytest.warns(DeprecationWarning, match=r"`n` is now called `n_agents`"):
        old = random_community(n=12, seed=4)
    new = random_community(n_agents=12, seed=4)
    for name in ("a", "b", "p_min_kw", "p_max_kw"):
        np.testing.assert_array_equal(getattr(old, name), getattr(new, name))
    assert old.n == 12
