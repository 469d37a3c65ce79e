"""Fair sharing of limited resources: utilitarian, max-min and proportional allocations.

``n`` agents share ``m`` resources.  Agent ``i`` receives an amount ``x_i >= 0``
(kW of export, Mbit/s, kWh, ...) and uses ``usage[k, i]`` units of resource
``k`` per unit of ``x_i``; resource ``k`` has ``capacity[k]`` units, and agent
``i`` wants at most ``caps[i]``.  The feasible allocations are::

    usage @ x <= capacity,   0 <= x <= caps.

Utilities are linear, ``u_i = w_i x_i`` (``w`` are the ``weights``).  Three
rules pick one feasible allocation (Bertsimas, Farias and Trichakis, "The
price of fairness", Operations Research 59(1), 2011, section 2):

- *utilitarian*: the largest total utility ``sum_i w_i x_i`` (an LP);
- *max-min* (leximin): the smallest utility as large as possible, then the
  second smallest, and so on, found by progressive filling (Bertsekas and
  Gallager, *Data Networks*, 2nd ed., 1992, section 6.5.2);
- *proportional*: the largest ``sum_i log u_i`` (Kelly, "Charging and rate
  control for elastic traffic", European Transactions on Telecommunications
  8, 1997).  With linear utilities the weights only add the constant
  ``sum_i log w_i``, so the amounts do not depend on them.  This is not
  Kelly's *weighted* proportional fairness, the largest ``sum_i w_i log x_i``
  with ``w_i`` what agent ``i`` is willing to pay (Kelly 1997; Kelly, Maulloo
  and Tan 1998), whose amounts do respond to the weights; the package does
  not compute that one.

The three are points on one dial, *alpha-fairness* (Mo and Walrand, "Fair
end-to-end window-based congestion control", IEEE/ACM Transactions on
Networking 8(5), 2000): maximise ``sum_i U_alpha(u_i)`` with
``U_alpha(u) = u^(1 - alpha) / (1 - alpha)`` (``log u`` at ``alpha = 1``).
``alpha = 0`` is utilitarian, ``alpha = 1`` proportional, and ``alpha -> inf``
max-min; ``rule="alpha"`` computes any point between.

Fairness between agents is measured by envy (Foley 1967; Varian 1974),
Jain's index, the worst-off agent's utility and the price of fairness.

The energy use case: rooftop PV owners on a radial feeder share the export
capacity of the lines between them and the substation; :func:`feeder_usage`
builds ``usage`` (1 where a line lies on an owner's path) and the capacities.

The rules in detail
-------------------
How :func:`fair_allocation` computes each rule:

- ``"utilitarian"``: maximise ``sum_i w_i x_i``, an LP (Bertsimas, Farias
  and Trichakis, Operations Research 59(1), 2011).  When the optimum is
  not unique (equal weights sharing a resource, for example), the tie is
  broken deterministically by taking the **proportionally fair point among
  the utilitarian optima**: agents who get nothing at every optimum get
  0, and the others maximise ``sum log x_i`` on the optimal face.  The
  face is read off the interior-point LP solution, which lies in its
  relative interior: the limits reached there are reached at every
  optimum.
- ``"max_min"``: the max-min fair (leximin) allocation by progressive
  filling (Bertsekas and Gallager, *Data Networks*, 2nd ed., 1992, section
  6.5.2): raise every utility at the same pace; when a resource fills up,
  or an agent reaches its cap, fix the agents concerned; go on with the
  others.  The result: no agent can get more without taking from one who
  is no better off.  This is exact (no solver) and works because every
  constraint is a packing constraint (non-negative usage).
- ``"proportional"``: maximise ``sum_i log(u_i)`` (Kelly, European
  Transactions on Telecommunications 8, 1997; Kelly, Maulloo and Tan,
  Journal of the Operational Research Society 49, 1998).  With linear
  utilities ``sum log(w_i x_i) = sum log w_i + sum log x_i``, so **the
  weights drop out**: the proportionally fair amounts ``x`` do not depend
  on ``weights`` (the utilities do).  Kelly's *weighted* proportional
  fairness, which maximises ``sum_i w_i log x_i`` (weights as budgets:
  ``x_i = w_i / sum_k usage[k, i] price_k``), does depend on them; it is
  a different rule, not computed here.  The rule here is characterised by
  ``sum_i (x'_i - x_i) / x_i <= 0`` for every feasible ``x'``.  Agents who
  cannot receive anything (a resource of capacity 0 on their path, or a
  cap of 0) get 0 and are left out of the sum.
- ``"alpha"`` with ``alpha``: maximise ``sum_i U_alpha(u_i)`` with
  ``U_alpha(u) = u^(1 - alpha) / (1 - alpha)``, the family of Mo and
  Walrand ("Fair end-to-end window-based congestion control", IEEE/ACM
  Transactions on Networking 8(5), 2000).  Its optimum has
  ``w_i^(1 - alpha) x_i^(-alpha) = sum_k usage[k, i] price_k`` for every
  agent below its cap, so the larger ``alpha``, the less an agent's amount
  follows its weight.  ``alpha = 0`` is ``"utilitarian"``, ``alpha = 1``
  ``"proportional"`` and ``alpha = np.inf`` ``"max_min"`` (Mo and Walrand
  show the limit ``alpha -> inf`` is max-min fair); these three are
  computed by their own rules above.  Other values up to 10 are solved by
  Clarabel (power cones), then made exact to rounding by Newton's
  method on the optimality condition above (where it settles; otherwise
  Clarabel's answer, to about 1e-6 of the largest amount, stands).  The utilities
  enter the family here (``U_alpha(w_i x_i)``); Mo and Walrand's weighted
  version, ``sum_i p_i U_alpha(x_i)``, is this one with ``p_i =
  w_i^(1 - alpha)``.

The log problems are solved by Clarabel and then polished by a few Newton
steps on their optimality conditions (``1 / x_i = sum_k usage[k, i]
price_k`` with the reached limits held), so that the amounts are exact to
rounding, e.g. ``1/3`` rather than ``0.3333331``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import cvxpy as cp
import networkx as nx
import numpy as np
import pandas as pd

from ._solvers import solve
from ._validation import as_1d_float, as_float_array, check_finite, check_magnitude, check_nonnegative
from ._validation import label as _label
from .errors import SolverError
from .feeders import Feeder, check_feeder
from .mechanisms import Outcome, check_outcome, check_reports

__all__ = [
    "RULES",
    "Allocation",
    "FairnessProblem",
    "fair_allocation",
    "FeederUsage",
    "feeder_usage",
    "envy",
    "is_envy_free",
    "jain_index",
    "price_of_fairness",
    "WorstOff",
    "worst_off",
    "compare_allocations",
]

RULES = ("utilitarian", "max_min", "proportional")
"""The three named rules; ``rule="alpha"`` (with ``alpha``) is the family that joins them."""
ALPHA = "alpha"
_ALPHA_MAX = 10.0  # the largest finite alpha (u^(1 - alpha) spans too many orders beyond); then alpha = inf

_ZERO = 1e-6  # relative slack below which a limit counts as reached at an interior-point solution
# The supported range of the positive entries of usage, capacity, caps and weights: a ratio of two of
# them (an agent's largest amount, capacity / usage) times a third (a weight) stays below 1e300.
_SMALLEST, _LARGEST = 1e-100, 1e100


def _check_range(arr: np.ndarray, name: str, describe) -> None:
    """Raise ``ValueError`` for a positive finite entry outside [1e-100, 1e100]; ``describe(i)`` names entry ``i``."""
    flat = np.asarray(arr, dtype=float).ravel()
    bad = np.isfinite(flat) & (flat != 0) & ((flat < _SMALLEST) | (flat > _LARGEST))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must contain 0 or numbers between {_SMALLEST:g} and {_LARGEST:g}; {describe(i)} is "
            f"{flat[i]:g}. Express the amounts, capacities and weights in units that keep them in this range."
        )


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class Allocation:
    """One allocation of shared resources, with its utilities and resource prices.

    Attributes
    ----------
    x : pandas.Series
        The amount each agent receives, indexed by agent label.
    utilities : pandas.Series
        ``weights * x``.
    rule : str
        ``"utilitarian"``, ``"max_min"``, ``"proportional"`` or ``"alpha"``.
    weights : pandas.Series
        The weight ``w_i`` of each agent's linear utility.
    welfare : float
        The sum of the utilities.
    min_utility : float
        The smallest utility.
    prices : pandas.Series
        One price per resource (indexed by resource label): the dual of its
        capacity constraint in the rule's optimisation, 0 for a resource
        without limit.  For ``"utilitarian"`` it is the marginal welfare of one
        more unit of capacity (an optimal LP dual); for ``"proportional"``
        Kelly's price, with ``x_i * sum_k usage[k, i] * price_k = 1`` for every
        agent below its cap.  Progressive filling solves no optimisation, so
        ``"max_min"`` has NaN prices, and so has ``"alpha"`` (except at
        ``alpha`` 0 and 1: the utilitarian and proportional rules).
    usage : pandas.DataFrame
        Resources x agents, as given.
    capacity : pandas.Series
        Per resource (``inf`` for no limit).
    caps : pandas.Series
        Per agent (``inf`` for none).
    alpha : float or None
        The alpha of ``rule="alpha"`` (``inf`` allowed); None for the named rules.
    """

    x: pd.Series
    utilities: pd.Series
    rule: str
    weights: pd.Series
    welfare: float
    min_utility: float
    prices: pd.Series
    usage: pd.DataFrame
    capacity: pd.Series
    caps: pd.Series
    alpha: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """Return one row per agent: ``x``, ``utility``, ``weight`` and ``cap``.

        Examples
        --------
        >>> fair_allocation([[1, 1]], [1], weights=[2, 1], rule="max_min").to_frame().round(4)
                    x  utility  weight  cap
        agent
        0      0.3333   0.6667     2.0  inf
        1      0.6667   0.6667     1.0  inf
        """
        frame = pd.DataFrame(
            {"x": self.x, "utility": self.utilities, "weight": self.weights, "cap": self.caps}
        )
        frame.index.name = self.x.index.name or "agent"
        return frame

    def resource_table(self) -> pd.DataFrame:
        """Return one row per resource: ``capacity``, ``load`` (``usage @ x``) and ``price``.

        Examples
        --------
        >>> fair_allocation([[1, 1]], [1], weights=[2, 1], rule="utilitarian").resource_table().round(6)
                  capacity  load  price
        resource
        0              1.0   1.0    2.0
        """
        load = self.usage.to_numpy() @ self.x.to_numpy()
        frame = pd.DataFrame({"capacity": self.capacity, "load": load, "price": self.prices}, index=self.usage.index)
        frame.index.name = self.usage.index.name or "resource"
        return frame


# --------------------------------------------------------------------------- inputs


def _labels_of(index, name: str, what: str) -> pd.Index:
    index = pd.Index(index)
    if index.has_duplicates:
        dup = _label(index[index.duplicated()][0])
        raise ValueError(f"`{name}` has the {what} label {dup!r} more than once; labels must be unique.")
    return index


def _as_usage(usage) -> pd.DataFrame:
    """Validate ``usage``: a 2-D (or 1-D: one resource) array of finite, non-negative numbers."""
    if isinstance(usage, pd.DataFrame):
        resources = _labels_of(usage.index, "usage", "resource (row)")
        agents = _labels_of(usage.columns, "usage", "agent (column)")
        for column in usage.columns:
            as_float_array(usage[column], "usage")  # booleans or complex numbers: TypeError
        try:
            arr = usage.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise TypeError("`usage` must contain only numbers.") from None
    else:
        if isinstance(usage, (str, bytes)):
            raise TypeError(f"`usage` must be a resources x agents matrix of numbers; got the string {usage!r}.")
        arr = np.array(as_float_array(usage, "usage",
                                      expected="a resources x agents matrix of numbers"), dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise ValueError(
                f"`usage` must be a resources x agents matrix (one row per resource); got shape {arr.shape}."
            )
        resources, agents = pd.RangeIndex(arr.shape[0]), pd.RangeIndex(arr.shape[1])
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`usage` must have at least one resource and one agent; got shape {arr.shape}.")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        k, i = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"`usage` must contain finite, non-negative numbers; the entry for resource {_label(resources[k])!r} "
            f"and agent {_label(agents[i])!r} is {arr[k, i]}."
        )
    n_agents = arr.shape[1]
    _check_range(arr, "usage", lambda j: f"the entry for resource {_label(resources[j // n_agents])!r} and agent "
                 f"{_label(agents[j % n_agents])!r}")
    frame = pd.DataFrame(arr, index=resources, columns=agents)
    frame.index.name = usage.index.name if isinstance(usage, pd.DataFrame) and usage.index.name else "resource"
    frame.columns.name = usage.columns.name if isinstance(usage, pd.DataFrame) and usage.columns.name else "agent"
    return frame


def _aligned(values, name: str, labels: pd.Index, what: str) -> np.ndarray:
    """Return ``values`` as a float array aligned with ``labels``: a scalar broadcasts, a Series aligns by label."""
    if isinstance(values, pd.Series):
        if set(values.index) != set(labels) or len(values) != len(labels):
            raise ValueError(
                f"`{name}` is a Series whose index {list(values.index)[:8]} does not match the {what}s "
                f"{list(labels)[:8]}; label it like `usage` or pass a list (aligned by position)."
            )
        values = values.reindex(labels)
    arr = as_1d_float(values, name, allow_scalar=True)
    if arr.ndim == 0:
        return np.full(len(labels), float(arr))
    if arr.size != len(labels):
        # the length comes from `usage` (its rows are the resources, its columns the agents): name both
        where = {"resource": " (a row of `usage`)", "agent": " (a column of `usage`)"}.get(what, "")
        hint = f" Check the shapes of `{name}` and `usage`." if where else ""
        raise ValueError(f"`{name}` has {arr.size} entries; expected {len(labels)}, one per {what}{where}.{hint}")
    return arr


def _limits(values, name: str, labels: pd.Index, what: str) -> np.ndarray:
    """Per-entry upper limits: non-negative, ``inf`` allowed, NaN not."""
    arr = _aligned(values, name, labels, what)
    bad = np.isnan(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` must be >= 0 (inf for no limit); the entry for {what} {_label(labels[i])!r} is {arr[i]}."
        )
    _check_range(arr, name, lambda j: f"the entry for {what} {_label(labels[j])!r}")
    return arr


def _weights(weights, agents: pd.Index) -> np.ndarray:
    if weights is None:
        return np.ones(len(agents))
    w = _aligned(weights, "weights", agents, "agent")
    check_finite(w, "weights", "weights")
    bad = w <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`weights` must be positive; agent {_label(agents[i])!r} has {w[i]}. "
            "Leave an agent out instead of giving it no weight."
        )
    _check_range(w, "weights", lambda j: f"the weight of agent {_label(agents[j])!r}")
    return w


def _check_rule(rule, alpha=None) -> tuple[str, float | None]:
    """Validate ``rule`` and ``alpha`` together; return them (``alpha`` None for a named rule)."""
    if not isinstance(rule, str) or rule not in (*RULES, ALPHA):
        raise ValueError(f"`rule` must be one of {[*RULES, ALPHA]}; got {rule!r}.")
    if rule != ALPHA:
        if alpha is not None:
            raise ValueError(f"`alpha` is the parameter of rule='alpha'; rule={rule!r} takes none (got {alpha!r}).")
        return rule, None
    if alpha is None:
        raise ValueError("rule='alpha' needs `alpha` (0 utilitarian, 1 proportional, np.inf max-min).")
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"`alpha` must be a number >= 0 (np.inf for max-min); got {type(alpha).__name__}.")
    try:
        a = float(alpha)
    except OverflowError:  # an int beyond the floats
        raise ValueError("`alpha` is too large for a float; give np.inf for the max-min limit.") from None
    if math.isnan(a) or a < 0:
        raise ValueError(f"`alpha` must be >= 0 (0 utilitarian, 1 proportional, np.inf max-min); got {alpha!r}.")
    if math.isfinite(a) and a > _ALPHA_MAX:
        raise ValueError(
            f"`alpha` must be at most {_ALPHA_MAX:g} or np.inf; got {alpha!r}. Beyond {_ALPHA_MAX:g} the terms "
            "u^(1 - alpha) span too many orders of magnitude to solve reliably; np.inf gives the limit, max-min."
        )
    return rule, a


# --------------------------------------------------------------------------- the problem


class FairnessProblem:
    """Agents sharing resources, set up once and solved under any rule, weights and capacities.

    :func:`fair_allocation` builds one and solves it once.  A widget keeps it
    and calls :meth:`solve` again with new weights or capacities: the cvxpy
    problems (an LP, a log problem, and one log problem per optimal face met by
    the utilitarian tie-break) are built once, with the weights, capacities and
    bounds as cvxpy Parameters, on first use.

    Parameters
    ----------
    usage : array_like or pandas.DataFrame
        Resources x agents: ``usage[k, i]`` units of resource ``k`` per unit of
        ``x_i`` (finite, >= 0).  A DataFrame's index names the resources and
        its columns the agents; the labels are kept in the results.  A 1-D
        input is one resource.
    capacity : float or array_like
        Per resource (>= 0; ``inf`` for no limit; a scalar applies to every
        resource; a Series is aligned by resource label).
    caps : float or array_like, optional
        Upper bound on each ``x_i`` (>= 0, ``inf`` allowed; a scalar applies to
        every agent).  Default: no bound.

    The positive entries of ``usage``, ``capacity``, ``caps`` and the weights
    must lie between 1e-100 and 1e100 (so that amounts, utilities and prices
    stay finite).  Within that range the problems are solved in per-unit
    terms (each agent's amount divided by the most it can receive, each
    capacity constraint divided by its capacity), so that an agent using
    1e-12 of a resource and one using 1e12 are treated alike.

    Raises
    ------
    ValueError
        If an entry is NaN or negative, or outside the range above, a length
        does not match, or an agent could receive an unlimited amount (it uses
        no limited resource and has no cap).

    Examples
    --------
    >>> p = FairnessProblem([[1, 1]], [1])
    >>> p.solve("max_min", weights=[2, 1]).x.round(4).tolist()
    [0.3333, 0.6667]
    >>> p.solve("max_min", weights=[1, 1], capacity=[4]).x.tolist()
    [2.0, 2.0]
    """

    def __init__(self, usage, capacity, *, caps=None) -> None:
        self.usage = _as_usage(usage)
        self.resources, self.agents = self.usage.index, self.usage.columns
        self._a = self.usage.to_numpy()
        self.capacity = _limits(capacity, "capacity", self.resources, "resource")
        self.caps = np.full(len(self.agents), np.inf) if caps is None else _limits(caps, "caps", self.agents, "agent")
        self._finite = np.isfinite(self.capacity)
        limited = (self._a[self._finite] > 0).any(axis=0)
        unbounded = ~limited & ~np.isfinite(self.caps)
        if unbounded.any():
            i = int(np.flatnonzero(unbounded)[0])
            raise ValueError(
                f"agent {_label(self.agents[i])!r} uses no resource with a finite capacity and has no cap, so it "
                "could receive an unlimited amount; give it a finite entry in `caps` or a limited resource in `usage`."
            )
        self._cvx = None
        self._faces: dict = {}
        self._alphas: dict = {}

    # ------------------------------------------------------------------ helpers

    def _new_capacity(self, capacity) -> np.ndarray:
        if capacity is None:
            return self.capacity
        c = _limits(capacity, "capacity", self.resources, "resource")
        changed = np.isfinite(c) != self._finite
        if changed.any():
            k = int(np.flatnonzero(changed)[0])
            raise ValueError(
                f"`capacity` of resource {_label(self.resources[k])!r} changes between finite and inf; "
                "build a new FairnessProblem (or fair_allocation) for a different set of limited resources."
            )
        return c

    def _bounds(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each agent's effective upper bound and whether it can receive anything at all.

        The bound is its cap, or (when that is larger) twice the most that its
        limited resources let it take alone: finite, never binding, so that
        the bound's dual does not steal the price of a resource.
        """
        a = self._a[self._finite]
        cf = c[self._finite]
        with np.errstate(divide="ignore", invalid="ignore"):
            alone = np.where(a > 0, cf[:, None] / a, np.inf).min(axis=0) if a.size else np.full(a.shape[1], np.inf)
        ub = np.minimum(self.caps, 2.0 * alone)
        return ub, ub > 0

    def _scaled(self, c: np.ndarray, ub: np.ndarray, able: np.ndarray) -> dict:
        """Return the problem in per-unit terms: ``x = d * z``, ``0 <= z <= 1``, each limited row over its capacity.

        ``a @ z <= c`` with ``c`` 1 (or 0 for a resource of capacity 0, which only
        agents that cannot receive anything use) and ``z <= ub`` with ``ub`` 1 for
        the agents who can receive something and 0 for the others.  Every entry
        of ``a`` is at most 2 (0 for an agent who cannot receive anything), so
        the solvers' tolerances are relative to each agent and each resource.
        """
        af, cf = self._a[self._finite], c[self._finite]
        d = np.where(able, ub, 1.0)
        r = np.where(cf > 0, cf, 1.0)
        # The agents who cannot receive anything sit at z = 0; their columns are left out (zero), so that a
        # large usage of theirs does not turn the solver's tolerance on z into a large load.
        return {
            "a": np.where(able[None, :], af * d[None, :] / r[:, None], 0.0),
            "c": np.where(cf > 0, 1.0, 0.0),
            "ub": np.where(able, 1.0, 0.0),
            "d": d,
            "r": r,
        }

    def _build(self) -> dict:
        """Build the LP and the log problem, with the per-unit matrix, bounds, weights and offsets as Parameters."""
        n, m = len(self.agents), int(self._finite.sum())
        x = cp.Variable(n, nonneg=True)
        a = cp.Parameter((m, n)) if m else None
        c = cp.Parameter(m, nonneg=True) if m else None
        ub, w, b = (cp.Parameter(n, nonneg=True) for _ in range(3))
        lp_cap, log_cap = ([a @ x <= c] if m else [] for _ in range(2))
        return {
            "x": x, "a": a, "c": c, "ub": ub, "w": w, "b": b,
            "lp": cp.Problem(cp.Maximize(w @ x), [*lp_cap, x <= ub]),
            "lp_cap": lp_cap[0] if lp_cap else None,
            "log": cp.Problem(cp.Maximize(cp.sum(cp.log(x + b))), [*log_cap, x <= ub]),
            "log_cap": log_cap[0] if log_cap else None,
        }

    def _face(self, tight: np.ndarray, zero: np.ndarray, at_cap: np.ndarray) -> dict:
        """Return the log problem on a face: ``tight`` resources full, ``zero`` agents at 0, ``at_cap`` at their bound.

        Built once per face (cached), with the per-unit matrix, capacities and
        bounds as Parameters.
        """
        key = (tight.tobytes(), zero.tobytes(), at_cap.tobytes())
        if key in self._faces:
            return self._faces[key]
        n, m = len(self.agents), int(self._finite.sum())
        x = cp.Variable(n, nonneg=True)
        a = cp.Parameter((m, n)) if m else None
        c = cp.Parameter(m, nonneg=True) if m else None
        ub = cp.Parameter(n, nonneg=True)
        free = np.flatnonzero(~zero & ~at_cap)
        cons = [x[free] <= ub[free]] if free.size else []
        for rows, equal in ((np.flatnonzero(tight), True), (np.flatnonzero(~tight), False)):
            if c is not None and rows.size:
                cons.append(a[rows] @ x == c[rows] if equal else a[rows] @ x <= c[rows])
        if zero.any():
            cons.append(x[np.flatnonzero(zero)] == 0)
        if at_cap.any():
            cons.append(x[np.flatnonzero(at_cap)] == ub[np.flatnonzero(at_cap)])
        objective = cp.sum(cp.log(x[free])) if free.size else cp.Constant(0.0)
        self._faces[key] = {"x": x, "a": a, "c": c, "ub": ub, "problem": cp.Problem(cp.Maximize(objective), cons)}
        return self._faces[key]

    def _alpha_problem(self, alpha: float) -> dict:
        """Return ``max sum U_alpha(v_i z_i + b_i)`` in per-unit terms, built once per ``alpha`` (a few kept)."""
        if alpha in self._alphas:
            return self._alphas[alpha]
        n, m = len(self.agents), int(self._finite.sum())
        z = cp.Variable(n, nonneg=True)
        a = cp.Parameter((m, n)) if m else None
        c = cp.Parameter(m, nonneg=True) if m else None
        ub, v, b = (cp.Parameter(n, nonneg=True) for _ in range(3))
        # u^(1 - alpha) is concave below alpha = 1 and convex above: maximise it (over 1 - alpha > 0) or
        # minimise it (over alpha - 1 > 0); b keeps the agents who receive nothing away from 0.
        power = cp.power(cp.multiply(v, z) + b, 1.0 - alpha, approx=False)
        objective = cp.Maximize(cp.sum(power)) if alpha < 1 else cp.Minimize(cp.sum(power))
        if len(self._alphas) >= 16:  # a slider visits many values: forget the oldest
            self._alphas.pop(next(iter(self._alphas)))
        self._alphas[alpha] = {"x": z, "a": a, "c": c, "ub": ub, "v": v, "b": b,
                               "problem": cp.Problem(objective, [*([a @ z <= c] if m else []), z <= ub])}
        return self._alphas[alpha]

    def _alpha(self, w, c, sc, able, alpha: float) -> np.ndarray:
        """Solve the alpha-fair problem for ``0 < alpha < inf``, ``alpha != 1`` (per unit).

        The utility per unit of ``z_i`` is ``w_i d_i``.  It is divided by the
        geometric mean of the max-min utilities (the maximiser does not change:
        ``U_alpha(s u) = s^(1 - alpha) U_alpha(u)``), so that the terms
        ``u^(1 - alpha)`` are near 1 where the solution lies when ``alpha`` is
        large (it nears the max-min allocation) and stay moderate otherwise.
        """
        per_unit = np.where(able, w * sc["d"], 0.0)
        x_mm = self._max_min(w, c)
        level = (w * x_mm)[able]
        scale = float(np.exp(np.mean(np.log(level)))) if (level > 0).all() else float(per_unit.max())
        problem = self._alpha_problem(alpha)
        self._set(problem, sc, sc["ub"], v=per_unit / scale, b=np.where(able, 0.0, 1.0))
        what = f"alpha-fair problem (alpha = {alpha:g})"
        try:
            z = np.where(able, self._run(problem["problem"], problem["x"], what), 0.0)
            solved = True
        except SolverError:  # a large alpha: start Newton's method from the max-min allocation, its limit
            z = np.where(able, np.minimum(x_mm / sc["d"], 1.0), 0.0)
            solved = False
        z, settled = self._refine_alpha(z, sc, able, per_unit / scale, alpha)
        if not settled and solved:  # the solver's answer may miss a full resource that the max-min one shows
            start = np.where(able, np.minimum(x_mm / sc["d"], 1.0), 0.0)
            polished, settled = self._refine_alpha(start, sc, able, per_unit / scale, alpha)
            z = polished if settled else z
        if not (solved or settled):
            raise SolverError(
                f"The {what} could not be solved: the agents' utilities per unit (`weights` times the most each "
                "can receive) differ too much for this `alpha`; choose a smaller `alpha`, or np.inf for max-min."
            )
        return z

    def _refine_alpha(self, z, sc, able, v, alpha: float) -> tuple[np.ndarray, bool]:
        """See :meth:`_newton_alpha`; a step that fails numerically (overflow, a singular system) leaves ``z``."""
        try:
            with np.errstate(all="ignore"):
                out, settled = self._newton_alpha(z, sc, able, v, alpha)
        except np.linalg.LinAlgError:
            return z, False
        if not (settled and np.isfinite(out).all()):
            return z, False
        return out, True

    def _newton_alpha(self, z, sc, able, v, alpha: float) -> tuple[np.ndarray, bool]:
        """Make an interior-point alpha-fair solution exact: Newton's method on its optimality conditions.

        An agent below its bound has ``v_i^(1 - alpha) z_i^(-alpha) = sum_k a[k, i] lam_k``; the resources
        that ``z`` nearly fills are held full, the agents nearly at their bound held there.  A limit
        overshot is added and a negative price released, as in :meth:`_refine`; ``z`` is returned
        unchanged if the method does not settle.  Returns ``(z, settled)``.
        """
        af, cf, ub = sc["a"], sc["c"], sc["ub"]
        tight, _, at_cap = self._tight(z, sc, ub, able)
        at_cap &= able
        gain = np.where(able, v, 1.0) ** (1.0 - alpha)  # v_i^(1 - alpha)
        for _ in range(10):
            free = able & ~at_cap
            rows = tight & (af[:, free] > 0).any(axis=1)
            if not free.any():
                return z, False
            if not rows.any():
                return z, False  # nothing binds a free agent: the solver's answer stands
            g_mat = af[rows][:, free]
            h = cf[rows] - af[rows] @ np.where(at_cap, ub, 0.0)
            target = gain[free] * np.maximum(z[free], 1e-300) ** -alpha
            lam = np.linalg.lstsq(g_mat.T, target, rcond=None)[0]
            scale = max(1.0, float(np.abs(h).max()))
            for _ in range(50):
                price = g_mat.T @ lam
                if (price <= 0).any():
                    return z, False
                amount = (gain[free] / price) ** (1.0 / alpha)
                r = g_mat @ amount - h
                if np.abs(r).max() <= 1e-14 * scale:
                    break
                jac = -(1.0 / alpha) * (g_mat * (amount / price)[None, :]) @ g_mat.T
                step = np.linalg.lstsq(jac, -r, rcond=None)[0]
                lam = lam + step
            price = g_mat.T @ lam
            if (price <= 0).any():
                return z, False
            amount = (gain[free] / price) ** (1.0 / alpha)
            if np.abs(g_mat @ amount - h).max() > 1e-10 * scale:
                return z, False
            out = np.where(at_cap, ub, 0.0)
            out[free] = amount
            full_lam = np.zeros(af.shape[0])
            full_lam[rows] = lam
            tol_l = 1e-9 * max(1.0, float(np.abs(full_lam).max()))
            overshot = ~tight & (af @ out > cf + 1e-9 * np.maximum(cf, 1.0))
            over_cap = free & (out > ub + 1e-9)
            released = tight & (full_lam < -tol_l)
            # an agent at its bound stays there while its marginal utility there exceeds its path's price
            mu = np.where(at_cap, gain * np.where(at_cap, ub, 1.0) ** -alpha - af.T @ full_lam, 0.0)
            released_caps = at_cap & (mu < -1e-9 * np.maximum(np.abs(gain), 1.0))
            if not (overshot.any() or over_cap.any() or released.any() or released_caps.any()):
                return out, True
            tight = (tight | overshot) & ~released
            at_cap = (at_cap | over_cap) & ~released_caps
        return z, False

    def _run(self, problem, x, what: str) -> np.ndarray:
        """Solve ``problem`` (Clarabel, the default tolerance of 1e-10) and return the values of ``x``."""
        hint = "Check that `usage`, `capacity` and `caps` are of reasonable size (scale them to units near 1)."
        with warnings.catch_warnings():  # an inaccurate solve is checked and polished afterwards
            warnings.simplefilter("ignore", UserWarning)
            solve(problem, what=f"the {what}", hint=hint)
        if x.value is None:
            raise SolverError(f"The solver returned no amounts for the {what}. {hint}")
        return np.asarray(x.value, dtype=float)

    def _duals(self, constraint) -> np.ndarray:
        """Return the per-unit prices of the limited resources (the duals of their rows), >= 0."""
        m = int(self._finite.sum())
        if constraint is None or constraint.dual_value is None:
            return np.zeros(m)
        return np.maximum(np.asarray(constraint.dual_value, dtype=float).reshape(-1), 0.0)

    def _prices(self, duals: np.ndarray, sc: dict, factor: float = 1.0) -> np.ndarray:
        """Prices per unit of each resource: a row divided by ``r`` has its dual multiplied by ``factor / r``."""
        prices = np.zeros(len(self.resources))
        prices[self._finite] = (duals * factor) / sc["r"]
        return prices

    def _set(self, problem: dict, sc: dict, ub: np.ndarray, **values) -> None:
        if problem["c"] is not None:
            problem["a"].value = sc["a"]
            problem["c"].value = sc["c"]
        problem["ub"].value = ub
        for name, value in values.items():
            problem[name].value = value

    def _tight(self, x: np.ndarray, sc: dict, ub: np.ndarray,
               able: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which limited resources are full, which agents get 0 and which sit at their bound, at ``x`` (per unit)."""
        af, cf = sc["a"], sc["c"]
        tight = cf - af @ x <= _ZERO * np.maximum(cf, 1e-300)
        zero = ~able | (x <= _ZERO * ub)
        at_cap = ~zero & (ub - x <= _ZERO * ub)
        return tight, zero, at_cap

    def _refine(self, x, sc, ub, able, *, equal=None, equal_caps=None) -> tuple[np.ndarray, np.ndarray]:
        """Make an interior-point solution of ``max sum log x_able`` exact, by an active-set Newton method.

        Per-unit data (``sc``).  The limits that ``x`` nearly reaches are held as
        equalities and :meth:`_polish` solves the optimality conditions exactly.
        A limit overshot is added to the set, and one with a negative multiplier
        is released, until the KKT conditions hold: then the result is optimal.
        ``equal`` (resources) and ``equal_caps`` (agents at their bound) are
        equalities of the problem itself (the utilitarian optimal face), whose
        multipliers may have any sign.  Returns ``(x, lam)``, with ``lam`` the
        prices of the limited resources (NaN where not computed; ``x``
        unchanged and ``lam`` all NaN if the method does not settle).
        """
        af, cf = sc["a"], sc["c"]
        none = np.full(af.shape[0], np.nan)
        equal = np.zeros(af.shape[0], dtype=bool) if equal is None else equal
        equal_caps = np.zeros(len(self.agents), dtype=bool) if equal_caps is None else equal_caps
        tight, _, at_cap = self._tight(x, sc, ub, able)
        tight, at_cap = tight | equal, (at_cap | equal_caps) & able
        tol_c = 1e-9 * max(1.0, float(np.abs(cf).max(initial=0.0)))
        inv_ub = np.divide(1.0, ub, out=np.full(ub.shape, np.inf), where=ub > 0)
        for _ in range(10):
            free = able & ~at_cap
            polished = self._polish(x, sc, ub, tight, at_cap, free)
            if polished is None:
                return x, none
            out, lam = polished
            prices = np.nan_to_num(lam)
            tol_l = 1e-9 * max(1.0, float(np.abs(prices).max(initial=0.0)))
            mu = np.where(at_cap, inv_ub - af.T @ prices, 0.0)
            overshot = ~tight & (af @ out > cf + tol_c)
            over_cap = free & (out > ub + 1e-9 * np.maximum(ub, 1.0))
            released = tight & ~equal & (prices < -tol_l)
            released_caps = at_cap & ~equal_caps & (mu < -1e-9 * np.maximum(inv_ub, 1.0))
            if not (overshot.any() or over_cap.any() or released.any() or released_caps.any()):
                return out, lam
            tight = (tight | overshot) & ~released
            at_cap = (at_cap | over_cap) & ~released_caps
        return x, none

    def _polish(self, x, sc, ub, tight, at_cap, free) -> tuple[np.ndarray, np.ndarray] | None:
        """Solve ``1 / x_i = sum_k usage[k, i] lam_k`` (free agents) with the ``tight`` resources full.

        Newton's method in ``lam``, started from a least-squares fit to ``x``
        (an interior-point solution, accurate to about the square root of its
        tolerance); agents ``at_cap`` sit at ``ub``, the others not free at 0.
        Per-unit data (``sc``).  Returns ``(x, lam)`` (``lam`` NaN for the
        resources not solved for) or None if Newton's method fails.
        """
        af, cf = sc["a"], sc["c"]
        rows = tight & (af[:, free] > 0).any(axis=1)
        if not free.any() or not rows.any():
            return None
        fixed = np.where(at_cap, ub, 0.0)
        g_mat, h = af[rows][:, free], cf[rows] - af[rows] @ fixed
        lam = np.linalg.lstsq(g_mat.T, 1.0 / np.maximum(x[free], 1e-300), rcond=None)[0]
        scale = max(1.0, float(np.abs(h).max()))
        for _ in range(30):
            s = g_mat.T @ lam
            if (s <= 0).any():
                return None
            r = g_mat @ (1.0 / s) - h
            if np.abs(r).max() <= 1e-14 * scale:
                break
            step = np.linalg.lstsq(g_mat @ (s[:, None] ** -2.0 * g_mat.T), r, rcond=None)[0]
            lam = lam + step
        s = g_mat.T @ lam
        if (s <= 0).any() or np.abs(g_mat @ (1.0 / s) - h).max() > 1e-10 * scale:
            return None
        out = fixed.copy()
        out[free] = 1.0 / s
        full = np.full(af.shape[0], np.nan)
        full[rows] = lam
        return out, full

    # ------------------------------------------------------------------ rules

    def _max_min(self, w, c) -> np.ndarray:
        """Progressive filling of the utilities (Bertsekas and Gallager 1992, section 6.5.2).

        Exact arithmetic apart from rounding: ties between resources that fill up
        at the same level are judged relative to that level, so that the result
        does not depend on the units.
        """
        a, n = self._a, len(self.agents)
        x, free, level = np.zeros(n), np.ones(n, dtype=bool), 0.0
        while free.any():
            residual = np.maximum(c - a[:, ~free] @ x[~free], 0.0)
            rate = a[:, free] @ (1.0 / w[free])  # load per unit rise of the common utility level
            with np.errstate(divide="ignore", invalid="ignore"):
                t_res = np.where((rate > 0) & np.isfinite(residual), residual / rate, np.inf)
            t_cap = np.where(free, w * self.caps, np.inf)
            t = max(level, min(t_res.min(), t_cap.min()))
            tol = 1e-12 * t
            saturated = t_res <= t + tol
            hit = free & ((a[saturated] > 0).any(axis=0) | (t_cap <= t + tol))
            x[hit] = np.minimum(t / w[hit], self.caps[hit])
            free &= ~hit
            level = t
        return x

    def _utilitarian(self, w, sc, able) -> tuple[np.ndarray, np.ndarray]:
        """Solve the LP, then find the proportionally fair point of its optimal face (per unit).

        An interior-point LP solution lies (to its tolerance) in the relative
        interior of the optimal face, so the resources full there, the agents
        at 0 and those at their cap are those of every optimum: that face is
        where the tie-break maximises ``sum log x``.  Returns the per-unit
        amounts and the prices per unit of each resource.
        """
        m = self._cvx
        bound = sc["ub"]
        ws = np.where(able, w * sc["d"], 0.0)  # per unit of z; nothing for the agents held at 0
        scale = float(ws.max())
        self._set(m, sc, bound, w=ws / scale)
        x_lp = self._run(m["lp"], m["x"], "utilitarian LP (maximise the sum of weighted utilities)")
        prices = self._prices(self._duals(m["lp_cap"]), sc, scale)
        best = float(ws @ x_lp)
        if best <= 0:
            return np.zeros(len(self.agents)), prices
        tight, zero, at_cap = self._tight(x_lp, sc, bound, able)
        face = self._face(tight, zero, at_cap)
        self._set(face, sc, bound)
        if (~zero & ~at_cap).any():
            x = self._run(face["problem"], face["x"], "utilitarian tie-break (proportional fairness among the optima)")
        else:
            x = np.where(at_cap, bound, 0.0)
        x, _ = self._refine(x, sc, bound, able & ~zero, equal=tight, equal_caps=at_cap)
        if float(ws @ x) < best - 1e-7 * best:  # the face was misread: keep the LP's own optimum
            return x_lp, prices
        return x, prices

    def _proportional(self, sc, able) -> tuple[np.ndarray, np.ndarray]:
        m = self._cvx
        bound = sc["ub"]
        self._set(m, sc, bound, b=np.where(able, 0.0, 1.0))
        x = self._run(m["log"], m["x"], "proportional-fairness problem (maximise the sum of log utilities)")
        x = np.where(able, x, 0.0)
        duals = self._duals(m["log_cap"])
        x, lam = self._refine(x, sc, bound, able)
        if not np.isnan(lam).all():  # exact KKT multipliers: 0 for the limits left out of the active set
            duals = np.maximum(np.nan_to_num(lam), 0.0)
        return x, self._prices(duals, sc)

    def solve(self, rule: str, *, weights=None, capacity=None, alpha=None) -> Allocation:
        """Return the allocation chosen by ``rule``.

        Parameters
        ----------
        rule : {"utilitarian", "max_min", "proportional", "alpha"}
            See :func:`fair_allocation`.
        weights : array_like, optional
            Positive weight per agent (default ones).
        capacity : array_like, optional
            New capacities (default: those given at construction).  Which
            resources are limited (finite) cannot change.
        alpha : float, optional
            For ``rule="alpha"`` only: ``0 <= alpha <= 10``, or ``np.inf``.

        Returns
        -------
        Allocation

        Raises
        ------
        te_course.SolverError
            If a solver fails, or its allocation exceeds a capacity by more
            than 1e-6 of it.
        """
        asked, alpha = _check_rule(rule, alpha)
        # alpha 0, 1 and inf are the named rules, computed by their own (exact) methods
        rule = {0.0: "utilitarian", 1.0: "proportional", math.inf: "max_min"}.get(alpha, asked)
        w = _weights(weights, self.agents)
        c = self._new_capacity(capacity)
        ub, able = self._bounds(c)
        prices = np.full(len(self.resources), np.nan)
        if rule == "max_min":
            x = np.minimum(np.maximum(self._max_min(w, c), 0.0), self.caps)
        else:
            if self._cvx is None:
                self._cvx = self._build()
            if not able.any():
                z = np.zeros(len(self.agents))
                prices = np.zeros(len(self.resources))
                sc = None
            else:
                sc = self._scaled(c, ub, able)
                if rule == "utilitarian":
                    z, prices = self._utilitarian(w, sc, able)
                elif rule == "proportional":
                    z, prices = self._proportional(sc, able)
                else:
                    z = self._alpha(w, c, sc, able, alpha)
            z = np.clip(z, 0.0, 1.0)
            z[z <= 1e-12] = 0.0  # solver noise, relative to each agent's largest amount
            x = np.minimum(np.where(able, z * ub, 0.0), self.caps)
        self._check_feasible(x, c, asked)
        u = w * x
        agents = self.agents
        return Allocation(
            x=pd.Series(x, index=agents, name="x"),
            utilities=pd.Series(u, index=agents, name="utility"),
            rule=asked,
            weights=pd.Series(w, index=agents, name="weight"),
            welfare=math.fsum(u),
            min_utility=float(u.min()),
            prices=pd.Series(prices, index=self.resources, name="price"),
            usage=self.usage.copy(),
            capacity=pd.Series(c, index=self.resources, name="capacity"),
            caps=pd.Series(self.caps, index=agents, name="cap"),
            alpha=alpha,
        )

    def _check_feasible(self, x: np.ndarray, c: np.ndarray, rule: str) -> None:
        """Raise ``SolverError`` if ``x`` overloads a resource by more than 1e-6 of its capacity."""
        af, cf = self._a[self._finite], c[self._finite]
        load = np.array([math.fsum(row) for row in af * x[None, :]]) if af.size else np.zeros(0)
        over = load > cf + 1e-6 * cf
        if over.any():
            k = int(np.flatnonzero(over)[0])
            label = _label(self.resources[np.flatnonzero(self._finite)[k]])
            raise SolverError(
                f"The {rule} allocation loads resource {label!r} with {load[k]:g}, more than its capacity "
                f"{cf[k]:g}: the solver was inaccurate. Scale `usage` and `capacity` to units near 1."
            )


def fair_allocation(usage, capacity, *, weights=None, rule, caps=None, alpha=None) -> Allocation:
    """Share resources among agents by a utilitarian, max-min, proportional or alpha-fair rule.

    Agents receive ``x >= 0`` subject to ``usage @ x <= capacity`` and
    ``x <= caps``; agent ``i``'s utility is ``w_i x_i``.

    - ``"utilitarian"``: maximise ``sum_i w_i x_i`` (an LP; ties broken by
      the proportionally fair point among the optima);
    - ``"max_min"``: the max-min fair (leximin) allocation, by progressive
      filling (exact, no solver);
    - ``"proportional"``: maximise ``sum_i log(u_i)`` (the weights drop out);
    - ``"alpha"`` with ``alpha``: maximise ``sum_i U_alpha(u_i)``,
      ``U_alpha(u) = u^(1 - alpha) / (1 - alpha)``.

    How each is computed, and the references: the module docstring,
    section *The rules in detail*.

    Parameters
    ----------
    usage : array_like or pandas.DataFrame
        Resources x agents, finite and >= 0.  A DataFrame's index names the
        resources and its columns the agents (kept in the result); a 1-D input
        is a single resource.
    capacity : float or array_like
        Per resource, >= 0 (``inf`` for no limit).
    weights : array_like, optional
        ``w_i > 0`` per agent; default ones.
    rule : {"utilitarian", "max_min", "proportional", "alpha"}
        Keyword only, required.
    caps : float or array_like, optional
        Upper bound on each ``x_i`` (>= 0; a scalar applies to all; ``inf``
        allowed).
    alpha : float, optional
        For ``rule="alpha"`` (and only for it): ``0 <= alpha <= 10``, or
        ``np.inf``.

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        For an unknown rule, a missing, negative, NaN or too large ``alpha``
        (or one given to another rule), wrong shapes or lengths, NaN or negative entries,
        positive entries outside [1e-100, 1e100] (see :class:`FairnessProblem`),
        non-positive weights, or an agent that uses no limited resource and has
        no cap (it could take an unlimited amount).
    TypeError
        For entries that are not real numbers (text, booleans, complex numbers).
    te_course.SolverError
        If the solver fails (utilitarian and proportional rules).

    Examples
    --------
    One unit shared by two agents with utilities ``2 x_1`` and ``x_2``:

    >>> for rule in ("utilitarian", "proportional", "max_min"):
    ...     print(rule, fair_allocation([[1, 1]], [1], weights=[2, 1], rule=rule).x.round(4).tolist())
    utilitarian [1.0, 0.0]
    proportional [0.5, 0.5]
    max_min [0.3333, 0.6667]

    Two unit links, one long flow using both and a short flow on each:

    >>> usage = [[1, 1, 0], [1, 0, 1]]
    >>> fair_allocation(usage, [1, 1], rule="proportional").x.round(4).tolist()
    [0.3333, 0.6667, 0.6667]

    The alpha dial on the same network: the long flow gets ``1 / (1 + 2^(1/alpha))``
    (0 at ``alpha = 0``, 1/3 at 1, 1/2 in the limit):

    >>> [round(float(fair_allocation(usage, [1, 1], rule="alpha", alpha=a).x[0]), 4) for a in (0, 0.5, 1, 2, np.inf)]
    [0.0, 0.2, 0.3333, 0.4142, 0.5]
    """
    rule, alpha = _check_rule(rule, alpha)
    return FairnessProblem(usage, capacity, caps=caps).solve(rule, weights=weights,
                                                             alpha=None if rule != ALPHA else alpha)


# --------------------------------------------------------------------------- feeders


class FeederUsage(NamedTuple):
    """The sharing problem of PV owners on a feeder (:func:`feeder_usage`); unpacks as ``usage, capacity``."""

    usage: pd.DataFrame
    """1 where a line (row) lies on a bus's (column) path to the substation, else 0."""
    capacity: pd.Series
    """The export capacity of each line of ``usage``, kW (``inf`` for no limit)."""


def feeder_usage(feeder, buses, *, capacity_kw=None) -> FeederUsage:
    """Build ``usage`` and ``capacity`` for PV owners sharing a radial feeder's export capacity.

    A kW exported at a bus flows over every line between that bus and the
    substation, so ``usage[line, bus] = 1`` when ``line`` lies on the bus's
    path to the substation.  The model counts the owners' exports only (loads
    and losses are left out, a deliberately simple picture of hosting
    capacity), and treats a line's kVA limit as a kW limit (PV inverters at
    unity power factor).

    Parameters
    ----------
    feeder : te_course.Feeder
        A radial feeder (:func:`te_course.ieee33`, ...).
    buses : sequence
        The bus of each PV owner (one owner per bus).  The substation itself
        may appear: it uses no line, so give it a cap.
    capacity_kw : float or mapping, optional
        Export capacity of the lines, kW.  ``None``: the lines' ``s_max_kva``
        (no limit where it is NaN).  A number: every line.  A mapping (or
        Series) from line label to kW: those lines, the others as ``None``.

    Returns
    -------
    FeederUsage
        A named pair that unpacks as ``usage, capacity``: ``usage``, a
        DataFrame of the lines lying on at least one owner's path (feeder
        order) x the buses; ``capacity``, a Series of ``capacity_kw`` per line
        of ``usage`` (``inf`` for no limit).

    Raises
    ------
    ValueError
        If a bus is unknown or repeated, a line label is unknown, a capacity
        is NaN or negative, or the feeder is not radial.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> usage, cap = feeder_usage(ieee33(), [3, 19], capacity_kw={1: 500})
    >>> usage
    bus   3   19
    line
    1     1   1
    2     1   0
    18    0   1
    >>> cap.tolist()
    [500.0, inf, inf]
    """
    if not isinstance(feeder, Feeder):
        raise TypeError(f"`feeder` must be a te_course Feeder (e.g. te_course.ieee33()); got {type(feeder).__name__}.")
    feeder = check_feeder(feeder)  # its tables may have been edited in place since it was built
    feeder.check_radial()
    labels = _owner_buses(feeder, buses)
    graph = feeder.graph
    on_path = {}
    for bus in labels:
        path = nx.shortest_path(graph, bus, feeder.substation)
        on_path[bus] = {graph.edges[u, v]["line"] for u, v in zip(path[:-1], path[1:])}
    used = [ln for ln in feeder.lines.index if any(ln in lines for lines in on_path.values())]
    usage = pd.DataFrame(
        [[int(ln in on_path[b]) for b in labels] for ln in used], index=pd.Index(used, name="line"), columns=labels
    ).astype(int)
    usage.columns.name = "bus"
    limit = _line_limits(feeder, used, capacity_kw)
    return FeederUsage(usage, pd.Series(limit, index=usage.index, name="capacity_kw"))


def _owner_buses(feeder: Feeder, buses) -> pd.Index:
    """Validate the owners' ``buses``: labels of the feeder's buses, a flat sequence without repeats."""
    if isinstance(buses, (str, bytes)) or not hasattr(buses, "__iter__"):
        buses = [buses]
    buses = [_label(b) for b in buses]
    if not buses:
        raise ValueError("`buses` is empty; give the bus of at least one PV owner.")
    for i, bus in enumerate(buses):
        try:
            hash(bus)
        except TypeError:  # a list inside the list: buses must be a flat sequence of labels
            raise TypeError(
                f"`buses` entry {i} is a {type(bus).__name__} ({bus!r}); give a flat sequence of bus labels, "
                "one per PV owner."
            ) from None
        if bus not in feeder.buses.index:
            raise ValueError(f"`buses` entry {i} ({bus!r}) is not a bus of the feeder {feeder.name!r}.")
    return _labels_of(buses, "buses", "bus")


def _line_limits(feeder: Feeder, used: list, capacity_kw) -> np.ndarray:
    """Return the export capacity (kW) of the lines ``used``: their ``s_max_kva``, overridden by ``capacity_kw``."""
    # a copy: pandas 3 hands out read-only views, and the loop below writes into it
    limit = np.array(feeder.lines["s_max_kva"].reindex(used).fillna(np.inf), dtype=float)
    if capacity_kw is None:
        return limit
    if not isinstance(capacity_kw, (Mapping, pd.Series)):
        return _limits(capacity_kw, "capacity_kw", pd.Index(used), "line")
    for line, value in dict(capacity_kw).items():
        if line not in feeder.lines.index:
            raise ValueError(f"`capacity_kw` names the line {_label(line)!r}, which is not a line of the feeder.")
        if line in used:
            limit[used.index(line)] = _limits([value], f"capacity_kw[{_label(line)!r}]", pd.Index([line]), "line")[0]
    return limit


# --------------------------------------------------------------------------- envy


def _envy_matrix(own: np.ndarray, others: np.ndarray, labels) -> pd.DataFrame:
    """``others[i, j]`` is what i gets from j's bundle; envy is its excess over ``own[i]``, noise removed."""
    e = others - own[:, None]
    scale = 1.0 + float(np.abs(others).max(initial=0.0))
    e = np.where(e > 1e-12 * scale, e, 0.0)
    np.fill_diagonal(e, 0.0)
    return pd.DataFrame(e, index=pd.Index(labels, name="envious"), columns=pd.Index(labels, name="of"))


def envy(allocation_or_outcome, *, payments=None, values=None, costs=None) -> pd.DataFrame:
    """Who envies whom, and by how much: a square table with zero diagonal.

    Agent ``i`` envies ``j`` when it would rather have ``j``'s bundle (what
    ``j`` receives and pays) than its own (Foley, "Resource allocation and the
    public sector", Yale Economic Essays 7, 1967; Varian, "Equity, envy and
    efficiency", Journal of Economic Theory 9, 1974).  Entry ``[i, j]`` is
    ``max(0, (i's utility from j's bundle) - (i's own utility))``.

    - For an :class:`Allocation` with ``payments`` ``p`` (default none):
      agent ``i`` values ``j``'s bundle at ``w_i x_j - p_j`` and its own at
      ``w_i x_i - p_i``.
    - For a :class:`te_course.mechanisms.Outcome` with the true ``values``
      and ``costs``: buyer ``i`` values buyer ``j``'s bundle at
      ``v_i * trades_j - pays_j`` (``v_i - pays_j`` if ``j`` trades, 0
      otherwise) and its own at ``v_i * trades_i - pays_i``; seller ``i``
      values seller ``j``'s at ``gets_j - c_i * trades_j``.  Buyers are
      compared with buyers and sellers with sellers; the buyer-seller entries
      are 0.

    Parameters
    ----------
    allocation_or_outcome : Allocation or te_course.mechanisms.Outcome
    payments : array_like, optional
        For an Allocation: what each agent pays (any sign; a Series aligns by
        agent label).
    values, costs : array_like
        For an Outcome: the true values of the buyers and costs of the sellers.

    Returns
    -------
    pandas.DataFrame
        Rows: the envious agent; columns: the agent envied.  For an Outcome the
        labels are ``"buyer 0", ..., "seller 0", ...``.

    Examples
    --------
    Max-min fairness gives agent 0 (utility ``2 x``) one third and agent 1
    two thirds; agent 0 values agent 1's bundle at ``2 * 2/3``:

    >>> a = fair_allocation([[1, 1]], [1], weights=[2, 1], rule="max_min")
    >>> envy(a).round(4)
    of         0    1
    envious
    0        0.0  0.6667
    1        0.0  0.0000

    Pay-as-bid: buyer 0 (value 12) pays 12 while buyer 1 pays 10.

    >>> from te_course.mechanisms import Outcome
    >>> o = Outcome(buyer_trades=np.array([True, True]), seller_trades=np.array([True, True]),
    ...             buyer_pays=np.array([12.0, 10.0]), seller_gets=np.array([5.0, 7.0]), budget_surplus=10.0)
    >>> envy(o, values=[12, 10], costs=[5, 7]).loc[["buyer 0", "seller 0"], ["buyer 1", "seller 1"]]
    of        buyer 1  seller 1
    envious
    buyer 0       2.0       0.0
    seller 0      0.0       2.0
    """
    if isinstance(allocation_or_outcome, Allocation):
        if values is not None or costs is not None:
            raise TypeError("`values` and `costs` are for a market Outcome; an Allocation carries its own weights.")
        a = allocation_or_outcome
        agents = a.x.index
        p = np.zeros(len(agents)) if payments is None else _aligned(payments, "payments", agents, "agent")
        check_finite(p, "payments", "payments")
        check_magnitude(p, "payments", "payments")
        w, x = a.weights.to_numpy(), a.x.to_numpy()
        others = w[:, None] * x[None, :] - p[None, :]
        return _envy_matrix(w * x - p, others, agents)
    if isinstance(allocation_or_outcome, Outcome):
        if payments is not None:
            raise TypeError("`payments` is for an Allocation; an Outcome carries its own payments.")
        if values is None or costs is None:
            raise TypeError("an Outcome needs the true `values` of its buyers and `costs` of its sellers.")
        return _outcome_envy(allocation_or_outcome, values, costs)
    raise TypeError(
        "`allocation_or_outcome` must be an Allocation (from fair_allocation) or a te_course.mechanisms.Outcome; "
        f"got {type(allocation_or_outcome).__name__}."
    )


def _outcome_envy(o: Outcome, values, costs) -> pd.DataFrame:
    """Return the envy table of a market outcome: buyers against buyers, sellers against sellers."""
    v, c = check_reports(values, costs)
    for name, arr, field in (("values", v, "buyer_trades"), ("costs", c, "seller_trades")):
        shape = np.shape(getattr(o, field))
        if shape != (arr.size,):
            who = "buyers" if name == "values" else "sellers"
            raise ValueError(
                f"`outcome` has `{field}` of shape {shape}; expected ({arr.size},), one entry per report: "
                f"`{name}` has {arr.size} entries, and needs one true {name[:-1]} per {who[:-1]} of the outcome."
            )
    o = check_outcome(o, v.size, c.size, "`outcome`")
    tb, ts = np.asarray(o.buyer_trades, dtype=float), np.asarray(o.seller_trades, dtype=float)
    pays, gets = np.asarray(o.buyer_pays, dtype=float), np.asarray(o.seller_gets, dtype=float)
    nb, ns = v.size, c.size
    others = np.zeros((nb + ns, nb + ns))
    own = np.r_[v * tb - pays, gets - c * ts]
    others[:nb, :nb] = v[:, None] * tb[None, :] - pays[None, :]
    others[nb:, nb:] = gets[None, :] - c[:, None] * ts[None, :]
    others[:nb, nb:] = own[:nb, None]  # not compared: no envy
    others[nb:, :nb] = own[nb:, None]
    labels = [f"buyer {i}" for i in range(nb)] + [f"seller {j}" for j in range(ns)]
    return _envy_matrix(own, others, labels)


def is_envy_free(allocation_or_outcome, *, payments=None, values=None, costs=None, tol: float = 1e-9) -> bool:
    """Whether nobody envies anybody, to a tolerance (see :func:`envy`).

    Envy up to ``tol * (1 + the largest bundle value)`` counts as none, so
    that solver noise does not create envy.

    Examples
    --------
    >>> from te_course.mechanisms import uniform_price
    >>> is_envy_free(uniform_price([12, 10, 8], [5, 7, 9]), values=[12, 10, 8], costs=[5, 7, 9])
    True
    >>> is_envy_free(fair_allocation([[1, 1]], [1], weights=[2, 1], rule="max_min"))
    False
    """
    if not (isinstance(tol, (int, float, np.integer, np.floating)) and not isinstance(tol, (bool, np.bool_))):
        raise ValueError(f"`tol` must be a non-negative number; got {tol!r}.")
    try:
        tol_f = float(tol)
    except OverflowError:  # an int beyond the floats
        raise ValueError("`tol` is too large for a float (floats end near 1.8e308); give a small tolerance.") from None
    if not (tol_f >= 0 and math.isfinite(tol_f)):
        raise ValueError(f"`tol` must be a non-negative number; got {tol!r}.")
    e = envy(allocation_or_outcome, payments=payments, values=values, costs=costs).to_numpy()
    if isinstance(allocation_or_outcome, Allocation):
        scale = 1.0 + float(np.abs(allocation_or_outcome.weights.to_numpy()).max()
                            * np.abs(allocation_or_outcome.x.to_numpy()).max())
    else:
        v, c = check_reports(values, costs)  # as envy read them (text such as "5" becomes a number there)
        scale = 1.0 + float(np.abs(np.r_[v, c]).max())
    return bool(e.max(initial=0.0) <= tol_f * scale)


# --------------------------------------------------------------------------- indices


def jain_index(x) -> float:
    """Jain's fairness index ``(sum x)^2 / (n * sum x^2)``, between ``1/n`` and 1.

    1 when everyone gets the same, ``1/n`` when one agent gets everything
    (Jain, Chiu and Hawe, "A quantitative measure of fairness and
    discrimination for resource allocation in shared computer systems",
    DEC-TR-301, 1984).  When every entry is 0 (all equal) it is 1.

    Parameters
    ----------
    x : array_like
        Non-negative amounts or utilities, one per agent (any finite
        magnitude: they are divided by the largest one first, so that neither
        the squares nor the sums overflow or underflow).

    Examples
    --------
    >>> jain_index([1, 1, 1, 1]), jain_index([1, 0, 0, 0]), round(jain_index([1, 2]), 4)
    (1.0, 0.25, 0.9)
    """
    arr = as_1d_float(x, "x")
    check_nonnegative(arr, "x", "amounts")
    largest = arr.max()
    if largest == 0:
        return 1.0
    arr = arr / largest  # the index is scale-free; entries now in [0, 1], the largest 1
    return min(1.0, math.fsum(arr) ** 2 / (arr.size * math.fsum(arr * arr)))


def _welfare_of(value, name: str) -> float:
    if isinstance(value, Allocation):
        return value.welfare
    if isinstance(value, (str, bytes, bool)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be an Allocation or a welfare (a number); got {type(value).__name__}.")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"`{name}` is too large for a float (floats end near 1.8e308).") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"`{name}` must be a finite, non-negative welfare; got {value!r}.")
    return v


def price_of_fairness(fair, utilitarian) -> float:
    """Share of the utilitarian welfare lost by a fair rule: ``(U_util - U_fair) / U_util``.

    Bertsimas, Farias and Trichakis, "The price of fairness", Operations
    Research 59(1), 2011.  Between 0 (no loss) and 1; 0 when the utilitarian
    welfare is 0.

    Parameters
    ----------
    fair, utilitarian : Allocation or float
        The fair allocation and the utilitarian one (or their welfares).  Two
        Allocations must share the same problem (usage, capacity, weights).

    Raises
    ------
    ValueError
        If the fair welfare exceeds the utilitarian one (beyond ``1e-9``
        relative): then ``utilitarian`` is not the utilitarian optimum.

    Examples
    --------
    >>> args = ([[1, 1]], [1])
    >>> mm = fair_allocation(*args, weights=[2, 1], rule="max_min")
    >>> ut = fair_allocation(*args, weights=[2, 1], rule="utilitarian")
    >>> round(price_of_fairness(mm, ut), 4)  # welfare 4/3 instead of 2
    0.3333
    """
    if isinstance(fair, Allocation) and isinstance(utilitarian, Allocation):
        same = (
            fair.usage.shape == utilitarian.usage.shape
            and np.array_equal(fair.usage.to_numpy(), utilitarian.usage.to_numpy())
            and np.array_equal(fair.capacity.to_numpy(), utilitarian.capacity.to_numpy())
            and np.allclose(fair.weights.to_numpy(), utilitarian.weights.to_numpy())
        )
        if not same:
            raise ValueError(
                "`fair` and `utilitarian` are allocations of different problems (usage, capacity or weights "
                "differ); compare two rules on the same problem."
            )
    u_fair, u_util = _welfare_of(fair, "fair"), _welfare_of(utilitarian, "utilitarian")
    if u_fair > u_util * (1 + 1e-9) + 1e-12:
        raise ValueError(
            f"`fair` has welfare {u_fair:g}, more than `utilitarian` ({u_util:g}); pass the utilitarian optimum "
            "(fair_allocation(..., rule='utilitarian')) as `utilitarian`."
        )
    if u_util == 0:
        return 0.0
    return min(1.0, max(0.0, (u_util - u_fair) / u_util))


class WorstOff(NamedTuple):
    """The worst-off agent of an allocation (:func:`worst_off`); unpacks as ``agent, utility``."""

    agent: object
    """Its label."""
    utility: float
    """Its utility."""


def worst_off(allocation) -> WorstOff:
    """Return the worst-off agent (its label) and its utility; ties go to the first agent.

    Rawls's criterion judges an allocation by this agent (Rawls, *A Theory of
    Justice*, 1971); max-min fairness maximises its utility.

    Parameters
    ----------
    allocation : Allocation or array_like
        An allocation, or utilities (a Series keeps its labels, otherwise the
        position is the label).

    Returns
    -------
    WorstOff
        A named pair ``(agent, utility)``.

    Examples
    --------
    >>> worst_off(fair_allocation([[1, 1]], [1], weights=[2, 1], rule="utilitarian"))
    WorstOff(agent=1, utility=0.0)
    >>> agent, utility = worst_off(pd.Series([3.0, 1.0, 1.0], index=["a", "b", "c"]))
    >>> agent, utility
    ('b', 1.0)
    """
    if isinstance(allocation, Allocation):
        u = allocation.utilities
    else:
        index = allocation.index if isinstance(allocation, pd.Series) else None
        arr = as_1d_float(allocation, "allocation")
        check_finite(arr, "allocation", "utilities")
        u = pd.Series(arr, index=index)
    pos = int(np.argmin(u.to_numpy()))
    return WorstOff(_label(u.index[pos]), float(u.iloc[pos]))


def compare_allocations(allocations, *, utilitarian: Allocation | None = None) -> pd.DataFrame:
    """One row per allocation: welfare, the worst-off agent, Jain's index, price of fairness, envy.

    Parameters
    ----------
    allocations : dict of str to Allocation, or sequence of Allocation
        Allocations of one problem (a sequence is labelled by rule; a single
        Allocation is a sequence of one).
    utilitarian : Allocation, optional
        The reference of the price of fairness.  Default: the allocation whose
        rule is ``"utilitarian"`` among ``allocations``, or one computed with
        :func:`fair_allocation` on the same problem.

    Returns
    -------
    pandas.DataFrame
        Columns ``welfare``, ``worst_off`` (label), ``worst_off_utility``,
        ``jain_index`` (of the utilities), ``jain_index_x`` (of the amounts),
        ``price_of_fairness`` and ``envy_free`` (without payments).

    Examples
    --------
    >>> rules = ("utilitarian", "max_min", "proportional")
    >>> table = compare_allocations([fair_allocation([[1, 1]], [1], weights=[2, 1], rule=r) for r in rules])
    >>> table[["welfare", "worst_off_utility", "jain_index", "price_of_fairness"]].round(4)
                  welfare  worst_off_utility  jain_index  price_of_fairness
    rule
    utilitarian    2.0000             0.0000         0.5             0.0000
    max_min        1.3333             0.6667         1.0             0.3333
    proportional   1.5000             0.5000         0.9             0.2500
    """
    if isinstance(allocations, Allocation):
        allocations = [allocations]
    if isinstance(allocations, Mapping):
        items = list(allocations.items())
    elif isinstance(allocations, (str, bytes)) or not hasattr(allocations, "__iter__"):
        raise TypeError(
            "`allocations` must be a dict of label -> Allocation or a list of Allocations (from fair_allocation); "
            f"got {type(allocations).__name__}."
        )
    else:
        items = [(getattr(a, "rule", None), a) for a in allocations]
    if not items:
        raise ValueError("`allocations` is empty; give at least one Allocation.")
    for label, a in items:
        if not isinstance(a, Allocation):
            raise TypeError(f"`allocations` entry {label!r} must be an Allocation; got {type(a).__name__}.")
    if utilitarian is not None and not isinstance(utilitarian, Allocation):
        raise TypeError(f"`utilitarian` must be an Allocation (or None); got {type(utilitarian).__name__}.")
    if utilitarian is None:
        utilitarian = next((a for _, a in items if a.rule == "utilitarian"), None)
    if utilitarian is None:
        first = items[0][1]
        utilitarian = fair_allocation(first.usage, first.capacity, weights=first.weights, rule="utilitarian",
                                      caps=first.caps)
    rows = {}
    for label, a in items:
        who, u_min = worst_off(a)
        rows[label] = {
            "welfare": a.welfare,
            "worst_off": who,
            "worst_off_utility": u_min,
            "jain_index": jain_index(a.utilities),
            "jain_index_x": jain_index(a.x),
            "price_of_fairness": price_of_fairness(a, utilitarian),
            "envy_free": is_envy_free(a),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "rule"
    return table
