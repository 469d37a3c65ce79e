"""The package's surface: re-exports, light import, the layering of DESIGN.md."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import te_course as tc

PKG = Path(tc.__file__).parent
COMPUTATION = [
    "auction.py", "_validation.py", "prosumer.py", "coordination.py", "feeders.py", "powerflow.py", "dlmp.py",
    "mechanisms.py", "games.py", "market_power.py", "fairness.py", "uncertainty.py", "scheduling.py", "security.py",
]


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
    tree = ast.parse((PKG / module).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not imported & {"matplotlib", "ipywidgets", "IPython"}, imported


@pytest.mark.parametrize("module", sorted(p.name for p in PKG.glob("*.py")))
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
