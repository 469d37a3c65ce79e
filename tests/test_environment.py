"""The three dependency lists (pyproject, conda, Binder) agree, and Binder's steps work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

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


@pytest.mark.skipif(not os.environ.get("CI") and not os.environ.get("TE_COURSE_BINDER_TEST"),
                    reason="installs a fresh environment (about a minute); runs in CI or with TE_COURSE_BINDER_TEST=1")
def test_binder_steps_build_a_working_environment(tmp_path):
    """Replay what mybinder.org does: pip install binder/requirements.txt, then run postBuild."""
    venv = tmp_path / "binder-env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
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
