"""The ledger's states, their reasons, and which transitions the pipeline makes.

Every row has a state, and every state other than the ones on the happy path has a reason, so nothing
disappears silently (the migration's ``interventions_ledger_reason_check`` enforces it).
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    """Where an intervention stands in the publish pipeline."""

    OUT_OF_SCOPE = "out_of_scope"  # seen, not completed: nothing to publish (reason not_completed)
    PENDING = "pending"  # new or changed: to check locally, then with the partner
    INVALID = "invalid"  # a local rule failed: no quota spent on it
    REJECTED_VALIDATION = "rejected_validation"  # the partner's validation (or its create) said no
    READY = "ready"  # validated, payload complete: to create (or to PATCH with new documents)
    SENDING = "sending"  # committed before the request is sent: a crash leaves it here, resolved by resending
    PUBLISHED = "published"  # created at the partner, its id known
    UPDATED = "updated"  # published, then new documents sent with PATCH
    CONFLICT_UNRESOLVED = "conflict_unresolved"  # 409 without an id: completed by a webhook or the reconciliation
    CHANGED_AFTER_PUBLISH = "changed_after_publish"  # an edit the API cannot carry (address, cancellation)
    FAILED_RETRYABLE = "failed_retryable"  # the partner failed (5xx, timeout): tried again next run
    DEAD_LETTER = "dead_letter"  # failed too many times: ops must look


#: States whose rows a publish run still works on (the claim query's partial index covers these).
WORK_STATES: frozenset[LedgerState] = frozenset(
    {LedgerState.PENDING, LedgerState.READY, LedgerState.SENDING, LedgerState.FAILED_RETRYABLE}
)

#: States whose rows the partner holds (or may hold): never created again, only PATCHed or reported.
AT_PARTNER_STATES: frozenset[LedgerState] = frozenset(
    {LedgerState.PUBLISHED, LedgerState.UPDATED, LedgerState.CONFLICT_UNRESOLVED, LedgerState.CHANGED_AFTER_PUBLISH}
)

#: Every transition the pipeline makes (from, to); the tests hold the code to it.
TRANSITIONS: frozenset[tuple[LedgerState, LedgerState]] = frozenset(
    {
        # extract: new rows are pending; a changed source sends a row back to pending.
        *((state, LedgerState.PENDING) for state in LedgerState if state is not LedgerState.SENDING),
        # prevalidate (local rules), or the diff of an already published row.
        (LedgerState.PENDING, LedgerState.OUT_OF_SCOPE),
        (LedgerState.PENDING, LedgerState.INVALID),
        (LedgerState.PENDING, LedgerState.READY),
        (LedgerState.PENDING, LedgerState.PUBLISHED),
        (LedgerState.PENDING, LedgerState.UPDATED),
        (LedgerState.PENDING, LedgerState.CHANGED_AFTER_PUBLISH),
        # partner validation.
        (LedgerState.PENDING, LedgerState.REJECTED_VALIDATION),
        # publish: committed before the request, then the answer.
        (LedgerState.READY, LedgerState.SENDING),
        (LedgerState.FAILED_RETRYABLE, LedgerState.SENDING),
        (LedgerState.SENDING, LedgerState.SENDING),  # a crash's row, sent again
        (LedgerState.SENDING, LedgerState.READY),  # the quota ran out before anything was sent
        (LedgerState.SENDING, LedgerState.PUBLISHED),
        (LedgerState.SENDING, LedgerState.UPDATED),
        (LedgerState.SENDING, LedgerState.CONFLICT_UNRESOLVED),
        (LedgerState.SENDING, LedgerState.REJECTED_VALIDATION),
        (LedgerState.SENDING, LedgerState.FAILED_RETRYABLE),
        (LedgerState.SENDING, LedgerState.DEAD_LETTER),
    }
)


def check_transition(old: LedgerState, new: LedgerState) -> None:
    """Refuse a transition the pipeline does not make.

    :param old: the row's state.
    :param new: the state it is moved to.
    :raises ValueError: for a transition not in :data:`TRANSITIONS`.
    """
    if old != new and (old, new) not in TRANSITIONS:
        raise ValueError(f"the ledger never moves a row from {old} to {new}")


class Reason(StrEnum):
    """Reason codes of the ledger beyond the demo's (:class:`include.symphonics_demo.Reason` holds those)."""

    INVALID_EMAIL = "invalid_email"
    INVALID_INSTALLER_EMAIL = "invalid_installer_email"
    INVALID_ADDRESS = "invalid_address"
    INVALID_PCE = "invalid_pce"
    PHOTO_WITHOUT_TIMESTAMP = "photo_without_timestamp"
    INVALID_COORDINATES = "invalid_coordinates"
    MISSING_CUSTOMER_NAME = "missing_customer_name"
    PDL_LOOKUP_NOT_FOUND = "pdl_lookup_not_found"
    PARTNER_REFUSED = "partner_refused"
    CONFLICT_ID_UNKNOWN = "conflict_id_unknown"
    PARTNER_UNAVAILABLE = "partner_unavailable"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    CANCELLED_AFTER_PUBLISH = "cancelled_after_publish"
    EDITED_AFTER_PUBLISH = "edited_after_publish"
