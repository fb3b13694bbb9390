"""Database roles of least privilege for the three services: webhook receiver, dashboard, pipeline.

Each is a NOLOGIN group role, created only if missing (roles are cluster-wide); people and services get a login
of their own that is a member of it (``CREATE ROLE webhooks LOGIN PASSWORD '…' IN ROLE
symphonics_webhook_receiver``; ``make run`` creates one per role with a generated password, README "Database
roles"). The grants are the whole of what each service does:

- ``symphonics_webhook_receiver``, the internet-facing receiver: INSERT and SELECT on its own three tables
  (the events, the refused requests, the poll queue it fills with late events), nothing else.
- ``symphonics_dashboard``: SELECT on what the dashboard reads; the ledger's columns that hold the app's
  personal data (``source``, ``payload``, ``sent_payload``) are left out.
- ``symphonics_pipeline``, the DAGs: read and write every table of the ``symphonics`` and ``analytics`` schemas
  (and the ones later migrations add there), never their definition.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RECEIVER_ROLE = "symphonics_webhook_receiver"
DASHBOARD_ROLE = "symphonics_dashboard"
PIPELINE_ROLE = "symphonics_pipeline"
ROLES = (RECEIVER_ROLE, DASHBOARD_ROLE, PIPELINE_ROLE)

#: The receiver's own tables (include/symphonics/webhooks/sql/).
RECEIVER_TABLES = ("symphonics.webhook_events", "symphonics.webhook_rejections", "symphonics.status_poll_queue")
#: The tables the dashboard reads whole (include/symphonics/sql/dashboard/).
DASHBOARD_TABLES = (
    "symphonics.api_calls",
    "symphonics.publish_runs",
    "symphonics.webhook_events",
    "symphonics.webhook_rejections",
)
#: The ledger's columns the dashboard may read: all but the copies of the app's row (personal data).
DASHBOARD_LEDGER_COLUMNS = (
    "id",
    "external_id",
    "app_intervention_id",
    "app_status",
    "app_updated_at",
    "source_fingerprint",
    "payload_fingerprint",
    "sent_fingerprint",
    "sent_documents",
    "state",
    "state_reason",
    "state_detail",
    "changed_fields",
    "symphonics_id",
    "attempts",
    "last_error_code",
    "last_error_message",
    "last_request_id",
    "last_http_status",
    "claim_key",
    "claimed_at",
    "last_run_id",
    "first_seen_at",
    "updated_at",
    "state_changed_at",
    "prevalidated_at",
    "validated_at",
    "last_sent_at",
    "published_at",
    "patched_at",
)
_SCHEMAS = ("symphonics", "analytics")


def _create_role(name: str) -> None:
    # Created only when missing (another database of the cluster may have made it), never with a password.
    # A concurrent creation is not an error.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN
                CREATE ROLE {name} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object THEN
            NULL;
        END
        $$
        """
    )


def upgrade() -> None:
    for role in ROLES:
        _create_role(role)

    op.execute(f"GRANT USAGE ON SCHEMA symphonics TO {RECEIVER_ROLE}")
    for table in RECEIVER_TABLES:
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {RECEIVER_ROLE}")

    op.execute(f"GRANT USAGE ON SCHEMA symphonics, analytics TO {DASHBOARD_ROLE}")
    for table in DASHBOARD_TABLES:
        op.execute(f"GRANT SELECT ON {table} TO {DASHBOARD_ROLE}")
    op.execute(
        f"GRANT SELECT ({', '.join(DASHBOARD_LEDGER_COLUMNS)}) ON symphonics.interventions_ledger TO {DASHBOARD_ROLE}"
    )

    op.execute(f"GRANT USAGE ON SCHEMA symphonics, analytics TO {PIPELINE_ROLE}")
    for schema in _SCHEMAS:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {PIPELINE_ROLE}")
        op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {PIPELINE_ROLE}")
        # Tables later migrations add (run by the same owner) are the pipeline's too.
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {PIPELINE_ROLE}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {PIPELINE_ROLE}"
        )


def downgrade() -> None:
    # The roles stay (cluster-wide, possibly granted to people and used by other databases: a DBA's decision);
    # what this migration granted in this database is revoked, so a role left behind can do nothing here.
    for schema in _SCHEMAS:
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {PIPELINE_ROLE}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM {PIPELINE_ROLE}"
        )
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {PIPELINE_ROLE}")
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {PIPELINE_ROLE}")
    op.execute(f"REVOKE ALL ON symphonics.interventions_ledger FROM {DASHBOARD_ROLE}")
    ledger_columns = ", ".join(DASHBOARD_LEDGER_COLUMNS)
    op.execute(f"REVOKE SELECT ({ledger_columns}) ON symphonics.interventions_ledger FROM {DASHBOARD_ROLE}")  # noqa: S608 (constants)
    for table in DASHBOARD_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {DASHBOARD_ROLE}")
    for table in RECEIVER_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {RECEIVER_ROLE}")
    for schema in _SCHEMAS:
        op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {', '.join(ROLES)}")
