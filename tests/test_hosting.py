"""PV hosting capacity against closed forms on a two-bus feeder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import te_course as tc


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
