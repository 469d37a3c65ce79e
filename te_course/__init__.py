"""te_course: the helper package of a course on peer-to-peer and transactive energy markets.

The computation functions are re-exported here (``tc.clear_double_auction``);
``tc.plots``, ``tc.widgets`` and ``tc.grading`` are loaded on first use, so that
``import te_course`` does not pull in matplotlib, ipywidgets or nbgrader.
"""

import importlib

from ._paths import package_version as _package_version
from .auction import (
    ClearingResult,
    OrderBooks,
    Orders,
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
from .errors import ConvergenceError, InfeasibleError, SolverError, TeCourseError, UnboundedError
from .fairness import (
    Allocation,
    FairnessProblem,
    FeederUsage,
    WorstOff,
    compare_allocations,
    envy,
    fair_allocation,
    feeder_usage,
    is_envy_free,
    jain_index,
    price_of_fairness,
    worst_off,
)
from .feeders import Feeder, ieee33, pjm5bus, radial_feeder
from .games import (
    CournotResult,
    DynamicsResult,
    WithholdingResult,
    best_response_dynamics,
    competition_curve,
    cournot_best_responses,
    cournot_equilibrium,
    dlmp_withholding,
    matrix_best_responses,
    pure_nash_equilibria,
    two_zone_outcome,
    withholding,
)
from .market_power import (
    Concentration,
    MergerVerdict,
    concentration,
    demand_elasticity,
    hhi,
    lerner_cournot,
    lerner_from_hhi,
    lerner_index,
    lerner_monopoly,
    weighted_lerner,
)
from .mechanisms import (
    MisreportGain,
    Outcome,
    max_misreport_gain,
    property_table,
    sbba,
    trade_reduction,
    uniform_price,
    vcg,
)
from .opf import DCOPFResult, DLMPProblem, DLMPResult, dc_opf_lmp, dlmp, marginal_loss_factors
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
from .scheduling import (
    DayFlows,
    DayResult,
    EVFleet,
    EVStudy,
    EVStudyProblem,
    FeederDay,
    cheapest_first_charging,
    day_ahead_dlmp,
    ev_fleet,
    ev_study,
    evaluate_day,
    example_feeder_day,
    rate_lines,
    simulate_day,
    uncontrolled_charging,
)
from .security import (
    FalseBidResult,
    FeederAttackResult,
    MarketOutcome,
    MitigationResult,
    NMinus1Result,
    Screening,
    false_bid_attack,
    false_offer_on_feeder,
    mitigate_false_bids,
    n_minus_1,
    robust_z,
    screen_orders,
)
from .uncertainty import (
    RiskAverseSchedule,
    StochasticValue,
    TwoStageSchedule,
    cvar_schedule,
    pv_scenarios,
    recourse_costs,
    stochastic_value,
    two_stage_schedule,
)

__version__ = _package_version()  # pyproject.toml's: the one place the version is written
__all__ = [
    # errors
    "ConvergenceError",
    "SolverError",
    "InfeasibleError",
    "UnboundedError",
    "TeCourseError",
    # chapter 1: auction
    "ClearingResult",
    "Settlement",
    "Orders",
    "OrderBooks",
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
    "dc_opf_lmp",
    "DCOPFResult",
    # chapter 6: mechanism design (utilities and welfare stay in te_course.mechanisms)
    "Outcome",
    "uniform_price",
    "vcg",
    "trade_reduction",
    "sbba",
    "MisreportGain",
    "max_misreport_gain",
    "property_table",
    # chapter 7: strategic behaviour and market power
    "CournotResult",
    "cournot_equilibrium",
    "cournot_best_responses",
    "competition_curve",
    "DynamicsResult",
    "best_response_dynamics",
    "pure_nash_equilibria",
    "matrix_best_responses",
    "WithholdingResult",
    "two_zone_outcome",
    "withholding",
    "dlmp_withholding",
    "hhi",
    "Concentration",
    "MergerVerdict",
    "concentration",
    "lerner_index",
    "demand_elasticity",
    "lerner_monopoly",
    "lerner_cournot",
    "weighted_lerner",
    "lerner_from_hhi",
    # chapter 8: fairness
    "Allocation",
    "FairnessProblem",
    "fair_allocation",
    "FeederUsage",
    "feeder_usage",
    "envy",
    "is_envy_free",
    "jain_index",
    "price_of_fairness",
    "WorstOff",
    "worst_off",
    "compare_allocations",
    # chapter 9: applications (a day on the feeder, uncertainty, security)
    "DayResult",
    "DayFlows",
    "day_ahead_dlmp",
    "simulate_day",
    "evaluate_day",
    "uncontrolled_charging",
    "cheapest_first_charging",
    "EVFleet",
    "ev_fleet",
    "EVStudy",
    "ev_study",
    "EVStudyProblem",
    "rate_lines",
    "example_feeder_day",
    "FeederDay",
    "StochasticValue",
    "TwoStageSchedule",
    "RiskAverseSchedule",
    "cvar_schedule",
    "stochastic_value",
    "two_stage_schedule",
    "recourse_costs",
    "pv_scenarios",
    "NMinus1Result",
    "n_minus_1",
    "MarketOutcome",
    "FalseBidResult",
    "false_bid_attack",
    "robust_z",
    "Screening",
    "screen_orders",
    "MitigationResult",
    "mitigate_false_bids",
    "FeederAttackResult",
    "false_offer_on_feeder",
]

_LAZY = ("plots", "widgets", "grading")


def __getattr__(name) -> object:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'te_course' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
