"""The Symphonics client's shared state: quota counters, the encrypted token and the call log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PRIORITY_CHECK = "priority_class IN ('publish', 'reconcile', 'ops')"


def upgrade() -> None:
    # One counter row per client id: its row lock serialises quota decisions (see client/ratelimit.py).
    op.execute(
        """
        CREATE TABLE symphonics.quota_windows (
            client_id         text NOT NULL CONSTRAINT quota_windows_pkey PRIMARY KEY,
            recent_sends      double precision[] NOT NULL DEFAULT '{}',
            day_start         timestamptz,
            day_used          integer NOT NULL DEFAULT 0
                CONSTRAINT quota_windows_day_used_check CHECK (day_used >= 0),
            server_remaining  integer,
            server_reset_at   timestamptz,
            updated_at        timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE symphonics.quota_class_usage (
            client_id       text NOT NULL
                CONSTRAINT quota_class_usage_client_id_fkey REFERENCES symphonics.quota_windows (client_id)
                ON DELETE CASCADE,
            day_start       timestamptz NOT NULL,
            priority_class  text NOT NULL
                CONSTRAINT quota_class_usage_priority_class_check CHECK ({_PRIORITY_CHECK}),
            used            integer NOT NULL CONSTRAINT quota_class_usage_used_check CHECK (used >= 0),
            CONSTRAINT quota_class_usage_pkey PRIMARY KEY (client_id, day_start, priority_class)
        )
        """
    )
    # The token is stored encrypted (Fernet); the key is the client id and the base URL (sandbox vs prod).
    op.execute(
        """
        CREATE TABLE symphonics.api_tokens (
            client_id               text NOT NULL,
            base_url                text NOT NULL,
            access_token_encrypted  bytea NOT NULL,
            token_type              text NOT NULL DEFAULT 'Bearer',
            expires_at              timestamptz NOT NULL,
            refresh_at              timestamptz NOT NULL,
            obtained_at             timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT api_tokens_pkey PRIMARY KEY (client_id, base_url),
            CONSTRAINT api_tokens_refresh_before_expiry_check CHECK (refresh_at <= expires_at)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE symphonics.api_calls (
            id              bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT api_calls_pkey PRIMARY KEY,
            called_at       timestamptz NOT NULL,
            client_id       text NOT NULL,
            priority_class  text NOT NULL CONSTRAINT api_calls_priority_class_check CHECK ({_PRIORITY_CHECK}),
            operation       text NOT NULL,
            method          text NOT NULL
                CONSTRAINT api_calls_method_check CHECK (method IN ('GET', 'POST', 'PATCH', 'PUT', 'DELETE')),
            path            text NOT NULL,
            status          smallint CONSTRAINT api_calls_status_check CHECK (status BETWEEN 100 AND 599),
            error_code      text,
            latency_ms      double precision NOT NULL
                CONSTRAINT api_calls_latency_ms_check CHECK (latency_ms >= 0),
            attempt         smallint NOT NULL CONSTRAINT api_calls_attempt_check CHECK (attempt >= 1),
            request_id      text,
            token_request   boolean NOT NULL DEFAULT false,
            dag_id          text,
            task_id         text,
            run_id          text
        )
        """
    )
    # Quota accounting and "calls per minute/day" of one client id scan by time.
    op.execute("CREATE INDEX api_calls_client_id_called_at_idx ON symphonics.api_calls (client_id, called_at)")
    # The dashboard's "calls per day/minute per class".
    op.execute(
        "CREATE INDEX api_calls_priority_class_called_at_idx ON symphonics.api_calls (priority_class, called_at)"
    )
    # Error and timeout reviews look at the few failed calls only.
    op.execute(
        "CREATE INDEX api_calls_failed_called_at_idx ON symphonics.api_calls (called_at) "
        "WHERE status IS NULL OR status >= 400"
    )
    # Which run spent the quota.
    op.execute(
        "CREATE INDEX api_calls_dag_id_run_id_idx ON symphonics.api_calls (dag_id, run_id) WHERE dag_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE symphonics.api_calls")
    op.execute("DROP TABLE symphonics.api_tokens")
    op.execute("DROP TABLE symphonics.quota_class_usage")
    op.execute("DROP TABLE symphonics.quota_windows")
