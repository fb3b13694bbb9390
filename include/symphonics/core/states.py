"""The ledger's states, their reasons, and which transitions the pipeline makes.

Every row has a state, and every state other than the ones on the happy path has a reason, so nothing
disappears silently (the migration's ``interventions_ledger_reason_check`` enforces it). Migration 0013's
``interventions_ledger_state_check`` holds the database to these states.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    """Where an intervention stands in the publish pipeline."""

    OUT_OF_SCOPE = "out_of_scope"  # seen, not completed: nothing to publish (reason not_completed)
    PENDING = "pending"  # new or changed: to check with the local rules
    PREVALIDATED = "prevalidated"  # passed the local rules: to validate with the partner
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
    {
        LedgerState.PENDING,
        LedgerState.PREVALIDATED,
        LedgerState.READY,
        LedgerState.SENDING,
        LedgerState.FAILED_RETRYABLE,
    }
)

#: States whose rows the partner holds (or may hold): never created again, only PATCHed or reported.
AT_PARTNER_STATES: frozenset[LedgerState] = frozenset(
    {LedgerState.PUBLISHED, LedgerState.UPDATED, LedgerState.CONFLICT_UNRESOLVED, LedgerState.CHANGED_AFTER_PUBLISH}
)

#: States that keep their place when the extraction sees a new source (the publisher, or the id a webhook gives,
#: settles them): the row is flagged (``source_changed_while_held``) and, once settled, sent back to ``pending``
#: by the next local-rules step to be compared again (``sql/publish/compare_again.sql``).
HELD_STATES: frozenset[LedgerState] = frozenset({LedgerState.SENDING, LedgerState.CONFLICT_UNRESOLVED})

#: States only a person can settle: the rows that "wait for ops" on the dashboard, in the docs and in the alerts.
OPS_STATES: frozenset[LedgerState] = frozenset(
    {LedgerState.CHANGED_AFTER_PUBLISH, LedgerState.CONFLICT_UNRESOLVED, LedgerState.DEAD_LETTER}
)

#: Every transition the pipeline makes (from, to); the tests hold the code to it.
TRANSITIONS: frozenset[tuple[LedgerState, LedgerState]] = frozenset(
    {
        # extract: new rows are pending; a changed source sends a row back to pending.
        *((state, LedgerState.PENDING) for state in LedgerState if state is not LedgerState.SENDING),
        # prevalidate (local rules), or the diff of an already published row.
        (LedgerState.PENDING, LedgerState.OUT_OF_SCOPE),
        (LedgerState.PENDING, LedgerState.INVALID),
        (LedgerState.PENDING, LedgerState.PREVALIDATED),  # passed the local rules
        (LedgerState.PENDING, LedgerState.READY),  # a published row with new documents: to PATCH
        (LedgerState.PENDING, LedgerState.PUBLISHED),
        (LedgerState.PENDING, LedgerState.UPDATED),
        (LedgerState.PENDING, LedgerState.CHANGED_AFTER_PUBLISH),
        # partner validation.
        (LedgerState.PREVALIDATED, LedgerState.READY),
        (LedgerState.PREVALIDATED, LedgerState.REJECTED_VALIDATION),
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
        # the partner refused one resource of the row (403): the row is set aside, the run goes on.
        (LedgerState.PREVALIDATED, LedgerState.DEAD_LETTER),
        # the partner no longer knows a published row (404 on its status GET): never created again.
        (LedgerState.PUBLISHED, LedgerState.DEAD_LETTER),
        (LedgerState.UPDATED, LedgerState.DEAD_LETTER),
        (LedgerState.CHANGED_AFTER_PUBLISH, LedgerState.DEAD_LETTER),
        # the reconciliation: a webhook names the id a 409 did not give (sql/reconcile/complete_conflicts.sql).
        (LedgerState.CONFLICT_UNRESOLVED, LedgerState.PUBLISHED),
    }
)


def sources_of(target: LedgerState) -> list[str]:
    """The states a row may be moved to ``target`` from, by :data:`TRANSITIONS`: a statement's bound parameter.

    :param target: the state a statement moves rows to.
    """
    return sorted(str(old) for old, new in TRANSITIONS if new is target)


def check_transition(old: LedgerState, new: LedgerState) -> None:
    """Refuse a transition the pipeline does not make.

    :param old: the row's state.
    :param new: the state it is moved to.
    :raises ValueError: for a transition not in :data:`TRANSITIONS`.
    """
    if old != new and (old, new) not in TRANSITIONS:
        raise ValueError(f"the ledger never moves a row from {old} to {new}")


class Reason(StrEnum):
    """Every reason code of the ledger (``state_reason``): why a row is not, or no longer, on the happy path.

    The demo's test oracle (:mod:`include.symphonics_demo.expectations`) imports these; migration 0014's
    ``interventions_ledger_reason_code_check`` (0012's, widened) holds the database to the same list.
    """

    NOT_COMPLETED = "not_completed"
    # Local rules of the contract, in the order the pipeline checks them (first failing rule wins).
    MISSING_COMPLETION_DATE = "missing_completion_date"
    COMPANY_NOT_ONBOARDED = "company_not_onboarded"
    INVALID_PDL_FORMAT = "invalid_pdl_format"
    MISSING_PDL = "missing_pdl"
    INVALID_PHONE = "invalid_phone"
    MISSING_DOCUMENT = "missing_document"
    MISSING_PHOTO = "missing_photo"
    PHOTO_WITHOUT_COORDINATES = "photo_without_coordinates"
    # Local rules beyond the contract's table: fields the partner's create refuses.
    PHOTO_WITHOUT_TIMESTAMP = "photo_without_timestamp"
    INVALID_COORDINATES = "invalid_coordinates"
    MISSING_CUSTOMER_NAME = "missing_customer_name"
    INVALID_EMAIL = "invalid_email"
    INVALID_INSTALLER_EMAIL = "invalid_installer_email"
    INVALID_ADDRESS = "invalid_address"
    INVALID_PCE = "invalid_pce"
    # Partner validation, the PDL first, then the installer.
    PDL_INVALID = "pdl_invalid"
    PDL_LOOKUP_NOT_FOUND = "pdl_lookup_not_found"
    PDL_LOOKUP_LOW_CONFIDENCE = "pdl_lookup_low_confidence"
    INSTALLER_UNKNOWN = "installer_unknown"
    INSTALLER_INACTIVE = "installer_inactive"
    # Publishing.
    PARTNER_REFUSED = "partner_refused"
    CONFLICT_ID_UNKNOWN = "conflict_id_unknown"
    PARTNER_UNAVAILABLE = "partner_unavailable"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    PARTNER_FORBIDDEN = "partner_forbidden"  # 403 on the row's own resource (its PDL, installer, create, PATCH)
    PARTNER_NOT_FOUND = "partner_not_found"  # 404 on a published row's GET or PATCH: never created again
    CREATED_ID_UNKNOWN = "created_id_unknown"  # 201 without an id: the partner holds it, its id comes later
    # Changed after publication.
    CANCELLED_AFTER_PUBLISH = "cancelled_after_publish"
    EDITED_AFTER_PUBLISH = "edited_after_publish"
    # Published, then refused by the partner's own checks: what the demo's oracle expects of its data set.
    PHOTOS_TOO_FAR_APART = "photos_too_far_apart"
