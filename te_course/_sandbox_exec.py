"""Run a command with resource limits, as an unprivileged user: the last step into a grading sandbox.

``te_course._sandbox`` starts every graded kernel as::

    bwrap <mounts> -- python -I _sandbox_exec.py --uid U --gid G --memory-mb M --processes P
                                                 --cpu-seconds C --file-size-mb F -- <kernel command>

Inside bubblewrap's namespaces this script sets the limits (``setrlimit``: address
space, processes, CPU time, file size, no core files), gives up root if the grader
runs as root (root ignores ``RLIMIT_NPROC``, so a fork bomb would only be stopped as
another user), and replaces itself with the kernel.  It imports nothing but the
standard library, so that it adds milliseconds, not the package's import time.
"""

from __future__ import annotations

import os
import resource
import sys

_MB = 1024 * 1024


def _limits(args: list[str]) -> tuple[dict[str, int], list[str]]:
    if "--" not in args:
        raise SystemExit("usage: _sandbox_exec.py --uid U --gid G --memory-mb M ... -- command")
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    values = {options[i].lstrip("-").replace("-", "_"): int(options[i + 1]) for i in range(0, len(options), 2)}
    return values, command


def main(args: list[str]) -> None:
    limits, command = _limits(args)
    for which, value in (
        (resource.RLIMIT_AS, limits["memory_mb"] * _MB),
        (resource.RLIMIT_NPROC, limits["processes"]),
        (resource.RLIMIT_CPU, limits["cpu_seconds"]),
        (resource.RLIMIT_FSIZE, limits["file_size_mb"] * _MB),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))
    if os.getuid() == 0 and limits["uid"] != 0:
        os.setgroups([])
        os.setgid(limits["gid"])
        os.setuid(limits["uid"])
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
