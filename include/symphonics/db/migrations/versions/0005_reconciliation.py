"""The reconciliation: status history, the app-state copy, the analytics schema and its role, the alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ANALYST_ROLE = "symphonics_analyst"

#: Every category a snapshot row can take (docs/ANALYTICS.md gives the rules and their precedence).
CATEGORIES = (
    "in_sync",
    "awaiting_partner",
    "approved",
    "rejected",
    "document_rejected",
    "missing_in_partner",
    "invalid_in_app",
    "changed_after_publish",
    "dead_letter",
    "stale",
)
_CATEGORY_LIST = ", ".join(f"'{category}'" for category in CATEGORIES)

# Masks as the analyst views show them: the first character and the domain of an e-mail, the last two digits
# of a phone. Applied to the app's data when it is copied, so the sync database never holds the clear values.
_VIEWS = ("interventions_current", "rejections", "time_to_approval", "quota_daily")


def upgrade() -> None:
    # Every transition the sync learnt of: the partner's statuses (webhook, poll), document verifications, and
    # the ledger's own states (source publish). Append-only: a snapshot of a past date is computed from it.
    op.execute(
        """
        CREATE TABLE symphonics.status_history (
            id                bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT status_history_pkey PRIMARY KEY,
            external_id       text NOT NULL,
            symphonics_id     text,
            event_kind        text NOT NULL DEFAULT 'status'
                CONSTRAINT status_history_event_kind_check CHECK (event_kind IN ('status', 'document')),
            document_type     text,
            from_status       text,
            to_status         text NOT NULL,
            source            text NOT NULL
                CONSTRAINT status_history_source_check CHECK (source IN ('webhook', 'poll', 'publish')),
            notes             text,
            occurred_at       timestamptz NOT NULL,
            recorded_at       timestamptz NOT NULL DEFAULT now(),
            webhook_event_id  bigint
                CONSTRAINT status_history_webhook_event_id_fkey
                REFERENCES symphonics.webhook_events (id) ON DELETE SET NULL,
            run_id            text,
            CONSTRAINT status_history_document_type_check
                CHECK ((event_kind = 'document') = (document_type IS NOT NULL))
        )
        """
    )
    # The as-of reads: the latest row of each intervention and source before a date.
    op.execute(
        "CREATE INDEX status_history_external_id_occurred_at_idx ON symphonics.status_history "
        "(external_id, source, occurred_at)"
    )
    # A webhook event is applied once, however often the reconciliation runs.
    op.execute(
        "CREATE UNIQUE INDEX status_history_webhook_event_id_key ON symphonics.status_history (webhook_event_id) "
        "WHERE webhook_event_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX status_history_to_status_occurred_at_idx ON symphonics.status_history (to_status, occurred_at)"
    )

    # What the reconciliation knows now of each intervention: the partner's latest status and the ledger state it
    # last recorded. It is the "current" side of status_history, kept so polls and views need no scan of it.
    op.execute(
        """
        CREATE TABLE symphonics.intervention_sync_state (
            external_id        text NOT NULL CONSTRAINT intervention_sync_state_pkey PRIMARY KEY,
            symphonics_id      text,
            partner_status     text,
            partner_status_at  timestamptz,
            partner_notes      text,
            last_webhook_at    timestamptz,
            last_polled_at     timestamptz,
            ledger_state       text,
            ledger_state_at    timestamptz,
            updated_at         timestamptz NOT NULL DEFAULT now()
        )
        """
    )

    # The app's interventions, one version per app updated_at (the app moves it forward on every change), copied
    # each run: the app's database is another database, and the snapshot of a past date reads the version of then.
    # Personal data arrives masked.
    op.execute(
        """
        CREATE TABLE symphonics.app_interventions_copy (
            external_id             text NOT NULL,
            app_updated_at          timestamptz NOT NULL,
            app_intervention_id     bigint NOT NULL,
            status                  text NOT NULL,
            completed_at            timestamptz,
            postal_code             text,
            city                    text,
            installer_id            bigint,
            installer_masked        text,
            company_id              bigint,
            customer_email_masked   text,
            customer_phone_masked   text,
            copied_at               timestamptz NOT NULL DEFAULT now(),
            run_id                  text,
            CONSTRAINT app_interventions_copy_pkey PRIMARY KEY (external_id, app_updated_at)
        )
        """
    )
    # The next copy starts from the newest version copied.
    op.execute(
        "CREATE INDEX app_interventions_copy_app_updated_at_idx ON symphonics.app_interventions_copy (app_updated_at)"
    )

    op.execute(
        """
        CREATE TABLE symphonics.alerts (
            id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT alerts_pkey PRIMARY KEY,
            raised_at     timestamptz NOT NULL DEFAULT now(),
            kind          text NOT NULL CONSTRAINT alerts_kind_check CHECK (kind <> ''),
            severity      text NOT NULL
                CONSTRAINT alerts_severity_check CHECK (severity IN ('info', 'warning', 'critical')),
            message       text NOT NULL,
            details       jsonb NOT NULL DEFAULT '{}'::jsonb,
            dag_id        text,
            run_id        text,
            notified_via  text[] NOT NULL DEFAULT '{}'
        )
        """
    )
    op.execute("CREATE INDEX alerts_raised_at_idx ON symphonics.alerts (raised_at)")
    # A retried evaluation raises each alert of a run once.
    op.execute(
        "CREATE UNIQUE INDEX alerts_run_id_kind_key ON symphonics.alerts (run_id, kind) WHERE run_id IS NOT NULL"
    )

    op.execute("CREATE SCHEMA analytics")
    op.execute(
        f"""
        CREATE TABLE analytics.reconciliation_snapshots (
            snapshot_date              date NOT NULL,
            external_id                text NOT NULL,
            as_of                      timestamptz NOT NULL,
            category                   text NOT NULL
                CONSTRAINT reconciliation_snapshots_category_check CHECK (category IN ({_CATEGORY_LIST})),
            app_intervention_id        bigint,
            app_status                 text,
            app_completed_at           timestamptz,
            app_updated_at             timestamptz,
            ledger_state               text NOT NULL,
            ledger_reason              text,
            symphonics_id              text,
            partner_status             text,
            partner_status_at          timestamptz,
            partner_notes              text,
            rejected_documents         text[] NOT NULL DEFAULT '{{}}',
            published_at               timestamptz,
            approved_at                timestamptz,
            days_since_completion      integer,
            days_in_partner_status     integer,
            installer_id               bigint,
            installer_masked           text,
            company_id                 bigint,
            postal_code                text,
            CONSTRAINT reconciliation_snapshots_pkey PRIMARY KEY (snapshot_date, external_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX reconciliation_snapshots_category_idx ON analytics.reconciliation_snapshots "
        "(snapshot_date, category)"
    )
    # A snapshot, once written, is never changed: rows are only added (and deleted by a retention decision).
    op.execute(
        """
        CREATE FUNCTION analytics.refuse_snapshot_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a reconciliation snapshot is never changed (% %)', OLD.snapshot_date, OLD.external_id
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER reconciliation_snapshots_immutable BEFORE UPDATE ON analytics.reconciliation_snapshots "
        "FOR EACH ROW EXECUTE FUNCTION analytics.refuse_snapshot_update()"
    )
    # One row per snapshot date: when it was taken and what was known then (a rebuild reads the same history).
    op.execute(
        """
        CREATE TABLE analytics.snapshot_builds (
            snapshot_date  date NOT NULL CONSTRAINT snapshot_builds_pkey PRIMARY KEY,
            as_of          timestamptz NOT NULL,
            known_at       timestamptz NOT NULL,
            stale_days     integer NOT NULL CONSTRAINT snapshot_builds_stale_days_check CHECK (stale_days > 0),
            row_count      integer NOT NULL CONSTRAINT snapshot_builds_row_count_check CHECK (row_count >= 0),
            built_at       timestamptz NOT NULL DEFAULT now(),
            run_id         text
        )
        """
    )

    op.execute(
        """
        CREATE VIEW analytics.interventions_current AS
        SELECT a.external_id,
               a.app_intervention_id,
               a.status AS app_status,
               a.completed_at,
               a.app_updated_at,
               a.postal_code,
               a.city,
               a.installer_id,
               a.installer_masked,
               a.company_id,
               a.customer_email_masked,
               a.customer_phone_masked,
               l.state AS ledger_state,
               l.state_reason AS ledger_reason,
               l.symphonics_id,
               l.published_at,
               s.partner_status,
               s.partner_status_at,
               s.partner_notes,
               s.last_webhook_at,
               s.last_polled_at
          FROM (SELECT DISTINCT ON (external_id) *
                  FROM symphonics.app_interventions_copy
                 ORDER BY external_id, app_updated_at DESC) AS a
          LEFT JOIN symphonics.interventions_ledger AS l ON l.external_id = a.external_id
          LEFT JOIN symphonics.intervention_sync_state AS s ON s.external_id = a.external_id
        """
    )
    op.execute(
        """
        CREATE VIEW analytics.rejections AS
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
    )
    op.execute(
        """
        CREATE VIEW analytics.time_to_approval AS
        SELECT ap.external_id,
               ap.symphonics_id,
               a.completed_at,
               pub.published_at,
               ap.approved_at,
               round((extract(epoch FROM ap.approved_at - a.completed_at) / 86400)::numeric, 2)
                   AS days_completion_to_approval,
               round((extract(epoch FROM ap.approved_at - pub.published_at) / 86400)::numeric, 2)
                   AS days_publication_to_approval,
               a.installer_id,
               a.installer_masked,
               a.company_id
          FROM (SELECT external_id, min(symphonics_id) AS symphonics_id, min(occurred_at) AS approved_at
                  FROM symphonics.status_history
                 WHERE source IN ('webhook', 'poll') AND event_kind = 'status' AND to_status = 'approved'
                 GROUP BY external_id) AS ap
          LEFT JOIN (SELECT external_id, min(occurred_at) AS published_at
                       FROM symphonics.status_history
                      WHERE source = 'publish'
                        AND to_status IN ('published', 'updated', 'conflict_unresolved', 'changed_after_publish')
                      GROUP BY external_id) AS pub ON pub.external_id = ap.external_id
          LEFT JOIN LATERAL (SELECT c.completed_at, c.installer_id, c.installer_masked, c.company_id
                               FROM symphonics.app_interventions_copy AS c
                              WHERE c.external_id = ap.external_id
                              ORDER BY c.app_updated_at DESC
                              LIMIT 1) AS a ON true
        """
    )
    op.execute(
        """
        CREATE VIEW analytics.quota_daily AS
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
    )
    for view in _VIEWS:
        op.execute(f"COMMENT ON VIEW analytics.{view} IS 'Stable analyst view: see docs/ANALYTICS.md'")

    # Roles are cluster-wide: created only when missing (another database may have made it), never with a
    # password (people get it granted: GRANT symphonics_analyst TO alice). A concurrent creation is not an error.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{ANALYST_ROLE}') THEN
                CREATE ROLE {ANALYST_ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object THEN
            NULL;
        END
        $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA analytics TO {ANALYST_ROLE}")
    # The views run with their owner's rights: the analyst reads them, never the symphonics tables behind them.
    for view in _VIEWS:
        op.execute(f"GRANT SELECT ON analytics.{view} TO {ANALYST_ROLE}")
    # The snapshot table holds masked data only and is the analysts' main table.
    op.execute(f"GRANT SELECT ON analytics.reconciliation_snapshots, analytics.snapshot_builds TO {ANALYST_ROLE}")


def downgrade() -> None:
    # The role is left in place: it is cluster-wide, may predate this migration, may be granted to people and
    # used by other databases; dropping it is a DBA's decision. Dropping the schema removes its grants here.
    op.execute("DROP SCHEMA analytics CASCADE")
    op.execute("DROP TABLE symphonics.alerts")
    op.execute("DROP TABLE symphonics.app_interventions_copy")
    op.execute("DROP TABLE symphonics.intervention_sync_state")
    op.execute("DROP TABLE symphonics.status_history")
