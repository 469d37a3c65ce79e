"""Sandboxed kernels for autograding: student code never runs with the grader's rights.

nbgrader runs every submission's notebook in a Jupyter kernel started by the grader,
with the grader's rights: its own documentation says autograding is not sandboxed.
Measured on this course (issue 15): a chapter-1 submission that read
``solutions/`` from its grading folder and ran the solution cells was graded 10 / 10,
and the same code could have read the gradebook (every hidden test), another student's
submission, or rewritten grades.

Here each graded kernel runs inside bubblewrap (``bwrap``, Debian/Ubuntu package
``bubblewrap``), wrapped around the kernel command by :class:`SandboxedKernelManager`:

* **files**: the whole system read-only (``--ro-bind / /``); the course folder (its
  ``solutions/``, gradebook, every student's ``submitted/``,
  ``autograded/`` and ``feedback/``), the repository the package comes from, the
  exchange, ``/home``, ``/root`` and the grader's home replaced by empty folders;
  only the Python environment and the ``te_course`` package shown again, read-only;
  ``/tmp`` a fresh empty folder; the submission's own working folder the one
  writable place;
* **network**: none (``--unshare-net``); the kernel talks to the grader over IPC
  sockets in a private folder bound into the sandbox (jupyter_client's
  ``transport="ipc"``);
* **resources**: address space, processes, CPU time and file size limited by
  ``setrlimit`` (:mod:`te_course._sandbox_exec`), on top of nbgrader's per-cell
  time limit (``Execute.timeout``);
* **as whom**: a grader running as root (CI, containers) starts the kernel as the
  unprivileged user :attr:`Sandbox.uid` (``nobody``), because root ignores the
  process limit; a grader running as an ordinary user keeps its uid, with the
  process limit counted on top of the processes it already runs.

The limits are set in ``nbgrader_config.py`` (``c.Sandbox.memory_mb = ...``; see
:class:`Sandbox`).  Where bubblewrap is missing or user namespaces are switched off,
grading refuses with a message saying what to install, unless the instructor turns
the sandbox off (``--no-sandbox``, ``c.Sandbox.enabled = False`` or the environment
variable ``TE_COURSE_NO_SANDBOX=1``); then every run warns that student code runs
with the grader's rights.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Unicode, default
from traitlets.config import Configurable

__all__ = [
    "Sandbox", "HiddenChecks", "SandboxUnavailable", "SandboxedKernelManager", "SandboxedExecute", "check_sandbox",
]

NOBODY = 65534
_EXEC = Path(__file__).with_name("_sandbox_exec.py")
_PACKAGE = Path(__file__).resolve().parent
_INSTALL = (
    "Install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap), "
    "and check that user namespaces are enabled (cat /proc/sys/user/max_user_namespaces must not be 0; in a "
    "container, run it with user namespaces allowed). To grade anyway, with student code running with your "
    "rights, pass --no-sandbox (or set c.Sandbox.enabled = False in nbgrader_config.py)."
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces on this machine."""


class Sandbox(Configurable):
    """The limits of a graded kernel's sandbox (set them in ``nbgrader_config.py``).

    The defaults leave a real chapter a wide margin: the heaviest, chapter 9, peaked
    at 1.5 GB of address space (VmPeak; 260 MB resident) and 18 threads when its
    solution ran in the sandbox (measured on the development machine).
    """

    enabled = Bool(
        help="Run graded kernels in bubblewrap (default: yes, unless the environment variable "
        "TE_COURSE_NO_SANDBOX=1). Off: student code runs with the grader's rights, and every run warns."
    ).tag(config=True)
    memory_mb = Integer(6144, help="Address space of a graded kernel, MB (RLIMIT_AS).").tag(config=True)
    processes = Integer(512, help="Processes and threads a graded kernel may run (RLIMIT_NPROC).").tag(config=True)
    cpu_seconds = Integer(1800, help="CPU time of a graded kernel, seconds (RLIMIT_CPU).").tag(config=True)
    file_size_mb = Integer(256, help="Largest file a graded kernel may write, MB (RLIMIT_FSIZE).").tag(config=True)
    uid = Integer(NOBODY, help="The user a root grader runs kernels as (root ignores the process limit).").tag(
        config=True
    )
    gid = Integer(NOBODY, help="The group of that user.").tag(config=True)
    hide = List(Unicode(), help="More folders to hide from graded kernels.").tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap command.").tag(config=True)

    @default("enabled")
    def _enabled_default(self) -> bool:
        return os.environ.get("TE_COURSE_NO_SANDBOX", "").lower() not in ("1", "true", "yes")


def check_sandbox(bwrap: str = "bwrap") -> None:
    """Raise :class:`SandboxUnavailable` (saying what to install) unless bubblewrap works here."""
    exe = shutil.which(bwrap)
    if exe is None:
        raise SandboxUnavailable(
            f"Autograding runs student code in a sandbox, and `{bwrap}` is not installed. {_INSTALL}"
        )
    probe = [exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "--dev", "/dev",
             "--proc", "/proc", "true"]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise SandboxUnavailable(
            f"Autograding runs student code in a sandbox, and bubblewrap cannot create one here "
            f"({result.stderr.strip() or 'exit status ' + str(result.returncode)}). {_INSTALL}"
        )


def _tasks_of(uid: int) -> int:
    """How many processes and threads ``uid`` runs now (what RLIMIT_NPROC counts)."""
    n = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid == uid:
                    n += len(os.listdir(p / "task"))
            except OSError:
                continue
    return n


def _config_str(config, section: str, key: str) -> str | None:
    """``config.<section>.<key>`` when it was set to a string, else None."""
    value = config.get(section, {}).get(key) if section in config else None
    return value if isinstance(value, str) and value else None


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside bubblewrap, talking over IPC sockets."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = Sandbox(config=self.config)
        self._private = Path(tempfile.mkdtemp(prefix="te-course-kernel-"))
        self.transport = "ipc"
        self.ip = str(self._private / "kernel")
        self.connection_file = str(self._private / "connection.json")
        self._cwd: Path | None = None
        self._root = os.getuid() == 0
        if self._root:
            os.chown(self._private, self.sandbox.uid, self.sandbox.gid)
        self._private.chmod(0o700)

    async def start_kernel(self, **kw) -> None:
        """Start the kernel in the sandbox, its working folder ``kw["cwd"]`` the one writable place."""
        self._cwd = Path(kw.get("cwd") or os.getcwd()).resolve()
        await super().start_kernel(**kw)

    async def interrupt_kernel(self) -> None:
        """Interrupt by a message on the control channel, not by SIGINT to the process group.

        The group holds bubblewrap itself, which SIGINT would end, and the kernel with it
        (``--die-with-parent``): a cell stopped by nbgrader's time limit would kill the
        whole submission instead of costing that cell's points.
        """
        if self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"
        await super().interrupt_kernel()

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self._root and os.path.exists(self.connection_file):
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.gid)

    def _hidden(self) -> list[Path]:
        folders = [Path("/home"), Path("/root"), Path.home()]
        course = _config_str(self.config, "CourseDirectory", "root")
        folders.append(Path(course) if course else Path.cwd())
        exchange = _config_str(self.config, "Exchange", "root")
        folders.append(Path(exchange) if exchange else Path("/srv/nbgrader/exchange"))
        if (_PACKAGE.parent / "solutions").is_dir():  # the course repository the package is installed from
            folders.append(_PACKAGE.parent)
        folders += [Path(h) for h in self.sandbox.hide]
        out = []
        for f in folders:
            f = f.resolve()
            if f.is_dir() and f != Path("/") and f not in out:
                out.append(f)
        return sorted(out, key=lambda p: len(p.parts))

    def _shown(self, hidden: list[Path], kernel_cmd: list[str]) -> list[Path]:
        """Return the Python environment and the package folders that a hidden folder covers (shown read-only)."""
        candidates = [Path(sys.prefix), Path(sys.base_prefix), _PACKAGE,
                      Path(os.path.realpath(sys.executable)).parent.parent,
                      Path(os.path.realpath(kernel_cmd[0])).parent.parent]
        covered = [*hidden, Path("/tmp")]  # /tmp is a fresh empty folder too: an environment there must be shown
        out = []
        for c in candidates:
            c = c.resolve()
            if any(_within(c, h) for h in covered) and c not in out:
                out.append(c)
        return out

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        kernel_cmd = super().format_kernel_cmd(extra_arguments)
        s = self.sandbox
        cwd = self._cwd or Path.cwd()
        hidden = self._hidden()
        args = [shutil.which(s.bwrap) or s.bwrap, "--die-with-parent", "--unshare-net", "--unshare-pid",
                "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--perms", "1777", "--tmpfs", "/tmp"]
        for h in hidden:
            args += ["--perms", "0755", "--tmpfs", str(h)]
        made: set[Path] = set()
        for p in self._shown(hidden, kernel_cmd) + [self._private, cwd]:
            cover = min((h for h in hidden + [Path("/tmp")] if _within(p, h) and p != h),
                        key=lambda h: len(h.parts), default=None)
            if cover is not None:  # make the parents inside the empty folder traversable by the kernel's user
                for parent in reversed(p.parents):
                    if _within(parent, cover) and parent != cover and parent not in made:
                        args += ["--perms", "0755", "--dir", str(parent)]
                        made.add(parent)
            kind = "--bind" if p in (self._private, cwd) else "--ro-bind"
            args += [kind, str(p), str(p)]
        home = "/tmp"
        args += ["--chdir", str(cwd), "--setenv", "HOME", home, "--setenv", "IPYTHONDIR", f"{home}/.ipython",
                 "--setenv", "MPLCONFIGDIR", f"{home}/.matplotlib", "--setenv", "TMPDIR", home,
                 # ipykernel polls its parent by pid, which the pid namespace hides (it would see init, pid 1,
                 # and shut down); 1 switches the polling off (--die-with-parent ends the kernel with the
                 # grader instead) and still tells the kernel it has a parent, so it prints no banner.
                 "--setenv", "JPY_PARENT_PID", "1"]
        processes = s.processes
        if self._root:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:  # RLIMIT_NPROC counts every process of the user: allow those it runs already
            processes += _tasks_of(os.getuid())
        uid, gid = (s.uid, s.gid) if self._root else (os.getuid(), os.getgid())
        limits = ["--uid", str(uid), "--gid", str(gid), "--memory-mb", str(s.memory_mb), "--processes",
                  str(processes), "--cpu-seconds", str(s.cpu_seconds), "--file-size-mb", str(s.file_size_mb)]
        return args + ["--", sys.executable, "-I", str(_EXEC), *limits, "--", *kernel_cmd]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._private, ignore_errors=True)


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    for dirpath, _, filenames in os.walk(folder):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            try:
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
            except OSError:
                pass


class HiddenChecks(Configurable):
    """The cases of the hidden checks drawn while grading (:mod:`te_course._checks`)."""

    seed = Unicode(
        "",
        help="The secret seed of the cases the hidden checks draw while grading. Empty: the environment variable "
             "TE_COURSE_GRADING_SEED, else a random seed kept in .grading_seed in the course folder (mode 600). "
             "Change it every term: feedback shows a student the cases their answers failed.",
    ).tag(config=True)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` preprocessor with every kernel in a :class:`SandboxedKernelManager`.

    ``te_course.grading.autograde`` and ``nbgrader_config.py`` put it in place of
    ``Execute`` in ``Autograde.autograde_preprocessors``.
    """

    scheduler = Unicode(
        "",
        help="The address of a Dask scheduler (tcp://HOST:8786) whose workers run the kernels; empty: run them on "
             "this machine. Set by `python -m te_course.grading autograde --scheduler ADDRESS`.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        sandbox = Sandbox(config=kwargs.get("config"))
        if sandbox.enabled:
            kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources, km=None) -> tuple:
        """Run the notebook in the sandbox, with the hidden checks' cases drawn and judged here, outside it."""
        from nbgrader.coursedir import CourseDirectory

        from te_course import _checks

        info = resources.get("nbgrader", {})
        root = CourseDirectory(config=self.config).root
        seed = _checks.grading_seed(root, HiddenChecks(config=self.config).seed)
        plan = _checks.inject(nb, seed=seed, assignment=str(info.get("assignment", "")),
                              student=str(info.get("student", "")))
        try:
            nb, resources = self._execute(nb, resources, km)
            return nb, resources
        finally:
            _checks.settle(nb, plan)

    def _execute(self, nb, resources, km=None) -> tuple:
        """Run the kernel here or on the cluster, letting other submissions use nbgrader meanwhile."""
        from te_course import _grading_pool

        with _grading_pool.outside_turn(), _grading_pool.running(self):
            if self.scheduler:
                from te_course._cluster import execute_remotely

                return execute_remotely(self.scheduler, self, nb, resources)
            return self.run_here(nb, resources, km)

    def run_here(self, nb, resources, km=None) -> tuple:
        """Run ``nb`` in a sandboxed kernel on this machine, in the folder ``resources["metadata"]["path"]``."""
        sandbox = Sandbox(config=self.config)
        if not sandbox.enabled:
            message = ("Grading WITHOUT a sandbox (--no-sandbox, c.Sandbox.enabled = False or TE_COURSE_NO_SANDBOX=1): "
                       "student code runs with your rights and can read solutions, the gradebook and other "
                       "submissions.")
            self.log.warning(message)
            warnings.warn(message, stacklevel=2)
            return super().preprocess(nb, resources, km)
        check_sandbox(sandbox.bwrap)
        cwd = Path(resources.get("metadata", {}).get("path") or os.getcwd()).resolve()
        if os.getuid() != 0:
            return super().preprocess(nb, resources, km)
        owner = cwd.stat()
        _chown_tree(cwd, sandbox.uid, sandbox.gid)  # the kernel's user writes its own folder, nothing else
        try:
            return super().preprocess(nb, resources, km)
        finally:
            _chown_tree(cwd, owner.st_uid, owner.st_gid)


def autograde_preprocessors(preprocessors=None) -> list:
    """Return ``preprocessors`` with ``Execute`` replaced by :class:`SandboxedExecute`.

    ``preprocessors``: an ``Autograde.autograde_preprocessors`` list an instructor
    configured; by default nbgrader's own.
    """
    if preprocessors is None:
        from nbgrader.converters import Autograde

        preprocessors = Autograde.class_traits()["autograde_preprocessors"].default()
    return [SandboxedExecute if p is Execute else p for p in preprocessors]
