"""Fuzzing the public API (issue 14): bad input gets a clear error, never a wrong answer.

Every name in ``te_course.__all__`` (and the public methods of its classes) has a spec
below: a valid call on a small instance, the invariants its result must satisfy, and
the other names its error messages may use for an argument (a feeder's columns, say).
Each test replaces one argument of the valid call with a bad or extreme value drawn by
hypothesis (``tests/fuzzing.py`` lists them: NaN, infinities, negatives, zero, 1e300,
1e-300, ints beyond the floats, booleans, complex numbers, strings, None, empty,
shorter, longer, ragged and deeper arrays, scaled tables, feeders edited in place into
meshed, disconnected or NaN-loaded ones, objects whose arrays were edited) and holds
the call to the contract in ``fuzzing.call_under_contract``.

The invariants are independent of the code under test: balance and lo <= hi for a
clearing, limits and capacities for allocations and schedules, optimality conditions
(each agent's best response to the reported price, and balance) for the distributed
algorithms, the documented ranges of indices (HHI in [0, 10 000], Jain's index in
[1/n, 1]).

The examples are derandomised so that ``make test`` is repeatable; set
``TE_COURSE_FUZZ=deep`` for ten times as many examples from a random seed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from fuzzing import COUNTS, Broken, call_under_contract, check_finite, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import te_course as tc

DEEP = os.environ.get("TE_COURSE_FUZZ") in ("deep", "collect")
#: ``TE_COURSE_FUZZ=collect`` records every broken contract in ``FOUND`` (printed at the end)
#: instead of stopping at the first: the way to survey a module before fixing it.
COLLECT = os.environ.get("TE_COURSE_FUZZ") == "collect"
REL = 1e-6


# --------------------------------------------------------------------------- invariants


def _close(a, b, scale=1.0, rel=REL):
    return abs(a - b) <= rel * max(abs(a), abs(b), scale) + 1e-9


def check_clearing(r: tc.ClearingResult, kw):
    bp, bq = tc.parse_orders(kw["bids"], "bids")
    ap, aq = tc.parse_orders(kw["asks"], "asks")
    lo, hi = r.price_interval
    if r.quantity > 0:
        assert lo <= hi, f"price interval {r.price_interval} has lo > hi"
    else:  # the documented no-trade result
        assert math.isnan(lo) and math.isnan(hi) and r.welfare == 0, "no trade must give the interval (nan, nan)"
    assert np.all(r.buyer_fills >= -1e-12 * bq) and np.all(r.buyer_fills <= bq * (1 + 1e-9)), (
        "a bid over- or under-filled"
    )
    assert np.all(r.seller_fills >= -1e-12 * aq) and np.all(r.seller_fills <= aq * (1 + 1e-9)), (
        "an ask over- or under-filled"
    )
    scale = max(bq.max(initial=0), aq.max(initial=0))
    assert _close(r.buyer_fills.sum(), r.seller_fills.sum(), scale * 1e-9), (
        "buyers receive more or less than sellers deliver"
    )
    assert _close(r.quantity, r.buyer_fills.sum(), scale * 1e-9), "quantity is not the traded total"
    if r.quantity > 0:
        assert np.all(bp[r.buyer_fills > 0] >= r.price - 1e-9 * abs(r.price)), "a bid below the price trades"
        assert np.all(ap[r.seller_fills > 0] <= r.price + 1e-9 * abs(r.price)), "an ask above the price trades"
        assert r.welfare >= -1e-9 * abs(r.welfare), "negative welfare"


def check_settlement(s: tc.Settlement, kw):
    # payments: what each trader pays, sellers negative (the sign convention of te_course.settle)
    assert _close(s.budget, s.payments.sum(), max(abs(s.payments).max(initial=0), 1.0)), "budget != sum of payments"


def check_agents_dispatch(r, kw):
    agents = r.agents
    d = np.asarray(r.dispatch, dtype=float)
    span = np.maximum(agents.p_max_kw - agents.p_min_kw, 1e-9)
    assert np.all(d >= agents.p_min_kw - 1e-6 * span) and np.all(d <= agents.p_max_kw + 1e-6 * span), (
        "dispatch beyond limits"
    )
    if (
        hasattr(r, "price")
        and np.ndim(r.price) == 0
        and not isinstance(r, tc.P2PResult)
    ):
        scale = max(np.abs(agents.p_max_kw).max(), np.abs(agents.p_min_kw).max(), 1e-9)
        tol = max(1e-3, 10 * float(kw.get("tol", 1e-6))) * scale * agents.n
        best = agents.best_response(r.price)
        assert np.abs(d - best).max() <= tol, f"dispatch is not every agent's best response to the price {r.price}"
        assert abs(d.sum()) <= tol, f"dispatch does not balance: sum {d.sum()}"


def check_outcome(o: tc.Outcome, kw):
    assert o.buyer_trades.sum() == o.seller_trades.sum(), "buyers and sellers traded differ"
    net = o.buyer_pays.sum() - o.seller_gets.sum()
    assert _close(o.budget_surplus, net, max(abs(net), 1.0)), "budget_surplus != payments"


def check_allocation(a: tc.Allocation, kw):
    x = a.x.to_numpy()
    usage = a.usage.to_numpy(dtype=float)
    cap = np.asarray(a.capacity, dtype=float)
    assert np.all(x >= -1e-7 * max(1.0, x.max(initial=0))), "negative allocation"
    used = usage @ x
    assert np.all(used <= cap * (1 + 1e-6) + 1e-9), f"allocation uses {used} beyond capacity {cap}"


def check_range(lo, hi):
    def check(v, kw):
        assert lo - 1e-9 <= v <= hi + 1e-9, f"{v} outside [{lo}, {hi}]"

    return check


def check_jain(v, kw):
    n = len(np.atleast_1d(np.asarray(kw["x"], dtype=float)))
    assert 1 / n - 1e-9 <= v <= 1 + 1e-9, f"Jain index {v} outside [1/{n}, 1]"


def check_hosting(v, kw):
    assert 0 <= v <= kw.get("max_kw", 20000.0) + 1e-9, f"hosting capacity {v} outside [0, max_kw]"


def check_dc_opf(r, kw):
    # the solver meets the balances to about 1e-9 per unit: scale with the power base too
    powers = np.abs(r.load_kw).sum() + np.abs(r.dispatch).sum() + kw["network"].s_base_kva
    scale = float(np.abs(r.lmp).max() * powers) + 1e-9
    gap = abs(r.congestion_rent - r.merchandising_surplus)
    assert gap <= 1e-6 * scale, f"rent {r.congestion_rent} != merchandising surplus {r.merchandising_surplus}"


def check_schedule(s: tc.Schedule, kw):
    t = s.table
    assert (t["import_kw"] >= -1e-6 * max(1.0, t["import_kw"].abs().max())).all(), "negative import"
    assert (t["export_kw"] >= -1e-6 * max(1.0, t["export_kw"].abs().max())).all(), "negative export"


def check_cournot(r, kw):
    assert np.all(r.quantities >= -1e-9), "negative quantity"
    assert np.all(r.quantities <= r.capacities_kw * (1 + 1e-9) + 1e-9), "quantity beyond capacity"


# --------------------------------------------------------------------------- the specs


@dataclass
class Spec:
    fn: Callable
    base: Callable[[], dict]  # a valid call's arguments, built fresh for each example
    check: Callable | None = None  # invariants of the result (beyond finite numbers)
    names: dict = field(default_factory=dict)  # other names a message may use for an argument
    budget: int = 40  # hypothesis examples
    nan_ok: tuple = ()  # result fields where NaN is a documented value
    fixed: tuple = ("progress",)  # arguments not fuzzed


def small_feeder():
    return tc.radial_feeder(4, seed=1)


def ders():
    return pd.DataFrame({"bus": [3, 4], "p_max_kw": [60.0, 60.0], "price": [0.06, 0.07]})


def prosumer():
    return tc.Prosumer([1.0, 0.5, 2.0], [tc.PV([0.0, 2.0, 1.0]), tc.Battery(2.0, 1.0)], name="home")


def car():
    return tc.Prosumer([0.0, 0.0], [tc.EV([1, 1], e_need_kwh=3.0, p_max_kw=7.0)], name="car")


def agents():
    return tc.random_community(4, seed=1)


def day_kw():
    """A two-hour day on the small feeder with one EV: the valid call of the day-long studies."""
    return dict(
        feeder=small_feeder(),
        prosumers={4: car()},
        price_substation=[0.3, 0.1],
        load_profile=0.6,
        v_min_pu=0.9,
        v_max_pu=1.05,
        dt_h=1.0,
        voll=10.0,
    )


def allocation():
    return tc.fair_allocation([[1.0, 1.0]], [1.0], weights=[2.0, 1.0], rule="max_min")


BIDS, ASKS = [(12.0, 1.0), (10.0, 2.0), (8.0, 1.0)], [(5.0, 1.0), (7.0, 1.5), (9.0, 1.0)]
NO_RATING = ("lines['s_max_kva']",)  # NaN: the line has no rating (documented)
FEEDER_NAMES = (
    "feeder",
    "network",
    "buses",
    "lines",
    "p_kw",
    "q_kvar",
    "r_ohm",
    "x_ohm",
    "s_max_kva",
    "in_service",
    "from_bus",
    "to_bus",
    "radial",
    "connected",
    "bus",
    "line",
    "Feeder",
)
ORDER_NAMES = ("bids", "asks", "orders", "values", "costs")
PAYOFF_ROW, PAYOFF_COL = [[-1.0, -3.0], [0.0, -2.0]], [[-1.0, 0.0], [-3.0, -2.0]]

SPECS: dict[str, Spec] = {
    # chapter 1
    "clear_double_auction": Spec(
        tc.clear_double_auction,
        lambda: dict(bids=list(BIDS), asks=list(ASKS), k=0.5),
        check_clearing,
        nan_ok=("price",),
    ),
    "welfare_max_clearing": Spec(
        tc.welfare_max_clearing,
        lambda: dict(bids=list(BIDS), asks=list(ASKS), solver=None),
        check_clearing,
        budget=30,
        nan_ok=("price", "k"),
    ),
    "parse_orders": Spec(tc.parse_orders, lambda: dict(orders=list(BIDS), name="bids"), names={"orders": ("bids",)}),
    "random_orders": Spec(
        tc.random_orders, lambda: dict(n_buyers=3, n_sellers=2, seed=1, divisible=True, price_range=(2.0, 16.0))
    ),
    "settle": Spec(
        lambda **kw: tc.settle(tc.clear_double_auction(kw.pop("bids_"), ASKS), **kw),
        lambda: dict(bids_=list(BIDS), bids=list(BIDS), asks=list(ASKS), pricing="uniform"),
        check_settlement,
        names={"bids_": ORDER_NAMES, "bids": ("result",), "asks": ("result",)},
        nan_ok=("k",),
    ),
    # chapter 2
    "PV": Spec(tc.PV, lambda: dict(p_max_kw=[0.0, 2.0, 1.0], name="pv")),
    "Battery": Spec(
        tc.Battery,
        lambda: dict(
            e_max_kwh=2.0,
            p_max_kw=1.0,
            eta_charge=0.95,
            eta_discharge=0.9,
            soc0_kwh=0.5,
            ramp_kw=0.5,
            soc_min_kwh=0.1,
            soc_end_kwh=0.5,
            name="b",
        ),
    ),
    "EV": Spec(tc.EV, lambda: dict(available=[1, 1, 0], e_need_kwh=3.0, p_max_kw=7.0, eta=0.9, name="ev")),
    "EV.max_energy_kwh": Spec(
        lambda **kw: tc.EV([1, 1, 0], e_need_kwh=3.0, p_max_kw=7.0).max_energy_kwh(**kw), lambda: dict(dt_h=1.0)
    ),
    "EV.check_feasible": Spec(
        lambda **kw: tc.EV([1, 1, 0], e_need_kwh=3.0, p_max_kw=7.0).check_feasible(**kw), lambda: dict(dt_h=1.0)
    ),
    "FlexibleLoad.check_feasible": Spec(
        lambda **kw: tc.FlexibleLoad([1.0, 2.0], utility=0.3, e_kwh=1.5).check_feasible(**kw),
        lambda: dict(n_steps=2, dt_h=1.0),
    ),
    "FlexibleLoad": Spec(
        tc.FlexibleLoad, lambda: dict(p_max_kw=[1.0, 2.0], utility=[0.3, 0.2], e_kwh=1.5, p_min_kw=0.0, name="flex")
    ),
    "Prosumer": Spec(
        tc.Prosumer,
        lambda: dict(base_load_kw=[1.0, 0.5, 2.0], devices=(tc.PV([0.0, 2.0, 1.0]), tc.Battery(2.0, 1.0)), name="p"),
    ),
    "schedule": Spec(
        tc.schedule,
        lambda: dict(
            prosumer=prosumer(),
            price_buy=[0.3, 0.1, 0.4],
            price_sell=0.05,
            dt_h=1.0,
            throughput_cost=0.01,
            exclusive=False,
            import_max_kw=5.0,
            export_max_kw=5.0,
        ),
        check_schedule,
        budget=40,
        names={"prosumer": ("base_load_kw", "p_max_kw", "Battery", "PV", "battery", "pv")},
    ),
    "breakeven_price_ratio": Spec(tc.breakeven_price_ratio, lambda: dict(eta_charge=0.95, eta_discharge=0.9)),
    "example_day": Spec(tc.example_day, lambda: dict(seed=1)),
    "BatteryProblem": Spec(tc.BatteryProblem, lambda: dict(n_steps=3, dt_h=1.0), budget=20),
    "BatteryProblem.solve": Spec(
        lambda **kw: tc.BatteryProblem(3).solve(**kw),
        lambda: dict(
            price_buy=[0.1, 0.3, 0.2],
            price_sell=0.05,
            e_max_kwh=1.0,
            p_max_kw=1.0,
            eta_charge=0.9,
            eta_discharge=0.9,
            soc0_kwh=0.2,
            ramp_kw=0.8,
            base_load_kw=1.0,
            throughput_cost=0.0,
        ),
        budget=40,
    ),
    # chapter 3
    "QuadraticAgents": Spec(
        tc.QuadraticAgents, lambda: dict(a=[0.05, 0.08], b=[0.3, 0.1], p_min_kw=[-2.0, 0.0], p_max_kw=[0.0, 3.0])
    ),
    "QuadraticAgents.cost": Spec(lambda **kw: agents().cost(**kw), lambda: dict(p_kw=[0.0, 1.0, 0.5, -0.5])),
    "QuadraticAgents.marginal_cost": Spec(
        lambda **kw: agents().marginal_cost(**kw), lambda: dict(p_kw=[0.0, 1.0, 0.5, -0.5])
    ),
    "QuadraticAgents.best_response": Spec(lambda **kw: agents().best_response(**kw), lambda: dict(price=0.2)),
    "random_community": Spec(tc.random_community, lambda: dict(n_agents=4, seed=1)),
    "centralized_dispatch": Spec(
        tc.centralized_dispatch,
        lambda: dict(agents=agents()),
        check_agents_dispatch,
        names={"agents": ("a", "b", "p_min_kw", "p_max_kw")},
    ),
    "price_iteration": Spec(
        tc.price_iteration,
        lambda: dict(agents=agents(), step=0.014, tol=1e-6, max_iter=2000, price0=0.0, vectorised=True),
        check_agents_dispatch,
        names={"agents": ("a", "b", "p_min_kw", "p_max_kw")},
    ),
    "admm": Spec(
        tc.admm,
        lambda: dict(agents=agents(), rho=1.0, tol=1e-6, max_iter=2000, price0=0.0, vectorised=True),
        check_agents_dispatch,
        names={"agents": ("a", "b", "p_min_kw", "p_max_kw")},
    ),
    "p2p_bilateral": Spec(
        tc.p2p_bilateral,
        lambda: dict(agents=agents(), trading_cost=np.full((4, 4), 0.01), rho=1.0, tol=1e-6, max_iter=2000),
        check_agents_dispatch,
        budget=30,
        names={"agents": ("a", "b", "p_min_kw", "p_max_kw")},
        nan_ok=("prices", "multipliers"),
    ),
    "p2p_centralized": Spec(
        tc.p2p_centralized,
        lambda: dict(agents=agents(), trading_cost=np.full((4, 4), 0.01)),
        check_agents_dispatch,
        budget=30,
        names={"agents": ("a", "b", "p_min_kw", "p_max_kw")},
        nan_ok=("prices", "multipliers"),
    ),
    "distance_costs": Spec(
        tc.distance_costs, lambda: dict(positions=[[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]], cost_per_km=0.01)
    ),
    # chapter 4
    "Feeder": Spec(
        lambda **kw: tc.Feeder(**kw),
        lambda: dict(
            buses=small_feeder().buses,
            lines=small_feeder().lines,
            v_base_kv=12.66,
            s_base_kva=1000.0,
            substation=1,
            name="f",
        ),
        names={"buses": FEEDER_NAMES, "lines": FEEDER_NAMES, "substation": ("bus",)},
        nan_ok=NO_RATING,
    ),
    "Feeder.with_injection": Spec(
        lambda **kw: small_feeder().with_injection(**kw), lambda: dict(bus=3, p_kw=50.0, q_kvar=10.0), nan_ok=NO_RATING
    ),
    "Feeder.scale_loads": Spec(
        lambda **kw: small_feeder().scale_loads(**kw), lambda: dict(factor=1.5), nan_ok=NO_RATING
    ),
    "Feeder.replace": Spec(
        lambda **kw: small_feeder().replace(**kw),
        lambda: dict(buses=small_feeder().buses, lines=small_feeder().lines, name="g"),
        names={"buses": FEEDER_NAMES, "lines": FEEDER_NAMES},
        nan_ok=NO_RATING,
    ),
    "ieee33": Spec(tc.ieee33, lambda: dict(tie_lines=False), nan_ok=NO_RATING),
    "radial_feeder": Spec(
        tc.radial_feeder, lambda: dict(n_buses=5, seed=1, v_base_kv=12.66, s_base_kva=1000.0), nan_ok=NO_RATING
    ),
    "pjm5bus": Spec(tc.pjm5bus, lambda: dict(), budget=1, nan_ok=NO_RATING),
    "ac_power_flow": Spec(
        tc.ac_power_flow,
        lambda: dict(feeder=small_feeder(), v_source_pu=1.0, tol=1e-8, max_iter=100),
        names={"feeder": FEEDER_NAMES},
    ),
    "lindistflow": Spec(
        tc.lindistflow, lambda: dict(feeder=small_feeder(), v_source_pu=1.0), names={"feeder": FEEDER_NAMES}
    ),
    "dc_power_flow": Spec(tc.dc_power_flow, lambda: dict(network=small_feeder()), names={"network": FEEDER_NAMES}),
    "ptdf": Spec(tc.ptdf, lambda: dict(network=small_feeder()), names={"network": FEEDER_NAMES}),
    "hosting_capacity": Spec(
        tc.hosting_capacity,
        lambda: dict(feeder=small_feeder(), bus=4, model="ac", v_max_pu=1.05, max_kw=2000.0, tol_kw=5.0),
        check_hosting,
        budget=40,
        names={"feeder": FEEDER_NAMES},
    ),
    # chapter 5
    "dlmp": Spec(
        tc.dlmp,
        lambda: dict(
            feeder=small_feeder(), price_substation=0.05, ders=ders(), v_min_pu=0.95, v_max_pu=1.05, model="socp"
        ),
        budget=40,
        names={"feeder": FEEDER_NAMES, "ders": ("bus", "p_max_kw", "price", "q_max_kvar")},
    ),
    "dc_opf_lmp": Spec(
        tc.dc_opf_lmp,
        lambda: dict(
            network=small_feeder(),
            generators=pd.DataFrame({"bus": [1, 3, 4], "p_max_kw": [100.0, 60.0, 60.0], "price": [0.05, 0.06, 0.07]}),
            load_kw=[0.0, 40.0, 80.0, 30.0],  # 150 kW: the generator at 3 is marginal, one price of 0.06
        ),
        check_dc_opf,
        budget=25,
        names={"network": FEEDER_NAMES, "generators": ("bus", "p_max_kw", "price", "p_min_kw")},
        nan_ok=("flows",),  # s_max_kva is NaN for a line without limit
    ),
    "DLMPProblem": Spec(
        tc.DLMPProblem,
        lambda: dict(feeder=small_feeder(), ders=ders(), model="lindistflow"),
        budget=25,
        names={"feeder": FEEDER_NAMES, "ders": ("bus", "p_max_kw", "price")},
    ),
    "DLMPProblem.solve": Spec(
        lambda **kw: tc.DLMPProblem(small_feeder(), ders=ders(), model="lindistflow").solve(**kw),
        lambda: dict(
            price_substation=0.05, v_min_pu=0.95, v_max_pu=1.05, p_kw=[0.0, 40.0, 80.0, 40.0], price_ders=[0.06, 0.07]
        ),
        budget=40,
    ),
    "marginal_loss_factors": Spec(
        tc.marginal_loss_factors, lambda: dict(feeder=small_feeder()), names={"feeder": FEEDER_NAMES}
    ),
    # chapter 6
    "Outcome": Spec(
        tc.Outcome,
        lambda: dict(
            buyer_trades=np.array([True, False]),
            seller_trades=np.array([True, False]),
            buyer_pays=np.array([8.0, 0.0]),
            seller_gets=np.array([8.0, 0.0]),
            budget_surplus=0.0,
            mechanism="m",
        ),
    ),
    "uniform_price": Spec(
        tc.uniform_price, lambda: dict(values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0], k=0.5), check_outcome
    ),
    "vcg": Spec(tc.vcg, lambda: dict(values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0]), check_outcome),
    "trade_reduction": Spec(
        tc.trade_reduction, lambda: dict(values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0]), check_outcome
    ),
    "sbba": Spec(tc.sbba, lambda: dict(values=[12.0, 10.0, 8.0], costs=[5.0, 7.0, 9.0]), check_outcome),
    "max_misreport_gain": Spec(
        tc.max_misreport_gain,
        lambda: dict(
            mechanism=tc.vcg,
            values=[12.0, 10.0, 8.0],
            costs=[5.0, 7.0, 9.0],
            side="buyer",
            index=0,
            reports=[4.0, 9.0, 13.0],
        ),
    ),
    "property_table": Spec(
        tc.property_table,
        lambda: dict(mechanisms=[tc.uniform_price, tc.vcg], n_instances=5, n_traders=3, seed=1),
        budget=30,
    ),
    # chapter 7
    "cournot_equilibrium": Spec(
        tc.cournot_equilibrium,
        lambda: dict(intercept=100.0, slope=1.0, marginal_costs=[10.0, 20.0], capacities_kw=[40.0, 40.0]),
        check_cournot,
        nan_ok=("shares", "hhi", "capacities", "elasticity"),
    ),  # NaN when nothing is sold; inf: no capacity
    "cournot_best_responses": Spec(
        lambda **kw: [f([1.0, 2.0]) for f in tc.cournot_best_responses(**kw)],
        lambda: dict(
            intercept=100.0, slope=1.0, marginal_costs=[10.0, 20.0], capacities_kw=[40.0, 40.0], nonnegative=True
        ),
    ),
    "competition_curve": Spec(
        tc.competition_curve,
        lambda: dict(intercept=100.0, slope=1.0, base_cost=10.0, n_max=4, cost_spread=0.5),
        nan_ok=("['hhi']", "['lerner", "['shares"),
    ),
    "best_response_dynamics": Spec(
        tc.best_response_dynamics,
        lambda: dict(
            best_responses=tc.cournot_best_responses(100.0, 1.0, [10.0, 10.0]),
            initial=[0.0, 0.0],
            order="sequential",
            max_iter=200,
            tol=1e-9,
            bounds=(0.0, 100.0),
            names=["a", "b"],
            stop_at_cycle=True,
        ),
        names={"best_responses": ("best response", "strategy", "strategies")},
        nan_ok=("history", "strategies"),  # a best response that returns NaN: ConvergenceError (documented)
    ),
    "pure_nash_equilibria": Spec(tc.pure_nash_equilibria, lambda: dict(payoff_row=PAYOFF_ROW, payoff_col=PAYOFF_COL)),
    "matrix_best_responses": Spec(
        lambda **kw: [f([0, 1]) for f in tc.matrix_best_responses(**kw)],
        lambda: dict(payoff_row=PAYOFF_ROW, payoff_col=PAYOFF_COL),
    ),
    "two_zone_outcome": Spec(
        tc.two_zone_outcome,
        lambda: dict(
            offers_kw=[10.0, 40.0], intercept=100.0, slope=1.0, line_kw=40.0, marginal_cost=10.0, price_import=20.0
        ),
    ),
    "withholding": Spec(
        tc.withholding,
        lambda: dict(
            intercept=100.0,
            slope=1.0,
            line_kw=40.0,
            marginal_cost=10.0,
            capacity_kw=60.0,
            price_import=20.0,
            offers=[10.0, 30.0, 60.0],
        ),
    ),
    "dlmp_withholding": Spec(
        tc.dlmp_withholding,
        lambda: dict(
            feeder=small_feeder(),
            bus=4,
            offers_kw=[20.0, 60.0],
            marginal_cost=0.04,
            price_substation=0.05,
            ders=ders(),
            v_min_pu=0.9,
            v_max_pu=1.05,
            model="socp",
        ),
        budget=25,
        names={"feeder": FEEDER_NAMES, "ders": ("bus", "p_max_kw", "price")},
    ),
    "hhi": Spec(tc.hhi, lambda: dict(quantities=[30.0, 20.0, 50.0]), check_range(0, 10_000)),
    "concentration": Spec(
        tc.concentration,
        lambda: dict(hhi_value=2600.0, guidelines="2023", change=150.0),
        names={"hhi_value": ("HHI", "hhi")},
    ),
    "lerner_index": Spec(tc.lerner_index, lambda: dict(price=20.0, marginal_cost=10.0)),
    "demand_elasticity": Spec(tc.demand_elasticity, lambda: dict(intercept=100.0, slope=1.0, price=40.0)),
    "lerner_monopoly": Spec(tc.lerner_monopoly, lambda: dict(elasticity=-2.0)),
    "lerner_cournot": Spec(tc.lerner_cournot, lambda: dict(shares=[0.5, 0.3, 0.2], elasticity=-2.0)),
    "weighted_lerner": Spec(tc.weighted_lerner, lambda: dict(shares=[0.5, 0.3, 0.2], lerner=[0.3, 0.2, 0.1])),
    "lerner_from_hhi": Spec(tc.lerner_from_hhi, lambda: dict(hhi_value=3800.0, elasticity=-2.0)),
    # chapter 8
    "fair_allocation": Spec(
        tc.fair_allocation,
        lambda: dict(
            usage=[[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]],
            capacity=[1.0, 2.0],
            weights=[2.0, 1.0, 1.0],
            rule="proportional",
            caps=[1.0, 1.0, 1.5],
        ),
        check_allocation,
        budget=40,
        nan_ok=("prices", "caps", "capacity"),
    ),
    "FairnessProblem": Spec(
        tc.FairnessProblem, lambda: dict(usage=[[1.0, 1.0]], capacity=[1.0], caps=[1.0, 1.0]), budget=25
    ),
    "FairnessProblem.solve": Spec(
        lambda **kw: tc.FairnessProblem([[1.0, 1.0]], [1.0]).solve(**kw),
        lambda: dict(rule="max_min", weights=[2.0, 1.0], capacity=[4.0]),
        check_allocation,
        budget=30,
        nan_ok=("prices", "caps", "capacity"),
    ),
    # the alpha-fair dial (issue 16): fair_allocation(..., rule="alpha", alpha=...), solved by power cones
    "fair_allocation.alpha": Spec(
        lambda **kw: tc.fair_allocation(**kw),
        lambda: dict(
            usage=[[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]],
            capacity=[1.0, 2.0],
            weights=[2.0, 1.0, 1.0],
            rule="alpha",
            alpha=2.5,
            caps=[1.0, 1.0, 1.5],
        ),
        check_allocation,
        budget=40,
        nan_ok=("prices", "caps", "capacity", "alpha"),
    ),
    "FairnessProblem.solve.alpha": Spec(
        lambda **kw: tc.FairnessProblem([[1.0, 1.0]], [1.0]).solve(**kw),
        lambda: dict(rule="alpha", weights=[2.0, 1.0], capacity=[4.0], alpha=0.5),
        check_allocation,
        budget=30,
        nan_ok=("prices", "caps", "capacity", "alpha"),
    ),
    "feeder_usage": Spec(
        tc.feeder_usage,
        lambda: dict(feeder=small_feeder(), buses=[3, 4], capacity_kw={1: 500.0}),
        names={"feeder": FEEDER_NAMES},
        nan_ok=("[1]",),
    ),
    "envy": Spec(
        tc.envy,
        lambda: dict(allocation_or_outcome=allocation()),
        names={"allocation_or_outcome": ("allocation", "outcome", "Allocation", "Outcome", "x", "usage")},
    ),
    "is_envy_free": Spec(
        tc.is_envy_free,
        lambda: dict(
            allocation_or_outcome=tc.uniform_price([12.0, 10.0, 8.0], [5.0, 7.0, 9.0]),
            values=[12.0, 10.0, 8.0],
            costs=[5.0, 7.0, 9.0],
            tol=1e-9,
        ),
        names={"allocation_or_outcome": ("outcome", "Outcome", "buyer_pays", "seller_gets")},
    ),
    "jain_index": Spec(tc.jain_index, lambda: dict(x=[1.0, 2.0, 3.0]), check_jain),
    "price_of_fairness": Spec(
        tc.price_of_fairness,
        lambda: dict(
            fair=allocation(),
            utilitarian=tc.fair_allocation([[1.0, 1.0]], [1.0], weights=[2.0, 1.0], rule="utilitarian"),
        ),
        names={"fair": ("welfare", "Allocation"), "utilitarian": ("welfare", "Allocation")},
    ),
    "worst_off": Spec(
        tc.worst_off,
        lambda: dict(allocation=pd.Series([3.0, 1.0, 2.0], index=["a", "b", "c"])),
        names={"allocation": ("utilities",)},
    ),
    "compare_allocations": Spec(
        tc.compare_allocations,
        lambda: dict(allocations=[allocation()]),
        budget=25,
        names={"allocations": ("allocation", "Allocation")},
    ),
    # chapter 9 and the day-long studies
    "day_ahead_dlmp": Spec(tc.day_ahead_dlmp, day_kw, budget=25, names={"feeder": FEEDER_NAMES}, nan_ok=("loading",)),
    "simulate_day": Spec(
        tc.simulate_day,
        lambda: {**day_kw(), "progress": False},
        budget=20,
        names={"feeder": FEEDER_NAMES},
        nan_ok=("loading",),
    ),
    "evaluate_day": Spec(
        tc.evaluate_day,
        lambda: dict(
            feeder=small_feeder(),
            net_load_kw=pd.DataFrame([small_feeder().buses["p_kw"]] * 2, index=[0, 1]),
            progress=False,
        ),
        budget=25,
        names={"feeder": FEEDER_NAMES},
        nan_ok=("loading",),
    ),
    "uncontrolled_charging": Spec(
        tc.uncontrolled_charging,
        lambda: dict(ev=tc.EV([1, 0, 1, 1], e_need_kwh=5.0, p_max_kw=3.0), dt_h=1.0, arrival_step=2),
        names={"ev": ("EV", "available", "e_need_kwh", "p_max_kw")},
    ),
    "cheapest_first_charging": Spec(
        tc.cheapest_first_charging,
        lambda: dict(
            prices=pd.DataFrame({"home": [0.1, 0.3, 0.1, 0.1]}),
            prosumers={
                "home": tc.Prosumer(
                    np.zeros(4), [tc.EV([1, 0, 1, 1], e_need_kwh=7.0, p_max_kw=7.0, eta=1.0)], name="car"
                )
            },
            tol=1e-5,
            dt_h=1.0,
        ),
    ),
    "ev_fleet": Spec(
        tc.ev_fleet,
        lambda: dict(
            feeder=small_feeder(),
            penetration=0.5,
            share_responsive=0.5,
            kw_per_household=2.0,
            p_max_kw=3.7,
            e_need_kwh=10.0,
            arrival_step=18,
            departure_step=7,
            n_steps=24,
            eta=0.9,
        ),
        budget=30,
        names={"feeder": FEEDER_NAMES},
    ),
    "EVFleet": Spec(lambda **kw: tc.EVFleet(**kw), lambda: vars(tc.ev_fleet(small_feeder(), 0.5)).copy(), budget=15),
    "ev_study": Spec(
        tc.ev_study,
        lambda: dict(
            feeder=small_feeder(),
            penetration=0.3,
            share_responsive=0.5,
            price_substation=np.full(24, 0.1),
            load_profile=np.full(24, 0.5),
            v_min_pu=0.9,
            v_max_pu=1.05,
            voll=10.0,
        ),
        budget=12,
        names={"feeder": FEEDER_NAMES},
        nan_ok=("day.loading", "ac.loading", "ev_costs"),
    ),  # NaN per car in an empty group
    "EVStudyProblem": Spec(
        tc.EVStudyProblem,
        lambda: dict(
            feeder=small_feeder(),
            price_substation=np.full(24, 0.1),
            load_profile=np.full(24, 0.5),
            v_min_pu=0.9,
            v_max_pu=1.05,
            voll=10.0,
        ),
        budget=12,
        names={"feeder": FEEDER_NAMES},
    ),
    "EVStudyProblem.solve": Spec(
        lambda **kw: tc.EVStudyProblem(small_feeder(), price_substation=np.full(24, 0.1),
                                       load_profile=np.full(24, 0.5)).solve(**kw),
        lambda: dict(penetration=0.3, share_responsive=0.5),
        budget=12,
        nan_ok=("day.loading", "ac.loading", "ev_costs"),
    ),
    "EVStudyProblem.describes": Spec(
        lambda **kw: tc.EVStudyProblem(small_feeder(), price_substation=np.full(24, 0.1),
                                       load_profile=np.full(24, 0.5)).describes(**kw),
        lambda: dict(feeder=small_feeder(), price_substation=np.full(24, 0.1), load_profile=np.full(24, 0.5)),
        budget=12,
        names={"feeder": FEEDER_NAMES},
    ),
    "rate_lines": Spec(
        tc.rate_lines, lambda: dict(feeder=small_feeder(), load_scale=1.0, margin=1.25), names={"feeder": FEEDER_NAMES}
    ),
    "example_feeder_day": Spec(tc.example_feeder_day, lambda: dict(n_prosumers=2, seed=1), budget=20),
    "stochastic_value": Spec(
        tc.stochastic_value,
        lambda: dict(
            prosumer=tc.Prosumer([0.0, 1.0], [tc.Battery(1, 1, eta_charge=1, eta_discharge=1)]),
            price_buy=[0.4, 0.3],
            price_sell=0.0,
            pv_scenarios_kw=[[1.0, 0.0], [0.0, 0.0]],
            probabilities=[0.5, 0.5],
            dt_h=1.0,
        ),
        budget=30,
    ),
    "two_stage_schedule": Spec(
        tc.two_stage_schedule,
        lambda: dict(
            prosumer=tc.Prosumer([0.0, 1.0], [tc.Battery(1, 1)]),
            price_buy=[0.4, 0.3],
            price_sell=0.0,
            pv_scenarios_kw=[[1.0, 0.0], [0.0, 0.0]],
            probabilities=[0.5, 0.5],
            dt_h=1.0,
            objective="expected",
        ),
        budget=30,
    ),
    "cvar_schedule": Spec(
        tc.cvar_schedule,
        lambda: dict(
            prosumer=tc.Prosumer([0.0, 1.0], [tc.Battery(1, 1, eta_charge=1, eta_discharge=1)]),
            price_buy=[0.4, 0.3],
            price_sell=0.0,
            pv_scenarios_kw=[[1.0, 0.0], [0.0, 0.0]],
            probabilities=[0.5, 0.5],
            alpha=0.5,
            risk_weight=0.75,
            dt_h=1.0,
        ),
        budget=30,
    ),
    "recourse_costs": Spec(
        tc.recourse_costs,
        lambda: dict(
            prosumer=tc.Prosumer([0.0, 1.0], [tc.Battery(1, 1, eta_charge=1, eta_discharge=1)]),
            plan=pd.DataFrame({"battery_charge_kw": [0.5, 0.0], "battery_discharge_kw": [0.0, 0.5]}),
            price_buy=[0.4, 0.3],
            price_sell=0.0,
            pv_scenarios_kw=[[1.0, 0.0], [0.0, 0.0]],
            dt_h=1.0,
        ),
        budget=30,
    ),
    "pv_scenarios": Spec(
        tc.pv_scenarios,
        lambda: dict(
            forecast_kw=[0.0, 1.0, 2.0, 1.0], n_scenarios=5, error_std=0.25, autocorrelation=0.8, p_max_kw=3.0, seed=1
        ),
    ),
    "n_minus_1": Spec(
        tc.n_minus_1,
        lambda: dict(
            feeder=small_feeder(),
            v_min_pu=0.9,
            v_max_pu=1.05,
            loading_limit=1.0,
            restore=True,
            s_max_kva=500.0,
            lines=None,
        ),
        budget=30,
        names={"feeder": FEEDER_NAMES},
        nan_ok=("table", "v_pu", "loading"),
    ),
    "false_bid_attack": Spec(
        tc.false_bid_attack,
        lambda: dict(bids=[12.0, 10.0, 8.0], asks=[5.0, 7.0, 9.0], fake_bids=[(20.0, 2.0)], fake_asks=None, k=0.5),
        nan_ok=("honest.price", "attacked.price"),
    ),  # NaN when nothing trades
    "robust_z": Spec(tc.robust_z, lambda: dict(values=[5.0, 7.0, 9.0, 30.0]), nan_ok=("",)),  # +-inf when MAD = 0
    "screen_orders": Spec(
        tc.screen_orders,
        lambda: dict(
            orders=[(5.0, 1.0), (7.0, 1.0), (9.0, 1.0), (0.0, 10.0)],
            price_bounds=(1.0, 20.0),
            registered_kw=5.0,
            z_max=3.5,
            dt_h=1.0,
            over_capacity="clip",
        ),
        nan_ok=("table['z_", "table['registered']"),
    ),
    "mitigate_false_bids": Spec(
        tc.mitigate_false_bids,
        lambda: dict(
            bids=[12.0, 10.0, 8.0],
            asks=[5.0, 7.0, 9.0],
            fake_bids=[(20.0, 2.0)],
            fake_asks=[(0.0, 1.0)],
            k=0.5,
            price_bounds=(1.0, 20.0),
            registered_kw=1.0,
            z_max=3.5,
            dt_h=1.0,
            over_capacity="clip",
        ),
        nan_ok=(
            "bid_screening.table",
            "ask_screening.table",
            "honest.price",
            "attacked.price",
            "mitigated.price",
            "honest_screened.price",
        ),
    ),
    "false_offer_on_feeder": Spec(
        tc.false_offer_on_feeder,
        lambda: dict(
            feeder=small_feeder(),
            ders=ders(),
            fake={0: {"p_max_kw": 150.0, "price": 0.0}},
            price_substation=0.05,
            v_min_pu=0.95,
            v_max_pu=1.05,
            model="socp",
            screen={},
        ),
        budget=20,
        names={"feeder": FEEDER_NAMES, "ders": ("bus", "p_max_kw", "price")},
        nan_ok=("screening",),
    ),
}

#: Names of ``te_course.__all__`` that are not called with data: the errors, and the result
#: records that the package builds (each is fuzzed through the functions that return it;
#: ``Outcome`` and ``Feeder``, which a student builds by hand, have specs).
NOT_CALLED = {
    "ConvergenceError",
    "InfeasibleError",
    "UnboundedError",
    "FeederDay",
    "Orders",
    "OrderBooks",
    "MisreportGain",
    "Concentration",
    "MergerVerdict",
    "FeederUsage",
    "WorstOff",
    "SolverError",
    "TeCourseError",
    "ClearingResult",
    "Settlement",
    "Schedule",
    "CoordinationResult",
    "P2PResult",
    "PowerFlowResult",
    "DLMPResult",
    "DCOPFResult",
    "CournotResult",
    "DynamicsResult",
    "WithholdingResult",
    "Allocation",
    "DayResult",
    "DayFlows",
    "EVStudy",
    "StochasticValue",
    "TwoStageSchedule",
    "RiskAverseSchedule",
    "NMinus1Result",
    "MarketOutcome",
    "FalseBidResult",
    "Screening",
    "MitigationResult",
    "FeederAttackResult",
}


def _arguments(spec: Spec) -> list[str]:
    return [a for a in spec.base() if a not in spec.fixed]


# --------------------------------------------------------------------------- the tests


def test_every_public_name_is_fuzzed():
    exported = set(tc.__all__)
    covered = {name.split(".")[0] for name in SPECS} | NOT_CALLED
    missing = sorted(exported - covered)
    assert not missing, f"public names without a fuzz spec in tests/test_fuzz.py: {missing}"
    assert not (covered - exported), f"specs for names that are not public: {sorted(covered - exported)}"


def test_every_public_method_is_fuzzed():
    for cls_name in tc.__all__:
        cls = getattr(tc, cls_name)
        if not isinstance(cls, type) or cls_name in NOT_CALLED:
            continue
        for meth in vars(cls):
            if (
                meth.startswith("_")
                or not callable(getattr(cls, meth))
                or meth in ("to_frame", "copy", "is_radial", "check_radial", "check_connected", "resource_table")
            ):
                continue
            assert f"{cls_name}.{meth}" in SPECS, f"{cls_name}.{meth} is public but has no fuzz spec"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_valid_call_satisfies_its_invariants(name):
    # The baseline of each spec is a valid call: it must pass its own invariants, or the
    # fuzz tests below would count errors against a call that was never right.
    spec = SPECS[name]
    assert call_under_contract(spec.fn, spec.base(), "-", (), spec.check, spec.nan_ok) == "result"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_bad_input_gets_a_clear_error_or_a_sound_result(name):
    spec = SPECS[name]
    arguments = _arguments(spec)
    if not arguments:
        pytest.skip(f"{name} takes no argument")
    budget = spec.budget * (6 if COLLECT else 20 if DEEP else 2)

    @settings(
        max_examples=budget, deadline=None, derandomize=not DEEP, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(data=st.data())
    def run(data):
        kwargs = spec.base()
        changed = data.draw(st.sampled_from(arguments), label="argument")
        kwargs[changed] = mutate(kwargs[changed], data.draw)
        names = (changed,) + tuple(spec.names.get(changed, ()))
        try:
            call_under_contract(spec.fn, kwargs, changed, names, spec.check, spec.nan_ok)
        except Broken as exc:
            COUNTS["broken"] += 1
            if not COLLECT:
                raise
            _found(name, changed, str(exc).splitlines()[0][:300])
        except AssertionError as exc:  # an invariant
            COUNTS["broken"] += 1
            if not COLLECT:
                raise Broken(f"invariant broken with `{changed}` = {_short(kwargs[changed])}: {exc}") from exc
            _found(name, changed, f"invariant: {str(exc).splitlines()[0][:200]} ({_short(kwargs[changed])[:80]})")

    COUNTS["functions"] += 1
    run()


FOUND: list = []


def _found(name, changed, message):
    FOUND.append((name, changed, message))
    log = os.environ.get("TE_COURSE_FUZZ_LOG")
    if log:  # under xdist each worker appends here
        with open(log, "a") as fh:
            fh.write(f"{name}({changed}=...): {message}\n")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


# --------------------------------------------------------------------------- the checks can fail


def test_the_contract_rejects_what_it_should():
    # A contract that cannot fail is no contract: each way of breaking it is caught.
    def numpy_error(x):
        return np.asarray(x, dtype=float) + np.ones(3)  # broadcasting error from inside numpy

    with pytest.raises(Broken, match="outside te_course"):
        call_under_contract(numpy_error, {"x": [1.0, 2.0]}, "x", ("x",), None)

    def silent_nan(x):
        return float("nan")

    with pytest.raises(Broken, match="nan"):
        call_under_contract(silent_nan, {"x": 1.0}, "x", ("x",), None)

    def changes_input(x):
        x.append(1.0)
        return 1.0

    with pytest.raises(Broken, match="changed its input"):
        call_under_contract(changes_input, {"x": [1.0]}, "x", ("x",), None)

    with pytest.raises(Broken, match="does not name"):  # the package's own check, but naming another argument
        call_under_contract(lambda x: tc.hhi(quantities=x), {"x": [math.nan]}, "x", ("x",), None)
    with pytest.raises(Broken, match="KeyError"):
        call_under_contract(lambda x: {}["k"], {"x": 1}, "x", ("x",), None)
    check_finite(1.0)
    with pytest.raises(Broken):
        check_finite({"a": np.array([1.0, math.inf])})


def test_the_invariants_reject_wrong_answers():
    # Each invariant fails on a wrong answer of the kind issue 14 found.
    good = tc.clear_double_auction(BIDS, ASKS)
    kw = dict(bids=BIDS, asks=ASKS)
    check_clearing(good, kw)
    with pytest.raises(AssertionError, match="lo > hi"):
        check_clearing(tc.ClearingResult(**{**vars(good), "price_interval": (10.0, 5.0)}), kw)
    with pytest.raises(AssertionError, match="sellers deliver"):
        check_clearing(tc.ClearingResult(**{**vars(good), "buyer_fills": good.buyer_fills + [0, 0, 1e-3]}), kw)
    a = agents()
    right = tc.centralized_dispatch(a)
    check_agents_dispatch(right, {})
    wrong = tc.CoordinationResult(**{**vars(right), "dispatch": right.dispatch * 0.5})
    with pytest.raises(AssertionError, match="best response|balance"):
        check_agents_dispatch(wrong, {})
    alloc = tc.fair_allocation([[1.0, 1.0]], [1.0], rule="utilitarian")
    check_allocation(alloc, {})
    over = tc.Allocation(**{**vars(alloc), "x": alloc.x * 2 + 1})
    with pytest.raises(AssertionError, match="beyond capacity"):
        check_allocation(over, {})
    with pytest.raises(AssertionError):
        check_range(0, 10_000)(0.0 - 1.0, {})
    with pytest.raises(AssertionError):
        check_jain(1.5, {"x": [1, 2]})
