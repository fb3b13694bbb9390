"""Every partner answer has a path: the reasons of a refused resource, a change kept while a row is held, next steps.

* ``interventions_ledger_reason_code_check`` (0012) takes three new codes: ``partner_forbidden`` (a 403 on the
  row's own resource), ``partner_not_found`` (a 404 on a published row) and ``created_id_unknown`` (a 201 that
  named no id);
* ``interventions_ledger.source_changed_while_held``: the extraction keeps the state of a row in ``sending`` or
  ``conflict_unresolved`` when its source changes; it now sets this flag, and the row's next transition sends it
  back to ``pending`` to be compared again (new documents PATCHed, an unpatchable edit reported);
* ``intervention_sync_state.next_steps``: the ``next_steps`` of the partner's status GET, kept for the row's story
  (the dashboard's role may read that column and its key, nothing else of the table) and appended to
  ``analytics.interventions_current`` (``CREATE OR REPLACE VIEW`` keeps the grants).

The downgrade drops the columns and restores 0012's and 0005's definitions; a row holding one of the new reason
codes makes it fail, naming the constraint (fix the row first).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
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
    "partner_forbidden",
    "partner_not_found",
    "created_id_unknown",
    "cancelled_after_publish",
    "edited_after_publish",
    "photos_too_far_apart",
)
_NEW_REASONS = ("partner_forbidden", "partner_not_found", "created_id_unknown")
_OLD_REASONS = tuple(reason for reason in LEDGER_REASONS if reason not in _NEW_REASONS)

_LEDGER = "symphonics.interventions_ledger"
DASHBOARD_ROLE = "symphonics_dashboard"

# 0005's view, then the same with next_steps appended (a view's columns may only be appended).
_CURRENT_VIEW = """
CREATE OR REPLACE VIEW analytics.interventions_current AS
SELECT a.external_id,
       a.app_intervention_id,
       a.status AS app_status,
       a.completed_at,
       a.app_updated_at,
       a.postal_code,
       a.city,
       a.installer_id,
       a.installer_masked,
       a.company_id,
       a.customer_email_masked,
       a.customer_phone_masked,
       l.state AS ledger_state,
       l.state_reason AS ledger_reason,
       l.symphonics_id,
       l.published_at,
       s.partner_status,
       s.partner_status_at,
       s.partner_notes,
       s.last_webhook_at,
       s.last_polled_at{extra}
  FROM (SELECT DISTINCT ON (external_id) *
          FROM symphonics.app_interventions_copy
         ORDER BY external_id, app_updated_at DESC) AS a
  LEFT JOIN symphonics.interventions_ledger AS l ON l.external_id = a.external_id
  LEFT JOIN symphonics.intervention_sync_state AS s ON s.external_id = a.external_id
"""


def _reason_check(reasons: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{reason}'" for reason in reasons)
    op.execute(
        f"ALTER TABLE {_LEDGER} DROP CONSTRAINT interventions_ledger_reason_code_check, "
        "ADD CONSTRAINT interventions_ledger_reason_code_check "
        f"CHECK (state_reason IS NULL OR state_reason IN ({listed}))"
    )


def upgrade() -> None:
    _reason_check(LEDGER_REASONS)
    op.execute(f"ALTER TABLE {_LEDGER} ADD COLUMN source_changed_while_held boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE symphonics.intervention_sync_state ADD COLUMN next_steps jsonb")
    op.execute(f"GRANT SELECT (external_id, next_steps) ON symphonics.intervention_sync_state TO {DASHBOARD_ROLE}")
    op.execute(_CURRENT_VIEW.format(extra=",\n       s.next_steps AS partner_next_steps"))


def downgrade() -> None:
    # A column cannot be dropped from a view by CREATE OR REPLACE: drop it and create 0005's again, grants too.
    op.execute("DROP VIEW analytics.interventions_current")
    op.execute(_CURRENT_VIEW.format(extra=""))
    op.execute("COMMENT ON VIEW analytics.interventions_current IS 'Stable analyst view: see docs/ANALYTICS.md'")
    op.execute("GRANT SELECT ON analytics.interventions_current TO symphonics_analyst")
    op.execute(f"REVOKE SELECT (external_id) ON symphonics.intervention_sync_state FROM {DASHBOARD_ROLE}")  # noqa: S608
    op.execute("ALTER TABLE symphonics.intervention_sync_state DROP COLUMN next_steps")
    op.execute(f"ALTER TABLE {_LEDGER} DROP COLUMN source_changed_while_held")
    _reason_check(_OLD_REASONS)
