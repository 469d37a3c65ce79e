"""Tests of te_course.fairness (and its plot and widget) against references written here.

References, none of them taken from the package:

- closed forms worked by hand: one unit shared by utilities 2x and x; the line
  network (two unit links, a long flow and two short ones); a PV feeder whose
  owners share one or two limited lines; Kelly's weighted proportional fairness,
  x_i = w_i / (sum of the prices on i's path), which the package does not compute;
- enumeration: every vertex of the feasible polytope (the proportional
  optimality condition is linear in x', so checking the vertices proves it
  for every feasible x'), and a fine grid of feasible points;
- scipy.optimize.linprog (HiGHS), used differently from the package: the
  utilitarian optimum and its finite-difference prices, an LP-based leximin,
  the "no agent can be raised without lowering one no better off" test, and
  the proportional optimality condition max_x' sum (x'_i - x_i)/x_i;
- the definitions of envy written as plain loops.
"""

from __future__ import annotations

import itertools
import math

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import te_course as tc
from te_course import fairness as F
from te_course.feeders import Feeder, ieee33
from te_course.mechanisms import Outcome, sbba, trade_reduction, uniform_price, vcg

ONE_UNIT = ([[1, 1]], [1])  # one unit, two agents
LINE = ([[1, 1, 0], [1, 0, 1]], [1, 1])  # long flow on both links, short flows on one each
TIGHT = {"abs": 1e-9}


# --------------------------------------------------------------------------- references


def _finite_rows(usage, capacity):
    a, c = np.atleast_2d(np.asarray(usage, dtype=float)), np.asarray(capacity, dtype=float)
    keep = np.isfinite(c)
    return a[keep], c[keep]


def lp_max(objective, usage, capacity, caps, *, extra_ub=None, bounds=None):
    """max objective @ x on the polytope, by HiGHS; returns (value, x)."""
    a, c = _finite_rows(usage, capacity)
    n = a.shape[1]
    caps = np.broadcast_to(np.asarray(caps, dtype=float), (n,))
    a_ub, b_ub = a, c
    if extra_ub is not None:
        a_ub, b_ub = np.vstack([a_ub, extra_ub[0]]), np.r_[b_ub, extra_ub[1]]
    if bounds is None:
        bounds = [(0, None if math.isinf(u) else u) for u in caps]
    res = linprog(-np.asarray(objective, dtype=float), A_ub=a_ub if a_ub.size else None,
                  b_ub=b_ub if a_ub.size else None, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return -res.fun, res.x


def vertices(usage, capacity, caps):
    """Every vertex of {usage @ x <= capacity, 0 <= x <= caps}, by enumerating active sets."""
    a, c = _finite_rows(usage, capacity)
    n = a.shape[1]
    caps = np.broadcast_to(np.asarray(caps, dtype=float), (n,))
    rows, rhs = [*a], [*c]
    for i in range(n):
        rows.append(-np.eye(n)[i])
        rhs.append(0.0)
        if np.isfinite(caps[i]):
            rows.append(np.eye(n)[i])
            rhs.append(caps[i])
    g, h = np.array(rows), np.array(rhs)
    out = []
    for active in itertools.combinations(range(len(g)), n):
        m = g[list(active)]
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        v = np.linalg.solve(m, h[list(active)])
        if (g @ v <= h + 1e-9).all():
            out.append(v)
    return out


def leximin_lp(usage, capacity, caps, w):
    """Leximin utilities by progressive LPs (HiGHS): maximise the smallest free utility, fix the blocked ones."""
    a, c = _finite_rows(usage, capacity)
    n = a.shape[1]
    w = np.asarray(w, dtype=float)
    caps = np.broadcast_to(np.asarray(caps, dtype=float), (n,))
    fixed = np.full(n, np.nan)
    xb = [(0, None if math.isinf(u) else u) for u in caps] + [(None, None)]
    a_cap = np.hstack([a, np.zeros((a.shape[0], 1))])
    while np.isnan(fixed).any():
        free = np.isnan(fixed)
        # rows: t - w_i x_i <= 0 (free), -w_i x_i <= -fixed_i (fixed)
        rows, rhs = [], []
        for i in range(n):
            r = np.zeros(n + 1)
            r[i] = -w[i]
            if free[i]:
                r[n] = 1.0
                rhs.append(0.0)
            else:
                rhs.append(-fixed[i])
            rows.append(r)
        a_ub, b_ub = np.vstack([a_cap, rows]), np.r_[c, rhs]
        res = linprog(-np.eye(n + 1)[n], A_ub=a_ub, b_ub=b_ub, bounds=xb, method="highs")
        assert res.status == 0, res.message
        t = res.x[n]
        blocked = []
        for i in np.flatnonzero(free):
            rows2, rhs2 = [], []
            for j in range(n):
                r = np.zeros(n + 1)
                r[j] = -w[j]
                rows2.append(r)
                rhs2.append(-(t if free[j] else fixed[j]))
            res2 = linprog(-w[i] * np.eye(n + 1)[i], A_ub=np.vstack([a_cap, rows2]), b_ub=np.r_[c, rhs2],
                           bounds=xb[:n] + [(0, 0)], method="highs")
            assert res2.status == 0, res2.message
            if -res2.fun <= t + 1e-9 * max(1.0, t):
                blocked.append(i)
        assert blocked, "progressive filling must fix at least one agent per round"
        fixed[blocked] = t
    return fixed


def raisable(usage, capacity, caps, w, u):
    """Largest gain of any agent i while every agent no better off than i keeps its utility (HiGHS)."""
    a, c = _finite_rows(usage, capacity)
    n = a.shape[1]
    w, u = np.asarray(w, dtype=float), np.asarray(u, dtype=float)
    caps = np.broadcast_to(np.asarray(caps, dtype=float), (n,))
    best = 0.0
    for i in range(n):
        worse = [j for j in range(n) if j != i and u[j] <= u[i] + 1e-9]
        rows = [-w[j] * np.eye(n)[j] for j in worse]
        rhs = [-u[j] + 1e-9 for j in worse]
        a_ub = np.vstack([a, *rows]) if rows else a
        b_ub = np.r_[c, rhs]
        res = linprog(-w[i] * np.eye(n)[i], A_ub=a_ub if a_ub.size else None, b_ub=b_ub if a_ub.size else None,
                      bounds=[(0, None if math.isinf(x) else x) for x in caps], method="highs")
        assert res.status == 0, res.message
        best = max(best, -res.fun - u[i])
    return best


def proportional_condition(usage, capacity, caps, x, *, face=None):
    """max over feasible x' of sum_{x_i > 0} (x'_i - x_i) / x_i (<= 0 at the proportionally fair point)."""
    x = np.asarray(x, dtype=float)
    pos = x > 1e-12
    obj = np.where(pos, 1.0 / np.where(pos, x, 1.0), 0.0)
    value, _ = lp_max(obj, usage, capacity, caps, extra_ub=face)
    return value - pos.sum()


def envy_by_loops(own_value, bundle_value, n):
    """envy[i][j] = max(0, bundle_value(i, j) - own_value(i)), i != j."""
    return np.array([[max(0.0, bundle_value(i, j) - own_value(i)) if i != j else 0.0 for j in range(n)]
                     for i in range(n)])


# --------------------------------------------------------------------------- the cases that must hold


@pytest.mark.parametrize(("rule", "expected"), [("utilitarian", [1, 0]), ("proportional", [0.5, 0.5]),
                                                ("max_min", [1 / 3, 2 / 3])])
def test_one_unit_shared_by_2x_and_x(rule, expected):
    a = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule=rule)
    assert a.x.to_numpy() == pytest.approx(expected, **TIGHT)
    assert a.utilities.to_numpy() == pytest.approx(np.array([2, 1]) * expected, **TIGHT)
    assert a.rule == rule and a.welfare == pytest.approx(2 * expected[0] + expected[1], **TIGHT)
    assert a.min_utility == pytest.approx(min(2 * expected[0], expected[1]), **TIGHT)


@pytest.mark.parametrize(("rule", "expected"), [("utilitarian", [0, 1, 1]), ("proportional", [1 / 3, 2 / 3, 2 / 3]),
                                                ("max_min", [0.5, 0.5, 0.5])])
def test_line_network(rule, expected):
    a = tc.fair_allocation(*LINE, rule=rule)
    assert a.x.to_numpy() == pytest.approx(expected, **TIGHT)


def test_line_network_prices_by_hand():
    # Utilitarian: x1 = c1, x2 = c2 and x0 = 0, so the welfare grows by 1 per unit of either link.
    assert tc.fair_allocation(*LINE, rule="utilitarian").prices.to_numpy() == pytest.approx([1, 1], **TIGHT)
    # Proportional with c1 = c2 = c: x = (c/3, 2c/3, 2c/3), sum log = log(c/3) + 2 log(2c/3), whose derivative
    # 3/c splits equally between the links: 3/2 each at c = 1; and x_i * (sum of prices on its path) = 1.
    a = tc.fair_allocation(*LINE, rule="proportional")
    assert a.prices.to_numpy() == pytest.approx([1.5, 1.5], **TIGHT)
    assert (a.x.to_numpy() * (np.array(LINE[0]).T @ a.prices.to_numpy())) == pytest.approx([1, 1, 1], **TIGHT)
    # One unit, utilities 2x and x: utilitarian price 2 (agent 0's weight), proportional 2 (x_i = 1/2 = 1/p).
    assert tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="utilitarian").prices.tolist() == pytest.approx([2])
    assert tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="proportional").prices.tolist() == pytest.approx([2])
    assert np.isnan(tc.fair_allocation(*LINE, rule="max_min").prices).all()


@pytest.mark.parametrize(("usage", "capacity", "caps", "weights"), [
    (*ONE_UNIT, np.inf, [2, 1]),
    (*LINE, np.inf, [1, 1, 1]),
    (*LINE, [0.25, np.inf, np.inf], [1, 2, 3]),
    ([[1, 2, 0, 1], [0, 1, 1, 1], [1, 0, 1, 0]], [2, 1.5, 1], [np.inf, 0.4, np.inf, np.inf], [1, 1, 1, 1]),
])
def test_proportional_condition_at_every_vertex(usage, capacity, caps, weights):
    x = tc.fair_allocation(usage, capacity, weights=weights, rule="proportional", caps=caps).x.to_numpy()
    assert (x > 0).all()
    vs = vertices(usage, capacity, caps)
    assert len(vs) >= len(x) + 1
    for v in vs:
        assert np.sum((v - x) / x) <= 1e-9, v


def test_proportional_weights_drop_out():
    x1 = tc.fair_allocation(*LINE, weights=[1, 1, 1], rule="proportional").x
    x2 = tc.fair_allocation(*LINE, weights=[5, 0.2, 3], rule="proportional").x
    assert x1.to_numpy() == pytest.approx(x2.to_numpy(), **TIGHT)


def test_kelly_weighted_proportional_fairness_responds_to_the_weights_unlike_the_rule_used_here():
    """Chapter 8: rule="proportional" maximises sum log(w_i x_i), whose amounts ignore w; Kelly's weighted
    proportional fairness maximises sum w_i log x_i (w_i: what agent i is willing to pay) and does not.

    Line network, weights (5, 1, 1), by hand: x_i = w_i / (sum of prices on its path) with equal link prices p
    (symmetry), and both links full: 5 / (2p) + 1 / p = 1, so p = 7/2 and x = (5/7, 2/7, 2/7).  It is
    characterised by sum_i w_i (x'_i - x_i) / x_i <= 0 for every feasible x' (checked at every vertex).
    """
    w = np.array([5.0, 1.0, 1.0])
    kelly = np.array([5 / 7, 2 / 7, 2 / 7])
    for v in vertices(*LINE, np.inf):
        assert np.sum(w * (v - kelly) / kelly) <= 1e-12, v
    ours = tc.fair_allocation(*LINE, weights=w, rule="proportional").x.to_numpy()
    assert ours == pytest.approx([1 / 3, 2 / 3, 2 / 3], **TIGHT)
    assert np.abs(ours - kelly).max() > 0.3
    # One unit and weights (2, 1): Kelly's rule gives (2/3, 1/3) (2 / x_A = 1 / x_B), ours (1/2, 1/2).
    assert tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="proportional").x.tolist() == pytest.approx([0.5, 0.5])
    for v in vertices(*ONE_UNIT, np.inf):
        assert np.sum(np.array([2.0, 1.0]) * (v - [2 / 3, 1 / 3]) / [2 / 3, 1 / 3]) <= 1e-12


def test_utilitarian_ties_are_broken_by_proportional_fairness():
    # Equal weights on one unit: every split is optimal; the proportionally fair one is (1/2, 1/2).
    assert tc.fair_allocation(*ONE_UNIT, rule="utilitarian").x.tolist() == pytest.approx([0.5, 0.5], **TIGHT)
    # Weights (2, 1, 1) on the line network: (1, 0, 0) and (0, 1, 1) both give 2; so does (t, 1-t, 1-t), and
    # log t + 2 log(1 - t) is largest at t = 1/3.
    a = tc.fair_allocation(*LINE, weights=[2, 1, 1], rule="utilitarian")
    assert a.x.to_numpy() == pytest.approx([1 / 3, 2 / 3, 2 / 3], **TIGHT) and a.welfare == pytest.approx(2)
    # An agent that gets nothing at every optimum stays at 0 (weights 1, 3, 1 on one unit: agent 1 takes all).
    assert tc.fair_allocation([[1, 1, 1]], [1], weights=[1, 3, 1], rule="utilitarian").x.tolist() == [0, 1, 0]


def test_brute_force_on_a_grid():
    grid = np.arange(61) / 60  # contains 1/3, 1/2 and 2/3 exactly

    def best(points, key):
        return max(points, key=key)

    two = [np.array(p) for p in itertools.product(grid, grid) if p[0] + p[1] <= 1 + 1e-12]
    w = np.array([2.0, 1.0])
    assert best(two, lambda p: w @ p) == pytest.approx([1, 0])
    assert best([p for p in two if (p > 0).all()], lambda p: np.log(p).sum()) == pytest.approx([0.5, 0.5])
    assert best(two, lambda p: tuple(np.sort(w * p))) == pytest.approx([1 / 3, 2 / 3])
    three = [np.array(p) for p in itertools.product(grid, grid, grid) if p[0] + p[1] <= 1 + 1e-12
             and p[0] + p[2] <= 1 + 1e-12]
    assert best(three, lambda p: (p.sum(), -abs(p[1] - p[2]))) == pytest.approx([0, 1, 1])
    assert best([p for p in three if (p > 0).all()], lambda p: np.log(p).sum()) == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert best(three, lambda p: tuple(np.sort(p))) == pytest.approx([0.5, 0.5, 0.5])


def test_caps_and_agents_without_resources():
    # Agent 2 uses nothing but has a cap of 0.3: it gets its cap under every rule.
    usage = [[1, 1, 0]]
    for rule in F.RULES:
        a = tc.fair_allocation(usage, [1], rule=rule, caps=[np.inf, 0.2, 0.3])
        expected = {"utilitarian": [0.8, 0.2, 0.3], "max_min": [0.8, 0.2, 0.3], "proportional": [0.8, 0.2, 0.3]}[rule]
        assert a.x.to_numpy() == pytest.approx(expected, **TIGHT), rule
    # A zero capacity leaves the agents on it with nothing, and the others share the rest.
    for rule in F.RULES:
        a = tc.fair_allocation(LINE[0], [0, 1], rule=rule)
        assert a.x.to_numpy() == pytest.approx([0, 0, 1], **TIGHT), rule
    # Everything at zero.
    for rule in F.RULES:
        assert tc.fair_allocation(*ONE_UNIT, rule=rule, caps=0).x.tolist() == [0, 0]


def test_labels_are_kept_and_series_align_by_label():
    usage = pd.DataFrame(LINE[0], index=["a", "b"], columns=["long", "s1", "s2"])
    a = tc.fair_allocation(usage, pd.Series({"b": 1.0, "a": 1.0}), weights=pd.Series({"s2": 1, "long": 2, "s1": 1}),
                           rule="utilitarian")
    assert list(a.x.index) == ["long", "s1", "s2"] and list(a.prices.index) == ["a", "b"]
    assert a.x.to_numpy() == pytest.approx([1 / 3, 2 / 3, 2 / 3], **TIGHT)
    assert a.weights.tolist() == [2, 1, 1]
    frame = a.to_frame()
    assert list(frame.columns) == ["x", "utility", "weight", "cap"]
    assert frame.loc["long", "utility"] == pytest.approx(2 / 3)
    res = a.resource_table()
    assert list(res.columns) == ["capacity", "load", "price"] and res["load"].tolist() == pytest.approx([1, 1])
    assert tc.fair_allocation([1, 1], 1, rule="max_min").x.tolist() == [0.5, 0.5]  # 1-D usage: one resource


def test_problem_is_built_once_and_re_solved():
    p = tc.FairnessProblem(*LINE)
    first = p.solve("proportional")
    lp = p._cvx["lp"]
    scaled = p.solve("proportional", capacity=[3, 3])  # homogeneous: three times the capacity, three times x
    assert scaled.x.to_numpy() == pytest.approx(3 * first.x.to_numpy(), **TIGHT)
    assert p.solve("utilitarian", weights=[3, 1, 1]).x.tolist() == pytest.approx([1, 0, 0], **TIGHT)
    assert p._cvx["lp"] is lp
    assert p.solve("max_min", capacity=[2, 1]).x.tolist() == pytest.approx([0.5, 1.5, 0.5], **TIGHT)


# --------------------------------------------------------------------------- the feeder


def test_feeder_usage_follows_the_paths_of_ieee33():
    f = ieee33()
    usage, cap = tc.feeder_usage(f, [18, 22, 33])
    parent = dict(zip(f.lines["to_bus"], zip(f.lines["from_bus"], f.lines.index)))  # IEEE 33 lines point away

    def path(bus):
        lines = set()
        while bus != 1:
            bus, line = parent[bus]
            lines.add(line)
        return lines

    for bus in (18, 22, 33):
        assert set(usage.index[usage[bus] == 1]) == path(bus)
    assert path(18) == set(range(1, 18)) and path(22) == {1, 18, 19, 20, 21}
    assert path(33) == {1, 2, 3, 4, 5} | set(range(25, 33))
    assert list(usage.index) == sorted(path(18) | path(22) | path(33))
    assert np.isinf(cap).all()  # IEEE 33 has no line limits
    _, cap = tc.feeder_usage(f, [18], capacity_kw=250)
    assert (cap == 250).all() and cap.name == "capacity_kw"
    _, cap = tc.feeder_usage(f, [18], capacity_kw={1: 300, 25: 5})  # line 25 is not on bus 18's path
    assert cap[1] == 300 and np.isinf(cap.drop(1)).all()
    usage, _ = tc.feeder_usage(f, 1)  # the substation uses no line
    assert usage.shape == (0, 1)


def test_feeder_usage_reads_line_limits():
    buses = pd.DataFrame({"p_kw": [0.0, 0.0, 0.0]}, index=["s", "a", "b"])
    lines = pd.DataFrame({"from_bus": ["s", "a"], "to_bus": ["a", "b"], "r_ohm": [0.1, 0.1], "x_ohm": [0.1, 0.1],
                          "s_max_kva": [100.0, np.nan]}, index=["L1", "L2"])
    f = Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation="s")
    usage, cap = tc.feeder_usage(f, ["a", "b"])
    assert usage.to_numpy().tolist() == [[1, 1], [0, 1]] and cap.tolist() == [100, np.inf]


def test_pv_owners_share_the_feeder_by_hand():
    f = ieee33()
    usage, cap = tc.feeder_usage(f, [18, 33, 22], capacity_kw={1: 900.0})
    # Equal weights, caps 400: all share line 1, 300 kW each under every rule.
    for rule in F.RULES:
        a = tc.fair_allocation(usage, cap, rule=rule, caps=400.0)
        assert a.x.to_numpy() == pytest.approx([300, 300, 300], rel=1e-9), rule
    # Weights 1, 0.9, 0.8 (value of a kW at the substation): utilitarian fills by weight up to the caps,
    # max-min equalises w x (t (1 + 1/0.9 + 1/0.8) = 900), proportional ignores the weights.
    w = [1.0, 0.9, 0.8]
    assert tc.fair_allocation(usage, cap, weights=w, rule="utilitarian", caps=400.0).x.tolist() == pytest.approx(
        [400, 400, 100], rel=1e-9)
    t = 900 / (1 + 1 / 0.9 + 1 / 0.8)
    mm = tc.fair_allocation(usage, cap, weights=w, rule="max_min", caps=400.0)
    assert mm.x.to_numpy() == pytest.approx([t, t / 0.9, t / 0.8], rel=1e-12)
    assert tc.fair_allocation(usage, cap, weights=w, rule="proportional", caps=400.0).x.tolist() == pytest.approx(
        [300, 300, 300], rel=1e-9)
    # A second limit, 200 kW on line 6 (bus 6 to 7), on bus 18's path only: bus 18 gets 200, the others
    # share the remaining 700 of line 1 (350 each) under every rule with equal weights.
    usage, cap = tc.feeder_usage(f, [18, 33, 22], capacity_kw={1: 900.0, 6: 200.0})
    for rule in F.RULES:
        a = tc.fair_allocation(usage, cap, rule=rule, caps=400.0)
        assert a.x.to_numpy() == pytest.approx([200, 350, 350], rel=1e-9), rule


def test_chapter_8_feeder_max_min_by_hand():
    """Chapter 8, section 5: owners 9 and 18 (behind the 500 kW line 6) tie as the worst off.

    Progressive filling freezes 9 and 18 together when line 6 fills: w_9 x_9 = w_18 x_18 = t with
    x_9 + x_18 = 500; the other five share the 1,300 kW left on line 1 at a common utility s.
    """
    f = ieee33()
    owners = [3, 22, 25, 9, 30, 18, 33]
    usage, cap = tc.feeder_usage(f, owners, capacity_kw={1: 1800.0, 6: 500.0})
    midday = f.scale_loads(0.3)
    for bus in owners:
        midday = midday.with_injection(bus, 400.0)
    w = (1 + tc.marginal_loss_factors(midday)[owners]).to_numpy()
    assert (w < 1).all()  # exported kW lose some of themselves on the way
    behind = np.isin(owners, [9, 18])
    t = 500 / np.sum(1 / w[behind])
    s = 1300 / np.sum(1 / w[~behind])
    assert t < s and (np.r_[t / w[behind], s / w[~behind]] < 400).all()  # no cap binds
    mm = tc.fair_allocation(usage, cap, weights=w, rule="max_min", caps=400.0)
    assert mm.utilities.to_numpy() == pytest.approx(np.where(behind, t, s), rel=1e-9)
    assert tc.worst_off(mm) == (9, pytest.approx(t, rel=1e-9))  # a tie with 18: the first is named


# --------------------------------------------------------------------------- random instances


@st.composite
def instances(draw):
    m = draw(st.integers(1, 3))
    n = draw(st.integers(1, 4))
    usage = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=m * n, max_size=m * n)))
    usage = usage.reshape(m, n)
    capacity = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, np.inf]), min_size=m, max_size=m)))
    caps = np.array(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, np.inf]), min_size=n, max_size=n)))
    weights = np.array(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=n, max_size=n)))
    bounded = ((usage[np.isfinite(capacity)] > 0).any(axis=0)) | np.isfinite(caps)
    assume(bounded.all())
    return usage, capacity, caps, weights


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances())
def test_random_instances_invariants(case):
    usage, capacity, caps, w = case
    alloc = {r: tc.fair_allocation(usage, capacity, weights=w, rule=r, caps=caps) for r in F.RULES}
    tol = 1e-7
    for a in alloc.values():
        x = a.x.to_numpy()
        assert (x >= 0).all() and (x <= caps + tol).all()
        assert (usage[np.isfinite(capacity)] @ x <= capacity[np.isfinite(capacity)] + tol).all()
        assert 1 / len(x) - 1e-12 <= tc.jain_index(x) <= 1
        pof = tc.price_of_fairness(a, alloc["utilitarian"])
        assert 0 <= pof <= 1
    best, _ = lp_max(w, usage, capacity, caps)
    assert alloc["utilitarian"].welfare == pytest.approx(best, rel=1e-7, abs=1e-9)
    for a in alloc.values():
        assert a.welfare <= best + tol
        assert a.min_utility <= alloc["max_min"].min_utility + tol


@FAST
@given(instances())
def test_random_max_min_is_leximin(case):
    usage, capacity, caps, w = case
    u = tc.fair_allocation(usage, capacity, weights=w, rule="max_min", caps=caps).utilities.to_numpy()
    assert u == pytest.approx(leximin_lp(usage, capacity, caps, w), rel=1e-7, abs=1e-9)
    assert raisable(usage, capacity, caps, w, u) <= 1e-7


@FAST
@given(instances())
def test_random_proportional_optimality_condition(case):
    usage, capacity, caps, w = case
    a = tc.fair_allocation(usage, capacity, weights=w, rule="proportional", caps=caps)
    x = a.x.to_numpy()
    assert proportional_condition(usage, capacity, caps, x) <= 1e-7
    # agents left at 0 cannot get anything: a zero cap, or a zero capacity on their way
    for i in np.flatnonzero(x == 0):
        assert lp_max(np.eye(len(x))[i], usage, capacity, caps)[0] <= 1e-12
    # Kelly's prices: x_i (usage^T p)_i = 1 below the cap, complementary slackness
    p = a.prices.to_numpy()
    load = usage @ x
    for i in np.flatnonzero((x > 0) & (x < caps - 1e-7)):
        assert x[i] * (usage[:, i] @ p) == pytest.approx(1, rel=1e-8)
    finite = np.isfinite(capacity)
    assert np.all(p >= 0) and np.allclose(p[finite] * (capacity[finite] - load[finite]), 0, atol=1e-6)


@FAST
@given(instances())
def test_random_utilitarian_tie_break_is_proportional_on_the_optimal_face(case):
    usage, capacity, caps, w = case
    x = tc.fair_allocation(usage, capacity, weights=w, rule="utilitarian", caps=caps).x.to_numpy()
    best, _ = lp_max(w, usage, capacity, caps)
    face = (-w[None, :], np.array([-(best - 1e-9 * max(1.0, best))]))
    for i in np.flatnonzero(x == 0):  # zero at every optimum
        assert lp_max(np.eye(len(x))[i], usage, capacity, caps, extra_ub=face)[0] <= 1e-6
    if (x > 0).any():  # the face is widened by 1e-9 of the welfare: allow for it relative to the smallest x
        assert proportional_condition(usage, capacity, caps, x, face=face) <= 1e-6 * (1 + 1 / x[x > 0].min())


def test_random_utilitarian_prices_match_finite_differences():
    rng = np.random.default_rng(8)
    checked = 0
    for _ in range(40):
        usage = rng.integers(0, 3, (3, 4)).astype(float)
        usage[0] = 1.0
        capacity = rng.uniform(0.5, 3, 3)
        w = rng.uniform(0.5, 3, 4)
        p = tc.fair_allocation(usage, capacity, weights=w, rule="utilitarian").prices.to_numpy()
        base = lp_max(w, usage, capacity, np.inf)[0]
        for k in range(3):
            h = 1e-6
            up = (lp_max(w, usage, capacity + h * np.eye(3)[k], np.inf)[0] - base) / h
            down = (base - lp_max(w, usage, capacity - h * np.eye(3)[k], np.inf)[0]) / h
            if abs(up - down) < 1e-6:  # differentiable: the dual is unique
                assert p[k] == pytest.approx(up, abs=1e-5)
                checked += 1
    assert checked > 50


# --------------------------------------------------------------------------- envy


def test_envy_of_allocations_by_hand():
    ut = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="utilitarian")
    # agent 1 (utility x) values agent 0's whole unit at 1 and has nothing
    assert tc.envy(ut).to_numpy() == pytest.approx(np.array([[0, 0], [1, 0]]), **TIGHT)
    assert not tc.is_envy_free(ut)
    # with payments at the price 2 per unit (a competitive equilibrium) nobody envies (Varian 1974)
    pay = ut.prices.iloc[0] * ut.x
    assert tc.is_envy_free(ut, payments=pay) and tc.envy(ut, payments=pay.tolist()).to_numpy().max() == 0
    mm = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="max_min")
    assert tc.envy(mm).to_numpy() == pytest.approx(np.array([[0, 2 * 2 / 3 - 2 / 3], [0, 0]]), **TIGHT)
    assert tc.is_envy_free(tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="proportional"))  # equal split
    assert list(tc.envy(mm).index) == [0, 1] and tc.envy(mm).index.name == "envious"


def test_envy_of_market_outcomes_by_hand():
    values, costs = [12, 10, 8], [5, 7, 9]
    for mech in (uniform_price, vcg, trade_reduction):
        assert tc.is_envy_free(mech(values, costs), values=values, costs=costs), mech.__name__
    # SBBA leaves seller 1 (cost 7) out while seller 0 gets b_2 = 10: seller 1 envies it by 10 - 7 = 3.
    e = tc.envy(sbba([12, 10, 8], [5, 7]), values=[12, 10, 8], costs=[5, 7])
    assert e.loc["seller 1", "seller 0"] == 3 and e.to_numpy().sum() == 3
    # Pay-as-bid: buyers pay their values, sellers get their costs.
    o = Outcome(np.array([True, True]), np.array([True, True]), np.array([12.0, 10.0]), np.array([5.0, 7.0]), 10.0)
    e = tc.envy(o, values=[12, 10], costs=[5, 7])
    expected = np.zeros((4, 4))
    expected[0, 1] = 2  # buyer 0 would rather pay 10 than 12
    expected[2, 3] = 2  # seller 0 would rather get 7 than 5
    assert e.to_numpy() == pytest.approx(expected) and list(e.columns) == ["buyer 0", "buyer 1", "seller 0", "seller 1"]
    assert not tc.is_envy_free(o, values=[12, 10], costs=[5, 7])
    assert tc.is_envy_free(o, values=[12, 10], costs=[5, 7], tol=1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=4), st.lists(st.integers(0, 9), min_size=1, max_size=4),
       st.sampled_from([uniform_price, vcg, trade_reduction, sbba]))
def test_envy_of_outcomes_matches_the_definition(values, costs, mech):
    o = mech(values, costs)
    e = tc.envy(o, values=values, costs=costs).to_numpy()
    nb, ns = len(values), len(costs)
    v, c = np.array(values, float), np.array(costs, float)
    buyers = envy_by_loops(lambda i: v[i] * o.buyer_trades[i] - o.buyer_pays[i],
                           lambda i, j: v[i] * o.buyer_trades[j] - o.buyer_pays[j], nb)
    sellers = envy_by_loops(lambda i: o.seller_gets[i] - c[i] * o.seller_trades[i],
                            lambda i, j: o.seller_gets[j] - c[i] * o.seller_trades[j], ns)
    assert e[:nb, :nb] == pytest.approx(buyers) and e[nb:, nb:] == pytest.approx(sellers)
    assert (e[:nb, nb:] == 0).all() and (e[nb:, :nb] == 0).all() and (np.diag(e) == 0).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 3), min_size=2, max_size=4), st.data())
def test_envy_of_allocations_matches_the_definition(w_raw, data):
    n = len(w_raw)
    w = np.array(w_raw) + 0.5
    a = tc.fair_allocation(np.ones((1, n)), [1.0], weights=w, rule="max_min")
    pay = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n)))
    x = a.x.to_numpy()
    ref = envy_by_loops(lambda i: w[i] * x[i] - pay[i], lambda i, j: w[i] * x[j] - pay[j], n)
    assert tc.envy(a, payments=pay).to_numpy() == pytest.approx(ref, abs=1e-9)


# --------------------------------------------------------------------------- indices


def test_indices_by_hand():
    assert tc.jain_index([1, 1, 1]) == 1 and tc.jain_index([5, 0]) == 0.5
    assert tc.jain_index([1, 2]) == pytest.approx(9 / 10) and tc.jain_index([0, 0]) == 1.0
    assert tc.jain_index(pd.Series([1.0, 3.0])) == pytest.approx(16 / 20)
    ut = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="utilitarian")
    mm = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="max_min")
    pf = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="proportional")
    assert tc.price_of_fairness(mm, ut) == pytest.approx((2 - 4 / 3) / 2)
    assert tc.price_of_fairness(pf, ut) == pytest.approx((2 - 1.5) / 2)
    assert tc.price_of_fairness(1.5, 2) == 0.25 and tc.price_of_fairness(0, 0) == 0.0
    assert tc.worst_off(ut) == (1, 0.0) and tc.worst_off([3, 1, 1]) == (1, 1.0)
    assert tc.worst_off(mm)[1] == pytest.approx(2 / 3)


def test_compare_allocations():
    alloc = {r: tc.fair_allocation(*LINE, rule=r) for r in F.RULES}
    t = tc.compare_allocations(alloc)
    assert list(t.index) == list(F.RULES)
    assert t.loc["utilitarian", "welfare"] == pytest.approx(2) and t.loc["max_min", "worst_off_utility"] == 0.5
    assert t.loc["proportional", "price_of_fairness"] == pytest.approx((2 - 5 / 3) / 2)
    assert t.loc["utilitarian", "worst_off"] == 0 and t.loc["utilitarian", "jain_index"] == pytest.approx(4 / 6)
    assert bool(t.loc["max_min", "envy_free"]) and not bool(t.loc["utilitarian", "envy_free"])
    # without the utilitarian allocation it is computed
    t2 = tc.compare_allocations([alloc["max_min"]])
    assert t2.loc["max_min", "price_of_fairness"] == pytest.approx(0.25)


# amounts of 0 or at least 1e-100: scaling a subnormal amount by k can round it to 0 (x = [0, 5e-324], k = 0.5
# became [0, 0], whose index is 1, not 0.5), which changes the input, not the index's invariance
AMOUNTS = st.floats(0, 100).filter(lambda v: v == 0 or v >= 1e-100)


@settings(max_examples=60, deadline=None)
@given(st.lists(AMOUNTS, min_size=1, max_size=8), st.floats(0.01, 100))
def test_jain_index_bounds_and_scale_invariance(x, k):
    j = tc.jain_index(x)
    assert 1 / len(x) - 1e-12 <= j <= 1
    if sum(x) > 0:
        assert tc.jain_index(np.array(x) * k) == pytest.approx(j, rel=1e-9)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"usage": [[1, np.nan]]}, ValueError, "finite, non-negative .* agent 1 is nan"),
    ({"usage": [[1, -1]]}, ValueError, "resource 0 and agent 1 is -1"),
    ({"usage": "ab"}, TypeError, "got the string"),
    ({"usage": [[1, "a"]]}, TypeError, "matrix of numbers"),
    ({"usage": np.ones((1, 1, 2))}, ValueError, "one row per resource"),
    ({"usage": np.ones((0, 2))}, ValueError, "at least one resource and one agent"),
    ({"usage": pd.DataFrame([[1, 1]], columns=["a", "a"])}, ValueError, "agent \\(column\\) label 'a' more than once"),
    ({"usage": pd.DataFrame([[1], [1]], index=["r", "r"])}, ValueError, "resource \\(row\\) label 'r'"),
    ({"usage": pd.DataFrame([["x", 1]])}, TypeError, "only numbers"),
    ({"capacity": [1, 2]}, ValueError, "`capacity` has 2 entries; expected 1"),
    ({"capacity": [np.nan]}, ValueError, "`capacity` must be >= 0 .* resource 0 is nan"),
    ({"capacity": [-1]}, ValueError, "resource 0 is -1"),
    ({"capacity": [[1]]}, ValueError, "one-dimensional"),
    ({"capacity": pd.Series([1.0], index=["z"])}, ValueError, "does not match the resources"),
    ({"weights": [1, 0]}, ValueError, "agent 1 has 0.0"),
    ({"weights": [1, np.inf]}, ValueError, "`weights` must contain finite weights"),
    ({"weights": [1]}, ValueError, "`weights` has 1 entries; expected 2"),
    ({"caps": [1, -2]}, ValueError, "`caps` must be >= 0 .* agent 1 is -2"),
    ({"rule": "nash"}, ValueError, "`rule` must be one of"),
    ({"capacity": [np.inf]}, ValueError, "agent 0 uses no resource with a finite capacity and has no cap"),
])
def test_fair_allocation_errors(kwargs, exc, match):
    args = {"usage": [[1, 1]], "capacity": [1], "rule": "max_min", **kwargs}
    with pytest.raises(exc, match=match):
        tc.fair_allocation(args.pop("usage"), args.pop("capacity"), **args)


def test_problem_errors_and_solver_failures(monkeypatch):
    p = tc.FairnessProblem(LINE[0], [1, np.inf], caps=[np.inf, np.inf, 1])
    with pytest.raises(ValueError, match="resource 1 changes between finite and inf"):
        p.solve("max_min", capacity=[1, 1])
    with pytest.raises(ValueError, match="`rule` must be one of"):
        p.solve("leximax")

    def fail(problem, **options):
        raise cp.error.SolverError("boom")

    # every solve goes through te_course._solvers.solve, which raises the course's SolverError naming the problem
    monkeypatch.setattr(cp.Problem, "solve", fail)
    with pytest.raises(tc.SolverError, match="failed on the utilitarian LP .* \\(boom\\).*Check that `usage`"):
        tc.fair_allocation(*LINE, rule="utilitarian")
    monkeypatch.setattr(cp.Problem, "solve", lambda problem, **options: None)
    with pytest.raises(tc.SolverError, match="stopped on the proportional-fairness problem .* with status None"):
        tc.fair_allocation(*LINE, rule="proportional")
    assert tc.fair_allocation(*LINE, rule="max_min").x.tolist() == [0.5, 0.5, 0.5]  # no solver needed


def test_feeder_usage_and_worst_off_are_named_pairs():
    # NamedTuples: the old unpacking keeps working, and the parts have names
    result = tc.feeder_usage(ieee33(), [3, 19], capacity_kw={1: 500})
    assert isinstance(result, F.FeederUsage) and len(result) == 2
    usage, cap = result
    assert usage is result.usage and cap is result.capacity and result[0] is usage
    assert usage.to_numpy().tolist() == [[1, 1], [1, 0], [0, 1]] and cap.tolist() == [500.0, np.inf, np.inf]
    w = tc.worst_off(pd.Series([3.0, 1.0, 1.0], index=["a", "b", "c"]))
    assert isinstance(w, F.WorstOff) and w == ("b", 1.0) and (w.agent, w.utility) == ("b", 1.0)
    agent, utility = w
    assert (agent, utility) == (w[0], w[1])


def test_feeder_usage_errors():
    f = ieee33()
    with pytest.raises(TypeError, match="`feeder` must be a te_course Feeder"):
        tc.feeder_usage("ieee33", [18])
    with pytest.raises(ValueError, match="`buses` entry 1 \\(99\\) is not a bus of the feeder 'IEEE 33'"):
        tc.feeder_usage(f, [18, 99])
    with pytest.raises(ValueError, match="`buses` is empty"):
        tc.feeder_usage(f, [])
    with pytest.raises(ValueError, match="`buses` has the bus label 18 more than once"):
        tc.feeder_usage(f, [18, 18])
    with pytest.raises(ValueError, match="names the line 77, which is not a line"):
        tc.feeder_usage(f, [18], capacity_kw={77: 10})
    with pytest.raises(ValueError, match="`capacity_kw\\[1\\]` must be >= 0"):
        tc.feeder_usage(f, [18], capacity_kw={1: -5})
    with pytest.raises(ValueError, match="`capacity_kw` must be >= 0 .* line 1 is nan"):
        tc.feeder_usage(f, [18], capacity_kw=np.nan)
    looped = ieee33(tie_lines=True)
    looped.lines.loc[33, "in_service"] = True
    with pytest.raises(ValueError, match="is not radial"):
        tc.feeder_usage(looped, [18])


def test_envy_and_index_errors():
    a = tc.fair_allocation(*ONE_UNIT, rule="max_min")
    o = vcg([12, 10], [5, 7])
    with pytest.raises(TypeError, match="`values` and `costs` are for a market Outcome"):
        tc.envy(a, values=[1])
    with pytest.raises(TypeError, match="`payments` is for an Allocation"):
        tc.envy(o, payments=[1, 2])
    with pytest.raises(TypeError, match="needs the true `values`"):
        tc.envy(o, values=[12, 10])
    with pytest.raises(TypeError, match="must be an Allocation .* got dict"):
        tc.envy({})
    with pytest.raises(ValueError, match="`payments` has 3 entries; expected 2"):
        tc.envy(a, payments=[1, 2, 3])
    with pytest.raises(ValueError, match="`payments` must contain finite payments"):
        tc.envy(a, payments=[1, np.nan])
    with pytest.raises(ValueError, match="`outcome` has `buyer_trades` of shape \\(2,\\); expected \\(3,\\)"):
        tc.envy(o, values=[12, 10, 8], costs=[5, 7])
    with pytest.raises(ValueError, match="`tol` must be a non-negative number"):
        tc.is_envy_free(a, tol=-1)
    with pytest.raises(ValueError, match="`x` must contain non-negative amounts; entry 1 is -1.0"):
        tc.jain_index([1, -1])
    with pytest.raises(ValueError, match="`x` is empty"):
        tc.jain_index([])
    ut = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="utilitarian")
    mm = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="max_min")
    with pytest.raises(ValueError, match="has welfare 2, more than `utilitarian` \\(1.33333\\)"):
        tc.price_of_fairness(ut, mm)
    with pytest.raises(ValueError, match="allocations of different problems"):
        tc.price_of_fairness(a, ut)
    with pytest.raises(TypeError, match="`fair` must be an Allocation or a welfare"):
        tc.price_of_fairness("x", 1)
    with pytest.raises(ValueError, match="`utilitarian` must be a finite, non-negative welfare"):
        tc.price_of_fairness(1, -2)
    with pytest.raises(ValueError, match="`allocation` must contain finite utilities; entry 0 is nan"):
        tc.worst_off([np.nan, 1])
    with pytest.raises(ValueError, match="`allocations` is empty"):
        tc.compare_allocations([])
    with pytest.raises(TypeError, match="entry 'x' must be an Allocation"):
        tc.compare_allocations({"x": 1})


# --------------------------------------------------------------------------- issue 14: scale, range, types


@pytest.mark.parametrize(
    ("rule", "x"),
    [
        # By hand, one resource 1e-12 x_1 + 1e12 x_2 <= 1 and equal weights:
        ("utilitarian", [1e12, 0.0]),  # all to the agent that uses least (was [2e12, 0]: a load of 2)
        ("max_min", [1 / (1e-12 + 1e12)] * 2),  # equal amounts t with t (1e-12 + 1e12) = 1
        ("proportional", [0.5e12, 0.5e-12]),  # each agent's use is half the capacity: x_i = 1 / (2 usage_i)
    ],
)
def test_issue_14_agents_of_very_different_usage(rule, x):
    a = tc.fair_allocation([[1e-12, 1e12]], [1.0], rule=rule)
    assert a.x.to_numpy() == pytest.approx(x, rel=1e-9, abs=0)
    assert a.resource_table()["load"].iloc[0] <= 1.0 * (1 + 1e-12)


@pytest.mark.parametrize("rule", F.RULES)
@pytest.mark.parametrize("capacity", [1e-13, 1e-40, 1e40])
def test_small_and_large_capacities_are_not_zeroed_or_overrun(rule, capacity):
    # One resource shared by two agents with equal weights: x = (c/2, c/2) for every rule (utilitarian: its
    # tie-break); amounts below 1e-12 used to be zeroed as solver noise.
    a = tc.fair_allocation([[1.0, 1.0]], [capacity], rule=rule)
    assert a.x.to_numpy() == pytest.approx([capacity / 2] * 2, rel=1e-9, abs=0)
    if rule != "max_min":  # the price of one more unit of capacity, by hand: 1 (LP) and 2 / c (Kelly)
        assert a.prices.iloc[0] == pytest.approx(1.0 if rule == "utilitarian" else 2 / capacity, rel=1e-6, abs=0)


def _rescaled(usage, capacity, caps, w, f, g):
    """The same problem with agent i's amount in units of 1/f_i and resource k's in units of 1/g_k."""
    return usage * f[None, :] * g[:, None], capacity * g, caps / f, w * f


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.data())
def test_allocations_do_not_depend_on_the_units(case, data):
    # Measuring agent i's amount in units 1/f_i (usage and weight times f_i, cap over f_i) and resource k in
    # units 1/g_k changes no utility; f and g span 24 orders of magnitude.  Each rule's utilities must agree.
    usage, capacity, caps, w = case
    m, n = usage.shape
    f = 10.0 ** np.array(data.draw(st.lists(st.integers(-12, 12), min_size=n, max_size=n)))
    g = 10.0 ** np.array(data.draw(st.lists(st.integers(-12, 12), min_size=m, max_size=m)))
    scaled = _rescaled(usage, capacity, caps, w, f, g)
    for rule in F.RULES:
        base = tc.fair_allocation(usage, capacity, weights=w, rule=rule, caps=caps)
        other = tc.fair_allocation(scaled[0], scaled[1], weights=scaled[3], rule=rule, caps=scaled[2])
        assert other.utilities.to_numpy() == pytest.approx(base.utilities.to_numpy(), rel=1e-7, abs=1e-12)
        finite = np.isfinite(scaled[1])
        load = scaled[0][finite] @ other.x.to_numpy()
        assert (load <= scaled[1][finite] * (1 + 1e-7)).all()


def test_an_infeasible_solver_answer_is_a_solver_error(monkeypatch):
    # A last check after every solve: a solver answer that overloads a resource is never returned.
    monkeypatch.setattr(F.FairnessProblem, "_utilitarian", lambda self, w, sc, able: (np.ones(len(w)), np.zeros(1)))
    with pytest.raises(tc.SolverError, match=r"loads resource 0 with 2, more than its capacity 1"):
        tc.fair_allocation(*ONE_UNIT, rule="utilitarian", caps=1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"usage": [[1, 1e-120]]}, r"`usage` must contain 0 or numbers between 1e-100 and 1e\+100; the entry for "
                                   r"resource 0 and agent 1 is 1e-120"),
        ({"usage": [[1, 1e101]]}, r"`usage` must contain 0 or numbers between"),
        ({"capacity": [1e200]}, r"`capacity` must contain 0 or numbers between .* resource 0 is 1e\+200"),
        ({"caps": [1e-101, 1]}, r"`caps` must contain 0 or numbers between .* agent 0 is 1e-101"),
        ({"weights": [1.7e308, 1]}, r"`weights` must contain 0 or numbers between .* agent 0 is 1.7e\+308"),
        ({"weights": [1, 1e-200]}, r"`weights` must contain 0 or numbers between"),
        ({"usage": [[1, 10**400]]}, r"`usage` holds a number too large for a float \(entry \[0, 1\] is about 1e400\)"),
        ({"capacity": [10**400]}, r"`capacity` holds a number too large for a float"),
    ],
    ids=["usage-tiny", "usage-huge", "capacity-huge", "caps-tiny", "weight-1.7e308", "weight-tiny", "usage-int",
         "capacity-int"],
)
def test_numbers_outside_the_supported_range_are_named(kwargs, match):
    args = {"usage": [[1, 1]], "capacity": [1], "rule": "utilitarian", **kwargs}
    with pytest.raises(ValueError, match=match):
        tc.fair_allocation(args.pop("usage"), args.pop("capacity"), **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"usage": [[True, 1]]}, r"`usage` must contain numbers, not booleans"),
        ({"usage": pd.DataFrame({"a": [True], "b": [1.0]})}, r"`usage` must contain numbers, not booleans"),
        ({"usage": np.array([[1 + 1j, 1]])}, r"`usage` must contain real numbers"),
        ({"capacity": True}, r"`capacity` must contain numbers, not booleans"),
        ({"weights": [True, 1]}, r"`weights` must contain numbers, not booleans"),
        ({"caps": [1, False]}, r"`caps` must contain numbers, not booleans"),
    ],
    ids=["usage-list", "usage-frame", "usage-complex", "capacity", "weights", "caps"],
)
def test_booleans_and_complex_numbers_are_not_amounts(kwargs, match):
    args = {"usage": [[1, 1]], "capacity": [1], "rule": "max_min", **kwargs}
    with pytest.raises(TypeError, match=match):
        tc.fair_allocation(args.pop("usage"), args.pop("capacity"), **args)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([1e200, 1e200], 1.0),  # was OverflowError (the squares)
        ([1.7e308, 1.7e308, 0.0], 2 / 3),  # by hand: (2a)^2 / (3 * 2 a^2)
        ([5e-324, 5e-324], 1.0),  # the squares underflow to 0
        ([1e-200, 0.0, 0.0, 0.0], 0.25),
        ([1.7e308, 0.85e308], 0.9),  # like [2, 1]: 9 / (2 * 5)
    ],
)
def test_jain_index_at_any_finite_magnitude(x, expected):
    assert tc.jain_index(x) == pytest.approx(expected, rel=1e-12, abs=0)


def test_jain_index_and_worst_off_reject_booleans():
    with pytest.raises(TypeError, match=r"`x` must contain numbers, not booleans"):
        tc.jain_index([True, False])
    with pytest.raises(TypeError, match=r"`allocation` must contain numbers, not booleans"):
        tc.worst_off([True, 1.0])
    with pytest.raises(ValueError, match=r"`fair` is too large for a float"):
        tc.price_of_fairness(10**400, 1)
    with pytest.raises(ValueError, match=r"`payments` must contain payments of at most 1e\+150"):
        tc.envy(tc.fair_allocation(*ONE_UNIT, rule="max_min"), payments=[1.7e308, 0])


@pytest.mark.parametrize("allocations", [None, 5, "max_min"], ids=["None", "int", "str"])
def test_compare_allocations_names_its_argument(allocations):
    # compare_allocations(None) raised "'NoneType' object is not iterable".
    with pytest.raises(TypeError, match=r"`allocations` must be a dict of label -> Allocation or a list"):
        tc.compare_allocations(allocations)


def test_compare_allocations_takes_one_allocation_and_checks_utilitarian():
    a = tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="max_min")
    table = tc.compare_allocations(a)
    assert list(table.index) == ["max_min"] and table.loc["max_min", "price_of_fairness"] == pytest.approx(1 / 3)
    with pytest.raises(TypeError, match=r"`utilitarian` must be an Allocation \(or None\); got int"):
        tc.compare_allocations([a], utilitarian=3)


# --- issue 14: fuzz findings


def test_a_length_that_does_not_match_usage_names_usage():
    # `usage` with 3 agents but `caps` for 2: the message named `caps` only, and `usage` was the one changed
    with pytest.raises(ValueError, match=r"`caps` has 2 entries; expected 3, one per agent \(a column of `usage`\)"):
        tc.FairnessProblem([[1.0, 1.0, 1.0]], [1.0], caps=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"`capacity` has 1 entries; expected 2, one per resource \(a row of `usage`"):
        tc.fair_allocation([[1.0, 1.0], [1.0, 0.0]], [1.0], rule="max_min")


def test_feeder_usage_refuses_nested_buses():
    # a list inside `buses` reached pandas: "unhashable type: 'list'"
    with pytest.raises(TypeError, match=r"`buses` entry 0 is a list"):
        tc.feeder_usage(ieee33(), [[3, 4], 19])


def test_is_envy_free_names_values_costs_and_tol():
    o = uniform_price([12.0, 10.0, 8.0], [5.0, 7.0, 9.0])
    with pytest.raises(ValueError, match=r"`values` has 2 entries"):
        tc.is_envy_free(o, values=[12.0, 10.0], costs=[5.0, 7.0, 9.0])
    with pytest.raises(ValueError, match=r"`costs` has 4 entries"):
        tc.is_envy_free(o, values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0, 9.0])
    with pytest.raises(ValueError, match=r"`tol` is too large for a float"):  # was OverflowError
        tc.is_envy_free(o, values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0], tol=10**400)
    # a number given as text, read by the shared validation as a number, no longer crashes np.abs
    numeric = tc.is_envy_free(o, values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0])
    assert tc.is_envy_free(o, values=[12.0, 10.0, 8.0], costs=[5.0, "7", 9.0]) == numeric


# --------------------------------------------------------------------------- issue 16: the alpha-fair dial


def _one_line_alpha(w, capacity, alpha):
    """By hand, one line sum x = C: w_i^(1-a) x_i^(-a) = price for all i, so x_i is proportional to w_i^((1-a)/a)."""
    w = np.asarray(w, dtype=float)
    share = w ** ((1 - alpha) / alpha)
    return capacity * share / share.sum()


@pytest.mark.parametrize("alpha", [0.05, 0.5, 2.0, 3.7, 7.0, 10.0])
@pytest.mark.parametrize(("weights", "capacity"),
                         [([2.0, 1.0], 1.0), ([1.0, 3.0, 7.0, 0.2], 5.0), ([4.0, 4.0, 1.0], 0.3)])
def test_alpha_fair_one_line_closed_form(weights, capacity, alpha):
    a = tc.fair_allocation([np.ones(len(weights))], [capacity], weights=weights, rule="alpha", alpha=alpha)
    assert a.x.to_numpy() == pytest.approx(_one_line_alpha(weights, capacity, alpha), abs=2e-6 * capacity)
    assert a.rule == "alpha" and a.alpha == alpha and np.isnan(a.prices).all()


@pytest.mark.parametrize("alpha", [0.25, 0.5, 2.0, 2.3456789, 7.0, 10.0])
def test_alpha_fair_line_network_closed_form(alpha):
    # By hand, equal weights: the short flows get y, the long one x = 1 - y, and x^(-a) = 2 y^(-a) (the long
    # flow pays both link prices), so y = 2^(1/a) x and x = 1 / (1 + 2^(1/a)).
    x = tc.fair_allocation(*LINE, rule="alpha", alpha=alpha).x.to_numpy()
    long = 1 / (1 + 2 ** (1 / alpha))
    assert x == pytest.approx([long, 1 - long, 1 - long], abs=2e-6)


def test_alpha_zero_one_and_infinity_are_the_three_rules():
    usage, capacity = [[1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1]], [3.0, 2.0, 2.5]
    w, caps = [1.0, 2.0, 0.5, 1.5], [np.inf, 0.7, np.inf, np.inf]
    for alpha, rule in ((0, "utilitarian"), (1, "proportional"), (np.inf, "max_min")):
        named = tc.fair_allocation(usage, capacity, weights=w, rule=rule, caps=caps)
        dial = tc.fair_allocation(usage, capacity, weights=w, rule="alpha", alpha=alpha, caps=caps)
        assert dial.x.to_numpy() == pytest.approx(named.x.to_numpy(), abs=1e-12), alpha
        assert dial.rule == "alpha" and dial.alpha == alpha
    # and the dial moves continuously towards them: alpha -> 0 nears the utilitarian utilities, alpha -> inf
    # the max-min ones (Mo and Walrand 2000), one step closer at each tenfold alpha
    util = tc.fair_allocation(usage, capacity, weights=w, rule="utilitarian", caps=caps).x.to_numpy()
    mm = tc.fair_allocation(usage, capacity, weights=w, rule="max_min", caps=caps).x.to_numpy()
    near_0 = [np.abs(tc.fair_allocation(usage, capacity, weights=w, rule="alpha", alpha=a, caps=caps).x - util).max()
              for a in (0.3, 0.1, 0.03)]
    near_inf = [np.abs(tc.fair_allocation(usage, capacity, weights=w, rule="alpha", alpha=a, caps=caps).x - mm).max()
                for a in (1.5, 4.0, 10.0)]
    assert max(near_0) < 1e-3, near_0  # here the utilitarian optimum already has every agent above 0
    assert near_inf[0] > near_inf[1] > near_inf[2] and near_inf[2] < 0.1, near_inf


def test_alpha_fair_hand_case_with_a_cap():
    # One line of 1, equal weights, agent 0 capped at 0.2: whatever alpha, the two others split the rest equally.
    for alpha in (0.5, 2.0, 8.0):
        x = tc.fair_allocation([[1, 1, 1]], [1.0], rule="alpha", alpha=alpha, caps=[0.2, np.inf, np.inf]).x
        assert x.tolist() == pytest.approx([0.2, 0.4, 0.4], abs=2e-6)


@pytest.mark.parametrize("seed", range(4))
def test_alpha_fair_beats_scipy_on_random_instances(seed):
    # Independent reference: SLSQP from scipy on sum U_alpha(w x) over the same polytope; the package's optimum is
    # feasible, at least as good, and the same point (the objective is strictly concave in x).
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    m, n = 2 + seed % 2, 3 + seed % 3
    usage = rng.choice([0.0, 1.0, 2.0], size=(m, n), p=[0.3, 0.5, 0.2])
    usage[0, usage.sum(axis=0) == 0] = 1.0
    capacity = rng.integers(1, 6, m).astype(float)
    w = rng.uniform(0.5, 3.0, n).round(2)
    alpha = [0.5, 2.0, 4.0, 1.5][seed]

    def objective(x):
        u = np.maximum(w * x, 1e-12)
        return -np.sum(u ** (1 - alpha) / (1 - alpha))

    start = np.full(n, 0.5 * (capacity / usage.sum(axis=1)).min())
    ref = minimize(objective, start, method="SLSQP", bounds=[(1e-9, None)] * n,
                   constraints=[{"type": "ineq", "fun": lambda x: capacity - usage @ x}],
                   options={"ftol": 1e-14, "maxiter": 1000})
    assert ref.success, ref.message
    x = tc.fair_allocation(usage, capacity, weights=w, rule="alpha", alpha=alpha).x.to_numpy()
    assert (usage @ x <= capacity * (1 + 1e-9)).all()
    assert objective(x) <= ref.fun + 1e-7 * abs(ref.fun)
    assert x == pytest.approx(ref.x, abs=1e-4)


def test_alpha_problem_is_built_once_per_alpha():
    p = tc.FairnessProblem(*LINE)
    first = p.solve("alpha", alpha=2.0)
    built = p._alphas[2.0]["problem"]
    again = p.solve("alpha", alpha=2.0, weights=[1, 2, 3], capacity=[2, 2])
    assert p._alphas[2.0]["problem"] is built and not np.allclose(first.x, again.x)
    for a in np.linspace(0.1, 5, 20):  # a slider: only the last few are kept
        p.solve("alpha", alpha=float(a))
    assert len(p._alphas) <= 16


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rule": "alpha"}, ValueError, r"rule='alpha' needs `alpha`"),
        ({"rule": "alpha", "alpha": -0.5}, ValueError, r"`alpha` must be >= 0 .*got -0.5"),
        ({"rule": "alpha", "alpha": np.nan}, ValueError, r"`alpha` must be >= 0"),
        ({"rule": "alpha", "alpha": 10.5}, ValueError, r"`alpha` must be at most 10 or np.inf; got 10.5"),
        ({"rule": "alpha", "alpha": 10**400}, ValueError, r"`alpha` is too large for a float"),
        ({"rule": "alpha", "alpha": True}, TypeError, r"`alpha` must be a number >= 0 .*got bool"),
        ({"rule": "alpha", "alpha": "2"}, TypeError, r"`alpha` must be a number >= 0 .*got str"),
        ({"rule": "max_min", "alpha": 2.0}, ValueError, r"`alpha` is the parameter of rule='alpha'; rule='max_min'"),
        ({"rule": "fair"}, ValueError, r"`rule` must be one of \['utilitarian', 'max_min', 'proportional', 'alpha'\]"),
    ],
)
def test_alpha_is_validated(kwargs, error, match):
    with pytest.raises(error, match=match):
        tc.fair_allocation(*ONE_UNIT, **kwargs)
    with pytest.raises(error, match=match):
        tc.FairnessProblem(*ONE_UNIT).solve(**kwargs)


def test_alpha_solver_failure_names_alpha(monkeypatch):
    def fail(self, problem, x, what):
        raise tc.SolverError(f"The {what} ended with solver status 'infeasible'.")

    monkeypatch.setattr(F.FairnessProblem, "_run", fail)
    # without the solver, Newton's method from the max-min allocation still finds this one
    assert tc.fair_allocation(*ONE_UNIT, weights=[2, 1], rule="alpha", alpha=2.0).x.tolist() == pytest.approx(
        _one_line_alpha([2, 1], 1.0, 2.0).tolist(), abs=1e-12)
    monkeypatch.setattr(F.FairnessProblem, "_refine_alpha", lambda self, z, *args: (z, False))
    with pytest.raises(tc.SolverError, match=r"alpha-fair problem \(alpha = 2\) could not be solved.*`alpha`"):
        tc.fair_allocation(*ONE_UNIT, rule="alpha", alpha=2.0)
