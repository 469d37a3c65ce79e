"""Security of feeders and markets: N-1 contingencies, false bids, false offers, and a mitigation.

"Security" means two things in transactive energy, and this module measures both.

Operational security: the N-1 criterion
----------------------------------------
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

Cyber and market security: false data from a compromised agent
--------------------------------------------------------------
A market or an operator that acts on the data it receives can be steered by
whoever forges that data.  Liu, Ning and Reiter ("False data injection
attacks against state estimation in electric power grids", ACM CCS 2009)
showed that forged measurements can pass the operator's checks; Xie, Mo and
Sinopoli ("Integrity data attacks in power market operations", IEEE Trans.
Smart Grid 2(4), 659-666, 2011) showed that they can move market prices for
profit.  Here the forged data are orders and offers:

- :func:`false_bid_attack`: phantom orders injected into the double auction
  of chapter 1 (:func:`te_course.auction.clear_double_auction`) move the
  price and the traded quantity; phantom energy is never delivered, so the
  *true* welfare falls;
- :func:`false_offer_on_feeder`: a compromised DER reports a large, cheap
  offer; the operator dispatches the feeder on it (:func:`te_course.dlmp.dlmp`)
  and the real feeder, with the real injections, runs under its voltage limit
  (:func:`te_course.powerflow.ac_power_flow`);
- the mitigation, :func:`screen_orders`: bounds on accepted orders (a price
  floor and cap, quantities within each agent's registered capacity) and the
  robust outlier test of Iglewicz and Hoaglin (:func:`robust_z`), measured by
  :func:`mitigate_false_bids` and by the ``screen`` option of
  :func:`false_offer_on_feeder`: how much of the damage they remove, and what
  they cost honest traders (false positives).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ._validation import (
    ConvergenceError,
    TeCourseError,
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_positive_float,
    check_finite,
    check_fraction,
    check_magnitude,
    check_nonnegative,
)
from .auction import clear_double_auction, parse_orders
from .dlmp import DLMPProblem, _check_ders, _check_pu, dlmp
from .feeders import Feeder, _label
from .powerflow import PowerFlowResult, _check_feeder, ac_power_flow

__all__ = [
    "NMinus1Result",
    "n_minus_1",
    "MarketOutcome",
    "FalseBidResult",
    "false_bid_attack",
    "robust_z",
    "Screening",
    "screen_orders",
    "MitigationResult",
    "mitigate_false_bids",
    "FeederAttackResult",
    "false_offer_on_feeder",
]

_V_TOL = 1e-6  # p.u.: a voltage this close to its limit is within it (the OPF's solver tolerance)
_LOAD_TOL = 1e-9  # relative: a loading this close to its limit is within it
_MAD_SCALE = 0.6745  # Phi^-1(0.75): makes the MAD comparable with a standard deviation
_SHOW = 12  # how many bus labels a sentence lists before "and N more"
_V_LOOSE = (0.01, 2.0)  # p.u.: voltage "limits" of a dispatch on price alone
_V_FLOOR = 0.5  # p.u.: the lowest voltage limit an operator would still try to hold
_V_BISECT = 5e-4  # p.u.: precision of the highest voltage limit the offers can hold


# =========================================================================== shared: limits in words


def _labels_text(labels) -> str:
    shown = [_label(b) for b in labels[:_SHOW]]
    more = f" and {len(labels) - _SHOW} more" if len(labels) > _SHOW else ""
    return f"{shown}{more}"


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
    return isinstance(value, float | np.floating) and math.isnan(value)


def _line_loading(res: PowerFlowResult, limits: pd.Series) -> pd.Series:
    """|S| / s_max per line, the larger of the two ends; NaN where no limit or out of service."""
    s_from = res.p_kw + 1j * res.q_kvar
    s_to = s_from - (res.loss_kw + 1j * res.loss_kvar)  # what leaves the line at its to_bus end
    s_abs = np.maximum(np.abs(s_from), np.abs(s_to))
    loading = s_abs / limits.reindex(res.p_kw.index)
    loading[~res.lines["in_service"].to_numpy()] = np.nan
    return loading.astype(float)


def _assess(v_pu: pd.Series, loading: pd.Series, limits: pd.Series, v_min: float, v_max: float,
            loading_limit: float) -> tuple[dict, list[str]]:
    """Summary numbers and the violated limits, in words, of one operating point."""
    v = v_pu.dropna()
    out = {
        "min_v_pu": float(v.min()),
        "min_v_bus": _label(v.idxmin()),
        "max_v_pu": float(v.max()),
        "max_loading": math.nan,
        "max_loading_line": None,
    }
    words = []
    low = v[v < v_min - _V_TOL]
    if len(low):
        where = f"bus {_label(low.index[0])}" if len(low) == 1 else f"buses {_labels_text(list(low.index))}"
        words.append(f"undervoltage at {where} (lowest {low.min():.4f} p.u. at bus {_label(low.idxmin())})")
    high = v[v > v_max + _V_TOL]
    if len(high):
        where = f"bus {_label(high.index[0])}" if len(high) == 1 else f"buses {_labels_text(list(high.index))}"
        words.append(f"overvoltage at {where} (highest {high.max():.4f} p.u. at bus {_label(high.idxmax())})")
    ld = loading.dropna()
    if len(ld):
        out["max_loading"] = float(ld.max())
        out["max_loading_line"] = _label(ld.idxmax())
        for line, value in ld[ld > loading_limit * (1 + _LOAD_TOL)].items():
            words.append(f"overload on line {_label(line)} ({100 * value:.1f}% of {limits[line]:g} kVA)")
    return out, words


def _violation(summary: dict, v_min: float, v_max: float) -> float:
    """How far (p.u.) the worst voltage lies outside [v_min, v_max]; 0 within the tolerance."""
    worst = max(v_min - summary["min_v_pu"], summary["max_v_pu"] - v_max)
    return float(worst) if worst > _V_TOL else 0.0


def _injected(feeder: Feeder, ders: pd.DataFrame, p_kw: np.ndarray) -> Feeder:
    """Return the feeder with the DERs' outputs ``p_kw`` subtracted from their buses' loads."""
    load = feeder.buses["p_kw"].to_numpy().copy()
    np.subtract.at(load, feeder.buses.index.get_indexer(ders["bus"]), np.asarray(p_kw, dtype=float))
    return feeder._replace(buses=feeder.buses.assign(p_kw=load))


# =========================================================================== N-1


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


def _components(n: int, f: np.ndarray, t: np.ndarray, live: np.ndarray) -> np.ndarray:
    adj = sp.coo_matrix((np.ones(int(live.sum())), (f[live], t[live])), shape=(n, n))
    return connected_components(adj, directed=False)[1]


def _run_configuration(feeder: Feeder, live: np.ndarray, supplied: np.ndarray):
    """AC power flow of the supplied part with the in-service mask ``live``; None if it has no solution."""
    lines = feeder.lines.copy()
    lines["in_service"] = live
    if supplied.all():
        part = feeder._replace(lines=lines)
    else:
        pos = feeder.buses.index.get_indexer
        keep = supplied[pos(lines["from_bus"])] & supplied[pos(lines["to_bus"])]
        part = feeder._replace(buses=feeder.buses[supplied].copy(), lines=lines[keep])
    try:
        return ac_power_flow(part)
    except ConvergenceError:
        return None


def _contingency_row(feeder, res, supplied, limits, v_min, v_max, loading_limit):
    """Table row, voltages and loadings of one configuration (``res`` None: no power-flow solution)."""
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
        loading = _line_loading(res, limits).reindex(feeder.lines.index)
        summary, words = _assess(v, loading, limits, v_min, v_max, loading_limit)
        loss = res.total_loss_kw
    if shed > 0:
        words.insert(0, f"load shed: {shed:g} kW at bus(es) {_labels_text(list(lost))}")
    row = {"buses_lost": lost, "load_not_served_kw": shed, **summary, "loss_kw": loss,
           "secure": not words, "violations": "; ".join(words)}
    return row, v, loading


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
    feeder = _check_feeder(feeder)
    v_min = as_positive_float(v_min_pu, "v_min_pu")
    v_max = as_positive_float(v_max_pu, "v_max_pu")
    if v_min >= v_max:
        raise ValueError(f"`v_min_pu` ({v_min}) must be below `v_max_pu` ({v_max}).")
    limit = as_positive_float(loading_limit, "loading_limit")
    feeder.check_radial()
    limits = _line_limits(feeder, s_max_kva)
    live0 = feeder.lines["in_service"].to_numpy()
    if lines is None:
        out_lines = list(feeder.lines.index[live0])
    else:
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

    n = feeder.n_buses
    f, t, _ = feeder._in_service_arrays()
    sub = feeder.buses.index.get_loc(feeder.substation)
    ties = np.flatnonzero(~live0)
    rows, volts, loads, names = [], [], [], []

    def record(name, row, v, loading):
        names.append(name)
        rows.append(row)
        volts.append(v.rename(name))
        loads.append(loading.rename(name))

    everyone = np.ones(n, dtype=bool)
    row, v, loading = _contingency_row(feeder, _run_configuration(feeder, live0, everyone), everyone, limits,
                                       v_min, v_max, limit)
    record("base", {"from_bus": None, "to_bus": None, "tie_closed": None, "ties_tried": 0, **row}, v, loading)

    for line in out_lines:
        j = feeder.lines.index.get_loc(line)
        live = live0.copy()
        live[j] = False
        comp = _components(n, f, t, live)
        supplied = comp == comp[sub]
        candidates = [i for i in ties if supplied[f[i]] != supplied[t[i]]] if restore else []
        best = None
        for i in candidates:
            trial = live.copy()
            trial[i] = True
            res = _run_configuration(feeder, trial, everyone)
            if res is None:
                continue
            r, vv, ll = _contingency_row(feeder, res, everyone, limits, v_min, v_max, limit)
            key = (not r["secure"], -r["min_v_pu"])
            if best is None or key < best[0]:
                best = (key, i, r, vv, ll)
        if best is not None:
            _, i, r, vv, ll = best
            tie = _label(feeder.lines.index[i])
        else:
            tie = None
            r, vv, ll = _contingency_row(feeder, _run_configuration(feeder, live, supplied), supplied, limits,
                                         v_min, v_max, limit)
        ends = {"from_bus": _label(feeder.lines.iloc[j]["from_bus"]), "to_bus": _label(feeder.lines.iloc[j]["to_bus"])}
        record(_label(line), {**ends, "tie_closed": tie, "ties_tried": len(candidates), **r}, vv, ll)

    table = pd.DataFrame(rows, index=pd.Index(names, name="contingency", dtype=object))
    for col in ("from_bus", "to_bus", "tie_closed", "min_v_bus", "max_loading_line"):  # labels, None: none
        table[col] = pd.Series([r[col] for r in rows], index=table.index, dtype=object)
    return NMinus1Result(
        table=table,
        v_pu=pd.concat(volts, axis=1),
        loading=pd.concat(loads, axis=1),
        v_min_pu=v_min,
        v_max_pu=v_max,
        loading_limit=limit,
    )


# =========================================================================== false bids in the double auction


def _optional_book(orders, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Like parse_orders, but None or an empty list means no orders."""
    if orders is None or (not isinstance(orders, pd.DataFrame) and np.size(orders) == 0) or (
        isinstance(orders, pd.DataFrame) and len(orders) == 0
    ):
        return np.zeros(0), np.zeros(0)
    return parse_orders(orders, name)


@dataclass(frozen=True)
class MarketOutcome:
    """A cleared market seen with the knowledge of which orders were phantom.

    Phantom (fake) orders take part in the clearing but deliver nothing: a
    phantom ask's energy never arrives and a phantom bid never takes or pays
    for the energy matched with it.  So the energy actually delivered is
    ``min(X, Y)`` with ``X`` the genuine buyers' fills and ``Y`` the genuine
    sellers' fills.  The pool cannot tell whose energy was phantom: when
    ``X > Y`` every genuine buyer is served the share ``Y / X`` of its fill,
    and when ``Y > X`` every genuine seller delivers the share ``X / Y`` of
    its fill (the rest is not produced).  Buyers pay the price for what they
    are served and sellers receive it for what they deliver.

    Attributes
    ----------
    price : float
        Clearing price (NaN when nothing trades).
    quantity_kwh : float
        Quantity the market cleared (genuine and phantom).
    delivered_kwh : float
        Energy genuinely delivered, ``min(X, Y)``.
    welfare : float
        True welfare: ``sum bid * served - sum ask * delivered`` over the
        genuine orders.
    welfare_reported : float
        The welfare the market believes it made (every filled order counted at
        its reported price, phantom ones included).
    buyer_surplus, seller_surplus : float
        ``sum (bid - price) * served`` and ``sum (price - ask) * delivered``
        (they add up to ``welfare``).
    book : pandas.DataFrame
        One row per order: ``side``, ``order`` (position in its book),
        ``fake``, ``price``, ``quantity``, ``fill`` (as cleared) and
        ``delivered`` (served or delivered energy; 0 for phantom orders).
    """

    price: float
    quantity_kwh: float
    delivered_kwh: float
    welfare: float
    welfare_reported: float
    buyer_surplus: float
    seller_surplus: float
    book: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of :attr:`book`, one row per order."""
        return self.book.copy()

    def summary(self) -> dict:
        """Return the scalar fields as a dict (one row of a comparison table)."""
        return {
            "price": self.price,
            "quantity_kwh": self.quantity_kwh,
            "delivered_kwh": self.delivered_kwh,
            "welfare": self.welfare,
            "welfare_reported": self.welfare_reported,
            "buyer_surplus": self.buyer_surplus,
            "seller_surplus": self.seller_surplus,
        }


def _outcome(bid_p, bid_q, bid_fake, ask_p, ask_q, ask_fake, k, bid_pos=None, ask_pos=None) -> MarketOutcome:
    """Clear the books (genuine and phantom orders together) and count what is really delivered.

    ``bid_pos``, ``ask_pos``: each order's position in the book it came from (default: 0, 1, ...).
    """
    if bid_p.size and ask_p.size:
        r = clear_double_auction(np.c_[bid_p, bid_q], np.c_[ask_p, ask_q], k=k)
        price, quantity, reported = r.price, r.quantity, r.welfare
        bf, sf = r.buyer_fills, r.seller_fills
    else:  # a side has no order left: nothing trades
        price, quantity, reported = math.nan, 0.0, 0.0
        bf, sf = np.zeros(bid_p.size), np.zeros(ask_p.size)
    x = math.fsum(bf[~bid_fake])
    y = math.fsum(sf[~ask_fake])
    served = np.where(bid_fake, 0.0, bf * (min(1.0, y / x) if x > 0 else 0.0))
    delivered = np.where(ask_fake, 0.0, sf * (min(1.0, x / y) if y > 0 else 0.0))
    p = 0.0 if math.isnan(price) else price
    buyer = float((bid_p - p) @ served)
    seller = float((p - ask_p) @ delivered)
    book = pd.concat(
        [
            pd.DataFrame({"side": "buyer", "order": np.arange(bid_p.size) if bid_pos is None else bid_pos,
                          "fake": bid_fake, "price": bid_p, "quantity": bid_q, "fill": bf, "delivered": served}),
            pd.DataFrame({"side": "seller", "order": np.arange(ask_p.size) if ask_pos is None else ask_pos,
                          "fake": ask_fake, "price": ask_p, "quantity": ask_q, "fill": sf, "delivered": delivered}),
        ],
        ignore_index=True,
    )
    return MarketOutcome(
        price=float(price),
        quantity_kwh=float(quantity),
        delivered_kwh=float(min(x, y)),
        welfare=float(bid_p @ served - ask_p @ delivered),
        welfare_reported=float(reported),
        buyer_surplus=buyer,
        seller_surplus=seller,
        book=book,
    )


def _books(bids, asks, fake_bids, fake_asks):
    """Genuine and phantom orders of both sides as (price, quantity, fake) arrays."""
    bp, bq = parse_orders(bids, "bids")
    ap, aq = parse_orders(asks, "asks")
    fbp, fbq = _optional_book(fake_bids, "fake_bids")
    fap, faq = _optional_book(fake_asks, "fake_asks")
    bid = (np.r_[bp, fbp], np.r_[bq, fbq], np.r_[np.zeros(bp.size, bool), np.ones(fbp.size, bool)])
    ask = (np.r_[ap, fap], np.r_[aq, faq], np.r_[np.zeros(ap.size, bool), np.ones(fap.size, bool)])
    return bid, ask


@dataclass(frozen=True)
class FalseBidResult:
    """The honest market and the market with phantom orders injected.

    Attributes
    ----------
    honest : MarketOutcome
        The genuine orders alone.
    attacked : MarketOutcome
        Genuine and phantom orders cleared together; phantom orders come after
        the genuine ones of their side in ``attacked.book``.
    """

    honest: MarketOutcome
    attacked: MarketOutcome

    @property
    def price_shift(self) -> float:
        """``attacked.price - honest.price`` (NaN when either market does not trade)."""
        return self.attacked.price - self.honest.price

    @property
    def welfare_loss(self) -> float:
        """``honest.welfare - attacked.welfare``: the true welfare destroyed by the attack (>= 0)."""
        return self.honest.welfare - self.attacked.welfare

    def to_frame(self) -> pd.DataFrame:
        """Return one row per market (``honest``, ``attacked``) with the scalar results."""
        return pd.DataFrame([self.honest.summary(), self.attacked.summary()], index=["honest", "attacked"])


def false_bid_attack(bids, asks, *, fake_bids=None, fake_asks=None, k: float = 0.5) -> FalseBidResult:
    """Clear the double auction with and without a compromised agent's phantom orders.

    The market (:func:`te_course.auction.clear_double_auction`, k-rule
    price) cannot tell the phantom orders from the genuine ones, so they move
    the price and the quantity cleared.  They deliver nothing: genuine buyers
    matched with phantom supply are not served, and genuine sellers matched
    with phantom demand do not produce (the exact rule, pro rata, is in
    :class:`MarketOutcome`).  The *true* welfare counts only the energy
    genuinely delivered; it never exceeds the honest welfare, which is the
    largest welfare the genuine orders allow.  A phantom ask at a low price
    pulls the price down and crowds out genuine sellers (a denial of
    service); a phantom bid at a high price pushes the price up, which the
    genuine sellers gain from (price manipulation, as in Xie, Mo and Sinopoli,
    "Integrity data attacks in power market operations", IEEE Trans. Smart
    Grid 2(4), 2011).

    Parameters
    ----------
    bids, asks : array_like or pandas.DataFrame
        The genuine orders, in any format of :func:`te_course.auction.parse_orders`.
    fake_bids, fake_asks : array_like or pandas.DataFrame, optional
        The phantom orders injected, in the same formats (None: none).
    k : float, optional
        The k of the k-rule price, ``lo + k (hi - lo)``.

    Returns
    -------
    FalseBidResult
        ``honest`` and ``attacked`` outcomes, ``price_shift``, ``welfare_loss``.

    Raises
    ------
    ValueError
        If an order has a NaN price or a quantity that is not positive (naming
        the argument), or ``k`` is outside [0, 1].

    Examples
    --------
    The seed market (bids 12, 10, 8; asks 5, 7, 9) and a phantom ask of
    10 kWh at price 0: the price falls to 0, all three buyers are matched,
    all with phantom energy, so nothing is delivered.

    >>> res = false_bid_attack([12, 10, 8], [5, 7, 9], fake_asks=[(0.0, 10.0)])
    >>> res.to_frame()[["price", "quantity_kwh", "delivered_kwh", "welfare", "welfare_reported"]]
              price  quantity_kwh  delivered_kwh  welfare  welfare_reported
    honest      8.5           2.0            2.0     10.0              10.0
    attacked    0.0           3.0            0.0      0.0              30.0
    >>> res.price_shift, res.welfare_loss
    (-8.5, 10.0)
    """
    k = check_fraction(k, "k")
    (bp, bq, bfake), (ap, aq, afake) = _books(bids, asks, fake_bids, fake_asks)
    honest = _outcome(bp[~bfake], bq[~bfake], bfake[~bfake], ap[~afake], aq[~afake], afake[~afake], k)
    attacked = _outcome(bp, bq, bfake, ap, aq, afake, k)
    return FalseBidResult(honest=honest, attacked=attacked)


# =========================================================================== mitigation: screening


def robust_z(values) -> np.ndarray:
    """Return the modified (robust) z-score of each value.

    Iglewicz and Hoaglin (*How to Detect and Handle Outliers*, ASQC Quality
    Press 1993, ch. 3)::

        M_i = 0.6745 (x_i - median(x)) / MAD,   MAD = median(|x_i - median(x)|)

    0.6745 is the 0.75 quantile of the standard normal, so that ``M`` is a
    z-score for normal data; unlike the mean and the standard deviation, the
    median and the MAD are not dragged by the outliers themselves.  They
    recommend flagging ``|M_i| > 3.5``.  When the MAD is 0 (more than half
    the values are equal) ``M`` is 0 at the median and infinite elsewhere.

    Parameters
    ----------
    values : array_like
        At least one finite number.

    Returns
    -------
    numpy.ndarray
        ``M_i`` for each value.

    Examples
    --------
    >>> robust_z([10, 11, 12, 13, 100]).round(4)
    array([-1.349 , -0.6745,  0.    ,  0.6745, 59.356 ])
    >>> robust_z([1, 1, 1, 10])
    array([ 0.,  0.,  0., inf])
    """
    x = as_1d_float(values, "values")
    check_finite(x, "values")
    med = np.median(x)
    dev = x - med
    mad = float(np.median(np.abs(dev)))
    if mad > 0:
        return _MAD_SCALE * dev / mad
    return np.where(dev > 0, np.inf, np.where(dev < 0, -np.inf, 0.0))


@dataclass(frozen=True)
class Screening:
    """Which orders a screen accepts, and why it rejects the others.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per order (in input order): ``price``, ``quantity``,
        ``registered`` (the registered capacity, kW; inf for no limit),
        ``z_price``, ``z_quantity`` (robust z-scores, NaN when not tested),
        ``accepted``, ``quantity_accepted`` (after clipping to the registered
        capacity; 0 when rejected) and ``reason`` (why the order was rejected
        or clipped, in words; "" when it passed untouched).
    """

    table: pd.DataFrame

    @property
    def accepted_mask(self) -> np.ndarray:
        """Boolean array, True for the accepted orders."""
        return self.table["accepted"].to_numpy(dtype=bool)

    @property
    def accepted(self) -> pd.DataFrame:
        """The accepted orders as they enter the market: ``price``, ``quantity`` (clipped), input positions."""
        out = self.table.loc[self.accepted_mask, ["price", "quantity_accepted"]]
        return out.rename(columns={"quantity_accepted": "quantity"})

    @property
    def rejected(self) -> pd.DataFrame:
        """The rejected orders with their ``reason``."""
        return self.table.loc[~self.accepted_mask, ["price", "quantity", "reason"]]

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of :attr:`table`."""
        return self.table.copy()


def _price_bounds(price_bounds) -> tuple[float, float]:
    if price_bounds is None:
        return -math.inf, math.inf
    try:
        lo, hi = price_bounds
    except (TypeError, ValueError):
        raise TypeError(
            f"`price_bounds` must be a pair (floor, cap); use None for a missing end; got {price_bounds!r}."
        ) from None
    lo = -math.inf if lo is None else as_finite_float(lo, "price_bounds[0] (the floor)")
    hi = math.inf if hi is None else as_finite_float(hi, "price_bounds[1] (the cap)")
    if lo > hi:
        raise ValueError(f"`price_bounds` has its floor {lo} above its cap {hi}; give (floor, cap).")
    return lo, hi


def _registered(registered_kw, n: int, name: str = "registered_kw") -> np.ndarray:
    """Return the registered capacity of each order, kW (inf: no limit), from None, a number or one per order."""
    if registered_kw is None:
        return np.full(n, math.inf)
    arr = _registered_array(registered_kw, name)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must be one number or one per order ({n}); got shape {arr.shape}.")
    bad = np.isnan(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must contain non-negative capacities in kW (inf for no limit); entry {i} is {arr[i]}."
        )
    return arr


def _registered_array(registered_kw, name: str) -> np.ndarray:
    """``registered_kw`` as a float array (any shape), or an error naming ``name``."""
    if isinstance(registered_kw, str | bytes):
        raise TypeError(f"`{name}` must be a number or one number per order; got {registered_kw!r}.")
    return as_float_array(registered_kw, name, expected="a number or one number per order")


def _screen(price, quantity, registered, opts) -> Screening:
    """Apply the screen ``opts`` (from :func:`_screen_options`) to one side's orders."""
    lo, hi, z_max, dt_h, over_capacity = opts
    reasons = [[] for _ in range(price.size)]  # why rejected
    notes = [[] for _ in range(price.size)]  # what was changed
    for i in np.flatnonzero(price < lo):
        reasons[i].append(f"price {price[i]:g} below the floor {lo:g}")
    for i in np.flatnonzero(price > hi):
        reasons[i].append(f"price {price[i]:g} above the cap {hi:g}")
    cap = registered * dt_h
    kept = quantity.copy()
    for i in np.flatnonzero(quantity > cap * (1 + 1e-12)):
        what = f"quantity {quantity[i]:g} above the registered {registered[i]:g} kW x {dt_h:g} h"
        if over_capacity == "reject" or cap[i] == 0:
            reasons[i].append(what)
        else:
            notes[i].append(f"{what}, clipped to {cap[i]:g}")
            kept[i] = cap[i]
    z_p = z_q = np.full(price.size, np.nan)
    if z_max is not None:
        z_p, z_q = robust_z(price), robust_z(quantity)
        for what, z in (("price", z_p), ("quantity", z_q)):
            for i in np.flatnonzero(np.abs(z) > z_max):
                reasons[i].append(f"{what} is an outlier (robust z = {z[i]:.3g}, |z| > {z_max:g})")
    accepted = np.array([not r for r in reasons], dtype=bool)
    table = pd.DataFrame({
        "price": price, "quantity": quantity, "registered": registered, "z_price": z_p, "z_quantity": z_q,
        "accepted": accepted, "quantity_accepted": np.where(accepted, kept, 0.0),
        "reason": ["; ".join(r + n) for r, n in zip(reasons, notes)],
    })
    table.index.name = "order"
    return Screening(table=table)


_OVER_CAPACITY = ("clip", "reject")


def _screen_options(price_bounds, z_max, dt_h, over_capacity):
    lo, hi = _price_bounds(price_bounds)
    if z_max is not None:
        z_max = as_positive_float(z_max, "z_max")
    if over_capacity not in _OVER_CAPACITY:
        raise ValueError(f"`over_capacity` must be 'clip' or 'reject'; got {over_capacity!r}.")
    return lo, hi, z_max, as_positive_float(dt_h, "dt_h"), over_capacity


def screen_orders(orders, *, price_bounds=None, registered_kw=None, z_max: float | None = 3.5,
                  dt_h: float = 1.0, over_capacity: str = "clip") -> Screening:
    """Screen an order book: reject orders outside the bounds or far from the others.

    An order is rejected when any of these holds (each gives a reason):

    - its price is below the floor or above the cap of ``price_bounds``
      (bounds on accepted bids, the simplest market rule against
      manipulation);
    - with ``over_capacity="reject"``, its quantity (kWh) exceeds the agent's
      registered capacity times the market interval, ``registered_kw * dt_h``
      (a household with a 5 kW connection cannot sell 10 kWh in an hour).
      With ``over_capacity="clip"`` (the default) such an order is accepted
      with its quantity limited to that capacity (rejected if the capacity is 0);
    - its price or its quantity is an outlier: ``|robust_z| > z_max`` among
      the orders of the book (Iglewicz and Hoaglin 1993; see :func:`robust_z`).

    Screen each side of a market separately.  Honest orders can be rejected
    too (false positives): :func:`mitigate_false_bids` measures what that
    costs.

    Parameters
    ----------
    orders : array_like or pandas.DataFrame
        One side of a market, in any format of :func:`te_course.auction.parse_orders`.
        A DataFrame may carry a ``registered_kw`` column (per order), used
        when the ``registered_kw`` argument is None.
    price_bounds : tuple, optional
        ``(floor, cap)`` in currency per kWh; None at either end for no bound.
    registered_kw : float or array_like, optional
        Registered capacity (kW): one number for every order, or one per
        order (inf for no limit).  Default: no capacity check.
    z_max : float or None, optional
        Threshold of the robust z-score (3.5, as recommended by Iglewicz and
        Hoaglin); None switches the outlier test off.
    dt_h : float, optional
        Length of the market interval, hours.
    over_capacity : {"clip", "reject"}, optional
        What happens to an order above its registered capacity.

    Returns
    -------
    Screening
        ``accepted``, ``rejected`` (with reasons) and the full ``table``.

    Raises
    ------
    ValueError
        If an order is invalid, the floor is above the cap, a capacity is NaN
        or negative, ``z_max`` or ``dt_h`` is not positive, or
        ``over_capacity`` is neither "clip" nor "reject".

    Examples
    --------
    The seed asks with a phantom ask of 10 kWh at price 0 from an agent
    registered for 5 kW:

    >>> s = screen_orders([(5, 1), (7, 1), (9, 1), (0, 10)], price_bounds=(1, 20), registered_kw=5)
    >>> s.accepted_mask
    array([ True,  True,  True, False])
    >>> for reason in s.table.loc[3, "reason"].split("; "):
    ...     print(reason)
    price 0 below the floor 1
    quantity is an outlier (robust z = inf, |z| > 3.5)
    quantity 10 above the registered 5 kW x 1 h, clipped to 5
    """
    opts = _screen_options(price_bounds, z_max, dt_h, over_capacity)
    price, quantity = parse_orders(orders, "orders")
    name = "registered_kw"
    if registered_kw is None and isinstance(orders, pd.DataFrame) and "registered_kw" in orders.columns:
        registered_kw, name = orders["registered_kw"].to_numpy(), "orders['registered_kw']"
    return _screen(price, quantity, _registered(registered_kw, price.size, name), opts)


@dataclass(frozen=True)
class MitigationResult:
    """A market attacked with phantom orders, with and without screening.

    Attributes
    ----------
    honest, attacked : MarketOutcome
        The genuine orders alone, and with the phantom orders (no screening).
    mitigated : MarketOutcome
        The attacked books after screening (what the screen lets through).
    honest_screened : MarketOutcome
        The genuine orders alone after screening (no attack): the price of the
        screen in a market that was never attacked.
    bid_screening, ask_screening : Screening
        The screening of the attacked books, genuine orders first.
    fakes_total, fakes_caught : int
        Phantom orders injected, and rejected by the screen.
    honest_rejected : int
        Genuine orders the screen rejects in the attacked market (false positives).
    """

    honest: MarketOutcome
    attacked: MarketOutcome
    mitigated: MarketOutcome
    honest_screened: MarketOutcome
    bid_screening: Screening = field(repr=False)
    ask_screening: Screening = field(repr=False)
    fakes_total: int = 0
    fakes_caught: int = 0
    honest_rejected: int = 0

    @property
    def damage(self) -> float:
        """True welfare lost to the attack without screening: ``honest.welfare - attacked.welfare``."""
        return self.honest.welfare - self.attacked.welfare

    @property
    def damage_removed(self) -> float:
        """Share of :attr:`damage` the screen removes, ``(mitigated - attacked) / (honest - attacked)``.

        1 when the screen restores the honest welfare, 0 when it does nothing,
        negative when it makes things worse; NaN when the attack did no damage.
        """
        d = self.damage
        return (self.mitigated.welfare - self.attacked.welfare) / d if d > 1e-12 else math.nan

    @property
    def false_positive_cost(self) -> float:
        """Welfare the screen destroys in the honest market: ``honest.welfare - honest_screened.welfare``."""
        return self.honest.welfare - self.honest_screened.welfare

    def to_frame(self) -> pd.DataFrame:
        """Return one row per market with the scalar results and ``welfare_loss`` against the honest market."""
        rows = [self.honest, self.attacked, self.mitigated, self.honest_screened]
        out = pd.DataFrame([r.summary() for r in rows], index=["honest", "attacked", "mitigated", "honest_screened"])
        out["welfare_loss"] = self.honest.welfare - out["welfare"]
        return out


def mitigate_false_bids(bids, asks, *, fake_bids=None, fake_asks=None, k: float = 0.5, price_bounds=None,
                        registered_kw=None, z_max: float | None = 3.5, dt_h: float = 1.0,
                        over_capacity: str = "clip") -> MitigationResult:
    """Measure a screen (:func:`screen_orders`) against phantom orders in the double auction.

    Four markets are cleared (as in :func:`false_bid_attack`): the honest one,
    the attacked one, the attacked one after screening each side, and the
    honest one after screening (to see what the screen costs when nobody
    attacks).  The screen sees every order of a side together, genuine and
    phantom, as a market operator would.

    Parameters
    ----------
    bids, asks, fake_bids, fake_asks, k
        As in :func:`false_bid_attack`.
    price_bounds, registered_kw, z_max, dt_h, over_capacity
        As in :func:`screen_orders`; ``registered_kw`` is one number for every
        order, or None to read a ``registered_kw`` column of each DataFrame
        book (orders without one have no capacity limit).

    Returns
    -------
    MitigationResult
        The four outcomes, the screenings, ``damage``, ``damage_removed``,
        ``false_positive_cost``, and how many phantom and genuine orders were
        rejected.

    Examples
    --------
    A price floor of 1 and a registered capacity of 5 kW catch the phantom ask
    of 10 kWh at 0; the seed market's honest outcome is restored.

    >>> res = mitigate_false_bids([12, 10, 8], [5, 7, 9], fake_asks=[(0.0, 10.0)], price_bounds=(1, 20),
    ...                           registered_kw=5)
    >>> res.to_frame()[["price", "quantity_kwh", "welfare", "welfare_loss"]]
                     price  quantity_kwh  welfare  welfare_loss
    honest             8.5           2.0     10.0           0.0
    attacked           0.0           3.0      0.0          10.0
    mitigated          8.5           2.0     10.0           0.0
    honest_screened    8.5           2.0     10.0           0.0
    >>> res.damage_removed, res.false_positive_cost, res.fakes_caught, res.honest_rejected
    (1.0, 0.0, 1, 0)
    """
    k = check_fraction(k, "k")
    opts = _screen_options(price_bounds, z_max, dt_h, over_capacity)
    (bp, bq, bfake), (ap, aq, afake) = _books(bids, asks, fake_bids, fake_asks)

    if registered_kw is not None and _registered_array(registered_kw, "registered_kw").ndim != 0:
        raise ValueError(
            "`registered_kw` must be one number for every order here; give per-order capacities as a "
            "'registered_kw' column of the DataFrame books (bids, asks, fake_bids, fake_asks)."
        )

    def registry(genuine, fake, n_genuine, n_fake, side):
        if registered_kw is not None:
            return _registered(registered_kw, n_genuine + n_fake)
        parts = []
        for book, n, name in ((genuine, n_genuine, side), (fake, n_fake, f"fake_{side}")):
            if isinstance(book, pd.DataFrame) and "registered_kw" in book.columns:
                parts.append(_registered(book["registered_kw"].to_numpy(), n, f"{name}['registered_kw']"))
            else:
                parts.append(np.full(n, math.inf))
        return np.concatenate(parts)

    nb, na = int((~bfake).sum()), int((~afake).sum())
    b_reg = registry(bids, fake_bids, nb, bp.size - nb, "bids")
    a_reg = registry(asks, fake_asks, na, ap.size - na, "asks")
    sb = _screen(bp, bq, b_reg, opts)
    sa = _screen(ap, aq, a_reg, opts)

    def screened(p, q, fake, screening):
        ok = screening.accepted_mask
        return p[ok], screening.table["quantity_accepted"].to_numpy()[ok], fake[ok]

    def screened_outcome(b, a, b_screen, a_screen):
        """Clear the orders each screen accepts; book positions stay those before screening."""
        return _outcome(*screened(*b, b_screen), *screened(*a, a_screen), k,
                        bid_pos=np.flatnonzero(b_screen.accepted_mask), ask_pos=np.flatnonzero(a_screen.accepted_mask))

    gb, ga = ~bfake, ~afake
    honest_b = (bp[gb], bq[gb], bfake[gb])
    honest_a = (ap[ga], aq[ga], afake[ga])
    return MitigationResult(
        honest=_outcome(*honest_b, *honest_a, k),
        attacked=_outcome(bp, bq, bfake, ap, aq, afake, k),
        mitigated=screened_outcome((bp, bq, bfake), (ap, aq, afake), sb, sa),
        honest_screened=screened_outcome(honest_b, honest_a, _screen(*honest_b[:2], b_reg[gb], opts),
                                         _screen(*honest_a[:2], a_reg[ga], opts)),
        bid_screening=sb,
        ask_screening=sa,
        fakes_total=int(bfake.sum() + afake.sum()),
        fakes_caught=int((bfake & ~sb.accepted_mask).sum() + (afake & ~sa.accepted_mask).sum()),
        honest_rejected=int((gb & ~sb.accepted_mask).sum() + (ga & ~sa.accepted_mask).sum()),
    )


# =========================================================================== a false offer on the feeder


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
        if "mitigated" not in self.table.index:
            return math.nan
        t = self.table[column]
        damage = t["attacked"] - t["honest"]
        return float((t["attacked"] - t["mitigated"]) / damage) if damage > 1e-9 else math.nan

    @property
    def damage_removed(self) -> dict:
        """Share of the attack's damage removed by screening: ``{"cost": ..., "voltage": ...}``.

        ``cost`` uses ``real_cost``, ``voltage`` uses ``v_violation_pu``; each is
        ``(attacked - mitigated) / (attacked - honest)``, NaN when the attack
        did no damage of that kind or no screen was applied.
        """
        return {"cost": self._removed("real_cost"), "voltage": self._removed("v_violation_pu")}

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of :attr:`table`."""
        return self.table.copy()


def _fake_offers(fake, ders: pd.DataFrame, feeder: Feeder | None = None) -> pd.DataFrame:
    """Return the offers the operator receives: ``ders`` with the compromised DERs' rows replaced by ``fake``.

    Every value given must be a finite number: a NaN is an error, not "unchanged" (leave the key out of a
    DER's dict to keep its true value; a DataFrame must fill every cell).  With ``feeder``, each value is
    also held to the range that :func:`te_course.dlmp.dlmp` accepts for ``ders`` (prices at most 1e150,
    powers at most ``OPF_PU_MAX`` times the power base), and an error names the ``fake`` entry.
    """
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
                _check_pu(np.array([v]), where, feeder.s_base_kva, "DER limits")
            reported.loc[label, col] = v
    check_nonnegative(reported["p_max_kw"].to_numpy(), "fake['p_max_kw']", "powers")
    bad = (reported["p_min_kw"] > reported["p_max_kw"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`fake` gives DER {_label(reported.index[i])!r} a p_min_kw above its p_max_kw.")
    return reported


def _dispatch(feeder: Feeder, table: pd.DataFrame, price: float, v_min: float, v_max: float, model: str):
    """Solve the operator's OPF on the offers ``table``; return it and the lower voltage limit it could hold.

    When no dispatch keeps every voltage above ``v_min``, the operator holds the
    highest lower limit it can: bisection to 5e-4 p.u., then a margin of
    5e-4 p.u. away from the boundary, where the solver is numerically fragile.
    When even 0.5 p.u. cannot be held, or another limit is the obstacle, it
    dispatches without network limits (the limit held is then NaN).
    """
    prob = DLMPProblem(feeder, ders=table, model=model)

    def attempt(lower, quiet=False):
        try:
            with warnings.catch_warnings():
                if quiet:  # probes near the feasibility boundary may end "inaccurate"
                    warnings.simplefilter("ignore", UserWarning)
                return prob.solve(price_substation=price, v_min_pu=lower, v_max_pu=v_max)
        except TeCourseError:  # infeasible, or the solver failed at the boundary
            return None

    opf = attempt(v_min)
    if opf is not None:
        return opf, v_min
    if (best := attempt(_V_FLOOR, quiet=True)) is None:
        loose = feeder._replace(lines=feeder.lines.assign(s_max_kva=np.nan))
        opf = dlmp(loose, price_substation=price, ders=table, v_min_pu=_V_LOOSE[0], v_max_pu=_V_LOOSE[1], model=model)
        return opf, math.nan
    held, top = _V_FLOOR, v_min
    while top - held > _V_BISECT:
        mid = 0.5 * (held + top)
        if (r := attempt(mid, quiet=True)) is None:
            top = mid
        else:
            held, best = mid, r
    margin = max(_V_FLOOR, held - _V_BISECT)
    final = attempt(margin)
    return (final, margin) if final is not None else (best, held)


def false_offer_on_feeder(feeder: Feeder, ders, *, fake, price_substation: float, v_min_pu: float = 0.95,
                          v_max_pu: float = 1.05, model: str = "socp", screen=None) -> FeederAttackResult:
    """Dispatch a feeder on a compromised DER's false offer, and run the real feeder.

    The attack is a false data injection into the operator's dispatch (Liu,
    Ning and Reiter, "False data injection attacks against state estimation in
    electric power grids", ACM CCS 2009; on market data: Xie, Mo and Sinopoli,
    IEEE Trans. Smart Grid 2(4), 2011):

    1. *honest*: the operator solves the distribution OPF
       (:func:`te_course.dlmp.dlmp`) on the true offers ``ders``;
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
    highest lower voltage limit it can (found by bisection, to 1e-3 p.u.);
    if even 0.5 p.u. cannot be held, or the line limits are the obstacle, it
    dispatches on price alone, without network limits.  ``opf_feasible`` is
    then False, ``v_min_held_pu`` says what was held, and the real violations
    are reported.

    Parameters
    ----------
    feeder : Feeder
        A radial feeder (line limits from ``feeder.lines["s_max_kva"]``).
    ders : pandas.DataFrame
        The true offers and capacities: columns ``bus``, ``p_max_kw``,
        ``price``, optionally ``p_min_kw`` (as in :func:`te_course.dlmp.dlmp`).
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
    inexact; :func:`te_course.dlmp.dlmp` then warns (``UserWarning``).

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
    >>> res.table["secure"].tolist(), round(res.damage_removed["voltage"], 6)
    ([True, False, True, True], 1.0)
    """
    feeder = _check_feeder(feeder)
    true = _check_ders(ders, feeder)
    if len(true) == 0:
        raise ValueError("`ders` is empty; the attack needs at least one DER (a row of `ders`).")
    if true.index.has_duplicates:
        raise ValueError("`ders` has repeated row labels; give each DER its own label.")
    reported = _fake_offers(fake, true, feeder)
    price = as_finite_float(price_substation, "price_substation")
    v_min = as_positive_float(v_min_pu, "v_min_pu")
    v_max = as_positive_float(v_max_pu, "v_max_pu")
    if v_min >= v_max:
        raise ValueError(f"`v_min_pu` ({v_min}) must be below `v_max_pu` ({v_max}).")
    limits = feeder.lines["s_max_kva"].astype(float)

    offers = {"honest": true, "attacked": reported}
    screening = screening_honest = None
    if screen is not None:
        if not isinstance(screen, Mapping):
            raise TypeError(f"`screen` must be a dict of screen_orders options or None; got {type(screen).__name__}.")
        known = {"price_bounds", "registered_kw", "z_max", "over_capacity"}
        unknown = sorted(set(screen) - known)
        if unknown:
            raise ValueError(f"`screen` has the unknown option(s) {unknown}; use {sorted(known)}.")
        opts = _screen_options(screen.get("price_bounds"), screen.get("z_max"), 1.0,
                               screen.get("over_capacity", "clip"))
        reg = screen.get("registered_kw", true["p_max_kw"].to_numpy())
        reg = _registered(reg, len(true), "screen['registered_kw']")

        def screened(table):
            s = _screen(table["price"].to_numpy(), table["p_max_kw"].to_numpy(), reg, opts)
            s.table.index = table.index.copy()
            s.table.index.name = "der"
            kept = table.copy()
            kept["p_max_kw"] = s.table["quantity_accepted"].to_numpy()
            kept["p_min_kw"] = np.minimum(kept["p_min_kw"], kept["p_max_kw"])
            return s, kept

        screening, offers["mitigated"] = screened(reported)
        screening_honest, offers["honest_screened"] = screened(true)

    rows, dispatch, delivered, volts = {}, {}, {}, {}
    true_max, true_price = true["p_max_kw"].to_numpy(), true["price"].to_numpy()
    for name, table in offers.items():
        opf, held = _dispatch(feeder, table, price, v_min, v_max, model)
        ordered = opf.dispatch.to_numpy()
        produced = np.minimum(ordered, true_max)
        real = ac_power_flow(_injected(feeder, true, produced))
        summary, words = _assess(real.v_pu, _line_loading(real, limits), limits, v_min, v_max, 1.0)
        if math.isnan(held):
            words.insert(0, "the operator's OPF has no solution within the limits: dispatched on price alone")
        elif held < v_min:
            words.insert(0, f"the offers accepted cannot hold {v_min:g} p.u.: the operator held {held:.4f} p.u.")
        others = opf.v_pu.drop(feeder.substation)
        rows[name] = {
            "opf_feasible": held == v_min,
            "v_min_held_pu": held,
            "expected_cost": opf.cost,
            "real_cost": price * real.substation_p_kw + float(true_price @ produced),
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
        dispatch[name] = pd.Series(ordered, index=true.index)
        delivered[name] = pd.Series(produced, index=true.index)
        volts[name] = real.v_pu
    return FeederAttackResult(
        table=pd.DataFrame.from_dict(rows, orient="index"),
        dispatch_kw=pd.DataFrame(dispatch),
        delivered_kw=pd.DataFrame(delivered),
        v_pu=pd.DataFrame(volts),
        screening=screening,
        screening_honest=screening_honest,
    )
