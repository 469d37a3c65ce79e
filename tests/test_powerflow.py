"""Tests of te_course.powerflow against independent references.

- pandapower (test-only oracle, imported once per module): ``runpp`` on ``case33bw``
  for the exact AC flow, ``rundcpp`` on ``case5`` for the DC flow;
- the base case that studies of the IEEE 33-bus feeder (Baran and Wu 1989) work from:
  losses about 202.7 kW, lowest voltage about 0.913 p.u. at bus 18;
- downstream load sums computed here with networkx (flows of lossless models on trees);
- Kirchhoff's laws checked directly on the AC solution (power balance at every bus);
- the sign of LinDistFlow's error, derived from the DistFlow equations (an upper bound);
- for the reconfiguration of chapter 4, every radial configuration of IEEE 33, with a
  lower bound on the losses and a batched AC sweep written here, not taken from the package;
- for ``hosting_capacity``, closed forms on a two-bus feeder (LinDistFlow's quadratic, the
  AC fixed point solved by bisection here, the injection beyond which no operating point exists).
"""

import itertools
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import te_course as tc
from te_course._validation import ConvergenceError
from te_course.feeders import Feeder, ieee33, pjm5bus, radial_feeder
from te_course.powerflow import PowerFlowResult, ac_power_flow, dc_power_flow, lindistflow, ptdf


@pytest.fixture(scope="module")
def pp():
    return pytest.importorskip("pandapower")


@pytest.fixture(scope="module")
def pp_case33(pp):
    import pandapower.networks as pn

    net = pn.case33bw()
    pp.runpp(net, tolerance_mva=1e-12, numba=False, max_iteration=50)  # heavily loaded: NR needs more than 10
    return net


@pytest.fixture(scope="module")
def ac33():
    return ac_power_flow(ieee33())


def downstream_sums(feeder):
    """Per line label: (p_kw, q_kvar) summed over the buses downstream of it, signed from_bus -> to_bus.

    Downstream = the side of the line away from the substation once the line is removed.
    """
    g = feeder.graph
    out = {}
    for (a, b), line in nx.get_edge_attributes(g, "line").items():
        h = g.copy()
        h.remove_edge(a, b)
        side = nx.node_connected_component(h, b)
        if feeder.substation in side:
            side = nx.node_connected_component(h, a)
        sign = 1.0 if feeder.lines.loc[line, "to_bus"] in side else -1.0
        loads = feeder.buses.loc[sorted(side)]
        out[line] = (sign * loads["p_kw"].sum(), sign * loads["q_kvar"].sum())
    return out


# --------------------------------------------------------------------------- AC on IEEE 33


def test_ac_matches_pandapower_on_ieee33(ac33, pp_case33):
    res_bus = pp_case33.res_bus
    v_pp = pd.Series(res_bus.vm_pu.to_numpy(), index=res_bus.index + 1)
    a_pp = pd.Series(res_bus.va_degree.to_numpy(), index=res_bus.index + 1)
    err = (ac33.v_pu - v_pp).abs()
    assert err.max() < 1e-6, f"max |V - V_pandapower| = {err.max():.2e} at bus {err.idxmax()}"
    assert (ac33.angle_deg - a_pp).abs().max() < 1e-4
    loss_pp = pp_case33.res_line.pl_mw.sum() * 1000
    assert abs(ac33.total_loss_kw - loss_pp) < 0.01
    assert abs(ac33.total_loss_kvar - pp_case33.res_line.ql_mvar.sum() * 1000) < 0.01
    assert ac33.substation_p_kw == pytest.approx(pp_case33.res_ext_grid.p_mw.iloc[0] * 1000, abs=0.01)
    assert ac33.substation_q_kvar == pytest.approx(pp_case33.res_ext_grid.q_mvar.iloc[0] * 1000, abs=0.01)
    # line flows at the sending end, lines 1..32 are pandapower's lines 0..31 in the same direction
    p_pp = pp_case33.res_line.p_from_mw.iloc[:32].to_numpy() * 1000
    assert np.allclose(ac33.p_kw.to_numpy(), p_pp, atol=1e-4)
    assert np.allclose(ac33.loss_kw.to_numpy(), pp_case33.res_line.pl_mw.iloc[:32].to_numpy() * 1000, atol=1e-5)


def test_ac_reproduces_published_base_case(ac33):
    assert ac33.total_loss_kw == pytest.approx(202.7, abs=0.05)
    assert ac33.v_pu.idxmin() == 18
    assert ac33.v_pu.min() == pytest.approx(0.913, abs=5e-4)
    assert ac33.model == "ac" and 1 <= ac33.iterations < 20
    with pytest.warns(DeprecationWarning, match="always True"):
        assert ac33.converged  # deprecated: a sweep that does not converge raises ConvergenceError
    assert ac33.v_pu[1] == 1.0 and ac33.angle_deg[1] == 0.0


def test_ac_power_balance_at_every_bus(ac33):
    feeder = ieee33()
    lines = ac33.lines_frame()
    recv_p = lines.p_kw - lines.loss_kw
    for bus in feeder.buses.index:
        inflow = recv_p[lines.to_bus == bus].sum() - lines.p_kw[lines.from_bus == bus].sum()
        if bus == feeder.substation:
            inflow += ac33.substation_p_kw
        assert inflow == pytest.approx(feeder.buses.loc[bus, "p_kw"], abs=1e-6)
    assert ac33.substation_p_kw == pytest.approx(3715 + ac33.total_loss_kw)


def test_ac_source_voltage_and_reversed_lines_and_labels():
    """Reversing line directions and relabelling buses only changes signs and labels."""
    f = ieee33()
    lines = f.lines.copy()
    lines[["from_bus", "to_bus"]] = lines[["to_bus", "from_bus"]].to_numpy()
    names = {b: f"b{b}" for b in f.buses.index}
    lines["from_bus"] = lines["from_bus"].map(names)
    lines["to_bus"] = lines["to_bus"].map(names)
    g = Feeder(f.buses.rename(index=names), lines, f.v_base_kv, f.s_base_kva, substation="b1", name="reversed")
    a, b = ac_power_flow(f, v_source_pu=1.02), ac_power_flow(g, v_source_pu=1.02)
    assert np.allclose(a.v_pu.to_numpy(), b.v_pu.to_numpy(), atol=1e-12)
    assert np.allclose(a.p_kw.to_numpy(), -(b.p_kw - b.loss_kw).to_numpy(), atol=1e-9)
    assert a.v_pu[1] == 1.02 and a.v_pu.min() > ac_power_flow(f).v_pu.min()


def test_ac_with_pv_raises_voltage_and_reverses_flow():
    base = ac_power_flow(ieee33())
    pv = ac_power_flow(ieee33().with_injection(18, 1000.0))
    assert pv.v_pu[18] > base.v_pu[18]
    assert pv.p_kw[17] < 0  # line 17-18 now exports towards bus 17


def test_results_tables(ac33):
    frame = ac33.to_frame()
    assert list(frame.columns) == ["v_pu", "angle_deg", "p_kw", "q_kvar"] and len(frame) == 33
    lines = ac33.lines_frame()
    assert list(lines.columns) == ["from_bus", "to_bus", "p_kw", "q_kvar", "loss_kw", "loss_kvar"]
    assert isinstance(ac33, PowerFlowResult)


def test_out_of_service_ties_carry_nothing():
    res = ac_power_flow(ieee33(tie_lines=True))
    assert (res.p_kw.loc[33:] == 0).all() and (res.loss_kw.loc[33:] == 0).all()
    assert res.total_loss_kw == pytest.approx(202.68, abs=0.01)


# --------------------------------------------------------------------------- errors


def test_closing_a_tie_line_raises_naming_the_loop():
    f = ieee33(tie_lines=True)
    f.lines.loc[33, "in_service"] = True  # tie 8-21
    with pytest.raises(ValueError, match=r"not radial: the in-service lines \[.*33.*\] form a loop"):
        ac_power_flow(f)
    with pytest.raises(ValueError, match=r"not radial"):
        lindistflow(f)
    dc_power_flow(f)  # DC handles meshes


@pytest.mark.parametrize("factor", [10, 20])
def test_overloaded_feeder_raises_convergence_error(factor):
    f = ieee33().scale_loads(factor)
    message = r"did not converge after \d+ iterations; the load may exceed what the feeder can carry \("
    with pytest.raises(ConvergenceError, match=message) as info:
        ac_power_flow(f)
    assert info.value.iterations >= 1 and len(info.value.history) == info.value.iterations


def test_collapse_is_caught_early_and_never_nan():
    f = ieee33().scale_loads(1000)
    with pytest.raises(ConvergenceError, match=r"did not converge after \d+ iterations.*(collapsed|diverging)") as info:
        ac_power_flow(f)
    assert info.value.iterations < 100


def test_too_few_iterations_raises():
    with pytest.raises(ConvergenceError, match=r"did not converge after 2 iterations"):
        ac_power_flow(ieee33(), max_iter=2)


def test_argument_validation():
    with pytest.raises(ValueError, match=r"`v_source_pu` must be a positive number; got -1"):
        ac_power_flow(ieee33(), v_source_pu=-1)
    with pytest.raises(ValueError, match=r"`tol` must be a positive number; got 0"):
        ac_power_flow(ieee33(), tol=0)
    with pytest.raises(ValueError, match=r"`max_iter` must be a positive integer; got 0"):
        ac_power_flow(ieee33(), max_iter=0)
    with pytest.raises(TypeError, match=r"`feeder` must be a te_course Feeder"):
        ac_power_flow("ieee33")
    with pytest.raises(TypeError, match=r"`feeder` must be a te_course Feeder"):
        dc_power_flow(None)


def test_disconnected_buses_are_named():
    f = ieee33()
    f.lines.loc[17, "in_service"] = False
    for solve in (ac_power_flow, lindistflow, dc_power_flow, ptdf):
        with pytest.raises(ValueError, match=r"not connected: bus\(es\) \[18\]"):
            solve(f)


def test_lindistflow_negative_squared_voltage():
    with pytest.raises(ValueError, match=r"LinDistFlow gives a negative squared voltage .* at bus 18"):
        lindistflow(ieee33().scale_loads(20))


# --------------------------------------------------------------------------- LinDistFlow


def test_lindistflow_error_against_ac_on_ieee33(ac33):
    lin = lindistflow(ieee33())
    err = (lin.v_pu - ac33.v_pu).abs()
    print("\nLinDistFlow |V - V_ac| per bus (p.u.):\n", err.round(5).to_string())
    # measured: max 0.0028 p.u. at bus 18 (LinDistFlow neglects losses, so it overestimates voltages)
    assert err.max() < 0.004
    assert (lin.v_pu >= ac33.v_pu - 1e-12).all()
    assert lin.model == "lindistflow" and lin.total_loss_kw == 0.0 and lin.iterations == 0
    assert lin.substation_p_kw == pytest.approx(3715.0)
    assert (lin.angle_deg - ac33.angle_deg).abs().max() < 0.1


def test_lindistflow_flows_are_downstream_sums_and_voltage_formula():
    f = radial_feeder(60, seed=5)
    f.lines.loc[[3, 10], ["from_bus", "to_bus"]] = f.lines.loc[[3, 10], ["to_bus", "from_bus"]].to_numpy()
    f = f.with_injection(30, 500.0)
    res = lindistflow(f)
    sums = downstream_sums(f)
    for line, (p, q) in sums.items():
        assert res.p_kw[line] == pytest.approx(p, abs=1e-9)
        assert res.q_kvar[line] == pytest.approx(q, abs=1e-9)
    # v_j^2 = v_i^2 - 2 (r P + x Q) / z_base / s_base, walked with networkx from the substation
    z, sb = f.z_base_ohm, f.s_base_kva
    g = f.graph
    for u, v in nx.bfs_edges(g, 1):
        data = g.edges[u, v]
        line = data["line"]
        sign = 1.0 if f.lines.loc[line, "from_bus"] == u else -1.0
        p, q = sign * res.p_kw[line], sign * res.q_kvar[line]
        expected = res.v_pu[u] ** 2 - 2 * (data["r_ohm"] * p + data["x_ohm"] * q) / z / sb
        assert res.v_pu[v] ** 2 == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- DC


def test_dc_matches_pandapower_on_pjm5(pp):
    import pandapower.networks as pn

    net = pn.case5()
    pp.rundcpp(net)
    res = dc_power_flow(pjm5bus())
    assert np.allclose(res.p_kw.to_numpy(), net.res_line.p_from_mw.to_numpy() * 1000, atol=1e-3)
    assert np.allclose(res.angle_deg.to_numpy(), net.res_bus.va_degree.to_numpy(), atol=1e-8)
    assert res.substation_p_kw == pytest.approx(net.res_ext_grid.p_mw.iloc[0] * 1000, abs=1e-3)
    assert res.model == "dc" and (res.v_pu == 1.0).all() and res.total_loss_kw == 0.0


def test_ptdf_times_injections_equals_dc_flows():
    for net in (pjm5bus(), ieee33(), radial_feeder(40, seed=2)):
        m = ptdf(net)
        flows = m.to_numpy() @ (-net.buses["p_kw"].to_numpy())
        assert np.allclose(flows, dc_power_flow(net).p_kw.to_numpy(), atol=1e-6)
        assert (m[net.substation] == 0).all()


def test_ptdf_of_a_meshed_network_by_finite_difference():
    net = pjm5bus()
    base = dc_power_flow(net).p_kw
    m = ptdf(net)
    for bus in "ABCE":
        moved = dc_power_flow(net.with_injection(bus, 1000.0)).p_kw
        assert np.allclose((moved - base).to_numpy() / 1000.0, m[bus].to_numpy(), atol=1e-9)


def test_dc_flows_on_a_radial_feeder_are_downstream_sums():
    f = ieee33().with_injection(25, 300.0)
    res = dc_power_flow(f)
    for line, (p, _) in downstream_sums(f).items():
        assert res.p_kw[line] == pytest.approx(p, abs=1e-6)
    assert res.substation_p_kw == pytest.approx(f.buses["p_kw"].sum())


def test_dc_with_an_open_line_in_a_mesh():
    net = pjm5bus()
    net.lines.loc[3, "in_service"] = False  # A-E open: still connected
    res = dc_power_flow(net)
    assert res.p_kw[3] == 0.0
    assert res.substation_p_kw == pytest.approx(net.buses["p_kw"].sum(), abs=1e-6)


def test_ac_matches_pandapower_on_a_shuffled_synthetic_feeder(pp):
    """Bus order, line order and line directions are arbitrary: the sweep must not rely on them."""
    rng = np.random.default_rng(11)
    f = radial_feeder(300, seed=4).scale_loads(3.0)
    lines = f.lines.sample(frac=1.0, random_state=1)
    flip = rng.random(len(lines)) < 0.5
    lines.loc[flip, ["from_bus", "to_bus"]] = lines.loc[flip, ["to_bus", "from_bus"]].to_numpy()
    f = Feeder(f.buses.sample(frac=1.0, random_state=2), lines, f.v_base_kv, f.s_base_kva, substation=1)
    ours = ac_power_flow(f)

    net = pp.create_empty_network(sn_mva=f.s_base_kva / 1000)
    ids = {bus: pp.create_bus(net, vn_kv=f.v_base_kv) for bus in f.buses.index}
    pp.create_ext_grid(net, ids[f.substation], vm_pu=1.0)
    for bus, row in f.buses.iterrows():
        pp.create_load(net, ids[bus], p_mw=row.p_kw / 1000, q_mvar=row.q_kvar / 1000)
    line_ids = {}
    for line, row in f.lines.iterrows():
        line_ids[line] = pp.create_line_from_parameters(
            net, ids[row.from_bus], ids[row.to_bus], length_km=1.0, r_ohm_per_km=row.r_ohm,
            x_ohm_per_km=row.x_ohm, c_nf_per_km=0.0, max_i_ka=1.0,
        )
    pp.runpp(net, tolerance_mva=1e-12, numba=False, max_iteration=50)  # heavily loaded: NR needs more than 10
    v_pp = pd.Series({bus: net.res_bus.vm_pu[i] for bus, i in ids.items()})
    assert (ours.v_pu - v_pp).abs().max() < 1e-6
    assert ours.v_pu.min() < 0.9  # a heavily loaded case, not a flat profile
    p_pp = pd.Series({line: net.res_line.p_from_mw[i] * 1000 for line, i in line_ids.items()})
    assert (ours.p_kw - p_pp).abs().max() < 1e-3
    assert abs(ours.total_loss_kw - net.res_line.pl_mw.sum() * 1000) < 0.01


# --------------------------------------------------------------------------- LinDistFlow bounds the exact voltages


@pytest.mark.parametrize(("n", "seed", "pv_kw"), [(40, 1, 0.0), (60, 5, 800.0), (120, 9, 3000.0)])
def test_lindistflow_voltages_are_never_below_the_exact_ones(n, seed, pv_kw):
    """Chapter 4: v_ac <= v_lindistflow at every bus, with loads and with reverse flows.

    The exact flow on a line is the lossless one plus the losses of that line and of the
    lines below it, so the exact drop of V^2 along the line exceeds LinDistFlow's by
    (r^2 + x^2) l + 2 (r * active losses below + x * reactive losses below) >= 0.
    """
    f = radial_feeder(n, seed=seed).scale_loads(2.0)
    far = f.buses.index[-1]
    f = f.with_injection(far, pv_kw)
    ac, lin = ac_power_flow(f), lindistflow(f)
    assert (lin.v_pu >= ac.v_pu - 1e-12).all()
    assert (lin.v_pu - ac.v_pu).max() > 1e-4  # not trivially equal


def test_a_negative_lindistflow_squared_voltage_means_no_ac_solution():
    """Chapter 4, section 7: at ten times the load even LinDistFlow, an upper bound, goes below zero."""
    base = lindistflow(ieee33())
    w = 1.0 - 10 * (1.0 - base.v_pu**2)  # LinDistFlow's squared voltages are affine in a load scaling
    assert w.min() < 0 and w.idxmin() == 18
    with pytest.raises(ValueError, match="negative squared voltage"):
        lindistflow(ieee33().scale_loads(10))
    with pytest.raises(ConvergenceError):
        ac_power_flow(ieee33().scale_loads(10))


# --------------------------------------------------------------------------- reconfiguration of IEEE 33

# Chapter 4, section 8: open lines 7-8, 9-10, 14-15, 32-33 and the tie 25-29 (lines 7, 9, 14, 32, 37).
BEST_OPEN = (7, 9, 14, 32, 37)


def reconfigured_ieee33(opened=BEST_OPEN):
    f = ieee33(tie_lines=True)
    f.lines["in_service"] = ~f.lines.index.isin(opened)
    return f


def independent_sweep(inc, z_pu, s_pu, kept, *, tol=1e-10, max_iter=200):
    """AC power flow of many trees at once, written here without the package.

    ``inc`` is the bus x line incidence matrix without the substation row (+1 at a line's
    to_bus, -1 at its from_bus), ``kept`` an (n_trees, n_buses - 1) array of the lines in
    service.  KCL: inc[:, kept] @ I = load currents; KVL: inc[:, kept].T @ (V - 1) = -z I.
    Returns each tree's active losses (p.u.) and whether its iteration converged.
    """
    a = inc[:, kept].transpose(1, 0, 2)
    a_inv = np.linalg.inv(a)
    a_inv_t = a_inv.transpose(0, 2, 1).copy()
    z = z_pu[kept]

    def times(m, x):
        return (m @ x.real[..., None])[..., 0] + 1j * (m @ x.imag[..., None])[..., 0]

    v = np.ones((len(kept), inc.shape[0]), dtype=complex)
    change = np.full(len(kept), np.inf)
    for _ in range(max_iter):
        v_new = 1.0 - times(a_inv_t, z * times(a_inv, np.conj(s_pu / v)))
        change = np.abs(v_new - v).max(axis=1)
        v = v_new
        if change.max() < tol:
            break
    current = times(a_inv, np.conj(s_pu / v))
    return (np.abs(current) ** 2 * z.real).sum(axis=1), change < tol


def test_reconfigured_ieee33_has_the_lowest_losses_of_every_radial_configuration():
    """Brute force over all radial configurations of IEEE 33 with its five ties.

    Every spanning tree of the 37 lines is found from the cycle space: opening the lines R
    leaves a tree exactly when the columns R of a basis of fundamental cycles are
    independent (their 5 x 5 determinant is +-1, not 0).  networkx counts the trees
    independently (Kirchhoff's matrix-tree theorem).

    Bound: with loads p, q >= 0 every exact flow is at least the lossless one and no voltage
    exceeds the source's, so the losses of a tree are at least sum_l r_l (P_l^2 + Q_l^2) with
    the lossless flows.  Only the trees whose bound is below the best losses could beat them:
    their exact losses come from the sweep above, independent of te_course.
    """
    f = ieee33(tie_lines=True)
    lines, buses = f.lines, list(f.buses.index)
    assert (f.buses[["p_kw", "q_kvar"]].to_numpy() >= 0).all()
    pos = {b: i for i, b in enumerate(buses)}
    n_lines = len(lines)
    inc = np.zeros((len(buses), n_lines))
    for e, (a, b) in enumerate(zip(lines.from_bus, lines.to_bus)):
        inc[pos[a], e], inc[pos[b], e] = -1.0, 1.0
    inc = np.delete(inc, pos[f.substation], axis=0)

    # fundamental cycles of the ties with respect to the as-built tree
    tree = ieee33().graph
    ties = np.flatnonzero(~lines.in_service.to_numpy())
    cycles = np.zeros((len(ties), n_lines))
    for k, t in enumerate(ties):
        a, b = lines.from_bus.iloc[t], lines.to_bus.iloc[t]
        cycles[k, t] = 1.0  # a -> b over the tie, then back from b to a in the tree
        path = nx.shortest_path(tree, b, a)
        for u, v in zip(path[:-1], path[1:]):
            e = lines.index.get_loc(tree.edges[u, v]["line"])
            cycles[k, e] = 1.0 if lines.from_bus.iloc[e] == u else -1.0
    assert np.allclose(inc @ cycles.T, 0.0)

    opened = np.array(list(itertools.combinations(range(n_lines), len(ties))))
    det = np.linalg.det(cycles[:, opened].transpose(1, 0, 2))
    opened = opened[np.abs(det) > 0.5]
    multigraph = nx.MultiGraph([(a, b) for a, b in zip(lines.from_bus, lines.to_bus)])
    assert len(opened) == round(nx.number_of_spanning_trees(multigraph)) == 50_751

    # lossless flows of every tree: the as-built tree's flows plus the cycle flows that empty R
    pq = np.delete(f.buses[["p_kw", "q_kvar"]].to_numpy() / f.s_base_kva, pos[f.substation], axis=0)
    in_tree = lines.in_service.to_numpy()
    base = np.zeros((n_lines, 2))
    base[in_tree] = np.linalg.solve(inc[:, in_tree], pq)
    y = np.linalg.solve(cycles[:, opened].transpose(1, 2, 0), -base[opened])  # (cycles[:, R].T) y = -base[R]
    flows = base[None] + np.einsum("nkc,kl->nlc", y, cycles)
    r_pu = lines.r_ohm.to_numpy() / f.z_base_ohm
    assert np.allclose(flows[np.arange(len(opened))[:, None], opened], 0.0, atol=1e-12)
    bound = (r_pu * (flows**2).sum(axis=2)).sum(axis=1) * f.s_base_kva

    best = ac_power_flow(reconfigured_ieee33())
    assert best.total_loss_kw == pytest.approx(139.55, abs=0.005)
    assert best.v_pu.min() == pytest.approx(0.9378, abs=5e-5)
    candidates = np.flatnonzero(bound < best.total_loss_kw + 1e-6)
    assert 1 <= len(candidates) < 2_000
    keep = np.ones((len(candidates), n_lines), dtype=bool)
    keep[np.arange(len(candidates))[:, None], opened[candidates]] = False
    kept = np.nonzero(keep)[1].reshape(len(candidates), n_lines - len(ties))
    z_pu = (lines.r_ohm.to_numpy() + 1j * lines.x_ohm.to_numpy()) / f.z_base_ohm
    s_pu = pq[:, 0] + 1j * pq[:, 1]
    loss_pu, converged = independent_sweep(inc, z_pu, s_pu, kept)
    assert converged.all()
    losses = loss_pu * f.s_base_kva
    winner = candidates[np.argmin(losses)]
    assert tuple(lines.index[opened[winner]]) == BEST_OPEN
    assert losses.min() == pytest.approx(best.total_loss_kw, abs=1e-6)  # two implementations agree
    assert np.sort(losses)[1] > losses.min() + 0.1  # the optimum is unique


def test_reconfigured_ieee33_matches_pandapower(pp):
    import pandapower.networks as pn

    net = pn.case33bw()
    opened = {frozenset(ab) for ab in reconfigured_ieee33().lines.loc[list(BEST_OPEN), ["from_bus", "to_bus"]]
              .itertuples(index=False)}
    for i, row in net.line.iterrows():
        net.line.loc[i, "in_service"] = frozenset((row.from_bus + 1, row.to_bus + 1)) not in opened
    assert (~net.line.in_service).sum() == 5
    pp.runpp(net, tolerance_mva=1e-12, numba=False, max_iteration=50)
    ours = ac_power_flow(reconfigured_ieee33())
    assert ours.total_loss_kw == pytest.approx(net.res_line.pl_mw.sum() * 1000, abs=0.01)
    v_pp = pd.Series(net.res_bus.vm_pu.to_numpy(), index=net.res_bus.index + 1)
    assert (ours.v_pu - v_pp).abs().max() < 1e-6


# --------------------------------------------------------------------------- issue 14: edited tables, bases


def _edited(edit):
    f = radial_feeder(6, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecates inplace=True
        edit(f)
    return f


ALL_SOLVERS = [ac_power_flow, lindistflow, dc_power_flow, ptdf]


@pytest.mark.parametrize(
    ("edit", "solvers", "match"),
    [
        # x_ohm = 0: dc_power_flow and ptdf returned NaN
        (lambda f: f.lines.__setitem__("x_ohm", f.lines["x_ohm"].where(f.lines.index != 2, 0.0)), ALL_SOLVERS,
         r"line 2 of `(feeder|network).lines` has x_ohm=0.0; a reactance must be finite and > 0"),
        # a NaN load: lindistflow returned NaN voltages
        (lambda f: f.buses.__setitem__("p_kw", f.buses["p_kw"].where(f.buses.index != 3, np.nan)), ALL_SOLVERS,
         r"`(feeder|network).buses\['p_kw'\]` must be finite; bus 3 has nan"),
        # an unknown bus: "negative axis 1 index: -1"
        (lambda f: f.lines.__setitem__("to_bus", f.lines["to_bus"].where(f.lines.index != 2, 99)), ALL_SOLVERS,
         r"line 2 of `(feeder|network).lines` has to_bus=99, which is not a bus of the feeder"),
        # a dropped column: KeyError 'x_ohm'
        (lambda f: f.lines.drop(columns="x_ohm", inplace=True), ALL_SOLVERS,
         r"`(feeder|network).lines` is missing the column\(s\) \['x_ohm'\]"),
        (lambda f: f.buses.drop(columns="p_kw", inplace=True), ALL_SOLVERS,
         r"`(feeder|network).buses` must have a 'p_kw' column"),
        (lambda f: f.lines.__setitem__("r_ohm", -1.0), ALL_SOLVERS, r"has r_ohm=-1.0; a resistance must be"),
    ],
)
def test_tables_edited_in_place_are_validated_where_used(edit, solvers, match):
    f = _edited(edit)
    for solve in solvers:
        with pytest.raises(ValueError, match=match + r".*The tables of `(feeder|network)` were edited after"):
            solve(f)


def test_error_names_the_argument_of_dc_functions():
    f = _edited(lambda f: f.lines.__setitem__("x_ohm", 0.0))
    for solve in (dc_power_flow, ptdf):
        with pytest.raises(ValueError, match=r"^line 1 of `feeder.lines` has x_ohm=0.0; .* tables of `feeder`"):
            solve(f)


def test_valid_in_place_edits_give_the_same_answer_as_a_new_feeder():
    f = ieee33(tie_lines=True)
    f.lines.loc[[7, 33], "in_service"] = [False, True]  # open 7-8, close the tie 8-21
    f.buses.loc[18, "p_kw"] = 300.0
    fresh = Feeder(f.buses.copy(), f.lines.copy(), f.v_base_kv, f.s_base_kva, f.substation, f.name)
    for solve in (ac_power_flow, lindistflow, dc_power_flow):
        pd.testing.assert_series_equal(solve(f).v_pu, solve(fresh).v_pu)
        pd.testing.assert_series_equal(solve(f).p_kw, solve(fresh).p_kw)
    # an edit that leaves in_service as objects is read as booleans (numpy would index with 0/1)
    f.lines["in_service"] = f.lines["in_service"].astype(object)
    pd.testing.assert_series_equal(ac_power_flow(f).p_kw, ac_power_flow(fresh).p_kw)
    pd.testing.assert_frame_equal(ptdf(f), ptdf(fresh))


def test_power_base_does_not_change_results_across_its_range():
    # issue 14, item 14: bases are checked against a documented range; inside it, answers do not depend on s_base
    ref = ieee33()
    for s_base in (1e-3, 1e9):
        f = Feeder(ref.buses, ref.lines, v_base_kv=ref.v_base_kv, s_base_kva=s_base, substation=1)
        for solve in (ac_power_flow, lindistflow, dc_power_flow):
            a, b = solve(f), solve(ref)
            assert np.allclose(a.v_pu, b.v_pu, rtol=0, atol=1e-9)
            assert np.allclose(a.p_kw, b.p_kw, rtol=1e-9, atol=1e-6)
        assert np.allclose(ptdf(f), ptdf(ref), atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"v_base_kv": 1e-300}, {"s_base_kva": 1e-300}, {"s_base_kva": 0}])
def test_bases_that_break_per_unit_are_refused(kwargs):
    f = radial_feeder(6, seed=3)
    args = {"v_base_kv": f.v_base_kv, "s_base_kva": f.s_base_kva, **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=rf"`{name}` must (lie between|be a positive number)"):
        Feeder(f.buses, f.lines, substation=1, **args)


# --- issue 14: fuzz findings


@pytest.mark.parametrize("solve", [ac_power_flow, lindistflow])
@pytest.mark.parametrize("v0", [1e300, 1e-300, 0.1, 2.0])
def test_source_voltage_outside_its_range_is_named(solve, v0):
    # lindistflow squared 1e300 (OverflowError); ac_power_flow "did not converge" without naming it
    with pytest.raises(ValueError, match=r"`v_source_pu` must lie between 0.5 and 1.5 p.u."):
        solve(radial_feeder(4, seed=1), v_source_pu=v0)


def test_source_voltage_at_the_ends_of_its_range_is_solved():
    # LinDistFlow: v^2 drops by the same amount whatever the source voltage (closed form)
    f = radial_feeder(4, seed=1)
    w1 = lindistflow(f).v_pu ** 2
    for v0 in (0.5, 1.5):
        assert (lindistflow(f, v_source_pu=v0).v_pu ** 2 - (w1 - 1.0 + v0**2)).abs().max() < 1e-12
        assert ac_power_flow(f, v_source_pu=v0).v_pu.iloc[0] == v0


@pytest.mark.parametrize("solve", [dc_power_flow, ptdf])
def test_dc_reactances_too_far_apart_are_named(solve):
    # a line of 1e50 ohm next to lines of 0.1 ohm made the B matrix singular in floating point: NaN angles
    f = radial_feeder(4, seed=1)
    f.lines.loc[2, "x_ohm"] = 1e50
    with pytest.raises(ValueError, match=r"`feeder.lines\['x_ohm'\]` spans too wide a range"):
        solve(f)


# --------------------------------------------------------------------------- hosting capacity
# (powerflow.hosting_capacity) PV hosting capacity against closed forms on a two-bus feeder.


def two_bus(r_ohm=1.0, x_ohm=1.0, load_kw=0.0):
    buses = pd.DataFrame({"p_kw": [0.0, load_kw]}, index=[0, 1])
    lines = pd.DataFrame({"from_bus": [0], "to_bus": [1], "r_ohm": [r_ohm], "x_ohm": [x_ohm]})
    return tc.Feeder(buses, lines, v_base_kv=10.0, s_base_kva=1000.0, substation=0)


@pytest.mark.parametrize("v_max", [1.02, 1.05])
def test_lindistflow_hosting_capacity_matches_the_closed_form(v_max):
    # v^2 = 1 + 2 r P / (1000 Vb^2) with r = 1 ohm, Vb = 10 kV  =>  P = (v_max^2 - 1) * 1e5 / 2
    expected = (v_max**2 - 1) * 1e5 / 2
    assert tc.hosting_capacity(two_bus(), 1, model="lindistflow", v_max_pu=v_max) == pytest.approx(expected, abs=1.0)


def test_ac_hosting_capacity_matches_an_independent_fixed_point():
    def v2(p_kw):  # V2 = V1 + Z conj(S / V2), per unit on 10 kV / 1000 kVA (z_base = 100 ohm)
        s, z, v = p_kw / 1000.0, complex(1.0, 1.0) / 100.0, 1.0 + 0j
        for _ in range(300):
            v = 1.0 + z * np.conj(s / v)
        return abs(v)

    lo, hi = 0.0, 20_000.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if v2(mid) <= 1.05 else (lo, mid)
    assert tc.hosting_capacity(two_bus(), 1) == pytest.approx(lo, abs=1.0)


def test_hosting_capacity_on_ieee33_is_larger_near_the_substation_and_larger_under_ac():
    f = tc.ieee33()
    far_ac, far_ldf = tc.hosting_capacity(f, 18), tc.hosting_capacity(f, 18, model="lindistflow")
    assert far_ac > far_ldf > 0  # LinDistFlow leaves out the losses that pull voltages down
    v = tc.ac_power_flow(f.with_injection(18, far_ac + 2)).v_pu.max()
    assert v > 1.05 >= tc.ac_power_flow(f.with_injection(18, far_ac)).v_pu.max()
    assert tc.hosting_capacity(f, 3) > far_ac


def test_hosting_capacity_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`model` must be 'ac' or 'lindistflow'"):
        tc.hosting_capacity(two_bus(), 1, model="dc")
    with pytest.raises(ValueError, match="`bus` 7 is not a bus"):
        tc.hosting_capacity(two_bus(), 7)
    assert tc.hosting_capacity(two_bus(), 1, v_max_pu=0.5) == 0.0


def three_bus(**lines):
    buses = pd.DataFrame({"p_kw": [0.0, 100.0, 100.0]}, index=[0, 1, 2])
    table = pd.DataFrame({"from_bus": [0, 1, 2], "to_bus": [1, 2, 0], "r_ohm": 1.0, "x_ohm": 1.0, **lines})
    return tc.Feeder(buses, table, v_base_kv=10.0, s_base_kva=1000.0, substation=0)


@pytest.mark.parametrize("kwargs, name", [
    ({"max_kw": -1}, "max_kw"),  # issue 14, item 4: returned -1.0
    ({"max_kw": np.nan}, "max_kw"),  # returned 0.0
    ({"max_kw": np.inf}, "max_kw"),  # issue 14, item 11: never returned
    ({"max_kw": 0}, "max_kw"),
    ({"v_max_pu": np.nan}, "v_max_pu"),  # returned 0.0
    ({"v_max_pu": -1.05}, "v_max_pu"),
    ({"tol_kw": 0}, "tol_kw"),  # the rest never returned
    ({"tol_kw": -1}, "tol_kw"),
    ({"tol_kw": -np.inf}, "tol_kw"),
    ({"tol_kw": np.nan}, "tol_kw"),
    ({"tol_kw": 1e-300}, "tol_kw"),
    ({"tol_kw": 20_000.0}, "tol_kw"),  # as wide as the search: no bisection at all
    ({"max_kw": 1e300}, "tol_kw"),  # 1 kW out of 1e300 is finer than floating point resolves
])
def test_hosting_capacity_rejects_bounds_and_tolerances_that_give_a_wrong_answer_or_never_end(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        tc.hosting_capacity(tc.radial_feeder(6, seed=3), 6, **kwargs)


def test_hosting_capacity_rejects_a_list_of_buses_and_a_non_feeder():
    with pytest.raises(TypeError, match="`bus` must be one bus label"):  # issue 14, item 16: "unhashable type"
        tc.hosting_capacity(tc.radial_feeder(6, seed=3), [2, 3])
    with pytest.raises(TypeError, match="`feeder`"):
        tc.hosting_capacity(None, 1)
    with pytest.raises(ValueError, match="`model`"):
        tc.hosting_capacity(two_bus(), 1, model=["ac"])


@pytest.mark.parametrize("model", ["ac", "lindistflow"])
def test_hosting_capacity_raises_on_a_meshed_or_disconnected_feeder(model):
    """Issue 14, item 4: the "not radial" error was swallowed as "too much PV" and 0.0 returned."""
    with pytest.raises(ValueError, match="not radial"):
        tc.hosting_capacity(three_bus(), 2, model=model)
    with pytest.raises(ValueError, match="not connected"):
        tc.hosting_capacity(three_bus(in_service=[True, False, False]), 1, model=model)
    # the same feeder opened into a tree has a hosting capacity
    assert tc.hosting_capacity(three_bus(in_service=[True, True, False]), 2, model=model) > 0


def test_hosting_capacity_raises_when_the_feeder_without_pv_has_no_operating_point():
    overloaded = two_bus(r_ohm=20.0, x_ohm=20.0, load_kw=50_000.0)
    with pytest.raises(tc.ConvergenceError):
        tc.ac_power_flow(overloaded)
    with pytest.raises(tc.ConvergenceError, match="without PV does not converge"):
        tc.hosting_capacity(overloaded, 1)


def test_hosting_capacity_reaches_a_fine_tolerance_and_returns_max_kw_when_everything_fits():
    expected = (1.05**2 - 1) * 1e5 / 2  # the closed form of the LinDistFlow test above
    got = tc.hosting_capacity(two_bus(), 1, model="lindistflow", tol_kw=1e-6)
    assert expected - 1e-6 <= got <= expected
    assert tc.hosting_capacity(two_bus(), 1, model="lindistflow", max_kw=1000.0) == 1000.0


def test_a_size_without_an_operating_point_counts_as_too_large():
    """Chapter 4, exercise hosting_capacity: beyond some injection the AC power flow has no solution.

    Two buses, r = x = rho p.u., an injection P p.u. at bus 1 and |V0| = 1: with w = |V1|^2,
    V1 = 1 + z conj(P / V1) gives w^2 - (1 + 2 rho P) w + 2 rho^2 P^2 = 0 (real solutions only
    while 1 + 4 rho P - 4 rho^2 P^2 >= 0), and |V1| = v_max at P = (w - sqrt(2 w - w^2)) / (2 rho).
    """
    rho = 20.0 / 100.0  # 20 ohm on a 100 ohm base
    weak = two_bus(r_ohm=20.0, x_ohm=20.0)
    p_pu = 10.0  # 10,000 kW, the first midpoint of a bisection on [0, 20,000] kW
    assert 1 + 4 * rho * p_pu - 4 * rho**2 * p_pu**2 < 0  # no operating point exists
    with pytest.raises(tc.ConvergenceError):
        tc.ac_power_flow(weak.with_injection(1, 1000 * p_pu))
    w = 1.05**2
    expected_kw = 1000 * (w - np.sqrt(2 * w - w**2)) / (2 * rho)
    assert tc.hosting_capacity(weak, 1) == pytest.approx(expected_kw, abs=1.0)
