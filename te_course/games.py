"""Strategic behaviour: Nash equilibria, best responses, Cournot competition, withholding.

A *game* has players, strategies and payoffs; a **Nash equilibrium** is a
strategy profile in which no player gains by changing its own strategy
alone: every player plays a *best response* to the others (Nash, "Non-
cooperative games", Annals of Mathematics 54(2), 1951).

Existence
---------
A pure-strategy Nash equilibrium exists when every player's strategy set is
a non-empty, compact and convex subset of a Euclidean space and its payoff is
continuous in the whole profile and quasi-concave in its own strategy
(Debreu, PNAS 38(10), 1952; Glicksberg, Proc. AMS 3(1), 1952; Fan, PNAS
38(2), 1952; Fudenberg and Tirole, *Game Theory*, 1991, section 1.3).  The
best responses then form a *correspondence* (a set per profile of the
others), not a function: quasi-concavity makes its values convex, continuity
and compactness make them non-empty and the correspondence upper
hemicontinuous (closed graph; Berge's maximum theorem), and Kakutani's
theorem (Duke Mathematical Journal 8(3), 1941) gives a fixed point.  When
every best response is unique, as in the Cournot game below (strictly
concave profits), the correspondence is a continuous function.  A finite
game has a non-convex strategy set, and may have no pure equilibrium
(matching pennies; :func:`pure_nash_equilibria` returns ``[]`` and best
responses cycle, see :func:`best_response_dynamics`).

Cournot competition
-------------------
``n`` firms (prosumers selling into a local market) choose quantities
``q_i`` in ``[0, k_i]``; the price is ``P = a - b Q`` with ``Q = sum q_i``
and firm ``i`` earns ``(P - c_i) q_i``.  The game is an exact potential game
(Monderer and Shapley, "Potential games", Games and Economic Behavior 14(1),
1996) with potential ::

    Phi(q) = a Q - (b/2) Q^2 - (b/2) sum_i q_i^2 - sum_i c_i q_i

(``dPhi/dq_i`` equals firm ``i``'s marginal profit), which is strictly
concave: the equilibrium is its unique maximiser on the box (see
:func:`cournot_equilibrium`).  Sequential best responses are coordinate
ascent on ``Phi`` and converge; simultaneous ones need not (Theocharis, "On
the stability of the Cournot solution on the oligopoly problem", Review of
Economic Studies 27(2), 133-134, 1960).

Best-response dynamics
----------------------
:func:`best_response_dynamics` lets every player move once per *round*:

- ``order="sequential"`` (Gauss-Seidel): players move one after the
  other, each seeing the moves already made in the round;
- ``order="simultaneous"`` (Jacobi): all respond to the profile at the
  start of the round.

Its stopping rules, checked after every round:

- **converged**: no strategy changed by more than ``tol`` (numbers) or at
  all (other strategies): a Nash equilibrium, a fixed point of the best
  responses; the result is returned;
- **cycle**: the profile equals one of an earlier round (exactly for
  non-numeric strategies; within ``tol`` for numbers, provided the round
  itself moved more than 1,000 times that distance, so that a damped
  oscillation, whose rounds shrink as fast as it repeats, is not taken for
  a cycle); ``cycle_length`` is the number of rounds between the two;
- **diverged**: a numeric strategy became NaN or infinite, left
  ``bounds``, or exceeded ``1e12`` times the scale of ``initial``;
- **max_iter**: none of these within ``max_iter`` rounds.

The last three raise :class:`te_course.ConvergenceError`.

Withholding
-----------
A prosumer behind a congestable line can raise its local price by offering
less than it could produce (:func:`withholding`, two-zone closed form;
:func:`dlmp_withholding`, on a feeder with :func:`te_course.opf.dlmp`).
In the two-zone model of :func:`two_zone_outcome` the prosumer is, while
the line is congested (``q < D0 - F``), a monopolist on the residual demand
``a - b F - b q``; its profit ``(a - b F - b q - c) q`` is largest at
``q* = (a - b F - c) / (2 b)``
(the monopoly quantity against residual demand; Kirschen and Strbac 2018;
Borenstein, Bushnell and Stoft, "The competitive effects of
transmission capacity in a deregulated electricity industry", RAND
Journal of Economics 31(2), 2000).  Offering more, up to ``D0 - F``, pushes
the price down to ``p0``; beyond that the profit grows only at the rate
``p0 - c``.  The profit is concave on each of the three pieces of
:func:`two_zone_outcome`, so its maximum over ``[0, K]`` is the best of
the stationary points of the congested pieces, clipped to their pieces,
and the pieces' ends (ties go to the largest offer).  Withholding pays
when that maximum lies below ``K``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._deprecation import keywords_were_positional, renamed_keywords
from ._network import OPF_PU_MAX
from ._network import check_ders as _check_ders
from ._validation import (
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_positive_float,
    check_finite,
    check_magnitude,
    check_nonnegative,
)
from .errors import ConvergenceError
from .feeders import check_feeder
from .market_power import hhi as _hhi
from .opf import dlmp

__all__ = [
    "CournotResult",
    "cournot_equilibrium",
    "cournot_best_responses",
    "competition_curve",
    "DynamicsResult",
    "best_response_dynamics",
    "pure_nash_equilibria",
    "matrix_best_responses",
    "WithholdingResult",
    "two_zone_outcome",
    "withholding",
    "dlmp_withholding",
]

_ORDERS = ("sequential", "simultaneous")
_CYCLE_RATIO = 1e3  # a repeat counts as a cycle only if the round moved 1,000 times more than the repeat's distance
_BLOWUP = 1e12  # a strategy beyond 1e12 times the initial scale has diverged


# --------------------------------------------------------------------------- Cournot


@dataclass(frozen=True)
class CournotResult:
    """The Nash equilibrium of a linear Cournot game.

    Attributes
    ----------
    quantities : numpy.ndarray
        Each firm's equilibrium quantity (kW sold in the hour, so kWh).
    price : float
        ``a - b Q``, currency per kWh.
    profits : numpy.ndarray
        ``(price - c_i) q_i``, currency per hour.
    shares : numpy.ndarray
        ``q_i / Q`` (NaN when nothing is sold).
    marginal_costs, capacities_kw : numpy.ndarray
        The inputs (``inf``: no capacity limit); ``capacities`` is the old
        name of ``capacities_kw`` (it still works, with a ``DeprecationWarning``).
    intercept, slope : float
        ``a`` and ``b`` of the inverse demand.
    total : float
        ``Q``, the total quantity.
    at_capacity : numpy.ndarray of bool
        Firms that produce their whole capacity (and would like to sell more).
    active : numpy.ndarray of bool
        Firms that produce (``q_i > 0``); the others are priced out.
    elasticity : float
        Price elasticity of demand at the equilibrium, ``-P / (a - P)``
        (``-inf`` when nothing is sold).
    lerner : numpy.ndarray
        ``(P - c_i) / P`` per firm (negative for a firm priced out).
    hhi : float
        Herfindahl-Hirschman index of the quantities, 0-10,000 (NaN when nothing is sold).
    consumer_surplus : float
        ``(a - P) Q / 2 = b Q^2 / 2``.
    welfare : float
        Consumer surplus plus the firms' profits.
    """

    quantities: np.ndarray
    price: float
    profits: np.ndarray
    shares: np.ndarray
    marginal_costs: np.ndarray
    capacities_kw: np.ndarray
    intercept: float
    slope: float
    total: float
    at_capacity: np.ndarray
    active: np.ndarray
    elasticity: float
    lerner: np.ndarray
    hhi: float
    consumer_surplus: float
    welfare: float

    @property
    def capacities(self) -> np.ndarray:
        """The old name of :attr:`capacities_kw` (deprecated)."""
        warnings.warn("CournotResult.capacities is now called capacities_kw; the old name will stop working in the "
                      "next release.", DeprecationWarning, stacklevel=2)
        return self.capacities_kw

    @property
    def n_firms(self) -> int:
        """Number of firms in the game (active or not)."""
        return int(self.quantities.size)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per firm: cost, capacity, quantity, share, profit, Lerner index, at capacity.

        Examples
        --------
        >>> cournot_equilibrium(100, 1, [10, 20]).to_frame().round(4)
              marginal_cost  capacity  quantity   share    profit  lerner  at_capacity
        firm
        0              10.0       inf   33.3333  0.5882  1111.111  0.7692        False
        1              20.0       inf   23.3333  0.4118   544.444  0.5385        False
        """
        frame = pd.DataFrame(
            {
                "marginal_cost": self.marginal_costs,
                "capacity": self.capacities_kw,
                "quantity": self.quantities,
                "share": self.shares,
                "profit": self.profits,
                "lerner": self.lerner,
                "at_capacity": self.at_capacity,
            }
        )
        frame.index.name = "firm"
        return frame


def _demand(intercept, slope) -> tuple[float, float]:
    """Validate the inverse demand ``P = a - b Q``: ``a`` and ``b`` positive."""
    return as_positive_float(intercept, "intercept"), as_positive_float(slope, "slope")


def _costs_and_capacities(marginal_costs, capacities_kw) -> tuple[np.ndarray, np.ndarray]:
    """Validate the firms' marginal costs (>= 0) and capacities (kW, >= 0, inf allowed; a number for all)."""
    c = as_1d_float(marginal_costs, "marginal_costs")
    check_nonnegative(c, "marginal_costs", "costs")
    if capacities_kw is None:
        return c, np.full(c.size, np.inf)
    k = as_1d_float(capacities_kw, "capacities_kw", allow_scalar=True)
    k = np.broadcast_to(k, c.shape).copy() if k.ndim == 0 else k
    if k.size != c.size:
        raise ValueError(
            f"`capacities_kw` has {k.size} entries and `marginal_costs` {c.size}; "
            "give one per firm, or one number for all."
        )
    bad = np.isnan(k) | (k < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`capacities_kw` must contain non-negative numbers (inf for no limit); entry {i} is {k[i]}.")
    return c, k


def _cournot_total(u: np.ndarray, k: np.ndarray) -> float:
    """Return the total quantity ``Q`` with ``Q = sum_i clip(u_i - Q, 0, k_i)``, exactly.

    ``g(Q) = sum_i clip(u_i - Q, 0, k_i) - Q`` is piecewise linear and
    strictly decreasing, with kinks where a firm leaves (``Q = u_i``) or drops
    below its capacity (``Q = u_i - k_i``).  A binary search over the sorted
    kinks finds the piece holding the root; on that piece the active set is
    fixed (``F`` free firms, the others at 0 or at capacity) and the root is
    the closed form ``Q = (sum_F u_i + sum_{capped} k_i) / (|F| + 1)``.
    """

    def g(q) -> float:
        return float(np.clip(u - q, 0.0, k).sum() - q)

    kinks = np.concatenate((u, u - k))
    kinks = np.unique(kinks[np.isfinite(kinks) & (kinks > 0)])
    kinks = np.concatenate(([0.0], kinks))
    if g(0.0) <= 0:  # every firm priced out (a <= c_i) or without capacity
        return 0.0
    # g(0) > 0 and g(max u_i) = -max u_i < 0: the root lies in (kinks[lo], kinks[hi]]
    lo, hi = 0, kinks.size - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if g(kinks[mid]) > 0:
            lo = mid
        else:
            hi = mid
    left, right = kinks[lo], kinks[hi]
    probe = 0.5 * (left + right)
    free = (u - probe > 0) & (u - probe < k)
    capped = u - probe >= k
    # Divide before adding: every term is >= 0 and the sum is Q <= max u_i, so no partial sum overflows
    # (sum(u) / (m + 1) would be inf for u_i near the float range, and the clip below would hide it).
    m1 = free.sum() + 1
    total = (u[free] / m1).sum() + (k[capped] / m1).sum()
    return float(np.clip(total, left, right))


@renamed_keywords(capacities="capacities_kw")
def cournot_equilibrium(intercept, slope, marginal_costs, *, capacities_kw=None) -> CournotResult:
    """Nash equilibrium of quantity (Cournot) competition with linear demand.

    Inverse demand ``P = a - b Q``; firm ``i`` has constant marginal cost
    ``c_i >= 0`` and capacity ``k_i >= 0`` and earns ``(P - c_i) q_i``.  Its
    best response to the others' total ``Q_-i`` is
    ``q_i = clip((a - c_i - b Q_-i) / (2 b), 0, k_i)``.  When every firm
    produces below its capacity, the first-order conditions
    ``a - b Q - b q_i = c_i`` give the closed form (Cournot 1838; Tirole,
    *The Theory of Industrial Organization*, 1988, chapter 5)::

        q_i = (a - (n + 1) c_i + sum_j c_j) / (b (n + 1)),
        P   = (a + sum_j c_j) / (n + 1).

    Otherwise the same formula holds over the *active set*: firms priced out
    (``q_i = 0``, ``c_i >= P``) drop out, firms at capacity sell ``k_i`` and
    the others play Cournot against the residual demand.  The active set is
    found exactly (no iteration tolerance) by scanning the kinks of the
    aggregate best response (see the module docstring for why the
    equilibrium is unique).

    Parameters
    ----------
    intercept : float
        ``a`` > 0, currency per kWh.
    slope : float
        ``b`` > 0, currency per kWh per kW.
    marginal_costs : array_like
        ``c_i`` >= 0, one per firm.
    capacities_kw : float or array_like, optional
        ``k_i`` >= 0, kW (``inf`` allowed); a number applies to every firm.
        Default: no limit.  (Its old name ``capacities`` still works, with a
        ``DeprecationWarning``.)

    Returns
    -------
    CournotResult

    Raises
    ------
    ValueError
        If the quantities or surpluses exceed the float range (about 1.8e308).

    Examples
    --------
    Monopoly and duopoly of ``P = 100 - Q`` with marginal cost 10:

    >>> m = cournot_equilibrium(100, 1, [10])
    >>> float(m.quantities[0]), m.price, round(float(m.lerner[0]), 4)
    (45.0, 55.0, 0.8182)
    >>> d = cournot_equilibrium(100, 1, [10, 10])
    >>> d.quantities, d.price, d.lerner
    (array([30., 30.]), 40.0, array([0.75, 0.75]))

    A capacity of 20 binds for the first firm; the second plays against the
    residual demand ``100 - 20 - q_2``:

    >>> cournot_equilibrium(100, 1, [10, 10], capacities_kw=[20, np.inf]).quantities
    array([20., 35.])
    """
    a, b = _demand(intercept, slope)
    c, k = _costs_and_capacities(marginal_costs, capacities_kw)
    q, total, price, profits, cs, welfare = _cournot_outcome(a, b, c, k)
    lerner = _lerner(price, c)
    shares, concentration, elasticity = _market_shape(q, total, price, b)
    return CournotResult(
        quantities=q + 0.0,
        price=float(price),
        profits=profits + 0.0,
        shares=shares,
        marginal_costs=c,
        capacities_kw=k,
        intercept=a,
        slope=b,
        total=total,
        at_capacity=(q > 0) & (q == k),
        active=q > 0,
        elasticity=float(elasticity),
        lerner=lerner,
        hhi=concentration,
        consumer_surplus=float(cs),
        welfare=float(welfare),
    )


def _cournot_outcome(a: float, b: float, c: np.ndarray,
                     k: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray, float, float]:
    """Return the equilibrium quantities, their total, the price, profits, consumer surplus and welfare.

    Raises ``ValueError`` when one of them leaves the float range.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        u = (a - c) / b  # inf for a tiny slope: fine when a capacity binds, caught below when none does
        total = _cournot_total(u, k)
        q = np.clip(u - total, 0.0, k)
        total = float(q.sum())
        price = a - b * total
        profits = (price - c) * q
        cs = 0.5 * (b * total) * total  # (a - P) Q / 2: no Q^2, which overflows long before the surplus does
        welfare = cs + float(profits.sum())
    if not (np.isfinite(q).all() and np.isfinite(profits).all() and math.isfinite(price) and math.isfinite(welfare)):
        raise ValueError(
            f"The Cournot equilibrium leaves the float range (about 1.8e308): with `intercept` = {a:g}, "
            f"`slope` = {b:g} and `marginal_costs` from {c.min():g} to {c.max():g} the quantities ((a - c_i) / b) "
            "or the surpluses overflow. Give realistic magnitudes (kW and currency per kWh, or MW and per MWh), "
            "or finite `capacities_kw`."
        )
    return q, total, float(price), profits, float(cs), float(welfare)


def _lerner(price: float, c: np.ndarray) -> np.ndarray:
    """Return each firm's Lerner index ``(P - c_i) / P``, or raise if it overflows the floats."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        lerner = (price - c) / price
    if not np.isfinite(lerner).all():
        i = int(np.flatnonzero(~np.isfinite(lerner))[0])
        raise ValueError(
            f"The Lerner index (P - c_i) / P of firm {i} overflows the floats: the price P = {price:g} is tiny "
            f"against its marginal cost {c[i]:g}. Give `intercept` and `marginal_costs` in the same units "
            "(currency per kWh, or per MWh)."
        )
    return lerner


def _market_shape(q: np.ndarray, total: float, price: float, b: float) -> tuple[np.ndarray, float, float]:
    """Return the shares, the HHI and the demand elasticity at the equilibrium (NaN, NaN, -inf if nothing sells)."""
    if not total > 0:
        return np.full(q.size, np.nan), math.nan, -math.inf
    with np.errstate(divide="ignore", over="ignore"):  # a - P = b Q, which may underflow
        elasticity = -price / np.float64(b * total)
    return q / total, _hhi(q), float(elasticity)


class _CournotBestResponse:
    """Firm ``i``'s best response ``clip((a - c_i - b Q_-i) / (2 b), lo, k_i)`` to a profile."""

    def __init__(self, i: int, a: float, b: float, c: float, k: float, nonnegative: bool) -> None:
        self.i, self.a, self.b, self.c, self.k, self.nonnegative = i, a, b, c, k, nonnegative

    def __call__(self, profile) -> float:
        q = np.asarray(profile, dtype=float)
        others = q.sum() - q[self.i]
        best = (self.a - self.c - self.b * others) / (2 * self.b)
        return float(min(max(best, 0.0) if self.nonnegative else best, self.k))

    def __repr__(self) -> str:
        return f"<best response of firm {self.i} (cost {self.c:g})>"


@renamed_keywords(capacities="capacities_kw")
def cournot_best_responses(intercept, slope, marginal_costs, *, capacities_kw=None,
                           nonnegative: bool = True) -> list:
    """Build the best-response functions of a Cournot game, for :func:`best_response_dynamics`.

    Firm ``i``'s function maps a profile of quantities to
    ``clip((a - c_i - b Q_-i) / (2 b), 0, k_i)``.  With
    ``nonnegative=False`` the lower clip is dropped (the linear best response
    of textbook stability analysis, which may prescribe a negative quantity).

    Parameters
    ----------
    intercept, slope, marginal_costs, capacities_kw
        As in :func:`cournot_equilibrium` (``capacities`` is the old name of
        ``capacities_kw``: it still works, with a ``DeprecationWarning``).
    nonnegative : bool
        Clip the best responses at 0.

    Returns
    -------
    list of callable

    Examples
    --------
    >>> br = cournot_best_responses(100, 1, [10, 10])
    >>> br[0]([0.0, 30.0]), br[1]([50.0, 0.0]), br[1]([120.0, 0.0])
    (30.0, 20.0, 0.0)
    """
    a, b = _demand(intercept, slope)
    c, k = _costs_and_capacities(marginal_costs, capacities_kw)
    return [_CournotBestResponse(i, a, b, float(c[i]), float(k[i]), bool(nonnegative)) for i in range(c.size)]


#: The largest ``n_max`` of :func:`competition_curve`: one equilibrium per number of firms, each O(n log n).
MAX_FIRMS = 1000


def _short_number(n) -> str:
    """``repr(n)``, or "an integer of about 1e400" for an integer whose digits would fill a message."""
    if isinstance(n, int) and not isinstance(n, bool) and abs(n) > 10**30:
        return f"an integer of about {'-' if n < 0 else ''}1e{int(abs(n).bit_length() * 0.30103)}"
    return repr(n)


def competition_curve(intercept, slope, base_cost, *, n_max: int = 20, cost_spread: float = 0.0) -> pd.DataFrame:
    """Cournot equilibria for 1, 2, ..., ``n_max`` competitors: how competition sets in.

    With ``n`` firms the marginal costs are spread evenly over
    ``[base_cost, base_cost + cost_spread]`` (all equal to ``base_cost`` when
    ``cost_spread`` is 0).  With identical costs ``c`` the closed form gives
    ``P = (a + n c) / (n + 1) -> c``, ``HHI = 10,000 / n -> 0`` and
    ``L = (a - c) / (a + n c) -> 0`` as ``n`` grows.

    Parameters
    ----------
    intercept, slope : float
        The inverse demand ``P = a - b Q``.
    base_cost : float
        The lowest marginal cost, >= 0 and below ``intercept`` (else no firm
        ever sells).
    n_max : int
        Largest number of firms, 1 to :data:`MAX_FIRMS` (1,000).
    cost_spread : float
        Difference between the highest and the lowest cost, >= 0.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``n``: ``price``, ``total``, ``hhi``, ``lerner`` (share-weighted),
        ``lerner_max``, ``active`` (firms that produce), ``elasticity``,
        ``consumer_surplus``, ``min_cost``.

    Examples
    --------
    >>> competition_curve(100, 1, 10, n_max=3).round(4)[["price", "hhi", "lerner"]]
         price      hhi  lerner
    n
    1  55.0    10000.0  0.8182
    2  40.0     5000.0  0.7500
    3  32.5     3333.3  0.6923
    """
    a, b = _demand(intercept, slope)
    c0 = as_finite_float(base_cost, "base_cost")
    spread = as_finite_float(cost_spread, "cost_spread")
    check_nonnegative(np.array([c0, spread]), "base_cost and cost_spread", "costs")
    if isinstance(n_max, bool) or not isinstance(n_max, numbers.Integral) or n_max < 1:
        raise ValueError(f"`n_max` must be a positive integer; got {_short_number(n_max)}.")
    if n_max > MAX_FIRMS:
        raise ValueError(
            f"`n_max` must be at most {MAX_FIRMS:,} (one Cournot equilibrium per n: competition has long set in "
            f"by then); got {_short_number(n_max)}."
        )
    if c0 >= a:
        raise ValueError(
            f"`base_cost` ({c0:g}) must lie below `intercept` ({a:g}): at or above the choke price no firm "
            "ever sells, for any number of competitors."
        )
    rows = []
    for n in range(1, int(n_max) + 1):
        r = cournot_equilibrium(a, b, c0 + spread * np.linspace(0.0, 1.0, n))
        if not r.total > 0:
            raise ValueError(
                f"With `intercept` = {a:g}, `slope` = {b:g} and `base_cost` = {c0:g} the Cournot quantities "
                f"underflow to 0 (a - c = {a - c0:g} is below the float resolution): give the prices in "
                "other units."
            )
        active = r.active
        rows.append(
            {
                "n": n,
                "price": r.price,
                "total": r.total,
                "hhi": r.hhi,
                "lerner": float(np.dot(r.shares[active], r.lerner[active])) if r.total > 0 else math.nan,
                "lerner_max": float(r.lerner[active].max()) if r.total > 0 else math.nan,
                "active": int(active.sum()),
                "elasticity": r.elasticity,
                "consumer_surplus": r.consumer_surplus,
                "min_cost": c0,
            }
        )
    return pd.DataFrame(rows).set_index("n")


# --------------------------------------------------------------------------- best-response dynamics


@dataclass(frozen=True)
class DynamicsResult:
    """Where iterated best responses settled: a Nash equilibrium (to the tolerance).

    :func:`best_response_dynamics` returns one only when a round changed
    nothing; a cycle, a divergence or running out of rounds raises
    :class:`te_course.ConvergenceError` instead, with the rounds played on it.

    Attributes
    ----------
    strategies : numpy.ndarray
        The last profile (float for numeric strategies, object otherwise).
    history : pandas.DataFrame
        One row per round (round 0 is the initial profile), one column per
        player, and ``change``: the largest change of a strategy in the round
        (numeric strategies) or how many players changed (others).
    iterations : int
        Rounds played.
    order : str
        ``"sequential"`` or ``"simultaneous"``.
    """

    strategies: np.ndarray
    history: pd.DataFrame
    iterations: int
    order: str

    def to_frame(self) -> pd.DataFrame:
        """Return the history, one row per round."""
        return self.history

    @property
    def converged(self) -> bool:
        """Always True (deprecated): a run that does not converge raises ConvergenceError."""
        _warn_always("converged", "True")
        return True

    @property
    def status(self) -> str:
        """Always ``"converged"`` (deprecated): a cycle, a divergence or max_iter raise ConvergenceError."""
        _warn_always("status", "'converged'")
        return "converged"

    @property
    def cycle_length(self) -> None:
        """Always None (deprecated): a cycle raises ConvergenceError, whose ``cycle_length`` it is."""
        _warn_always("cycle_length", "None")
        return None


def _warn_always(name: str, value: str) -> None:
    """Warn that DynamicsResult.<name> is always ``value`` now that non-convergence raises."""
    warnings.warn(f"DynamicsResult.{name} is always {value}: best_response_dynamics now raises ConvergenceError "
                  "(with .reason, .cycle_length, .iterations and .history) when play does not settle; the "
                  "attribute will be removed in the next release.", DeprecationWarning, stacklevel=3)


def _is_number(x) -> bool:
    """Whether ``x`` is a real number (not a bool)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def best_response_dynamics(
    best_responses: Sequence[Callable],
    initial,
    *,
    order: str = "sequential",
    max_iter: int = 1000,
    tol: float = 1e-9,
    bounds: tuple[float, float] | None = None,
    names: Sequence[str] | None = None,
    stop_at_cycle: bool = True,
) -> DynamicsResult:
    """Iterate best responses from ``initial`` until they settle; raise if they cycle or blow up.

    One *round* lets every player move once, in turn (``"sequential"``) or
    at once (``"simultaneous"``).  After every round it stops if play has **converged** (no strategy moved
    by more than ``tol``: a Nash equilibrium, returned), and raises
    :class:`te_course.ConvergenceError` on a **cycle**, a **divergence** or
    **max_iter** rounds (the rules: module docstring, *Best-response dynamics*).

    Parameters
    ----------
    best_responses : sequence of callable
        One per player: ``best_responses[i](profile)`` returns player ``i``'s
        best response to ``profile`` (its own entry included, usually
        ignored).  For numeric strategies ``profile`` is a float numpy array
        (a copy), otherwise a tuple.
    initial : sequence
        The starting profile, one strategy per player: numbers (quantities,
        prices, integer indices) or any values compared with ``==`` (labels).
    order : {"sequential", "simultaneous"}
    max_iter : int
        Most rounds played (memory grows with the rounds actually played,
        not with ``max_iter``).
    tol : float
        Convergence and cycle tolerance for numeric strategies.
    bounds : (float, float), optional
        Numeric strategies outside ``[lo, hi]`` count as diverged.
    names : sequence of str, optional
        Column names of the history; default ``"player 0"``, ``"player 1"``, ...
    stop_at_cycle : bool
        Stop at the first cycle (default).  ``False`` keeps playing until
        ``max_iter`` rounds, to draw several periods, then raises with
        ``reason == "cycle"`` and the first cycle's ``cycle_length``.

    Returns
    -------
    DynamicsResult
        The equilibrium reached and the rounds that led to it.

    Raises
    ------
    te_course.ConvergenceError
        If play does not settle.  The error says why in words and carries
        ``reason`` (``"cycle"``, ``"diverged"`` or ``"max_iter"``),
        ``cycle_length`` (rounds per cycle, or None), ``iterations`` (rounds
        played) and ``history`` (the rounds, as :attr:`DynamicsResult.history`).

    Examples
    --------
    Sequential best responses in the duopoly of ``P = 100 - Q``, MC = 10,
    reach the equilibrium (30, 30); simultaneous ones among three identical
    firms oscillate forever between 0 and 45 (Theocharis 1960):

    >>> br = cournot_best_responses(100, 1, [10, 10])
    >>> r = best_response_dynamics(br, [0, 0])
    >>> r.iterations, np.round(r.strategies, 6)
    (19, array([30., 30.]))
    >>> from te_course import ConvergenceError
    >>> try:
    ...     best_response_dynamics(cournot_best_responses(100, 1, [10, 10, 10]), [0, 0, 0], order="simultaneous")
    ... except ConvergenceError as err:
    ...     print(err.reason, err.cycle_length, err.history.iloc[:3, :3].to_numpy().tolist())
    cycle 2 [[0.0, 0.0, 0.0], [45.0, 45.0, 45.0], [0.0, 0.0, 0.0]]
    """
    responses = _check_responses(best_responses)
    start = _check_initial(initial, responses)
    tol, columns = _check_options(order, max_iter, tol, names, len(responses))
    if all(_is_number(x) for x in start):
        x, lo, hi = _numeric_start(start, bounds)
        blowup = _BLOWUP * (1.0 + float(np.abs(x).max()))
        run = _numeric_dynamics(responses, x, order, int(max_iter), tol, lo, hi, blowup, columns, stop_at_cycle)
    else:
        if bounds is not None:
            raise ValueError("`bounds` applies to numeric strategies only; `initial` holds non-numbers.")
        run = _discrete_dynamics(responses, start, order, int(max_iter), columns, stop_at_cycle)
    return _settled_or_raise(run, order, int(max_iter), tol)


def _check_options(order, max_iter, tol, names, n: int) -> tuple[float, list[str]]:
    """Check the options of best_response_dynamics; return the tolerance and the history's player columns."""
    if order not in _ORDERS:
        raise ValueError(f"`order` must be 'sequential' or 'simultaneous'; got {order!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"`max_iter` must be a positive integer; got {max_iter!r}.")
    tol = as_positive_float(tol, "tol")
    columns = [f"player {i}" for i in range(n)] if names is None else [str(x) for x in names]
    if len(columns) != n or len(set(columns)) != n:
        raise ValueError(f"`names` must hold {n} different names, one per player; got {names!r}.")
    return tol, columns


def _check_responses(best_responses) -> list:
    """Return the best responses as a list of callables, or raise naming ``best_responses``."""
    if callable(best_responses) or isinstance(best_responses, (str, bytes)):
        raise TypeError("`best_responses` must be a list of callables, one per player; got a single object.")
    try:
        responses = list(best_responses)
    except TypeError:
        raise TypeError(
            f"`best_responses` must be a list of callables, one per player; got {type(best_responses).__name__}."
        ) from None
    if not responses:
        raise ValueError("`best_responses` is empty; give one best-response function per player.")
    for i, f in enumerate(responses):
        if not callable(f):
            raise TypeError(f"`best_responses` entry {i} must be callable; got {type(f).__name__}.")
    return responses


def _check_initial(initial, responses: list) -> list:
    """Return the starting profile as a list, one strategy per player (checked against matrix games' indices)."""
    if isinstance(initial, (str, bytes)) or not isinstance(initial, Sequence | np.ndarray | pd.Series):
        raise TypeError(f"`initial` must be a sequence with one strategy per player; got {type(initial).__name__}.")
    start = list(initial)
    n = len(responses)
    if len(start) != n:
        raise ValueError(f"`initial` has {len(start)} strategies and `best_responses` {n} players; give one each.")
    for i, f in enumerate(responses):
        if isinstance(f, _MatrixBestResponse):
            if f.player != i or n != 2:
                raise ValueError(
                    "`best_responses` from matrix_best_responses must be passed as the pair it returns, "
                    f"row player first; entry {i} is the {('row', 'column')[f.player]} player's."
                )
            f.check(start, "initial")
    return start


def _numeric_start(start: list, bounds) -> tuple[np.ndarray, float, float]:
    """Return a numeric starting profile as floats, and the bounds ``lo, hi`` it must lie within."""
    x = np.asarray(start, dtype=float)
    check_finite(x, "initial", "strategies")
    lo, hi = (-math.inf, math.inf) if bounds is None else _bounds(bounds)
    if ((x < lo) | (x > hi)).any():
        i = int(np.flatnonzero((x < lo) | (x > hi))[0])
        raise ValueError(f"`initial` entry {i} ({x[i]}) lies outside `bounds` [{lo}, {hi}].")
    return x, lo, hi


def _bounds(bounds) -> tuple[float, float]:
    """Validate ``bounds``: a pair of numbers ``lo < hi`` (infinite allowed)."""
    try:
        lo, hi = (float(v) for v in bounds)
    except OverflowError:
        raise ValueError(
            "`bounds` holds an integer too large for a float (beyond 1.8e308); use -math.inf or math.inf for "
            "no bound."
        ) from None
    except (TypeError, ValueError):
        raise TypeError(f"`bounds` must be a pair of numbers (lo, hi); got {bounds!r}.") from None
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"`bounds` must be (lo, hi) with lo < hi; got {bounds!r}.")
    return lo, hi


def _respond(f, profile, i) -> float:
    """Call best response ``i`` on ``profile``; its answer must be a number."""
    value = f(profile)
    if not _is_number(value) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        raise TypeError(f"best response {i} returned {value!r}; numeric strategies need a number.")
    return float(value)


@dataclass(frozen=True)
class _Run:
    """What the loop of best responses did: the last profile, the rounds, why it stopped."""

    strategies: np.ndarray
    history: pd.DataFrame
    status: str  # "converged", "cycle", "diverged" or "max_iter"
    iterations: int
    cycle_length: int | None


def _settled_or_raise(run: _Run, order: str, max_iter: int, tol: float) -> DynamicsResult:
    """Return the equilibrium of a run that converged; raise ConvergenceError, saying why, for any other."""
    if run.status == "converged":
        return DynamicsResult(run.strategies, run.history, run.iterations, order)
    t = run.iterations
    if run.status == "cycle":
        message = (f"Best responses ({order}) cycle: a profile comes back every {run.cycle_length} rounds, so "
                   "play never settles on an equilibrium (a finite game may have none; for quantities, try "
                   "order='sequential').")
    elif run.status == "diverged":
        message = (f"Best responses ({order}) diverged in round {t}: a strategy became infinite or NaN, left "
                   "`bounds` or grew beyond 1e12 times the initial profile.")
    else:
        message = (f"Best responses ({order}) did not settle within max_iter = {max_iter} rounds (the last round "
                   f"changed a strategy by {run.history['change'].iloc[-1]:g}; tol = {tol:g}): raise `max_iter`.")
    raise ConvergenceError(message + " The rounds played are in the error's `history`.", iterations=t,
                           history=run.history, reason=run.status, cycle_length=run.cycle_length)


def _numeric_dynamics(responses, x, order, max_iter, tol, lo, hi, blowup, columns, stop_at_cycle) -> _Run:
    """Play rounds of numeric best responses until a stopping rule fires (see best_response_dynamics)."""
    n = x.size
    # Rows are added as rounds are played (doubling), never max_iter + 1 up front: max_iter = 10**12
    # must not ask for terabytes when the dynamics settle in ten rounds.
    path = np.empty((min(max_iter + 1, 64), n))
    path[0] = x
    changes = [math.nan]
    status, cycle = "max_iter", None
    t = 0
    for t in range(1, max_iter + 1):
        prev = path[t - 1]
        if order == "sequential":
            new = prev.copy()
            for i, f in enumerate(responses):
                new[i] = _respond(f, new.copy(), i)
        else:
            new = np.array([_respond(f, prev.copy(), i) for i, f in enumerate(responses)])
        if t == path.shape[0]:
            path = np.concatenate((path, np.empty((min(path.shape[0], max_iter + 1 - t), n))))
        path[t] = new
        with np.errstate(invalid="ignore"):
            step = float(np.max(np.abs(new - prev)))
        changes.append(step)
        if status == "cycle":  # found earlier, and the caller wants more periods
            continue
        if not np.isfinite(new).all() or (new < lo).any() or (new > hi).any() or np.abs(new).max() > blowup:
            status = "diverged"
            break
        if step <= tol:
            status = "converged"
            break
        if t >= 2:
            dist = np.abs(path[: t - 1] - new).max(axis=1)
            close = np.flatnonzero((dist <= tol) & (dist * _CYCLE_RATIO < step))
            if close.size:
                status, cycle = "cycle", int(t - close[-1])
                if stop_at_cycle:
                    break
    history = pd.DataFrame(path[: t + 1], columns=columns)
    history["change"] = changes
    history.index.name = "round"
    return _Run(path[t].copy(), history, status, t, cycle)


def _discrete_dynamics(responses, start, order, max_iter, columns, stop_at_cycle) -> _Run:
    """Play rounds of non-numeric best responses (labels, indices) until a stopping rule fires."""
    path = [tuple(start)]
    changes = [math.nan]
    status, cycle = "max_iter", None
    seen = {}
    try:
        seen[path[0]] = 0
        hashable = True
    except TypeError:
        hashable = False
    t = 0
    for t in range(1, max_iter + 1):
        prev = path[-1]
        if order == "sequential":
            new = list(prev)
            for i, f in enumerate(responses):
                new[i] = f(tuple(new))
            new = tuple(new)
        else:
            new = tuple(f(prev) for f in responses)
        path.append(new)
        changes.append(sum(a != b for a, b in zip(new, prev)))
        if status == "cycle":
            continue
        if new == prev:
            status = "converged"
            break
        earlier = seen.get(new) if hashable else next((s for s in range(t - 1, -1, -1) if path[s] == new), None)
        if earlier is not None:
            status, cycle = "cycle", t - earlier
            if stop_at_cycle:
                break
            continue
        if hashable:
            seen[new] = t
    history = pd.DataFrame([list(p) for p in path], columns=columns)
    history["change"] = changes
    history.index.name = "round"
    return _Run(np.array(path[-1], dtype=object), history, status, t, cycle)


# --------------------------------------------------------------------------- finite games


def _payoffs(payoff_row, payoff_col) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for arr, name in ((payoff_row, "payoff_row"), (payoff_col, "payoff_col")):
        if isinstance(arr, (str, bytes)):
            raise TypeError(f"`{name}` must be a matrix of numbers; got the string {arr!r}.")
        m = as_float_array(arr, name, expected="a matrix of numbers")
        if m.ndim != 2 or 0 in m.shape:
            raise ValueError(
                f"`{name}` must be a non-empty 2-D matrix (rows: the row player's strategies); got shape {m.shape}."
            )
        check_finite(m.ravel(), name, "payoffs")
        out.append(m)
    if out[0].shape != out[1].shape:
        raise ValueError(f"`payoff_row` has shape {out[0].shape} and `payoff_col` {out[1].shape}; they must match.")
    return out[0], out[1]


def pure_nash_equilibria(payoff_row, payoff_col) -> list[tuple[int, int]]:
    """All pure-strategy Nash equilibria of a finite two-player game, by enumeration.

    Cell ``(i, j)`` is an equilibrium when row ``i`` is a best response to
    column ``j`` (``payoff_row[i, j] >= payoff_row[i', j]`` for every ``i'``)
    and column ``j`` a best response to row ``i``.  A finite game need not
    have one: its strategy sets are not convex, so the existence theorem of
    Debreu, Glicksberg and Fan (see the module docstring) does not apply;
    Nash's theorem guarantees only an equilibrium in *mixed* strategies.

    Parameters
    ----------
    payoff_row, payoff_col : array_like
        Payoff matrices of the row and column player, same shape ``(m, n)``.

    Returns
    -------
    list of (int, int)
        The equilibria in row-major order (empty if there is none).

    Examples
    --------
    Prisoner's dilemma (0 = cooperate, 1 = defect) and matching pennies:

    >>> pd_row = [[-1, -3], [0, -2]]
    >>> pure_nash_equilibria(pd_row, np.transpose(pd_row))
    [(1, 1)]
    >>> pennies = np.array([[1, -1], [-1, 1]])
    >>> pure_nash_equilibria(pennies, -pennies)
    []
    """
    A, B = _payoffs(payoff_row, payoff_col)
    scale = 1e-12 * (1.0 + max(np.abs(A).max(), np.abs(B).max()))
    row_best = A >= A.max(axis=0, keepdims=True) - scale
    col_best = B >= B.max(axis=1, keepdims=True) - scale
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(row_best & col_best))]


class _MatrixBestResponse:
    """Best row (player 0) or column (player 1) against the other's current index; ties keep the current one."""

    def __init__(self, payoffs: np.ndarray, player: int) -> None:
        self.payoffs, self.player = payoffs, player

    def check(self, profile, name: str) -> tuple[int, int]:
        """Return (own, other) as indices of the payoff matrix, or raise an error that names ``name``.

        A strategy is an index: 0 to m - 1 for the row player (entry 0 of the
        profile), 0 to n - 1 for the column player (entry 1).  Negative indices
        would silently count from the end in numpy, so they are refused.
        """
        try:
            entries = [profile[0], profile[1]]
            if len(profile) != 2:
                raise IndexError
        except (TypeError, IndexError, KeyError):
            raise ValueError(
                f"`{name}` must hold two strategies, the row player's index and the column player's; got {profile!r}."
            ) from None
        out = []
        for player, value in enumerate(entries):
            size, who = self.payoffs.shape[player], ("row", "column")[player]
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
            if ok:
                ok = math.isfinite(float(value)) and float(value).is_integer() and 0 <= float(value) < size
            if not ok:
                raise ValueError(
                    f"`{name}` entry {player} is {value!r}, but the {who} player's strategies are the indices "
                    f"0 to {size - 1} of the payoff matrix; give one of them."
                )
            out.append(int(value))
        return (out[0], out[1]) if self.player == 0 else (out[1], out[0])

    def __call__(self, profile) -> int:
        own, other = self.check(profile, "profile")
        values = self.payoffs[:, other] if self.player == 0 else self.payoffs[other, :]
        best = values.max()
        if values[own] >= best:
            return own
        return int(np.flatnonzero(values >= best)[0])


def matrix_best_responses(payoff_row, payoff_col) -> list:
    """Best-response functions of a finite two-player game, for :func:`best_response_dynamics`.

    Strategies are indices (row ``i``, column ``j``), from 0: a profile
    with any other strategy (a negative, too large or fractional index)
    raises ``ValueError``, and :func:`best_response_dynamics` checks its
    ``initial`` profile before the first round.  A player who is already
    playing a best response keeps it; otherwise it moves to its best strategy
    of lowest index.

    Examples
    --------
    Matching pennies (the row player wants to match, the column player not):
    simultaneous best responses visit all four cells and cycle.

    >>> from te_course import ConvergenceError
    >>> pennies = np.array([[1, -1], [-1, 1]])
    >>> try:
    ...     best_response_dynamics(matrix_best_responses(pennies, -pennies), [0, 0], order="simultaneous")
    ... except ConvergenceError as err:
    ...     print(err.reason, err.cycle_length)
    cycle 4
    """
    A, B = _payoffs(payoff_row, payoff_col)
    return [_MatrixBestResponse(A, 0), _MatrixBestResponse(B, 1)]


# --------------------------------------------------------------------------- withholding


def _zone(intercept, slope, line_kw, marginal_cost, price_import) -> tuple[float, float, float, float, float]:
    """Validate the two-zone model's numbers; return ``(a, b, F, c, p0)``."""
    a, b = _demand(intercept, slope)
    f = as_finite_float(line_kw, "line_kw")
    c = as_finite_float(marginal_cost, "marginal_cost")
    p0 = as_finite_float(price_import, "price_import")
    for value, name in ((f, "line_kw"), (c, "marginal_cost"), (p0, "price_import")):
        if value < 0:
            raise ValueError(f"`{name}` must be >= 0; got {value!r}.")
    if p0 >= a:
        raise ValueError(
            f"`price_import` ({p0:g}) must lie below the demand intercept ({a:g}); otherwise nobody in the zone buys."
        )
    return a, b, f, c, p0


_ZONE_ARGS = "`intercept`, `slope`, `line_kw`, `marginal_cost`, `price_import` and the offers (`capacity_kw`, `offers`)"


def _zone_table(q: np.ndarray, a, b, f, c, p0, args: str = _ZONE_ARGS) -> pd.DataFrame:
    """Tabulate the two-zone outcome of each offer ``q`` (see :func:`two_zone_outcome`); ``args`` for errors."""
    with np.errstate(over="ignore", invalid="ignore"):
        d0 = (a - p0) / b  # may be inf for a tiny slope: the clip below is still right
        demand = np.clip(d0, q - f, q + f)
        price = a - b * demand
        imports = demand - q
        profit = (price - c) * q
        cs = 0.5 * b * demand**2
        rent = (price - p0) * imports
        welfare = a * demand - 0.5 * b * demand**2 - c * q - p0 * imports
    for values, what in ((price, "price"), (demand, "demand_kw"), (profit, "profit"), (cs, "consumer_surplus"),
                         (rent, "congestion_rent"), (welfare, "welfare")):
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"The two-zone model leaves the float range (about 1.8e308) at the offer {q[i]:g} kW: its {what} "
                f"is {values[i]}. {args} must be realistic magnitudes; rescale them (kW and currency per "
                "kWh, or MW and currency per MWh)."
            )
    state = np.where(q < d0 - f, "import congested", np.where(q > d0 + f, "export congested", "uncongested"))
    return pd.DataFrame(
        {
            "offer_kw": q,
            "price": price,
            "demand_kw": demand,
            "import_kw": imports,
            "profit": profit,
            "consumer_surplus": cs,
            "congestion_rent": rent,
            "welfare": welfare,
            "line": state,
        }
    )


def two_zone_outcome(offers_kw, *, intercept, slope, line_kw, marginal_cost, price_import) -> pd.DataFrame:
    """Price and surpluses in a local zone behind an import line, for each offer of a large prosumer.

    The zone's consumers have inverse demand ``P = a - b D``; a line of
    capacity ``F`` (kW) connects the zone to the grid, where energy costs
    ``p0``; the prosumer offers ``q`` kW at marginal cost ``c``.  At the grid
    price the zone would consume ``D0 = (a - p0) / b``:

    - ``q + F < D0``: the line is congested importing; the zone consumes
      ``q + F`` and the price rises to ``a - b (q + F)`` (above ``p0``);
    - ``|D0 - q| <= F``: the line is not congested, the price is ``p0`` and
      the line carries ``D0 - q`` (an export when negative);
    - ``q - F > D0``: congested exporting; the price falls to ``a - b (q - F)``.

    In one formula: ``D = clip(D0, q - F, q + F)``, ``P = a - b D``.  Welfare
    (per hour) is the consumers' gross value minus the cost of the energy:
    ``a D - b D^2 / 2 - c q - p0 (D - q)``, which splits exactly into the
    consumer surplus ``b D^2 / 2``, the prosumer's profit ``(P - c) q`` and
    the congestion rent ``(P - p0)(D - q)`` of the line (Kirschen and Strbac,
    *Fundamentals of Power System Economics*, 2nd ed., Wiley, 2018, on
    transmission networks and electricity markets).

    Parameters
    ----------
    offers_kw : float or array_like
        Offers ``q`` >= 0.
    intercept, slope : float
        ``a``, ``b`` > 0.
    line_kw : float
        ``F`` >= 0.
    marginal_cost : float
        ``c`` >= 0.
    price_import : float
        ``p0`` in ``[0, a)``.

    Returns
    -------
    pandas.DataFrame
        One row per offer: ``offer_kw``, ``price``, ``demand_kw``,
        ``import_kw``, ``profit``, ``consumer_surplus``, ``congestion_rent``,
        ``welfare``, ``line`` (``"import congested"``, ``"uncongested"`` or
        ``"export congested"``).

    Raises
    ------
    ValueError
        If a price or a surplus exceeds the float range (about 1.8e308).

    Examples
    --------
    ``P = 100 - D``, line 40 kW, grid price 20 (``D0 = 80``), cost 10:

    >>> two_zone_outcome([10, 40], intercept=100, slope=1, line_kw=40, marginal_cost=10, price_import=20)[
    ...     ["offer_kw", "price", "profit", "welfare", "line"]]
       offer_kw  price  profit  welfare              line
    0      10.0   50.0   400.0   2850.0  import congested
    1      40.0   20.0   400.0   3600.0       uncongested
    """
    a, b, f, c, p0 = _zone(intercept, slope, line_kw, marginal_cost, price_import)
    q = np.atleast_1d(as_1d_float(offers_kw, "offers_kw", allow_scalar=True))
    check_nonnegative(q, "offers_kw", "offers")
    args = "`intercept`, `slope`, `line_kw`, `marginal_cost`, `price_import` and the offers (`offers_kw`)"
    return _zone_table(q, a, b, f, c, p0, args)


@dataclass(frozen=True)
class WithholdingResult:
    """A prosumer's profit-maximising offer behind a congestable line, against offering everything.

    Attributes
    ----------
    offer_kw : float
        The profit-maximising offer ``q*``.
    capacity_kw : float
        What it could offer, ``K``.
    withheld_kw : float
        ``K - q*``.
    price, profit, consumer_surplus, welfare : float
        At ``q*``.
    full_price, full_profit, full_welfare : float
        At ``q = K``.
    profit_gain : float
        ``profit - full_profit`` (>= 0).
    welfare_loss : float
        ``full_welfare - welfare``.
    deadweight_loss : float
        The part of ``welfare_loss`` due to lost consumption: the area
        between the demand curve and the grid price ``p0`` over the
        consumption lost, ``int_{D*}^{D_K} (a - b x - p0) dx``; the rest is
        ``(p0 - c)(K - q*)``, energy the prosumer could have made for ``c``
        instead of the grid's ``p0``.
    congested : bool
        Whether the line is congested at ``q*``.
    curve : pandas.DataFrame
        :func:`two_zone_outcome` over the scanned offers.
    """

    offer_kw: float
    capacity_kw: float
    withheld_kw: float
    price: float
    profit: float
    consumer_surplus: float
    welfare: float
    full_price: float
    full_profit: float
    full_welfare: float
    profit_gain: float
    welfare_loss: float
    deadweight_loss: float
    congested: bool
    curve: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Return the two outcomes side by side: the profit-maximising offer and the full offer.

        Examples
        --------
        >>> w = withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
        >>> w.to_frame()[["offer_kw", "price", "profit", "welfare"]]
                                 offer_kw  price  profit  welfare
        profit-maximising offer      25.0   35.0   625.0   3337.5
        full offer                   60.0   20.0   600.0   3800.0
        """
        rows = self.curve.iloc[[self._best_row, self._full_row]].copy()
        rows.index = ["profit-maximising offer", "full offer"]
        return rows

    @property
    def _best_row(self) -> int:
        """The row of ``curve`` at the profit-maximising offer."""
        return int(np.flatnonzero(self.curve["offer_kw"].to_numpy() == self.offer_kw)[0])

    @property
    def _full_row(self) -> int:
        """The row of ``curve`` at the full offer (the last, if several)."""
        return int(np.flatnonzero(self.curve["offer_kw"].to_numpy() == self.capacity_kw)[-1])


@keywords_were_positional("intercept", "slope", "line_kw", "marginal_cost", "capacity_kw")
def withholding(*, intercept, slope, line_kw, marginal_cost, capacity_kw, price_import,
                offers=None) -> WithholdingResult:
    """Find the profit-maximising offer of a prosumer behind a congestable import line (two-zone model).

    The zone is that of :func:`two_zone_outcome`.  While the line is congested
    (``q < D0 - F``) the prosumer is a monopolist on the residual demand
    ``a - b F - b q``, and its profit ``(a - b F - b q - c) q`` is largest at ::

        q* = (a - b F - c) / (2 b)

    (the monopoly quantity against residual demand; the full argument: module
    docstring, *Withholding*).  Withholding pays when the best offer lies below ``K``.

    All arguments are keyword only, as in :func:`two_zone_outcome`
    (``withholding(100, 1, 40, 10, 60, price_import=20)`` still works in this
    release, with a ``DeprecationWarning``).

    Parameters
    ----------
    intercept, slope : float
        ``a``, ``b`` > 0 of the zone's inverse demand.
    line_kw : float
        Import capacity ``F`` >= 0.
    marginal_cost : float
        The prosumer's ``c`` >= 0.
    capacity_kw : float
        Its capacity ``K`` >= 0.
    price_import : float
        Grid price ``p0`` in ``[0, a)``.
    offers : array_like, optional
        Offers to tabulate in ``curve``; default 201 points on ``[0, K]``.
        ``q*``, ``K`` and the congestion edge are always added.

    Returns
    -------
    WithholdingResult

    Raises
    ------
    ValueError
        If a price or a surplus, at an offer of the curve, exceeds the float
        range (about 1.8e308).

    Examples
    --------
    ``P = 100 - D``, a 40 kW line, grid price 20, a prosumer with cost 10 and
    60 kW: offering everything clears the line (price 20, profit 600); offering
    ``q* = (100 - 40 - 10) / 2 = 25`` kW congests it, the price rises to 35
    and the profit to 625.

    >>> w = withholding(intercept=100, slope=1, line_kw=40, marginal_cost=10, capacity_kw=60, price_import=20)
    >>> w.offer_kw, w.price, w.profit, w.full_profit, w.withheld_kw
    (25.0, 35.0, 625.0, 600.0, 35.0)
    >>> w.welfare_loss, w.deadweight_loss  # triangle (35 - 20)(80 - 65)/2 = 112.5, plus (20 - 10) x 35
    (462.5, 112.5)
    """
    a, b, f, c, p0 = _zone(intercept, slope, line_kw, marginal_cost, price_import)
    k = as_finite_float(capacity_kw, "capacity_kw")
    if k < 0:
        raise ValueError(f"`capacity_kw` must be >= 0; got {capacity_kw!r}.")
    d0 = (a - p0) / b
    edges = [d0 - f, d0 + f]
    q_best = _best_offer(a, b, f, c, p0, k, edges)
    curve = _zone_table(_offer_grid(offers, k, [q_best, k] + [e for e in edges if 0.0 <= e <= k]), a, b, f, c, p0)
    pair = _zone_table(np.array([q_best, k]), a, b, f, c, p0)
    best, full = pair.iloc[0], pair.iloc[1]
    triangle, welfare_loss, profit_gain = _withholding_losses(best, full, a, b, c, p0, k, q_best)
    return WithholdingResult(
        offer_kw=q_best,
        capacity_kw=k,
        withheld_kw=k - q_best,
        price=float(best["price"]),
        profit=float(best["profit"]),
        consumer_surplus=float(best["consumer_surplus"]),
        welfare=float(best["welfare"]),
        full_price=float(full["price"]),
        full_profit=float(full["profit"]),
        full_welfare=float(full["welfare"]),
        profit_gain=float(profit_gain),
        welfare_loss=float(welfare_loss),
        deadweight_loss=float(triangle),
        congested=bool(best["line"] != "uncongested"),
        curve=curve,
    )


def _offer_grid(offers, k: float, extra: list) -> np.ndarray:
    """Return the offers to tabulate: ``offers`` (default 201 points on ``[0, K]``) and the ``extra`` ones, sorted."""
    if offers is None:
        grid = np.linspace(0.0, k, 201)
    else:
        grid = np.atleast_1d(as_1d_float(offers, "offers", allow_scalar=True))
        check_nonnegative(grid, "offers", "offers")
    return np.unique(np.concatenate((grid, extra)))


def _best_offer(a, b, f, c, p0, k, edges) -> float:
    """Return the profit-maximising offer in ``[0, K]``: the best of the pieces' ends and stationary points.

    Ties go to the largest offer.
    """
    stationary = [(a - b * f - c) / (2 * b), (a + b * f - c) / (2 * b)]
    candidates = np.clip(np.array([0.0, k, *edges, *stationary]), 0.0, k)
    profits = _zone_table(candidates, a, b, f, c, p0)["profit"].to_numpy()
    best_profit = profits.max()
    tie = profits >= best_profit - 1e-12 * (1.0 + abs(best_profit))
    return float(candidates[tie].max())


def _withholding_losses(best, full, a, b, c, p0, k, q_best) -> tuple[float, float, float]:
    """Return the deadweight triangle, the welfare loss and the profit gain of offering ``q*`` rather than ``K``.

    Differences in closed form, not of two large welfares: ``(a - p0) dD - b/2 (D_K^2 - D*^2)``,
    and the welfare loss is that triangle plus ``(p0 - c)(K - q*)`` (see ``deadweight_loss``).
    """
    d_best, d_full = best["demand_kw"], full["demand_kw"]
    with np.errstate(over="ignore", invalid="ignore"):
        triangle = (d_full - d_best) * ((a - p0) - 0.5 * b * (d_full + d_best))
        welfare_loss = triangle + (p0 - c) * (k - q_best)
        profit_gain = best["profit"] - full["profit"]
    for value, what in ((triangle, "deadweight loss"), (welfare_loss, "welfare loss"), (profit_gain, "profit gain")):
        if not math.isfinite(value):
            raise ValueError(
                f"The {what} of withholding leaves the float range (about 1.8e308): {_ZONE_ARGS} must be realistic "
                "magnitudes; rescale them (kW and currency per kWh, or MW and currency per MWh)."
            )
    return float(triangle), float(welfare_loss), float(profit_gain)


def _bus_range(feeder) -> str:
    """Return the feeder's bus labels for a message (the first and last when there are many)."""
    labels = list(feeder.buses.index)
    return ", ".join(map(repr, labels)) if len(labels) <= 6 else f"{labels[0]!r} to {labels[-1]!r}"


def _check_offers(feeder, bus, offers_kw, marginal_cost, ders) -> tuple[np.ndarray, float]:
    """Validate the strategic DER's offers, cost and bus (and the other ``ders``); return offers and cost.

    The offer becomes the DER's p_max_kw and the cost its price in dlmp's `ders`: checked here, with
    dlmp's ranges, so that the error names this function's argument (and not `ders`).
    """
    q = as_1d_float(offers_kw, "offers_kw")
    check_nonnegative(q, "offers_kw", "offers")
    limit = OPF_PU_MAX * feeder.s_base_kva
    if (q > limit).any():
        i = int(np.flatnonzero(q > limit)[0])
        raise ValueError(
            f"`offers_kw` entry {i} is {q[i]:g} kW, beyond what the OPF can represent: at most {limit:g} kW "
            f"({OPF_PU_MAX:g} times the feeder's s_base_kva). No feeder carries such a power; check the units (kW)."
        )
    cost = as_finite_float(marginal_cost, "marginal_cost")
    check_magnitude(np.array([cost]), "marginal_cost", "prices")
    try:
        known = bus in feeder.buses.index
    except TypeError:  # a list or another unhashable value
        known = False
    if not known or isinstance(bus, (bool, np.bool_)):
        raise ValueError(f"`bus` {bus!r} is not a bus of the feeder (its buses are {_bus_range(feeder)}).")
    if ders is not None:
        _check_ders(ders, feeder)  # errors name the user's rows, not those of the table with the DER added
    return q, cost


def dlmp_withholding(feeder, bus, offers_kw, *, marginal_cost, price_substation, ders=None, v_min_pu=0.9,
                     v_max_pu=1.05, model="socp") -> pd.DataFrame:
    """Tabulate a DER's profit against the capacity it offers, priced by DLMPs on a feeder.

    For each offer ``q`` a DER at ``bus`` offering up to ``q`` kW at its
    marginal cost joins the other ``ders`` and :func:`te_course.opf.dlmp`
    clears the feeder; the DER is paid the DLMP at its bus.  Its profit is
    ``(DLMP_bus - marginal_cost) * dispatch``.  Loads are inelastic, so when a
    line limit binds the price at the DER's bus is set by the dearest unit the
    OPF still needs behind the limit: offering just too little to relieve
    the congestion keeps that price high (withholding), while welfare is
    the negative of the system cost.

    Parameters
    ----------
    feeder : Feeder
        A radial feeder with the line limits (``lines["s_max_kva"]``) that can bind.
    bus : bus label
        Where the strategic DER sits.
    offers_kw : array_like
        Capacities to try, kW >= 0 (at most :data:`te_course.opf.OPF_PU_MAX`
        times the feeder's ``s_base_kva``, as every power of the OPF).
    marginal_cost : float
        The DER's true cost (it offers at that price), currency per kWh, at
        most 1e150 in magnitude (as the prices of ``ders``).
    price_substation : float
        Energy price at the substation.
    ders : pandas.DataFrame, optional
        The other flexible resources (see :func:`te_course.opf.dlmp`).
    v_min_pu, v_max_pu, model
        Passed to :func:`te_course.opf.dlmp`.

    Returns
    -------
    pandas.DataFrame
        One row per offer: ``offer_kw``, ``dispatch_kw``, ``price`` (DLMP at
        ``bus``), ``profit``, ``system_cost`` (per hour) and ``binding`` (the
        binding limits, in words).

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> f = ieee33()
    >>> f.lines.loc[2, "s_max_kva"] = 3500.0  # line 2-3
    >>> peaker = pd.DataFrame({"bus": [33], "p_max_kw": [2000.0], "price": [0.30]})
    >>> t = dlmp_withholding(f, 18, [400, 1000], marginal_cost=0.04, price_substation=0.05, ders=peaker)
    >>> t[["offer_kw", "dispatch_kw", "price", "profit"]].round(2)
       offer_kw  dispatch_kw  price  profit
    0     400.0        400.0   0.29  100.51
    1    1000.0       1000.0   0.05    8.96
    """
    feeder = check_feeder(feeder)
    q, cost = _check_offers(feeder, bus, offers_kw, marginal_cost, ders)
    rows = []
    for offer in q:
        mine = pd.DataFrame({"bus": [bus], "p_max_kw": [float(offer)], "price": [cost]})
        table = mine if ders is None else pd.concat([mine, pd.DataFrame(ders)], ignore_index=True)
        result = dlmp(feeder, price_substation=price_substation, ders=table, v_min_pu=v_min_pu,
                      v_max_pu=v_max_pu, model=model)
        dispatch = float(result.dispatch.iloc[0])
        price = float(result.prices.loc[bus, "total"])
        rows.append(
            {
                "offer_kw": float(offer),
                "dispatch_kw": dispatch,
                "price": price,
                "profit": (price - cost) * dispatch,
                "system_cost": float(result.cost),
                "binding": "; ".join(result.binding) or "none",
            }
        )
    return pd.DataFrame(rows)
