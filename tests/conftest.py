"""Split of the suite between the course's two environments.

``make test`` runs the suite in ``.venv``, installed from the students' lock
(``binder/requirements.txt``), with ``-m "not oracle"``, and the tests that compare
with pandapower in ``.venv-dev`` (the ``[dev]`` extra) with ``-m oracle``: pandapower
holds pandas below 3, which the students' lock does not.  A test is an oracle test
when it asks for one of the pandapower fixtures below, directly or through another
fixture.
"""

from __future__ import annotations

import os

import pytest

_NO_SANDBOX = pytest.StashKey[str]()

# The fixtures of tests/ that import pandapower (each skips where it is missing).
ORACLE_FIXTURES = {"pp", "pp_networks"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if ORACLE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.oracle)


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """``executed_notebook(path)``: the notebook run once in this session, shared by every test and xdist worker.

    See tests/executed.py.  The folder is this run's base temporary folder, which pytest-xdist's
    workers share (each worker's own is a subfolder of it), so every run executes afresh.
    """
    from executed import executed

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / "executed-notebooks"
    return lambda path: executed(path, folder)


def _sandbox_missing() -> str:
    """Why autograding's sandbox cannot run here ("" when it can)."""
    try:
        from te_course._sandbox import SandboxUnavailable, check_sandbox
    except ImportError:  # nbgrader missing: no grading test runs anyway
        return ""
    try:
        check_sandbox()
    except SandboxUnavailable as exc:
        return str(exc)
    return ""


def pytest_configure(config):
    # Grading tests sandbox every kernel (bubblewrap).  Where it is missing they grade without it
    # and say so at the end, except under TE_COURSE_REQUIRE_SANDBOX=1 (.ci/run), where the
    # sandbox tests fail instead of skipping.
    if os.environ.get("TE_COURSE_REQUIRE_SANDBOX") != "1" and "TE_COURSE_NO_SANDBOX" not in os.environ:
        reason = _sandbox_missing()
        if reason:
            os.environ["TE_COURSE_NO_SANDBOX"] = "1"
            config.stash[_NO_SANDBOX] = reason
    config.addinivalue_line("markers", "oracle: compares with pandapower; runs in .venv-dev (`-m oracle`)")
    if config.option.markexpr.strip() == "oracle":
        try:
            import pandapower  # noqa: F401
        except ImportError as exc:  # the oracle tests would all skip: say so instead
            raise pytest.UsageError(
                "`-m oracle` runs the comparisons with pandapower, which is not installed here; "
                "use the [dev] extra (`make test` builds .venv-dev with it)."
            ) from exc


def pytest_terminal_summary(terminalreporter):
    """Say when grading ran without its sandbox; the fuzz suite's counts (when not under xdist)."""
    import sys

    reason = terminalreporter.config.stash.get(_NO_SANDBOX, "")
    if reason:
        terminalreporter.write_line(f"autograding was tested WITHOUT its sandbox here: {reason}", yellow=True)

    fuzzing = sys.modules.get("fuzzing")
    if fuzzing is None or not fuzzing.COUNTS["calls"]:
        return
    c = fuzzing.COUNTS
    terminalreporter.write_line(
        f"fuzz suite: {c['functions']} callables, {c['calls']} calls: {c['error']} clear errors, "
        f"{c['result']} sound results, {c['broken']} broken contracts"
    )
    found = getattr(sys.modules.get("test_fuzz"), "FOUND", [])
    for name, changed, message in sorted(set(found)):
        terminalreporter.write_line(f"  {name}({changed}=...): {message}")
