"""The three dependency lists (pyproject, conda, Binder) agree, and Binder's steps work."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import te_course

ROOT = Path(__file__).resolve().parent.parent


def _normal(spec: str) -> tuple[str, str]:
    req = Requirement(spec)
    name = re.sub(r"[-_.]+", "-", req.name).lower()
    return name, ",".join(sorted(str(s) for s in req.specifier))


def pyproject_deps():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(_normal(s) for s in data["project"]["dependencies"])


def conda_deps():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    return dict(_normal(s) for s in specs)


def binder_deps():
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return dict(_normal(ln) for ln in lines if ln.strip() and not ln.startswith("#"))


REQUIRED = {"jupyterlab", "numpy", "pandas", "cvxpy", "networkx", "matplotlib", "ipywidgets", "nbgrader", "nbval"}


def test_pyproject_has_the_course_dependencies_with_bounds():
    deps = pyproject_deps()
    assert REQUIRED <= set(deps), f"missing: {REQUIRED - set(deps)}"
    for name, spec in deps.items():
        assert ">=" in spec and "<" in spec, f"{name} needs a lower and an upper bound, got {spec!r}"


def test_conda_and_binder_lists_agree_with_pyproject():
    expected = pyproject_deps()
    assert conda_deps() == expected, "environment.yml differs from pyproject.toml"
    assert binder_deps() == expected, "binder/requirements.txt differs from pyproject.toml"


def test_conda_environment_asks_for_python_311_and_the_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "python>=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e ."]


def binder_python() -> str:
    """The Python version binder/runtime.txt asks repo2docker for ("python-X.Y"), as "X.Y"."""
    text = (ROOT / "binder" / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", text)
    assert match, f"binder/runtime.txt should read python-3.Y, got {text!r}"
    return match.group(1)


def test_binder_asks_for_a_python_the_package_supports():
    # Without runtime.txt repo2docker picks its own default Python (3.10 in its docs of 2023),
    # which requires-python >= 3.11 refuses: postBuild's `pip install .` would fail.
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(binder_python() + ".0"), f"{binder_python()} vs {requires}"


# A notebook with a widget that the Binder environment must run (the auction explorer).
WIDGET_NOTEBOOK = ROOT / "solutions" / "01_double_auction" / "01_double_auction.ipynb"
WIDGET_CELL = "tc.widgets.auction_explorer()"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.mark.skipif(not os.environ.get("CI") and not os.environ.get("TE_COURSE_BINDER_TEST"),
                    reason="installs a fresh environment from PyPI (a few minutes); "
                           "runs in CI (.ci/run sets TE_COURSE_BINDER_TEST=1) or with TE_COURSE_BINDER_TEST=1")
def test_binder_steps_build_a_working_environment(tmp_path):
    """Replay what mybinder.org does: pip install binder/requirements.txt, run postBuild, run a widget notebook."""
    py_version = binder_python()
    python = sys.executable if sys.version.startswith(py_version + ".") else shutil.which(f"python{py_version}")
    if python is None:
        pytest.skip(f"Binder builds with Python {py_version} (binder/runtime.txt): no python{py_version} here")
    venv = tmp_path / "binder-env"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    # Nothing from this machine's own Jupyter, IPython or matplotlib set-up: only what binder/ declares.
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        env[var] = str(tmp_path / sub)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile"]
    subprocess.run(pip + ["-r", str(ROOT / "binder" / "requirements.txt")], check=True, env=env)
    subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], check=True, env=env, cwd=ROOT)
    build = ROOT / "build"
    if build.exists():  # setuptools' scratch folder from `pip install .`
        subprocess.run(["rm", "-rf", str(build)], check=True)

    def run(*cmd):
        out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True, cwd=tmp_path)
        return out.stdout + out.stderr

    run(str(venv / "bin" / "python"), "-m", "pip", "check")
    assert run(str(venv / "bin" / "python"), "-c", "import sys; print(sys.version)").startswith(py_version + ".")
    version = run(str(venv / "bin" / "python"), "-c", "import te_course, ipywidgets; print(te_course.__version__)")
    assert version.strip() == te_course.__version__
    labext = run(str(venv / "bin" / "jupyter"), "labextension", "list")
    assert "@jupyter-widgets/jupyterlab-manager" in labext and "enabled" in labext
    assert "Disabled extensions:" in labext, labext
    disabled = labext.split("Disabled extensions:", 1)[1]
    for ext in ("formgrader", "create-assignment", "course-list", "assignment-list"):
        assert f"@jupyter/nbgrader:{ext}" in disabled, labext
    assert "validate-assignment" not in disabled, "students need the Validate button"
    server = run(str(venv / "bin" / "jupyter"), "server", "extension", "list")
    assert re.search(r"nbgrader\.server_extensions\.validate_assignment\s+\S*enabled", server), server
    assert re.search(r"nbgrader\.server_extensions\.formgrader\s+\S*disabled", server), server

    # A notebook with a widget runs top to bottom in that environment's kernel (the package as
    # postBuild installed it: the copy runs away from the repository, whose te_course/ is not on its path).
    notebook = tmp_path / "run" / WIDGET_NOTEBOOK.name
    notebook.parent.mkdir()
    notebook.write_text(WIDGET_NOTEBOOK.read_text())
    run(str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--inplace",
        "--ExecutePreprocessor.kernel_name=python3", "--ExecutePreprocessor.timeout=300", str(notebook))
    where = run(str(venv / "bin" / "python"), "-c", "import te_course; print(te_course.__file__)")
    assert where.strip().startswith(str(venv)), f"te_course should come from the Binder environment: {where}"
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "every code cell should have run"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], "a cell raised"
    cell = next(c for c in code if c.source.strip() == WIDGET_CELL)
    views = [o.data[WIDGET_VIEW] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1, f"the explorer cell should display one widget view, got {cell.outputs}"
    # The kernel's widget models, saved by nbclient: the displayed VBox, and its chart holding a PNG.
    models = nb.metadata["widgets"][WIDGET_STATE]["state"]
    app = models[views[0]["model_id"]]
    assert app["model_name"] == "VBoxModel", app
    images = [m for m in models.values() if m["model_name"] == "ImageModel"]
    assert len(images) == 1 and images[0]["state"]["format"] == "png", images
    png = base64.b64decode(next(b["data"] for b in images[0]["buffers"] if b["path"] == ["value"]))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, "the chart should be a drawn PNG image"
    labels = {m["state"].get("description") for m in models.values()}
    assert {"orders", "bids", "asks", "k"} <= labels, labels
