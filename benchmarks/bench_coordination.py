"""Benchmarks of te_course.coordination, called by run.py (see benchmarks/README.md).

1. ``price_iteration`` (step = 1/S, S = sum 1/a) and ``admm`` (rho = median a), both
   with vectorised closed-form best responses, on ``random_community(n_agents)`` for
   n = 10^2 ... 10^5: iterations and median wall time to bring the imbalance below
   1e-6 of total demand (``tol=1e-6``), next to the exact price by sorting and
   cvxpy's single QP (``centralized_dispatch``).
2. The same two methods with one cvxpy problem per agent (``vectorised=False``)
   at n = 10 and 100.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from timing import median_time

SIZES = (10**2, 10**3, 10**4, 10**5)
PER_AGENT_SIZES = (10, 100)
TOL = 1e-6
REPEATS = {"full": {10**2: 21, 10**3: 21, 10**4: 11, 10**5: 5}, "quick": {10**2: 5, 10**3: 5, 10**4: 3, 10**5: 1}}
QP_REPEATS = {"full": 3, "quick": 1}
QP_REQUIRED = {"full": (10**2, 10**3, 10**4), "quick": (10**2, 10**3)}
QP_BUDGET_S = 60.0
PER_AGENT = {"full": PER_AGENT_SIZES, "quick": (10,)}
TIME_TARGET_N, TIME_TARGET_S = 10**4, 1.0


def community_seed(n: int, seed: int) -> int:
    return seed + int(round(np.log10(n)))



def run(mode: str, seed: int, log) -> dict:
    from te_course.coordination import admm, centralized_dispatch, clearing_price, price_iteration, random_community

    out = {"rows": {}, "per_agent": {}, "mode": mode}
    previous_qp = None
    for n in SIZES:
        agents = random_community(n, seed=community_seed(n, seed))
        step, rho = 1.0 / agents.slope, float(np.median(agents.a))
        reps = REPEATS[mode][n]
        t_exact, exact = median_time(lambda ag=agents: clearing_price(ag), reps)
        t_pi, pi = median_time(lambda ag=agents, s=step: price_iteration(ag, step=s, tol=TOL), reps)
        t_admm, ad = median_time(lambda ag=agents, r=rho: admm(ag, rho=r, tol=TOL), reps)
        row = {
            "n": n,
            "repeats": reps,
            "exact_time": t_exact,
            "price": exact,
            "pi_iter": pi.iterations,
            "pi_time": t_pi,
            "pi_err": abs(pi.price - exact) / abs(exact),
            "admm_iter": ad.iterations,
            "admm_time": t_admm,
            "admm_err": abs(ad.price - exact) / abs(exact),
            "at_limit": float(
                np.mean((pi.dispatch <= agents.p_min_kw + 1e-9) | (pi.dispatch >= agents.p_max_kw - 1e-9))
            ),
        }
        estimate = None if previous_qp is None else previous_qp[1] * n / previous_qp[0]
        if n in QP_REQUIRED[mode] or (estimate is not None and estimate <= QP_BUDGET_S):
            qreps = QP_REPEATS[mode] if n < 10**5 else 1
            times = []
            for _ in range(qreps):
                t0 = time.perf_counter()
                qp = centralized_dispatch(agents)
                times.append(time.perf_counter() - t0)
            row["qp_time"] = statistics.median(times)
            row["qp_repeats"] = qreps
            row["qp_err"] = abs(qp.price - exact) / abs(exact)
            previous_qp = (n, row["qp_time"])
        else:
            row["qp_time"], row["qp_estimate"] = None, estimate
        out["rows"][n] = row
        qp_text = f"{row['qp_time']:.3g} s" if row["qp_time"] is not None else "skipped"
        log(
            f"coordination n=10^{int(np.log10(n))}: price iteration {pi.iterations} it {t_pi * 1e3:.3g} ms, "
            f"ADMM {ad.iterations} it {t_admm * 1e3:.3g} ms, exact {t_exact * 1e3:.3g} ms, cvxpy QP {qp_text}"
        )
    for n in PER_AGENT[mode]:
        agents = random_community(n, seed=community_seed(n, seed))
        step, rho = 1.0 / agents.slope, float(np.median(agents.a))
        exact = clearing_price(agents)
        row = {"n": n}
        for name, fn, kw in (("pi", price_iteration, {"step": step}), ("admm", admm, {"rho": rho})):
            t0 = time.perf_counter()
            slow = fn(agents, vectorised=False, tol=TOL, **kw)
            row[f"{name}_time"] = time.perf_counter() - t0
            t_fast, fast = median_time(lambda f=fn, k=kw, ag=agents: f(ag, tol=TOL, **k), 5)
            row[f"{name}_iter"] = slow.iterations
            row[f"{name}_fast_time"] = t_fast
            row[f"{name}_err"] = abs(slow.price - exact) / abs(exact)
            row[f"{name}_same"] = bool(
                slow.iterations == fast.iterations and np.allclose(slow.dispatch, fast.dispatch, atol=1e-6)
            )
        out["per_agent"][n] = row
        log(
            f"coordination n={n} cvxpy per agent: price iteration {row['pi_iter']} it {row['pi_time']:.3g} s, "
            f"ADMM {row['admm_iter']} it {row['admm_time']:.3g} s"
        )
    return out


def runs_text(k: int) -> str:
    return "1 run" if k == 1 else f"median of {k}"


def report(out: dict, fmt_time, fmt_n) -> str:
    rows = out["rows"]
    lines = [
        "**Coordination** (`te_course.coordination`): `random_community(n_agents)`, until the imbalance is below "
        f"{TOL:g} of total demand. Price iteration with step = 1/S (S = sum 1/a), ADMM with rho = median a; "
        "vectorised closed-form best responses. Median of the repeats shown; the cvxpy QP is "
        "`centralized_dispatch` (Clarabel).",
        "",
        "| agents | price iteration: iterations | time | ADMM: iterations | time | exact price (sorting) "
        "| cvxpy QP | largest price error vs exact | agents at a limit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in rows.items():
        if r["qp_time"] is not None:
            qp = f"{fmt_time(r['qp_time'])} ({runs_text(r['qp_repeats'])})"
            errs = [r["pi_err"], r["admm_err"], r["qp_err"]]
        else:
            est = r.get("qp_estimate")
            qp = f"skipped (estimated {est:,.0f} s)" if est else "skipped"
            errs = [r["pi_err"], r["admm_err"]]
        lines.append(
            f"| {fmt_n(n)} | {r['pi_iter']} | {fmt_time(r['pi_time'])} ({runs_text(r['repeats'])}) "
            f"| {r['admm_iter']} | {fmt_time(r['admm_time'])} | {fmt_time(r['exact_time'])} | {qp} "
            f"| {max(errs):.1e} | {100 * r['at_limit']:.0f} % |"
        )
    target = rows.get(TIME_TARGET_N)
    if target is not None:
        worst = max(target["pi_time"], target["admm_time"])
        ok = worst < TIME_TARGET_S
        lines += [
            "",
            f"Target at {fmt_n(TIME_TARGET_N)} agents: under {TIME_TARGET_S:.0f} s for each method: "
            f"{'met' if ok else '**missed**'} (slowest {fmt_time(worst)}).",
        ]
    if out["per_agent"]:
        lines += [
            "",
            "One cvxpy problem per agent (`vectorised=False`, Clarabel, each problem built once with a "
            "`cp.Parameter`), one run, against the vectorised closed form (median of 5):",
            "",
            "| agents | price iteration: iterations | cvxpy per agent | vectorised | ADMM: iterations "
            "| cvxpy per agent | vectorised | same iterates |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for n, r in out["per_agent"].items():
            same = "yes" if r["pi_same"] and r["admm_same"] else "NO"
            lines.append(
                f"| {n} | {r['pi_iter']} | {fmt_time(r['pi_time'])} | {fmt_time(r['pi_fast_time'])} "
                f"| {r['admm_iter']} | {fmt_time(r['admm_time'])} | {fmt_time(r['admm_fast_time'])} | {same} |"
            )
    return "\n".join(lines)
