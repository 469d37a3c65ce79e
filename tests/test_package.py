"""The package's surface: re-exports, light import, the layering of DESIGN.md."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import te_course as tc

PKG = Path(tc.__file__).parent
# The layers of the package (DESIGN.md; README, "The package").  A module may import only from its own
# layer or the layers below; the test below reads every import of every module.
# no te_course imports
FOUNDATION = {"errors", "_validation", "_deprecation", "_moved", "_progress", "_paths", "_solvers"}
NETWORK = {"_network"}  # the feeder as arrays and matrices: foundation only
PRESENTATION = {"plots", "widgets"}
GRADING = {"grading", "_sandbox", "_sandbox_exec", "_student_release", "_checks", "_grading_pool", "_cluster",
           "_exchange"}


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name relative to te_course (``security.contingencies``)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if parts:
            out[".".join(parts)] = path
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


COMPUTATION = sorted(name for name in _modules() if _top(name) not in FOUNDATION | NETWORK | PRESENTATION | GRADING)


def _import_nodes(tree: ast.Module, top_level: bool):
    """The import statements of a module, without those under ``if TYPE_CHECKING:`` (annotations only).

    ``top_level``: only those that run when the module is imported (not inside functions).
    """
    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node
            if top_level and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            yield from visit(ast.iter_child_nodes(node))

    yield from visit(tree.body)


def _package_imports(name: str, path: Path, *, top_level: bool = False) -> set[str]:
    """The te_course modules (top level names, e.g. ``opf``) that module ``name`` imports."""
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found = set()
    for node in _import_nodes(ast.parse(path.read_text()), top_level):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
                if target:
                    found.add(target[0])
                else:  # from . import x, y
                    found.update(alias.name for alias in node.names)
            elif (node.module or "").startswith("te_course"):
                parts = node.module.split(".")[1:]
                found.update([parts[0]] if parts else [alias.name for alias in node.names])
        else:
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("te_course."))
    return found - {_top(name)}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_each_module_imports_only_from_its_layer_or_below(name):
    imports = _package_imports(name, _modules()[name])
    top = _top(name)
    if top in FOUNDATION:
        assert imports <= FOUNDATION, f"{name} is foundation and imports {imports - FOUNDATION}"
    elif top in NETWORK:
        assert imports <= FOUNDATION, f"{name} (the network layer) imports {imports - FOUNDATION}"
    elif top in PRESENTATION:
        assert not imports & GRADING, f"{name} imports the grading tools {imports & GRADING}"
        if top == "plots":
            assert "widgets" not in imports, "plots must not import widgets (widgets build on plots)"
    elif top not in GRADING:  # computation
        assert not imports & (PRESENTATION | GRADING), f"{name} imports {imports & (PRESENTATION | GRADING)}"


def test_package_import_graph_has_no_cycle():
    import networkx as nx

    graph = nx.DiGraph()
    for name, path in _modules().items():
        imports = _package_imports(name, path, top_level=True)
        graph.add_edges_from((_top(name), other) for other in imports if other != "__init__")
    cycles = [c for c in nx.simple_cycles(graph) if len(c) > 1]
    assert not cycles, f"import cycles between modules: {cycles}"


def test_no_module_uses_another_modules_private_names():
    """``from .x import _y`` and ``obj._method`` of another module's class are the hidden layer issue 17 removed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("package_shape", PKG.parent / "benchmarks" / "package_shape.py")
    shape = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shape)
    assert shape.private_crossings() == []


def test_public_names_are_exported():
    for name in tc.__all__:
        assert hasattr(tc, name), name
    assert tc.plots.plot_double_auction and tc.widgets.auction_explorer and tc.grading.release
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tc.nope  # noqa: B018


def test_import_does_not_load_plotting_widgets_or_nbgrader():
    heavy = "('matplotlib', 'ipywidgets', 'nbgrader')"
    code = f"import sys, te_course; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("module", COMPUTATION)
def test_computation_modules_do_not_import_plotting_or_widgets(module):
    tree = ast.parse(_modules()[module].read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not imported & {"matplotlib", "ipywidgets", "IPython"}, imported


@pytest.mark.parametrize("module", sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py")))
def test_library_code_never_prints_or_shows(module):
    source = (PKG / module).read_text()
    tree = ast.parse(source)
    calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = {f.id for f in calls if isinstance(f, ast.Name)} | {f.attr for f in calls if isinstance(f, ast.Attribute)}
    assert "show" not in names, f"{module} calls show(): return the Axes instead"
    if module != "grading.py":  # grading's command-line entry point reports the files it wrote
        assert "print" not in names, f"{module} prints: return values instead"


def test_solvers_print_no_banner_into_notebooks():
    """HiGHS prints a banner from C; the package silences it (a kernel would forward it to the notebook)."""
    code = (
        "import te_course as tc\n"
        "tc.schedule(tc.Prosumer([1.0, 1.0], [tc.Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3])\n"
        "tc.schedule(tc.Prosumer([1.0, 1.0], [tc.Battery(1, 1, 0.9, 0.9)]), [0.1, 0.3], exclusive=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "", out.stdout


def test_course_root_is_found_without_an_editable_install(tmp_path, monkeypatch):
    """After ``pip install .`` the package lives in site-packages: the course is the folder the instructor works in."""
    from te_course import _paths

    monkeypatch.delenv("TE_COURSE_ROOT", raising=False)
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    (course / "solutions" / "deep").mkdir()
    assert _paths.find_course_root(course / "solutions" / "deep") == course.resolve()
    monkeypatch.setenv("TE_COURSE_ROOT", str(course))
    assert _paths.course_root() == course.resolve()
    # a copy of the package outside any course (as pip install . leaves it), run outside any course
    site = tmp_path / "site-packages"
    import shutil

    shutil.copytree(PKG, site / "te_course", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import te_course.grading as g, te_course._paths as p\n"
            "assert g.REPO_ROOT is None and p.find_course_root() is None, g.REPO_ROOT\n"
            "try:\n    g.assignments()\nexcept ValueError as e:\n    print(e)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TE_COURSE_ROOT"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "no course folder found" in out.stdout and "TE_COURSE_ROOT" in out.stdout


def test_errors_say_what_kind_of_failure_they_are():
    from te_course import errors

    for cls in (errors.SolverError, errors.InfeasibleError, errors.UnboundedError, errors.ConvergenceError):
        assert issubclass(cls, tc.TeCourseError) and issubclass(cls, ValueError) and cls.__doc__
        assert getattr(tc, cls.__name__) is cls
    assert issubclass(errors.InfeasibleError, errors.SolverError)
    assert issubclass(errors.UnboundedError, errors.SolverError)
    assert not issubclass(errors.ConvergenceError, errors.SolverError)


def test_every_function_says_what_it_returns():
    """Return annotations everywhere (issue 17), methods, helpers and nested functions included."""
    missing = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is None \
                    and node.name not in ("__init__", "__post_init__"):
                missing.append(f"{name}.{node.name} (line {node.lineno})")
    assert not missing, f"functions without a return annotation: {missing}"
