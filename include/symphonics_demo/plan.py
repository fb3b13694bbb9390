"""Which intervention of a demo data set carries which defect: a pure function of (seed, N, shares).

Every intervention gets exactly one *case*: ``valid``, an out-of-scope status, or one defect. Two modifiers,
``repeat_customer`` and ``late_document``, are laid over valid interventions only, since they must not change
the outcome. The counts are exact (not drawn at random), so the expected outcome of a data set is known
without looking at it; :mod:`include.symphonics_demo.expectations` turns a plan into expected pipeline states.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Case(StrEnum):
    """What an intervention of the demo data set is made to test (one per intervention)."""

    VALID = "valid"
    # Not completed: the pipeline must ignore them.
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    CANCELLED_BEFORE_COMPLETION = "cancelled_before_completion"
    # Caught by the pipeline's local rules (no partner call).
    MISSING_COMPLETION_DATE = "missing_completion_date"
    COMPANY_NOT_ONBOARDED = "company_not_onboarded"
    PDL_BAD_FORMAT_NO_ADDRESS = "pdl_bad_format_no_address"
    PDL_MISSING_NO_ADDRESS = "pdl_missing_no_address"
    PHONE_UNPARSEABLE = "phone_unparseable"
    MISSING_INVOICE = "missing_invoice"
    MISSING_ATTESTATION_HONNEUR = "missing_attestation_honneur"
    MISSING_CONTRACT = "missing_contract"
    MISSING_BEFORE_PHOTO = "missing_before_photo"
    MISSING_AFTER_PHOTO = "missing_after_photo"
    PHOTO_WITHOUT_COORDINATES = "photo_without_coordinates"
    # Refused by the partner's validation endpoints.
    PDL_UNKNOWN = "pdl_unknown"
    PDL_MISSING_POOR_ADDRESS = "pdl_missing_poor_address"
    INSTALLER_INACTIVE = "installer_inactive"
    INSTALLER_UNKNOWN = "installer_unknown"
    # Defects the pipeline repairs: published.
    PDL_MISSING_GOOD_ADDRESS = "pdl_missing_good_address"
    PDL_BAD_FORMAT_GOOD_ADDRESS = "pdl_bad_format_good_address"
    PHONE_FIXABLE = "phone_fixable"
    # Published, then rejected by the partner's later checks.
    PHOTOS_FAR_APART = "photos_far_apart"


class Modifier(StrEnum):
    """Traits laid over valid interventions; they never change the expected outcome."""

    REPEAT_CUSTOMER = "repeat_customer"
    LATE_DOCUMENT = "late_document"


# Share of the N interventions given each case; VALID takes what is left. Sensible for a demo: every path of
# the pipeline is exercised, most interventions publish.
DEFAULT_CASE_SHARES: Mapping[Case, float] = {
    Case.SCHEDULED: 0.04,
    Case.IN_PROGRESS: 0.03,
    Case.CANCELLED_BEFORE_COMPLETION: 0.01,
    Case.MISSING_COMPLETION_DATE: 0.003,
    Case.COMPANY_NOT_ONBOARDED: 0.01,
    Case.PDL_BAD_FORMAT_NO_ADDRESS: 0.01,
    Case.PDL_MISSING_NO_ADDRESS: 0.005,
    Case.PHONE_UNPARSEABLE: 0.01,
    Case.MISSING_INVOICE: 0.005,
    Case.MISSING_ATTESTATION_HONNEUR: 0.005,
    Case.MISSING_CONTRACT: 0.005,
    Case.MISSING_BEFORE_PHOTO: 0.005,
    Case.MISSING_AFTER_PHOTO: 0.005,
    Case.PHOTO_WITHOUT_COORDINATES: 0.005,
    Case.PDL_UNKNOWN: 0.01,
    Case.PDL_MISSING_POOR_ADDRESS: 0.01,
    Case.INSTALLER_INACTIVE: 0.01,
    Case.INSTALLER_UNKNOWN: 0.01,
    Case.PDL_MISSING_GOOD_ADDRESS: 0.02,
    Case.PDL_BAD_FORMAT_GOOD_ADDRESS: 0.01,
    Case.PHONE_FIXABLE: 0.03,
    Case.PHOTOS_FAR_APART: 0.005,
}

# Share of the VALID interventions given each modifier.
DEFAULT_MODIFIER_SHARES: Mapping[Modifier, float] = {
    Modifier.REPEAT_CUSTOMER: 0.10,
    Modifier.LATE_DOCUMENT: 0.03,
}

# From this size on, every case with a non-zero share appears at least once, so that `make run`'s few hundred
# interventions still show every path.
EVERY_CASE_FROM_N = 100


@dataclass(frozen=True)
class DatasetPlan:
    """The case and modifiers of each intervention of a demo data set.

    Intervention ids are 1..N; ``cases[i - 1]`` is the case of intervention ``i``.

    :param seed: the data set's seed.
    :param interventions: N.
    :param cases: case of each intervention, by id - 1.
    :param repeat_customer: ids of the valid interventions made for a customer of an earlier valid one.
    :param late_document: ids of the valid interventions given an additional_proof document after completion.
    """

    seed: int
    interventions: int
    cases: tuple[Case, ...]
    repeat_customer: frozenset[int] = field(default_factory=frozenset)
    late_document: frozenset[int] = field(default_factory=frozenset)

    def case_counts(self) -> dict[Case, int]:
        """Count the interventions of each case (cases absent from the plan are counted 0)."""
        counts = dict.fromkeys(Case, 0)
        for case in self.cases:
            counts[case] += 1
        return counts


def external_id_of(intervention_id: int) -> str:
    """The app's external id of an intervention, e.g. ``int_00001234``.

    :param intervention_id: the intervention's primary key.
    """
    return f"int_{intervention_id:08d}"


def parse_shares(
    overrides: Mapping[str, float] | None,
) -> tuple[dict[Case, float], dict[Modifier, float]]:
    """Merge share overrides (by case or modifier name) into the defaults, checking them.

    :param overrides: e.g. ``{"pdl_unknown": 0.05, "repeat_customer": 0.2}``; None for the defaults.
    :raises ValueError: on an unknown name, a share outside [0, 1], or case shares adding up to more than 1.
    """
    case_shares = dict(DEFAULT_CASE_SHARES)
    modifier_shares = dict(DEFAULT_MODIFIER_SHARES)
    for name, share in (overrides or {}).items():
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share of {name!r} must be between 0 and 1, got {share}")
        if name in Case.__members__.values() and name != Case.VALID:
            case_shares[Case(name)] = share
        elif name in Modifier.__members__.values():
            modifier_shares[Modifier(name)] = share
        else:
            known = sorted([c.value for c in Case if c != Case.VALID] + [m.value for m in Modifier])
            raise ValueError(f"unknown share {name!r}; known: {', '.join(known)}")
    if sum(case_shares.values()) > 1.0 + 1e-9:
        raise ValueError(f"case shares add up to {sum(case_shares.values()):.3f} > 1")
    return case_shares, modifier_shares


def _count_for(share: float, population: int) -> int:
    count = int(share * population)
    if count == 0 and share > 0 and population >= EVERY_CASE_FROM_N:
        count = 1
    return count


def plan_dataset(seed: int, interventions: int, shares: Mapping[str, float] | None = None) -> DatasetPlan:
    """Decide the case and modifiers of every intervention, exactly and reproducibly.

    :param seed: the data set's seed; the same seed, N and shares always give the same plan.
    :param interventions: N, the number of interventions.
    :param shares: overrides of :data:`DEFAULT_CASE_SHARES` / :data:`DEFAULT_MODIFIER_SHARES` by name.
    :raises ValueError: on bad shares or when the defects do not fit in N.
    """
    if interventions < 0:
        raise ValueError("the number of interventions cannot be negative")
    case_shares, modifier_shares = parse_shares(shares)
    # Own stream, so that the plan never depends on how many draws the row generator makes.
    rng = random.Random(f"symphonics-demo-plan:{seed}")

    cases: list[Case] = []
    for case in Case:
        if case != Case.VALID:
            cases.extend([case] * _count_for(case_shares.get(case, 0.0), interventions))
    if len(cases) > interventions:
        raise ValueError(f"{len(cases)} defective interventions do not fit in {interventions}: raise N")
    cases.extend([Case.VALID] * (interventions - len(cases)))
    rng.shuffle(cases)

    valid_ids = [i + 1 for i, case in enumerate(cases) if case == Case.VALID]
    # The first valid intervention is never a repeat: a repeat needs an earlier customer to come back.
    repeat_candidates = valid_ids[1:]
    repeat_count = min(len(repeat_candidates), _count_for(modifier_shares[Modifier.REPEAT_CUSTOMER], len(valid_ids)))
    late_count = min(len(valid_ids), _count_for(modifier_shares[Modifier.LATE_DOCUMENT], len(valid_ids)))
    return DatasetPlan(
        seed=seed,
        interventions=interventions,
        cases=tuple(cases),
        repeat_customer=frozenset(rng.sample(repeat_candidates, repeat_count)),
        late_document=frozenset(rng.sample(valid_ids, late_count)),
    )
