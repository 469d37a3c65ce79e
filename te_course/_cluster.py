"""Submissions' kernels run on a Dask cluster, the gradebook kept by the grader's machine.

``python -m te_course.grading autograde --scheduler ADDRESS`` (or
``autograde(..., scheduler=ADDRESS)``) does everything as on one machine, except the
one step that costs: running the submission's notebook.  The sandboxed ``Execute``
preprocessor (:class:`te_course._sandbox.SandboxedExecute`) sends the notebook, after
nbgrader's sanitising pass and with the hidden checks' cases already drawn, to a worker
of the cluster (:func:`execute_remotely`); the worker runs it in its own bubblewrap
sandbox, in a scratch folder holding the submission's other files, and sends the
executed notebook back.  The hidden checks are then judged, and the grades written, on
the grader's machine, so the secret seed and the gradebook never leave it.

The workers need the course's environment: the same ``te_course`` (version checked by
:func:`connect`), nbgrader and bubblewrap, e.g. the image of the course's hub.  Needs
the optional dependency ``distributed`` (``pip install te_course[cluster]``).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client
    from traitlets.config import Config

__all__ = ["INSTALL", "MAX_FILES_MB", "connect", "close", "execute_remotely", "run_on_worker", "worker_environment"]

INSTALL = "pip install 'te_course[cluster]'  (or: pip install distributed)"
MAX_FILES_MB = 64
"""The most a submission's folder (notebooks excepted) may hold to be sent to a worker."""

_clients: dict[str, Client] = {}
_lock = threading.Lock()


def worker_environment() -> dict:
    """Return what a worker runs: the versions of te_course and nbgrader, and whether bubblewrap is found."""
    from importlib.metadata import version

    import te_course

    return {"te_course": te_course.__version__, "nbgrader": version("nbgrader"), "bwrap": shutil.which("bwrap")}


def connect(address: str, *, timeout: float = 30, sandbox: bool = True) -> int:
    """Connect to the scheduler at ``address``, check its workers, and return how many tasks they run at once.

    Raises
    ------
    RuntimeError
        If ``distributed`` is not installed, the scheduler cannot be reached, it has no
        worker, or a worker runs another te_course or nbgrader than this machine (or has
        no bubblewrap while the sandbox is on).
    """
    try:
        from distributed import Client
    except ImportError:
        raise RuntimeError(f"--scheduler needs the optional dependency distributed: {INSTALL}") from None
    with _lock:
        client = _clients.get(address)
        if client is None:
            try:
                client = Client(address, timeout=timeout, set_as_default=False)
            except OSError as err:
                raise RuntimeError(f"cannot reach the Dask scheduler at {address!r} ({err}); start it with "
                                   "`dask scheduler` and give its address (tcp://HOST:8786).") from None
            _clients[address] = client
    threads = client.nthreads()
    if not threads:
        close(address)
        raise RuntimeError(f"the Dask scheduler at {address!r} has no worker: start one on each machine with "
                           f"`dask worker {address} --nthreads 1` (see README, Grading a large class).")
    here = worker_environment()
    problems = []
    for worker, env in sorted(client.run(worker_environment).items()):
        for key in ("te_course", "nbgrader"):
            if env[key] != here[key]:
                problems.append(f"{worker} runs {key} {env[key]}, this machine {here[key]}")
        if sandbox and not env["bwrap"]:
            problems.append(f"{worker} has no bubblewrap (bwrap) to sandbox the kernels")
    if problems:
        close(address)
        raise RuntimeError("the cluster's workers must run the course's environment (the same image as the hub): "
                           + "; ".join(problems) + ".")
    return sum(threads.values())


def close(address: str | None = None) -> None:
    """Close the connection to ``address`` (every connection when None)."""
    with _lock:
        for key in [address] if address is not None else list(_clients):
            client = _clients.pop(key, None)
            if client is not None:
                client.close()


def _folder_files(folder: Path) -> dict[str, bytes]:
    """Return the files of a submission's grading folder, notebooks excepted (the worker's kernel may read them)."""
    files, size = {}, 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix != ".ipynb":
            data = path.read_bytes()
            size += len(data)
            if size > MAX_FILES_MB * 2**20:
                raise RuntimeError(f"{folder} holds more than {MAX_FILES_MB} MB besides its notebooks, too much to "
                                   "send to a worker; grade this submission without --scheduler.")
            files[str(path.relative_to(folder))] = data
    return files


def execute_remotely(address: str, preprocessor, nb, resources: dict) -> tuple:
    """Run ``nb`` on a worker of the cluster at ``address`` as ``preprocessor`` would here; return (nb, resources).

    The exceptions of a failed execution (a cell past its time limit, a kernel that died) come back with their
    own types, so nbgrader handles them as in a local run.
    """
    import nbformat

    client = _clients.get(address)
    if client is None:  # nbgrader's own command, with c.SandboxedExecute.scheduler in nbgrader_config.py
        connect(address)
        client = _clients[address]
    folder = Path(resources.get("metadata", {}).get("path") or ".")
    future = client.submit(run_on_worker, nbformat.writes(nb), _folder_files(folder), preprocessor.config,
                           pure=False)
    preprocessor.cancel_remote = future.cancel
    try:
        executed = future.result()
    finally:
        preprocessor.cancel_remote = None
    return nbformat.reads(executed, as_version=4), resources


def run_on_worker(notebook: str, files: dict[str, bytes], config: Config) -> str:
    """On a worker: run a notebook in the sandbox, in a scratch folder holding ``files``; return it executed."""
    import nbformat

    from te_course._sandbox import SandboxedExecute

    folder = Path(tempfile.mkdtemp(prefix="te-course-graded-"))
    try:
        for name, data in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        nb = nbformat.reads(notebook, as_version=4)
        nb, _ = SandboxedExecute(config=config).run_here(nb, {"metadata": {"path": str(folder)}})
        return nbformat.writes(nb)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
