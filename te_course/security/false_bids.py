"""Cyber and market security: phantom orders in the double auction, and a screen against them.

A market that acts on the data it receives can be steered by whoever forges
that data.  Liu, Ning and Reiter ("False data injection attacks against state
estimation in electric power grids", ACM CCS 2009) showed that forged
measurements can pass the operator's checks; Xie, Mo and Sinopoli
("Integrity data attacks in power market operations", IEEE Trans. Smart Grid
2(4), 659-666, 2011) showed that they can move market prices for profit.
Here the forged data are orders:

- :func:`false_bid_attack`: phantom orders injected into the double auction
  of chapter 1 (:func:`te_course.auction.clear_double_auction`) move the
  price and the traded quantity; phantom energy is never delivered, so the
  *true* welfare falls (:class:`MarketOutcome` counts it);
- the mitigation, :func:`screen_orders`: bounds on accepted orders (a price
  floor and cap, quantities within each agent's registered capacity) and the
  robust outlier test of Iglewicz and Hoaglin (:func:`robust_z`), measured by
  :func:`mitigate_false_bids`: how much of the damage it removes, and what it
  costs honest traders (false positives).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import as_1d_float, check_finite, check_fraction
from ..auction import clear_double_auction, parse_orders
from ._common import modified_z, registered_array, registered_capacity, screen_rules, screen_table

__all__ = [
    "MarketOutcome",
    "FalseBidResult",
    "false_bid_attack",
    "robust_z",
    "Screening",
    "screen_orders",
    "MitigationResult",
    "mitigate_false_bids",
]


# =========================================================================== false bids in the double auction


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


def _optional_book(orders, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Like parse_orders, but None or an empty list means no orders."""
    if orders is None or (not isinstance(orders, pd.DataFrame) and np.size(orders) == 0) or (
        isinstance(orders, pd.DataFrame) and len(orders) == 0
    ):
        return np.zeros(0), np.zeros(0)
    return parse_orders(orders, name)


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


def _books(bids, asks, fake_bids, fake_asks) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
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
    return modified_z(x)


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
    rules = screen_rules(price_bounds, z_max, dt_h, over_capacity)
    price, quantity = parse_orders(orders, "orders")
    name = "registered_kw"
    if registered_kw is None and isinstance(orders, pd.DataFrame) and "registered_kw" in orders.columns:
        registered_kw, name = orders["registered_kw"].to_numpy(), "orders['registered_kw']"
    return Screening(screen_table(price, quantity, registered_capacity(registered_kw, price.size, name), rules))


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
    n_fakes, n_fakes_caught : int
        Phantom orders injected, and rejected by the screen (``fakes_total``,
        ``fakes_caught`` before issue 17: deprecated aliases).
    n_honest_rejected : int
        Genuine orders the screen rejects in the attacked market (false
        positives; ``honest_rejected`` before issue 17: deprecated alias).
    """

    honest: MarketOutcome
    attacked: MarketOutcome
    mitigated: MarketOutcome
    honest_screened: MarketOutcome
    bid_screening: Screening = field(repr=False)
    ask_screening: Screening = field(repr=False)
    n_fakes: int = 0
    n_fakes_caught: int = 0
    n_honest_rejected: int = 0

    @property
    def fakes_total(self) -> int:
        """Deprecated name of :attr:`n_fakes`."""
        return _renamed_count(self, "fakes_total", "n_fakes")

    @property
    def fakes_caught(self) -> int:
        """Deprecated name of :attr:`n_fakes_caught`."""
        return _renamed_count(self, "fakes_caught", "n_fakes_caught")

    @property
    def honest_rejected(self) -> int:
        """Deprecated name of :attr:`n_honest_rejected`."""
        return _renamed_count(self, "honest_rejected", "n_honest_rejected")

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
    >>> res.damage_removed, res.false_positive_cost, res.n_fakes_caught, res.n_honest_rejected
    (1.0, 0.0, 1, 0)
    """
    k = check_fraction(k, "k")
    rules = screen_rules(price_bounds, z_max, dt_h, over_capacity)
    bid, ask = _books(bids, asks, fake_bids, fake_asks)
    b_reg = _registry(registered_kw, bids, fake_bids, bid[2], "bids")
    a_reg = _registry(registered_kw, asks, fake_asks, ask[2], "asks")
    sb, sa = Screening(screen_table(*bid[:2], b_reg, rules)), Screening(screen_table(*ask[:2], a_reg, rules))
    gb, ga = ~bid[2], ~ask[2]
    honest_b, honest_a = tuple(x[gb] for x in bid), tuple(x[ga] for x in ask)
    return MitigationResult(
        honest=_outcome(*honest_b, *honest_a, k),
        attacked=_outcome(*bid, *ask, k),
        mitigated=_screened_outcome(bid, ask, sb, sa, k),
        honest_screened=_screened_outcome(honest_b, honest_a, Screening(screen_table(*honest_b[:2], b_reg[gb], rules)),
                                          Screening(screen_table(*honest_a[:2], a_reg[ga], rules)), k),
        bid_screening=sb,
        ask_screening=sa,
        n_fakes=int(bid[2].sum() + ask[2].sum()),
        n_fakes_caught=int((bid[2] & ~sb.accepted_mask).sum() + (ask[2] & ~sa.accepted_mask).sum()),
        n_honest_rejected=int((gb & ~sb.accepted_mask).sum() + (ga & ~sa.accepted_mask).sum()),
    )


def _registry(registered_kw, genuine, fake, is_fake: np.ndarray, side: str) -> np.ndarray:
    """Return the registered capacity (kW) of each order of one side, genuine orders first, then the phantom ones.

    ``registered_kw`` (one number) for every order, or else each DataFrame book's ``registered_kw``
    column (inf, no limit, for a book without one).
    """
    n_fake = int(is_fake.sum())
    n_genuine = is_fake.size - n_fake
    if registered_kw is not None:
        if registered_array(registered_kw, "registered_kw").ndim != 0:
            raise ValueError(
                "`registered_kw` must be one number for every order here; give per-order capacities as a "
                "'registered_kw' column of the DataFrame books (bids, asks, fake_bids, fake_asks)."
            )
        return registered_capacity(registered_kw, is_fake.size)
    parts = []
    for book, n, name in ((genuine, n_genuine, side), (fake, n_fake, f"fake_{side}")):
        if isinstance(book, pd.DataFrame) and "registered_kw" in book.columns:
            parts.append(registered_capacity(book["registered_kw"].to_numpy(), n, f"{name}['registered_kw']"))
        else:
            parts.append(np.full(n, math.inf))
    return np.concatenate(parts)


def _screened_outcome(bid: tuple, ask: tuple, bid_screen: Screening, ask_screen: Screening, k: float) -> MarketOutcome:
    """Clear the orders each screen accepts (clipped quantities); book positions stay those before screening."""
    return _outcome(*_kept(bid, bid_screen), *_kept(ask, ask_screen), k,
                    bid_pos=np.flatnonzero(bid_screen.accepted_mask), ask_pos=np.flatnonzero(ask_screen.accepted_mask))


def _kept(side: tuple, screening: Screening) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (price, quantity, fake) arrays of the orders of ``side`` the screen accepts, quantities clipped."""
    ok = screening.accepted_mask
    return side[0][ok], screening.table["quantity_accepted"].to_numpy()[ok], side[2][ok]


def _renamed_count(result: MitigationResult, old: str, new: str) -> int:
    """Return the count ``new`` of ``result``, warning that ``old`` is its deprecated name."""
    warnings.warn(f"MitigationResult.{old} is now called {new} (counts are n_*); the old name will stop working "
                  "in the next release.", DeprecationWarning, stacklevel=3)
    return getattr(result, new)

