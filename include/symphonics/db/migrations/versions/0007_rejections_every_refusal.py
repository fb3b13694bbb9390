"""One meaning of "rejected": ``analytics.rejections`` holds every refusal, the dashboard reads the same view.

0005's view held only the files the partner rejected after publication (an intervention's status, a document's
verification). It now holds every refusal, each with its time, kind, reason and the partner's message:

- ``validation``: the partner's validation refused the row before it was sent (unknown PDL, installer unknown or
  inactive, a create refused), or our own threshold refused a partner answer (a PDL lookup below the confidence
  threshold): ``decided_by`` says which (``partner`` | ``sync``). The current refusals come from the ledger,
  earlier ones (the row was fixed since) from ``status_history`` (source ``publish``), each refusal once.
- ``intervention`` / ``document``: the partner rejected the published file or one of its documents (as before).

Columns are only appended (``decided_by``, ``partner_message``); ``CREATE OR REPLACE VIEW`` keeps the grants.
Free text (reasons, the partner's messages) is masked by ``analytics.mask_personal_data``: e-mails, PDLs, phones.
The dashboard's role may read the view: its rejection panel counts the same rows over the same window.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DASHBOARD_ROLE = "symphonics_dashboard"

#: Ledger reasons of a refusal decided by our own threshold on a partner answer (the partner said "maybe").
DECIDED_BY_SYNC_REASONS = ("pdl_lookup_low_confidence",)
_SYNC_REASON_LIST = ", ".join(f"'{reason}'" for reason in DECIDED_BY_SYNC_REASONS)

# The same masks as the copies of the app's rows: first character and domain of an e-mail, last four digits of a
# PDL (14 digits), last two of a French phone number.
_MASK_FUNCTION = r"""
CREATE FUNCTION analytics.mask_personal_data(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
RETURN regexp_replace(
           regexp_replace(
               regexp_replace(value,
                   '([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)', '\1***@\2', 'g'),
               '\m[0-9]{10}([0-9]{4})\M', '**********\1', 'g'),
           '(\+33 ?|\m0)[1-9]([ .-]?[0-9]{2}){3}[ .-]?([0-9]{2})\M', '******\3', 'g')
"""

_VIEW_0005 = """
CREATE OR REPLACE VIEW analytics.rejections AS
SELECT h.external_id,
       h.symphonics_id,
       h.occurred_at AS rejected_at,
       CASE WHEN h.event_kind = 'document' THEN 'document' ELSE 'intervention' END AS rejection_kind,
       h.document_type,
       h.notes AS reason,
       h.source,
       a.installer_id,
       a.installer_masked,
       a.company_id,
       a.postal_code
  FROM symphonics.status_history AS h
  LEFT JOIN LATERAL (SELECT c.installer_id, c.installer_masked, c.company_id, c.postal_code
                       FROM symphonics.app_interventions_copy AS c
                      WHERE c.external_id = h.external_id
                      ORDER BY c.app_updated_at DESC
                      LIMIT 1) AS a ON true
 WHERE h.source IN ('webhook', 'poll') AND h.to_status = 'rejected'
"""

# Formatted with this module's constants only, never with input.
_VIEW = f"""
CREATE OR REPLACE VIEW analytics.rejections AS
WITH refusals AS (
    -- The partner rejected a published file or one of its documents.
    SELECT h.external_id,
           h.symphonics_id,
           h.occurred_at AS rejected_at,
           CASE WHEN h.event_kind = 'document' THEN 'document' ELSE 'intervention' END AS rejection_kind,
           h.document_type,
           h.notes AS reason,
           h.source,
           'partner' AS decided_by,
           h.notes AS partner_message
      FROM symphonics.status_history AS h
     WHERE h.source IN ('webhook', 'poll') AND h.to_status = 'rejected'
    UNION ALL
    -- Validation refusals standing now: the ledger has the partner's message.
    SELECT l.external_id,
           l.symphonics_id,
           l.state_changed_at,
           'validation',
           NULL,
           l.state_reason,
           'publish',
           CASE WHEN l.state_reason IN ({_SYNC_REASON_LIST}) THEN 'sync' ELSE 'partner' END,
           l.state_detail
      FROM symphonics.interventions_ledger AS l
     WHERE l.state = 'rejected_validation'
    UNION ALL
    -- Earlier validation refusals of rows that moved on since (recorded by the reconciliation).
    SELECT h.external_id,
           h.symphonics_id,
           h.occurred_at,
           'validation',
           NULL,
           h.notes,
           'publish',
           CASE WHEN h.notes IN ({_SYNC_REASON_LIST}) THEN 'sync' ELSE 'partner' END,
           NULL
      FROM symphonics.status_history AS h
     WHERE h.source = 'publish' AND h.to_status = 'rejected_validation'
       AND NOT EXISTS (SELECT FROM symphonics.interventions_ledger AS l
                        WHERE l.external_id = h.external_id
                          AND l.state = 'rejected_validation'
                          AND l.state_changed_at = h.occurred_at)
)
SELECT r.external_id,
       r.symphonics_id,
       r.rejected_at,
       r.rejection_kind,
       r.document_type,
       analytics.mask_personal_data(r.reason) AS reason,
       r.source,
       a.installer_id,
       a.installer_masked,
       a.company_id,
       a.postal_code,
       r.decided_by,
       analytics.mask_personal_data(r.partner_message) AS partner_message
  FROM refusals AS r
  LEFT JOIN LATERAL (SELECT c.installer_id, c.installer_masked, c.company_id, c.postal_code
                       FROM symphonics.app_interventions_copy AS c
                      WHERE c.external_id = r.external_id
                      ORDER BY c.app_updated_at DESC
                      LIMIT 1) AS a ON true
"""  # noqa: S608


def upgrade() -> None:
    op.execute(_MASK_FUNCTION)
    op.execute(
        "COMMENT ON FUNCTION analytics.mask_personal_data(text) IS "
        "'Masks e-mails, PDLs and phone numbers in free text: see docs/ANALYTICS.md'"
    )
    op.execute(_VIEW)
    op.execute(f"GRANT SELECT ON analytics.rejections TO {DASHBOARD_ROLE}")


def downgrade() -> None:
    # Columns cannot be dropped by CREATE OR REPLACE: the view is recreated as 0005 made it, with its grant.
    op.execute(f"REVOKE ALL ON analytics.rejections FROM {DASHBOARD_ROLE}")
    op.execute("DROP VIEW analytics.rejections")
    op.execute(_VIEW_0005)
    op.execute("COMMENT ON VIEW analytics.rejections IS 'Stable analyst view: see docs/ANALYTICS.md'")
    op.execute("GRANT SELECT ON analytics.rejections TO symphonics_analyst")
    op.execute("DROP FUNCTION analytics.mask_personal_data(text)")
