"""Optimal power flows and their prices: DLMPs on a distribution feeder, LMPs of a DC OPF.

This module was ``te_course.dlmp`` up to te_course 0.5 (a name that the function
:func:`dlmp` hides as ``te_course.dlmp``); ``from te_course.dlmp import ...``
still works for one release, with a ``DeprecationWarning``.

Distribution locational marginal prices (DLMPs) and marginal loss factors
------------------------------------------------------------------------

A DLMP at a bus is the marginal cost of serving one more kW there.  It is the
dual of the active-power balance at the bus in a distribution optimal power
flow (OPF), and it splits into an energy, a loss, a congestion and a voltage
component, each tied to the shadow price of a physical constraint.

The OPF (per unit internally: ``feeders.z_base_ohm``, ``s_base_kva``)
--------------------------------------------------------------------
Buses are ordered breadth-first from the substation; line ``l = (i -> j)``
feeds bus ``j`` from its upstream bus ``i``.  Variables: the substation's
injection ``P0, Q0``; sending-end flows ``P_l, Q_l``; squared currents
``l_l``; squared voltages ``w_i`` (``w_0 = 1``); DER outputs ``g_k`` (active
power only).  With ``p_j, q_j`` the load at bus ``j`` (load positive)::

    P_l - r_l l_l + sum_k at j g_k - sum_{children c of j} P_c = p_j     (active balance, dual: DLMP_j)
    Q_l - x_l l_l                  - sum_{children c of j} Q_c = q_j
    w_j = w_i - 2 (r_l P_l + x_l Q_l) + (r_l^2 + x_l^2) l_l
    P_l^2 + Q_l^2 <= w_i l_l                                             (SOC relaxation)
    v_min^2 <= w_j <= v_max^2,  P_l^2 + Q_l^2 <= s_max_l^2,  p_min_k <= g_k <= p_max_k
    minimise  price_substation * P0 + sum_k price_k g_k

This is the branch-flow (DistFlow) model of Baran and Wu (1989) with the
second-order-cone relaxation of Farivar and Low (2013) (``model="socp"``).  On
a radial feeder with a cost increasing in the substation's injection the
relaxation is usually tight (``P^2 + Q^2 = w_i l``), and then the solution is
an AC power flow and its prices are the exact AC marginal costs; the largest
``w_i l_l - P_l^2 - Q_l^2`` is reported as ``relaxation_gap`` and a
``UserWarning`` is raised when it exceeds 1e-6 p.u.  ``model="lindistflow"``
drops the losses (``l = 0``): Baran and Wu's linearised DistFlow, whose
prices carry no loss component.  The line limit applies to the sending end.

Decomposition (Papavasiliou 2018; Bai et al. 2018)
--------------------------------------------------
Signs: ``p_j`` is the active load at bus ``j`` (a withdrawal, as in
:mod:`te_course.feeders`), so ``DLMP_j`` is the cost of one more kW withdrawn
at ``j`` and the value of one more kW injected there.  Each limit is written
on the squared quantity that the OPF constrains, and each multiplier is
>= 0: ``mu_l`` for ``P_l^2 + Q_l^2 <= s_max_l^2``, ``eta_min_i`` for
``w_i >= v_min^2`` and ``eta_max_i`` for ``w_i <= v_max^2`` (p.u.-scaled).
Eliminate the flows and voltages through the power-flow equations (the
substation absorbs any change of active and reactive power; the reactive
loads stay fixed); the OPF becomes a problem in the DER outputs and the loads,
and by the envelope theorem::

    DLMP_j = lambda_0                                     energy
           + lambda_0 * dLoss/dp_j                        loss  (lambda_0 * MLF_j)
           + sum_l mu_l * d(P_l^2 + Q_l^2)/dp_j           congestion
           + sum_i (eta_max_i - eta_min_i) * dw_i/dp_j    voltage

One more kW of load at ``j`` lowers the voltage of every bus whose path to the
substation shares lines with that of ``j`` (``dw_i/dp_j < 0``; in LinDistFlow
``-2`` times the shared resistance), so a binding lower limit adds a positive
voltage component and a binding upper limit a negative one.

The sensitivities are those of the power-flow equations at the operating
point: for the SOCP the AC (DistFlow) Jacobian at the AC power flow of the
dispatched feeder, for LinDistFlow its exact linear sensitivities.  They are
computed with one adjoint (transposed Jacobian) solve per component, not one
power flow per bus.

What is computed and what is a remainder: the total is the dual of the bus's
active balance; the energy component is ``lambda_0``; the congestion and
voltage components are the multipliers of the binding limits (duals of the
OPF) times the sensitivities above.  The loss component is *not* evaluated
from its formula: it is reported as ``total - energy - congestion - voltage``,
so the four components add up to the total by construction (their sum is no
check of anything).  The check is ``loss_residual``: the loss component minus
``lambda_0 * MLF`` for the SOCP (the MLF from its own adjoint solve, see
:func:`marginal_loss_factors`), minus 0 for LinDistFlow.  An error in a
multiplier, a sensitivity or the total would land in the remainder and show
in the residual.

References
----------
M. E. Baran and F. F. Wu, "Optimal sizing of capacitors placed on a radial
distribution system", IEEE Trans. Power Delivery 4(1), 735-743, 1989.
M. Farivar and S. H. Low, "Branch flow model: relaxations and
convexification", IEEE Trans. Power Systems 28(3), 2554-2572, 2013.
A. Papavasiliou, "Analysis of distribution locational marginal prices",
IEEE Trans. Smart Grid 9(5), 4872-4882, 2018.
L. Bai, J. Wang, C. Wang, C. Chen and F. Li, "Distribution locational marginal
pricing (DLMP) for congestion management and voltage support", IEEE Trans.
Power Systems 33(4), 4061-4073, 2018.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _moved, _network
from ._deprecation import renamed_keywords
from ._network import check_ders as _check_ders
from ._network import check_power_pu as _check_pu
from ._solvers import solve
from ._validation import (
    as_1d_float,
    as_float_array,
    as_positive_float,
    check_finite,
    check_magnitude,
)
from ._validation import as_finite_float as _as_number
from ._validation import label as _label
from .errors import InfeasibleError, SolverError
from .feeders import Feeder, check_feeder
from .powerflow import ac_power_flow

__all__ = ["DLMPResult", "DLMPProblem", "dlmp", "marginal_loss_factors", "DCOPFResult", "dc_opf_lmp"]

_MODELS = ("socp", "lindistflow")
_COMPONENTS = ["energy", "loss", "congestion", "voltage", "total"]
_GAP_TOL = 1e-6
#: Documented ranges of the OPF's data (issue 14: beyond them the interior-point solver fails with
#: 'unbounded' or 'solver_error' instead of an answer).  Powers (bus loads, DER limits, line limits)
#: at most this many times the power base ``s_base_kva`` in magnitude: a million times a feeder's rating
#: is no operating point, and squared powers stay far inside the solver's range.
OPF_PU_MAX = _network.OPF_PU_MAX
#: Voltage limits ``v_min_pu < v_max_pu`` must lie in (0, VOLTAGE_MAX_PU] per unit.
VOLTAGE_MAX_PU = 10.0


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class DLMPResult:
    """The solution of a distribution OPF and its decomposed DLMPs.

    Attributes
    ----------
    prices : pandas.DataFrame
        Indexed by bus label; columns ``energy``, ``loss``, ``congestion``,
        ``voltage`` and ``total`` (currency per kWh, for a withdrawal at the bus).
        ``loss`` is the remainder ``total - energy - congestion - voltage``
        (see the module docstring); the other four are computed.
    dispatch : pandas.Series
        Output of each DER, kW, aligned with the rows of ``ders``.
    cost : float
        Optimal cost per hour: substation energy plus DER offers.
    mlf : pandas.Series
        Marginal loss factor of each bus at the AC operating point of the
        dispatched feeder (see :func:`marginal_loss_factors`).
    binding : tuple of str
        The binding network limits, in words.
    model : str
        ``"socp"`` or ``"lindistflow"``.
    relaxation_gap : float
        Largest ``w_i l_l - P_l^2 - Q_l^2`` (p.u.); 0 for LinDistFlow.
    v_pu : pandas.Series
        Voltage magnitude at each bus in the OPF solution.
    flows : pandas.DataFrame
        Per line: ``from_bus``, ``to_bus``, ``p_kw``, ``q_kvar`` at the
        upstream end, positive away from the substation.
    substation_p_kw : float
        Active power bought at the substation.
    loss_residual : pandas.Series
        The loss component (a remainder) minus its formula:
        ``price_substation * mlf`` (SOCP) or 0 (LinDistFlow, losses neglected).
        Near zero when the total, the multipliers and the sensitivities agree.
    """

    prices: pd.DataFrame
    dispatch: pd.Series
    cost: float
    mlf: pd.Series
    binding: tuple
    model: str
    relaxation_gap: float
    v_pu: pd.Series
    flows: pd.DataFrame = field(repr=False)
    substation_p_kw: float = 0.0
    loss_residual: pd.Series = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per bus: the price components, ``mlf`` and ``v_pu``."""
        out = self.prices.copy()
        out["mlf"] = self.mlf
        out["v_pu"] = self.v_pu
        return out


# --------------------------------------------------------------------------- validation


def _bus_vector(values, feeder: Feeder, name: str) -> np.ndarray:
    """Per-bus values (Series by label or array in feeder order) as a float array in feeder order, in range."""
    if isinstance(values, pd.Series):
        if values.index.has_duplicates:
            dup = _label(values.index[values.index.duplicated()][0])
            raise ValueError(f"`{name}` names the bus {dup!r} more than once.")
        unknown = ~values.index.isin(feeder.buses.index)
        if unknown.any():
            raise ValueError(f"`{name}` names {_label(values.index[unknown][0])!r}, which is not a bus of the feeder.")
        arr = as_float_array(values.reindex(feeder.buses.index), name)
        if np.isnan(arr).any():
            i = int(np.flatnonzero(np.isnan(arr))[0])
            raise ValueError(f"`{name}` has no finite value for bus {_label(feeder.buses.index[i])!r}.")
    else:
        arr = as_1d_float(values, name, allow_empty=True)
        if arr.shape != (feeder.n_buses,):
            raise ValueError(f"`{name}` must have one value per bus ({feeder.n_buses}); got shape {arr.shape}.")
    check_finite(arr, name)
    _check_pu(arr, name, feeder.s_base_kva, "loads")
    return arr


def check_voltage_limits(v_min_pu, v_max_pu) -> tuple[float, float]:
    """Return the voltage limits as floats with ``0 < v_min < v_max <= VOLTAGE_MAX_PU``, or raise naming one.

    Shared with the day-long OPF of :mod:`te_course.scheduling` (not in ``__all__``).
    """
    v_min = as_positive_float(v_min_pu, "v_min_pu")
    v_max = as_positive_float(v_max_pu, "v_max_pu")
    for name, v in (("v_min_pu", v_min), ("v_max_pu", v_max)):
        if v > VOLTAGE_MAX_PU:
            raise ValueError(
                f"`{name}` must be at most {VOLTAGE_MAX_PU:g} p.u. (a voltage limit in per unit, such as 0.95 or "
                f"1.05); got {v:g}. Check the units: per unit, not V or kV."
            )
    if v_min >= v_max:
        raise ValueError(f"`v_min_pu` ({v_min}) must be below `v_max_pu` ({v_max}).")
    return v_min, v_max


# --------------------------------------------------------------------------- sensitivities


def _jacobian(tree: _network.Tree, r, x, p, q, ell, w_red, w0, with_losses: bool) -> sp.csc_matrix:
    """Jacobian of the DistFlow equations (rows: P-balance, Q-balance, voltage, [current]) by rank.

    Unknowns ``[P, Q, (l,) w_1..w_{n-1}]``; the substation's ``w_0`` is fixed.
    """
    m = r.size
    c = tree.c.tocsc()
    d = sp.diags
    z2 = r**2 + x**2
    zero = sp.csc_matrix((m, m))
    if not with_losses:
        return sp.bmat(
            [[c, zero, zero], [zero, c, zero], [d(2 * r), d(2 * x), c.T]],
            format="csc",
        )
    # parent selector among ranks >= 1 (zero row when the parent is the substation)
    par = tree.parent_rank
    keep = par > 0
    spar = sp.csc_matrix((np.ones(keep.sum()), (np.flatnonzero(keep), par[keep] - 1)), shape=(m, m))
    w_par = np.where(keep, w_red[np.maximum(par - 1, 0)], w0)
    return sp.bmat(
        [
            [c, zero, d(-r), zero],
            [zero, c, d(-x), zero],
            [d(2 * r), d(2 * x), d(-z2), c.T],
            [d(-2 * p), d(-2 * q), d(w_par), d(ell) @ spar],
        ],
        format="csc",
    )


def _adjoint(jac: sp.csc_matrix, grads: np.ndarray, m: int) -> np.ndarray:
    """d(grad_k . state)/d(load at rank j), for each column k of ``grads``: shape (m, k)."""
    y = spla.splu(jac.T.tocsc()).solve(np.asarray(grads, dtype=float))
    return y[:m]


def _ac_state(feeder: Feeder, tree: _network.Tree) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sending-end flows, squared currents and squared voltages by rank, from the AC power flow (p.u.)."""
    res = ac_power_flow(feeder, tol=1e-12, max_iter=500)
    sb = feeder.s_base_kva
    pos = tree.line_pos
    pf = res.p_kw.to_numpy()[pos] / sb
    qf = res.q_kvar.to_numpy()[pos] / sb
    pl = res.loss_kw.to_numpy()[pos] / sb
    ql = res.loss_kvar.to_numpy()[pos] / sb
    p = np.where(tree.forward, pf, -pf + pl)
    q = np.where(tree.forward, qf, -qf + ql)
    w = res.v_pu.to_numpy()[tree.order] ** 2
    ell = (p**2 + q**2) / w[tree.parent_rank]
    return p, q, ell, w


def marginal_loss_factors(feeder: Feeder) -> pd.Series:
    """Return d(total active losses)/d(active load at each bus) at the AC operating point.

    The substation absorbs the extra power; the reactive loads stay fixed.  The
    factors come from one adjoint solve with the Jacobian of the DistFlow
    equations (Baran and Wu 1989) at the AC power flow, not from a power flow
    per bus: with ``J`` that Jacobian and ``g`` the gradient of the losses
    ``sum_l r_l l_l`` in the state, ``MLF = (J^-T g)`` restricted to the
    active-balance rows.  The substation's factor is 0.  While power flows
    away from the substation, a load far from it has a positive factor (it
    adds to the currents of every line on its path); where a local injection
    reverses the flows, extra load there cuts the losses and its factor is
    negative.  The marginal cost of serving a bus is ``price * (1 + MLF)``
    when no limit binds.

    Parameters
    ----------
    feeder : Feeder
        A radial feeder.

    Returns
    -------
    pandas.Series
        Dimensionless (kW of losses per kW of load), indexed by bus label.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> mlf = marginal_loss_factors(ieee33())
    >>> float(mlf[1]), round(float(mlf[18]), 4), bool(mlf[18] > mlf[2])
    (0.0, 0.1472, True)
    """
    feeder = check_feeder(feeder)
    tree = _network.tree(feeder)
    m = feeder.n_buses - 1
    out = np.zeros(feeder.n_buses)
    if m > 0:
        z = _network.series_impedance_pu(feeder, tree)
        p, q, ell, w = _ac_state(feeder, tree)
        jac = _jacobian(tree, z.real, z.imag, p, q, ell, w[1:], w[0], True)
        grad = np.r_[np.zeros(2 * m), z.real, np.zeros(m)]
        out[tree.order[1:]] = _adjoint(jac, grad[:, None], m)[:, 0]
    return pd.Series(out, index=feeder.buses.index, name="mlf")


# --------------------------------------------------------------------------- the OPF


class DLMPProblem:
    """A distribution OPF built once with cvxpy Parameters, re-solved for new data.

    :func:`dlmp` builds one and solves it once; a widget or a finite-difference
    check keeps it and calls :meth:`solve` again with new loads, prices, voltage
    limits, DER offers or line limits (warm re-solves: the problem is
    canonicalised only the first time).

    Parameters
    ----------
    feeder : Feeder
        A radial feeder; line limits come from ``feeder.lines["s_max_kva"]``
        (only lines with a limit get a constraint; their values can be changed
        in :meth:`solve`).
    ders : pandas.DataFrame, optional
        Flexible resources: columns ``bus``, ``p_max_kw``, ``price`` (offer,
        currency per kWh), optionally ``p_min_kw`` (default 0).  The limits
        at most 1e6 times the feeder's ``s_base_kva`` in magnitude
        (:data:`OPF_PU_MAX`), the prices at most 1e150.
    model : {"socp", "lindistflow"}
        The OPF model (see the module docstring).

    Line limits ``s_max_kva`` must be NaN (none) or at most 1e6 times
    ``s_base_kva``: beyond these ranges (a million times the feeder's
    rating) the interior-point solver cannot give an answer.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> prob = DLMPProblem(ieee33(), model="lindistflow")
    >>> a = prob.solve(price_substation=0.05, v_min_pu=0.9)
    >>> b = prob.solve(price_substation=0.06, v_min_pu=0.9)
    >>> round(float(b.prices.loc[18, "total"]), 6)
    0.06
    """

    def __init__(self, feeder: Feeder, *, ders=None, model: str = "socp") -> None:
        """Check the feeder and the DERs, and write the OPF once (see the class docstring)."""
        checked = check_feeder(feeder)
        if model not in _MODELS:
            raise ValueError(f"`model` must be 'socp' or 'lindistflow'; got {model!r}.")
        tree = _network.tree(checked)
        self.feeder, self.model, self._tree = feeder, model, tree
        # what the problem was built from: solve() refuses a feeder whose lines or buses changed since
        self._built_lines, self._built_buses = checked.lines.copy(), checked.buses.index.copy()
        self.ders = _check_ders(ders, checked)
        if checked.n_buses == 1:
            raise ValueError("`feeder` has a single bus; a DLMP needs at least one line.")
        z = _network.series_impedance_pu(checked, tree)
        self._r, self._x = z.real, z.imag
        lines = checked.lines.iloc[tree.line_pos]
        self._line_labels = lines.index
        self._s_max_default, self._limited = _line_limits(lines, checked.s_base_kva)
        self._parameters(checked.n_buses, len(self.ders))
        self._problem = self._build(checked)

    # ------------------------------------------------------------------ build

    def _parameters(self, n: int, k: int) -> None:
        """Create the cvxpy Parameters that :meth:`solve` sets: loads, prices, DER and voltage and line limits."""
        self._p_load = cp.Parameter(n, name="p_load")
        self._q_load = cp.Parameter(n, name="q_load")
        self._price = cp.Parameter(name="price_substation")
        self._der_price = cp.Parameter(max(k, 1), name="der_price")
        self._der_min = cp.Parameter(max(k, 1), name="der_min")
        self._der_max = cp.Parameter(max(k, 1), name="der_max")
        self._w_min = cp.Parameter(nonneg=True, name="w_min")
        self._w_max = cp.Parameter(nonneg=True, name="w_max")
        self._s2 = cp.Parameter(self._limited.size, nonneg=True, name="s_max_sq") if self._limited.size else None

    def _build(self, feeder: Feeder) -> cp.Problem:
        """Write the OPF of the module docstring by rank (the tree's breadth-first order), per unit."""
        tree, r, x = self._tree, self._r, self._x
        n, m, k = feeder.n_buses, feeder.n_buses - 1, len(self.ders)
        a, down, up = tree.incidence(), tree.downstream_map(), tree.upstream_map()
        e0 = np.zeros(n)
        e0[0] = 1.0
        der_rank = tree.rank[feeder.buses.index.get_indexer(self.ders["bus"])] if k else np.zeros(0, dtype=np.int64)
        gmap = sp.csr_matrix((np.ones(k), (der_rank, np.arange(k))), shape=(n, max(k, 1)))

        P, Q = cp.Variable(m, name="P"), cp.Variable(m, name="Q")
        W = cp.Variable(n, name="w")
        P0, Q0 = cp.Variable(name="P0"), cp.Variable(name="Q0")
        g = cp.Variable(max(k, 1), name="g")
        self._vars = (P, Q, W, P0, g)
        cons = [W[0] == 1.0]
        if self.model == "socp":
            L = cp.Variable(m, nonneg=True, name="l")
            self._L = L
            p_bal = a @ P - down @ cp.multiply(r, L) + e0 * P0 + gmap @ g
            q_bal = a @ Q - down @ cp.multiply(x, L) + e0 * Q0
            drop = -2 * (cp.multiply(r, P) + cp.multiply(x, Q)) + cp.multiply(r**2 + x**2, L)
            wpar = up @ W
            cons.append(cp.SOC(wpar + L, cp.vstack([2 * P, 2 * Q, wpar - L]), axis=0))
        else:
            self._L = None
            p_bal = a @ P + e0 * P0 + gmap @ g
            q_bal = a @ Q + e0 * Q0
            drop = -2 * (cp.multiply(r, P) + cp.multiply(x, Q))
        self._p_con = p_bal == self._p_load
        cons += [self._p_con, q_bal == self._q_load, a.T @ W == drop]
        self._vmin_con = W[1:] >= self._w_min
        self._vmax_con = W[1:] <= self._w_max
        cons += [self._vmin_con, self._vmax_con]
        cons += [g >= self._der_min, g <= self._der_max] if k else [g == 0]
        self._line_con = None
        if self._limited.size:
            li = self._limited
            self._line_con = cp.square(P[li]) + cp.square(Q[li]) <= self._s2
            cons.append(self._line_con)
        return cp.Problem(cp.Minimize(self._price * P0 + self._der_price @ g), cons)

    # ------------------------------------------------------------------ solve

    @renamed_keywords(der_price="price_ders")
    def solve(self, *, price_substation, v_min_pu=0.95, v_max_pu=1.05, p_kw=None, q_kvar=None,
              price_ders=None, s_max_kva=None) -> DLMPResult:
        """Solve the OPF for the given data and return its decomposed DLMPs.

        Parameters
        ----------
        price_substation : float
            Price of energy at the substation, currency per kWh (finite, at
            most 1e150 in magnitude).
        v_min_pu, v_max_pu : float, optional
            Voltage limits at every bus but the substation (held at 1 p.u.),
            with ``0 < v_min_pu < v_max_pu <= 10`` (:data:`VOLTAGE_MAX_PU`).
        p_kw, q_kvar : pandas.Series or array_like, optional
            Bus loads (by label or in feeder order); default: the feeder's.
            At most :data:`OPF_PU_MAX` (1e6) times ``s_base_kva`` in magnitude.
        price_ders : array_like, optional
            Offer prices aligned with ``ders``; default: ``ders["price"]``
            (finite, at most 1e150 in magnitude).  Called ``der_price`` up to
            te_course 0.5 (still accepted for one release, with a
            ``DeprecationWarning``).
        s_max_kva : dict or pandas.Series, optional
            New limits for lines that have one in the feeder, by line label
            (at most 1e6 times ``s_base_kva``).

        Prices far from 1 (beyond 1e3 or below 1e-3 per kWh) are solved in
        units of the largest price, so that the solver sees numbers near 1;
        the prices and the cost are reported in the units given.

        Returns
        -------
        DLMPResult

        Raises
        ------
        ValueError
            If an input is invalid or outside the ranges above, or the feeder's
            lines or buses were edited after the problem was built (its loads
            may change: they are read at every solve).
        te_course.InfeasibleError
            If no dispatch meets the limits; the message says which family of
            limits cannot be met.
        te_course.SolverError
            If the solver fails within those ranges; the message lists the
            arguments to check.

        Examples
        --------
        >>> from te_course.feeders import ieee33
        >>> prob = DLMPProblem(ieee33(), model="lindistflow")
        >>> res = prob.solve(price_substation=0.05, v_min_pu=0.9, p_kw=ieee33().buses["p_kw"] * 0.5)
        >>> res.binding, round(float(res.prices.loc[18, "total"]), 6)
        ((), 0.05)
        """
        feeder = self._current_feeder()
        price = _as_number(price_substation, "price_substation")
        check_magnitude(np.array([price]), "price_substation", "prices")
        v_min, v_max = check_voltage_limits(v_min_pu, v_max_pu)
        p = _bus_vector(feeder.buses["p_kw"] if p_kw is None else p_kw, feeder,
                        "feeder.buses['p_kw']" if p_kw is None else "p_kw")
        q = _bus_vector(feeder.buses["q_kvar"] if q_kvar is None else q_kvar, feeder,
                        "feeder.buses['q_kvar']" if q_kvar is None else "q_kvar")
        dp = self._der_prices(price_ders)
        s_lim = self._new_line_limits(s_max_kva, feeder.s_base_kva)
        self._set_data(feeder, price=price, p=p, q=q, der_price=dp, s_lim=s_lim)
        self._set_v(v_min, v_max)
        try:
            self._run(hint=self._data_hint(price))
        except InfeasibleError:
            raise self._explain_infeasible(v_min, v_max, s_lim) from None
        return self._result(feeder, price, p, q, v_min, v_max, s_lim, dp)

    def _der_prices(self, price_ders) -> np.ndarray:
        """Return the DER offers of this solve: ``price_ders`` checked (one price per DER), or ``ders["price"]``."""
        if price_ders is None:
            return self.ders["price"].to_numpy()
        k = len(self.ders)
        dp = as_1d_float(price_ders, "price_ders", allow_empty=True)
        if dp.shape != (k,):
            raise ValueError(f"`price_ders` must have one price per DER ({k}); got shape {dp.shape}.")
        check_finite(dp, "price_ders", "prices")
        check_magnitude(dp, "price_ders", "prices")
        return dp

    def _new_line_limits(self, s_max_kva, s_base_kva: float) -> np.ndarray:
        """Return the limits (kVA) of the limited lines for this solve: the feeder's, updated by ``s_max_kva``."""
        s_lim = self._s_max_default.copy()
        if s_max_kva is None:
            return s_lim
        labels = list(self._line_labels[self._limited])
        try:
            new_limits = dict(s_max_kva)
        except (TypeError, ValueError):
            raise TypeError(
                f"`s_max_kva` must be a dict (or Series) from line label to kVA; got {type(s_max_kva).__name__}."
            ) from None
        for line, value in new_limits.items():
            if line not in labels:
                raise ValueError(
                    f"`s_max_kva` names line {line!r}, which has no limit in the feeder; "
                    f"only {labels} can be changed here."
                )
            s_lim[labels.index(line)] = as_positive_float(value, f"s_max_kva[{line!r}]")
        _check_pu(s_lim, "s_max_kva", s_base_kva, "line limits")
        return s_lim

    def _set_data(self, feeder: Feeder, *, price: float, p: np.ndarray, q: np.ndarray, der_price: np.ndarray,
                  s_lim: np.ndarray) -> None:
        """Set the Parameters (per unit, by rank) to the data of this solve."""
        # Prices far from 1 are solved in units of the largest price (issue 14: prices of 1e12 made the
        # solver report 'unbounded'); the duals and the cost are scaled back in _result.  Prices of
        # usual size (0.001 to 1000 per kWh) are solved as they are, with the solver's tuned tolerances.
        k, sb = len(self.ders), feeder.s_base_kva
        largest = max(abs(price), float(np.abs(der_price).max(initial=0.0)))
        self._obj_scale = largest if (largest > 1e3 or 0.0 < largest < 1e-3) else 1.0
        order = self._tree.order
        self._p_load.value = p[order] / sb
        self._q_load.value = q[order] / sb
        self._price.value = price / self._obj_scale
        self._der_price.value = der_price / self._obj_scale if k else np.zeros(1)
        self._der_min.value = self.ders["p_min_kw"].to_numpy() / sb if k else np.zeros(1)
        self._der_max.value = self.ders["p_max_kw"].to_numpy() / sb if k else np.zeros(1)
        if self._s2 is not None:
            self._s2.value = (s_lim / sb) ** 2

    def _data_hint(self, price: float) -> str:
        """Return the data to check when the solver fails, in words (the sentence the errors end with)."""
        return (
            "Check the data for extreme or inconsistent values: the prices (`price_substation`, `price_ders` or "
            "`ders['price']`), the DER limits (`ders['p_min_kw']`, `ders['p_max_kw']`), the loads (`p_kw`, `q_kvar` "
            "or the feeder's), the voltage limits (`v_min_pu`, `v_max_pu`), the line limits (`s_max_kva`) and the "
            "feeder's impedances (`feeder.lines`); "
            + ("a negative `price_substation` can make the second-order-cone relaxation unbounded (try "
               "model='lindistflow')." if self.model == "socp" and price < 0 else
               "values near 1 per unit solve best.")
        )

    def _current_feeder(self) -> Feeder:
        """``self.feeder`` checked again; its loads may have changed since the build, its network not."""
        feeder = check_feeder(self.feeder)
        if not (feeder.lines.equals(self._built_lines) and feeder.buses.index.equals(self._built_buses)):
            raise ValueError(
                "`feeder.lines` or the buses of `feeder` were edited after this DLMPProblem was built, and the "
                "problem keeps the network it was built with: build a new DLMPProblem (line limits can also be "
                "changed with `s_max_kva=` in solve)."
            )
        return feeder

    def _set_v(self, v_min: float, v_max: float) -> None:
        """Set the voltage limits (p.u.) as limits on the squared voltages."""
        self._w_min.value = v_min**2
        self._w_max.value = v_max**2

    def _run(self, hint: str = "") -> None:
        """Solve the OPF with the Parameters as set; raise InfeasibleError, UnboundedError or SolverError."""
        # tol=1e-9, not the package's 1e-10: Clarabel reaches 1e-10 on the SOCP only 'inaccurately' (IEEE 33
        # with DERs), and 1e-9 gives the prices to the 1e-6 that the tests compare with finite differences
        solve(self._problem, what=f"the DLMP {self.model} OPF", tol=1e-9, hint=hint)

    def _solves(self) -> bool:
        """Return whether the OPF with the Parameters as set has a solution (for the diagnosis of infeasibility)."""
        try:
            self._run()
        except SolverError:
            return False
        return True

    def _explain_infeasible(self, v_min: float, v_max: float, s_lim: np.ndarray) -> InfeasibleError:
        """Find which family of limits makes the OPF infeasible, by relaxing one family at a time."""
        tries = []
        v_big = 10.0 * VOLTAGE_MAX_PU  # far beyond any voltage limit, still well scaled for the solver
        self._set_v(1e-3, v_max)
        lower_ok = self._solves()
        low_detail = ""
        if lower_ok:
            w = self._vars[2].value
            j = int(np.argmin(w[1:])) + 1
            bus = _label(self.feeder.buses.index[self._tree.order[j]])
            low_detail = f" (without that limit the cheapest dispatch leaves {np.sqrt(w[j]):.4f} p.u. at bus {bus!r})"
        self._set_v(v_min, v_big)
        upper_ok = self._solves()
        self._set_v(v_min, v_max)
        lines_ok = False
        if self._s2 is not None:
            self._s2.value = np.full(self._limited.size, 1e6)
            lines_ok = self._solves()
            self._s2.value = (s_lim / self.feeder.s_base_kva) ** 2
        if lower_ok:
            tries.append(f"voltage cannot be kept above {v_min} p.u. at every bus (`v_min_pu`){low_detail}")
        if upper_ok:
            tries.append(f"voltage cannot be kept below {v_max} p.u. at every bus (`v_max_pu`)")
        if lines_ok:
            tries.append("the line limits (`s_max_kva` of the feeder's lines) cannot all be met")
        if not tries and self._s2 is None:
            tries.append(
                "no dispatch keeps the voltages within limits, even with the lower limit relaxed to 0.001 p.u. or "
                f"the upper one to {v_big:g} p.u.: the loads (`p_kw`, `q_kvar`) or the DER limits are far beyond "
                "what the feeder can carry"
            )
        elif not tries:
            tries.append(
                "the voltage limits and line limits cannot be met together (relaxing one family alone does not help)"
            )
        return InfeasibleError(
            "The DLMP OPF is infeasible: " + "; ".join(tries) + ". Loosen the limits (`v_min_pu`, `v_max_pu`, "
            "`s_max_kva`), add DER capacity (`ders['p_max_kw']`) downstream, or reduce the load (`p_kw`, `q_kvar`)."
        )

    # ------------------------------------------------------------------ result

    def _result(self, feeder: Feeder, price: float, p: np.ndarray, q: np.ndarray, v_min: float, v_max: float,
                s_lim: np.ndarray, der_price: np.ndarray) -> DLMPResult:
        """Read the solved OPF: the DLMPs and their components, the dispatch, the binding limits, voltages, flows.

        The steps of the decomposition (module docstring): the multipliers of the binding limits,
        the AC operating point of the dispatched feeder and its marginal loss factors, one adjoint
        solve for the congestion and voltage sensitivities, and the loss component as the remainder.
        """
        tree, sb = self._tree, feeder.s_base_kva
        P, Q, W, P0, g = (v.value for v in self._vars)
        duals = self._multipliers(P, Q, W, price=price, der_price=der_price, v_min=v_min, v_max=v_max,
                                  s_lim=s_lim, s_base_kva=sb)
        k = len(self.ders)
        dispatch = pd.Series(g[:k] * sb if k else np.zeros(0), index=self.ders.index, name="p_kw")
        injected = p.copy()
        if k:
            np.subtract.at(injected, feeder.buses.index.get_indexer(self.ders["bus"]), dispatch.to_numpy())
        dispatched = feeder.replace(buses=feeder.buses.assign(p_kw=injected, q_kvar=q))
        mlf = marginal_loss_factors(dispatched)
        sens, gap = self._sensitivities(dispatched, P, Q, W, duals)
        prices = _components(price, duals.total, sens, tree, feeder.buses.index)
        expected = price * mlf if self.model == "socp" else 0.0 * mlf
        if gap > _GAP_TOL:
            warnings.warn(
                f"The SOC relaxation is not tight (gap {gap:.2e} p.u. > {_GAP_TOL:g}): the dispatch is not an AC "
                "power flow and the prices are not exact AC marginal costs.",
                UserWarning,
                stacklevel=3,
            )
        lines = feeder.lines.iloc[tree.line_pos]
        v = np.empty(feeder.n_buses)
        v[tree.order] = np.sqrt(np.maximum(W, 0.0))
        flows = pd.DataFrame(
            {"from_bus": lines["from_bus"], "to_bus": lines["to_bus"], "p_kw": P * sb, "q_kvar": Q * sb}
        ).reindex(feeder.lines.index)
        return DLMPResult(
            prices=prices,
            dispatch=dispatch,
            cost=float(self._problem.value) * self._obj_scale * sb,
            mlf=mlf,
            binding=_binding_words(duals, tree, feeder.buses.index, lines),
            model=self.model,
            relaxation_gap=gap,
            v_pu=pd.Series(v, index=feeder.buses.index, name="v_pu"),
            flows=flows,
            substation_p_kw=float(P0) * sb,
            loss_residual=(prices["loss"] - expected).rename("loss_residual"),
        )

    def _multipliers(self, P: np.ndarray, Q: np.ndarray, W: np.ndarray, *, price: float, der_price: np.ndarray,
                     v_min: float, v_max: float, s_lim: np.ndarray, s_base_kva: float) -> _Multipliers:
        """Return the DLMPs by rank and the multipliers of the binding voltage and line limits, in currency per kWh."""
        m = P.size
        # cvxpy: for `expr == b` the dual is -d(opt)/db; the balance is written `... == load`.
        # The objective was divided by `obj` (the largest price): every dual is multiplied back.
        obj = self._obj_scale
        total = -np.asarray(self._p_con.dual_value, dtype=float) * obj
        tol_dual = 1e-7 * max(1.0, abs(price), float(np.abs(der_price).max(initial=0.0)))
        eta_min = np.asarray(self._vmin_con.dual_value, dtype=float) * obj
        eta_max = np.asarray(self._vmax_con.dual_value, dtype=float) * obj
        w = W[1:]
        at_min = (w - v_min**2 < 1e-6) & (eta_min > tol_dual)
        at_max = (v_max**2 - w < 1e-6) & (eta_max > tol_dual)
        eta = np.where(at_max, eta_max, 0.0) - np.where(at_min, eta_min, 0.0)
        mu = np.zeros(m)
        if self._line_con is not None:
            dual = np.asarray(self._line_con.dual_value, dtype=float) * obj
            li = self._limited
            s2 = (s_lim / s_base_kva) ** 2
            slack = s2 - (P[li] ** 2 + Q[li] ** 2)
            hit = (slack < 1e-6 * np.maximum(s2, 1e-12) + 1e-10) & (dual > tol_dual)
            mu[li[hit]] = dual[hit]
        return _Multipliers(total, eta, mu, at_min, at_max)

    def _sensitivities(self, dispatched: Feeder, P: np.ndarray, Q: np.ndarray, W: np.ndarray,
                       duals: _Multipliers) -> tuple[np.ndarray, float]:
        """Return the congestion and voltage components by rank >= 1 (one adjoint solve), and the SOC relaxation gap.

        SOCP: the DistFlow Jacobian at the AC power flow of the dispatched feeder; LinDistFlow:
        its exact linear sensitivities.
        """
        tree, r, x, m = self._tree, self._r, self._x, P.size
        mu, eta, zeros = duals.mu, duals.eta, np.zeros(m)
        if self.model == "socp":
            ps, qs, ell, ws = _ac_state(dispatched, tree)
            jac = _jacobian(tree, r, x, ps, qs, ell, ws[1:], ws[0], True)
            g_cong = np.r_[2 * mu * ps, 2 * mu * qs, zeros, zeros]
            g_volt = np.r_[zeros, zeros, zeros, eta]
            gap = float(np.max(W[tree.parent_rank] * self._L.value - P**2 - Q**2))
        else:
            jac = _jacobian(tree, r, x, None, None, None, None, None, False)
            g_cong = np.r_[2 * mu * P, 2 * mu * Q, zeros]
            g_volt = np.r_[zeros, zeros, eta]
            gap = 0.0
        return _adjoint(jac, np.c_[g_cong, g_volt], m), gap


class _Multipliers(NamedTuple):
    """The duals of a solved DLMP OPF that the decomposition uses, by rank, in currency per kWh."""

    total: np.ndarray  #: the DLMP of each rank (the dual of its active balance)
    eta: np.ndarray  #: per rank >= 1: upper minus lower voltage multiplier, where that limit binds
    mu: np.ndarray  #: per line (by child rank): the multiplier of its limit, where it binds
    at_min: np.ndarray  #: per rank >= 1: the lower voltage limit binds
    at_max: np.ndarray  #: per rank >= 1: the upper voltage limit binds


def _line_limits(lines: pd.DataFrame, s_base_kva: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the limits (kVA) of the lines that have one and their positions in ``lines`` (by child rank - 1).

    Raises ``ValueError`` for a limit beyond :data:`OPF_PU_MAX` times the power base.
    """
    s_max = lines["s_max_kva"].to_numpy()
    limited = np.flatnonzero(np.isfinite(s_max))
    too_big = np.isfinite(s_max) & (s_max > OPF_PU_MAX * s_base_kva)
    if too_big.any():
        j = int(np.flatnonzero(too_big)[0])
        raise ValueError(
            f"`feeder.lines['s_max_kva']` of line {_label(lines.index[j])!r} is {s_max[j]:g} kVA, beyond the OPF's "
            f"range of {OPF_PU_MAX:g} times the power base ({OPF_PU_MAX * s_base_kva:g} kVA); "
            "use NaN for a line without limit."
        )
    return s_max[limited], limited


def _components(price: float, total: np.ndarray, sens: np.ndarray, tree: _network.Tree,
                buses: pd.Index) -> pd.DataFrame:
    """Return the price table by bus: energy, congestion and voltage computed, loss the remainder of the total."""
    comp = np.zeros((total.size, 5))
    comp[:, 0] = price
    comp[1:, 2] = sens[:, 0]
    comp[1:, 3] = sens[:, 1]
    comp[:, 4] = total
    comp[:, 1] = comp[:, 4] - comp[:, 0] - comp[:, 2] - comp[:, 3]
    by_bus = np.empty_like(comp)
    by_bus[tree.order] = comp
    return pd.DataFrame(by_bus, index=buses, columns=_COMPONENTS)


def _binding_words(duals: _Multipliers, tree: _network.Tree, buses: pd.Index, lines: pd.DataFrame) -> tuple:
    """Return the binding voltage and line limits, in words (lines in tree order)."""
    out = []
    for hit, words in ((duals.at_min, "lower"), (duals.at_max, "upper")):
        for j in np.flatnonzero(hit):
            out.append(f"voltage at bus {_label(buses[tree.order[j + 1]])} at its {words} limit")
    for j in np.flatnonzero(duals.mu):
        row = lines.iloc[j]
        out.append(f"line {_label(row['from_bus'])}-{_label(row['to_bus'])} at its limit")
    return tuple(out)


def dlmp(feeder: Feeder, *, price_substation, ders=None, v_min_pu=0.95, v_max_pu=1.05, model="socp") -> DLMPResult:
    """Solve a distribution OPF and return DLMPs decomposed into energy, loss, congestion and voltage.

    The formulation, the decomposition and the references are in the module
    docstring (:mod:`te_course.opf`).  To re-solve the same feeder many times
    (a widget, finite differences) build a :class:`DLMPProblem` once.

    Parameters
    ----------
    feeder : Feeder
        A radial feeder; loads from ``feeder.buses``, line limits from
        ``feeder.lines["s_max_kva"]`` (apparent power at the sending end).
    price_substation : float
        Price of energy at the substation, currency per kWh.
    ders : pandas.DataFrame, optional
        Columns ``bus``, ``p_max_kw``, ``price`` (offer per kWh), optionally ``p_min_kw``.
        Powers at most 1e6 times ``s_base_kva`` in magnitude (see :class:`DLMPProblem`).
    v_min_pu, v_max_pu : float, optional
        Voltage limits at every bus but the substation (held at 1 p.u.),
        ``0 < v_min_pu < v_max_pu <= 10``.
    model : {"socp", "lindistflow"}, optional
        Exact (second-order-cone relaxation of the branch-flow model) or
        linearised (losses neglected).

    Returns
    -------
    DLMPResult

    Raises
    ------
    ValueError
        Invalid inputs or inputs outside the documented ranges (naming the
        argument).
    te_course.InfeasibleError
        Limits that no dispatch can meet (naming the family of limits, in words).
    te_course.SolverError
        If the solver fails; the message lists the arguments to check.

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> ders = pd.DataFrame({"bus": [18, 33], "p_max_kw": [1200.0, 1200.0], "price": [0.08, 0.08]})
    >>> res = dlmp(ieee33(), price_substation=0.05, ders=ders)
    >>> res.binding
    ('voltage at bus 31 at its lower limit', 'voltage at bus 14 at its lower limit')
    >>> res.prices.loc[[1, 18, 33]].round(4)
         energy    loss  congestion  voltage  total
    bus
    1      0.05  0.0000         0.0   0.0000   0.05
    18     0.05  0.0024         0.0   0.0276   0.08
    33     0.05  0.0021         0.0   0.0279   0.08
    >>> bool(res.prices.loc[2:, "voltage"].gt(0).all())  # a binding v_min raises the prices
    True
    >>> bool(res.loss_residual.abs().max() < 1e-6)  # the loss remainder agrees with 0.05 * MLF
    True
    """
    return DLMPProblem(feeder, ders=ders, model=model).solve(
        price_substation=price_substation, v_min_pu=v_min_pu, v_max_pu=v_max_pu
    )


# --------------------------------------------------------------------------- transmission: DC OPF and LMPs


@dataclass(frozen=True)
class DCOPFResult:
    """The solution of a DC optimal power flow and its locational marginal prices.

    Attributes
    ----------
    lmp : pandas.Series
        Locational marginal price at each bus (currency per kWh): the cost of
        one more kW of load there for one hour.
    dispatch : pandas.Series
        Output of each generator, kW, aligned with the rows of ``generators``.
    flows : pandas.DataFrame
        One row per line in service: ``from_bus``, ``to_bus``, ``p_kw`` (positive
        from ``from_bus`` to ``to_bus``), ``s_max_kva`` (NaN: no limit),
        ``shadow_price`` (currency per kWh per kW of limit, >= 0: what one more
        kW of the line's limit would save per hour) and ``rent`` (``p_kw`` times
        the price at ``to_bus`` minus the price at ``from_bus``).
    load_kw : pandas.Series
        The load at each bus.
    cost : float
        Optimal cost of the generation per hour.
    congestion_rent : float
        The sum of ``flows["rent"]`` over the lines.
    merchandising_surplus : float
        What the loads pay minus what the generators receive, at the LMPs,
        per hour: ``sum_j lmp_j load_j - sum_g lmp_bus(g) dispatch_g``.
    binding : tuple of str
        The lines at their limits, in words.
    """

    lmp: pd.Series
    dispatch: pd.Series
    flows: pd.DataFrame
    load_kw: pd.Series
    cost: float
    congestion_rent: float
    merchandising_surplus: float
    binding: tuple

    def to_frame(self) -> pd.DataFrame:
        """Return one row per bus: ``load_kw``, ``generation_kw`` and ``lmp``."""
        gen = pd.Series(0.0, index=self.lmp.index)
        if len(self.dispatch):
            gen = gen.add(self.dispatch.groupby(self._gen_bus.to_numpy()).sum(), fill_value=0.0)
        return pd.DataFrame({"load_kw": self.load_kw, "generation_kw": gen, "lmp": self.lmp})

    _gen_bus: pd.Series = field(default=None, repr=False)


@renamed_keywords(network="feeder")
def dc_opf_lmp(feeder: Feeder, generators, *, load_kw=None) -> DCOPFResult:
    """Solve a DC optimal power flow and return its LMPs, flows and congestion rent.

    The DC OPF (Schweppe et al. 1988; Wood, Wollenberg and Sheblé 2014)
    chooses generator outputs ``g`` and bus angles ``theta`` (the slack bus,
    ``feeder.substation``, at angle 0) to::

        minimise   sum_g price_g * g_g
        subject to sum_{g at j} g_g - load_j = sum_l A_lj * f_l      (bus balance, dual: LMP_j)
                   f_l = (theta_from(l) - theta_to(l)) / x_l          (DC power flow)
                   -s_max_l <= f_l <= s_max_l                         (line limits, duals mu_l >= 0)
                   p_min_g <= g_g <= p_max_g

    with ``A_lj`` = +1 if line ``l`` leaves bus ``j`` and -1 if it arrives there.
    Signs: the LMP at ``j`` is the derivative of the optimal cost with respect
    to the load at ``j`` (a withdrawal), so it is what one more kW of load there
    costs for an hour.  The congestion rent is ``sum_l f_l (LMP_to - LMP_from)``:
    the operator buys at the sending end and sells at the receiving end of every
    line.  Since the net injections balance the flows, it equals the
    merchandising surplus (loads' payments minus generators' revenue), and by
    strong duality also ``sum_l mu_l s_max_l`` (Kirschen and Strbac 2004,
    ch. 6).  The published PJM 5-bus case is Li and Bo (2010).

    Parameters
    ----------
    feeder : Feeder
        A connected network, meshed or radial (see :func:`te_course.pjm5bus`);
        line limits from ``feeder.lines["s_max_kva"]`` (NaN: none), applied to
        the active power of the in-service lines.
    generators : pandas.DataFrame
        Columns ``bus``, ``p_max_kw``, ``price`` (offer, currency per kWh) and
        optionally ``p_min_kw`` (default 0); the index names the generators.
    load_kw : pandas.Series or array_like, optional
        The load at each bus (by label, or in the order of ``feeder.buses``);
        default ``feeder.buses["p_kw"]``.

    Returns
    -------
    DCOPFResult

    Raises
    ------
    ValueError
        If an argument is invalid (the message names it), or the generators'
        limits alone cannot meet the load.
    te_course.InfeasibleError
        If the generators could serve the load but not within the line limits.

    The argument ``feeder`` was called ``network`` up to te_course 0.5; the old
    keyword still works for one release, with a ``DeprecationWarning``.

    References
    ----------
    F. C. Schweppe, M. C. Caramanis, R. D. Tabors and R. E. Bohn, *Spot Pricing of
    Electricity*, Kluwer, 1988.
    F. Li and R. Bo, "Small test systems for power system economic studies",
    IEEE PES General Meeting, 2010.
    A. J. Wood, B. F. Wollenberg and G. B. Sheblé, *Power Generation, Operation,
    and Control*, 3rd ed., Wiley, 2014.
    D. Kirschen and G. Strbac, *Fundamentals of Power System Economics*,
    Wiley, 2004.

    Examples
    --------
    Two buses and one line of 500 kW: the cheap generator fills the line, the
    dear one serves the rest of the load and sets the price behind the line.

    >>> net = Feeder(pd.DataFrame({"p_kw": [0.0, 800.0]}, index=[1, 2]),
    ...              pd.DataFrame({"from_bus": [1], "to_bus": [2], "r_ohm": [0.0], "x_ohm": [1.0],
    ...                            "s_max_kva": [500.0]}),
    ...              v_base_kv=10.0, s_base_kva=1000.0, substation=1)
    >>> gens = pd.DataFrame({"bus": [1, 2], "p_max_kw": [1000.0, 1000.0], "price": [0.02, 0.05]})
    >>> res = dc_opf_lmp(net, gens)
    >>> res.lmp.round(4).tolist(), res.dispatch.round(1).tolist()
    ([0.02, 0.05], [500.0, 300.0])
    >>> round(res.congestion_rent, 4), round(res.merchandising_surplus, 4)  # 500 kW x (0.05 - 0.02)
    (15.0, 15.0)
    """
    feeder = check_feeder(feeder)
    dc = _network.dc_matrices(feeder)
    gens = _check_ders(generators, feeder, name="generators", what="generator limits")
    load = _bus_vector(feeder.buses["p_kw"] if load_kw is None else load_kw, feeder,
                       "feeder.buses['p_kw']" if load_kw is None else "load_kw")
    _check_generation(gens, load)
    model = _dc_model(feeder, dc, gens, load)
    try:
        solve(model.problem, what="the DC OPF", tol=1e-9, hint=(  # as the DLMP OPF: see DLMPProblem._run
            "Check `generators` (prices and limits), `load_kw` and the reactances `feeder.lines['x_ohm']` for "
            "extreme values."))
    except InfeasibleError:
        raise InfeasibleError(
            "The DC OPF is infeasible: the generators can serve the load (`load_kw`), but not without overloading a "
            "line; loosen `feeder.lines['s_max_kva']`, or add generation (`generators`) behind the limited lines."
        ) from None
    return _dc_result(feeder, dc, gens, load, model)


def _check_generation(gens: pd.DataFrame, load: np.ndarray) -> None:
    """Raise ``ValueError`` unless the generators' limits (network aside) can meet the total load."""
    if len(gens) == 0:
        raise ValueError("`generators` is empty; give at least one generator (columns 'bus', 'p_max_kw', 'price').")
    total = load.sum()
    if gens["p_max_kw"].sum() < total - 1e-9 * max(1.0, abs(total)):
        raise ValueError(
            f"the generators cannot serve the load: their capacity (`generators['p_max_kw']`) adds up to "
            f"{gens['p_max_kw'].sum():g} kW, the load (`load_kw`) to {total:g} kW."
        )
    if gens["p_min_kw"].sum() > total + 1e-9 * max(1.0, abs(total)):
        raise ValueError(
            f"the generators' minimum outputs (`generators['p_min_kw']`) add up to {gens['p_min_kw'].sum():g} kW, "
            f"more than the load (`load_kw`) of {total:g} kW."
        )


class _DCModel(NamedTuple):
    """The DC OPF as cvxpy objects, with what :func:`_dc_result` reads from them."""

    problem: cp.Problem
    g: cp.Variable  #: generator outputs, p.u.
    flow: cp.Expression  #: in-service line flows, p.u., from -> to
    balance: cp.Constraint  #: bus balances (duals: minus the LMPs, scaled)
    limits: tuple  #: (upper, lower) flow limits of the limited lines, or ()
    limited: np.ndarray  #: positions (among the in-service lines) of the lines with a limit
    s_max: np.ndarray  #: limit of each in-service line, kVA (NaN: none)
    scale: float  #: the objective was divided by it (the largest offer)
    gen_pos: np.ndarray  #: bus position of each generator


def _dc_model(feeder: Feeder, dc: _network.DCMatrices, gens: pd.DataFrame, load: np.ndarray) -> _DCModel:
    """Write the DC OPF of :func:`dc_opf_lmp` (per unit, prices divided by the largest offer)."""
    sb, n, k = feeder.s_base_kva, feeder.n_buses, len(gens)
    gen_pos = feeder.buses.index.get_indexer(gens["bus"])
    gmap = sp.csr_matrix((np.ones(k), (gen_pos, np.arange(k))), shape=(n, k))
    s_max = feeder.lines["s_max_kva"].to_numpy()[dc.line_idx]
    limited = np.flatnonzero(np.isfinite(s_max))

    theta, g = cp.Variable(n), cp.Variable(k)
    flow = cp.multiply(dc.b, dc.a @ theta)  # p.u., from -> to
    balance = gmap @ g - dc.a.T @ flow == load / sb
    cons = [balance, theta[dc.slack] == 0, g >= gens["p_min_kw"].to_numpy() / sb,
            g <= gens["p_max_kw"].to_numpy() / sb]
    limits = ()
    if limited.size:
        limits = (flow[limited] <= s_max[limited] / sb, -flow[limited] <= s_max[limited] / sb)
        cons += list(limits)
    prices = gens["price"].to_numpy()
    scale = max(float(np.abs(prices).max()), 1e-300)  # solve with prices near 1
    problem = cp.Problem(cp.Minimize((prices / scale) @ g), cons)
    return _DCModel(problem, g, flow, balance, limits, limited, s_max, scale, gen_pos)


def _dc_result(feeder: Feeder, dc: _network.DCMatrices, gens: pd.DataFrame, load: np.ndarray,
               model: _DCModel) -> DCOPFResult:
    """Read the solved DC OPF: LMPs from the balances' duals, flows, shadow prices, rents and binding lines."""
    sb, s_max = feeder.s_base_kva, model.s_max
    # cvxpy: the dual of `expr == b` is -d(optimum)/db; b is the load (p.u.), the objective was divided by
    # `scale` and is per p.u. of power, so d(cost per hour)/d(load kW) = -dual * scale.
    lmp = pd.Series(-np.asarray(model.balance.dual_value, float) * model.scale, index=feeder.buses.index, name="lmp")
    f_kw = np.asarray(model.flow.value, float) * sb
    mu = np.zeros(dc.line_idx.size)
    if model.limits:
        upper, lower = model.limits
        mu[model.limited] = (np.asarray(upper.dual_value, float) + np.asarray(lower.dual_value, float)) * model.scale
    lines = feeder.lines.iloc[dc.line_idx]
    lam = lmp.to_numpy()
    f, t = feeder.buses.index.get_indexer(lines["from_bus"]), feeder.buses.index.get_indexer(lines["to_bus"])
    flows = pd.DataFrame(
        {"from_bus": lines["from_bus"].to_numpy(), "to_bus": lines["to_bus"].to_numpy(), "p_kw": f_kw,
         "s_max_kva": s_max, "shadow_price": mu, "rent": f_kw * (lam[t] - lam[f])},
        index=feeder.lines.index[dc.line_idx],
    )
    dispatch = pd.Series(np.asarray(model.g.value, float) * sb, index=gens.index, name="p_kw")
    tol = 1e-6 * np.maximum(s_max, 1.0)
    at_limit = np.isfinite(s_max) & (np.abs(np.abs(f_kw) - s_max) <= tol) & (mu > 0)
    return DCOPFResult(
        lmp=lmp,
        dispatch=dispatch,
        flows=flows,
        load_kw=pd.Series(load, index=feeder.buses.index, name="load_kw"),
        cost=float(gens["price"].to_numpy() @ dispatch.to_numpy()),
        congestion_rent=float(flows["rent"].sum()),
        merchandising_surplus=float(lam @ load - lam[model.gen_pos] @ dispatch.to_numpy()),
        binding=tuple(f"line {_label(r.from_bus)}-{_label(r.to_bus)} at its limit"
                      for r, hit in zip(flows.itertuples(), at_limit) if hit),
        _gen_bus=gens["bus"],
    )


# The module's name up to te_course 0.5, importable for one release (see te_course._moved).
_moved.register(f"{__package__}.dlmp", sys.modules[__name__])
