"""The Assets of the publish pipeline: the ledger it updates, and the app's completions it is scheduled on."""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from include.symphonics.publish.settings import watcher_max_rows, watcher_poll_interval
from include.symphonics.publish.watcher import WATCHER_NAME, CompletionWatcher

#: The ledger: its URI names the table (postgres://host:port/database/schema/table, as the postgres provider
#: requires); the host is the logical name of the ``sync`` database, not a network address.
LEDGER_ASSET = Asset(
    name="symphonics_ledger",
    uri="postgres://sync-db:5432/sync/symphonics/interventions_ledger",
    group="symphonics",
)

#: The app's interventions as the publish pipeline sees them: an event means "a completion (or a change of a
#: completed job) is waiting". Its watcher runs in the triggerer; its kwargs are read from the environment at
#: parse time (like the schedules) so they, and so the trigger's identity, are the same at every parse.
COMPLETIONS_ASSET = Asset(
    name="symphonics_app_completions",
    uri="postgres://app-db:5432/app/public/interventions",
    group="symphonics",
    watchers=[
        AssetWatcher(
            name=WATCHER_NAME,
            trigger=CompletionWatcher(poll_interval=watcher_poll_interval(), max_rows=watcher_max_rows()),
        )
    ],
)
