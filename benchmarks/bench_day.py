"""A day on the feeder (chapter 9): the multi-period OPF and the hourly rolling clearing.

``te_course.scheduling.example_feeder_day(n_prosumers=k)`` (IEEE 33, lines rated at the
day's peak, neighbourhoods with PV, a battery and EVs at k buses):

- ``day_ahead_dlmp``: one 24-hour LinDistFlow OPF (median of 5 after a warm-up);
- ``simulate_day``: 24 hourly clearings, each an OPF over the rest of the day
  (median of 3, progress bar off), and its peak memory in a fresh subprocess
  (growth of the process's own ``VmHWM`` across the call, and the ``tracemalloc`` peak
  of a second call; ``ru_maxrss`` would carry the parent's mark across exec);
- ``evaluate_day``: the 24 AC power flows of the result (median of 5).

Target: the day-long simulation under 30 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from timing import median_time

SIZES = {"full": [8, 16, 32], "quick": [8]}
TARGET_S = 30.0
OPTIONS = {"v_min_pu": 0.9, "voll": 10.0}

_CHILD = """
import json, sys, tracemalloc
sys.path.insert(0, {root!r})


def hwm_mb():  # this process's own high-water mark (VmHWM is reset by exec; ru_maxrss is inherited)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


from te_course.scheduling import example_feeder_day, simulate_day
day = example_feeder_day(n_prosumers={k})
args = dict(price_substation=day["price_substation"], load_profile=day["load_profile"], progress=False, **{opts!r})
before = hwm_mb()
simulate_day(day["feeder"], day["prosumers"], **args)
after = hwm_mb()
tracemalloc.start()
simulate_day(day["feeder"], day["prosumers"], **args)
peak = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps({{"rss_before_mb": before, "rss_after_mb": after, "tracemalloc_peak_mb": peak}}))
"""


def _memory(k: int) -> dict:
    root = str(Path(__file__).resolve().parents[1])
    code = _CHILD.format(root=root, k=k, opts=OPTIONS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(mode: str, seed: int, log) -> dict:
    from te_course.scheduling import day_ahead_dlmp, evaluate_day, example_feeder_day, simulate_day

    rows = []
    for k in SIZES[mode]:
        day = example_feeder_day(n_prosumers=k)
        f, pros = day["feeder"], day["prosumers"]
        args = dict(price_substation=day["price_substation"], load_profile=day["load_profile"], **OPTIONS)
        t_ahead, ahead = median_time(lambda f=f, p=pros, a=args: day_ahead_dlmp(f, p, **a), 5)
        t_sim, sim = median_time(lambda f=f, p=pros, a=args: simulate_day(f, p, progress=False, **a), 3,
                                 warmup=False)
        t_ac, ac = median_time(lambda f=f, s=sim: evaluate_day(f, s.net_load_kw, s.net_load_kvar), 5)
        mem = _memory(k)
        rows.append({
            "prosumers": k, "ahead": t_ahead, "simulate": t_sim, "ac": t_ac, **mem,
            "binding": len(sim.binding), "shed_kwh": float(sim.shed_kw.to_numpy().sum()),
            "v_min_ac": float(ac.v_pu.min(axis=None)), "v_min_opf": float(sim.v_pu.min(axis=None)),
            "cost_gap": abs(sim.cost - ahead.cost) / ahead.cost,
        })
        log(f"day         {k} prosumers: day-ahead {t_ahead:.3f} s, hourly clearing {t_sim:.2f} s, "
            f"AC check {t_ac:.3f} s, +{mem['rss_after_mb'] - mem['rss_before_mb']:.0f} MB")
    return {"rows": rows}


def report(out: dict, fmt_time, fmt_n) -> str:
    slowest = max(r["simulate"] for r in out["rows"])
    lines = [
        "**A day on the feeder** (`te_course.scheduling`, chapter 9): `example_feeder_day(n_prosumers=k)` on IEEE 33 "
        "(PV, battery and EVs per neighbourhood, lines rated at the day's peak, v_min 0.9 p.u., VoLL 10). "
        "`day_ahead_dlmp`: one 24-hour LinDistFlow OPF (median of 5); `simulate_day`: 24 hourly clearings, each "
        "an OPF over the rest of the day (median of 3, progress bar off); `evaluate_day`: 24 AC power flows "
        "(median of 5). Memory: one `simulate_day` in a fresh subprocess, growth of its resident high-water mark "
        "(`VmHWM`) across the call (the process's mark in brackets) and the `tracemalloc` peak of a second call. "
        f"Target: the day under {TARGET_S:.0f} s: {'met' if slowest < TARGET_S else '**missed**'} "
        f"(slowest {fmt_time(slowest)}).",
        "",
        "| prosumers | day-ahead OPF | hourly clearing (24 OPFs) | AC check (24 flows) | memory growth | "
        "tracemalloc peak | same cost as day-ahead | lowest voltage OPF / AC |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in out["rows"]:
        lines.append(
            f"| {r['prosumers']} | {fmt_time(r['ahead'])} | {fmt_time(r['simulate'])} | {fmt_time(r['ac'])} "
            f"| {r['rss_after_mb'] - r['rss_before_mb']:.0f} MB ({r['rss_after_mb']:.0f} MB) "
            f"| {r['tracemalloc_peak_mb']:.0f} MB | {'yes' if r['cost_gap'] < 1e-5 else 'no'} "
            f"(gap {r['cost_gap']:.1e}) | {r['v_min_opf']:.4f} / {r['v_min_ac']:.4f} |"
        )
    return "\n".join(lines)
