"""Coordinating a community of prosumers: central dispatch, prices, ADMM, P2P trading.

A community of ``N`` prosumers must balance: the net injections ``p_i`` (kW,
positive = the agent sells, negative = it buys) sum to zero.  Agent ``i`` has
a quadratic cost of its net injection and limits::

    f_i(p) = a_i p^2 / 2 + b_i p,        p_min_i <= p <= p_max_i,     a_i > 0

(a consumer's utility is its negative cost: for ``p < 0`` the agent consumes
``-p`` kW and values the last kW at ``b_i + a_i p``).  The marginal cost is
``a_i p + b_i``.

The community's problem is the economic dispatch::

    minimise  sum_i f_i(p_i)   subject to   sum_i p_i = 0   (price lambda),
                                            p_min_i <= p_i <= p_max_i

Its Lagrangian is written ``sum_i f_i(p_i) - lambda sum_i p_i``, so that the
price ``lambda`` is what a seller receives and a buyer pays per kWh: every agent
strictly inside its limits has ``f_i'(p_i) = lambda`` (KKT conditions, Boyd and
Vandenberghe, *Convex Optimization*, 2004, section 5.5.3).  Every price in this
module (``price``, ``lambda_ij``, ``rho * u``) follows this sign.

Four ways to solve it are here, from the most central to the most distributed:

- :func:`centralized_dispatch`: one quadratic program (cvxpy); the price is the
  multiplier of the balance constraint.
- :func:`price_iteration`: dual decomposition.  An operator broadcasts a price,
  every agent best-responds privately, and the price moves against the
  imbalance (Boyd, Xiao, Mutapcic and Mattingley, "Notes on decomposition
  methods", Stanford EE364B, 2008; Kirschen and Strbac, *Fundamentals of Power
  System Economics*, 2nd ed., 2018, ch. 6).
- :func:`admm`: the ADMM exchange algorithm (Boyd, Parikh, Chu, Peleato and
  Eckstein, "Distributed Optimization and Statistical Learning via the
  Alternating Direction Method of Multipliers", Foundations and Trends in
  Machine Learning 3(1), 2011, section 7.3.2), which converges for every
  penalty ``rho > 0``.
- :func:`p2p_bilateral`: multi-bilateral peer-to-peer trading with product
  differentiation (Sorin, Bobo and Pinson, "Consensus-based approach to
  peer-to-peer electricity markets with product differentiation", IEEE Trans.
  Power Systems 34(2), 2019), with :func:`p2p_centralized` as its one-shot
  reference.

Price iteration: the step size
------------------------------
Write ``S(price) = sum_i p_i(price)`` and ``price*`` for the
root.  When no agent is at a limit near ``price*``, ``S`` is linear with
slope ``S' = sum_i 1 / a_i``, so the error ``e_k = price_k - price*`` obeys
``e_{k+1} = (1 - step S') e_k``: the iteration converges iff
``|1 - step S'| < 1``, that is ``0 < step < 2 / S'``, fastest at
``step = 1 / S'`` (one step), and it oscillates with growing amplitude for
``step > 2 / S'``.  Agents at a limit only lower the slope (between any two
prices ``S`` rises by at most ``S'`` per unit), so ``0 < step < 2 / S'`` is
stable for every community, and then ``|imbalance|`` never increases.  Near
the solution only the agents inside their limits there count: with
``S_free = sum 1 / a_i`` over them, steps up to ``2 / S_free`` (larger than
``2 / S'`` when some agents sit at a limit) converge once the price is close,
and larger ones never settle.

ADMM: residuals and stopping
----------------------------
With the exchange problem written as ``x_i - z_i = 0``, ``sum_i z_i = 0``, so that
``z_i^k = x_i^k - xbar^k`` (Boyd et al. 2011, section 3.3):
the primal residual ``r^k = (xbar^k, ..., xbar^k)``, reported as
``||r^k||_2 = sqrt(N) |pbar^k|``; the dual residual ``s^k = -rho (z^k -
z^{k-1})``, reported as ``rho ||(p^k - p^{k-1}) - (pbar^k - pbar^{k-1})||_2``.
The primal residual is what moves the price (``|rho u^{k+1} - rho u^k| =
rho ||r^{k+1}||_2 / sqrt(N)``); the dual residual is ``rho`` times how much
the balanced dispatch ``z`` still moves.  The iteration stops when
``|imbalance| = N |pbar| <= tol * D`` and ``||s^k||_2 / rho <= tol * D``,
with ``D = sum_i max(-p_i^k, 0)`` the total demand (both are kW), and every
agent's dispatch is within ``tol * D`` of its best response to the price
``rho u``: the optimality conditions themselves.  The last test matters for
a large ``rho``, where the dispatch moves so little per iteration that the
residuals are small long before it is right.

P2P ADMM: stopping
------------------
:func:`p2p_bilateral` reports the primal residual ``||t - z||_F`` and the dual
residual ``rho ||z^{k+1} - z^k||_F``, and stops when both (the latter divided by
``rho``) are at most ``tol * D``, with ``D`` the total demand of the current
dispatch, and the dual residual itself, a price, is at most ``tol`` times the
largest bilateral price (Boyd et al. 2011, section 3.3.1, relative criterion).
The last test stops a large ``rho`` from declaring convergence while the trades
still creep towards the optimum.

Tolerances
----------
Convergence is measured *relative to total demand*: the tolerance ``tol`` is a
fraction of the total demand at the current iterate, what the buyers take,
``D = sum_i max(-p_i, 0)`` kW (at least 1 W, so that a community that does
not trade can converge too).  The same ``tol`` thus means the same accuracy
for 10 or 10^5 agents, and for tight or loose limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import pandas as pd

from ._deprecation import always_converged, renamed_keywords
from ._progress import progress_bar
from ._solvers import check_solver, solve
from ._validation import (
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_generator,
    as_positive_float,
    check_finite,
    check_same_length,
)
from .errors import ConvergenceError, SolverError

__all__ = [
    "QuadraticAgents",
    "CoordinationResult",
    "P2PResult",
    "random_community",
    "centralized_dispatch",
    "price_iteration",
    "admm",
    "p2p_bilateral",
    "p2p_centralized",
    "distance_costs",
]

# --------------------------------------------------------------------------- agents


def _fsum(values) -> float:
    """``math.fsum`` (exact), or numpy's sum (+-inf) when an intermediate sum leaves the float range."""
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):  # ValueError: inf - inf
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sum(np.asarray(values, dtype=float)))


def _as_param(values, name: str) -> np.ndarray:
    """Convert a number or a 1-D array of numbers to a float array (0-d for a number)."""
    return as_1d_float(values, name, allow_scalar=True)


@dataclass(frozen=True)
class QuadraticAgents:
    """A community of prosumers with quadratic costs of their net injection.

    Agent ``i`` injects ``p`` kW (``p > 0`` sells, ``p < 0`` buys) at a cost
    ``a_i p^2 / 2 + b_i p`` with ``p_min_kw[i] <= p <= p_max_kw[i]``.  The cost
    must be strictly convex (``a_i > 0``): then the best response to a price
    is unique and has the closed form of :meth:`best_response`.

    Parameters
    ----------
    a : array_like
        Curvature, currency per kW^2 per hour (the marginal cost rises by
        ``a_i`` per kWh for each extra kW), > 0.
    b : array_like
        Marginal cost at zero injection, currency per kWh.  For a buyer it is
        the value of its first kW.
    p_min_kw, p_max_kw : array_like
        Limits of the net injection, ``p_min_kw <= p_max_kw``; a buyer has
        ``p_min_kw < 0``, a seller ``p_max_kw > 0``.  Finite; a very large
        value such as ``1e16`` works as "no limit" (the solvers replace a
        limit that cannot bind by a moderate one).

    Lists, arrays and Series are accepted; a number is repeated for every agent.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> agents.n
    2
    >>> agents.best_response(0.5)
    array([ 0.5, -0.5])
    """

    a: np.ndarray
    b: np.ndarray
    p_min_kw: np.ndarray
    p_max_kw: np.ndarray

    def __post_init__(self) -> None:
        names = ("a", "b", "p_min_kw", "p_max_kw")
        arrays = [_as_param(getattr(self, name), name) for name in names]
        given = [(arr, name) for arr, name in zip(arrays, names) if arr.ndim == 1]
        check_same_length([arr for arr, _ in given], [name for _, name in given])
        n = given[0][0].size if given else 1
        arrays = [np.full(n, float(arr)) if arr.ndim == 0 else arr for arr in arrays]
        a, b, p_min, p_max = arrays
        for arr, name in zip(arrays, names):
            check_finite(arr, name, "numbers")
        if (a <= 0).any():
            i = int(np.flatnonzero(a <= 0)[0])
            raise ValueError(
                f"`a` must be positive (a strictly convex cost; the best response needs it); entry {i} is {a[i]}."
            )
        if (p_min > p_max).any():
            i = int(np.flatnonzero(p_min > p_max)[0])
            raise ValueError(
                f"`p_min_kw` must not exceed `p_max_kw`; entry {i} has p_min_kw = {p_min[i]} > p_max_kw = {p_max[i]}."
            )
        for arr, name in zip(arrays, names):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n(self) -> int:
        """Number of agents."""
        return int(self.a.size)

    @property
    def slope(self) -> float:
        """``S = sum_i 1 / a_i``: how fast the total best response grows with the price (kW per price unit)."""
        return float((1.0 / self.a).sum())

    def _per_agent(self, values, name: str, what: str, *, allow_inf: bool = False) -> np.ndarray:
        """``values`` as a float number (0-d) or one entry per agent, finite or +-inf, or an error naming ``name``."""
        arr = as_1d_float(values, name, allow_scalar=True)
        if arr.ndim == 1 and arr.size != self.n:
            raise ValueError(
                f"`{name}` must be a number or hold one {what} per agent ({self.n}); got {arr.size} entries."
            )
        flat = np.atleast_1d(arr)
        if allow_inf:
            if np.isnan(flat).any():
                raise ValueError(f"`{name}` must not be NaN; entry {int(np.flatnonzero(np.isnan(flat))[0])} is nan.")
        else:
            check_finite(flat, name, f"{what}s")
        return arr

    def _overflow(self, out: np.ndarray, name: str, what: str) -> np.ndarray:
        bad = ~np.isfinite(np.atleast_1d(out))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"`{name}` is too large: agent {i}'s {what} overflows the floats (beyond 1.8e308). Give injections "
                "in kW of a real community."
            )
        return out

    def cost(self, p_kw) -> np.ndarray:
        """Each agent's cost ``a p^2 / 2 + b p`` of the injections ``p_kw``.

        ``p_kw`` is one finite injection per agent (kW), or one number for all.

        Examples
        --------
        >>> QuadraticAgents([2.0, 1.0], [1.0, 0.0], [-5.0, -5.0], [5.0, 5.0]).cost([1.0, -2.0])
        array([2., 2.])
        """
        p = self._per_agent(p_kw, "p_kw", "injection")
        with np.errstate(over="ignore", invalid="ignore"):
            # p (a p / 2 + b): no p^2, which overflows long before the cost does
            out = p * (0.5 * self.a * p + self.b)
        return self._overflow(out, "p_kw", "cost")

    def marginal_cost(self, p_kw) -> np.ndarray:
        """Each agent's marginal cost ``a p + b`` at the injections ``p_kw`` (one per agent, or one number)."""
        p = self._per_agent(p_kw, "p_kw", "injection")
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.a * p + self.b
        return self._overflow(out, "p_kw", "marginal cost")

    def best_response(self, price) -> np.ndarray:
        """Each agent's profit-maximising injection at ``price``.

        Agent ``i`` maximises ``price * p - f_i(p)`` over its limits; setting
        the derivative to zero and clipping gives::

            p_i = clip((price - b_i) / a_i, p_min_i, p_max_i)

        ``price`` is a number, or one price per agent (``+inf`` gives every
        agent's ``p_max_kw``, ``-inf`` its ``p_min_kw``).

        Examples
        --------
        >>> QuadraticAgents([2.0], [1.0], [-5.0], [5.0]).best_response(3.0)
        array([1.])
        """
        return self._respond(self._per_agent(price, "price", "price", allow_inf=True))

    def _respond(self, price) -> np.ndarray:
        """:meth:`best_response` without the checks (internal: the price may be a breakpoint beyond the floats)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.clip((np.asarray(price, dtype=float) - self.b) / self.a, self.p_min_kw, self.p_max_kw)

    def _cost(self, p_kw) -> np.ndarray:
        """:meth:`cost` without the checks (internal: +-inf where it overflows)."""
        p = np.asarray(p_kw, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            return p * (0.5 * self.a * p + self.b)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per agent: a, b, p_min_kw, p_max_kw."""
        return pd.DataFrame({"a": self.a, "b": self.b, "p_min_kw": self.p_min_kw, "p_max_kw": self.p_max_kw})


#: The largest community :func:`random_community` draws: a million agents (each of the arrays of
#: the community takes 8 MB; ``n = 10**12`` would ask for terabytes).
MAX_AGENTS = 1_000_000


def _short_int(n) -> str:
    """``repr(n)``, or "about 1e400" for an integer whose digits would fill the message."""
    if isinstance(n, int) and not isinstance(n, bool) and abs(n) > 10**30:
        return f"an integer of about {'-' if n < 0 else ''}1e{int(abs(n).bit_length() * 0.30103)}"
    return repr(n)


@renamed_keywords(n="n_agents")
def random_community(n_agents: int, *, seed) -> QuadraticAgents:
    """Draw a community of ``n_agents`` prosumers: sellers, buyers and prosumers with storage.

    About 40 % are sellers (a PV system or a small generator: ``p_min = 0``,
    ``p_max`` uniform on [1, 6] kW, ``b`` on [0.02, 0.15]), 40 % buyers
    (``p_min`` on [-6, -1] kW, ``p_max = 0``, ``b`` on [0.25, 0.45], the value of
    the first kW) and 20 % prosumers with a battery (``p_min`` on [-3, -0.5],
    ``p_max`` on [0.5, 3], ``b`` on [0.1, 0.3]).  Curvatures ``a`` are uniform
    on [0.02, 0.1] currency per kW^2, so that a good share of the agents end
    at a limit at the clearing price (about 0.2 per kWh) and the rest inside.
    Every agent can inject zero, so the community can always balance.

    Parameters
    ----------
    n_agents : int
        Number of agents, 1 to :data:`MAX_AGENTS` (1,000,000).  (The old keyword ``n`` still
        works for one release, with a ``DeprecationWarning``.)
    seed : None, int or numpy.random.Generator
        The source of randomness (a Generator is used as is).

    Returns
    -------
    QuadraticAgents

    Examples
    --------
    >>> agents = random_community(5, seed=1)
    >>> agents.n
    5
    >>> bool(agents.p_min_kw.sum() <= 0 <= agents.p_max_kw.sum())
    True
    """
    n = n_agents
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"`n_agents` must be a positive integer; got {_short_int(n)}.")
    if n > MAX_AGENTS:
        raise ValueError(
            f"`n_agents` must be at most {MAX_AGENTS:,} agents (a community that large already takes minutes to "
            f"coordinate, and P2P trading needs N x N matrices); got {_short_int(n)}."
        )
    rng = as_generator(seed)
    kind = rng.choice(3, size=int(n), p=[0.4, 0.4, 0.2])  # 0 seller, 1 buyer, 2 prosumer
    a = rng.uniform(0.02, 0.1, n)
    b = np.select([kind == 0, kind == 1], [rng.uniform(0.02, 0.15, n), rng.uniform(0.25, 0.45, n)],
                  rng.uniform(0.1, 0.3, n))
    p_min = np.select([kind == 0, kind == 1], [np.zeros(n), rng.uniform(-6.0, -1.0, n)], rng.uniform(-3.0, -0.5, n))
    p_max = np.select([kind == 0, kind == 1], [rng.uniform(1.0, 6.0, n), np.zeros(n)], rng.uniform(0.5, 3.0, n))
    return QuadraticAgents(a=a, b=b, p_min_kw=p_min, p_max_kw=p_max)


def _demand_kw(p_kw) -> float:
    """Total demand at the injections ``p_kw``: ``sum_i max(-p_i, 0)``, at least 1 W (the tolerance scale)."""
    return max(float(np.maximum(-np.asarray(p_kw, dtype=float), 0.0).sum()), 1e-3)


def _price_scale(lam: np.ndarray, off: np.ndarray) -> float:
    """Return the size of the bilateral prices, at least 1e-3: the scale of P2P ADMM's dual residual."""
    return max(float(np.abs(lam[off]).max(initial=0.0)), 1e-3)


def _check_agents(agents, *, min_n: int = 1) -> QuadraticAgents:
    """Return ``agents`` if it is a QuadraticAgents of at least ``min_n`` agents that can balance, or raise."""
    if not isinstance(agents, QuadraticAgents):
        raise TypeError(
            f"`agents` must be a QuadraticAgents (see random_community); got {type(agents).__name__}."
        )
    lo, hi = _fsum(agents.p_min_kw), _fsum(agents.p_max_kw)  # exact; +-inf only beyond the float range
    if lo > 0:
        raise ValueError(
            f"The community cannot balance: even at their lowest injections the agents inject "
            f"sum(p_min_kw) = {lo:g} kW > 0. Let some agent buy (a negative p_min_kw)."
        )
    if hi < 0:
        raise ValueError(
            f"The community cannot balance: even at their highest injections the agents inject "
            f"sum(p_max_kw) = {hi:g} kW < 0. Let some agent sell (a positive p_max_kw)."
        )
    if agents.n < min_n:
        raise ValueError(f"`agents` must hold at least {min_n} agents for this method; got {agents.n}.")
    return agents


def _check_tol_iter(tol, max_iter) -> tuple[float, int]:
    """Return ``tol`` (a fraction of the demand, in (0, 1)) and ``max_iter`` (a positive integer), or raise."""
    tol = as_positive_float(tol, "tol")
    if tol >= 1:
        raise ValueError(
            f"`tol` is a fraction of the total demand and must lie below 1 (1e-6 is typical); got {tol!r}. "
            "A tolerance of 1 or more would accept any dispatch."
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"`max_iter` must be a positive integer; got {max_iter!r}.")
    return tol, int(max_iter)


# --------------------------------------------------------------------------- results


class _Outcome:
    """What the results of coordinating a community share: the dispatch's demand and its table."""

    agents: QuadraticAgents
    dispatch: np.ndarray

    @property
    def demand_kw(self) -> float:
        """Total demand, ``sum_i max(-p_i, 0)`` (at least 1 W): the scale of ``tol``."""
        return _demand_kw(self.dispatch)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per agent: a, b, p_min_kw, p_max_kw, dispatch_kw, cost."""
        frame = self.agents.to_frame()
        frame["dispatch_kw"] = self.dispatch
        frame["cost"] = self.agents.cost(self.dispatch)
        return frame


_RAISES_INSTEAD = "a method that does not converge raises ConvergenceError"


@dataclass(frozen=True)
class CoordinationResult(_Outcome):
    """The outcome of coordinating a community.

    Attributes
    ----------
    price : float
        The balancing price, currency per kWh: what a seller receives and a
        buyer pays (for :func:`admm`, ``rho * u``).
    dispatch : numpy.ndarray
        Each agent's net injection, kW (positive sells).
    history : pandas.DataFrame
        One row per iteration: ``iteration``, ``price``, ``imbalance_kw`` (the
        sum of the injections) and, for ADMM, ``primal_residual`` and
        ``dual_residual``.  Empty for :func:`centralized_dispatch`.
    iterations : int
        Iterations run (0 for a central solve).  A method that does not converge raises
        :class:`ConvergenceError` instead of returning (so the ``converged`` attribute of
        earlier releases, always True, is deprecated).
    method : str
        ``"centralized"``, ``"price iteration"`` or ``"admm"``.
    welfare : float
        Minus the total cost, ``-sum_i f_i(p_i)``.
    agents : QuadraticAgents
        The community that was coordinated.
    """

    price: float
    dispatch: np.ndarray = field(repr=False)
    history: pd.DataFrame = field(repr=False)
    iterations: int
    method: str
    welfare: float
    agents: QuadraticAgents = field(repr=False)
    converged = always_converged(_RAISES_INSTEAD)  # deprecated (issue 17): not a field

    @property
    def imbalance_kw(self) -> float:
        """The sum of the injections (zero when the community balances)."""
        return float(self.dispatch.sum())


def _result(agents, price, dispatch, history, iterations, method) -> CoordinationResult:
    """Gather a dispatch and its price into a :class:`CoordinationResult` (welfare computed exactly)."""
    return CoordinationResult(
        price=float(price),
        dispatch=dispatch,
        history=history,
        iterations=int(iterations),
        method=method,
        welfare=-_fsum(agents._cost(dispatch)),
        agents=agents,
    )


# --------------------------------------------------------------------------- exact clearing


def clearing_price(agents: QuadraticAgents, *, target_kw: float = 0.0) -> float:
    """Return the price at which the total best response equals ``target_kw`` (exact, no solver).

    The total best response ``S(price) = sum_i clip((price - b_i) / a_i, ...)``
    is continuous, nondecreasing and linear between the breakpoints
    ``b_i + a_i p_min_i`` and ``b_i + a_i p_max_i``.  A binary search over the
    sorted breakpoints finds the linear piece that crosses ``target_kw``
    (``log2(2N)`` evaluations of ``S``, each O(N)).  On that piece every agent
    is at its lower limit, at its upper limit or free, and the root is solved
    in closed form from that split::

        price = (target - sum_lower p_min_i - sum_upper p_max_i + sum_free b_i / a_i) / sum_free 1 / a_i

    (exact sums), not interpolated between the breakpoints: with "no limit"
    idioms such as ``p_max_kw = 1e16`` the breakpoints are huge, and an
    interpolation between them would lose every digit of a price near 0.5.
    When the root is not unique (a flat piece at the target, every agent at a
    limit) an end of the interval is returned.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> clearing_price(agents), clearing_price(agents, target_kw=1.0)
    (0.5, 1.0)
    """
    a, b, lo_kw, hi_kw = agents.a, agents.b, agents.p_min_kw, agents.p_max_kw
    with np.errstate(over="ignore"):  # a breakpoint beyond the float range is +-inf, in the right order
        bp_lo, bp_hi = b + a * lo_kw, b + a * hi_kw
    bp = np.sort(np.concatenate((bp_lo, bp_hi)))

    def excess(price: float) -> float:
        return _fsum(np.clip((price - b) / a, lo_kw, hi_kw)) - target_kw

    lo, hi = 0, bp.size - 1
    if excess(bp[lo]) >= 0:
        return float(bp[lo])
    if excess(bp[hi]) <= 0:
        return float(bp[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if excess(bp[mid]) <= 0:
            lo = mid
        else:
            hi = mid
    left, right = float(bp[lo]), float(bp[hi])
    if right == left:
        return left
    # No breakpoint lies strictly inside (left, right): every agent is at a limit or free on the whole piece.
    at_upper, at_lower = bp_hi <= left, bp_lo >= right
    free = ~(at_upper | at_lower)
    if not free.any():  # cannot happen on a piece where S rises; keep the bracket
        return left
    fixed = _fsum(np.concatenate((lo_kw[at_lower], hi_kw[at_upper])))
    price = (target_kw - fixed + _fsum(b[free] / a[free])) / _fsum(1.0 / a[free])
    return float(min(max(price, left), right))


def _solver_agents(agents: QuadraticAgents, max_fee: float = 0.0) -> QuadraticAgents:
    """Return the community with every limit that cannot bind at an optimum replaced by a finite, moderate one.

    "No limit" idioms such as ``p_max_kw = 1e16`` leave an interior-point
    solver with bounds 16 orders of magnitude beyond the solution, and it
    fails.  A bound that no optimum can reach changes nothing, so each agent's
    limits are tightened to a ball that provably contains every optimal
    injection of the dispatch, and of the P2P problem with fees of at most
    ``max_fee`` per kW traded:

    - ``U``: the cost of a feasible point, the pool dispatch ``p*`` (exact,
      :func:`clearing_price`) traded from every seller to every buyer pro rata
      (fees at most ``max_fee * D(p*)``);
    - ``m_j = min f_j`` over agent ``j``'s limits; at an optimum the fees are
      >= 0 and every other agent costs at least ``m_j``, so
      ``f_i(p_i) <= R_i = U - sum_{j != i} m_j``;
    - ``f_i(p) = a_i/2 (p + b_i/a_i)^2 - b_i^2/(2 a_i)``, hence
      ``|p_i + b_i/a_i| <= r_i = sqrt(2 R_i / a_i + (b_i/a_i)^2)``.

    The new limits are the old ones intersected with ``-b_i/a_i +- (2 r_i + 1)``
    (a margin so that they are never active: the solution and its multipliers
    are those of the original problem).
    """
    a, b, lo_kw, hi_kw = agents.a, agents.b, agents.p_min_kw, agents.p_max_kw
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p_star = agents._respond(clearing_price(agents))
        u = _fsum(agents._cost(p_star)) + max_fee * _demand_kw(p_star)
        m = agents._cost(np.clip(-b / a, lo_kw, hi_kw))
        total = _fsum(m)
        slack = 1e-9 * (abs(u) + float(np.abs(m).sum()))  # rounding in the sums above
        reach = u - total + m + slack  # R_i
        centre = -b / a
        radius = np.sqrt(np.maximum(2.0 * reach / a + centre * centre, 0.0))
        lo_new = np.maximum(lo_kw, centre - (2.0 * radius + 1.0))
        hi_new = np.minimum(hi_kw, centre + (2.0 * radius + 1.0))
    ok = np.isfinite(lo_new) & np.isfinite(hi_new) & (lo_new <= hi_new)  # else keep the agent's own limits
    lo_new, hi_new = np.where(ok, lo_new, lo_kw), np.where(ok, hi_new, hi_kw)
    if np.array_equal(lo_new, lo_kw) and np.array_equal(hi_new, hi_kw):
        return agents
    return QuadraticAgents(a=a, b=b, p_min_kw=lo_new, p_max_kw=hi_new)


# --------------------------------------------------------------------------- centralized


def centralized_dispatch(agents: QuadraticAgents, *, solver: str | None = None) -> CoordinationResult:
    """Solve the community's dispatch as one quadratic program; the price is its dual.

    ::

        minimise    sum_i a_i p_i^2 / 2 + b_i p_i
        subject to  sum_i p_i = 0                 (lambda)
                    p_min_i <= p_i <= p_max_i

    The price is the multiplier ``lambda`` of the balance, with the sign that
    makes it the marginal cost of the community: at the optimum every agent
    strictly inside its limits has ``a_i p_i + b_i = lambda`` (KKT
    stationarity), and ``lambda`` is the cost saved by one more kW of free
    supply (the tests check it by a finite difference).

    Parameters
    ----------
    agents : QuadraticAgents
    solver : str, optional
        A cvxpy solver name.  Default: Clarabel with tolerances of 1e-10.

    Returns
    -------
    CoordinationResult
        With ``method="centralized"``, ``iterations=0`` and an empty history.

    Raises
    ------
    SolverError
        If the solver fails.
    ValueError, TypeError
        If ``solver`` is not an installed cvxpy solver's name.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> r = centralized_dispatch(agents)
    >>> round(r.price, 6), np.round(r.dispatch, 6) + 0.0
    (0.5, array([ 0.5, -0.5]))
    """
    agents = _check_agents(agents)
    solver = check_solver(solver)
    p = cp.Variable(agents.n, name="p_kw")
    balance = cp.sum(p) == 0
    cost = 0.5 * cp.sum(cp.multiply(agents.a, cp.square(p))) + agents.b @ p
    bounded = _solver_agents(agents)  # "no limit" values such as 1e16 made finite for the solver
    problem = cp.Problem(cp.Minimize(cost), [balance, p >= bounded.p_min_kw, p <= bounded.p_max_kw])
    solve(problem, what="the dispatch QP", solver=solver, choosable=True)
    if balance.dual_value is None:
        raise SolverError("The solver gave no price (no multiplier of the balance) for the dispatch QP; try another "
                          "`solver`.")
    dispatch = np.clip(np.asarray(p.value, dtype=float), agents.p_min_kw, agents.p_max_kw)
    # cvxpy's Lagrangian is f + nu * (sum p): stationarity a p + b + nu = 0, so the price is -nu.
    price = -float(np.asarray(balance.dual_value).ravel()[0])
    return _result(agents, price, dispatch, pd.DataFrame(columns=["iteration", "price", "imbalance_kw"]), 0,
                   "centralized")


# --------------------------------------------------------------------------- iterations


class _PerAgentCvxpy:
    """One small cvxpy problem per agent, built once with Parameters (for teaching, small N)."""

    def __init__(self, agents: QuadraticAgents, rho: float | None = None) -> None:
        self.problems, self.params, self.vars = [], [], []
        for a, b, lo, hi in zip(agents.a, agents.b, agents.p_min_kw, agents.p_max_kw):
            p = cp.Variable()
            par = cp.Parameter()
            if rho is None:  # best response to a price: maximise par * p - f(p)
                objective = 0.5 * a * cp.square(p) + b * p - par * p
            else:  # ADMM step: f(p) + rho/2 (p - par)^2
                objective = 0.5 * a * cp.square(p) + b * p + 0.5 * rho * cp.square(p - par)
            self.problems.append(cp.Problem(cp.Minimize(objective), [p >= lo, p <= hi]))
            self.params.append(par)
            self.vars.append(p)
        self.lo, self.hi = agents.p_min_kw, agents.p_max_kw

    def __call__(self, values) -> np.ndarray:
        """Return every agent's answer to its value in ``values`` (a price, or the ADMM target), clipped."""
        values = np.broadcast_to(np.asarray(values, dtype=float), (len(self.problems),))
        out = np.empty(len(self.problems))
        for i, (prob, par, var) in enumerate(zip(self.problems, self.params, self.vars)):
            par.value = float(values[i])
            # tol 1e-11, tighter than the default 1e-10: the loop must reproduce the closed-form best responses
            # of the vectorised path so closely that both run the same number of iterations to the same price
            # (within 1e-8; tests/test_coordination.py compares them).
            solve(prob, what=f"agent {i}'s problem", tol=1e-11)
            out[i] = float(var.value)
        return np.clip(out, self.lo, self.hi)


# Divergence detection of the price iteration (see price_iteration's docstring).
_GROWTH_PATIENCE = 5
_OSCILLATION_WINDOW = 50


class _Iterations:
    """The bookkeeping the iterative methods share: one history row per iteration, the progress bar, the errors.

    Used as a context manager (the progress bar closes however the loop ends).  :meth:`watch`
    holds the divergence tests of the price iteration: ``|imbalance|`` growing for
    ``_GROWTH_PATIENCE`` iterations in a row, or changing sign for ``_OSCILLATION_WINDOW``
    iterations without a new low.
    """

    def __init__(self, desc: str, columns: tuple[str, ...], *, progress: bool, max_iter: int) -> None:
        self.rows: dict[str, list] = {"iteration": [], **{name: [] for name in columns}}
        self.bar = progress_bar(progress, max_iter, desc)
        self.grow, self.flips, self.since_best, self.best = 0, 0, 0, math.inf

    def __enter__(self) -> _Iterations:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def record(self, k: int, **values: float) -> None:
        """Append iteration ``k``'s row (one value per column) and advance the progress bar."""
        self.rows["iteration"].append(k)
        for name, value in values.items():
            self.rows[name].append(value)
        if self.bar is not None:
            self.bar.update()

    def last(self, name: str) -> float:
        """Return the latest value of the column ``name``."""
        return self.rows[name][-1]

    def history(self) -> pd.DataFrame:
        """Return the rows so far as a DataFrame, one row per iteration."""
        return pd.DataFrame(self.rows)

    def error(self, message: str, iterations: int) -> ConvergenceError:
        """Return the ConvergenceError to raise after ``iterations``, carrying the history."""
        return ConvergenceError(message, iterations=iterations, history=self.history())

    def watch(self, imbalance: float, demand: float) -> str | None:
        """Update the divergence tests with the latest imbalance; return "grows", "oscillates" or None."""
        size, previous = abs(imbalance), self.rows["imbalance_kw"][-2:-1]
        if previous:
            self.grow = self.grow + 1 if size > abs(previous[0]) * (1 + 1e-9) + 1e-12 * demand else 0
            self.flips = self.flips + 1 if imbalance * previous[0] < 0 else 0
        if size < self.best * (1 - 1e-9):
            self.best, self.since_best = size, 0
        else:
            self.since_best += 1
        if self.grow >= _GROWTH_PATIENCE:
            return "grows"
        if self.since_best >= _OSCILLATION_WINDOW and self.flips >= _OSCILLATION_WINDOW:
            return "oscillates"
        return None


def price_iteration(
    agents: QuadraticAgents,
    *,
    step: float,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    price0: float = 0.0,
    progress: bool = False,
    vectorised: bool = True,
) -> CoordinationResult:
    """Find the balancing price by dual decomposition (price iteration, tatonnement).

    At iteration ``k`` the coordinator broadcasts ``price_k``; every agent
    best-responds privately, ``p_i = clip((price_k - b_i) / a_i, p_min_i,
    p_max_i)``, and reports only ``p_i``; the price moves against the
    imbalance (excess supply lowers it)::

        price_{k+1} = price_k - step * sum_i p_i(price_k)

    This is gradient ascent on the dual function of the dispatch problem,
    whose gradient is minus the imbalance (Boyd, Xiao, Mutapcic and Mattingley,
    "Notes on decomposition methods", Stanford EE364B, 2008, section 3).

    The step: ``0 < step < 2 / S'``, ``S' = sum_i 1 / a_i``, is stable for every community (module
    docstring, *Price iteration: the step size*).

    Divergence is detected and reported, never looped on: a
    :class:`ConvergenceError` is raised when ``|imbalance|`` grows for 5
    iterations in a row, or when it alternates in sign for 50 iterations
    without reaching a new low (a bounded oscillation, once agents hit their
    limits).  Both messages name the stable bound ``2 / S'``.

    Parameters
    ----------
    agents : QuadraticAgents
    step : float
        Price change per kW of imbalance, > 0.  ``1 / agents.slope`` is a safe,
        fast choice.
    tol : float
        Stop when ``|sum_i p_i| <= tol * D``, with ``D = sum_i max(-p_i, 0)``
        the total demand at the current price (module docstring); ``0 < tol < 1``.
    max_iter : int
        Raise :class:`ConvergenceError` if not converged after this many iterations.
    price0 : float
        The first price.
    progress : bool
        Show a tqdm progress bar.
    vectorised : bool
        Best responses in closed form for all agents at once (default), or,
        with ``False``, each agent's problem solved with cvxpy in a loop
        (slow; shows that each agent only needs its own data).

    Returns
    -------
    CoordinationResult
        With ``method="price iteration"``.  ``history`` holds the price each
        iteration broadcast and the imbalance it produced.

    Raises
    ------
    ConvergenceError
        If the iteration diverges, oscillates or runs out of iterations; its
        ``iterations`` and ``history`` say how far it got.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> r = price_iteration(agents, step=0.25)
    >>> round(r.price, 5), r.iterations  # the price error halves at every iteration (1 - step * S = 0.5)
    (0.5, 22)
    >>> price_iteration(agents, step=1.5)
    Traceback (most recent call last):
    ...
    te_course.errors.ConvergenceError: The price iteration diverges: ...
    """
    agents = _check_agents(agents)
    step = as_positive_float(step, "step")
    tol, max_iter = _check_tol_iter(tol, max_iter)
    price = as_finite_float(price0, "price0")
    respond = agents._respond if vectorised else _PerAgentCvxpy(agents)
    with _Iterations("price iteration", ("price", "imbalance_kw"), progress=progress, max_iter=max_iter) as log:
        for k in range(1, max_iter + 1):
            p = respond(price)  # every agent's best response to the broadcast price
            imbalance = float(p.sum())
            log.record(k, price=price, imbalance_kw=imbalance)
            demand = _demand_kw(p)
            if abs(imbalance) <= tol * demand:
                return _result(agents, price, p, log.history(), k, "price iteration")
            trouble = log.watch(imbalance, demand)
            if trouble is not None:
                raise log.error(_divergence_message(trouble, log, k, step, agents), k)
            price = price - step * imbalance  # excess supply lowers the price
            if not math.isfinite(price):
                raise log.error(_divergence_message("overflows", log, k, step, agents), k)
        raise log.error(
            f"The price iteration did not converge in max_iter = {max_iter} iterations: the imbalance is still "
            f"{imbalance:.3g} kW, {abs(imbalance) / demand:.3g} of total demand (tol = {tol:g}). Increase "
            f"`max_iter`, or take a larger step: {_stable_steps(agents)}.", max_iter,
        )


def _stable_steps(agents: QuadraticAgents) -> str:
    """Return the sentence that gives the steps for which the price iteration is stable."""
    bound = 2.0 / agents.slope
    return (f"it is stable for 0 < step < 2/S = {bound:.6g}, where S = sum(1/a) = {agents.slope:.6g} "
            f"(step = 1/S = {bound / 2:.6g} is a good choice)")


def _divergence_message(trouble: str, log: _Iterations, k: int, step: float, agents: QuadraticAgents) -> str:
    """Return the message of a diverging price iteration ("grows", "oscillates", "overflows"), with the stable steps."""
    imbalance = log.last("imbalance_kw")
    if trouble == "overflows":
        return (f"The price iteration diverges: the price left the float range after iteration {k} (imbalance "
                f"{imbalance:.3g} kW times step = {step:.6g}); the step is far too large: {_stable_steps(agents)}.")
    if trouble == "grows":
        how = f"|imbalance| grew for {log.grow} iterations in a row (to {abs(imbalance):.3g} kW at iteration {k})"
    else:
        how = (f"the imbalance has changed sign at every iteration for {log.flips} iterations without getting "
               f"smaller (|imbalance| {abs(imbalance):.3g} kW at iteration {k})")
    return f"The price iteration diverges: {how}; step = {step:.6g} is too large: {_stable_steps(agents)}."


def admm(
    agents: QuadraticAgents,
    *,
    rho: float,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    price0: float = 0.0,
    progress: bool = False,
    vectorised: bool = True,
) -> CoordinationResult:
    """Balance the community with the ADMM exchange algorithm.

    Boyd, Parikh, Chu, Peleato and Eckstein (2011), section 7.3.2, solve the
    exchange problem ``minimise sum_i f_i(x_i) s.t. sum_i x_i = 0`` with::

        x_i^{k+1} = argmin_x  f_i(x) + rho/2 (x - x_i^k + xbar^k + u^k)^2
        u^{k+1}   = u^k + xbar^{k+1}

    where ``xbar`` is the average of the ``x_i`` and ``u`` the scaled dual
    variable; ``rho * u`` converges to the price.  Their ``x_i`` is what agent
    ``i`` *receives*, so here ``x_i = -p_i``, and in injections the algorithm is::

        p_i^{k+1} = argmin_p  f_i(p) + rho/2 (p - p_i^k + pbar^k - u^k)^2
        u^{k+1}   = u^k - pbar^{k+1},          price = rho * u

    The agent step has the closed form (set the derivative to zero, clip)::

        p_i^{k+1} = clip((rho v_i - b_i) / (a_i + rho), p_min_i, p_max_i),
        v_i = p_i^k - pbar^k + u^k

    Excess supply lowers the price: ``rho u^{k+1} - rho u^k = -rho pbar^{k+1}``.
    At a fixed point ``pbar = 0`` and ``a_i p_i + b_i = rho u`` for every agent
    inside its limits: the KKT conditions of the dispatch with
    ``lambda = rho u``.  (Boyd et al.'s update copied with ``p`` in place of
    ``x``, ``+ pbar^k + u^k`` and ``u^{k+1} = u^k + pbar^{k+1}``, is the same
    algorithm with ``u`` of the opposite sign: its price is ``-rho u``.)  ADMM
    converges for every ``rho > 0`` (Boyd et al., section 3.2); ``rho`` changes
    only the speed (a value near the agents' typical ``a`` works well).

    It stops on the optimality conditions (module docstring, *ADMM: residuals and stopping*).

    Parameters
    ----------
    agents : QuadraticAgents
    rho : float
        The ADMM penalty, > 0 (currency per kW^2, like ``a``).
    tol, max_iter, progress, vectorised
        As in :func:`price_iteration`.
    price0 : float
        The first price (``u^0 = price0 / rho``).

    Returns
    -------
    CoordinationResult
        With ``method="admm"`` and ``primal_residual`` and ``dual_residual`` in
        the history.

    Raises
    ------
    ConvergenceError
        If it has not converged after ``max_iter`` iterations.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> r = admm(agents, rho=1.0)
    >>> round(r.price, 5), np.round(r.dispatch, 5) + 0.0
    (0.5, array([ 0.5, -0.5]))
    """
    agents = _check_agents(agents)
    rho = as_positive_float(rho, "rho")
    tol, max_iter = _check_tol_iter(tol, max_iter)
    price0 = as_finite_float(price0, "price0")
    a, b, lo, hi = agents.a, agents.b, agents.p_min_kw, agents.p_max_kw
    if vectorised:
        def step_fn(v: np.ndarray) -> np.ndarray:
            return np.clip((rho * v - b) / (a + rho), lo, hi)
    else:
        step_fn = _PerAgentCvxpy(agents, rho=rho)
    p, pbar, u = np.zeros(agents.n), 0.0, price0 / rho
    columns = ("price", "imbalance_kw", "primal_residual", "dual_residual")
    with _Iterations("ADMM", columns, progress=progress, max_iter=max_iter) as log:
        for k in range(1, max_iter + 1):
            p_new = step_fn(p - pbar + u)  # every agent's step, then the coordinator's dual update
            pbar_new = float(p_new.mean())
            u = u - pbar_new
            dz = float(np.linalg.norm((p_new - p) - (pbar_new - pbar)))
            p, pbar = p_new, pbar_new
            log.record(k, price=rho * u, imbalance_kw=float(p.sum()), primal_residual=math.sqrt(agents.n) * abs(pbar),
                       dual_residual=rho * dz)
            threshold = tol * _demand_kw(p)
            if _admm_done(agents, p, rho * u, dz, threshold):
                return _result(agents, rho * u, p, log.history(), k, "admm")
        gap = np.max(np.abs(p - agents._respond(rho * u)), initial=0.0)
        raise log.error(
            f"ADMM did not converge in max_iter = {max_iter} iterations: the imbalance is still "
            f"{log.last('imbalance_kw'):.3g} kW, the dispatch still moves by {dz:.3g} kW per iteration and is "
            f"{gap:.3g} kW from the agents' best responses to the price, against tol * total demand = "
            f"{threshold:.3g} kW. Increase `max_iter`, or try a `rho` nearer the agents' typical a (median "
            f"{float(np.median(a)):.3g}; now rho = {rho:g}).", max_iter,
        )


def _admm_done(agents: QuadraticAgents, p: np.ndarray, price: float, dz: float, threshold: float) -> bool:
    """Whether ADMM may stop: the dispatch balances, has settled, and is every agent's best response to the price.

    Stop on the optimality conditions themselves, which do not depend on rho.  A small dual residual alone
    is not enough: with a large rho the dispatch moves by little per iteration long before it is right
    (issue 14: rho = 1e9 "converged" after one iteration, 2.7 kW from the optimum).
    """
    if abs(float(p.sum())) > threshold or dz > threshold:
        return False
    return bool(np.max(np.abs(p - agents._respond(price)), initial=0.0) <= threshold)


# --------------------------------------------------------------------------- peer to peer


@dataclass(frozen=True)
class P2PResult(_Outcome):
    """The outcome of multi-bilateral peer-to-peer trading.

    Attributes
    ----------
    trades : numpy.ndarray
        ``(N, N)``: ``trades[i, j]`` kW that agent ``i`` sells to agent ``j``
        (negative: buys); antisymmetric, zero diagonal.
    prices : numpy.ndarray
        ``(N, N)`` bilateral prices, currency per kWh, symmetric; NaN where
        no trade takes place (and on the diagonal).
    multipliers : numpy.ndarray
        ``(N, N)`` the reciprocity multipliers for every pair, traded or not.
    dispatch : numpy.ndarray
        Each agent's net injection, ``trades.sum(axis=1)``.
    welfare : float
        ``-(sum_i f_i(p_i) + trading costs)``.
    trading_cost_paid : float
        The total paid for trading, ``sum_{i != j} c_ij |t_ij| / 2``.
    pool_welfare : float
        The welfare of the same community in a pool without trading costs
        (the centralized dispatch, exact).  ``welfare_loss`` is the difference.
    history : pandas.DataFrame
        One row per iteration: ``iteration``, ``price`` (mean multiplier),
        ``imbalance_kw``, ``primal_residual``, ``dual_residual``.
    iterations : int
        Iterations run (0 for the central solve); ADMM that does not converge raises
        :class:`ConvergenceError` (the ``converged`` attribute, always True, is deprecated).
    method : str
        ``"p2p admm"`` or ``"p2p centralized"``.
    agents : QuadraticAgents
    """

    trades: np.ndarray = field(repr=False)
    prices: np.ndarray = field(repr=False)
    multipliers: np.ndarray = field(repr=False)
    dispatch: np.ndarray = field(repr=False)
    welfare: float
    trading_cost_paid: float
    pool_welfare: float
    history: pd.DataFrame = field(repr=False)
    iterations: int
    method: str
    agents: QuadraticAgents = field(repr=False)
    converged = always_converged(_RAISES_INSTEAD)  # deprecated (issue 17): not a field

    @property
    def welfare_loss(self) -> float:
        """Pool welfare minus P2P welfare (>= 0 up to the tolerance)."""
        return self.pool_welfare - self.welfare

    @property
    def n_trades(self) -> int:
        """How many pairs of agents trade."""
        return int(np.count_nonzero(np.triu(self.trades != 0, 1)))

    def trades_frame(self) -> pd.DataFrame:
        """Return one row per trade: seller, buyer, kw, price."""
        i, j = np.nonzero(self.trades > 0)
        return pd.DataFrame({"seller": i, "buyer": j, "kw": self.trades[i, j], "price": self.prices[i, j]})


#: The largest trading cost :func:`p2p_bilateral` and :func:`p2p_centralized` accept, currency per kWh.
MAX_TRADING_COST = 1e6


def _check_trading_cost(trading_cost, n: int) -> np.ndarray:
    """Return the ``(n, n)`` trading costs (zeros for None), finite, >= 0, at most MAX_TRADING_COST, zero diagonal."""
    if trading_cost is None:
        return np.zeros((n, n))
    if isinstance(trading_cost, (str, bytes)):
        raise TypeError(f"`trading_cost` must be an N x N matrix of numbers; got the string {trading_cost!r}.")
    # a copy: the diagonal is zeroed below, and the caller's matrix must not change
    c = np.array(as_float_array(trading_cost, "trading_cost"), dtype=float)
    if c.shape != (n, n):
        raise ValueError(f"`trading_cost` must be an N x N matrix with N = {n} agents; got shape {c.shape}.")
    bad = ~np.isfinite(c)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"`trading_cost` must contain finite costs; entry ({i}, {j}) is {c[i, j]}.")
    if (c < 0).any():
        i, j = (int(x) for x in np.argwhere(c < 0)[0])
        raise ValueError(f"`trading_cost` must be nonnegative; entry ({i}, {j}) is {c[i, j]}.")
    np.fill_diagonal(c, 0.0)
    if (c > MAX_TRADING_COST).any():
        i, j = (int(x) for x in np.argwhere(c > MAX_TRADING_COST)[0])
        raise ValueError(
            f"`trading_cost` entry ({i}, {j}) is {c[i, j]:g}; trading costs must be at most {MAX_TRADING_COST:g} "
            "currency per kWh (beyond it the solvers lose every digit of the agents' costs). A fee above the "
            "spread of the agents' marginal costs already forbids the trade: a fee of 1e3 does it in a community "
            "priced in currency per kWh."
        )
    return c


def distance_costs(positions, cost_per_km: float) -> np.ndarray:
    """Trading costs proportional to the distance between agents.

    Parameters
    ----------
    positions : array_like
        ``(N, 2)`` coordinates in km.
    cost_per_km : float
        Currency per kWh traded per km, >= 0.

    Returns
    -------
    numpy.ndarray
        ``(N, N)``, ``cost_per_km * ||x_i - x_j||``, symmetric, zero diagonal.

    Raises
    ------
    ValueError
        If a distance, or a cost, exceeds the float range (about 1.8e308).

    Examples
    --------
    >>> distance_costs([[0, 0], [3, 4]], 0.01)
    array([[0.  , 0.05],
           [0.05, 0.  ]])
    """
    xy = as_float_array(positions, "positions")
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"`positions` must be an (N, 2) array of coordinates in km; got shape {xy.shape}.")
    check_finite(xy.ravel(), "positions", "coordinates")
    c = as_finite_float(cost_per_km, "cost_per_km")
    if not c >= 0:
        raise ValueError(f"`cost_per_km` must be a nonnegative number; got {cost_per_km!r}.")
    with np.errstate(over="ignore", invalid="ignore"):
        # hypot does not square (no overflow for distances up to the float range); a coordinate
        # difference beyond it is +-inf.
        dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        costs = c * dist
    if not np.isfinite(dist).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(dist))[0])
        raise ValueError(
            f"`positions` {i} and {j} are too far apart for floating point (more than 1.8e308 km); "
            "give the coordinates in km of a real community."
        )
    if not np.isfinite(costs).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(costs))[0])
        raise ValueError(
            f"`cost_per_km` = {c:g} times the distance {dist[i, j]:g} km between `positions` {i} and {j} "
            "exceeds the float range (1.8e308); use a realistic cost per km or coordinates in km."
        )
    return costs


def _soft(z: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Soft thresholding ``sign(z) max(|z| - kappa, 0)``."""
    return np.sign(z) * np.maximum(np.abs(z) - kappa, 0.0)


def _p2p_agent_step(agents, z, lam, c, rho, off) -> np.ndarray:
    """Every agent's ADMM step at once; returns the trades it proposes, ``(N, N)``.

    Agent ``i`` minimises ``f_i(sum_j t_ij) + sum_j [c_ij/2 |t_ij| - lam_ij t_ij
    + rho/2 (t_ij - z_ij)^2]`` over its limits.  With ``m`` its marginal cost
    (a subgradient of ``f_i`` plus its limits at ``p_i``), each trade is
    ``t_ij(m) = soft(z_ij + (lam_ij - m)/rho, c_ij / (2 rho))``, and ``m`` solves
    ``g(m) = sum_j t_ij(m) - clip((m - b_i)/a_i, p_min_i, p_max_i) = 0``.  ``g``
    is decreasing and linear between its kinks ``rho (z_ij + lam_ij/rho +-
    c_ij/(2 rho))``, ``b_i + a_i p_min_i`` and ``b_i + a_i p_max_i``: evaluate it
    at every kink (all agents at once, O(N^3)), find the piece that crosses
    zero and interpolate exactly.
    """
    n = agents.n
    a, b, lo_kw, hi_kw = agents.a, agents.b, agents.p_min_kw, agents.p_max_kw
    kappa = c / (2 * rho)
    base = z + lam / rho  # t_ij(m) = soft(base_ij - m / rho, kappa_ij)
    kinks = np.sort(
        np.concatenate((rho * (base - kappa), rho * (base + kappa), (b + a * lo_kw)[:, None], (b + a * hi_kw)[:, None]),
                       axis=1),
        axis=1,
    )  # (N, K)
    t_k = _soft(base[:, None, :] - kinks[:, :, None] / rho, kappa[:, None, :]) * off[:, None, :]
    g = t_k.sum(axis=2) - np.clip((kinks - b[:, None]) / a[:, None], lo_kw[:, None], hi_kw[:, None])
    rows = np.arange(n)
    k = (g > 0).sum(axis=1)  # g is nonincreasing along the kinks: the first k with g <= 0
    slope_out = (n - 1) / rho  # outside every kink each trade moves by 1/rho per unit of m
    first, last = k == 0, k == kinks.shape[1]
    k_lo, k_hi = np.clip(k - 1, 0, kinks.shape[1] - 1), np.clip(k, 0, kinks.shape[1] - 1)
    m_lo, m_hi, g_lo, g_hi = kinks[rows, k_lo], kinks[rows, k_hi], g[rows, k_lo], g[rows, k_hi]
    denom = g_lo - g_hi
    width = (m_hi - m_lo) / np.where(denom > 0, denom, 1.0)
    # Interpolate from the end nearer zero: from a kink such as b + a * p_min with p_min = -1e16 the
    # root would lose every digit.
    inner = np.where(np.abs(m_lo) <= np.abs(m_hi), m_lo + g_lo * width, m_hi + g_hi * width)
    m = np.where(denom > 0, inner, m_hi)
    m = np.where(first, kinks[:, 0] + g[:, 0] / slope_out, m)
    m = np.where(last, kinks[:, -1] + g[:, -1] / slope_out, m)
    return _soft(base - m[:, None] / rho, kappa) * off


def _p2p_result(agents, c, trades, lam, history, iterations, method, trade_tol) -> P2PResult:
    """Gather trades and multipliers into a :class:`P2PResult`: symmetrised, tiny trades zeroed, welfare exact."""
    trades = np.where(np.abs(trades) > trade_tol, trades, 0.0)
    trades = 0.5 * (trades - trades.T)
    lam = 0.5 * (lam + lam.T)
    np.fill_diagonal(lam, np.nan)
    dispatch = trades.sum(axis=1)
    trading_cost = _fsum((0.5 * c * np.abs(trades)).ravel())
    pool_price = clearing_price(agents)
    pool_welfare = -_fsum(agents._cost(agents._respond(pool_price)))
    return P2PResult(
        trades=trades,
        prices=np.where(trades != 0, lam, np.nan),
        multipliers=lam,
        dispatch=dispatch,
        welfare=-_fsum(agents._cost(dispatch)) - trading_cost,
        trading_cost_paid=trading_cost,
        pool_welfare=pool_welfare,
        history=history,
        iterations=int(iterations),
        method=method,
        agents=agents,
    )


def p2p_bilateral(
    agents: QuadraticAgents,
    trading_cost=None,
    *,
    rho: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    progress: bool = False,
) -> P2PResult:
    """Multi-bilateral peer-to-peer trading, solved by consensus ADMM.

    After Sorin, Bobo and Pinson (2019).  Every agent ``i`` chooses a trade
    ``t_ij`` with every peer ``j`` (``t_ij > 0``: ``i`` sells to ``j``), its
    injection is ``p_i = sum_j t_ij`` within its limits, and it pays a
    trading cost (product differentiation: a fee, a preference for nearby or
    green energy) for each kW traded with ``j``.  The problem is::

        minimise    sum_i [ f_i(p_i) + sum_j c_ij |t_ij| / 2 ]
        subject to  t_ij + t_ji = 0                (lambda_ij, reciprocity)
                    p_min_i <= sum_j t_ij <= p_max_i

    Sorin et al. charge ``c_ij t_ij`` with trades signed by the producer or
    consumer role; for prosumers who can sell or buy we use the convex
    ``c_ij |t_ij| / 2``: each side of a trade pays half of ``c_ij`` per kW, so a
    symmetric ``c`` charges ``c_ij`` per kW traded between ``i`` and ``j``.

    Consensus ADMM (Sorin et al., section III; Boyd et al. 2011, section 7.2, general form consensus):
    with ``z_ij = (t_ij - t_ji) / 2``, every agent solves its own problem::

        t_i^{k+1} = argmin f_i(p_i) + sum_j [c_ij |t_ij|/2 - lambda_ij^k t_ij
                                              + rho/2 (t_ij - z_ij^k)^2]

    (a soft-threshold per trade plus a one-dimensional search on the agent's
    marginal cost, done for all agents at once), then each pair updates its
    price ``lambda_ij <- lambda_ij - rho/2 (t_ij + t_ji)`` (both selling lowers
    the price).  At convergence ``lambda_ij`` is the price of the trade: the
    seller's marginal cost plus half the fee, and the buyer's marginal value
    minus half the fee.  With zero fees all bilateral prices equal the pool
    price.  Stopping rule: module docstring, *P2P ADMM: stopping*.

    Parameters
    ----------
    agents : QuadraticAgents
        At least two agents.
    trading_cost : array_like, optional
        ``(N, N)`` nonnegative costs ``c_ij``, currency per kWh traded (for
        example from :func:`distance_costs`), at most :data:`MAX_TRADING_COST`
        (1e6); the diagonal is ignored.  ``None``: no costs.
    rho : float
        The ADMM penalty, > 0.
    tol, max_iter, progress
        As in :func:`price_iteration`.

    Returns
    -------
    P2PResult
        Trades smaller than ``10 * tol * D`` are reported as zero.

    Raises
    ------
    ConvergenceError
        If it has not converged after ``max_iter`` iterations.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> r = p2p_bilateral(agents)
    >>> np.round(r.trades, 4) + 0.0
    array([[ 0. ,  0.5],
           [-0.5,  0. ]])
    >>> round(float(r.prices[0, 1]), 4)
    0.5
    >>> r = p2p_bilateral(agents, [[0, 0.2], [0.2, 0]])
    >>> round(float(r.trades[0, 1]), 4), round(float(r.prices[0, 1]), 4), round(r.welfare_loss, 4)
    (0.4, 0.5, 0.09)
    """
    agents = _check_agents(agents, min_n=2)
    n = agents.n
    c = _check_trading_cost(trading_cost, n)
    rho = as_positive_float(rho, "rho")
    tol, max_iter = _check_tol_iter(tol, max_iter)
    bounded = _solver_agents(agents, float(c.max()))  # "no limit" values such as 1e16 made finite
    off = ~np.eye(n, dtype=bool)
    z, lam = np.zeros((n, n)), np.zeros((n, n))
    columns = ("price", "imbalance_kw", "primal_residual", "dual_residual")
    with _Iterations("P2P ADMM", columns, progress=progress, max_iter=max_iter) as log:
        for k in range(1, max_iter + 1):
            t = _p2p_agent_step(bounded, z, lam, c, rho, off)  # every agent's proposed trades
            z_new = 0.5 * (t - t.T)  # the nearest reciprocal trades
            mismatch = t - z_new  # = (t + t.T) / 2
            lam = lam - rho * mismatch  # each pair's price update
            primal, dz = float(np.linalg.norm(mismatch)), float(np.linalg.norm(z_new - z))
            z = z_new
            log.record(k, price=float(lam[off].mean()), imbalance_kw=float(t.sum()), primal_residual=primal,
                       dual_residual=rho * dz)
            threshold = tol * _demand_kw(z.sum(axis=1))
            if primal <= threshold and dz <= threshold and rho * dz <= tol * _price_scale(lam, off):
                return _p2p_result(agents, c, z, lam, log.history(), k, "p2p admm", 10 * threshold)
        raise log.error(
            f"P2P ADMM did not converge in max_iter = {max_iter} iterations: primal residual {primal:.3g} kW and "
            f"dispatch change {dz:.3g} kW, against tol * total demand = {threshold:.3g} kW (dual residual "
            f"{rho * dz:.3g}, against tol times the largest price = {tol * _price_scale(lam, off):.3g}). Increase "
            f"`max_iter`, or try a `rho` nearer the agents' typical a (median {float(np.median(agents.a)):.3g}; "
            f"now rho = {rho:g}).", max_iter,
        )


def p2p_centralized(agents: QuadraticAgents, trading_cost=None, *, solver: str | None = None) -> P2PResult:
    """Solve the peer-to-peer problem of :func:`p2p_bilateral` as one cvxpy problem.

    The same objective and constraints, with one reciprocity constraint
    ``t_ij + t_ji = 0`` per pair ``i < j``; its multiplier is the bilateral
    price ``lambda_ij`` (sign as in :func:`centralized_dispatch`).  An
    independent reference for the ADMM.

    Parameters
    ----------
    agents : QuadraticAgents
        At least two agents.
    trading_cost : array_like, optional
        As in :func:`p2p_bilateral`.
    solver : str, optional
        A cvxpy solver name.  Default: Clarabel with tolerances of 1e-10.

    Returns
    -------
    P2PResult
        With ``method="p2p centralized"``, ``iterations=0``, an empty history;
        trades smaller than ``1e-7 * D`` (``D`` the total demand) are reported as zero.

    Examples
    --------
    >>> agents = QuadraticAgents(a=[1.0, 1.0], b=[0.0, 1.0], p_min_kw=[0, -2], p_max_kw=[2, 0])
    >>> r = p2p_centralized(agents, [[0, 0.2], [0.2, 0]])
    >>> round(float(r.trades[0, 1]), 4), round(float(r.prices[0, 1]), 4)
    (0.4, 0.5)
    """
    agents = _check_agents(agents, min_n=2)
    n = agents.n
    c = _check_trading_cost(trading_cost, n)
    solver = check_solver(solver)
    ii, jj = np.nonzero(~np.eye(n, dtype=bool))  # ordered pairs i != j, x[k] = t[ii[k], jj[k]]
    m = ii.size
    index = -np.ones((n, n), dtype=int)
    index[ii, jj] = np.arange(m)
    iu, ju = np.triu_indices(n, 1)
    rows = np.arange(iu.size)
    import scipy.sparse as sp

    agg = sp.csr_matrix((np.ones(m), (ii, np.arange(m))), shape=(n, m))  # p = agg @ x
    recip = sp.csr_matrix(
        (np.ones(2 * iu.size), (np.r_[rows, rows], np.r_[index[iu, ju], index[ju, iu]])), shape=(iu.size, m)
    )
    x = cp.Variable(m, name="trades")
    p = agg @ x
    reciprocity = recip @ x == 0
    cost = 0.5 * cp.sum(cp.multiply(agents.a, cp.square(p))) + agents.b @ p + (0.5 * c[ii, jj]) @ cp.abs(x)
    bounded = _solver_agents(agents, float(c.max()))  # "no limit" values such as 1e16 made finite for the solver
    problem = cp.Problem(cp.Minimize(cost), [reciprocity, p >= bounded.p_min_kw, p <= bounded.p_max_kw])
    solve(problem, what="the P2P problem", solver=solver, choosable=True,
          hint="Check that `trading_cost` and the agents' a, b and limits (`agents`) have realistic magnitudes "
               "(currency per kWh, kW).")
    if reciprocity.dual_value is None:
        raise SolverError("The solver gave no bilateral prices (no multipliers of the reciprocity) for the P2P "
                          "problem; try another `solver`.")
    trades = np.zeros((n, n))
    trades[ii, jj] = x.value
    lam = np.zeros((n, n))
    lam[iu, ju] = -np.asarray(reciprocity.dual_value, dtype=float)
    lam = lam + lam.T
    trade_tol = 1e-7 * _demand_kw(trades.sum(axis=1))
    empty = pd.DataFrame(columns=["iteration", "price", "imbalance_kw", "primal_residual", "dual_residual"])
    return _p2p_result(agents, c, trades, lam, empty, 0, "p2p centralized", trade_tol)
