"""An erasure finds a person through an index: ``symphonics.subject_keys``.

Until now an erasure read every text and JSON column of every table (about 125 full-table scans, 12 of them of
the ledger) and found the ledger rows of an e-mail through a jsonb expression no index covers. This migration adds:

* ``symphonics.subject_keys``: per intervention, a keyed hash (HMAC-SHA256) of its customer's id and of every
  e-mail its record ever carried, written by the extraction; ``key_version`` counts the keys the hash went through
  (a rotation hashes every stored hash again with a new key: ``include/symphonics/core/subject_keys.py``). The
  keys live in an Airflow connection, never here. Primary key ``(key_version, key_hash, external_id)``: the
  lookup; an index on ``external_id``: the erasure removes the person's hashes with their rows;
* indexes on ``external_id`` where an erasure redacts the person's rows and none served it:
  ``webhook_events``, ``dry_run_results`` and ``analytics.reconciliation_snapshots``.

The pipeline's role writes the table (the extraction, the erasure, the rehash); no other role reads it.
The hashes of rows extracted before this migration are written by
``python -m include.symphonics.privacy index`` (docs/PERSONAL_DATA.md), which needs the key. The downgrade drops
the table and the indexes (the hashes are derived data: nothing else is lost).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PIPELINE_ROLE = "symphonics_pipeline"

#: (index, table) on external_id: the rows an erasure redacts by intervention.
_EXTERNAL_ID_INDEXES = (
    ("webhook_events_external_id_idx", "symphonics.webhook_events"),
    ("dry_run_results_external_id_idx", "symphonics.dry_run_results"),
    ("reconciliation_snapshots_external_id_idx", "analytics.reconciliation_snapshots"),
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE symphonics.subject_keys (
            key_version  smallint NOT NULL,
            key_hash     bytea NOT NULL,
            external_id  text NOT NULL,
            recorded_at  timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT subject_keys_pkey PRIMARY KEY (key_version, key_hash, external_id),
            CONSTRAINT subject_keys_version_check CHECK (key_version >= 1),
            CONSTRAINT subject_keys_hash_check CHECK (octet_length(key_hash) = 32)
        )
        """
    )
    op.execute("CREATE INDEX subject_keys_external_id_idx ON symphonics.subject_keys (external_id)")
    op.execute(
        "COMMENT ON TABLE symphonics.subject_keys IS 'Keyed hashes (HMAC-SHA256, key in the Airflow connection "
        "symphonics_subject_keys) of the customer id and of every e-mail an intervention carried: the erasure''s "
        "index. No clear value.'"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON symphonics.subject_keys TO {PIPELINE_ROLE}")
    for index, table in _EXTERNAL_ID_INDEXES:
        op.execute(f"CREATE INDEX {index} ON {table} (external_id)")


def downgrade() -> None:
    for index, table in _EXTERNAL_ID_INDEXES:
        schema = table.split(".")[0]
        op.execute(f"DROP INDEX {schema}.{index}")
    op.execute("DROP TABLE symphonics.subject_keys")
