"""The ledger's reason codes held by a CHECK, as its states are: a code the product does not define is refused.

``interventions_ledger.state_reason`` took any text; the codes are now those of
``include.symphonics.publish.states.Reason`` at this revision (a test holds the two lists together). The states
keep 0003's CHECK: a row waiting for the partner's validation stays ``pending`` (with ``prevalidated_at``), the
state the privacy indexes of 0009 and the work index of 0003 count as work.

A row holding a code outside the list makes the upgrade fail, naming the constraint: fix the row, then upgrade.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: Every reason code of the ledger at this revision (frozen here: a released migration never changes).
LEDGER_REASONS = (
    "not_completed",
    "missing_completion_date",
    "company_not_onboarded",
    "invalid_pdl_format",
    "missing_pdl",
    "invalid_phone",
    "missing_document",
    "missing_photo",
    "photo_without_coordinates",
    "photo_without_timestamp",
    "invalid_coordinates",
    "missing_customer_name",
    "invalid_email",
    "invalid_installer_email",
    "invalid_address",
    "invalid_pce",
    "pdl_invalid",
    "pdl_lookup_not_found",
    "pdl_lookup_low_confidence",
    "installer_unknown",
    "installer_inactive",
    "partner_refused",
    "conflict_id_unknown",
    "partner_unavailable",
    "too_many_attempts",
    "cancelled_after_publish",
    "edited_after_publish",
    "photos_too_far_apart",
)
_REASON_LIST = ", ".join(f"'{reason}'" for reason in LEDGER_REASONS)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE symphonics.interventions_ledger ADD CONSTRAINT interventions_ledger_reason_code_check "
        f"CHECK (state_reason IS NULL OR state_reason IN ({_REASON_LIST}))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE symphonics.interventions_ledger DROP CONSTRAINT interventions_ledger_reason_code_check")
