"""The reconciliation's tunables, read from the environment when a task runs (never at parse time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from include.symphonics.core.config import ALERT_CONN_ENV, env_flag, env_float, env_int, env_text, parse_flag
from include.symphonics.db import APP_CONN_ID, SYNC_CONN_ID
from include.symphonics.partner_settings import PARTNER_CONN_ID

__all__ = ["APP_CONN_ID", "SYNC_CONN_ID"]

WRITEBACK_VARIABLE = "symphonics_writeback"
WRITEBACK_ENV = "SYMPHONICS_WRITEBACK"


@dataclass(frozen=True)
class ReconcileSettings:
    """What a reconciliation run does and how.

    :param app_conn_id: the app's database (read; written only by the optional write-back, in its own schema).
    :param sync_conn_id: the ``sync`` database.
    :param symphonics_conn_id: the partner's connection.
    :param poll_quiet_for: a published intervention heard of neither by webhook nor by poll for this long is polled.
    :param max_polls: the most status polls one run makes (the quota share of class ``reconcile`` caps it too).
    :param stale_days: a published intervention with no news for this many days is ``stale`` in the snapshot.
    :param app_copy_overlap: how far below the newest copied version the next copy of the app reads again.
    :param webhook_body_retention: raw webhook bodies older than this are purged.
    :param api_calls_retention: ``api_calls`` rows older than this are purged.
    :param webhook_refusal_retention: webhook refusal counts and sampled refused requests older than this are purged.
    :param webhook_event_retention: processed webhook events older than this are deleted (their status history stays).
    :param ledger_history_retention: ledger history rows older than this are deleted (a row's story then starts later).
    :param dry_run_retention: dry-run results older than this are deleted (the newest dry run's stay).
    :param purge_batch_size: rows per batch of the purges (one short transaction each).
    :param alert_window: how far back the alert rules look.
    :param rejected_share_threshold: alert when more than this share of the decided interventions are rejected.
    :param rejected_min_decided: ... and at least this many were decided (a share of 3 means little).
    :param signature_failures_threshold: alert on more webhook signature failures than this over the window.
    :param late_share_threshold: alert when more than this share of the window's webhook events came late.
    :param alert_conn_id: an Airflow connection the alerts are also sent to (Slack webhook, e-mail), or None.
    """

    app_conn_id: str = APP_CONN_ID
    sync_conn_id: str = SYNC_CONN_ID
    symphonics_conn_id: str = PARTNER_CONN_ID
    poll_quiet_for: timedelta = timedelta(hours=48)
    max_polls: int = 1000
    stale_days: int = 30
    app_copy_overlap: timedelta = timedelta(minutes=5)
    webhook_body_retention: timedelta = timedelta(days=30)
    api_calls_retention: timedelta = timedelta(days=90)
    webhook_refusal_retention: timedelta = timedelta(days=30)
    webhook_event_retention: timedelta = timedelta(days=400)
    ledger_history_retention: timedelta = timedelta(days=400)
    dry_run_retention: timedelta = timedelta(days=30)
    purge_batch_size: int = 10_000
    alert_window: timedelta = timedelta(hours=24)
    rejected_share_threshold: float = 0.25
    rejected_min_decided: int = 20
    signature_failures_threshold: int = 10
    late_share_threshold: float = 0.05
    alert_conn_id: str | None = None

    @classmethod
    def from_environment(cls) -> ReconcileSettings:
        """The settings, with ``SYMPHONICS_*`` environment variables overriding the defaults."""
        return cls(
            poll_quiet_for=timedelta(hours=env_float("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", 48)),
            max_polls=env_int("SYMPHONICS_RECONCILE_MAX_POLLS", 1000),
            stale_days=env_int("SYMPHONICS_STALE_AFTER_DAYS", 30),
            webhook_body_retention=timedelta(days=env_float("SYMPHONICS_WEBHOOK_BODY_RETENTION_DAYS", 30)),
            api_calls_retention=timedelta(days=env_float("SYMPHONICS_API_CALLS_RETENTION_DAYS", 90)),
            webhook_refusal_retention=timedelta(days=env_float("SYMPHONICS_WEBHOOK_REFUSAL_RETENTION_DAYS", 30)),
            webhook_event_retention=timedelta(days=env_float("SYMPHONICS_WEBHOOK_EVENT_RETENTION_DAYS", 400)),
            ledger_history_retention=timedelta(days=env_float("SYMPHONICS_LEDGER_HISTORY_RETENTION_DAYS", 400)),
            dry_run_retention=timedelta(days=env_float("SYMPHONICS_DRY_RUN_RETENTION_DAYS", 30)),
            purge_batch_size=env_int("SYMPHONICS_PURGE_BATCH_SIZE", 10_000),
            alert_window=timedelta(hours=env_float("SYMPHONICS_ALERT_WINDOW_HOURS", 24)),
            rejected_share_threshold=env_float("SYMPHONICS_ALERT_REJECTED_SHARE", 0.25),
            rejected_min_decided=env_int("SYMPHONICS_ALERT_REJECTED_MIN_DECIDED", 20),
            signature_failures_threshold=env_int("SYMPHONICS_ALERT_SIGNATURE_FAILURES", 10),
            late_share_threshold=env_float("SYMPHONICS_ALERT_LATE_SHARE", 0.05),
            alert_conn_id=env_text(ALERT_CONN_ENV),
        )


def reconcile_schedule() -> str:
    """The DAG's schedule: ``SYMPHONICS_RECONCILE_SCHEDULE``, else 02:00 every night (read at parse time)."""
    from include.symphonics.dag_defaults import schedule_from_env

    return schedule_from_env("SYMPHONICS_RECONCILE_SCHEDULE", "0 2 * * *")


def writeback_enabled() -> bool:
    """Whether the write-back to the app's database is on: ``SYMPHONICS_WRITEBACK`` when set, else the Variable
    ``symphonics_writeback`` (read when the task runs; off by default).

    :raises SettingError: a value that is neither on nor off (the write-back changes the app's data: no guessing).
    """
    if env_text(WRITEBACK_ENV):
        return env_flag(WRITEBACK_ENV, default=False)
    from airflow.sdk import Variable

    # No "off" default: Airflow masks a missing Variable's default and warns when it is under 5 characters.
    return parse_flag(f"Variable {WRITEBACK_VARIABLE}", Variable.get(WRITEBACK_VARIABLE, default=None), default=False)
