"""Autograding throughput: seconds per submitted notebook, and a class of 30 on one assignment.

A scratch copy of the course (``solutions/`` and ``nbgrader_config.py``) is
released with ``te_course.grading.release``; simulated students' notebooks are
written to ``submitted/<student>/<assignment>/`` (what ``nbgrader collect``
produces), alternately the solution and the untouched release.  Measured:

- the class (30 students; 10 with ``--quick``) on chapter 1 with
  ``te_course.grading.autograde`` (nbgrader's API, one submission at a time, the
  grading command of README.md without its start-up), one run: total time and
  seconds per notebook (median of the per-submission times); every kernel in the
  bubblewrap sandbox (``te_course._sandbox``), as the course grades;
- the same class graded again at once without the sandbox (``sandbox=False``), so
  that the sandbox's cost per notebook is read in one run (the sandboxed run goes
  first and pays any cold start);
- the same class with nbgrader's own batch command ``nbgrader autograde NAME
  --force`` (start-up included), one run (full run only);
- one submission from the command line, ``python -m te_course.grading
  autograde NAME --student ID --force`` (start-up included; full run only);
- one solution notebook of every graded chapter (full run only): the chapters
  differ in what their worked examples compute;
- several at once (issue 18): a class of 60 (10 with ``--quick``) graded from the
  command line by nbgrader's serial ``nbgrader autograde NAME --force``, then by
  ``python -m te_course.grading autograde --jobs 1`` and ``--jobs 2``, in one run,
  each checked in the gradebook; the speed-up against nbgrader (target 1.6x on
  two cores); and the time of 300 students x 9 chapters projected at 2, 16 and
  64 cores from the measured seconds per notebook, the parallel efficiency
  measured with two jobs, and the part of each submission that runs one at a
  time (nbgrader's code, measured in the ``jobs=1`` class run as the time not
  spent in a kernel) as the floor.

Every graded submission is checked: the solution gets full marks, the untouched
notebook zero.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASS_ASSIGNMENT = "01_double_auction"
CLASS_SIZE = {"full": 30, "quick": 10}
PARALLEL_SIZE = {"full": 60, "quick": 10}  # the class graded serially by nbgrader, then with --jobs 1 and --jobs 2
SPEEDUP_TARGET = 1.6  # --jobs 2 against nbgrader's serial autograde, on a 2-core machine
PROJECTION = {"students": 300, "cores": (2, 16, 64)}


def _course(tmp: Path, names: list[str]) -> Path:
    from te_course.grading import release

    root = tmp / "course"
    for name in names:
        shutil.copytree(ROOT / "solutions" / name, root / "solutions" / name)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    release(root, names=names)
    return root


def _submit(root: Path, name: str, student: str, solution: bool) -> None:
    src = root / ("solutions" if solution else "notebooks") / name
    dest = root / "submitted" / student / name
    dest.mkdir(parents=True, exist_ok=True)
    for nb in src.glob("*.ipynb"):
        shutil.copy(nb, dest / nb.name)


def _check(report, expected: dict) -> bool:
    """Solutions at full marks, untouched notebooks at zero, nothing failed."""
    got = {(s.assignment, s.student): s.score for s in report.submissions}
    return report.ok and all(got.get(k) == v for k, v in expected.items())


def _cli(cmd: list[str], cwd: Path) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{proc.stderr[-2000:]}")
    return elapsed


class _TurnClock:
    """Time spent outside nbgrader's turn (kernels running), to read the part of a submission that runs serially."""

    def __init__(self):
        from te_course import _grading_pool

        self.module, self.original, self.outside = _grading_pool, _grading_pool.outside_turn, 0.0

    def __enter__(self):
        import contextlib

        original = self.original

        @contextlib.contextmanager
        def timed_outside():
            t0 = time.perf_counter()
            with original():
                yield
            self.outside += time.perf_counter() - t0

        self.module.outside_turn = timed_outside
        return self

    def __exit__(self, *exc):
        self.module.outside_turn = self.original


def _gradebook_ok(root: Path, expected: dict) -> bool:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "te_course") as gb:
        return all(gb.find_submission(a, s).score == v for (a, s), v in expected.items())


def _parallel(mode: str, log) -> dict:
    """A class graded by ``nbgrader autograde`` (serial), ``--jobs 1`` and ``--jobs 2``, from the command line."""
    n = PARALLEL_SIZE[mode]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = _course(Path(tmp), [CLASS_ASSIGNMENT])
        students = [f"student{i:02d}" for i in range(n)]
        for i, s in enumerate(students):
            _submit(root, CLASS_ASSIGNMENT, s, solution=i % 2 == 0)
        full = _full_marks(root)
        expected = {(CLASS_ASSIGNMENT, s): (full if i % 2 == 0 else 0.0) for i, s in enumerate(students)}
        nbgrader = str(Path(sys.executable).parent / "nbgrader")
        runs = {}
        for label, cmd in (("nbgrader", [nbgrader, "autograde", CLASS_ASSIGNMENT, "--force"]),
                           ("jobs 1", [sys.executable, "-m", "te_course.grading", "autograde", CLASS_ASSIGNMENT,
                                       "--force", "--quiet", "--jobs", "1"]),
                           ("jobs 2", [sys.executable, "-m", "te_course.grading", "autograde", CLASS_ASSIGNMENT,
                                       "--force", "--quiet", "--jobs", "2"])):
            seconds = _cli(cmd, root)
            runs[label] = {"total": seconds, "per": seconds / n, "ok": _gradebook_ok(root, expected)}
            log(f"grading     class of {n}, {label}: {seconds:.1f} s ({seconds / n:.2f} s per notebook)")
    return {"n": n, "cpus": os.cpu_count(), "runs": runs,
            "speedup": runs["nbgrader"]["total"] / runs["jobs 2"]["total"],
            "speedup_own": runs["jobs 1"]["total"] / runs["jobs 2"]["total"]}


def _full_marks(root: Path) -> float:
    import nbformat

    nb = nbformat.read(next((root / "solutions" / CLASS_ASSIGNMENT).glob("*.ipynb")), as_version=4)
    return float(sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade")))


def run(mode: str, seed: int, log) -> dict:
    from te_course.grading import assignments, autograde

    n = CLASS_SIZE[mode]
    out = {"mode": mode, "n": n, "assignment": CLASS_ASSIGNMENT, "chapters": []}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = _course(Path(tmp), [CLASS_ASSIGNMENT])
        students = [f"student{i:02d}" for i in range(n)]
        for i, s in enumerate(students):
            _submit(root, CLASS_ASSIGNMENT, s, solution=i % 2 == 0)
        t0 = time.perf_counter()
        with _TurnClock() as clock:
            report = autograde(root, names=[CLASS_ASSIGNMENT], jobs=1)
        total = time.perf_counter() - t0
        out["serial_share"] = (total - clock.outside) / n  # nbgrader's code, the checks, the gradebook
        full = max(s.max_score for s in report.submissions if s.graded)
        expected = {(CLASS_ASSIGNMENT, s): (full if i % 2 == 0 else 0.0) for i, s in enumerate(students)}
        per = [s.seconds for s in report.submissions]
        out["class"] = {"total": total, "median": statistics.median(per), "min": min(per), "max": max(per),
                        "ok": _check(report, expected), "max_score": full}
        log(f"grading     class of {n} on {CLASS_ASSIGNMENT}: {total:.1f} s, "
            f"{statistics.median(per):.2f} s per notebook (median)")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "autograding WITHOUT a sandbox", on purpose here
            t0 = time.perf_counter()
            bare = autograde(root, names=[CLASS_ASSIGNMENT], force=True, sandbox=False, jobs=1)
            bare_total = time.perf_counter() - t0
        bare_per = [s.seconds for s in bare.submissions]
        out["class_bare"] = {"total": bare_total, "median": statistics.median(bare_per),
                             "ok": _check(bare, expected)}
        log(f"grading     the same class without the sandbox: {bare_total:.1f} s, "
            f"{statistics.median(bare_per):.2f} s per notebook (median)")
        if mode == "full":
            nbgrader = str(Path(sys.executable).parent / "nbgrader")
            out["class_cli"] = _cli([nbgrader, "autograde", CLASS_ASSIGNMENT, "--force"], root)
            log(f"grading     class of {n}, nbgrader autograde (one batch): {out['class_cli']:.1f} s")
            out["single_cli"] = _cli([sys.executable, "-m", "te_course.grading", "autograde", CLASS_ASSIGNMENT,
                                      "--student", students[0], "--force"], root)
            log(f"grading     one submission from the command line: {out['single_cli']:.1f} s")
    out["parallel"] = _parallel(mode, log)
    if mode == "full":
        with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
            graded = [a for a in assignments(ROOT) if a != "00_start_here"]
            root = _course(Path(tmp), graded)
            for name in graded:
                _submit(root, name, "solution", solution=True)
            report = autograde(root, jobs=1)
            for s in report.submissions:
                out["chapters"].append({"assignment": s.assignment, "seconds": s.seconds,
                                        "ok": s.graded and s.score == s.max_score})
                log(f"grading     {s.assignment}: {s.seconds:.2f} s")
    return out


def report(out: dict, fmt_time, fmt_n) -> str:
    c = out["class"]
    n = out["n"]
    lines = [
        f"**Autograding** (`te_course.grading.autograde`, nbgrader {_nbgrader_version()}): a class of {n} on "
        f"`{out['assignment']}` (half submit the solution, half the untouched notebook), graded one submission at "
        "a time (`jobs=1`) through nbgrader's API (a kernel per submission in the bubblewrap sandbox, the course's "
        "`nbgrader_config.py`); one run. "
        "Checked: solutions at full marks, untouched notebooks at zero, nothing failed.",
        "",
        "| what | time | per notebook | check |",
        "|---|---:|---:|---|",
        f"| class of {n}, `te_course.grading.autograde` | {fmt_time(c['total'])} | {fmt_time(c['median'])} "
        f"(median; {fmt_time(c['min'])} to {fmt_time(c['max'])}) | {'ok' if c['ok'] else '**wrong scores**'} |",
    ]
    if "class_bare" in out:
        b = out["class_bare"]
        lines.append(f"| the same class without the sandbox (`sandbox=False`) | {fmt_time(b['total'])} "
                     f"| {fmt_time(b['median'])} (median); the sandbox adds "
                     f"{100 * (c['median'] / b['median'] - 1):+.0f} % per notebook "
                     f"| {'ok' if b['ok'] else '**wrong scores**'} |")
    if "class_cli" in out:
        lines.append(f"| class of {n}, `nbgrader autograde NAME --force` (one batch, start-up included) "
                     f"| {fmt_time(out['class_cli'])} | {fmt_time(out['class_cli'] / n)} (mean) | – |")
    if "single_cli" in out:
        lines.append("| one submission, `python -m te_course.grading autograde NAME --student ID` "
                     f"(start-up included) | {fmt_time(out['single_cli'])} | – | – |")
    if "parallel" in out:
        lines += _parallel_report(out, fmt_time)
    if out["chapters"]:
        lines += ["", "Seconds per submitted notebook, one solution per chapter (the worked examples run too):", "",
                  "| " + " | ".join(r["assignment"] for r in out["chapters"]) + " |",
                  "|" + "---:|" * len(out["chapters"]),
                  "| " + " | ".join(fmt_time(r["seconds"]) + ("" if r["ok"] else " (**not full marks**)")
                                    for r in out["chapters"]) + " |"]
    return "\n".join(lines)


def _parallel_report(out: dict, fmt_time) -> list[str]:
    p = out["parallel"]
    n, runs = p["n"], p["runs"]
    met = "met" if p["speedup"] >= SPEEDUP_TARGET else "**not met**"
    lines = ["", f"**Several submissions at once** (`--jobs N`): a class of {n} on `{out['assignment']}` (half "
             f"solutions, half untouched), graded from the command line in one run, start-up included, on this "
             f"{p['cpus']}-core machine; each run checked in the gradebook. Target: `--jobs 2` at least "
             f"{SPEEDUP_TARGET}× faster than nbgrader's own serial `autograde`: {met} "
             f"({p['speedup']:.2f}×; {p['speedup_own']:.2f}× against `--jobs 1`).", "",
             "| command | time | per notebook | speed-up | check |", "|---|---:|---:|---:|---|"]
    names = {"nbgrader": f"`nbgrader autograde {out['assignment']} --force` (serial)",
             "jobs 1": "`python -m te_course.grading autograde --jobs 1`",
             "jobs 2": "`python -m te_course.grading autograde --jobs 2`"}
    for key, label in names.items():
        r = runs[key]
        lines.append(f"| {label} | {fmt_time(r['total'])} | {fmt_time(r['per'])} "
                     f"| {runs['nbgrader']['total'] / r['total']:.2f}× | {'ok' if r['ok'] else '**wrong scores**'} |")
    # Projection: the kernels spread over the cores at the efficiency measured with two, and nbgrader's own
    # code (one submission at a time, on the grader's machine) as the floor.
    per_chapter = [r["seconds"] for r in out["chapters"]] or [out["class"]["median"]] * 9
    students, share = PROJECTION["students"], out["serial_share"]
    efficiency = p["speedup_own"] / 2
    notebooks = students * len(per_chapter)
    lines += ["", f"Projected for {students} students × {len(per_chapter)} chapters ({notebooks:,} notebooks) from "
              f"the seconds per notebook of each chapter "
              + ("(one solution per chapter, below)" if out["chapters"] else "(chapter 1's for all: `--quick`)")
              + f", the kernels spread over the cores at the efficiency measured with two ({efficiency:.0%}), "
              f"and the part that runs one submission at a time on the grader's machine (nbgrader's code, the "
              f"hidden checks' verdicts, the gradebook: {fmt_time(share)} per notebook, measured) as the floor:", "",
              "| cores | kernels | one at a time (floor) | projected |", "|---:|---:|---:|---:|"]
    floor = notebooks * share
    for cores in PROJECTION["cores"]:
        kernels = students * sum(per_chapter) / (cores * efficiency)
        lines.append(f"| {cores} | {_minutes(kernels)} | {_minutes(floor)} | **{_minutes(max(kernels, floor))}** |")
    crossover = students * sum(per_chapter) / (efficiency * floor)
    lines += ["", f"The floor is reached at about {crossover:.0f} cores: more do not make grading faster."]
    return lines


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f} min" if seconds >= 600 else f"{seconds / 60:.1f} min"


def _nbgrader_version() -> str:
    from importlib.metadata import version

    return version("nbgrader")
