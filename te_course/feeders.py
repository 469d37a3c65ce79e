"""Networks for power flow: the ``Feeder`` dataclass, the IEEE 33-bus feeder, synthetic feeders.

Sign convention (used everywhere in ``te_course``)
--------------------------------------------------
At a bus, **load is positive and generation is negative**: ``p_kw`` and
``q_kvar`` are the active and reactive power *consumed* at the bus.  A PV
system producing 200 kW at bus 18 makes ``p_kw`` of bus 18 smaller by 200
(see :meth:`Feeder.with_injection`).  The same convention as pandapower's loads.

Per unit
--------
Every per-unit conversion of the package lives here.  A feeder has a voltage
base ``v_base_kv`` (line-to-line, kV) and a power base ``s_base_kva`` (three
phase, kVA); the impedance base is::

    z_base_ohm = v_base_kv**2 * 1000 / s_base_kva

so that ``r_pu = r_ohm / z_base_ohm`` and ``p_pu = p_kw / s_base_kva``
(Kersting, *Distribution System Modeling and Analysis*, 4th ed., 2017, ch. 2).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ._network import in_service_ends, voltage_drop_sq
from ._validation import as_finite_float as _as_number
from ._validation import as_generator, as_positive_float
from ._validation import float_column as _float_column
from ._validation import label as _label

__all__ = ["Feeder", "check_feeder", "ieee33", "radial_feeder", "pjm5bus"]

_LINE_COLUMNS = ["from_bus", "to_bus", "r_ohm", "x_ohm", "s_max_kva", "in_service"]

# Documented ranges (see the Feeder docstring): outside them per-unit values overflow or vanish.
_V_BASE_KV = (1e-3, 1e4)  # 1 V to 10 MV, line to line
_S_BASE_KVA = (1e-3, 1e9)  # 1 VA to 1 TVA, three phase
_PU_MAX = 1e100  # largest per-unit load, impedance or limit: squares and sums stay finite
_X_PU_MIN = 1e-100  # smallest per-unit reactance: 1/x (the DC susceptance) stays finite
#: The most buses :func:`radial_feeder` builds: a million buses take a few seconds and a few hundred MB;
#: beyond, the arrays grow to gigabytes (issue 14: ``radial_feeder(10**12)`` asked for terabytes).
MAX_BUSES = 1_000_000


def _check_bases(v_base_kv, s_base_kva) -> tuple[float, float]:
    """Return the bases as floats, or raise naming the one outside its documented range."""
    v = as_positive_float(v_base_kv, "v_base_kv")
    s = as_positive_float(s_base_kva, "s_base_kva")
    lo, hi = _V_BASE_KV
    if not lo <= v <= hi:
        raise ValueError(
            f"`v_base_kv` must lie between {lo:g} and {hi:g} kV (a line-to-line voltage such as 0.4 or 12.66); "
            f"got {v_base_kv!r}. Outside this range per-unit values overflow or vanish: check the units (kV)."
        )
    lo, hi = _S_BASE_KVA
    if not lo <= s <= hi:
        raise ValueError(
            f"`s_base_kva` must lie between {lo:g} and {hi:g} kVA (a three-phase power such as 1000); "
            f"got {s_base_kva!r}. Outside this range per-unit values overflow or vanish: check the units (kVA)."
        )
    return v, s


def _bool_column(col: pd.Series, name: str) -> np.ndarray:
    """Return ``in_service`` as a bool array; True/False (or 1/0) only, never the truth value of a string."""
    if pd.api.types.is_bool_dtype(col.dtype) and not isinstance(col.dtype, pd.api.extensions.ExtensionDtype):
        return col.to_numpy(dtype=bool)
    out = np.empty(len(col), dtype=bool)
    for i, v in enumerate(col.to_numpy(dtype=object)):
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
            continue
        line = _label(col.index[i])
        if isinstance(v, (str, bytes)):
            raise TypeError(
                f"{name} must contain True or False; line {line!r} has the string {v!r}. Use the booleans "
                "True/False (text read from a file can be converted with `== 'True'`)."
            )
        if isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
            out[i] = bool(v)
            continue
        raise ValueError(f"{name} must contain True or False; line {line!r} has {_label(v)!r}.")
    return out


def _check_unique(table: pd.DataFrame, tname: str, row: str, rows: str) -> None:
    """Raise if ``table`` repeats a column name or a row label (``row``: how one label is called)."""
    if table.columns.has_duplicates:
        raise ValueError(f"{tname} has the column {_label(table.columns[table.columns.duplicated()][0])!r} twice.")
    if table.index.has_duplicates:
        dup = _label(table.index[table.index.duplicated()][0])
        raise ValueError(f"{tname} has the {row} {dup!r} more than once; {rows} must be unique.")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _tables(buses, lines, substation, v_base_kv: float, s_base_kva: float,
            owner: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate and normalise a feeder's tables; return new ``(buses, lines)`` DataFrames.

    ``owner`` is how messages name the tables: ``""`` for the constructor's
    arguments (`buses`, `lines`), ``"feeder"`` for the tables of an existing
    feeder (`feeder.buses`, ...).
    """
    pre = f"{owner}." if owner else ""
    if not isinstance(buses, pd.DataFrame):
        raise TypeError(f"`{pre}buses` must be a DataFrame indexed by bus label; got {type(buses).__name__}.")
    if not isinstance(lines, pd.DataFrame):
        raise TypeError(f"`{pre}lines` must be a DataFrame with one row per line; got {type(lines).__name__}.")
    b = _bus_table(buses, pre, s_base_kva)
    ln = _line_table(lines, pre, b.index)
    _check_line_values(ln, f"`{pre}lines`", v_base_kv, s_base_kva)
    try:
        at_bus = substation in b.index
    except TypeError:  # an unhashable label
        at_bus = False
    if not at_bus:
        raise ValueError(f"`{pre}substation` {_label(substation)!r} is not a bus of the feeder.")
    return b, ln


def _bus_table(buses: pd.DataFrame, pre: str, s_base_kva: float) -> pd.DataFrame:
    """Return the bus table with float ``p_kw``, ``q_kvar`` (0 if missing), finite and in range; extra columns kept."""
    bname = f"`{pre}buses`"
    if "p_kw" not in buses.columns:
        raise ValueError(f"{bname} must have a 'p_kw' column (and optionally 'q_kvar'); got {list(buses.columns)}.")
    if len(buses) == 0:
        raise ValueError(f"{bname} is empty; a feeder needs at least one bus.")
    _check_unique(buses, bname, "bus label", "bus labels")
    b = pd.DataFrame(index=buses.index.copy())
    b.index.name = "bus"
    for col in ("p_kw", "q_kvar"):
        name = f"`{pre}buses['{col}']`"
        values = buses[col] if col in buses.columns else pd.Series(0.0, index=buses.index)
        arr = _float_column(values, name, "bus")
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first(bad)
            raise ValueError(f"{name} must be finite; bus {_label(b.index[i])!r} has {arr[i]}.")
        bad = np.abs(arr) / s_base_kva > _PU_MAX
        if bad.any():
            i = _first(bad)
            raise ValueError(
                f"{name} is out of range: bus {_label(b.index[i])!r} has {arr[i]:g}, which is "
                f"{arr[i] / s_base_kva:.3g} p.u. on s_base_kva={s_base_kva:g} (at most {_PU_MAX:g} in magnitude). "
                "Check the units (kW, kvar) or the power base."
            )
        b[col] = arr
    for col in buses.columns.difference(["p_kw", "q_kvar"]):
        b[col] = buses[col]
    return b


def _line_table(lines: pd.DataFrame, pre: str, known: pd.Index) -> pd.DataFrame:
    """Return the line table with its columns in order, numbers as floats, and both ends buses of ``known``."""
    lname = f"`{pre}lines`"
    missing = [c for c in ("from_bus", "to_bus", "r_ohm", "x_ohm") if c not in lines.columns]
    if missing:
        raise ValueError(f"{lname} is missing the column(s) {missing}; got {list(lines.columns)}.")
    _check_unique(lines, lname, "line index", "line labels")
    ln = lines.copy()
    if "s_max_kva" not in ln.columns:
        ln["s_max_kva"] = np.nan
    ln["in_service"] = (
        _bool_column(ln["in_service"], f"`{pre}lines['in_service']`") if "in_service" in ln.columns else True
    )
    for col in ("r_ohm", "x_ohm", "s_max_kva"):
        ln[col] = _float_column(ln[col], f"`{pre}lines['{col}']`", "line")
    ln = ln[_LINE_COLUMNS + [c for c in ln.columns if c not in _LINE_COLUMNS]]
    for end in ("from_bus", "to_bus"):
        unknown = ~ln[end].isin(known).to_numpy()
        if unknown.any():
            i = _first(unknown)
            raise _line_error(ln, lname, i, f"has {end}={_label(ln[end].iloc[i])!r}, which is not a bus of the feeder.")
    self_loop = (ln["from_bus"] == ln["to_bus"]).to_numpy()
    if self_loop.any():
        i = _first(self_loop)
        raise _line_error(ln, lname, i, f"connects bus {_label(ln['from_bus'].iloc[i])!r} to itself.")
    return ln


def _line_error(ln: pd.DataFrame, lname: str, i: int, text: str) -> ValueError:
    return ValueError(f"line {_label(ln.index[i])!r} of {lname} {text}")


def _check_line_values(ln: pd.DataFrame, lname: str, v_base_kv: float, s_base_kva: float) -> None:
    """Raise naming the first line whose impedance or limit is out of its physical or per-unit range."""
    z_base = v_base_kv**2 * 1000.0 / s_base_kva
    r, x, s = (ln[c].to_numpy() for c in ("r_ohm", "x_ohm", "s_max_kva"))
    for col, values, ok, rule in (("r_ohm", r, np.isfinite(r) & (r >= 0), "a resistance must be finite and >= 0"),
                                  ("x_ohm", x, np.isfinite(x) & (x > 0), "a reactance must be finite and > 0"),
                                  ("s_max_kva", s, np.isnan(s) | (s > 0), "a limit must be > 0 (NaN for none)")):
        if not ok.all():
            i = _first(~ok)
            raise _line_error(ln, lname, i, f"has {col}={values[i]}; {rule}.")
    bases = f"on the bases v_base_kv={v_base_kv:g}, s_base_kva={s_base_kva:g}"
    for col, values, base in (("r_ohm", r, z_base), ("x_ohm", x, z_base), ("s_max_kva", s, s_base_kva)):
        bad = values / base > _PU_MAX
        if bad.any():
            i = _first(bad)
            hint = " Use NaN for no limit." if col == "s_max_kva" else " Check the units (ohm) or the bases."
            raise _line_error(
                ln, lname, i, f"has {col}={values[i]:g}, which is {values[i] / base:.3g} p.u. {bases}; per-unit "
                f"values must be at most {_PU_MAX:g}.{hint}"
            )
    bad = x / z_base < _X_PU_MIN
    if bad.any():
        i = _first(bad)
        raise _line_error(
            ln, lname, i, f"has x_ohm={x[i]:g}, which is {x[i] / z_base:.3g} p.u. {bases}; a per-unit reactance "
            f"must be at least {_X_PU_MIN:g} (its inverse, the susceptance, would overflow). Check the units (ohm) "
            "or the bases."
        )


def _set_checked(feeder, buses: pd.DataFrame, lines: pd.DataFrame, v_base_kv: float, s_base_kva: float) -> None:
    """Store validated tables and bases in ``feeder``, with the private copy that ``_checked`` compares with."""
    object.__setattr__(feeder, "buses", buses)
    object.__setattr__(feeder, "lines", lines)
    object.__setattr__(feeder, "v_base_kv", v_base_kv)
    object.__setattr__(feeder, "s_base_kva", s_base_kva)
    object.__setattr__(feeder, "_snapshot", (buses.copy(), lines.copy()))


@dataclass(frozen=True, eq=False)
class Feeder:
    """A power network: buses with loads, lines with impedances, and per-unit bases.

    Parameters
    ----------
    buses : pandas.DataFrame
        Indexed by bus label, columns ``p_kw`` and ``q_kvar``: the power consumed
        at each bus (load positive, generation negative).
    lines : pandas.DataFrame
        One row per line, columns ``from_bus``, ``to_bus`` (bus labels), ``r_ohm``
        (>= 0), ``x_ohm`` (> 0), and optionally ``s_max_kva`` (thermal limit,
        NaN for none) and ``in_service`` (bool, default True).
    v_base_kv : float
        Line-to-line voltage base, kV, between 0.001 and 10,000.
    s_base_kva : float
        Three-phase power base, kVA, between 0.001 and 1e9.
    substation : hashable
        The label of the bus fed by the grid (the slack bus).
    name : str
        A name for display.

    Raises
    ------
    ValueError
        If a line names an unknown bus, an impedance is out of range, a load is
        NaN, a bus label is repeated, the substation is not a bus, or a base
        is outside its range.
    TypeError
        If a table is not a DataFrame, a numeric column holds text, or
        ``in_service`` holds anything but True/False (``"False"`` is refused,
        not read as true).

    Notes
    -----
    The tables are copied and normalised at construction (missing ``q_kvar``,
    ``s_max_kva`` and ``in_service`` columns are filled in).  The dataclass is
    frozen, but its DataFrames are not: use :meth:`copy` before editing them
    in place, e.g. ``f = ieee33(tie_lines=True); f.lines.loc[33, "in_service"] = True``.
    An edited feeder is checked again, like a new one, by every function and
    method that uses it: a bad edit raises an error naming the table and
    column (``feeder.lines`` ... ``x_ohm``), never a wrong result.
    Two feeders compare equal only if they are the same object.

    The bases are limited to 0.001-10,000 kV and 0.001-1e9 kVA (1 V to 10 MV,
    1 VA to 1 TVA), and in per unit the loads, impedances and limits to at
    most 1e100 and the reactances to at least 1e-100: beyond these per-unit
    values, their squares or their inverses overflow or vanish.  A base
    outside its range is a unit mistake (V for kV, MVA for kVA).

    Examples
    --------
    >>> buses = pd.DataFrame({"p_kw": [0.0, 100.0]}, index=["grid", "house"])
    >>> lines = pd.DataFrame({"from_bus": ["grid"], "to_bus": ["house"], "r_ohm": [0.2], "x_ohm": [0.1]})
    >>> f = Feeder(buses, lines, v_base_kv=0.4, s_base_kva=100.0, substation="grid")
    >>> float(f.buses.loc["house", "q_kvar"]), round(f.z_base_ohm, 4)
    (0.0, 1.6)
    """

    buses: pd.DataFrame = field(repr=False)
    lines: pd.DataFrame = field(repr=False)
    v_base_kv: float = 12.66
    s_base_kva: float = 1000.0
    substation: object = 1
    name: str = "feeder"

    def __post_init__(self):
        v, sb = _check_bases(self.v_base_kv, self.s_base_kva)
        b, ln = _tables(self.buses, self.lines, self.substation, v, sb)
        _set_checked(self, b, ln, v, sb)

    def _checked(self, name: str = "feeder") -> Feeder:
        """Return this feeder if its tables are unchanged or validly edited, else raise naming the table.

        The tables can be edited in place (the dataclass is frozen, its DataFrames
        are not), so every user of a feeder calls this first.  Unchanged tables
        (compared with a private copy taken when they were last checked) cost a
        comparison; edited ones are validated again like a new feeder's.  When an
        edit is valid but leaves a column of another type (``in_service`` of
        objects), a normalised copy is returned instead of ``self``.
        """
        snap = self.__dict__.get("_snapshot")
        if snap is not None and self.buses.equals(snap[0]) and self.lines.equals(snap[1]):
            return self
        try:
            b, ln = _tables(self.buses, self.lines, self.substation, self.v_base_kv, self.s_base_kva, owner=name)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{exc} The tables of `{name}` were edited after it was built: correct them, or build a new Feeder."
            ) from None
        if self.buses.equals(b) and self.lines.equals(ln):
            object.__setattr__(self, "_snapshot", (b, ln))
            return self
        new = object.__new__(Feeder)
        for attr in ("substation", "name"):
            object.__setattr__(new, attr, getattr(self, attr))
        _set_checked(new, b, ln, self.v_base_kv, self.s_base_kva)
        return new

    # ------------------------------------------------------------------ per unit

    @property
    def z_base_ohm(self) -> float:
        """Impedance base ``v_base_kv**2 * 1000 / s_base_kva``, ohm."""
        return self.v_base_kv**2 * 1000.0 / self.s_base_kva

    @property
    def n_buses(self) -> int:
        """Number of buses."""
        return len(self.buses)

    # ------------------------------------------------------------------ views and copies

    @property
    def graph(self) -> nx.Graph:
        """A networkx ``Graph`` of the in-service lines.

        Nodes are bus labels (attributes ``p_kw``, ``q_kvar``); each edge carries
        the line's columns and its index as ``line``.
        """
        f = self._checked()
        g = nx.Graph(name=f.name)
        g.add_nodes_from((bus, {"p_kw": p, "q_kvar": q}) for bus, p, q in f.buses[["p_kw", "q_kvar"]].itertuples())
        live = f.lines[f.lines["in_service"]]
        for idx, row in zip(live.index, live.to_dict("records")):
            g.add_edge(row["from_bus"], row["to_bus"], line=idx, **row)
        return g

    def copy(self) -> Feeder:
        """Return an independent copy (the tables are copied)."""
        f = self._checked()
        return Feeder(f.buses.copy(), f.lines.copy(), f.v_base_kv, f.s_base_kva, f.substation, f.name)

    def replace(self, *, buses=None, lines=None, name=None) -> Feeder:
        """Return a new feeder with some of its tables or its name replaced, the rest copied.

        The new tables are checked like those of a new :class:`Feeder`; the bases and the
        substation are kept.

        Examples
        --------
        >>> f = ieee33()
        >>> g = f.replace(buses=f.buses.assign(p_kw=0.0), name="no load")
        >>> g.name, float(g.buses["p_kw"].sum()), float(f.buses["p_kw"].sum())
        ('no load', 0.0, 3715.0)
        """
        if buses is None or lines is None:
            f = self._checked()
            buses = f.buses.copy() if buses is None else buses
            lines = f.lines.copy() if lines is None else lines
        return Feeder(
            buses,
            lines,
            self.v_base_kv,
            self.s_base_kva,
            self.substation,
            self.name if name is None else name,
        )

    def with_injection(self, bus, p_kw: float, q_kvar: float = 0.0) -> Feeder:
        """Return a new feeder with generation ``p_kw``, ``q_kvar`` added at ``bus``.

        The injection is subtracted from the bus's load (load positive,
        generation negative), so ``with_injection(18, 200)`` models 200 kW of
        PV at bus 18.  A negative ``p_kw`` adds load.

        Examples
        --------
        >>> f = ieee33().with_injection(18, 200.0)
        >>> float(f.buses.loc[18, "p_kw"])
        -110.0
        """
        p = _as_number(p_kw, "p_kw")
        q = _as_number(q_kvar, "q_kvar")
        f = self._checked()
        try:
            known = bus in f.buses.index
        except TypeError:  # an unhashable label
            known = False
        if not known:
            raise ValueError(f"`bus` {bus!r} is not a bus of the feeder {self.name!r}.")
        buses = f.buses.copy()
        buses.loc[bus, "p_kw"] -= p
        buses.loc[bus, "q_kvar"] -= q
        try:
            return f.replace(buses=buses)
        except ValueError as exc:
            raise ValueError(
                f"`p_kw`={p_kw!r}, `q_kvar`={q_kvar!r} at bus {bus!r} give a load out of range: {exc}"
            ) from None

    def scale_loads(self, factor: float) -> Feeder:
        """Return a new feeder with every bus's ``p_kw`` and ``q_kvar`` multiplied by ``factor`` (>= 0).

        Examples
        --------
        >>> float(ieee33().scale_loads(2.0).buses["p_kw"].sum())
        7430.0
        """
        k = _as_number(factor, "factor")
        if k < 0:
            raise ValueError(f"`factor` must be >= 0; got {factor!r}.")
        f = self._checked()
        buses = f.buses.copy()
        buses[["p_kw", "q_kvar"]] *= k
        try:
            return f.replace(buses=buses)
        except ValueError as exc:
            raise ValueError(f"`factor`={factor!r} gives loads out of range: {exc}") from None

    # ------------------------------------------------------------------ topology

    def _connectivity_problem(self) -> str | None:
        """Return a sentence naming the buses cut off from the substation, or None."""
        fd = self._checked()
        n = fd.n_buses
        f, t, live = in_service_ends(fd)
        adj = sp.coo_matrix((np.ones(live.sum()), (f[live], t[live])), shape=(n, n))
        _, labels = connected_components(adj, directed=False)
        sub = self.buses.index.get_loc(self.substation)
        cut = np.flatnonzero(labels != labels[sub])
        if cut.size == 0:
            return None
        shown = [_label(self.buses.index[i]) for i in cut[:20]]
        more = f" and {cut.size - 20} more" if cut.size > 20 else ""
        return (
            f"{self.name!r} is not connected: bus(es) {shown}{more} cannot be reached from the "
            f"substation {_label(self.substation)!r} through in-service lines."
        )

    def _radial_problem(self) -> str | None:
        """Return a sentence describing why the in-service network is not a tree, or None."""
        f = self._checked()
        problem = f._connectivity_problem()
        if problem is not None:
            return problem
        if int(f.lines["in_service"].sum()) == f.n_buses - 1:
            return None
        g = nx.MultiGraph()
        lv = f.lines[f.lines["in_service"]]
        g.add_edges_from(zip(map(_label, lv["from_bus"]), map(_label, lv["to_bus"]), map(_label, lv.index)))
        cycle = nx.find_cycle(g)
        loop_lines = [k for _, _, k in cycle]
        loop_buses = [u for u, _, _ in cycle]
        return (
            f"{self.name!r} is not radial: the in-service lines {loop_lines} form a loop through "
            f"buses {loop_buses}; open one of them (set in_service=False)."
        )

    def is_radial(self) -> bool:
        """Whether the in-service lines form a tree that reaches every bus.

        Examples
        --------
        >>> ieee33().is_radial()
        True
        """
        return self._radial_problem() is None

    def check_connected(self) -> None:
        """Raise ``ValueError`` naming the buses that no in-service line connects to the substation, if any.

        Examples
        --------
        >>> f = ieee33()
        >>> f.lines.loc[1, "in_service"] = False  # open the line 1-2: every bus but the substation is cut off
        >>> f.check_connected()
        Traceback (most recent call last):
        ...
        ValueError: 'IEEE 33' is not connected: bus(es) [2, 3, ...] and 12 more cannot be reached ...
        """
        problem = self._connectivity_problem()
        if problem is not None:
            raise ValueError(problem)

    def check_radial(self) -> None:
        """Raise ``ValueError`` naming a loop (its lines) or the disconnected buses, if any.

        Examples
        --------
        >>> f = ieee33(tie_lines=True)
        >>> f.lines.loc[33, "in_service"] = True  # close the tie line 8-21
        >>> f.check_radial()
        Traceback (most recent call last):
        ...
        ValueError: 'IEEE 33' is not radial: the in-service lines [...] form a loop ...
        """
        problem = self._radial_problem()
        if problem is not None:
            raise ValueError(problem)


def check_feeder(feeder, name: str = "feeder") -> Feeder:
    """Return ``feeder`` checked again (its tables may have been edited in place), or raise naming ``name``.

    Every function that takes a feeder calls this first and uses what it returns: ``feeder``
    itself, unless a valid edit left a column of another type, in which case a normalised copy.

    Examples
    --------
    >>> check_feeder("ieee33")
    Traceback (most recent call last):
    ...
    TypeError: `feeder` must be a te_course Feeder (see te_course.feeders); got str.
    """
    if not isinstance(feeder, Feeder):
        raise TypeError(f"`{name}` must be a te_course Feeder (see te_course.feeders); got {type(feeder).__name__}.")
    return feeder._checked(name)


# ---------------------------------------------------------------------- shipped networks


def _read_csv(filename: str) -> pd.DataFrame:
    text = resources.files("te_course").joinpath("data", filename).read_text(encoding="utf-8")
    return pd.read_csv(io.StringIO(text), comment="#")


def ieee33(*, tie_lines: bool = False) -> Feeder:
    """Return the IEEE 33-bus radial distribution feeder of Baran and Wu (1989).

    Buses are labelled 1..33 as in the paper, bus 1 is the substation, the
    voltage base is 12.66 kV and the power base 10 MVA (as in pandapower's
    ``case33bw``; per-unit results do not depend on it).  The total load is
    3715 kW and 2300 kvar.  Lines are numbered 1..32 as the paper's branches.

    Parameters
    ----------
    tie_lines : bool, optional
        Also include the five normally-open tie lines 8-21, 9-15, 12-22
        (2 + j2 ohm) and 18-33, 25-29 (0.5 + j0.5 ohm), numbered 33..37,
        with ``in_service=False``.

    Returns
    -------
    Feeder

    References
    ----------
    M. E. Baran and F. F. Wu, "Network reconfiguration in distribution systems
    for loss reduction and load balancing", IEEE Trans. Power Delivery 4(2),
    1401-1407, 1989.  Data in ``te_course/data/ieee33_*.csv``, cross-checked
    against pandapower's ``case33bw``.

    Examples
    --------
    >>> f = ieee33()
    >>> len(f.buses), len(f.lines), float(f.buses["p_kw"].sum()), float(f.buses["q_kvar"].sum())
    (33, 32, 3715.0, 2300.0)
    >>> int(ieee33(tie_lines=True).lines["in_service"].sum())
    32
    """
    buses = _read_csv("ieee33_buses.csv").set_index("bus")
    lines = _read_csv("ieee33_lines.csv").set_index("line")
    tie = lines.pop("tie").astype(bool)
    lines["s_max_kva"] = np.nan
    lines["in_service"] = ~tie
    if not tie_lines:
        lines = lines[~tie]
    return Feeder(buses, lines, v_base_kv=12.66, s_base_kva=10_000.0, substation=1, name="IEEE 33")


def pjm5bus() -> Feeder:
    """Return the PJM 5-bus transmission system (meshed) for DC power flow.

    Buses ``"A"`` .. ``"E"``, 230 kV, power base 100 MVA.  Loads of 300, 300 and
    400 MW at B, C and D; the generators' dispatch of the published case
    (Alta 40 MW and Park City 170 MW at A, Solitude 323.49 MW at C, Brighton
    466.51 MW at E) is entered as negative ``p_kw``; Sundance at D is the slack
    (``substation="D"``).  Line reactances 0.0281, 0.0304, 0.0064, 0.0108,
    0.0297, 0.0297 p.u. (A-B, A-D, A-E, B-C, C-D, D-E), resistances one tenth
    of them; limits 400 MW on A-B and 240 MW on D-E.  The same data as
    pandapower's ``case5``.

    References
    ----------
    F. Li and R. Bo, "Small test systems for power system economic studies",
    IEEE PES General Meeting, 2010.

    Examples
    --------
    >>> net = pjm5bus()
    >>> float(net.buses["p_kw"].sum())  # generation balances load
    0.0
    >>> net.is_radial()
    False
    """
    s_base_kva, v_base_kv = 100_000.0, 230.0
    z_base = v_base_kv**2 * 1000.0 / s_base_kva
    buses = pd.DataFrame(
        {
            "p_kw": [-210_000.0, 300_000.0, 300_000.0 - 323_490.0, 400_000.0, -466_510.0],
            "q_kvar": [0.0, 98_610.0, 98_610.0, 131_470.0, 0.0],
        },
        index=pd.Index(list("ABCDE"), name="bus"),
    )
    x_pu = np.array([0.0281, 0.0304, 0.0064, 0.0108, 0.0297, 0.0297])
    lines = pd.DataFrame(
        {
            "from_bus": list("AAABCD"),
            "to_bus": list("BDECDE"),
            "r_ohm": 0.1 * x_pu * z_base,
            "x_ohm": x_pu * z_base,
            "s_max_kva": [400_000.0, np.nan, np.nan, np.nan, np.nan, 240_000.0],
        },
        index=pd.RangeIndex(1, 7, name="line"),
    )
    return Feeder(buses, lines, v_base_kv=v_base_kv, s_base_kva=s_base_kva, substation="D", name="PJM 5-bus")


# ---------------------------------------------------------------------- synthetic feeders


def radial_feeder(n_buses: int, *, seed=0, v_base_kv: float = 12.66, s_base_kva: float = 1000.0) -> Feeder:
    """Return a synthetic radial feeder with ``n_buses`` buses, labelled 1..n, substation 1.

    The tree grows one bus at a time: bus ``k`` continues the current lateral
    (attaches to bus ``k - 1``) with probability 0.85 and otherwise branches
    off a uniformly chosen earlier bus, which gives long laterals and a depth
    of roughly ``6.7 ln n``.  Line ``k - 1`` feeds bus ``k``.  Lines have
    ``r_ohm`` uniform in 0.05-0.4 ohm and ``x/r`` uniform in 0.5-1.5; each bus
    but the substation has a load uniform in 10-100 kW at a power factor
    uniform in 0.9-0.98 (lagging).

    Loads are then scaled down uniformly, if needed, so that the LinDistFlow
    voltage (Baran and Wu 1989) at every bus is at least 0.95 p.u.; the exact
    AC voltage then stays above about 0.94 p.u.  For 12.66 kV and up to a few
    dozen buses no scaling happens; for thousands of buses the loads get
    smaller (the total load a single feeder can carry is bounded).

    Parameters
    ----------
    n_buses : int
        Number of buses, between 2 and ``MAX_BUSES`` (1,000,000: a million buses take a few
        seconds; more would need gigabytes of memory).
    seed : None, int or numpy.random.Generator, optional
        Seed of the random choices (a non-negative integer); the same seed gives the same feeder.
    v_base_kv, s_base_kva : float, optional
        Voltage and power bases, in the ranges of :class:`Feeder` (0.001-10,000 kV, 0.001-1e9 kVA).

    Returns
    -------
    Feeder

    Examples
    --------
    >>> f = radial_feeder(50, seed=1)
    >>> len(f.buses), len(f.lines), f.is_radial()
    (50, 49, True)
    """
    if isinstance(n_buses, bool) or not isinstance(n_buses, (int, np.integer)):
        raise TypeError(f"`n_buses` must be an integer; got {n_buses!r}.")
    if n_buses < 2:
        raise ValueError(f"`n_buses` must be at least 2; got {n_buses}.")
    if n_buses > MAX_BUSES:
        size = f"about 1e{len(str(abs(int(n_buses)))) - 1}" if n_buses > 10**15 else f"{int(n_buses):,}"
        raise ValueError(
            f"`n_buses` must be at most {MAX_BUSES:,} (a larger feeder would need gigabytes of memory); got {size}."
        )
    n = int(n_buses)
    v_base_kv, s_base_kva = _check_bases(v_base_kv, s_base_kva)
    rng = as_generator(seed, "seed")
    k = np.arange(1, n)
    branch = rng.random(n - 1) >= 0.85
    parent = np.where(branch, np.floor(k * rng.random(n - 1)).astype(np.int64), k - 1)
    r_ohm = rng.uniform(0.05, 0.4, n - 1)
    x_ohm = r_ohm * rng.uniform(0.5, 1.5, n - 1)
    p_kw = np.r_[0.0, rng.uniform(10.0, 100.0, n - 1)]
    pf = np.r_[1.0, rng.uniform(0.9, 0.98, n - 1)]
    q_kvar = p_kw * np.sqrt(1.0 / pf**2 - 1.0)

    z_base = v_base_kv**2 * 1000.0 / s_base_kva
    drop = voltage_drop_sq(
        np.r_[0, parent], r_ohm / z_base, x_ohm / z_base, p_kw / s_base_kva, q_kvar / s_base_kva
    )
    worst = drop.max()
    limit = 1.0 - 0.95**2
    if worst > limit:
        p_kw *= limit / worst
        q_kvar *= limit / worst

    labels = np.arange(1, n + 1)
    buses = pd.DataFrame({"p_kw": p_kw, "q_kvar": q_kvar}, index=pd.Index(labels, name="bus"))
    lines = pd.DataFrame(
        {
            "from_bus": parent + 1,
            "to_bus": k + 1,
            "r_ohm": r_ohm,
            "x_ohm": x_ohm,
            "s_max_kva": np.nan,
            "in_service": True,
        },
        index=pd.Index(k, name="line"),
    )
    return Feeder(buses, lines, v_base_kv=v_base_kv, s_base_kva=s_base_kva, substation=1, name=f"radial {n}")
