"""Hidden checks of chapter 5, distribution locational marginal prices (``solutions/05_dlmp``).

The references: a forward difference of the package's AC power flow
(:func:`te_course.ac_power_flow`, tested in ``tests/test_powerflow.py``; it stays on
while the exercise is graded, only the DLMP functions are switched off), closed forms
for the price decomposition and the price-taking DER, and for the congested line the
subtree cut off by each line of the feeder's graph.

Feeders are JSON parameters built by :func:`te_course._checks.ch04.feeder_from`.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from te_course import powerflow
from te_course._checks import Check, case, register
from te_course._checks.ch04 import chain_spec, feeder_from
from te_course._checks.plain import as_dict, as_float, as_int, as_tuple, optional

CHAPTER = "05_dlmp"
DLMP = ("dlmp", "marginal_loss_factors", "DLMPProblem")


def _draw_feeder(rng: np.random.Generator) -> tuple[dict, int]:
    """Draw a feeder's parameters and a bus that is not its substation."""
    kind = rng.choice(["ieee33", "radial", "chain"])
    if kind == "ieee33":
        return {"kind": "ieee33", "load_scale": round(float(rng.uniform(0.4, 1.5)), 2)}, int(rng.integers(2, 34))
    if kind == "radial":
        n = int(rng.integers(8, 26))
        spec = {"kind": "radial", "n_buses": n, "seed": int(rng.integers(0, 1000)),
                "load_scale": round(float(rng.uniform(0.5, 1.5)), 2)}
        return spec, int(rng.integers(2, n + 1))
    n = int(rng.integers(1, 5))
    r = rng.uniform(0.2, 2.0, n)
    spec = chain_spec(r.round(2).tolist(), (r * rng.uniform(0.5, 1.5, n)).round(2).tolist(),
                      rng.integers(0, 800, n).tolist(), rng.integers(0, 400, n).tolist(),
                      float(rng.choice([10.0, 12.66])))
    return spec, int(rng.integers(1, n + 1))


# -- exercise 1: a marginal loss factor by finite differences -----------------------------


def _mlf_build(spec, bus, **kwargs):
    return (feeder_from(spec), bus), kwargs


def _mlf_expected(feeder, bus, delta_kw=1.0) -> float:
    """Take a forward difference of the AC losses: the same feeder with delta_kw more load at bus."""
    heavier = feeder.with_injection(bus, -delta_kw)
    extra = powerflow.ac_power_flow(heavier).total_loss_kw - powerflow.ac_power_flow(feeder).total_loss_kw
    return extra / delta_kw


def _draw_mlf(rng: np.random.Generator) -> dict:
    spec, bus = _draw_feeder(rng)
    delta = float(rng.choice([1.0, 0.5, 2.0, 10.0, 50.0]))
    return case(spec, bus) if delta == 1.0 else case(spec, bus, delta_kw=delta)


register(Check(
    id="ex1_mlf_finite_difference",
    function="mlf_finite_difference",
    disabled=DLMP,
    expected=_mlf_expected,
    plain=as_float,
    # two buses, 10 kV, r = x = 1 ohm, 1000 kW load: losses from an independent fixed point
    # V2 = 1 - Z * conj(S / V2) agree with the AC power flow used as the reference
    fixed=[case(chain_spec([1.0], [1.0], [1000.0], [0.0]), 1)],
    draw=_draw_mlf,
    n_random=3,
    build=_mlf_build,
    rtol=1e-4,
    atol=1e-6,
    chapter=CHAPTER,
))


# -- exercise 2: decompose a DLMP ---------------------------------------------------------


def _decompose(total, price_substation, mlf, congestion, voltage) -> dict:
    """Split as the package does: the loss component is the remainder, checked against price times MLF."""
    remainder = total - (price_substation + congestion + voltage)
    return {"energy": price_substation, "congestion": congestion, "voltage": voltage, "loss": remainder,
            "loss_residual": remainder - mlf * price_substation}


def _draw_decompose(rng: np.random.Generator) -> dict:
    price = round(float(rng.uniform(0.02, 0.12)), 3)
    mlf = round(float(rng.uniform(-0.05, 0.2)), 4)
    congestion = 0.0 if rng.random() < 0.3 else round(float(rng.uniform(-0.05, 0.08)), 4)
    voltage = 0.0 if rng.random() < 0.3 else round(float(rng.uniform(-0.02, 0.05)), 4)
    residual = 0.0 if rng.random() < 0.3 else float(rng.uniform(-0.002, 0.002))
    total = round(price * (1 + mlf) + congestion + voltage + residual, 6)
    return case(total, price, mlf, congestion, voltage)


register(Check(
    id="ex2_decompose_dlmp",
    function="decompose_dlmp",
    disabled=DLMP,
    expected=_decompose,
    plain=lambda r: as_dict(r, dict.fromkeys(("energy", "loss", "congestion", "voltage", "loss_residual"),
                                             as_float)),
    fixed=[case(0.09, 0.05, 0.02, 0.03, 0.004),  # loss 0.006, residual 0.005
           case(0.04, 0.05, -0.02, 0.0, -0.009)],  # loss -0.001, residual 0
    draw=_draw_decompose,
    atol=1e-9,
    chapter=CHAPTER,
))


# -- exercise 3: the congested line -------------------------------------------------------


def _table_build(table, spec, **kwargs):
    """Build the price table ({"bus": [...], "congestion": [...]}, indexed by bus) and the feeder."""
    prices = pd.DataFrame({"congestion": [float(c) for c in table["congestion"]]},
                          index=pd.Index(table["bus"], name="bus"))
    return (prices, feeder_from(spec)), kwargs


def _cut_off(graph: nx.Graph, substation, a, b) -> tuple[object, set]:
    """Return the end of line a-b on the substation's side and the buses cut off from it without the line."""
    g = graph.copy()
    g.remove_edge(a, b)
    near = nx.node_connected_component(g, substation)
    return (a, set(g) - near) if a in near else (b, set(g) - near)


def _congested_expected(prices, feeder, tol=0.01):
    magnitude = np.abs(prices["congestion"])
    hot = set(prices.index[magnitude > tol * magnitude.max()])
    graph = feeder.graph
    for a, b in graph.edges():
        upstream, below = _cut_off(graph, feeder.substation, a, b)
        if below == hot:
            return [upstream, b if upstream == a else a]
    return None


def _table(buses: list, congested: set, values, remainder) -> dict:
    return {"bus": buses, "congestion": [values.pop() if b in congested else remainder.pop() for b in buses]}


def _draw_congestion(rng: np.random.Generator) -> dict:
    """Congest a random line: a real component below it, none or a small remainder above."""
    while True:
        if rng.random() < 0.6:
            spec = {"kind": "ieee33"}
        else:
            spec = {"kind": "radial", "n_buses": int(rng.integers(8, 26)), "seed": int(rng.integers(0, 1000))}
        feeder = feeder_from(spec)
        buses = [int(b) for b in feeder.buses.index]
        lines = feeder.lines[feeder.lines.in_service]
        a, b = (int(v) for v in lines[["from_bus", "to_bus"]].iloc[int(rng.integers(len(lines)))])
        _, below = _cut_off(feeder.graph, feeder.substation, a, b)
        kwargs = {} if rng.random() < 0.5 else {"tol": float(rng.choice([0.05, 0.1]))}
        tol = kwargs.get("tol", 0.01)
        sign = 1.0 if rng.random() < 0.6 else -1.0  # exports congest a line too: negative components
        size = float(rng.uniform(0.005, 0.05))
        values = list(np.round(sign * size * rng.uniform(0.3, 1.0, len(below)), 5))
        share = float(rng.choice([0.0, 0.003, 0.6 * tol], p=[0.25, 0.25, 0.5]))  # upstream remainders, relative
        remainder = list(np.round(size * share * rng.uniform(-1.0, 1.0, len(buses)), 6))
        table = _table(buses, below, values, remainder)
        top = max(abs(c) for c in table["congestion"])
        real = [abs(c) for bus, c in zip(buses, table["congestion"]) if bus in below]
        rest = [abs(c) for bus, c in zip(buses, table["congestion"]) if bus not in below]
        if min(real) > 2 * tol * top and max(rest, default=0.0) < 0.7 * tol * top:
            return case(table, spec, **kwargs)


def _fixed_table(congested: list[int], value: float, rest: float = 0.0) -> dict:
    """IEEE 33: ``value`` at the congested buses (slightly varied when ``rest``), +-``rest`` at the others."""
    if not rest:
        return {"bus": list(range(1, 34)), "congestion": [value if b in congested else 0.0 for b in range(1, 34)]}
    return {"bus": list(range(1, 34)),
            "congestion": [round(value * (1 - 0.02 * (b % 5)), 6) if b in congested else rest * (-1) ** b
                           for b in range(1, 34)]}


register(Check(
    id="ex3_congested_line",
    function="congested_line",
    disabled=DLMP,
    expected=_congested_expected,
    plain=lambda r: as_tuple(r, as_int, as_int),
    fixed=[case(_fixed_table(list(range(26, 34)), 0.02), {"kind": "ieee33"}),  # line 6-26
           case(_fixed_table([19, 20, 21, 22], 0.01), {"kind": "ieee33"}),  # line 2-19
           case(_fixed_table([16, 17, 18], 0.03), {"kind": "ieee33"}),  # line 15-16
           # exports congest line 3-23: negative components below it, a small remainder elsewhere
           case(_fixed_table([23, 24, 25], -0.02, rest=2e-5), {"kind": "ieee33"}),  # line 3-23
           # remainders of 2 % of the largest component: real at tol 0.01, not at tol 0.05
           case(_fixed_table(list(range(7, 19)), 0.02, rest=4e-4), {"kind": "ieee33"}, tol=0.05)],  # line 6-7
    draw=_draw_congestion,
    n_random=4,
    build=_table_build,
    chapter=CHAPTER,
))


# -- exercise 4: a price-taking DER -------------------------------------------------------


def _price_taker(dlmp, offer, p_max_kw, tol=1e-6):
    gap = dlmp - offer
    if abs(gap) <= tol:
        return None  # marginal: the OPF decides
    return p_max_kw if gap > 0 else 0.0


def _draw_price_taker(rng: np.random.Generator) -> dict:
    """Draw a DLMP clearly above or below the offer, within tol of it (marginal), or just beyond tol."""
    while True:
        offer = round(float(rng.uniform(0.03, 0.15)), 3)
        p_max = int(rng.integers(10, 2000)) if rng.random() < 0.5 else round(float(rng.uniform(1, 500)), 1)
        kwargs = {} if rng.random() < 0.4 else {"tol": float(rng.choice([1e-3, 1e-4, 1e-5]))}
        tol = kwargs.get("tol", 1e-6)
        regime = rng.choice(["clear", "within tol", "just beyond tol"])
        if regime == "clear":
            gap = float(rng.uniform(0.005, 0.05))
        else:
            gap = tol * float(rng.uniform(0.1, 0.7) if regime == "within tol" else rng.uniform(1.5, 3.0))
        dlmp = round(offer + float(rng.choice([-1.0, 1.0])) * gap, 10)
        ratio = abs(dlmp - offer) / tol
        if ratio < 0.8 or ratio > 1.3:  # clear of the edge |dlmp - offer| = tol
            return case(dlmp, offer, p_max, **kwargs)


register(Check(
    id="ex4_price_taker",
    function="price_taker",
    disabled=(),
    expected=_price_taker,
    plain=optional(as_float),
    fixed=[case(0.1, 0.08, 100), case(0.05, 0.08, 100), case(0.0800001, 0.08, 100, tol=1e-3)],
    draw=_draw_price_taker,
    chapter=CHAPTER,
))
