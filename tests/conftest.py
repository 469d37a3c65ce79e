"""Split of the suite between the course's two environments.

``make test`` runs the suite in ``.venv``, installed from the students' lock
(``binder/requirements.txt``), with ``-m "not oracle"``, and the tests that compare
with pandapower in ``.venv-dev`` (the ``[dev]`` extra) with ``-m oracle``: pandapower
holds pandas below 3, which the students' lock does not.  A test is an oracle test
when it asks for one of the pandapower fixtures below, directly or through another
fixture.
"""

from __future__ import annotations

import pytest

# The fixtures of tests/ that import pandapower (each skips where it is missing).
ORACLE_FIXTURES = {"pp", "pp_networks"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if ORACLE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.oracle)


def pytest_configure(config):
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
    """The fuzz suite's counts (tests/test_fuzz.py), when it ran in this process (not under xdist)."""
    import sys

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
