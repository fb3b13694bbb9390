"""What the client counts for the people watching: a small sink its owner gives (the hook wires Airflow's Stats).

Every dimension is in the metric's name, never in a tag: plain StatsD drops tags, and a statsd-exporter mapping
turns the name's parts back into Prometheus labels (``docs/OPERATIONS.md``). Only bounded values become a part:
an operation name, an HTTP status, a priority class, a breaker state, a refusal reason.
"""

from __future__ import annotations

import re
from typing import Protocol

#: The first part of every metric this project sends (Airflow adds its own ``statsd_prefix`` before it).
PREFIX = "symphonics"

_NOT_A_PART = re.compile(r"[^a-z0-9_]+")


class MetricsSink(Protocol):
    """Where counters, gauges and timings go."""

    def incr(self, stat: str, count: int = 1) -> None:
        """Add ``count`` to the counter ``stat``."""

    def gauge(self, stat: str, value: float) -> None:
        """Set the gauge ``stat`` to ``value``."""

    def timing(self, stat: str, milliseconds: float) -> None:
        """Record one duration of ``stat``."""


class NullMetrics:
    """Counts nothing (a client used alone, or in a test that does not look)."""

    def incr(self, stat: str, count: int = 1) -> None:
        """Ignored."""

    def gauge(self, stat: str, value: float) -> None:
        """Ignored."""

    def timing(self, stat: str, milliseconds: float) -> None:
        """Ignored."""


def part(value: object) -> str:
    """One part of a metric name: lower case, ``[a-z0-9_]`` only (``half-open`` -> ``half_open``).

    :param value: an operation, a status, a class, a state or a reason.
    """
    cleaned = _NOT_A_PART.sub("_", str(value).lower()).strip("_")
    return cleaned or "unknown"


def name(*parts: object) -> str:
    """A metric's full name: ``symphonics.`` and the parts, each cleaned by :func:`part`.

    :param parts: the metric's path, e.g. ``("partner", "requests", "create_intervention", 201)``.
    """
    return ".".join([PREFIX, *(part(each) for each in parts)])


#: The breaker's state as a number, for a gauge a graph can plot (and an alert can compare).
BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}
