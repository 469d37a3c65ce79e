"""The student release (te_course._student_release): what ships, what never does, and that it runs.

``student_release(dest)`` writes the tree students get: the student notebooks, the
package, ``binder/``, ``environment.yml``, ``pyproject.toml``, a small ``Makefile``
(``make lab``), ``.gitignore`` and a students' ``README.md``.  These tests write it to a
scratch folder and check its contents, that no line of a solution or of a hidden test
reaches any of its files, the refusals, ``make -n lab``, and (with
``TE_COURSE_BINDER_TEST=1``, as tests/test_environment.py) Binder's steps on the tree.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from lockfiles import binder_venv, lock_pins, normal, runtime_python

from te_course._student_release import REPO_ROOT, SHIPPED_FILES, student_release
from te_course.grading import BEGIN_HIDDEN, END_HIDDEN, hidden_test_lines, is_model_answer

ROOT = Path(__file__).resolve().parent.parent
assert ROOT == REPO_ROOT
TOP_LEVEL = {"notebooks", "te_course", "binder", "environment.yml", "pyproject.toml", "Makefile", ".gitignore",
             "README.md", "LICENSE", "LICENSE-CONTENT.md", "CITATION.cff"}
# Names that must not appear anywhere in the release (a folder or a file of that name).
FORBIDDEN = {"solutions", "tests", "benchmarks", ".ci", "nbgrader_config.py", "gradebook.db", "submitted",
             "autograded", "feedback", "grades.csv", "exchange", ".git", "__pycache__", ".ipynb_checkpoints",
             ".venv", ".venv-dev", ".venv-latest", "te_course.egg-info", "build", "DESIGN.md"}
SOLUTION_REGION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_REGION = ("### " + BEGIN_HIDDEN, "### " + END_HIDDEN)
MIN_LENGTH = 13  # shorter lines (`pass`, `return x`, `return False`) say nothing of a solution
START_PAGE = "notebooks/00_start_here/00_start_here.ipynb"

# Solution lines that the package's own code holds word for word.  te_course computes what the
# exercises ask (the worked examples call it; the hidden tests switch it off, so students write
# their own), and these short statements come out the same.  The package has shipped to students
# since the start (Binder's postBuild installs it), so they are not a leak of the release: each is
# allowed in its package file only, and the leak test fails on any new one, to be judged here.
PACKAGE_COINCIDENCES = {
    "balance = cp.sum(y) - cp.sum(x) == 0": "te_course/auction.py",  # welfare_max_clearing, ch. 1 lp_clearing
    "price = a - b * total": "te_course/games.py",  # the inverse demand, ch. 7
    "mid = 0.5 * (lo + hi)": "te_course/powerflow.py",  # bisection of hosting_capacity, ch. 4
    "tree = nx.bfs_tree(feeder.graph, feeder.substation)": "te_course/plots.py",  # the feeder's tree, ch. 5
}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The release written once into a scratch folder, with the list of files it returned."""
    dest = tmp_path_factory.mktemp("release") / "te_course_students"
    return dest, student_release(dest)


def _files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- what ships


def test_release_holds_the_expected_entries_and_nothing_forbidden(release):
    dest, written = release
    assert {p.name for p in dest.iterdir()} == TOP_LEVEL
    assert written == _files(dest), "student_release should return every file it wrote, and only those"
    for path in dest.rglob("*"):
        rel = path.relative_to(dest)
        bad = FORBIDDEN & set(rel.parts)
        assert not bad, f"{rel}: {bad} must not ship to students"
        assert not path.name.startswith("gradebook.db"), rel
        assert path.suffix not in (".pyc", ".db", ".log"), rel


def test_release_copies_notebooks_package_and_environment_unchanged(release):
    dest, _ = release
    expected = sorted(p.relative_to(ROOT) for p in ROOT.glob("notebooks/*/*.ipynb"))
    assert sorted(p.relative_to(dest) for p in dest.glob("notebooks/**/*") if p.is_file()) == expected
    package = sorted(p.relative_to(ROOT) for p in ROOT.glob("te_course/**/*.py") if "__pycache__" not in p.parts)
    package += sorted(p.relative_to(ROOT) for p in (ROOT / "te_course" / "data").rglob("*") if p.is_file())
    assert sorted(p.relative_to(dest) for p in dest.glob("te_course/**/*") if p.is_file()) == sorted(package)
    binder = [p.relative_to(ROOT) for p in (ROOT / "binder").rglob("*") if p.is_file()]
    copied = expected + package + binder + [Path(name) for name in SHIPPED_FILES]
    for rel in copied:
        assert (dest / rel).read_bytes() == (ROOT / rel).read_bytes(), f"{rel} should ship unchanged"
    assert os.access(dest / "binder" / "postBuild", os.X_OK) == os.access(ROOT / "binder" / "postBuild", os.X_OK)
    for path in dest.glob("notebooks/*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} ships with outputs"


def test_release_has_a_readme_for_students_not_the_instructors(release):
    dest, _ = release
    text = (dest / "README.md").read_text()
    assert text != (ROOT / "README.md").read_text()
    for instructor_only in ("For instructors", "nbgrader_config", "autograde", "gradebook", "solutions/",
                            "make test", "make release"):
        assert instructor_only not in text, f"the students' README mentions {instructor_only!r}"
    for needed in ("make lab", START_PAGE, "Validate", "Assignments", "Submit", ".ipynb", "Where to ask",
                   "NotImplementedError"):
        assert needed in text, f"the students' README should say something about {needed!r}"
    # The same badge as the course README's, so that the two agree on Binder's link.
    badge = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if "mybinder.org/badge_logo" in ln)
    assert badge in text.splitlines()
    ignored = (dest / ".gitignore").read_text().splitlines()
    assert {".venv/", "__pycache__/", ".ipynb_checkpoints/"} <= set(ignored)


def _imported_modules(source: str) -> set[str]:
    """Top-level modules imported by a cell (IPython magics and shell lines left out)."""
    code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_student_notebooks_import_nothing_of_the_course_but_the_package(release):
    """Every import is te_course, the standard library, or a package of the students' lock."""
    dest, _ = release
    distributions = importlib.metadata.packages_distributions()
    locked = set(lock_pins())
    imported = set()
    for path in dest.glob("notebooks/*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                imported |= _imported_modules(cell.source)
    assert "te_course" in imported
    for name in sorted(imported - {"te_course"} - set(sys.stdlib_module_names)):
        dists = {normal(d) for d in distributions.get(name, [])}
        assert dists & locked, f"the notebooks import {name!r}, which is neither te_course nor in the lock"


# --------------------------------------------------------------------------- no leaks


def _region_lines(nb) -> set[str]:
    """Stripped lines of every solution and hidden-test region, and of every model answer, of a notebook."""
    lines = set()
    for begin, end in (SOLUTION_REGION, HIDDEN_REGION):
        lines |= hidden_test_lines(nb, begin=begin, end=end)
    for cell in nb.cells:
        if is_model_answer(cell):
            lines |= {ln.strip() for ln in cell.source.splitlines() if ln.strip()}
    return lines


def _visible_lines(paths) -> set[str]:
    """Stripped lines of the student notebooks' own sources: what a student sees anyway."""
    return {ln.strip() for p in paths for c in nbformat.read(p, as_version=4).cells for ln in c.source.splitlines()}


def secret_lines(root: Path = ROOT) -> dict[str, str]:
    """Solution and hidden-test lines that a student never sees -> the solution notebook they come from."""
    visible = _visible_lines(sorted(root.glob("notebooks/*/*.ipynb")))
    secret = {}
    for path in sorted(root.glob("solutions/*/*.ipynb")):
        for line in _region_lines(nbformat.read(path, as_version=4)):
            if len(line) >= MIN_LENGTH and line not in visible:
                secret.setdefault(line, str(path.relative_to(root)))
    return secret


def _strings(value) -> list[str]:
    """Every string inside a parsed JSON document (a notebook's sources and outputs)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def file_lines(path: Path) -> set[str]:
    """Stripped lines of a file read as text; for JSON (notebooks), the lines of every string in it too."""
    text = path.read_bytes().decode("utf-8", errors="ignore")
    lines = {ln.strip() for ln in text.splitlines()}
    try:
        document = json.loads(text)
    except ValueError:
        return lines
    strings = _strings(document)
    # A notebook's source is a list of lines: join each list too, in case one line was split.
    lines |= {ln.strip() for s in strings for ln in s.splitlines()}
    lines |= {ln.strip() for s in ["".join(v) for v in _lists_of_strings(document)] for ln in s.splitlines()}
    return lines


def _lists_of_strings(value) -> list[list[str]]:
    if isinstance(value, list):
        found = [value] if value and all(isinstance(v, str) for v in value) else []
        return found + [x for v in value for x in _lists_of_strings(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _lists_of_strings(v)]
    return []


def leaks(tree: Path, secret: dict[str, str]) -> list[str]:
    """Every (file, secret line) of ``tree``, but the package's known coincidences in their own file."""
    found = []
    for path in _files(tree):
        rel = path.relative_to(tree).as_posix()
        for line in sorted(file_lines(path) & secret.keys()):
            if PACKAGE_COINCIDENCES.get(line) != rel:
                found.append(f"{rel}: {line!r} (from {secret[line]})")
    return found


@pytest.fixture(scope="module")
def secret():
    found = secret_lines()
    assert len(found) > 100, f"only {len(found)} secret lines found: did the markers change?"
    return found


def test_no_solution_or_hidden_test_line_in_any_file_of_the_release(release, secret):
    dest, _ = release
    found = leaks(dest, secret)
    assert not found, f"{len(found)} solution or hidden-test line(s) in the release:\n" + "\n".join(found[:20])


def test_package_coincidences_are_still_what_they_say():
    """The allowed coincidences stay true: still a secret line, still in that package file (else delete them)."""
    secret = secret_lines()
    for line, rel in PACKAGE_COINCIDENCES.items():
        assert line in secret, f"{line!r} is no longer a solution line: remove it from PACKAGE_COINCIDENCES"
        assert line in file_lines(ROOT / rel), f"{rel} no longer holds {line!r}: remove it from PACKAGE_COINCIDENCES"


def test_leak_test_detects_a_planted_solution_line(release, secret, tmp_path):
    """The leak test can fail: one solution line planted in a text file and one in a notebook are found."""
    dest, _ = release
    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    planted = sorted(line for line, source in secret.items()
                     if "01_double_auction" in source and line not in PACKAGE_COINCIDENCES)[:2]
    assert len(planted) == 2
    with open(copy / "te_course" / "data" / "README.md", "a") as f:
        f.write(f"\n    {planted[0]}\n")
    path = copy / "notebooks" / "01_double_auction" / "01_double_auction.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += f"\n    {planted[1]}  \n"
    nbformat.write(nb, path)
    found = leaks(copy, secret)
    assert len(found) == 2, found
    assert found[0].startswith("notebooks/01_double_auction/01_double_auction.ipynb: " + repr(planted[1]))
    assert found[1].startswith("te_course/data/README.md: " + repr(planted[0]))
    # A coincidence is allowed in its own package file only.
    line, rel = next(iter(PACKAGE_COINCIDENCES.items()))
    (copy / "README.md").write_text(line + "\n")
    assert rel != "README.md" and leaks(copy, secret)[0].startswith(f"README.md: {line!r}")


# --------------------------------------------------------------------------- refusals


def test_refuses_a_destination_that_is_not_new_and_empty(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"`dest` .*full is not empty"):
        student_release(full)
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="`dest` .*a_file exists and is not a folder"):
        student_release(a_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert student_release(empty), "an empty folder is fine"


@pytest.mark.parametrize("where", [".", "solutions", "solutions/01_double_auction/out", "notebooks/x", "te_course/x"])
def test_refuses_the_course_itself_and_its_sources(where):
    dest = ROOT / where
    existed = dest.exists()
    with pytest.raises(ValueError, match=r"`dest` " + re.escape(str(dest.resolve()))):
        student_release(dest)
    assert dest.exists() == existed, "a refused release writes nothing"


def _scratch_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for name in ("notebooks", "solutions", "binder"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copytree(ROOT / "te_course", root / "te_course", ignore=shutil.ignore_patterns("__pycache__"))
    for name in SHIPPED_FILES:
        shutil.copy(ROOT / name, root / name)
    return root


def test_refuses_student_notebooks_unfit_to_ship(tmp_path):
    root = _scratch_course(tmp_path)
    path = root / "notebooks" / "01_double_auction" / "01_double_auction.ipynb"
    original = path.read_text()
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += "\n### BEGIN SOLUTION\n"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="BEGIN SOLUTION"):
        student_release(tmp_path / "out", root)
    nb = nbformat.reads(original, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="hi")]
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="carries outputs"):
        student_release(tmp_path / "out", root)
    path.unlink()
    with pytest.raises(ValueError, match="make release"):
        student_release(tmp_path / "out", root)
    assert not (tmp_path / "out").exists(), "a refused release writes nothing"


# --------------------------------------------------------------------------- make lab


def _lab_command(tree: Path) -> list[str]:
    """The ``jupyter lab`` command that ``make -n lab`` prints in ``tree``, its root_dir left out."""
    out = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=tree, check=True,
                         capture_output=True, text=True).stdout
    lines = out.replace("\\\n", " ").splitlines()
    cmd = shlex.split(next(ln for ln in reversed(lines) if "jupyter lab" in ln))
    assert f"--ServerApp.root_dir={tree}" in cmd, out
    return [arg for arg in cmd if not arg.startswith("--ServerApp.root_dir=")]


def test_make_lab_sets_up_from_the_lock_and_opens_the_start_page(release):
    dest, _ = release
    out = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=dest, check=True,
                         capture_output=True, text=True).stdout
    assert "-m venv .venv" in out and "pip install --quiet -r binder/requirements.txt -e ." in out, out
    assert "labextension disable" in out and "server extension disable" in out, out  # as binder/postBuild
    cmd = _lab_command(dest)
    assert cmd[:2] == [".venv/bin/jupyter", "lab"], cmd
    assert f"--LabApp.default_url=/lab/tree/{START_PAGE}" in cmd and (dest / START_PAGE).exists()
    assert ("--allow-root" in cmd) == (os.getuid() == 0)
    # The same command as the course's own `make lab` (run with -n: nothing starts).
    assert cmd == _lab_command(ROOT)


# --------------------------------------------------------------------------- Binder


@pytest.mark.skipif(not os.environ.get("TE_COURSE_BINDER_TEST"),
                    reason="installs a fresh environment from PyPI (a minute or two); "
                           "runs with TE_COURSE_BINDER_TEST=1 (.ci/run sets it)")
def test_binder_steps_on_the_release_run_chapter_1(tmp_path):
    """Replay mybinder.org on the release (pip install the lock, postBuild), then run chapter 1's student notebook.

    As tests/test_environment.py does for the course repository; here on the release
    alone, so a file the release forgot would show.  The student notebook runs with
    errors allowed: every cell up to the first test cell must run cleanly (the widget
    included), and that test cell must stop at the exercise's NotImplementedError.
    """
    from test_environment import WIDGET_CELL, check_widget_state

    made = binder_venv(tmp_path)
    if made is None:
        pytest.skip(f"Binder builds with Python {runtime_python()} (binder/runtime.txt): none here")
    venv, env = made
    tree = tmp_path / "release"
    student_release(tree)

    def run(*cmd, cwd=tmp_path):
        out = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, cwd=cwd)
        assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout + out.stderr

    py, jupyter = str(venv / "bin" / "python"), str(venv / "bin" / "jupyter")
    run(py, "-m", "pip", "install", "--quiet", "--no-compile", "-r", str(tree / "binder" / "requirements.txt"))
    if (tree / "binder" / "postBuild").exists():
        run("bash", str(tree / "binder" / "postBuild"), cwd=tree)
    where = run(py, "-c", "import te_course; print(te_course.__file__, te_course.__version__)").split()
    assert where[0].startswith(str(venv)) and where[1] == importlib.metadata.version("te_course"), where
    labext = run(jupyter, "labextension", "list")
    assert "@jupyter/nbgrader:formgrader" in labext.split("Disabled extensions:", 1)[-1], labext

    notebook = tmp_path / "run" / "01_double_auction.ipynb"
    notebook.parent.mkdir()
    shutil.copy(tree / "notebooks" / "01_double_auction" / "01_double_auction.ipynb", notebook)
    run(jupyter, "nbconvert", "--to", "notebook", "--execute", "--inplace", "--allow-errors",
        "--ExecutePreprocessor.kernel_name=python3", "--ExecutePreprocessor.timeout=300", str(notebook),
        cwd=notebook.parent)
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_test = next(i for i, c in enumerate(code) if c.metadata.get("nbgrader", {}).get("grade"))
    for cell in code[:first_test]:
        assert cell.execution_count is not None
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{cell.source[:60]!r} raised {errors[0].ename}: {errors[0].evalue}"
    assert any(c.source.strip() == WIDGET_CELL for c in code[:first_test])
    check_widget_state(nb)
    errors = [o for o in code[first_test].outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["NotImplementedError"], code[first_test].outputs
