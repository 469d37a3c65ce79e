"""Tests of te_course.feeders: the Feeder dataclass, the shipped networks, synthetic feeders.

References are independent of the package: the published totals of Baran and Wu (1989),
pandapower's ``case33bw`` and ``case5`` data (imported once, as a test-only oracle), and
networkx's own tree tests.
"""

import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from te_course.feeders import Feeder, ieee33, pjm5bus, radial_feeder


def small_feeder(**changes):
    buses = pd.DataFrame({"p_kw": [0.0, 50.0, 30.0], "q_kvar": [0.0, 10.0, 5.0]}, index=[1, 2, 3])
    lines = pd.DataFrame({"from_bus": [1, 2], "to_bus": [2, 3], "r_ohm": [0.2, 0.3], "x_ohm": [0.1, 0.2]})
    kwargs = dict(buses=buses, lines=lines, v_base_kv=12.66, s_base_kva=1000.0, substation=1, name="small")
    kwargs.update(changes)
    return Feeder(**kwargs)


@pytest.fixture(scope="module")
def pp_networks():
    pn = pytest.importorskip("pandapower.networks")
    return pn.case33bw(), pn.case5()


# --------------------------------------------------------------------------- Feeder


def test_feeder_fills_defaults_and_per_unit():
    f = small_feeder()
    assert list(f.lines.columns[:6]) == ["from_bus", "to_bus", "r_ohm", "x_ohm", "s_max_kva", "in_service"]
    assert f.lines["s_max_kva"].isna().all() and f.lines["in_service"].all()
    assert f.z_base_ohm == pytest.approx(12.66**2 * 1000 / 1000.0)
    assert f.buses.index.name == "bus"


def test_feeder_is_frozen_and_copy_is_independent():
    f = small_feeder()
    with pytest.raises(AttributeError):
        f.name = "other"
    g = f.copy()
    g.buses.loc[2, "p_kw"] = 999.0
    assert f.buses.loc[2, "p_kw"] == 50.0


def test_graph_has_in_service_lines_with_attributes():
    f = ieee33(tie_lines=True)
    g = f.graph
    assert g.number_of_nodes() == 33 and g.number_of_edges() == 32
    assert nx.is_tree(g)
    edge = g.edges[1, 2]
    assert edge["line"] == 1 and edge["r_ohm"] == pytest.approx(0.0922) and edge["x_ohm"] == pytest.approx(0.047)
    assert g.nodes[18]["p_kw"] == 90.0


def test_with_injection_subtracts_generation_and_leaves_original():
    f = ieee33()
    g = f.with_injection(18, 200.0, q_kvar=10.0)
    assert g.buses.loc[18, "p_kw"] == pytest.approx(90.0 - 200.0)
    assert g.buses.loc[18, "q_kvar"] == pytest.approx(40.0 - 10.0)
    assert f.buses.loc[18, "p_kw"] == 90.0
    assert g.buses.drop(18).equals(f.buses.drop(18))


def test_with_injection_rejects_unknown_bus_and_bad_numbers():
    with pytest.raises(ValueError, match=r"`bus` 99 is not a bus of the feeder 'IEEE 33'"):
        ieee33().with_injection(99, 10.0)
    with pytest.raises(ValueError, match=r"`p_kw` must be a finite number; got nan"):
        ieee33().with_injection(5, float("nan"))
    with pytest.raises(TypeError, match=r"`q_kvar` must be a number; got 'a'"):
        ieee33().with_injection(5, 1.0, "a")


def test_scale_loads():
    f = ieee33()
    g = f.scale_loads(0.5)
    assert g.buses["p_kw"].sum() == pytest.approx(3715 / 2) and g.buses["q_kvar"].sum() == pytest.approx(1150)
    assert f.buses["p_kw"].sum() == pytest.approx(3715)
    with pytest.raises(ValueError, match=r"`factor` must be >= 0; got -1"):
        f.scale_loads(-1)


def test_validation_unknown_bus_names_line_and_bus():
    lines = pd.DataFrame({"from_bus": [1, 2], "to_bus": [2, 7], "r_ohm": [0.2, 0.3], "x_ohm": [0.1, 0.2]})
    with pytest.raises(ValueError, match=r"line 1 of `lines` has to_bus=7, which is not a bus of the feeder"):
        small_feeder(lines=lines)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("r_ohm", -0.1, r"line 1 of `lines` has r_ohm=-0.1; a resistance must be finite and >= 0"),
        ("x_ohm", 0.0, r"line 1 of `lines` has x_ohm=0.0; a reactance must be finite and > 0"),
        ("x_ohm", np.nan, r"line 1 of `lines` has x_ohm=nan; a reactance must be finite and > 0"),
        ("s_max_kva", -5.0, r"line 1 of `lines` has s_max_kva=-5.0; a limit must be > 0"),
        ("to_bus", 2, r"line 1 of `lines` connects bus 2 to itself"),
    ],
)
def test_validation_bad_lines(column, value, message):
    f = small_feeder()
    lines = f.lines.copy()
    lines.loc[1, column] = value
    with pytest.raises(ValueError, match=message):
        small_feeder(lines=lines)


def test_validation_zero_resistance_allowed():
    f = small_feeder()
    lines = f.lines.copy()
    lines["r_ohm"] = 0.0
    assert small_feeder(lines=lines).lines["r_ohm"].eq(0).all()


def test_validation_buses():
    buses = pd.DataFrame({"p_kw": [0.0, np.nan, 30.0]}, index=[1, 2, 3])
    with pytest.raises(ValueError, match=r"`buses\['p_kw'\]` must be finite; bus 2 has nan"):
        small_feeder(buses=buses)
    buses = pd.DataFrame({"p_kw": [0.0, 1.0, 30.0]}, index=[1, 2, 2])
    with pytest.raises(ValueError, match=r"bus label 2 more than once"):
        small_feeder(buses=buses)
    with pytest.raises(ValueError, match=r"must have a 'p_kw' column"):
        small_feeder(buses=pd.DataFrame({"load": [1.0]}, index=[1]))
    with pytest.raises(ValueError, match=r"`buses` is empty"):
        small_feeder(buses=pd.DataFrame({"p_kw": []}))
    with pytest.raises(TypeError, match=r"`buses` must be a DataFrame"):
        small_feeder(buses=[1, 2])
    with pytest.raises(TypeError, match=r"`lines` must be a DataFrame"):
        small_feeder(lines=None)
    with pytest.raises(ValueError, match=r"`lines` is missing the column\(s\) \['x_ohm'\]"):
        small_feeder(lines=small_feeder().lines.drop(columns="x_ohm"))
    with pytest.raises(ValueError, match=r"`substation` 9 is not a bus of the feeder"):
        small_feeder(substation=9)
    with pytest.raises(ValueError, match=r"`v_base_kv` must be a positive number; got 0"):
        small_feeder(v_base_kv=0)


# --------------------------------------------------------------------------- radiality


def test_check_radial_names_the_loop_of_a_closed_tie_line():
    f = ieee33(tie_lines=True)
    assert f.is_radial()
    f.lines.loc[36, "in_service"] = True  # tie 18-33
    assert not f.is_radial()
    with pytest.raises(ValueError, match=r"not radial: the in-service lines \[.*36.*\] form a loop") as info:
        f.check_radial()
    # the loop 18-33 closes through the substation side: it must contain line 17 (17-18) and 32 (32-33)
    assert "17" in str(info.value) and "32" in str(info.value)


def test_check_radial_parallel_lines_form_a_loop():
    f = small_feeder()
    lines = pd.concat([f.lines, f.lines.iloc[[0]].set_axis([9])])
    with pytest.raises(ValueError, match=r"in-service lines \[.*9.*\] form a loop"):
        small_feeder(lines=lines).check_radial()


def test_check_radial_names_disconnected_buses():
    f = ieee33()
    f.lines.loc[17, "in_service"] = False  # line 17-18 open: bus 18 is cut off
    with pytest.raises(ValueError, match=r"not connected: bus\(es\) \[18\] cannot be reached from the substation 1"):
        f.check_radial()


# --------------------------------------------------------------------------- IEEE 33


def test_ieee33_published_totals_and_shape():
    f = ieee33()
    assert list(f.buses.index) == list(range(1, 34))
    assert f.substation == 1 and f.v_base_kv == 12.66
    assert f.buses["p_kw"].sum() == pytest.approx(3715.0)
    assert f.buses["q_kvar"].sum() == pytest.approx(2300.0)
    assert len(f.lines) == 32 and f.lines["in_service"].all()
    assert nx.is_tree(f.graph)


def test_ieee33_tie_lines_as_published():
    f = ieee33(tie_lines=True)
    ties = f.lines[~f.lines["in_service"]]
    assert len(ties) == 5
    assert set(zip(ties["from_bus"], ties["to_bus"])) == {(8, 21), (9, 15), (12, 22), (18, 33), (25, 29)}
    ohm = {(a, b): (r, x) for a, b, r, x in ties[["from_bus", "to_bus", "r_ohm", "x_ohm"]].itertuples(index=False)}
    assert ohm[(8, 21)] == (2.0, 2.0) and ohm[(9, 15)] == (2.0, 2.0) and ohm[(12, 22)] == (2.0, 2.0)
    assert ohm[(18, 33)] == (0.5, 0.5) and ohm[(25, 29)] == (0.5, 0.5)


def test_ieee33_matches_pandapower_case33bw(pp_networks):
    net, _ = pp_networks
    f = ieee33(tie_lines=True)
    loads = net.load.groupby("bus")[["p_mw", "q_mvar"]].sum() * 1000
    for bus0, row in loads.iterrows():
        assert f.buses.loc[bus0 + 1, "p_kw"] == pytest.approx(row.p_mw)
        assert f.buses.loc[bus0 + 1, "q_kvar"] == pytest.approx(row.q_mvar)
    ours = {
        frozenset((a, b)): (r, x, s)
        for a, b, r, x, s in f.lines[["from_bus", "to_bus", "r_ohm", "x_ohm", "in_service"]].itertuples(index=False)
    }
    for row in net.line.itertuples():
        key = frozenset((row.from_bus + 1, row.to_bus + 1))
        r, x, s = ours[key]
        assert r == pytest.approx(row.r_ohm_per_km * row.length_km)
        assert x == pytest.approx(row.x_ohm_per_km * row.length_km)
        assert s == row.in_service
    assert net.bus.vn_kv.iloc[0] == f.v_base_kv


def test_pjm5bus_matches_pandapower_case5(pp_networks):
    _, net = pp_networks
    f = pjm5bus()
    assert f.substation == "D" and not f.is_radial()
    labels = list("ABCDE")
    load = net.load.groupby("bus").p_mw.sum().reindex(range(5), fill_value=0.0)
    gen = pd.concat([net.gen[["bus", "p_mw"]], net.sgen[["bus", "p_mw"]]]).groupby("bus").p_mw.sum()
    gen = gen.reindex(range(5), fill_value=0.0)
    assert f.buses["p_kw"].to_numpy() == pytest.approx(((load - gen) * 1000).to_numpy())
    assert labels[net.ext_grid.bus.iloc[0]] == f.substation
    for row, ours in zip(net.line.itertuples(), f.lines.itertuples()):
        assert (labels[row.from_bus], labels[row.to_bus]) == (ours.from_bus, ours.to_bus)
        assert ours.x_ohm == pytest.approx(row.x_ohm_per_km * row.length_km)
        assert ours.r_ohm == pytest.approx(row.r_ohm_per_km * row.length_km)


# --------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("n", [2, 33, 500, 5000])
def test_radial_feeder_is_a_tree_of_the_right_size(n):
    f = radial_feeder(n, seed=3)
    assert len(f.buses) == n and len(f.lines) == n - 1
    assert list(f.buses.index) == list(range(1, n + 1)) and f.substation == 1
    assert nx.is_tree(f.graph) and f.is_radial()
    assert (f.lines["from_bus"] < f.lines["to_bus"]).all()
    assert f.buses.loc[1, "p_kw"] == 0.0
    pf = f.buses["p_kw"] / np.hypot(f.buses["p_kw"], f.buses["q_kvar"])
    assert pf.iloc[1:].between(0.9 - 1e-12, 0.98 + 1e-12).all()
    ratio = f.lines["x_ohm"] / f.lines["r_ohm"]
    assert ratio.between(0.5, 1.5).all() and f.lines["r_ohm"].between(0.05, 0.4).all()


def test_radial_feeder_small_loads_are_not_scaled():
    f = radial_feeder(33, seed=0)
    assert f.buses["p_kw"].iloc[1:].between(10.0, 100.0).all()


def test_radial_feeder_is_reproducible_and_seeded():
    a, b, c = radial_feeder(200, seed=7), radial_feeder(200, seed=7), radial_feeder(200, seed=8)
    pd.testing.assert_frame_equal(a.buses, b.buses)
    pd.testing.assert_frame_equal(a.lines, b.lines)
    assert not a.lines.equals(c.lines)
    d = radial_feeder(200, seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a.lines, d.lines)


def test_radial_feeder_has_long_laterals():
    depth = nx.single_source_shortest_path_length(radial_feeder(1000, seed=0).graph, 1)
    assert max(depth.values()) >= 20


def test_radial_feeder_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"`n_buses` must be at least 2; got 1"):
        radial_feeder(1)
    with pytest.raises(TypeError, match=r"`n_buses` must be an integer; got 3.5"):
        radial_feeder(3.5)


# --------------------------------------------------------------------------- issue 14: bad input, clear errors


def test_in_service_strings_are_refused_not_read_as_true():
    # issue 14, item 6: astype(bool) turned the string 'False' into True
    lines = small_feeder().lines.assign(in_service=["True", "False"])
    with pytest.raises(TypeError, match=r"`lines\['in_service'\]` must contain True or False; line 0 has the string "
                                        r"'True'\. Use the booleans"):
        small_feeder(lines=lines)
    lines = small_feeder().lines.assign(in_service=[True, "False"])
    with pytest.raises(TypeError, match=r"line 1 has the string 'False'"):
        small_feeder(lines=lines)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([True, False], [True, False]),
        ([1, 0], [True, False]),
        ([1.0, 0.0], [True, False]),
        (np.array([True, False], dtype=object), [True, False]),
        (pd.array([True, False], dtype="boolean"), [True, False]),
    ],
)
def test_in_service_booleans_and_0_1_are_read_exactly(values, expected):
    f = small_feeder(lines=small_feeder().lines.assign(in_service=values))
    assert f.lines["in_service"].dtype == bool and f.lines["in_service"].tolist() == expected


@pytest.mark.parametrize("values", [[2, 1], [np.nan, 1.0], pd.array([None, True], dtype="boolean")])
def test_in_service_other_values_are_refused(values):
    with pytest.raises(ValueError, match=r"`lines\['in_service'\]` must contain True or False; line 0 has"):
        small_feeder(lines=small_feeder().lines.assign(in_service=values))


@pytest.mark.parametrize(
    ("table", "column", "value", "match"),
    [
        ("buses", "p_kw", "50", r"`buses\['p_kw'\]` must contain numbers; bus 1 has '50' \(a str\)"),
        ("buses", "q_kvar", True, r"`buses\['q_kvar'\]` must contain numbers; bus 1 has True \(a bool\)"),
        ("buses", "p_kw", 1 + 2j, r"`buses\['p_kw'\]` must contain numbers; bus 1 has \(1\+2j\) \(a complex\)"),
        ("lines", "x_ohm", "0.1", r"`lines\['x_ohm'\]` must contain numbers; line 0 has '0.1' \(a str\)"),
    ],
)
def test_numeric_columns_refuse_text_booleans_and_complex(table, column, value, match):
    f = small_feeder()
    frame = getattr(f, table).assign(**{column: value})
    with pytest.raises(TypeError, match=match):
        small_feeder(**{table: frame})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"s_base_kva": 0}, ValueError, r"`s_base_kva` must be a positive number; got 0"),
        ({"v_base_kv": 1e-300}, ValueError, r"`v_base_kv` must lie between 0.001 and 10000 kV .* got 1e-300"),
        ({"s_base_kva": 1e-300}, ValueError, r"`s_base_kva` must lie between 0.001 and 1e\+09 kVA .* got 1e-300"),
        ({"v_base_kv": 1e5}, ValueError, r"`v_base_kv` must lie between"),
        ({"s_base_kva": 1e12}, ValueError, r"`s_base_kva` must lie between"),
        ({"v_base_kv": np.inf}, ValueError, r"`v_base_kv` must be a positive number; got inf"),
        ({"s_base_kva": "1000"}, TypeError, r"`s_base_kva` must be a positive number; got '1000'"),
    ],
)
def test_bases_out_of_range_are_refused(kwargs, error, match):
    # issue 14, item 14: s_base_kva=0 gave ZeroDivisionError in radial_feeder; 1e-300 was accepted by Feeder
    with pytest.raises(error, match=match):
        radial_feeder(5, **kwargs)
    with pytest.raises(error, match=match):
        small_feeder(**kwargs)


def test_bases_at_the_ends_of_their_ranges_are_accepted():
    for v, s in [(1e-3, 1e-3), (1e-3, 1e9), (1e4, 1e-3), (1e4, 1e9)]:
        f = radial_feeder(20, seed=1, v_base_kv=v, s_base_kva=s)
        assert f.v_base_kv == v and f.s_base_kva == s and np.isfinite(f.buses["p_kw"]).all()


@pytest.mark.parametrize(
    ("table", "column", "value", "match"),
    [
        ("lines", "x_ohm", 1e-200, r"line 0 of `lines` has x_ohm=1e-200, which is .* p\.u\. .* at least 1e-100"),
        ("lines", "r_ohm", 1e300, r"line 0 of `lines` has r_ohm=1e\+300, which is .* p\.u\..* at most 1e\+100"),
        ("lines", "s_max_kva", 1e300, r"line 0 of `lines` has s_max_kva=1e\+300.*Use NaN for no limit"),
        ("buses", "p_kw", 1e300, r"`buses\['p_kw'\]` is out of range: bus 1 has 1e\+300, which is 1e\+297 p\.u\."),
    ],
)
def test_per_unit_values_that_overflow_or_vanish_are_refused(table, column, value, match):
    f = small_feeder()
    frame = getattr(f, table).copy()
    frame.iloc[0, frame.columns.get_loc(column)] = value
    with pytest.raises(ValueError, match=match):
        small_feeder(**{table: frame})


@pytest.mark.parametrize(
    ("seed", "error"),
    [("abc", TypeError), (1.5, TypeError), (-1, ValueError), (True, TypeError), ([1, "a"], (TypeError, ValueError))],
)
def test_radial_feeder_bad_seed_names_the_argument(seed, error):
    # issue 14, item 16: numpy's "SeedSequence expects int" did not name `seed`
    with pytest.raises(error, match=r"`seed` must be None, a non-negative integer or a numpy Generator"):
        radial_feeder(5, seed=seed)


def test_radial_feeder_seed_none_and_sequence():
    assert radial_feeder(5, seed=None).n_buses == 5
    pd.testing.assert_frame_equal(radial_feeder(30, seed=[1, 2]).lines, radial_feeder(30, seed=[1, 2]).lines)


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda f: f.lines.__setitem__("x_ohm", 0.0), ValueError,
         r"line 0 of `feeder.lines` has x_ohm=0.0; a reactance must be finite and > 0\. The tables of `feeder` "
         r"were edited after it was built"),
        (lambda f: f.buses.__setitem__("p_kw", np.nan), ValueError, r"`feeder.buses\['p_kw'\]` must be finite; bus 1"),
        (lambda f: f.lines.__setitem__("to_bus", [2, 9]), ValueError,
         r"line 1 of `feeder.lines` has to_bus=9, which is not a bus of the feeder"),
        (lambda f: f.lines.drop(columns="x_ohm", inplace=True), ValueError,
         r"`feeder.lines` is missing the column\(s\) \['x_ohm'\]"),
        (lambda f: f.lines.__setitem__("in_service", ["True", "False"]), TypeError,
         r"`feeder.lines\['in_service'\]` must contain True or False; line 0 has the string 'True'"),
        (lambda f: f.buses.drop(index=1, inplace=True), ValueError, r"has from_bus=1, which is not a bus"),
    ],
)
def test_tables_edited_in_place_are_checked_again(edit, error, match):
    # issue 14, item 8: an edited feeder is checked like a new one by every method that uses it
    f = small_feeder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecates inplace=True
        edit(f)
    for use in (lambda: f.is_radial(), lambda: f.check_radial(), lambda: f.graph, lambda: f.copy(),
                lambda: f.with_injection(2, 1.0), lambda: f.scale_loads(2.0)):
        with pytest.raises(error, match=match):
            use()


def test_valid_edits_keep_working_and_are_seen():
    f = ieee33(tie_lines=True)
    f.lines.loc[36, "in_service"] = True
    assert not f.is_radial()
    f.lines.loc[36, "in_service"] = False
    f.buses.loc[18, "p_kw"] = 100.0
    assert f.is_radial() and f.copy().buses.loc[18, "p_kw"] == 100.0
    assert f._checked() is f  # checked once, then compared with its private copy
    # a valid edit that leaves a column of objects: the answer uses booleans, the table is left alone
    f.lines["in_service"] = f.lines["in_service"].astype(object)
    assert f.is_radial() and f.lines["in_service"].dtype == object


def test_scale_and_injection_that_overflow_name_the_argument():
    with pytest.raises(ValueError, match=r"`factor`=1e\+300 gives loads out of range"):
        ieee33().scale_loads(1e300)
    with pytest.raises(ValueError, match=r"`p_kw`=1e\+300, `q_kvar`=0.0 at bus 18 give a load out of range"):
        ieee33().with_injection(18, 1e300)


def test_integer_too_large_for_a_float_is_named():
    buses = small_feeder().buses.astype(object)
    buses.loc[2, "p_kw"] = 10**400
    with pytest.raises(ValueError, match=r"`buses\[.p_kw.\]` must contain finite numbers; bus 2 has a number too"):
        small_feeder(buses=buses)


# --- issue 14: fuzz findings


@pytest.mark.parametrize("n", [10**7, 10**12, 10**400])
def test_radial_feeder_caps_the_number_of_buses(n):
    # 10**12 buses asked numpy for terabytes (MemoryError) or ran for minutes; 10**400 overflowed
    from te_course.feeders import MAX_BUSES

    assert MAX_BUSES == 1_000_000
    with pytest.raises(ValueError, match=r"`n_buses` must be at most 1,000,000"):
        radial_feeder(n)
