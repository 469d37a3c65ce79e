"""Hidden checks of chapter 5, locational marginal prices (``solutions/05_dlmp``).

The references: the package's DC OPF (:func:`te_course.dc_opf_lmp`, tested in
``tests/test_dlmp.py`` against scipy's ``linprog`` on the PTDF form, a hand-solved two-bus
case and Li and Bo's published PJM 5-bus prices) for the transmission LMPs; the package's
LinDistFlow OPF (:class:`te_course.DLMPProblem` with ``model="lindistflow"``, tested there
against finite differences of its own cost) for the student's LinDistFlow OPF, with two
one-line cases solved by hand; a forward difference of the package's AC power flow
(:func:`te_course.ac_power_flow`, tested in ``tests/test_powerflow.py``; it stays on while
the exercise is graded, only the OPF and price functions are switched off) for the
marginal loss factor; a closed form for the price-taking DER; and for the congested line
the subtree cut off by each line of the feeder's graph.

Feeders are JSON parameters built by :func:`te_course._checks.ch04.feeder_from` (with an
optional line limit), transmission networks by :func:`network_from`.
"""

from __future__ import annotations

import importlib

import networkx as nx
import numpy as np
import pandas as pd

from te_course import feeders, powerflow
from te_course._checks import Check, case, compare, register
from te_course._checks.ch04 import chain_spec, feeder_from
from te_course._checks.plain import as_dict, as_float, as_floats, as_int, as_tuple, optional
from te_course._validation import TeCourseError

CHAPTER = "05_dlmp"
DLMP = ("dlmp", "marginal_loss_factors", "DLMPProblem", "dc_opf_lmp")
# the power flows stay available in this chapter's exercises (its text says so); the OPFs and prices do not
POWER_FLOWS = ("ac_power_flow", "lindistflow", "dc_power_flow", "ptdf", "PowerFlowResult")
_opf = importlib.import_module("te_course.opf")  # the OPF module (te_course.dlmp is the function)


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


# -- exercise 1: a DC OPF and its LMPs ----------------------------------------------------

#: Li and Bo (2010): the generators of the PJM 5-bus system (offers in $/MWh, here per kWh)
PJM_GENERATORS = {"bus": ["A", "A", "C", "D", "E"], "p_max_kw": [110e3, 100e3, 520e3, 200e3, 600e3],
                  "price": [0.014, 0.015, 0.030, 0.040, 0.010]}


def network_from(spec: dict) -> feeders.Feeder:
    """Build a new network from its JSON parameters.

    ``{"kind": "pjm5", "limits": [[line, kva], ...]}`` (Li and Bo's network, limits only where given) or
    ``{"kind": "triangle", "x_ohm": [x12, x13, x23], "limits": [...]}`` (buses 1, 2, 3; bus 1 the reference).
    """
    if spec["kind"] == "pjm5":
        net = feeders.pjm5bus()
        net.lines["s_max_kva"] = np.nan
    else:
        buses = pd.DataFrame({"p_kw": [0.0, 0.0, 0.0], "q_kvar": 0.0}, index=pd.Index([1, 2, 3], name="bus"))
        lines = pd.DataFrame({"from_bus": [1, 1, 2], "to_bus": [2, 3, 3], "r_ohm": 0.0,
                              "x_ohm": [float(x) for x in spec["x_ohm"]], "s_max_kva": np.nan},
                             index=pd.RangeIndex(1, 4, name="line"))
        net = feeders.Feeder(buses, lines, v_base_kv=10.0, s_base_kva=1000.0, substation=1, name="triangle")
    for line, kva in spec.get("limits", []):
        net.lines.loc[line, "s_max_kva"] = float(kva)
    return net


def _dc_build(spec, generators, load_kw) -> tuple:
    net = network_from(spec)
    return (net, pd.DataFrame(generators), pd.Series([float(v) for v in load_kw], index=net.buses.index)), {}


def _dc_expected(network, generators, load_kw) -> dict:
    """Solve the package's DC OPF (tested against scipy's linprog and Li and Bo's prices in tests/test_dlmp.py)."""
    res = _opf.dc_opf_lmp(network, generators, load_kw=load_kw)
    return {"lmp": res.lmp.to_numpy().tolist(), "dispatch_kw": res.dispatch.to_numpy().tolist(),
            "congestion_rent": res.congestion_rent}


def _dc_compare(got, want) -> str | None:
    scale = max(1.0, max(abs(v) for v in want["dispatch_kw"]))
    money = max(1.0, scale * max(abs(v) for v in want["lmp"]))
    return (compare(got["lmp"], want["lmp"], rtol=1e-4, atol=1e-6, where="['lmp']")
            or compare(got["dispatch_kw"], want["dispatch_kw"], rtol=1e-4, atol=1e-4 * scale, where="['dispatch_kw']")
            or compare(got["congestion_rent"], want["congestion_rent"], rtol=1e-4, atol=1e-5 * money,
                       where="['congestion_rent']"))


def _draw_dc(rng: np.random.Generator) -> dict:
    """PJM 5-bus with new loads, offers and line limits (none, one or several), or a three-bus loop.

    Instances near a change of regime (where 0.2 % more load changes the prices) are drawn again.
    """
    while True:
        if rng.random() < 0.7:
            spec = {"kind": "pjm5", "limits": []}
            for line in range(1, 7):
                if rng.random() < 0.35:
                    spec["limits"].append([line, round(float(rng.uniform(100e3, 400e3)), -3)])
            load = [0.0, *rng.uniform(150e3, 450e3, 3).round(-3).tolist(), 0.0]
            if rng.random() < 0.3:
                load[0] = round(float(rng.uniform(0, 100e3)), -3)
            gens = dict(PJM_GENERATORS, price=(rng.choice(np.arange(10, 60), 5, replace=False) / 1000).tolist())
        else:
            spec = {"kind": "triangle", "x_ohm": rng.uniform(1.0, 3.0, 3).round(2).tolist(),
                    "limits": [[int(rng.integers(1, 4)), round(float(rng.uniform(100, 400)), 1)]]}
            load = [0.0, round(float(rng.uniform(0, 300)), 1), round(float(rng.uniform(300, 800)), 1)]
            k = int(rng.integers(2, 4))
            gens = {"bus": [1, 2, 3][:k], "p_max_kw": rng.uniform(400, 1200, k).round(0).tolist(),
                    "price": (rng.choice(np.arange(20, 120), k, replace=False) / 1000).tolist()}
        (net, table, load_s), _ = _dc_build(spec, gens, load)
        try:
            want = _opf.dc_opf_lmp(net, table, load_kw=load_s)
            again = _opf.dc_opf_lmp(net, table, load_kw=load_s * 1.002)
        except ValueError:
            continue
        if np.allclose(again.lmp, want.lmp, rtol=1e-3, atol=1e-5):
            return case(spec, gens, load)


register(Check(
    id="ex1_dc_opf_prices",
    allowed=POWER_FLOWS,
    function="dc_opf_prices",
    disabled=DLMP,
    expected=_dc_expected,
    plain=lambda r: as_dict(r, {"lmp": as_floats, "dispatch_kw": as_floats, "congestion_rent": as_float}),
    fixed=[
        # Li and Bo (2010): LMPs 16.98, 26.38, 30.00, 39.94, 10.00 $/MWh with line D-E at 240 MW
        case({"kind": "pjm5", "limits": [[1, 400e3], [6, 240e3]]}, PJM_GENERATORS,
             [0.0, 300e3, 300e3, 400e3, 0.0]),
        # the same without limits: one price everywhere, Solitude's 30 $/MWh (the marginal offer); no rent
        case({"kind": "pjm5"}, PJM_GENERATORS, [0.0, 300e3, 300e3, 400e3, 0.0]),
        # a loop of equal lines: 2/3 of a transfer from 1 to 3 goes directly, 1/3 through bus 2
        case({"kind": "triangle", "x_ohm": [1.0, 1.0, 1.0], "limits": [[2, 300.0]]},
             {"bus": [1, 3], "p_max_kw": [1000.0, 1000.0], "price": [0.02, 0.06]}, [0.0, 0.0, 600.0]),
    ],
    draw=_draw_dc,
    n_random=2,
    build=_dc_build,
    compare=_dc_compare,
    chapter=CHAPTER,
))


# -- exercise 2: a marginal loss factor by finite differences -----------------------------


def _mlf_build(spec, bus, **kwargs) -> tuple:
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
    id="ex2_mlf_finite_difference",
    allowed=POWER_FLOWS,
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


# -- exercise 3: the LinDistFlow OPF and its DLMPs -----------------------------------------


def _opf_build(spec, price_substation, ders, **kwargs) -> tuple:
    """Build the feeder (with its line limit, if any) and the DER table from their JSON parameters."""
    feeder = feeder_from(spec)
    if spec.get("limit") is not None:
        line, kva = spec["limit"]
        feeder.lines.loc[line, "s_max_kva"] = float(kva)
    return (feeder, price_substation, pd.DataFrame(ders)), kwargs


def _opf_expected(feeder, price_substation, ders, *, v_min_pu=0.95, v_max_pu=1.05) -> dict:
    """Solve the package's LinDistFlow OPF (tested against finite differences in tests/test_dlmp.py)."""
    res = _opf.DLMPProblem(feeder, ders=ders, model="lindistflow").solve(
        price_substation=price_substation, v_min_pu=v_min_pu, v_max_pu=v_max_pu)
    return {"dlmp": res.prices["total"].to_numpy().tolist(), "dispatch_kw": res.dispatch.to_numpy().tolist(),
            "cost": float(res.cost)}


def _opf_compare(got, want) -> str | None:
    scale = max(1.0, max((abs(v) for v in want["dispatch_kw"]), default=0.0))
    return (compare(got["dlmp"], want["dlmp"], rtol=1e-4, atol=2e-5, where="['dlmp']")
            or compare(got["cost"], want["cost"], rtol=1e-5, atol=1e-4, where="['cost']")
            or compare(got["dispatch_kw"], want["dispatch_kw"], rtol=1e-3, atol=1e-3 * scale,
                       where="['dispatch_kw']"))


def _draw_opf(rng: np.random.Generator) -> dict:
    """Draw a feeder with 1-3 DERs and a regime: no limit binds, a voltage limit, a line limit, or both.

    Instances near a change of regime (where a small change of the loads changes the prices) are
    drawn again, so that every price is unique and solver tolerances cannot flip it.
    """
    while True:
        if rng.random() < 0.5:
            spec = {"kind": "ieee33", "load_scale": round(float(rng.uniform(0.6, 1.3)), 2)}
        else:
            spec = {"kind": "radial", "n_buses": int(rng.integers(6, 20)), "seed": int(rng.integers(0, 1000)),
                    "load_scale": round(float(rng.uniform(0.6, 1.5)), 2)}
        feeder = feeder_from(spec)
        others = [int(b) for b in feeder.buses.index if b != feeder.substation]
        total = float(feeder.buses["p_kw"].sum())
        k = int(rng.integers(1, min(3, len(others)) + 1))
        price = round(float(rng.uniform(0.03, 0.06)), 3)
        offers = rng.choice(np.arange(60, 160), size=k, replace=False) / 1000.0
        if rng.random() < 0.25:
            offers[0] = round(price - 0.01, 3)  # a DER cheaper than the substation runs flat out
        ders = {"bus": [int(b) for b in rng.choice(others, size=k, replace=False)],
                "p_max_kw": [round(float(v), 1) for v in total * rng.uniform(0.15, 0.5, k)],
                "price": [float(o) for o in offers]}
        regime = rng.choice(["none", "voltage", "line", "both"])
        v_low = float(powerflow.lindistflow(feeder).v_pu.min())
        if regime in ("none", "line"):
            v_min = round(0.9 * v_low, 4)
        else:  # above the lowest voltage without DERs: they must lift it
            v_min = round(min(v_low + (1 - v_low) * float(rng.uniform(0.1, 0.5)), 0.99), 4)
        if regime in ("line", "both"):
            flows = powerflow.lindistflow(feeder).p_kw.abs()
            line = int(rng.choice(flows.index[flows > 0.2 * flows.max()]))
            spec["limit"] = [line, round(float(flows[line] * rng.uniform(0.6, 0.9)), 1)]
        args, kwargs = (spec, price, ders), {"v_min_pu": v_min}
        feeder, _, table = _opf_build(*args)[0]
        try:  # the package's OPF, built once, solved at the loads and at loads 0.2 % higher
            problem = _opf.DLMPProblem(feeder, ders=table, model="lindistflow")
            want = problem.solve(price_substation=price, v_min_pu=v_min)
            again = problem.solve(price_substation=price, v_min_pu=v_min, p_kw=feeder.buses["p_kw"] * 1.002,
                                  q_kvar=feeder.buses["q_kvar"] * 1.002)
        except (ValueError, TeCourseError):
            continue
        if np.allclose(again.prices["total"], want.prices["total"], rtol=1e-3, atol=1e-4):
            return case(*args, **kwargs)


register(Check(
    id="ex3_lindistflow_opf",
    allowed=POWER_FLOWS,
    function="lindistflow_opf",
    disabled=DLMP,
    expected=_opf_expected,
    plain=lambda r: as_dict(r, {"dlmp": as_floats, "dispatch_kw": as_floats, "cost": as_float}),
    fixed=[
        # one line, r = x = 0.01 ohm at 10 kV, 1000 kW of load, line limited to 800 kVA, a DER of 500 kW
        # at 0.08 behind it: the substation sends 800 kW, the DER 200 kW; prices 0.05 and 0.08, cost 56
        case(dict(chain_spec([0.01], [0.01], [1000.0], [0.0]), limit=[0, 800.0]), 0.05,
             {"bus": [1], "p_max_kw": [500.0], "price": [0.08]}),
        # the same line with r = x = 5 ohm (0.05 p.u.) and no line limit: w1 = 1 - 0.1 P >= 0.95^2 caps the
        # line at 975 kW, the DER makes 25 kW; prices 0.05 and 0.08, cost 0.05 x 975 + 0.08 x 25 = 50.75
        case(chain_spec([5.0], [5.0], [1000.0], [0.0]), 0.05, {"bus": [1], "p_max_kw": [500.0], "price": [0.08]},
             v_min_pu=0.95),
        # section 5's congestion case: line 2-3 (label 2) limited to 2,500 kVA
        case({"kind": "ieee33", "limit": [2, 2500.0]}, 0.05,
             {"bus": [18, 33, 25], "p_max_kw": [1200.0, 1200.0, 800.0], "price": [0.08, 0.085, 0.10]},
             v_min_pu=0.9),
    ],
    draw=_draw_opf,
    n_random=2,
    build=_opf_build,
    compare=_opf_compare,
    chapter=CHAPTER,
))


# -- exercise 4: the congested line -------------------------------------------------------


def _table_build(table, spec, **kwargs) -> tuple:
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


def _congested_expected(prices, feeder, tol=0.01) -> object:
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
    id="ex4_congested_line",
    allowed=POWER_FLOWS,
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


# -- exercise 5: a price-taking DER -------------------------------------------------------


def _price_taker(dlmp, offer, p_max_kw, tol=1e-6) -> float | None:
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
    id="ex5_price_taker",
    allowed=POWER_FLOWS,
    function="price_taker",
    disabled=(),
    expected=_price_taker,
    plain=optional(as_float),
    fixed=[case(0.1, 0.08, 100), case(0.05, 0.08, 100), case(0.0800001, 0.08, 100, tol=1e-3)],
    draw=_draw_price_taker,
    chapter=CHAPTER,
))
