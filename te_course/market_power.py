"""Market power: concentration (HHI), the Lerner index and the elasticity relations.

Two numbers a regulator reads first:

- the **Herfindahl-Hirschman index** ``HHI = sum_i (100 s_i)^2`` of the
  market shares ``s_i`` (0 to 10,000; Herfindahl 1950, Hirschman 1964), which
  measures how concentrated a market is (:func:`hhi`, :func:`concentration`);
- the **Lerner index** ``L = (P - MC) / P`` (Lerner 1934), the share of the
  price that is mark-up over marginal cost (:func:`lerner_index`).  Measured
  against the cost instead, the mark-up is ``(P - MC) / MC = L / (1 - L)``.

With linear inverse demand ``P = a - b Q`` the price elasticity of demand is
``eps = dQ/dP * P/Q = -P / (a - P)`` (:func:`demand_elasticity`), and the
first-order conditions of profit maximisation tie the two numbers together:

- a monopolist sets ``L = -1 / eps`` (the inverse elasticity rule;
  :func:`lerner_monopoly`);
- a Cournot firm with share ``s_i`` sets ``L_i = s_i / |eps|``
  (:func:`lerner_cournot`);
- so the share-weighted industry mark-up is
  ``sum_i s_i L_i = HHI / |eps|`` with the HHI as a fraction (Cowling and
  Waterson 1976; :func:`weighted_lerner`, :func:`lerner_from_hhi`).

References
----------
O. C. Herfindahl, *Concentration in the Steel Industry*, PhD thesis, Columbia
University, 1950.  A. O. Hirschman, "The paternity of an index", American
Economic Review 54(5), 761, 1964.
A. P. Lerner, "The concept of monopoly and the measurement of monopoly
power", Review of Economic Studies 1(3), 157-175, 1934.
K. Cowling and M. Waterson, "Price-cost margins and market structure",
Economica 43(171), 267-274, 1976.
J. Tirole, *The Theory of Industrial Organization*, MIT Press, 1988,
chapters 1 (monopoly) and 5 (Cournot competition).
U.S. Department of Justice and Federal Trade Commission, *Merger Guidelines*,
18 December 2023, Guideline 1 (section 2.1); *Horizontal Merger Guidelines*,
19 August 2010, section 5.3; *Horizontal Merger Guidelines*, 2 April 1992,
section 1.51; U.S. Department of Justice, *Merger Guidelines*, 14 June 1982,
section III.A.
"""

from __future__ import annotations

import enum

import numpy as np

from ._validation import as_1d_float, as_finite_float, as_positive_float, check_finite, check_nonnegative

__all__ = [
    "hhi",
    "Concentration",
    "MergerVerdict",
    "concentration",
    "lerner_index",
    "demand_elasticity",
    "lerner_monopoly",
    "lerner_cournot",
    "weighted_lerner",
    "lerner_from_hhi",
]

_SHARE_TOL = 1e-6  # how far from 1 the shares may add up

# Concentration bands: (lower, upper) HHI thresholds.  A market is highly
# concentrated above `upper`, unconcentrated below `lower`, moderately
# concentrated in between (both ends included).  Sources in `concentration`.
_BANDS = {"2023": (1000.0, 1800.0), "2010": (1500.0, 2500.0), "1992": (1000.0, 1800.0), "1982": (1000.0, 1800.0)}


def _shares(quantities, name: str) -> np.ndarray:
    """Validate non-negative quantities (or shares) and return them as fractions that add up to 1.

    Divided by the largest entry first, so that the sum neither overflows (entries
    near 1e308) nor underflows (entries near 1e-320): any finite magnitude works.
    """
    q = as_1d_float(quantities, name)
    check_nonnegative(q, name, "quantities or shares")
    largest = q.max()
    if largest <= 0:
        raise ValueError(f"`{name}` adds up to 0; give at least one positive quantity or share.")
    q = q / largest
    return q / q.sum()


def hhi(quantities) -> float:
    """Herfindahl-Hirschman index on the 0-10,000 scale.

    ``HHI = sum_i (100 s_i)^2`` with the shares ``s_i = q_i / sum_j q_j``.
    Because the input is normalised first, quantities (kWh), fractional
    shares (0.3) and percentage shares (30) all give the same number.  It
    is 10,000 for a monopoly and ``10,000 / n`` for ``n`` equal firms.

    Parameters
    ----------
    quantities : array_like
        One non-negative entry per firm, not all zero (any finite magnitude:
        the entries are divided by the largest one before they are added).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For NaN or negative entries, or entries that add up to 0.
    TypeError
        For entries that are not real numbers (text, booleans, complex numbers).

    Examples
    --------
    The example of the U.S. agencies' HHI page: shares 30, 30, 20 and 20 %.

    >>> hhi([30, 30, 20, 20])
    2600.0
    >>> hhi([0.3, 0.3, 0.2, 0.2]) == hhi([300, 300, 200, 200])
    True
    """
    s = _shares(quantities, "quantities")
    return float(np.round(10_000.0 * np.dot(s, s), 9))


class Concentration(enum.StrEnum):
    """A concentration band of the merger guidelines (:func:`concentration`); equal to its text.

    >>> Concentration.HIGH == "highly concentrated", f"{Concentration.LOW}"
    (True, 'unconcentrated')
    """

    LOW = "unconcentrated"
    MODERATE = "moderately concentrated"
    HIGH = "highly concentrated"


class MergerVerdict(str):
    """The band of an HHI and the guidelines' verdict on a merger's change (:func:`concentration` with ``change``).

    A ``str`` equal to ``"<band>; <verdict>"`` (the text :func:`concentration` returned before),
    with the two parts as attributes ``band`` (a :class:`Concentration`) and ``verdict``.

    >>> v = MergerVerdict(Concentration.LOW, "a change of 20 is not significant (100 or less)")
    >>> v.band, v.verdict, v == "unconcentrated; a change of 20 is not significant (100 or less)"
    (<Concentration.LOW: 'unconcentrated'>, 'a change of 20 is not significant (100 or less)', True)
    """

    band: Concentration
    verdict: str

    def __new__(cls, band: Concentration, verdict: str) -> MergerVerdict:
        """Build the text ``"<band>; <verdict>"`` and keep both parts."""
        out = super().__new__(cls, f"{band}; {verdict}")
        out.band, out.verdict = Concentration(band), str(verdict)
        return out

    def __getnewargs__(self) -> tuple[Concentration, str]:
        """Pickle and copy by the two parts."""
        return (self.band, self.verdict)


def _hhi_value(hhi_value) -> float:
    """Validate an HHI value: a finite number from 0 to 10,000."""
    value = as_finite_float(hhi_value, "hhi_value")
    if not 0.0 <= value <= 10_000.0 + 1e-6:
        raise ValueError(f"`hhi_value` must lie between 0 and 10,000 (the HHI scale); got {hhi_value!r}.")
    return value


def _change_verdict(guideline: str, band: str, change: float) -> str:
    """Return the guidelines' verdict on a merger that raises the HHI by ``change`` in a market of ``band``."""
    if guideline == "2023":
        if change > 100 and band == "highly concentrated":
            return (f"a change of {change:,.0f} (more than 100) in a highly concentrated market: "
                    "the merger is presumed to substantially lessen competition")
        if change > 100:
            return (f"a change of {change:,.0f} is significant (more than 100), "
                    "but the market is not highly concentrated")
        return f"a change of {change:,.0f} is not significant (100 or less)"
    if guideline == "2010":
        if change < 100:
            return f"a change of {change:,.0f} (less than 100) is unlikely to have adverse competitive effects"
        if band == "highly concentrated" and change > 200:
            return (f"a change of {change:,.0f} (more than 200) in a highly concentrated market: "
                    "presumed likely to enhance market power")
        if band == "unconcentrated":
            return f"a change of {change:,.0f} in an unconcentrated market is unlikely to have adverse effects"
        return f"a change of {change:,.0f} potentially raises significant competitive concerns"
    # 1992
    if band == "unconcentrated":
        return f"a change of {change:,.0f} in an unconcentrated market is unlikely to have adverse effects"
    if band == "moderately concentrated":
        if change > 100:
            return f"a change of {change:,.0f} (more than 100) potentially raises significant competitive concerns"
        return f"a change of {change:,.0f} (100 or less) is unlikely to have adverse effects"
    if change > 100:
        return (f"a change of {change:,.0f} (more than 100) in a highly concentrated market: "
                "presumed likely to create or enhance market power")
    if change > 50:
        return f"a change of {change:,.0f} (more than 50) potentially raises significant competitive concerns"
    return f"a change of {change:,.0f} (50 or less) is unlikely to have adverse effects"


def concentration(hhi_value, *, guidelines: str = "2023", change=None) -> Concentration | MergerVerdict:
    """Name the concentration band of an HHI value, by the U.S. merger guidelines.

    ==========  =================  ============================  ===================
    guidelines  unconcentrated     moderately concentrated       highly concentrated
    ==========  =================  ============================  ===================
    2023        below 1,000 (*)    1,000 to 1,800 (*)            above 1,800
    2010        below 1,500        1,500 to 2,500                above 2,500
    1992, 1982  below 1,000        1,000 to 1,800                above 1,800
    ==========  =================  ============================  ===================

    (*) The 2023 Merger Guidelines (Guideline 1) set only the threshold of a
    *highly concentrated* market, an HHI greater than 1,800, and call a change
    of more than 100 significant: a merger that does both is presumed to
    substantially lessen competition.  The agencies' HHI page describes 1,000
    to 1,800 as moderately concentrated; "unconcentrated" below 1,000 is the
    1992 label.

    Changes (``change``, the increase of the HHI a merger causes): 2010,
    below 100 unlikely to have adverse effects, more than 100 potentially
    raises significant concerns, more than 200 in a highly concentrated market
    presumed to enhance market power; 1992, in a moderately concentrated
    market more than 100 raises concerns, in a highly concentrated market more
    than 50 raises concerns and more than 100 is presumed to enhance market
    power.  The 1982 change rules are not implemented.

    Parameters
    ----------
    hhi_value : float
        The HHI, 0 to 10,000 (see :func:`hhi`).
    guidelines : {"2023", "2010", "1992", "1982"}
        Which guidelines' bands to use.
    change : float, optional
        The HHI increase a merger causes; adds the guidelines' verdict.

    Returns
    -------
    Concentration or MergerVerdict
        The band, a :class:`Concentration` equal to the text
        ``"unconcentrated"``, ``"moderately concentrated"`` or ``"highly
        concentrated"``; when ``change`` is given, a :class:`MergerVerdict`:
        the text of the band followed by ``"; "`` and the verdict on
        ``change``, with the parts as ``.band`` and ``.verdict``.

    Examples
    --------
    >>> concentration(2600)
    <Concentration.HIGH: 'highly concentrated'>
    >>> concentration(2600, guidelines="2010") == "highly concentrated"
    True
    >>> print(concentration(2000, guidelines="2010"))
    moderately concentrated
    >>> print(concentration(1900, change=150))  # doctest: +NORMALIZE_WHITESPACE
    highly concentrated; a change of 150 (more than 100) in a highly concentrated
    market: the merger is presumed to substantially lessen competition
    >>> concentration(1900, change=150).band
    <Concentration.HIGH: 'highly concentrated'>
    """
    value = _hhi_value(hhi_value)
    key = str(guidelines)
    if key not in _BANDS:
        raise ValueError(f"`guidelines` must be one of {sorted(_BANDS)}; got {guidelines!r}.")
    lower, upper = _BANDS[key]
    if value > upper:
        band = Concentration.HIGH
    elif value < lower:
        band = Concentration.LOW
    else:
        band = Concentration.MODERATE
    if change is None:
        return band
    delta = as_finite_float(change, "change")
    if delta < 0:
        raise ValueError(f"`change` is the increase of the HHI a merger causes and must be >= 0; got {change!r}.")
    if key == "1982":
        raise ValueError("the 1982 change rules are not implemented; use guidelines='1992', '2010' or '2023'.")
    return MergerVerdict(band, _change_verdict(key, band, delta))


def _array_or_float(x: np.ndarray) -> float | np.ndarray:
    """Return a 0-d array as a float, any other array unchanged."""
    return float(x) if x.ndim == 0 else x


def _finite_result(out: np.ndarray, what: str, advice: str) -> np.ndarray:
    """Raise ``ValueError`` when a result overflowed the floats (a ratio of a huge and a tiny input)."""
    flat = np.atleast_1d(out)
    bad = ~np.isfinite(flat)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} overflows the floats (entry {i} would be beyond 1.8e308): {advice}.")
    return out


def lerner_index(price, marginal_cost) -> float | np.ndarray:
    """Lerner index ``L = (P - MC) / P``, the mark-up as a share of the price.

    0 under perfect competition (price equals marginal cost), approaching 1
    when the price is far above it (Lerner 1934).  It is a share of the
    *price*: the mark-up over the *cost*, ``(P - MC) / MC``, is
    ``L / (1 - L)`` (``L = 0.5`` is a price twice the cost).  Vectorised:
    ``price`` and ``marginal_cost`` broadcast against each other.

    Parameters
    ----------
    price : float or array_like
        Prices, > 0.
    marginal_cost : float or array_like
        Marginal costs, >= 0.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> lerner_index(55, 10)  # the monopoly of P = 100 - Q with MC = 10
    0.8181818181818182
    >>> lerner_index(130 / 3, [10, 20])
    array([0.76923077, 0.53846154])

    Six identical Cournot firms of ``P = 100 - Q``, cost 10: ``P = 160/7``,
    56 % of the price is mark-up, and the price is 129 % above the cost.

    >>> L = lerner_index(160 / 7, 10)
    >>> round(L, 4), round(L / (1 - L), 4), round((160 / 7 - 10) / 10, 4)
    (0.5625, 1.2857, 1.2857)
    """
    p = as_1d_float(price, "price", allow_scalar=True)
    check_finite(np.atleast_1d(p), "price", "prices")
    if (p <= 0).any():
        i = int(np.flatnonzero(np.atleast_1d(p) <= 0)[0])
        raise ValueError(
            f"`price` must be positive for a Lerner index (it divides by the price); entry {i} is "
            f"{np.atleast_1d(p)[i]}."
        )
    mc = as_1d_float(marginal_cost, "marginal_cost", allow_scalar=True)
    check_nonnegative(mc, "marginal_cost", "costs")
    try:
        with np.errstate(over="ignore"):
            out = (p - mc) / p
    except ValueError:
        raise ValueError(
            f"`price` (shape {p.shape}) and `marginal_cost` (shape {mc.shape}) must have the same length, "
            "or one of them must be a single number."
        ) from None
    _finite_result(
        out, "The Lerner index (P - MC) / P", "`marginal_cost` is too large for so small a `price` (use one unit)"
    )
    return _array_or_float(out)


def demand_elasticity(intercept, slope, price) -> float | np.ndarray:
    """Price elasticity of linear demand ``Q = (a - P) / b`` at a price.

    ``eps = dQ/dP * P / Q = (-1/b) * P / ((a - P)/b) = -P / (a - P)``: the
    slope cancels, so only the distance to the choke price ``a`` matters.
    Demand is elastic (``eps < -1``) above ``a / 2`` and inelastic below.

    Parameters
    ----------
    intercept : float
        ``a`` > 0, the choke price (no demand at or above it).
    slope : float
        ``b`` > 0 (it cancels, but is checked so that the demand is well defined).
    price : float or array_like
        Prices in ``[0, a)``.

    Returns
    -------
    float or numpy.ndarray
        Negative (or 0 at a zero price).

    Examples
    --------
    >>> demand_elasticity(100, 1, 55)  # the monopoly price of P = 100 - Q, MC = 10
    -1.2222222222222223
    >>> demand_elasticity(100, 1, [40, 50])
    array([-0.66666667, -1.        ])
    """
    a = as_positive_float(intercept, "intercept")
    as_positive_float(slope, "slope")
    p = as_1d_float(price, "price", allow_scalar=True)
    flat = np.atleast_1d(p)
    check_nonnegative(flat, "price", "prices")
    if (flat >= a).any():
        i = int(np.flatnonzero(flat >= a)[0])
        raise ValueError(
            f"`price` must lie below the intercept {a:g} (at or above it nobody buys and the elasticity is "
            f"undefined); entry {i} is {flat[i]}."
        )
    return _array_or_float(-p / (a - p))


def _elasticity(elasticity) -> np.ndarray:
    """Validate elasticities: finite and negative."""
    e = as_1d_float(elasticity, "elasticity", allow_scalar=True)
    flat = np.atleast_1d(e)
    check_finite(flat, "elasticity", "values")
    if (flat >= 0).any():
        i = int(np.flatnonzero(flat >= 0)[0])
        raise ValueError(
            f"`elasticity` must be negative (demand falls when the price rises); entry {i} is {flat[i]}. "
            "Give the elasticity itself, for example -1.5, not its absolute value."
        )
    return e


def lerner_monopoly(elasticity) -> float | np.ndarray:
    """Return a profit-maximising monopolist's Lerner index by the inverse elasticity rule, ``L = -1 / eps``.

    From the first-order condition ``MR = P (1 + 1/eps) = MC``.  A monopolist
    never operates where demand is inelastic (``-1 < eps < 0``): there the rule
    would give ``L > 1``, a negative marginal cost, and cutting output would
    raise revenue and lower cost.

    Parameters
    ----------
    elasticity : float or array_like
        Price elasticity of demand at the monopoly price, <= -1.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> round(lerner_monopoly(-11 / 9), 12)  # P = 100 - Q, MC = 10: P = 55, eps = -55/45
    0.818181818182
    """
    e = _elasticity(elasticity)
    flat = np.atleast_1d(e)
    if (flat > -1).any():
        i = int(np.flatnonzero(flat > -1)[0])
        raise ValueError(
            f"`elasticity` entry {i} is {flat[i]}: demand is inelastic there (between -1 and 0), where a "
            "profit-maximising monopolist never prices (L = -1/eps would exceed 1); give an elasticity <= -1."
        )
    return _array_or_float(-1.0 / e)


def _fractions(shares, name: str = "shares") -> np.ndarray:
    """Validate market shares: non-negative fractions that add up to at most 1."""
    s = as_1d_float(shares, name)
    check_nonnegative(s, name, "shares")
    if s.max() > 1 + _SHARE_TOL or s.sum() > 1 + _SHARE_TOL:
        raise ValueError(
            f"`{name}` must be fractions that add up to at most 1; they add up to {s.sum():g}. "
            "Give 0.3 rather than 30 %, or divide quantities by their total."
        )
    return s


def lerner_cournot(shares, elasticity) -> np.ndarray:
    """Each Cournot firm's Lerner index from its market share: ``L_i = s_i / |eps|``.

    Firm ``i``'s first-order condition ``P + q_i dP/dQ = c_i`` gives
    ``(P - c_i) / P = -(q_i / Q)(Q / P)(dP/dQ) = s_i / |eps|`` (Tirole 1988,
    chapter 5).  It holds for every firm that produces and is not at a
    capacity limit (a firm at capacity has a larger mark-up).

    Parameters
    ----------
    shares : array_like
        Market shares as fractions (adding up to at most 1).
    elasticity : float
        Price elasticity of market demand at the equilibrium price, < 0.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    The symmetric duopoly of ``P = 100 - Q`` with MC = 10: ``P = 40``,
    ``eps = -40/60``, and each firm's share is 1/2.

    >>> lerner_cournot([0.5, 0.5], -40 / 60)
    array([0.75, 0.75])
    """
    s = _fractions(shares)
    e = _elasticity(elasticity)
    if e.ndim != 0:
        raise ValueError("`elasticity` must be a single number: the market's elasticity at the equilibrium price.")
    with np.errstate(over="ignore"):
        out = s / abs(float(e))
    return _finite_result(out, "The Lerner index s_i / |eps|", "`elasticity` is too close to 0")


def weighted_lerner(shares, lerner) -> float:
    """Return the share-weighted industry Lerner index ``sum_i s_i L_i``.

    In a Cournot equilibrium (no firm at capacity) it equals
    ``HHI / |eps|`` with the HHI as a fraction (Cowling and Waterson 1976),
    see :func:`lerner_from_hhi`.

    Parameters
    ----------
    shares : array_like
        Market shares as fractions adding up to 1.
    lerner : array_like
        Each firm's Lerner index, aligned with ``shares``.

    Returns
    -------
    float

    Examples
    --------
    >>> weighted_lerner([0.5, 0.5], [0.75, 0.75])
    0.75
    """
    s = _fractions(shares)
    if abs(s.sum() - 1) > _SHARE_TOL:
        raise ValueError(f"`shares` must add up to 1 for a weighted average; they add up to {s.sum():g}.")
    lerner_values = as_1d_float(lerner, "lerner")
    check_finite(lerner_values, "lerner", "values")
    if lerner_values.size != s.size:
        raise ValueError(f"`lerner` has {lerner_values.size} entries and `shares` {s.size}; give one per firm.")
    largest = float(np.abs(lerner_values).max())
    if largest == 0:
        return 0.0
    with np.errstate(over="ignore"):  # scaled by the largest value, so that only a result beyond 1.8e308 overflows
        out = np.dot(s, lerner_values / largest) * largest
    advice = "the `lerner` values are too large (a Lerner index is at most 1)"
    return float(_finite_result(np.float64(out), "The weighted Lerner index", advice))


def lerner_from_hhi(hhi_value, elasticity) -> float:
    """Cowling and Waterson's relation: share-weighted Lerner index ``= (HHI / 10,000) / |eps|``.

    Weighting ``L_i = s_i / |eps|`` (:func:`lerner_cournot`) by the shares
    gives ``sum_i s_i^2 / |eps|``, the HHI as a fraction over the elasticity.

    Parameters
    ----------
    hhi_value : float
        The HHI on the 0-10,000 scale (see :func:`hhi`).
    elasticity : float
        Price elasticity of market demand, < 0.

    Returns
    -------
    float

    Examples
    --------
    >>> lerner_from_hhi(5000, -40 / 60)  # symmetric duopoly of P = 100 - Q, MC = 10
    0.75
    """
    value = _hhi_value(hhi_value)
    e = _elasticity(elasticity)
    if e.ndim != 0:
        raise ValueError("`elasticity` must be a single number.")
    with np.errstate(over="ignore"):
        out = np.float64(value / 10_000.0) / abs(float(e))
    return float(_finite_result(out, "The Lerner index HHI / |eps|", "`elasticity` is too close to 0"))
