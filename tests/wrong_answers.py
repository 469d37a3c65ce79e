"""Plausible wrong answers to every exercise, and what the visible and the hidden tests make of them (issue 25).

A student's first teacher is the visible test under each exercise.  Each wrong answer here is
run against the exercise's **visible** tests (the test cell above its hidden part, in the
namespace of the executed solution notebook) and against its **hidden** check.  A visible test
*catches* a wrong answer when it fails it with an ``AssertionError`` that has a message (a
pointed one: not a bare ``assert``, not a ``TypeError`` from deep inside the test).

``python tests/wrong_answers.py`` prints, per chapter: wrong answers tried, caught by the
visible tests, caught only by the hidden ones.

Every exercise gets the stubs (``STUBS``); some get the classic slips of their chapter
(``SLIPS``: source defining the exercise's function, run in the chapter's namespace).
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

#: The classic slips, by check id: label -> the function's source (its ``def`` line included).
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
    # chapter 5
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
    "ex3b_attack_damage": {
        "no damage after screening, always": (
            "def attack_damage(bids, asks, fake_asks, z_max=3.5):\n"
            "    honest = tc.clear_double_auction(bids, asks).welfare\n"
            "    attacked = tc.clear_double_auction(bids, list(asks) + list(fake_asks))\n"
            "    return honest - attacked.welfare, 0.0\n"
        ),
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
    return namespace


def exercises(chapter: str) -> list[tuple[str, str, str]]:
    """(check id, function name, visible test source) of each exercise of ``chapter``."""
    out, function = [], None
    for cell in _cells(chapter):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            m = re.search(r"^def (\w+)\(", cell.source, flags=re.M)
            function = m.group(1) if m else None
        elif meta.get("grade") and HIDDEN in cell.source and function is not None:
            out.append((_grade_id(cell)[: -len("_tests")], function, cell.source[: cell.source.index(HIDDEN)]))
    return out


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
    for check_id, function, visible in exercises(chapter):
        answers = {label: _stub(function, body, namespace) for label, body in STUBS.items()}
        answers |= {label: _define(src, namespace, function) for label, src in SLIPS.get(check_id, {}).items()}
        for label, answer in answers.items():
            message, why = visible_verdict(visible, function, answer, namespace)
            found.append(Outcome(chapter, check_id, label, message, why, hidden_verdict(check_id, answer)))
    return found


def chapters() -> list[str]:
    from te_course.grading import assignments

    return [a for a in assignments(ROOT) if any(True for _ in exercises(a))]


def table(results: list[Outcome]) -> str:
    lines = ["| chapter | wrong answers tried | caught by the visible tests | caught only by the hidden ones "
             "| missed |", "|---|---:|---:|---:|---:|"]
    for chapter in sorted({o.chapter for o in results}):
        mine = [o for o in results if o.chapter == chapter]
        visible = sum(o.visible is not None for o in mine)
        only_hidden = sum(o.visible is None and o.hidden for o in mine)
        missed = sum(o.visible is None and not o.hidden for o in mine)
        lines.append(f"| {chapter} | {len(mine)} | {visible} | {only_hidden} | {missed} |")
    return "\n".join(lines)


if __name__ == "__main__":
    everything = [o for chapter in (sys.argv[1:] or chapters()) for o in outcomes(chapter)]
    print(table(everything))
    for o in everything:
        if o.visible is None:
            hidden = "fails it" if o.hidden else "PASSES it"
            print(f"- {o.check_id}, {o.label}: visible {o.visible_why[:150]}; hidden {hidden}")
