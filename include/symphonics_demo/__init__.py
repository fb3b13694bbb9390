"""Demo and benchmark data of the Workforce Automation App's database (the source of the Symphonics sync).

``python -m include.symphonics_demo --help`` for the command line; docs/APP_CONTRACT.md for the data set.
"""

from __future__ import annotations

from include.symphonics_demo.expectations import (
    ExpectedDataset,
    ExpectedOutcome,
    ExpectedState,
    Reason,
    expected_outcomes,
    expected_outcomes_of_plan,
)
from include.symphonics_demo.plan import Case, DatasetPlan, Modifier, external_id_of, plan_dataset

__all__ = [
    "Case",
    "DatasetPlan",
    "ExpectedDataset",
    "ExpectedOutcome",
    "ExpectedState",
    "Modifier",
    "Reason",
    "expected_outcomes",
    "expected_outcomes_of_plan",
    "external_id_of",
    "plan_dataset",
]
