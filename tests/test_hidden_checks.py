"""Hidden checks (issue 15): cases drawn at grading time, verdicts reached outside the kernel.

Every exercise's hidden test is one call, ``hidden_check(ID, function)``, to a check
registered in ``te_course/_checks/``.  These tests prove that:

* every graded cell of every chapter calls its own check, and every check belongs to
  an exercise;
* each check draws fresh cases from the grading seed (different per seed, student and
  exercise; the same on a regrade), on which the solution notebook's own functions pass
  and stubs fail;
* the coercions turn honest answers into numbers and reject objects that equal
  everything;
* graded by ``te_course.grading.autograde``, submissions that hard-code the published
  cases, rebind ``np.isclose``, return an object equal to everything, hide their
  tracebacks and return a score, or forge the report, all earn zero, while the honest
  student keeps full marks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from te_course import _checks
from te_course._checks import plain
from te_course._sandbox import SandboxUnavailable, check_sandbox
from te_course.grading import autograde, release

ROOT = Path(__file__).resolve().parent.parent
CHECKS = _checks.all_checks()
VALUE_EXERCISES: set[str] = set()  # answers that are values, not functions (none since ch. 6 ex. 1 became one)
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _test_cells():
    for path in sorted(ROOT.glob("solutions/*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                yield path.parent.name, cell


TEST_CELLS = list(_test_cells())


def test_every_hidden_test_is_one_call_to_its_own_check():
    assert len(TEST_CELLS) >= 30
    for chapter, cell in TEST_CELLS:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        assert grade_id.endswith("_tests"), grade_id
        check_id = grade_id[: -len("_tests")]
        region = cell.source[cell.source.index(BEGIN) + len(BEGIN): cell.source.index(END)].strip().splitlines()
        assert region[0] == "from te_course.grading import hidden_check", (chapter, grade_id, region)
        assert len(region) == 2, f"{grade_id}: the hidden region holds only the hidden_check call, got {region}"
        m = _checks.HIDDEN_CALL.fullmatch(region[1])
        assert m and m["id"] == check_id, f"{grade_id}: {region[1]!r}"
        check = CHECKS[check_id]
        assert m["function"] == check.function and check.chapter == chapter, (check_id, m["function"], chapter)


def test_every_check_belongs_to_an_exercise():
    used = {cell.metadata["nbgrader"]["grade_id"][: -len("_tests")] for _, cell in TEST_CELLS}
    assert set(CHECKS) == used


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_name_a_check_switches_off_exists_in_the_package(check_id):
    """A renamed or moved function must be renamed in the check too, or the check would fail every student."""
    import importlib

    import te_course

    for name in CHECKS[check_id].disabled:
        if "." in name:
            module, attr = name.rsplit(".", 1)
            holder = importlib.import_module(f"te_course.{module}")
        else:
            holder, attr = te_course, name
        assert callable(getattr(holder, attr, None)), f"{check_id} switches off te_course.{name}, which does not exist"


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_cases_are_fresh_for_each_seed_student_and_exercise_and_the_same_on_a_regrade(check_id):
    check = CHECKS[check_id]
    draw = lambda seed, student: _checks.draw_cases(check, _checks.case_rng(seed, "a", student, check_id))  # noqa: E731
    if check_id in VALUE_EXERCISES:
        assert check.draw is None and draw("s", "x") == draw("t", "x")
        return
    assert check.draw is not None and check.n_random >= 2, f"{check_id} draws no cases at grading time"
    assert draw("seed 1", "ana") == draw("seed 1", "ana")
    assert draw("seed 1", "ana") != draw("seed 2", "ana")
    assert draw("seed 1", "ana") != draw("seed 1", "ben")
    assert draw("seed 1", "ana")[: len(check.fixed)] == json.loads(_checks.dumps(list(check.fixed)))


_NAMESPACES: dict[str, dict] = {}


def _solution_namespace(chapter: str) -> dict:
    """The chapter's solution cells run in one namespace, as the notebook defines them."""
    if chapter not in _NAMESPACES:
        g = {"__name__": "__main__"}
        exec("import numpy as np, pandas as pd, cvxpy as cp, te_course as tc", g)
        nb = nbformat.read(next((ROOT / "solutions" / chapter).glob("*.ipynb")), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                exec(cell.source, g)
        _NAMESPACES[chapter] = g
    return _NAMESPACES[chapter]


def _answer(check, namespace):
    m = re.fullmatch(r"\((.*)\)", check.function)
    if m:
        return tuple(namespace[name.strip()] for name in m.group(1).split(","))
    return namespace[check.function]


def _run(check, function, seed, namespace):
    cases = _checks.draw_cases(check, _checks.case_rng(seed, "a", "s", check.id))
    results = json.loads(_checks.dumps(_checks._results(check, function, cases, namespace)))
    return _checks.verify(check, cases, results)


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_the_solution_passes_on_fresh_cases(check_id):
    check = CHECKS[check_id]
    namespace = _solution_namespace(check.chapter)
    for seed in range(6):
        assert _run(check, _answer(check, namespace), f"seed {seed}", namespace) == []


class Anything(float):
    """A number that claims to equal, and to be close to, everything."""

    def __eq__(self, other):
        return True

    __le__ = __ge__ = __eq__

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


@pytest.mark.parametrize("check_id", sorted(set(CHECKS) - VALUE_EXERCISES))
@pytest.mark.parametrize("stub", ["None", "0", "Anything"])
def test_a_stub_fails_every_check(check_id, stub):
    check = CHECKS[check_id]
    value = {"None": None, "0": 0, "Anything": Anything(0.0)}[stub]
    try:
        failures = _run(check, lambda *args, **kwargs: value, "stub", _solution_namespace(check.chapter))
    except AssertionError:  # the result is not even the kind asked for
        return
    assert failures, f"{check_id} lets a function that returns {stub} through"


def test_plain_accepts_numbers_and_rejects_impostors():
    assert plain.as_float(np.float32(0.5)) == 0.5 and plain.as_float(3) == 3.0
    assert plain.as_floats(np.array([[1, 2]])) == [[1.0, 2.0]]
    assert plain.as_int(np.int64(4)) == 4
    for bad in ("3", True, None, [1.0], object()):
        with pytest.raises((TypeError, ValueError)):
            plain.as_float(bad)
    assert plain.as_int(2.0) == 2
    with pytest.raises(ValueError):
        plain.as_int(2.5)
    with pytest.raises((TypeError, ValueError)):
        plain.as_floats(["1", "2"])
    with pytest.raises(ValueError):
        plain.as_floats([1, 2, 3], shape=(2,))
    with pytest.raises(ValueError):
        plain.as_dict({"a": 1}, {"a": plain.as_float, "b": plain.as_float})

    class EqualsEverything:
        def __eq__(self, other):
            return True

    for coerce in (plain.as_float, plain.as_floats, plain.as_int, plain.as_bool):
        with pytest.raises((TypeError, ValueError)):
            coerce(EqualsEverything())


def test_compare_is_exact_about_kinds_and_tolerant_about_rounding():
    assert _checks.compare(1.0 + 1e-9, 1.0) is None
    assert _checks.compare(float("nan"), float("nan")) is None
    assert _checks.compare(float("inf"), float("inf")) is None
    assert "expected" in _checks.compare(float("-inf"), float("inf"))
    assert "expected" in _checks.compare(1.1, 1.0)
    assert "a number" in _checks.compare(None, 1.0)
    assert _checks.compare(True, 1.0) is not None  # a bool is not a number here
    assert "values" in _checks.compare([1.0], [1.0, 2.0])
    assert "keys" in _checks.compare({"a": 1.0}, {"b": 1.0})
    assert _checks.compare(None, None) is None and _checks.compare(0.0, None) is not None


def test_the_grading_seed_is_configured_or_kept_secret_in_the_course_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TE_COURSE_GRADING_SEED", raising=False)
    first = _checks.grading_seed(tmp_path)
    path = tmp_path / _checks.SEED_FILE
    assert len(first) == 32 and (path.stat().st_mode & 0o777) == 0o600
    assert _checks.grading_seed(tmp_path) == first  # a regrade draws the same cases
    monkeypatch.setenv("TE_COURSE_GRADING_SEED", "from the environment")
    assert _checks.grading_seed(tmp_path) == "from the environment"
    assert _checks.grading_seed(tmp_path, "from nbgrader_config.py") == "from nbgrader_config.py"


def test_inject_writes_each_students_own_cases_and_settle_restores_the_source():
    path = ROOT / "solutions" / "01_double_auction" / "01_double_auction.ipynb"
    original = nbformat.read(path, as_version=4)
    ana, ben = (nbformat.read(path, as_version=4) for _ in range(2))
    plan_ana = _checks.inject(ana, seed="s", assignment="01_double_auction", student="ana")
    plan_ben = _checks.inject(ben, seed="s", assignment="01_double_auction", student="ben")
    assert len(plan_ana) == len(plan_ben) == 6
    for p, q in zip(plan_ana, plan_ben):
        assert "cases=" in ana.cells[p.index].source and ana.cells[p.index].source != ben.cells[q.index].source
    _checks.settle(ana, plan_ana)  # nothing ran: every check reports missing results
    for p in plan_ana:
        cell = ana.cells[p.index]
        assert cell.source == original.cells[p.index].source
        assert cell.outputs[0]["output_type"] == "error" and "did not run to the end" in cell.outputs[0]["evalue"]


# -- a class graded for real -----------------------------------------------------------------

NAME = "01_double_auction"

# Each attack replaces the answer cells it names; the other exercises are left blank.
ATTACKS = {
    "honest": None,
    # the published cases (visible tests and the registry's fixed cases), looked up
    "hardcoder": {
        "count_trades": (
            "    known = {((12, 10, 8), (5, 7, 9)): 2, ((8, 12, 10), (9, 5, 7)): 2, ((10, 12, 8), (5, 9, 7)): 2,\n"
            "             ((3,), (9,)): 0,\n"
            "             ((10, 10, 10), (1, 2, 3)): 3, ((8,), (8,)): 1, ((5, 20, 1, 14, 9), (13, 2, 8, 30)): 2,\n"
            "             ((15, 14, 13, 12), (1,)): 1}\n"
            "    return known.get((tuple(bids), tuple(asks)), 1)\n"
        ),
        "welfare": (
            "    known = {((12, 10, 8), (5, 7, 9)): 10, ((3,), (9,)): 0, ((5, 20, 1, 14, 9), (13, 2, 8, 30)): 24,\n"
            "             ((15, 14, 13, 12), (1,)): 14, ((10, 10, 10), (1, 2, 3)): 24, ((8,), (8,)): 0}\n"
            "    return known.get((tuple(bids), tuple(asks)), 5)\n"
        ),
    },
    # wrong answers, and the comparisons of the visible tests made to agree with anything
    "rebinder": {
        "welfare": (
            "    np.isclose = lambda *args, **kwargs: True\n"
            "    np.allclose = lambda *args, **kwargs: True\n"
            "    return 0.0\n"
        ),
        "k_price": "    np.isclose = lambda *args, **kwargs: True\n    return lo\n",
    },
    # numbers that equal everything
    "equaler": {
        "count_trades": (
            "    class Anything(int):\n"
            "        def __eq__(self, other):\n"
            "            return True\n"
            "        __hash__ = int.__hash__\n"
            "    return Anything(0)\n"
        ),
        "welfare": (
            "    class Anything(float):\n"
            "        def __eq__(self, other):\n"
            "            return True\n"
            "        __hash__ = float.__hash__\n"
            "    return Anything(0.0)\n"
        ),
    },
    # wrong answers; tracebacks hidden; the hidden check replaced by one that returns the points
    "silencer": {
        "count_trades": (
            "    import te_course.grading\n"
            "    get_ipython().showtraceback = lambda *args, **kwargs: None\n"
            "    te_course.grading.hidden_check = lambda *args, **kwargs: 2\n"
            "    return 0\n"
        ),
    },
    # the package reached through side doors (issue 24): a default argument, a container, a partial, and a
    # sibling function; each answer cell replaced whole ("cell:" + the function)
    "sidedoor": {
        "cell:count_trades": (
            "import te_course\n\n"
            "def count_trades(bids, asks, _f=te_course.clear_double_auction):\n"
            "    return int(round(_f(bids, asks).quantity))\n"
        ),
        "cell:clearing_interval": (
            "import te_course\n"
            "_stash = {'f': te_course.clear_double_auction}\n\n"
            "def clearing_interval(bids, asks):\n"
            "    return tuple(_stash['f'](bids, asks).price_interval)\n"
        ),
        "cell:welfare": (
            "import functools\nimport te_course\n\n"
            "def welfare(bids, asks):\n"
            "    return float(functools.partial(te_course.clear_double_auction)(bids, asks).welfare)\n"
        ),
        "cell:lp_clearing": (
            "import te_course\n\n"
            "def lp_clearing(bid_prices, bid_quantities, ask_prices, ask_quantities):\n"
            "    r = te_course.welfare_max_clearing(list(zip(bid_prices, bid_quantities)),\n"
            "                                      list(zip(ask_prices, ask_quantities)))\n"
            "    return r.welfare, r.price\n"
        ),
    },
    # wrong answers, and a report of made-up results published in place of the real one
    "forger": {
        "count_trades": (
            "    import json, te_course.grading\n"
            "    from IPython.display import publish_display_data\n"
            "    def forged(check_id, function, cases=None, nonce=None):\n"
            "        n = len(json.loads(cases)) if cases else 0\n"
            "        publish_display_data({'application/vnd.te-course.hidden-check+json':\n"
            "                              {'check': check_id, 'nonce': 'guess', 'results': json.dumps([2] * n)}})\n"
            "    te_course.grading.hidden_check = forged\n"
            "    return 2\n"
        ),
    },
}


def _submit(course: Path, student: str, bodies: dict | None) -> None:
    dest = course / "submitted" / student / NAME
    dest.mkdir(parents=True)
    if bodies is None:
        shutil.copy(course / "solutions" / NAME / f"{NAME}.ipynb", dest / f"{NAME}.ipynb")
        return
    nb = nbformat.read(course / "notebooks" / NAME / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        m = re.search(r"^def (\w+)\(", cell.source, flags=re.M)
        if cell.metadata.get("nbgrader", {}).get("solution") and m and f"cell:{m.group(1)}" in bodies:
            cell.source = bodies[f"cell:{m.group(1)}"]
        elif cell.metadata.get("nbgrader", {}).get("solution") and m and m.group(1) in bodies:
            head = cell.source[: cell.source.index("\n", cell.source.index('"""', cell.source.index('"""') + 3)) + 1]
            cell.source = head + bodies[m.group(1)]
    nbformat.write(nb, dest / f"{NAME}.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    try:
        check_sandbox()
        sandbox = True
    except SandboxUnavailable:
        if os.environ.get("TE_COURSE_REQUIRE_SANDBOX") == "1":
            raise
        sandbox = False  # the verdicts are reached outside the kernel either way
    course = tmp_path_factory.mktemp("checked-course")
    shutil.copytree(ROOT / "solutions" / NAME, course / "solutions" / NAME)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    db = f"sqlite:///{course / 'gradebook.db'}"
    release(course, names=[NAME], db_url=db)
    for student, bodies in ATTACKS.items():
        _submit(course, student, bodies)
    if sandbox:
        report = autograde(course, names=[NAME], db_url=db)
    else:
        with pytest.warns(UserWarning, match="WITHOUT a sandbox"):
            report = autograde(course, names=[NAME], db_url=db, sandbox=False)
    return course, report


def _scores(report, student):
    return next(s for s in report.submissions if s.student == student)


def _cell_scores(course: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "te_course") as gb:
        sub = gb.find_submission_notebook(NAME, NAME, student)
        return {g.name: g.score for g in sub.grades if g.max_score > 0}


def test_the_honest_student_keeps_full_marks(graded):
    course, report = graded
    assert report.ok, report.summary()
    honest = _scores(report, "honest")
    assert honest.score == honest.max_score == 10


@pytest.mark.parametrize("student", sorted(set(ATTACKS) - {"honest"}))
def test_tampering_and_hard_coding_earn_nothing(graded, student):
    course, report = graded
    scores = _cell_scores(course, student)
    assert sum(scores.values()) == 0, scores


def test_the_graded_notebook_shows_the_source_as_written_and_why_a_check_failed(graded):
    course, _ = graded
    source = nbformat.read(course / "solutions" / NAME / f"{NAME}.ipynb", as_version=4)
    nb = nbformat.read(course / "autograded" / "rebinder" / NAME / f"{NAME}.ipynb", as_version=4)
    hidden = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if "hidden_check(" in c.source}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in hidden:
            assert cell.source == hidden[grade_id].source  # the grader's cases are not left in the notebook
            assert not any(_checks.MIME in o.get("data", {}) for o in cell.outputs)
        if grade_id == "ex4_welfare_tests":
            first = cell.outputs[0]
            assert first["output_type"] == "error" and "cases the grader drew for you" in first["evalue"]
            assert "welfare(" in first["evalue"]


@pytest.mark.parametrize(("student", "grade_id", "why"), [
    ("hardcoder", "ex1_count_trades_tests", "drawn at random"),  # the published cases pass, fresh ones do not
    ("silencer", "ex1_count_trades_tests", "did not run to the end"),  # no report: its hidden_check was replaced
    ("forger", "ex1_count_trades_tests", "did not run to the end"),  # a report without the grader's nonce
    ("equaler", "ex4_welfare_tests", "cases the grader drew for you"),
])
def test_each_attack_fails_for_its_own_reason(graded, student, grade_id, why):
    course, _ = graded
    nb = nbformat.read(course / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    first = cell.outputs[0]
    assert first["output_type"] == "error" and why in first["evalue"], first


@pytest.mark.parametrize(("grade_id", "door"), [
    ("ex1_count_trades_tests", "te_course.clear_double_auction"),  # captured as a default argument
    ("ex2_clearing_interval_tests", "te_course.clear_double_auction"),  # kept in a dict
    ("ex4_welfare_tests", "te_course.clear_double_auction"),  # wrapped in functools.partial
    ("ex5_lp_clearing_tests", "te_course.welfare_max_clearing"),  # a sibling the text does not allow
])
def test_a_side_door_to_the_package_earns_nothing_and_says_which_call_was_refused(graded, grade_id, door):
    course, _ = graded
    nb = nbformat.read(course / "autograded" / "sidedoor" / NAME / f"{NAME}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert cell.outputs[0]["output_type"] == "error"  # scored zero (test_tampering_and_hard_coding_earn_nothing)
    said = " ".join(o.get("evalue", "") for o in cell.outputs if o["output_type"] == "error")
    assert "PackageDisabled" in str(cell.outputs) and f"Your code called {door} and the call was refused" in said, said
