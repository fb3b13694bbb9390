"""The reconcile's lineage, the reverse of the publish run's: the copy of the app's state reports the app's tables
it reads, the write-back the app's table it writes; a poll reports the partner's interventions as an input. Read
back from a real hook lineage collector and translated as OpenLineage translates them."""

from __future__ import annotations

from typing import Any

import pytest

from include.symphonics import lineage
from tests.reconcile.test_writeback import WritebackWorld, writeback_world  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A collecting lineage collector of our own (Airflow's is a no-op while no reader, such as OpenLineage, is on)."""
    from airflow.sdk.lineage import HookLineageCollector

    fresh = HookLineageCollector()
    monkeypatch.setattr(lineage, "_collector", lambda: fresh)
    return fresh


def _openlineage(infos: list[Any]) -> set[tuple[str, str]]:
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    datasets = [translate_airflow_asset(info.asset, info.context) for info in infos]
    assert None not in datasets
    return {(d.namespace, d.name) for d in datasets}


def test_the_copy_and_the_write_back_report_the_app_tables(
    writeback_world: WritebackWorld,  # noqa: F811
    collector: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from include.symphonics.reconcile import steps

    database = writeback_world.app_dsn.rsplit("/", 1)[-1].split("?")[0]
    namespace = "postgres://localhost:5432"

    steps.run_copy_app_state(run_id="lineage-off")
    assert _openlineage(collector.collected_assets.inputs) == {
        (namespace, f"{database}.{table}") for table in lineage.APP_TABLES_COPIED
    }
    assert collector.collected_assets.outputs == []  # the write-back is off

    monkeypatch.setenv("SYMPHONICS_WRITEBACK", "on")
    steps.run_copy_app_state(run_id="lineage-on")
    assert _openlineage(collector.collected_assets.outputs) == {
        (namespace, f"{database}.symphonics_sync.intervention_status")
    }


def test_the_partners_interventions_as_an_input(collector: Any) -> None:
    lineage.report_partner_interventions(object(), "http://127.0.0.1:8099", direction="input")
    assert _openlineage(collector.collected_assets.inputs) == {("symphonics://127.0.0.1:8099", "interventions")}
    assert collector.collected_assets.outputs == []


def test_a_report_that_fails_never_fails_the_task(collector: Any, caplog: pytest.LogCaptureFixture) -> None:
    lineage.report_app_tables("no_such_connection", lineage.APP_TABLES_READ, direction="input")
    assert collector.collected_assets.inputs == []
    assert "lineage not reported (report_app_tables)" in caplog.text
