"""The nightly alert facts and the dashboard's rejections read what changed, not the whole history.

* ``analytics.snapshot_builds.category_rows``: each build's rows per stored category (``stale`` is derived by the
  view, not counted apart), the previous build's counts plus the date's change rows. The alert facts read a
  date's decisions there instead of counting the date's whole snapshot through the view
  ``analytics.reconciliation_snapshots`` (which reads every change row up to the date). NULL for the builds made
  before this migration: their readers count through the view, and the first build after it counts once.
* ``analytics.rejections`` reads the answers of the interventions ever refused at validation only (found by index)
  to number their runs of refusals, instead of every intervention's whole history: a validation refusal's runs are
  per intervention, so the rows are the same (``CREATE OR REPLACE VIEW``: same columns, grants kept). The
  dashboard's rejections panel reads it over a week; ``symphonics.status_history_partner_rejections_idx`` (a
  partial index of the partner's rejections by time) serves its other half, which the planner read through the
  whole week's history.

The downgrade drops the column and the indexes and restores 0016's view exactly.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# Frozen here, as every released migration's lists are (0016's).
BEFORE_AN_ANSWER = ("pending", "prevalidated")
DECIDED_BY_SYNC_REASONS = ("pdl_lookup_low_confidence",)
_SYNC_REASON_LIST = ", ".join(f"'{reason}'" for reason in DECIDED_BY_SYNC_REASONS)
_BEFORE_LIST = ", ".join(f"'{state}'" for state in BEFORE_AN_ANSWER)

# 0016's view, its validation runs numbered over the refused interventions only. Formatted with this module's
# constants only, never with input.
_VIEW = f"""
CREATE OR REPLACE VIEW analytics.rejections AS
WITH refused AS (
    -- The interventions ever refused at validation (by index): only they have validation runs, so only their
    -- answers are read, not every intervention's history.
    SELECT h.external_id
      FROM symphonics.status_history AS h
     WHERE h.to_status = 'rejected_validation' AND h.source = 'publish'
    UNION
    SELECT l.external_id FROM symphonics.interventions_ledger AS l WHERE l.state = 'rejected_validation'
), answers AS (
    -- Each intervention's answers in time order: the recorded ones (but the one the ledger still stands on) ...
    SELECT h.external_id, h.symphonics_id, h.occurred_at, h.to_status AS state, h.notes AS reason,
           NULL::text AS message, 0 AS now_in_ledger
      FROM symphonics.status_history AS h
     WHERE h.source = 'publish' AND h.to_status NOT IN ({_BEFORE_LIST})
       AND h.external_id IN (SELECT external_id FROM refused)
       AND NOT EXISTS (SELECT FROM symphonics.interventions_ledger AS l
                        WHERE l.external_id = h.external_id
                          AND l.state = h.to_status
                          AND l.state_changed_at = h.occurred_at)
    UNION ALL
    -- ... and the ledger's state now, with the partner's message.
    SELECT l.external_id, l.symphonics_id, l.state_changed_at, l.state, l.state_reason, l.state_detail, 1
      FROM symphonics.interventions_ledger AS l
     WHERE l.state NOT IN ({_BEFORE_LIST})
       AND l.external_id IN (SELECT external_id FROM refused)
), marked AS (
    SELECT a.*,
           CASE WHEN a.state = 'rejected_validation'
                     AND lag(a.state) OVER by_time = 'rejected_validation'
                     AND lag(a.reason) OVER by_time IS NOT DISTINCT FROM a.reason
                THEN 0 ELSE 1 END AS starts_a_run
      FROM answers AS a
    WINDOW by_time AS (PARTITION BY a.external_id ORDER BY a.occurred_at, a.now_in_ledger)
), runs AS (
    SELECT m.*,
           sum(m.starts_a_run) OVER (PARTITION BY m.external_id ORDER BY m.occurred_at, m.now_in_ledger
                                     ROWS UNBOUNDED PRECEDING) AS run_number
      FROM marked AS m
), refusals AS (
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
    -- Validation refusals: one per run of the same refusal.
    SELECT r.external_id,
           max(r.symphonics_id),
           min(r.occurred_at),
           'validation',
           NULL,
           r.reason,
           'publish',
           CASE WHEN r.reason IN ({_SYNC_REASON_LIST}) THEN 'sync' ELSE 'partner' END,
           max(r.message)
      FROM runs AS r
     WHERE r.state = 'rejected_validation'
     GROUP BY r.external_id, r.run_number, r.reason
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


def _view_of_0016() -> str:
    # Read from the released migration (which never changes), not copied: the downgrade is 0016's view exactly.
    released = Path(__file__).with_name("0016_rejections_once.py")
    spec = importlib.util.spec_from_file_location("rejections_0016", released)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot read {released}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module._VIEW)


def upgrade() -> None:
    op.execute("ALTER TABLE analytics.snapshot_builds ADD COLUMN category_rows jsonb")
    op.execute(
        "COMMENT ON COLUMN analytics.snapshot_builds.category_rows IS 'The date''s snapshot rows per stored category "
        "(stale, derived by the view, is counted under awaiting_partner or in_sync); NULL before migration 0023.'"
    )
    op.execute(
        "CREATE INDEX status_history_partner_rejections_idx ON symphonics.status_history (occurred_at) "
        "WHERE source IN ('webhook', 'poll') AND to_status = 'rejected'"
    )
    op.execute(_VIEW)


def downgrade() -> None:
    op.execute(_view_of_0016())
    op.execute("DROP INDEX symphonics.status_history_partner_rejections_idx")
    op.execute("ALTER TABLE analytics.snapshot_builds DROP COLUMN category_rows")
