"""The partner's stated limits are shared by every process, and a connection test is counted apart.

* ``symphonics.quota_windows`` gains ``partner_per_minute`` and ``partner_per_day``: an ``X-RateLimit-Limit``
  lower than the configured limit, adopted by the client for the window its ``X-RateLimit-Reset`` shows, kept in
  the row every process locks before a request (NULL: the configured limit applies). Named CHECKs keep them
  positive.
* The dashboard's role may read a client id's floor and stated limits in that row (the quota panel shows them),
  never its send times.
* ``analytics.quota_daily`` gains ``check_calls``: the requests of connection tests (``operation`` =
  ``check_connection``, class ``ops``), which the dashboard counts the same way. The view still counts every
  client id. ``CREATE OR REPLACE`` appends the column, so the analysts' grant and the comment are kept.

The downgrade drops the columns and the grant and restores 0005's view exactly (with 0005's and 0006's grants,
and its comment).

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

# Frozen here (a released migration never changes): 0005/0006's role names; the view below spells
# core.quota_policy.CHECK_OPERATION ('check_connection').
ANALYST_ROLE = "symphonics_analyst"
DASHBOARD_ROLE = "symphonics_dashboard"
PIPELINE_ROLE = "symphonics_pipeline"
_DASHBOARD_COLUMNS = ("client_id", "server_remaining", "server_reset_at", "partner_per_minute", "partner_per_day")

_QUOTA_DAILY_0005 = """
        SELECT (called_at AT TIME ZONE 'UTC')::date AS day_utc,
               priority_class,
               count(*) AS calls,
               count(*) FILTER (WHERE token_request) AS token_requests,
               count(*) FILTER (WHERE status IS NULL OR status >= 400) AS failed_calls,
               count(*) FILTER (WHERE status = 429) AS rate_limited_calls,
               round(avg(latency_ms)::numeric, 1) AS avg_latency_ms,
               round((percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p95_latency_ms
          FROM symphonics.api_calls
         GROUP BY 1, 2
"""

_QUOTA_DAILY_0019 = """
        SELECT (called_at AT TIME ZONE 'UTC')::date AS day_utc,
               priority_class,
               count(*) AS calls,
               count(*) FILTER (WHERE token_request) AS token_requests,
               count(*) FILTER (WHERE status IS NULL OR status >= 400) AS failed_calls,
               count(*) FILTER (WHERE status = 429) AS rate_limited_calls,
               round(avg(latency_ms)::numeric, 1) AS avg_latency_ms,
               round((percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p95_latency_ms,
               count(*) FILTER (WHERE operation = 'check_connection') AS check_calls
          FROM symphonics.api_calls
         GROUP BY 1, 2
"""


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE symphonics.quota_windows
            ADD COLUMN partner_per_minute integer
                CONSTRAINT quota_windows_partner_per_minute_check CHECK (partner_per_minute >= 1),
            ADD COLUMN partner_per_day integer
                CONSTRAINT quota_windows_partner_per_day_check CHECK (partner_per_day >= 1)
        """
    )
    op.execute(f"GRANT SELECT ({', '.join(_DASHBOARD_COLUMNS)}) ON symphonics.quota_windows TO {DASHBOARD_ROLE}")
    op.execute(f"CREATE OR REPLACE VIEW analytics.quota_daily AS {_QUOTA_DAILY_0019}")


def downgrade() -> None:
    # A view's columns cannot be dropped by CREATE OR REPLACE: drop it and make 0005's again, with its grant.
    op.execute("DROP VIEW analytics.quota_daily")
    op.execute(f"CREATE VIEW analytics.quota_daily AS {_QUOTA_DAILY_0005}")
    op.execute("COMMENT ON VIEW analytics.quota_daily IS 'Stable analyst view: see docs/ANALYTICS.md'")
    op.execute(f"GRANT SELECT ON analytics.quota_daily TO {ANALYST_ROLE}")
    # 0006 granted the pipeline every table of the schema, views included.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.quota_daily TO {PIPELINE_ROLE}")
    columns = ", ".join(_DASHBOARD_COLUMNS)
    op.execute(f"REVOKE SELECT ({columns}) ON symphonics.quota_windows FROM {DASHBOARD_ROLE}")  # noqa: S608 (constants)
    op.execute("ALTER TABLE symphonics.quota_windows DROP COLUMN partner_per_minute, DROP COLUMN partner_per_day")
