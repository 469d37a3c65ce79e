"""The network layer: a feeder as the arrays and matrices that every grid computation uses.

Power flow (:mod:`te_course.powerflow`), the OPFs behind the DLMPs (:mod:`te_course.opf`,
:mod:`te_course.scheduling`), the N-1 study and the attacks on a feeder
(:mod:`te_course.security`) and the fairness of feeder capacity all see a network the same
way, and this module is where that way is written, once:

- :func:`in_service_ends` -- positions of the two ends of every line in service;
- :class:`Tree` / :func:`tree` -- a radial feeder in breadth-first order from the substation,
  with its reduced incidence matrix (upper triangular), which turns the backward sweep
  (sum over the buses downstream of a line) and the forward sweep (sum over the lines on the
  path from the substation) into one triangular solve each;
- :func:`series_impedance_pu` -- line impedances in per unit, in the tree's order;
- :func:`voltage_drop_sq` -- the LinDistFlow drop of squared voltage, for a tree given by
  its parents (Baran and Wu 1989, eq. 9 with losses neglected);
- :func:`dc_matrices` -- the line-bus incidence and reduced susceptance matrix of the DC
  power flow (Wood, Wollenberg and Sheble 2014, sec. 6.7);
- :func:`check_ders` / :func:`check_power_pu` -- the checks of DER tables and powers that the
  OPFs share.

Sign conventions: a line's flow is positive from its upstream end (towards the substation)
to its downstream end in tree order, and from ``from_bus`` to ``to_bus`` in the tables; a bus
load is positive, generation negative.  Per-unit values divide kW/kVA by the feeder's
``s_base_kva`` and ohm by its ``z_base_ohm``.

Nothing here is public API: the modules above call it, and their docstrings cite the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import breadth_first_order

from ._validation import check_finite, check_magnitude, check_nonnegative, float_column, label

if TYPE_CHECKING:
    from .feeders import Feeder

__all__ = [
    "OPF_PU_MAX",
    "DC_X_RATIO_MAX",
    "Tree",
    "tree",
    "in_service_ends",
    "series_impedance_pu",
    "voltage_drop_sq",
    "DCMatrices",
    "dc_matrices",
    "check_ders",
    "check_power_pu",
]

#: The largest power that the OPFs accept, in multiples of the feeder's power base: every square
#: of a per-unit flow (the SOCP's ``P**2 + Q**2 <= W * L``) stays far inside the solvers' range.
OPF_PU_MAX = 1e6

#: The widest ratio of the largest to the smallest in-service reactance that the DC power flow
#: accepts: beyond it the susceptance matrix is singular in floating point (issue 14: a line of
#: 1e50 ohm next to lines of 0.1 ohm gave NaN angles).
DC_X_RATIO_MAX = 1e12


# --------------------------------------------------------------------------- lines in service


def in_service_ends(feeder: Feeder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (into ``feeder.buses``) of every line's ``from_bus`` and ``to_bus``, and the in-service mask.

    ``feeder`` must be checked already (:func:`te_course.feeders.check_feeder`).
    """
    live = feeder.lines["in_service"].to_numpy(dtype=bool)
    pos = pd.Index(feeder.buses.index)
    return pos.get_indexer(feeder.lines["from_bus"]), pos.get_indexer(feeder.lines["to_bus"]), live


# --------------------------------------------------------------------------- radial structure


@dataclass(frozen=True)
class Tree:
    """A radial feeder in breadth-first order from the substation.

    A bus's *rank* is its place in that order (the substation has rank 0); the line
    feeding the bus of rank ``k >= 1`` has the line index ``k - 1`` in every array below
    and in the matrices of the OPFs.
    """

    order: np.ndarray  #: bus positions in BFS order; ``order[0]`` is the substation
    line_pos: np.ndarray  #: for rank k >= 1: position (into ``feeder.lines``) of the line feeding it
    parent_rank: np.ndarray  #: for rank k >= 1: rank of its upstream bus
    forward: np.ndarray  #: for rank k >= 1: whether that line's ``from_bus`` is the upstream bus
    c: sp.csr_matrix  #: reduced incidence, upper triangular, (n-1) x (n-1), unit diagonal
    ct: sp.csr_matrix  #: its transpose, lower triangular

    @property
    def n_buses(self) -> int:
        return self.order.size

    @property
    def rank(self) -> np.ndarray:
        """For each bus position, its rank (the inverse of :attr:`order`)."""
        out = np.empty(self.order.size, dtype=np.int64)
        out[self.order] = np.arange(self.order.size)
        return out

    def downstream_sum(self, values: np.ndarray) -> np.ndarray:
        """Per line (by child rank): sum of ``values`` (by rank >= 1) over the buses downstream of it."""
        return spla.spsolve_triangular(self.c, values, lower=False, unit_diagonal=True)

    def accumulate_drop(self, drop: np.ndarray) -> np.ndarray:
        """Per bus (by rank >= 1): minus the sum of ``drop`` over the lines on its path from the substation."""
        return spla.spsolve_triangular(self.ct, -drop, lower=True, unit_diagonal=True)

    def incidence(self) -> sp.csr_matrix:
        """Bus-by-line incidence by rank, n x (n-1): +1 at each line's downstream bus, -1 at its upstream bus.

        With flows ``P`` (per line, positive downstream) and net withdrawals ``p`` (per bus),
        power balance at every bus but the substation reads ``(incidence @ P)[1:] == p[1:] + losses``.
        """
        m = self.order.size - 1
        cols = np.arange(m)
        return sp.csr_matrix(
            (np.r_[np.ones(m), -np.ones(m)], (np.r_[cols + 1, self.parent_rank], np.r_[cols, cols])),
            shape=(m + 1, m),
        )

    def downstream_map(self) -> sp.csr_matrix:
        """Bus-by-line selector, n x (n-1): 1 at each line's downstream bus."""
        m = self.order.size - 1
        cols = np.arange(m)
        return sp.csr_matrix((np.ones(m), (cols + 1, cols)), shape=(m + 1, m))

    def upstream_map(self) -> sp.csr_matrix:
        """Line-by-bus selector, (n-1) x n: 1 at each line's upstream bus."""
        m = self.order.size - 1
        return sp.csr_matrix((np.ones(m), (np.arange(m), self.parent_rank)), shape=(m, m + 1))

    def bus_series(self, feeder: Feeder, by_rank: np.ndarray, name: str) -> pd.Series:
        """Values by rank as a Series indexed by the feeder's bus labels."""
        out = np.empty(feeder.n_buses, dtype=by_rank.dtype)
        out[self.order] = by_rank
        return pd.Series(out, index=feeder.buses.index, name=name)

    def line_series(self, feeder: Feeder, send: np.ndarray, receive: np.ndarray, scale: float) -> pd.Series:
        """Flows by line label in the ``from_bus -> to_bus`` direction, at the ``from_bus`` end.

        ``send`` and ``receive`` are the flows of each line (by child rank) at its upstream
        and downstream end; a line drawn against the tree takes minus the receiving end.
        """
        out = np.zeros(len(feeder.lines), dtype=send.dtype)
        out[self.line_pos] = np.where(self.forward, send, -receive) * scale
        return pd.Series(out, index=feeder.lines.index)


def tree(feeder: Feeder) -> Tree:
    """Order a checked feeder as a :class:`Tree`; ``ValueError`` naming a loop or a cut-off bus if not radial."""
    feeder.check_radial()
    n = feeder.n_buses
    f, t, live = in_service_ends(feeder)
    idx = np.flatnonzero(live)
    fl, tl = f[idx], t[idx]
    adj = sp.csr_matrix((np.ones(idx.size), (fl, tl)), shape=(n, n))
    sub = feeder.buses.index.get_loc(feeder.substation)
    order, pred = breadth_first_order(adj, sub, directed=False, return_predecessors=True)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    forward = pred[tl] == fl  # from_bus is upstream
    child = np.where(forward, tl, fl)
    parent = np.where(forward, fl, tl)
    sort = np.argsort(rank[child])  # the line feeding rank k sits at k - 1
    line_pos = idx[sort]
    parent_rank = rank[parent][sort]
    m = n - 1
    cols = np.arange(m)
    # rows/cols 0..m-1 stand for ranks 1..n-1; the substation row (rank 0) is dropped
    keep = parent_rank > 0
    c = sp.csr_matrix(
        (np.r_[np.ones(m), -np.ones(keep.sum())], (np.r_[cols, parent_rank[keep] - 1], np.r_[cols, cols[keep]])),
        shape=(m, m),
    )
    return Tree(order, line_pos, parent_rank, forward[sort], c, c.T.tocsr())


def series_impedance_pu(feeder: Feeder, tree: Tree) -> np.ndarray:
    """``(r + jx) / z_base`` of the line feeding each rank >= 1 (a checked feeder)."""
    ln = feeder.lines.iloc[tree.line_pos]
    return (ln["r_ohm"].to_numpy(dtype=float) + 1j * ln["x_ohm"].to_numpy(dtype=float)) / feeder.z_base_ohm


@dataclass(frozen=True)
class Sweep:
    """The backward/forward sweeps of :func:`ac_sweep`, one column per load snapshot."""

    v: np.ndarray  #: complex voltages by rank >= 1, (n-1) x k: the last accepted sweep of each column
    iterations: np.ndarray  #: sweeps run per column
    history: list  #: per sweep: (iteration, largest change per column, lowest |V| per column)
    failed: dict  #: column -> (reason, rank, |V|): "collapse", "diverge" (with its largest |V|) or "max_iter"


def ac_sweep(tree: Tree, z: np.ndarray, s_load: np.ndarray, v0: float, tol: float, max_iter: int) -> Sweep:
    """Sweep constant-power loads ``s_load`` (p.u., by rank >= 1, one column per snapshot) to convergence.

    Every column runs exactly the arithmetic of a sweep of its own (Kersting 2017, ch. 10; current
    summation): load currents ``conj(S / V)``, their sums downstream of each line, the drops
    accumulated from the substation.  A column stops when no voltage changes by more than ``tol``,
    or fails: a voltage collapsing towards 0 or swinging beyond 10 times ``v0`` (no operating point),
    or ``max_iter`` sweeps without settling.  ``te_course.powerflow.ac_power_flow`` sweeps one
    column; ``te_course.scheduling.evaluate_day`` sweeps a whole day at once.
    """
    k = s_load.shape[1]
    v = np.full(s_load.shape, v0, dtype=complex)
    active = np.ones(k, dtype=bool)
    iterations = np.zeros(k, dtype=np.int64)
    failed: dict = {}
    history = []
    for it in range(1, int(max_iter) + 1):
        i_line = tree.downstream_sum(np.conj(s_load / v))
        v_new = v0 + tree.accumulate_drop(z[:, None] * i_line)
        mag = np.abs(v_new)
        finite = np.isfinite(v_new).all(axis=0)
        change = np.max(np.abs(v_new - v), axis=0)
        vmin = np.where(finite, mag.min(axis=0, initial=np.inf), np.nan)
        history.append((it, change, vmin))
        iterations[active] = it
        collapsed = active & (~finite | (vmin < 1e-3 * v0))
        for c in np.flatnonzero(collapsed):
            rank = int(np.argmin(np.where(np.isfinite(v_new[:, c]), mag[:, c], -np.inf)))
            failed[int(c)] = ("collapse", rank, float("nan"))
        diverged = active & ~collapsed & (np.max(mag, axis=0, initial=0.0) > 10.0 * v0)
        for c in np.flatnonzero(diverged):
            failed[int(c)] = ("diverge", int(np.argmax(mag[:, c])), float(np.max(mag[:, c])))
        accept = active & ~collapsed & ~diverged
        v[:, accept] = v_new[:, accept]
        active = accept & (change > tol)
        if not active.any():
            break
    for c in np.flatnonzero(active):
        failed[int(c)] = ("max_iter", -1, float("nan"))
    return Sweep(v=v, iterations=iterations, history=history, failed=failed)


def voltage_drop_sq(parent: np.ndarray, r_pu: np.ndarray, x_pu: np.ndarray, p_pu, q_pu) -> np.ndarray:
    """LinDistFlow drop of squared voltage at each bus of a tree whose parents precede their children.

    ``parent[k]`` is the parent of bus ``k >= 1`` (bus 0 is the substation); ``r_pu``,
    ``x_pu`` belong to the line feeding bus ``k`` (index ``k - 1``); ``p_pu``, ``q_pu`` are
    the loads.  Returns ``v0**2 - v**2`` per bus: ``2 * sum(r P + x Q)`` over the lines on the
    path from the substation, ``P``, ``Q`` the flows that the loads downstream draw.
    """
    n = parent.size
    child = np.arange(1, n)
    # incidence (bus x line): +1 at the line's child, -1 at its parent; reduced to buses 1..n-1
    c = sp.csr_matrix(
        (np.r_[np.ones(n - 1), -np.ones(n - 1)], (np.r_[child, parent[1:]], np.r_[child - 1, child - 1])),
        shape=(n, n - 1),
    )[1:]
    flows_p = spla.spsolve_triangular(c, p_pu[1:], lower=False)
    flows_q = spla.spsolve_triangular(c, q_pu[1:], lower=False)
    drop = 2 * (r_pu * flows_p + x_pu * flows_q)
    return np.r_[0.0, spla.spsolve_triangular(c.T.tocsr(), drop, lower=True)]


# --------------------------------------------------------------------------- DC


@dataclass(frozen=True)
class DCMatrices:
    """The DC power flow's matrices of the in-service network (Wood, Wollenberg and Sheble 2014, sec. 6.7)."""

    line_idx: np.ndarray  #: positions (into ``feeder.lines``) of the in-service lines
    a: sp.csr_matrix  #: line x bus incidence: +1 at ``from_bus``, -1 at ``to_bus``
    b: np.ndarray  #: susceptance ``1 / x`` of each in-service line, p.u.
    b_reduced: sp.csc_matrix  #: nodal susceptance matrix without the slack's row and column
    keep: np.ndarray  #: bus positions of the rows of ``b_reduced``
    slack: int  #: position of the substation (the slack bus)


def dc_matrices(feeder: Feeder, name: str = "feeder") -> DCMatrices:
    """Build the :class:`DCMatrices` of a checked feeder.

    Raises ``ValueError`` if the feeder is cut apart or its reactances span more than
    :data:`DC_X_RATIO_MAX`.
    """
    feeder.check_connected()
    n = feeder.n_buses
    f, t, live = in_service_ends(feeder)
    idx = np.flatnonzero(live)
    x_pu = feeder.lines["x_ohm"].to_numpy()[idx] / feeder.z_base_ohm
    if idx.size and x_pu.max() > DC_X_RATIO_MAX * x_pu.min():
        lo, hi = int(np.argmin(x_pu)), int(np.argmax(x_pu))
        labels = feeder.lines.index[idx]
        raise ValueError(
            f"`{name}.lines['x_ohm']` spans too wide a range for the DC power flow: line {label(labels[hi])!r} "
            f"has {x_pu[hi] * feeder.z_base_ohm:g} ohm and line {label(labels[lo])!r} "
            f"{x_pu[lo] * feeder.z_base_ohm:g} ohm, a ratio beyond {DC_X_RATIO_MAX:g}; floating point cannot "
            "solve such a network (the small susceptances vanish next to the large ones). Check the units (ohm)."
        )
    b = 1.0 / x_pu
    rows = np.arange(idx.size)
    ones = np.ones(idx.size)
    # (a @ theta) = theta_from - theta_to
    a = sp.csr_matrix((np.r_[ones, -ones], (np.r_[rows, rows], np.r_[f[idx], t[idx]])), shape=(idx.size, n))
    bbus = (a.T @ sp.diags(b) @ a).tocsc()
    slack = feeder.buses.index.get_loc(feeder.substation)
    keep = np.r_[0:slack, slack + 1 : n]
    return DCMatrices(idx, a, b, bbus[keep][:, keep].tocsc(), keep, slack)


# --------------------------------------------------------------------------- DER tables


def check_power_pu(arr: np.ndarray, name: str, s_base_kva: float, what: str) -> None:
    """Raise ``ValueError`` naming the first power of ``arr`` (kW) beyond ``OPF_PU_MAX`` times the power base."""
    limit = OPF_PU_MAX * s_base_kva
    bad = np.abs(arr) > limit
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}` entry {i} is {arr[i]:g} kW, beyond the range of the OPF's {what}: at most {limit:g} kW "
            f"({OPF_PU_MAX:g} times the feeder's power base s_base_kva={s_base_kva:g}) in magnitude. "
            "No feeder carries such a power; check the units (kW)."
        )


def check_ders(ders, feeder: Feeder, name: str = "ders", what: str = "DER limits",
               owner: str = "feeder") -> pd.DataFrame:
    """Return ``ders`` as a DataFrame with float ``p_min_kw``, ``p_max_kw``, ``price`` and a ``bus``.

    ``ders`` is anything ``pandas.DataFrame`` reads, with columns ``bus`` (a bus of
    ``feeder``), ``p_max_kw`` (>= 0), ``price`` (per kWh) and optionally ``p_min_kw``
    (default 0, at most ``p_max_kw``); None is an empty table.
    """
    if ders is None:
        return pd.DataFrame({"bus": [], "p_min_kw": [], "p_max_kw": [], "price": []})
    if not isinstance(ders, pd.DataFrame):
        try:
            ders = pd.DataFrame(ders)
        except (TypeError, ValueError):
            raise TypeError(
                f"`{name}` must be a DataFrame with columns 'bus', 'p_max_kw', 'price'; got {type(ders).__name__}."
            ) from None
    missing = [c for c in ("bus", "p_max_kw", "price") if c not in ders.columns]
    if missing:
        raise ValueError(
            f"`{name}` is missing the column(s) {missing}; it needs 'bus', 'p_max_kw', 'price' "
            f"(and optionally 'p_min_kw'); got {list(ders.columns)}."
        )
    out = pd.DataFrame(index=ders.index)
    out["bus"] = ders["bus"]
    unknown = ~out["bus"].isin(feeder.buses.index).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise ValueError(f"`{name}['bus']` entry {i} is {label(out['bus'].iloc[i])!r}, which is not a bus of "
                         f"the {owner}.")
    for col in ("p_max_kw", "price", "p_min_kw"):
        values = ders[col] if col in ders.columns else pd.Series(0.0, index=ders.index)
        if isinstance(values, pd.DataFrame):  # a repeated column name
            raise ValueError(f"`{name}` has the column {col!r} more than once.")
        # text, booleans, complex numbers and ints beyond the floats: an error naming the column and row
        out[col] = float_column(values, f"`{name}['{col}']`", "row")
    check_nonnegative(out["p_max_kw"].to_numpy(), f"{name}['p_max_kw']", "powers")
    check_finite(out["price"].to_numpy(), f"{name}['price']", "prices")
    check_magnitude(out["price"].to_numpy(), f"{name}['price']", "prices")
    check_finite(out["p_min_kw"].to_numpy(), f"{name}['p_min_kw']", "powers")
    for col in ("p_min_kw", "p_max_kw"):
        check_power_pu(out[col].to_numpy(), f"{name}['{col}']", feeder.s_base_kva, what)
    bad = (out["p_min_kw"] > out["p_max_kw"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`{name}['p_min_kw']` entry {i} is {out['p_min_kw'].iloc[i]}, above its p_max_kw "
            f"{out['p_max_kw'].iloc[i]}."
        )
    return out
