"""Fixtures of the browser tests: a JupyterLab server on a copy of the course, and headless Chromium.

These tests run with ``make test-browser`` only: pyproject.toml lists ``tests/browser`` in
``norecursedirs``, so ``make test`` never collects them.  They need the ``browser`` extra
(the ``playwright`` package, which carries its driver) and Debian's Chromium at
``/usr/bin/chromium`` (or ``TE_COURSE_CHROMIUM``); Playwright never downloads a browser here.

The server is the command that ``make lab`` runs (read with ``make -n lab``), started on a
free localhost port in a scratch copy of ``notebooks/``, ``solutions/`` and
``nbgrader_config.py``, with scratch Jupyter, IPython and matplotlib folders, so that a run
leaves nothing in the repository but its screenshots (``tests/browser/screenshots/``,
ignored by git).  The server is stopped by its PID at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("TE_COURSE_CHROMIUM", "/usr/bin/chromium")
# Chromium flags measured on these machines (shared notes, browser-testing.md): no sandbox as
# root, no GPU, and none of the background connections that a closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
COURSE_PARTS = ("notebooks", "solutions", "nbgrader_config.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_lab_command(extra: list[str], root_dir: Path) -> list[str]:
    """Return the command ``make lab`` runs, with ``extra`` flags and its root_dir replaced.

    ``make -n lab`` prints the recipe without running it; its last command is the
    ``jupyter lab`` line (earlier lines, if any, set up the virtual environment).
    """
    out = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    lines = out.replace("\\\n", " ").splitlines()
    cmd = shlex.split(next(ln for ln in reversed(lines) if "jupyter lab" in ln))
    assert Path(cmd[0]).name == "jupyter" and cmd[1] == "lab", f"unexpected `make -n lab` output:\n{out}"
    cmd[0] = str((ROOT / cmd[0]).resolve())
    roots = [i for i, arg in enumerate(cmd) if arg.startswith("--ServerApp.root_dir=")]
    assert len(roots) == 1, f"`make lab` should set --ServerApp.root_dir once:\n{out}"
    cmd[roots[0]] = f"--ServerApp.root_dir={root_dir}"
    return cmd + extra


class Lab:
    """A running JupyterLab server: its base URL, its course folder and its log."""

    def __init__(self, url: str, course: Path, log: Path, command: list[str]):
        self.url, self.course, self.log, self.command = url, course, log, command

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def _wait_for_status(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer /api/status within {timeout:.0f} s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """Start ``make lab``'s JupyterLab on a scratch copy of the course; stop it by its PID at the end."""
    scratch = tmp_path_factory.mktemp("lab")
    course = scratch / "course"
    course.mkdir()
    for part in COURSE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, course / part, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copy2(src, course / part)
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        env[var] = str(scratch / sub)
        (scratch / sub).mkdir()
    # The "get notified about Jupyter news?" toast would cover the notebook toolbar.
    settings = scratch / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = make_lab_command([
        "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
    ], course)
    log = scratch / "jupyterlab.log"
    with log.open("w") as out:
        # cwd = the course copy: nbgrader's Validate reads nbgrader_config.py from the server's cwd.
        proc = subprocess.Popen(command, cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        _wait_for_status(url, proc, log)
        yield Lab(url, course, log, command)
    finally:
        proc.terminate()  # SIGTERM to the server's own PID: it shuts its kernels down, then exits
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (never a browser download)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with `sudo apt-get install -y chromium` "
                    "(or set TE_COURSE_CHROMIUM to a Chromium executable)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def shoot(page):
    """``shoot(name)`` saves a screenshot of the page as tests/browser/screenshots/NAME.png."""
    return lambda name: page.screenshot(path=SCREENSHOTS / f"{name}.png")


@pytest.fixture
def page(browser, lab, request):
    """A fresh browser page for one test; a screenshot and the server log's tail when the test fails."""
    SCREENSHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            page.screenshot(path=SCREENSHOTS / f"FAILED-{request.node.name}.png")
            print(f"--- JupyterLab log (last lines) ---\n{lab.log_tail()}")
        context.close()
