"""Modules that moved, kept importable under their old name for one release.

``te_course.dlmp`` was the module of the distribution OPF until te_course 0.5, but
``te_course.dlmp`` is also the function :func:`te_course.opf.dlmp` that the package
re-exports, which hid the module.  The module is now :mod:`te_course.opf`;
:func:`register` puts a stand-in under the old name in ``sys.modules``, so that
``from te_course.dlmp import DLMPProblem`` and ``importlib.import_module("te_course.dlmp")``
keep working (each name read from it warns ``DeprecationWarning``), while the attribute
``te_course.dlmp`` stays the function.
"""

from __future__ import annotations

import sys
import types
import warnings

__all__ = ["MovedModule", "register"]


class MovedModule(types.ModuleType):
    """A stand-in for a module under its old name: every name read from it comes from the new module, with a warning.

    Examples
    --------
    >>> import warnings
    >>> from te_course import opf
    >>> old = MovedModule("te_course.dlmp", opf)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     old.DLMPProblem is opf.DLMPProblem, caught[0].category.__name__
    (True, 'DeprecationWarning')
    """

    def __init__(self, old_name: str, new: types.ModuleType) -> None:
        """Stand in for module ``new`` under the name ``old_name``."""
        super().__init__(old_name, f"Moved to {new.__name__}; this name stops working in the next release.")
        self._new = new

    def __getattr__(self, name: str) -> object:
        """Return ``new``'s attribute ``name``, with a DeprecationWarning (dunder names: AttributeError)."""
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(name)
        value = getattr(self._new, name)
        warnings.warn(f"{self.__name__} is now {self._new.__name__}: import {name} from {self._new.__name__} "
                      f"(the old module name stops working in the next release).", DeprecationWarning, stacklevel=2)
        return value

    def __dir__(self) -> list[str]:
        """Return the names of the new module."""
        return sorted(set(dir(self._new)))


def register(old_name: str, new: types.ModuleType) -> MovedModule:
    """Put a :class:`MovedModule` for ``new`` in ``sys.modules`` under ``old_name``; return it."""
    module = MovedModule(old_name, new)
    sys.modules[old_name] = module
    return module
