"""What every DAG of the project shares, and the settings that must be known at parse time.

A schedule is read when the DAG file is parsed, so it comes from an environment variable (or this
module's default), never from an Airflow Variable or a database read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from include.symphonics.alerts import SymphonicsAlertNotifier
from include.symphonics.core.config import env_text

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

# Task retries are for infrastructure failures only (a worker lost, a database restart); the partner's
# answers are handled in the ledger, so HTTP retries and task retries never multiply into a storm.
# The delay between tries is Airflow's own ``[core] default_task_retry_delay``, which tests shorten.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    # Every DAG runs one run at a time: a task stuck on a lock or a socket would otherwise block it for good.
    "execution_timeout": timedelta(minutes=45),
    # One alert per failed run, as it fails: a task's last try (never a retry) records a ``failed_run`` row for its
    # run and sends it through ``SYMPHONICS_ALERT_CONN_ID``; the run's other failed tasks find the row and send nothing.
    "on_failure_callback": SymphonicsAlertNotifier(),
}


def schedule_from_env(variable: str, default: str) -> str:
    """The schedule (cron or preset) in ``variable``, else ``default``; an empty value means ``default``."""
    return env_text(variable, default) or default


HEALTHCHECK_SCHEDULE = schedule_from_env("SYMPHONICS_HEALTHCHECK_SCHEDULE", "@hourly")
