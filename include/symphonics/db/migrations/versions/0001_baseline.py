"""Baseline: the ``symphonics`` schema and the health-check history.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Internal tables live in their own schema; analysts get a schema of views of their own later.
    op.execute("CREATE SCHEMA symphonics")
    op.execute(
        """
        CREATE TABLE symphonics.healthchecks (
            id          bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT healthchecks_pkey PRIMARY KEY,
            checked_at  timestamptz NOT NULL DEFAULT now(),
            component   text NOT NULL,
            ok          boolean NOT NULL,
            latency_ms  double precision,
            detail      text NOT NULL DEFAULT '',
            run_id      text
        )
        """
    )
    op.execute("CREATE INDEX healthchecks_component_checked_at_idx ON symphonics.healthchecks (component, checked_at)")


def downgrade() -> None:
    op.execute("DROP TABLE symphonics.healthchecks")
    op.execute("DROP SCHEMA symphonics")
