"""Airflow's own stats as the sink of the project's metrics (``docs/OPERATIONS.md`` lists each one).

Task processes have Airflow's stats initialised by the task runner, the api-server by itself; the stand-alone
webhook receiver calls :func:`initialize_stats` at start. With ``[metrics] statsd_on`` off, Airflow's stats
are a no-op and so is every metric here.
"""

from __future__ import annotations

from airflow.sdk.observability.stats import Stats


class AirflowStats:
    """Sends each metric through ``airflow.sdk.observability.stats.Stats`` (StatsD, Datadog or OpenTelemetry).

    No tags: every dimension is in the name (see :mod:`include.symphonics.core.metrics`).
    """

    def incr(self, stat: str, count: int = 1) -> None:
        """Add ``count`` to the counter ``stat``."""
        Stats.incr(stat, count)

    def gauge(self, stat: str, value: float) -> None:
        """Set the gauge ``stat`` to ``value``."""
        Stats.gauge(stat, value)

    def timing(self, stat: str, milliseconds: float) -> None:
        """Record one duration of ``stat``, in milliseconds."""
        Stats.timing(stat, milliseconds)


def initialize_stats() -> None:
    """Initialise Airflow's stats from its ``[metrics]`` settings, as Airflow's own processes do at start."""
    from airflow.sdk.configuration import conf
    from airflow.sdk.observability.metrics import stats_utils
    from airflow.sdk.observability.stats import initialize

    initialize(
        factory=stats_utils.get_stats_factory(),
        export_legacy_names=conf.getboolean("metrics", "legacy_names_on"),
    )
