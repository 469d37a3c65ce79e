"""Security of feeders and markets: N-1 contingencies, false bids, false offers, and a mitigation.

"Security" means two things in transactive energy, and this subpackage measures both, one
subject per module (every public name is also here, as ``te_course.security.X``):

=========================  ====================================================================
module                     what it holds
=========================  ====================================================================
:mod:`.contingencies`      operational security, the N-1 criterion: :func:`n_minus_1` opens each
                           line of a radial feeder in turn, closes the best normally-open tie
                           line that restores supply, and checks voltages and thermal limits by
                           AC power flow (:class:`NMinus1Result`).
:mod:`.false_bids`         market security, false data in the double auction of chapter 1:
                           :func:`false_bid_attack` (phantom orders; :class:`MarketOutcome`
                           counts the energy really delivered, :class:`FalseBidResult`), and the
                           mitigation: :func:`robust_z`, :func:`screen_orders`
                           (:class:`Screening`), :func:`mitigate_false_bids`
                           (:class:`MitigationResult`).
:mod:`.feeder_attacks`     a compromised DER's false offer dispatched by the operator's OPF and
                           run on the real feeder, with the screen as mitigation:
                           :func:`false_offer_on_feeder` (:class:`FeederAttackResult`,
                           :class:`DamageRemoved`).
``._common``               private: limits in words and the screen's rules, shared by the three.
=========================  ====================================================================

References: Kundur, *Power System Stability and Control*, 1994, sec. 2.1; Wood, Wollenberg and
Sheblé, *Power Generation, Operation, and Control*, 2014, ch. 7; Baran and Wu, IEEE Trans. Power
Delivery 4(2), 1989 (tie lines); Liu, Ning and Reiter, ACM CCS 2009 and Xie, Mo and Sinopoli,
IEEE Trans. Smart Grid 2(4), 2011 (false data); Iglewicz and Hoaglin 1993 (robust z-score).

Examples
--------
>>> import te_course.security as security
>>> security.false_bid_attack([12, 10, 8], [5, 7, 9], fake_asks=[(0.0, 10.0)]).welfare_loss
10.0
"""

from __future__ import annotations

from .contingencies import NMinus1Result, n_minus_1
from .false_bids import (
    FalseBidResult,
    MarketOutcome,
    MitigationResult,
    Screening,
    false_bid_attack,
    mitigate_false_bids,
    robust_z,
    screen_orders,
)
from .feeder_attacks import DamageRemoved, FeederAttackResult, false_offer_on_feeder

__all__ = [
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
    "DamageRemoved",
    "false_offer_on_feeder",
]
