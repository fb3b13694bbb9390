"""The Asset the publish DAG updates, for downstream DAGs to be scheduled on."""

from __future__ import annotations

from airflow.sdk import Asset

#: The ledger: its URI names the table (postgres://host:port/database/schema/table, as the postgres provider
#: requires); the host is the logical name of the ``sync`` database, not a network address.
LEDGER_ASSET = Asset(
    name="symphonics_ledger",
    uri="postgres://sync-db:5432/sync/symphonics/interventions_ledger",
    group="symphonics",
)
