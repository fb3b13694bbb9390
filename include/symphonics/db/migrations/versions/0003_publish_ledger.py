"""The publish pipeline: the interventions ledger, the high-water marks, the validation caches, run summaries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every state of issue 5, plus out_of_scope (seen, but not completed: kept so nothing disappears silently).
_LEDGER_STATES = (
    "out_of_scope",
    "pending",
    "invalid",
    "rejected_validation",
    "ready",
    "sending",
    "published",
    "updated",
    "conflict_unresolved",
    "changed_after_publish",
    "failed_retryable",
    "dead_letter",
)
_STATE_LIST = ", ".join(f"'{state}'" for state in _LEDGER_STATES)
# The states a publish run works on: the claim query's partial index covers exactly these.
_WORK_STATES = "'pending', 'ready', 'sending', 'failed_retryable'"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE symphonics.interventions_ledger (
            id                   bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT interventions_ledger_pkey PRIMARY KEY,
            external_id          text NOT NULL CONSTRAINT interventions_ledger_external_id_key UNIQUE,
            app_intervention_id  bigint NOT NULL,
            app_status           text NOT NULL,
            app_updated_at       timestamptz NOT NULL,
            source               jsonb NOT NULL,
            source_fingerprint   text NOT NULL,
            payload              jsonb,
            payload_fingerprint  text,
            sent_payload         jsonb,
            sent_fingerprint     text,
            sent_documents       jsonb NOT NULL DEFAULT '[]'::jsonb,
            state                text NOT NULL DEFAULT 'pending'
                CONSTRAINT interventions_ledger_state_check CHECK (state IN ({_STATE_LIST})),
            state_reason         text,
            state_detail         text,
            changed_fields       jsonb,
            symphonics_id        text,
            attempts             integer NOT NULL DEFAULT 0
                CONSTRAINT interventions_ledger_attempts_check CHECK (attempts >= 0),
            last_error_code      text,
            last_error_message   text,
            last_request_id      text,
            last_http_status     smallint,
            claim_key            integer,
            claimed_at           timestamptz,
            last_run_id          text,
            first_seen_at        timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now(),
            state_changed_at     timestamptz NOT NULL DEFAULT now(),
            prevalidated_at      timestamptz,
            validated_at         timestamptz,
            last_sent_at         timestamptz,
            published_at         timestamptz,
            patched_at           timestamptz,
            CONSTRAINT interventions_ledger_reason_check CHECK (
                state IN ('pending', 'ready', 'sending', 'published', 'updated') OR state_reason IS NOT NULL
            ),
            CONSTRAINT interventions_ledger_published_id_check CHECK (
                state NOT IN ('published', 'updated') OR symphonics_id IS NOT NULL
            ),
            CONSTRAINT interventions_ledger_sent_documents_check CHECK (jsonb_typeof(sent_documents) = 'array')
        )
        """
    )
    # The claim query: the few rows still to work on, oldest first (FOR UPDATE SKIP LOCKED over it).
    op.execute(
        "CREATE INDEX interventions_ledger_work_idx ON symphonics.interventions_ledger (state, id) "
        f"WHERE state IN ({_WORK_STATES})"
    )
    # The dashboard: counts per state and reason, recent changes.
    op.execute(
        "CREATE INDEX interventions_ledger_state_reason_idx ON symphonics.interventions_ledger (state, state_reason)"
    )
    op.execute(
        "CREATE INDEX interventions_ledger_state_changed_at_idx ON symphonics.interventions_ledger (state_changed_at)"
    )
    # Webhooks and the reconciliation find a row by the partner's id.
    op.execute(
        "CREATE UNIQUE INDEX interventions_ledger_symphonics_id_key ON symphonics.interventions_ledger "
        "(symphonics_id) WHERE symphonics_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX interventions_ledger_app_intervention_id_idx "
        "ON symphonics.interventions_ledger (app_intervention_id)"
    )
    # A claim is owned by a live publisher while its advisory lock (classid, claim_key) is held: the keys.
    op.execute("CREATE SEQUENCE symphonics.publish_claim_key_seq AS integer MINVALUE 1 MAXVALUE 2147483647 CYCLE")

    op.execute(
        """
        CREATE TABLE symphonics.publish_watermarks (
            pipeline         text NOT NULL CONSTRAINT publish_watermarks_pkey PRIMARY KEY,
            mark_updated_at  timestamptz NOT NULL,
            mark_id          bigint NOT NULL,
            run_id           text,
            updated_at       timestamptz NOT NULL DEFAULT now()
        )
        """
    )

    op.execute(
        """
        CREATE TABLE symphonics.pdl_validations (
            pdl          text NOT NULL CONSTRAINT pdl_validations_pkey PRIMARY KEY,
            valid        boolean NOT NULL,
            address      jsonb,
            meter_type   text,
            error_code   text,
            message      text,
            fetched_at   timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz NOT NULL,
            CONSTRAINT pdl_validations_expiry_check CHECK (expires_at >= fetched_at)
        )
        """
    )
    op.execute("CREATE INDEX pdl_validations_expires_at_idx ON symphonics.pdl_validations (expires_at)")
    op.execute(
        """
        CREATE TABLE symphonics.pdl_lookups (
            lookup_key     text NOT NULL CONSTRAINT pdl_lookups_pkey PRIMARY KEY,
            address        jsonb NOT NULL,
            customer_name  text NOT NULL,
            found          boolean NOT NULL,
            pdl            text,
            confidence     double precision,
            meter_type     text,
            fetched_at     timestamptz NOT NULL DEFAULT now(),
            expires_at     timestamptz NOT NULL,
            CONSTRAINT pdl_lookups_expiry_check CHECK (expires_at >= fetched_at),
            CONSTRAINT pdl_lookups_found_check CHECK (NOT found OR pdl IS NOT NULL)
        )
        """
    )
    op.execute("CREATE INDEX pdl_lookups_expires_at_idx ON symphonics.pdl_lookups (expires_at)")
    op.execute(
        """
        CREATE TABLE symphonics.installer_validations (
            email        text NOT NULL CONSTRAINT installer_validations_pkey PRIMARY KEY,
            user_exists  boolean NOT NULL,
            user_id      text,
            status       text,
            fetched_at   timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz NOT NULL,
            CONSTRAINT installer_validations_expiry_check CHECK (expires_at >= fetched_at),
            CONSTRAINT installer_validations_user_id_check CHECK (NOT user_exists OR user_id IS NOT NULL)
        )
        """
    )
    op.execute("CREATE INDEX installer_validations_expires_at_idx ON symphonics.installer_validations (expires_at)")

    op.execute(
        """
        CREATE TABLE symphonics.publish_runs (
            id                     bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT publish_runs_pkey PRIMARY KEY,
            dag_id                 text NOT NULL,
            run_id                 text NOT NULL,
            run_type               text,
            logical_date           timestamptz,
            params                 jsonb NOT NULL DEFAULT '{}'::jsonb,
            dry_run                boolean NOT NULL DEFAULT false,
            kill_switch            boolean NOT NULL DEFAULT false,
            extracted              integer NOT NULL DEFAULT 0,
            out_of_scope           integer NOT NULL DEFAULT 0,
            invalid                integer NOT NULL DEFAULT 0,
            rejected               integer NOT NULL DEFAULT 0,
            published              integer NOT NULL DEFAULT 0,
            updated                integer NOT NULL DEFAULT 0,
            skipped                integer NOT NULL DEFAULT 0,
            deferred_by_quota      integer NOT NULL DEFAULT 0,
            conflict_unresolved    integer NOT NULL DEFAULT 0,
            changed_after_publish  integer NOT NULL DEFAULT 0,
            failed_retryable       integer NOT NULL DEFAULT 0,
            dead_letter            integer NOT NULL DEFAULT 0,
            calls_spent            integer NOT NULL DEFAULT 0,
            calls_budget           integer,
            backlog                integer NOT NULL DEFAULT 0,
            backlog_eta            timestamptz,
            detail                 jsonb NOT NULL DEFAULT '{}'::jsonb,
            started_at             timestamptz NOT NULL DEFAULT now(),
            finished_at            timestamptz,
            CONSTRAINT publish_runs_dag_id_run_id_key UNIQUE (dag_id, run_id),
            CONSTRAINT publish_runs_finished_check CHECK (finished_at IS NULL OR finished_at >= started_at)
        )
        """
    )
    op.execute("CREATE INDEX publish_runs_started_at_idx ON symphonics.publish_runs (started_at)")


def downgrade() -> None:
    op.execute("DROP TABLE symphonics.publish_runs")
    op.execute("DROP TABLE symphonics.installer_validations")
    op.execute("DROP TABLE symphonics.pdl_lookups")
    op.execute("DROP TABLE symphonics.pdl_validations")
    op.execute("DROP TABLE symphonics.publish_watermarks")
    op.execute("DROP SEQUENCE symphonics.publish_claim_key_seq")
    op.execute("DROP TABLE symphonics.interventions_ledger")
