"""The webhook receiver's tables: received events, rejected requests and the status-poll queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per distinct event. The document gives events no id, so the receiver derives a natural key
    # (see include/symphonics/webhooks/events.py) and the unique constraint makes a retried delivery a no-op.
    op.execute(
        """
        CREATE TABLE symphonics.webhook_events (
            id                     bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT webhook_events_pkey PRIMARY KEY,
            received_at            timestamptz NOT NULL,
            event_type             text NOT NULL,
            event_at               timestamptz NOT NULL,
            intervention_id        text,
            external_id            text,
            previous_status        text,
            new_status             text,
            document_type          text,
            verification_status    text,
            notes                  text,
            raw_body               text NOT NULL,
            dedup_key              bytea NOT NULL CONSTRAINT webhook_events_dedup_key_key UNIQUE,
            unknown_event          boolean NOT NULL DEFAULT false,
            late                   boolean NOT NULL DEFAULT false,
            signature_secret_used  text NOT NULL
                CONSTRAINT webhook_events_signature_secret_used_check
                CHECK (signature_secret_used IN ('current', 'previous')),
            processed_at           timestamptz,
            CONSTRAINT webhook_events_dedup_key_length_check CHECK (octet_length(dedup_key) = 32),
            CONSTRAINT webhook_events_known_event_has_intervention_check
                CHECK (unknown_event OR intervention_id IS NOT NULL)
        )
        """
    )
    # The reconciliation applies pending events in event order; the partial index stays as small as the backlog.
    op.execute(
        "CREATE INDEX webhook_events_pending_event_at_idx ON symphonics.webhook_events (event_at, id) "
        "WHERE processed_at IS NULL"
    )
    # "Last webhook of an intervention" (which published interventions went quiet) and the history of one.
    op.execute(
        "CREATE INDEX webhook_events_intervention_id_event_at_idx ON symphonics.webhook_events "
        "(intervention_id, event_at)"
    )
    # Webhook health on the dashboard and the raw-body purge scan by reception time.
    op.execute("CREATE INDEX webhook_events_received_at_idx ON symphonics.webhook_events (received_at)")

    # Refused requests. No secret and no signature value is ever stored; the body is kept only when it was
    # validly signed (it comes from the partner and explains the refusal), never for unsigned requests, whose
    # content is whatever anyone on the internet chose to send.
    op.execute(
        """
        CREATE TABLE symphonics.webhook_rejections (
            id                bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT webhook_rejections_pkey PRIMARY KEY,
            received_at       timestamptz NOT NULL,
            request_id        text NOT NULL,
            reason            text NOT NULL
                CONSTRAINT webhook_rejections_reason_check CHECK (reason IN (
                    'missing_signature', 'bad_signature', 'too_large', 'wrong_content_type',
                    'malformed', 'stale', 'future'
                )),
            status_code       smallint NOT NULL
                CONSTRAINT webhook_rejections_status_code_check CHECK (status_code BETWEEN 400 AND 499),
            remote_addr       text,
            body_size         integer
                CONSTRAINT webhook_rejections_body_size_check CHECK (body_size >= 0),
            content_type      text,
            user_agent        text,
            signature_valid   boolean NOT NULL DEFAULT false,
            detail            text NOT NULL DEFAULT '',
            signed_body       text,
            webhook_event_id  bigint
                CONSTRAINT webhook_rejections_webhook_event_id_fkey
                REFERENCES symphonics.webhook_events (id) ON DELETE SET NULL,
            CONSTRAINT webhook_rejections_signed_body_check CHECK (signed_body IS NULL OR signature_valid)
        )
        """
    )
    # Alerts count rejections per reason over the last minutes.
    op.execute(
        "CREATE INDEX webhook_rejections_reason_received_at_idx ON symphonics.webhook_rejections (reason, received_at)"
    )
    op.execute("CREATE INDEX webhook_rejections_received_at_idx ON symphonics.webhook_rejections (received_at)")
    # ON DELETE SET NULL from a purge of webhook_events looks rejections up by this column.
    op.execute(
        "CREATE INDEX webhook_rejections_webhook_event_id_idx ON symphonics.webhook_rejections (webhook_event_id) "
        "WHERE webhook_event_id IS NOT NULL"
    )

    # Interventions whose status must be polled because a webhook about them came too late to be trusted.
    op.execute(
        """
        CREATE TABLE symphonics.status_poll_queue (
            id                bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT status_poll_queue_pkey PRIMARY KEY,
            intervention_id   text NOT NULL,
            external_id       text,
            reason            text NOT NULL
                CONSTRAINT status_poll_queue_reason_check CHECK (reason <> ''),
            queued_at         timestamptz NOT NULL DEFAULT now(),
            done_at           timestamptz,
            webhook_event_id  bigint
                CONSTRAINT status_poll_queue_webhook_event_id_fkey
                REFERENCES symphonics.webhook_events (id) ON DELETE SET NULL,
            CONSTRAINT status_poll_queue_done_after_queued_check CHECK (done_at IS NULL OR done_at >= queued_at)
        )
        """
    )
    # At most one pending poll per intervention: a burst of late events queues it once.
    op.execute(
        "CREATE UNIQUE INDEX status_poll_queue_pending_intervention_id_key ON symphonics.status_poll_queue "
        "(intervention_id) WHERE done_at IS NULL"
    )
    op.execute(
        "CREATE INDEX status_poll_queue_webhook_event_id_idx ON symphonics.status_poll_queue (webhook_event_id) "
        "WHERE webhook_event_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE symphonics.status_poll_queue")
    op.execute("DROP TABLE symphonics.webhook_rejections")
    op.execute("DROP TABLE symphonics.webhook_events")
