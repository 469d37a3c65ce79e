"""A real JupyterHub with the course: one instructor and three students as Linux accounts of their own.

Run by ``make test-hub`` as root (it creates and removes the accounts); pyproject.toml keeps
``tests/hub`` out of ``make test``.  The hub is hub/jupyterhub_config.py, bound to 127.0.0.1 on
free ports, with the configurable-http-proxy that ``npm ci`` installs into hub/node_modules, and a
Python environment that every account can read (the students' lock plus jupyterhub, built from
the system's Python in a world-readable scratch folder, with the course installed from a clean
copy of this tree, and hub/system_nbgrader_config.py as its system-wide nbgrader config).  The
exchange is a scratch folder of mode 1777.  The accounts are made with ``useradd
--create-home`` and the system's defaults (world-readable homes on Debian): the hub's
configuration must make them private.  Everything the test starts is stopped by its PID at the
end, and the accounts are removed, whatever happened.

The journey (:func:`test_a_class_hands_in_is_graded_and_gets_feedback_through_the_hub`) drives
each user as their browser would: the instructor through the formgrader's API (assign,
release, collect, generate and release feedback) and the course's commands run as their
account (``python -m te_course.grading autograde``, ``nbgrader export``); each student through
their own server's Assignments API (list, fetch, validate, submit, fetch feedback) and the
contents API (to save their work).  ann hands in the solution, ben the first half of the
exercises, cat the notebook as fetched; then ben hands in his notebook again as ann.  The
expected grades come from the source's metadata (tests/class_answers.py), not from nbgrader.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from class_answers import FULL, SOLVED_BY_BOB, answer, exercises, leaked, page_text, secret_lines  # noqa: E402

HUB = ROOT / "hub"
A = "01_double_auction"  # the assignment of the journey
COURSE_ID = "te_course"
JUPYTERHUB = "jupyterhub==6.1.1"
SYSTEM_PYTHON = "/usr/bin/python3"
INSTRUCTOR = "tehub-teacher"
STUDENTS = ANN, BEN, CAT = ("tehub-ann", "tehub-ben", "tehub-cat")
USERS = (INSTRUCTOR, *STUDENTS)
TIMES: dict[str, float] = {}  # step -> seconds, printed at the end of the run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="make test-hub creates Linux accounts: run it as root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(map(str, cmd))}` failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return proc


def _clean_copy(dest: Path) -> None:
    """This tree without environments, builds, node_modules or git (a non-editable install builds inside it)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "node_modules", "_build", "build", "*.egg-info", "__pycache__", "submitted",
        "autograded", "feedback", "gradebook.db", ".autograding", "chapters", "screenshots"))


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """A Python environment every account can read: the students' lock, jupyterhub, the course."""
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                             capture_output=True, text=True) if os.path.exists(SYSTEM_PYTHON) else None
    if version is None or version.stdout.strip() != "True":
        pytest.fail(f"make test-hub builds the accounts' environment from {SYSTEM_PYTHON}, which must be Python 3.11 "
                    "or newer and readable by every account (Debian/Ubuntu: sudo apt-get install -y python3-venv)")
    t0 = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="te-course-hub-", dir="/tmp"))
    base.chmod(0o755)
    venv = base / "venv"
    _run([SYSTEM_PYTHON, "-m", "venv", venv])
    lock = ROOT / "binder" / "requirements.txt"
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-r", lock, JUPYTERHUB, "-c", lock])
    _clean_copy(base / "src")
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", base / "src"])
    (venv / "etc" / "jupyter").mkdir(parents=True, exist_ok=True)
    shutil.copy(HUB / "system_nbgrader_config.py", venv / "etc" / "jupyter" / "nbgrader_config.py")
    _run(["chmod", "-R", "a+rX", base])
    (base / "exchange").mkdir(mode=0o1777)
    (base / "exchange").chmod(0o1777)  # as `install -d -m 1777` makes it (mkdir's mode is masked by the umask)
    TIMES["environment (pip, once per machine in real use)"] = time.monotonic() - t0
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _remove_account(name: str) -> None:
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def _install_course(home: Path) -> None:
    """The course in the instructor's home (~/te_course), and hub/instructor_nbgrader_config.py as their config."""
    course = home / "te_course"
    course.mkdir()
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    (home / ".jupyter").mkdir()
    shutil.copy(HUB / "instructor_nbgrader_config.py", home / ".jupyter" / "nbgrader_config.py")
    _run(["chown", "-R", f"{INSTRUCTOR}:{INSTRUCTOR}", course, home / ".jupyter"])


HOME_MODES: dict[str, int] = {}  # each home's mode as useradd made it, before the hub started a server


@pytest.fixture(scope="module")
def accounts():
    """The instructor and three students, Linux accounts made with the system's defaults."""
    for name in USERS:
        _remove_account(name)  # left by an earlier run that was killed
        _run(["useradd", "--create-home", "--shell", "/bin/bash", name])
        HOME_MODES[name] = Path(f"/home/{name}").stat().st_mode & 0o777
    _install_course(Path(f"/home/{INSTRUCTOR}"))
    try:
        yield {name: Path(f"/home/{name}") for name in USERS}
    finally:
        for name in USERS:
            _remove_account(name)


class Hub:
    def __init__(self, url: str, token: str, proc: subprocess.Popen, state: Path):
        self.url, self.token, self.proc, self.state = url, token, proc, state
        self.tokens: dict[str, str] = {}  # user -> an API token of theirs

    def api(self, method: str, path: str, body=None, token: str | None = None):
        req = urllib.request.Request(f"{self.url}/hub/api{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token or self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
        return json.loads(data) if data else None

    def user_request(self, user: str, method: str, path: str, body=None, *, raw: bool = False, timeout: float = 300):
        """Call a route of ``user``'s own server with a token of theirs, as their browser would; JSON back."""
        if user not in self.tokens:
            self.tokens[user] = self.api("POST", f"/users/{user}/tokens",
                                         {"note": "te_course test", "expires_in": 3600})["token"]
        path = urllib.parse.quote(path, safe="/?=&")  # feedback folders are named by a time stamp, with spaces
        req = urllib.request.Request(f"{self.url}/user/{user}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.tokens[user]}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read().decode()
        return data if raw else json.loads(data) if data else None

    def user_get(self, user: str, path: str):
        return self.user_request(user, "GET", path)

    def start_server(self, user: str, timeout: float = 180) -> None:
        if (self.api("GET", f"/users/{user}").get("servers", {}).get("") or {}).get("ready"):
            return
        self.api("POST", f"/users/{user}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/users/{user}").get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server not ready after {timeout} s; hub log:\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        return "\n".join((self.state / "hub.log").read_text(errors="replace").splitlines()[-n:])


def _stop(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def hub(environment, accounts):
    """The hub, started and stopped by PID (its proxy too), with a token for the test's service."""
    state = environment / "state"
    state.mkdir()
    port = _free_port()
    token = secrets.token_hex(32)
    env = dict(os.environ, TE_HUB_PORT=str(port), TE_HUB_API_PORT=str(_free_port()),
               TE_HUB_PROXY_API_PORT=str(_free_port()), TE_HUB_STATE=str(state),
               TE_HUB_VENV=str(environment / "venv"), TE_HUB_USERS=",".join(USERS),
               TE_HUB_TEST_PASSWORD=secrets.token_hex(16), TE_HUB_SERVICE_TOKEN=token,
               TE_HUB_INSTRUCTORS=INSTRUCTOR, TE_COURSE_EXCHANGE=str(environment / "exchange"),
               TE_HUB_PROXY=str(HUB / "node_modules" / ".bin" / "configurable-http-proxy"),
               PATH=f"{environment / 'venv' / 'bin'}:{os.environ['PATH']}")
    t0 = time.monotonic()
    with open(state / "hub.log", "w") as log:
        # the copy of hub/ in the environment: the students' servers read hub/students/ from there
        proc = subprocess.Popen([environment / "venv" / "bin" / "jupyterhub", "-f",
                                 environment / "src" / "hub" / "jupyterhub_config.py"],
                                cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT)
    h = Hub(f"http://127.0.0.1:{port}", token, proc, state)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the hub exited ({proc.returncode}):\n{h.log_tail()}")
            try:
                h.api("GET", "/")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the hub did not answer in 90 s:\n{h.log_tail()}")
                time.sleep(0.3)
        TIMES["hub up"] = time.monotonic() - t0
        yield h
    finally:
        for user in USERS:
            with contextlib.suppress(Exception):
                h.api("DELETE", f"/users/{user}/server")
        proxy = state / "proxy.pid"
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        _stop(proxy)
        print("\nmake test-hub, measured:\n" + "\n".join(f"  {k}: {v:.1f} s" for k, v in TIMES.items()))


def test_four_servers_come_up_each_as_its_own_account(hub, accounts):
    t0 = time.monotonic()
    for user in USERS:
        hub.start_server(user)
    TIMES["four servers up"] = time.monotonic() - t0
    for user in USERS:
        owners = _run(["ps", "-o", "user=", "-C", "jupyterhub-singleuser", "-C", "python3"]).stdout.split()
        assert user in owners or user[:8] in {o[:8] for o in owners}, f"no server process runs as {user}"


def test_students_cannot_read_each_others_homes(hub, accounts):
    """The hub's configuration makes each home private before its server starts, whatever useradd made."""
    for user in USERS:
        hub.start_server(user)
    print(f"\nhomes as useradd made them: {', '.join(f'{u} {m:o}' for u, m in HOME_MODES.items())}")
    for home in accounts.values():
        assert home.stat().st_mode & 0o777 == 0o700, f"{home} is {oct(home.stat().st_mode & 0o777)}"
    secret = accounts[ANN] / "answer.txt"
    _run(["runuser", "-u", ANN, "--", "sh", "-c", f"echo 42 > {secret}"])
    peek = subprocess.run(["runuser", "-u", BEN, "--", "cat", str(secret)], capture_output=True, text=True)
    assert peek.returncode != 0 and "Permission denied" in peek.stderr


def _lab_page_config(hub, user: str) -> dict:
    page = hub.user_request(user, "GET", "/lab", raw=True)
    start = page.index('id="jupyter-config-data"')
    start = page.index(">", start) + 1
    return json.loads(page[start:page.index("</script>", start)])


def test_students_have_no_instructor_tools(hub):
    """Students keep the Assignments tab and Validate; the formgrader and the course list are the instructor's."""
    hub.start_server(ANN)
    with pytest.raises(urllib.error.HTTPError) as err:
        hub.user_get(ANN, "/formgrader/api/assignments")
    assert err.value.code == 404
    assert isinstance(hub.user_get(ANN, f"/assignments?course_id={COURSE_ID}"), dict)
    disabled = _lab_page_config(hub, ANN).get("disabledExtensions", [])
    for plugin in ("formgrader", "create-assignment", "course-list"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled, f"ann's JupyterLab shows nbgrader's {plugin}"
    for plugin in ("assignment-list", "validate-assignment"):
        assert f"@jupyter/nbgrader:{plugin}" not in disabled, f"ann's JupyterLab lost nbgrader's {plugin}"
    assert "@jupyter/nbgrader:formgrader" not in _lab_page_config(hub, INSTRUCTOR).get("disabledExtensions", [])


def test_the_formgrader_sees_the_course(hub):
    """The instructor's formgrader lists the course's chapters from ~/te_course/solutions.

    That the course's collect and feedback steps are the formgrader's too is the journey's
    check (a forgery refused, feedback without hidden tests), not this listing's.
    """
    hub.start_server(INSTRUCTOR)  # already up from the test above when run in order
    listed = hub.user_get(INSTRUCTOR, "/formgrader/api/assignments")
    chapters = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
    assert sorted(a["name"] for a in listed) == chapters


class Steps:
    """Each step of the journey timed into TIMES, and named in the failure of any check inside it."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = time.monotonic()
        try:
            yield
        except AssertionError as e:
            raise AssertionError(f"step '{name}': {e}") from e
        TIMES[f"{self.prefix}{name}"] = time.monotonic() - t0


def _as_user(user: str, cmd: list, cwd: Path, environment: Path) -> subprocess.CompletedProcess:
    """Run a command as ``user``, in their own environment, as a terminal on the hub would."""
    venv = environment / "venv"
    env = ["env", "-i", f"HOME=/home/{user}", f"USER={user}", f"PATH={venv / 'bin'}:/usr/bin:/bin",
           f"TE_COURSE_EXCHANGE={environment / 'exchange'}"]
    return subprocess.run(["runuser", "-u", user, "--", *env, *map(str, cmd)], cwd=cwd,
                           capture_output=True, text=True, timeout=1800)


def _status(hub, user: str) -> dict:
    """The student's view of the assignment in the Assignments tab (nbgrader's list)."""
    listed = hub.user_get(user, f"/assignments?course_id={COURSE_ID}")
    assert listed.get("success"), f"{user}'s assignment list failed: {listed}"
    return {a["assignment_id"]: a for a in listed["value"] if a["assignment_id"] == A}.get(A, {})


def _notebook_path() -> str:
    return f"/api/contents/{A}/{A}.ipynb"


def test_a_class_hands_in_is_graded_and_gets_feedback_through_the_hub(hub, environment):
    teacher_course = Path(f"/home/{INSTRUCTOR}") / "te_course"
    step = Steps("journey: ")
    for user in USERS:
        hub.start_server(user)

    with step("assign and release (formgrader)"):
        for action in ("assign", "release"):
            result = hub.user_request(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/{action}", {})
            assert result["success"], f"formgrader {action}: {result.get('error')}\n{result.get('log')}"
        outbound = environment / "exchange" / COURSE_ID / "outbound" / A / f"{A}.ipynb"
        assert outbound.is_file(), "the release is in the exchange"
        released = nbformat.reads(outbound.read_text(), as_version=4)
        assert "### BEGIN HIDDEN TESTS" not in outbound.read_text() and "### BEGIN SOLUTION" not in outbound.read_text()

    with step("three students fetch"):
        for user in STUDENTS:
            assert _status(hub, user).get("status") == "released", f"{user} sees the release"
            hub.user_request(user, "POST", "/assignments/fetch", {"course_id": COURSE_ID, "assignment_id": A})
            # nbgrader answers with the list even when the fetch failed: the status and the file are the proof
            assert _status(hub, user).get("status") == "fetched", f"{user}'s fetch: {_status(hub, user)}"
            fetched = hub.user_get(user, _notebook_path())
            assert fetched["type"] == "notebook" and len(fetched["content"]["cells"]) == len(released.cells)

    everything = {ans for ans, *_ in exercises(A)}
    work = {ANN: everything, BEN: SOLVED_BY_BOB[A], CAT: set()}
    with step("students save their work (contents API)"):
        for user, solved in work.items():
            if not solved:
                continue  # cat hands in the notebook as fetched
            nb = answer(nbformat.from_dict(hub.user_get(user, _notebook_path())["content"]), A, solved)
            saved = hub.user_request(user, "PUT", _notebook_path(), {"type": "notebook", "format": "json",
                                                                     "content": nb})
            assert saved["type"] == "notebook"

    with step("students validate (each in their own server)"):
        for user in (ANN, CAT):
            result = hub.user_request(user, "POST", "/assignments/validate", {"path": f"{A}/{A}.ipynb"})
            assert result["success"], f"{user}'s Validate failed to run: {result['value']}"
            failed = result["value"].get("failed", [])
            assert (not failed) if user == ANN else failed, f"{user}'s Validate: {result['value']}"

    with step("three students submit"):
        for user in STUDENTS:
            result = hub.user_request(user, "POST", "/assignments/submit", {"course_id": COURSE_ID, "assignment_id": A})
            assert isinstance(result, dict) and result.get("success"), f"{user}'s submit: {result}"
            assert _status(hub, user).get("status") == "submitted"

    # ben hands in his own notebook again, in a terminal, under ann's name: later than hers
    spoof = _as_user(BEN, ["nbgrader", "submit", A, f"--course={COURSE_ID}", f"--student={ANN}"],
                     Path(f"/home/{BEN}"), environment)
    assert spoof.returncode == 0, f"nbgrader lets ben submit as ann (the forgery to catch):\n{spoof.stderr[-2000:]}"

    with step("collect (formgrader)"):
        result = hub.user_request(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/collect", {})
        assert not result["success"], "collect must fail on a forgery, not only log it"
        said = f"{result.get('error', '')}\n{result.get('log', '')}"
        assert f"claims to be {ANN}'s, but {BEN} owns it" in said and "NOT collected" in said, said[-3000:]
        assert sorted(p.name for p in (teacher_course / "submitted").iterdir()) == sorted(STUDENTS)

    with step("autograde (python -m te_course.grading autograde, as the instructor)"):
        graded = _as_user(INSTRUCTOR, ["python", "-m", "te_course.grading", "autograde", A],
                          teacher_course, environment)
        assert graded.returncode == 0, f"autograde:\n{graded.stdout[-3000:]}\n{graded.stderr[-3000:]}"

    with step("export (nbgrader export, as the instructor)"):
        exported = _as_user(INSTRUCTOR, ["nbgrader", "export"], teacher_course, environment)
        assert exported.returncode == 0, exported.stderr[-3000:]
        with open(teacher_course / "grades.csv", newline="") as f:
            grades = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == A}
        full = float(FULL[A])
        half = float(sum(p for ans, _, p in exercises(A) if ans in SOLVED_BY_BOB[A]))
        assert 0 < half < full
        expected = {ANN: full, BEN: half, CAT: 0.0}
        assert {u: float(grades[u]["score"]) for u in STUDENTS} == expected, "ann's forged late copy must not count"
        assert {float(grades[u]["max_score"]) for u in STUDENTS} == {full}

    with step("generate and release feedback (formgrader)"):
        for action in ("generate_feedback", "release_feedback"):
            result = hub.user_request(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/{action}", {})
            assert result["success"], f"formgrader {action}: {result.get('error')}\n{result.get('log')}"

    secret = secret_lines(A)
    assert secret, f"{A} has hidden tests"
    with step("three students fetch their feedback"):
        for user in STUDENTS:
            hub.user_request(user, "POST", "/assignments/fetch_feedback", {"course_id": COURSE_ID, "assignment_id": A})
            folders = hub.user_get(user, f"/api/contents/{A}/feedback")["content"]
            assert len(folders) == 1, f"{user} has one feedback folder: {folders}"
            page = hub.user_get(user, f"/api/contents/{folders[0]['path']}/{A}.html")["content"]
            text = page_text(page)
            assert '"""Check that' in text, f"{user}'s feedback shows the visible tests"
            assert leaked(text, secret) == [], f"{user}'s feedback shows hidden-test lines"
            score = f"{A} (Score: {round(expected[user], 2)} / {round(full, 2)})"  # nbgrader's feedback heading
            assert score in " ".join(text.split()), f"{user}'s feedback does not show '{score}'"
