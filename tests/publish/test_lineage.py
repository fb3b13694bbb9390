"""Lineage of a publish run, through OpenLineage's file transport: the extract's event has the app's tables it reads
as inputs, the publish task's has the partner's interventions (``symphonics://``) as output. The run goes in a child
process: OpenLineage's plugin decides once, when Airflow's plugins load, whether it is on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from include.symphonics.lineage import APP_TABLES_READ
from tests.dags.test_dag_integrity import DAGS_DIR
from tests.publish.conftest import PublishWorld

pytestmark = pytest.mark.integration

_RUN = """
import sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
run = bag.dags["symphonics_publish"].test(run_conf=__import__("json").loads(sys.argv[2]))
print("RUN_STATE", run.state)
"""


def _publish_with_lineage(tmp_path: Path, conf: dict[str, Any], **env: str) -> list[dict[str, Any]]:
    events = tmp_path / "events.jsonl"
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    result = subprocess.run(
        [sys.executable, "-c", _RUN, str(DAGS_DIR / "symphonics_publish.py"), json.dumps(conf)],
        env={
            **os.environ,
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "symphonics-test",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert "RUN_STATE success" in result.stdout, (result.stdout + result.stderr)[-4000:]
    if not events.exists():
        return []
    return [json.loads(line) for line in events.read_text().splitlines() if line.strip()]


def _task_event(events: list[dict[str, Any]], task_id: str, event_type: str = "COMPLETE") -> dict[str, Any]:
    job = f"symphonics_publish.{task_id}"
    [event] = [e for e in events if e["job"]["name"] == job and e["eventType"] == event_type]
    return event


def _datasets(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["namespace"], item["name"]) for item in items}


def test_a_publish_run_reports_the_app_tables_as_inputs_and_the_partners_interventions_as_output(
    world: PublishWorld, tmp_path: Path
) -> None:
    events = _publish_with_lineage(tmp_path, {})
    assert world.creates(), "the run published nothing"
    database = world.app_dsn.rsplit("/", 1)[-1].split("?")[0]
    app_tables = {("postgres://localhost:5432", f"{database}.{table}") for table in APP_TABLES_READ}
    partner = ("symphonics://" + urlsplit(world.sandbox.url).netloc, "interventions")

    extract = _task_event(events, "extract")
    assert _datasets(extract["inputs"]) == app_tables
    assert extract["outputs"] == []

    publish = _task_event(events, "publish")
    assert _datasets(publish["outputs"]) == {partner}
    assert partner not in _datasets(publish["inputs"])


def test_a_dry_run_reports_no_partner_output(world: PublishWorld, tmp_path: Path) -> None:
    events = _publish_with_lineage(tmp_path, {"dry_run": True})
    assert world.creates() == []
    # The dry run's publish task read the app (in its one rolled-back transaction); it sent nothing.
    assert _datasets(_task_event(events, "publish")["inputs"])
    assert _task_event(events, "publish")["outputs"] == []


def test_lineage_is_off_without_a_transport(world: PublishWorld, tmp_path: Path) -> None:
    events = _publish_with_lineage(tmp_path, {}, AIRFLOW__OPENLINEAGE__TRANSPORT="")
    assert events == []


def test_the_symphonics_scheme() -> None:
    from urllib.parse import urlsplit as split

    from airflow.sdk import Asset

    from include.symphonics.lineage import convert_asset_to_openlineage, sanitize_uri

    assert sanitize_uri(split("symphonics://API.Symphonics.fr/interventions/?x=1#f")).geturl() == (
        "symphonics://api.symphonics.fr/interventions"
    )
    for bad in ("symphonics:///interventions", "symphonics://api.symphonics.fr/", "symphonics://h/a/b"):
        with pytest.raises(ValueError, match="symphonics://"):
            sanitize_uri(split(bad))
    dataset = convert_asset_to_openlineage(Asset(uri="symphonics://127.0.0.1:8099/interventions"), None)
    assert (dataset.namespace, dataset.name) == ("symphonics://127.0.0.1:8099", "interventions")
    # Registered by the project's provider (the entry point make install installs): Airflow normalises the URI.
    assert (
        Asset(uri="symphonics://API.example/interventions/").normalized_uri == "symphonics://api.example/interventions"
    )
