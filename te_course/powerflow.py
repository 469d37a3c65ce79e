"""Power flow on feeders: exact AC (backward/forward sweep), LinDistFlow and DC.

Three models of the same physics, from exact to linear:

- :func:`ac_power_flow`: the exact balanced AC power flow of a radial feeder
  with constant-power loads, solved by the backward/forward sweep (current
  summation; Kersting, *Distribution System Modeling and Analysis*, 4th ed.,
  2017, ch. 10).
- :func:`lindistflow`: Baran and Wu's linearised DistFlow equations, losses
  neglected (M. E. Baran and F. F. Wu, "Optimal sizing of capacitors placed on
  a radial distribution system", IEEE Trans. Power Delivery 4(1), 735-743, 1989).
- :func:`dc_power_flow` and :func:`ptdf`: the B-theta model of meshed
  transmission networks (Wood, Wollenberg and Sheblé, *Power Generation,
  Operation, and Control*, 3rd ed., 2014, ch. 6 and 7).

Buses carry loads with the sign convention of :mod:`te_course.feeders` (load
positive, generation negative).  Line flows ``p_kw``, ``q_kvar`` are measured at
the line's ``from_bus`` end, positive in the ``from_bus -> to_bus`` direction.

Vectorisation.  A radial feeder ordered breadth-first from the substation has
a square, triangular reduced incidence matrix ``C`` (bus x line: +1 at the
line's downstream bus, -1 at its upstream bus, substation row removed).
Kirchhoff's current law reads ``C @ I_line = I_load`` (each line carries the
current of everything downstream) and the voltage drops ``C.T @ (V - V0) =
-Z * I_line``.  One sweep is therefore two sparse triangular solves; the
implicit inverse of ``C`` is the path matrix of the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _network
from ._deprecation import always_converged, renamed_keywords
from ._validation import ConvergenceError, TeCourseError, as_positive_float
from ._validation import label as _label
from .feeders import Feeder, check_feeder

__all__ = ["PowerFlowResult", "ac_power_flow", "lindistflow", "dc_power_flow", "ptdf", "hosting_capacity"]

#: The documented range of the substation voltage ``v_source_pu`` (p.u.): a feeder is operated near
#: 1 p.u.; a value far outside (1e-300, 1e300) is a unit mistake (V or kV instead of p.u.) and would
#: make the sweep collapse or overflow instead of giving a clear message.
V_SOURCE_RANGE_PU = (0.5, 1.5)


def _check_v_source(v_source_pu) -> float:
    """Return ``v_source_pu`` as a float in :data:`V_SOURCE_RANGE_PU`, or raise naming it."""
    v0 = as_positive_float(v_source_pu, "v_source_pu")
    lo, hi = V_SOURCE_RANGE_PU
    if not lo <= v0 <= hi:
        raise ValueError(
            f"`v_source_pu` must lie between {lo:g} and {hi:g} p.u. (the substation voltage in per unit, "
            f"such as 1.0 or 1.03); got {v_source_pu!r}. Check the units: per unit, not V or kV."
        )
    return v0


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class PowerFlowResult:
    """The solution of a power flow.

    Attributes
    ----------
    v_pu : pandas.Series
        Voltage magnitude at each bus, p.u. (indexed by bus label).
    angle_deg : pandas.Series
        Voltage angle at each bus, degrees (LinDistFlow: its linear estimate).
    p_kw, q_kvar : pandas.Series
        Flow on each line (indexed by line label) at its ``from_bus`` end, in
        the ``from_bus -> to_bus`` direction; 0 on lines out of service.
    loss_kw, loss_kvar : pandas.Series
        Series losses of each line (zero for LinDistFlow and DC).
    substation_p_kw, substation_q_kvar : float
        Power delivered by the grid at the substation (slack) bus, including
        the substation bus's own load.
    iterations : int
        Sweeps done (0 for the direct methods).  A sweep that does not converge raises
        :class:`~te_course.ConvergenceError` instead of returning, so every result has converged.
    model : str
        ``"ac"``, ``"lindistflow"`` or ``"dc"``.
    bus_p_kw, bus_q_kvar : pandas.Series
        The bus loads the flow was computed for.
    lines : pandas.DataFrame
        The lines' ``from_bus``, ``to_bus`` and ``in_service``.
    """

    v_pu: pd.Series
    angle_deg: pd.Series
    p_kw: pd.Series
    q_kvar: pd.Series
    loss_kw: pd.Series
    loss_kvar: pd.Series
    substation_p_kw: float
    substation_q_kvar: float
    iterations: int
    model: str
    bus_p_kw: pd.Series = field(repr=False)
    bus_q_kvar: pd.Series = field(repr=False)
    lines: pd.DataFrame = field(repr=False)

    converged = always_converged("a power flow that does not converge raises te_course.ConvergenceError")

    @property
    def total_loss_kw(self) -> float:
        """Sum of the lines' active losses, kW."""
        return float(self.loss_kw.sum())

    @property
    def total_loss_kvar(self) -> float:
        """Sum of the lines' reactive losses, kvar."""
        return float(self.loss_kvar.sum())

    def to_frame(self) -> pd.DataFrame:
        """Return one row per bus: ``v_pu``, ``angle_deg``, load ``p_kw`` and ``q_kvar``."""
        return pd.DataFrame(
            {"v_pu": self.v_pu, "angle_deg": self.angle_deg, "p_kw": self.bus_p_kw, "q_kvar": self.bus_q_kvar}
        )

    def lines_frame(self) -> pd.DataFrame:
        """Return one row per line: ends, flows at the sending end, losses."""
        out = self.lines[["from_bus", "to_bus"]].copy()
        out["p_kw"] = self.p_kw
        out["q_kvar"] = self.q_kvar
        out["loss_kw"] = self.loss_kw
        out["loss_kvar"] = self.loss_kvar
        return out


# --------------------------------------------------------------------------- results


def _result(feeder, tree, v, angle, s_send, s_recv, loss, iterations, model) -> PowerFlowResult:
    sb = feeder.s_base_kva
    lines = feeder.lines
    p = tree.line_series(feeder, s_send.real, s_recv.real, sb)
    q = tree.line_series(feeder, s_send.imag, s_recv.imag, sb)
    loss_kw = pd.Series(0.0, index=lines.index)
    loss_kvar = pd.Series(0.0, index=lines.index)
    loss_kw.iloc[tree.line_pos] = loss.real * sb
    loss_kvar.iloc[tree.line_pos] = loss.imag * sb
    # the grid supplies the substation's own load plus what leaves it on its lines
    root = tree.parent_rank == 0
    sub_load = feeder.buses.loc[feeder.substation]
    sub_p = float(sub_load["p_kw"] + s_send.real[root].sum() * sb)
    sub_q = float(sub_load["q_kvar"] + s_send.imag[root].sum() * sb)
    return PowerFlowResult(
        v_pu=tree.bus_series(feeder, v, "v_pu"),
        angle_deg=tree.bus_series(feeder, angle, "angle_deg"),
        p_kw=p.rename("p_kw"),
        q_kvar=q.rename("q_kvar"),
        loss_kw=loss_kw.rename("loss_kw"),
        loss_kvar=loss_kvar.rename("loss_kvar"),
        substation_p_kw=sub_p,
        substation_q_kvar=sub_q,
        iterations=int(iterations),
        model=model,
        bus_p_kw=feeder.buses["p_kw"].copy(),
        bus_q_kvar=feeder.buses["q_kvar"].copy(),
        lines=lines[["from_bus", "to_bus", "in_service"]].copy(),
    )


# --------------------------------------------------------------------------- AC


def ac_power_flow(feeder: Feeder, *, v_source_pu: float = 1.0, tol: float = 1e-8,
                  max_iter: int = 100) -> PowerFlowResult:
    """Solve the exact AC power flow of a radial feeder by backward/forward sweep.

    Each iteration (Kersting 2017, ch. 10; current summation):

    1. load currents ``I_k = conj(S_k / V_k)`` (constant-power loads, p.u.);
    2. backward sweep: each line carries the sum of the load currents
       downstream of it, ``C @ I_line = I_load``;
    3. forward sweep: ``V_child = V_parent - Z_line I_line`` from the
       substation (held at ``v_source_pu``, angle 0) outwards.

    It stops when no bus voltage changes by more than ``tol`` p.u.  Losses are
    ``|I|^2 Z`` per line; flows are ``V_sending conj(I)``.

    Parameters
    ----------
    feeder : Feeder
        A feeder whose in-service lines form a tree reaching every bus.
    v_source_pu : float, optional
        Voltage magnitude at the substation, between 0.5 and 1.5 p.u.
        (:data:`V_SOURCE_RANGE_PU`; outside it is a unit mistake).
    tol : float, optional
        Largest change of a complex bus voltage between sweeps, p.u.
    max_iter : int, optional
        Sweeps allowed.

    Returns
    -------
    PowerFlowResult

    Raises
    ------
    ValueError
        If the in-service network is not radial (the message names the loop)
        or leaves buses disconnected, or the feeder's tables were edited into
        an invalid state (the message names the table and column).
    ConvergenceError
        If the sweep does not converge within ``max_iter`` sweeps, or a voltage
        collapses: the load is probably beyond the feeder's voltage-stability
        limit (no power-flow solution exists).

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> res = ac_power_flow(ieee33())
    >>> round(res.total_loss_kw, 1), round(float(res.v_pu.min()), 4), int(res.v_pu.idxmin())
    (202.7, 0.9131, 18)
    """
    feeder = check_feeder(feeder)
    v0 = _check_v_source(v_source_pu)
    tol = as_positive_float(tol, "tol")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"`max_iter` must be a positive integer; got {max_iter!r}.")
    tree = _network.tree(feeder)
    n = feeder.n_buses
    if n == 1:
        return _single_bus(feeder, tree, v0, "ac")
    s_load = (feeder.buses["p_kw"].to_numpy() + 1j * feeder.buses["q_kvar"].to_numpy()) / feeder.s_base_kva
    s_load = s_load[tree.order[1:]]  # by rank 1..n-1
    z = _network.series_impedance_pu(feeder, tree)
    sweep = _network.ac_sweep(tree, z, s_load[:, None], v0, tol, int(max_iter))
    it = int(sweep.iterations[0])
    if 0 in sweep.failed:
        raise _sweep_error(feeder, tree, sweep, 0)
    v = sweep.v[:, 0]
    i_line = tree.downstream_sum(np.conj(s_load / v))
    v_all = np.r_[v0 + 0j, v]
    v_send = v_all[tree.parent_rank]
    s_send = v_send * np.conj(i_line)
    loss = np.abs(i_line) ** 2 * z
    return _result(feeder, tree, np.abs(v_all), np.degrees(np.angle(v_all)), s_send, s_send - loss, loss, it, "ac")


def _sweep_error(feeder: Feeder, tree, sweep, column: int) -> ConvergenceError:
    """Return the ``ConvergenceError`` of a failed column of a sweep (``feeder`` carrying its loads)."""
    reason, k, vmax = sweep.failed[column]
    it = int(sweep.iterations[column])
    history = [(i, float(change[column]), float(vmin[column])) for i, change, vmin in sweep.history[:it]]
    if reason == "collapse":
        bus = _label(feeder.buses.index[tree.order[k + 1]])
        return _not_converged(feeder, it, history, f"the voltage at bus {bus!r} collapsed towards 0")
    if reason == "diverge":
        bus = _label(feeder.buses.index[tree.order[k + 1]])
        detail = f"the voltage at bus {bus!r} swung to {vmax:.3g} p.u., the sweep is diverging"
        return _not_converged(feeder, it, history, detail)
    detail = f"the last sweep still changed a voltage by {history[-1][1]:.2g} p.u."
    return _not_converged(feeder, it, history, detail)


def _not_converged(feeder: Feeder, iterations: int, history, detail: str) -> ConvergenceError:
    load = float(feeder.buses["p_kw"].sum())
    frame = pd.DataFrame(history, columns=["iteration", "max_change_pu", "min_v_pu"]).set_index("iteration")
    return ConvergenceError(
        f"`ac_power_flow` did not converge after {iterations} iterations; the load may exceed what the "
        f"feeder can carry ({detail}; total load {load:.6g} kW on {feeder.name!r}). Scale the loads down "
        "(Feeder.scale_loads) or raise max_iter if the voltages were still settling.",
        iterations=iterations,
        history=frame,
    )


def _single_bus(feeder, tree, v0, model) -> PowerFlowResult:
    empty = np.zeros(0)
    return _result(feeder, tree, np.array([v0]), np.zeros(1), empty + 0j, empty + 0j, empty + 0j, 0, model)


# --------------------------------------------------------------------------- LinDistFlow


def lindistflow(feeder: Feeder, *, v_source_pu: float = 1.0) -> PowerFlowResult:
    """Solve Baran and Wu's linearised DistFlow equations on a radial feeder.

    Losses are neglected, so each line carries the sum of the loads downstream
    of it, and squared voltage magnitudes fall linearly along the feeder
    (Baran and Wu, IEEE Trans. Power Delivery 4(1), 1989, eq. 5 without the
    loss terms)::

        P_ij = sum of p over the buses downstream of line ij   (same for Q)
        v_j^2 = v_i^2 - 2 (r_ij P_ij + x_ij Q_ij)              (per unit)

    and ``v = sqrt(v^2)``.  Angles use the matching linear estimate
    ``theta_j = theta_i - (x_ij P_ij - r_ij Q_ij)`` (radians, p.u.).

    Its voltages are never below the exact (AC) ones, for any loads and
    injections on lines with ``r, x >= 0``: the exact flow into a line is the
    lossless one plus the losses ``r l`` (and ``x l``) of that line and of the
    lines below it, so the exact drop of ``v^2`` along the line exceeds the
    linear one by ``(r^2 + x^2) l + 2 (r * active + x * reactive losses
    below) >= 0``.  A negative squared voltage therefore proves that the AC
    equations have no solution.

    Parameters
    ----------
    feeder : Feeder
        A feeder whose in-service lines form a tree reaching every bus.
    v_source_pu : float, optional
        Voltage magnitude at the substation, between 0.5 and 1.5 p.u.
        (:data:`V_SOURCE_RANGE_PU`).

    Returns
    -------
    PowerFlowResult
        With ``loss_kw`` and ``loss_kvar`` zero and ``iterations`` 0.

    Raises
    ------
    ValueError
        If the network is not radial, the loads are so large that a squared
        voltage would be negative, or the feeder's tables were edited into an
        invalid state (the message names the table and column).

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> res = lindistflow(ieee33())
    >>> round(float(res.v_pu[18]), 4), round(float(res.p_kw[1]), 6)
    (0.9159, 3715.0)
    """
    feeder = check_feeder(feeder)
    v0 = _check_v_source(v_source_pu)
    tree = _network.tree(feeder)
    n = feeder.n_buses
    if n == 1:
        return _single_bus(feeder, tree, v0, "lindistflow")
    s_load = (feeder.buses["p_kw"].to_numpy() + 1j * feeder.buses["q_kvar"].to_numpy()) / feeder.s_base_kva
    s_load = s_load[tree.order[1:]]
    z = _network.series_impedance_pu(feeder, tree)
    pq = tree.downstream_sum(s_load.real) + 1j * tree.downstream_sum(s_load.imag)
    r, x = z.real, z.imag
    w = v0**2 + tree.accumulate_drop(2 * (r * pq.real + x * pq.imag))
    if np.any(w <= 0):
        k = int(np.argmin(w))
        bus = _label(feeder.buses.index[tree.order[k + 1]])
        raise TeCourseError(
            f"LinDistFlow gives a negative squared voltage ({w[k]:.3g}) at bus {bus!r}: the load "
            f"({float(feeder.buses['p_kw'].sum()):.6g} kW) is far beyond what the feeder {feeder.name!r} can carry "
            f"at `v_source_pu`={v0:g}. Scale the loads down (Feeder.scale_loads)."
        )
    theta = tree.accumulate_drop(x * pq.real - r * pq.imag)
    v = np.sqrt(np.r_[v0**2, w])
    angle = np.degrees(np.r_[0.0, theta])
    zero = np.zeros(n - 1, dtype=complex)
    return _result(feeder, tree, v, angle, pq, pq, zero, 0, "lindistflow")


# --------------------------------------------------------------------------- DC


#: The widest ratio of the largest to the smallest in-service reactance that :func:`dc_power_flow` and
#: :func:`ptdf` accept (defined with the DC matrices in ``te_course._network``).
DC_X_RATIO_MAX = _network.DC_X_RATIO_MAX


def _dc_inaccurate(residual: np.ndarray, scale: float) -> bool:
    """Whether a solve of the B matrix left a non-finite or large residual (relative to ``scale``)."""
    return not np.all(np.isfinite(residual)) or float(np.abs(residual).max(initial=0.0)) > 1e-6 * max(scale, 1e-300)


def _dc_error(feeder: Feeder) -> ValueError:
    return ValueError(
        f"the DC power flow of {feeder.name!r} cannot be solved accurately in floating point: check "
        "`feeder.lines['x_ohm']` (reactances of very different sizes) and `feeder.buses['p_kw']`."
    )


@renamed_keywords(network="feeder")
def dc_power_flow(feeder: Feeder) -> PowerFlowResult:
    """Solve the DC (B-theta) power flow of a meshed or radial feeder.

    Assumptions: flat voltages (1 p.u.), small angle differences, resistances
    neglected (Wood, Wollenberg and Sheblé 2014, sec. 6.7).  With ``P`` the net
    injections (generation minus load, p.u.) and ``B`` the nodal susceptance
    matrix built from ``1/x`` of the in-service lines, the angles solve
    ``B_red theta_red = P_red`` with the slack (the substation) at angle 0, and
    the flow of line ``ij`` is ``(theta_i - theta_j) / x_ij``.

    Parameters
    ----------
    feeder : Feeder
        Any connected network; ``substation`` is the slack bus.

    Returns
    -------
    PowerFlowResult
        ``v_pu`` 1, no reactive flows and no losses.

    Raises
    ------
    ValueError
        If some buses are not connected to the slack bus, the in-service
        reactances differ by more than a factor :data:`DC_X_RATIO_MAX`
        (1e12: floating point cannot solve such a network), or the feeder's
        tables were edited into an invalid state (the message names the table
        and column, e.g. a zero ``x_ohm``).

    Examples
    --------
    >>> from te_course.feeders import pjm5bus
    >>> res = dc_power_flow(pjm5bus())
    >>> res.p_kw.round(0).tolist()
    [249719.0, 186789.0, -226508.0, -50281.0, -26791.0, -240002.0]
    """
    feeder = check_feeder(feeder)
    dc = _network.dc_matrices(feeder)
    idx, a, b, bred, keep, slack = dc.line_idx, dc.a, dc.b, dc.b_reduced, dc.keep, dc.slack
    n = feeder.n_buses
    sb = feeder.s_base_kva
    inj = -feeder.buses["p_kw"].to_numpy() / sb
    theta = np.zeros(n)
    if keep.size:
        theta[keep] = spla.spsolve(bred, inj[keep]) if keep.size > 1 else inj[keep] / bred.toarray()[0]
        if _dc_inaccurate(bred @ theta[keep] - inj[keep], float(np.abs(inj).max())):
            raise _dc_error(feeder)
    flows = b * (a @ theta)
    p = pd.Series(0.0, index=feeder.lines.index, name="p_kw")
    p.iloc[idx] = flows * sb
    zeros = pd.Series(0.0, index=feeder.lines.index)
    # the slack supplies its own load plus what leaves it
    out_of_slack = np.asarray(a[:, slack].todense()).ravel() @ flows * sb
    return PowerFlowResult(
        v_pu=pd.Series(1.0, index=feeder.buses.index, name="v_pu"),
        angle_deg=pd.Series(np.degrees(theta), index=feeder.buses.index, name="angle_deg"),
        p_kw=p,
        q_kvar=zeros.rename("q_kvar"),
        loss_kw=zeros.rename("loss_kw"),
        loss_kvar=zeros.rename("loss_kvar"),
        substation_p_kw=float(feeder.buses["p_kw"].iloc[slack] + out_of_slack),
        substation_q_kvar=0.0,
        iterations=0,
        model="dc",
        bus_p_kw=feeder.buses["p_kw"].copy(),
        bus_q_kvar=feeder.buses["q_kvar"].copy(),
        lines=feeder.lines[["from_bus", "to_bus", "in_service"]].copy(),
    )


@renamed_keywords(network="feeder")
def ptdf(feeder: Feeder) -> pd.DataFrame:
    """Return the power transfer distribution factors of the in-service lines.

    Entry ``(l, k)`` is the change of the DC flow on line ``l`` (from -> to
    direction) per unit of power injected at bus ``k`` and withdrawn at the
    slack bus (the substation): ``PTDF = diag(1/x) A B_red^-1`` with a zero
    column for the slack (Wood, Wollenberg and Sheblé 2014, sec. 7.2).  The DC
    flows are ``PTDF @ injections`` with injections = ``-buses["p_kw"]``.

    Parameters
    ----------
    feeder : Feeder
        Any connected feeder.

    Returns
    -------
    pandas.DataFrame
        Lines (all lines; zero rows for lines out of service) x buses.

    Raises
    ------
    ValueError
        As :func:`dc_power_flow`.

    Examples
    --------
    >>> from te_course.feeders import pjm5bus
    >>> m = ptdf(pjm5bus())
    >>> float(m.loc[1, "D"]), round(float(m.loc[1, "B"]), 4)
    (0.0, -0.4759)
    """
    feeder = check_feeder(feeder)
    dc = _network.dc_matrices(feeder)
    idx, a, b, bred, keep = dc.line_idx, dc.a, dc.b, dc.b_reduced, dc.keep
    n = feeder.n_buses
    x_inv = np.zeros((len(feeder.lines), n))
    if keep.size:
        dense = bred.toarray()
        binv = np.linalg.inv(dense)
        if _dc_inaccurate(dense @ binv - np.eye(keep.size), 1.0):
            raise _dc_error(feeder)
        full = np.zeros((n, n))
        full[np.ix_(keep, keep)] = binv
        x_inv[idx] = (sp.diags(b) @ a @ full)
    return pd.DataFrame(x_inv, index=feeder.lines.index, columns=feeder.buses.index)


def hosting_capacity(feeder: Feeder, bus, *, model: str = "ac", v_max_pu: float = 1.05,
                     max_kw: float = 20_000.0, tol_kw: float = 1.0) -> float:
    """Return the largest PV injection at ``bus`` that keeps every voltage at or below ``v_max_pu``.

    Bisection on the PV size between 0 and ``max_kw`` with the chosen model
    (voltages rise with an injection at one bus of a radial feeder, linearly in
    ``v^2`` with LinDistFlow, so bisection finds the crossing).  A size at which
    the power flow fails to converge (:class:`~te_course.ConvergenceError`:
    beyond some injection the feeder has no operating point) counts as too
    large; any other error (a feeder that is not radial, for instance) is
    raised.  The voltage-rise limit is the usual binding constraint of PV
    hosting capacity on feeders (EPRI, "Distribution feeder hosting capacity:
    what matters when planning for DER?", 2015).

    Parameters
    ----------
    feeder : Feeder
        A radial feeder.
    bus : hashable
        Where the PV is connected: one bus label.
    model : {"ac", "lindistflow"}
    v_max_pu : float
        The upper voltage limit (> 0).
    max_kw : float
        The largest size tried (finite, > 0).
    tol_kw : float
        The bisection stops when the bracket is narrower than this; > 0, below
        ``max_kw`` and at least ``max_kw * 1e-12`` (finer than floating point
        can resolve, the bisection would never end).

    Returns
    -------
    float
        kW; 0 when even the feeder without PV exceeds ``v_max_pu``, ``max_kw``
        when even ``max_kw`` fits.

    Raises
    ------
    ValueError
        On a bad argument, or a feeder that is not radial.
    ConvergenceError
        If the power flow of the feeder without PV does not converge (its
        loads are beyond what it can carry, so the question has no answer).

    Examples
    --------
    >>> from te_course.feeders import ieee33
    >>> ac, ldf = hosting_capacity(ieee33(), 18), hosting_capacity(ieee33(), 18, model="lindistflow")
    >>> bool(ac > ldf)  # LinDistFlow leaves out the losses that pull voltages down: it hits 1.05 sooner
    True
    """
    feeder = check_feeder(feeder)
    solve, v_max, hi, tol = _hosting_arguments(feeder, bus, model, v_max_pu, max_kw, tol_kw)

    def fits(pv_kw: float) -> bool:
        try:
            return float(solve(feeder.with_injection(bus, pv_kw)).v_pu.max()) <= v_max
        except ConvergenceError:  # no operating point: too much PV for the feeder (other errors propagate)
            return False

    try:
        base = solve(feeder)
    except ConvergenceError as exc:
        raise ConvergenceError(
            f"hosting_capacity: the power flow of {feeder.name!r} without PV does not converge, so there is no "
            f"operating point to add PV to ({exc}).", iterations=exc.iterations, history=exc.history,
        ) from exc
    if float(base.v_pu.max()) > v_max:
        return 0.0
    if fits(hi):
        return hi
    return _bisect_largest(fits, hi, tol)


def _hosting_arguments(feeder: Feeder, bus, model, v_max_pu, max_kw, tol_kw) -> tuple:
    """Check :func:`hosting_capacity`'s arguments; return the power flow, ``v_max``, ``max_kw`` and ``tol_kw``."""
    solvers = {"ac": ac_power_flow, "lindistflow": lindistflow}
    if not isinstance(model, str) or model not in solvers:
        raise ValueError(f"`model` must be 'ac' or 'lindistflow'; got {model!r}.")
    try:
        known = bus in feeder.buses.index
    except TypeError:  # unhashable: a list or an array of buses
        raise TypeError(f"`bus` must be one bus label of the feeder; got {type(bus).__name__} {bus!r}. "
                        "Call hosting_capacity once per bus.") from None
    if not known:
        raise ValueError(f"`bus` {bus!r} is not a bus of the feeder.")
    v_max = as_positive_float(v_max_pu, "v_max_pu")
    hi = as_positive_float(max_kw, "max_kw")
    tol = as_positive_float(tol_kw, "tol_kw")
    if tol >= hi:
        raise ValueError(f"`tol_kw` ({tol:g}) must be smaller than `max_kw` ({hi:g}); the bisection would not run.")
    if tol < hi * 1e-12:
        raise ValueError(f"`tol_kw` ({tol:g}) must be at least `max_kw` * 1e-12 ({hi * 1e-12:g}): floating point "
                         "cannot resolve a finer bracket. Raise `tol_kw` or lower `max_kw`.")
    return solvers[model], v_max, hi, tol


def _bisect_largest(fits, hi: float, tol: float) -> float:
    """Return the largest size in [0, ``hi``] that ``fits`` (to ``tol``), given that 0 fits and ``hi`` does not."""
    lo = 0.0
    for _ in range(64):  # log2(1e12) < 40 halvings reach tol_kw >= max_kw * 1e-12
        if hi - lo <= tol:
            break
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
