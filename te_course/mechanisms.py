"""Mechanism design for unit double auctions: IC, IR, budget balance, efficiency.

Every trader wants one unit (kWh): a *buyer* reports a value, a *seller* a
cost, both in currency per kWh.  A mechanism maps the reports to an
:class:`Outcome` (who trades, what each buyer pays and each seller gets).
The four properties of the chapter become computations:

- *incentive compatibility* (IC): no trader gains by misreporting,
  checked by :func:`max_misreport_gain`;
- *individual rationality* (IR): truthful traders never lose
  (:func:`utilities` >= 0);
- *budget balance*: the platform never pays in (weak, ``budget_surplus >= 0``)
  or keeps nothing (strong, ``budget_surplus == 0``);
- *efficiency*: the share of the optimal welfare realised (:func:`welfare`).

Myerson and Satterthwaite ("Efficient mechanisms for bilateral trading",
Journal of Economic Theory 29(2), 1983) show that, for one buyer and one
seller whose value and cost are private, independent and drawn from
distributions with positive densities on overlapping intervals, no mechanism
that is Bayesian incentive compatible, interim individually rational and
needs no subsidy (a non-negative expected surplus) is ex post efficient.
These hypotheses are weaker than the properties above (IC in dominant
strategies, IR and budget balance in every market), so in that setting the
conclusion holds for those too.  :func:`property_table` illustrates, on
sampled markets and misreports, which property each mechanism gives up; it
proves nothing.

Conventions shared by every mechanism here
------------------------------------------
Buyers are sorted by value from highest, sellers by cost from lowest:
``b_1 >= b_2 >= ...`` and ``s_1 <= s_2 <= ...``.  The efficient number of
trades ``k`` is the largest ``i`` with ``b_i >= s_i`` (a pair at equal prices
trades, as in :func:`te_course.auction.clear_double_auction`).  ``b_{k+1}``
and ``s_{k+1}`` are the best rejected reports.

Tie-breaking: equal reports are ranked by input order (the earlier entry
counts as the better report), deterministically.  This differs from
:func:`~te_course.auction.clear_double_auction`, which shares a partly
filled price level pro rata; with unit traders a fractional fill would be a
lottery, so here one trader wins the tie outright.

Missing (k+1)-th trader: when every trader of a side trades, ``b_{k+1}`` is
taken as ``-inf`` and ``s_{k+1}`` as ``+inf``, so that a bound that involves
it falls back to the other side's k-th report (see each mechanism).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._validation import MAX_MAGNITUDE, as_1d_float, as_generator, check_fraction, check_magnitude, check_nonnegative

__all__ = [
    "Outcome",
    "uniform_price",
    "vcg",
    "trade_reduction",
    "sbba",
    "Utilities",
    "utilities",
    "welfare",
    "MisreportGain",
    "max_misreport_gain",
    "property_table",
]

_TOL = 1e-9  # relative tolerance of "profitable", "negative" and "zero"
#: A batch of outcomes, one row per market: buyer trades, seller trades, buyer pays, seller gets.
_Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    """Who trades and who pays what, aligned with the reports.

    Attributes
    ----------
    buyer_trades, seller_trades : numpy.ndarray of bool
        Whether each buyer (aligned with ``values``) and each seller (aligned
        with ``costs``) trades one unit.
    buyer_pays, seller_gets : numpy.ndarray of float
        What each buyer pays and each seller receives; zero for those who do
        not trade.
    budget_surplus : float
        ``sum(buyer_pays) - sum(seller_gets)``: what the platform keeps
        (negative: a deficit it must fund).
    mechanism : str
        The mechanism's name.

    The constructor checks that the fields agree: the trades are 1-D arrays of
    booleans with as many buyers as sellers trading, the payments are finite
    (at most 1e150 in absolute value), one per trader and zero for those who
    do not trade, and ``budget_surplus`` is their balance (to 1e-9 of the
    payments); otherwise it raises ``ValueError`` (``TypeError`` for a wrong
    type) naming the field.  It stores read-only copies of the arrays, so an
    outcome cannot be edited into an inconsistent one.
    """

    buyer_trades: np.ndarray
    seller_trades: np.ndarray
    buyer_pays: np.ndarray
    seller_gets: np.ndarray
    budget_surplus: float
    mechanism: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.mechanism, str):
            raise TypeError(f"`mechanism` must be a string (the mechanism's name); got {self.mechanism!r}.")
        fields = _outcome_fields(self)  # raises _MalformedOutcome naming the field
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per trader: side, index, trades, pays, gets.

        Examples
        --------
        >>> vcg([12, 10, 8], [5, 7, 9]).to_frame().loc[:, ["side", "trades", "pays", "gets"]]
             side  trades  pays  gets
        0   buyer    True   8.0   0.0
        1   buyer    True   8.0   0.0
        2   buyer   False   0.0   0.0
        3  seller    True   0.0   9.0
        4  seller    True   0.0   9.0
        5  seller   False   0.0   0.0
        """
        nb, ns = self.buyer_trades.size, self.seller_trades.size
        return pd.DataFrame(
            {
                "side": ["buyer"] * nb + ["seller"] * ns,
                "index": np.r_[np.arange(nb), np.arange(ns)],
                "trades": np.r_[self.buyer_trades, self.seller_trades].astype(bool),
                "pays": np.r_[self.buyer_pays, np.zeros(ns)],
                "gets": np.r_[np.zeros(nb), self.seller_gets],
            }
        )


# --------------------------------------------------------------------------- inputs


def check_reports(values, costs) -> tuple[np.ndarray, np.ndarray]:
    """Validate reported values and costs: 1-D, non-empty, finite, non-negative, at most 1e150."""
    out = []
    for arr, name in ((values, "values"), (costs, "costs")):
        a = as_1d_float(arr, name)
        check_nonnegative(a, name, "prices")
        check_magnitude(a, name, "prices", MAX_MAGNITUDE)
        out.append(a)
    return out[0], out[1]


class _MalformedOutcome(ValueError):
    """An :class:`Outcome` whose fields disagree; ``detail`` says how, after "Outcome has"."""

    def __init__(self, detail: str, who: str = "Outcome has") -> None:
        super().__init__(f"{who} {detail}")
        self.detail = detail


class _MalformedOutcomeType(_MalformedOutcome, TypeError):
    """A field of an :class:`Outcome` of the wrong type."""


def _malformed(detail: str, type_error: bool = False) -> _MalformedOutcome:
    return _MalformedOutcomeType(detail) if type_error else _MalformedOutcome(detail)


def _outcome_fields(o) -> dict:
    """Return the fields of the Outcome ``o`` as consistent arrays and a float, or raise _MalformedOutcome."""
    out = {}
    for field in ("buyer_trades", "seller_trades"):
        value = getattr(o, field)
        try:
            a = np.array(value)
        except (TypeError, ValueError):
            raise _malformed(f"`{field}` that is not an array of booleans (got {_short_repr(value)}).", True) from None
        if a.ndim != 1:
            raise _malformed(f"`{field}` of shape {a.shape}; expected a 1-D array of booleans, one per trader.")
        if a.dtype != bool:
            raise _malformed(f"`{field}` of dtype {a.dtype}; expected booleans.", True)
        out[field] = a
    for field, trades in (("buyer_pays", "buyer_trades"), ("seller_gets", "seller_trades")):
        value = getattr(o, field)
        if isinstance(value, (str, bytes)) or _has_complex_or_bool(value):
            raise _malformed(f"`{field}` that is not numeric (got {_short_repr(value)}).", True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", np.exceptions.ComplexWarning)
                a = np.array(value, dtype=float)
        except (TypeError, ValueError, OverflowError, np.exceptions.ComplexWarning):
            raise _malformed(f"`{field}` that is not numeric (got {_short_repr(value)}).", True) from None
        t = out[trades]
        if a.shape != t.shape:
            raise _malformed(
                f"`{field}` of shape {a.shape}; expected {t.shape}, as `{trades}` of shape {t.shape} "
                "(one entry per trader)."
            )
        if not np.isfinite(a).all():
            i = int(np.flatnonzero(~np.isfinite(a))[0])
            raise _malformed(f"`{field}` with a non-finite entry {i} ({a[i]}).")
        if (np.abs(a) > MAX_MAGNITUDE).any():
            i = int(np.flatnonzero(np.abs(a) > MAX_MAGNITUDE)[0])
            raise _malformed(f"`{field}` entry {i} = {a[i]:g}, beyond +-{MAX_MAGNITUDE:g} (use other units).")
        idle = ~t & (a != 0)
        if idle.any():
            i = int(np.flatnonzero(idle)[0])
            raise _malformed(
                f"`{field}` entry {i} = {a[i]} for a trader who does not trade (`{trades}` entry {i} is False); "
                "expected 0."
            )
        out[field] = a + 0.0  # + 0.0 turns -0.0 into 0.0
    nb, ns = int(out["buyer_trades"].sum()), int(out["seller_trades"].sum())
    if nb != ns:
        raise _malformed(
            f"`buyer_trades` and `seller_trades` with {nb} and {ns} trades; every unit bought must be sold."
        )
    value = o.budget_surplus
    if isinstance(value, (str, bytes, bool, np.bool_, complex, np.complexfloating)):
        raise _malformed(f"a `budget_surplus` that is not a number (got {_short_repr(value)}).", True)
    try:
        surplus = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _malformed(f"a `budget_surplus` that is not a number (got {_short_repr(value)}).", True) from None
    pays, gets = out["buyer_pays"], out["seller_gets"]
    expected = math.fsum(pays) - math.fsum(gets)
    scale = float(np.abs(pays).sum() + np.abs(gets).sum())  # relative: any units
    if not abs(surplus - expected) <= _TOL * scale:  # also catches NaN and infinities
        raise _malformed(f"`budget_surplus` = {surplus}; expected sum(buyer_pays) - sum(seller_gets) = {expected}.")
    out["budget_surplus"] = surplus + 0.0
    return out


def _has_complex_or_bool(value) -> bool:
    if isinstance(value, (bool, np.bool_, complex, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "bc"
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, (bool, np.bool_, complex, np.complexfloating)) for v in value)
    return False


def _short_repr(value) -> str:
    text = " ".join(repr(value).split()) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


def check_outcome(outcome, n_buyers: int, n_sellers: int, who: str = "the mechanism") -> Outcome:
    """Raise ``ValueError`` naming the malformed field of ``outcome``."""
    if not isinstance(outcome, Outcome):
        verb = "be" if who == "`outcome`" else "return"
        raise ValueError(f"{who} must {verb} an Outcome; got {type(outcome).__name__}.")
    who = f"{who} has" if who == "`outcome`" else f"{who} returned"
    for field, n in (("buyer_trades", n_buyers), ("seller_trades", n_sellers)):
        a = np.asarray(getattr(outcome, field))
        if a.shape != (n,):
            raise ValueError(f"{who} `{field}` of shape {a.shape}; expected ({n},), one entry per report.")
        if a.dtype != bool:
            raise ValueError(f"{who} `{field}` of dtype {a.dtype}; expected booleans.")
    for field, trades, n in (
        ("buyer_pays", outcome.buyer_trades, n_buyers),
        ("seller_gets", outcome.seller_trades, n_sellers),
    ):
        try:
            a = np.asarray(getattr(outcome, field), dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{who} `{field}` that is not numeric.") from None
        if a.shape != (n,):
            raise ValueError(f"{who} `{field}` of shape {a.shape}; expected ({n},), one entry per report.")
        if not np.isfinite(a).all():
            i = int(np.flatnonzero(~np.isfinite(a))[0])
            raise ValueError(f"{who} `{field}` with a non-finite entry {i} ({a[i]}).")
        idle = ~np.asarray(trades) & (a != 0)
        if idle.any():
            i = int(np.flatnonzero(idle)[0])
            raise ValueError(f"{who} `{field}` entry {i} = {a[i]} for a trader who does not trade; expected 0.")
    if int(np.sum(outcome.buyer_trades)) != int(np.sum(outcome.seller_trades)):
        raise ValueError(
            f"{who} `buyer_trades` and `seller_trades` with {int(np.sum(outcome.buyer_trades))} and "
            f"{int(np.sum(outcome.seller_trades))} trades; every unit bought must be sold."
        )
    try:
        surplus = float(outcome.budget_surplus)
    except (TypeError, ValueError):
        raise ValueError(f"{who} a `budget_surplus` that is not a number.") from None
    for field in ("buyer_pays", "seller_gets"):
        a = np.asarray(getattr(outcome, field), dtype=float)
        if (np.abs(a) > MAX_MAGNITUDE).any():
            i = int(np.flatnonzero(np.abs(a) > MAX_MAGNITUDE)[0])
            raise ValueError(f"{who} `{field}` entry {i} = {a[i]:g}, beyond +-{MAX_MAGNITUDE:g} (use other units).")
    expected = math.fsum(outcome.buyer_pays) - math.fsum(outcome.seller_gets)
    scale = float(np.abs(outcome.buyer_pays).sum() + np.abs(outcome.seller_gets).sum())  # relative: any units
    if not abs(surplus - expected) <= _TOL * scale:
        raise ValueError(
            f"{who} `budget_surplus` = {surplus}; expected sum(buyer_pays) - sum(seller_gets) = {expected}."
        )
    return outcome


# --------------------------------------------------------------------------- batched core
#
# Every built-in mechanism is computed on a batch of markets at once: ``V`` of shape
# (m, n_buyers) and ``C`` of shape (m, n_sellers).  The public functions call the batch
# with m = 1; the property checks call it with thousands of rows.


def _sorted_market(V: np.ndarray, C: np.ndarray) -> dict:
    m, nb = V.shape
    ns = C.shape[1]
    ob = np.argsort(-V, axis=1, kind="stable")  # best buyer first, ties by input order
    oc = np.argsort(C, axis=1, kind="stable")  # best seller first, ties by input order
    Bs = np.take_along_axis(V, ob, axis=1)
    Cs = np.take_along_axis(C, oc, axis=1)
    n = min(nb, ns)
    K = (Bs[:, :n] >= Cs[:, :n]).sum(axis=1)
    rows = np.arange(m)
    km1 = np.maximum(K - 1, 0)
    has = K > 0
    bk = np.where(has, Bs[rows, km1], np.nan)
    sk = np.where(has, Cs[rows, km1], np.nan)
    bk1 = np.where(K < nb, Bs[rows, np.minimum(K, nb - 1)], -np.inf)
    sk1 = np.where(K < ns, Cs[rows, np.minimum(K, ns - 1)], np.inf)
    return {"ob": ob, "oc": oc, "K": K, "bk": bk, "sk": sk, "bk1": bk1, "sk1": sk1, "nb": nb, "ns": ns}


def _finish(mk, nt_b, nt_s, price_b, price_s, seller_rank_trades=None) -> _Batch:
    """Scatter rank-space trades back to input order and attach prices."""
    nb, ns = mk["nb"], mk["ns"]
    rb = np.arange(nb)[None, :] < nt_b[:, None]
    rs = np.arange(ns)[None, :] < nt_s[:, None] if seller_rank_trades is None else seller_rank_trades
    tb = np.empty_like(rb)
    ts = np.empty_like(rs)
    np.put_along_axis(tb, mk["ob"], rb, axis=1)
    np.put_along_axis(ts, mk["oc"], rs, axis=1)
    pays = np.where(tb, price_b[:, None], 0.0)
    gets = np.where(ts, price_s[:, None], 0.0)
    return tb, ts, pays, gets


def _uniform_batch(V, C, k=0.5) -> _Batch:
    """Uniform price ``lo + k (hi - lo)`` in the clearing interval, for a batch of markets."""
    mk = _sorted_market(V, C)
    lo = np.maximum(mk["sk"], mk["bk1"])
    hi = np.minimum(mk["bk"], mk["sk1"])
    p = lo + k * (hi - lo)
    return _finish(mk, mk["K"], mk["K"], p, p)


def _vcg_batch(V, C) -> _Batch:
    """VCG: each trader pays its externality, for a batch of markets."""
    mk = _sorted_market(V, C)
    pay = np.maximum(mk["sk"], mk["bk1"])  # externality of a trading buyer
    get = np.minimum(mk["bk"], mk["sk1"])  # externality of a trading seller
    return _finish(mk, mk["K"], mk["K"], pay, get)


def _mcafee_batch(V, C) -> _Batch:
    """McAfee's trade reduction, for a batch of markets."""
    mk = _sorted_market(V, C)
    K, bk, sk = mk["K"], mk["bk"], mk["sk"]
    with np.errstate(invalid="ignore"):
        p0 = (mk["bk1"] + mk["sk1"]) / 2  # nan or inf when a (k+1)-th trader is missing
        full = np.isfinite(p0) & (sk <= p0) & (p0 <= bk)
    nt = np.where(full, K, np.maximum(K - 1, 0))
    return _finish(mk, nt, nt, np.where(full, p0, bk), np.where(full, p0, sk))


def _sbba_batch(V, C) -> _Batch:
    """SBBA (Segal-Halevi, Hassidim and Aumann), for a batch of markets."""
    mk = _sorted_market(V, C)
    K, bk, sk1 = mk["K"], mk["bk"], mk["sk1"]
    with np.errstate(invalid="ignore"):
        full = sk1 <= bk  # p = min(b_k, s_{k+1}) = s_{k+1}: all k pairs trade
    price = np.where(full, sk1, bk)
    nt_b = np.where(full, K, np.maximum(K - 1, 0))
    ranks = np.arange(mk["ns"])[None, :]
    rs = ranks < K[:, None]
    # Reduction: of the k lowest sellers, the one latest in input order is left out.
    reduce = ~full & (K > 0)
    masked = np.where(rs, mk["oc"], -1)
    drop = np.argmax(masked, axis=1)
    rows = np.flatnonzero(reduce)
    rs[rows, drop[rows]] = False
    return _finish(mk, nt_b, nt_b, price, price, seller_rank_trades=rs)


def _outcome(batch, V, C, name, **kw) -> Outcome:
    tb, ts, pays, gets = batch(V[None, :], C[None, :], **kw)
    pays, gets = pays[0] + 0.0, gets[0] + 0.0
    return Outcome(
        buyer_trades=tb[0],
        seller_trades=ts[0],
        buyer_pays=pays,
        seller_gets=gets,
        budget_surplus=math.fsum(pays) - math.fsum(gets) + 0.0,
        mechanism=name,
    )


# --------------------------------------------------------------------------- mechanisms


def uniform_price(values, costs, *, k: float = 0.5) -> Outcome:
    """Efficient trades at one uniform k-price (the k-double auction).

    The ``k`` efficient pairs trade, all at ``p = lo + k (hi - lo)`` with
    ``lo = max(s_k, b_{k+1})`` and ``hi = min(b_k, s_{k+1})``, the interval of
    :func:`te_course.auction.clear_double_auction` (Satterthwaite and
    Williams, Review of Economic Studies 56(4), 1989).  A missing
    ``b_{k+1}`` leaves ``lo = s_k``, a missing ``s_{k+1}`` leaves ``hi = b_k``.
    Strongly budget balanced and IR, and efficient at truthful reports; but
    not IC, and in equilibrium traders shade their reports and worthwhile
    trades are lost (Chatterjee and Samuelson, "Bargaining under incomplete
    information", Operations Research 31(5), 1983, for one buyer and one
    seller), so its efficiency at truthful reports is not what it achieves.

    Parameters
    ----------
    values, costs : array_like
        Reported values of the buyers and costs of the sellers (non-negative,
        at most 1e150).
    k : float, optional
        Position of the price in the interval, in [0, 1].

    Returns
    -------
    Outcome

    Examples
    --------
    >>> o = uniform_price([12, 10, 8], [5, 7, 9])
    >>> o.buyer_trades, o.buyer_pays, o.seller_gets, o.budget_surplus
    (array([ True,  True, False]), array([8.5, 8.5, 0. ]), array([8.5, 8.5, 0. ]), 0.0)
    """
    k = check_fraction(k, "k")
    V, C = check_reports(values, costs)
    return _outcome(_uniform_batch, V, C, "uniform_price", k=k)


def vcg(values, costs) -> Outcome:
    """Efficient trades with Vickrey-Clarke-Groves (Clarke pivot) payments.

    Each trader pays the welfare its presence costs the others: the others'
    optimal welfare without it minus their welfare in the chosen allocation
    (Vickrey 1961, Clarke 1971, Groves 1973; Krishna, *Auction Theory*, 2nd
    ed., 2010, ch. 5 and 13).  For unit traders this works out to:

    - a trading buyer pays ``max(s_k, b_{k+1})``;
    - a trading seller gets ``min(b_k, s_{k+1})``.

    (Removing a trading buyer frees the k-th seller, who trades again only
    with ``b_{k+1}``, if ``b_{k+1} >= s_k``.)  With no ``b_{k+1}`` buyers pay
    ``s_k``; with no ``s_{k+1}`` sellers get ``b_k``.  These are the lower
    end ``lo`` and the upper end ``hi`` of the clearing interval of
    :func:`uniform_price`.  IC, IR and efficient, but buyers pay the lower
    price and sellers get the higher one: the budget surplus is
    ``-k (hi - lo) <= 0``, a deficit whenever trades happen and ``lo < hi``,
    and zero when ``lo == hi``.

    Parameters
    ----------
    values, costs : array_like
        Reported values and costs (non-negative, at most 1e150).

    Returns
    -------
    Outcome

    Examples
    --------
    The seed market: ``[lo, hi] = [8, 9]`` and two trades, a deficit of 2.

    >>> o = vcg([12, 10, 8], [5, 7, 9])
    >>> o.buyer_pays, o.seller_gets, o.budget_surplus
    (array([8., 8., 0.]), array([9., 9., 0.]), -2.0)

    When ``b_k = s_k`` the interval is one price, ``lo = hi = 10``: no deficit.

    >>> o = vcg([12, 10, 8], [5, 10, 11])
    >>> o.buyer_pays, o.seller_gets, o.budget_surplus
    (array([10., 10.,  0.]), array([10., 10.,  0.]), 0.0)
    """
    V, C = check_reports(values, costs)
    return _outcome(_vcg_batch, V, C, "vcg")


def trade_reduction(values, costs) -> Outcome:
    """McAfee's dominant-strategy double auction (trade reduction).

    McAfee, "A dominant strategy double auction", Journal of Economic Theory
    56(2), 1992.  With ``k`` efficient pairs let
    ``p0 = (b_{k+1} + s_{k+1}) / 2``:

    - if ``s_k <= p0 <= b_k``, all ``k`` pairs trade at ``p0`` (budget balanced);
    - otherwise the ``k - 1`` best pairs trade, buyers pay ``b_k`` and sellers
      get ``s_k`` (a surplus of ``(k - 1)(b_k - s_k) >= 0``).

    When there is no ``(k+1)``-th buyer or seller, ``p0`` is undefined and the
    second case applies.  IC, IR, weakly budget balanced; it loses at most the
    least valuable efficient trade.

    Parameters
    ----------
    values, costs : array_like
        Reported values and costs (non-negative, at most 1e150).

    Returns
    -------
    Outcome

    Examples
    --------
    The seed market: ``k = 2`` and ``p0 = (8 + 9) / 2 = 8.5`` lies in
    ``[s_2, b_2] = [7, 10]``, so both pairs trade at 8.5.

    >>> trade_reduction([12, 10, 8], [5, 7, 9]).buyer_pays
    array([8.5, 8.5, 0. ])

    With a third bid of 9.8 and a third ask of 11, ``p0 = 10.4 > b_2 = 10``:
    the second pair is dropped, buyer 0 pays ``b_2 = 10`` and seller 0 gets
    ``s_2 = 7``.

    >>> o = trade_reduction([12, 10, 9.8], [5, 7, 11])
    >>> o.buyer_trades, o.buyer_pays, o.seller_gets, o.budget_surplus
    (array([ True, False, False]), array([10.,  0.,  0.]), array([7., 0., 0.]), 3.0)
    """
    V, C = check_reports(values, costs)
    return _outcome(_mcafee_batch, V, C, "trade_reduction")


def sbba(values, costs) -> Outcome:
    """Strongly budget-balanced double auction (SBBA).

    Segal-Halevi, Hassidim and Aumann, "SBBA: a strongly-budget-balanced
    double-auction mechanism", SAGT 2016.  With ``k`` efficient pairs the
    price is ``p = min(b_k, s_{k+1})`` (``s_{k+1} = +inf`` if every seller
    is among the k lowest):

    - if ``p = s_{k+1}`` (``s_{k+1} <= b_k``), all ``k`` pairs trade at ``p``;
    - otherwise (``p = b_k``) the ``k - 1`` best buyers trade paying ``b_k``
      and ``k - 1`` of the ``k`` lowest sellers trade getting ``b_k``.

    Which seller is left out: the paper draws one of the ``k`` lowest sellers
    uniformly at random.  This function is the deterministic member of that
    lottery in which the sellers' priority is fixed in advance to input order:
    it leaves out the one of the ``k`` lowest sellers that comes *last in the
    input*.  Since each seller's priority does not depend on any report, every
    realisation of the paper's lottery is a mechanism of this form, and each is
    IC, IR and strongly budget balanced (surplus exactly 0).

    Parameters
    ----------
    values, costs : array_like
        Reported values and costs (non-negative, at most 1e150).

    Returns
    -------
    Outcome

    Examples
    --------
    The seed market: ``p = min(b_2, s_3) = min(10, 9) = 9``, both pairs trade.

    >>> o = sbba([12, 10, 8], [5, 7, 9])
    >>> o.buyer_pays, o.seller_gets, o.budget_surplus
    (array([9., 9., 0.]), array([9., 9., 0.]), 0.0)
    >>> sbba([12, 10, 8], [5, 7]).seller_trades  # no s_3: p = b_2 = 10, seller 1 left out
    array([ True, False])
    """
    V, C = check_reports(values, costs)
    return _outcome(_sbba_batch, V, C, "sbba")


uniform_price._batch = _uniform_batch
vcg._batch = _vcg_batch
trade_reduction._batch = _mcafee_batch
sbba._batch = _sbba_batch


# --------------------------------------------------------------------------- evaluation


class Utilities(NamedTuple):
    """Every trader's utility (:func:`utilities`); unpacks as ``buyers, sellers``."""

    buyers: np.ndarray
    """Each buyer's ``value - payment`` if it trades, ``-payment`` otherwise."""
    sellers: np.ndarray
    """Each seller's ``payment - cost`` if it trades, ``payment`` otherwise."""


def utilities(outcome: Outcome, true_values, true_costs) -> Utilities:
    """Quasi-linear utilities of every trader at the true values and costs.

    A buyer gets ``value - payment`` if it trades (``-payment`` otherwise, which
    is 0 for a well-formed outcome); a seller gets ``payment - cost``.

    Returns
    -------
    Utilities
        A named pair that unpacks as ``buyers, sellers`` (two arrays).

    Examples
    --------
    >>> buyers, sellers = utilities(vcg([12, 10, 8], [5, 7, 9]), [12, 10, 8], [5, 7, 9])
    >>> buyers, sellers
    (array([4., 2., 0.]), array([4., 2., 0.]))
    """
    V, C = check_reports(true_values, true_costs)
    check_outcome(outcome, V.size, C.size, "`outcome`")
    ub = np.where(outcome.buyer_trades, V, 0.0) - np.asarray(outcome.buyer_pays, dtype=float)
    us = np.asarray(outcome.seller_gets, dtype=float) - np.where(outcome.seller_trades, C, 0.0)
    return Utilities(ub + 0.0, us + 0.0)


def welfare(outcome: Outcome, true_values, true_costs) -> float:
    """Total true value of the trading buyers minus true cost of the trading sellers.

    Payments are transfers and cancel out.

    Examples
    --------
    >>> welfare(vcg([12, 10, 8], [5, 7, 9]), [12, 10, 8], [5, 7, 9])
    10.0
    >>> welfare(trade_reduction([12, 10, 9.8], [5, 7, 11]), [12, 10, 9.8], [5, 7, 11])
    7.0
    """
    V, C = check_reports(true_values, true_costs)
    check_outcome(outcome, V.size, C.size, "`outcome`")
    return math.fsum(V[outcome.buyer_trades]) - math.fsum(C[outcome.seller_trades]) + 0.0


def _mechanism_name(mechanism) -> str:
    return getattr(mechanism, "__name__", None) or repr(mechanism)


def _as_batch(mechanism: Callable, argument: str = "mechanism", name: str | None = None) -> Callable:
    """Return a function of (V, C) batches; built-ins are vectorised, others called row by row.

    ``argument`` names the mechanism in messages: "mechanism" (then its name), or
    "`mechanisms` entry" for :func:`property_table`, with ``name`` its key there.
    """
    if not callable(mechanism):
        raise TypeError(f"`mechanism` must be callable; got {type(mechanism).__name__}.")
    fast = getattr(mechanism, "_batch", None)
    if fast is not None:
        return fast
    who = f"{argument} {name if name is not None else _mechanism_name(mechanism)!r}"

    def call(v, c) -> Outcome:
        try:
            out = mechanism(v, c)
        except _MalformedOutcome as exc:  # the mechanism built an inconsistent Outcome: say which mechanism
            raise type(exc)(exc.detail, f"{who} returned") from None
        return check_outcome(out, len(v), len(c), who)

    def loop(V, C) -> _Batch:
        outs = [call(v, c) for v, c in zip(V, C)]
        return (
            np.array([o.buyer_trades for o in outs], dtype=bool),
            np.array([o.seller_trades for o in outs], dtype=bool),
            np.array([o.buyer_pays for o in outs], dtype=float),
            np.array([o.seller_gets for o in outs], dtype=float),
        )

    return loop


def _default_grid(V: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Return the reports to try, one row per market: 0, prices, midpoints, prices +-1e-6 relative.

    Shape ``(m, 8 n)`` for ``n`` reports per market in total.  A price of 0 moves by
    1e-12 of the market's largest price, so that the grid is the same in any units.
    """
    P = np.sort(np.concatenate((V, C), axis=1), axis=1)
    mid = (P[:, 1:] + P[:, :-1]) / 2
    delta = 1e-6 * np.maximum(np.abs(P), 1e-6 * np.abs(P).max(axis=1, keepdims=True))
    return np.concatenate((np.zeros((P.shape[0], 1)), P, mid, P - delta, P + delta), axis=1).clip(min=0.0)


def _gains(batch, V, C, side_is_buyer, index, G) -> tuple[np.ndarray, np.ndarray]:
    """Best utility gain of trader ``index[i]`` of market ``i`` over the reports ``G[i]``.

    ``side_is_buyer`` is a bool; returns ``(gain, best_report)`` arrays of shape (m,).
    """
    m, g = G.shape
    rows = np.arange(m)
    own = (V if side_is_buyer else C)[rows, index]
    G = np.concatenate((own[:, None], G), axis=1)  # column 0: the truth
    g += 1
    Vr = np.repeat(V, g, axis=0)
    Cr = np.repeat(C, g, axis=0)
    target = Vr if side_is_buyer else Cr
    ir = np.repeat(index, g)
    target[np.arange(m * g), ir] = G.ravel()
    tb, ts, pays, gets = batch(Vr, Cr)
    r = np.arange(m * g)
    if side_is_buyer:
        u = np.where(tb[r, ir], np.repeat(own, g), 0.0) - pays[r, ir]
    else:
        u = gets[r, ir] - np.where(ts[r, ir], np.repeat(own, g), 0.0)
    u = u.reshape(m, g)
    best = np.argmax(u, axis=1)
    gain = u[rows, best] - u[:, 0]
    scale = np.abs(V).max(axis=1) + np.abs(C).max(axis=1)  # relative, so that the units do not matter
    truthful = gain <= _TOL * scale
    return np.where(truthful, 0.0, gain), np.where(truthful, own, G[rows, best])


class MisreportGain(NamedTuple):
    """What one trader gains by misreporting (:func:`max_misreport_gain`); unpacks as ``gain, report``."""

    gain: float
    """Utility at the best report minus utility when truthful (>= 0)."""
    report: float
    """The best report found, or the true value/cost when the gain is 0."""


def max_misreport_gain(mechanism, values, costs, *, side: str, index: int, reports=None) -> MisreportGain:
    """Largest utility gain one trader gets by misreporting, everyone else truthful.

    Parameters
    ----------
    mechanism : callable
        ``mechanism(values, costs) -> Outcome``, e.g. :func:`vcg`.
    values, costs : array_like
        The true values and costs (reported truthfully by everyone else).
    side : {"buyer", "seller"}
        Which side the trader is on.
    index : int
        Its position in ``values`` or ``costs``.
    reports : array_like, optional
        The reports to try.  Default: 0, every reported price, the midpoints of
        consecutive prices, and every price plus and minus ``1e-6`` of itself
        (a price of 0 plus ``1e-12`` of the largest price).

    Returns
    -------
    MisreportGain
        A named pair ``(gain, report)`` that unpacks as two floats.  ``gain``:
        utility at the best report minus utility when truthful; 0 when no
        report beats the truth by more than ``1e-9`` of the prices' scale (the
        largest value plus the largest cost: relative, so that the answer is
        the same in any units).  ``report``: the best report found, or the true
        value/cost when the gain is 0.

    Examples
    --------
    Under the uniform price, buyer 0 (value 12) shades its bid to 8: with the
    tie against buyer 2 broken by input order, it still trades, and the price
    falls from 8.5 to 8.

    >>> max_misreport_gain(uniform_price, [12, 10, 8], [5, 7, 9], side="buyer", index=0)
    MisreportGain(gain=0.5, report=8.0)
    >>> gain, report = max_misreport_gain(vcg, [12, 10, 8], [5, 7, 9], side="buyer", index=0)
    >>> gain, report
    (0.0, 12.0)
    """
    V, C = check_reports(values, costs)
    if side not in ("buyer", "seller"):
        raise ValueError(f"`side` must be 'buyer' or 'seller'; got {side!r}.")
    n = V.size if side == "buyer" else C.size
    if isinstance(index, bool) or not isinstance(index, int | np.integer) or not 0 <= index < n:
        raise ValueError(f"`index` must be an integer from 0 to {n - 1} (a {side}); got {index!r}.")
    batch = _as_batch(mechanism)
    if reports is None:
        G = _default_grid(V[None, :], C[None, :])
    else:
        R = as_1d_float(reports, "reports")
        check_nonnegative(R, "reports", "prices")
        check_magnitude(R, "reports", "prices", MAX_MAGNITUDE)
        G = R[None, :]
    gain, best = _gains(batch, V[None, :], C[None, :], side == "buyer", np.array([int(index)]), G)
    return MisreportGain(float(gain[0]), float(best[0]))


# --------------------------------------------------------------------------- property table


def _evaluate(batch, V, C, rng, chunk: int = 200) -> dict:
    """All four properties of one mechanism on the markets (V, C)."""
    m, n = V.shape
    tb, ts, pays, gets = batch(V, C)
    ub = np.where(tb, V, 0.0) - pays
    us = gets - np.where(ts, C, 0.0)
    scale = np.maximum(V.max(axis=1), C.max(axis=1))
    surplus = pays.sum(axis=1) - gets.sum(axis=1)
    w = (V * tb).sum(axis=1) - (C * ts).sum(axis=1)
    opt_mk = _sorted_market(V, C)
    bs = -np.sort(-V, axis=1)
    cs = np.sort(C, axis=1)
    ranks = np.arange(n)[None, :] < opt_mk["K"][:, None]
    w_opt = ((bs - cs) * ranks).sum(axis=1)
    cex: dict = {}

    def market(i) -> dict:
        return {"values": V[i].tolist(), "costs": C[i].tolist()}

    # IR
    worst = np.minimum(ub.min(axis=1), us.min(axis=1))
    bad = np.flatnonzero(worst < -_TOL * scale)
    if bad.size:
        i = int(bad[0])
        side = "buyer" if ub[i].min() <= us[i].min() else "seller"
        j = int(np.argmin(ub[i] if side == "buyer" else us[i]))
        cex["individually_rational"] = {**market(i), "side": side, "index": j, "utility": float(worst[i])}
    # budget balance
    neg = np.flatnonzero(surplus < -_TOL * scale)
    if neg.size:
        i = int(neg[0])
        cex["weakly_budget_balanced"] = {**market(i), "budget_surplus": float(surplus[i])}
    nz = np.flatnonzero(np.abs(surplus) > _TOL * scale)
    if nz.size:
        i = int(nz[0])
        cex["strongly_budget_balanced"] = {**market(i), "budget_surplus": float(surplus[i])}
    # efficiency
    pos = w_opt > _TOL * scale
    share = np.where(pos, w / np.where(pos, w_opt, 1.0), 1.0)
    if (share < 1 - 1e-12).any():
        i = int(np.argmin(share))
        cex["efficiency"] = {**market(i), "welfare": float(w[i]), "optimal_welfare": float(w_opt[i])}
    # IC: per market, the marginal buyer and seller (rank k, or the best if k = 0) and one random trader per side
    marginal = np.maximum(opt_mk["K"] - 1, 0)
    checks = []
    for is_buyer, order in ((True, opt_mk["ob"]), (False, opt_mk["oc"])):
        checks.append((is_buyer, order[np.arange(m), marginal]))
        checks.append((is_buyer, rng.integers(0, n, size=m)))
    found = None
    # Each market of a chunk is re-cleared once per grid report (8 per trader, 2n traders): keep a
    # chunk's batch within about _BATCH_ELEMENTS numbers, so that memory stays bounded for any n.
    chunk = max(1, min(chunk, _BATCH_ELEMENTS // ((16 * n + 1) * 2 * n)))
    for start in range(0, m, chunk):
        sl = slice(start, start + chunk)
        G = _default_grid(V[sl], C[sl])
        for is_buyer, idx in checks:
            gain, best = _gains(batch, V[sl], C[sl], is_buyer, idx[sl], G)
            hit = np.flatnonzero(gain > 0)
            if hit.size:
                i = int(hit[0])
                found = {
                    **market(start + i),
                    "side": "buyer" if is_buyer else "seller",
                    "index": int(idx[start + i]),
                    "report": float(best[i]),
                    "gain": float(gain[i]),
                }
                break
        if found is not None:
            break
    if found is not None:
        cex["incentive_compatible"] = found
    row = {
        "incentive_compatible": found is None,
        "individually_rational": "individually_rational" not in cex,
        "weakly_budget_balanced": "weakly_budget_balanced" not in cex,
        "strongly_budget_balanced": "strongly_budget_balanced" not in cex,
        "efficiency": float(share[pos].mean()) if pos.any() else 1.0,
    }
    return row, cex


#: Limits of :func:`property_table`: markets, traders per side, and ``n_instances * n_traders**2``
#: (its work: each sampled market is re-cleared about ``16 n_traders`` times, for ``2 n_traders``
#: traders; 4 million is a few seconds per built-in mechanism, 10 000 markets of 20 traders).
MAX_INSTANCES, MAX_TRADERS, MAX_WORK = 100_000, 300, 4_000_000
_BATCH_ELEMENTS = 4_000_000  # numbers per batch of re-cleared markets (32 MB per array)


def _named_mechanisms(mechanisms) -> list[tuple[str, Callable]]:
    """Return ``(name, mechanism)`` pairs from a dict or a list of mechanisms (named after their functions)."""
    if isinstance(mechanisms, Mapping):
        items = list(mechanisms.items())
    elif callable(mechanisms):
        raise TypeError("`mechanisms` must be a dict of name -> mechanism or a list of mechanisms; got one callable.")
    elif isinstance(mechanisms, (list, tuple)):
        items = [(_mechanism_name(f), f) for f in mechanisms]
    else:
        raise TypeError(
            "`mechanisms` must be a dict of name -> mechanism or a list of mechanisms; "
            f"got {type(mechanisms).__name__}."
        )
    if not items:
        raise ValueError("`mechanisms` is empty; give at least one mechanism.")
    for name, f in items:
        if not callable(f):
            raise TypeError(f"`mechanisms` entry {name!r} must be callable; got {type(f).__name__}.")
    return items


def _check_sizes(n_instances, n_traders) -> None:
    """Check the size of the property table's experiment: positive integers, within the work limit."""
    for name, v, most in (("n_instances", n_instances, MAX_INSTANCES), ("n_traders", n_traders, MAX_TRADERS)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {_short_repr(v)}.")
        if v > most:
            raise ValueError(f"`{name}` must be at most {most:_}; got {_short_repr(v)}.")
    if int(n_instances) * int(n_traders) ** 2 > MAX_WORK:
        raise ValueError(
            f"`n_instances` * `n_traders`**2 must be at most {MAX_WORK:_} (the misreport search re-clears each "
            f"market about 16 n_traders times); got {int(n_instances):_} * {int(n_traders)}**2. Use fewer markets "
            "or fewer traders."
        )


def property_table(mechanisms, *, n_instances: int = 1000, n_traders: int = 20, seed=0) -> pd.DataFrame:
    """Check IC, IR, budget balance and efficiency of mechanisms on random markets.

    Each market has ``n_traders`` buyers and ``n_traders`` sellers (so
    ``2 n_traders`` traders), values and costs drawn uniformly on [0, 1].

    - ``incentive_compatible``: no profitable misreport found by
      :func:`max_misreport_gain` (default grid) for four traders per market:
      the marginal (k-th) buyer and seller and one random buyer and seller.
      A sample, so ``True`` means "none found", not a proof.
    - ``individually_rational``: no truthful trader has negative utility.
    - ``weakly_budget_balanced`` / ``strongly_budget_balanced``: surplus
      ``>= 0`` / ``== 0`` in every market (to ``1e-9`` of the prices' scale).
    - ``efficiency``: mean of welfare / optimal welfare over the markets in
      which something can trade, at *truthful* reports.  For a mechanism
      that is not IC (the uniform price) this is not the welfare it achieves
      when traders shade their reports.

    The columns illustrate the trade-off of Myerson and Satterthwaite (see
    the module docstring); they are checked on samples, for dominant-strategy
    IC and for IR and budget balance in every market, not in expectation.

    Parameters
    ----------
    mechanisms : dict of str to callable, or list of callables
        ``mechanism(values, costs) -> Outcome``; a list is named by ``__name__``.
        The built-in mechanisms run vectorised over markets; others are called
        once per market and report, so keep the sizes small for them.
    n_instances : int
        Number of random markets (at most 100 000).
    n_traders : int
        Traders per side (at most 300).  The misreport search re-clears each
        market about ``16 n_traders`` times, so the work grows as
        ``n_instances * n_traders**2``, which may be at most 4 000 000 (for
        example 10 000 markets of 20 traders: seconds per built-in mechanism).
    seed : None, int or numpy.random.Generator
        The source of randomness (a non-negative integer, or a Generator to
        share one stream).

    Returns
    -------
    pandas.DataFrame
        One row per mechanism.  ``table.attrs["counterexamples"][name][column]``
        holds one market (``values``, ``costs`` and the trader or quantity that
        fails) for every property that fails, and for ``efficiency`` the market
        with the lowest share when it is below 1.

    Examples
    --------
    >>> t = property_table([uniform_price, vcg, trade_reduction, sbba], n_instances=50, n_traders=5, seed=1)
    >>> t["incentive_compatible"].to_dict()
    {'uniform_price': False, 'vcg': True, 'trade_reduction': True, 'sbba': True}
    >>> t["strongly_budget_balanced"].to_dict()
    {'uniform_price': True, 'vcg': False, 'trade_reduction': False, 'sbba': True}
    >>> t.attrs["counterexamples"]["vcg"]["weakly_budget_balanced"]["budget_surplus"] < 0
    True
    """
    items = _named_mechanisms(mechanisms)
    _check_sizes(n_instances, n_traders)
    rng = as_generator(seed, "seed")
    V = rng.random((int(n_instances), int(n_traders)))
    C = rng.random((int(n_instances), int(n_traders)))
    rows, counterexamples = {}, {}
    for name, f in items:
        row, cex = _evaluate(_as_batch(f, "`mechanisms` entry", name), V, C, np.random.default_rng(rng.integers(2**63)))
        rows[name] = row
        counterexamples[name] = cex
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "mechanism"
    table.attrs["counterexamples"] = counterexamples
    return table
