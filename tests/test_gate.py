"""The gate of the hidden checks (issue 24): the package answers the student's code only what the exercise allows.

For every exercise of every chapter, the solution notebook's own function is wrapped so that it
also reaches a function of the package, through each of the doors a student might try (the
name, a default argument, a container, a partial, a closure, ``getattr``, ``importlib``,
``sys.modules``, a caught refusal, a thread, code compiled under a package file name, taking
the gate down, another process).  Every such answer must fail its hidden check; the same
answer with the gate open passes, so the gate is the only reason it fails; and a function the
exercise allows passes through every door.
"""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
import threading

import pytest
from test_hidden_checks import CHECKS, _answer, _run, _solution_namespace

import te_course
from te_course._checks import gate as gate_module
from te_course.grading import PackageDisabled

# a door through a thread ends that thread with the refusal; pytest reports it, as it should
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

# what the cheats reach: a private helper, the hidden checks' own registry, a public function no exercise allows
TARGETS = [("te_course._validation", "as_finite_float", (1.0, "x")), ("te_course._checks", "get", ("ex3_k_price",)),
           ("te_course.market_power", "hhi", ([1.0, 2.0],))]


def _through(door: str, module: str, attr: str, args: tuple):
    """Return a function of no argument that calls ``module.attr(*args)`` through ``door``."""
    f = getattr(importlib.import_module(module), attr)  # taken before any hidden test runs, as a notebook would
    if door == "name":
        return lambda: getattr(importlib.import_module(module), attr)(*args)
    if door == "default argument":
        return lambda _f=f: _f(*args)
    if door == "container":
        stash = {"f": f}
        return lambda: stash["f"](*args)
    if door == "partial":
        return lambda: functools.partial(f, *args)()
    if door == "closure":
        def outer(g):
            return lambda: g(*args)
        return outer(f)
    if door == "getattr":
        return lambda: getattr(sys.modules[module], attr)(*args)
    if door == "importlib":
        return lambda: getattr(importlib.import_module(module), attr)(*args)
    if door == "sys.modules":
        return lambda: vars(sys.modules[module])[attr](*args)
    if door == "caught":
        def caught():
            try:
                f(*args)
            except Exception:  # noqa: BLE001  (the student hides the refusal)
                pass
            return f(*args)
        return caught
    if door == "thread":
        def threaded():
            out = []
            t = threading.Thread(target=lambda: out.append(f(*args)))
            t.start()
            t.join()
            return out[0]
        return threaded
    if door == "compiled as the package":
        namespace = {"f": f, "args": args}
        exec(compile("def faked():\n    return f(*args)\n", te_course.auction.__file__, "exec"), namespace)  # noqa: S102
        return namespace["faked"]
    if door == "gate taken down":
        def down():
            sys.setprofile(None)
            return f(*args)
        return down
    if door == "another process":
        code = f"import {module} as m; print(m.{attr}(*{args!r}))"
        return lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    raise ValueError(door)


DOORS = ["name", "default argument", "container", "partial", "closure", "getattr", "importlib", "sys.modules", "caught",
         "thread", "compiled as the package", "gate taken down", "another process"]


def _cheat(honest, reach):
    """The solution's function, which first reaches the package through ``reach`` (and ignores what it gets)."""
    if isinstance(honest, tuple):  # an answer made of values: none is callable
        pytest.skip("an answer that is values, not a function")

    def cheat(*args, **kwargs):
        reach()
        return honest(*args, **kwargs)

    return cheat


@pytest.mark.parametrize("check_id", sorted(CHECKS))
@pytest.mark.parametrize("door", DOORS)
def test_reaching_the_package_through_any_door_fails_the_hidden_check(check_id, door):
    check = CHECKS[check_id]
    namespace = _solution_namespace(check.chapter)
    module, attr, args = TARGETS[DOORS.index(door) % len(TARGETS)]
    cheat = _cheat(_answer(check, namespace), _through(door, module, attr, args))
    with pytest.raises(PackageDisabled, match="and the call was refused.*switched off while it is graded"):
        _run(check, cheat, "doors", namespace)
    assert sys.getprofile() is None and threading._profile_hook is None  # noqa: SLF001  (the gate is down after)


def test_nothing_in_the_kernel_switches_the_gate_to_recording(monkeypatch, tmp_path):
    """Student code shares the kernel's environment: no variable may turn the refusals into notes."""
    for name in ("TE_COURSE_GATE_RECORD", "TE_COURSE_GATE", "TE_COURSE_GRADING"):
        monkeypatch.setenv(name, str(tmp_path / "log"))
    check = CHECKS["ex1_count_trades"]
    namespace = _solution_namespace(check.chapter)
    cheat = _cheat(_answer(check, namespace), _through("default argument", "te_course.market_power", "hhi", ([1.0],)))
    with pytest.raises(PackageDisabled):
        _run(check, cheat, "doors", namespace)


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_the_same_cheat_passes_with_the_gate_open(check_id, monkeypatch):
    """The control of the test above: without the gate the cheats earn full marks, so the gate is what stops them."""
    monkeypatch.setattr(gate_module.Gate, "__call__", lambda self, frame, event, arg: None)
    check = CHECKS[check_id]
    namespace = _solution_namespace(check.chapter)
    for module, attr, args in TARGETS:
        assert _run(check, _cheat(_answer(check, namespace), _through("default argument", module, attr, args)),
                    "doors", namespace) == []


@pytest.mark.parametrize("door", ["name", "default argument", "partial", "thread"])
def test_a_function_the_exercise_allows_passes_through_every_door(door):
    check = CHECKS["ex3b_attack_damage"]  # its text lets students clear the market with te_course
    assert "clear_double_auction" in check.allowed
    namespace = _solution_namespace(check.chapter)
    reach = _through(door, "te_course.auction", "clear_double_auction", ([12.0, 10.0], [5.0, 9.0]))
    assert _run(check, _cheat(_answer(check, namespace), reach), "doors", namespace) == []


def test_the_gate_names_the_refused_call_and_what_the_exercise_allows():
    gate = gate_module.Gate(("ac_power_flow",))
    assert "te_course.ac_power_flow" in gate.allowed_words() and "feeders" in gate.allowed_words()
    with pytest.raises(PackageDisabled, match=r"called te_course\.hhi and .*allows only te_course\.ac_power_flow"):
        with gate_module.gated(("ac_power_flow",)):
            te_course.hhi([1.0, 2.0])
    with gate_module.gated(("hhi",)):  # allowed: passes, and the package's own calls inside it too
        assert te_course.hhi([1.0, 1.0]) == 5000.0


def test_every_name_an_exercise_allows_is_a_function_or_class_of_the_package():
    codes = gate_module.package_names()
    known = {name for _, names in codes.values() for name in names}
    for check_id, check in CHECKS.items():
        for name in check.allowed:
            assert any(k == name or k.startswith(name + ".") for k in known), (check_id, name)


def _markdown(chapter: str) -> str:
    import nbformat
    from test_hidden_checks import ROOT

    nb = nbformat.read(next((ROOT / "solutions" / chapter).glob("*.ipynb")), as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("chapter", sorted({c.chapter for c in CHECKS.values()}))
def test_each_chapter_tells_students_what_the_package_answers_while_they_are_graded(chapter):
    text = " ".join(_markdown(chapter).split())
    assert "While the hidden tests run your code, `te_course` answers" in text, chapter
    assert "whatever route" in text and "the test scores zero" in text, chapter
    for check in (c for c in CHECKS.values() if c.chapter == chapter):
        for name in check.allowed:
            if not name.startswith("_") and name[0].islower() and check.id != "ex5_audit":  # ex5: what it is given
                assert f"tc.{name}" in text, (check.id, name)
