"""The hourly clearing of a day (rolling horizon): :func:`simulate_day`.

At every step the operator re-solves the day-ahead OPF (:func:`te_course.scheduling.day_ahead_dlmp`)
over the rest of the day, from the batteries' and EVs' state at that step, and settles the
first step.  With ``pv_actual_kw`` the PV output of the step being cleared is the actual one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._device_model import broadcast
from .._progress import progress_bar
from .._validation import as_1d_float
from ..devices import EV, PV, Battery, Prosumer
from ..feeders import Feeder
from ..opf import check_voltage_limits
from .day import DayResult, check_voll, day_ahead_dlmp, read_day_inputs

__all__ = ["simulate_day"]


# --------------------------------------------------------------------------- rolling clearings


def _remaining(p: Prosumer, t: int, state: dict, pv_actual: dict | None) -> Prosumer:
    """Return the prosumer seen at step ``t``: profiles from ``t`` on, batteries at their current charge."""
    devices = []
    T = p.n_steps
    for d in p.devices:
        if isinstance(d, PV):
            avail = broadcast(d.p_max_kw, "p_max_kw", T, f"PV {d.name!r}").copy()
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
    feeder, pairs, T, dt, price, scale, fixed = read_day_inputs(feeder, prosumers, price_substation, load_profile,
                                                            fixed_kw, dt_h)
    check_voltage_limits(v_min_pu, v_max_pu)
    lost = check_voll(voll)
    state = _initial_state(pairs)
    actual = _pv_actual(pv_actual_kw, pairs, T)
    fixed_df = pd.DataFrame(fixed, columns=feeder.buses.index)
    rows, tables = [], {p.name: [] for _, p in pairs}
    cost = 0.0
    bar = progress_bar(progress, T, "hourly clearing")
    for t in range(T):
        now = [(bus, _remaining(p, t, state, actual or None)) for bus, p in pairs]
        res = day_ahead_dlmp(feeder, now or None, price_substation=price[t:], load_profile=scale[t:],
                             fixed_kw=fixed_df.iloc[t:].reset_index(drop=True), v_min_pu=v_min_pu,
                             v_max_pu=v_max_pu, dt_h=dt, voll=lost)
        rows.append(res)
        _settle_first_step(res, pairs, now, state, tables, dt)
        cost += float(res.substation_kw.iloc[0]) * price[t] * dt
        if lost is not None:
            cost += lost * float(res.shed_kw.iloc[0].sum()) * dt
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return _first_steps(rows, tables, cost=cost, dt=dt)


def _initial_state(pairs) -> dict:
    """Return each battery's state of charge and each EV's energy received (kWh) before the day, by (prosumer, device).

    Raises ``ValueError`` for the devices that the hourly clearing cannot carry from step to step.
    """
    state = {}
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
    return state


def _pv_actual(pv_actual_kw, pairs, T: int) -> dict:
    """Return ``pv_actual_kw`` checked: {(prosumer, PV): T finite outputs >= 0}, empty when not given."""
    actual = {}
    if pv_actual_kw is None:
        return actual
    devices = {(p.name, d.name) for _, p in pairs for d in p.devices if isinstance(d, PV)}
    for key, values in dict(pv_actual_kw).items():
        if key not in devices:
            raise ValueError(f"`pv_actual_kw` names {key!r}, which is not a (prosumer, PV) pair of `prosumers`.")
        arr = as_1d_float(values, f"pv_actual_kw[{key!r}]")
        if arr.size != T or (arr < 0).any() or not np.isfinite(arr).all():
            raise ValueError(f"`pv_actual_kw[{key!r}]` must hold {T} finite values >= 0.")
        actual[key] = arr
    return actual


def _settle_first_step(res: DayResult, pairs, now, state: dict, tables: dict, dt: float) -> None:
    """Keep the first step of a clearing: each prosumer's row, and the batteries' and EVs' state after it."""
    for (_, p), (_, q) in zip(pairs, now):
        row = res.schedules[p.name].iloc[0]
        tables[p.name].append(row)
        for d in q.devices:
            if isinstance(d, Battery):
                state[(p.name, d.name)] = float(row[f"{d.name}_soc_kwh"])
            elif isinstance(d, EV):
                state[(p.name, d.name)] += float(row[f"{d.name}_kw"]) * d.eta * dt


def _first_steps(rows: list[DayResult], tables: dict, *, cost: float, dt: float) -> DayResult:
    """Put the first step of every hourly clearing together as the day's result."""
    steps = pd.RangeIndex(len(rows), name="step")

    def first(attr: str) -> pd.DataFrame:
        """Return the first row of field ``attr`` of every clearing, one per step."""
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
