-- Run on the APP's database, only when the write-back is enabled: the one table this project owns there, in a
-- schema of its own. The app's own tables are never written.
CREATE SCHEMA IF NOT EXISTS symphonics_sync;
CREATE TABLE IF NOT EXISTS symphonics_sync.intervention_status (
    external_id        text NOT NULL CONSTRAINT intervention_status_pkey PRIMARY KEY,
    symphonics_id      text,
    partner_status     text,
    partner_status_at  timestamptz,
    partner_notes      text,
    ledger_state       text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE symphonics_sync.intervention_status IS
    'Written by the Symphonics sync (DAG symphonics_reconcile): the partner''s latest status of each intervention';
