"""te_course: the helper package of a course on peer-to-peer and transactive energy markets.

The computation functions are re-exported here (``tc.clear_double_auction``);
``tc.plots``, ``tc.widgets`` and ``tc.grading`` are loaded on first use, so that
``import te_course`` does not pull in matplotlib, ipywidgets or nbgrader.
"""

import importlib

from ._validation import ConvergenceError, SolverError, TeCourseError
from .auction import (
    ClearingResult,
    Settlement,
    clear_double_auction,
    parse_orders,
    random_orders,
    settle,
    welfare_max_clearing,
)
from .coordination import (
    CoordinationResult,
    P2PResult,
    QuadraticAgents,
    admm,
    centralized_dispatch,
    distance_costs,
    p2p_bilateral,
    p2p_centralized,
    price_iteration,
    random_community,
)
from .dlmp import DLMPProblem, DLMPResult, dlmp, marginal_loss_factors
from .feeders import Feeder, ieee33, pjm5bus, radial_feeder
from .mechanisms import Outcome, max_misreport_gain, property_table, sbba, trade_reduction, uniform_price, vcg
from .powerflow import PowerFlowResult, ac_power_flow, dc_power_flow, hosting_capacity, lindistflow, ptdf
from .prosumer import (
    EV,
    PV,
    Battery,
    BatteryProblem,
    FlexibleLoad,
    Prosumer,
    Schedule,
    breakeven_price_ratio,
    example_day,
    schedule,
)

__version__ = "0.4.0"
__all__ = [
    # errors
    "ConvergenceError",
    "SolverError",
    "TeCourseError",
    # chapter 1: auction
    "ClearingResult",
    "Settlement",
    "clear_double_auction",
    "parse_orders",
    "random_orders",
    "settle",
    "welfare_max_clearing",
    # chapter 2: prosumer
    "PV",
    "Battery",
    "EV",
    "FlexibleLoad",
    "Prosumer",
    "Schedule",
    "schedule",
    "breakeven_price_ratio",
    "example_day",
    "BatteryProblem",
    # chapter 3: coordination
    "QuadraticAgents",
    "CoordinationResult",
    "P2PResult",
    "random_community",
    "centralized_dispatch",
    "price_iteration",
    "admm",
    "p2p_bilateral",
    "p2p_centralized",
    "distance_costs",
    # chapter 4: feeders and power flow
    "Feeder",
    "ieee33",
    "radial_feeder",
    "pjm5bus",
    "PowerFlowResult",
    "ac_power_flow",
    "lindistflow",
    "dc_power_flow",
    "ptdf",
    "hosting_capacity",
    # chapter 5: distribution locational marginal prices
    "dlmp",
    "DLMPResult",
    "DLMPProblem",
    "marginal_loss_factors",
    # chapter 6: mechanism design (utilities and welfare stay in te_course.mechanisms)
    "Outcome",
    "uniform_price",
    "vcg",
    "trade_reduction",
    "sbba",
    "max_misreport_gain",
    "property_table",
]

_LAZY = ("plots", "widgets", "grading")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'te_course' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
