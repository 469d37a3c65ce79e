"""Benchmarks for te_course: the double auction (pymarket 0.7.6 as the peer) and coordination.

Usage (from the repository root)::

    python benchmarks/run.py                  # full run, about a minute
    python benchmarks/run.py --quick          # smaller run, under 30 s
    python benchmarks/run.py --write-readme   # also put the tables into README.md
    python benchmarks/run.py --part coordination   # only one part (no --write-readme then)

What is measured (see benchmarks/README.md):

1. ``te_course.clear_double_auction`` on random divisible markets with n bids and
   n asks, n = 10^3 ... 10^6: median wall time of several calls (the market is
   generated beforehand and not timed), for an (n, 2) array and for a DataFrame.
   Peak memory of the 10^6 case is measured in a fresh subprocess.
2. pymarket's ``Market.run('huang')`` on the same markets, with a check that the
   two solve the same market.

pymarket is a benchmark-only dependency (``pip install -e '.[bench]'``).  If it is
not importable here, set ``PYMARKET_PYTHON`` to an interpreter that has it; this
script then runs its pymarket part in that interpreter (only numpy and pymarket
are needed there).

3. ``te_course.coordination``: price iteration and ADMM for 10^2 ... 10^5 agents,
   cvxpy per agent at 10 and 100 agents, the central cvxpy QP (bench_coordination.py).
4. ``te_course.powerflow``: ac_power_flow and lindistflow on IEEE 33 and radial feeders of
   10^3 ... 10^5 buses against pandapower's runpp on the same feeders (bench_powerflow.py).
5. ``te_course.opf``: cold and warm DLMP solves on IEEE 33 and radial feeders (bench_dlmp.py).
6. ``te_course.mechanisms``: the property table by simulation (bench_mechanisms.py).
7. ``te_course.scheduling``: a day on the feeder, day-ahead and hourly clearing (bench_day.py).
8. ``te_course.grading``: autograding throughput, a class of 30 on one assignment (bench_grading.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
INSTALL_HINT = "pip install -e '.[bench]'"

SIZES = (10**3, 10**4, 10**5, 10**6)
SEED = 20261101
# te_course: calls per size (the median is reported), after one untimed warm-up call.
TE_REPEATS = {"full": {10**3: 51, 10**4: 21, 10**5: 9, 10**6: 5}, "quick": {10**3: 11, 10**4: 5, 10**5: 3, 10**6: 3}}
# pymarket: sizes that always run, repeats per size, and the time a further size may take.
PM_REQUIRED = {"full": (10**3, 10**4), "quick": (10**3,)}
PM_REPEATS = {"full": {10**3: 3}, "quick": {10**3: 1}}  # other sizes: a single run
PM_BUDGET_S = {"full": 60.0, "quick": 10.0}
MEMORY_TARGET_MB, TIME_TARGET_S = 500.0, 1.0


# --------------------------------------------------------------------------- markets


def make_market(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return n bids and n asks as (n, 2) arrays of (price, quantity).

    Prices are uniform on [0, 20] on both sides, so the curves cross near 10;
    quantities are uniform on [0.1, 5] kWh.
    """
    rng = np.random.default_rng(seed)
    bids = np.column_stack((rng.uniform(0.0, 20.0, n), rng.uniform(0.1, 5.0, n)))
    asks = np.column_stack((rng.uniform(0.0, 20.0, n), rng.uniform(0.1, 5.0, n)))
    return bids, asks


def seed_for(n: int, seed: int) -> int:
    return seed + int(round(math.log10(n)))


# --------------------------------------------------------------------------- helpers


def timed(fn, repeats: int, warmup: bool = True) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn()``, garbage collector off as in timeit."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return times


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.3g} ms"
    if s < 100:
        return f"{s:.3g} s"
    return f"{s:,.0f} s"


def fmt_n(n: int) -> str:
    return f"10^{int(round(math.log10(n)))}"


def fmt_ratio(r: float) -> str:
    return f"{r:,.0f}×" if r >= 10 else f"{r:.2g}×"


def import_te_course():
    """Import te_course from this working tree (no install needed)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        import te_course
    except ImportError as exc:
        sys.exit(f"Cannot import te_course ({exc}); run `pip install -e .` in {ROOT}.")
    return te_course


def ru_maxrss_mb() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


def vm_hwm_mb() -> float | None:
    """Peak resident memory of this process image from /proc (Linux), for a cross-check."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- children


def child_memory(n: int, seed: int) -> dict:
    """Run in a fresh interpreter: peak memory of one clear_double_auction call.

    ru_maxrss is the process's high-water mark, so its growth across the call is
    the extra resident memory the call needed on top of what was already there
    (interpreter, imports, the generated market).  tracemalloc's peak (numpy
    reports its buffers to it) is measured on a second call.
    """
    te = import_te_course()
    import tracemalloc

    bids, asks = make_market(n, seed)
    gc.collect()
    before = ru_maxrss_mb()
    vm_hwm_before = vm_hwm_mb()
    t0 = time.perf_counter()
    result = te.clear_double_auction(bids, asks)
    cold = time.perf_counter() - t0
    after = ru_maxrss_mb()
    del result
    gc.collect()
    tracemalloc.start()
    te.clear_double_auction(bids, asks)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "vm_hwm_before_mb": vm_hwm_before,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_delta_mb": after - before,
        "tracemalloc_peak_mb": peak / 2**20,
        "cold_call_s": cold,
    }


def _instrument_huang():
    """Time pymarket's stepwise curve intersection separately (for extrapolation).

    ``intersect_stepwise`` evaluates both step curves at every breakpoint by a
    Python loop over the steps, which is quadratic in the number of orders; the
    rest of ``run('huang')`` (pandas group-by, iterrows) is about linear.  The
    wrapper only adds a clock read around the call.
    """
    module = sys.modules.get("pymarket.mechanisms.huang_auction")
    spent = [0.0]
    if module is None or not hasattr(module, "intersect_stepwise"):
        return spent
    original = getattr(module, "_bench_original_intersect", module.intersect_stepwise)

    def intersect_stepwise(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    module._bench_original_intersect = original
    module.intersect_stepwise = intersect_stepwise
    return spent


def pymarket_measure(bids: np.ndarray, asks: np.ndarray, repeats: int) -> dict:
    """Build a pymarket Market from the arrays and run Huang's auction ``repeats`` times.

    Timed: adding the orders (``accept_bid``) and ``run('huang')``.  Returns the
    times and what the comparison needs (traded volume, prices, welfare).
    """
    from importlib.metadata import version

    with warnings.catch_warnings():
        # pymarket 0.7.6 calls pandas in ways that pandas 2.x deprecates.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import pymarket as pm

        spent = _instrument_huang()
        n_b = len(bids)
        b_rows, a_rows = bids.tolist(), asks.tolist()
        times, quad = [], []
        for _ in range(repeats):
            gc.collect()
            spent[0] = 0.0
            t0 = time.perf_counter()
            market = pm.Market()
            for i, (p, q) in enumerate(b_rows):
                market.accept_bid(q, p, i, True)  # quantity, price, user, buying
            for i, (p, q) in enumerate(a_rows):
                market.accept_bid(q, p, n_b + i, False)
            transactions, extra = market.run("huang")
            times.append(time.perf_counter() - t0)
            quad.append(spent[0])
        trades = transactions.get_df()
    ids = trades["bid"].to_numpy(dtype=np.int64)
    qty = trades["quantity"].to_numpy(dtype=float)
    is_buy = ids < n_b
    welfare = float(bids[ids[is_buy], 0] @ qty[is_buy] - asks[ids[~is_buy] - n_b, 0] @ qty[~is_buy])

    def num(key):
        v = extra.get(key)
        return None if v is None else float(v)

    import pandas as pd

    return {
        "version": version("pymarket"),
        "pandas": pd.__version__,
        "times": times,
        "intersect_times": quad,
        "quantity": num("quantity_traded"),
        "bought": float(qty[is_buy].sum()),
        "sold": float(qty[~is_buy].sum()),
        "price_sell": num("price_sell"),
        "price_buy": num("price_buy"),
        "welfare": welfare,
        "n_trades": int(len(trades)),
    }


# --------------------------------------------------------------------------- pymarket driver


def _probe_versions() -> str:
    import importlib.metadata as md

    return json.dumps({k: md.version(k) for k in ("pymarket", "pandas", "numpy")})


_PROBE = "import json, importlib.metadata as md, pymarket, pandas, numpy; " + (
    "print(json.dumps({k: md.version(k) for k in ('pymarket', 'pandas', 'numpy')}))"
)


class PymarketRunner:
    """Run pymarket here if importable, else in the interpreter named by PYMARKET_PYTHON."""

    def __init__(self):
        self.python = os.environ.get("PYMARKET_PYTHON") or None
        self.available = False
        self.where = ""
        self.reason = ""
        self.versions = {}
        if self.python:
            try:
                probe = subprocess.run(
                    [self.python, "-c", _PROBE], capture_output=True, text=True, check=False, timeout=120
                )
            except OSError as exc:
                probe = subprocess.CompletedProcess([], 1, "", str(exc))
            if probe.returncode == 0:
                self.available, self.where = True, f"subprocess `{self.python}` (PYMARKET_PYTHON)"
                self.versions = json.loads(probe.stdout.strip().splitlines()[-1])
            else:
                self.reason = f"PYMARKET_PYTHON={self.python} cannot import pymarket, pandas and numpy"
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pymarket  # noqa: F401
        except ImportError:
            self.reason = f"pymarket not installed ({INSTALL_HINT})"
        else:
            self.available, self.where = True, "in process"
            self.versions = json.loads(_probe_versions())

    def measure(self, bids, asks, repeats: int) -> dict:
        if not self.python:
            return pymarket_measure(bids, asks, repeats)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "market.npz"
            np.savez(path, bids=bids, asks=asks)
            cmd = [self.python, str(Path(__file__).resolve()), "--child", "pymarket", "--market", str(path)]
            cmd += ["--repeats", str(repeats)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1800)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            raise RuntimeError(f"in {self.python}: {last[0]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def estimate_next(n_from: int, n_to: int, total: float, quadratic: float) -> float:
    """Extrapolate pymarket's time: the intersection part as n^2, the rest as n."""
    f = n_to / n_from
    return quadratic * f**2 + (total - quadratic) * f


# --------------------------------------------------------------------------- comparison


def compare(te_result, bids, asks, pm_out) -> dict:
    """What Huang's mechanism should give on this market, computed from te_course's clearing.

    Huang, Scheller-Wolf and Sycara (2002) take the last accepted bid and ask of
    the merit order (te_course's marginal orders) as price setters: sellers are
    paid the marginal ask, buyers pay the marginal bid, and the price setters
    themselves do not trade.  The volume is the smaller of the demand strictly
    above the marginal bid and the supply strictly below the marginal ask (the
    long side is rationed).
    """
    bid_p, bid_q, ask_p, ask_q = bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1]
    marginal_bid = float(bid_p[te_result.buyer_fills > 0].min())
    marginal_ask = float(ask_p[te_result.seller_fills > 0].max())
    expected_q = float(min(bid_q[bid_p > marginal_bid].sum(), ask_q[ask_p < marginal_ask].sum()))
    # pymarket rounds prices to 5 decimals when it merges equal prices.
    tol_p = 1e-5
    checks = {
        "price_sell == marginal ask": pm_out["price_sell"] is not None
        and abs(pm_out["price_sell"] - marginal_ask) <= tol_p,
        "price_buy == marginal bid": pm_out["price_buy"] is not None
        and abs(pm_out["price_buy"] - marginal_bid) <= tol_p,
        "volume == expected": pm_out["quantity"] is not None
        and math.isclose(pm_out["quantity"], expected_q, rel_tol=1e-9, abs_tol=1e-9)
        and math.isclose(pm_out["bought"], pm_out["sold"], rel_tol=1e-9, abs_tol=1e-9),
        "te price in [sell, buy]": pm_out["price_sell"] is not None
        and pm_out["price_sell"] - tol_p <= te_result.price <= pm_out["price_buy"] + tol_p,
        "welfare <= te welfare": pm_out["welfare"] <= te_result.welfare * (1 + 1e-12),
    }
    return {
        "marginal_bid": marginal_bid,
        "marginal_ask": marginal_ask,
        "expected_q": expected_q,
        "checks": checks,
        "agree": all(checks.values()),
    }


# --------------------------------------------------------------------------- main run


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "–"


def environment(te_course, pm_version: str | None, mode: str, load: str) -> dict:
    import pandas as pd

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "te_course": getattr(te_course, "__version__", "?"),
        "pymarket": pm_version or "–",
        "load": load,
        "mode": mode,
    }


def measure_memory(n: int, seed: int) -> dict:
    """Run ``child_memory`` in a fresh interpreter and return its JSON answer."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "memory", "--n", str(n), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory subprocess failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(mode: str, seed: int, log) -> dict:
    # First, while this process is still small: on Linux a child inherits the
    # parent's ru_maxrss high-water mark through fork and exec, which would
    # hide the growth we want to see if this process already held the markets.
    n_mem = SIZES[-1]
    memory = measure_memory(n_mem, seed_for(n_mem, seed))
    log(f"memory      n={fmt_n(n_mem)}: ru_maxrss +{memory['rss_delta_mb']:.0f} MB, "
        f"tracemalloc peak {memory['tracemalloc_peak_mb']:.0f} MB (fresh subprocess)")

    te = import_te_course()
    import pandas as pd

    out = {"te": {}, "pm": {}, "cmp": {}, "mode": mode, "seed": seed, "memory": memory}
    markets = {}
    for n in SIZES:
        bids, asks = make_market(n, seed_for(n, seed))
        markets[n] = (bids, asks)
        reps = TE_REPEATS[mode][n]
        t_arr = timed(lambda b=bids, a=asks: te.clear_double_auction(b, a), reps)
        bdf, adf = (pd.DataFrame(x, columns=["price", "quantity"]) for x in (bids, asks))
        t_df = timed(lambda b=bdf, a=adf: te.clear_double_auction(b, a), reps)
        result = te.clear_double_auction(bids, asks)
        out["te"][n] = {
            "array": statistics.median(t_arr),
            "frame": statistics.median(t_df),
            "array_min": min(t_arr),
            "repeats": reps,
            "quantity": result.quantity,
            "welfare": result.welfare,
            "price": result.price,
            "result": result,
        }
        t = out["te"][n]
        log(f"te_course   n={fmt_n(n)}: {fmt_time(t['array'])} (array), {fmt_time(t['frame'])} (DataFrame), "
            f"median of {reps}")

    pm = PymarketRunner()
    out["pm_where"], out["pm_reason"] = pm.where, pm.reason
    if pm.versions:
        out["pm_version"] = f"{pm.versions['pymarket']} (pandas {pm.versions['pandas']}"
        out["pm_version"] += ", separate interpreter)" if pm.python else ")"
    if not pm.available:
        log(pm.reason)
        return out
    log(f"pymarket: {pm.where}")
    previous = None  # (n, total time, intersection time) of the last size that ran
    for n in SIZES:
        estimate = None if previous is None else estimate_next(previous[0], n, previous[1], previous[2])
        if n not in PM_REQUIRED[mode] and (estimate is None or estimate > PM_BUDGET_S[mode]):
            out["pm"][n] = {"skipped": True, "estimate": estimate}
            log(f"pymarket    n={fmt_n(n)}: skipped (estimated {fmt_time(estimate) if estimate else '?'})")
            # the next size is extrapolated from the same measured size
            continue
        bids, asks = markets[n]
        try:
            pm_out = pm.measure(bids, asks, PM_REPEATS[mode].get(n, 1))
        except Exception as exc:  # a peer that breaks should not stop the te_course report
            msg = f"{type(exc).__name__}: {exc}"
            if "read-only" in msg and int(pm.versions.get("pandas", "0").split(".")[0]) >= 3:
                msg += (
                    f" (pymarket 0.7.6 does not run on pandas {pm.versions['pandas']}: under pandas 3's "
                    "copy-on-write its split_transactions_merged_players writes into a read-only array; "
                    "use an interpreter with pandas < 3)"
                )
            out["pm"][n] = {"skipped": False, "failed": True}
            out["pm_error"] = msg
            log(f"pymarket    n={fmt_n(n)}: failed: {msg}")
            break
        med = statistics.median(pm_out["times"])
        quad = statistics.median(pm_out["intersect_times"]) if any(pm_out["intersect_times"]) else med
        out["pm"][n] = {"skipped": False, "time": med, "repeats": len(pm_out["times"]), "estimate": estimate, **pm_out}
        out["cmp"][n] = compare(out["te"][n]["result"], bids, asks, pm_out)
        previous = (n, med, quad)
        log(f"pymarket    n={fmt_n(n)}: {fmt_time(med)} (median of {len(pm_out['times'])}), "
            f"ratio {fmt_ratio(med / out['te'][n]['array'])}, agree: {out['cmp'][n]['agree']}")
    return out


# --------------------------------------------------------------------------- report


def report(out: dict, env: dict) -> str:
    lines = [
        "| date | CPUs | load avg 1/5/15 min | machine | Python | numpy | pandas | te_course | pymarket | run |",
        "|---|---:|---|---|---|---|---|---|---|---|",
        f"| {env['date']} | {env['cpus']} | {env['load']} | {env['machine']} | {env['python']} | {env['numpy']} "
        f"| {env['pandas']} | {env['te_course']} | {env['pymarket']} | {env['mode']} |",
        "",
        "| orders per side | te_course, (n,2) array | te_course, DataFrame | pymarket `huang` "
        "| pymarket / te_course (array) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in SIZES:
        te = out["te"][n]
        pm = out["pm"].get(n)
        if not out["pm_where"]:
            pm_cell, ratio = "–", "–"
        elif pm is None:
            pm_cell, ratio = "–", "–"
        elif pm.get("failed"):
            pm_cell, ratio = "failed (see below)", "–"
        elif pm["skipped"]:
            est = pm["estimate"]
            pm_cell = f"skipped (estimated {est:,.0f} s)" if est else "skipped"
            ratio = f"≈ {fmt_ratio(est / te['array'])} (est.)" if est else "–"
        else:
            pm_cell = f"{fmt_time(pm['time'])} ({_runs(pm['repeats'])})"
            ratio = fmt_ratio(pm["time"] / te["array"])
        lines.append(
            f"| {fmt_n(n)} | {fmt_time(te['array'])} ({_runs(te['repeats'])}) | {fmt_time(te['frame'])} "
            f"| {pm_cell} | {ratio} |"
        )
    mem, n_mem = out["memory"], SIZES[-1]
    t_big = out["te"][n_mem]["array"]
    ok = mem["rss_delta_mb"] < MEMORY_TARGET_MB and t_big < TIME_TARGET_S
    lines += [
        "",
        f"Peak memory at {fmt_n(n_mem)} bids and {fmt_n(n_mem)} asks, one call in a fresh subprocess: "
        f"**{mem['rss_delta_mb']:.0f} MB** growth of `ru_maxrss` across the call "
        f"(process high-water mark {mem['rss_after_mb']:.0f} MB, of which {mem['rss_before_mb']:.0f} MB before "
        f"the call: interpreter, imports and the market); `tracemalloc` peak {mem['tracemalloc_peak_mb']:.0f} MB. "
        f"Target under {MEMORY_TARGET_MB:.0f} MB and under {TIME_TARGET_S:.0f} s: "
        f"{'met' if ok else '**missed**'} (median {fmt_time(t_big)}, "
        f"best {fmt_time(out['te'][n_mem]['array_min'])} of {out['te'][n_mem]['repeats']}).",
    ]
    hwm = mem.get("vm_hwm_before_mb")
    if hwm is not None and mem["rss_before_mb"] > hwm + 1.0:
        lines.append(
            f"(Caution: `ru_maxrss` before the call ({mem['rss_before_mb']:.0f} MB) exceeds this process image's "
            f"VmHWM ({hwm:.0f} MB): a high-water mark inherited from the parent hides part of the growth.)"
        )
    if not out["pm_where"]:
        lines += ["", out["pm_reason"] + "."]
        return "\n".join(lines)
    if out.get("pm_error"):
        lines += ["", f"pymarket failed: {out['pm_error']}."]
    if not out["cmp"]:
        return "\n".join(lines)
    lines += [
        "",
        "Same market, same answer: pymarket's `huang` (Huang, Scheller-Wolf and Sycara 2002) against what it should "
        "give by te_course's merit order. Its price setters are te_course's marginal (last accepted) bid and ask, "
        "which do not trade, so it trades a little less: the smaller of the demand above the marginal bid and the "
        "supply below the marginal ask, at two prices (sellers get the marginal ask, buyers pay the marginal bid).",
        "",
        "| orders per side | te_course kWh | te_course price | huang kWh | expected huang kWh "
        "| huang sell / buy price | marginal ask / bid | welfare te_course | welfare huang | agree |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n, c in out["cmp"].items():
        te, pm = out["te"][n], out["pm"][n]
        failed = [k for k, v in c["checks"].items() if not v]
        agree = "yes" if c["agree"] else "NO: " + "; ".join(failed)
        lines.append(
            f"| {fmt_n(n)} | {te['quantity']:,.4f} | {te['price']:.5f} | {pm['quantity']:,.4f} "
            f"| {c['expected_q']:,.4f} "
            f"| {pm['price_sell']:.5f} / {pm['price_buy']:.5f} | {c['marginal_ask']:.5f} / {c['marginal_bid']:.5f} "
            f"| {te['welfare']:,.2f} | {pm['welfare']:,.2f} ({100 * pm['welfare'] / te['welfare']:.3f} %) | {agree} |"
        )
    return "\n".join(lines)


def _runs(k: int) -> str:
    return "1 run" if k == 1 else f"median of {k}"


def write_readme(block: str) -> str:
    """Replace the lines between the bench markers in README.md; return a message."""
    if not README.is_file():
        return f"NOTE: {README} does not exist; README not updated."
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
        return (
            f"NOTE: {README.name} needs exactly one line `{START}` followed by one line `{END}` "
            f"(found {len(starts)} and {len(ends)}); README not updated."
        )
    newline = "\r\n" if lines[starts[0]].endswith("\r\n") else "\n"
    body = newline.join(block.splitlines()) + newline
    new_text = "".join(lines[: starts[0] + 1]) + newline + body + newline + "".join(lines[ends[0] :])
    tmp = README.with_name(README.name + ".bench-tmp")
    tmp.write_text(new_text, encoding="utf-8", newline="")
    os.replace(tmp, README)
    return f"Wrote the tables into {README} between {START} and {END}."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; pymarket only at 10^3 (under 30 s)")
    parser.add_argument("--write-readme", action="store_true", help="also replace the bench block in README.md")
    parser.add_argument(
        "--part", choices=("all", "auction", "coordination", "powerflow", "dlmp", "mechanisms", "day", "widgets",
                           "grading"),
        default="all",
        help="run only one part (default all)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"base seed of the markets (default {SEED})")
    parser.add_argument("--child", choices=("memory", "pymarket"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--market", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "memory":
        print(json.dumps(child_memory(args.n, args.seed)))
        return 0
    if args.child == "pymarket":
        with np.load(args.market) as data:
            bids, asks = data["bids"], data["asks"]
        print(json.dumps(pymarket_measure(bids, asks, args.repeats)))
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    mode = "quick" if args.quick else "full"
    if args.write_readme and args.part != "all":
        parser.error("--write-readme replaces every table in README.md, so it needs --part all")
    t0 = time.perf_counter()
    load = load_average()  # before we add our own load
    blocks = []
    if args.part in ("all", "auction"):
        out = run(mode, args.seed, log)
        te_course = import_te_course()
        blocks.append(report(out, environment(te_course, out.get("pm_version"), mode, load)))
    if args.part in ("all", "coordination"):
        te_course = import_te_course()
        import bench_coordination

        coord = bench_coordination.run(mode, args.seed, log)
        if args.part == "coordination":  # the auction report carries the environment table otherwise
            env = environment(te_course, None, mode, load)
            blocks.append(
                "| date | CPUs | load avg 1/5/15 min | machine | Python | numpy | te_course | run |\n"
                "|---|---:|---|---|---|---|---|---|\n"
                f"| {env['date']} | {env['cpus']} | {env['load']} | {env['machine']} | {env['python']} "
                f"| {env['numpy']} | {env['te_course']} | {env['mode']} |"
            )
        blocks.append(bench_coordination.report(coord, fmt_time, fmt_n))
    if args.part in ("all", "powerflow"):
        import_te_course()
        import bench_powerflow

        blocks.append(bench_powerflow.report(bench_powerflow.run(mode, args.seed, log), fmt_time, fmt_n))
    if args.part in ("all", "dlmp"):
        import_te_course()
        import bench_dlmp

        blocks.append(bench_dlmp.report(bench_dlmp.run(mode, args.seed, log), fmt_time, fmt_n))
    if args.part in ("all", "mechanisms"):
        import_te_course()
        import bench_mechanisms

        blocks.append(bench_mechanisms.report(bench_mechanisms.run(mode, args.seed, log), fmt_time, fmt_n))
    if args.part in ("all", "day"):
        import_te_course()
        import bench_day

        blocks.append(bench_day.report(bench_day.run(mode, args.seed, log), fmt_time, fmt_n))
    if args.part in ("all", "widgets"):
        import_te_course()
        import bench_widgets

        blocks.append(bench_widgets.report(bench_widgets.run(mode, args.seed, log), fmt_time, fmt_n))
    if args.part in ("all", "grading"):
        import_te_course()
        import bench_grading

        blocks.append(bench_grading.report(bench_grading.run(mode, args.seed, log), fmt_time, fmt_n))
    block = "\n\n".join(blocks)
    log(f"total {time.perf_counter() - t0:.0f} s\n")
    print(block)
    if args.write_readme:
        print("\n" + write_readme(block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
