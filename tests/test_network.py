"""The network layer (te_course/_network.py) against graph computations done independently with networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from te_course import _network
from te_course.feeders import Feeder, check_feeder, ieee33, pjm5bus, radial_feeder

FEEDERS = [ieee33(), radial_feeder(40, seed=1), radial_feeder(7, seed=3)]


def _subtree_sums(feeder: Feeder, values: pd.Series) -> dict:
    """For each in-service line: the sum of ``values`` over the buses on its side away from the substation."""
    g = feeder.graph
    out = {}
    for u, v, data in g.edges(data=True):
        h = g.copy()
        h.remove_edge(u, v)
        far = v if nx.has_path(h, feeder.substation, u) else u
        out[data["line"]] = float(values[list(nx.node_connected_component(h, far))].sum())
    return out


@pytest.mark.parametrize("feeder", FEEDERS, ids=lambda f: f.name)
def test_downstream_sums_and_incidence_are_kirchhoffs_current_law(feeder):
    tree = _network.tree(feeder)
    loads = feeder.buses["p_kw"]
    by_rank = loads.to_numpy()[tree.order]
    flows = tree.downstream_sum(by_rank[1:])  # per line, by child rank
    expected = _subtree_sums(feeder, loads)
    for k, pos in enumerate(tree.line_pos):
        assert flows[k] == pytest.approx(expected[feeder.lines.index[pos]], abs=1e-9)
    a = tree.incidence()
    assert a.shape == (feeder.n_buses, feeder.n_buses - 1)
    np.testing.assert_allclose((a @ flows)[1:], by_rank[1:], atol=1e-9)  # in - out = load at every bus
    assert (a @ flows)[0] == pytest.approx(-by_rank[1:].sum())  # the substation sends the rest
    np.testing.assert_array_equal(tree.rank[tree.order], np.arange(feeder.n_buses))
    np.testing.assert_array_equal(tree.downstream_map().toarray(), a.toarray().clip(min=0))
    np.testing.assert_array_equal(tree.upstream_map().toarray().argmax(axis=1), tree.parent_rank)


@pytest.mark.parametrize("feeder", FEEDERS, ids=lambda f: f.name)
def test_voltage_drop_and_path_sums_match_the_paths_of_the_graph(feeder):
    tree = _network.tree(feeder)
    z = _network.series_impedance_pu(feeder, tree)
    p = feeder.buses["p_kw"].to_numpy()[tree.order] / feeder.s_base_kva
    q = feeder.buses["q_kvar"].to_numpy()[tree.order] / feeder.s_base_kva
    drop = _network.voltage_drop_sq(np.r_[0, tree.parent_rank], z.real, z.imag, p, q)  # by rank: parents first
    # independently: 2 * sum over the lines on the path of (r * P + x * Q), flows from the subtree sums
    pf = _subtree_sums(feeder, feeder.buses["p_kw"] / feeder.s_base_kva)
    qf = _subtree_sums(feeder, feeder.buses["q_kvar"] / feeder.s_base_kva)
    g = feeder.graph
    for rank, pos in enumerate(tree.order):
        bus = feeder.buses.index[pos]
        path = nx.shortest_path(g, feeder.substation, bus)
        total = 0.0
        for u, v in zip(path, path[1:]):
            line = g.edges[u, v]["line"]
            r, x = (feeder.lines.loc[line, ["r_ohm", "x_ohm"]].to_numpy(float) / feeder.z_base_ohm)
            total += 2 * (r * pf[line] + x * qf[line])
        assert drop[rank] == pytest.approx(total, rel=1e-9, abs=1e-15)
    # and the forward sweep of the tree gives the same drops
    flows_p, flows_q = tree.downstream_sum(p[1:]), tree.downstream_sum(q[1:])
    np.testing.assert_allclose(-tree.accumulate_drop(2 * (z.real * flows_p + z.imag * flows_q)), drop[1:],
                               rtol=1e-9, atol=1e-15)


def test_line_series_reports_flows_in_the_direction_the_table_draws_the_line():
    buses = pd.DataFrame({"p_kw": [0.0, 10.0, 5.0]}, index=["s", "a", "b"])
    lines = pd.DataFrame({"from_bus": ["s", "b"], "to_bus": ["a", "a"], "r_ohm": [0.1, 0.1], "x_ohm": [0.1, 0.1]})
    f = Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation="s")  # line 1 is drawn towards the source
    tree = _network.tree(f)
    by_rank = f.buses["p_kw"].to_numpy()[tree.order]
    send = tree.downstream_sum(by_rank[1:])
    flows = tree.line_series(f, send, send, 1.0)
    assert flows.tolist() == [15.0, -5.0]  # 15 kW from s to a; 5 kW from a to b, i.e. -5 in the b -> a direction
    assert tree.bus_series(f, by_rank, "p").equals(f.buses["p_kw"].rename("p"))


def test_dc_matrices_are_the_weighted_laplacian_without_the_slack():
    f = pjm5bus()
    dc = _network.dc_matrices(f)
    g = nx.Graph()
    for _, row in f.lines.iterrows():
        g.add_edge(row["from_bus"], row["to_bus"], weight=f.z_base_ohm / row["x_ohm"])
    lap = nx.laplacian_matrix(g, nodelist=list(f.buses.index), weight="weight").toarray()
    keep = [i for i, b in enumerate(f.buses.index) if b != f.substation]
    np.testing.assert_allclose(dc.b_reduced.toarray(), lap[np.ix_(keep, keep)], rtol=1e-12)
    assert f.buses.index[dc.slack] == f.substation and list(dc.keep) == keep
    theta = np.arange(f.n_buses, dtype=float)
    frm = f.buses.index.get_indexer(f.lines["from_bus"])
    to = f.buses.index.get_indexer(f.lines["to_bus"])
    np.testing.assert_allclose(dc.a @ theta, theta[frm] - theta[to])


def test_lines_out_of_service_are_left_out():
    f = ieee33(tie_lines=True)
    frm, to, live = _network.in_service_ends(check_feeder(f))
    assert live.sum() == 32 and len(live) == 37
    assert (f.buses.index[frm[live]] == f.lines.loc[live, "from_bus"].to_numpy()).all()
    tree = _network.tree(f)
    assert sorted(tree.line_pos) == sorted(np.flatnonzero(live))
    f.lines.loc[33, "in_service"] = True  # closes a loop
    with pytest.raises(ValueError, match="not radial"):
        _network.tree(check_feeder(f))


def test_der_tables_are_checked_with_messages_that_name_the_entry():
    f = ieee33()
    ders = _network.check_ders({"bus": [18], "p_max_kw": [100.0], "price": [0.1]}, f)
    assert ders[["p_min_kw", "p_max_kw", "price"]].to_numpy().tolist() == [[0.0, 100.0, 0.1]]
    with pytest.raises(ValueError, match=r"`ders\['bus'\]` entry 0 is 99, which is not a bus of the feeder"):
        _network.check_ders({"bus": [99], "p_max_kw": [1.0], "price": [0.1]}, f)
    with pytest.raises(ValueError, match="missing the column"):
        _network.check_ders({"bus": [18]}, f)
    with pytest.raises(ValueError, match=r"beyond the range of the OPF's DER limits"):
        _network.check_ders({"bus": [18], "p_max_kw": [1e12], "price": [0.1]}, f)
    with pytest.raises(ValueError, match=r"above its p_max_kw"):
        _network.check_ders({"bus": [18], "p_min_kw": [5.0], "p_max_kw": [1.0], "price": [0.1]}, f)
