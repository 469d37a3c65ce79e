"""Tests of te_course.security against independent references.

References written here, not taken from the package:

- the buses cut off by a line outage: a plain breadth-first search over the
  in-service lines, and the tie lines that reconnect them, counted by hand;
- voltages of restored and islanded configurations: pandapower ``runpp`` on a
  network built here from the same lines (tolerance 1e-6 p.u.);
- a hand-built 3-bus feeder whose every configuration is a set of two-bus
  feeders, solved in closed form: ``w^2 - (1 - 2 (R P + X Q)) w + |Z|^2 |S|^2 = 0``
  with ``w = |V_2|^2`` (the exact two-bus power flow, from ``V_2 = V_1 - Z conj(S / V_2)``);
- the seed market (bids 12, 10, 8; asks 5, 7, 9) with phantom orders, cleared by hand;
- the welfare optimum of random markets by scipy ``linprog`` (the true welfare of an
  attacked market can never exceed it);
- robust z-scores (Iglewicz and Hoaglin 1993) worked by hand.
"""

import math
from collections import deque

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from te_course.feeders import Feeder, ieee33
from te_course.security import (
    FalseBidResult,
    FeederAttackResult,
    MitigationResult,
    NMinus1Result,
    Screening,
    false_bid_attack,
    false_offer_on_feeder,
    mitigate_false_bids,
    n_minus_1,
    robust_z,
    screen_orders,
)

SEED_BIDS = [12, 10, 8]
SEED_ASKS = [5, 7, 9]


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


def pandapower_voltages(pp, feeder, in_service):
    """Voltages by pandapower for ``feeder`` with the lines ``in_service`` (labels) closed; NaN where unsupplied."""
    net = pp.create_empty_network(sn_mva=feeder.s_base_kva / 1000)
    ids = {bus: pp.create_bus(net, vn_kv=feeder.v_base_kv) for bus in feeder.buses.index}
    pp.create_ext_grid(net, ids[feeder.substation], vm_pu=1.0)
    for bus, row in feeder.buses.iterrows():
        pp.create_load(net, ids[bus], p_mw=row.p_kw / 1000, q_mvar=row.q_kvar / 1000)
    for line in in_service:
        row = feeder.lines.loc[line]
        pp.create_line_from_parameters(
            net, ids[row.from_bus], ids[row.to_bus], length_km=1.0, r_ohm_per_km=row.r_ohm,
            x_ohm_per_km=row.x_ohm, c_nf_per_km=0.0, max_i_ka=1.0,
        )
    pp.runpp(net, tolerance_mva=1e-12, numba=False)
    return pd.Series({bus: net.res_bus.vm_pu[i] for bus, i in ids.items()}), net


def two_bus_w(p_kw, q_kvar, r_ohm, x_ohm, feeder):
    """|V_2|^2 of a two-bus feeder (V_1 = 1) in closed form."""
    zb, sb = feeder.z_base_ohm, feeder.s_base_kva
    r, x, p, q = r_ohm / zb, x_ohm / zb, p_kw / sb, q_kvar / sb
    b = 1 - 2 * (r * p + x * q)
    c = (r**2 + x**2) * (p**2 + q**2)
    return (b + math.sqrt(b * b - 4 * c)) / 2


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


# --------------------------------------------------------------------------- false bids: hand-worked markets


def test_phantom_ask_of_10_kwh_at_zero():
    """Supply 0 (10 kWh) undercuts everyone: all three buyers match phantom energy, nothing is delivered."""
    res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 10.0)])
    assert isinstance(res, FalseBidResult)
    h, a = res.honest, res.attacked
    assert (h.price, h.quantity_kwh, h.welfare) == (8.5, 2.0, 10.0)
    # interval: lo = max(last accepted ask 0, best rejected bid -) = 0; hi = min(8, best rejected ask 0) = 0
    assert a.price == 0.0 and a.quantity_kwh == 3.0
    assert a.delivered_kwh == 0.0 and a.welfare == 0.0
    assert a.welfare_reported == 12 + 10 + 8 - 0
    assert res.price_shift == -8.5 and res.welfare_loss == 10.0
    book = a.to_frame()
    assert book["fake"].tolist() == [False] * 6 + [True]
    assert book["delivered"].sum() == 0.0


def test_phantom_ask_of_1_kwh_serves_buyers_pro_rata():
    """Supply 0 (1), 5, 7, 9 against 12, 10, 8: 3 kWh clear at 7.5; 2 real kWh shared by 3 buyers."""
    res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 1.0)])
    a = res.attacked
    assert a.price == 7.5 and a.quantity_kwh == 3.0 and a.delivered_kwh == 2.0
    served = a.book.query("side == 'buyer'")["delivered"].to_numpy()
    assert np.allclose(served, 2 / 3)
    assert a.welfare == pytest.approx((12 + 10 + 8) * 2 / 3 - (5 + 7))  # 8
    assert a.buyer_surplus == pytest.approx((4.5 + 2.5 + 0.5) * 2 / 3)
    assert a.seller_surplus == pytest.approx(2.5 + 0.5)
    assert res.welfare_loss == pytest.approx(2.0)


def test_phantom_bid_raises_the_price_for_sellers():
    """Bids 20 (phantom), 12, 10, 8 against 5, 7, 9: 3 kWh clear in [9, 10] at 9.5; 2 real kWh are taken."""
    res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_bids=[20])
    a = res.attacked
    assert a.price == 9.5 and a.quantity_kwh == 3.0 and a.delivered_kwh == 2.0
    assert res.price_shift == 1.0
    delivered = a.book.query("side == 'seller'")["delivered"].to_numpy()
    assert np.allclose(delivered, 2 / 3)
    assert a.welfare == pytest.approx(12 + 10 - (5 + 7 + 9) * 2 / 3)  # 8
    assert a.buyer_surplus == pytest.approx(2.5 + 0.5)
    assert a.seller_surplus == pytest.approx((4.5 + 2.5 + 0.5) * 2 / 3)
    table = res.to_frame()
    assert list(table.index) == ["honest", "attacked"]
    assert table.loc["honest", "seller_surplus"] == pytest.approx(3.5 + 1.5)


def test_no_phantom_orders_changes_nothing():
    for empty in (None, [], pd.DataFrame({"price": [], "quantity": []})):
        res = false_bid_attack(SEED_BIDS, SEED_ASKS, fake_bids=empty, fake_asks=empty)
        assert res.honest.summary() == res.attacked.summary()
        assert res.welfare_loss == 0.0


def lp_welfare(bp, bq, ap, aq):
    """Best welfare of divisible orders by scipy linprog (independent of the merit order)."""
    nb, na = len(bp), len(ap)
    c = np.r_[-np.asarray(bp), np.asarray(ap)]
    a_eq = np.r_[np.ones(nb), -np.ones(na)][None, :]
    bounds = [(0, q) for q in np.r_[bq, aq]]
    r = linprog(c, A_eq=a_eq, b_eq=[0.0], bounds=bounds, method="highs")
    return -r.fun


orders = st.lists(
    st.tuples(st.integers(0, 20).map(float), st.integers(1, 5).map(float)), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None)
@given(bids=orders, asks=orders, fb=st.lists(st.tuples(st.integers(0, 30).map(float), st.integers(1, 6).map(float)),
                                             max_size=2),
       fa=st.lists(st.tuples(st.integers(0, 30).map(float), st.integers(1, 6).map(float)), max_size=2),
       k=st.sampled_from([0.0, 0.5, 1.0]))
def test_true_welfare_never_beats_the_honest_optimum(bids, asks, fb, fa, k):
    res = false_bid_attack(bids, asks, fake_bids=fb or None, fake_asks=fa or None, k=k)
    bp, bq = np.array(bids).T
    ap, aq = np.array(asks).T
    best = lp_welfare(bp, bq, ap, aq)
    assert res.honest.welfare == pytest.approx(best, abs=1e-7)
    assert res.attacked.welfare <= best + 1e-7
    for m in (res.honest, res.attacked):
        assert m.buyer_surplus + m.seller_surplus == pytest.approx(m.welfare, abs=1e-9)
        assert m.delivered_kwh <= min(bq.sum(), aq.sum()) + 1e-12
        assert m.delivered_kwh <= m.quantity_kwh + 1e-12
        served = m.book.query("side == 'buyer' and not fake")["delivered"].sum()
        made = m.book.query("side == 'seller' and not fake")["delivered"].sum()
        assert served == pytest.approx(made) == pytest.approx(m.delivered_kwh)
        assert (m.book.query("fake")["delivered"] == 0).all()


def test_false_bid_argument_errors():
    with pytest.raises(ValueError, match="`fake_asks` must contain finite prices; entry 0 is nan"):
        false_bid_attack(SEED_BIDS, SEED_ASKS, fake_asks=[(float("nan"), 1.0)])
    with pytest.raises(ValueError, match="`fake_bids` must contain positive quantities; entry 0 is -1.0"):
        false_bid_attack(SEED_BIDS, SEED_ASKS, fake_bids=[(20.0, -1.0)])
    with pytest.raises(ValueError, match="`bids` is empty"):
        false_bid_attack([], SEED_ASKS)
    with pytest.raises(ValueError, match="`k` must lie between 0 and 1"):
        false_bid_attack(SEED_BIDS, SEED_ASKS, k=2)


# --------------------------------------------------------------------------- robust z-score and screening


def test_robust_z_by_hand():
    # asks 5, 7, 9, 0: median 6, |deviations| 1, 1, 3, 6 -> MAD 2
    assert np.allclose(robust_z([5, 7, 9, 0]), 0.6745 * np.array([-1, 1, 3, -6]) / 2)
    # 10..13 and 100: median 12, |deviations| 2, 1, 0, 1, 88 -> MAD 1
    assert np.allclose(robust_z([10, 11, 12, 13, 100]), 0.6745 * np.array([-2, -1, 0, 1, 88]))
    # MAD 0: the median value scores 0, every other value is infinitely far
    assert robust_z([1, 1, 1, 10]).tolist() == [0.0, 0.0, 0.0, math.inf]
    assert robust_z([3.0]).tolist() == [0.0]
    assert robust_z([2, 4]).tolist() == [-0.6745, 0.6745]


def test_robust_z_errors():
    with pytest.raises(ValueError, match="`values` must contain finite values; entry 1 is nan"):
        robust_z([1.0, float("nan")])
    with pytest.raises(ValueError, match="`values` is empty"):
        robust_z([])


def test_screen_bounds_capacity_and_outliers():
    s = screen_orders([(5, 1), (7, 1), (9, 1), (0, 10), (50, 1)], price_bounds=(1, 20), registered_kw=5, z_max=None)
    assert isinstance(s, Screening)
    assert s.accepted_mask.tolist() == [True, True, True, False, False]
    reasons = s.table["reason"]
    assert reasons[3] == "price 0 below the floor 1; quantity 10 above the registered 5 kW x 1 h, clipped to 5"
    assert reasons[4] == "price 50 above the cap 20"
    assert list(s.rejected.index) == [3, 4]
    assert s.accepted["quantity"].tolist() == [1.0, 1.0, 1.0]
    assert s.table["z_price"].isna().all()


def test_screen_clip_or_reject_over_capacity():
    book = pd.DataFrame({"price": [5.0, 6.0], "quantity": [4.0, 1.0], "registered_kw": [2.0, 3.0]})
    clipped = screen_orders(book, z_max=None)
    assert clipped.accepted_mask.all()
    assert clipped.accepted["quantity"].tolist() == [2.0, 1.0]
    rejected = screen_orders(book, z_max=None, over_capacity="reject")
    assert rejected.accepted_mask.tolist() == [False, True]
    assert rejected.table.loc[0, "reason"] == "quantity 4 above the registered 2 kW x 1 h"
    # a half-hour market halves what each capacity may sell
    half = screen_orders(book, z_max=None, dt_h=0.5)
    assert half.accepted["quantity"].tolist() == [1.0, 1.0]
    # a capacity of 0 rejects even when clipping
    zero = screen_orders([(5.0, 1.0)], registered_kw=0.0, z_max=None)
    assert not zero.accepted_mask[0]


def test_screen_outliers_by_robust_z():
    s = screen_orders([10, 11, 12, 13, 100])
    assert s.accepted_mask.tolist() == [True, True, True, True, False]
    assert s.table.loc[4, "z_price"] == pytest.approx(0.6745 * 88)
    assert s.table.loc[4, "reason"] == "price is an outlier (robust z = 59.4, |z| > 3.5)"
    assert screen_orders([10, 11, 12, 13, 100], z_max=60).accepted_mask.all()


def test_screen_argument_errors():
    with pytest.raises(ValueError, match="`price_bounds` has its floor 5.0 above its cap 1.0"):
        screen_orders([1, 2], price_bounds=(5, 1))
    with pytest.raises(TypeError, match="`price_bounds` must be a pair"):
        screen_orders([1, 2], price_bounds=3)
    with pytest.raises(ValueError, match=r"`price_bounds\[1\] \(the cap\)` must be a finite number"):
        screen_orders([1, 2], price_bounds=(None, float("nan")))
    with pytest.raises(ValueError, match=r"`registered_kw` must contain non-negative .* entry 1 is nan"):
        screen_orders([1, 2], registered_kw=[1.0, float("nan")])
    with pytest.raises(TypeError, match="`registered_kw` must be a number or one number per order"):
        screen_orders([1, 2], registered_kw={"a": 1.0})
    with pytest.raises(ValueError, match="`registered_kw` must contain non-negative capacities in kW"):
        screen_orders([1, 2], registered_kw=-1.0)
    with pytest.raises(ValueError, match=r"`registered_kw` must be one number or one per order \(2\)"):
        screen_orders([1, 2], registered_kw=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="`registered_kw` must be a number or one number per order"):
        screen_orders([1, 2], registered_kw="lots")
    with pytest.raises(ValueError, match=r"`orders\['registered_kw'\]` must contain non-negative"):
        screen_orders(pd.DataFrame({"price": [1.0], "registered_kw": [-2.0]}))
    with pytest.raises(ValueError, match="`z_max` must be a positive number"):
        screen_orders([1, 2], z_max=0)
    with pytest.raises(ValueError, match="`dt_h` must be a positive number"):
        screen_orders([1, 2], dt_h=-1)
    with pytest.raises(ValueError, match="`over_capacity` must be 'clip' or 'reject'"):
        screen_orders([1, 2], over_capacity="shrug")
    with pytest.raises(ValueError, match="`orders` must contain finite prices"):
        screen_orders([1, float("nan")])


# --------------------------------------------------------------------------- mitigation in the market


def test_mitigation_restores_the_honest_market_when_fakes_are_out_of_bounds():
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_bids=[20], fake_asks=[(0.0, 10.0)], price_bounds=(1, 15))
    assert isinstance(res, MitigationResult)
    assert res.mitigated.summary() == res.honest.summary()
    assert (res.honest.price, res.honest.welfare) == (8.5, 10.0)
    assert res.fakes_total == 2 and res.fakes_caught == 2 and res.honest_rejected == 0
    assert res.damage == 10.0 and res.damage_removed == 1.0 and res.false_positive_cost == 0.0
    table = res.to_frame()
    assert list(table.index) == ["honest", "attacked", "mitigated", "honest_screened"]
    assert table["welfare_loss"].tolist() == [0.0, 10.0, 0.0, 0.0]
    assert res.bid_screening.rejected.index.tolist() == [3]
    assert res.ask_screening.rejected.index.tolist() == [3]
    # the screened book keeps the positions of the orders in the attacked book
    book = res.mitigated.to_frame()
    assert book["order"].tolist() == [0, 1, 2, 0, 1, 2] and not book["fake"].any()


def test_clipping_a_phantom_ask_removes_part_of_the_damage():
    """Clipped to its registered 1 kW, the phantom ask is the 1 kWh case: welfare 8 instead of 0."""
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 10.0)], registered_kw=1.0, z_max=None)
    assert res.fakes_caught == 0
    assert res.mitigated.price == 7.5 and res.mitigated.welfare == pytest.approx(8.0)
    assert res.damage_removed == pytest.approx(0.8)


def test_registered_capacity_per_order_in_a_column():
    fake = pd.DataFrame({"price": [0.0], "quantity": [10.0], "registered_kw": [1.0]})
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=fake, z_max=None, over_capacity="reject")
    assert res.fakes_caught == 1 and res.damage_removed == 1.0


def test_a_screen_that_accepts_everything_removes_nothing():
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=[(4.0, 3.0)], z_max=None)
    assert res.mitigated.summary() == res.attacked.summary()
    assert res.damage_removed == 0.0
    no_damage = mitigate_false_bids(SEED_BIDS, SEED_ASKS)
    assert math.isnan(no_damage.damage_removed)


def test_false_positive_cost_of_the_outlier_test():
    """A genuine buyer at 30 is an outlier among bids 12, 10, 8, 30.

    Median 11, |deviations| 1, 1, 3, 19, MAD 2: z = 0.6745 * 19 / 2 = 6.41 > 3.5.
    """
    bids = [12, 10, 8, 30]
    res = mitigate_false_bids(bids, SEED_ASKS)
    assert res.honest.welfare == 30 + 12 + 10 - (5 + 7 + 9)  # 31, three trades
    assert res.honest_screened.welfare == 10.0  # the seed market without the buyer at 30
    assert res.false_positive_cost == 21.0
    assert res.honest_rejected == 1
    assert res.honest_screened.to_frame().query("side == 'buyer'")["order"].tolist() == [0, 1, 2]
    assert res.bid_screening.table.loc[3, "z_price"] == pytest.approx(0.6745 * 19 / 2)


def test_an_empty_side_after_screening_trades_nothing():
    res = mitigate_false_bids(SEED_BIDS, SEED_ASKS, price_bounds=(None, 4))
    assert res.honest_screened.quantity_kwh == 0.0 and math.isnan(res.honest_screened.price)
    assert res.honest_screened.welfare == 0.0 and res.false_positive_cost == 10.0


def test_mitigation_argument_errors():
    with pytest.raises(ValueError, match="`registered_kw` must be one number for every order here"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, registered_kw=[1, 2, 3])
    with pytest.raises(ValueError, match=r"`fake_asks\['registered_kw'\]` must contain non-negative"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS,
                            fake_asks=pd.DataFrame({"price": [0.0], "quantity": [1.0], "registered_kw": [np.nan]}))
    with pytest.raises(ValueError, match="`over_capacity` must be 'clip' or 'reject'"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, over_capacity="cut")
    with pytest.raises(ValueError, match="`k` must lie between 0 and 1"):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, k=-0.1)


# --------------------------------------------------------------------------- a false offer on the feeder


def two_bus(load_kw=100.0, load_kvar=20.0, r_ohm=0.01, x_ohm=0.01):
    buses = pd.DataFrame({"p_kw": [0.0, load_kw], "q_kvar": [0.0, load_kvar]}, index=[1, 2])
    lines = pd.DataFrame({"from_bus": [1], "to_bus": [2], "r_ohm": [r_ohm], "x_ohm": [x_ohm]}, index=[1])
    return Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation=1, name="two bus")


def test_two_bus_attack_in_closed_form():
    """A DER of 20 kW reports 500 kW at price 0; the operator plans an export of 400 kW, reality imports 80."""
    f = two_bus()
    ders = pd.DataFrame({"bus": [2], "p_max_kw": [20.0], "price": [0.04]})
    res = false_offer_on_feeder(f, ders, fake={0: {"p_max_kw": 500.0, "price": 0.0}}, price_substation=0.05,
                                v_min_pu=0.9, v_max_pu=1.1)
    assert isinstance(res, FeederAttackResult)
    t = res.table
    assert res.dispatch_kw.loc[0, "honest"] == pytest.approx(20.0, abs=1e-4)
    assert res.dispatch_kw.loc[0, "attacked"] == pytest.approx(500.0, abs=1e-4)
    assert np.allclose(res.delivered_kw.loc[0], 20.0, atol=1e-4)
    # real feeder in both scenarios: a net load of 80 + j20 kW at bus 2
    w = two_bus_w(80.0, 20.0, 0.01, 0.01, f)
    loss_kw = (0.01 / f.z_base_ohm) * ((0.8**2 + 0.2**2) / w) * f.s_base_kva
    real_cost = 0.05 * (80.0 + loss_kw) + 0.04 * 20.0
    for name in ("honest", "attacked"):
        assert res.v_pu.loc[2, name] == pytest.approx(math.sqrt(w), abs=1e-7)
        assert t.loc[name, "real_cost"] == pytest.approx(real_cost, rel=1e-6)
        assert t.loc[name, "substation_p_kw"] == pytest.approx(80.0 + loss_kw, rel=1e-6)
    # what the operator expected: an export of 400 - j(-20) kW
    w_exp = two_bus_w(-400.0, 20.0, 0.01, 0.01, f)
    loss_exp = (0.01 / f.z_base_ohm) * ((4.0**2 + 0.2**2) / w_exp) * f.s_base_kva
    assert t.loc["attacked", "expected_cost"] == pytest.approx(0.05 * (-400.0 + loss_exp), rel=1e-5)
    assert t.loc["honest", "expected_cost"] == pytest.approx(real_cost, rel=1e-5)
    assert t["secure"].all() and t["opf_feasible"].all()


@pytest.fixture(scope="module")
def ieee33_attack():
    ders = pd.DataFrame({"bus": [18, 33], "p_max_kw": [600.0, 600.0], "price": [0.06, 0.07]})
    res = false_offer_on_feeder(ieee33(), ders, fake={0: {"p_max_kw": 1500.0, "price": 0.0}},
                                price_substation=0.05, screen={})
    return ders, res


def test_ieee33_attack_voltages_match_pandapower(pp, ieee33_attack):
    ders, res = ieee33_attack
    f = ieee33()
    for name in res.table.index:
        ordered = res.dispatch_kw[name].to_numpy()
        produced = np.minimum(ordered, ders["p_max_kw"].to_numpy())  # a DER cannot exceed its real capacity
        assert np.allclose(res.delivered_kw[name].to_numpy(), produced)
        g = f.copy()
        for bus, p in zip(ders["bus"], produced):
            g.buses.loc[bus, "p_kw"] -= p
        v, net = pandapower_voltages(pp, g, list(range(1, 33)))
        assert (res.v_pu[name] - v).abs().max() < 1e-6, name
        p_ext = net.res_ext_grid.p_mw.iloc[0] * 1000
        cost = 0.05 * p_ext + float(ders["price"].to_numpy() @ produced)
        assert res.table.loc[name, "real_cost"] == pytest.approx(cost, rel=1e-7), name
        assert res.table.loc[name, "min_v_pu"] == pytest.approx(v.min(), abs=1e-6)


def test_ieee33_attack_breaks_the_voltage_limit_and_the_screen_restores_it(ieee33_attack):
    _, res = ieee33_attack
    t = res.table
    assert list(t.index) == ["honest", "attacked", "mitigated", "honest_screened"]
    # the operator believes every dispatch holds 0.95 p.u.
    assert (t["expected_min_v_pu"] >= 0.95 - 1e-6).all()
    # honest: the OPF is an AC power flow (the relaxation is tight), so plan and reality agree
    assert t.loc["honest", "min_v_pu"] >= 0.95 - 1e-6
    assert t.loc["honest", "real_cost"] == pytest.approx(t.loc["honest", "expected_cost"], rel=1e-4)
    # attacked: the phantom 900 kW never arrive
    assert t.loc["attacked", "dispatch_kw"] - t.loc["attacked", "delivered_kw"] == pytest.approx(
        res.dispatch_kw.loc[0, "attacked"] - 600.0, abs=1e-6)
    assert res.dispatch_kw.loc[0, "attacked"] > 1000.0
    assert t.loc["attacked", "min_v_pu"] < 0.945 and not t.loc["attacked", "secure"]
    assert t.loc["attacked", "v_violation_pu"] == pytest.approx(0.95 - t.loc["attacked", "min_v_pu"])
    assert t.loc["attacked", "violations"].startswith("undervoltage at buses")
    # the screen clips the offer to the registered 600 kW: nothing phantom is dispatched
    assert res.screening.table.loc[0, "quantity_accepted"] == 600.0
    assert "clipped to 600" in res.screening.table.loc[0, "reason"]
    assert np.allclose(res.dispatch_kw["mitigated"], res.delivered_kw["mitigated"])
    assert t.loc["mitigated", "secure"] and t.loc["mitigated", "v_violation_pu"] == 0.0
    assert res.damage_removed["voltage"] == 1.0
    # the attack made the hour cheaper (it ignored the voltage limit): no cost damage to remove
    assert t.loc["attacked", "real_cost"] < t.loc["honest", "real_cost"]
    assert math.isnan(res.damage_removed["cost"])
    # the honest offers pass the screen untouched
    assert res.screening_honest.accepted_mask.all()
    assert t.loc["honest_screened", "real_cost"] == pytest.approx(t.loc["honest", "real_cost"], rel=1e-6)


def test_rejected_offer_and_an_operator_that_cannot_hold_the_limit():
    """A price floor rejects the compromised DER; the other one alone cannot hold 0.95 p.u."""
    from te_course.dlmp import dlmp

    f = ieee33()
    ders = pd.DataFrame({"bus": [18, 33], "p_max_kw": [600.0, 600.0], "price": [0.06, 0.07]})
    res = false_offer_on_feeder(f, ders, fake={0: {"p_max_kw": 1500.0, "price": 0.0}}, price_substation=0.05,
                                screen={"price_bounds": (0.01, None)})
    t = res.table
    assert not res.screening.accepted_mask[0]
    assert res.screening.table.loc[0, "reason"].startswith("price 0 below the floor 0.01")
    assert res.dispatch_kw.loc[0, "mitigated"] == pytest.approx(0.0, abs=1e-6)
    assert not t.loc["mitigated", "opf_feasible"]
    held = t.loc["mitigated", "v_min_held_pu"]
    assert 0.9 < held < 0.95
    assert t.loc["mitigated", "violations"].startswith("the offers accepted cannot hold 0.95 p.u.")
    # the limit held is (within 1e-3 p.u.) the highest one the remaining DER can hold
    only_33 = ders.assign(p_max_kw=[0.0, 600.0])
    dlmp(f, price_substation=0.05, ders=only_33, v_min_pu=held)
    with pytest.raises(ValueError, match="infeasible"):
        dlmp(f, price_substation=0.05, ders=only_33, v_min_pu=held + 1e-3)
    assert t.loc["mitigated", "min_v_pu"] == pytest.approx(held, abs=1e-6)


def test_feeder_attack_argument_errors():
    f = ieee33()
    ders = pd.DataFrame({"bus": [18], "p_max_kw": [600.0], "price": [0.06]})
    fake = {0: {"p_max_kw": 1500.0, "price": 0.0}}
    kw = {"price_substation": 0.05}
    with pytest.raises(ValueError, match=r"`ders\['bus'\]` entry 0 is 99, which is not a bus"):
        false_offer_on_feeder(f, ders.assign(bus=[99]), fake=fake, **kw)
    with pytest.raises(ValueError, match=r"`ders\['p_max_kw'\]` must contain non-negative powers"):
        false_offer_on_feeder(f, ders.assign(p_max_kw=[-1.0]), fake=fake, **kw)
    with pytest.raises(ValueError, match="`ders` is empty"):
        false_offer_on_feeder(f, ders.iloc[:0], fake=fake, **kw)
    with pytest.raises(ValueError, match="`fake` names the DER 5, which is not a label of `ders`"):
        false_offer_on_feeder(f, ders, fake={5: {"price": 0.0}}, **kw)
    with pytest.raises(ValueError, match=r"`fake` has the column\(s\) \['bus'\]"):
        false_offer_on_feeder(f, ders, fake={0: {"bus": 2}}, **kw)
    with pytest.raises(ValueError, match=r"`fake\[0\]\['price'\]` must be a finite number"):
        false_offer_on_feeder(f, ders, fake={0: {"price": float("inf")}}, **kw)
    with pytest.raises(ValueError, match=r"`fake\['p_max_kw'\]` must contain non-negative powers"):
        false_offer_on_feeder(f, ders, fake={0: {"p_max_kw": -5.0}}, **kw)
    with pytest.raises(ValueError, match="`fake` gives DER 0 a p_min_kw above its p_max_kw"):
        false_offer_on_feeder(f, ders, fake={0: {"p_min_kw": 700.0}}, **kw)
    with pytest.raises(ValueError, match="`fake` is empty"):
        false_offer_on_feeder(f, ders, fake={}, **kw)
    with pytest.raises(TypeError, match="`fake` must be a dict"):
        false_offer_on_feeder(f, ders, fake=[1500.0], **kw)
    with pytest.raises(TypeError, match="`fake` must map DER labels to dicts .* the entry for 0 is not a dict"):
        false_offer_on_feeder(f, ders, fake={0: 1500.0}, **kw)
    with pytest.raises(ValueError, match=r"`screen` has the unknown option\(s\) \['cap'\]"):
        false_offer_on_feeder(f, ders, fake=fake, screen={"cap": 1.0}, **kw)
    with pytest.raises(TypeError, match="`screen` must be a dict"):
        false_offer_on_feeder(f, ders, fake=fake, screen=True, **kw)
    with pytest.raises(ValueError, match=r"`screen\['registered_kw'\]` must be one number or one per order \(1\)"):
        false_offer_on_feeder(f, ders, fake=fake, screen={"registered_kw": [1.0, 2.0]}, **kw)
    with pytest.raises(ValueError, match=r"`v_min_pu` \(1.0\) must be below `v_max_pu` \(0.9\)"):
        false_offer_on_feeder(f, ders, fake=fake, v_min_pu=1.0, v_max_pu=0.9, **kw)
    with pytest.raises(ValueError, match="`price_substation` must be a finite number"):
        false_offer_on_feeder(f, ders, fake=fake, price_substation=float("nan"))
    with pytest.raises(TypeError, match="`feeder` must be a te_course Feeder"):
        false_offer_on_feeder(None, ders, fake=fake, **kw)
    with pytest.raises(ValueError, match="`ders` has repeated row labels"):
        false_offer_on_feeder(f, pd.concat([ders, ders]), fake=fake, **kw)


def test_an_overloaded_line_leaves_the_operator_dispatching_on_price():
    """The line limit (50 kVA) cannot carry a 100 kW load with 20 kW of DER: the OPF has no solution."""
    f = two_bus()
    f.lines.loc[1, "s_max_kva"] = 50.0
    ders = pd.DataFrame({"bus": [2], "p_max_kw": [20.0], "price": [0.04]})
    res = false_offer_on_feeder(f, ders, fake={0: {"p_max_kw": 500.0, "price": 0.0}}, price_substation=0.05,
                                v_min_pu=0.9, v_max_pu=1.1)
    t = res.table
    assert not t.loc["honest", "opf_feasible"] and np.isnan(t.loc["honest", "v_min_held_pu"])
    assert t.loc["honest", "violations"].startswith("the operator's OPF has no solution within the limits")
    assert "overload on line 1" in t.loc["honest", "violations"]
    # on price alone the cheap DER runs at full output
    assert res.dispatch_kw.loc[0, "honest"] == pytest.approx(20.0, abs=1e-4)
    # the forged 500 kW make the limit look easy to meet (an export within 50 kVA); really 80 kW are imported
    assert t.loc["attacked", "opf_feasible"]
    assert 100.0 + 45.0 < res.dispatch_kw.loc[0, "attacked"] < 100.0 + 50.0
    assert t.loc["attacked", "violations"].startswith("overload on line 1")
    w = two_bus_w(80.0, 20.0, 0.01, 0.01, f)
    s_send = abs(complex(0.8, 0.2) + complex(0.01, 0.01) / f.z_base_ohm * (0.8**2 + 0.2**2) / w) * f.s_base_kva
    assert f"overload on line 1 ({100 * s_send / 50:.1f}% of 50 kVA)" in t.loc["honest", "violations"]


def test_fake_as_a_dataframe_keeps_unnamed_fields():
    f = two_bus()
    ders = pd.DataFrame({"bus": [2, 2], "p_max_kw": [20.0, 10.0], "price": [0.04, 0.045]}, index=["pv", "chp"])
    fake = pd.DataFrame({"price": [0.0]}, index=["chp"])
    res = false_offer_on_feeder(f, ders, fake=fake, price_substation=0.05, v_min_pu=0.9, v_max_pu=1.1)
    assert list(res.dispatch_kw.index) == ["pv", "chp"]
    assert res.dispatch_kw.loc["chp", "attacked"] == pytest.approx(10.0, abs=1e-4)  # capacity not forged
    assert res.table["secure"].all()


@pytest.mark.parametrize("fake", [
    {0: {"p_max_kw": float("nan"), "price": 0.0}},
    {0: {"price": float("nan")}},
    pd.DataFrame({"p_max_kw": [float("nan")], "price": [0.0]}),
])
def test_a_nan_fake_offer_is_an_error_not_dropped(fake):
    """Issue 14, item 9: the docstring promises ValueError for a NaN offer; it was skipped silently."""
    f = ieee33()
    ders = pd.DataFrame({"bus": [18], "p_max_kw": [600.0], "price": [0.06]})
    with pytest.raises(ValueError, match=r"`fake\[0\]\['(p_max_kw|price)'\]` must be a finite number; got nan"):
        false_offer_on_feeder(f, ders, fake=fake, price_substation=0.05)


def test_fake_offers_change_only_the_keys_given():
    from te_course.security import _fake_offers

    ders = pd.DataFrame({"bus": [18, 33], "p_max_kw": [600.0, 600.0], "price": [0.06, 0.07], "p_min_kw": 0.0})
    reported = _fake_offers({0: {"price": 0.0}, 1: {"p_max_kw": 900.0}}, ders)
    assert reported["price"].tolist() == [0.0, 0.07]
    assert reported["p_max_kw"].tolist() == [600.0, 900.0]
    assert ders["price"].tolist() == [0.06, 0.07]  # the caller's table is untouched


# --------------------------------------------------------------------------- issue 14: fuzz findings


@pytest.mark.parametrize(
    ("registered", "error", "match"),
    [
        (10**400, ValueError, r"`registered_kw` holds a number too large for a float"),
        ([[1.0], [1.0, 2.0]], TypeError, r"`registered_kw` .*ragged"),
        (True, TypeError, r"`registered_kw` must contain numbers, not booleans"),
        (1 + 1j, TypeError, r"`registered_kw` must contain real numbers"),
    ],
    ids=["int-1e400", "ragged", "bool", "complex"],
)
def test_registered_kw_that_is_not_a_capacity_is_named(registered, error, match):
    # 10**400 raised a bare OverflowError from numpy; a ragged list numpy's "inhomogeneous shape".
    with pytest.raises(error, match=match):
        screen_orders([(5, 1), (7, 1)], registered_kw=registered)
    with pytest.raises(error, match=match):
        mitigate_false_bids(SEED_BIDS, SEED_ASKS, fake_asks=[(0.0, 10.0)], registered_kw=registered)


def test_registered_kw_column_beyond_the_floats_is_named():
    book = pd.DataFrame({"price": [5.0, 7.0], "quantity": [1.0, 1.0], "registered_kw": [1, 10**400]})
    with pytest.raises(ValueError, match=r"`orders\['registered_kw'\]` holds a number too large"):
        screen_orders(book)


def test_infinite_registered_kw_is_no_limit():
    # inf is documented as "no limit": the order passes untouched, as with None.
    s = screen_orders([(5, 1), (7, 100)], registered_kw=math.inf, z_max=None)
    assert s.accepted_mask.tolist() == [True, True]
    assert s.table["quantity_accepted"].tolist() == [1.0, 100.0]


@pytest.mark.parametrize(
    ("fake", "match"),
    [
        ({0: {"p_max_kw": 1e300}}, r"`fake\[0\]\['p_max_kw'\]` entry 0 is 1e\+300 kW, beyond the range"),
        ({0: {"p_min_kw": -1e12}}, r"`fake\[0\]\['p_min_kw'\]` entry 0 is -1e\+12 kW, beyond the range"),
        ({0: {"price": -1e300}}, r"`fake\[0\]\['price'\]` must contain prices of at most 1e\+150"),
    ],
)
def test_false_offers_beyond_the_opf_range_are_named(fake, match):
    # The OPF failed ("solver status 'unbounded'") without naming `fake`.
    ders = pd.DataFrame({"bus": [3, 4], "p_max_kw": [60.0, 60.0], "price": [0.06, 0.07]})
    with pytest.raises(ValueError, match=match):
        false_offer_on_feeder(tc_radial_feeder(), ders, fake=fake, price_substation=0.05)


def tc_radial_feeder():
    from te_course.feeders import radial_feeder

    return radial_feeder(4, seed=1)
