"""The gate: while a hidden check runs the student's function, ``te_course`` answers only what the exercise allows.

Switching names off (:func:`te_course.grading.package_disabled`) cannot close every door:
Python keeps references to a function in default arguments, containers, partials,
closures and ``sys.modules``, and a sibling function that is not switched off computes the
same answer.  The gate looks at *calls* instead of names.  While the student's function
runs, a profile hook (:func:`sys.setprofile`, and :func:`threading.setprofile` for the
threads it starts) sees every call of a Python function; a call of the package's code is
let through only when

- the package itself makes it: the nearest frame below it that is not a library's
  (the standard library, site-packages) is the package's own code, outside the hidden
  checks' machinery; the package's code is known by the identity of its code objects,
  collected from its modules and classes, so code compiled under a package file name
  does not pass for it; or
- the exercise allows it (:attr:`te_course._checks.Check.allowed`): ``"ieee33"`` allows
  that function, ``"Feeder"`` a class with its methods and properties.

Whatever reference the student holds, the call lands in the package's code, and the gate
refuses it there with :class:`~te_course.grading.PackageDisabled`.  A refused call is
remembered, so a student's ``try``/``except`` around it does not help: the case fails when
the function returns.
"""

from __future__ import annotations

import inspect
import sys
import sysconfig
import threading
import types
from pathlib import Path

__all__ = ["ALWAYS_ALLOWED", "Gate", "gated", "package_names"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + "/"
_CHECKS_DIR = str(Path(__file__).resolve().parent) + "/"
_LIBRARY_DIRS = tuple(sorted({str(Path(p).resolve()) + "/" for key in ("stdlib", "platstdlib", "purelib", "platlib")
                              if (p := sysconfig.get_paths().get(key))}))


def _codes_of(obj, name: str, out: dict[int, tuple[types.CodeType, set[str]]]) -> None:
    """Add the code objects of a function (its nested ones too, and what it wraps) to ``out`` under ``name``.

    A method that :mod:`dataclasses` generated (``__init__``, ``__eq__``) is the package's too,
    although its code was compiled from a string.
    """
    funcs = [obj]
    while hasattr(funcs[-1], "__wrapped__"):
        funcs.append(funcs[-1].__wrapped__)
    stack = [f.__code__ for f in funcs if isinstance(getattr(f, "__code__", None), types.CodeType)]
    while stack:
        c = stack.pop()
        entry = out.setdefault(id(c), (c, set()))
        entry[1].add(name)
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]


_SEEN: dict = {"modules": frozenset(), "codes": {}}


def package_names() -> dict[int, tuple[types.CodeType, set[str]]]:
    """Every code object of the imported ``te_course`` modules, by id, with the names it answers to.

    A module-level function answers to ``module.name`` and, when ``te_course`` exports it, to
    ``name``; a method to ``Class.method`` and ``Class`` (and ``module.Class``).  Collected
    once per set of imported modules and kept (a name that a hidden test switched off since
    does not hide the function's code).
    """
    modules = frozenset(m for m in sys.modules if m == "te_course" or m.startswith("te_course."))
    if modules == _SEEN["modules"]:
        return _SEEN["codes"]
    out: dict[int, tuple[types.CodeType, set[str]]] = dict(_SEEN["codes"])
    top = sys.modules.get("te_course")
    exported = {id(getattr(top, n)): n for n in getattr(top, "__all__", ()) if hasattr(top, n)}
    for mod_name in sorted(modules):
        module = sys.modules.get(mod_name)
        if module is None:
            continue
        rel = mod_name[len("te_course."):] if mod_name != "te_course" else ""
        for attr, value in list(vars(module).items()):
            if getattr(value, "__module__", None) != mod_name:
                continue
            names = {f"{rel}.{attr}" if rel else attr}
            if id(value) in exported:
                names.add(exported[id(value)])
            if inspect.isclass(value):
                for member, raw in vars(value).items():
                    parts = [raw.fget, raw.fset, raw.fdel] if isinstance(raw, property) else \
                        [raw.__func__] if isinstance(raw, (staticmethod, classmethod)) else [raw]
                    for part in parts:
                        if part is None:
                            continue
                        for n in names:
                            _codes_of(part, f"{n}.{member}", out)
            elif callable(value):
                for n in names:
                    _codes_of(value, n, out)
    _SEEN.update(modules=modules, codes=out)
    return out


def _is_library(code: types.CodeType) -> bool:
    name = code.co_filename
    return name.startswith(_LIBRARY_DIRS) and not name.startswith(_PACKAGE_DIR) or name.startswith("<frozen ")


def _process_starters() -> tuple:
    """Return the built-in functions that start another program or process (which would run without the gate)."""
    import os

    names = ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve", "execl", "execle",
             "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "popen")
    found = [getattr(os, n) for n in names if hasattr(os, n)]
    try:
        import _posixsubprocess

        found.append(_posixsubprocess.fork_exec)
    except ImportError:  # not on POSIX
        pass
    return tuple(found)


#: Built-in calls refused while the gate stands: the ones that would take it down, and the ones that would
#: run code where it does not stand (another process; a thread started behind threading's back).
_REFUSED_BUILTINS = (sys.setprofile, sys.settrace, *_process_starters())
_THREAD_STARTERS = tuple(f for f in (getattr(threading, "_start_new_thread", None),
                                     getattr(threading, "_start_joinable_thread", None)) if f is not None)
_THREADING_HOOKS = tuple(f.__code__ for f in (threading.setprofile, threading.settrace))

#: The package's wrappers (deprecated keywords, renamed arguments): a call through one is judged by the
#: function it wraps, so they pass calls on in both directions.
_WRAPPERS = (_PACKAGE_DIR + "_deprecation.py",)


#: What every exercise allows: the error classes, and the feeder (a data object that many checks hand over).
ALWAYS_ALLOWED = ("errors", "Feeder")


class Gate:
    """The profile hook of one gated call (see the module docstring).

    Parameters
    ----------
    allowed : iterable of str
        Names the exercise allows (``"ieee33"``, ``"powerflow.ac_power_flow"``, ``"Feeder"``).
    record : bool
        Let every call through, and only note the package names called from outside
        (``self.called``): how the allowed lists are checked against the solutions.
    """

    def __init__(self, allowed=(), *, record: bool = False) -> None:
        self.allowed = frozenset(allowed) | frozenset(ALWAYS_ALLOWED)
        self.exercise_allows = tuple(allowed)
        self.record = record
        self.refused: list[str] = []
        self.called: set[str] = set()
        self._codes = package_names()
        self._strangers: dict[int, types.CodeType] = {}

    def _names(self, code: types.CodeType) -> set[str] | None:
        """Return the package names of ``code``, or None when it is not the package's own code."""
        entry = self._codes.get(id(code))
        if entry is not None and entry[0] is code:
            return entry[1]
        if code.co_filename.startswith(_PACKAGE_DIR) and self._strangers.get(id(code)) is not code:
            self._codes = package_names()  # a module imported since: look again, once per code object
            entry = self._codes.get(id(code))
            if entry is not None and entry[0] is code:
                return entry[1]
            self._strangers[id(code)] = code  # compiled under a package file name, but not the package's
        return None

    def _internal(self, frame) -> bool:
        """Whether the package itself made the call that opened ``frame``."""
        caller = frame.f_back
        while caller is not None and caller.f_code.co_filename in _WRAPPERS:
            caller = caller.f_back
        if caller is not None and self._names(caller.f_code) is not None:
            return True  # called directly by the package (the checks' own code included)
        while caller is not None:
            code = caller.f_code
            if not _is_library(code) and code.co_filename not in _WRAPPERS:
                return self._names(code) is not None and not code.co_filename.startswith(_CHECKS_DIR)
            caller = caller.f_back
        return False

    def _permitted(self, names: set[str]) -> bool:
        for name in names:
            parts = name.split(".")
            # "Feeder" allows "Feeder.graph"; "powerflow" would allow the module (not used)
            if any(".".join(parts[:k]) in self.allowed for k in range(1, len(parts) + 1)):
                return True
        return False

    def __call__(self, frame, event, arg) -> None:
        if event == "c_call":
            self._guard_builtin(frame, arg)
            return
        if event == "call" and frame.f_code in _THREADING_HOOKS and self._names(frame.f_back.f_code) is None:
            self._refuse(f"threading.{frame.f_code.co_name} (it would take the gate down)")
        filename = frame.f_code.co_filename
        if event != "call" or not filename.startswith(_PACKAGE_DIR) or filename in _WRAPPERS or filename == __file__:
            return  # (the gate's own code: gated.__enter__ and __exit__ watch over themselves)
        names = self._names(frame.f_code)
        if names is None or self._internal(frame) or self._permitted(names):
            return
        if "grading.package_disabled" in names:  # a name switched off by package_disabled: it raises its own message
            self.refused.append(frame.f_locals.get("_name", "te_course (a function switched off)"))
            return
        shown = sorted(n for n in names if "." not in n) or sorted(names)
        if self.record:
            self.called.update(names)
            return
        self.refused.append(f"te_course.{shown[0]}")
        from te_course.grading import PackageDisabled

        raise PackageDisabled(
            f"This exercise asks you to write the code yourself: te_course.{shown[0]} is switched off while it is "
            "graded (however it is reached: by name, alias, default argument, container, partial or module). "
            f"{self.allowed_words()}"
        )

    def _guard_builtin(self, frame, func) -> None:
        """Refuse a built-in call that would take the gate down or run code behind it (unless the package makes it)."""
        if func in _REFUSED_BUILTINS:
            what = f"{getattr(func, '__module__', None) or 'os'}.{func.__name__}"
        elif func in _THREAD_STARTERS:  # only threading.Thread.start, which puts the gate into the thread
            if frame.f_code is threading.Thread.start.__code__ and threading._profile_hook is self:  # noqa: SLF001
                return
            what = "a thread started without the gate"
        else:
            return
        if self._names(frame.f_code) is not None:  # the gate itself, or the package
            return
        self._refuse(what)

    def _refuse(self, what: str) -> None:
        if self.record:
            return
        self.refused.append(what)
        from te_course.grading import PackageDisabled

        raise PackageDisabled(f"{what} is not allowed while a hidden test runs your code.")

    def allowed_words(self) -> str:
        """Return the exercise's allowed names, in a sentence."""
        public = [f"te_course.{n}" for n in self.exercise_allows if not n.startswith("_")]
        given = " and what your function is given" if len(public) < len(self.exercise_allows) else ""
        if not public:
            return f"This exercise allows no te_course function{given} (only the feeders and error classes)."
        return f"This exercise allows only {', '.join(public)}{given} (and the feeders and error classes)."


class gated:  # noqa: N801  (used like a function: ``with gated(allowed) as gate:``)
    """Run a block behind a :class:`Gate`; raise PackageDisabled at its end if a refused call was caught.

    A class, not a generator: leaving the block calls ``__exit__`` straight from the package's
    code, which the gate lets through (a generator's frame would be resumed by contextlib).
    """

    def __init__(self, allowed=(), *, record: bool = False) -> None:
        self.gate = Gate(allowed, record=record)
        self._entries = self._exits = 0

    def __enter__(self) -> Gate:
        self._entries += 1
        if self._entries > 1:  # once only: code that left the block early cannot put the gate back unseen
            self.gate.refused.append("the gate's __enter__ (to put it back after taking it down)")
            return self.gate
        self._previous = sys.getprofile(), getattr(threading, "_profile_hook", None)
        sys.setprofile(self.gate)
        threading.setprofile(self.gate)
        return self.gate

    def __exit__(self, *exc) -> None:
        self._exits += 1
        standing = sys.getprofile() is self.gate  # a refusal clears it; nothing else may
        sys.setprofile(self._previous[0])
        threading.setprofile(self._previous[1])
        if (self._exits > 1 or not standing) and not self.gate.refused and not self.gate.record:
            self.gate.refused.append("something that took the gate down")
        if self.gate.refused:  # even if the student caught the refusal, or it ended a thread
            from te_course.grading import PackageDisabled

            raise PackageDisabled(
                f"Your code called {self.gate.refused[0]} and the call was refused. {self.gate.allowed_words()} "
                f"This exercise asks you to write the code yourself: {self.gate.refused[0]} is switched off while "
                "it is graded."
            )
