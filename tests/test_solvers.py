"""The one solver path (te_course/_solvers.py): choice, tolerances, silence, statuses, errors."""

from __future__ import annotations

import subprocess
import sys

import cvxpy as cp
import pytest

import te_course as tc
from te_course import _solvers


def _lp(lower: float, upper: float, sense=cp.Minimize):
    x = cp.Variable()
    return cp.Problem(sense(x), [x >= lower, x <= upper]), x


def test_an_lp_is_solved_by_highs_at_a_vertex_and_a_conic_problem_by_clarabel():
    problem, x = _lp(1.0, 3.0)
    assert _solvers.solve(problem, what="an LP", kind="lp") == pytest.approx(1.0)
    assert problem.solver_stats.solver_name == "HIGHS" and x.value == pytest.approx(1.0)
    y = cp.Variable()
    problem = cp.Problem(cp.Minimize(cp.square(y - 0.25)))
    assert _solvers.solve(problem, what="a QP") == pytest.approx(0.0, abs=1e-12)
    assert problem.solver_stats.solver_name == "CLARABEL" and y.value == pytest.approx(0.25, abs=1e-9)


def test_the_status_becomes_the_error_of_its_kind_naming_the_problem():
    with pytest.raises(tc.InfeasibleError, match=r"^The test LP is infeasible: its limits cannot all be met\. Hint\.$"):
        _solvers.solve(_lp(2.0, 1.0)[0], what="the test LP", kind="lp", hint="Hint.")
    x = cp.Variable()
    with pytest.raises(tc.UnboundedError, match="unbounded"):
        _solvers.solve(cp.Problem(cp.Minimize(x), [x <= 0]), what="the test LP")
    # both are solver errors, and ValueErrors, for the code that catches those
    with pytest.raises(tc.SolverError):
        _solvers.solve(_lp(2.0, 1.0)[0], what="the test LP")


def test_a_solver_that_fails_becomes_a_solver_error_not_a_cvxpy_trace(monkeypatch):
    problem, _ = _lp(1.0, 3.0)

    def broken(*args, **kwargs):
        raise cp.error.SolverError("numerical trouble")

    monkeypatch.setattr(problem, "solve", broken)
    with pytest.raises(tc.SolverError, match=r"The solver CLARABEL failed on the test LP \(numerical trouble\); try "
                                             r"another `solver`"):
        _solvers.solve(problem, what="the test LP", choosable=True)  # the function takes a `solver`
    with pytest.raises(tc.SolverError, match=r"\(numerical trouble\); the numbers may be badly scaled"):
        _solvers.solve(problem, what="the test LP")  # it does not: no advice to choose one


def test_a_user_chosen_solver_is_checked_and_used_with_its_defaults():
    assert _solvers.check_solver(None) is None and _solvers.check_solver("highs") == "HIGHS"
    with pytest.raises(TypeError, match="`solver` must be a cvxpy solver name"):
        _solvers.check_solver(3)
    with pytest.raises(ValueError, match="`solver` 'NOPE' is not an installed cvxpy solver"):
        _solvers.check_solver("NOPE")
    assert _solvers.options("conic", solver="HIGHS") == {"solver": "HIGHS"}
    assert _solvers.options("conic", tol=1e-6)["tol_feas"] == 1e-6
    assert _solvers.options("conic")["tol_gap_abs"] == _solvers.TOLERANCE
    with pytest.raises(ValueError, match="kind"):
        _solvers.options("milp")


def test_no_module_solves_around_the_one_path():
    """Every ``.solve(`` of a cvxpy problem in the package goes through _solvers.solve.

    A cvxpy problem is recognised by where it was made: a name or attribute assigned ``cp.Problem(...)``
    (the package's own ``DLMPProblem.solve``, ``FairnessProblem.solve``, ... are methods, not solver calls).
    """
    import ast
    from pathlib import Path

    pkg = Path(tc.__file__).parent
    offenders = []
    for path in pkg.rglob("*.py"):
        if path.name == "_solvers.py":
            continue
        tree = ast.parse(path.read_text())
        problems = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call) \
                    and ast.unparse(node.value.func) in ("cp.Problem", "cvxpy.Problem"):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                problems.update(ast.unparse(t).split(".")[-1] for t in targets)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "solve":
                receiver = ast.unparse(node.func.value)
                if receiver.split(".")[-1] in problems or receiver.startswith("cp.Problem("):
                    offenders.append(f"{path.relative_to(pkg)}:{node.lineno}: {ast.unparse(node)[:80]}")
        text = path.read_text()
        for word in ("solve_quietly", "tol_gap_abs", "tol_feas", '"HIGHS"', '"CLARABEL"', "cp.CLARABEL", "cp.HIGHS"):
            if word in text and path.name != "_solvers.py" and "_checks" not in path.parts:
                offenders.append(f"{path.relative_to(pkg)}: {word} (solver choice and tolerances live in _solvers)")
    assert not offenders, "solve through te_course._solvers.solve:\n" + "\n".join(offenders)


def test_the_solve_prints_no_native_banner():
    code = ("import cvxpy as cp\nfrom te_course import _solvers\nx = cp.Variable()\n"
            "_solvers.solve(cp.Problem(cp.Minimize(x), [x >= 1]), what='an LP', kind='lp')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == ""
