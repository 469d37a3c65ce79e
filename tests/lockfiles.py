"""Read the course's three dependency files, and pin environment.yml to the students' lock.

- ``pyproject.toml`` holds the ranges the course works with;
- ``binder/requirements.txt`` is the students' lock, written from those ranges by
  ``make lock`` (``uv pip compile``): every package, one exact version each;
- ``environment.yml`` pins the course's direct dependencies to the lock's versions for
  conda users, and Python to the one of ``binder/runtime.txt``.

``python tests/lockfiles.py`` (the last step of ``make lock``) rewrites the pinned lines
of ``environment.yml``; ``python tests/lockfiles.py --compare`` says how the environment
it runs in differs from the lock (``make test-latest``); ``tests/test_environment.py``
checks that the three files agree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "binder" / "requirements.txt"
CONDA = ROOT / "environment.yml"


def normal(name: str) -> str:
    """The canonical form of a distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> dict[str, Requirement]:
    """The course's direct dependencies, by canonical name."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {normal(r.name): r for r in map(Requirement, data["project"]["dependencies"])}


def lock_lines() -> list[Requirement]:
    """Every requirement line of the lock, markers included."""
    return [
        Requirement(ln.split("#", 1)[0].strip())
        for ln in LOCK.read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]


def lock_pins(environment: dict | None = None) -> dict[str, str]:
    """Name -> exact version of every lock line whose marker holds (here, or in ``environment``)."""
    pins = {}
    for req in lock_lines():
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        (spec,) = req.specifier
        pins[normal(req.name)] = spec.version
    return pins


def direct_in_lock() -> set[str]:
    """The packages that the lock's annotations say come from pyproject.toml itself."""
    names, current = set(), None
    for ln in LOCK.read_text().splitlines():
        if ln and not ln.startswith((" ", "#")):
            current = normal(Requirement(ln.split(";")[0]).name)
        elif current and re.search(r"#\s+(via\s+)?te-course \(pyproject\.toml\)", ln):
            names.add(current)
    return names


def runtime_python() -> str:
    """The Python version binder/runtime.txt asks repo2docker for ("python-X.Y"), as "X.Y"."""
    text = (ROOT / "binder" / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", text)
    if not match:
        raise ValueError(f"binder/runtime.txt should read python-3.Y, got {text!r}")
    return match.group(1)


def binder_venv(tmp_path: Path) -> tuple[Path, dict] | None:
    """A fresh venv with Binder's Python, and an environment that sees nothing of this machine's set-up.

    Returns ``(venv, env)`` for replaying Binder's steps, or None when no Python of
    binder/runtime.txt's version is installed here (the caller skips).
    """
    import os
    import shutil
    import subprocess

    py_version = runtime_python()
    python = sys.executable if sys.version.startswith(py_version + ".") else shutil.which(f"python{py_version}")
    if python is None:
        return None
    venv = tmp_path / "binder-env"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    # Nothing from this machine's own Jupyter, IPython or matplotlib set-up: only what binder/ declares.
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        env[var] = str(tmp_path / sub)
    return venv, env


def pin_environment_yml() -> str:
    """environment.yml's text with Python and every direct dependency pinned to the lock."""
    pins = lock_pins({"python_version": runtime_python(), "python_full_version": runtime_python() + ".0"})
    names = pyproject_requirements()
    out = []
    for ln in CONDA.read_text().splitlines():
        match = re.fullmatch(r"(\s*-\s*)([A-Za-z0-9_.-]+)\s*([<>=!~].*)?", ln)
        if match and match.group(2) == "python":
            ln = f"{match.group(1)}python={runtime_python()}"
        elif match and normal(match.group(2)) in names:
            ln = f"{match.group(1)}{match.group(2)}=={pins[normal(match.group(2))]}"
        out.append(ln)
    return "\n".join(out) + "\n"


def drift(installed: dict[str, str]) -> list[str]:
    """The lock's packages (markers evaluated here) that ``installed`` lacks or holds at another version."""
    return [f"{name}: lock {pin}, installed {installed.get(name, 'nothing')}"
            for name, pin in sorted(lock_pins().items()) if installed.get(name) != pin]


def installed_versions(names) -> dict[str, str]:
    """The version of each of ``names`` installed here, as imports see it (the first copy on sys.path)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def _compare_with_lock() -> int:
    """Print how this environment differs from the lock; 0 when it holds the lock exactly, else 1."""
    differences = drift(installed_versions(lock_pins()))
    if differences:
        print(f"{len(differences)} package(s) differ from the lock {LOCK.relative_to(ROOT)}:")
        print("\n".join("  " + d for d in differences))
        return 1
    print(f"every package is at the version of the lock {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--compare"]:
        sys.exit(_compare_with_lock())
    missing = set(pyproject_requirements()) - set(lock_pins())
    if missing:
        sys.exit(f"binder/requirements.txt lacks {sorted(missing)}: run `make lock` first.")
    CONDA.write_text(pin_environment_yml())
    print(f"environment.yml pinned to {LOCK.relative_to(ROOT)}")
