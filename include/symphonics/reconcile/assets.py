"""The Asset the reconcile DAG updates (the analysts' snapshot table), for downstream DAGs to be scheduled on."""

from __future__ import annotations

from airflow.sdk import Asset

#: postgres://host:port/database/schema/table, as the postgres provider requires; the host is the logical name of
#: the ``sync`` database, not a network address.
SNAPSHOT_ASSET = Asset(
    name="symphonics_reconciliation_snapshots",
    uri="postgres://sync-db:5432/sync/analytics/reconciliation_snapshots",
    group="symphonics",
)
