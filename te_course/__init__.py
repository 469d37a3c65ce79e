"""te_course: the helper package of a course on peer-to-peer and transactive energy markets.

The computation functions are re-exported here (``tc.clear_double_auction``);
``tc.plots``, ``tc.widgets`` and ``tc.grading`` are loaded on first use, so that
``import te_course`` does not pull in matplotlib, ipywidgets or nbgrader.
"""

import importlib

from ._validation import SolverError, TeCourseError
from .auction import (
    ClearingResult,
    Settlement,
    clear_double_auction,
    parse_orders,
    random_orders,
    settle,
    welfare_max_clearing,
)

__version__ = "0.1.0"
__all__ = [
    "ClearingResult",
    "Settlement",
    "SolverError",
    "TeCourseError",
    "clear_double_auction",
    "parse_orders",
    "random_orders",
    "settle",
    "welfare_max_clearing",
]

_LAZY = ("plots", "widgets", "grading")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'te_course' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
