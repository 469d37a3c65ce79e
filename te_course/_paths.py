"""Where the course is: the folder with ``nbgrader_config.py`` and ``solutions/``.

The grading tools work on a course folder, not on the installed package.  With an editable
install (``make lab``, ``make test``) the package sits inside the course's checkout; after
``pip install .`` it sits in ``site-packages`` and the course is wherever the instructor
works.  :func:`course_root` looks, in order, at ``TE_COURSE_ROOT``, the current folder and
its parents, and the checkout around the package.

The package's version is the one line ``version = ...`` of ``pyproject.toml`` (:func:`package_version`).
"""

from __future__ import annotations

import os
import tomllib
from importlib import metadata
from pathlib import Path

__all__ = ["find_course_root", "course_root", "is_course_root", "package_version"]


def package_version() -> str:
    """Return te_course's version: ``pyproject.toml``'s, the single place it is written.

    In a checkout (the package beside its ``pyproject.toml``: an editable install, the students'
    tree, the source folder on ``sys.path``) the file itself is read, so a version bumped there
    shows at once, without reinstalling; installed from a wheel, the metadata the wheel was
    built from (the same line).
    """
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == "te_course" and isinstance(project.get("version"), str):
            return project["version"]
    try:
        return metadata.version("te_course")
    except metadata.PackageNotFoundError:  # neither installed nor in a checkout: a copied folder
        return "0+unknown"


def is_course_root(path: Path) -> bool:
    """Whether ``path`` holds a course: an ``nbgrader_config.py`` and a ``solutions/`` folder."""
    return (path / "nbgrader_config.py").is_file() and (path / "solutions").is_dir()


def find_course_root(cwd: Path | str | None = None, *, checkout: bool = True) -> Path | None:
    """Return the course folder (see the module's docstring), or None if there is none.

    ``checkout=False`` leaves out the last resort, the checkout around the package: the command
    line works on the folder it is run in, never on a course found elsewhere.
    """
    env = os.environ.get("TE_COURSE_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd() if cwd is None else Path(cwd)
    for folder in (here.resolve(), *here.resolve().parents):
        if is_course_root(folder):
            return folder
    around = Path(__file__).resolve().parent.parent
    return around if checkout and is_course_root(around) else None


def course_root() -> Path:
    """Return the course folder, or raise ``ValueError`` saying how to point at one."""
    root = find_course_root()
    if root is None:
        raise ValueError(
            "no course folder found: run this from the course's folder (the one with nbgrader_config.py and "
            "solutions/), pass `root`, or set the environment variable TE_COURSE_ROOT to it."
        )
    return root
