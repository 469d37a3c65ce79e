"""Power-flow benchmarks (chapter 4): te_course against pandapower, in the same run.

- IEEE 33 (Baran and Wu 1989): ``ac_power_flow`` and ``lindistflow`` against
  pandapower's ``runpp`` on its own ``case33bw`` (Newton-Raphson; pandapower is
  the test-only oracle of the power-flow tests and a peer here).
- Synthetic radial feeders from ``radial_feeder(n)`` at 10^3, 10^4 and 10^5
  buses: the same feeder is converted to a pandapower net (lines of 1 km with
  the feeder's ohms per km, loads as ``create_loads``) and solved by ``runpp``.
  The largest voltage difference between the two AC solutions is reported, so
  the reader sees they solve the same problem.
"""

from __future__ import annotations

import warnings

import numpy as np
from timing import median_time

SIZES = (1_000, 10_000, 100_000)
REPEATS = {"full": {33: 21, 1_000: 11, 10_000: 5, 100_000: 3}, "quick": {33: 5, 1_000: 3, 10_000: 2, 100_000: 1}}
PANDAPOWER_MAX = {"full": 100_000, "quick": 10_000}



def to_pandapower(feeder):
    """The same radial feeder as a pandapower net (substation as ext_grid at 1.0 p.u.)."""
    import pandapower as pp

    net = pp.create_empty_network(sn_mva=feeder.s_base_kva / 1000.0)
    labels = list(feeder.buses.index)
    index = pp.create_buses(net, len(labels), vn_kv=feeder.v_base_kv)
    where = dict(zip(labels, index))
    lines = feeder.lines[feeder.lines.in_service]
    pp.create_lines_from_parameters(
        net, [where[b] for b in lines.from_bus], [where[b] for b in lines.to_bus], length_km=1.0,
        r_ohm_per_km=lines.r_ohm.to_numpy(), x_ohm_per_km=lines.x_ohm.to_numpy(), c_nf_per_km=0.0, max_i_ka=10.0,
    )
    loads = feeder.buses[(feeder.buses.p_kw != 0) | (feeder.buses.q_kvar != 0)]
    pp.create_loads(net, [where[b] for b in loads.index], p_mw=loads.p_kw.to_numpy() / 1000.0,
                    q_mvar=loads.q_kvar.to_numpy() / 1000.0)
    pp.create_ext_grid(net, where[feeder.substation], vm_pu=1.0)
    return net, np.array([where[b] for b in labels])


def run(mode: str, seed: int, log) -> dict:
    import te_course as tc

    try:
        import pandapower as pp
        import pandapower.networks as pn
    except ImportError:
        pp = None
    out = {"mode": mode, "rows": [], "pandapower": getattr(pp, "__version__", None)}

    feeder = tc.ieee33()
    reps = REPEATS[mode][33]
    t_ac, ac = median_time(lambda: tc.ac_power_flow(feeder), reps)
    t_ldf, _ = median_time(lambda: tc.lindistflow(feeder), reps)
    row = {"name": "IEEE 33", "n": 33, "ac": t_ac, "ldf": t_ldf, "iterations": ac.iterations, "pp": None}
    if pp is not None:
        net = pn.case33bw()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_pp, _ = median_time(lambda: pp.runpp(net), reps)
        row.update(pp=t_pp, dv=float(np.abs(net.res_bus.vm_pu.to_numpy() - ac.v_pu.to_numpy()).max()))
    out["rows"].append(row)
    log(f"power flow  IEEE 33: ac {t_ac * 1e3:.2f} ms, pandapower {row['pp'] and row['pp'] * 1e3:.1f} ms")

    for n in SIZES:
        feeder = tc.radial_feeder(n, seed=seed + n)
        reps = REPEATS[mode][n]
        t_ac, ac = median_time(lambda f=feeder: tc.ac_power_flow(f), reps)
        t_ldf, _ = median_time(lambda f=feeder: tc.lindistflow(f), reps)
        row = {"name": f"radial_feeder({n:,})", "n": n, "ac": t_ac, "ldf": t_ldf, "iterations": ac.iterations,
               "pp": None}
        if pp is not None and n <= PANDAPOWER_MAX[mode]:
            net, order = to_pandapower(feeder)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_pp, _ = median_time(lambda net=net: pp.runpp(net), max(1, reps // 2))
            row.update(pp=t_pp, dv=float(np.abs(net.res_bus.vm_pu.to_numpy()[order] - ac.v_pu.to_numpy()).max()))
        out["rows"].append(row)
        log(f"power flow  n={n}: ac {t_ac * 1e3:.1f} ms, ldf {t_ldf * 1e3:.1f} ms, pandapower {row['pp']}")
    return out


def report(out: dict, fmt_time, fmt_n) -> str:
    pp = out["pandapower"]
    lines = [
        "**Power flow** (`te_course.powerflow`): AC backward/forward sweep to 1e-8 p.u. and LinDistFlow, against "
        f"pandapower {pp or '(not installed)'} `runpp` (Newton-Raphson, default options) on the same feeder in the "
        "same run; median wall time after one warm-up call. `max abs dV` is the largest voltage difference between the "
        "two AC solutions.",
        "",
        "| feeder | buses | te_course AC | sweeps | LinDistFlow | pandapower runpp | pandapower / te_course AC "
        "| max abs dV (p.u.) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in out["rows"]:
        if r["pp"] is None:
            pp_cells = "skipped | - | -"
        else:
            pp_cells = f"{fmt_time(r['pp'])} | {r['pp'] / r['ac']:.1f}x | {r['dv']:.1e}"
        lines.append(
            f"| {r['name']} | {r['n']:,} | {fmt_time(r['ac'])} | {r['iterations']} | {fmt_time(r['ldf'])} "
            f"| {pp_cells} |"
        )
    return "\n".join(lines)
