"""The subpackage te_course.security: one module per subject, every public name also at its top."""

import importlib

import pytest

import te_course as tc
import te_course.security as security

BEFORE_ISSUE_17 = [  # the public names of the module te_course.security before it became a subpackage
    "NMinus1Result", "n_minus_1", "MarketOutcome", "FalseBidResult", "false_bid_attack", "robust_z", "Screening",
    "screen_orders", "MitigationResult", "mitigate_false_bids", "FeederAttackResult", "false_offer_on_feeder",
]
HOME = {
    "contingencies": ["NMinus1Result", "n_minus_1"],
    "false_bids": ["MarketOutcome", "FalseBidResult", "false_bid_attack", "robust_z", "Screening", "screen_orders",
                   "MitigationResult", "mitigate_false_bids"],
    "feeder_attacks": ["FeederAttackResult", "DamageRemoved", "false_offer_on_feeder"],
}


@pytest.mark.parametrize("name", BEFORE_ISSUE_17)
def test_every_old_name_is_still_reached_the_old_ways(name):
    assert name in security.__all__
    namespace = {}
    exec(f"from te_course.security import {name}", namespace)  # noqa: S102
    assert namespace[name] is getattr(security, name) is getattr(tc, name)


@pytest.mark.parametrize(("module", "names"), HOME.items())
def test_each_name_lives_in_its_subject_module(module, names):
    mod = importlib.import_module(f"te_course.security.{module}")
    assert sorted(mod.__all__) == sorted(names)
    for name in names:
        assert getattr(mod, name) is getattr(security, name)
        assert getattr(mod, name).__module__ == mod.__name__
    assert sorted(security.__all__) == sorted(n for ns in HOME.values() for n in ns)


def test_function_names_are_not_hidden_by_module_names():
    assert callable(security.n_minus_1) and callable(security.false_offer_on_feeder)
    assert not {"n_minus_1", "false_bid_attack", "false_offer_on_feeder"} & set(HOME)
