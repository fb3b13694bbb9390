"""Expected outcome of the publish pipeline for each intervention of a demo data set (pure, no database).

The pipeline tests assert that a demo data set ends with exactly these counts in each state. Each defective
intervention carries exactly one defect, so its state and reason do not depend on the order in which the
pipeline checks its rules; the order is still fixed (:data:`LOCAL_RULE_PRECEDENCE`) for real data, which can
carry several. docs/APP_CONTRACT.md has the same table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from include.symphonics.core.states import LedgerState, Reason
from include.symphonics_demo.plan import Case, DatasetPlan, Modifier, external_id_of, plan_dataset


class ExpectedState(StrEnum):
    """Where the pipeline's ledger should leave an intervention after the first complete run (ledger states)."""

    OUT_OF_SCOPE = LedgerState.OUT_OF_SCOPE.value  # not completed: never enters the ledger's publish path
    INVALID = LedgerState.INVALID.value  # a local rule failed: no partner call is spent on it
    REJECTED_VALIDATION = LedgerState.REJECTED_VALIDATION.value  # the partner's validation said no
    PUBLISHED = LedgerState.PUBLISHED.value


# The local rules in the order the pipeline applies them; the first that fails is the primary reason.
LOCAL_RULE_PRECEDENCE: tuple[Reason, ...] = (
    Reason.MISSING_COMPLETION_DATE,
    Reason.COMPANY_NOT_ONBOARDED,
    Reason.INVALID_PDL_FORMAT,
    Reason.MISSING_PDL,
    Reason.INVALID_PHONE,
    Reason.MISSING_DOCUMENT,
    Reason.MISSING_PHOTO,
    Reason.PHOTO_WITHOUT_COORDINATES,
)

# case -> (state, reason, partner rejects it after publication)
_OUTCOME_OF_CASE: Mapping[Case, tuple[ExpectedState, Reason | None, bool]] = {
    Case.VALID: (ExpectedState.PUBLISHED, None, False),
    Case.SCHEDULED: (ExpectedState.OUT_OF_SCOPE, Reason.NOT_COMPLETED, False),
    Case.IN_PROGRESS: (ExpectedState.OUT_OF_SCOPE, Reason.NOT_COMPLETED, False),
    Case.CANCELLED_BEFORE_COMPLETION: (ExpectedState.OUT_OF_SCOPE, Reason.NOT_COMPLETED, False),
    Case.MISSING_COMPLETION_DATE: (ExpectedState.INVALID, Reason.MISSING_COMPLETION_DATE, False),
    Case.COMPANY_NOT_ONBOARDED: (ExpectedState.INVALID, Reason.COMPANY_NOT_ONBOARDED, False),
    Case.PDL_BAD_FORMAT_NO_ADDRESS: (ExpectedState.INVALID, Reason.INVALID_PDL_FORMAT, False),
    Case.PDL_MISSING_NO_ADDRESS: (ExpectedState.INVALID, Reason.MISSING_PDL, False),
    Case.PHONE_UNPARSEABLE: (ExpectedState.INVALID, Reason.INVALID_PHONE, False),
    Case.MISSING_INVOICE: (ExpectedState.INVALID, Reason.MISSING_DOCUMENT, False),
    Case.MISSING_ATTESTATION_HONNEUR: (ExpectedState.INVALID, Reason.MISSING_DOCUMENT, False),
    Case.MISSING_CONTRACT: (ExpectedState.INVALID, Reason.MISSING_DOCUMENT, False),
    Case.MISSING_BEFORE_PHOTO: (ExpectedState.INVALID, Reason.MISSING_PHOTO, False),
    Case.MISSING_AFTER_PHOTO: (ExpectedState.INVALID, Reason.MISSING_PHOTO, False),
    Case.PHOTO_WITHOUT_COORDINATES: (ExpectedState.INVALID, Reason.PHOTO_WITHOUT_COORDINATES, False),
    Case.PDL_UNKNOWN: (ExpectedState.REJECTED_VALIDATION, Reason.PDL_INVALID, False),
    Case.PDL_MISSING_POOR_ADDRESS: (
        ExpectedState.REJECTED_VALIDATION,
        Reason.PDL_LOOKUP_LOW_CONFIDENCE,
        False,
    ),
    Case.INSTALLER_INACTIVE: (ExpectedState.REJECTED_VALIDATION, Reason.INSTALLER_INACTIVE, False),
    Case.INSTALLER_UNKNOWN: (ExpectedState.REJECTED_VALIDATION, Reason.INSTALLER_UNKNOWN, False),
    Case.PDL_MISSING_GOOD_ADDRESS: (ExpectedState.PUBLISHED, None, False),
    Case.PDL_BAD_FORMAT_GOOD_ADDRESS: (ExpectedState.PUBLISHED, None, False),
    Case.PHONE_FIXABLE: (ExpectedState.PUBLISHED, None, False),
    Case.PHOTOS_FAR_APART: (ExpectedState.PUBLISHED, Reason.PHOTOS_TOO_FAR_APART, True),
}

# Cases whose PDL the pipeline must get from a lookup by address (missing or malformed PDL, usable address).
LOOKUP_CASES: frozenset[Case] = frozenset(
    {Case.PDL_MISSING_GOOD_ADDRESS, Case.PDL_BAD_FORMAT_GOOD_ADDRESS, Case.PDL_MISSING_POOR_ADDRESS}
)


@dataclass(frozen=True, slots=True)
class ExpectedOutcome:
    """The expected end of one intervention.

    :param intervention_id: the app's primary key.
    :param external_id: the app's external id (the ledger's key).
    :param case: what the generator made it test.
    :param state: the ledger state after the first complete run.
    :param reason: the primary reason for a non-published state; for a published one, the reason the partner
        will later reject it, else None.
    :param partner_rejects_later: the partner accepts the create, then rejects it in its own checks.
    :param modifiers: repeat customer / late document traits (valid interventions only).
    """

    intervention_id: int
    external_id: str
    case: Case
    state: ExpectedState
    reason: Reason | None
    partner_rejects_later: bool
    modifiers: frozenset[Modifier]


@dataclass(frozen=True)
class ExpectedDataset:
    """Expected outcome of every intervention of a demo data set, and the aggregated counts.

    :param plan: the data set's plan.
    :param outcomes: by external id, in id order.
    :param state_counts: interventions per expected state (every state present, possibly 0).
    :param reason_counts: interventions per primary reason (published ones without a reason are not counted).
    :param case_counts: interventions per generated case.
    :param modifier_counts: valid interventions per modifier.
    :param partner_rejects_later: external ids of the published ones the partner will later reject.
    :param lookups_needed: interventions whose PDL needs a lookup by address.
    """

    plan: DatasetPlan
    outcomes: dict[str, ExpectedOutcome]
    state_counts: dict[ExpectedState, int]
    reason_counts: dict[Reason, int]
    case_counts: dict[Case, int]
    modifier_counts: dict[Modifier, int]
    partner_rejects_later: frozenset[str]
    lookups_needed: int

    def external_ids_in(self, state: ExpectedState) -> list[str]:
        """External ids of the interventions expected in ``state``, in id order.

        :param state: the expected ledger state.
        """
        return [o.external_id for o in self.outcomes.values() if o.state == state]


def expected_outcomes_of_plan(plan: DatasetPlan) -> ExpectedDataset:
    """Expected pipeline outcome of each intervention of an already computed plan.

    :param plan: e.g. ``SeedReport.plan`` of a seeded database, or :func:`plan_dataset`'s result.
    """
    outcomes: dict[str, ExpectedOutcome] = {}
    for index, case in enumerate(plan.cases):
        intervention_id = index + 1
        state, reason, rejects_later = _OUTCOME_OF_CASE[case]
        modifiers = frozenset(
            modifier
            for modifier, ids in (
                (Modifier.REPEAT_CUSTOMER, plan.repeat_customer),
                (Modifier.LATE_DOCUMENT, plan.late_document),
            )
            if intervention_id in ids
        )
        external_id = external_id_of(intervention_id)
        outcomes[external_id] = ExpectedOutcome(
            intervention_id=intervention_id,
            external_id=external_id,
            case=case,
            state=state,
            reason=reason,
            partner_rejects_later=rejects_later,
            modifiers=modifiers,
        )
    state_counter = Counter(o.state for o in outcomes.values())
    reason_counter = Counter(o.reason for o in outcomes.values() if o.reason is not None)
    return ExpectedDataset(
        plan=plan,
        outcomes=outcomes,
        state_counts={state: state_counter.get(state, 0) for state in ExpectedState},
        reason_counts={reason: reason_counter.get(reason, 0) for reason in Reason},
        case_counts=plan.case_counts(),
        modifier_counts={
            Modifier.REPEAT_CUSTOMER: len(plan.repeat_customer),
            Modifier.LATE_DOCUMENT: len(plan.late_document),
        },
        partner_rejects_later=frozenset(o.external_id for o in outcomes.values() if o.partner_rejects_later),
        lookups_needed=sum(1 for case in plan.cases if case in LOOKUP_CASES),
    )


def expected_outcomes(seed: int, interventions: int, shares: Mapping[str, float] | None = None) -> ExpectedDataset:
    """Expected pipeline outcome of each intervention of the data set ``seed --interventions N`` would make.

    :param seed: the seed given to ``seed``.
    :param interventions: the N given to ``seed``.
    :param shares: the share overrides given to ``seed`` (None: the defaults).
    """
    return expected_outcomes_of_plan(plan_dataset(seed, interventions, shares))
