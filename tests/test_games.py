"""Tests of te_course.games against hand-worked cases, brute force and scipy.

References written here, not taken from the package:

- the issue's numbers for P = 100 - Q with marginal cost 10 (monopoly, symmetric and
  asymmetric duopoly), worked by hand in the comments;
- the Cournot equilibrium as the maximiser of the Monderer-Shapley potential, solved with
  scipy's bounded least squares (``lsq_linear``, BVLS) after a Cholesky factorisation;
- every firm's best response checked by a grid search of its own profit;
- Theocharis's stability result from the eigenvalues of the Jacobi map, -(n - 1)/2;
- pure Nash equilibria by an explicit double loop over deviations;
- the withholding optimum against a fine grid of offers, the deadweight triangle by hand.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear

import te_course as tc
from te_course import ConvergenceError
from te_course.games import (
    DynamicsResult,
    best_response_dynamics,
    competition_curve,
    cournot_best_responses,
    cournot_equilibrium,
    dlmp_withholding,
    matrix_best_responses,
    pure_nash_equilibria,
    two_zone_outcome,
    withholding,
)

PENNIES = np.array([[1, -1], [-1, 1]])  # the row player wants to match, the column player not


# --------------------------------------------------------------------------- independent references


def potential_maximiser(a, b, c, k):
    """argmax of Phi(q) = (a - c).q - (b/2)(sum q)^2 - (b/2)|q|^2 on 0 <= q <= k, by bounded least squares."""
    c, k = np.asarray(c, float), np.asarray(k, float)
    out = np.zeros(c.size)
    free = k > 0  # a firm without capacity sells nothing (lsq_linear wants lower < upper bounds)
    n = int(free.sum())
    if n == 0:
        return out
    hess = b * (np.eye(n) + np.ones((n, n)))  # Phi = (a - c).q - q.H.q / 2
    r = np.linalg.cholesky(hess).T  # H = R^T R
    target = np.linalg.solve(r.T, a - c[free])  # q.H.q/2 - (a-c).q = |R q - target|^2 / 2 + const
    sol = lsq_linear(r, target, bounds=(np.zeros(n), k[free]), method="bvls", tol=1e-14)
    out[free] = sol.x
    return out


def profit_on_grid(a, b, c_i, k_i, others, n=20001):
    """Firm i's best quantity against the others' total, by grid search."""
    top = min(k_i, max(a / b, 1e-9))
    grid = np.linspace(0.0, top, n)
    profit = (a - b * (others + grid) - c_i) * grid
    return grid[np.argmax(profit)], profit.max(), grid[1] - grid[0]


def brute_pure_nash(A, B):
    """Every cell from which neither player has a strictly profitable deviation, by explicit loops."""
    m, n = len(A), len(A[0])
    found = []
    for i in range(m):
        for j in range(n):
            row_ok = all(A[i][j] >= A[i2][j] for i2 in range(m))
            col_ok = all(B[i][j] >= B[i][j2] for j2 in range(n))
            if row_ok and col_ok:
                found.append((i, j))
    return found


# --------------------------------------------------------------------------- the numbers


def test_monopoly_of_p_100_minus_q_with_cost_10():
    # max (100 - q - 10) q: q = 45, P = 55, L = (55 - 10) / 55 = 9/11
    r = cournot_equilibrium(100, 1, [10])
    assert r.quantities.tolist() == [45.0] and r.price == 55.0
    assert r.lerner[0] == pytest.approx(9 / 11) and r.hhi == 10_000.0
    assert r.profits[0] == pytest.approx(45 * 45) and r.shares.tolist() == [1.0]
    # monopoly: L = -1/eps with eps = -P / (a - P) = -55/45
    assert r.elasticity == pytest.approx(-55 / 45)
    assert r.lerner[0] == pytest.approx(-1 / r.elasticity)


def test_symmetric_duopoly():
    # q_i = (a - c) / (3b) = 30, P = 100 - 60 = 40, L = 30/40 = 0.75
    r = cournot_equilibrium(100, 1, [10, 10])
    assert r.quantities == pytest.approx([30, 30]) and r.price == pytest.approx(40)
    assert r.lerner == pytest.approx([0.75, 0.75]) and r.hhi == pytest.approx(5000)
    assert r.consumer_surplus == pytest.approx(60 * 60 / 2) and r.welfare == pytest.approx(1800 + 2 * 900)


def test_asymmetric_duopoly_and_lerner_equals_share_over_elasticity():
    # q_1 = (100 - 3*10 + 30)/3 = 100/3, q_2 = (100 - 3*20 + 30)/3 = 70/3, P = 100 - 170/3 = 130/3
    r = cournot_equilibrium(100, 1, [10, 20])
    assert r.quantities == pytest.approx([100 / 3, 70 / 3], rel=1e-12)
    assert r.price == pytest.approx(130 / 3, rel=1e-12)
    # eps = -P / (a - P) = -(130/3) / (170/3) = -13/17; shares (10/17, 7/17); L_i = s_i / |eps| = (10/13, 7/13)
    assert r.elasticity == pytest.approx(-13 / 17)
    assert r.shares == pytest.approx([10 / 17, 7 / 17])
    assert r.lerner == pytest.approx([10 / 13, 7 / 13])
    assert r.lerner == pytest.approx(r.shares / abs(r.elasticity))
    assert r.lerner == pytest.approx(tc.lerner_cournot(r.shares, r.elasticity))


def test_a_firm_priced_out_and_a_firm_at_capacity():
    # costs 10, 20, 95: with the first two, P = 130/3 < 95, so the third stays out
    r = cournot_equilibrium(100, 1, [10, 20, 95])
    assert r.quantities == pytest.approx([100 / 3, 70 / 3, 0]) and r.active.tolist() == [True, True, False]
    assert r.lerner[2] < 0 and r.shares[2] == 0
    # capacity 20 on firm 0 (cost 10): firm 1 plays against 100 - 20 - q: q_1 = (80 - 10) / 2 = 35, P = 45
    r = cournot_equilibrium(100, 1, [10, 10], capacities_kw=[20, np.inf])
    assert r.quantities == pytest.approx([20, 35]) and r.price == pytest.approx(45)
    assert r.at_capacity.tolist() == [True, False]
    # at capacity the mark-up exceeds s_i / |eps|: L_0 = 35/45, s_0 / |eps| = (20/55) / (45/55) = 20/45
    assert r.lerner[0] == pytest.approx(35 / 45) and r.lerner[0] > r.shares[0] / abs(r.elasticity)
    # a scalar capacity applies to everyone; zero capacity means no output
    assert cournot_equilibrium(100, 1, [10, 20], capacities_kw=5).quantities.tolist() == [5.0, 5.0]
    assert cournot_equilibrium(100, 1, [10, 20], capacities_kw=0).total == 0.0


def test_nothing_sold_when_every_cost_is_above_the_intercept():
    r = cournot_equilibrium(50, 2, [60, 70])
    assert r.total == 0 and r.price == 50 and np.isnan(r.hhi) and np.isnan(r.shares).all()
    assert r.elasticity == -math.inf and not r.active.any()


def test_to_frame_has_one_row_per_firm():
    frame = cournot_equilibrium(100, 1, [10, 20, 95]).to_frame()
    assert list(frame.index) == [0, 1, 2] and frame.index.name == "firm"
    assert frame.loc[2, "quantity"] == 0 and frame["share"].sum() == pytest.approx(1)


# --------------------------------------------------------------------------- against the potential


cournot_cases = st.integers(1, 7).flatmap(
    lambda n: st.tuples(
        st.floats(10, 200),
        st.floats(0.1, 5),
        st.lists(st.floats(0, 150), min_size=n, max_size=n),
        st.lists(st.one_of(st.just(math.inf), st.just(0.0), st.floats(0.01, 40)), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(cournot_cases)
def test_equilibrium_maximises_the_potential(case):
    a, b, c, k = case
    r = cournot_equilibrium(a, b, c, capacities_kw=k)
    expected = potential_maximiser(a, b, c, k)
    assert r.quantities == pytest.approx(expected, abs=1e-7 * (1 + a / b))


@settings(max_examples=60, deadline=None)
@given(cournot_cases)
def test_no_firm_gains_by_deviating_on_a_grid(case):
    a, b, c, k = case
    r = cournot_equilibrium(a, b, c, capacities_kw=k)
    for i in range(r.n_firms):
        others = r.total - r.quantities[i]
        q_best, best_profit, step = profit_on_grid(a, b, c[i], k[i], others)
        assert abs(q_best - r.quantities[i]) <= step + 1e-9
        assert r.profits[i] >= best_profit - 1e-9 * (1 + abs(best_profit))


def test_closed_form_for_n_active_firms():
    # q_i = (a - (n+1) c_i + sum c) / (b (n+1)) when every firm is active
    a, b, c = 120.0, 0.5, np.array([10.0, 12.0, 15.0, 20.0])
    n = c.size
    expected = (a - (n + 1) * c + c.sum()) / (b * (n + 1))
    r = cournot_equilibrium(a, b, c)
    assert r.quantities == pytest.approx(expected) and r.price == pytest.approx((a + c.sum()) / (n + 1))


# --------------------------------------------------------------------------- best-response dynamics


def test_best_response_functions_follow_the_formula():
    br = cournot_best_responses(100, 1, [10, 10], capacities_kw=[25, np.inf])
    assert br[0]([0, 30]) == 25  # (90 - 30)/2 = 30, capped at 25
    assert br[1]([30, 0]) == 30  # (90 - 30)/2
    assert br[1]([100, 0]) == 0  # negative, clipped
    raw = cournot_best_responses(100, 1, [10, 10], nonnegative=False)
    assert raw[1]([100, 0]) == -5  # (90 - 100)/2
    assert "firm 0" in repr(br[0])


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.floats(20, 200), st.floats(0.2, 3), st.data())
def test_sequential_best_responses_converge_to_the_equilibrium(n, a, b, data):
    c = data.draw(st.lists(st.floats(0, a / 2), min_size=n, max_size=n))
    r = play(cournot_best_responses(a, b, c), [0.0] * n, tol=1e-11, max_iter=20_000)
    assert r.status == "converged" and r.converged
    assert r.strategies == pytest.approx(potential_maximiser(a, b, c, [np.inf] * n), abs=1e-7 * a / b)


def play(*args, **kwargs) -> SimpleNamespace:
    """Run best_response_dynamics; read a run that does not settle off the ConvergenceError it raises.

    Returns what the run did: status ("converged", or the error's reason), cycle_length, iterations, history
    and the last strategies, so that the tests below check every outcome the same way.
    """
    try:
        r = best_response_dynamics(*args, **kwargs)
    except ConvergenceError as err:
        assert err.reason in ("cycle", "diverged", "max_iter") and err.iterations == len(err.history) - 1
        assert (err.cycle_length is not None) == (err.reason == "cycle")
        last = err.history.iloc[-1, :-1].to_numpy()
        return SimpleNamespace(status=err.reason, converged=False, cycle_length=err.cycle_length,
                               iterations=err.iterations, history=err.history, strategies=last)
    assert isinstance(r, DynamicsResult) and r.iterations == len(r.history) - 1
    return SimpleNamespace(status="converged", converged=True, cycle_length=None, iterations=r.iterations,
                           history=r.history, strategies=r.strategies)


def test_non_convergence_raises_convergence_error_with_the_rounds_played():
    # three identical firms, simultaneous: 0 -> 45 -> 0 (Theocharis), a 2-cycle
    with pytest.raises(ConvergenceError, match=r"\(simultaneous\) cycle: a profile comes back every 2 rounds") as info:
        best_response_dynamics(cournot_best_responses(100, 1, [10, 10, 10]), [0, 0, 0], order="simultaneous")
    err = info.value
    assert isinstance(err, tc.TeCourseError) and isinstance(err, ValueError)
    assert (err.reason, err.cycle_length, err.iterations) == ("cycle", 2, 2)
    assert err.history["player 0"].tolist() == [0.0, 45.0, 0.0]
    with pytest.raises(ConvergenceError, match=r"diverged in round 4: .*`bounds`") as info:
        best_response_dynamics([lambda p: p[0] + 1], [0.0], bounds=(0, 3.5))
    assert (info.value.reason, info.value.cycle_length, info.value.iterations) == ("diverged", None, 4)
    with pytest.raises(ConvergenceError, match=r"did not settle within max_iter = 5 rounds .*changed a strategy by 1"):
        best_response_dynamics([lambda p: p[0] + 1], [0.0], max_iter=5)


def test_dynamics_result_has_no_status_fields_but_the_old_names_warn():
    import dataclasses

    r = best_response_dynamics(cournot_best_responses(100, 1, [10, 10]), [0.0, 0.0])
    assert [f.name for f in dataclasses.fields(r)] == ["strategies", "history", "iterations", "order"]
    for name, value in (("converged", True), ("status", "converged"), ("cycle_length", None)):
        with pytest.warns(DeprecationWarning, match=rf"DynamicsResult.{name} is always"):
            assert getattr(r, name) == value


def test_old_capacities_keyword_and_field_warn_and_give_the_same_result():
    new = cournot_equilibrium(100, 1, [10, 10], capacities_kw=[20, np.inf])
    with pytest.warns(DeprecationWarning, match=r"`capacities` is now called `capacities_kw`"):
        old = cournot_equilibrium(100, 1, [10, 10], capacities=[20, np.inf])
    assert old.quantities.tolist() == new.quantities.tolist() == [20.0, 35.0]  # 35 = (100 - 20 - 10) / 2
    with pytest.warns(DeprecationWarning, match=r"CournotResult.capacities is now called capacities_kw"):
        assert old.capacities.tolist() == new.capacities_kw.tolist() == [20.0, np.inf]
    with pytest.warns(DeprecationWarning, match=r"`capacities` is now called `capacities_kw`"):
        br_old = cournot_best_responses(100, 1, [10, 10], capacities=[25, np.inf])
    br_new = cournot_best_responses(100, 1, [10, 10], capacities_kw=[25, np.inf])
    assert br_old[0]([0.0, 0.0]) == br_new[0]([0.0, 0.0]) == 25.0  # 45 clipped to 25
    with pytest.raises(TypeError, match=r"got both `capacities` and `capacities_kw`"):
        cournot_equilibrium(100, 1, [10], capacities=1, capacities_kw=1)


def test_positional_withholding_warns_and_gives_the_same_result():
    new = withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    with pytest.warns(DeprecationWarning, match=r"withholding\(\): pass intercept=\.\.\., slope=\.\.\."):
        old = withholding(100, 1, 40, 10, 60, price_import=20)
    assert (old.offer_kw, old.profit, old.welfare_loss) == (new.offer_kw, new.profit, new.welfare_loss) == (
        25.0, 625.0, 462.5)  # q* = (100 - 40 - 10) / 2, profit 25 x 25, by hand in the notebook
    assert old.curve.equals(new.curve)
    with pytest.warns(DeprecationWarning):
        partly = withholding(100, 1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    assert partly.offer_kw == 25.0
    with pytest.raises(TypeError):
        withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, price_import=20)  # no capacity_kw


def test_theocharis_eigenvalues_explain_the_simultaneous_dynamics():
    # Jacobi map q -> (a - c - b (S - q_i)) / (2b): linear part -(J - I)/2, eigenvalues -(n-1)/2 and 1/2
    for n in (2, 3, 4):
        m = -(np.ones((n, n)) - np.eye(n)) / 2
        assert np.min(np.linalg.eigvals(m).real) == pytest.approx(-(n - 1) / 2)


def test_simultaneous_duopoly_converges():
    r = play(cournot_best_responses(100, 1, [10, 10]), [0.0, 7.0], order="simultaneous")
    assert r.status == "converged" and r.strategies == pytest.approx([30, 30], abs=1e-8)


def test_three_identical_firms_oscillate_forever():
    # from 0: each answers 45 (= 90/2), then (90 - 90)/2 = 0, and so on
    r = play(cournot_best_responses(100, 1, [10, 10, 10]), [0, 0, 0], order="simultaneous")
    assert r.status == "cycle" and r.cycle_length == 2 and not r.converged
    assert r.history.iloc[:3, :3].to_numpy().tolist() == [[0, 0, 0], [45, 45, 45], [0, 0, 0]]
    # from an asymmetric start the asymmetric part dies out (eigenvalue 1/2) and the mean keeps flipping
    # around 22.5 (eigenvalue -1): the mean of (1, 10, 20) is 31/3, so the cycle is 22.5 -/+ (22.5 - 31/3)
    r = play(cournot_best_responses(100, 1, [10, 10, 10]), [1.0, 10.0, 20.0], order="simultaneous")
    assert r.status == "cycle" and r.cycle_length == 2
    assert sorted({round(float(v), 6) for v in r.history.iloc[-2:, 0]}) == sorted(
        {round(22.5 - (22.5 - 31 / 3), 6), round(22.5 + (22.5 - 31 / 3), 6)}
    )


def test_four_firms_diverge_unless_clipped_then_cycle():
    br = cournot_best_responses(100, 1, [10] * 4, nonnegative=False)
    r = play(br, [0.0] * 4, order="simultaneous")
    assert r.status == "diverged" and not r.converged and r.cycle_length is None
    # the deviation from 18 grows by 3/2 per round
    dev = np.abs(r.history["player 0"].to_numpy()[:8] - 18)
    assert dev[1:] / dev[:-1] == pytest.approx([1.5] * 7)
    clipped = play(cournot_best_responses(100, 1, [10] * 4), [0.0] * 4, order="simultaneous")
    # 0 -> 45 (= 90/2) -> (90 - 135)/2 < 0, clipped to 0 -> 45 ...
    assert clipped.status == "cycle" and clipped.cycle_length == 2
    assert clipped.history["player 0"].tolist()[:3] == [0, 45, 0]
    sequential = play(cournot_best_responses(100, 1, [10] * 4), [0.0] * 4)
    assert sequential.converged and sequential.strategies == pytest.approx([18] * 4, abs=1e-8)


def test_clipped_simultaneous_best_responses_alternate_between_zero_and_monopoly_in_phase():
    # n >= 4 identical firms, P = 100 - Q, cost 10: from any start the clipped Jacobi map ends in the 2-cycle
    # "all at 0" <-> "all at the monopoly quantity (a - c) / (2b) = 45" (45 (n - 1) >= 90 pushes every answer to 0)
    rng = np.random.default_rng(5)
    for n in (4, 5, 6):
        for _ in range(20):
            start = list(rng.uniform(0, 60, n))
            r = play(cournot_best_responses(100, 1, [10] * n), start, order="simultaneous",
                                       max_iter=500)
            assert r.status == "cycle" and r.cycle_length == 2
            last = r.history.iloc[-2:, :n].to_numpy()
            assert np.all(last == last[:, :1])  # every firm in phase
            assert sorted(last[:, 0].tolist()) == pytest.approx([0.0, 45.0])


def test_matching_pennies_cycles_through_all_four_cells():
    # simultaneous, from (0, 0): col switches -> (0, 1); row switches -> (1, 1); col -> (1, 0); row -> (0, 0)
    r = play(matrix_best_responses(PENNIES, -PENNIES), [0, 0], order="simultaneous")
    assert r.status == "cycle" and r.cycle_length == 4
    cells = [tuple(int(v) for v in row) for row in r.history.iloc[:5, :2].to_numpy()]
    assert cells == [(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)]
    # sequentially a round is two moves, so the same four cells take two rounds
    s = play(matrix_best_responses(PENNIES, -PENNIES), [0, 0])
    assert s.status == "cycle" and s.cycle_length == 2


def test_stop_at_cycle_false_plays_on_for_several_periods():
    br = cournot_best_responses(100, 1, [10, 10, 10])
    r = play(br, [5.0] * 3, order="simultaneous", max_iter=12, stop_at_cycle=False)
    # 5 each -> (90 - 10)/2 = 40 each -> (90 - 80)/2 = 5 each -> ...
    assert r.status == "cycle" and r.cycle_length == 2 and r.iterations == 12
    assert r.history["player 0"].tolist() == [5.0, 40.0] * 6 + [5.0]
    pennies = play(matrix_best_responses(PENNIES, -PENNIES), [0, 0], order="simultaneous",
                                     max_iter=9, stop_at_cycle=False)
    assert pennies.cycle_length == 4 and len(pennies.history) == 10

    def col(profile):
        return "T" if profile[0] == "H" else "H"

    labels = play([lambda p: p[1], col], ["H", "H"], order="simultaneous", max_iter=9,
                                    stop_at_cycle=False)
    assert labels.status == "cycle" and labels.cycle_length == 4 and labels.iterations == 9
    assert labels.history["player 0"].tolist() == ["H", "H", "T", "T"] * 2 + ["H", "H"]


def test_labels_as_strategies_are_compared_exactly():
    def row(profile):
        return profile[1]  # match

    def col(profile):
        return "T" if profile[0] == "H" else "H"  # mismatch

    r = play([row, col], ["H", "H"], order="simultaneous", names=["row", "column"])
    assert r.status == "cycle" and r.cycle_length == 4 and list(r.history.columns) == ["row", "column", "change"]
    assert r.strategies.tolist() == ["H", "H"] and r.history["change"].iloc[1] == 1

    def stay(profile):
        return profile[0]

    assert play([stay], ["x"]).status == "converged"
    unhashable = play([lambda p: [1] if p[0] == [0] else [0]], [[0]], order="simultaneous")
    assert unhashable.status == "cycle" and unhashable.cycle_length == 2


def test_damped_oscillation_is_not_mistaken_for_a_cycle():
    # x -> -0.9 x converges to 0, though x_t and x_{t-2} get close long before x_t and x_{t-1}
    r = play([lambda p: -0.9 * p[0]], [1.0], tol=1e-9, max_iter=10_000)
    assert r.status == "converged" and abs(r.strategies[0]) < 1e-8
    assert play([lambda p: -p[0]], [1.0]).cycle_length == 2  # a true 2-cycle


def test_three_cycle_divergence_bounds_and_max_iter():
    r = play([lambda p: (int(p[0]) + 1) % 3], [0])
    assert r.status == "cycle" and r.cycle_length == 3 and r.iterations == 3
    r = play([lambda p: 2 * p[0] + 1], [0.0])
    assert r.status == "diverged" and np.abs(r.strategies).max() > 1e12
    r = play([lambda p: p[0] + 1], [0.0], bounds=(0, 3.5))
    assert r.status == "diverged" and r.iterations == 4
    r = play([lambda p: p[0] + 1], [0.0], max_iter=5)
    assert r.status == "max_iter" and r.iterations == 5 and len(r.history) == 6
    r = play([lambda p: math.nan], [0.0])
    assert r.status == "diverged" and r.iterations == 1
    settled = best_response_dynamics([lambda p: 1.0], [0.0])
    assert settled.to_frame() is settled.history and settled.history.index.name == "round"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"best_responses": lambda p: 0}, TypeError, "list of callables"),
        ({"best_responses": []}, ValueError, "is empty"),
        ({"best_responses": [1]}, TypeError, "entry 0 must be callable"),
        ({"initial": "ab"}, TypeError, "`initial` must be a sequence"),
        ({"initial": [0.0, 0.0, 0.0]}, ValueError, "3 strategies and `best_responses` 2"),
        ({"order": "random"}, ValueError, "`order` must be"),
        ({"max_iter": 0}, ValueError, "`max_iter` must be a positive integer"),
        ({"tol": -1}, ValueError, "`tol` must be a positive number"),
        ({"names": ["a", "a"]}, ValueError, "`names` must hold 2 different names"),
        ({"initial": [0.0, math.nan]}, ValueError, "`initial` must contain finite strategies"),
        ({"initial": [5.0, 0.0], "bounds": (0, 1)}, ValueError, "entry 0 .* outside `bounds`"),
        ({"bounds": (1, 0)}, ValueError, "lo < hi"),
        ({"bounds": "ab"}, TypeError, "pair of numbers"),
        ({"initial": ["H", "T"], "bounds": (0, 1)}, ValueError, "numeric strategies only"),
    ],
)
def test_best_response_dynamics_rejects_bad_input(kwargs, error, match):
    args = {"best_responses": cournot_best_responses(100, 1, [10, 10]), "initial": [0.0, 0.0], **kwargs}
    with pytest.raises(error, match=match):
        best_response_dynamics(args.pop("best_responses"), args.pop("initial"), **args)


def test_a_best_response_that_returns_no_number_is_reported():
    with pytest.raises(TypeError, match="best response 0 returned 'x'"):
        best_response_dynamics([lambda p: "x"], [0.0])


# --------------------------------------------------------------------------- finite games


def test_known_games():
    pd_row = np.array([[-1, -3], [0, -2]])  # prisoner's dilemma: defect (1) dominates
    assert pure_nash_equilibria(pd_row, pd_row.T) == [(1, 1)]
    sexes_row, sexes_col = [[2, 0], [0, 1]], [[1, 0], [0, 2]]
    assert pure_nash_equilibria(sexes_row, sexes_col) == [(0, 0), (1, 1)]
    assert pure_nash_equilibria(PENNIES, -PENNIES) == []
    assert pure_nash_equilibria(np.zeros((2, 3)), np.zeros((2, 3))) == [(i, j) for i in range(2) for j in range(3)]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_pure_nash_equilibria_match_brute_force(m, n, data):
    cells = st.lists(st.lists(st.integers(-3, 3), min_size=n, max_size=n), min_size=m, max_size=m)
    A, B = data.draw(cells), data.draw(cells)
    assert pure_nash_equilibria(A, B) == brute_pure_nash(A, B)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_best_responses_that_settle_settle_on_a_pure_equilibrium(data):
    cells = st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=3, max_size=3)
    A, B = data.draw(cells), data.draw(cells)
    r = play(matrix_best_responses(A, B), [0, 0], max_iter=50)
    if r.converged:
        assert tuple(int(v) for v in r.strategies) in brute_pure_nash(A, B)
    else:
        assert r.status == "cycle"  # a finite game has finitely many profiles


@pytest.mark.parametrize(
    ("row", "col", "error", "match"),
    [
        ([[1, 2]], [[1, 2], [3, 4]], ValueError, r"shape \(1, 2\) and `payoff_col` \(2, 2\)"),
        ([1, 2], [1, 2], ValueError, "non-empty 2-D matrix"),
        ([["a"]], [[1]], TypeError, "matrix of numbers"),
        ([[np.nan]], [[1]], ValueError, "finite payoffs"),
    ],
)
def test_pure_nash_equilibria_rejects_bad_matrices(row, col, error, match):
    with pytest.raises(error, match=match):
        pure_nash_equilibria(row, col)


# --------------------------------------------------------------------------- withholding, two zones


def test_withholding_worked_example():
    # P = 100 - D, F = 40, p0 = 20 (D0 = 80), c = 10, K = 60.
    # Congested while q < 80 - 40 = 40: profit (100 - 40 - q - 10) q, best at q* = 25: P = 35, profit 625.
    # Offering 60: uncongested, P = 20, profit 600.  Welfare a D - b D^2/2 - c q - p0 m:
    #   q = 25: D = 65, m = 40: 6500 - 2112.5 - 250 - 800 = 3337.5
    #   q = 60: D = 80, m = 20: 8000 - 3200 - 600 - 400 = 3800
    # Deadweight triangle (35 - 20)(80 - 65)/2 = 112.5, plus (p0 - c)(K - q*) = 10 * 35 = 350.
    w = withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    assert (w.offer_kw, w.price, w.profit) == (25, 35, 625)
    assert (w.full_price, w.full_profit) == (20, 600)
    assert w.welfare == pytest.approx(3337.5) and w.full_welfare == pytest.approx(3800)
    assert w.welfare_loss == pytest.approx(462.5) and w.deadweight_loss == pytest.approx(112.5)
    assert w.profit_gain == pytest.approx(25) and w.withheld_kw == 35 and w.congested
    frame = w.to_frame()
    assert frame.loc["profit-maximising offer", "offer_kw"] == 25 and frame.loc["full offer", "price"] == 20


def test_no_withholding_when_the_line_never_congests_or_capacity_is_small():
    # F = 100 >= D0 = 80: the price is always 20, profit 10 q rises with q: offer all 60
    w = withholding(intercept=100, slope=1, line_kw=100, marginal_cost=10, capacity_kw=60, price_import=20)
    assert w.offer_kw == 60 and w.withheld_kw == 0 and w.welfare_loss == 0 and not w.congested
    # K = 20 < q* = 25: the line stays congested, profit rises up to K
    w = withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=20, price_import=20)
    assert w.offer_kw == 20 and w.price == 40 and w.congested


def test_two_zone_prices_by_case():
    t = two_zone_outcome([0, 10, 40, 100, 130], intercept=100, slope=1, line_kw=40, marginal_cost=10,
                         price_import=20)
    # q + 40 < 80: P = 100 - (q + 40); |80 - q| <= 40: P = 20; q - 40 > 80: P = 100 - (q - 40)
    assert t["price"].tolist() == [60, 50, 20, 20, 10]
    assert t["line"].tolist() == ["import congested"] * 2 + ["uncongested"] * 2 + ["export congested"]
    assert t["import_kw"].tolist() == [40, 40, 40, -20, -40]


zone_cases = st.tuples(
    st.floats(20, 200),  # a
    st.floats(0.1, 4),  # b
    st.floats(0, 120),  # F
    st.floats(0, 1),  # c as a share of a
    st.floats(0, 1),  # p0 as a share of a
    st.floats(0, 200),  # K
)


@settings(max_examples=150, deadline=None)
@given(zone_cases)
def test_withholding_optimum_beats_a_fine_grid(case):
    a, b, f, c_share, p_share, k = case
    c, p0 = c_share * a, min(p_share, 0.99) * a
    w = withholding(intercept=a, slope=b, line_kw=f, marginal_cost=c, capacity_kw=k, price_import=p0)
    grid = np.linspace(0, k, 40_001)
    d0 = (a - p0) / b
    demand = np.minimum(np.maximum(d0, grid - f), grid + f)  # written out: the three cases
    profit = (a - b * demand - c) * grid
    scale = 1 + abs(profit).max()
    assert w.profit >= profit.max() - 1e-9 * scale  # no grid point beats it
    assert w.profit <= profit.max() + (a + b * (k + f)) * k / 40_000 + 1e-9 * scale  # and it is attainable
    assert 0 <= w.offer_kw <= k and w.profit >= w.full_profit - 1e-9 * scale
    # welfare splits into consumer surplus, profit and congestion rent
    t = w.curve
    assert np.allclose(t["welfare"], t["consumer_surplus"] + t["profit"] + t["congestion_rent"], atol=1e-7 * scale)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"intercept": 0}, "`intercept` must be a positive number"),
        ({"slope": -1}, "`slope` must be a positive number"),
        ({"line_kw": -1}, "`line_kw` must be >= 0"),
        ({"marginal_cost": -1}, "`marginal_cost` must be >= 0"),
        ({"price_import": 100}, "must lie below the demand intercept"),
        ({"capacity_kw": -5}, "`capacity_kw` must be >= 0"),
        ({"offers": [1, -1]}, "`offers` must contain non-negative offers; entry 1"),
    ],
)
def test_withholding_rejects_bad_input(kwargs, match):
    args = {"intercept": 100, "slope": 1, "line_kw": 40, "marginal_cost": 10, "capacity_kw": 60,
            "price_import": 20, **kwargs}
    with pytest.raises(ValueError, match=match):
        withholding(**args)


def test_two_zone_outcome_rejects_negative_offers():
    with pytest.raises(ValueError, match="`offers_kw` must contain non-negative offers; entry 0"):
        two_zone_outcome([-1], intercept=100, slope=1, line_kw=40, marginal_cost=10, price_import=20)


# --------------------------------------------------------------------------- withholding on IEEE 33


@pytest.fixture(scope="module")
def congested_feeder():
    f = tc.ieee33()
    f.lines.loc[2, "s_max_kva"] = 3500.0  # line 2-3 feeds everything but buses 1, 2 and 19-22
    return f


PEAKER = pd.DataFrame({"bus": [33], "p_max_kw": [2000.0], "price": [0.30]})


def test_dlmp_withholding_keeps_the_line_congested(congested_feeder):
    offers = [0.0, 300.0, 600.0, 1500.0]
    t = dlmp_withholding(congested_feeder, 18, offers, marginal_cost=0.04, price_substation=0.05, ders=PEAKER)
    assert t["offer_kw"].tolist() == offers and t["dispatch_kw"].to_numpy() == pytest.approx(offers, abs=1e-3)
    assert np.allclose(t["profit"], (t["price"] - 0.04) * t["dispatch_kw"])
    congested = t["binding"].str.contains("line 2-3")
    assert congested.tolist() == [True, True, True, False]
    # behind the limit the peaker (0.30) is marginal and sets a price near its offer; once the DER
    # relieves the line the price falls to about the substation's 0.05 (plus losses)
    assert (t.loc[congested, "price"] > 0.25).all() and t.loc[~congested, "price"].iloc[0] < 0.06
    assert t["profit"].idxmax() == 2  # offering 600 kW (and withholding 900) pays best
    assert t["system_cost"].iloc[2] > t["system_cost"].iloc[3]  # and costs the system more


def test_dlmp_withholding_price_is_a_finite_difference_of_the_system_cost(congested_feeder):
    # the DLMP at bus 18 is d(system cost)/d(load at 18): re-solve with +/- 1 kW there
    t = dlmp_withholding(congested_feeder, 18, [300.0], marginal_cost=0.04, price_substation=0.05, ders=PEAKER)
    ders = pd.concat([pd.DataFrame({"bus": [18], "p_max_kw": [300.0], "price": [0.04]}), PEAKER], ignore_index=True)
    costs = []
    for d in (1.0, -1.0):
        f = congested_feeder.with_injection(18, -d)  # a withdrawal of d kW more at bus 18
        costs.append(tc.dlmp(f, price_substation=0.05, ders=ders, v_min_pu=0.9).cost)
    assert t["price"].iloc[0] == pytest.approx((costs[0] - costs[1]) / 2, rel=1e-3)


def test_dlmp_withholding_rejects_bad_input(congested_feeder):
    with pytest.raises(ValueError, match="`bus` 99 is not a bus of the feeder"):
        dlmp_withholding(congested_feeder, 99, [1.0], marginal_cost=0.04, price_substation=0.05)
    with pytest.raises(ValueError, match="`offers_kw` must contain non-negative offers"):
        dlmp_withholding(congested_feeder, 18, [-1.0], marginal_cost=0.04, price_substation=0.05)


# --------------------------------------------------------------------------- inputs of the Cournot functions


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0, 1, [10]), {}, ValueError, "`intercept` must be a positive number"),
        ((100, 0, [10]), {}, ValueError, "`slope` must be a positive number"),
        ((100, 1, [10, -1]), {}, ValueError, "`marginal_costs` must contain non-negative costs; entry 1"),
        ((100, 1, [10, np.nan]), {}, ValueError, "`marginal_costs` must contain finite costs; entry 1"),
        ((100, 1, []), {}, ValueError, "`marginal_costs` is empty"),
        ((100, 1, [10, 20]), {"capacities_kw": [1, 2, 3]}, ValueError, "`capacities_kw` has 3 entries"),
        ((100, 1, [10, 20]), {"capacities_kw": [1, -2]}, ValueError,
         "`capacities_kw` must contain non-negative.*entry 1"),
        ((100, 1, [10, 20]), {"capacities_kw": [np.nan, 2]}, ValueError, "entry 0 is nan"),
    ],
)
def test_cournot_equilibrium_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        cournot_equilibrium(*args, **kwargs)


# --------------------------------------------------------------------------- competition curve, plots, widget


def test_competition_curve_by_hand():
    t = competition_curve(100, 1, 10, n_max=6)
    n = np.arange(1, 7)
    # identical costs: P = (a + n c)/(n + 1), HHI = 10,000/n, L = (P - c)/P = (a - c)/(a + n c)
    assert t["price"].to_numpy() == pytest.approx((100 + 10 * n) / (n + 1))
    assert t["hhi"].to_numpy() == pytest.approx(10_000 / n)
    assert t["lerner"].to_numpy() == pytest.approx(90 / (100 + 10 * n))
    assert t["active"].tolist() == list(n)
    # spread costs: with n = 2 and spread 80 the costs are 10 and 90: the dear firm is priced out (P = 55)
    spread = competition_curve(100, 1, 10, n_max=2, cost_spread=80)
    assert spread.loc[2, "price"] == 55 and spread.loc[2, "active"] == 1
    for bad, match in (({"n_max": 0}, "`n_max` must be a positive integer"),
                       ({"cost_spread": -1}, "must contain non-negative costs")):
        with pytest.raises(ValueError, match=match):
            competition_curve(100, 1, 10, **bad)


def test_cournot_result_is_frozen():
    r = cournot_equilibrium(100, 1, [10])
    assert isinstance(r, tc.CournotResult)
    with pytest.raises(AttributeError):
        r.price = 1.0


# --------------------------------------------------------------------------- extreme inputs (issue 14)


def test_a_huge_max_iter_allocates_only_the_rounds_played():
    import tracemalloc

    tracemalloc.start()
    try:
        r = play(cournot_best_responses(100, 1, [10, 10]), [0.0, 0.0], max_iter=10**12)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status == "converged" and np.allclose(r.strategies, [30.0, 30.0])  # (a - c) / 3b each
    assert peak < 10**7  # was an attempt at 10**12 x 2 floats, 14.6 TiB, before the first round
    # the path grows past its first block and keeps every round: 5 -> 40 -> 5 -> ... (as in
    # test_stop_at_cycle_false_plays_on_for_several_periods), 301 rows
    br = cournot_best_responses(100, 1, [10, 10, 10])
    long = play(br, [5.0] * 3, order="simultaneous", max_iter=300, stop_at_cycle=False)
    assert long.iterations == 300 and long.history["player 0"].tolist() == [5.0, 40.0] * 150 + [5.0]


@pytest.mark.parametrize(
    ("initial", "match"),
    [
        ([5, 7], r"`initial` entry 0 is 5, but the row player's strategies are the indices 0 to 1"),
        ([0, 7], r"`initial` entry 1 is 7, but the column player's strategies are the indices 0 to 2"),
        ([-1, -1], r"`initial` entry 0 is -1"),  # numpy would count from the end
        ([0, -1], r"`initial` entry 1 is -1"),
        ([0.5, 0], r"`initial` entry 0 is 0.5"),
        ([True, 0], r"`initial` entry 0 is True"),
        (["H", 0], r"`initial` entry 0 is 'H'"),
    ],
)
def test_matrix_best_responses_refuse_strategies_that_are_not_indices(initial, match):
    row = np.array([[1, 0, 2], [0, 1, 0]])  # 2 x 3
    br = matrix_best_responses(row, -row)
    with pytest.raises(ValueError, match=match):
        best_response_dynamics(br, initial)
    with pytest.raises(ValueError, match=match.replace("`initial`", "`profile`")):
        br[0](initial)


def test_matrix_best_responses_accept_integral_floats_and_must_come_in_order():
    br = matrix_best_responses(PENNIES, -PENNIES)
    assert br[0]([0.0, 1.0]) == 1 and br[1](np.array([1.0, 1.0])) == 0  # row matches, column mismatches
    with pytest.raises(ValueError, match=r"`best_responses` from matrix_best_responses must be passed as the pair"):
        best_response_dynamics(br[::-1], [0, 0])
    with pytest.raises(ValueError, match=r"`profile` must hold two strategies"):
        br[0]([0, 0, 0])


def test_withholding_beyond_the_float_range_names_the_arguments():
    base = {"intercept": 100, "slope": 1, "line_kw": 40, "marginal_cost": 10, "capacity_kw": 60, "price_import": 20}
    for name, value in (("intercept", 1.7e308), ("capacity_kw", 1.7e308), ("marginal_cost", 1.7e308),
                        ("slope", 1.7e308)):
        args = {**base, name: value}
        with pytest.raises(ValueError, match=rf"leaves the float range.*`{name}`"):
            withholding(**args)
    with pytest.raises(ValueError, match=r"at the offer 1e\+300 kW: its profit is -inf.*`offers_kw`"):
        two_zone_outcome([1e300], intercept=100, slope=1, line_kw=40, marginal_cost=10, price_import=20)


def test_withholding_with_huge_but_representable_numbers_matches_the_closed_form():
    from fractions import Fraction as Fr

    # A tiny slope: D0 = 80 / 1e-300 is beyond every offer, so the line is always import congested, the
    # price is a - b (q + F), about 100, and offering everything (60 kW) is best.
    w = withholding(intercept=100, slope=1e-300, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    assert (w.offer_kw, w.price, w.profit) == (60.0, 100.0, 5400.0) and w.welfare_loss == 0.0
    # a = 1e150, K = 1e150: q* = (a - b F - c) / 2b congests the line; the full offer K does not
    # (|D0 - K| = 20 <= F).  Reference in exact rational arithmetic from the same float inputs.
    a, b, f, c, p0, k = (Fr(x) for x in (1e150, 1.0, 40.0, 10.0, 20.0, 1e150))
    q = (a - b * f - c) / (2 * b)
    d_best, d_full = q + f, (a - p0) / b
    profit = (a - b * d_best - c) * q
    triangle = (a - p0) * (d_full - d_best) - b / 2 * (d_full**2 - d_best**2)
    loss = triangle + (p0 - c) * (k - q)
    w = withholding(intercept=1e150, slope=1.0, line_kw=40.0, marginal_cost=10.0, capacity_kw=1e150,
                    price_import=20.0)
    assert w.offer_kw == pytest.approx(float(q), rel=1e-12) and w.profit == pytest.approx(float(profit), rel=1e-12)
    assert w.deadweight_loss == pytest.approx(float(triangle), rel=1e-9)
    assert w.welfare_loss == pytest.approx(float(loss), rel=1e-9)


def test_cournot_beyond_the_float_range_is_refused_and_near_it_is_exact():
    with pytest.raises(ValueError, match=r"Cournot equilibrium leaves the float range.*`intercept` = 1.7e\+308"):
        cournot_equilibrium(1.7e308, 1, [10])
    with pytest.raises(ValueError, match=r"`slope` = 1e-200"):  # (a - c) / b = 1e400
        cournot_equilibrium(1e200, 1e-200, [1, 2])
    with pytest.raises(ValueError, match=r"float range.*`intercept`"):
        competition_curve(1.7e308, 1, 10, n_max=2)
    # monopoly of P = 100 - 1e-300 Q, cost 10: q = 45e300, P = 55, CS = b q^2 / 2 = 1.0125e303
    # (b q^2 overflowed in Python floats: OverflowError)
    m = cournot_equilibrium(100, 1e-300, [10])
    assert m.quantities[0] == pytest.approx(4.5e301) and m.price == pytest.approx(55.0)
    assert m.consumer_surplus == pytest.approx(1.0125e303) and m.welfare == pytest.approx(3 * 1.0125e303)
    # three free firms with (a - c) / b = 1e308 each: Q = 3/4 1e308, though sum (a - c) / b overflows
    # (the old closed form divided inf by 4 and clipped it, and reported Q = 0)
    t = cournot_equilibrium(0.5, 0.5 / 1e308, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(t.quantities, [0.25e308] * 3, rtol=1e-12)
    assert t.price == pytest.approx(0.125, rel=1e-12)


# --- issue 14: fuzz findings


def test_cournot_lerner_beyond_the_floats_is_refused():
    # P = 5e-324 (the intercept) against costs of 10: (P - c) / P was -inf
    with pytest.raises(ValueError, match=r"Lerner index .* overflows.*`intercept` and `marginal_costs`"):
        cournot_equilibrium(5e-324, 1.0, [10.0, 20.0])
    # a tiny but representable ratio is kept: (1e-300 - 10) / 1e-300 = -1e301
    r = cournot_equilibrium(1e-300, 1.0, [10.0])
    assert r.lerner[0] == pytest.approx(-1e301) and r.total == 0


def test_competition_curve_where_nothing_is_sold_or_too_many_firms():
    # base_cost >= intercept: no firm ever sells, and every row had elasticity -inf
    for kwargs in (dict(base_cost=100.0), dict(base_cost=1e300), dict(intercept=10.0)):
        args = {"intercept": 100.0, "slope": 1.0, "base_cost": 10.0, **kwargs}
        with pytest.raises(ValueError, match=r"`base_cost` .* must lie below `intercept`"):
            competition_curve(**args, n_max=4)
    # n_max = 10**12 ran for ever
    for n_max in (10**12, 10**400):
        with pytest.raises(ValueError, match=r"`n_max` must be at most 1,000"):
            competition_curve(100, 1, 10, n_max=n_max)
    assert len(competition_curve(100, 1, 10, n_max=1000)) == 1000
    # 1000 identical firms: P = (a + n c) / (n + 1) = (100 + 10000) / 1001, by hand
    assert competition_curve(100, 1, 10, n_max=1000)["price"].iloc[-1] == pytest.approx(10100 / 1001)


def test_best_responses_that_are_not_a_list_and_payoffs_beyond_the_floats():
    with pytest.raises(TypeError, match=r"`best_responses` must be a list of callables, one per player; got NoneType"):
        best_response_dynamics(None, [0.0])
    with pytest.raises(TypeError, match=r"`best_responses` must be a list of callables.*got float"):
        best_response_dynamics(3.0, [0.0])
    for call in (pure_nash_equilibria, matrix_best_responses):
        with pytest.raises(ValueError, match=r"`payoff_row` holds a number too large for a float"):
            call([[10**400, 0], [0, 0]], [[0, 0], [0, 0]])
        with pytest.raises(TypeError, match=r"`payoff_col` must contain real numbers"):
            call([[0, 0], [0, 0]], [[1j, 0], [0, 0]])


def test_dlmp_withholding_checks_its_own_arguments():
    f = tc.radial_feeder(4, seed=1)
    ders = pd.DataFrame({"bus": [3, 4], "p_max_kw": [60.0, 60.0], "price": [0.06, 0.07]})
    kw = dict(marginal_cost=0.04, price_substation=0.05, ders=ders, v_min_pu=0.9)
    for bus in ([4], 99, True):  # a list raised "unhashable type: 'list'" from pandas
        with pytest.raises(ValueError, match=r"`bus` .* is not a bus of the feeder \(its buses are 1, 2, 3, 4\)"):
            dlmp_withholding(f, bus, [20.0], **kw)
    with pytest.raises(ValueError, match=r"`marginal_cost` must contain prices of at most 1e\+150"):
        dlmp_withholding(f, 4, [20.0], **{**kw, "marginal_cost": 1e200})
    with pytest.raises(ValueError, match=r"`offers_kw` entry 1 is 1e\+300 kW"):
        dlmp_withholding(f, 4, [20.0, 1e300], **kw)
    with pytest.raises(ValueError, match=r"`offers_kw` holds a number too large for a float"):
        dlmp_withholding(f, 4, [20.0, 10**400], **kw)
    # the other DERs' errors name their own rows (the strategic DER is row 0 of the table dlmp sees)
    bad = ders.assign(price=[0.06, np.nan])
    with pytest.raises(ValueError, match=r"`ders\['price'\]` must contain finite prices; entry 1 is nan"):
        dlmp_withholding(f, 4, [20.0], **{**kw, "ders": bad})


def test_two_zone_overflow_names_offers_kw_and_bounds_beyond_the_floats():
    # the message named `capacity_kw` and `offers`, arguments of withholding, not of two_zone_outcome
    with pytest.raises(ValueError, match=r"at the offer 1e\+201 kW.*\(`offers_kw`\)"):
        two_zone_outcome([10.0, 1e201], intercept=100, slope=1, line_kw=40, marginal_cost=10, price_import=20)
    with pytest.raises(ValueError, match=r"`bounds` holds an integer too large for a float"):
        best_response_dynamics(cournot_best_responses(100, 1, [10, 10]), [0.0, 0.0], bounds=(0, 10**400))
