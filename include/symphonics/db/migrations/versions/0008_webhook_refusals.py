"""Webhook refusals counted in aggregate, a bounded sample of them, and event times capped at their receipt.

- ``webhook_refusals``: refused requests per minute, reason and source address (an upsert), so a flood of
  refusals costs a few rows a minute instead of one row per request. Filled from the existing rejections.
- ``webhook_rejections`` stays, as the bounded sample of refused requests (the receiver writes a few per
  reason, source and minute; every validly signed refusal, whose body explains it); it gains the reasons
  ``rate_limited`` (429) and ``slow_body`` (408).
- ``webhook_events.ordering_at``: the event's time capped at its receipt, the only time the reconciliation
  orders events by (a sender's clock cannot put an event in the future).
- ``intervention_sync_state.partner_status_source``: where the current status came from (``webhook``,
  ``poll`` or ``late_webhook``, the latter only for rows set by a late event before this migration); a poll
  always replaces a status from a late event. Rows whose status is dated in the future can only come from
  such an event: they are marked so and their intervention is queued for a poll.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OLD_REASONS = "'missing_signature', 'bad_signature', 'too_large', 'wrong_content_type', 'malformed', 'stale', 'future'"
_REASONS = f"{_OLD_REASONS}, 'rate_limited', 'slow_body'"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE symphonics.webhook_refusals (
            minute        timestamptz NOT NULL,
            reason        text NOT NULL
                CONSTRAINT webhook_refusals_reason_check CHECK (reason IN ({_REASONS})),
            remote_addr   text NOT NULL,
            status_code   smallint NOT NULL
                CONSTRAINT webhook_refusals_status_code_check CHECK (status_code BETWEEN 400 AND 499),
            requests      bigint NOT NULL CONSTRAINT webhook_refusals_requests_check CHECK (requests > 0),
            body_bytes    bigint NOT NULL DEFAULT 0
                CONSTRAINT webhook_refusals_body_bytes_check CHECK (body_bytes >= 0),
            first_at      timestamptz NOT NULL,
            last_at       timestamptz NOT NULL,
            CONSTRAINT webhook_refusals_pkey PRIMARY KEY (minute, reason, remote_addr),
            CONSTRAINT webhook_refusals_minute_check CHECK (minute = date_trunc('minute', minute)),
            CONSTRAINT webhook_refusals_first_before_last_check CHECK (first_at <= last_at)
        )
        """
    )
    # The receiver adds to a minute's count (an upsert: INSERT and UPDATE); the dashboard reads it (roles of 0006).
    op.execute("GRANT SELECT, INSERT, UPDATE ON symphonics.webhook_refusals TO symphonics_webhook_receiver")
    op.execute("GRANT SELECT ON symphonics.webhook_refusals TO symphonics_dashboard")
    # The dashboard, the alert and the retention purge scan by minute: the primary key starts with it.
    # The counts of the rejections recorded so far, one row each until now, so no figure changes.
    op.execute(
        """
        INSERT INTO symphonics.webhook_refusals (
            minute, reason, remote_addr, status_code, requests, body_bytes, first_at, last_at
        )
        SELECT date_trunc('minute', received_at), reason, coalesce(remote_addr, ''), max(status_code), count(*),
               coalesce(sum(body_size), 0), min(received_at), max(received_at)
          FROM symphonics.webhook_rejections
         GROUP BY 1, 2, 3
        """
    )

    op.execute("ALTER TABLE symphonics.webhook_rejections DROP CONSTRAINT webhook_rejections_reason_check")
    op.execute(
        "ALTER TABLE symphonics.webhook_rejections ADD CONSTRAINT webhook_rejections_reason_check "
        f"CHECK (reason IN ({_REASONS}))"
    )

    # least() of two timestamptz is immutable: a stored generated column, right for every existing row too.
    op.execute(
        "ALTER TABLE symphonics.webhook_events "
        "ADD COLUMN ordering_at timestamptz GENERATED ALWAYS AS (least(event_at, received_at)) STORED"
    )
    op.execute(
        "CREATE INDEX webhook_events_pending_ordering_at_idx ON symphonics.webhook_events (ordering_at, id) "
        "WHERE processed_at IS NULL"
    )

    op.execute(
        "ALTER TABLE symphonics.intervention_sync_state ADD COLUMN partner_status_source text "
        "CONSTRAINT intervention_sync_state_partner_status_source_check "
        "CHECK (partner_status_source IN ('webhook', 'poll', 'late_webhook'))"
    )
    # A status dated ahead of now came from a future-dated event (a poll's time is ours): poll it again.
    op.execute(
        """
        UPDATE symphonics.intervention_sync_state
           SET partner_status_source = 'late_webhook', partner_status_at = least(partner_status_at, updated_at)
         WHERE partner_status_at > now()
        """
    )
    op.execute(
        """
        INSERT INTO symphonics.status_poll_queue (intervention_id, external_id, reason)
        SELECT symphonics_id, external_id, 'late_webhook'
          FROM symphonics.intervention_sync_state
         WHERE partner_status_source = 'late_webhook' AND symphonics_id IS NOT NULL
            ON CONFLICT (intervention_id) WHERE done_at IS NULL DO NOTHING
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE symphonics.intervention_sync_state DROP COLUMN partner_status_source")
    op.execute("DROP INDEX symphonics.webhook_events_pending_ordering_at_idx")
    op.execute("ALTER TABLE symphonics.webhook_events DROP COLUMN ordering_at")
    # The old constraint cannot hold the new reasons: their sample rows go (their counts were aggregates only).
    op.execute("DELETE FROM symphonics.webhook_rejections WHERE reason IN ('rate_limited', 'slow_body')")
    op.execute("ALTER TABLE symphonics.webhook_rejections DROP CONSTRAINT webhook_rejections_reason_check")
    op.execute(
        "ALTER TABLE symphonics.webhook_rejections ADD CONSTRAINT webhook_rejections_reason_check "
        f"CHECK (reason IN ({_OLD_REASONS}))"
    )
    op.execute("DROP TABLE symphonics.webhook_refusals")
