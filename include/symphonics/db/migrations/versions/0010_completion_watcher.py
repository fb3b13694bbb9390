"""The completion watcher: where it last signalled and what its probes cost; the ledger's publish times indexed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per watcher. The position is the (updated_at, id) of the app's interventions index up to which
    # the watcher has looked; it only moves forward, so a condition that stays true never fires twice.
    op.execute(
        """
        CREATE TABLE symphonics.completion_watchers (
            watcher            text NOT NULL CONSTRAINT completion_watchers_pkey PRIMARY KEY,
            position_at        timestamptz NOT NULL,
            position_id        bigint NOT NULL,
            probes             bigint NOT NULL DEFAULT 0
                CONSTRAINT completion_watchers_probes_check CHECK (probes >= 0),
            probe_ms_total     double precision NOT NULL DEFAULT 0,
            last_probe_at      timestamptz,
            last_probe_ms      double precision,
            last_probe_rows    integer,
            signals            bigint NOT NULL DEFAULT 0
                CONSTRAINT completion_watchers_signals_check CHECK (signals >= 0),
            last_signal_at     timestamptz,
            last_signal_rows   integer,
            errors             bigint NOT NULL DEFAULT 0
                CONSTRAINT completion_watchers_errors_check CHECK (errors >= 0),
            last_error_at      timestamptz,
            last_error         text,
            started_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # The dashboard shows the watcher's last probe (its role, from 0006, reads what it shows).
    op.execute("GRANT SELECT ON symphonics.completion_watchers TO symphonics_dashboard")
    # The dashboard's and the benchmark's completed -> created latency reads the recent creates only.
    op.execute(
        "CREATE INDEX interventions_ledger_published_at_idx ON symphonics.interventions_ledger (published_at) "
        "WHERE published_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX symphonics.interventions_ledger_published_at_idx")
    op.execute("DROP TABLE symphonics.completion_watchers")
