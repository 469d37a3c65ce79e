"""References shared by the tests of te_course.security, written here, not taken from the package."""

import math

import pandas as pd


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
