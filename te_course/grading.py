"""Grading tools: hidden-test helpers, the student release and validation.

Three things that the notebooks, ``make release`` and the test suite share:

- :func:`package_disabled`, used by hidden tests so that an exercise cannot be
  passed by calling the package's own version of the function it asks for;
- :func:`release`, which regenerates ``notebooks/`` from ``solutions/`` with
  nbgrader's ``generate_assignment`` (run by ``make release``);
- :func:`validate`, nbgrader's validator through its Python API, because
  ``nbgrader validate`` on the command line exits 0 even when tests fail.

nbgrader is imported inside the functions, so ``import te_course`` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PackageDisabled", "package_disabled", "release", "validate", "assignments"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class PackageDisabled(AssertionError):
    """Raised when graded code calls a ``te_course`` function that a hidden test disabled."""


@contextlib.contextmanager
def package_disabled(*names: str, namespace: dict | None = None) -> Iterator[None]:
    """Make ``te_course`` functions raise while a hidden test runs the student's code.

    Every listed name is replaced, for the duration of the ``with`` block, in
    ``te_course``, in the module that defines it, and in ``namespace`` (the
    notebook's globals; ``__main__`` by default) wherever the notebook bound the
    same object under any name (``from te_course.auction import
    clear_double_auction as f`` is caught too).

    Parameters
    ----------
    *names : str
        Names of public ``te_course`` functions, for example
        ``"clear_double_auction"``, or dotted ``"auction._fill"`` for helpers.
    namespace : dict, optional
        Where else to look for aliases; the notebook's globals by default.

    Examples
    --------
    >>> import te_course as tc
    >>> with package_disabled("clear_double_auction"):
    ...     tc.clear_double_auction([12], [5])
    Traceback (most recent call last):
    ...
    te_course.grading.PackageDisabled: This exercise asks you to write the code yourself: ...
    >>> tc.clear_double_auction([12], [5]).quantity
    1.0
    """
    import te_course

    if namespace is None:
        namespace = vars(sys.modules["__main__"])
    saved: list[tuple[object, str, object]] = []

    def swap(holder, attr, new):
        if isinstance(holder, dict):
            saved.append((holder, attr, holder[attr]))
            holder[attr] = new
        else:
            saved.append((holder, attr, getattr(holder, attr)))
            setattr(holder, attr, new)

    try:
        for name in names:
            if "." in name:
                mod_name, attr = name.rsplit(".", 1)
                module = importlib.import_module(f"te_course.{mod_name}")
                original = getattr(module, attr)
            else:
                attr = name
                original = getattr(te_course, name)
                module = importlib.import_module(original.__module__)

            def blocked(*args, _name=f"te_course.{name}", **kwargs):
                raise PackageDisabled(
                    f"This exercise asks you to write the code yourself: {_name} is switched off while it is graded."
                )

            for holder in (te_course, module):
                if getattr(holder, attr, None) is original:
                    swap(holder, attr, blocked)
            for key, value in list(namespace.items()):
                if value is original:
                    swap(namespace, key, blocked)
        yield
    finally:
        for holder, attr, value in reversed(saved):
            if isinstance(holder, dict):
                holder[attr] = value
            else:
                setattr(holder, attr, value)


def assignments(root: Path | str = REPO_ROOT) -> list[str]:
    """Return the assignment folders of ``solutions/`` (``00_start_here``, ...), sorted."""
    src = Path(root) / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and p.name[:2].isdigit() and any(p.glob("*.ipynb")))


def release(root: Path | str = REPO_ROOT, *, names: list[str] | None = None, db_url: str | None = None) -> list[Path]:
    """Regenerate the student notebooks from the solutions with nbgrader.

    Runs nbgrader's ``generate_assignment`` for every assignment in
    ``root/solutions`` (or only ``names``), writing ``root/notebooks/NAME/``.
    The course's ``nbgrader_config.py`` in ``root`` is used.

    Parameters
    ----------
    root : path
        The course directory (the repository root by default).
    names : list of str, optional
        Assignments to release; all by default.
    db_url : str, optional
        The gradebook database (default: ``sqlite:///root/gradebook.db``).

    Returns
    -------
    list of pathlib.Path
        The student notebooks written.

    Raises
    ------
    RuntimeError
        If nbgrader fails on an assignment (its log says why).
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _venv_on_path()
    root = Path(root).resolve()
    config = _course_config(root)
    config.CourseDirectory.root = str(root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    written = []
    for name in names or assignments(root):
        out = root / "notebooks" / name
        if out.exists():
            shutil.rmtree(out)
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            log, error = result.get("log", ""), result.get("error", "")
            raise RuntimeError(f"nbgrader could not release {name}:\n{log}\n{error}")
        written.extend(sorted(out.glob("*.ipynb")))
    return written


def _venv_on_path() -> None:
    """Put this interpreter's ``bin`` first on PATH: nbgrader runs ``alembic`` from there."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


def _course_config(root: Path):
    """Load ``root/nbgrader_config.py`` into a traitlets Config."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = root / "nbgrader_config.py"
    if not path.exists():
        return Config()
    return PyFileConfigLoader(path.name, path=str(root)).load_config()


def validate(path: Path | str, *, invert: bool = False) -> list[str]:
    """Run a notebook's tests with nbgrader's validator and return what went wrong.

    Parameters
    ----------
    path : path
        The notebook.
    invert : bool
        ``False``: return the cells that fail: a graded test cell that does
        not pass, or any code cell that raises an error (warnings printed
        on stderr do not count; an empty list means the whole
        notebook runs and every test passes, as for a solution notebook).  ``True``: return the graded
        test cells that *pass* (an empty list means every test fails, as for an
        untouched student notebook).

    Returns
    -------
    list of str
        One message per offending cell; empty when the notebook is as expected.
    """
    from nbgrader import utils
    from nbgrader.validator import Validator

    class _Validator(Validator):
        """nbgrader's validator, plus any code cell that raises (warnings on stderr are fine)."""

        def _get_failed_cells(self, nb):
            failed = super()._get_failed_cells(nb)
            if not self.invert:
                failed += [
                    c for c in nb.cells
                    if c.cell_type == "code" and not utils.is_grade(c)
                    and any(o.output_type == "error" for o in c.outputs)
                ]
            return sorted(failed, key=lambda c: nb.cells.index(c))

    result = _Validator(invert=invert).validate(str(path))
    key = "passed" if invert else "failed"
    problems = []
    for entry in result.get(key, []):
        source = entry.get("source", "")
        first = next((ln for ln in source.splitlines() if ln.strip()), "")
        problems.append(f"{key}: {first[:100]} {entry.get('error', '')[-300:]}".strip())
    for entry in result.get("changed", []) + result.get("type_changed", []):
        problems.append(f"changed cell: {entry.get('source', '')[:100]}")
    return problems


if __name__ == "__main__":  # python -m te_course.grading release
    if sys.argv[1:2] == ["release"]:
        for nb in release(Path.cwd()):
            print(f"wrote {nb.relative_to(Path.cwd())}")
    else:
        print("usage: python -m te_course.grading release")
        sys.exit(2)
