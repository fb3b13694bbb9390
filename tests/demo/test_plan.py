"""The plan and the expected outcomes: pure, exact, reproducible."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.symphonics_demo import (
    Case,
    ExpectedState,
    Modifier,
    expected_outcomes,
    plan_dataset,
)
from include.symphonics_demo.plan import DEFAULT_CASE_SHARES, EVERY_CASE_FROM_N, parse_shares


def test_same_seed_same_plan_and_other_seed_other_plan() -> None:
    assert plan_dataset(3, 2000) == plan_dataset(3, 2000)
    assert plan_dataset(3, 2000).cases != plan_dataset(4, 2000).cases


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(0, 5000))
def test_counts_are_exact_and_states_add_up(seed: int, n: int) -> None:
    expected = expected_outcomes(seed, n)
    counts = expected.case_counts
    assert sum(counts.values()) == n
    assert sum(expected.state_counts.values()) == n
    for case, share in DEFAULT_CASE_SHARES.items():
        floor = int(share * n)
        assert counts[case] == (max(floor, 1) if n >= EVERY_CASE_FROM_N else floor)
    valid_ids = {o.intervention_id for o in expected.outcomes.values() if o.case == Case.VALID}
    plan = expected.plan
    assert plan.repeat_customer <= valid_ids
    assert plan.late_document <= valid_ids
    if valid_ids:
        assert min(valid_ids) not in plan.repeat_customer


def test_modifiers_only_on_published_valid_interventions() -> None:
    expected = expected_outcomes(11, 3000)
    for outcome in expected.outcomes.values():
        if outcome.modifiers:
            assert outcome.case == Case.VALID
            assert outcome.state == ExpectedState.PUBLISHED
    assert expected.modifier_counts[Modifier.REPEAT_CUSTOMER] == len(expected.plan.repeat_customer) > 0


def test_every_path_is_present_in_a_small_demo() -> None:
    expected = expected_outcomes(1, 300)
    assert all(count > 0 for count in expected.case_counts.values())
    assert all(count > 0 for count in expected.state_counts.values())
    assert len(expected.partner_rejects_later) == expected.case_counts[Case.PHOTOS_FAR_APART]


def test_share_overrides_are_checked() -> None:
    assert parse_shares({"pdl_unknown": 0.2})[0][Case.PDL_UNKNOWN] == 0.2
    assert parse_shares({"repeat_customer": 0.5})[1][Modifier.REPEAT_CUSTOMER] == 0.5
    with pytest.raises(ValueError, match="unknown share"):
        parse_shares({"no_such_defect": 0.1})
    with pytest.raises(ValueError, match="add up"):
        parse_shares({"scheduled": 0.9, "in_progress": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_shares({"scheduled": 1.5})
