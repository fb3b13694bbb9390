"""A publish run's metrics reach a StatsD server (a UDP socket bound here) through Airflow's own stats."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from include.symphonics_demo import ExpectedState
from tests.fixtures.statsd import StatsdServer, statsd_environment, statsd_server  # noqa: F401 - fixture
from tests.publish.conftest import PublishWorld, run_pipeline

pytestmark = pytest.mark.integration


@pytest.fixture
def airflow_statsd(statsd_server: StatsdServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdServer]:  # noqa: F811
    """Airflow's stats initialised as the task runner does, with ``[metrics]`` pointing at the test's server."""
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability.stats import initialize

    from include.symphonics.core.stats import initialize_stats

    for key, value in statsd_environment(statsd_server.port).items():
        monkeypatch.setenv(key, value)
    initialize_stats()
    try:
        yield statsd_server
    finally:
        initialize(factory=NoStatsLogger, export_legacy_names=False)


def _values(lines: list[str], pattern: str) -> list[str]:
    """The values of the lines whose ``name|type`` match ``pattern`` (``name:value|type``)."""
    found = []
    for line in lines:
        stat, _, rest = line.partition(":")
        value, _, kind = rest.partition("|")
        if re.fullmatch(pattern, f"{stat}|{kind}"):
            found.append(value)
    return found


def test_a_publish_run_sends_requests_retries_429s_quota_backlog_and_latency(
    world: PublishWorld, airflow_statsd: StatsdServer
) -> None:
    published = world.expected.state_counts[ExpectedState.PUBLISHED]
    world.sandbox.storm_429("crm.create_intervention", 1, retry_after=1)

    result = run_pipeline("metrics")

    creates = published + 1  # one answered 429, then retried
    lines = airflow_statsd.wait_for(
        lambda lines: (
            len(_values(lines, r"airflow\.symphonics\.publish\.backlog\|g")) == 1
            and len(_values(lines, r"airflow\.symphonics\.partner\.requests\.create_intervention\.\d+\|c")) == creates
        )
    )
    assert _values(lines, r"airflow\.symphonics\.partner\.requests\.create_intervention\.201\|c") == ["1"] * published
    assert _values(lines, r"airflow\.symphonics\.partner\.requests\.create_intervention\.429\|c") == ["1"]
    assert _values(lines, r"airflow\.symphonics\.partner\.rate_limited\.create_intervention\|c") == ["1"]
    assert _values(lines, r"airflow\.symphonics\.partner\.retries\.create_intervention\|c") == ["1"]
    assert _values(lines, r"airflow\.symphonics\.partner\.requests\.obtain_token\.200\|c")
    assert len(_values(lines, r"airflow\.symphonics\.partner\.latency\.create_intervention\|ms")) == creates
    # The quota left to the publish class only goes down, one request at a time.
    left = [int(value) for value in _values(lines, r"airflow\.symphonics\.quota\.remaining_today\.publish\|g")]
    assert left
    assert left == sorted(left, reverse=True)
    assert left[0] - left[-1] == len(left) - 1
    assert _values(lines, r"airflow\.symphonics\.publish\.backlog\|g") == [str(result["publish"]["backlog"])]
    latencies = [float(value) for value in _values(lines, r"airflow\.symphonics\.publish\.completed_to_published\|ms")]
    assert len(latencies) == result["publish"]["created"] == published
    assert all(latency >= 0 for latency in latencies)
    # No tag on the project's lines (plain StatsD has none): every dimension is in the name.
    assert all("|#" not in line and "," not in line for line in lines if line.startswith("airflow.symphonics."))
