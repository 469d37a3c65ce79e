"""Set-ups for chapter 9: line ratings for a feeder without them, and a synthetic day with prosumers.

Teaching assumptions, not data: :func:`rate_lines` rates each line at a margin over its AC flow
at a given load, and :func:`example_feeder_day` builds a day on the IEEE 33-bus feeder from
formulas (:class:`FeederDay`, the inputs of :func:`te_course.scheduling.simulate_day`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import as_generator, as_positive_float
from ..devices import EV, PV, Battery, Prosumer
from ..feeders import Feeder, check_feeder
from ..feeders import ieee33 as _ieee33
from ..powerflow import ac_power_flow

__all__ = ["rate_lines", "FeederDay", "example_feeder_day"]


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
    feeder = check_feeder(feeder)
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
        return feeder.replace(lines=lines)
    except ValueError as exc:  # only the ratings changed: they are beyond the feeder's per-unit range
        raise ValueError(f"`margin` = {mar:g} gives line ratings beyond the feeder's range; give a margin such as "
                         f"1.25 ({exc})") from None


@dataclass(frozen=True, eq=False)
class FeederDay(Mapping):
    """A day on a feeder with prosumers: the inputs of ``simulate_day`` (see :func:`example_feeder_day`).

    A result, so a dataclass (issue 17); also a read-only mapping of its four fields, as the dict
    that :func:`example_feeder_day` returned up to te_course 0.5: ``day["feeder"]``,
    ``sorted(day)`` and ``simulate_day(**day)`` keep working.

    Attributes
    ----------
    feeder : Feeder
    prosumers : dict
        ``{bus: Prosumer}``.
    price_substation : numpy.ndarray
        Currency per kWh, per step.
    load_profile : numpy.ndarray
        Multiplier of the feeder's loads, per step.
    """

    feeder: Feeder
    prosumers: dict = field(repr=False)
    price_substation: np.ndarray = field(repr=False)
    load_profile: np.ndarray = field(repr=False)

    __eq__ = object.__eq__  # by identity: a Mapping's == would compare the arrays elementwise, which has no answer
    __hash__ = object.__hash__

    def __getitem__(self, key: str) -> object:
        """Return the field ``key`` (``KeyError`` for any other name)."""
        if key not in _FEEDER_DAY_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        """Iterate over the field names, as over a dict's keys."""
        return iter(_FEEDER_DAY_FIELDS)

    def __len__(self) -> int:
        """Return the number of fields (4)."""
        return len(_FEEDER_DAY_FIELDS)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per step: ``price_substation`` and ``load_profile``."""
        return pd.DataFrame({"price_substation": self.price_substation, "load_profile": self.load_profile},
                            index=pd.RangeIndex(len(self.load_profile), name="step"))


_FEEDER_DAY_FIELDS = ("feeder", "prosumers", "price_substation", "load_profile")


def example_feeder_day(*, n_prosumers: int = 8, seed=0) -> FeederDay:
    """Return a SYNTHETIC day on the IEEE 33-bus feeder with prosumers: the inputs of ``simulate_day``.

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
    FeederDay
        ``feeder``, ``prosumers`` (``{bus: Prosumer}``), ``price_substation``,
        ``load_profile`` (arrays of 24); read by attribute or, like the dict
        that it was up to te_course 0.5, by key (``simulate_day(**day)``).

    Examples
    --------
    >>> day = example_feeder_day()
    >>> sorted(day), len(day.prosumers), day["feeder"] is day.feeder
    (['feeder', 'load_profile', 'price_substation', 'prosumers'], 8, True)
    """
    from ..prosumer import example_day

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
    return FeederDay(feeder=feeder, prosumers=prosumers, price_substation=base_day["buy_price"].to_numpy(),
                     load_profile=load)
