"""A day on the feeder: multi-period DLMPs with prosumers, EV charging, hourly clearings (chapter 9).

Chapter 9 puts the pieces of the course together on one feeder and one day.  This package
holds one subject per module:

- :mod:`te_course.scheduling.day` -- the day-ahead OPF: :func:`day_ahead_dlmp` (the
  multi-period LinDistFlow OPF with prosumers and its DLMPs; the formulation and the sources
  are in that module's docstring), :func:`evaluate_day` (the AC power flow of every step);
- :mod:`te_course.scheduling.rolling` -- the hourly clearing, :func:`simulate_day`;
- :mod:`te_course.scheduling.evs` -- EV charging: :func:`uncontrolled_charging`,
  :func:`cheapest_first_charging`, :func:`ev_fleet`, :func:`ev_study` (and :class:`EVStudyProblem`,
  the same study built once and solved for many fleets);
- :mod:`te_course.scheduling.examples` -- set-ups: :func:`rate_lines`,
  :func:`example_feeder_day`.

Every public name is importable from ``te_course.scheduling`` (as before the split, issue 17)
and from ``te_course``.
"""

from .day import PRICE_MAX, DayFlows, DayResult, day_ahead_dlmp, evaluate_day
from .evs import (
    MAX_STEPS,
    EVFleet,
    EVStudy,
    EVStudyProblem,
    cheapest_first_charging,
    ev_fleet,
    ev_study,
    uncontrolled_charging,
)
from .examples import FeederDay, example_feeder_day, rate_lines
from .rolling import simulate_day

__all__ = [
    "DayResult",
    "DayFlows",
    "day_ahead_dlmp",
    "evaluate_day",
    "simulate_day",
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
    "PRICE_MAX",
    "MAX_STEPS",
]
