"""Hidden checks whose verdict the grader reaches outside the student's kernel.

The course is public, hidden tests included: a student can read every fixed case
that a hidden test tries.  Each exercise's hidden test is therefore one line,
``hidden_check("ex1_count_trades", count_trades)``, naming a :class:`Check`
registered here (one module per chapter, ``ch01.py`` ... ``ch09.py``).  A check
holds fixed edge cases, a way to draw fresh random cases, the package's reference
answer, and how to turn the student's result into plain numbers.

**While an instructor or a student runs the notebook** (``make test``, Validate),
:func:`run_in_kernel` draws the cases from a fixed seed, calls the student's
function on each with the package's own version switched off
(:func:`te_course.grading.package_disabled`), and compares the results with the
reference in the same kernel.

**While a submission is graded** (``python -m te_course.grading autograde`` and the
course's ``nbgrader_config.py``), the sandboxed ``Execute`` preprocessor
(:class:`te_course._sandbox.SandboxedExecute`) calls :func:`inject` before the
kernel starts and :func:`settle` after it stops, both in the grader's process:

1. :func:`inject` draws each check's cases from the instructor's secret seed (see
   :func:`grading_seed`), mixed with the assignment, the student and the check, and
   writes them into the cell as a literal, with a random nonce;
2. in the kernel the hidden test only calls the student's function on those cases
   and publishes the results, coerced to plain numbers (JSON), as a display output;
3. :func:`settle` computes the reference answers in the grader's process, compares
   them with the published results, and puts an error output first in the cell when
   anything is wrong or missing, which nbgrader scores as zero.

So knowing the published hidden tests gives no answers (the cases are new for every
student and every seed), an object that claims to equal everything cannot be turned
into numbers, and nothing the student's code does inside its kernel (rebinding
``np.isclose``, hiding tracebacks, a cell that returns a score) changes the verdict.
While the student's function runs, :mod:`te_course._checks.gate` refuses every call of
the package that the exercise does not allow (:attr:`Check.allowed`), however the
function was reached (issue 24).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Check",
    "case",
    "register",
    "get",
    "all_checks",
    "draw_cases",
    "case_rng",
    "run_in_kernel",
    "compare",
    "verify",
    "grading_seed",
    "inject",
    "settle",
    "MIME",
    "HIDDEN_CALL",
]

MIME = "application/vnd.te-course.hidden-check+json"
"""The MIME type of the display output in which a graded kernel publishes its results."""

HIDDEN_CALL = re.compile(r'hidden_check\(\s*"(?P<id>\w+)"\s*,\s*(?P<function>[A-Za-z_]\w*|\([A-Za-z_][\w, ]*\))\s*\)')
"""How a hidden test calls a check, on one line: ``hidden_check("ex1_count_trades", count_trades)``, or
with a tuple of names for an exercise whose answer is values (``hidden_check("ex1_x", (my_index, my_report))``)."""

DEVELOPMENT_SEED = "te_course development"
"""The seed of the cases drawn when a notebook is run outside grading (public, fixed)."""

SEED_FILE = ".grading_seed"
"""The file in the course folder that keeps the seed an instructor did not set (mode 600)."""



def case(*args, **kwargs) -> dict:
    """One call of the student's function: positional and keyword arguments (JSON data)."""
    return {"args": list(args), "kwargs": dict(kwargs)}


def _default_call(function, *args, **kwargs) -> object:
    return function(*args, **kwargs)


def _default_build(*args, **kwargs) -> tuple:
    return args, kwargs


@dataclass(frozen=True)
class Check:
    """The hidden test of one exercise.

    Parameters
    ----------
    id : str
        The ``grade_id`` of the exercise's test cell without ``_tests``
        (``"ex1_count_trades"``).
    function : str
        The name of the function the student writes, for messages.
    disabled : tuple of str
        ``te_course`` names switched off while the student's function runs.
    expected : callable
        The reference, called in the grader's process with a case's (built)
        arguments; returns plain data (numbers, lists, dicts, None).
    plain : callable
        Turns the student's result into plain data, in the kernel.  It must
        reject what is not a number where a number is due (``float(x)``, not
        ``x == y``), so that an object which equals everything earns nothing.
    fixed : sequence of dict
        Edge cases (made with :func:`case`) that every run checks.
    draw : callable, optional
        ``draw(rng) -> case``: one random case; ``None`` for an exercise whose
        answer is a value, not a function.
    n_random : int
        How many random cases each run draws.
    build : callable
        ``build(*args, **kwargs) -> (args, kwargs)``: turns a case's JSON data into
        the objects the function takes (a feeder from its parameters, say); used
        on both sides.
    call : callable
        ``call(function, *args, **kwargs)``: how the student's function is called
        (default: directly); for an exercise whose answer is a piece of a model.
    compare : callable
        ``compare(got, want) -> str | None``: why ``got`` is wrong, or None;
        :func:`compare` with ``rtol`` and ``atol`` by default.
    rtol, atol : float
        The tolerances of the default comparison.
    allowed : tuple of str
        The ``te_course`` names the student's function may call while it is graded
        (``"ac_power_flow"``; a class allows its methods); every other call of the
        package is refused (:mod:`te_course._checks.gate`).  ``disabled`` names are
        switched off as well, so that their message is the exercise's own.
    """

    id: str
    function: str
    disabled: tuple[str, ...]
    expected: Callable[..., Any]
    plain: Callable[[Any], Any]
    fixed: Sequence[dict] = ()
    draw: Callable[[np.random.Generator], dict] | None = None
    n_random: int = 5
    build: Callable[..., tuple[tuple, dict]] = _default_build
    call: Callable[..., Any] = _default_call
    compare: Callable[[Any, Any], str | None] | None = None
    rtol: float = 1e-6
    atol: float = 1e-6
    chapter: str = field(default="", compare=False)
    allowed: tuple[str, ...] = ()

    def judge(self, got, want) -> str | None:
        """Why ``got`` differs from ``want``, or None when it is right."""
        if self.compare is not None:
            return self.compare(got, want)
        return compare(got, want, rtol=self.rtol, atol=self.atol)


_REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    """Add ``check`` to the registry (each id once)."""
    if check.id in _REGISTRY and _REGISTRY[check.id] is not check:
        raise ValueError(f"a hidden check named {check.id!r} is already registered")
    _REGISTRY[check.id] = check
    return check


def _load_all() -> None:
    """Import every chapter's module (``ch01.py`` ...), which registers its checks."""
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{module.name}")


def get(check_id: str) -> Check:
    """Return the registered check ``check_id``; raise KeyError naming the known ones."""
    if check_id not in _REGISTRY:
        _load_all()
    try:
        return _REGISTRY[check_id]
    except KeyError:
        raise KeyError(f"no hidden check named {check_id!r}; known: {sorted(_REGISTRY)}") from None


def all_checks() -> dict[str, Check]:
    """Every registered check, by id."""
    _load_all()
    return dict(_REGISTRY)


# -- cases -------------------------------------------------------------------------------


def _jsonable(value) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"a hidden check's data must be numbers, text, lists or dicts; got {type(value).__name__}")


def dumps(value) -> str:
    """JSON text of plain data (NaN and infinities allowed, as Python's json writes them)."""
    return json.dumps(_jsonable(value))


def case_rng(seed: str, assignment: str, student: str, check_id: str) -> np.random.Generator:
    """Return the generator of one check for one student: a hash of all four, so no two share cases."""
    digest = hashlib.sha256("\x1f".join((seed, assignment, student, check_id)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def draw_cases(check: Check, rng: np.random.Generator) -> list[dict]:
    """Return the fixed cases of ``check`` and ``check.n_random`` drawn with ``rng``, as JSON data."""
    cases = list(check.fixed)
    if check.draw is not None:
        cases += [check.draw(rng) for _ in range(check.n_random)]
    return json.loads(dumps(cases))


def _describe(check: Check, one: dict, limit: int = 400) -> str:
    if check.function.startswith("("):  # an answer that is values: nothing was called
        return check.function
    parts = [json.dumps(a) for a in one.get("args", [])]
    parts += [f"{k}={json.dumps(v)}" for k, v in one.get("kwargs", {}).items()]
    text = f"{check.function}({', '.join(parts)})"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- comparing ---------------------------------------------------------------------------


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compare(got, want, *, rtol: float = 1e-6, atol: float = 1e-6, where: str = "") -> str | None:
    """Why the plain data ``got`` differs from ``want``, or None.

    Numbers agree within ``atol + rtol * |want|`` (NaN matches NaN, an infinity
    itself); booleans, text and None must be equal; lists must have the same
    length and dicts the same keys, compared item by item.
    """
    at = f" at {where}" if where else ""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        if type(got) is not type(want) or got != want:
            return f"got {got!r}{at}, expected {want!r}"
        return None
    if _is_number(want):
        if not _is_number(got):
            return f"got {got!r}{at}, expected a number"
        g, w = float(got), float(want)
        if math.isnan(w):
            return None if math.isnan(g) else f"got {g!r}{at}, expected nan"
        if math.isinf(w) or math.isinf(g) or math.isnan(g):
            return None if g == w else f"got {g!r}{at}, expected {w!r}"
        if abs(g - w) <= atol + rtol * abs(w):
            return None
        return f"got {g!r}{at}, expected {w!r}"
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"got {got!r}{at}, expected a list of {len(want)}"
        if len(got) != len(want):
            return f"got {len(got)} values{at}, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            why = compare(g, w, rtol=rtol, atol=atol, where=f"{where}[{i}]")
            if why:
                return why
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            keys = sorted(got) if isinstance(got, dict) else got
            return f"got {keys!r}{at}, expected the keys {sorted(want)}"
        for k in want:
            why = compare(got[k], want[k], rtol=rtol, atol=atol, where=f"{where}[{k!r}]")
            if why:
                return why
        return None
    raise TypeError(f"cannot compare with {type(want).__name__}")


# -- the kernel's side -------------------------------------------------------------------


def _results(check: Check, function, cases: list[dict], namespace: dict | None) -> list:
    """Return the student's results on ``cases``, coerced to plain data, with the package switched off."""
    from te_course._checks.gate import gated
    from te_course.grading import package_disabled

    if check.call is _default_call and not callable(function):
        raise AssertionError(f"{check.function} should be a function; got {type(function).__name__}")
    results = []
    for one in cases:
        args, kwargs = check.build(*one["args"], **one["kwargs"])
        guard = gated(check.allowed)  # reads the package's code before names are switched off
        with package_disabled(*check.disabled, namespace=namespace), guard:
            raw = check.call(function, *args, **kwargs)
        try:
            results.append(_jsonable(check.plain(raw)))
        except (TypeError, ValueError, OverflowError) as err:
            raise AssertionError(
                f"{_describe(check, one)} returned {type(raw).__name__}, which is not the kind of result asked for "
                f"({err})") from None
    return results


def verify(check: Check, cases: list[dict], results) -> list[str]:
    """Every reason why ``results`` are not the reference answers on ``cases`` (empty when right)."""
    if not isinstance(results, list) or len(results) != len(cases):
        return [f"the hidden check {check.id} expected {len(cases)} results"]
    failures = []
    for i, (one, got) in enumerate(zip(cases, results)):
        args, kwargs = check.build(*one["args"], **one["kwargs"])
        want = json.loads(dumps(check.expected(*args, **kwargs)))
        why = check.judge(got, want)
        if why:
            kind = "fixed" if i < len(check.fixed) else "drawn at random"
            failures.append(f"{_describe(check, one)} (case {i + 1} of {len(cases)}, {kind}): {why}")
    return failures


def run_in_kernel(check_id: str, function, *, cases: str | None = None, nonce: str | None = None,
                  namespace: dict | None = None) -> None:
    """Run a check in the notebook's kernel (what ``te_course.grading.hidden_check`` does).

    Without ``cases`` (a notebook run outside grading) the cases are drawn from
    :data:`DEVELOPMENT_SEED` and compared here; an AssertionError names the first
    wrong one.  With ``cases`` (JSON text written into the cell by :func:`inject`)
    the results are only published, for the grader to judge.
    """
    check = get(check_id)
    if cases is None:
        drawn = draw_cases(check, case_rng(DEVELOPMENT_SEED, "", "", check_id))
        failures = verify(check, drawn, json.loads(dumps(_results(check, function, drawn, namespace))))
        if failures:
            more = f" ({len(failures) - 1} more cases are wrong too)" if len(failures) > 1 else ""
            raise AssertionError(f"hidden check {check_id}: {failures[0]}{more}")
        return
    from IPython.display import publish_display_data

    results = _results(check, function, json.loads(cases), namespace)
    publish_display_data({MIME: {"check": check_id, "nonce": nonce, "results": dumps(results)}})


# -- the grader's side -------------------------------------------------------------------


def grading_seed(course_root: Path | str | None = None, configured: str = "") -> str:
    """Return the instructor's secret seed of the grading cases.

    In order: ``configured`` (``c.HiddenChecks.seed`` in ``nbgrader_config.py``),
    the environment variable ``TE_COURSE_GRADING_SEED``, else the file
    ``.grading_seed`` in the course folder, written with a fresh random seed
    (mode 600) the first time a submission is graded, so that a regrade draws the
    same cases.  The sandbox hides the course folder, so student code cannot read it.
    """
    if configured:
        return str(configured)
    env = os.environ.get("TE_COURSE_GRADING_SEED", "")
    if env:
        return env
    root = Path(course_root) if course_root is not None else Path.cwd()
    path = root / SEED_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(16) + "\n")
    return path.read_text().strip()


@dataclass
class _Planned:
    index: int
    source: str
    calls: list  # (check, cases, nonce)


def _grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")


def inject(nb, *, seed: str, assignment: str, student: str) -> list[_Planned]:
    """Write the grading cases of every hidden check into its cell (in place); return the plan for :func:`settle`."""
    plan = []
    for index, cell in enumerate(nb.cells):
        if not _is_test_cell(cell) or "hidden_check(" not in cell.source:
            continue
        calls = []

        def replace(m, calls=calls) -> str:
            check = get(m["id"])
            cases = draw_cases(check, case_rng(seed, assignment, student, check.id))
            nonce = secrets.token_hex(8)
            calls.append((check, cases, nonce))
            return f'hidden_check("{check.id}", {m["function"]}, cases={json.dumps(dumps(cases))}, nonce="{nonce}")'

        source = cell.source
        cell.source = HIDDEN_CALL.sub(replace, source)
        plan.append(_Planned(index, source, calls))
    return plan


def _error(message: str) -> dict:
    from nbformat.v4 import new_output

    return new_output("error", ename="AssertionError", evalue=message, traceback=[f"AssertionError: {message}"])


def settle(nb, plan: list[_Planned]) -> None:
    """Judge the published results of every planned check (in place).

    Restores each cell's source, removes the reports, and where a check is wrong,
    missing, or reported twice, puts an error output first in the cell (nbgrader
    then scores it zero); results that claim points (``execute_result``) are dropped.
    """
    for planned in plan:
        cell = nb.cells[planned.index]
        cell.source = planned.source
        reports = [o for o in cell.get("outputs", [])
                   if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
        kept = [o for o in cell.get("outputs", []) if o not in reports and o.get("output_type") != "execute_result"]
        failures = []
        for check, cases, nonce in planned.calls:
            mine = [r["data"][MIME] for r in reports if r["data"][MIME].get("check") == check.id]
            genuine = [r for r in mine if r.get("nonce") == nonce]
            if len(mine) != 1 or len(genuine) != 1:
                failures.append(f"hidden check {check.id}: {check.function} did not run to the end on the grader's "
                                f"cases (reports found: {len(mine)})")
                continue
            try:
                results = json.loads(genuine[0]["results"])
            except (TypeError, ValueError):
                failures.append(f"hidden check {check.id}: its report could not be read")
                continue
            wrong = verify(check, cases, results)
            if wrong:
                more = f" ({len(wrong) - 1} more cases are wrong too)" if len(wrong) > 1 else ""
                failures.append(f"hidden check {check.id}, on cases the grader drew for you: {wrong[0]}{more}")
        cell.outputs = ([_error("; ".join(failures))] if failures else []) + kept
