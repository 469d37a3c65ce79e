"""Mechanism-design benchmark (chapter 6): the property table by simulation.

``property_table`` of the four mechanisms (uniform price, VCG, McAfee trade
reduction, SBBA) on random markets of ``n_traders`` buyers and as many sellers
(values and costs uniform on [0, 1]), checking IC for four traders per market.
Target: 1,000 instances of 20 traders under 10 s.
"""

from __future__ import annotations

from timing import median_time

# The largest case: 100 traders and as many markets as property_table's work limit allows (MAX_WORK,
# n_instances * n_traders**2), so that the benchmark stays within what the function accepts.
LARGE_TRADERS = 100
SIZES = {"full": [(100, 20), (1_000, 20), ("largest", LARGE_TRADERS)], "quick": [(100, 20), (1_000, 20)]}


def run(mode: str, seed: int, log) -> dict:
    import te_course as tc

    mechanisms = {"uniform price": tc.uniform_price, "VCG": tc.vcg, "McAfee": tc.trade_reduction, "SBBA": tc.sbba}
    rows = []
    for n_instances, n_traders in SIZES[mode]:
        if n_instances == "largest":
            n_instances = tc.mechanisms.MAX_WORK // n_traders**2
        t, table = median_time(
            lambda n=n_instances, m=n_traders: tc.property_table(mechanisms, n_instances=n, n_traders=m, seed=seed),
            1, warmup=False,
        )
        rows.append({"instances": n_instances, "traders": n_traders, "time": t,
                     "efficiency": table["efficiency"].round(4).to_dict()})
        log(f"mechanisms  {n_instances} x {n_traders}: {t:.2f} s")
    return {"rows": rows}


def report(out: dict, fmt_time, fmt_n) -> str:
    names = list(out["rows"][0]["efficiency"])
    lines = [
        "**Mechanisms** (`te_course.mechanisms.property_table`): the four mechanisms on random markets (values and "
        "costs uniform on [0, 1], `traders` buyers and as many sellers), IC checked for four traders per market; "
        "one run. Target: 1,000 instances of 20 traders under 10 s. Efficiency = mean share of the optimal welfare, "
        "at truthful reports (for the uniform price, which is not truthful, an upper bound on what strategic "
        "traders achieve: chapter 6).",
        "",
        "| instances | traders per side | time | " + " | ".join(f"efficiency {n}" for n in names) + " |",
        "|---:|---:|---:|" + "---:|" * len(names),
    ]
    for r in out["rows"]:
        eff = " | ".join(f"{r['efficiency'][n]:.4f}" for n in names)
        lines.append(f"| {r['instances']:,} | {r['traders']} | {fmt_time(r['time'])} | {eff} |")
    return "\n".join(lines)
