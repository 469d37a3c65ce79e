"""Every exercise's visible tests fail its plausible wrong answers with a pointed message (issue 25).

The wrong answers and the runner are in ``tests/wrong_answers.py`` (``python
tests/wrong_answers.py`` prints the table of the README).  Each chapter's solution notebook
is executed once, in-process; each wrong answer then replaces the exercise's function and
runs against the visible tests of its test cell and against its hidden check.
"""

from __future__ import annotations

import functools

import pytest
import wrong_answers as wa


@functools.cache
def _outcomes(chapter: str) -> tuple:
    return tuple(wa.outcomes(chapter))


CHAPTERS = wa.chapters()


def test_every_exercise_of_every_chapter_has_its_wrong_answers():
    exercises = {check_id for chapter in CHAPTERS for check_id, _, _ in wa.exercises(chapter)}
    from te_course._checks import all_checks

    assert exercises == set(all_checks()), "an exercise without a hidden check, or a check without an exercise"
    assert set(wa.SLIPS) <= exercises, f"slips of exercises that do not exist: {set(wa.SLIPS) - exercises}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_has_its_classic_slips_and_every_edit_still_applies(chapter):
    for check_id, function, _, solution in wa.exercise_cells(chapter):
        assert wa.SLIPS.get(check_id), f"{check_id} has only the stubs: list its classic slips in SLIPS"
        for label in wa.SLIPS[check_id]:
            source = wa.slip_source(check_id, label, solution)  # LookupError when the solution changed
            assert source != solution and f"def {function}(" in source, (check_id, label)


def test_an_edit_that_no_longer_matches_the_solution_says_so():
    slip = wa.edit("return x", "return -x")
    assert slip.apply("def f(x):\n    return x\n") == "def f(x):\n    return -x\n"
    with pytest.raises(LookupError, match="occurs 0 times"):
        slip.apply("def f(x):\n    return 2 * x\n")
    with pytest.raises(LookupError, match="occurs 2 times"):
        slip.apply("def f(x):\n    return x\n\ndef g(x):\n    return x\n")
    with pytest.raises(ValueError, match="pairs"):
        wa.edit("return x")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_visible_tests_fail_every_wrong_answer_with_a_message_that_points_at_it(chapter):
    missed = [f"{o.check_id} ({o.label}): {o.visible_why[:200]}" for o in _outcomes(chapter) if o.visible is None]
    assert not missed, "the visible tests let these through, or fail them without a pointed message:\n" + "\n".join(
        missed)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_hidden_check_fails_every_wrong_answer_too(chapter):
    passed = [f"{o.check_id} ({o.label})" for o in _outcomes(chapter) if not o.hidden]
    assert not passed, f"the hidden checks pass these wrong answers: {passed}"


def test_the_readme_table_is_the_one_the_runner_prints():
    readme = (wa.ROOT / "README.md").read_text()
    found = wa.table([o for chapter in CHAPTERS for o in _outcomes(chapter)])
    assert found in readme, f"README.md's table of wrong answers is out of date; at this commit it reads:\n{found}"


def test_the_runner_tells_a_pointed_message_from_a_crash_and_from_a_pass():
    namespace = {"np": __import__("numpy")}
    visible = 'x = f()\nassert isinstance(x, int), f"return an int; got {type(x).__name__}"\nassert x == 2, "two"\n'
    assert wa.visible_verdict(visible, "f", lambda: None, namespace) == ("return an int; got NoneType",
                                                                         "return an int; got NoneType")
    assert wa.visible_verdict(visible, "f", lambda: 2, namespace) == (None, "passed")
    message, why = wa.visible_verdict("assert f() + 1 == 3\n", "f", lambda: None, namespace)
    assert message is None and why.startswith("TypeError")  # a crash inside the test is not a pointed message
    message, why = wa.visible_verdict("assert f() == 3\n", "f", lambda: None, namespace)
    assert message is None and "bare AssertionError" in why
