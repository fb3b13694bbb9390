"""One refusal is one row of ``analytics.rejections`` until the answer changes.

0007's view counted a validation refusal once in the ledger (the refusal standing now) and once more in
``status_history`` (source ``publish``: the reconciliation's record of an earlier state) whenever the row had been
refused before, so re-checking an unchanged refusal (``external_ids``, ``force``) added a row each time: "what did
Symphonics reject last week" gave 15 refusals for 13 interventions. Now the validation refusals are read as a
sequence per intervention (the recorded states, then the ledger's state now) and a run of refusals with the same
reason, with no other answer between them, is one refusal: its time is the first, its message the latest the ledger
holds. The states before an answer (``pending``, ``prevalidated``) are not answers: a re-check passing through them
does not split a run. A refusal for another reason, or one after the row was ready or published, is a new refusal.

The partner's rejections of published files and documents (webhooks, polls) are unchanged. Columns are unchanged:
``CREATE OR REPLACE VIEW`` keeps the grants. The downgrade restores 0007's view exactly.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The states a row passes through before the partner's (or the local rules') answer: not answers themselves.
# Frozen here, as every released migration's lists are.
BEFORE_AN_ANSWER = ("pending", "prevalidated")
#: Ledger reasons of a refusal decided by our own threshold on a partner answer (as 0007).
DECIDED_BY_SYNC_REASONS = ("pdl_lookup_low_confidence",)
_SYNC_REASON_LIST = ", ".join(f"'{reason}'" for reason in DECIDED_BY_SYNC_REASONS)
_BEFORE_LIST = ", ".join(f"'{state}'" for state in BEFORE_AN_ANSWER)

# Formatted with this module's constants only, never with input.
_VIEW = f"""
CREATE OR REPLACE VIEW analytics.rejections AS
WITH answers AS (
    -- Each intervention's answers in time order: the recorded ones (but the one the ledger still stands on) ...
    SELECT h.external_id, h.symphonics_id, h.occurred_at, h.to_status AS state, h.notes AS reason,
           NULL::text AS message, 0 AS now_in_ledger
      FROM symphonics.status_history AS h
     WHERE h.source = 'publish' AND h.to_status NOT IN ({_BEFORE_LIST})
       AND NOT EXISTS (SELECT FROM symphonics.interventions_ledger AS l
                        WHERE l.external_id = h.external_id
                          AND l.state = h.to_status
                          AND l.state_changed_at = h.occurred_at)
    UNION ALL
    -- ... and the ledger's state now, with the partner's message.
    SELECT l.external_id, l.symphonics_id, l.state_changed_at, l.state, l.state_reason, l.state_detail, 1
      FROM symphonics.interventions_ledger AS l
     WHERE l.state NOT IN ({_BEFORE_LIST})
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


def upgrade() -> None:
    op.execute(_VIEW)


def _view_of_0007() -> str:
    # Read from the released migration (which never changes), not copied: the downgrade is 0007's view exactly.
    released = Path(__file__).with_name("0007_rejections_every_refusal.py")
    spec = importlib.util.spec_from_file_location("rejections_0007", released)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot read {released}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module._VIEW)


def downgrade() -> None:
    op.execute(_view_of_0007())
