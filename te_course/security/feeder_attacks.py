"""Cyber security on the feeder: a compromised DER's false offer, dispatched by the operator.

The attack is a false data injection into the operator's dispatch (Liu, Ning
and Reiter, "False data injection attacks against state estimation in electric
power grids", ACM CCS 2009; on market data: Xie, Mo and Sinopoli, IEEE Trans.
Smart Grid 2(4), 2011).  In :func:`false_offer_on_feeder` a compromised DER
reports a large, cheap offer; the operator dispatches the feeder on it
(:func:`te_course.opf.dlmp`), and the real feeder, with the real injections,
runs under its voltage limit (:func:`te_course.powerflow.ac_power_flow`).  Its
``screen`` option applies the rules of :func:`te_course.security.screen_orders`
to the offers, and :class:`FeederAttackResult` says how much of the damage the
screen removes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._network import check_ders, check_power_pu
from .._validation import as_finite_float, check_magnitude, check_nonnegative
from .._validation import label as _label
from ..errors import InfeasibleError, SolverError
from ..feeders import Feeder, check_feeder
from ..opf import DLMPProblem, DLMPResult, dlmp
from ..powerflow import ac_power_flow
from ._common import (
    V_TOL,
    ScreenRules,
    assess,
    line_loading,
    registered_capacity,
    screen_rules,
    screen_table,
    voltage_limits,
)
from .false_bids import Screening

__all__ = ["FeederAttackResult", "DamageRemoved", "false_offer_on_feeder"]

_V_LOOSE = (0.01, 2.0)  # p.u.: voltage "limits" of a dispatch on price alone
_V_FLOOR = 0.5  # p.u.: the lowest voltage limit an operator would still try to hold
_V_BISECT = 5e-4  # p.u.: precision of the highest voltage limit the offers can hold
_SCREEN_OPTIONS = ("price_bounds", "registered_kw", "z_max", "over_capacity")


@dataclass(frozen=True)
class DamageRemoved:
    """Share of a feeder attack's damage that screening removes, by kind of damage.

    Each share is ``(attacked - mitigated) / (attacked - honest)``: 1 when the
    screen undoes the damage, 0 when it does nothing; NaN when the attack did
    no damage of that kind or no screen was applied.

    Attributes
    ----------
    cost : float
        Measured on ``real_cost``.
    voltage : float
        Measured on ``v_violation_pu``.
    """

    cost: float
    voltage: float

    def __getitem__(self, key: str) -> float:
        """Support the old dict access ``damage_removed["voltage"]``, deprecated: use ``damage_removed.voltage``."""
        if key not in ("cost", "voltage"):
            raise KeyError(key)
        warnings.warn(f'damage_removed["{key}"] is deprecated; use damage_removed.{key} (damage_removed is a '
                      "DamageRemoved, no longer a dict); the dict access will stop working in the next release.",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, key)


@dataclass(frozen=True)
class FeederAttackResult:
    """A feeder dispatched on honest offers, on a compromised DER's false offer, and after screening.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per scenario: ``honest``, ``attacked``, and with screening
        ``mitigated`` (the attacked offers screened) and ``honest_screened``
        (the honest offers screened).  Columns:

        - ``opf_feasible``: whether the operator's OPF met every limit, and
          ``v_min_held_pu`` the lower voltage limit it held (``v_min_pu``, lower
          when the offers cannot hold it, NaN for a dispatch on price alone);
        - ``expected_cost``: the operator's OPF cost on the offers it received
          (currency per hour);
        - ``real_cost``: what the hour really costs: ``price_substation`` times
          the power really bought at the substation (losses included) plus
          each DER's true price times what it really produced;
        - ``dispatch_kw``, ``delivered_kw``: DER output ordered and produced;
        - ``substation_p_kw``: power really bought at the substation;
        - ``expected_min_v_pu``: the lowest voltage the operator expects;
        - ``min_v_pu``, ``min_v_bus``, ``max_v_pu``: the real voltages (AC power flow);
        - ``v_violation_pu``: how far the worst real voltage is outside
          ``[v_min_pu, v_max_pu]`` (0 when inside);
        - ``secure``, ``violations``: violated limits in words.
    dispatch_kw, delivered_kw : pandas.DataFrame
        Per DER (rows, labels of ``ders``) and scenario (columns).
    v_pu : pandas.DataFrame
        Real voltage of each bus (rows) per scenario (columns).
    screening, screening_honest : Screening or None
        The screening of the reported and of the honest offers (None without ``screen``).
    """

    table: pd.DataFrame
    dispatch_kw: pd.DataFrame = field(repr=False)
    delivered_kw: pd.DataFrame = field(repr=False)
    v_pu: pd.DataFrame = field(repr=False)
    screening: Screening | None = field(default=None, repr=False)
    screening_honest: Screening | None = field(default=None, repr=False)

    def _removed(self, column: str) -> float:
        """``(attacked - mitigated) / (attacked - honest)`` of ``column``; NaN without damage or screen."""
        if "mitigated" not in self.table.index:
            return math.nan
        t = self.table[column]
        damage = t["attacked"] - t["honest"]
        return float((t["attacked"] - t["mitigated"]) / damage) if damage > 1e-9 else math.nan

    @property
    def damage_removed(self) -> DamageRemoved:
        """Share of the attack's damage removed by screening: ``.cost`` and ``.voltage`` (see :class:`DamageRemoved`).

        ``cost`` uses ``real_cost``, ``voltage`` uses ``v_violation_pu``; each is
        ``(attacked - mitigated) / (attacked - honest)``, NaN when the attack
        did no damage of that kind or no screen was applied.
        """
        return DamageRemoved(cost=self._removed("real_cost"), voltage=self._removed("v_violation_pu"))

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of :attr:`table`."""
        return self.table.copy()


def false_offer_on_feeder(feeder: Feeder, ders, *, fake, price_substation: float, v_min_pu: float = 0.95,
                          v_max_pu: float = 1.05, model: str = "socp", screen=None) -> FeederAttackResult:
    """Dispatch a feeder on a compromised DER's false offer, and run the real feeder.

    The attack is a false data injection into the operator's dispatch (Liu,
    Ning and Reiter 2009; Xie, Mo and Sinopoli 2011):

    1. *honest*: the operator solves the distribution OPF
       (:func:`te_course.opf.dlmp`) on the true offers ``ders``;
    2. *attacked*: the compromised DERs report the offers in ``fake`` (e.g. a
       capacity far beyond their real one, at a price that undercuts the
       honest DERs); the operator solves the same OPF on the reported offers
       and expects its voltages to stay within limits;
    3. in each scenario the real feeder runs with the real injections: each
       DER produces what it was dispatched, but no more than its true
       ``p_max_kw``; the substation supplies the rest.  The real voltages come
       from the AC power flow (:func:`te_course.powerflow.ac_power_flow`), the
       real cost from the power really bought at the substation (losses
       included) and the true offer prices of what the DERs produced.

    With ``screen`` (the mitigation), the offers go through the rules of
    :func:`screen_orders` first (price = offer price, quantity = offered
    ``p_max_kw``, compared with the registered capacity in kW: the true
    ``ders["p_max_kw"]`` unless ``screen`` gives ``registered_kw``): an offer
    above its registered capacity is clipped to it (``over_capacity="clip"``, the default) or
    rejected, and a rejected offer is left out of the dispatch (that DER
    produces nothing).  The honest offers are screened the same way to show
    what the screen costs when nobody attacks.

    If no dispatch of the offers keeps every voltage above ``v_min_pu`` (e.g.
    after the screen removed a DER the voltage needed), the operator holds the
    highest lower voltage limit it can (found by bisection to 5e-4 p.u., less
    a margin of 5e-4 p.u.); if even 0.5 p.u. cannot be held, or the line
    limits are the obstacle, it dispatches on price alone, without network
    limits.  ``opf_feasible`` is then False, ``v_min_held_pu`` says what was
    held, and the real violations are reported.

    Parameters
    ----------
    feeder : Feeder
        A radial feeder (line limits from ``feeder.lines["s_max_kva"]``).
    ders : pandas.DataFrame
        The true offers and capacities: columns ``bus``, ``p_max_kw``,
        ``price``, optionally ``p_min_kw`` (as in :func:`te_course.opf.dlmp`).
    fake : dict or pandas.DataFrame
        The false offers, by DER label (a row label of ``ders``): e.g.
        ``{0: {"p_max_kw": 2000.0, "price": 0.055}}``; columns among
        ``p_max_kw``, ``price``, ``p_min_kw``.  A column left out of a DER's
        dict keeps its true value; every value given (every cell of a
        DataFrame) must be a finite number.
    price_substation : float
        Price of energy at the substation, currency per kWh.
    v_min_pu, v_max_pu : float, optional
        Voltage limits of the OPF and of the real check.
    model : {"socp", "lindistflow"}, optional
        The operator's OPF model.
    screen : dict, optional
        Options of :func:`screen_orders`: ``price_bounds``, ``registered_kw``,
        ``z_max`` (default None here: with a handful of DERs a robust z-score
        means little) and ``over_capacity``.  ``{}`` screens with the
        registered capacities only.

    Returns
    -------
    FeederAttackResult
        ``table`` (one row per scenario), dispatches, deliveries, real
        voltages, screenings and ``damage_removed``.

    Raises
    ------
    ValueError
        If ``ders`` names an unknown bus, ``fake`` names an unknown DER or
        column, an offer is NaN or negative, or ``screen`` has an unknown
        option or a bad value.

    Notes
    -----
    An attack that pushes the dispatch against the upper voltage limit with
    reverse power flow can make the second-order-cone relaxation of the OPF
    inexact; :func:`te_course.opf.dlmp` then warns (``UserWarning``).

    Examples
    --------
    Two DERs of 600 kW, at buses 18 and 33, hold IEEE 33 at 0.95 p.u.  The
    one at bus 18 is compromised: it offers 1500 kW at price 0.  The operator
    dispatches 1774 kW of DER output, expecting 0.95 p.u.; only 874 kW
    arrive and the real feeder falls to 0.938 p.u.  (The hour even costs
    less than the honest one: the damage is the broken voltage limit.)
    Limiting each offer to its registered capacity removes the voltage damage.

    >>> from te_course.feeders import ieee33
    >>> ders = pd.DataFrame({"bus": [18, 33], "p_max_kw": [600.0, 600.0], "price": [0.06, 0.07]})
    >>> res = false_offer_on_feeder(ieee33(), ders, fake={0: {"p_max_kw": 1500.0, "price": 0.0}},
    ...                             price_substation=0.05, screen={})
    >>> res.table[["dispatch_kw", "delivered_kw", "min_v_pu", "real_cost"]].round(3)
                     dispatch_kw  delivered_kw  min_v_pu  real_cost
    honest              1080.661      1080.661     0.950    208.052
    attacked            1773.911       873.911     0.938    203.467
    mitigated           1157.082      1157.082     0.950    208.311
    honest_screened     1080.661      1080.661     0.950    208.052
    >>> res.table["secure"].tolist(), round(res.damage_removed.voltage, 6)
    ([True, False, True, True], 1.0)
    """
    feeder = check_feeder(feeder)
    true = _true_offers(ders, feeder)
    reported = _fake_offers(fake, true, feeder)
    price = as_finite_float(price_substation, "price_substation")
    v_min, v_max = voltage_limits(v_min_pu, v_max_pu)
    offers = {"honest": true, "attacked": reported}  # what the operator receives (steps 1 and 2)
    screening = screening_honest = None
    if screen is not None:  # the mitigation: the reported and the honest offers screened
        rules, registered = _screen_options(screen, true)
        screening, offers["mitigated"] = _screened_offers(reported, registered, rules)
        screening_honest, offers["honest_screened"] = _screened_offers(true, registered, rules)
    # each scenario: the operator dispatches on its offers, the real feeder runs on what the DERs produce (step 3)
    runs = {name: _scenario(feeder, table, true, price, v_min, v_max, model) for name, table in offers.items()}
    return FeederAttackResult(
        table=pd.DataFrame.from_dict({name: run.row for name, run in runs.items()}, orient="index"),
        dispatch_kw=pd.DataFrame({name: run.dispatch_kw for name, run in runs.items()}),
        delivered_kw=pd.DataFrame({name: run.delivered_kw for name, run in runs.items()}),
        v_pu=pd.DataFrame({name: run.v_pu for name, run in runs.items()}),
        screening=screening,
        screening_honest=screening_honest,
    )


# --------------------------------------------------------------------------- the steps of false_offer_on_feeder


def _true_offers(ders, feeder: Feeder) -> pd.DataFrame:
    """Return the true offers ``ders``, checked (at least one DER, one label each)."""
    true = check_ders(ders, feeder)
    if len(true) == 0:
        raise ValueError("`ders` is empty; the attack needs at least one DER (a row of `ders`).")
    if true.index.has_duplicates:
        raise ValueError("`ders` has repeated row labels; give each DER its own label.")
    return true


def _fake_offers(fake, ders: pd.DataFrame, feeder: Feeder | None = None) -> pd.DataFrame:
    """Return the offers the operator receives: ``ders`` with the compromised DERs' rows replaced by ``fake``.

    Every value given must be a finite number: a NaN is an error, not "unchanged" (leave the key out of a
    DER's dict to keep its true value; a DataFrame must fill every cell).  With ``feeder``, each value is
    also held to the range that :func:`te_course.opf.dlmp` accepts for ``ders`` (prices at most 1e150,
    powers at most ``OPF_PU_MAX`` times the power base), and an error names the ``fake`` entry.
    """
    offers, columns = _fake_entries(fake)
    allowed = {"p_max_kw", "price", "p_min_kw"}
    extra = [c for c in columns if c not in allowed]
    if extra:
        raise ValueError(f"`fake` has the column(s) {extra}; a false offer can change only {sorted(allowed)}.")
    reported = ders.copy()
    for label, offer in offers:
        if label not in ders.index:
            raise ValueError(f"`fake` names the DER {_label(label)!r}, which is not a label of `ders` "
                             f"({[_label(i) for i in ders.index]}).")
        for col, value in offer.items():
            # a NaN is rejected here (it was once skipped silently)
            where = f"fake[{_label(label)!r}][{col!r}]"
            v = as_finite_float(value, where)
            if feeder is not None and col == "price":
                check_magnitude(np.array([v]), where, "prices")
            elif feeder is not None:
                check_power_pu(np.array([v]), where, feeder.s_base_kva, "DER limits")
            reported.loc[label, col] = v
    check_nonnegative(reported["p_max_kw"].to_numpy(), "fake['p_max_kw']", "powers")
    bad = (reported["p_min_kw"] > reported["p_max_kw"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`fake` gives DER {_label(reported.index[i])!r} a p_min_kw above its p_max_kw.")
    return reported


def _fake_entries(fake) -> tuple[list[tuple[object, dict]], list[str]]:
    """Return the false offers as ``(DER label, {column: value})`` pairs, and the columns they name."""
    if isinstance(fake, pd.DataFrame):
        offers = [(label, dict(row.items())) for label, row in fake.iterrows()]
        columns = list(fake.columns)
    elif isinstance(fake, Mapping):
        bad = [label for label, offer in fake.items() if not isinstance(offer, Mapping)]
        if bad:
            raise TypeError(
                f"`fake` must map DER labels to dicts such as {{'p_max_kw': 2000.0, 'price': 0.0}}; the entry for "
                f"{_label(bad[0])!r} is not a dict."
            )
        offers = [(label, dict(offer)) for label, offer in fake.items()]
        columns = list(dict.fromkeys(col for _, offer in offers for col in offer))
    else:
        raise TypeError(
            f"`fake` must be a dict {{der label: {{'p_max_kw': ..., 'price': ...}}}} or a DataFrame indexed by DER "
            f"label; got {type(fake).__name__}."
        )
    if len(offers) == 0:
        raise ValueError("`fake` is empty; name at least one compromised DER (a label of `ders`).")
    return offers, columns


def _screen_options(screen, true: pd.DataFrame) -> tuple[ScreenRules, np.ndarray]:
    """Return the rules of ``screen`` (no z-test unless asked) and the registered capacities (default: p_max_kw)."""
    if not isinstance(screen, Mapping):
        raise TypeError(f"`screen` must be a dict of screen_orders options or None; got {type(screen).__name__}.")
    unknown = sorted(set(screen) - set(_SCREEN_OPTIONS))
    if unknown:
        raise ValueError(f"`screen` has the unknown option(s) {unknown}; use {sorted(_SCREEN_OPTIONS)}.")
    rules = screen_rules(screen.get("price_bounds"), screen.get("z_max"), 1.0, screen.get("over_capacity", "clip"))
    registered = screen.get("registered_kw", true["p_max_kw"].to_numpy())
    return rules, registered_capacity(registered, len(true), "screen['registered_kw']")


def _screened_offers(table: pd.DataFrame, registered: np.ndarray, rules: ScreenRules) -> tuple[Screening, pd.DataFrame]:
    """Screen the offers ``table`` (price, quantity = ``p_max_kw``); return the screening and the offers kept."""
    s = Screening(screen_table(table["price"].to_numpy(), table["p_max_kw"].to_numpy(), registered, rules))
    s.table.index = table.index.copy()
    s.table.index.name = "der"
    kept = table.copy()
    kept["p_max_kw"] = s.table["quantity_accepted"].to_numpy()
    kept["p_min_kw"] = np.minimum(kept["p_min_kw"], kept["p_max_kw"])
    return s, kept


class _Scenario(NamedTuple):
    """One scenario: its table row, DER dispatch and delivery (kW) and the real voltages (p.u.)."""

    row: dict
    dispatch_kw: pd.Series
    delivered_kw: pd.Series
    v_pu: pd.Series


def _scenario(feeder: Feeder, offers: pd.DataFrame, true: pd.DataFrame, price: float, v_min: float, v_max: float,
              model: str) -> _Scenario:
    """Dispatch on ``offers`` (step 1 or 2), then run the real feeder with what the DERs really produce (step 3)."""
    opf, held = _dispatch(feeder, offers, price, v_min, v_max, model)
    ordered = opf.dispatch.to_numpy()
    produced = np.minimum(ordered, true["p_max_kw"].to_numpy())
    real = ac_power_flow(_injected(feeder, true, produced))
    limits = feeder.lines["s_max_kva"].astype(float)
    summary, words = assess(real.v_pu, line_loading(real, limits), limits, v_min, v_max, 1.0)
    if math.isnan(held):
        words.insert(0, "the operator's OPF has no solution within the limits: dispatched on price alone")
    elif held < v_min:
        words.insert(0, f"the offers accepted cannot hold {v_min:g} p.u.: the operator held {held:.4f} p.u.")
    others = opf.v_pu.drop(feeder.substation)
    row = {
        "opf_feasible": held == v_min,
        "v_min_held_pu": held,
        "expected_cost": opf.cost,
        "real_cost": price * real.substation_p_kw + float(true["price"].to_numpy() @ produced),
        "dispatch_kw": float(ordered.sum()),
        "delivered_kw": float(produced.sum()),
        "substation_p_kw": real.substation_p_kw,
        "expected_min_v_pu": float(others.min()) if len(others) else 1.0,
        "min_v_pu": summary["min_v_pu"],
        "min_v_bus": summary["min_v_bus"],
        "max_v_pu": summary["max_v_pu"],
        "v_violation_pu": _violation(summary, v_min, v_max),
        "secure": not words,
        "violations": "; ".join(words),
    }
    return _Scenario(row, pd.Series(ordered, index=true.index), pd.Series(produced, index=true.index), real.v_pu)


def _dispatch(feeder: Feeder, table: pd.DataFrame, price: float, v_min: float, v_max: float,
              model: str) -> tuple[DLMPResult, float]:
    """Solve the operator's OPF on the offers ``table``; return it and the lower voltage limit it could hold.

    When no dispatch keeps every voltage above ``v_min``, the operator holds the
    highest lower limit it can: bisection to 5e-4 p.u., then a margin of
    5e-4 p.u. away from the boundary, where the solver is numerically fragile.
    When even 0.5 p.u. cannot be held, or another limit is the obstacle, it
    dispatches without network limits (the limit held is then NaN).
    """
    prob = DLMPProblem(feeder, ders=table, model=model)
    opf = _attempt(prob, price, v_min, v_max)
    if opf is not None:
        return opf, v_min
    if (best := _attempt(prob, price, _V_FLOOR, v_max, quiet=True)) is None:
        loose = feeder.replace(lines=feeder.lines.assign(s_max_kva=np.nan))
        opf = dlmp(loose, price_substation=price, ders=table, v_min_pu=_V_LOOSE[0], v_max_pu=_V_LOOSE[1], model=model)
        return opf, math.nan
    held, top = _V_FLOOR, v_min
    while top - held > _V_BISECT:
        mid = 0.5 * (held + top)
        if (r := _attempt(prob, price, mid, v_max, quiet=True)) is None:
            top = mid
        else:
            held, best = mid, r
    margin = max(_V_FLOOR, held - _V_BISECT)
    final = _attempt(prob, price, margin, v_max)
    return (final, margin) if final is not None else (best, held)


def _attempt(prob: DLMPProblem, price: float, v_min: float, v_max: float, quiet: bool = False) -> DLMPResult | None:
    """Return the OPF's result with the lower voltage limit ``v_min``, or None if it has none.

    ``quiet``: a probe near the feasibility boundary, whose "inaccurate" warnings are not shown.
    """
    try:
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", UserWarning)
            return prob.solve(price_substation=price, v_min_pu=v_min, v_max_pu=v_max)
    except InfeasibleError:  # no dispatch holds these limits
        return None
    except SolverError:  # the solver failed at the feasibility boundary, where the problem is ill-conditioned
        return None


def _injected(feeder: Feeder, ders: pd.DataFrame, p_kw: np.ndarray) -> Feeder:
    """Return the feeder with the DERs' outputs ``p_kw`` subtracted from their buses' loads."""
    load = feeder.buses["p_kw"].to_numpy().copy()
    np.subtract.at(load, feeder.buses.index.get_indexer(ders["bus"]), np.asarray(p_kw, dtype=float))
    return feeder.replace(buses=feeder.buses.assign(p_kw=load))


def _violation(summary: dict, v_min: float, v_max: float) -> float:
    """How far (p.u.) the worst voltage lies outside [v_min, v_max]; 0 within the tolerance."""
    worst = max(v_min - summary["min_v_pu"], summary["max_v_pu"] - v_max)
    return float(worst) if worst > V_TOL else 0.0
