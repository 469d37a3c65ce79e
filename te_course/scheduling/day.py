"""The day-ahead OPF: multi-period DLMPs on a feeder with prosumers, and the AC check of a day.

Chapter 9 puts the pieces of the course together on one feeder and one day.
Prosumers (:class:`te_course.prosumer.Prosumer`: PV, batteries, EVs) sit at
buses of a radial :class:`~te_course.feeders.Feeder`; the distribution system
operator clears every hour with a LinDistFlow optimal power flow over the
remaining hours of the day, and the price at each bus and hour, the DLMP, is
the dual of that bus's power balance in that hour.

The multi-period OPF (per unit inside; LinDistFlow of Baran and Wu 1989, as in
:mod:`te_course.opf` with ``model="lindistflow"``, plus the prosumers'
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
were computed for (:func:`te_course.scheduling.cheapest_first_charging` finds one).  Huang, Wu,
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

from .. import _network
from .._device_model import DeviceModel, battery_spec, broadcast, device_constraints, step_hours
from .._progress import progress_bar
from .._solvers import solve
from .._validation import (
    ConvergenceError,
    TeCourseError,
    as_1d_float,
    as_float_array,
    as_positive_float,
    check_finite,
)
from .._validation import label as _label
from ..devices import EV, PV, Battery, FlexibleLoad, Prosumer
from ..errors import InfeasibleError
from ..feeders import Feeder, check_feeder
from ..opf import OPF_PU_MAX, check_voltage_limits
from ..powerflow import ac_power_flow

__all__ = ["DayResult", "DayFlows", "day_ahead_dlmp", "evaluate_day", "PRICE_MAX"]

#: Documented ranges of the day-long OPF's data (issue 14: beyond them the interior-point solver
#: reports 'unbounded' or fails instead of answering).  Prices (``price_substation``, ``voll``) at most
#: PRICE_MAX per kWh in magnitude: a million per kWh is a thousand times any market's price cap.
PRICE_MAX = 1e6
# Powers (bus loads times ``load_profile``, ``fixed_kw``, line limits, the prosumers' base loads and
# device powers) at most opf.OPF_PU_MAX times the feeder's power base ``s_base_kva`` in magnitude;
# voltage limits ``v_min_pu < v_max_pu`` in (0, opf.VOLTAGE_MAX_PU] per unit: the ranges of opf's DLMP OPF.
#: At most this many steps in a day (:func:`te_course.scheduling.ev_fleet`'s ``n_steps``): a year of 5-minute steps.
_DATA_HINT = (
    "Check that the data are in the documented ranges and units: `price_substation` and `voll` per kWh, the "
    "loads (`feeder`, `load_profile`, `fixed_kw`) and the `prosumers`' devices in kW, `dt_h` in hours."
)


# --------------------------------------------------------------------------- inputs


def read_pairs(prosumers, kinds: str = " or a list of (bus, Prosumer) pairs") -> list[tuple]:
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
    pairs = read_pairs(prosumers)
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


def read_horizon(price_substation, load_profile, pairs, fixed_kw) -> int:
    """Return the number of steps that the profiles given agree on, or raise naming the ones that differ."""
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


def read_profile(value, name: str, n: int, *, default=None, nonnegative=False) -> np.ndarray:
    """Return one finite value per step from a number or ``n`` values (``default`` if None), or raise naming it."""
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
    """Raise ``TypeError`` naming ``name`` unless ``value`` is None or a DataFrame."""
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


def read_day_inputs(feeder, prosumers, price_substation, load_profile, fixed_kw, dt_h) -> tuple:
    """Validate what every day-long function takes; return (feeder, pairs, T, dt, price, scale, fixed).

    ``feeder`` is the checked feeder (a normalised copy if its tables were edited in place).
    """
    feeder = check_feeder(feeder)
    pairs = _placed(prosumers, feeder)
    _check_table_type(fixed_kw, "fixed_kw")
    T = read_horizon(price_substation, load_profile, pairs, fixed_kw)
    dt = step_hours(dt_h, positive="a positive number")
    price = read_profile(price_substation, "price_substation", T)
    _check_price(price, "price_substation")
    scale = read_profile(load_profile, "load_profile", T, default=1.0, nonnegative=True)
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


def check_voll(voll) -> float | None:
    """Return the value of lost load as a positive float in range (or None), or raise naming ``voll``."""
    if voll is None:
        return None
    lost = as_positive_float(voll, "voll")
    _check_price(lost, "voll")
    return lost


def _loads(feeder: Feeder, scale: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the active and reactive loads (steps x buses, kW and kvar): the feeder's scaled, plus ``fixed``."""
    with np.errstate(over="ignore", invalid="ignore"):  # beyond the floats: reported by _check_powers
        load_p = scale[:, None] * feeder.buses["p_kw"].to_numpy(dtype=float)[None, :] + fixed
        load_q = scale[:, None] * feeder.buses["q_kvar"].to_numpy(dtype=float)[None, :]
    return load_p, load_q


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
        ``voll`` times the energy shed (for :func:`te_course.scheduling.simulate_day`: the same, as
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

    def __init__(self, feeder: Feeder, pairs, *, price, load_p, load_q, v_min, v_max, dt, voll=None) -> None:
        """Write the OPF of the module docstring: per unit, buses by rank (rows), one column per step."""
        tree = _network.tree(feeder)
        n, m, T = feeder.n_buses, feeder.n_buses - 1, len(price)
        sb = feeder.s_base_kva
        self.feeder, self.tree, self.pairs, self.dt, self.T = feeder, tree, pairs, dt, T
        self.v_min, self.v_max = v_min, v_max
        self.load_p, self.load_q = load_p, load_q
        self.lines = feeder.lines.iloc[tree.line_pos]
        self.s_max = self.lines["s_max_kva"].to_numpy(dtype=float)
        self.limited = np.flatnonzero(np.isfinite(self.s_max))

        P, Q = cp.Variable((m, T), name="P"), cp.Variable((m, T), name="Q")
        W = cp.Variable((n, T), name="w")
        P0, Q0 = cp.Variable(T, name="P0"), cp.Variable(T, name="Q0")
        self.vars = (P, Q, W, P0)
        cons = [W[0, :] == 1.0]
        # the objective is written per unit of power (currency / s_base) so that prices and VoLL are
        # numbers of order one for the solver; `cost` and the DLMPs are scaled back in `result`
        objective = (price * dt) @ P0
        costs = [float(np.max(np.abs(price), initial=0.0)), 0.0 if voll is None else float(voll)]
        for dev_objective, dev_cons, utilities in self._prosumer_models():
            costs += utilities
            cons += dev_cons
            objective = objective + dev_objective / sb
        p_load, p_sheddable = self._bus_loads(load_p[:, tree.order].T / sb)  # rank x T
        q_load = load_q[:, tree.order].T / sb
        injection = self._prosumer_injection()
        self.shed = None
        if voll is not None:  # involuntary load shedding at the value of lost load (VoLL), bus loads only
            self.shed = cp.Variable((n, T), nonneg=True, name="shed")
            cons.append(self.shed <= p_sheddable)
            objective = objective + voll * dt * cp.sum(self.shed)
            injection = injection - self.shed
        cons += self._network_constraints(P0, Q0, p_load + injection, q_load)
        # the solver sees the objective times a power of two (exact; same optimum) that keeps the largest
        # cost coefficient (price x dt per p.u.) where it is accurate; `result` divides the duals and the cost by it
        self.obj_scale = _objective_scale(max(costs) * dt)
        self.problem = cp.Problem(cp.Minimize(self.obj_scale * objective), cons)

    def _bus_loads(self, p_load: np.ndarray) -> tuple:
        """Return the bus loads as the OPF reads them (rank x step, p.u.) and the most of them that can be shed.

        Numbers here; a model re-solved for new loads returns cvxpy Parameters instead.
        """
        return p_load, np.maximum(p_load, 0.0)

    def _prosumer_models(self) -> list[tuple]:
        """Write every prosumer's devices; return (objective, constraints, utility sizes) per prosumer."""
        out = []
        self.nets, self.devices = [], []
        for _, p in self.pairs:
            dev = _prosumer_devices(p, self.T, self.dt)
            utilities = [float(np.max(np.abs(d.utility))) for d in p.devices if isinstance(d, FlexibleLoad)]
            out.append((dev.objective, dev.constraints, utilities))
            self.nets.append(cp.Constant(p.base_load_kw) + dev.load)
            self.devices.append(dev)
        return out

    def _prosumer_injection(self) -> cp.Expression | int:
        """Return the prosumers' net imports by rank and step (p.u.), 0 without prosumers."""
        if not self.pairs:
            return 0
        k, n = len(self.pairs), self.feeder.n_buses
        where = self.tree.rank[self.feeder.buses.index.get_indexer([bus for bus, _ in self.pairs])]
        gmap = sp.csr_matrix((np.ones(k), (where, np.arange(k))), shape=(n, k))
        return gmap @ cp.vstack(self.nets) / self.feeder.s_base_kva

    def _network_constraints(self, P0: cp.Variable, Q0: cp.Variable, p_withdrawn, q_load: np.ndarray) -> list:
        """Return the LinDistFlow balances, voltage drops, voltage limits and line limits of every step."""
        P, Q, W, _ = self.vars
        T, sb, tree = self.T, self.feeder.s_base_kva, self.tree
        z = _network.series_impedance_pu(self.feeder, tree)
        r, x = z.real, z.imag
        a = tree.incidence()
        e0 = np.zeros((self.feeder.n_buses, 1))
        e0[0, 0] = 1.0
        self.balance = a @ P + e0 @ cp.reshape(P0, (1, T), order="C") == p_withdrawn
        cons = [self.balance, a @ Q + e0 @ cp.reshape(Q0, (1, T), order="C") == q_load]
        drop = -2 * (cp.multiply(r[:, None], P) + cp.multiply(x[:, None], Q))
        cons.append(a.T @ W == drop)
        self.vmin = W[1:, :] >= self.v_min**2
        self.vmax = W[1:, :] <= self.v_max**2
        cons += [self.vmin, self.vmax]
        self.line = None
        if self.limited.size:
            li = self.limited
            s2 = (self.s_max[li] / sb) ** 2
            self.line = cp.square(P[li, :]) + cp.square(Q[li, :]) <= s2[:, None]
            cons.append(self.line)
        return cons

    def solve(self) -> None:
        """Solve the OPF; raise InfeasibleError naming the limits, SolverError naming the data to check."""
        try:
            # tol=1e-9 rather than the package's 1e-10: the day-long OPF's duals (the DLMPs) are compared with
            # finite differences to 1e-6 in the tests, and 1e-10 leaves Clarabel 'inaccurate' on large days.
            # Tight tolerances can stall on badly scaled data: then one retry with Clarabel's defaults.
            solve(self.problem, what="the day-ahead OPF", tol=1e-9, retry_with_defaults=True, hint=_DATA_HINT)
        except InfeasibleError:
            raise InfeasibleError(
                "The day-ahead OPF is infeasible: no schedule of the prosumers keeps every voltage in "
                f"[{self.v_min}, {self.v_max}] p.u. and every line within its `s_max_kva` in every step. Loosen "
                "`v_min_pu`/`v_max_pu` or the line limits, lower `load_profile`, or give the prosumers more "
                "flexibility (EVs plugged in longer, larger batteries)."
            ) from None

    def result(self) -> DayResult:
        """Read the solved OPF: DLMPs from the balances' duals, voltages, flows, net loads and schedules."""
        feeder, tree, T, dt, sb = self.feeder, self.tree, self.T, self.dt, self.feeder.s_base_kva
        P, Q, W, P0 = (np.asarray(v.value, dtype=float) for v in self.vars)
        steps = pd.RangeIndex(T, name="step")
        buses = feeder.buses.index
        # cvxpy: for `expr == b` the dual is -d(opt)/db; opt is in currency per s_base and b in p.u. of
        # power, so dividing by dt (h) gives currency per kWh
        price_rank = -np.asarray(self.balance.dual_value, dtype=float) / (dt * self.obj_scale)
        prices = pd.DataFrame(_by_bus(tree, price_rank).T, index=steps, columns=buses)
        v = _by_bus(tree, np.sqrt(np.maximum(W, 0.0)))
        line_labels = self.lines.index
        flows_kw = pd.DataFrame((P * sb).T, index=steps, columns=line_labels).reindex(columns=feeder.lines.index)
        flows_kvar = pd.DataFrame((Q * sb).T, index=steps, columns=line_labels).reindex(columns=feeder.lines.index)
        s_max = pd.Series(self.s_max, index=line_labels).reindex(feeder.lines.index)
        net, shed, schedules = self._net_loads(prices, steps)
        return DayResult(
            prices=prices,
            v_pu=pd.DataFrame(v.T, index=steps, columns=buses),
            flows_kw=flows_kw,
            flows_kvar=flows_kvar,
            loading=np.hypot(flows_kw, flows_kvar) / s_max.to_numpy()[None, :],
            net_load_kw=pd.DataFrame(net, index=steps, columns=buses),
            net_load_kvar=pd.DataFrame(self.load_q.copy(), index=steps, columns=buses),
            shed_kw=pd.DataFrame(shed, index=steps, columns=buses),
            substation_kw=pd.Series(P0 * sb, index=steps, name="substation_kw"),
            schedules=schedules,
            cost=float(self.problem.value) * sb / self.obj_scale,
            binding=tuple(_binding(self, W, P, Q)),
            dt_h=dt,
        )

    def _net_loads(self, prices: pd.DataFrame, steps: pd.Index) -> tuple[np.ndarray, np.ndarray, dict]:
        """Return what each bus draws per step (kW), the load shed (kW), and each prosumer's schedule table."""
        sb = self.feeder.s_base_kva
        net = self.load_p.copy()
        shed = np.zeros_like(net)
        if self.shed is not None:
            shed[:, self.tree.order] = (np.asarray(self.shed.value, dtype=float) * sb).T
            shed = _clean(shed)
            net -= shed
        return net, shed, self._prosumer_schedules(net, prices, steps)

    def _prosumer_schedules(self, net: np.ndarray, prices: pd.DataFrame, steps: pd.Index) -> dict:
        """Add each prosumer's net import to ``net`` (steps x buses, kW); return their schedule tables by name."""
        schedules = {}
        where = self.feeder.buses.index.get_indexer([bus for bus, _ in self.pairs])
        for (bus, p), dev, expr, pos in zip(self.pairs, self.devices, self.nets, where):
            net_k = _clean(np.asarray(expr.value, dtype=float))
            net[:, pos] += net_k
            schedules[p.name] = _schedule_table(bus, net_k, prices[bus].to_numpy(), dev, self.dt, steps)
        return schedules


class EVDayModel(_DayModel):
    """The OPF of :func:`day_ahead_dlmp` with one aggregated EV at every bus, written once with cvxpy Parameters.

    For studies that clear the same day for many fleets (:class:`te_course.scheduling.EVStudyProblem`,
    the EV explorer): the cars' energy needs and charger powers per bus and the load of the
    uncontrolled cars are Parameters, so a new fleet is a warm re-solve (the problem is
    canonicalised only the first time).  A bus without responsive cars gets an EV of zero
    power and zero need, which changes nothing in the OPF.  The inputs are read and checked as
    :func:`day_ahead_dlmp` reads them; ``car`` gives the plug-in window and the efficiency
    that every aggregated EV shares.
    """

    def __init__(self, feeder: Feeder, car: EV, *, price_substation, load_profile=None, v_min_pu: float = 0.95,
                 v_max_pu: float = 1.05, dt_h: float = 1.0, voll: float | None = None) -> None:
        """Read the day as :func:`day_ahead_dlmp` does and write the OPF once, with no cars yet."""
        feeder, _, T, dt, price, scale, _ = read_day_inputs(feeder, None, price_substation, load_profile, None, dt_h)
        v_min, v_max = check_voltage_limits(v_min_pu, v_max_pu)
        _check_two_buses(feeder)
        n = feeder.n_buses
        if car.available.size != T:
            raise ValueError(f"`car.available` has {car.available.size} steps; the day has {T}.")
        load_p, load_q = _loads(feeder, scale, np.zeros((T, n)))
        _check_powers(feeder, [], load_p, load_q, dt)
        self.car, self.base_p = car, load_p
        self.e_need = cp.Parameter(n, nonneg=True, name="e_need")  # kWh per bus, by rank
        self.p_max = cp.Parameter(n, nonneg=True, name="p_max")  # kW per bus, by rank
        self.load_now = cp.Parameter((n, T), name="load")  # p.u., rank x step
        self.load_cap = cp.Parameter((n, T), nonneg=True, name="sheddable")
        self.e_need.value, self.p_max.value = np.zeros(n), np.zeros(n)
        super().__init__(feeder, [], price=price, load_p=load_p, load_q=load_q, v_min=v_min, v_max=v_max, dt=dt,
                         voll=check_voll(voll))

    def _bus_loads(self, p_load: np.ndarray) -> tuple:
        """Return the loads' Parameters, holding ``p_load`` (rank x step, p.u.) for now."""
        self.load_now.value, self.load_cap.value = p_load, np.maximum(p_load, 0.0)
        return self.load_now, self.load_cap

    def _prosumer_models(self) -> list[tuple]:
        """Write the EVs (kW, rank x step): within each bus's charger power while plugged in, its need met."""
        n, T = self.feeder.n_buses, self.T
        self.nets, self.devices = [], []
        self.ev = cp.Variable((n, T), nonneg=True, name="ev_kw")
        plugged = self.car.available.astype(float)[None, :]
        cons = [self.ev <= cp.reshape(self.p_max, (n, 1), order="C") @ plugged,
                self.car.eta * self.dt * cp.sum(self.ev, axis=1) >= self.e_need]
        return [(0, cons, [])]

    def _prosumer_injection(self) -> cp.Expression:
        """Return the EVs' draw by rank and step (p.u.)."""
        return self.ev / self.feeder.s_base_kva

    def day(self, pairs, fixed_kw: np.ndarray) -> DayResult:
        """Clear the day for the responsive cars ``pairs`` and the uncontrolled cars' load ``fixed_kw``.

        ``pairs``: ``(bus, Prosumer)`` with one EV each, of ``car``'s window and efficiency and
        no base load (:func:`te_course.scheduling.ev_fleet`'s ``prosumers``); ``fixed_kw``:
        steps x buses, kW.  Returns what :func:`day_ahead_dlmp` returns for the same data.
        """
        n, sb = self.feeder.n_buses, self.feeder.s_base_kva
        load_p = self.base_p + np.asarray(fixed_kw, dtype=float)
        _check_powers(self.feeder, pairs, load_p, self.load_q, self.dt)
        e_need, p_max = np.zeros(n), np.zeros(n)
        where = self.feeder.buses.index.get_indexer([bus for bus, _ in pairs])
        for pos, (_, p) in zip(where, pairs):
            (ev,) = p.devices
            if not (np.array_equal(ev.available, self.car.available) and ev.eta == self.car.eta
                    and not np.any(p.base_load_kw)):
                raise ValueError(f"{p.name!r} is not an aggregate of this model's cars (plug-in window, eta).")
            e_need[pos], p_max[pos] = ev.e_need_kwh, ev.p_max_kw
        rank = self.tree.order
        self.e_need.value, self.p_max.value = e_need[rank], p_max[rank]
        self._bus_loads(load_p[:, rank].T / sb)
        self.pairs, self.load_p = list(pairs), load_p
        self.solve()
        return self.result()

    def _prosumer_schedules(self, net: np.ndarray, prices: pd.DataFrame, steps: pd.Index) -> dict:
        """Add the EVs' draw to ``net``; return each aggregated EV's schedule table, as :func:`day_ahead_dlmp`'s."""
        kw = _clean(_by_bus(self.tree, np.asarray(self.ev.value, dtype=float)).T)  # steps x buses
        net += kw
        schedules = {}
        for (bus, p), pos in zip(self.pairs, self.feeder.buses.index.get_indexer([b for b, _ in self.pairs])):
            dlmp = prices[bus].to_numpy()
            schedules[p.name] = pd.DataFrame({"bus": [bus] * len(steps), "net_import_kw": kw[:, pos], "dlmp": dlmp,
                                              "payment": dlmp * kw[:, pos] * self.dt,
                                              f"{p.devices[0].name}_kw": kw[:, pos]}, index=steps)
        return schedules


def _check_two_buses(feeder: Feeder) -> None:
    """Raise ``ValueError`` for a feeder of one bus (no line to schedule a day on)."""
    if feeder.n_buses < 2:
        raise ValueError("`feeder` has a single bus; a day on the feeder needs at least one line.")


def _by_bus(tree: _network.Tree, by_rank: np.ndarray) -> np.ndarray:
    """Return rows by rank (ranks x steps) reordered to the feeder's bus order."""
    out = np.empty_like(by_rank)
    out[tree.order] = by_rank
    return out


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


def _prosumer_devices(p: Prosumer, T: int, dt: float) -> DeviceModel:
    """Write a prosumer's devices over ``T`` steps as cvxpy constraints (no throughput cost)."""
    batteries = [battery_spec(d) for d in p.devices if isinstance(d, Battery)]
    pvs = [(d.name, broadcast(d.p_max_kw, "p_max_kw", T, f"PV {d.name!r}")) for d in p.devices if isinstance(d, PV)]
    evs = [d for d in p.devices if isinstance(d, EV)]
    flexes = [d for d in p.devices if isinstance(d, FlexibleLoad)]
    for ev in evs:
        ev.check_feasible(dt)
    for fl in flexes:
        fl.check_feasible(T, dt)
    return device_constraints(T, dt, batteries=batteries, pvs=pvs, evs=evs, flexes=flexes, throughput=0.0)


def _clean(v) -> np.ndarray:
    """Return ``v`` as a float array (its shape kept) with solver noise below 1e-7 kW set to zero."""
    v = np.asarray(v, dtype=float)
    return np.where(np.abs(v) < 1e-7, 0.0, v)


def _schedule_table(bus, net, dlmp, dev, dt, steps) -> pd.DataFrame:
    """One prosumer's schedule: one row per step, its net import, DLMP, payment and device columns."""
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
    """Return the binding voltage and line limits and the load shed, in words, in step order."""
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
    InfeasibleError
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
    feeder, pairs, T, dt, price, scale, fixed = read_day_inputs(feeder, prosumers, price_substation, load_profile,
                                                            fixed_kw, dt_h)
    v_min, v_max = check_voltage_limits(v_min_pu, v_max_pu)
    _check_two_buses(feeder)
    load_p, load_q = _loads(feeder, scale, fixed)
    _check_powers(feeder, pairs, load_p, load_q, dt)
    lost = check_voll(voll)
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
    feeder = check_feeder(feeder)
    if not isinstance(net_load_kw, pd.DataFrame):
        raise TypeError("`net_load_kw` must be a DataFrame with one row per step and one column per bus.")
    T = len(net_load_kw)
    p = _bus_table(net_load_kw, feeder, T, "net_load_kw")
    q = _bus_table(net_load_kvar, feeder, T, "net_load_kvar") if net_load_kvar is not None else np.zeros_like(p)
    if q.shape != p.shape:
        raise ValueError(f"`net_load_kvar` has {q.shape[0]} steps; `net_load_kw` has {T}.")
    steps = pd.Index(net_load_kw.index, name="step")
    bar = progress_bar(progress, T, "AC power flow")
    at_once = _sweep_day(feeder, p, q)
    if at_once is not None:  # every step converged: the day in one sweep
        v, s, loss, sub = at_once
        if bar is not None:
            bar.update(T)
            bar.close()
        return _day_flows(feeder, steps, v, s, loss, sub)
    # a step fails: run them one by one, so the first that fails raises its own error, naming the step
    v, s, loss, sub = [], [], [], []
    for t in range(T):
        try:
            f = feeder.replace(buses=feeder.buses.assign(p_kw=p[t], q_kvar=q[t]))
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
    return _day_flows(feeder, steps, v, s, loss, sub)


def _sweep_day(feeder: Feeder, p: np.ndarray, q: np.ndarray) -> tuple | None:
    """Every step's AC power flow in one backward/forward sweep (``_network.ac_sweep``, one column a step).

    Each column runs the arithmetic of :func:`te_course.powerflow.ac_power_flow` on that step's
    loads (tests/test_scheduling.py compares them).  Returns (v_pu, |S| at each line's sending
    end, losses, substation kW), one row per step, or None if a step does not converge or has
    loads beyond any operating point: :func:`evaluate_day` then runs the steps one by one.
    """
    tree = _network.tree(feeder)
    sb = feeder.s_base_kva
    T, n = p.shape
    if T == 0 or n == 1 or np.abs(np.r_[p.ravel(), q.ravel()]).max(initial=0.0) / sb > OPF_PU_MAX:
        return None
    s_load = ((p + 1j * q) / sb)[:, tree.order[1:]].T  # by rank 1..n-1, a column per step
    z = _network.series_impedance_pu(feeder, tree)
    sweep = _network.ac_sweep(tree, z, s_load, 1.0, 1e-8, 100)  # ac_power_flow's defaults
    if sweep.failed:
        return None
    i_line = tree.downstream_sum(np.conj(s_load / sweep.v))
    v_all = np.vstack([np.ones((1, T), dtype=complex), sweep.v])
    s_send = v_all[tree.parent_rank] * np.conj(i_line)
    loss = np.abs(i_line) ** 2 * z[:, None]
    flow = np.where(tree.forward[:, None], s_send, -(s_send - loss)) * sb  # at each line's from_bus end
    s = np.zeros((T, len(feeder.lines)))
    s[:, tree.line_pos] = np.hypot(flow.real, flow.imag).T
    v = np.empty((T, n))
    v[:, tree.order] = np.abs(v_all).T
    root = tree.parent_rank == 0
    sub_bus = feeder.buses.index.get_loc(feeder.substation)
    sub = p[:, sub_bus] + s_send.real[root].sum(axis=0) * sb
    return v, s, loss.real.sum(axis=0) * sb, sub


def _day_flows(feeder: Feeder, steps: pd.Index, v, s, loss, sub) -> DayFlows:
    flows = pd.DataFrame(s, index=steps, columns=feeder.lines.index)
    limit = feeder.lines["s_max_kva"].to_numpy()
    return DayFlows(
        v_pu=pd.DataFrame(v, index=steps, columns=feeder.buses.index),
        flows_kva=flows,
        loading=flows / limit[None, :],
        loss_kw=pd.Series(loss, index=steps, name="loss_kw"),
        substation_kw=pd.Series(sub, index=steps, name="substation_kw"),
    )
