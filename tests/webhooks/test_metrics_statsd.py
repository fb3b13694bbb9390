"""The stand-alone receiver initialises Airflow's stats itself: its accepted and refused events reach StatsD."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.fixtures.statsd import StatsdServer, statsd_environment, statsd_server  # noqa: F401 - fixture
from tests.webhooks.conftest import encode, signed_headers, start_standalone, status_update, stop_standalone

pytestmark = pytest.mark.integration


def _ours(lines: list[str]) -> list[str]:
    """The project's lines (Airflow sends its own too, e.g. ``airflow.serde.load_serializers``)."""
    return [line for line in lines if line.startswith("airflow.symphonics.")]


def test_the_standalone_receiver_counts_accepted_and_refused_events_by_reason(
    webhook_db: str,
    tmp_path: Path,
    statsd_server: StatsdServer,  # noqa: F811
) -> None:
    server = start_standalone(webhook_db, tmp_path, **statsd_environment(statsd_server.port))
    try:
        body = encode(status_update())
        with requests.Session() as session:
            session.trust_env = False
            assert session.post(server.url, data=body, headers=signed_headers(body), timeout=10).status_code == 200
            assert session.post(server.url, data=body, headers=signed_headers(body), timeout=10).status_code == 200
            forged = signed_headers(body, secret="not-the-partner")
            assert session.post(server.url, data=body, headers=forged, timeout=10).status_code == 401
            unsigned = {"Content-Type": "application/json"}
            assert session.post(server.url, data=body, headers=unsigned, timeout=10).status_code == 401
            assert (
                session.post(server.url, data=b"x", headers={"Content-Type": "text/plain"}, timeout=10).status_code
                == 415
            )
        lines = statsd_server.wait_for(lambda lines: len(_ours(lines)) >= 5)
    finally:
        stop_standalone(server)
    assert sorted(_ours(lines)) == [
        "airflow.symphonics.webhooks.accepted.duplicate:1|c",
        "airflow.symphonics.webhooks.accepted.stored:1|c",
        "airflow.symphonics.webhooks.refused.bad_signature:1|c",
        "airflow.symphonics.webhooks.refused.missing_signature:1|c",
        "airflow.symphonics.webhooks.refused.wrong_content_type:1|c",
    ]


def test_without_stats_initialised_the_receiver_sends_nothing(
    webhook_db: str,
    tmp_path: Path,
    statsd_server: StatsdServer,  # noqa: F811
) -> None:
    environment = {**statsd_environment(statsd_server.port), "AIRFLOW__METRICS__STATSD_ON": "False"}
    server = start_standalone(webhook_db, tmp_path, **environment)
    try:
        body = encode(status_update())
        with requests.Session() as session:
            session.trust_env = False
            assert session.post(server.url, data=body, headers=signed_headers(body), timeout=10).status_code == 200
    finally:
        stop_standalone(server)
    assert statsd_server.lines() == []  # not even Airflow's own
