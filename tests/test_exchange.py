"""Collect takes only what each student handed in themselves, and names every forgery (te_course/_exchange.py).

An exchange is laid out as nbgrader's submit leaves it: ``inbound/STUDENT+ASSIGNMENT+TIMESTAMP+RANDOM``.
The owner of each folder is the proof of who handed it in.  In the first tests the
owners are given (the test replaces the lookup, so they run as any user); the last one, as
root, gives a folder to another account for real and runs ``nbgrader collect`` itself.  The
test on a real hub with Linux accounts is tests/hub/test_hub.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from te_course import _exchange, grading

ROOT = Path(__file__).resolve().parent.parent
A = "01_double_auction"


def _stamp(minute: int) -> str:
    return f"2026-12-01 10:{minute:02d}:00.000000 UTC"


@pytest.fixture
def course(tmp_path):
    """A course folder with the course's config, and an exchange whose inbound folder holds submissions."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    exchange = tmp_path / "exchange"
    (exchange / "te_course" / "inbound").mkdir(parents=True)
    return root, exchange


def _hand_in(exchange: Path, claimed: str, minute: int, text: str) -> str:
    """A submission as nbgrader submit writes it, under the name ``claimed``; returns its folder's name."""
    name = f"{claimed}+{A}+{_stamp(minute)}+r{minute}"
    folder = exchange / "te_course" / "inbound" / name
    folder.mkdir()
    (folder / "timestamp.txt").write_text(_stamp(minute))
    (folder / f"{A}.ipynb").write_text(text)
    return name


def _collect(root: Path, exchange: Path) -> dict:
    """Collect as the formgrader's Collect button does (nbgrader's API), with the course's configuration."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    grading._venv_on_path()  # nbgrader runs alembic from there to create the gradebook
    config = grading._course_config(root)
    config.CourseDirectory.root = str(root)
    config.Exchange.root = str(exchange)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        return api.collect(A)
    finally:
        os.chdir(cwd)


def _collected(root: Path) -> dict[str, str]:
    return {p.parent.name: (p / f"{A}.ipynb").read_text() for p in (root / "submitted").glob(f"*/{A}")}


@pytest.fixture
def owners(monkeypatch):
    """Who owns each inbound folder, by the folder's name (instead of the file system's owner)."""
    table: dict[str, str] = {}
    monkeypatch.setattr(_exchange, "owner_of", lambda path: table[os.path.basename(path)])
    return table


def test_the_course_configures_the_checked_collect(course):
    config = grading._course_config(course[0])
    assert config.ExchangeFactory.collect is _exchange.CheckedCollect


def test_honest_submissions_are_collected_latest_first(course, owners):
    root, exchange = course
    owners[_hand_in(exchange, "ann", 1, "ann's first")] = "ann"
    owners[_hand_in(exchange, "ann", 5, "ann's second")] = "ann"
    owners[_hand_in(exchange, "ben", 3, "ben's")] = "ben"
    result = _collect(root, exchange)
    assert result["success"], result
    assert _collected(root) == {"ann": "ann's second", "ben": "ben's"}


def test_a_later_forgery_is_not_collected_and_is_named(course, owners):
    root, exchange = course
    owners[_hand_in(exchange, "ann", 1, "ann's own work")] = "ann"
    owners[_hand_in(exchange, "ben", 2, "ben's own work")] = "ben"
    forged = _hand_in(exchange, "ann", 9, "an empty notebook, handed in by ben as ann")
    owners[forged] = "ben"
    only_forged = _hand_in(exchange, "cat", 4, "handed in by ben as cat")
    owners[only_forged] = "ben"
    result = _collect(root, exchange)
    assert not result["success"], "a forgery must fail the collect, not only be logged"
    assert f"{forged}: claims to be ann's, but ben owns it" in result["error"]
    assert f"{only_forged}: claims to be cat's, but ben owns it" in result["error"]
    assert "2 submission(s)" in result["error"] and "NOT collected" in result["error"]
    # ann's genuine work is collected in place of the later forgery; cat handed in nothing of their own
    assert _collected(root) == {"ann": "ann's own work", "ben": "ben's own work"}


def test_a_hub_where_one_account_owns_everything_is_told_to_switch_the_check_off(course, owners):
    root, exchange = course
    for minute, student in enumerate(("ann", "ben", "cat")):
        owners[_hand_in(exchange, student, minute, f"{student}'s")] = "jovyan"
    result = _collect(root, exchange)
    assert not result["success"]
    assert "is owned by jovyan" in result["error"] and "check_owner = False" in result["error"]
    assert not (root / "submitted").exists() or _collected(root) == {}


def test_check_owner_off_collects_as_nbgrader_does(course, owners):
    root, exchange = course
    (root / "nbgrader_config.py").write_text(
        (root / "nbgrader_config.py").read_text() + "\nc.ExchangeCollect.check_owner = False\n")
    owners[_hand_in(exchange, "ann", 1, "first")] = "ann"
    owners[_hand_in(exchange, "ann", 2, "second")] = "ben"
    assert _collect(root, exchange)["success"]
    assert _collected(root) == {"ann": "second"}


@pytest.mark.skipif(os.geteuid() != 0, reason="gives a folder to another account: needs root")
def test_nbgrader_collect_exits_with_1_on_a_real_forgery(course):
    root, exchange = course
    _hand_in(exchange, "root", 1, "root's own work")
    forged = _hand_in(exchange, "root", 2, "handed in by nobody as root")
    subprocess.run(["chown", "-R", "nobody", exchange / "te_course" / "inbound" / forged], check=True)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    proc = subprocess.run([nbgrader, "collect", A, f"--Exchange.root={exchange}"], cwd=root,
                          capture_output=True, text=True,
                          env=dict(os.environ, PATH=f"{nbgrader.parent}{os.pathsep}{os.environ['PATH']}"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{forged}: claims to be root's, but nobody owns it" in proc.stderr
    assert _collected(root) == {"root": "root's own work"}


def test_grading_reads_the_system_wide_configuration_as_nbgrader_does(course, tmp_path, monkeypatch):
    """A hub's system-wide nbgrader_config.py sets the exchange; the course's grading (and its sandbox) see it."""
    system = tmp_path / "etc-jupyter"
    system.mkdir()
    (system / "nbgrader_config.py").write_text(
        "c = get_config()\nc.Exchange.root = '/srv/elsewhere/exchange'\nc.CourseDirectory.course_id = 'other'\n")
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(system))
    config = grading._course_config(course[0])
    assert config.Exchange.root == "/srv/elsewhere/exchange"
    assert config.CourseDirectory.course_id == "te_course", "the course's own file overrides the system's"


@pytest.mark.skipif(os.geteuid() != 0, reason="gives folders to other uids: needs root")
def test_on_kubernetes_the_uid_of_the_name_is_the_proof(course):
    """hub/kubernetes/values.yaml runs each pod as uid_of(user): collect checks folders against that."""
    root, exchange = course
    (root / "nbgrader_config.py").write_text(
        (root / "nbgrader_config.py").read_text() + "\nc.CheckedCollect.owners = 'uid_of_name'\n")
    inbound = exchange / "te_course" / "inbound"
    own = _hand_in(exchange, "ann", 1, "ann's own work")
    forged = _hand_in(exchange, "ann", 2, "handed in by ben as ann")
    os.chown(inbound / own, _exchange.uid_of("ann"), 100)
    os.chown(inbound / forged, _exchange.uid_of("ben"), 100)
    result = _collect(root, exchange)
    assert not result["success"]
    assert f"{forged}: claims to be ann's, but uid {_exchange.uid_of('ben')}" in result["error"]
    assert _collected(root) == {"ann": "ann's own work"}
