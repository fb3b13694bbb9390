"""Personal data: minimisation and retention marks on the ledger, the erasure record, snapshots erasable.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The states a publish run works on (as in 0003): their rows keep their personal data until they leave them.
_WORK_STATES = "'pending', 'ready', 'sending', 'failed_retryable'"


def upgrade() -> None:
    # minimised_at: the personal values of a finished row were replaced by salted fingerprints (change detection
    # still works); personal_data_removed_at: retention or erasure removed even those; erased_at: a person asked
    # to be erased, so the pipeline never touches the row again (its state, ids and counts stay).
    op.execute(
        """
        ALTER TABLE symphonics.interventions_ledger
            ADD COLUMN minimised_at timestamptz,
            ADD COLUMN personal_data_removed_at timestamptz,
            ADD COLUMN erased_at timestamptz,
            ADD CONSTRAINT interventions_ledger_erased_removed_check
                CHECK (erased_at IS NULL OR personal_data_removed_at IS NOT NULL)
        """
    )
    # The minimisation pass: finished rows not minimised yet (a few per run, the index stays small).
    op.execute(
        "CREATE INDEX interventions_ledger_to_minimise_idx ON symphonics.interventions_ledger (id) "
        f"WHERE minimised_at IS NULL AND state NOT IN ({_WORK_STATES})"
    )
    # The nightly retention: finished rows still holding (pseudonymised) personal data, oldest first.
    op.execute(
        "CREATE INDEX interventions_ledger_retention_idx ON symphonics.interventions_ledger (state_changed_at, id) "
        f"WHERE personal_data_removed_at IS NULL AND state NOT IN ({_WORK_STATES})"
    )

    # Replaces each personal value at the given dotted paths (``customer.email``, ``photos``: one or two keys deep)
    # by a marker and drops the documents' names (they carry the customer's name). One pass over the top-level keys
    # (no jsonb_set per path: each would copy the whole document). The paths come from
    # include/symphonics/privacy/fields.py, bound as a parameter.
    op.execute(
        """
        CREATE FUNCTION symphonics.redact_personal(doc jsonb, paths text[], marker jsonb) RETURNS jsonb
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN doc ELSE (
                SELECT coalesce(jsonb_object_agg(e.key, CASE
                    WHEN e.key = ANY(paths) AND jsonb_typeof(e.value) <> 'null' THEN marker
                    WHEN e.key = 'documents' AND jsonb_typeof(e.value) = 'array' THEN (
                        SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(d.value) = 'object' THEN d.value - 'name'
                                                       ELSE d.value END ORDER BY d.n), '[]'::jsonb)
                          FROM jsonb_array_elements(e.value) WITH ORDINALITY AS d(value, n))
                    WHEN jsonb_typeof(e.value) = 'object' THEN (
                        SELECT coalesce(jsonb_object_agg(f.key, CASE
                                   WHEN e.key || '.' || f.key = ANY(paths) AND jsonb_typeof(f.value) <> 'null'
                                       THEN marker
                                   ELSE f.value END), '{}'::jsonb)
                          FROM jsonb_each(e.value) AS f)
                    ELSE e.value END), '{}'::jsonb)
                  FROM jsonb_each(doc) AS e)
            END
        $$
        """
    )

    # What was erased, when and how much: never who (no e-mail, name, customer id or fingerprint of them).
    op.execute(
        """
        CREATE TABLE symphonics.privacy_erasures (
            id              bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT privacy_erasures_pkey PRIMARY KEY,
            requested_at    timestamptz NOT NULL DEFAULT now(),
            finished_at     timestamptz,
            subject_kind    text NOT NULL
                CONSTRAINT privacy_erasures_subject_kind_check CHECK (subject_kind IN ('email', 'customer_id')),
            reference       text,
            requested_by    text NOT NULL,
            interventions   integer NOT NULL DEFAULT 0
                CONSTRAINT privacy_erasures_interventions_check CHECK (interventions >= 0),
            rows_changed    jsonb NOT NULL DEFAULT '{}'::jsonb,
            CONSTRAINT privacy_erasures_finished_check CHECK (finished_at IS NULL OR finished_at >= requested_at)
        )
        """
    )

    # A snapshot stays immutable, except for an erasure on request, which sets this transaction-local setting.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION analytics.refuse_snapshot_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('symphonics.erasure', true) = 'on' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'a reconciliation snapshot is never changed (% %)', OLD.snapshot_date, OLD.external_id
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION analytics.refuse_snapshot_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a reconciliation snapshot is never changed (% %)', OLD.snapshot_date, OLD.external_id
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute("DROP TABLE symphonics.privacy_erasures")
    op.execute("DROP FUNCTION symphonics.redact_personal(jsonb, text[], jsonb)")
    op.execute("DROP INDEX symphonics.interventions_ledger_retention_idx")
    op.execute("DROP INDEX symphonics.interventions_ledger_to_minimise_idx")
    op.execute(
        """
        ALTER TABLE symphonics.interventions_ledger
            DROP CONSTRAINT interventions_ledger_erased_removed_check,
            DROP COLUMN erased_at,
            DROP COLUMN personal_data_removed_at,
            DROP COLUMN minimised_at
        """
    )
