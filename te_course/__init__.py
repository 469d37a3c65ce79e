"""te_course: the helper package of a course on peer-to-peer and transactive energy markets."""
from .auction import (
    ClearingResult,
    Settlement,
    clear_double_auction,
    parse_orders,
    random_orders,
    settle,
    welfare_max_clearing,
)
from ._validation import SolverError, TeCourseError

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
