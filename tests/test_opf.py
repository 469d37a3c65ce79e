"""Tests of te_course.opf (DLMPs and the DC OPF) against independent references.

- finite differences of the optimal cost, re-solving the same OPF (the definition of a DLMP);
- finite differences of the AC power-flow losses, ours and pandapower's (``case33bw``), for the
  marginal loss factors;
- the AC power flow of the dispatched feeder (the SOCP dispatch must be AC-feasible);
- the structure of the decomposition: components add up, vanish when nothing binds, and a
  congested line prices only the buses downstream of it;
- an independent recomputation of every component from the KKT conditions: at a marginal DER
  the price equals the offer, which gives the multipliers of the binding limits; multiplied by
  sensitivities taken from finite differences of the AC power flow (SOCP) or from the closed
  form of LinDistFlow, they must give the package's congestion and voltage components, and
  ``price * MLF`` its loss component (which the package computes as a residual);
- the signs: a binding lower voltage limit raises prices (positive voltage component), a
  binding upper limit lowers them.
"""

import functools
import warnings

import cvxpy as cp
import networkx as nx
import numpy as np
import pandas as pd
import pytest

import te_course as tc
from te_course.feeders import ieee33
from te_course.opf import DLMPProblem, DLMPResult, dlmp, marginal_loss_factors
from te_course.powerflow import ac_power_flow

PRICE = 0.05
# two DERs with equal offers (18 and 33, the far ends of the two long laterals) and a dearer one
DERS = pd.DataFrame({"bus": [18, 33, 25], "p_max_kw": [1200.0, 1200.0, 800.0], "price": [0.08, 0.08, 0.10]})
MODELS = ["socp", "lindistflow"]
COMPONENTS = ["energy", "loss", "congestion", "voltage"]
# IEEE 33: buses downstream of line 2-3 (everything but the substation, bus 2 and the 19-22 lateral)
DOWNSTREAM_OF_2_3 = [b for b in range(3, 34) if b not in (19, 20, 21, 22)]


@pytest.fixture(scope="module")
def pp():
    return pytest.importorskip("pandapower")


def limited_feeder(s_max_kva=2500.0):
    f = ieee33()
    f.lines.loc[2, "s_max_kva"] = s_max_kva  # line 2 is 2-3
    return f


# a cheap PV-like DER at the far end: it injects until the voltage there reaches v_max
CHEAP_DER = pd.DataFrame({"bus": [18], "p_max_kw": [3000.0], "price": [0.02]})

CASES = {
    # voltage limit 0.95 binds (IEEE 33 alone sags to 0.913 p.u.): the two equal DERs are marginal
    "voltage": (ieee33, {"price_substation": PRICE, "v_min_pu": 0.95}, DERS),
    # line 2-3 limited to 2500 kVA binds; voltages free
    "congestion": (limited_feeder, {"price_substation": PRICE, "v_min_pu": 0.9}, DERS),
    # nothing binds: v_min 0.9 and DERs dearer than the delivered substation energy
    "free": (ieee33, {"price_substation": PRICE, "v_min_pu": 0.9}, DERS),
    # line 2-3 at 3150 kVA and v_min 0.95 (SOCP: both bind; LinDistFlow: only voltages)
    "both": (functools.partial(limited_feeder, 3150.0), {"price_substation": PRICE, "v_min_pu": 0.95}, DERS),
    # the upper voltage limit 1.02 binds at bus 18
    "overvoltage": (ieee33, {"price_substation": PRICE, "v_min_pu": 0.9, "v_max_pu": 1.02}, CHEAP_DER),
}


@functools.cache
def solved(case, model):
    """(problem, options, result) of a named case, solved once per test module run."""
    make, options, ders = CASES[case]
    prob = DLMPProblem(make(), ders=ders, model=model)
    return prob, options, prob.solve(**options)


def finite_difference(prob, bus, d_kw=0.5, **options):
    p = prob.feeder.buses["p_kw"].copy()
    p[bus] += d_kw
    up = prob.solve(p_kw=p, **options).cost
    p[bus] -= 2 * d_kw
    down = prob.solve(p_kw=p, **options).cost
    return (up - down) / (2 * d_kw)


# --------------------------------------------------------------------------- marginal loss factors


def test_mlf_matches_finite_differences_of_ac_losses():
    f = ieee33()
    mlf = marginal_loss_factors(f)
    assert mlf[1] == 0.0
    d = 0.1
    for bus in f.buses.index[1:]:
        up = ac_power_flow(f.with_injection(bus, -d)).total_loss_kw
        down = ac_power_flow(f.with_injection(bus, d)).total_loss_kw
        assert mlf[bus] == pytest.approx((up - down) / (2 * d), abs=1e-6), bus
    assert mlf[18] > mlf[2] > 0


def test_mlf_is_negative_where_an_injection_reverses_the_flow():
    """1500 kW injected at bus 18 reverses the flows near it: extra load there cuts the losses."""
    f = ieee33().with_injection(18, 1500.0)
    mlf = marginal_loss_factors(f)
    d = 0.1
    for bus in (2, 14, 17, 18, 33):
        up = ac_power_flow(f.with_injection(bus, -d)).total_loss_kw
        down = ac_power_flow(f.with_injection(bus, d)).total_loss_kw
        assert mlf[bus] == pytest.approx((up - down) / (2 * d), abs=1e-6), bus
    assert mlf[18] < mlf[17] < 0 < mlf[2] < mlf[33]


def test_mlf_matches_pandapower_finite_differences(pp):
    import pandapower.networks as pn

    mlf = marginal_loss_factors(ieee33())
    net = pn.case33bw()
    d_mw = 1e-4
    for bus in (2, 10, 18, 25, 33):
        row = net.load.index[net.load.bus == bus - 1][0]
        losses = []
        for step in (d_mw, -d_mw):
            net.load.loc[row, "p_mw"] += step
            pp.runpp(net, tolerance_mva=1e-12, numba=False)
            losses.append(net.res_line.pl_mw.sum())
            net.load.loc[row, "p_mw"] -= step
        fd = (losses[0] - losses[1]) / (2 * d_mw)
        assert mlf[bus] == pytest.approx(fd, abs=1e-3), bus


# --------------------------------------------------------------------------- decomposition


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", ["voltage", "congestion"])
def test_components_add_up_and_match_finite_differences(case, model):
    prob, options, res = solved(case, model)
    assert isinstance(res, DLMPResult)
    assert list(res.prices.columns) == COMPONENTS + ["total"]
    assert list(res.prices.index) == list(range(1, 34))
    assert np.allclose(res.prices[COMPONENTS].sum(axis=1), res.prices["total"], rtol=0, atol=1e-9)
    assert (res.prices["energy"] == PRICE).all()
    for bus in res.prices.index:
        fd = finite_difference(prob, bus, **options)
        assert res.prices.loc[bus, "total"] == pytest.approx(fd, rel=1e-3), bus


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", ["voltage", "congestion", "both", "overvoltage"])
def test_loss_component_is_price_times_mlf(case, model):
    """The loss component (a residual) agrees with its formula: lambda_0 * MLF (SOCP) or 0 (LinDistFlow)."""
    prob, _, res = solved(case, model)
    assert res.loss_residual.abs().max() < 1e-4 * PRICE
    if prob.model == "lindistflow":
        assert res.prices["loss"].abs().max() < 1e-4 * PRICE


@pytest.mark.parametrize("model", MODELS)
def test_voltage_limit_binds_and_equal_offers_set_the_far_prices(model):
    _, _, res = solved("voltage", model)
    assert any("lower limit" in b for b in res.binding)
    assert res.v_pu.min() == pytest.approx(0.95, abs=1e-6)
    # both equal-offer DERs are marginal: their bus price is their offer
    assert res.dispatch.iloc[:2].gt(1.0).all() and res.dispatch.iloc[:2].lt(1199.0).all()
    assert res.prices.loc[[18, 33], "total"].to_numpy() == pytest.approx([0.08, 0.08], rel=1e-6)
    assert (res.prices.loc[2:, "voltage"] > 0).all()
    assert (res.prices["congestion"] == 0).all()


@pytest.mark.parametrize("model", MODELS)
def test_no_binding_limit_leaves_energy_and_losses(model):
    res = solved("free", model)[2]
    assert res.binding == ()
    assert (res.prices["congestion"] == 0).all() and (res.prices["voltage"] == 0).all()
    assert res.dispatch.abs().max() < 1e-3
    if res.model == "socp":
        assert np.allclose(res.prices["loss"], PRICE * res.mlf, rtol=0, atol=1e-4 * PRICE)
        assert res.prices.loc[18, "loss"] > res.prices.loc[2, "loss"] > 0
    else:
        assert res.prices["loss"].abs().max() < 1e-6 * PRICE
        assert np.allclose(res.prices["total"], PRICE, atol=1e-6 * PRICE)


@pytest.mark.parametrize("model", MODELS)
def test_binding_line_prices_only_downstream(model):
    res = solved("congestion", model)[2]
    assert res.binding == ("line 2-3 at its limit",)
    cong = res.prices["congestion"]
    down = cong[DOWNSTREAM_OF_2_3]
    up = cong.drop(DOWNSTREAM_OF_2_3)
    assert (down.abs() > 1e-3).all()
    assert up.abs().max() < 0.01 * down.abs().min()


# --------------------------------------------------------------------------- independent recomputation


def dispatched_feeder(feeder, ders, dispatch):
    """The feeder with each DER's output as an injection at its bus."""
    for bus, p_kw in zip(ders["bus"], dispatch):
        feeder = feeder.with_injection(bus, float(p_kw))
    return feeder


def ac_sensitivities(feeder, d_kw=0.5):
    """Central finite differences of the AC power flow in the load at each bus (reactive loads fixed).

    Returns the voltages, the apparent flows at the sending ends (kVA), dw_i/dp_j (w = v^2, per kW),
    d(P_l^2 + Q_l^2)/dp_j (kVA^2 per kW) and the marginal loss factors.
    """
    base = ac_power_flow(feeder)
    buses = feeder.buses.index
    dw = pd.DataFrame(0.0, index=buses, columns=buses)
    ds2 = pd.DataFrame(0.0, index=feeder.lines.index, columns=buses)
    mlf = pd.Series(0.0, index=buses)
    for j in buses.drop(feeder.substation):
        up = ac_power_flow(feeder.with_injection(j, -d_kw))
        down = ac_power_flow(feeder.with_injection(j, d_kw))
        dw[j] = (up.v_pu**2 - down.v_pu**2) / (2 * d_kw)
        ds2[j] = (up.p_kw**2 + up.q_kvar**2 - down.p_kw**2 - down.q_kvar**2) / (2 * d_kw)
        mlf[j] = (up.total_loss_kw - down.total_loss_kw) / (2 * d_kw)
    return base.v_pu, np.hypot(base.p_kw, base.q_kvar), dw, ds2, mlf


def lindistflow_sensitivities(feeder):
    """The same quantities in closed form for LinDistFlow (Baran and Wu 1989), without its code.

    A line carries the net loads of the buses below it; ``w_i = 1 - 2 sum_j (R_ij p_j + X_ij q_j) / z``
    with ``R_ij`` the resistance shared by the paths of ``i`` and ``j`` to the substation and
    ``z = 1000 V_base^2`` (ohm kW / kV^2 to p.u.); so ``dw_i/dp_j = -2 R_ij / z``,
    ``d(P_l^2 + Q_l^2)/dp_j = 2 P_l`` if ``j`` is below ``l`` (else 0), and no losses.
    """
    g = feeder.graph
    paths = nx.single_source_shortest_path(g, feeder.substation)
    on_path = {bus: {g.edges[a, b]["line"] for a, b in zip(p, p[1:])} for bus, p in paths.items()}
    buses, lines = feeder.buses.index, feeder.lines.index
    below = pd.DataFrame([[float(line in on_path[j]) for j in buses] for line in lines], index=lines, columns=buses)
    p, q = feeder.buses["p_kw"], feeder.buses["q_kvar"]
    flow_p, flow_q = below @ p, below @ q
    shared_r = below.T @ below.mul(feeder.lines["r_ohm"], axis=0)
    shared_x = below.T @ below.mul(feeder.lines["x_ohm"], axis=0)
    z = 1000.0 * feeder.v_base_kv**2
    w = 1.0 - 2.0 * (shared_r @ p + shared_x @ q) / z
    return np.sqrt(w), np.hypot(flow_p, flow_q), -2.0 * shared_r / z, below.mul(2.0 * flow_p, axis=0), 0.0 * p


def kkt_components(case, model):
    """Recompute the loss, congestion and voltage components without the package's duals.

    The binding limits are read off the power flow of the dispatched feeder; their multipliers
    (all >= 0) solve the stationarity condition at the marginal DERs, offer = DLMP =
    price (1 + MLF) + sum_l mu_l dS2_l/dp - sum_lower eta_i dw_i/dp + sum_upper eta_i dw_i/dp.
    """
    make, options, ders = CASES[case]
    res = solved(case, model)[2]
    feeder = make()
    sens = ac_sensitivities if model == "socp" else lindistflow_sensitivities
    v, s, dw, ds2, mlf = sens(dispatched_feeder(feeder, ders, res.dispatch))
    v_min, v_max = options["v_min_pu"], options.get("v_max_pu", 1.05)
    others = v.index.drop(feeder.substation)
    s_max = feeder.lines["s_max_kva"]
    voltage_cols = {("lower", b): -dw.loc[b] for b in others if abs(v[b] - v_min) < 1e-5}
    voltage_cols |= {("upper", b): dw.loc[b] for b in others if abs(v[b] - v_max) < 1e-5}
    limited = s_max.index[np.isfinite(s_max)]
    line_cols = {("line", k): ds2.loc[k] for k in limited if abs(s[k] - s_max[k]) < 1e-4 * s_max[k]}
    cols = pd.DataFrame(voltage_cols | line_cols)
    inside = (res.dispatch > 1e-3) & (res.dispatch < ders["p_max_kw"] - 1e-3)  # p_min is 0 here
    marginal = ders[inside.to_numpy()]
    a = cols.loc[marginal["bus"]].to_numpy()
    b = (marginal["price"] - PRICE * (1.0 + mlf[marginal["bus"]].to_numpy())).to_numpy()
    assert np.linalg.matrix_rank(a) == cols.shape[1], "the marginal DERs must determine the multipliers"
    mult, *_ = np.linalg.lstsq(a, b, rcond=None)
    assert np.abs(a @ mult - b).max() < 1e-9  # consistent: every marginal DER's price is its offer
    mult = pd.Series(mult, index=cols.columns)
    voltage = cols[list(voltage_cols)] @ mult[list(voltage_cols)] if voltage_cols else 0.0 * mlf
    congestion = cols[list(line_cols)] @ mult[list(line_cols)] if line_cols else 0.0 * mlf
    return mult, pd.DataFrame({"loss": PRICE * mlf, "congestion": congestion, "voltage": voltage})


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", ["voltage", "congestion", "both", "overvoltage"])
def test_components_match_an_independent_kkt_recomputation(case, model):
    mult, expected = kkt_components(case, model)
    res = solved(case, model)[2]
    # every binding limit has a positive multiplier: the signs of the formula are those of the code
    assert (mult > 0).all(), mult
    assert len(mult) == len(res.binding)
    for comp in ("loss", "congestion", "voltage"):
        assert np.allclose(res.prices[comp], expected[comp], rtol=0, atol=2e-6), comp
    assert np.allclose(res.prices["total"], PRICE + expected.sum(axis=1), rtol=0, atol=2e-6)


@pytest.mark.parametrize("model", MODELS)
def test_binding_lower_voltage_limit_raises_prices(model):
    """v_min binds at buses 14 and 31: every bus but the substation pays more, most along their paths."""
    res, free = solved("voltage", model)[2], solved("free", model)[2]
    others = res.prices.index.drop(1)
    assert res.prices.loc[1, "total"] == pytest.approx(PRICE, abs=1e-9)
    assert (res.prices.loc[others, "total"] > free.prices.loc[others, "total"]).all()
    volt = res.prices["voltage"]
    assert volt[1] == 0.0 and (volt[others] > 0).all()
    # growing from the substation towards the binding buses: the shared path grows
    assert (np.diff(volt[list(range(2, 15))]) > 0).all()
    assert (np.diff(volt[[2, 3, 6, 26, 27, 28, 29, 30, 31]]) > 0).all()
    # a bus on a lateral that shares only line 1-2 with them pays the least of it
    assert volt[[19, 20, 21, 22]].max() < volt[[3, 23]].min()


@pytest.mark.parametrize("model", MODELS)
def test_binding_upper_voltage_limit_lowers_prices(model):
    """A cheap DER at bus 18 pushes its voltage to v_max: extra load helps, the voltage component is negative."""
    res = solved("overvoltage", model)[2]
    assert res.binding == ("voltage at bus 18 at its upper limit",)
    assert res.v_pu[18] == pytest.approx(1.02, abs=1e-6)
    others = res.prices.index.drop(1)
    assert (res.prices.loc[others, "voltage"] < 0).all()
    assert res.prices.loc[18, "total"] == pytest.approx(0.02, rel=1e-6)  # the marginal DER's offer
    assert res.prices.loc[18, "total"] < PRICE


def test_socp_dispatch_is_ac_feasible():
    f = limited_feeder(3150.0)  # a line limit and a voltage limit bind together
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the relaxation must be tight
        res = dlmp(f, price_substation=PRICE, ders=DERS, v_min_pu=0.95)
    assert res.relaxation_gap < 1e-6
    assert "line 2-3 at its limit" in res.binding and any("voltage" in b for b in res.binding)
    dispatched = f
    for bus, p in zip(DERS["bus"], res.dispatch):
        dispatched = dispatched.with_injection(bus, p)
    ac = ac_power_flow(dispatched)
    assert ac.v_pu.min() >= 0.95 - 1e-4 and ac.v_pu.max() <= 1.05 + 1e-4
    s = np.hypot(ac.p_kw, ac.q_kvar)
    assert s[2] <= 3150.0 * 1.001
    assert (ac.v_pu - res.v_pu).abs().max() < 1e-5
    # the OPF's substation purchase and cost are those of the AC flow
    assert res.substation_p_kw == pytest.approx(ac.substation_p_kw, abs=0.01)
    expected_cost = PRICE * ac.substation_p_kw + (DERS["price"] * res.dispatch).sum()
    assert res.cost == pytest.approx(expected_cost, rel=1e-6)


def test_warm_resolve_with_parameters_matches_a_cold_solve():
    prob = DLMPProblem(ieee33(), ders=DERS)
    prob.solve(price_substation=PRICE, v_min_pu=0.95)
    warm = prob.solve(price_substation=0.06, v_min_pu=0.94, p_kw=ieee33().buses["p_kw"] * 0.9)
    f = ieee33()
    f.buses["p_kw"] *= 0.9
    cold = dlmp(f, price_substation=0.06, ders=DERS, v_min_pu=0.94)
    assert np.allclose(warm.prices["total"], cold.prices["total"], atol=1e-7)
    assert warm.cost == pytest.approx(cold.cost, rel=1e-8)


def test_to_frame_has_one_row_per_bus():
    frame = solved("free", "socp")[2].to_frame()
    assert list(frame.columns) == COMPONENTS + ["total", "mlf", "v_pu"]
    assert len(frame) == 33


# --------------------------------------------------------------------------- errors


def test_infeasible_voltage_limit_is_named():
    with pytest.raises(ValueError, match=r"voltage cannot be kept above 0\.99 p\.u\."):
        dlmp(ieee33(), price_substation=PRICE, v_min_pu=0.99)


def test_infeasible_line_limit_is_named():
    with pytest.raises(ValueError, match="line limits"):
        dlmp(limited_feeder(1000.0), price_substation=PRICE, v_min_pu=0.8)


@pytest.mark.parametrize(
    ("ders", "match"),
    [
        (DERS.assign(bus=[18, 99, 25]), r"`ders\['bus'\]` entry 1 is 99"),
        (DERS.assign(p_max_kw=[1.0, -5.0, 1.0]), r"`ders\['p_max_kw'\]` must contain non-negative"),
        (DERS.assign(price=[0.1, np.nan, 0.1]), r"`ders\['price'\]` must contain finite prices; entry 1 is nan"),
        (DERS.drop(columns="price"), r"`ders` is missing the column\(s\) \['price'\]"),
        (DERS.assign(p_min_kw=[2000.0, 0.0, 0.0]), r"`ders\['p_min_kw'\]` entry 0 is 2000.0, above"),
    ],
)
def test_bad_ders_name_the_argument(ders, match):
    with pytest.raises(ValueError, match=match):
        dlmp(ieee33(), price_substation=PRICE, ders=ders)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "ac"}, "`model` must be 'socp' or 'lindistflow'"),
        ({"price_substation": np.nan}, "`price_substation` must be a finite number"),
        ({"v_min_pu": 1.1}, r"`v_min_pu` \(1.1\) must be below `v_max_pu`"),
        ({"v_min_pu": -1}, "`v_min_pu` must be a positive number"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    args = {"price_substation": PRICE, **kwargs}
    with pytest.raises(ValueError, match=match):
        dlmp(ieee33(), **args)


# --------------------------------------------------------------------------- issue 14: edited tables


def test_edited_feeder_is_checked_by_dlmp_and_mlf():
    f = ieee33()
    f.lines.loc[5, "x_ohm"] = 0.0
    for call in (lambda: dlmp(f, price_substation=PRICE, ders=DERS), lambda: marginal_loss_factors(f),
                 lambda: DLMPProblem(f, ders=DERS)):
        with pytest.raises(ValueError, match=r"line 5 of `feeder.lines` has x_ohm=0.0; a reactance must be"):
            call()


def test_problem_reads_edited_loads_at_solve_but_refuses_an_edited_network():
    f = ieee33()
    prob = DLMPProblem(f, ders=DERS, model="lindistflow")
    first = prob.solve(price_substation=PRICE, v_min_pu=0.9)
    f.buses.loc[18, "p_kw"] = 400.0  # loads are read at every solve, as before
    second = prob.solve(price_substation=PRICE, v_min_pu=0.9)
    supplied = [r.substation_p_kw + r.dispatch.sum() for r in (first, second)]  # lossless: the total load
    assert supplied == pytest.approx([3715.0, 3715.0 + 310.0])
    f.buses.loc[18, "p_kw"] = np.nan
    with pytest.raises(ValueError, match=r"`feeder.buses\['p_kw'\]` must be finite; bus 18 has nan"):
        prob.solve(price_substation=PRICE, v_min_pu=0.9)
    f.buses.loc[18, "p_kw"] = 90.0
    f.lines.loc[3, "r_ohm"] = 1.0
    with pytest.raises(ValueError, match=r"edited after this DLMPProblem was built.*build a new DLMPProblem"):
        prob.solve(price_substation=PRICE, v_min_pu=0.9)


# --- issue 14: fuzz findings


def _small():
    from te_course.feeders import radial_feeder

    return radial_feeder(4, seed=1), pd.DataFrame({"bus": [3, 4], "p_max_kw": [60.0, 60.0], "price": [0.06, 0.07]})


@pytest.mark.parametrize("model", ["lindistflow", "socp"])
@pytest.mark.parametrize("factor", [1e-8, 1e10, 1e20])
def test_extreme_prices_are_solved_in_scaled_units(model, factor):
    # prices of 1e12 made the solver report 'unbounded'.  Multiplying every price by the same factor
    # (> 0) scales the DLMPs and the cost and keeps the dispatch: the OPF is linear in its prices.
    f, ders = _small()
    with warnings.catch_warnings():  # this small feeder's SOC relaxation has a gap of a few 1e-6 p.u.
        warnings.simplefilter("ignore", UserWarning)
        base = dlmp(f, price_substation=0.05, ders=ders, model=model)
        scaled = dlmp(f, price_substation=0.05 * factor, ders=ders.assign(price=ders["price"] * factor), model=model)
    assert np.allclose(scaled.prices["total"] / factor, base.prices["total"], rtol=1e-5)
    assert np.allclose(scaled.dispatch, base.dispatch, atol=1e-3)
    assert scaled.cost / factor == pytest.approx(base.cost, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"price_ders": "12, 10, 8"}, r"`price_ders`"),
        ({"price_ders": [[0.06], [0.06, 0.07]]}, r"`price_ders`"),
        ({"price_ders": [0.06, 1 + 1j]}, r"`price_ders` must contain real numbers"),
        ({"price_ders": [0.06, 1e200]}, r"`price_ders` must contain prices of at most 1e\+150"),
        ({"price_substation": 1e300}, r"`price_substation` must contain prices of at most 1e\+150"),
        ({"p_kw": [0.0, 40.0, 10**400, 40.0]}, r"`p_kw` holds a number too large for a float"),
        ({"p_kw": "12, 10, 8"}, r"`p_kw`"),
        ({"p_kw": [0.0, 40.0, 1e12, 40.0]}, r"`p_kw` entry 2 is 1e\+12 kW, beyond the range of the OPF"),
        ({"v_max_pu": 1e300}, r"`v_max_pu` must be at most 10 p.u."),
        ({"s_max_kva": [1, 2]}, r"`s_max_kva` must be a dict"),
    ],
)
def test_solve_names_the_bad_argument(kwargs, match):
    f, ders = _small()
    prob = DLMPProblem(f, ders=ders, model="lindistflow")
    with pytest.raises((ValueError, TypeError), match=match):
        prob.solve(**{"price_substation": 0.05, **kwargs})


def test_der_limits_and_line_limits_beyond_the_opf_range_are_named():
    f, ders = _small()
    with pytest.raises(ValueError, match=r"`ders\['p_max_kw'\]` entry 0 is 1e\+20 kW, beyond the range"):
        dlmp(f, price_substation=0.05, ders=ders.assign(p_max_kw=[1e20, 60.0]))
    with pytest.raises(TypeError, match=r"`ders\['price'\]` must contain numbers; row 1 has"):
        dlmp(f, price_substation=0.05, ders=ders.assign(price=[0.06, "x"]))
    f.lines.loc[2, "s_max_kva"] = 1e12  # 1e9 times the 1000 kVA base: a wish for "no limit"
    with pytest.raises(ValueError, match=r"`feeder.lines\['s_max_kva'\]` of line 2 .* use NaN"):
        dlmp(f, price_substation=0.05, ders=ders)


def test_infeasible_and_solver_failures_name_what_to_change(monkeypatch):
    f, ders = _small()
    prob = DLMPProblem(f, ders=ders, model="lindistflow")
    # a load no voltage limit can carry, on a feeder without line limits: the loads are named
    with pytest.raises(tc.InfeasibleError, match=r"no dispatch keeps the voltages within limits.*`p_kw`"):
        prob.solve(price_substation=0.05, p_kw=[0.0, 40.0, 1e6, 40.0])

    def fail(*args, **kwargs):
        raise cp.error.SolverError("boom")

    monkeypatch.setattr(cp.Problem, "solve", fail)  # the solver itself fails: the data to check are named
    with pytest.raises(tc.SolverError, match=r"failed on the DLMP lindistflow OPF \(boom\).*`price_substation`.*"
                                             r"`v_min_pu`") as caught:
        prob.solve(price_substation=0.05)
    assert not isinstance(caught.value, tc.InfeasibleError)


# --------------------------------------------------------------------------- the module's old name


def test_the_old_module_name_still_imports_with_a_deprecation_warning():
    """``te_course.dlmp`` (the module up to 0.5) is now te_course.opf; the attribute stays the function."""
    import importlib

    import te_course.opf as opf

    f, ders = _small()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the function under the package: no warning
        new = tc.dlmp(f, price_substation=0.05, ders=ders, model="lindistflow")
        import te_course.dlmp  # noqa: F401  (binds te_course only: no name read, no warning)
    assert tc.dlmp is opf.dlmp
    with pytest.warns(DeprecationWarning, match=r"te_course.dlmp is now te_course.opf: import DLMPProblem from"):
        from te_course.dlmp import DLMPProblem as Old
    assert Old is opf.DLMPProblem
    old_module = importlib.import_module("te_course.dlmp")
    with pytest.warns(DeprecationWarning, match="te_course.opf"):
        old = old_module.dlmp(f, price_substation=0.05, ders=ders, model="lindistflow")
    pd.testing.assert_frame_equal(old.prices, new.prices)
    assert "DLMPProblem" in dir(old_module)
    with pytest.raises(AttributeError):
        old_module.no_such_name  # noqa: B018


# --------------------------------------------------------------------------- DC OPF and LMPs (transmission)

from scipy.optimize import linprog  # noqa: E402

from te_course.feeders import Feeder, pjm5bus  # noqa: E402
from te_course.opf import DCOPFResult, dc_opf_lmp  # noqa: E402

# Li and Bo (2010), Table II: the generators of the PJM 5-bus system, offers in $/MWh -> per kWh
PJM_GENS = pd.DataFrame(
    {"bus": list("AACDE"), "p_max_kw": [110e3, 100e3, 520e3, 200e3, 600e3],
     "price": [0.014, 0.015, 0.030, 0.040, 0.010]},
    index=["Alta", "Park City", "Solitude", "Sundance", "Brighton"],
)
PJM_LOAD = pd.Series({"A": 0.0, "B": 300e3, "C": 300e3, "D": 400e3, "E": 0.0})


def _two_bus(limit_kw=500.0, load_kw=800.0):
    buses = pd.DataFrame({"p_kw": [0.0, load_kw]}, index=[1, 2])
    lines = pd.DataFrame({"from_bus": [1], "to_bus": [2], "r_ohm": [0.0], "x_ohm": [1.0], "s_max_kva": [limit_kw]})
    return Feeder(buses, lines, v_base_kv=10.0, s_base_kva=1000.0, substation=1)


def test_dc_opf_two_buses_by_hand():
    """Cheap at 1, dear at 2, a 500 kW line, 800 kW of load at 2: 500 + 300 kW, prices 0.02 and 0.05."""
    gens = pd.DataFrame({"bus": [1, 2], "p_max_kw": [1000.0, 1000.0], "price": [0.02, 0.05]})
    res = dc_opf_lmp(_two_bus(), gens)
    assert isinstance(res, DCOPFResult)
    assert np.allclose(res.dispatch, [500.0, 300.0], atol=1e-4)
    assert np.allclose(res.lmp, [0.02, 0.05], atol=1e-8)
    assert np.isclose(res.cost, 0.02 * 500 + 0.05 * 300)
    assert np.isclose(res.congestion_rent, 500 * 0.03) and np.isclose(res.merchandising_surplus, 500 * 0.03)
    assert np.isclose(res.flows["shadow_price"].iloc[0], 0.03, atol=1e-8)  # one more kW of line saves 0.03
    assert res.binding == ("line 1-2 at its limit",)
    # without the limit: one price, no rent
    loose = dc_opf_lmp(_two_bus(limit_kw=1e4), gens)
    assert np.allclose(loose.lmp, 0.02) and abs(loose.congestion_rent) < 1e-8 and loose.binding == ()
    frame = res.to_frame()
    assert list(frame.columns) == ["load_kw", "generation_kw", "lmp"]
    assert np.allclose(frame["generation_kw"], [500.0, 300.0], atol=1e-4)


def test_dc_opf_pjm5_reproduces_li_and_bo():
    """Li and Bo (2010): LMPs 16.98, 26.38, 30.00, 39.94, 10.00 $/MWh; line D-E congested at 240 MW."""
    res = dc_opf_lmp(pjm5bus(), PJM_GENS, load_kw=PJM_LOAD)
    assert np.allclose(res.lmp.to_numpy() * 1000, [16.98, 26.38, 30.00, 39.94, 10.00], atol=0.005)
    assert np.allclose(res.dispatch.to_numpy() / 1000, [110.0, 100.0, 323.49, 0.0, 466.51], atol=0.01)
    assert res.binding == ("line D-E at its limit",)
    # strong duality: the rent is the shadow price of the line times its limit
    f = res.flows
    assert np.isclose(res.congestion_rent, np.nansum(f["shadow_price"] * f["s_max_kva"]), rtol=1e-6)
    assert np.isclose(res.congestion_rent, res.merchandising_surplus, rtol=1e-9)


def _ptdf_by_hand(net):
    """PTDF = diag(1/x) A B^-1 with the slack row and column removed (dense numpy)."""
    buses = list(net.buses.index)
    n, lines = len(buses), net.lines
    a = np.zeros((len(lines), n))
    for i, (fb, tb) in enumerate(zip(lines.from_bus, lines.to_bus)):
        a[i, buses.index(fb)], a[i, buses.index(tb)] = 1.0, -1.0
    b = np.diag(1.0 / lines.x_ohm.to_numpy())
    keep = [i for i in range(n) if buses[i] != net.substation]
    full = np.zeros((n, n))
    full[np.ix_(keep, keep)] = np.linalg.inv((a.T @ b @ a)[np.ix_(keep, keep)])
    return b @ a @ full


def _linprog_lmp(net, gens, load):
    """The same OPF in its PTDF form, solved by HiGHS; LMPs from its marginals."""
    h = _ptdf_by_hand(net)
    buses = list(net.buses.index)
    m = np.zeros((len(buses), len(gens)))
    for k, bus in enumerate(gens.bus):
        m[buses.index(bus), k] = 1.0
    lim = net.lines.s_max_kva.to_numpy()
    rows = np.flatnonzero(np.isfinite(lim))
    a_ub = np.vstack([h[rows] @ m, -h[rows] @ m])
    b_ub = np.r_[lim[rows] + h[rows] @ load, lim[rows] - h[rows] @ load]
    res = linprog(gens.price.to_numpy(), A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, len(gens))), b_eq=[load.sum()],
                  bounds=list(zip(np.zeros(len(gens)), gens.p_max_kw)), method="highs")
    assert res.status == 0
    up, lo = res.ineqlin.marginals[: rows.size], res.ineqlin.marginals[rows.size:]
    # d(cost)/d(load_j): the balance's marginal, plus the limits' marginals times the PTDF (load enters b_ub)
    lmp = res.eqlin.marginals[0] + (up - lo) @ h[rows]
    return res.fun, lmp


@pytest.mark.parametrize("seed", range(6))
def test_dc_opf_against_linprog_on_random_pjm_cases(seed):
    rng = np.random.default_rng(seed)
    net = pjm5bus()
    load = pd.Series(rng.uniform(0, 400e3, 5).round(-3), index=net.buses.index)
    gens = PJM_GENS.assign(price=rng.choice(np.arange(10, 60), 5, replace=False) / 1000.0)
    net.lines["s_max_kva"] = np.where(rng.random(6) < 0.5, rng.uniform(100e3, 300e3, 6).round(-3), np.nan)
    try:
        ours = dc_opf_lmp(net, gens, load_kw=load)
    except ValueError:
        with pytest.raises(AssertionError):
            _linprog_lmp(net, gens, load.to_numpy())
        return
    cost, lmp = _linprog_lmp(net, gens, load.to_numpy())
    assert np.isclose(ours.cost, cost, rtol=1e-6)
    assert np.allclose(ours.lmp, lmp, atol=1e-6)
    f = ours.flows
    assert np.isclose(ours.congestion_rent, np.nansum(f["shadow_price"] * f["s_max_kva"]), rtol=1e-5, atol=1e-6)
    assert np.isclose(ours.congestion_rent, ours.merchandising_surplus, rtol=1e-9, atol=1e-6)


def test_dc_opf_lmp_is_a_finite_difference():
    """Re-solve with 1 MW more load at each bus: the cost grows by the LMP times 1000 kW."""
    base = dc_opf_lmp(pjm5bus(), PJM_GENS, load_kw=PJM_LOAD)
    for bus in PJM_LOAD.index:
        more = dc_opf_lmp(pjm5bus(), PJM_GENS, load_kw=PJM_LOAD + pd.Series({bus: 1000.0}).reindex(PJM_LOAD.index,
                                                                                                  fill_value=0.0))
        assert np.isclose((more.cost - base.cost) / 1000.0, base.lmp[bus], rtol=1e-4), bus


def test_dc_opf_errors():
    net = pjm5bus()
    with pytest.raises(ValueError, match="`generators` is missing the column"):
        dc_opf_lmp(net, pd.DataFrame({"bus": ["A"]}))
    with pytest.raises(ValueError, match=r"`generators\['bus'\]` entry 0 is 'Z', which is not a bus of the feeder"):
        dc_opf_lmp(net, PJM_GENS.assign(bus=list("ZACDE")), load_kw=PJM_LOAD)
    with pytest.raises(ValueError, match="cannot serve the load"):
        dc_opf_lmp(net, PJM_GENS, load_kw=PJM_LOAD * 3)
    with pytest.raises(ValueError, match="minimum outputs"):
        dc_opf_lmp(net, PJM_GENS.assign(p_min_kw=PJM_GENS.p_max_kw), load_kw=PJM_LOAD)
    with pytest.raises(tc.InfeasibleError, match=r"without overloading a line; loosen `feeder.lines\['s_max_kva'\]`"):
        tight = pjm5bus()
        tight.lines["s_max_kva"] = 10e3
        dc_opf_lmp(tight, PJM_GENS, load_kw=PJM_LOAD)
    with pytest.raises(ValueError, match="`generators` is empty"):
        dc_opf_lmp(net, PJM_GENS.iloc[:0], load_kw=PJM_LOAD)
    with pytest.raises(ValueError, match="`load_kw` must have one value per bus"):
        dc_opf_lmp(net, PJM_GENS, load_kw=[1.0, 2.0])
    with pytest.raises(TypeError, match="`generators` must be a DataFrame"):
        dc_opf_lmp(net, 3.0)


def test_dc_opf_lmp_takes_the_old_keyword_network_with_a_deprecation_warning():
    """The network argument is ``feeder`` (issue 17); ``network=`` works for one release and gives the same LMPs."""
    new = dc_opf_lmp(feeder=pjm5bus(), generators=PJM_GENS, load_kw=PJM_LOAD)
    with pytest.warns(DeprecationWarning, match="`network` is now called `feeder`"):
        old = dc_opf_lmp(network=pjm5bus(), generators=PJM_GENS, load_kw=PJM_LOAD)
    pd.testing.assert_series_equal(old.lmp, new.lmp)
    # against Li and Bo's published LMPs ($/MWh), not only our own output
    assert np.allclose(new.lmp[list("ABCDE")].to_numpy() * 1000, [16.98, 26.38, 30.0, 39.94, 10.0], atol=0.01)
    with pytest.raises(TypeError, match="got both `network` and `feeder`"):
        dc_opf_lmp(feeder=pjm5bus(), generators=PJM_GENS, network=pjm5bus())


def test_solve_takes_the_old_keyword_der_price_with_a_deprecation_warning():
    """Prices start with ``price`` (issue 17): ``der_price`` is now ``price_ders``: the old keyword warns."""
    f, ders = _small()
    prob = DLMPProblem(f, ders=ders, model="lindistflow")
    new = prob.solve(price_substation=0.05, v_min_pu=0.9, price_ders=[0.01, 0.02])
    with pytest.warns(DeprecationWarning, match="`der_price` is now called `price_ders`"):
        old = prob.solve(price_substation=0.05, v_min_pu=0.9, der_price=[0.01, 0.02])
    pd.testing.assert_frame_equal(old.prices, new.prices)
    # both DERs are cheaper than the substation and fill their capacity (an independent reading of the data)
    assert np.allclose(new.dispatch.to_numpy(), ders["p_max_kw"].to_numpy(), atol=1e-5)
