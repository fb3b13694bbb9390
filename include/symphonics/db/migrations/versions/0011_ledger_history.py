"""Every ledger row's history: one append-only row per state change, written by a trigger on the ledger.

``symphonics.ledger_history`` holds each change of a row's state (or reason, or a new send attempt): the old and
the new state, the reason, the run that made it, the time, and what links it to the partner's calls (the request
id of the answer that moved it, the Symphonics id, the payload fingerprint). A trigger on
``symphonics.interventions_ledger`` writes it, so no code path can forget to: the run is read from the
transaction-local setting ``symphonics.run_id`` when a step sets it (the reconciliation does), else from the row's
``last_run_id``, which every publish statement sets (or a statement of the same run set before it).

It is not ``symphonics.status_history``: that table keeps one ``publish`` row per state seen by each nightly
reconciliation (plus the partner's statuses), which the snapshots of past dates are rebuilt from; it stays as it is
and is never purged for this one. ``ledger_history`` is finer (every transition, with its run) and feeds the
dashboard's timeline only; no snapshot reads it. It holds no personal data (ids, states, reason codes,
fingerprints, request ids), so the privacy erasure has nothing to erase in it.

``symphonics.dry_run_results`` keeps what a dry run found, one row per intervention: to create (with the payload's
field names, never their values), to PATCH (with the number of new documents), skipped (out of scope) or refused
(a local rule or the partner's validation, with the reason), so the dashboard shows it and exports it as CSV.

Append-only for everyone but the owner: the trigger function is ``SECURITY DEFINER``, the pipeline's role (which
0006's default privileges would give every right) keeps ``SELECT`` only, and a trigger refuses any UPDATE.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DASHBOARD_ROLE = "symphonics_dashboard"
PIPELINE_ROLE = "symphonics_pipeline"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE symphonics.ledger_history (
            id                   bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT ledger_history_pkey PRIMARY KEY,
            ledger_id            bigint NOT NULL,
            external_id          text NOT NULL,
            symphonics_id        text,
            from_state           text,
            to_state             text NOT NULL,
            from_reason          text,
            reason               text,
            attempts             integer NOT NULL,
            http_status          smallint,
            error_code           text,
            request_id           text,
            payload_fingerprint  text,
            run_id               text,
            changed_at           timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    )
    # The timeline of one row (in order), and the searches by the partner's id, a request id, a run.
    op.execute("CREATE INDEX ledger_history_external_id_idx ON symphonics.ledger_history (external_id, id)")
    op.execute(
        "CREATE INDEX ledger_history_symphonics_id_idx ON symphonics.ledger_history (symphonics_id) "
        "WHERE symphonics_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ledger_history_request_id_idx ON symphonics.ledger_history (request_id) "
        "WHERE request_id IS NOT NULL"
    )
    op.execute("CREATE INDEX ledger_history_run_id_idx ON symphonics.ledger_history (run_id, to_state)")

    op.execute(
        """
        CREATE FUNCTION symphonics.record_ledger_change() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            INSERT INTO symphonics.ledger_history (
                ledger_id, external_id, symphonics_id, from_state, to_state, from_reason, reason, attempts,
                http_status, error_code, request_id, payload_fingerprint, run_id
            ) VALUES (
                NEW.id, NEW.external_id, NEW.symphonics_id,
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state,
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.state_reason END, NEW.state_reason, NEW.attempts,
                NEW.last_http_status, NEW.last_error_code, NEW.last_request_id, NEW.payload_fingerprint,
                coalesce(nullif(current_setting('symphonics.run_id', true), ''), NEW.last_run_id)
            );
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER interventions_ledger_history_insert
            AFTER INSERT ON symphonics.interventions_ledger
            FOR EACH ROW EXECUTE FUNCTION symphonics.record_ledger_change()
        """
    )
    # A change of state or reason, and a new attempt at sending (sending -> sending after a crash).
    op.execute(
        """
        CREATE TRIGGER interventions_ledger_history_update
            AFTER UPDATE OF state, state_reason, attempts ON symphonics.interventions_ledger
            FOR EACH ROW
            WHEN (OLD.state IS DISTINCT FROM NEW.state
                  OR OLD.state_reason IS DISTINCT FROM NEW.state_reason
                  OR (NEW.state = 'sending' AND NEW.attempts > OLD.attempts))
            EXECUTE FUNCTION symphonics.record_ledger_change()
        """
    )
    op.execute(
        """
        CREATE FUNCTION symphonics.refuse_history_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'symphonics.ledger_history is append-only';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER ledger_history_append_only
            BEFORE UPDATE ON symphonics.ledger_history
            FOR EACH ROW EXECUTE FUNCTION symphonics.refuse_history_update()
        """
    )
    op.execute(
        """
        CREATE TABLE symphonics.dry_run_results (
            id             bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT dry_run_results_pkey PRIMARY KEY,
            run_id         text NOT NULL,
            external_id    text NOT NULL,
            action         text NOT NULL
                CONSTRAINT dry_run_results_action_check CHECK (action IN ('create', 'patch', 'skip', 'refuse')),
            state          text NOT NULL,
            reason         text,
            fields         jsonb,
            new_documents  integer,
            calls          integer NOT NULL DEFAULT 0 CONSTRAINT dry_run_results_calls_check CHECK (calls >= 0),
            recorded_at    timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT dry_run_results_run_id_external_id_key UNIQUE (run_id, external_id)
        )
        """
    )
    op.execute("CREATE INDEX dry_run_results_recorded_at_idx ON symphonics.dry_run_results (recorded_at)")
    op.execute(f"GRANT SELECT ON symphonics.dry_run_results TO {DASHBOARD_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON symphonics.ledger_history FROM {PIPELINE_ROLE}")
    op.execute(f"GRANT SELECT ON symphonics.ledger_history TO {PIPELINE_ROLE}, {DASHBOARD_ROLE}")
    # The timeline shows the partner's statuses (webhooks, polls) and the snapshots beside the ledger's changes.
    op.execute(f"GRANT SELECT ON symphonics.status_history TO {DASHBOARD_ROLE}")
    op.execute(f"GRANT SELECT ON analytics.reconciliation_snapshots TO {DASHBOARD_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON analytics.reconciliation_snapshots FROM {DASHBOARD_ROLE}")  # noqa: S608 (constants)
    op.execute(f"REVOKE SELECT ON symphonics.status_history FROM {DASHBOARD_ROLE}")  # noqa: S608 (constants)
    op.execute("DROP TABLE symphonics.dry_run_results")
    op.execute("DROP TRIGGER interventions_ledger_history_update ON symphonics.interventions_ledger")
    op.execute("DROP TRIGGER interventions_ledger_history_insert ON symphonics.interventions_ledger")
    op.execute("DROP FUNCTION symphonics.record_ledger_change()")
    op.execute("DROP TABLE symphonics.ledger_history")
    op.execute("DROP FUNCTION symphonics.refuse_history_update()")
