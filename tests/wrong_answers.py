"""Plausible wrong answers to every exercise, and what the visible and the hidden tests make of them (issue 25).

A student's first teacher is the visible test under each exercise.  Each wrong answer here is
run against the exercise's **visible** tests (the test cell above its hidden part, in the
namespace of the executed solution notebook) and against its **hidden** check.  A visible test
*catches* a wrong answer when it fails it with an ``AssertionError`` that has a message (a
pointed one: not a bare ``assert``, not a ``TypeError`` from deep inside the test).

``python tests/wrong_answers.py`` prints, per chapter: wrong answers tried, caught by the
visible tests, caught only by the hidden ones.

Every exercise gets the stubs (``STUBS``) and the classic slips of its chapter (``SLIPS``): either
source defining the exercise's function, or an ``Edit`` of the model solution (the sign flipped,
the index off by one, a constraint left out), run in the chapter's namespace.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = "### BEGIN HIDDEN TESTS"

#: Answers that do no work: every exercise's visible tests must fail each with a pointed message.
STUBS = {
    "returns None": "return None",
    "returns 0": "return 0",
    "returns an empty dict": "return {}",
    "returns an empty list": "return []",
}

@dataclass(frozen=True)
class Edit:
    """A slip written as a change of the model solution: each ``old`` text, found exactly once, becomes ``new``."""

    changes: tuple[tuple[str, str], ...]

    def apply(self, solution: str) -> str:
        for old, new in self.changes:
            found = solution.count(old)
            if found != 1:
                raise LookupError(f"{old!r} occurs {found} times in the model solution, not once: update the edit")
            solution = solution.replace(old, new)
        return solution


def edit(*pairs: str) -> Edit:
    """``edit(old, new, old2, new2, ...)``: the model solution with each ``old`` replaced by its ``new``."""
    if len(pairs) % 2:
        raise ValueError("edit takes pairs: old, new, old, new, ...")
    return Edit(tuple(zip(pairs[::2], pairs[1::2], strict=True)))


#: The classic slips, by check id: label -> the function's source (its ``def`` line included), or an ``Edit``.
SLIPS = {
    # chapter 1
    "ex1_count_trades": {
        "a tie does not trade (> for >=)": (
            "def count_trades(bids, asks):\n"
            "    b, a = sorted(bids, reverse=True), sorted(asks)\n"
            "    return sum(1 for x, y in zip(b, a) if x > y)\n"
        ),
        "the orders left unsorted": (
            "def count_trades(bids, asks):\n"
            "    return sum(1 for x, y in zip(bids, asks) if x >= y)\n"
        ),
    },
    "ex2_clearing_interval": {
        "the last accepted orders only (the first rejected ones forgotten)": (
            "def clearing_interval(bids, asks):\n"
            "    b, a = sorted(bids, reverse=True), sorted(asks)\n"
            "    n = sum(1 for x, y in zip(b, a) if x >= y)\n"
            "    return (a[n - 1], b[n - 1])\n"
        ),
    },
    "ex3_k_price": {
        "k not checked": "def k_price(lo, hi, k):\n    return lo + k * (hi - lo)\n",
        "k measured from the top": "def k_price(lo, hi, k):\n    if not 0 <= k <= 1:\n        raise ValueError(k)\n"
                                   "    return hi - k * (hi - lo)\n",
    },
    "ex4_welfare": {
        "losing pairs counted": (
            "def welfare(bids, asks):\n"
            "    return sum(x - y for x, y in zip(sorted(bids, reverse=True), sorted(asks)))\n"
        ),
    },
    "ex5_lp_clearing": {
        "the dual's sign (the price comes out negative)": (
            "def lp_clearing(bid_prices, bid_quantities, ask_prices, ask_quantities):\n"
            "    x, y = cp.Variable(len(bid_prices)), cp.Variable(len(ask_prices))\n"
            "    balance = cp.sum(y) - cp.sum(x) == 0\n"
            "    bp, ap = np.asarray(bid_prices, float), np.asarray(ask_prices, float)\n"
            "    problem = cp.Problem(cp.Maximize(bp @ x - ap @ y),\n"
            "                         [balance, x >= 0, x <= bid_quantities, y >= 0, y <= ask_quantities])\n"
            "    problem.solve()\n"
            "    return problem.value, balance.dual_value\n"
        ),
    },
    "ex6_uniform_payments": {
        "sellers positive (the sign convention missed)": (
            "def uniform_payments(buyer_fills, seller_fills, price):\n"
            "    fills = np.concatenate([np.asarray(buyer_fills, float), np.asarray(seller_fills, float)])\n"
            "    return price * fills\n"
        ),
    },
    # chapter 2
    "ex1_battery_constraints": {
        "the efficiencies the wrong way round": (
            "def battery_constraints(c, d, soc, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh, dt_h):\n"
            "    previous = cp.hstack([soc0_kwh, soc[:-1]])\n"
            "    return [c >= 0, c <= p_max_kw, d >= 0, d <= p_max_kw, soc >= 0, soc <= e_max_kwh,\n"
            "            soc == previous + (c / eta_charge - d * eta_discharge) * dt_h]\n"
        ),
        "the initial state of charge forgotten": (
            "def battery_constraints(c, d, soc, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, soc0_kwh, dt_h):\n"
            "    previous = cp.hstack([0.0, soc[:-1]])\n"
            "    return [c >= 0, c <= p_max_kw, d >= 0, d <= p_max_kw, soc >= 0, soc <= e_max_kwh,\n"
            "            soc == previous + (eta_charge * c - d / eta_discharge) * dt_h]\n"
        ),
    },
    "ex2_two_step_profit": {
        "the losses ignored": (
            "def two_step_profit(p_lo, p_hi, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, dt_h=1.0):\n"
            "    return max(p_hi - p_lo, 0.0) * min(p_max_kw, e_max_kwh / dt_h) * dt_h\n"
        ),
        "trading at a loss (never idle)": (
            "def two_step_profit(p_lo, p_hi, *, e_max_kwh, p_max_kw, eta_charge, eta_discharge, dt_h=1.0):\n"
            "    charge_kw = min(p_max_kw, e_max_kwh / (eta_charge * dt_h))\n"
            "    return (p_hi * eta_charge * eta_discharge * charge_kw - p_lo * charge_kw) * dt_h\n"
        ),
    },
    "ex3_idle_below": {
        "the losses multiplied in": "def idle_below(p_lo, eta_charge, eta_discharge):\n"
                                    "    return p_lo * eta_charge * eta_discharge\n",
    },
    "ex4_smart_charging": {
        "the efficiency on the wrong side (c / eta reaches the battery)": edit(
            "energy_before + eta * dt_h * charge", "energy_before + dt_h * charge / eta"),
        "the plug-in window ignored": edit("charge <= p_max_kw * plugged,", "charge <= p_max_kw,"),
        "dt_h left out of the energy balance": edit("energy_before + eta * dt_h * charge",
                                                    "energy_before + eta * charge"),
        "the capacity bound left out": edit("        energy <= e_max_kwh,\n", ""),
    },
    # chapter 3
    "ex1_best_response": {
        "the limits forgotten": (
            "def best_response(price, a, b, p_min_kw, p_max_kw):\n"
            "    return (price - np.asarray(b, float)) / np.asarray(a, float)\n"
        ),
        "the sign flipped": (
            "def best_response(price, a, b, p_min_kw, p_max_kw):\n"
            "    a, b = np.asarray(a, float), np.asarray(b, float)\n"
            "    return np.clip((b - price) / a, p_min_kw, p_max_kw)\n"
        ),
    },
    "ex2_balance_price": {
        "a fixed number of steps, not until balance": (
            "def balance_price(a, b, p_min_kw, p_max_kw, *, step, tol=1e-9, max_iter=100_000):\n"
            "    a, b, price = np.asarray(a, float), np.asarray(b, float), 0.0\n"
            "    for _ in range(20):\n"
            "        price -= step * float(np.sum(np.clip((price - b) / a, p_min_kw, p_max_kw)))\n"
            "    return price\n"
        ),
    },
    "ex3_admm_exchange": {
        "the price's sign (excess supply raises it)": (
            "def admm_exchange(a, b, p_min_kw, p_max_kw, *, rho, tol=1e-8, max_iter=10_000):\n"
            "    a, b = np.asarray(a, float), np.asarray(b, float)\n"
            "    lo, hi, n = np.asarray(p_min_kw, float), np.asarray(p_max_kw, float), len(a)\n"
            "    p, p_avg, u = np.zeros(n), 0.0, 0.0\n"
            "    for rnd in range(1, max_iter + 1):\n"
            "        p_next = np.clip((rho * (p - p_avg + u) - b) / (a + rho), lo, hi)\n"
            "        avg_next = p_next.mean()\n"
            "        u -= avg_next\n"
            "        dual = rho * np.linalg.norm(p_next - p - avg_next + p_avg)\n"
            "        done = np.sqrt(n) * abs(avg_next) <= tol and dual <= tol\n"
            "        p, p_avg = p_next, avg_next\n"
            "        if done:\n"
            "            return -rho * u, p, rnd\n"
            "    return -rho * u, p, max_iter\n"
        ),
    },
    "ex4_fee_welfare_loss": {
        "each fee counted twice": (
            "def fee_welfare_loss(a, b, trading_cost, pool_dispatch, trades):\n"
            "    a, b = np.asarray(a, float), np.asarray(b, float)\n"
            "    trades, fees = np.asarray(trades, float), np.asarray(trading_cost, float)\n"
            "    welfare = lambda p: -float(np.sum(0.5 * a * p**2 + b * p))\n"
            "    paid = float(np.sum(fees * np.abs(trades)))\n"
            "    return welfare(np.asarray(pool_dispatch, float)) - (welfare(trades.sum(axis=1)) - paid)\n"
        ),
    },
    # chapter 4
    "ex1_lindistflow_chain": {
        "each line carries only its own bus's load": edit(
            "flow_p = np.cumsum(p[::-1])[::-1]", "flow_p = p", "flow_q = np.cumsum(q[::-1])[::-1]", "flow_q = q"),
        "v0_pu ignored (the substation at 1 p.u.)": edit("np.sqrt(v0_pu**2 - np.cumsum(drops))",
                                                          "np.sqrt(1.0 - np.cumsum(drops))"),
        "the drops taken off the voltage, not its square": edit("np.sqrt(v0_pu**2 - np.cumsum(drops))",
                                                                  "v0_pu - np.cumsum(drops) / 2"),
        "the factor 2 forgotten": edit("drops = 2 * (", "drops = ("),
    },
    "ex2_sweep_power_flow": {
        "the losses left in p.u.": edit("for bus in order) * feeder.s_base_kva", "for bus in order)"),
        "no error when the sweep does not settle": edit("raise tc.ConvergenceError(", "print("),
        "the substation left out of the result": edit("pd.Series({bus: abs(v[bus]) for bus in feeder.buses.index}",
                                                      "pd.Series({bus: abs(v[bus]) for bus in order}"),
        "the open tie lines used": edit(
            "graph, root = feeder.graph, feeder.substation",
            "graph, root = __import__('networkx').from_pandas_edgelist(feeder.lines, 'from_bus', 'to_bus', "
            "edge_attr=True), feeder.substation"),
    },
    "ex3_hosting_capacity": {
        "v_max_pu ignored (1.05 always)": edit(".v_pu.max() <= v_max_pu", ".v_pu.max() <= 1.05"),
        "a failed power flow counts as fine": edit(
            "too much PV\n            return False", "too much PV\n            return True"),
        "the bisection's ends moved the wrong way": edit("lo, hi = (mid, hi) if ok(mid) else (lo, mid)",
                                                         "lo, hi = (lo, mid) if ok(mid) else (mid, hi)"),
        "the lowest voltage checked, not the highest": edit(".v_pu.max() <= v_max_pu", ".v_pu.min() <= v_max_pu"),
    },
    # chapter 5
    "ex1_dc_opf_prices": {
        "the dual's sign (prices come out negative)": edit("lmp = -balance.dual_value", "lmp = balance.dual_value"),
        "the congestion rent's sign": edit("rent = float(-(a @ lmp)", "rent = float((a @ lmp)"),
        "the line limits left out": edit("if capped.size:", "if False:"),
    },
    "ex2_mlf_finite_difference": {
        "an injection, not a load (the sign flipped)": edit("with_injection(bus, -delta_kw)",
                                                           "with_injection(bus, delta_kw)"),
        "not divided by the step": edit("return (after - before) / delta_kw", "return after - before"),
    },
    "ex3_lindistflow_opf": {
        "the voltage limits not squared": edit("w[others] >= v_min_pu**2, w[others] <= v_max_pu**2",
                                               "w[others] >= v_min_pu, w[others] <= v_max_pu"),
        "the dual's sign": edit("pd.Series(-balance.dual_value", "pd.Series(balance.dual_value"),
        "the cost left in p.u.": edit('"cost": problem.value * sb', '"cost": problem.value'),
        "the line ratings left out": edit("if rated.size:", "if False:"),
    },
    "ex5_price_taker": {
        "always None (the marginal case everywhere)": (
            "def price_taker(price, offer, p_max_kw, tol=1e-6):\n"
            "    return None\n"
        ),
        "the sign flipped (runs when the price is below the offer)": (
            "def price_taker(price, offer, p_max_kw, tol=1e-6):\n"
            "    if abs(price - offer) <= tol:\n"
            "        return None\n"
            "    return float(p_max_kw) if price < offer else 0.0\n"
        ),
    },
    "ex4_congested_line": {
        "a positional index instead of the buses": (
            "def congested_line(prices, feeder):\n"
            "    gaps = (prices['total'].diff().abs()).fillna(0.0).to_numpy()\n"
            "    i = int(gaps.argmax())\n"
            "    return (i, i + 1)\n"
        ),
        "the line oriented towards the substation": edit("            return (a, b)", "            return (b, a)"),
    },
    # chapter 6
    "ex1_profitable_lie": {
        "a single clearing price (lo = hi) not recognised": edit("if lo >= hi:", "if lo > hi:"),
        "the seller's rank, not its position in costs": edit("return int(by_cost[k - 1]), ", "return k - 1, "),
    },
    "ex2_vcg_payments": {
        "the payments in sorted order, not aligned with the inputs": edit(
            "values, costs = np.asarray(values, float), np.asarray(costs, float)",
            "values, costs = -np.sort(-np.asarray(values, float)), np.sort(np.asarray(costs, float))"),
        "the trader's own part left in the others' welfare": edit(
            "pays[i] = without - (total - values[i])", "pays[i] = without - total",
            "gets[j] = (total + costs[j]) - without", "gets[j] = total - without"),
        "pay as bid": edit("pays[i] = without - (total - values[i])", "pays[i] = values[i]",
                           "gets[j] = (total + costs[j]) - without", "gets[j] = costs[j]"),
    },
    "ex3_mcafee": {
        "p0 from the last pair that trades, not the first that does not": edit(
            "p0 = (b[k] + s[k]) / 2", "p0 = (b[k - 1] + s[k - 1]) / 2"),
        "the reduction's prices swapped": edit("return k - 1, b[k - 1], s[k - 1]", "return k - 1, s[k - 1], b[k - 1]"),
        "a single pair kept when it is dropped": edit(
            '    if k == 1:\n        return 0, float("nan"), float("nan")\n', ""),
        "None instead of nan": edit('    if k == 0:\n        return 0, float("nan"), float("nan")',
                                    "    if k == 0:\n        return 0, None, None"),
        "the orders left unsorted": edit("b, s = sorted(values, reverse=True), sorted(costs)",
                                         "b, s = list(values), list(costs)"),
    },
    "ex4_summarise": {
        "efficiency as total welfare over total optimum": edit(
            '"efficiency": float(np.mean(w[positive] / opt[positive]))',
            '"efficiency": float(w[positive].sum() / opt[positive].sum())'),
        "the markets with no welfare to gain kept": edit("float(np.mean(w[positive] / opt[positive]))",
                                                         "float(np.mean(w / opt))"),
        "strong balance without the absolute value": edit("np.all(np.abs(s) <= tol)", "np.all(s <= tol)"),
        "weak balance in one market, not all": edit("np.all(s >= -tol)", "np.any(s >= -tol)"),
    },
    "ex5_audit": {
        "the liar's utility measured at its report": edit(
            'return (values[i] if o.buyer_trades[i] else 0.0) - o.buyer_pays[i]',
            'return (reported["buyer"][i] if o.buyer_trades[i] else 0.0) - o.buyer_pays[i]',
            "return o.seller_gets[i] - (costs[i] if o.seller_trades[i] else 0.0)",
            'return o.seller_gets[i] - (reported["seller"][i] if o.seller_trades[i] else 0.0)'),
        "the surplus's sign": edit("surplus = float(np.sum(o.buyer_pays) - np.sum(o.seller_gets))",
                                   "surplus = float(np.sum(o.seller_gets) - np.sum(o.buyer_pays))"),
        "the best report starts at the first report, not the truth": edit(
            "gains, best = np.zeros(truth[side].size), truth[side].copy()",
            "gains, best = np.zeros(truth[side].size), np.full(truth[side].size, reports[0])"),
        "individual rationality from the best lie, not the truth": edit(
            "            lowest = min(lowest, honest)\n", "",
            "                    gains[i], best[i] = gain, r\n",
            "                    gains[i], best[i] = gain, r\n            lowest = min(lowest, honest + gains[i])\n"),
    },
    # chapter 7
    "ex1_cournot_quantities": {
        "negative quantities kept": edit("if (q >= 0).all():", "if True:"),
        "the priced-out firms clipped to 0, not solved again": edit(
            "        if (q >= 0).all():\n            return q\n", "        return np.maximum(q, 0.0)\n"),
        "the priced-out firms dropped once, not until none is left": edit(
            "        active &= q > 0\n",
            "        active &= q > 0\n        n = int(active.sum())\n        q = np.zeros(costs.size)\n"
            "        q[active] = (a - (n + 1) * costs[active] + costs[active].sum()) / (b * (n + 1))\n"
            "        return np.maximum(q, 0.0)\n"),
        "n firms where the closed form has n + 1": edit(
            "q[active] = (a - (n + 1) * costs[active] + costs[active].sum()) / (b * (n + 1))",
            "q[active] = (a - n * costs[active] + costs[active].sum()) / (b * n)"),
    },
    "ex2_cournot_dynamics": {
        "the rounds counted from 0": edit("            return q, rounds\n", "            return q, rounds - 1\n"),
        "the simultaneous order played in turn": edit('if order == "simultaneous":', "if False:"),
        "the best response not kept at 0": edit("min(max((a - costs[i] - b * rest) / (2 * b), 0.0), limits[i])",
                                                "min((a - costs[i] - b * rest) / (2 * b), limits[i])"),
        "the capacities ignored": edit("0.0), limits[i])", "0.0), np.inf)"),
        "the whole total answered, the firm's own quantity included": edit("rest = np.sum(q) - q[i]",
                                                                          "rest = np.sum(q)"),
    },
    "ex3_dashboard": {
        "equal shares assumed": edit("shares = q / total", "shares = np.full(q.size, 1 / q.size)"),
        "the HHI on the 0-1 scale": edit("10_000 * np.sum(shares**2)", "np.sum(shares**2)"),
        "the prediction copies the Lerner index": edit("shares / abs(elasticity)", "(price - c) / price"),
        "the elasticity's sign kept": edit("shares / abs(elasticity)", "shares / elasticity"),
        "the Lerner index over the cost, not the price": edit("(price - c) / price", "(price - c) / c"),
    },
    "ex4_best_offer": {
        "the line always congested": edit("if q < edge else price_import", "if True else price_import"),
        "the top of the parabola only": edit(
            "candidates = np.clip([0.0, capacity_kw, edge, q_star], 0.0, capacity_kw)",
            "candidates = np.array([q_star])"),
        "the top of the parabola not kept within the capacity": edit(
            "candidates = np.clip([0.0, capacity_kw, edge, q_star], 0.0, capacity_kw)",
            "candidates = np.array([0.0, capacity_kw, min(max(edge, 0.0), capacity_kw), max(q_star, 0.0)])"),
        "the smaller of two equal offers": edit("return max(q for q, p", "return min(q for q, p"),
    },
    # chapter 8
    "ex1_share_one_resource": {
        "max-min in proportion to the weights": edit('"max_min": capacity * (1 / w) / np.sum(1 / w)',
                                                     '"max_min": capacity * w / np.sum(w)'),
        "the proportional rule in proportion to the weights": edit(
            '"proportional": np.full(w.size, capacity / w.size)', '"proportional": capacity * w / np.sum(w)'),
        "a tie for the largest weight goes to the first owner": edit(
            '"utilitarian": np.where(best, capacity / best.sum(), 0.0)',
            '"utilitarian": np.where(np.arange(w.size) == np.argmax(w), capacity, 0.0)'),
        "ties found by exact comparison": edit("best = np.isclose(w, w.max())", "best = w == w.max()"),
    },
    "ex2_buyer_envy": {
        "the table transposed (the envied in the rows)": edit("    return envy\n", "    return envy.T\n"),
        "another's deal judged with its own value": edit(
            "others = v[:, None] * t[None, :] - p[None, :]", "others = 0 * v[:, None] + (v * t - p)[None, :]"),
        "negative envy kept": edit("np.maximum(others - own[:, None], 0.0)", "others - own[:, None]"),
    },
    "ex3_fairness_measures": {
        "the price of fairness as a loss, not a share": edit("(best - float(np.sum(u))) / best",
                                                             "(best - float(np.sum(u)))"),
        "Jain's index without n": edit("/ (u.size * square)", "/ square"),
        "all-zero utilities not handled": edit("jain = 1.0 if square == 0 else ", "jain = "),
        "the loss measured against the allocation's own welfare": edit(
            "(best - float(np.sum(u))) / best", "(best - float(np.sum(u))) / float(np.sum(u))"),
    },
    "ex4_progressive_filling": {
        "the usage treated as 0 or 1 (owners counted)": edit("speed = a[:, rising].sum(axis=1)",
                                                              "speed = (a[:, rising] > 0).sum(axis=1)"),
        "everyone frozen when the first line fills": edit("rising &= ~(a[full] > 0).any(axis=0)",
                                                          "rising[:] = False"),
        "no check that every owner uses a line": edit(
            '    if not (a > 0).any(axis=0).all():\n'
            '        raise ValueError("every owner must use at least one line, or nothing limits its export")\n',
            "    x = np.zeros(a.shape[1])\n    if not (a > 0).any(axis=0).all():\n        return x + np.inf\n"),
    },
    # chapter 9
    "ex1_two_stage_battery": {
        "exports earn nothing": edit("costs = grid_in @ buy - grid_out @ sell", "costs = grid_in @ buy"),
        "EEV re-optimised (the mean-value plan not fixed)": edit("extensive_form(pv, p, fixed=mean_plan)",
                                                                 "extensive_form(pv, p)"),
        "VSS with its sign flipped": edit('"vss": eev - rp', '"vss": rp - eev'),
        "the end-of-day energy left free": edit(
            ",\n" + " " * 47 + "soc[load.size - 1] >= soc0_kwh]", "]"),
    },
    "ex2_first_congestion": {
        "the worst step instead of the first": (
            "def first_congestion(loading, limit=1.0):\n"
            "    over = loading.max(axis=1)\n"
            "    if not (over > limit).any():\n"
            "        return None\n"
            "    step = over.idxmax()\n"
            "    return step, loading.loc[step].idxmax()\n"
        ),
        "the first line over the limit, not the most loaded one": edit(
            "loading.loc[step].idxmax(skipna=True)", "loading.loc[step].gt(limit).idxmax()"),
        "a loading at the limit counts as over it": edit("highest[highest > limit]", "highest[highest >= limit]"),
        "a positional index instead of the line label": (
            "def first_congestion(loading, limit=1.0):\n"
            "    import numpy as np\n"
            "    hit = np.argwhere(loading.to_numpy() > limit)\n"
            "    if len(hit) == 0:\n"
            "        return None\n"
            "    t, j = hit[0]\n"
            "    return loading.index[t], int(j)\n"
        ),
    },
    "ex3a_robust_z_score": {
        "the 0.6745 forgotten": edit("0.6745 * deviation / mad", "deviation / mad"),
        "the mean and standard deviation, not the median and MAD": edit(
            "deviation = x - np.median(x)\n    mad = np.median(np.abs(deviation))",
            "deviation = x - np.mean(x)\n    mad = 0.6745 * np.std(x)"),
        "0, not infinity, off the median when the MAD is 0": edit(
            "np.where(deviation > 0, np.inf, np.where(deviation < 0, -np.inf, 0.0))", "np.zeros_like(deviation)"),
    },
    "ex3b_attack_damage": {
        "no damage after screening, always": (
            "def attack_damage(bids, asks, fake_asks, z_max=3.5):\n"
            "    honest = tc.clear_double_auction(bids, asks).welfare\n"
            "    attacked = tc.clear_double_auction(bids, list(asks) + list(fake_asks))\n"
            "    return honest - attacked.welfare, 0.0\n"
        ),
        "the phantom asks' energy counted as delivered": edit("served = r.buyer_fills * real / matched",
                                                             "served = r.buyer_fills"),
        "the asks screened on their price only": edit(
            " & (np.abs(robust_z_score(ask_book[:, 1])) <= z_max)", ""),
    },
}


@dataclass
class Outcome:
    """What the visible and the hidden tests made of one wrong answer."""

    chapter: str
    check_id: str
    label: str
    visible: str | None  # the visible test's message when it caught the answer, else None
    visible_why: str  # how the visible tests ended ("passed", "TypeError: ...", the message)
    hidden: bool  # whether the hidden check failed it


def _cells(chapter: str) -> list:
    return nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4).cells


def _grade_id(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def executed_namespace(chapter: str) -> dict:
    """Run the solution notebook's code cells in order, in one namespace, as a kernel would; return it."""
    import matplotlib

    matplotlib.use("Agg")
    from IPython.display import display

    namespace: dict = {"__name__": "__main__", "display": display}  # what a kernel offers every cell
    main = sys.modules["__main__"]
    saved = dict(vars(main))
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # its printouts
            for cell in _cells(chapter):
                if cell.cell_type == "code":
                    vars(main).update(namespace)  # hidden_check looks for aliases in __main__
                    exec(compile(cell.source, f"<{chapter} cell>", "exec"), namespace)  # noqa: S102
    finally:
        vars(main).clear()
        vars(main).update(saved)
        import matplotlib.pyplot as plt

        plt.close("all")  # the chapter's figures: the namespace keeps what the tests use
    return namespace


def exercise_cells(chapter: str) -> list[tuple[str, str, str, str]]:
    """(check id, function name, visible test source, model solution source) of each exercise of ``chapter``."""
    out, function, solution = [], None, ""
    for cell in _cells(chapter):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            m = re.search(r"^def (\w+)\(", cell.source, flags=re.M)
            function, solution = (m.group(1) if m else None), cell.source
        elif meta.get("grade") and HIDDEN in cell.source and function is not None:
            visible = cell.source[: cell.source.index(HIDDEN)]
            out.append((_grade_id(cell)[: -len("_tests")], function, visible, solution))
    return out


def exercises(chapter: str) -> list[tuple[str, str, str]]:
    """(check id, function name, visible test source) of each exercise of ``chapter``."""
    return [(check_id, function, visible) for check_id, function, visible, _ in exercise_cells(chapter)]


def slip_source(check_id: str, label: str, solution: str) -> str:
    """The source of one slip: as written, or the model solution with the slip's edit applied."""
    slip = SLIPS[check_id][label]
    return slip.apply(solution) if isinstance(slip, Edit) else slip


def _define(source: str, namespace: dict, name: str):
    scope = dict(namespace)
    exec(source, scope)  # noqa: S102
    return scope[name]


def _stub(function: str, body: str, namespace: dict):
    return _define(f"def {function}(*args, **kwargs):\n    {body}\n", namespace, function)


def visible_verdict(visible: str, function: str, answer, namespace: dict) -> tuple[str | None, str]:
    """Run the visible tests with ``answer`` in place of the student's function: (pointed message or None, how)."""
    scope = dict(namespace)
    scope[function] = answer
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # what the test cell prints is for the student's eyes
            exec(compile(visible, "<visible tests>", "exec"), scope)  # noqa: S102
    except AssertionError as err:
        message = str(err).strip()
        return (message or None), (message or "a bare AssertionError (no message)")
    except Exception as err:  # noqa: BLE001  (what the student would see instead of a pointed message)
        where = traceback.extract_tb(err.__traceback__)[-1]
        return None, f"{type(err).__name__}: {err} (in {where.filename}, line {where.lineno})"
    return None, "passed"


def hidden_verdict(check_id: str, answer) -> bool:
    """Whether the hidden check fails ``answer`` (on its development cases)."""
    from te_course import _checks

    check = _checks.get(check_id)
    try:
        cases = _checks.draw_cases(check, _checks.case_rng("wrong answers", "", "", check_id))
        results = json.loads(_checks.dumps(_checks._results(check, answer, cases, None)))  # noqa: SLF001
    except AssertionError:
        return True
    except Exception:  # noqa: BLE001  (an error in the student's function fails the hidden test too)
        return True
    return bool(_checks.verify(check, cases, results))


def outcomes(chapter: str) -> list[Outcome]:
    """Every wrong answer of every exercise of ``chapter``, run against the visible and the hidden tests."""
    namespace = executed_namespace(chapter)
    found = []
    for check_id, function, visible, solution in exercise_cells(chapter):
        answers = {label: _stub(function, body, namespace) for label, body in STUBS.items()}
        answers |= {label: _define(slip_source(check_id, label, solution), namespace, function)
                    for label in SLIPS.get(check_id, {})}
        for label, answer in answers.items():
            message, why = visible_verdict(visible, function, answer, namespace)
            found.append(Outcome(chapter, check_id, label, message, why, hidden_verdict(check_id, answer)))
    return found


def chapters() -> list[str]:
    from te_course.grading import assignments

    return [a for a in assignments(ROOT) if any(True for _ in exercises(a))]


def table(results: list[Outcome]) -> str:
    lines = ["| chapter | wrong answers tried | caught by the visible tests | caught only by the hidden ones "
             "| missed | failed by the hidden check |", "|---|---:|---:|---:|---:|---:|"]
    for chapter in sorted({o.chapter for o in results}):
        mine = [o for o in results if o.chapter == chapter]
        visible = sum(o.visible is not None for o in mine)
        only_hidden = sum(o.visible is None and o.hidden for o in mine)
        missed = sum(o.visible is None and not o.hidden for o in mine)
        hidden = sum(o.hidden for o in mine)
        lines.append(f"| {chapter} | {len(mine)} | {visible} | {only_hidden} | {missed} | {hidden} |")
    return "\n".join(lines)


if __name__ == "__main__":
    everything = [o for chapter in (sys.argv[1:] or chapters()) for o in outcomes(chapter)]
    print(table(everything))
    for o in everything:
        if o.visible is None:
            hidden = "fails it" if o.hidden else "PASSES it"
            print(f"- {o.check_id}, {o.label}: visible {o.visible_why[:150]}; hidden {hidden}")
