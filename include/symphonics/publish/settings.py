"""The publish pipeline's tunables, read from the environment when a task runs (never at parse time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from include.symphonics.core.config import env_flag, env_float, env_int
from include.symphonics.db import APP_CONN_ID, SYNC_CONN_ID
from include.symphonics.partner_settings import PARTNER_CONN_ID

PIPELINE = "symphonics_publish"


@dataclass(frozen=True)
class PublishSettings:
    """What a publish run may do and how.

    :param app_conn_id: the app's database (read only).
    :param sync_conn_id: the ``sync`` database holding the ledger.
    :param symphonics_conn_id: the partner's connection.
    :param overlap: how far below its high-water mark the extraction reads again, for late commits.
    :param page_size: interventions read (and upserted) per round trip of the extraction.
    :param batch_size: ledger rows claimed per batch by the validation and publish steps.
    :param call_budget: the most partner calls one run may spend (a runaway loop cannot eat the day).
    :param lookup_confidence: the lowest PDL lookup confidence accepted.
    :param pdl_ttl: how long a PDL validation stays in the cache.
    :param lookup_ttl: how long a lookup by address stays in the cache.
    :param user_ttl: how long an installer's validation stays in the cache (statuses change more often).
    :param max_attempts: sends that failed on the partner's side before a row goes to dead_letter; no row is
        sent more often than this across runs.
    :param account_forbidden_after: consecutive 403s on distinct resources (PDLs, installers, rows) after which
        the account, not the rows, is taken as refused: the run stops and an alert is raised.
    """

    app_conn_id: str = APP_CONN_ID
    sync_conn_id: str = SYNC_CONN_ID
    symphonics_conn_id: str = PARTNER_CONN_ID
    overlap: timedelta = timedelta(minutes=5)
    page_size: int = 5000
    batch_size: int = 200
    call_budget: int = 3000
    lookup_confidence: float = 0.8
    pdl_ttl: timedelta = timedelta(days=30)
    lookup_ttl: timedelta = timedelta(days=30)
    user_ttl: timedelta = timedelta(days=1)
    max_attempts: int = 5
    account_forbidden_after: int = 3

    @classmethod
    def from_environment(cls) -> PublishSettings:
        """The settings, with ``SYMPHONICS_PUBLISH_*`` environment variables overriding the defaults."""
        return cls(
            overlap=timedelta(seconds=env_int("SYMPHONICS_PUBLISH_OVERLAP_SECONDS", 300)),
            page_size=env_int("SYMPHONICS_PUBLISH_PAGE_SIZE", 5000),
            batch_size=env_int("SYMPHONICS_PUBLISH_BATCH_SIZE", 200),
            call_budget=env_int("SYMPHONICS_PUBLISH_CALL_BUDGET", 3000),
            lookup_confidence=env_float("SYMPHONICS_LOOKUP_MIN_CONFIDENCE", 0.8),
            pdl_ttl=timedelta(hours=env_float("SYMPHONICS_PDL_CACHE_TTL_HOURS", 24 * 30)),
            lookup_ttl=timedelta(hours=env_float("SYMPHONICS_LOOKUP_CACHE_TTL_HOURS", 24 * 30)),
            user_ttl=timedelta(hours=env_float("SYMPHONICS_USER_CACHE_TTL_HOURS", 24)),
            max_attempts=env_int("SYMPHONICS_PUBLISH_MAX_ATTEMPTS", 5),
            account_forbidden_after=env_int("SYMPHONICS_ACCOUNT_FORBIDDEN_AFTER", 3),
        )


def publish_schedule() -> str:
    """The DAG's schedule: ``SYMPHONICS_PUBLISH_SCHEDULE``, else every 15 minutes (read at parse time)."""
    from include.symphonics.dag_defaults import schedule_from_env

    return schedule_from_env("SYMPHONICS_PUBLISH_SCHEDULE", "*/15 * * * *")


#: The environment variable that lets Airflow backfill the publish DAG (off by default: see :func:`publish_run_types`).
ALLOW_BACKFILL_ENV = "SYMPHONICS_PUBLISH_ALLOW_BACKFILL"
#: Where a refused backfill points: one run re-extracts a range.
BACKFILL_INSTEAD = (
    "Backfills are refused: re-publish a past range with ONE run, Trigger with params 'from' and 'to' "
    "(a backfill would queue one run per 15-minute interval and hold up the completion events until its end)."
)


def publish_run_types() -> list[str] | None:
    """The run types the publish DAG allows (its ``allowed_run_types``, read at parse time).

    A backfill queues one run per schedule interval (about 96 a day), each of which re-extracts its own quarter
    hour, and Airflow counts every queued run of the DAG, backfill runs included, against ``max_active_runs``
    before it creates an asset-triggered run (``airflow/models/dag.py``: "Asset-triggered Dags at
    max_active_runs, deferring"): a completion then waits for the whole backfill. So Airflow refuses backfills
    of this DAG (``POST /api/v2/backfills``: 400, "does not allow backfill runs"); one run with ``from``/``to``
    re-publishes a range at the cost of one run. ``SYMPHONICS_PUBLISH_ALLOW_BACKFILL=true`` allows them again
    (None: every run type), for who accepts that cost.
    """
    if env_flag(ALLOW_BACKFILL_ENV, default=False):
        return None
    return ["scheduled", "manual", "asset_triggered"]


def watcher_poll_interval() -> float:
    """Seconds between two probes of the completion watcher: ``SYMPHONICS_WATCHER_POLL_SECONDS``, else 2."""
    return env_float("SYMPHONICS_WATCHER_POLL_SECONDS", 2.0)


def watcher_max_rows() -> int:
    """Index entries one probe of the completion watcher reads at most: ``SYMPHONICS_WATCHER_MAX_ROWS``, else 500."""
    return env_int("SYMPHONICS_WATCHER_MAX_ROWS", 500)
