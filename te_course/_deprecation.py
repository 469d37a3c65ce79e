"""Old spellings of the public API, kept working for one release with a ``DeprecationWarning``.

Issue 17 made the API read as one library (``feeder`` for every network argument, ``price_*``
for prices, keyword-only options after the data).  Code written for the previous release keeps
running: these decorators map the old keyword or the old positional use onto the new signature
and say, once per call, what to write instead.  ``CHANGELOG.md`` lists every such rename; the
shims go in the release after.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable

__all__ = ["renamed_keywords", "keywords_were_positional", "always_converged"]


def renamed_keywords(**old_to_new: str) -> Callable:
    """Accept each old keyword ``old=`` as ``new=``, with a ``DeprecationWarning``.

    Examples
    --------
    >>> @renamed_keywords(network="feeder")
    ... def f(feeder):
    ...     return feeder
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(network=3), caught[0].category.__name__
    (3, 'DeprecationWarning')
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs) -> object:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both `{old}` and `{new}`; `{old}` is the old name "
                                        f"of `{new}`: pass only `{new}`.")
                    warnings.warn(f"{func.__name__}(): the argument `{old}` is now called `{new}`; the old name "
                                  "will stop working in the next release.", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


def keywords_were_positional(*names: str) -> Callable:
    """Accept the keyword-only arguments ``names`` positionally too, in that order, with a ``DeprecationWarning``.

    For a function whose options became keyword-only: ``clear_double_auction(bids, asks, 0.3)``
    still means ``k=0.3`` for one release.

    Examples
    --------
    >>> @keywords_were_positional("k")
    ... def f(bids, asks, *, k=0.5):
    ...     return k
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(1, 2, 0.3), f(1, 2, k=0.2), len(caught)
    (0.3, 0.2, 1)
    """

    def decorate(func: Callable) -> Callable:
        params = inspect.signature(func).parameters.values()
        n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)

        @functools.wraps(func)
        def wrapper(*args, **kwargs) -> object:
            if len(args) > n_positional:
                extra = args[n_positional:]
                if len(extra) > len(names):
                    raise TypeError(f"{func.__name__}() takes at most {n_positional + len(names)} positional "
                                    f"arguments; got {len(args)}.")
                moved = names[: len(extra)]
                for name, value in zip(moved, extra):
                    if name in kwargs:
                        raise TypeError(f"{func.__name__}() got `{name}` both by position and by keyword.")
                    kwargs[name] = value
                shown = ", ".join(f"{n}=..." for n in moved)
                warnings.warn(f"{func.__name__}(): pass {shown} by keyword; giving it by position will stop "
                              "working in the next release.", DeprecationWarning, stacklevel=2)
                args = args[:n_positional]
            return func(*args, **kwargs)

        return wrapper

    return decorate


class always_converged:  # noqa: N801  (used like a property)
    """A deprecated ``converged`` attribute of a result: always True, with a ``DeprecationWarning``.

    The iterative methods raise :class:`~te_course.ConvergenceError` when they do not converge
    (issue 17: one rule for every method), so a returned result has always converged.  Declare it
    in the result's class body as ``converged = always_converged("what raises instead")``.

    Examples
    --------
    >>> class Result:
    ...     converged = always_converged("a sweep that does not converge raises ConvergenceError")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     Result().converged, caught[0].category.__name__
    (True, 'DeprecationWarning')
    """

    def __init__(self, instead: str):
        self.instead = instead

    def __set_name__(self, owner, name: str) -> None:
        self.where = f"{owner.__name__}.{name}"

    def __get__(self, obj, objtype=None) -> bool:
        if obj is None:
            return self
        warnings.warn(f"{self.where} is always True and will be removed in the next release: {self.instead}.",
                      DeprecationWarning, stacklevel=2)
        return True
