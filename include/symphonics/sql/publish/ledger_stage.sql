-- The staging table an extraction page is COPied into before one set-based upsert into the ledger.
CREATE TEMPORARY TABLE publish_extracted (
    external_id          text NOT NULL,
    app_intervention_id  bigint NOT NULL,
    app_status           text NOT NULL,
    app_updated_at       timestamptz NOT NULL,
    source               jsonb NOT NULL,
    source_fingerprint   text NOT NULL
) ON COMMIT DROP
