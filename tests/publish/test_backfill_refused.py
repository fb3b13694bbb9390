"""A backfill of ``symphonics_publish`` is refused by Airflow itself, with a pointer to the one-run way (issue 25,
point 3): its queued runs would hold up the event path (Airflow counts every queued run of the DAG, backfill runs
included, against ``max_active_runs`` before it creates an asset-triggered run), one run per 15 minutes of range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from include.symphonics.publish import settings
from tests.dags.test_dag_integrity import DAGS_DIR


def _publish_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_publish.py"))
    assert bag.import_errors == {}
    return bag


def test_the_publish_dag_allows_every_run_but_a_backfill_and_says_what_to_do_instead() -> None:
    dag = _publish_dag().dags["symphonics_publish"]
    assert {str(getattr(kind, "value", kind)) for kind in dag.allowed_run_types} == {
        "scheduled",
        "manual",
        "asset_triggered",
    }
    assert "'from' and 'to'" in dag.description
    assert "Backfills are refused" in dag.doc_md


@pytest.mark.parametrize(("value", "allowed"), [("", False), ("false", False), ("true", True), ("on", True)])
def test_backfills_can_be_allowed_again_on_purpose(value: str, allowed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.ALLOW_BACKFILL_ENV, value)
    assert (settings.publish_run_types() is None) is allowed


def test_airflows_backfill_refuses_the_publish_dag_and_creates_no_run(airflow_db: Any) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.exceptions import DagRunTypeNotAllowed
    from airflow.models.backfill import Backfill, ReprocessBehavior, _create_backfill, _do_dry_run
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    # As dag.test() does: the bundles, then the DAG, into the session's Airflow database.
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(_publish_dag(), "dags-folder", None)
    two_days = {"from_date": datetime(2026, 12, 3, tzinfo=UTC), "to_date": datetime(2026, 12, 5, tzinfo=UTC)}
    # What the UI's Backfill dialog asks first, then what it sends (POST /api/v2/backfills: a 400 with this text).
    with create_session() as session, pytest.raises(DagRunTypeNotAllowed, match="does not allow backfill runs"):
        list(
            _do_dry_run(
                dag_id="symphonics_publish",
                reverse=False,
                reprocess_behavior=ReprocessBehavior.NONE,
                session=session,
                **two_days,
            )
        )
    with pytest.raises(DagRunTypeNotAllowed, match="does not allow backfill runs"):
        _create_backfill(
            dag_id="symphonics_publish",
            max_active_runs=10,
            reverse=False,
            dag_run_conf=None,
            triggering_user_name="test",
            **two_days,
        )
    with create_session() as session:
        backfills = session.scalar(
            select(func.count()).select_from(Backfill).where(Backfill.dag_id == "symphonics_publish")
        )
    assert backfills == 0
