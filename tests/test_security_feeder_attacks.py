"""Tests of te_course.security.feeder_attacks (a false offer on a feeder) against independent references.

References written here, not taken from the package:

- a two-bus feeder solved in closed form (tests/security_references.py):
  ``w^2 - (1 - 2 (R P + X Q)) w + |Z|^2 |S|^2 = 0`` with ``w = |V_2|^2``;
- real voltages and the power bought at the substation of IEEE 33 with the DERs' real
  output: pandapower ``runpp`` (tolerance 1e-6 p.u.);
- the highest voltage limit the remaining DER can hold: the OPF itself, feasible at the
  limit held and infeasible 1e-3 p.u. above it.
"""

import math

import numpy as np
import pandas as pd
import pytest
from security_references import pandapower_voltages, two_bus_w

from te_course.feeders import Feeder, ieee33
from te_course.security import DamageRemoved, FeederAttackResult, false_offer_on_feeder


@pytest.fixture(scope="module")
def pp():
    return pytest.importorskip("pandapower")


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
    assert res.damage_removed.voltage == 1.0
    # the attack made the hour cheaper (it ignored the voltage limit): no cost damage to remove
    assert t.loc["attacked", "real_cost"] < t.loc["honest", "real_cost"]
    assert math.isnan(res.damage_removed.cost)
    # the honest offers pass the screen untouched
    assert res.screening_honest.accepted_mask.all()
    assert t.loc["honest_screened", "real_cost"] == pytest.approx(t.loc["honest", "real_cost"], rel=1e-6)


def test_damage_removed_by_hand(ieee33_attack):
    """(attacked - mitigated) / (attacked - honest) of real_cost and v_violation_pu, from the table."""
    _, res = ieee33_attack
    t = res.table
    v = t["v_violation_pu"]
    assert isinstance(res.damage_removed, DamageRemoved)
    assert res.damage_removed.voltage == pytest.approx((v["attacked"] - v["mitigated"]) / (v["attacked"] - v["honest"]))
    unscreened = false_offer_on_feeder(ieee33(), pd.DataFrame({"bus": [18], "p_max_kw": [600.0], "price": [0.06]}),
                                       fake={0: {"price": 0.0}}, price_substation=0.05)
    assert math.isnan(unscreened.damage_removed.voltage) and math.isnan(unscreened.damage_removed.cost)


def test_damage_removed_as_a_dict_is_deprecated_and_gives_the_same_answer(ieee33_attack):
    """damage_removed was a dict until issue 17; damage_removed["voltage"] still works for one release."""
    _, res = ieee33_attack
    with pytest.warns(DeprecationWarning, match=r"damage_removed.voltage"):
        old = res.damage_removed["voltage"]
    assert old == res.damage_removed.voltage == 1.0
    with pytest.warns(DeprecationWarning, match=r"damage_removed.cost"):
        assert math.isnan(res.damage_removed["cost"])
    with pytest.raises(KeyError):
        res.damage_removed["welfare"]

def test_rejected_offer_and_an_operator_that_cannot_hold_the_limit():
    """A price floor rejects the compromised DER; the other one alone cannot hold 0.95 p.u."""
    from te_course.opf import dlmp

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
    from te_course.security.feeder_attacks import _fake_offers

    ders = pd.DataFrame({"bus": [18, 33], "p_max_kw": [600.0, 600.0], "price": [0.06, 0.07], "p_min_kw": 0.0})
    reported = _fake_offers({0: {"price": 0.0}, 1: {"p_max_kw": 900.0}}, ders)
    assert reported["price"].tolist() == [0.0, 0.07]
    assert reported["p_max_kw"].tolist() == [600.0, 900.0]
    assert ders["price"].tolist() == [0.06, 0.07]  # the caller's table is untouched


# --------------------------------------------------------------------------- issue 14: fuzz findings


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
