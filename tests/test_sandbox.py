"""Sandboxed autograding (issue 15): submissions that cheat or attack the grader earn nothing.

A class of chapter 1 is graded by ``te_course.grading.autograde`` (the function behind
``python -m te_course.grading autograde``) with an honest student and four attackers,
each writing its attack into the first answer cell:

* ``reader`` reads the solution notebook (three folders up from its grading folder, and
  in the repository the package comes from) and runs its solution cells: without the
  sandbox this earned 10 / 10 (measured, issue 15);
* ``prober`` tries to read the gradebook and another student's submission, to write to
  the gradebook and to delete a file of the course, to list the homes, and to connect
  to a TCP server this test starts on 127.0.0.1 (no traffic ever leaves this machine);
* ``bomber`` tries to start 5,000 processes (a bounded fork bomb, so that a broken limit
  cannot take the machine down), to allocate 3 GB and to write a 200 MB file, with the
  limits set low for the test (1.5 GB of memory, 64 MB files, 200 processes);
* ``escaper`` uses Python's own means: ``os.setuid(0)``, ``/proc/1/root`` and the
  grader's environment.

Each probe prints what succeeded as JSON in the autograded notebook; the test reads it.
The honest student keeps full marks, the attackers get zero, and the course's files are
unchanged byte for byte.  Needs bubblewrap; skipped where it is missing, except when
``TE_COURSE_REQUIRE_SANDBOX=1`` (``.ci/run`` sets it and installs bubblewrap), where a
missing sandbox fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from te_course._sandbox import SandboxUnavailable, check_sandbox
from te_course.grading import autograde, release

ROOT = Path(__file__).resolve().parent.parent
NAME = "01_double_auction"

try:
    check_sandbox()
    SANDBOX = ""
except SandboxUnavailable as exc:
    SANDBOX = str(exc)

pytestmark = pytest.mark.skipif(
    bool(SANDBOX) and os.environ.get("TE_COURSE_REQUIRE_SANDBOX") != "1",
    reason=f"no sandbox on this machine: {SANDBOX[:200]}",
)

READER = f"""
import json, pathlib
solution = None
for path in ("../../../solutions/{NAME}/{NAME}.ipynb", "{ROOT}/solutions/{NAME}/{NAME}.ipynb"):
    try:
        solution = json.loads(pathlib.Path(path).read_text())
        break
    except OSError:
        pass
for cell in solution["cells"]:  # TypeError when nothing could be read: this cell fails, as it should
    if cell["cell_type"] == "code" and "solution" in str(cell["metadata"]):
        exec("".join(cell["source"]), globals())
"""

PROBER = """
import json, os, pathlib, socket
done = {}
def attempt(name, action):
    try:
        action()
        done[name] = "succeeded"
    except Exception as exc:
        done[name] = type(exc).__name__
attempt("read gradebook", lambda: open("../../../gradebook.db", "rb").read(100))
attempt("read gradebook (absolute)", lambda: open("COURSE/gradebook.db", "rb").read(100))
attempt("read other submission", lambda: open("COURSE/submitted/honest/NAME/NAME.ipynb").read(100))
attempt("read other autograded", lambda: os.listdir("COURSE/autograded/honest"))
attempt("write gradebook", lambda: open("COURSE/gradebook.db", "ab").write(b"x"))
attempt("delete config", lambda: os.remove("COURSE/nbgrader_config.py"))
try:
    done["/root holds"] = sorted(os.listdir("/root"))
except OSError as exc:
    done["/root holds"] = type(exc).__name__
attempt("read repository solutions", lambda: os.listdir("REPO/solutions"))
def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
    s.sendall(b"stolen")
    s.close()
attempt("tcp to 127.0.0.1", connect)
pathlib.Path("own_file.txt").write_text("a student may write here")
done["write own folder"] = "succeeded"
print("PROBE " + json.dumps(done))
"""

BOMBER = """
import json, os, time
result = {}
started = 0
children = []
for _ in range(5000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
    started += 1
result["processes started"] = started
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
try:
    block = bytearray(3 * 1024**3)
    result["3 GB allocated"] = "succeeded"
    del block
except MemoryError:
    result["3 GB allocated"] = "MemoryError"
try:
    with open("big.bin", "wb") as fh:
        for _ in range(200):
            fh.write(b"x" * 1024**2)
    result["200 MB written"] = "succeeded"
except OSError as exc:
    result["200 MB written"] = type(exc).__name__ + ": " + exc.strerror
os.remove("big.bin")
print("LIMITS " + json.dumps(result))
"""

ESCAPER = """
import json, os
done = {}
try:
    os.setuid(0)
    done["setuid 0"] = "succeeded"
except OSError as exc:
    done["setuid 0"] = type(exc).__name__
try:  # the namespace's init shows the sandbox's own view, with the course folder empty
    done["course via /proc/1/root"] = os.listdir("/proc/1/root" + "COURSE")
except OSError as exc:
    done["course via /proc/1/root"] = type(exc).__name__
done["uid"] = os.getuid()
done["grader pid visible"] = str(os.getppid())
print("ESCAPE " + json.dumps(done))
"""


def _tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _submit(course: Path, student: str, attack: str | None) -> None:
    dest = course / "submitted" / student / NAME
    dest.mkdir(parents=True)
    if attack is None:
        shutil.copy(course / "solutions" / NAME / f"{NAME}.ipynb", dest / f"{NAME}.ipynb")
        return
    nb = nbformat.read(course / "notebooks" / NAME / f"{NAME}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    first.source = attack
    nbformat.write(nb, dest / f"{NAME}.ipynb")


def _printed(course: Path, student: str, tag: str) -> dict:
    nb = nbformat.read(course / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.startswith(tag + " "):
                    return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"{student}'s notebook printed no {tag} line")


class _Listener:
    """A TCP server on 127.0.0.1 that records every connection (none may arrive)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("sandboxed-course")
    shutil.copytree(ROOT / "solutions" / NAME, course / "solutions" / NAME)
    config = (ROOT / "nbgrader_config.py").read_text()
    config += "\nc.Sandbox.memory_mb = 1536\nc.Sandbox.file_size_mb = 64\nc.Sandbox.processes = 200\n"
    (course / "nbgrader_config.py").write_text(config)
    release(course, names=[NAME], db_url=f"sqlite:///{course / 'gradebook.db'}")
    listener = _Listener()
    prober = PROBER.replace("COURSE", str(course)).replace("REPO", str(ROOT)).replace("NAME", NAME)
    attacks = {
        "honest": None,
        "reader": READER,
        "prober": prober.replace("PORT", str(listener.port)),
        "bomber": BOMBER,
        "escaper": ESCAPER.replace("COURSE", str(course)),
    }
    for student, attack in attacks.items():
        _submit(course, student, attack)
    before = _tree_hash(course / "solutions") | {"nbgrader_config.py": _tree_hash(course)["nbgrader_config.py"]}
    try:
        report = autograde(course, names=[NAME], db_url=f"sqlite:///{course / 'gradebook.db'}")
    finally:
        listener.close()
    return course, report, listener, before


def _score(report, student):
    return next(s for s in report.submissions if s.student == student)


def test_every_submission_is_graded_and_the_honest_student_keeps_full_marks(graded):
    _, report, _, _ = graded
    assert report.ok, report.summary()
    honest = _score(report, "honest")
    assert honest.score == honest.max_score == 10


def test_reading_the_solution_earns_nothing(graded):
    # Without the sandbox this submission was graded 10 / 10 (issue 15).
    _, report, _, _ = graded
    assert _score(report, "reader").score == 0


def test_the_course_the_gradebook_others_and_the_network_are_out_of_reach(graded):
    course, report, listener, before = graded
    probe = _printed(course, "prober", "PROBE")
    assert probe.pop("write own folder") == "succeeded"  # its own folder stays writable
    root_listing = probe.pop("/root holds")
    if os.access("/root", os.R_OK) and isinstance(root_listing, list):  # at most the Python shown again
        assert set(root_listing) < set(os.listdir("/root")) or not os.listdir("/root"), root_listing
    assert all(outcome != "succeeded" for outcome in probe.values()), probe
    assert listener.connections == 0
    assert _score(report, "prober").score == 0
    after = _tree_hash(course / "solutions") | {"nbgrader_config.py": _tree_hash(course)["nbgrader_config.py"]}
    assert after == before  # the course's files, byte for byte


def test_processes_memory_and_file_size_are_limited(graded):
    course, report, _, _ = graded
    limits = _printed(course, "bomber", "LIMITS")
    assert limits["processes started"] < 200, limits  # the limit counts every process of the kernel's user
    assert limits["3 GB allocated"] == "MemoryError", limits
    assert limits["200 MB written"].startswith("OSError: File too large"), limits
    assert _score(report, "bomber").score == 0


def test_the_kernel_runs_unprivileged_in_its_own_namespaces(graded):
    course, _, _, _ = graded
    escape = _printed(course, "escaper", "ESCAPE")
    assert escape["setuid 0"] != "succeeded", escape
    seen = escape["course via /proc/1/root"]
    assert isinstance(seen, str) or not {"solutions", "gradebook.db", "submitted"} & set(seen), escape
    if os.getuid() == 0:
        assert escape["uid"] == 65534  # a root grader's kernels run as nobody: the process limit holds
    assert escape["grader pid visible"] in ("0", "1")  # a pid namespace: the grader is not visible


def test_a_python_environment_under_tmp_is_shown_in_the_kernels_fresh_tmp():
    # Found on the hub test, whose environment lives in /tmp: the kernel's /tmp is a fresh empty folder, so
    # an environment there must be bound in again (read-only), like one under a hidden home.
    from te_course._sandbox import SandboxedKernelManager

    shown = SandboxedKernelManager._shown(None, [Path("/home").resolve()], ["/tmp/te-env/bin/python"])
    assert Path("/tmp/te-env").resolve() in shown
    assert all(Path("/tmp").resolve() != p for p in shown), "never /tmp itself"


def test_grading_refuses_without_bubblewrap_and_says_what_to_install(tmp_path):
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        check_sandbox(str(tmp_path / "no-such-bwrap"))


def test_a_configured_preprocessor_list_keeps_its_steps_with_execute_sandboxed():
    # An instructor's own Autograde.autograde_preprocessors keeps every step; only Execute is swapped.
    from nbgrader.preprocessors import Execute, LimitOutput

    from te_course._sandbox import SandboxedExecute, autograde_preprocessors

    class OwnStep(LimitOutput):
        pass

    assert autograde_preprocessors([OwnStep, Execute]) == [OwnStep, SandboxedExecute]
    assert SandboxedExecute in autograde_preprocessors() and Execute not in autograde_preprocessors()
