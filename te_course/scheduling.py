"""A day on the feeder: multi-period DLMPs with prosumers, EV charging, hourly clearings.

Chapter 9 puts the pieces of the course together on one feeder and one day.
Prosumers (:class:`te_course.prosumer.Prosumer`: PV, batteries, EVs) sit at
buses of a radial :class:`~te_course.feeders.Feeder`; the distribution system
operator clears every hour with a LinDistFlow optimal power flow over the
remaining hours of the day, and the price at each bus and hour, the DLMP, is
the dual of that bus's power balance in that hour.

The multi-period OPF (per unit inside; LinDistFlow of Baran and Wu 1989, as in
:mod:`te_course.dlmp` with ``model="lindistflow"``, plus the prosumers'
device constraints of :mod:`te_course.prosumer`)::

    minimise    sum_t price_t P0_t dt + sum_k device_cost_k
    subject to  for every hour t and bus j (DLMP_jt: the dual, per kWh):
                  sum of line flows into j - out of j + [j = substation] P0_t = load_jt + sum_{k at j} net_kt
                  w_jt = w_it - 2 (r P_lt + x Q_lt),  v_min^2 <= w_jt <= v_max^2,  P_lt^2 + Q_lt^2 <= s_max_l^2
                and every prosumer k's device constraints, with net_kt its net import

The prices support the dispatch: because the problem is convex and each
prosumer appears only in its own bus's balances, each prosumer's OPF schedule
minimises ``sum_t DLMP_{bus(k),t} net_kt dt + device_cost_k`` on its own
(the Lagrangian splits; Li, Wu and Oren, "Distribution locational marginal
pricing for optimal electric vehicle charging management", IEEE Trans. Power
Systems 29(1), 203-211, 2014).  The tests check it against
:func:`te_course.prosumer.schedule` at the DLMPs.  It is *a* minimiser, not
necessarily the only one: with linear costs a prosumer is often indifferent
among several schedules, and some of them break the limits that the prices
were computed for (:func:`cheapest_first_charging` finds one).  Huang, Wu,
Oren, Li and Liu ("Distribution locational marginal pricing through quadratic
programming for congestion management in distribution networks", IEEE Trans.
Power Systems 30(4), 2170-2178, 2015) make each prosumer's problem strictly
convex with a quadratic term, so that its only best response is the OPF's.

Prosumers exchange active power only (unity power factor); the feeder's own
loads keep their power factor when scaled by ``load_profile``.  LinDistFlow
neglects losses, so the DLMPs here carry energy, congestion and voltage
components but no loss component; :func:`evaluate_day` runs the exact AC power
flow of every hour on the resulting injections to show how far that is from
the real feeder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._solvers import solve_quietly
from ._validation import (
    ConvergenceError,
    SolverError,
    TeCourseError,
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_generator,
    as_positive_float,
    check_finite,
)
from .coordination import _progress_bar
from .dlmp import OPF_PU_MAX, VOLTAGE_MAX_PU
from .feeders import Feeder, _label
from .feeders import ieee33 as _ieee33
from .powerflow import _check_feeder, _series_impedance_pu, _tree, ac_power_flow
from .prosumer import EV, PV, Battery, FlexibleLoad, Prosumer, _broadcast, _devices, _spec, _step_hours

__all__ = [
    "DayResult",
    "DayFlows",
    "day_ahead_dlmp",
    "evaluate_day",
    "simulate_day",
    "uncontrolled_charging",
    "cheapest_first_charging",
    "EVFleet",
    "ev_fleet",
    "EVStudy",
    "ev_study",
    "rate_lines",
    "example_feeder_day",
]

_SOLVER_OPTIONS = {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 200}
#: Documented ranges of the day-long OPF's data (issue 14: beyond them the interior-point solver
#: reports 'unbounded' or fails instead of answering).  Prices (``price_substation``, ``voll``) at most
#: PRICE_MAX per kWh in magnitude: a million per kWh is a thousand times any market's price cap.
PRICE_MAX = 1e6
# Powers (bus loads times ``load_profile``, ``fixed_kw``, line limits, the prosumers' base loads and
# device powers) at most dlmp.OPF_PU_MAX times the feeder's power base ``s_base_kva`` in magnitude;
# voltage limits ``v_min_pu < v_max_pu`` in (0, dlmp.VOLTAGE_MAX_PU] per unit: the ranges of dlmp's OPF.
#: At most this many steps in a day (:func:`ev_fleet`'s ``n_steps``): a year of 5-minute steps.
MAX_STEPS = 105_120
_DATA_HINT = (
    "Check that the data are in the documented ranges and units: `price_substation` and `voll` per kWh, the "
    "loads (`feeder`, `load_profile`, `fixed_kw`) and the `prosumers`' devices in kW, `dt_h` in hours."
)


# --------------------------------------------------------------------------- inputs


def _pairs(prosumers, kinds: str = " or a list of (bus, Prosumer) pairs") -> list[tuple]:
    """[(bus, item), ...] from a mapping bus -> item(s) or a sequence of pairs (items not checked yet)."""
    if isinstance(prosumers, Mapping):
        return [(bus, p) for bus, value in prosumers.items()
                for p in (value if isinstance(value, (list, tuple)) else [value])]
    try:
        pairs = [tuple(item) for item in prosumers]
    except TypeError:
        raise TypeError(f"`prosumers` must be a dict {{bus: Prosumer or list of Prosumers}}{kinds}.") from None
    if any(len(pair) != 2 for pair in pairs):
        raise TypeError("`prosumers` must be a list of (bus, Prosumer) pairs.")
    return pairs


def _placed(prosumers, feeder: Feeder) -> list[tuple[object, Prosumer]]:
    """Return [(bus, prosumer), ...] from a mapping bus -> prosumer(s) or a sequence of pairs."""
    if prosumers is None:
        return []
    pairs = _pairs(prosumers)
    names = set()
    for i, (bus, p) in enumerate(pairs):
        if not isinstance(p, Prosumer):
            raise TypeError(f"`prosumers` entry {i} is a {type(p).__name__}; place te_course Prosumer objects.")
        if bus not in feeder.buses.index:
            raise ValueError(f"`prosumers` places {p.name!r} at bus {bus!r}, which is not a bus of {feeder.name!r}.")
        if p.name in names:
            raise ValueError(f"`prosumers`: the name {p.name!r} is used twice; give every prosumer its own name.")
        names.add(p.name)
    return pairs


def _horizon(price_substation, load_profile, pairs, fixed_kw) -> int:
    lengths = {}
    for name, value in (("price_substation", price_substation), ("load_profile", load_profile)):
        if value is None:
            continue
        arr = as_1d_float(value, name, allow_scalar=True)  # names the argument if it is ragged or not numbers
        if arr.ndim == 1:
            lengths[f"`{name}`"] = arr.size
    for _, p in pairs:
        lengths[f"prosumer {p.name!r}"] = p.n_steps
    if fixed_kw is not None:
        lengths["`fixed_kw`"] = len(fixed_kw)
    if not lengths:
        raise ValueError("Give the horizon: `price_substation` or `load_profile` as one value per step, "
                         "or prosumers with profiles.")
    if len(set(lengths.values())) > 1:
        parts = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"Every profile must cover the same number of steps: {parts}.")
    return next(iter(lengths.values()))


def _profile(value, name: str, n: int, *, default=None, nonnegative=False) -> np.ndarray:
    if value is None:
        return np.full(n, default, dtype=float)
    arr = as_1d_float(value, name, allow_scalar=True)
    arr = np.full(n, float(arr)) if arr.ndim == 0 else arr
    check_finite(arr, name, "values")
    if nonnegative and (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"`{name}` must be >= 0; entry {i} is {arr[i]}.")
    return arr


def _check_table_type(value, name: str) -> None:
    if value is not None and not isinstance(value, pd.DataFrame):
        raise TypeError(f"`{name}` must be a DataFrame with one row per step and one column per bus.")


def _bus_table(value, feeder: Feeder, n: int, name: str) -> np.ndarray:
    """Return a (steps x buses) array in feeder bus order from a DataFrame with bus columns (missing buses: 0)."""
    if value is None:
        return np.zeros((n, feeder.n_buses))
    _check_table_type(value, name)
    unknown = [c for c in value.columns if c not in feeder.buses.index]
    if unknown:
        raise ValueError(f"`{name}` has column(s) {unknown[:5]} that are not buses of {feeder.name!r}.")
    # text, complex numbers, lists in cells and ints beyond the floats: an error naming the table
    arr = as_float_array(value.reindex(columns=feeder.buses.index, fill_value=0.0).to_numpy(), name)
    check_finite(arr.ravel(), name, "powers")
    return arr


def _day_inputs(feeder, prosumers, price_substation, load_profile, fixed_kw, dt_h):
    """Validate what every day-long function takes; return (feeder, pairs, T, dt, price, scale, fixed).

    ``feeder`` is the checked feeder (a normalised copy if its tables were edited in place).
    """
    feeder = _check_feeder(feeder)
    pairs = _placed(prosumers, feeder)
    _check_table_type(fixed_kw, "fixed_kw")
    T = _horizon(price_substation, load_profile, pairs, fixed_kw)
    dt = _step_hours(dt_h, positive="a positive number")
    price = _profile(price_substation, "price_substation", T)
    _check_price(price, "price_substation")
    scale = _profile(load_profile, "load_profile", T, default=1.0, nonnegative=True)
    return feeder, pairs, T, dt, price, scale, _bus_table(fixed_kw, feeder, T, "fixed_kw")


def _check_price(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first price beyond ``PRICE_MAX`` per kWh in magnitude."""
    bad = np.abs(np.atleast_1d(arr)) > PRICE_MAX
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must be at most {PRICE_MAX:g} per kWh in magnitude (the range the OPF solver handles); "
            f"entry {i} is {np.atleast_1d(arr)[i]:g}. Give prices per kWh, or in a larger currency unit."
        )


def _check_powers(feeder: Feeder, pairs, load_p, load_q, dt: float) -> None:
    """Raise ``ValueError`` when a power of the OPF is beyond ``OPF_PU_MAX`` times the power base (or not finite)."""
    limit = OPF_PU_MAX * feeder.s_base_kva
    hint = (f"at most {limit:g} kW ({OPF_PU_MAX:g} times the feeder's power base s_base_kva="
            f"{feeder.s_base_kva:g}) in magnitude; no feeder carries such a power, so check the units (kW).")
    for arr, what in ((load_p, "the active loads (`feeder.buses['p_kw']` times `load_profile`, plus `fixed_kw`)"),
                      (load_q, "the reactive loads (`feeder.buses['q_kvar']` times `load_profile`)")):
        bad = ~(np.abs(arr) <= limit)  # NaN and inf too
        if bad.any():
            t, j = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{what} reach {arr[t, j]:g} at bus {_label(feeder.buses.index[j])!r} in step {t}; "
                             f"they must be {hint}")
    s_max = feeder.lines["s_max_kva"].to_numpy(dtype=float)
    bad = np.isfinite(s_max) & (s_max > limit)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`feeder.lines['s_max_kva']` of line {_label(feeder.lines.index[i])!r} is {s_max[i]:g}; "
                         f"line limits must be {hint} Use NaN for no limit.")
    for _, p in pairs:
        hours = dt * p.n_steps  # an energy (kWh) may be the largest power over the whole horizon
        values = [("`base_load_kw`", float(np.max(p.base_load_kw, initial=0.0)), 1.0)]
        for d in p.devices:
            for attr in ("p_max_kw", "p_min_kw", "e_max_kwh", "e_need_kwh", "e_kwh", "soc_end_kwh"):
                v = getattr(d, attr, None)
                if v is not None:
                    values.append((f"{type(d).__name__} {d.name!r} `{attr}`", float(np.max(np.abs(v))),
                                   hours if attr.startswith(("e_", "soc")) else 1.0))
        for what, v, per in values:
            if v > limit * per:
                unit = "kW" if per == 1.0 else f"kWh, over {per:g} h of horizon"
                raise ValueError(f"`prosumers`: {p.name!r} has {what} = {v:g} {unit}; its powers must be {hint}")


def _v_limits(v_min_pu, v_max_pu):
    v_min = as_positive_float(v_min_pu, "v_min_pu")
    v_max = as_positive_float(v_max_pu, "v_max_pu")
    for name, v in (("v_min_pu", v_min), ("v_max_pu", v_max)):
        if v > VOLTAGE_MAX_PU:
            raise ValueError(f"`{name}` must be at most {VOLTAGE_MAX_PU:g} p.u. (a voltage limit in per unit, such "
                             f"as 0.95 or 1.05); got {v:g}.")
    if v_min >= v_max:
        raise ValueError(f"`v_min_pu` ({v_min}) must be below `v_max_pu` ({v_max}).")
    return v_min, v_max


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class DayResult:
    """The multi-period OPF of a feeder with prosumers: prices, voltages, flows and schedules.

    Attributes
    ----------
    prices : pandas.DataFrame
        DLMPs, currency per kWh: one row per step (index ``step``), one column per bus.
    v_pu : pandas.DataFrame
        LinDistFlow voltage magnitudes, steps x buses.
    flows_kw, flows_kvar : pandas.DataFrame
        Line flows at the upstream end (positive away from the substation), steps x lines.
    loading : pandas.DataFrame
        ``sqrt(P^2 + Q^2) / s_max_kva`` per step and line (NaN where a line has no limit).
    net_load_kw, net_load_kvar : pandas.DataFrame
        What each bus draws in each step (feeder load + fixed load + prosumers' net import,
        less any load shed; generation negative), steps x buses: the input of :func:`evaluate_day`.
    shed_kw : pandas.DataFrame
        Load shed by the operator, steps x buses (zero unless ``voll`` is given).
    substation_kw : pandas.Series
        Power bought at the substation in each step.
    schedules : dict of str -> pandas.DataFrame
        Per prosumer, one row per step: ``bus``, ``net_import_kw``, ``dlmp``, ``payment``
        (DLMP x net import x dt) and the devices' columns (``<pv>_kw``,
        ``<battery>_charge_kw``, ``<battery>_discharge_kw``, ``<battery>_soc_kwh``, ``<ev>_kw``).
    cost : float
        Optimal value: energy bought at the substation plus device costs, plus
        ``voll`` times the energy shed (for :func:`simulate_day`: the same, as
        actually incurred step by step).
    binding : tuple of str
        The binding network limits, in words, with their step.
    dt_h : float
    """

    prices: pd.DataFrame
    v_pu: pd.DataFrame
    flows_kw: pd.DataFrame = field(repr=False)
    flows_kvar: pd.DataFrame = field(repr=False)
    loading: pd.DataFrame = field(repr=False)
    net_load_kw: pd.DataFrame = field(repr=False)
    net_load_kvar: pd.DataFrame = field(repr=False)
    shed_kw: pd.DataFrame = field(repr=False)
    substation_kw: pd.Series = field(repr=False)
    schedules: dict = field(repr=False)
    cost: float = 0.0
    binding: tuple = ()
    dt_h: float = 1.0

    def to_frame(self) -> pd.DataFrame:
        """Return one row per step: substation power, lowest voltage and its bus, highest DLMP and its bus.

        Examples
        --------
        >>> from te_course.feeders import ieee33
        >>> day = day_ahead_dlmp(ieee33(), price_substation=[0.05, 0.05], load_profile=[0.5, 1.0], v_min_pu=0.9)
        >>> day.to_frame()[["substation_kw", "v_min_pu", "v_min_bus"]].round(1)
              substation_kw  v_min_pu  v_min_bus
        step
        0            1857.5       1.0         18
        1            3715.0       0.9         18
        """
        v = self.v_pu
        return pd.DataFrame(
            {
                "substation_kw": self.substation_kw,
                "v_min_pu": v.min(axis=1),
                "v_min_bus": v.idxmin(axis=1),
                "dlmp_max": self.prices.max(axis=1),
                "dlmp_max_bus": self.prices.idxmax(axis=1),
                "loading_max": self.loading.max(axis=1, skipna=True),
            }
        )


@dataclass(frozen=True, eq=False)
class DayFlows:
    """Hour-by-hour AC power flows of a feeder (see :func:`evaluate_day`).

    Attributes
    ----------
    v_pu : pandas.DataFrame
        Steps x buses.
    flows_kva : pandas.DataFrame
        Apparent power at each line's sending end, steps x lines.
    loading : pandas.DataFrame
        ``flows_kva / s_max_kva`` (NaN where a line has no limit).
    loss_kw : pandas.Series
        Total series losses in each step.
    substation_kw : pandas.Series
    """

    v_pu: pd.DataFrame
    flows_kva: pd.DataFrame
    loading: pd.DataFrame
    loss_kw: pd.Series
    substation_kw: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """Return one row per step: lowest voltage and its bus, highest loading and its line, losses."""
        has_limits = self.loading.notna().any(axis=None)
        return pd.DataFrame(
            {
                "v_min_pu": self.v_pu.min(axis=1),
                "v_min_bus": self.v_pu.idxmin(axis=1),
                "loading_max": self.loading.max(axis=1, skipna=True),
                "loading_max_line": self.loading.idxmax(axis=1, skipna=True) if has_limits else np.nan,
                "loss_kw": self.loss_kw,
                "substation_kw": self.substation_kw,
            }
        )


# --------------------------------------------------------------------------- the OPF


class _DayModel:
    """The multi-period LinDistFlow OPF with prosumers, written once for given data."""

    def __init__(self, feeder: Feeder, pairs, *, price, load_p, load_q, v_min, v_max, dt, voll=None):
        tree = _tree(feeder)
        n, m, T = feeder.n_buses, feeder.n_buses - 1, len(price)
        sb = feeder.s_base_kva
        self.feeder, self.tree, self.pairs, self.dt, self.T = feeder, tree, pairs, dt, T
        rank = np.empty(n, dtype=np.int64)
        rank[tree.order] = np.arange(n)
        z = _series_impedance_pu(feeder, tree)
        r, x = z.real, z.imag
        cols = np.arange(m)
        a = sp.csr_matrix(
            (np.r_[np.ones(m), -np.ones(m)], (np.r_[cols + 1, tree.parent_rank], np.r_[cols, cols])), shape=(n, m)
        )
        lines = feeder.lines.iloc[tree.line_pos]
        s_max = lines["s_max_kva"].to_numpy(dtype=float)
        limited = np.flatnonzero(np.isfinite(s_max))

        P, Q = cp.Variable((m, T), name="P"), cp.Variable((m, T), name="Q")
        W = cp.Variable((n, T), name="w")
        P0, Q0 = cp.Variable(T, name="P0"), cp.Variable(T, name="Q0")
        e0 = np.zeros((n, 1))
        e0[0, 0] = 1.0
        cons = [W[0, :] == 1.0]
        # the objective is written per unit of power (currency / s_base) so that prices and VoLL are
        # numbers of order one for the solver; `cost` and the DLMPs are scaled back in `result`
        objective = (price * dt) @ P0
        costs = [float(np.max(np.abs(price), initial=0.0)), 0.0 if voll is None else float(voll)]
        nets, self.devices = [], []
        for _, p in pairs:
            dev = _prosumer_devices(p, T, dt)
            costs += [float(np.max(np.abs(d.utility))) for d in p.devices if isinstance(d, FlexibleLoad)]
            cons += dev.constraints
            objective = objective + dev.objective / sb
            nets.append(cp.Constant(p.base_load_kw) + dev.load)
            self.devices.append(dev)
        p_load = load_p[:, tree.order].T / sb  # rank x T
        q_load = load_q[:, tree.order].T / sb
        injection = 0
        if pairs:
            k = len(pairs)
            where = rank[feeder.buses.index.get_indexer([bus for bus, _ in pairs])]
            gmap = sp.csr_matrix((np.ones(k), (where, np.arange(k))), shape=(n, k))
            injection = gmap @ cp.vstack(nets) / sb
        self.shed = None
        if voll is not None:  # involuntary load shedding at the value of lost load (VoLL), bus loads only
            self.shed = cp.Variable((n, T), nonneg=True, name="shed")
            cons.append(self.shed <= np.maximum(p_load, 0.0))
            objective = objective + voll * dt * cp.sum(self.shed)
            injection = injection - self.shed
        self.balance = a @ P + e0 @ cp.reshape(P0, (1, T), order="C") == p_load + injection
        cons += [self.balance, a @ Q + e0 @ cp.reshape(Q0, (1, T), order="C") == q_load]
        drop = -2 * (cp.multiply(r[:, None], P) + cp.multiply(x[:, None], Q))
        cons.append(a.T @ W == drop)
        self.vmin = W[1:, :] >= v_min**2
        self.vmax = W[1:, :] <= v_max**2
        cons += [self.vmin, self.vmax]
        self.line = None
        if limited.size:
            s2 = (s_max[limited] / sb) ** 2
            self.line = cp.square(P[limited, :]) + cp.square(Q[limited, :]) <= s2[:, None]
            cons.append(self.line)
        # the solver sees the objective times a power of two (exact; same optimum) that keeps the largest
        # cost coefficient (price x dt per p.u.) where it is accurate; `result` divides the duals and the cost by it
        self.obj_scale = _objective_scale(max(costs) * dt)
        self.problem = cp.Problem(cp.Minimize(self.obj_scale * objective), cons)
        self.vars = (P, Q, W, P0)
        self.nets = nets
        self.limited, self.s_max, self.lines = limited, s_max, lines
        self.v_min, self.v_max = v_min, v_max
        self.load_p, self.load_q = load_p, load_q

    def solve(self):
        try:
            solve_quietly(self.problem, solver=cp.CLARABEL, **_SOLVER_OPTIONS)
        except (cp.error.SolverError, ValueError):  # ValueError: cvxpy could not read the solver's answer
            try:  # tight tolerances can stall on badly scaled data: retry with Clarabel's defaults
                solve_quietly(self.problem, solver=cp.CLARABEL)
            except (cp.error.SolverError, ValueError):
                raise SolverError(
                    "The solver Clarabel failed on the day-ahead OPF: its numbers are probably too large or too far "
                    "apart for it. " + _DATA_HINT
                ) from None
        status = self.problem.status
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise TeCourseError(
                "The day-ahead OPF is infeasible: no schedule of the prosumers keeps every voltage in "
                f"[{self.v_min}, {self.v_max}] p.u. and every line within its `s_max_kva` in every step. Loosen "
                "`v_min_pu`/`v_max_pu` or the line limits, lower `load_profile`, or give the prosumers more "
                "flexibility (EVs plugged in longer, larger batteries)."
            )
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise SolverError(f"The day-ahead OPF ended with solver status {status!r}. " + _DATA_HINT)

    def result(self) -> DayResult:
        feeder, tree, T, dt, sb = self.feeder, self.tree, self.T, self.dt, self.feeder.s_base_kva
        P, Q, W, P0 = (np.asarray(v.value, dtype=float) for v in self.vars)
        steps = pd.RangeIndex(T, name="step")
        buses = feeder.buses.index
        # cvxpy: for `expr == b` the dual is -d(opt)/db; opt is in currency per s_base and b in p.u. of
        # power, so dividing by dt (h) gives currency per kWh
        price_rank = -np.asarray(self.balance.dual_value, dtype=float) / (dt * self.obj_scale)
        prices = np.empty((feeder.n_buses, T))
        prices[tree.order] = price_rank
        v = np.empty((feeder.n_buses, T))
        v[tree.order] = np.sqrt(np.maximum(W, 0.0))
        line_labels = self.lines.index
        flows_kw = pd.DataFrame((P * sb).T, index=steps, columns=line_labels).reindex(columns=feeder.lines.index)
        flows_kvar = pd.DataFrame((Q * sb).T, index=steps, columns=line_labels).reindex(columns=feeder.lines.index)
        s_max = pd.Series(self.s_max, index=line_labels).reindex(feeder.lines.index)
        loading = np.hypot(flows_kw, flows_kvar) / s_max.to_numpy()[None, :]

        net = self.load_p.copy()
        shed = np.zeros_like(net)
        if self.shed is not None:
            shed[:, tree.order] = (np.asarray(self.shed.value, dtype=float) * sb).T
            shed = _clean(shed)
            net -= shed
        schedules = {}
        where = buses.get_indexer([bus for bus, _ in self.pairs])
        prices_df = pd.DataFrame(prices.T, index=steps, columns=buses)
        for (bus, p), dev, expr, pos in zip(self.pairs, self.devices, self.nets, where):
            net_k = _clean(np.asarray(expr.value, dtype=float))
            net[:, pos] += net_k
            schedules[p.name] = _schedule_table(bus, net_k, prices_df[bus].to_numpy(), dev, dt, steps)

        binding = _binding(self, W, P, Q)
        return DayResult(
            prices=prices_df,
            v_pu=pd.DataFrame(v.T, index=steps, columns=buses),
            flows_kw=flows_kw,
            flows_kvar=flows_kvar,
            loading=loading,
            net_load_kw=pd.DataFrame(net, index=steps, columns=buses),
            net_load_kvar=pd.DataFrame(self.load_q.copy(), index=steps, columns=buses),
            shed_kw=pd.DataFrame(shed, index=steps, columns=buses),
            substation_kw=pd.Series(P0 * sb, index=steps, name="substation_kw"),
            schedules=schedules,
            cost=float(self.problem.value) * sb / self.obj_scale,
            binding=tuple(binding),
            dt_h=dt,
        )


def _objective_scale(m: float) -> float:
    """Return a power of two to multiply the objective by, given its largest cost coefficient ``m``; usually 1.

    Clarabel solves the OPF accurately while ``m`` lies in [1e-6, 1e6]; above, it reports
    'unbounded' (``m`` = 1e10: a price of 1e6 per kWh over 1e4-hour steps), so ``m`` is brought to
    about 1e6; below, to about 1.  Scaling further down would make the small prices of the same
    problem (0.1 next to a VoLL of 1e6) too small for the solver's tolerances.
    """
    if not 0.0 < m < np.inf or 1e-6 <= m <= 1e6:
        return 1.0
    target = 20 if m > 1e6 else 0  # 2**20 is about 1e6
    return float(np.ldexp(1.0, target - int(np.frexp(m)[1])))


def _prosumer_devices(p: Prosumer, T: int, dt: float):
    batteries = [_spec(d) for d in p.devices if isinstance(d, Battery)]
    pvs = [(d.name, _broadcast(d.p_max_kw, "p_max_kw", T, f"PV {d.name!r}")) for d in p.devices if isinstance(d, PV)]
    evs = [d for d in p.devices if isinstance(d, EV)]
    flexes = [d for d in p.devices if isinstance(d, FlexibleLoad)]
    for ev in evs:
        ev._check_feasible(dt)
    for fl in flexes:
        fl._check_feasible(T, dt)
    return _devices(T, dt, batteries=batteries, pvs=pvs, evs=evs, flexes=flexes, throughput=0.0)


def _clean(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return np.where(np.abs(v) < 1e-7, 0.0, v)


def _schedule_table(bus, net, dlmp, dev, dt, steps) -> pd.DataFrame:
    cols = {"bus": [bus] * len(steps), "net_import_kw": net, "dlmp": dlmp, "payment": dlmp * net * dt}
    for name, c, d, soc, _ in dev.batteries:
        cols[f"{name}_charge_kw"] = _clean(c.value)
        cols[f"{name}_discharge_kw"] = _clean(d.value)
        cols[f"{name}_soc_kwh"] = _clean(soc.value)
    for name, g, available in dev.pvs:
        cols[f"{name}_kw"] = _clean(g.value)
        cols[f"{name}_curtailed_kw"] = _clean(available - g.value)
    for name, e, _ in dev.evs:
        cols[f"{name}_kw"] = _clean(e.value)
    for name, f in dev.flexes:
        cols[f"{name}_kw"] = _clean(f.value)
    return pd.DataFrame(cols, index=steps)


def _binding(model: _DayModel, W, P, Q) -> list[str]:
    feeder, tree = model.feeder, model.tree
    labels = feeder.buses.index
    out = []
    tol = 1e-7
    for con, w_bound, words in ((model.vmin, model.v_min**2, "lower"), (model.vmax, model.v_max**2, "upper")):
        dual = np.asarray(con.dual_value, dtype=float)
        hit = (np.abs(W[1:, :] - w_bound) < 1e-6) & (dual > tol)
        for j, t in zip(*np.nonzero(hit)):
            bus = _label(labels[tree.order[j + 1]])
            out.append((int(t), f"step {int(t)}: voltage at bus {bus} at its {words} limit"))
    if model.line is not None:
        dual = np.asarray(model.line.dual_value, dtype=float)
        sb = feeder.s_base_kva
        for i, li in enumerate(model.limited):
            for t in range(model.T):
                s2 = (model.s_max[li] / sb) ** 2
                if dual[i, t] > tol and s2 - (P[li, t] ** 2 + Q[li, t] ** 2) < 1e-6 * s2 + 1e-10:
                    row = model.lines.iloc[li]
                    out.append((t, f"step {t}: line {_label(row['from_bus'])}-{_label(row['to_bus'])} at its limit"))
    if model.shed is not None:
        shed = np.asarray(model.shed.value, dtype=float) * feeder.s_base_kva
        for j, t in zip(*np.nonzero(shed > 1e-4)):
            bus = _label(feeder.buses.index[model.tree.order[j]])
            out.append((int(t), f"step {int(t)}: {shed[j, t]:.4g} kW of load shed at bus {bus}"))
    return [words for _, words in sorted(out, key=lambda item: item[0])]


# --------------------------------------------------------------------------- public functions


def day_ahead_dlmp(feeder: Feeder, prosumers=None, *, price_substation, load_profile=None, fixed_kw=None,
                   v_min_pu: float = 0.95, v_max_pu: float = 1.05, dt_h: float = 1.0,
                   voll: float | None = None) -> DayResult:
    """Clear a whole day at once: the multi-period LinDistFlow OPF and its DLMPs (bus x step).

    The formulation and its sources are in the module docstring
    (:mod:`te_course.scheduling`).

    Parameters
    ----------
    feeder : Feeder
        A radial feeder; its bus loads are the loads at ``load_profile = 1``; line
        limits from ``feeder.lines["s_max_kva"]``.
    prosumers : dict or list, optional
        ``{bus: Prosumer or [Prosumer, ...]}`` or ``[(bus, Prosumer), ...]``;
        every prosumer's horizon must be the day's.  Names must be unique.
    price_substation : float or array_like
        Price of energy at the substation in each step, currency per kWh.
    load_profile : float or array_like, optional
        Multiplier of the feeder's loads in each step (>= 0); 1 by default.
    fixed_kw : pandas.DataFrame, optional
        Extra load that does not respond to prices (for example EVs that charge
        as soon as they are plugged in): one row per step, columns named by bus.
    v_min_pu, v_max_pu : float
        Voltage limits at every bus but the substation (held at 1 p.u.).
    dt_h : float
        Step length, hours.
    voll : float, optional
        Value of lost load, currency per kWh: allow the operator to shed the
        feeder's loads (and ``fixed_kw``) at this cost rather than break a
        limit.  The DLMPs then stay at or below ``voll`` (a bus where load is
        shed has DLMP ``voll``); ``shed_kw`` says where and when, and
        ``binding`` names it.  Only active power is shed; the bus's reactive
        load stays.  Useful when fixed loads alone break the limits;
        by default nothing is shed and such limits make the OPF infeasible.

    Returns
    -------
    DayResult

    Raises
    ------
    ValueError
        Unknown buses, profiles of different lengths, NaN, an EV that cannot
        get its energy, or data outside the ranges the OPF solver handles:
        prices and ``voll`` at most ``PRICE_MAX`` = 1e6 per kWh in magnitude,
        powers at most ``OPF_PU_MAX`` = 1e6 times ``feeder.s_base_kva``,
        voltage limits at most ``VOLTAGE_MAX_PU`` = 10 p.u., ``dt_h`` between
        1e-4 and 1e4 hours.
    TeCourseError
        Hard limits that no schedule meets (in words).
    SolverError
        The solver failed; the message says which data to check.

    Examples
    --------
    A 7 kW EV at bus 18, plugged in for two steps and needing 6.3 kWh, charges
    in the cheaper step:

    >>> from te_course.feeders import ieee33
    >>> from te_course.prosumer import EV, Prosumer
    >>> car = Prosumer([0.0, 0.0], [EV([1, 1], e_need_kwh=6.3, p_max_kw=7.0)], name="car")
    >>> day = day_ahead_dlmp(ieee33(), {18: car}, price_substation=[0.30, 0.10], load_profile=0.6, v_min_pu=0.9)
    >>> day.schedules["car"]["ev_kw"].round(3).tolist()
    [0.0, 7.0]
    >>> day.prices.loc[:, 18].round(4).tolist()
    [0.3, 0.1]
    """
    feeder, pairs, T, dt, price, scale, fixed = _day_inputs(feeder, prosumers, price_substation, load_profile,
                                                            fixed_kw, dt_h)
    v_min, v_max = _v_limits(v_min_pu, v_max_pu)
    if feeder.n_buses < 2:
        raise ValueError("`feeder` has a single bus; a day on the feeder needs at least one line.")
    with np.errstate(over="ignore", invalid="ignore"):  # beyond the floats: reported by _check_powers
        load_p = scale[:, None] * feeder.buses["p_kw"].to_numpy(dtype=float)[None, :] + fixed
        load_q = scale[:, None] * feeder.buses["q_kvar"].to_numpy(dtype=float)[None, :]
    _check_powers(feeder, pairs, load_p, load_q, dt)
    lost = None if voll is None else as_positive_float(voll, "voll")
    if lost is not None:
        _check_price(lost, "voll")
    model = _DayModel(feeder, pairs, price=price, load_p=load_p, load_q=load_q, v_min=v_min, v_max=v_max, dt=dt,
                      voll=lost)
    model.solve()
    return model.result()


def evaluate_day(feeder: Feeder, net_load_kw: pd.DataFrame, net_load_kvar: pd.DataFrame | None = None, *,
                 progress: bool = False) -> DayFlows:
    """Run the exact AC power flow (:func:`te_course.powerflow.ac_power_flow`) for every step.

    Parameters
    ----------
    feeder : Feeder
        The network; its bus loads are replaced by ``net_load_kw`` in each step.
    net_load_kw : pandas.DataFrame
        One row per step, one column per bus (missing buses draw 0), load
        positive and generation negative; e.g. ``DayResult.net_load_kw``.
    net_load_kvar : pandas.DataFrame, optional
        The same for reactive power (0 where not given).
    progress : bool
        Show a progress bar.

    Returns
    -------
    DayFlows

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> f = ieee33()
    >>> flows = evaluate_day(f, pd.DataFrame([f.buses["p_kw"]]), pd.DataFrame([f.buses["q_kvar"]]))
    >>> round(float(flows.v_pu.iloc[0][18]), 4), round(float(flows.loss_kw.iloc[0]), 2)
    (0.9131, 202.68)
    """
    feeder = _check_feeder(feeder)
    if not isinstance(net_load_kw, pd.DataFrame):
        raise TypeError("`net_load_kw` must be a DataFrame with one row per step and one column per bus.")
    T = len(net_load_kw)
    p = _bus_table(net_load_kw, feeder, T, "net_load_kw")
    q = _bus_table(net_load_kvar, feeder, T, "net_load_kvar") if net_load_kvar is not None else np.zeros_like(p)
    if q.shape != p.shape:
        raise ValueError(f"`net_load_kvar` has {q.shape[0]} steps; `net_load_kw` has {T}.")
    steps = pd.Index(net_load_kw.index, name="step")
    v, s, loss, sub = [], [], [], []
    bar = _progress_bar(progress, T, "AC power flow")
    for t in range(T):
        try:
            f = feeder._replace(buses=feeder.buses.assign(p_kw=p[t], q_kvar=q[t]))
            res = ac_power_flow(f)
        except ConvergenceError as exc:
            raise ConvergenceError(f"Step {_label(steps[t])!r} of `net_load_kw`: {exc}", iterations=exc.iterations,
                                   history=exc.history) from None
        except TeCourseError:
            raise
        except ValueError as exc:  # the feeder was checked above: what is wrong is this step's loads
            raise ValueError(f"Step {_label(steps[t])!r} of `net_load_kw` / `net_load_kvar` is out of the feeder's "
                             f"range: {exc}") from None
        v.append(res.v_pu.to_numpy())
        s.append(np.hypot(res.p_kw.to_numpy(), res.q_kvar.to_numpy()))
        loss.append(res.total_loss_kw)
        sub.append(res.substation_p_kw)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    flows = pd.DataFrame(s, index=steps, columns=feeder.lines.index)
    limit = feeder.lines["s_max_kva"].to_numpy()
    return DayFlows(
        v_pu=pd.DataFrame(v, index=steps, columns=feeder.buses.index),
        flows_kva=flows,
        loading=flows / limit[None, :],
        loss_kw=pd.Series(loss, index=steps, name="loss_kw"),
        substation_kw=pd.Series(sub, index=steps, name="substation_kw"),
    )


def uncontrolled_charging(ev: EV, *, dt_h: float = 1.0, arrival_step: int | None = None) -> np.ndarray:
    """Return the charging power of an EV that charges at full power as soon as it is plugged in.

    From ``arrival_step`` on (by default the step where its plug-in window starts,
    read cyclically so that a car plugged in from 18:00 to 07:00 of a 24-step day
    starts at step 18), the EV draws ``p_max_kw`` in every plugged-in step until it
    has stored ``e_need_kwh`` (the last step partly), going round the day once.

    Parameters
    ----------
    ev : EV
        The car (:class:`te_course.prosumer.EV`).
    dt_h : float
        Step length, hours.
    arrival_step : int, optional
        Where charging starts.

    Returns
    -------
    numpy.ndarray
        Charging power per step, kW.

    Examples
    --------
    >>> car = EV([1] * 7 + [0] * 11 + [1] * 6, e_need_kwh=20.0, p_max_kw=7.0, eta=1.0)
    >>> uncontrolled_charging(car)[[18, 19, 20, 21]].round(4).tolist()
    [7.0, 7.0, 6.0, 0.0]
    """
    if not isinstance(ev, EV):
        raise TypeError(f"`ev` must be a te_course EV; got {type(ev).__name__}.")
    dt = _step_hours(dt_h, positive="a positive number")
    ev._check_feasible(dt)
    avail = ev.available
    T = avail.size
    if arrival_step is None:
        start = _plug_in_step(avail)
    else:
        if isinstance(arrival_step, bool) or not isinstance(arrival_step, (int, np.integer)) or not (
                0 <= arrival_step < T):
            raise ValueError(f"`arrival_step` must be an integer step in [0, {T}); got {arrival_step!r}.")
        start = int(arrival_step)
    power = np.zeros(T)
    need = ev.e_need_kwh
    for t in np.r_[start:T, 0:start]:
        if need <= 1e-12:
            break
        if avail[t]:
            p = min(ev.p_max_kw, need / (ev.eta * dt))
            power[t] = p
            need -= p * ev.eta * dt
    return power  # the EV's own check above guarantees that one round of the day is enough


def _plug_in_step(available: np.ndarray) -> int:
    """Return the first step of the plug-in window, read cyclically (0 when the EV is always plugged in)."""
    starts = np.flatnonzero(available & ~np.roll(available, 1))
    return int(starts[0]) if starts.size else 0


def _plug_in_order(available: np.ndarray) -> np.ndarray:
    """Return the plugged-in steps in the order they come after plug-in."""
    start = _plug_in_step(available)
    steps = np.r_[start:available.size, 0:start]
    return steps[available[steps]]


def cheapest_first_charging(prices: pd.DataFrame, prosumers, *, tol: float = 1e-5, dt_h: float = 1.0) -> pd.DataFrame:
    """Return a cost-minimising charging schedule of each EV at given prices: cheapest steps first, ties earliest.

    Each EV is a price taker: it minimises ``sum_t price_t e_t dt`` subject to
    ``0 <= e_t <= p_max_kw * available_t`` and ``sum_t eta e_t dt = e_need_kwh``,
    with the prices of its bus.  With linear costs the greedy rule is optimal
    (the continuous knapsack; Dantzig, "Discrete-variable extremum
    problems", Operations Research 5(2), 266-288, 1957):
    charge at full power in the cheapest plugged-in step, then the next
    cheapest, until the energy is delivered.  When several steps cost the same,
    every split of the energy among them is optimal too; this rule takes them
    in the order they come after plug-in (read cyclically, as in
    :func:`uncontrolled_charging`), so it charges each car in as few steps as
    possible and as early as the prices allow.  It is one cost-minimising
    schedule, not necessarily the operator's: at DLMPs from an OPF whose cost is
    linear in the cars' power (as in :func:`day_ahead_dlmp`) it need not keep
    the network's limits (Huang, Wu, Oren, Li and Liu, "Distribution
    locational marginal pricing through quadratic programming for congestion
    management in distribution networks", IEEE Trans. Power Systems 30(4),
    2170-2178, 2015, call this the multiple-solution issue).

    Prices are counted as equal when they differ by at most ``tol`` (DLMPs
    read from a solver's duals carry small errors): starting from the cheapest
    step left, every step priced within ``tol`` of it forms one group, filled
    in plug-in order.  The schedule's cost then exceeds the least cost by at
    most ``tol`` times the energy drawn; with ``tol=0`` it is the least cost.

    Parameters
    ----------
    prices : pandas.DataFrame
        Currency per kWh, one row per step and one column per bus, e.g.
        ``DayResult.prices``.
    prosumers : dict, list or EVFleet
        ``{bus: Prosumer or [Prosumer, ...]}``, ``[(bus, Prosumer), ...]`` or
        an :class:`EVFleet`; every prosumer holds EVs only, over the steps of
        ``prices``.
    tol : float
        Largest price difference (currency per kWh) counted as a tie, >= 0.
    dt_h : float
        Step length, hours.

    Returns
    -------
    pandas.DataFrame
        Charging power (kW, drawn from the grid) per step and bus, the shape of
        ``prices`` (zero at buses without EVs).

    Raises
    ------
    ValueError
        Unknown buses, prosumers that hold other devices or another number of
        steps, NaN prices, a negative ``tol``, an EV that cannot get its energy.
    TypeError
        ``prices`` that is not a DataFrame, ``prosumers`` of another kind.

    Examples
    --------
    A car plugged in at step 2 and until the end of step 0 (cyclically: steps
    2, 3, 0) needs two full steps; the three cost the same, so it takes the
    first two after plug-in:

    >>> from te_course.prosumer import EV, Prosumer
    >>> car = Prosumer(np.zeros(4), [EV([1, 0, 1, 1], e_need_kwh=14.0, p_max_kw=7.0, eta=1.0)], name="car")
    >>> prices = pd.DataFrame({"home": [0.10, 0.30, 0.10, 0.10]})
    >>> cheapest_first_charging(prices, {"home": car})["home"].tolist()
    [0.0, 0.0, 7.0, 7.0]
    """
    if not isinstance(prices, pd.DataFrame):
        raise TypeError("`prices` must be a DataFrame with one row per step and one column per bus.")
    table = as_float_array(prices.to_numpy(), "prices")  # text or lists in a cell: an error naming `prices`
    check_finite(table.ravel(), "prices", "prices")
    tie = as_finite_float(tol, "tol")
    if tie < 0:
        raise ValueError(f"`tol` must be >= 0 (currency per kWh); got {tol!r}.")
    dt = _step_hours(dt_h, positive="a positive number")
    if isinstance(prosumers, EVFleet):
        prosumers = prosumers.prosumers
    pairs = _pairs(prosumers, ", a list of (bus, Prosumer) pairs or an EVFleet")
    T = len(prices)
    out = pd.DataFrame(0.0, index=prices.index, columns=prices.columns)
    for i, (bus, p) in enumerate(pairs):
        if not isinstance(p, Prosumer):
            raise TypeError(f"`prosumers` entry {i} is a {type(p).__name__}; place te_course Prosumer objects.")
        if bus not in prices.columns:
            raise ValueError(f"`prosumers` places {p.name!r} at bus {bus!r}, which is not a column of `prices`.")
        if p.n_steps != T:
            raise ValueError(f"`prosumers`: {p.name!r} has {p.n_steps} steps; `prices` has {T}.")
        others = [type(d).__name__ for d in p.devices if not isinstance(d, EV)]
        if others:
            raise ValueError(f"`prosumers`: {p.name!r} holds a {others[0]}; cheapest_first_charging schedules "
                             "EVs only.")
        c = table[:, out.columns.get_loc(bus)]
        for ev in p.devices:
            ev._check_feasible(dt)
            left = ev.e_need_kwh / (ev.eta * dt)  # kW x steps still to draw from the grid
            queue = list(_plug_in_order(ev.available))
            power = np.zeros(T)
            while queue and left > 1e-12:
                cheapest = min(c[t] for t in queue)
                group = [t for t in queue if c[t] <= cheapest + tie]  # in plug-in order
                for t in group:
                    power[t] = min(ev.p_max_kw, left)
                    left -= power[t]
                    if left <= 1e-12:
                        break
                queue = [t for t in queue if t not in group]
            out[bus] += power
    return out


# --------------------------------------------------------------------------- rolling clearings


def _remaining(p: Prosumer, t: int, state: dict, pv_actual: dict | None) -> Prosumer:
    """Return the prosumer seen at step ``t``: profiles from ``t`` on, batteries at their current charge."""
    devices = []
    T = p.n_steps
    for d in p.devices:
        if isinstance(d, PV):
            avail = _broadcast(d.p_max_kw, "p_max_kw", T, f"PV {d.name!r}").copy()
            actual = None if pv_actual is None else pv_actual.get((p.name, d.name))
            if actual is not None:
                avail[t] = actual[t]
            devices.append(PV(avail[t:], name=d.name))
        elif isinstance(d, Battery):
            devices.append(Battery(d.e_max_kwh, d.p_max_kw, d.eta_charge, d.eta_discharge,
                                   soc0_kwh=state[(p.name, d.name)], soc_min_kwh=d.soc_min_kwh,
                                   soc_end_kwh=d.soc_end_kwh, name=d.name))
        elif isinstance(d, EV):
            need = max(0.0, d.e_need_kwh - state[(p.name, d.name)])
            devices.append(EV(d.available[t:], need, d.p_max_kw, eta=d.eta, name=d.name))
    return Prosumer(p.base_load_kw[t:], devices, name=p.name)


def simulate_day(feeder: Feeder, prosumers=None, *, price_substation, load_profile=None, fixed_kw=None,
                 pv_actual_kw=None, v_min_pu: float = 0.95, v_max_pu: float = 1.05, dt_h: float = 1.0,
                 voll: float | None = None, progress: bool = True) -> DayResult:
    """Clear the day hour by hour: at each step, re-solve the OPF over the rest of the day and keep the first step.

    A rolling-horizon (receding-horizon) clearing: at step ``t`` the operator
    knows the batteries' state of charge and the energy each EV still needs,
    solves :func:`day_ahead_dlmp` for steps ``t, ..., T-1`` and settles step
    ``t`` at its DLMPs.  With perfect forecasts this reproduces the day-ahead
    schedule and cost (Bellman's principle of optimality), though not always its
    prices: a day-ahead DLMP may count on moving energy to earlier steps, which
    the hourly clearing has already settled.  With ``pv_actual_kw`` the
    PV output of step ``t`` is the actual one, known when step ``t`` is
    cleared, while later steps use each PV device's profile as the forecast
    (see :mod:`te_course.uncertainty` for scenario-based plans).

    Parameters
    ----------
    feeder, prosumers, price_substation, load_profile, fixed_kw, v_min_pu, v_max_pu, dt_h, voll
        As in :func:`day_ahead_dlmp`.  Devices: PV, Battery (without ``ramp_kw``)
        and EV.
    pv_actual_kw : dict, optional
        ``{(prosumer name, PV name): actual output per step}``.
    progress : bool
        Show a tqdm progress bar (switch it off in scripts and tests).

    Returns
    -------
    DayResult
        Step ``t`` of every field comes from the clearing at step ``t``;
        ``cost`` is the cost actually incurred.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> from te_course.prosumer import EV, Prosumer
    >>> car = Prosumer([0.0, 0.0, 0.0], [EV([1, 1, 1], e_need_kwh=6.3, p_max_kw=7.0)], name="car")
    >>> day = simulate_day(ieee33(), {18: car}, price_substation=[0.3, 0.2, 0.1], load_profile=0.6, v_min_pu=0.9,
    ...                    progress=False)
    >>> day.schedules["car"]["ev_kw"].round(3).tolist()
    [0.0, 0.0, 7.0]
    """
    feeder, pairs, T, dt, price, scale, fixed = _day_inputs(feeder, prosumers, price_substation, load_profile,
                                                            fixed_kw, dt_h)
    _v_limits(v_min_pu, v_max_pu)
    if voll is not None:
        _check_price(as_positive_float(voll, "voll"), "voll")
    state, actual = {}, {}
    for _, p in pairs:
        for d in p.devices:
            if isinstance(d, Battery):
                if d.ramp_kw is not None:
                    raise ValueError(f"Battery {d.name!r} of {p.name!r} has `ramp_kw`; the hourly clearing does not "
                                     "carry ramp limits across steps: leave it out.")
                state[(p.name, d.name)] = d.soc0_kwh
            elif isinstance(d, EV):
                state[(p.name, d.name)] = 0.0
            elif not isinstance(d, PV):
                raise ValueError(f"{type(d).__name__} {d.name!r} of {p.name!r}: the hourly clearing takes PV, "
                                 "Battery and EV devices.")
    if pv_actual_kw is not None:
        devices = {(p.name, d.name) for _, p in pairs for d in p.devices if isinstance(d, PV)}
        for key, values in dict(pv_actual_kw).items():
            if key not in devices:
                raise ValueError(f"`pv_actual_kw` names {key!r}, which is not a (prosumer, PV) pair of `prosumers`.")
            arr = as_1d_float(values, f"pv_actual_kw[{key!r}]")
            if arr.size != T or (arr < 0).any() or not np.isfinite(arr).all():
                raise ValueError(f"`pv_actual_kw[{key!r}]` must hold {T} finite values >= 0.")
            actual[key] = arr
    fixed_df = pd.DataFrame(fixed, columns=feeder.buses.index)
    rows, tables = [], {p.name: [] for _, p in pairs}
    cost = 0.0
    bar = _progress_bar(progress, T, "hourly clearing")
    for t in range(T):
        now = [(bus, _remaining(p, t, state, actual or None)) for bus, p in pairs]
        res = day_ahead_dlmp(feeder, now or None, price_substation=price[t:], load_profile=scale[t:],
                             fixed_kw=fixed_df.iloc[t:].reset_index(drop=True), v_min_pu=v_min_pu,
                             v_max_pu=v_max_pu, dt_h=dt, voll=voll)
        rows.append(res)
        for (_, p), (_, q) in zip(pairs, now):
            row = res.schedules[p.name].iloc[0]
            tables[p.name].append(row)
            for d in q.devices:
                if isinstance(d, Battery):
                    state[(p.name, d.name)] = float(row[f"{d.name}_soc_kwh"])
                elif isinstance(d, EV):
                    state[(p.name, d.name)] += float(row[f"{d.name}_kw"]) * d.eta * dt
        cost += float(res.substation_kw.iloc[0]) * price[t] * dt
        if voll is not None:
            cost += float(voll) * float(res.shed_kw.iloc[0].sum()) * dt
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    steps = pd.RangeIndex(T, name="step")

    def first(attr):
        frame = pd.concat([getattr(r, attr).iloc[[0]] for r in rows])
        frame.index = steps
        return frame

    binding = tuple(words.replace("step 0:", f"step {t}:", 1) for t, r in enumerate(rows)
                    for words in r.binding if words.startswith("step 0:"))
    schedules = {name: pd.DataFrame(rs).set_axis(steps) for name, rs in tables.items()}
    return DayResult(
        prices=first("prices"), v_pu=first("v_pu"), flows_kw=first("flows_kw"), flows_kvar=first("flows_kvar"),
        loading=first("loading"), net_load_kw=first("net_load_kw"), net_load_kvar=first("net_load_kvar"),
        shed_kw=first("shed_kw"),
        substation_kw=pd.Series([r.substation_kw.iloc[0] for r in rows], index=steps, name="substation_kw"),
        schedules=schedules, cost=cost, binding=binding, dt_h=dt,
    )


# --------------------------------------------------------------------------- an EV fleet on a feeder


@dataclass(frozen=True, eq=False)
class EVFleet:
    """EVs spread over a feeder's buses: the price-responsive ones as prosumers, the others as fixed load.

    Attributes
    ----------
    prosumers : dict
        ``{bus: Prosumer}``, one aggregated EV per bus (the responsive cars of that
        bus), ready for :func:`day_ahead_dlmp`.
    fixed_kw : pandas.DataFrame
        The uncontrolled cars' charging, steps x buses (``fixed_kw`` of :func:`day_ahead_dlmp`).
    counts : pandas.DataFrame
        Per bus: ``evs``, ``responsive``, ``uncontrolled``.
    ev : EV
        One car (availability, energy need, charger).
    """

    prosumers: dict
    fixed_kw: pd.DataFrame
    counts: pd.DataFrame
    ev: EV

    def to_frame(self) -> pd.DataFrame:
        """Return the counts per bus."""
        return self.counts.copy()


_MAX_CARS_PER_BUS = 1e9


def ev_fleet(feeder: Feeder, penetration: float, *, share_responsive: float = 1.0, kw_per_household: float = 2.0,
             p_max_kw: float = 3.7, e_need_kwh: float = 10.0, arrival_step: int = 18, departure_step: int = 7,
             n_steps: int = 24, eta: float = 0.9) -> EVFleet:
    """Put EVs on every load bus: ``penetration`` cars per household, a share of them price-responsive.

    A bus with load ``p_kw`` is taken to have ``p_kw / kw_per_household``
    households (an assumption for teaching, not data); it gets
    ``round(penetration * households)`` cars, all alike: plugged in from
    ``arrival_step`` to ``departure_step`` (cyclically, so 18 to 7 is the
    night), needing ``e_need_kwh`` with a ``p_max_kw`` charger.  The
    responsive cars of a bus are aggregated into one EV whose power and energy
    are the sums (exact for identical cars in a linear program); the others
    charge as soon as they arrive (:func:`uncontrolled_charging`).

    Parameters
    ----------
    feeder : Feeder
    penetration : float
        Cars per household, >= 0.
    share_responsive : float
        Share of the cars that respond to DLMPs, in [0, 1].
    kw_per_household, p_max_kw, e_need_kwh, eta : float
        Household peak load, charger power, energy per car per day, charging efficiency.
    arrival_step, departure_step, n_steps : int
        Plug-in window and horizon (``n_steps`` at most ``MAX_STEPS`` = 105,120).

    Returns
    -------
    EVFleet

    Raises
    ------
    TypeError
        If ``penetration`` is not one number (a list of penetrations, for instance).
    ValueError
        If a number is out of range, or ``penetration`` puts more than 1e9 cars
        at one bus.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> fleet = ev_fleet(ieee33(), 0.2, share_responsive=0.5)
    >>> int(fleet.counts["evs"].sum()), int(fleet.counts["responsive"].sum())
    (371, 182)
    >>> round(float(fleet.fixed_kw.loc[18].sum()), 1)  # the uncontrolled cars at 18:00, kW
    699.3
    """
    from ._validation import check_fraction

    feeder = _check_feeder(feeder)
    if as_1d_float(penetration, "penetration", allow_scalar=True).ndim != 0:
        raise TypeError(f"`penetration` must be one number (cars per household); got {penetration!r}. "
                        "Call ev_fleet once per penetration.")
    pen = as_finite_float(penetration, "penetration")
    if pen < 0:
        raise ValueError(f"`penetration` must be a number >= 0 (cars per household); got {penetration!r}.")
    share = check_fraction(share_responsive, "share_responsive")
    kw_hh = as_positive_float(kw_per_household, "kw_per_household")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or not 1 <= n_steps <= MAX_STEPS:
        raise ValueError(f"`n_steps` must be a positive integer of at most {MAX_STEPS:,} (a year of 5-minute "
                         f"steps); got {n_steps!r}.")
    for name, value in (("arrival_step", arrival_step), ("departure_step", departure_step)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n_steps:
            raise ValueError(f"`{name}` must be an integer step in [0, {n_steps}); got {value!r}.")
    steps = np.arange(n_steps)
    if arrival_step == departure_step:
        raise ValueError("`arrival_step` and `departure_step` are equal: the cars would never be plugged in.")
    if arrival_step < departure_step:
        avail = (steps >= arrival_step) & (steps < departure_step)
    else:
        avail = (steps >= arrival_step) | (steps < departure_step)
    car = EV(avail, e_need_kwh, p_max_kw, eta=eta, name="ev")
    one = uncontrolled_charging(car, arrival_step=int(arrival_step))
    loads = feeder.buses["p_kw"].clip(lower=0.0)
    with np.errstate(over="ignore"):
        cars = np.rint(pen * loads.to_numpy() / kw_hh)
    if not np.all(cars <= _MAX_CARS_PER_BUS):  # also catches inf
        i = int(np.argmax(cars))
        bus = _label(feeder.buses.index[i])
        raise ValueError(
            f"`penetration` = {pen:g} cars per household puts {cars[i]:.3g} cars at bus {bus!r} "
            f"(with `kw_per_household` = {kw_hh:g}); at most {_MAX_CARS_PER_BUS:.0e} per bus can be modelled. "
            "A realistic penetration is below 3."
        )
    counts = cars.astype(int)
    responsive = np.rint(share * counts).astype(int)
    uncontrolled = counts - responsive
    prosumers = {}
    for bus, k in zip(feeder.buses.index, responsive):
        if k > 0:
            fleet = EV(avail, k * car.e_need_kwh, k * car.p_max_kw, eta=car.eta, name="ev")
            prosumers[bus] = Prosumer(np.zeros(n_steps), [fleet], name=f"evs at bus {_label(bus)}")
    fixed = pd.DataFrame(np.outer(one, uncontrolled), index=pd.RangeIndex(n_steps, name="step"),
                         columns=feeder.buses.index)
    table = pd.DataFrame({"evs": counts, "responsive": responsive, "uncontrolled": uncontrolled},
                         index=feeder.buses.index)
    return EVFleet(prosumers=prosumers, fixed_kw=fixed, counts=table, ev=car)


def rate_lines(feeder: Feeder, *, load_scale: float = 1.0, margin: float = 1.25) -> Feeder:
    """Return a copy of ``feeder`` whose lines are rated ``margin`` x their AC flow at ``load_scale`` x the loads.

    The IEEE 33-bus data (Baran and Wu 1989) carry no thermal ratings.  For
    teaching, each line is rated as a planner sizing the feeder for today's
    peak with some headroom would: ``s_max_kva = margin * |S|`` of the AC power
    flow at ``load_scale`` times the loads, rounded to 10 kVA and at least
    10 kVA (a line that carries nothing at that load still gets a rating, as
    :class:`~te_course.feeders.Feeder` requires ratings > 0).  Lines out of
    service are left unrated (NaN).  This is an assumption, not data.

    Raises
    ------
    ValueError
        If ``load_scale`` or ``margin`` is not a positive number, or ``margin``
        is so large that a rating leaves the float range or the per-unit range
        of :class:`~te_course.feeders.Feeder`.
    ConvergenceError
        If the AC power flow at ``load_scale`` times the loads does not converge.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> rated = rate_lines(ieee33(), load_scale=1.0, margin=1.25)
    >>> float(rated.lines.loc[1, "s_max_kva"])  # 1.25 x 4,613 kVA on the substation's line
    5770.0
    """
    feeder = _check_feeder(feeder)
    k = as_positive_float(load_scale, "load_scale")
    mar = as_positive_float(margin, "margin")
    try:
        scaled = feeder.scale_loads(k)
    except ValueError as exc:
        raise ValueError(f"`load_scale` = {k:g} cannot scale the loads of {feeder.name!r}: {exc}") from None
    res = ac_power_flow(scaled)
    s = np.hypot(res.p_kw.to_numpy(), res.q_kvar.to_numpy())
    with np.errstate(over="ignore"):
        rating = np.maximum(np.round(mar * s, -1), 10.0)
    lines = feeder.lines.copy()
    in_service = lines["in_service"].to_numpy(dtype=bool)
    if not np.all(np.isfinite(rating[in_service])):
        raise ValueError(f"`margin` = {mar:g} times the line flows leaves the float range; give a margin such as 1.25.")
    lines["s_max_kva"] = np.where(in_service, rating, np.nan)
    try:
        return feeder._replace(lines=lines)
    except ValueError as exc:  # only the ratings changed: they are beyond the feeder's per-unit range
        raise ValueError(f"`margin` = {mar:g} gives line ratings beyond the feeder's range; give a margin such as "
                         f"1.25 ({exc})") from None


@dataclass(frozen=True, eq=False)
class EVStudy:
    """Uncontrolled against DLMP-responsive EV charging on a feeder, over a day.

    Attributes
    ----------
    fleet : EVFleet
    day : DayResult
        The OPF: responsive cars scheduled, uncontrolled ones as fixed load (load is
        shed at ``voll`` only where the uncontrolled cars leave no feasible schedule).
    ac : DayFlows
        The exact AC power flow of every step with what the cars really draw (nothing shed).
    responsive_kw : pandas.DataFrame
        The responsive cars' charging in the OPF's schedule, steps x buses (kW; zero where
        a bus has none): the schedule that the cars are assumed to follow.
    ev_costs : pandas.DataFrame
        Per group (``responsive``, ``uncontrolled``): cars, energy per car (kWh from the
        grid), cost per car at the DLMPs of its bus and at the substation price.
    summary : pandas.Series
        ``peak_loading`` and ``v_min_pu`` (AC), their step, bus and line, the energy the
        operator would have to shed (kWh), and the peak substation power.
    """

    fleet: EVFleet
    day: DayResult = field(repr=False)
    ac: DayFlows = field(repr=False)
    responsive_kw: pd.DataFrame = field(repr=False)
    ev_costs: pd.DataFrame
    summary: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """Return the per-step AC summary (:meth:`DayFlows.to_frame`)."""
        return self.ac.to_frame()


def ev_study(feeder: Feeder, penetration: float, share_responsive: float, *, price_substation, load_profile,
             v_min_pu: float = 0.9, v_max_pu: float = 1.05, voll: float = 10.0, **fleet_options) -> EVStudy:
    """Put an EV fleet on a feeder, schedule the responsive cars by DLMPs, and check the day with AC power flow.

    After Li, Wu and Oren (IEEE Trans. Power Systems 29(1), 2014): the
    operator's OPF (:func:`day_ahead_dlmp`) gives DLMPs to which the OPF's
    schedule of the responsive cars is a best response, and the responsive
    cars are assumed to follow that schedule (``responsive_kw``).  With linear
    costs it is not always the only best response: other schedules can cost
    the cars the same at the same DLMPs and break a limit
    (:func:`cheapest_first_charging`).  The uncontrolled cars charge as soon
    as they arrive (:func:`uncontrolled_charging`).  Every car pays the DLMP of
    its bus in the steps it charges.

    Parameters
    ----------
    feeder : Feeder
        With line ratings (``s_max_kva``) for loadings, e.g. :func:`rate_lines`.
    penetration, share_responsive : float
        As in :func:`ev_fleet`.
    price_substation, load_profile, v_min_pu, v_max_pu, voll
        As in :func:`day_ahead_dlmp` (``voll`` defaults to 10 per kWh here).
    **fleet_options
        Passed to :func:`ev_fleet` (``p_max_kw``, ``e_need_kwh``, ...).

    Returns
    -------
    EVStudy

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> from te_course.prosumer import example_day
    >>> load = 0.45 + 0.5 * np.exp(-0.5 * ((np.arange(24) - 19) / 3) ** 2)
    >>> f = rate_lines(ieee33(), load_scale=float(load.max()))
    >>> price = example_day()["buy_price"].to_numpy()
    >>> before = ev_study(f, 0.3, 0.0, price_substation=price, load_profile=load)
    >>> after = ev_study(f, 0.3, 1.0, price_substation=price, load_profile=load)
    >>> round(float(before.summary["peak_loading"]), 2), round(float(after.summary["peak_loading"]), 2)
    (1.24, 0.82)
    """
    fleet = ev_fleet(feeder, penetration, share_responsive=share_responsive, n_steps=_horizon(
        price_substation, load_profile, [], None), **fleet_options)
    day = day_ahead_dlmp(feeder, fleet.prosumers, price_substation=price_substation, load_profile=load_profile,
                         fixed_kw=fleet.fixed_kw, v_min_pu=v_min_pu, v_max_pu=v_max_pu, voll=voll)
    drawn = day.net_load_kw + day.shed_kw
    ac = evaluate_day(feeder, drawn, day.net_load_kvar)
    price = _profile(price_substation, "price_substation", len(day.prices))
    responsive = pd.DataFrame(0.0, index=day.prices.index, columns=feeder.buses.index)
    for bus, p in fleet.prosumers.items():
        responsive[bus] = day.schedules[p.name]["ev_kw"].to_numpy()
    rows = {}
    for group, kw, cars in (("responsive", responsive, int(fleet.counts["responsive"].sum())),
                            ("uncontrolled", fleet.fixed_kw, int(fleet.counts["uncontrolled"].sum()))):
        energy = float(kw.to_numpy().sum()) * day.dt_h
        at_dlmp = float((kw * day.prices).to_numpy().sum()) * day.dt_h
        at_sub = float(kw.sum(axis=1).to_numpy() @ price) * day.dt_h
        per = 1.0 / cars if cars else np.nan
        rows[group] = {"cars": cars, "kwh_per_car": energy * per, "cost_per_car_dlmp": at_dlmp * per,
                       "cost_per_car_energy_price": at_sub * per}
    costs = pd.DataFrame(rows).T
    costs["cars"] = costs["cars"].astype(int)
    loading = ac.loading
    has_limits = bool(loading.notna().any(axis=None))
    stacked = loading.stack() if has_limits else None
    peak_at = stacked.idxmax() if has_limits else (np.nan, np.nan)
    v_at = ac.v_pu.stack().idxmin()
    summary = pd.Series({
        "peak_loading": float(stacked.max()) if has_limits else np.nan,
        "peak_loading_step": peak_at[0],
        "peak_loading_line": peak_at[1],
        "v_min_pu": float(ac.v_pu.min(axis=None)),
        "v_min_step": v_at[0],
        "v_min_bus": v_at[1],
        "shed_kwh": float(day.shed_kw.to_numpy().sum()) * day.dt_h,
        "substation_peak_kw": float(ac.substation_kw.max()),
    }, dtype=object)
    return EVStudy(fleet=fleet, day=day, ac=ac, responsive_kw=responsive, ev_costs=costs, summary=summary)


def example_feeder_day(*, n_prosumers: int = 8, seed=0) -> dict:
    """Return a SYNTHETIC day on the IEEE 33-bus feeder with prosumers: the inputs of :func:`simulate_day`.

    No data source: a teaching set-up built from formulas.  The feeder is
    :func:`te_course.feeders.ieee33` rated by :func:`rate_lines` at the day's
    peak; its loads follow ``load_profile = 0.45 + 0.5 g(h; 19, 3)`` (an evening
    peak, ``g`` as in :func:`te_course.prosumer.example_day`); the substation
    price is ``example_day()["buy_price"]``.  ``n_prosumers`` buses, drawn
    with ``seed`` among buses 2-33, each get a neighbourhood aggregate: PV of
    30-120 kWp (``example_day()["pv_kw_per_kwp"]`` times the size), a battery
    of 50-200 kWh with a 0.5 C inverter, and 5-20 EVs plugged in from 18:00 to
    07:00 needing 10 kWh each through 3.7 kW chargers (aggregated: exact for
    identical cars in an LP), with a base load of 5 % of its size per hour.

    Returns
    -------
    dict
        ``feeder``, ``prosumers`` (``{bus: Prosumer}``), ``price_substation``,
        ``load_profile`` (arrays of 24).

    Examples
    --------
    >>> day = example_feeder_day()
    >>> sorted(day), len(day["prosumers"])
    (['feeder', 'load_profile', 'price_substation', 'prosumers'], 8)
    """
    from .prosumer import example_day

    if isinstance(n_prosumers, bool) or not isinstance(n_prosumers, (int, np.integer)) or not 0 <= n_prosumers <= 32:
        raise ValueError(f"`n_prosumers` must be an integer between 0 and 32; got {n_prosumers!r}.")
    rng = as_generator(seed)
    hours = np.arange(24)
    load = 0.45 + 0.5 * np.exp(-0.5 * ((hours - 19) / 3) ** 2)
    base_day = example_day()
    pv_shape = base_day["pv_kw_per_kwp"].to_numpy()
    feeder = rate_lines(_ieee33(), load_scale=float(load.max()))
    buses = sorted(rng.choice(np.arange(2, 34), size=n_prosumers, replace=False).tolist())
    night = (hours >= 18) | (hours < 7)
    prosumers = {}
    for bus in buses:
        kwp = float(rng.uniform(30, 120))
        kwh = float(rng.uniform(50, 200))
        cars = int(rng.integers(5, 21))
        devices = [
            PV(kwp * pv_shape, name="pv"),
            Battery(kwh, 0.5 * kwh, soc0_kwh=0.5 * kwh, soc_end_kwh=0.5 * kwh, name="battery"),
            EV(night, 10.0 * cars, 3.7 * cars, eta=0.9, name="evs"),
        ]
        prosumers[bus] = Prosumer(np.full(24, 0.05 * kwp), devices, name=f"neighbourhood {bus}")
    return {"feeder": feeder, "prosumers": prosumers, "price_substation": base_day["buy_price"].to_numpy(),
            "load_profile": load}
