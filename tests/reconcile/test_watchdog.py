"""The watchdog's deadline alerts, run as Airflow runs them (``dag.test()`` of ``symphonics_watchdog``):
``publish_stalled`` when no publish run finished for the configured time while rows wait, ``reconcile_late`` when the
nightly reconcile has not built its snapshot by the configured hour; once each, and none once a run caught up."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pendulum
import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.alerts import Alert
from include.symphonics.watchdog import (
    PublishHealth,
    publish_stale_after,
    publish_stalled_alert,
    reconcile_done_by,
    reconcile_due,
)
from tests.publish.conftest import PublishWorld

pytestmark = pytest.mark.integration


def _watchdog_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_watchdog.py"))
    assert bag.import_errors == {}
    return bag.dags["symphonics_watchdog"]


def _watch() -> None:
    run = _watchdog_dag().test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states


def _alerts(sync_dsn: str, kind: str) -> list[dict[str, Any]]:
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM symphonics.alerts WHERE kind = %s ORDER BY id", (kind,)).fetchall()


def _waiting_rows(run_id: str) -> None:
    """Completed interventions extracted and checked locally: rows wait in the ledger for the partner."""
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id=run_id)


def _last_publish_finished(sync_dsn: str, ago: timedelta) -> None:
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(
            "UPDATE symphonics.publish_runs "
            "SET started_at = now() - %s - interval '1 minute', finished_at = now() - %s",
            (ago, ago),
        )


def test_publishing_past_its_deadline_with_rows_waiting_raises_publish_stalled_once(
    reconcile_world: PublishWorld, publish_dag: Any
) -> None:
    world = reconcile_world
    world.monkeypatch.setenv("SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", "30")
    # A publish run with the kill switch on: it succeeds, publishes nothing and leaves the rows waiting.
    world.kill_switch("on")
    assert publish_dag.test().state == "success"
    backlog = sum(
        n for state, n in world.states().items() if state in ("pending", "prevalidated", "ready", "failed_retryable")
    )
    assert backlog > 0

    _watch()  # the run finished just now: within its deadline
    assert _alerts(world.sync_dsn, "publish_stalled") == []

    _last_publish_finished(world.sync_dsn, timedelta(minutes=31))  # no run since: the deadline is missed
    _watch()
    [alert] = _alerts(world.sync_dsn, "publish_stalled")
    assert (alert["severity"], alert["dag_id"]) == ("critical", "symphonics_publish")
    assert alert["details"]["backlog"] == backlog
    assert alert["details"]["stale_after_minutes"] == 30
    assert "no publish run has finished for 31 min (limit 30 min)" in alert["message"]
    assert alert["notified_via"] == ["table", "log"]

    _watch()  # still stalled: the same stall is not raised again
    assert len(_alerts(world.sync_dsn, "publish_stalled")) == 1

    world.kill_switch("off")  # publishing resumes: a run finishes, the episode is resolved, nothing more raised
    assert publish_dag.test().state == "success"
    _watch()
    [alert] = _alerts(world.sync_dsn, "publish_stalled")
    assert alert["episodic"]
    assert alert["resolved_at"] is not None


def test_an_old_last_run_with_nothing_waiting_raises_nothing(reconcile_world: PublishWorld) -> None:
    world = reconcile_world
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.publish_runs (dag_id, run_id, started_at, finished_at) "
            "VALUES ('symphonics_publish', 'old', now() - interval '2 days', now() - interval '2 days')"
        )
    _watch()
    assert _alerts(world.sync_dsn, "publish_stalled") == []
    _waiting_rows("rows-arrive")  # rows wait and nothing finished for 2 days: stalled
    _watch()
    [alert] = _alerts(world.sync_dsn, "publish_stalled")
    assert alert["details"]["last_finished_at"] is not None


def _done_by_far_from_now() -> str:
    """A deadline hour 12 hours from now (Paris): the last passed deadline is not crossed while the test runs."""
    return (pendulum.now("Europe/Paris") + timedelta(hours=12)).strftime("%H:%M")


def test_a_reconcile_not_done_by_the_hour_raises_reconcile_late_until_its_snapshot_is_built(
    reconcile_world: PublishWorld, reconcile_dag: Any, publish_dag: Any
) -> None:
    world = reconcile_world
    world.monkeypatch.setenv("SYMPHONICS_RECONCILE_DONE_BY", _done_by_far_from_now())
    due = reconcile_due(datetime.now(UTC), "0 2 * * *", reconcile_done_by())
    assert publish_dag.test().state == "success"

    _watch()  # no snapshot was ever built: a new deployment's first night is not late
    assert _alerts(world.sync_dsn, "reconcile_late") == []

    day_before = (pendulum.parse(due.snapshot_date) - timedelta(days=1)).date().isoformat()  # type: ignore[union-attr]
    assert reconcile_dag.test(run_conf={"snapshot_date": day_before}).state == "success"
    _watch()  # the night before was reconciled, the night due was not: late
    [alert] = _alerts(world.sync_dsn, "reconcile_late")
    assert (alert["severity"], alert["dag_id"]) == ("critical", "symphonics_reconcile")
    assert alert["details"]["snapshot_date"] == due.snapshot_date
    assert f"the reconcile of {due.snapshot_date} has not finished by" in alert["message"]

    _watch()  # once per night
    assert len(_alerts(world.sync_dsn, "reconcile_late")) == 1

    assert reconcile_dag.test(run_conf={"snapshot_date": due.snapshot_date}).state == "success"
    _watch()
    assert len(_alerts(world.sync_dsn, "reconcile_late")) == 1


@pytest.mark.parametrize(
    ("now", "done_by", "snapshot_date", "deadline"),
    [
        # 05:59 Paris: that night's 06:00 is not passed yet, the night before's is.
        ("2026-11-28T04:59:00Z", time(6, 0), "2026-11-27", "2026-11-27T06:00:00+01:00"),
        ("2026-11-28T05:00:00Z", time(6, 0), "2026-11-28", "2026-11-28T06:00:00+01:00"),
        # Summer time: 06:00 Paris is 04:00 UTC.
        ("2026-07-01T04:00:00Z", time(6, 0), "2026-07-01", "2026-07-01T06:00:00+02:00"),
        # A done-by hour before the tick's (01:00 < 02:00) means the next day's 01:00.
        ("2026-11-28T23:59:00Z", time(1, 0), "2026-11-27", "2026-11-28T01:00:00+01:00"),
        ("2026-11-29T00:00:00Z", time(1, 0), "2026-11-28", "2026-11-29T01:00:00+01:00"),
    ],
)
def test_reconcile_due(now: str, done_by: time, snapshot_date: str, deadline: str) -> None:
    due = reconcile_due(datetime.fromisoformat(now), "0 2 * * *", done_by)
    assert due.snapshot_date == snapshot_date
    assert due.deadline == datetime.fromisoformat(deadline)


def test_publish_stalled_rule() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    limit = timedelta(minutes=120)
    long_ago = now - timedelta(days=3)

    def rule(
        finished: timedelta | None, backlog: int, *, first: timedelta | None = None, running: timedelta | None = None
    ) -> Alert | None:
        health = PublishHealth(
            None if finished is None else now - finished,
            None if first is None else now - first,
            None if running is None else now - running,
            backlog,
        )
        return publish_stalled_alert(health, long_ago, now, limit)

    assert rule(timedelta(hours=5), 0) is None  # nothing waits
    assert rule(timedelta(minutes=119), 10) is None  # within the limit
    alert = rule(timedelta(minutes=120), 10)
    assert alert is not None
    assert alert.kind == "publish_stalled"
    assert alert.details["backlog"] == 10
    # A run in progress younger than the limit is progress; an older one (a run that died) is not.
    assert rule(timedelta(hours=5), 10, running=timedelta(minutes=30)) is None
    assert rule(timedelta(hours=5), 10, running=timedelta(hours=3)) is not None


def test_a_fresh_stack_is_not_stalled_while_its_first_publish_run_goes_on() -> None:
    """Issue 25's false critical: 7 minutes after the start, the first publish run still running, no alert."""
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    limit = timedelta(minutes=120)
    watchdog_first = now - timedelta(minutes=5)
    first_run = PublishHealth(None, now - timedelta(minutes=7), now - timedelta(minutes=7), 32)
    assert publish_stalled_alert(first_run, watchdog_first, now, limit) is None
    # The first run died at once (never finished): the stall counts from its start, not "for ever".
    died = PublishHealth(None, now - timedelta(minutes=130), now - timedelta(minutes=130), 32)
    assert publish_stalled_alert(died, watchdog_first, now, limit) is None  # the watchdog only ran 5 min ago
    alert = publish_stalled_alert(died, now - timedelta(minutes=125), now, limit)
    assert alert is not None
    assert alert.message.startswith("no publish run has finished yet for 125 min (limit 120 min)")
    # No publish run ever started: it counts from the watchdog's first run.
    never = PublishHealth(None, None, None, 3)
    assert publish_stalled_alert(never, now - timedelta(minutes=60), now, limit) is None
    assert publish_stalled_alert(never, now - timedelta(minutes=120), now, limit) is not None


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert publish_stale_after() == timedelta(minutes=120)
    assert reconcile_done_by() == time(6, 0)
    monkeypatch.setenv("SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", "45")
    monkeypatch.setenv("SYMPHONICS_RECONCILE_DONE_BY", "07:30")
    assert publish_stale_after() == timedelta(minutes=45)
    assert reconcile_done_by() == time(7, 30)
    monkeypatch.setenv("SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", "two hours")
    with pytest.raises(ValueError, match="whole number of minutes"):
        publish_stale_after()
    monkeypatch.setenv("SYMPHONICS_RECONCILE_DONE_BY", "6h")
    with pytest.raises(ValueError, match="HH:MM"):
        reconcile_done_by()
