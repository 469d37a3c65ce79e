"""Operational security: the N-1 check of a radial feeder with tie-line restoration.

A network is *N-1 secure* when it survives the loss of any single element
with every bus supplied and every voltage and thermal limit respected
(Kundur, *Power System Stability and Control*, McGraw-Hill 1994, sec. 2.1;
Wood, Wollenberg and Sheblé, *Power Generation, Operation, and Control*,
3rd ed., Wiley 2014, ch. 7).  A radial feeder is never N-1 secure by itself:
opening any line cuts off everything downstream of it.  Distribution feeders
therefore have *normally-open tie lines* to neighbouring feeders or laterals;
closing one after a fault restores supply to the cut-off part while keeping
the feeder radial (the switching problem of Baran and Wu, "Network
reconfiguration in distribution systems for loss reduction and load
balancing", IEEE Trans. Power Delivery 4(2), 1401-1407, 1989).
:func:`n_minus_1` opens each line in turn, tries every tie that reconnects
the cut-off buses, runs the AC power flow of each candidate and reports what
survives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .._network import in_service_ends
from .._validation import ConvergenceError, as_finite_float, as_positive_float
from .._validation import label as _label
from ..feeders import Feeder, check_feeder
from ..powerflow import PowerFlowResult, ac_power_flow
from ._common import assess, labels_text, line_loading, voltage_limits

__all__ = ["NMinus1Result", "n_minus_1"]


@dataclass(frozen=True)
class NMinus1Result:
    """The outcome of an N-1 check: one row per contingency.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``contingency``: ``"base"`` (nothing out), then the label of
        each line taken out.  Columns:

        - ``from_bus``, ``to_bus``: the ends of the line out (None for the base case);
        - ``tie_closed``: the tie line closed to restore supply (None if none);
        - ``ties_tried``: how many ties would reconnect the cut-off buses;
        - ``buses_lost``: tuple of the buses left without supply;
        - ``load_not_served_kw``: their load (kW; only positive loads count);
        - ``min_v_pu``, ``min_v_bus``, ``max_v_pu``: over the supplied buses;
        - ``max_loading``, ``max_loading_line``: the largest ``|S| / s_max_kva``
          (NaN, None when no line in service has a limit);
        - ``loss_kw``: series losses of the supplied network;
        - ``secure``: no violation;
        - ``violations``: the violated limits in words, separated by "; ".
    v_pu : pandas.DataFrame
        Voltage (p.u.) of each bus (rows) in each contingency (columns); NaN
        at buses without supply.
    loading : pandas.DataFrame
        ``|S| / s_max_kva`` of each line (rows) in each contingency (columns);
        NaN for lines out of service or without a limit.
    v_min_pu, v_max_pu, loading_limit : float
        The limits the check used.
    """

    table: pd.DataFrame
    v_pu: pd.DataFrame = field(repr=False)
    loading: pd.DataFrame = field(repr=False)
    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    loading_limit: float = 1.0

    @property
    def secure(self) -> bool:
        """Whether the feeder passes: every contingency (and the base case) without a violation."""
        return bool(self.table["secure"].all())

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of :attr:`table`."""
        return self.table.copy()


def n_minus_1(feeder: Feeder, *, v_min_pu: float = 0.95, v_max_pu: float = 1.05, loading_limit: float = 1.0,
              restore: bool = True, s_max_kva=None, lines=None) -> NMinus1Result:
    """Check a radial feeder against the loss of each line, closing a tie line to restore supply.

    For the base case and then for every in-service line (the N-1
    criterion: Kundur 1994, sec. 2.1; Wood, Wollenberg and Sheblé 2014, ch. 7):

    1. take the line out; the buses it cut off from the substation lose supply;
    2. with ``restore=True``, try every normally-open tie line (``in_service``
       False in ``feeder.lines``) with one end in the cut-off part and one in
       the supplied part: closing it reconnects the cut-off buses and leaves
       the feeder radial (a tree minus one edge plus an edge between its two
       parts is a tree; Baran and Wu 1989).  Ties with both ends on one side
       would close a loop and are not tried;
    3. run the AC power flow (:func:`te_course.powerflow.ac_power_flow`) of
       each candidate and keep the best: no violation first, then the highest
       minimum voltage.  A candidate without a power-flow solution is dropped.
       Restoring supply is preferred to shedding load even when the restored
       feeder violates a limit (the violation is then reported);
    4. without a restoring tie, the cut-off buses stay unsupplied (their load
       is shed) and the power flow runs on the supplied part.

    Parameters
    ----------
    feeder : Feeder
        A radial feeder; its out-of-service lines are the tie lines
        (``ieee33(tie_lines=True)`` has the five of Baran and Wu).
    v_min_pu, v_max_pu : float, optional
        Voltage limits at every supplied bus.
    loading_limit : float, optional
        Largest acceptable ``|S| / s_max_kva`` (1.0: the thermal limit itself).
    restore : bool, optional
        Whether to close tie lines after a line is out.
    s_max_kva : float, dict or pandas.Series, optional
        Thermal limits (kVA) used for the loading: one number for every line,
        or a limit per line label (NaN for none; lines not named keep the
        feeder's ``lines["s_max_kva"]``).  Default: the feeder's limits.  The
        IEEE 33-bus data of Baran and Wu have no thermal limits, so without
        this argument the loading there is NaN and only voltages are checked.
        The loading of a line is the larger apparent power of its two ends
        divided by its limit.
    lines : list, optional
        The lines to take out, by label (default: every in-service line).

    Returns
    -------
    NMinus1Result
        ``table`` with one row per contingency, ``v_pu`` and ``loading``.

    Raises
    ------
    TypeError
        If ``feeder`` is not a Feeder.
    ValueError
        If the feeder is not radial (the message names the loop), a limit is
        not a positive number, ``v_min_pu >= v_max_pu``, or ``lines`` or
        ``s_max_kva`` name a line that is not in the feeder (or, for
        ``lines``, not in service).

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> res = n_minus_1(ieee33(tie_lines=True), v_min_pu=0.9)
    >>> res.table.loc[["base", 1, 8, 17], ["tie_closed", "load_not_served_kw", "min_v_pu", "min_v_bus"]].round(4)
                tie_closed  load_not_served_kw  min_v_pu min_v_bus
    contingency
    base              None                 0.0    0.9131        18
    1                 None              3715.0    1.0000         1
    8                   35                 0.0    0.9298        33
    17                  36                 0.0    0.9122        18
    >>> res.table.loc[1, "violations"]
    'load shed: 3715 kW at bus(es) [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] and 20 more'
    """
    feeder = check_feeder(feeder)
    v_min, v_max = voltage_limits(v_min_pu, v_max_pu)
    limit = as_positive_float(loading_limit, "loading_limit")
    feeder.check_radial()
    check = _Check(feeder, _line_limits(feeder, s_max_kva), v_min, v_max, limit)
    cases = [("base", _base_case(check))]  # then each line out in turn (steps 1 to 4)
    cases += [(_label(line), _outage(check, line, restore)) for line in _lines_to_lose(feeder, lines)]
    return _result(cases, check)


# --------------------------------------------------------------------------- the steps of n_minus_1


class _Check(NamedTuple):
    """What every configuration is checked against: the feeder, its line limits (kVA) and the limits."""

    feeder: Feeder
    limits: pd.Series
    v_min: float
    v_max: float
    loading_limit: float


class _Case(NamedTuple):
    """One contingency: its table row, bus voltages (p.u.) and line loadings."""

    row: dict
    v_pu: pd.Series
    loading: pd.Series


def _line_limits(feeder: Feeder, s_max_kva) -> pd.Series:
    """Thermal limit of every line (kVA, NaN for none): the feeder's, overridden by ``s_max_kva``."""
    limits = feeder.lines["s_max_kva"].astype(float).copy()
    if s_max_kva is None:
        return limits
    if isinstance(s_max_kva, Mapping | pd.Series):
        for line, value in dict(s_max_kva).items():
            if line not in limits.index:
                raise ValueError(
                    f"`s_max_kva` names line {_label(line)!r}, which is not a line of the feeder "
                    f"{feeder.name!r}; use the labels of `feeder.lines`."
                )
            v = as_finite_float(value, f"s_max_kva[{_label(line)!r}]") if not _is_nan(value) else math.nan
            if not (math.isnan(v) or v > 0):
                raise ValueError(
                    f"`s_max_kva[{_label(line)!r}]` must be a positive limit in kVA (or NaN for none); got {value!r}."
                )
            limits[line] = v
        return limits
    value = as_positive_float(s_max_kva, "s_max_kva")
    limits[:] = value
    return limits


def _is_nan(value) -> bool:
    """Whether ``value`` is a float NaN (the "no limit" of ``s_max_kva``)."""
    return isinstance(value, float | np.floating) and math.isnan(value)


def _lines_to_lose(feeder: Feeder, lines) -> list:
    """Return the in-service lines to take out: ``lines`` checked, or every in-service line."""
    if lines is None:
        return list(feeder.lines.index[feeder.lines["in_service"].to_numpy()])
    if isinstance(lines, str | bytes) or not hasattr(lines, "__iter__"):
        lines = [lines]
    out_lines = list(lines)
    for line in out_lines:
        if line not in feeder.lines.index:
            raise ValueError(f"`lines` names line {_label(line)!r}, which is not a line of the feeder "
                             f"{feeder.name!r}.")
        if not feeder.lines.loc[line, "in_service"]:
            raise ValueError(f"`lines` names line {_label(line)!r}, which is out of service (a tie line): "
                             "only in-service lines can be lost.")
    return out_lines


def _base_case(check: _Check) -> _Case:
    """Check the feeder as it is, nothing out."""
    feeder = check.feeder
    everyone = np.ones(feeder.n_buses, dtype=bool)
    row, v, loading = _assess_configuration(check, _run_configuration(feeder, feeder.lines["in_service"].to_numpy(),
                                                                      everyone), everyone)
    return _Case({"from_bus": None, "to_bus": None, "tie_closed": None, "ties_tried": 0, **row}, v, loading)


def _outage(check: _Check, line, restore: bool) -> _Case:
    """Line ``line`` out: the best restoring tie closed, or the cut-off buses shed (steps 1 to 4)."""
    feeder = check.feeder
    j = feeder.lines.index.get_loc(line)
    live = feeder.lines["in_service"].to_numpy().copy()
    live[j] = False
    supplied = _supplied(feeder, live)
    candidates = _restoring_ties(feeder, supplied) if restore else []
    best = _best_restoration(check, live, candidates)
    if best is not None:
        tie, case = best
    else:
        tie = None
        case = _assess_configuration(check, _run_configuration(feeder, live, supplied), supplied)
    ends = {"from_bus": _label(feeder.lines.iloc[j]["from_bus"]), "to_bus": _label(feeder.lines.iloc[j]["to_bus"])}
    return case._replace(row={**ends, "tie_closed": tie, "ties_tried": len(candidates), **case.row})


def _supplied(feeder: Feeder, live: np.ndarray) -> np.ndarray:
    """Which buses the lines ``live`` (in-service mask) connect to the substation."""
    n = feeder.n_buses
    f, t, _ = in_service_ends(feeder)
    adj = sp.coo_matrix((np.ones(int(live.sum())), (f[live], t[live])), shape=(n, n))
    comp = connected_components(adj, directed=False)[1]
    return comp == comp[feeder.buses.index.get_loc(feeder.substation)]


def _restoring_ties(feeder: Feeder, supplied: np.ndarray) -> list[int]:
    """Positions of the tie lines with one end supplied and one cut off: closing one keeps the feeder radial."""
    f, t, _ = in_service_ends(feeder)
    ties = np.flatnonzero(~feeder.lines["in_service"].to_numpy())
    return [int(i) for i in ties if supplied[f[i]] != supplied[t[i]]]


def _best_restoration(check: _Check, live: np.ndarray, candidates: list[int]) -> tuple[object, _Case] | None:
    """Return the best tie to close and its case (no violation first, then the highest minimum voltage), or None."""
    feeder = check.feeder
    everyone = np.ones(feeder.n_buses, dtype=bool)
    best = None
    for i in candidates:
        trial = live.copy()
        trial[i] = True
        res = _run_configuration(feeder, trial, everyone)
        if res is None:
            continue
        case = _assess_configuration(check, res, everyone)
        key = (not case.row["secure"], -case.row["min_v_pu"])
        if best is None or key < best[0]:
            best = (key, _label(feeder.lines.index[i]), case)
    return None if best is None else best[1:]


def _run_configuration(feeder: Feeder, live: np.ndarray, supplied: np.ndarray) -> PowerFlowResult | None:
    """AC power flow of the supplied part with the in-service mask ``live``; None if it has no solution."""
    lines = feeder.lines.copy()
    lines["in_service"] = live
    if supplied.all():
        part = feeder.replace(lines=lines)
    else:
        pos = feeder.buses.index.get_indexer
        keep = supplied[pos(lines["from_bus"])] & supplied[pos(lines["to_bus"])]
        part = feeder.replace(buses=feeder.buses[supplied].copy(), lines=lines[keep])
    try:
        return ac_power_flow(part)
    except ConvergenceError:
        return None


def _assess_configuration(check: _Check, res: PowerFlowResult | None, supplied: np.ndarray) -> _Case:
    """Table row, voltages and loadings of one configuration (``res`` None: no power-flow solution)."""
    feeder = check.feeder
    buses = feeder.buses.index
    lost = tuple(_label(b) for b in buses[~supplied])
    p = feeder.buses["p_kw"].to_numpy()
    shed = float(np.clip(p[~supplied], 0.0, None).sum())
    words = []
    if res is None:
        v = pd.Series(np.nan, index=buses)
        loading = pd.Series(np.nan, index=feeder.lines.index)
        summary = {"min_v_pu": math.nan, "min_v_bus": None, "max_v_pu": math.nan,
                   "max_loading": math.nan, "max_loading_line": None}
        words.append("no power-flow solution (the voltage collapses): the supplied part cannot carry its load")
        loss = math.nan
    else:
        v = res.v_pu.reindex(buses)
        loading = line_loading(res, check.limits).reindex(feeder.lines.index)
        summary, words = assess(v, loading, check.limits, check.v_min, check.v_max, check.loading_limit)
        loss = res.total_loss_kw
    if shed > 0:
        words.insert(0, f"load shed: {shed:g} kW at bus(es) {labels_text(list(lost))}")
    row = {"buses_lost": lost, "load_not_served_kw": shed, **summary, "loss_kw": loss,
           "secure": not words, "violations": "; ".join(words)}
    return _Case(row, v, loading)


def _result(cases: list[tuple[object, _Case]], check: _Check) -> NMinus1Result:
    """Assemble the table (labels kept as objects) and the voltage and loading frames."""
    names = [name for name, _ in cases]
    rows = [case.row for _, case in cases]
    table = pd.DataFrame(rows, index=pd.Index(names, name="contingency", dtype=object))
    for col in ("from_bus", "to_bus", "tie_closed", "min_v_bus", "max_loading_line"):  # labels, None: none
        table[col] = pd.Series([r[col] for r in rows], index=table.index, dtype=object)
    return NMinus1Result(
        table=table,
        v_pu=pd.concat([case.v_pu.rename(name) for name, case in cases], axis=1),
        loading=pd.concat([case.loading.rename(name) for name, case in cases], axis=1),
        v_min_pu=check.v_min,
        v_max_pu=check.v_max,
        loading_limit=check.loading_limit,
    )
