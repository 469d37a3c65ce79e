"""Tests of te_course.security.contingencies (the N-1 check) against independent references.

References written here, not taken from the package:

- the buses cut off by a line outage: a plain breadth-first search over the
  in-service lines, and the tie lines that reconnect them, counted by hand;
- voltages of restored and islanded configurations: pandapower ``runpp`` on a
  network built here from the same lines (tolerance 1e-6 p.u.; tests/security_references.py);
- a hand-built 3-bus feeder whose every configuration is a set of two-bus
  feeders, solved in closed form: ``w^2 - (1 - 2 (R P + X Q)) w + |Z|^2 |S|^2 = 0``
  with ``w = |V_2|^2`` (the exact two-bus power flow, from ``V_2 = V_1 - Z conj(S / V_2)``).
"""

import math
from collections import deque

import numpy as np
import pandas as pd
import pytest
from security_references import pandapower_voltages, two_bus_w

from te_course.feeders import Feeder, ieee33
from te_course.security import NMinus1Result, n_minus_1


@pytest.fixture(scope="module")
def pp():
    return pytest.importorskip("pandapower")


@pytest.fixture(scope="module")
def n1_ieee33():
    return n_minus_1(ieee33(tie_lines=True), v_min_pu=0.9)


# --------------------------------------------------------------------------- references


def bfs_supplied(feeder, out_line=None, closed=()):
    """Buses reachable from the substation over in-service lines, without ``out_line``, plus the ``closed`` ties."""
    lines = feeder.lines
    live = [i for i in lines.index if (lines.loc[i, "in_service"] and i != out_line) or i in closed]
    nbrs = {b: [] for b in feeder.buses.index}
    for i in live:
        a, b = lines.loc[i, "from_bus"], lines.loc[i, "to_bus"]
        nbrs[a].append(b)
        nbrs[b].append(a)
    seen = {feeder.substation}
    queue = deque([feeder.substation])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            if v not in seen:
                seen.add(v)
                queue.append(v)
    return seen


def triangle():
    """Substation 'sub' feeding 'a' (100 kW) and 'b' (50 kW) on lines 'la', 'lb'; tie 'tie' a-b, open."""
    buses = pd.DataFrame({"p_kw": [0.0, 100.0, 50.0], "q_kvar": [0.0, 30.0, 20.0]}, index=["sub", "a", "b"])
    lines = pd.DataFrame(
        {
            "from_bus": ["sub", "sub", "a"],
            "to_bus": ["a", "b", "b"],
            "r_ohm": [0.05, 0.08, 0.04],
            "x_ohm": [0.03, 0.05, 0.02],
            "in_service": [True, True, False],
        },
        index=["la", "lb", "tie"],
    )
    return Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation="sub", name="triangle")


# --------------------------------------------------------------------------- N-1: hand-built feeder


def test_triangle_base_case_is_two_closed_form_feeders():
    f = triangle()
    res = n_minus_1(f, v_min_pu=0.5)
    assert isinstance(res, NMinus1Result)
    base = res.table.loc["base"]
    assert base["tie_closed"] is None and base["buses_lost"] == () and base["secure"]
    w_a = two_bus_w(100, 30, 0.05, 0.03, f)
    w_b = two_bus_w(50, 20, 0.08, 0.05, f)
    assert res.v_pu.loc["a", "base"] == pytest.approx(math.sqrt(w_a), abs=1e-9)
    assert res.v_pu.loc["b", "base"] == pytest.approx(math.sqrt(w_b), abs=1e-9)
    assert base["min_v_bus"] == ("a" if w_a < w_b else "b")
    # losses R |S|^2 / w of each line
    sb, zb = f.s_base_kva, f.z_base_ohm
    loss = (0.05 / zb) * (1.0**2 + 0.3**2) / w_a + (0.08 / zb) * (0.5**2 + 0.2**2) / w_b
    assert base["loss_kw"] == pytest.approx(loss * sb, rel=1e-9)


def test_triangle_without_restoration_loses_the_downstream_bus():
    f = triangle()
    res = n_minus_1(f, v_min_pu=0.5, restore=False)
    t = res.table
    assert list(t.index) == ["base", "la", "lb"]
    assert t.loc["la", "buses_lost"] == ("a",) and t.loc["la", "load_not_served_kw"] == 100.0
    assert t.loc["lb", "buses_lost"] == ("b",) and t.loc["lb", "load_not_served_kw"] == 50.0
    assert t.loc["la", "tie_closed"] is None and t.loc["la", "ties_tried"] == 0
    assert not t.loc["la", "secure"]
    assert t.loc["la", "violations"] == "load shed: 100 kW at bus(es) ['a']"
    # the surviving bus b is again a two-bus feeder; a has no voltage
    assert res.v_pu.loc["b", "la"] == pytest.approx(math.sqrt(two_bus_w(50, 20, 0.08, 0.05, f)), abs=1e-9)
    assert np.isnan(res.v_pu.loc["a", "la"])
    assert np.isnan(res.loading.loc["la", "la"])


def test_triangle_restoration_closes_the_tie(pp):
    f = triangle()
    res = n_minus_1(f, v_min_pu=0.5)
    t = res.table
    for out, other in (("la", "lb"), ("lb", "la")):
        assert t.loc[out, "tie_closed"] == "tie"
        assert t.loc[out, "ties_tried"] == 1
        assert t.loc[out, "buses_lost"] == () and t.loc[out, "load_not_served_kw"] == 0.0
        v_pp, _ = pandapower_voltages(pp, f, [other, "tie"])
        assert (res.v_pu[out] - v_pp).abs().max() < 1e-6
        assert t.loc[out, "secure"]


def test_triangle_thermal_limits_in_closed_form():
    f = triangle()
    w_a = two_bus_w(100, 30, 0.05, 0.03, f)
    # line la: |S| at its sending end = load + Z |S|^2 / w (p.u.), larger than at the receiving end
    zb, sb = f.z_base_ohm, f.s_base_kva
    s_load = complex(1.0, 0.3)
    s_send = s_load + complex(0.05, 0.03) / zb * abs(s_load) ** 2 / w_a
    limit = 101.0
    res = n_minus_1(f, v_min_pu=0.5, s_max_kva={"la": limit}, restore=False)
    assert res.loading.loc["la", "base"] == pytest.approx(abs(s_send) * sb / limit, rel=1e-9)
    assert np.isnan(res.loading.loc["lb", "base"])  # no limit on lb
    base = res.table.loc["base"]
    assert base["max_loading_line"] == "la"
    assert abs(s_send) * sb > limit and not base["secure"]
    assert base["violations"].startswith("overload on line la (")
    # within the limit when the loading limit is raised
    assert n_minus_1(f, v_min_pu=0.5, s_max_kva=limit, loading_limit=1.2).table.loc["base", "secure"]


def test_restoration_that_collapses_falls_back_to_shedding():
    """The chain through the tie cannot carry the load; single lines can: the tie is not used."""
    f = triangle()
    buses = f.buses.copy()
    buses[["p_kw", "q_kvar"]] = [[0.0, 0.0], [900.0, 300.0], [900.0, 300.0]]
    lines = f.lines.copy()
    lines["r_ohm"] = 0.02
    lines["x_ohm"] = 0.01
    f = Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation="sub", name="heavy")
    res = n_minus_1(f, v_min_pu=0.5)
    row = res.table.loc["la"]
    assert row["ties_tried"] == 1 and row["tie_closed"] is None
    assert row["buses_lost"] == ("a",) and row["load_not_served_kw"] == 900.0


def test_overvoltage_in_words():
    """300 kW of generation at bus a lifts it above 1 p.u.; the two-bus closed form gives its voltage."""
    f = triangle().with_injection("a", 400.0)  # 100 kW of load, 400 kW of generation: -300 kW
    v_a = math.sqrt(two_bus_w(-300.0, 30.0, 0.05, 0.03, f))
    assert v_a > 1.02
    row = n_minus_1(f, v_min_pu=0.5, v_max_pu=1.02, lines=[]).table.loc["base"]
    assert row["max_v_pu"] == pytest.approx(v_a, abs=1e-9)
    assert row["violations"] == f"overvoltage at bus a (highest {v_a:.4f} p.u. at bus a)"


def test_a_feeder_without_solution_reports_it():
    f = triangle().scale_loads(1000.0)
    row = n_minus_1(f).table.loc["base"]
    assert not row["secure"] and np.isnan(row["min_v_pu"])
    assert "no power-flow solution" in row["violations"]


# --------------------------------------------------------------------------- N-1 on IEEE 33


def test_islanded_sets_match_breadth_first_search():
    f = ieee33(tie_lines=True)
    res = n_minus_1(f, restore=False)
    everyone = set(f.buses.index)
    for line in f.lines.index[f.lines["in_service"]]:
        lost = everyone - bfs_supplied(f, line)
        row = res.table.loc[line]
        assert set(row["buses_lost"]) == lost, line
        assert row["load_not_served_kw"] == pytest.approx(float(f.buses.loc[sorted(lost), "p_kw"].sum())), line
        assert np.isnan(res.v_pu.loc[sorted(lost), line]).all()


def test_restoring_ties_counted_by_hand(n1_ieee33):
    f = ieee33(tie_lines=True)
    ties = list(f.lines.index[~f.lines["in_service"]])
    assert ties == [33, 34, 35, 36, 37]
    for line in f.lines.index[f.lines["in_service"]]:
        supplied = bfs_supplied(f, line)
        ends = {t: (f.lines.loc[t, "from_bus"], f.lines.loc[t, "to_bus"]) for t in ties}
        reconnect = [t for t, (a, b) in ends.items() if (a in supplied) != (b in supplied)]
        row = n1_ieee33.table.loc[line]
        assert row["ties_tried"] == len(reconnect), line
        if row["tie_closed"] is not None:
            assert row["tie_closed"] in reconnect
            assert bfs_supplied(f, line, closed=(row["tie_closed"],)) == set(f.buses.index)
            assert row["load_not_served_kw"] == 0.0


def test_line_1_cannot_be_restored(n1_ieee33):
    row = n1_ieee33.table.loc[1]
    assert row["ties_tried"] == 0 and row["tie_closed"] is None
    assert row["load_not_served_kw"] == 3715.0
    assert set(row["buses_lost"]) == set(range(2, 34))
    assert row["violations"].startswith("load shed: 3715 kW")


def test_every_other_line_of_ieee33_is_restored(n1_ieee33):
    t = n1_ieee33.table.drop(index=["base", 1])
    assert (t["load_not_served_kw"] == 0).all()
    assert t["tie_closed"].notna().all()


@pytest.mark.parametrize("line, bus, load", [(17, 18, 90.0), (21, 22, 90.0), (24, 25, 420.0), (32, 33, 60.0)])
def test_lateral_ends_shed_only_their_load_without_ties(line, bus, load):
    res = n_minus_1(ieee33(), lines=[line])
    row = res.table.loc[line]
    assert row["buses_lost"] == (bus,) and row["load_not_served_kw"] == load
    assert row["tie_closed"] is None and row["ties_tried"] == 0


def test_line_8_restoration_choice_and_voltages_match_pandapower(pp, n1_ieee33):
    """Line 8-9 out: ties 35 (12-22) and 36 (18-33) reconnect 9..18; the better one by pandapower is chosen."""
    f = ieee33(tie_lines=True)
    radial = [i for i in range(1, 33) if i != 8]
    candidates = {}
    for tie in (35, 36):
        v, _ = pandapower_voltages(pp, f, radial + [tie])
        candidates[tie] = v
    # both violate 0.9 p.u.? then the highest minimum voltage wins; else the secure one
    secure = {tie: v.min() >= 0.9 for tie, v in candidates.items()}
    best = max(candidates, key=lambda tie: (secure[tie], candidates[tie].min()))
    row = n1_ieee33.table.loc[8]
    assert row["ties_tried"] == 2 and row["tie_closed"] == best
    assert (n1_ieee33.v_pu[8] - candidates[best]).abs().max() < 1e-6
    assert row["min_v_pu"] == pytest.approx(candidates[best].min(), abs=1e-6)
    assert row["min_v_bus"] == candidates[best].idxmin()


@pytest.mark.parametrize("line", [2, 22, 29])
def test_restored_voltages_match_pandapower(pp, n1_ieee33, line):
    f = ieee33(tie_lines=True)
    tie = n1_ieee33.table.loc[line, "tie_closed"]
    v, _ = pandapower_voltages(pp, f, [i for i in range(1, 33) if i != line] + [tie])
    assert (n1_ieee33.v_pu[line] - v).abs().max() < 1e-6
    assert n1_ieee33.table.loc[line, "secure"] == bool(v.min() >= 0.9)


def test_islanded_voltages_match_pandapower(pp):
    f = ieee33(tie_lines=True)
    res = n_minus_1(f, restore=False, lines=[8])
    v, _ = pandapower_voltages(pp, f, [i for i in range(1, 33) if i != 8])
    supplied = sorted(bfs_supplied(f, 8))
    assert v.drop(index=supplied).isna().all()  # pandapower leaves the island unsupplied too
    assert (res.v_pu.loc[supplied, 8] - v[supplied]).abs().max() < 1e-6


def test_loading_matches_pandapower_flows(pp):
    f = ieee33(tie_lines=True)
    res = n_minus_1(f, s_max_kva=5000.0, lines=[8])
    tie = res.table.loc[8, "tie_closed"]
    live = [i for i in range(1, 33) if i != 8] + [tie]
    _, net = pandapower_voltages(pp, f, live)
    rl = net.res_line
    s_from = np.hypot(rl.p_from_mw, rl.q_from_mvar) * 1000
    s_to = np.hypot(rl.p_to_mw, rl.q_to_mvar) * 1000
    expected = pd.Series(np.maximum(s_from, s_to).to_numpy() / 5000.0, index=live)
    assert (res.loading.loc[live, 8] - expected).abs().max() < 1e-6
    assert res.table.loc[8, "max_loading"] == pytest.approx(expected.max(), abs=1e-6)
    assert res.table.loc[8, "max_loading_line"] == expected.idxmax()
    assert np.isnan(res.loading.loc[8, 8])  # the line out


def test_ieee33_base_case_and_speed_independent_facts(n1_ieee33):
    base = n1_ieee33.table.loc["base"]
    assert base["min_v_pu"] == pytest.approx(0.9131, abs=1e-4) and base["min_v_bus"] == 18  # Baran and Wu 1989
    assert base["loss_kw"] == pytest.approx(202.7, abs=0.1)
    assert list(n1_ieee33.table.index) == ["base"] + list(range(1, 33))
    assert not n1_ieee33.secure
    assert n1_ieee33.to_frame().equals(n1_ieee33.table)


def test_undervoltage_in_words():
    row = n_minus_1(ieee33(), lines=[]).table.loc["base"]
    assert not row["secure"]
    assert row["violations"].startswith("undervoltage at buses [6, 7, 8")
    assert row["violations"].endswith("(lowest 0.9131 p.u. at bus 18)")


def test_n_minus_1_argument_errors():
    f = ieee33(tie_lines=True)
    with pytest.raises(TypeError, match="`feeder` must be a te_course Feeder"):
        n_minus_1("ieee33")
    with pytest.raises(ValueError, match=r"`v_min_pu` \(1.0\) must be below `v_max_pu` \(1.0\)"):
        n_minus_1(f, v_min_pu=1.0, v_max_pu=1.0)
    with pytest.raises(ValueError, match="`v_min_pu` must be a positive number"):
        n_minus_1(f, v_min_pu=float("nan"))
    with pytest.raises(ValueError, match="`loading_limit` must be a positive number"):
        n_minus_1(f, loading_limit=0)
    with pytest.raises(ValueError, match="`s_max_kva` names line 99, which is not a line"):
        n_minus_1(f, s_max_kva={99: 100.0})
    with pytest.raises(ValueError, match=r"`s_max_kva\[3\]` must be a positive limit"):
        n_minus_1(f, s_max_kva={3: -5.0})
    with pytest.raises(ValueError, match="`s_max_kva` must be a positive number"):
        n_minus_1(f, s_max_kva=-1.0)
    with pytest.raises(TypeError, match="`s_max_kva` must be a positive number"):
        n_minus_1(f, s_max_kva="big")
    with pytest.raises(ValueError, match="`lines` names line 40, which is not a line"):
        n_minus_1(f, lines=[40])
    with pytest.raises(ValueError, match="`lines` names line 33, which is out of service"):
        n_minus_1(f, lines=33)
    g = f.copy()
    g.lines.loc[33, "in_service"] = True
    with pytest.raises(ValueError, match="is not radial"):
        n_minus_1(g)


def test_per_line_limits_and_nan_means_none():
    f = ieee33()
    res = n_minus_1(f, s_max_kva={1: 5000.0, 2: float("nan")}, lines=[])
    assert not np.isnan(res.loading.loc[1, "base"])
    assert res.loading.drop(index=1)["base"].isna().all()
